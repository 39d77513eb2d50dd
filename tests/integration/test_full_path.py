"""The whole VPC path on packets, on both runtimes (``topologies/vpc-full-path.yaml``): a NAT
gateway, Elastic IPs, network ACLs, route tables, peerings and an egress-only gateway. Every
cell of the lab must match the oracle, the cells named below must have AWS's verdicts for
AWS's reasons, real connections go out through the gateways as AWS's would, and changes to
routes and Elastic IPs are enforced live."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from dataclasses import replace
from ipaddress import IPv4Address
from pathlib import Path

import pytest
from nodes import leftovers
from persistent import probed, result_of, running

from harness.adapters.netns import call_in
from harness.adapters.probers.scapy_prober import ScapyProber
from harness.core.matrix import CellResult, Matrix
from harness.core.model import Instance, Probe, Protocol, State, Topology
from harness.core.phases import QUIET
from harness.core.planner import Cell
from harness.core.reconcile import Applied
from harness.core.runtime import LabNamespaces, LabRef, Runtime
from harness.formats import topology_file
from harness.lab.lifecycle import reconcile
from harness.lab.measure import batches_for

ROOT = Path(__file__).resolve().parents[2]
TOPO = topology_file.load(ROOT / "topologies/vpc-full-path.yaml")
NAT_EIP = "192.0.2.200"
INTERNET = "198.51.100.10"
INTERNET6 = "2001:db8:ffff::10"


@pytest.fixture(scope="module")
def matrix(runtime: Runtime) -> Iterator[Matrix]:
    with probed(runtime, TOPO) as found:
        yield found


def instance(name: str, topology: Topology = TOPO) -> Instance:
    node = topology.nodes_by_name[name]
    assert isinstance(node, Instance)
    return node


def cell(matrix: Matrix, source: str, target: str, address: object, port: int) -> CellResult:
    return result_of(matrix, source, target, port=port, address=address)


def public(name: str) -> IPv4Address:
    address = instance(name).nics[0].public
    assert address is not None
    return address


class Lab:
    """A running full-path lab; ``change`` reconciles it to a new topology live."""

    def __init__(self, runtime: Runtime, ref: LabRef, live: LabNamespaces) -> None:
        self.runtime, self.ref, self.live = runtime, ref, live
        self.topology = TOPO
        self.applied: dict[str, Applied] = {}

    def change(self, topology: Topology) -> list[str]:
        done = reconcile(self.runtime, self.ref, topology, self.applied, QUIET)
        assert not done.plan.start and not done.plan.remove  # enforced live
        self.topology, self.applied, self.live = topology, done.applied, done.namespaces
        return sorted(done.plan.install)

    def probe(self, source: str, target: str, address: object, port: int) -> State:
        found = Cell(source, target, Probe(Protocol.TCP, port), str(address))
        batches = batches_for(self.topology, self.live, [found], {found})
        return ScapyProber(timeout=1.0).run(batches)[found].state


@pytest.fixture
def lab(runtime: Runtime) -> Iterator[Lab]:
    runtime.check(TOPO)
    with running(runtime, TOPO) as (ref, built):
        lab = Lab(runtime, ref, built.namespaces)
        lab.applied = dict(built.applied)
        yield lab
    assert leftovers(runtime, TOPO.name) == []


def test_every_cell_is_as_the_whole_path_says(matrix: Matrix) -> None:
    assert matrix.summary.ok, matrix.summary.line()


def test_the_nat_gateway_translates_app_servers_to_its_elastic_ip(matrix: Matrix) -> None:
    """partner-api admits the app group on 443 and the NAT gateway's Elastic IP on 8443: at
    its private address the group rule matches; at its public address the app servers come
    through nat-a, seen as 192.0.2.200, which only the CIDR rule matches."""
    private = instance("api").address
    assert cell(matrix, "app-1", "api", private, 443).observed.state is State.OPEN
    translated = cell(matrix, "app-1", "api", public("api"), 443)
    assert translated.observed.state is State.FILTERED and translated.correct
    assert f"({NAT_EIP}), the Elastic IP of NAT gateway nat-a" in translated.expected.why
    matched = cell(matrix, "app-1", "api", public("api"), 8443)
    assert matched.observed.state is State.OPEN and matched.correct
    assert f"{NAT_EIP}/32" in matched.expected.why


def test_nothing_outside_reaches_a_private_instance(matrix: Matrix) -> None:
    """app-1 has no public address: no cell goes to it from outside, and the NAT gateway's
    Elastic IP is no way in (next test)."""
    assert not [
        r for r in matrix.results if r.cell.target == "app-1" and r.cell.source == "internet"
    ]


def test_a_private_instance_reaches_the_internet_only_through_the_nat_gateway(lab: Lab) -> None:
    """app-1 (no public address) opens a connection to a server on the internet, which sees
    it come from the NAT gateway's Elastic IP; the internet cannot open one back to the
    Elastic IP."""
    live = lab.live
    server = call_in(live.netns("internet"), lambda: socket.create_server(("0.0.0.0", 443)))
    seen: list[str] = []

    def accept() -> None:
        conn, peer = server.accept()
        seen.append(peer[0])
        conn.close()

    waiter = threading.Thread(target=accept, daemon=True)
    waiter.start()
    try:
        conn = call_in(
            live.netns("app-1"), lambda: socket.create_connection((INTERNET, 443), timeout=3)
        )
        conn.close()
        waiter.join(5)
    finally:
        server.close()
    assert seen == [NAT_EIP]
    with pytest.raises(OSError):
        call_in(live.netns("internet"), lambda: socket.create_connection((NAT_EIP, 22), timeout=2))


def test_network_acl_entries_are_read_in_number_order(matrix: Matrix) -> None:
    """edge allows the office's ssh at entry 105 before entry 110 denies everyone's."""
    allowed = cell(matrix, "workstation", "bastion", public("bastion"), 22)
    assert allowed.observed.state is State.OPEN and allowed.correct
    denied = cell(matrix, "internet", "bastion", public("bastion"), 22)
    assert denied.observed.state is State.FILTERED and denied.correct
    assert "inbound entry 110: deny tcp 22 from 0.0.0.0/0" in denied.expected.why


def test_a_request_allowed_without_its_reply_fails(matrix: Matrix) -> None:
    """data lets 5432 in from both subnets but lets replies out only to the app subnet's
    ephemeral ports: the app servers connect, the bastion does not."""
    db = instance("db").address
    assert cell(matrix, "app-1", "db", db, 5432).observed.state is State.OPEN
    stateless = cell(matrix, "bastion", "db", db, 5432)
    assert stateless.observed.state is State.FILTERED and stateless.correct
    assert "the reply (tcp to port" in stateless.expected.why
    assert "leaving subnet db-a: network ACL data" in stateless.expected.why


def test_traffic_inside_a_subnet_meets_no_network_acl(matrix: Matrix) -> None:
    """edge denies ssh from everywhere at entry 110, yet the bastion reaches web-1's ssh in
    their own subnet."""
    inside = cell(matrix, "bastion", "web-1", instance("web-1").address, 22)
    assert inside.observed.state is State.OPEN and inside.correct


def test_a_peering_carries_group_references_and_is_not_transitive(matrix: Matrix) -> None:
    """The ledger admits prod/app across prod-legacy; the archive, peered with legacy only,
    is not reached through legacy though prod's route table sends it there."""
    ledger = cell(matrix, "app-1", "ledger", instance("ledger").address, 8443)
    assert ledger.observed.state is State.OPEN and ledger.correct
    assert "ingress ledger: tcp 8443 from app" in ledger.expected.why
    vault = cell(matrix, "app-1", "vault", instance("vault").address, 8443)
    assert vault.observed.state is State.FILTERED and vault.correct
    assert "no transitive routing" in vault.expected.why


