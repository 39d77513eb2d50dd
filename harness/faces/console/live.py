"""The Reachability page's live map: the lab probed in a background thread, again after each
change the console makes, so a page never waits for packets it does not need."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from harness.core.phases import QUIET
from harness.core.probing import Prober
from harness.errors import HarnessError
from harness.formats.matrix_report import to_json
from harness.lab.persistent import PersistentLab


@dataclass(frozen=True)
class Snapshot:
    document: dict[str, Any] | None  # the last matrix as its JSON document
    error: str  # why the last probe failed ("" when it did not)
    fresh: bool  # probed after the last change


class LiveMap:
    """Probes the lab with its own connection (the console's requests keep theirs)."""

    def __init__(self, lab: PersistentLab, prober: Prober) -> None:
        self._lab = PersistentLab(lab.home, lab.name, lab.runtime)
        self._prober = prober
        self._changed = threading.Condition()
        self._wanted = 1  # changes seen; the first probe is wanted at start
        self._done = 0
        self._document: dict[str, Any] | None = None
        self._error = ""
        self._stopping = False
        self._thread = threading.Thread(target=self._loop, name="sgh-console-probe", daemon=True)
        self._thread.start()

    def changed(self) -> None:
        """The lab changed: probe it again (the pages show the old map until then)."""
        with self._changed:
            self._wanted += 1
            self._changed.notify()

    def snapshot(self) -> Snapshot:
        with self._changed:
            return Snapshot(self._document, self._error, self._done >= self._wanted)

    def stop(self) -> None:
        with self._changed:
            self._stopping = True
            self._changed.notify()
        self._thread.join(timeout=30)
        self._lab.close()

    def _loop(self) -> None:
        while True:
            with self._changed:
                while self._done >= self._wanted and not self._stopping:
                    self._changed.wait()
                if self._stopping:
                    return
                target = self._wanted
            try:
                document, error = to_json(self._lab.matrix(self._prober, QUIET)), ""
            except HarnessError as err:
                document, error = None, str(err)
            with self._changed:
                if document is not None:
                    self._document = document
                self._error = error
                self._done = target
