"""The Reachability page's live map: the lab probed in a background thread, again after each
change, so a page never waits for packets it does not need.

A change is seen by the lab's change counter, kept in its store: a change made by another
process (an ``ec2-*`` command, ``sgh serve``, another console) counts as much as this
console's own, which only wakes the thread sooner. The thread looks at the counter every
``POLL`` seconds; a page reads it itself, so it never calls an old map fresh."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from harness.core.phases import QUIET
from harness.core.probing import Prober
from harness.errors import HarnessError
from harness.formats.matrix_report import to_json
from harness.lab.persistent import PersistentLab

POLL = 0.5  # seconds between looks at the lab's change counter


@dataclass(frozen=True)
class Snapshot:
    document: dict[str, Any] | None  # the last matrix as its JSON document
    error: str  # why the last probe failed ("" when it did not)
    fresh: bool  # probed after the last change


class LiveMap:
    """Probes the lab with its own connection (the console's requests keep theirs)."""

    def __init__(self, lab: PersistentLab, prober: Prober) -> None:
        self._lab = PersistentLab(lab.home, lab.name, lab.runtime)
        self._counter = lab.home.open(lab.name)  # the pages' own connection, to read the count
        self._prober = prober
        self._changed = threading.Condition()
        self._done = -1  # the change count the map was probed at (-1: not yet)
        self._document: dict[str, Any] | None = None
        self._error = ""
        self._stopping = False
        self._thread = threading.Thread(target=self._loop, name="sgh-console-probe", daemon=True)
        self._thread.start()

    def changed(self) -> None:
        """This console changed the lab: look at the counter now, not at the next poll."""
        with self._changed:
            self._changed.notify()

    def snapshot(self) -> Snapshot:
        with self._changed:
            count = self._counter.changes()
            return Snapshot(self._document, self._error, self._done >= count)

    def stop(self) -> None:
        with self._changed:
            self._stopping = True
            self._changed.notify()
        self._thread.join(timeout=30)
        self._lab.close()
        self._counter.close()

    def _loop(self) -> None:
        while True:
            with self._changed:
                while not self._stopping:
                    target = self._lab.changes()  # read before probing: a change during
                    if target > self._done:  # the probe leaves the map stale, never fresh
                        break
                    self._changed.wait(POLL)
                if self._stopping:
                    return
            try:
                document, error = to_json(self._lab.matrix(self._prober, QUIET)), ""
            except HarnessError as err:
                document, error = None, str(err)
            with self._changed:
                if document is not None:
                    self._document = document
                self._error = error
                self._done = target
