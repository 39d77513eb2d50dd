"""Progress on long work, on stderr: phases with their times, and counters.

On a terminal a counter updates in place, at most ``REDRAWS`` times a second (a big lab's
counters advance a million times); elsewhere (CI logs) each phase prints one line when it ends.
``Progress.quiet()`` prints nothing.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

REDRAWS = 10  # a second, at most


class Progress:
    def __init__(
        self,
        stream: TextIO | None = None,
        enabled: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.clock = clock
        self._drawn = float("-inf")
        self.enabled = enabled
        self.tty = enabled and self.stream.isatty()
        self._phase = ""
        self._started = 0.0
        self._total = 0
        self._done = 0

    @classmethod
    def quiet(cls) -> Progress:
        return cls(enabled=False)

    def start(self, phase: str, total: int = 0) -> None:
        self._phase, self._total, self._done = phase, total, 0
        self._started = self.clock()
        if self.tty:
            self._draw(self._started)

    def advance(self, count: int = 1) -> None:
        self._done += count
        if self.tty:
            moment = self.clock()
            if moment - self._drawn >= 1 / REDRAWS:
                self._draw(moment)

    def finish(self, key: str = "", note: str = "") -> float:
        elapsed = self.clock() - self._started
        if self.enabled:
            counter = f" {self._done}/{self._total}" if self._total else ""
            extra = f" {note}" if note else ""
            end = "\r\033[K" if self.tty else ""
            self.stream.write(f"{end}[sgh] {self._phase}{counter}: {elapsed:.2f}s{extra}\n")
            self.stream.flush()
        self._phase = ""
        return elapsed

    def interrupted(self) -> None:
        """End a counter line cut short by an error, so the error starts on a line of its own."""
        if self.tty and self._phase:
            self.stream.write("\n")
            self.stream.flush()
        self._phase = ""

    def note(self, text: str) -> None:
        if self.enabled:
            self.stream.write(f"[sgh] {text}\n")
            self.stream.flush()

    def _draw(self, moment: float) -> None:
        self._drawn = moment
        counter = f" {self._done}/{self._total}" if self._total else ""
        self.stream.write(f"\r\033[K[sgh] {self._phase}{counter} ...")
        self.stream.flush()