def test_ipv6_leaves_by_the_egress_only_gateway_and_nothing_comes_in(matrix: Matrix) -> None:
    v6 = instance("lab6").nics[0].ipv6
    out = cell(matrix, "lab6", "web-1", instance("web-1").nics[0].ipv6, 80)
    assert out.observed.state is State.OPEN and out.correct
    inward = cell(matrix, "internet", "lab6", v6, 80)
    assert inward.observed.state is State.FILTERED and inward.correct
    assert "egress-only internet gateway lets no connection in" in inward.expected.why


def test_a_connection_leaves_by_the_egress_only_gateway(lab: Lab) -> None:
    live = lab.live
    server = call_in(
        live.netns("internet"), lambda: socket.create_server(("::", 8080), family=socket.AF_INET6)
    )
    try:
        conn = call_in(
            live.netns("lab6"), lambda: socket.create_connection((INTERNET6, 8080), timeout=3)
        )
        conn.close()
    finally:
        server.close()


def test_an_instance_with_two_interfaces_answers_at_every_address(matrix: Matrix) -> None:
    """The proxy answers at each interface's private and IPv6 addresses, and at its public
    address through the internet gateway."""
    proxy = instance("proxy")
    addresses = {str(a) for nic in proxy.nics for a in nic.private_addresses()}
    addresses.add(str(public("proxy")))
    answered = {
        r.cell.address
        for r in matrix.results
        if r.cell.target == "proxy" and r.observed.state is State.OPEN
    }
    assert addresses <= answered
    assert all(r.correct for r in matrix.results if r.cell.target == "proxy")


def without_nat_route(topology: Topology) -> Topology:
    prod = topology.vpcs_by_name["prod"]
    tables = tuple(
        replace(t, routes=tuple(r for r in t.routes if r.target != "nat-a"))
        if t.name == "private"
        else t
        for t in prod.route_tables
    )
    vpcs = tuple(replace(v, route_tables=tables) if v.name == "prod" else v for v in topology.vpcs)
    return replace(topology, vpcs=vpcs)


def with_eip_on(topology: Topology, holder: str, address: IPv4Address) -> Topology:
    """The Elastic IP moved to ``holder``'s primary interface (off whoever held it)."""
    instances = []
    for each in topology.instances:
        nics = list(each.nics)
        if each.name == holder:
            nics[0] = replace(nics[0], public=address)
        elif nics[0].public == address:
            nics[0] = replace(nics[0], public=None)
        instances.append(replace(each, interfaces=tuple(nics)))
    return replace(topology, instances=tuple(instances))


def test_a_route_removed_live_takes_the_path_away(lab: Lab) -> None:
    web = public("web-1")
    assert lab.probe("app-1", "web-1", web, 80) is State.OPEN
    assert lab.change(without_nat_route(TOPO)) == ["_rt-prod"]
    assert lab.probe("app-1", "web-1", web, 80) is State.FILTERED
    assert lab.change(TOPO) == ["_rt-prod"]
    assert lab.probe("app-1", "web-1", web, 80) is State.OPEN


def test_an_elastic_ip_moved_between_instances_live(lab: Lab) -> None:
    """bastion-eip goes from the bastion (ssh only) to web-2 (port 80): the internet's port 80
    at that address goes from filtered to open, and only the gateway's policy changes."""
    eip = public("bastion")
    assert lab.probe("internet", "bastion", eip, 80) is State.FILTERED
    moved = with_eip_on(TOPO, "web-2", eip)
    assert lab.change(moved) == ["_igw"]
    assert lab.probe("internet", "web-2", eip, 80) is State.OPEN
    assert lab.probe("workstation", "web-2", eip, 22) is State.FILTERED
