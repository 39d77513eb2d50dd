"""A runtime that starts nothing: for unit tests of the orchestration above the runtimes."""

from __future__ import annotations

from harness.errors import LabError
from harness.model import Topology
from harness.progress import Progress
from harness.runtime.base import LiveLab


class FakeRuntime:
    name = "fake"

    def __init__(self, fail_at: str = "") -> None:
        self.fail_at = fail_at
        self.running: set[str] = set()
        self.installed: dict[str, str] = {}
        self.events: list[str] = []

    def check(self, topology: Topology | None = None) -> None:
        self.events.append("check")

    def ensure_absent(self, lab: str) -> None:
        if lab in self.running:
            raise LabError(f"a lab named '{lab}' is already running")

    def up(self, topology: Topology, progress: Progress) -> LiveLab:
        self.events.append("up")
        self.running.add(topology.name)
        if self.fail_at == "up":
            raise LabError("simulated failure while starting")
        pids = {node.name: 1000 + index for index, node in enumerate(topology.nodes)}
        return LiveLab(topology.name, pids, 999)

    def install(self, lab: LiveLab, policies: dict[str, str], progress: Progress) -> None:
        self.events.append("install")
        if self.fail_at == "install":
            raise LabError("simulated failure while installing")
        self.installed.update(policies)

    def down(self, lab: str, progress: Progress | None = None) -> int:
        self.events.append("down")
        was = lab in self.running
        self.running.discard(lab)
        return int(was)
