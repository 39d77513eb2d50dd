"""What a runtime gives the orchestration: a live lab and the operations on it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from harness.model import Topology
from harness.progress import Progress


@dataclass
class LiveLab:
    """A running lab: the network namespace (by pid) of every node, and of its switch."""

    name: str
    pids: dict[str, int] = field(default_factory=dict)
    switch_pid: int = 0

    def netns(self, node: str) -> str:
        return f"/proc/{self.pids[node]}/ns/net"


class Runtime(Protocol):
    name: str

    def check(self, topology: Topology | None = None) -> None: ...

    def ensure_absent(self, lab: str) -> None: ...

    def up(self, topology: Topology, progress: Progress) -> LiveLab: ...

    def install(self, lab: LiveLab, policies: dict[str, str], progress: Progress) -> None: ...

    def down(self, lab: str, progress: Progress | None = None) -> int: ...
