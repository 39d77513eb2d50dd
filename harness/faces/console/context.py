"""The console's hold on the lab: the lab, the account it acts as, the live map; reads for the
pages, changes through the action layer."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import TypeVar

from harness.core.ec2 import plane as ec2
from harness.core.ec2.actions import Answer, Request
from harness.core.ec2.plane import Cloud
from harness.faces.console.live import LiveMap
from harness.lab.persistent import PersistentLab

T = TypeVar("T")
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


class Console:
    """The lab, the account the console acts as, and the live map."""

    def __init__(self, lab: PersistentLab, account: str, live: LiveMap) -> None:
        self.lab = lab
        self.account = account
        self.live = live
        self.guard = threading.Lock()  # one request at a time touches the lab's connection

    def read(self, action: Callable[[Cloud], tuple[Cloud, T]]) -> tuple[T, Cloud]:
        """A describe action's result, and the account's view of the state it read (one
        load of the state for the whole page)."""

        def both(cloud: Cloud) -> tuple[Cloud, tuple[T, Cloud]]:
            cloud, result = action(cloud)
            return cloud, (result, ec2.with_account(cloud, self.account))

        with self.guard:
            return self.lab.read(both)

    def call(self, name: str, request: Request) -> Answer:
        """An action of the action layer (the one every door calls), as the console's
        account; enforced before it returns."""
        return self.call_all([(name, request)])[0]

    def call_all(self, calls: Sequence[tuple[str, Request]]) -> list[Answer]:
        """Several actions as one change (Apply Rule Changes): all, or none."""
        with self.guard:
            answers = self.lab.call_all(self.account, calls)
        self.live.changed()
        return answers

    def cloud(self) -> Cloud:
        with self.guard:
            return ec2.with_account(self.lab.cloud(), self.account)


Page = Callable[..., str]  # a page rendered with the console's frame (see make_app)
