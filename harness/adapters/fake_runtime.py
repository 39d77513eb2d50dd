"""A runtime that starts nothing, with all of the runtime port: for unit tests of the lifecycle.

It keeps, per lab, what a real runtime would hold (nodes running or dead, their pids, their
addresses and routes, their policy as nft would list it) and records every call in ``events``.
Tests break it the ways a machine does (``kill``, ``unplug``, ``tamper``, ``add_stray``,
``fail_at``) and check that reconciliation repairs it.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network

from harness.core.fabric import Wiring
from harness.core.model import Instance, LabNode, Listen, Topology
from harness.core.phases import Phases
from harness.core.reconcile import digest
from harness.core.runtime import SWITCH, LabInfo, LabNamespaces, LabRef, NodeState
from harness.errors import LabError


@dataclass
class FakeNode:
    running: bool = True
    pid: int = 0
    addresses: set[IPv4Address] = field(default_factory=set)
    routes: set[IPv4Network] = field(default_factory=set)
    policy: str = ""  # the text nft would list; "" when no table
    listen: set[Listen] = field(default_factory=set)


class FakeRuntime:
    name = "fake"

    def __init__(self, fail_at: str = "") -> None:
        self.fail_at = fail_at
        self.labs_held: dict[LabRef, dict[str, FakeNode]] = {}
        self.events: list[str] = []
        self._pids = itertools.count(1000)

    # -- the port ---------------------------------------------------------------------------

    def check(self, topology: Topology | None = None) -> None:
        self.events.append("check")

    def observe(
        self, lab: LabRef, hints: Mapping[str, int] | None = None, policies: bool = False
    ) -> dict[str, NodeState]:
        self.events.append("observe")
        return {
            name: NodeState(
                name,
                node.running,
                node.pid if node.running else 0,
                frozenset(node.addresses),
                frozenset(node.routes),
                (digest(node.policy) if node.policy else "") if policies else None,
            )
            for name, node in self._lab(lab).items()
        }

    def start(self, lab: LabRef, nodes: Sequence[LabNode | None], phases: Phases) -> dict[str, int]:
        if not nodes:
            return {}
        self.events.append(f"start {len(nodes)}")
        held = self.labs_held.setdefault(_key(lab), {})
        started = {}
        for node in nodes:
            name = SWITCH if node is None else node.name
            if name in held:
                raise LabError(f"a container for {name} already exists")
            listen = set(node.listen) if isinstance(node, Instance) else set()
            held[name] = FakeNode(pid=next(self._pids), listen=listen)
            started[name] = held[name].pid
        if self.fail_at == "start":
            raise LabError("simulated failure while starting")
        return started

    def remove(self, lab: LabRef, names: Iterable[str], phases: Phases) -> int:
        held = self._lab(lab)
        gone = [name for name in names if name in held]
        for name in gone:
            del held[name]
        self.events.append(f"remove {len(gone)}")
        return len(gone)

    def plug(self, lab: LabNamespaces, wiring: Mapping[str, Wiring], phases: Phases) -> None:
        if not wiring:
            return
        self.events.append(f"plug {len(wiring)}")
        held = self._by_name(lab)
        for name, plan in wiring.items():
            held[name].addresses = set(plan.addresses)
            held[name].routes = set(plan.routes)

    def route(
        self, lab: LabNamespaces, names: Iterable[str], subnets: Sequence[IPv4Network]
    ) -> None:
        names = list(names)
        if names:
            self.events.append(f"route {len(names)}")
        for name in names:
            self._by_name(lab)[name].routes = set(subnets)

    def install(
        self, lab: LabNamespaces, policies: Mapping[str, str], phases: Phases
    ) -> dict[str, str]:
        if not policies:
            return {}
        self.events.append("install " + ",".join(sorted(policies)))
        if self.fail_at == "install":
            raise LabError("simulated failure while installing")
        held = self._by_name(lab)
        for name, text in policies.items():
            held[name].policy = text
        return {name: digest(text) for name, text in policies.items()}

    def wait_listening(
        self, lab: LabNamespaces, instances: Sequence[Instance], phases: Phases
    ) -> None:
        if instances:
            self.events.append(f"wait {len(instances)}")

    def labs(self) -> list[LabInfo]:
        return [
            LabInfo(ref.name, ref.kind, len(nodes), sum(n.running for n in nodes.values()))
            for ref, nodes in sorted(self.labs_held.items(), key=lambda item: str(item[0]))
            if nodes
        ]

    def down(self, lab: LabRef, phases: Phases) -> int:
        self.events.append("down")
        return len(self.labs_held.pop(_key(lab), {}))

    # -- what tests do to it ----------------------------------------------------------------

    def nodes(self, lab: LabRef) -> dict[str, FakeNode]:
        return self._lab(lab)

    def kill(self, lab: LabRef, name: str) -> None:
        self._lab(lab)[name].running = False

    def lose(self, lab: LabRef, name: str) -> None:
        del self._lab(lab)[name]

    def unplug(self, lab: LabRef, name: str) -> None:
        node = self._lab(lab)[name]
        node.addresses, node.routes = set(), set()

    def tamper(self, lab: LabRef, name: str, text: str = "") -> None:
        self._lab(lab)[name].policy = text

    def add_stray(self, lab: LabRef, name: str) -> None:
        self.labs_held.setdefault(_key(lab), {})[name] = FakeNode(pid=next(self._pids))

    def _lab(self, lab: LabRef) -> dict[str, FakeNode]:
        return self.labs_held.get(_key(lab), {})

    def _by_name(self, lab: LabNamespaces) -> dict[str, FakeNode]:
        return self.labs_held[LabRef(lab.name, lab.kind)]


def _key(lab: LabRef) -> LabRef:
    """A lab is its name and kind (the owner's pid does not make it another lab)."""
    return LabRef(lab.name, lab.kind)
