"""How long work reports its progress: the ``Phases`` port that the faces implement.

The lab and the adapters call ``start``/``advance``/``finish`` as they go; the ``sgh`` face
prints them (:mod:`harness.faces.progress`), tests and libraries pass :data:`QUIET`. Nothing
below the faces writes to a terminal.
"""

from __future__ import annotations

from typing import Protocol


class Phases(Protocol):
    def start(self, phase: str, total: int = 0) -> None: ...

    def advance(self, count: int = 1) -> None: ...

    def finish(self, key: str = "", note: str = "") -> float: ...

    def note(self, text: str) -> None: ...

    def interrupted(self) -> None: ...


class Quiet:
    """Phases that nobody watches."""

    def start(self, phase: str, total: int = 0) -> None:
        pass

    def advance(self, count: int = 1) -> None:
        pass

    def finish(self, key: str = "", note: str = "") -> float:
        return 0.0

    def note(self, text: str) -> None:
        pass

    def interrupted(self) -> None:
        pass


QUIET = Quiet()
