"""VPC security groups on a real Docker engine: egress, defaults, every protocol, IPv6, prefix
lists, a cross-account reference, two interfaces, public addresses and the hairpin.

One lab (``topologies/vpc-features.yaml``) is built once; every cell of its matrix must match
the oracle, and the cells named below must have the verdicts AWS documents, so a wrong oracle
cannot hide behind a wrong lab (or the other way round).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from persistent import running

from harness.adapters import netns
from harness.adapters.probers.scapy_prober import ScapyProber
from harness.core import fabric
from harness.core.matrix import CellResult, Matrix
from harness.core.model import Instance, Protocol, State
from harness.core.phases import QUIET
from harness.core.runtime import Runtime
from harness.formats import topology_file
from harness.lab.measure import probe_matrix

ROOT = Path(__file__).resolve().parents[2]
TOPO = topology_file.load(ROOT / "tests/integration/topologies/vpc-features.yaml")
ATF_PERM = 0x4  # a permanent entry, in /proc/net/arp's flags


Neighbours = dict[str, set[tuple[str, str, str]]]  # node -> (interface, address, MAC)


@pytest.fixture(scope="module")
def measured(runtime: Runtime) -> Iterator[tuple[Matrix, Neighbours]]:
    """The lab's matrix, and each node's permanent neighbour entries, read while it runs
    (every test starts by removing the labs left, so nothing is read from it later)."""
    runtime.check(TOPO)
    with running(runtime, TOPO) as (_, built):
        lab = built.namespaces
        yield (
            probe_matrix(TOPO, lab, ScapyProber(), QUIET),
            {name: permanent_neighbours(pid) for name, pid in lab.pids.items()},
        )


@pytest.fixture(scope="module")
def matrix(measured: tuple[Matrix, Neighbours]) -> Matrix:
    return measured[0]


def permanent_neighbours(pid: int) -> set[tuple[str, str, str]]:
    found = {
        (fields[5], fields[0], fields[3])
        for fields in (
            line.split() for line in Path(f"/proc/{pid}/net/arp").read_text().splitlines()[1:]
        )
        if int(fields[2], 16) & ATF_PERM
    }
    for line in netns.run(pid, ["ip", "-6", "neigh", "show", "nud", "permanent"]).splitlines():
        words = line.split()  # ADDRESS dev IFACE lladdr MAC PERMANENT
        found.add((words[2], words[0], words[4]))
    return found


def test_every_node_has_a_permanent_neighbour_for_every_other_lab_address(
    measured: tuple[Matrix, Neighbours],
) -> None:
    """The entries the fabric plans (IPv4 and IPv6, on each interface) are in each node's
    namespace, permanent, with the MAC of the address's holder."""
    planned = fabric.wirings(TOPO, TOPO.lab_nodes)
    _, found = measured
    assert set(found) == {node.name for node in TOPO.lab_nodes}
    for name, entries in found.items():
        wanted = {(inside, str(a), hardware) for inside, a, hardware in planned[name].neighbours}
        assert entries == wanted, name


def address(name: str, kind: str) -> str:
    node = TOPO.nodes_by_name[name]
    assert isinstance(node, Instance)
    nic = node.nics[0]
    value = {"private": nic.address, "public": nic.public, "ipv6": nic.ipv6}[kind]
    assert value is not None
    return str(value)


def cell(matrix: Matrix, source: str, target: str, probe: str, at: str = "private") -> CellResult:
    wanted = address(target, at) if at in ("private", "public", "ipv6") else at
    for result in matrix.results:
        c = result.cell
        if (c.source, c.target, str(c.probe), c.address) == (source, target, probe, wanted):
            return result
    raise AssertionError(f"no cell {source} -> {target} {probe} at {wanted}")


def seen(matrix: Matrix, source: str, target: str, probe: str, at: str = "private") -> State:
    result = cell(matrix, source, target, probe, at)
    assert result.correct, (result.expected, result.observed)  # the packets agree with the rules
    return result.observed.state


def test_every_cell_is_as_the_rules_say(matrix: Matrix) -> None:
    wrong = matrix.wrong()
    assert not wrong, [(r.cell, r.expected.why, r.observed) for r in wrong[:5]]
    assert matrix.summary.cells > 500


def test_egress_allows_and_denies(matrix: Matrix) -> None:
    assert seen(matrix, "peer", "front", "tcp/80") is State.OPEN  # peer: all IPv4 out
    assert seen(matrix, "back", "front", "tcp/80") is State.FILTERED  # back: egress []
    assert cell(matrix, "back", "front", "tcp/80").observed.detail.startswith("dropped leaving")
    # dual leaves for front's subnet by its primary interface: back's (empty) egress decides,
    # not the egress of side, the group of its second interface
    assert seen(matrix, "dual", "front", "tcp/80") is State.FILTERED
    assert cell(matrix, "dual", "front", "tcp/80").expected.why.startswith("dropped leaving dual")


