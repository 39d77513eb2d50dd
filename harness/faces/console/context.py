"""The console's hold on the lab: the lab, the account it acts as, the live map. Pages are
drawn from the action layer's Describe answers and changes go through its actions, as for
every other door: the console never reads the control plane's state itself."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

from harness.core.ec2.actions import Answer, Request
from harness.core.ec2.platform import EC2_CLASSIC, VPC_PLATFORM
from harness.faces.console.live import LiveMap
from harness.lab.persistent import PersistentLab

PLATFORMS = ("DescribeAccountAttributes", {"AttributeNames": ["supported-platforms"]})


def platform_of(answer: Answer) -> str:
    """The lab's platform from DescribeAccountAttributes' ``supported-platforms`` (``EC2``
    among them: an EC2-Classic account)."""
    values = [
        v["AttributeValue"]
        for a in answer["AccountAttributes"]
        if a["AttributeName"] == "supported-platforms"
        for v in a["AttributeValues"]
    ]
    return EC2_CLASSIC if "EC2" in values else VPC_PLATFORM


def group_filter(name: str, group_id: str) -> dict[str, Any]:
    return {"Filters": [{"Name": name, "Values": [group_id]}]}


class Console:
    """The lab, the account the console acts as, and the live map."""

    def __init__(self, lab: PersistentLab, account: str, live: LiveMap) -> None:
        self.lab = lab
        self.account = account
        self.live = live
        self.guard = threading.Lock()  # one request at a time touches the lab's connection

    def describe(self, *calls: tuple[str, Request]) -> list[Answer]:
        """Describe actions' answers, all read from one load of the state (one page, one
        view of the lab); an account seen for the first time gets its default group."""
        with self.guard:
            return self.lab.call_all(self.account, calls)

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

    def platform(self) -> str:
        return platform_of(self.describe(PLATFORMS)[0])


Page = Callable[..., str]  # a page rendered with the console's frame (see make_app)
