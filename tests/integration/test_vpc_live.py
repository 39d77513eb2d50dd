"""Live changes on a running VPC lab, enforced through the one lifecycle without a restart: a
prefix list's entries, an instance's group membership, and connection tracking across a revoke
(a tracked connection survives the revoke of its rule; an untracked one is cut at once).

Connections are real TCP connections opened inside the client's network namespace. Whether a
connection still carries data is read from the kernel: bytes sent and not yet acknowledged by
the peer (``SIOCOUTQ``) drain to zero when the segments get through, and stay when the
receiver's policy drops them.
"""

from __future__ import annotations

import fcntl
import socket
import struct
import termios
import time
from collections.abc import Iterator
from dataclasses import replace
from ipaddress import ip_network
from pathlib import Path

import pytest
from nodes import leftovers
from persistent import running

from harness.adapters.netns import call_in
from harness.adapters.probers.scapy_prober import ScapyProber
from harness.core.model import GroupKey, Instance, Probe, Protocol, State, Topology
from harness.core.phases import QUIET
from harness.core.planner import Cell
from harness.core.reconcile import Applied
from harness.core.runtime import LabNamespaces, LabRef, Runtime
from harness.formats import topology_file
from harness.lab.lifecycle import reconcile
from harness.lab.measure import batches_for

TOPO = topology_file.load(Path(__file__).resolve().parent / "topologies/vpc-live.yaml")


class Lab:
    """The running lab and its current topology; ``change`` reconciles to a new one."""

    def __init__(self, runtime: Runtime, ref: LabRef, live: LabNamespaces) -> None:
        self.runtime, self.ref, self.live = runtime, ref, live
        self.topology = TOPO
        self.applied: dict[str, Applied] = {}

    def change(self, topology: Topology) -> list[str]:
        done = reconcile(self.runtime, self.ref, topology, self.applied, QUIET)
        assert not done.plan.start and not done.plan.remove  # enforced live: nothing restarted
        self.topology, self.applied, self.live = topology, done.applied, done.namespaces
        return sorted(done.plan.install)

    def probe(self, source: str, target: str, port: int) -> State:
        cell = Cell(source, target, Probe(Protocol.TCP, port), str(self.address(target)))
        batches = batches_for(self.topology, self.live, [cell], {cell})
        return ScapyProber(timeout=1.0).run(batches)[cell].state

    def address(self, name: str) -> object:
        node = self.topology.nodes_by_name[name]
        assert isinstance(node, Instance)
        return node.address

    def connect(self, source: str, target: str, port: int) -> socket.socket:
        """A TCP connection from inside ``source`` to ``target``'s private address."""
        address = str(self.address(target))
        return call_in(
            self.live.netns(source), lambda: socket.create_connection((address, port), timeout=3)
        )


@pytest.fixture
def lab(runtime: Runtime) -> Iterator[Lab]:
    runtime.check(TOPO)
    with running(runtime, TOPO) as (ref, built):
        lab = Lab(runtime, ref, built.namespaces)
        lab.applied = dict(built.applied)
        yield lab
    assert leftovers(runtime, TOPO.name) == []


def carries(conn: socket.socket, wait: float = 2.0) -> bool:
    """Send a few bytes; True when the peer acknowledges them within ``wait`` seconds."""
    conn.send(b"still there?")
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        unacked = struct.unpack("i", fcntl.ioctl(conn, termios.TIOCOUTQ, b"\0\0\0\0"))[0]
        if unacked == 0:
            return True
        time.sleep(0.05)
    return False


def with_groups(topo: Topology, name: str, *groups: str) -> Topology:
    keys = tuple(GroupKey(topo.account, g, "lab") for g in groups)
    instances = []
    for instance in topo.instances:
        if instance.name == name:
            first = replace(instance.interfaces[0], groups=keys)
            interfaces = (first, *instance.interfaces[1:])
            instances.append(replace(instance, groups=keys, interfaces=interfaces))
        else:
            instances.append(instance)
    return replace(topo, instances=tuple(instances))


def with_entries(topo: Topology, plist: str, *cidrs: str) -> Topology:
    lists = tuple(
        replace(p, cidrs=tuple(ip_network(c) for c in cidrs)) if p.name == plist else p
        for p in topo.prefix_lists
    )
    return replace(topo, prefix_lists=lists)


def without_port(topo: Topology, group: str, port: int) -> Topology:
    groups = tuple(
        replace(g, rules=tuple(r for r in g.rules if r.from_port != port)) if g.name == group else g
        for g in topo.groups
    )
    return replace(topo, groups=groups)


def test_a_prefix_list_change_is_enforced_live(lab: Lab) -> None:
    assert lab.probe("client", "server", 8443) is State.FILTERED
    client = str(lab.address("client"))
    assert lab.change(with_entries(TOPO, "ops", "10.2.9.0/24", f"{client}/32")) == ["server"]
    assert lab.probe("client", "server", 8443) is State.OPEN
    assert lab.probe("other", "server", 8443) is State.FILTERED
    assert lab.change(TOPO) == ["server"]
    assert lab.probe("client", "server", 8443) is State.FILTERED


def test_a_membership_change_is_enforced_live(lab: Lab) -> None:
    assert lab.probe("other", "server", 22) is State.FILTERED
    # 'other' joins 'client': its own policy changes, and so does the server's, which holds
    # the addresses of group 'client' in a set.
    assert lab.change(with_groups(TOPO, "other", "client")) == ["other", "server"]
    assert lab.probe("other", "server", 22) is State.OPEN
    assert lab.change(with_groups(lab.topology, "other", "stranger")) == ["other", "server"]
    assert lab.probe("other", "server", 22) is State.FILTERED


def test_a_tracked_connection_survives_the_revoke_of_its_rule(lab: Lab) -> None:
    conn = lab.connect("client", "server", 22)  # admitted by a group reference: tracked
    with conn:
        assert carries(conn)
        assert lab.change(without_port(TOPO, "server", 22)) == ["server"]
        assert carries(conn)  # the established connection goes on
        assert lab.probe("client", "server", 22) is State.FILTERED  # a new one does not


def test_an_untracked_connection_is_cut_by_the_revoke_of_its_rule(lab: Lab) -> None:
    conn = lab.connect("client", "server", 80)  # 0.0.0.0/0 in, all traffic out: untracked
    with conn:
        assert carries(conn)
        assert lab.change(without_port(TOPO, "server", 80)) == ["server"]
        assert not carries(conn)  # cut at once
        assert lab.probe("client", "server", 80) is State.FILTERED