def test_a_new_groups_default_egress_covers_both_families_in_an_ipv6_vpc(matrix: Matrix) -> None:
    # AWS gives a new group in a VPC with IPv6 all out to ::/0 as well as 0.0.0.0/0
    assert seen(matrix, "front", "back", "tcp/5432") is State.OPEN  # back: -1 from front
    assert seen(matrix, "front", "back", "tcp/5432", "ipv6") is State.OPEN  # ::/0 out too


def test_the_vpc_default_group_admits_its_members_on_everything(matrix: Matrix) -> None:
    assert seen(matrix, "plain-1", "plain-2", "tcp/7000") is State.OPEN
    assert seen(matrix, "plain-1", "plain-2", "udp/1") is State.CLOSED
    assert seen(matrix, "plain-1", "plain-2", "icmpv6", "ipv6") is State.OPEN
    assert seen(matrix, "front", "plain-1", "tcp/7000") is State.FILTERED


def test_all_protocols_and_a_protocol_number(matrix: Matrix) -> None:
    assert seen(matrix, "front", "back", "udp/53") is State.OPEN  # -1 from front
    assert seen(matrix, "front", "back", "132") is State.CLOSED  # got through: proto unreachable
    assert seen(matrix, "peer", "back", "132") is State.CLOSED  # the 132 rule
    assert seen(matrix, "peer", "back", "tcp/5432") is State.FILTERED
    assert any(r.cell.probe.protocol == 132 for r in matrix.results)


def test_icmp_icmpv6_and_ipv6_cidrs_from_outside(matrix: Matrix) -> None:
    assert seen(matrix, "internet", "front", "icmp", "public") is State.OPEN
    assert seen(matrix, "internet", "front", "icmpv6", "ipv6") is State.OPEN
    assert seen(matrix, "internet", "front", "tcp/443", "ipv6") is State.OPEN  # ::/0
    assert seen(matrix, "internet", "front", "tcp/443", "public") is State.FILTERED
    assert seen(matrix, "internet", "front", "tcp/80", "ipv6") is State.FILTERED  # 0.0.0.0/0


def test_a_prefix_list(matrix: Matrix) -> None:
    assert seen(matrix, "ops", "front", "tcp/22", "public") is State.OPEN
    assert seen(matrix, "internet", "front", "tcp/22", "public") is State.FILTERED


def test_a_group_of_another_account(matrix: Matrix) -> None:
    assert seen(matrix, "theirs", "back", "tcp/5432") is State.OPEN
    assert seen(matrix, "plain-1", "back", "tcp/5432") is State.FILTERED


def test_two_interfaces_in_two_subnets_with_their_own_groups(matrix: Matrix) -> None:
    dual = TOPO.nodes_by_name["dual"]
    assert isinstance(dual, Instance)
    second = str(dual.nics[1].address)
    assert seen(matrix, "peer", "dual", "udp/53", second) is State.OPEN  # side: udp 53 from peer
    assert seen(matrix, "peer", "dual", "udp/53") is State.FILTERED  # eth0 holds back only
    assert seen(matrix, "front", "dual", "udp/53") is State.OPEN  # back: -1 from front
    assert seen(matrix, "front", "dual", "udp/53", second) is State.FILTERED


def test_public_addresses_and_the_hairpin(matrix: Matrix) -> None:
    # peer reaches front's private address under the group rule...
    assert seen(matrix, "peer", "front", "tcp/9000") is State.OPEN
    # ...but not its public one: through the gateway peer arrives as its own public address
    assert seen(matrix, "peer", "front", "tcp/9000", "public") is State.FILTERED
    why = cell(matrix, "peer", "front", "tcp/9000", "public").expected.why
    assert "group rules match private addresses only" in why
    # a CIDR rule for peer's public address admits the hairpin, and only it
    assert seen(matrix, "peer", "front", "tcp/8000", "public") is State.OPEN
    assert seen(matrix, "peer", "front", "tcp/8000") is State.FILTERED
    # outside hosts reach public addresses only; private instances have no public path
    assert not [
        r for r in matrix.results if r.cell.source == "internet" and r.cell.target == "back"
    ]
    assert seen(matrix, "internet", "front", "tcp/80", "public") is State.OPEN
    assert Protocol.ICMPV6 in {r.cell.probe.protocol for r in matrix.results}
