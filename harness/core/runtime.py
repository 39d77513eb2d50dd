"""The runtime port: everything the lab lifecycle asks of a runtime, and what it observes.

No object of a runtime's own library (a Docker SDK container, say) crosses this port: a runtime
reports each node as a :class:`NodeState` and is driven by node names, nodes and scripts. The
Docker runtime (:mod:`harness.adapters.docker_runtime`) and the fake one
(:mod:`harness.adapters.fake_runtime`) implement all of it, so the lifecycle above them is
unit-tested on the fake.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from ipaddress import IPv4Address, IPv4Network
from typing import Protocol

from harness.core.fabric import Wiring
from harness.core.model import Instance, LabNode, Topology
from harness.core.phases import Phases

SWITCH = "_switch"
"""The node name of a lab's switch (the namespace that holds its bridge)."""


class LabKind(StrEnum):
    """Who made a lab: labs of one kind never take or remove another kind's resources."""

    RUN = "run"  # sgh run (one-shot, or kept with --keep)
    PYTEST = "pytest"  # the pytest plugin
    PERSISTENT = "persistent"  # sgh lab up, the ec2-* commands, sgh serve, sgh replay


@dataclass(frozen=True)
class LabRef:
    """A lab as a runtime knows it: its name and kind, and the process that owns a one-shot
    lab (0 for persistent labs, which outlive processes)."""

    name: str
    kind: LabKind = LabKind.RUN
    owner: int = 0

    def __str__(self) -> str:
        return f"{self.kind} lab '{self.name}'"


@dataclass(frozen=True)
class LabInfo:
    """A lab found on the machine (``sgh lab list``, ``sgh clean``)."""

    name: str
    kind: LabKind
    containers: int
    running: int
    owner: int = 0


@dataclass(frozen=True)
class NodeState:
    """What a runtime observes of one node: is it running, is it plugged into the fabric (the
    addresses and the on-link routes of its lab interface), and its nftables policy (a digest
    of what ``nft -s list table inet sgh`` prints, ``""`` when there is no such table, ``None``
    when it was not looked at)."""

    name: str
    running: bool
    pid: int = 0
    addresses: frozenset[IPv4Address] = frozenset()
    routes: frozenset[IPv4Network] = frozenset()
    policy: str | None = None


@dataclass
class LabNamespaces:
    """A running lab's network namespaces: each node's by pid, and its switch's."""

    name: str
    pids: dict[str, int] = field(default_factory=dict)
    switch_pid: int = 0
    kind: LabKind = LabKind.RUN

    def netns(self, node: str) -> str:
        return f"/proc/{self.pids[node]}/ns/net"


class Runtime(Protocol):
    name: str

    def check(self, topology: Topology | None = None) -> None:
        """Everything a lab needs (engine, root, tools, images), or a PrerequisiteError."""

    def observe(
        self, lab: LabRef, hints: Mapping[str, int] | None = None, policies: bool = False
    ) -> dict[str, NodeState]:
        """Every node of the lab the runtime holds, the switch under :data:`SWITCH`; ``hints``
        are pids seen before (cheaper to confirm than to look up); ``policies`` also lists
        each node's nftables policy."""

    def start(self, lab: LabRef, nodes: Sequence[LabNode | None], phases: Phases) -> dict[str, int]:
        """Start nodes (``None``: the switch, with its bridge); their pids by name. Stops
        starting more at the first Ctrl-C and raises it once those in flight have started."""

    def remove(self, lab: LabRef, names: Iterable[str], phases: Phases) -> int:
        """Remove these nodes of the lab (the switch as :data:`SWITCH`); how many were there."""

    def plug(self, lab: LabNamespaces, wiring: Mapping[str, Wiring], phases: Phases) -> None:
        """Plug started nodes into the switch as their wiring says: links, addresses, routes,
        sysctls."""

    def route(
        self, lab: LabNamespaces, names: Iterable[str], subnets: Sequence[IPv4Network]
    ) -> None:
        """Give running nodes on-link routes to every lab subnet."""

    def install(
        self, lab: LabNamespaces, policies: Mapping[str, str], phases: Phases
    ) -> dict[str, str]:
        """Apply each instance's nft transaction atomically; the digest of each listing."""

    def wait_listening(
        self, lab: LabNamespaces, instances: Sequence[Instance], phases: Phases
    ) -> None:
        """Until every instance listens on the ports it declares, or a LabError."""

    def labs(self) -> list[LabInfo]:
        """Every lab this runtime holds on the machine."""

    def down(self, lab: LabRef, phases: Phases) -> int:
        """Remove everything of the lab, until nothing is left; how many containers."""
