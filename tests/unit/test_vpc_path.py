"""Network ACLs and route tables as AWS documents them (vpc-path.md §1, §6)."""

from __future__ import annotations

import re
from ipaddress import ip_address, ip_network

import pytest

from harness.core.model import Network
from harness.core.vpc_path import (
    ALL,
    ICMP,
    TCP,
    UDP,
    AclEntry,
    Action,
    NetworkAcl,
    Packet,
    Route,
    RouteTable,
)

WORLD = ip_network("0.0.0.0/0")
VPC = ip_network("10.0.0.0/16")


def entry(
    number: int,
    action: str,
    protocol: int = TCP,
    *,
    egress: bool = False,
    cidr: Network = WORLD,
    ports: tuple[int, int] | None = None,
    icmp: tuple[int, int] | None = None,
) -> AclEntry:
    return AclEntry(number, egress, Action(action), protocol, cidr, ports, icmp)


def tcp_in(peer: str, port: int) -> Packet:
    return Packet(TCP, ip_address(peer), port)


def test_the_lowest_numbered_matching_entry_decides() -> None:
    """The issue's "edge" ACL: 110 denies ssh before 120 allows the high ports; written the
    other way round, the allow comes first and ssh passes."""
    edge = NetworkAcl(
        "edge",
        (
            entry(120, "allow", ports=(1024, 65535)),
            entry(100, "allow", ports=(443, 443)),
            entry(110, "deny", ports=(22, 22)),
        ),
    )
    assert edge.decide(False, tcp_in("203.0.113.9", 443)).allowed
    denied = edge.decide(False, tcp_in("203.0.113.9", 22))
    assert not denied.allowed and denied.entry is not None and denied.entry.number == 110
    assert denied.words == "network ACL edge: inbound entry 110: deny tcp 22 from 0.0.0.0/0"
    assert edge.decide(False, tcp_in("203.0.113.9", 40000)).allowed
    late = NetworkAcl(
        "late", (entry(90, "allow", ports=(1, 65535)), entry(110, "deny", ports=(22, 22)))
    )
    assert late.decide(False, tcp_in("203.0.113.9", 22)).entry == late.entries[0]


def test_nothing_matching_meets_the_star_entry_of_its_family() -> None:
    acl = NetworkAcl("v4-only", (entry(100, "allow", ALL),))
    assert acl.decide(False, tcp_in("198.51.100.1", 80)).allowed
    six = acl.decide(False, Packet(TCP, ip_address("2001:db8::1"), 80))
    assert not six.allowed and six.entry is None
    assert six.words == "network ACL v4-only: no inbound entry matches (entry * 32768 denies)"
    assert "entry * 32767" in NetworkAcl("empty").decide(True, tcp_in("10.0.1.5", 80)).words


def test_directions_are_apart_and_a_reply_is_judged_by_its_own_ports() -> None:
    """Stateless: a request allowed in on 5432 needs an outbound entry for the reply, whose
    destination port is the client's ephemeral port."""
    data = NetworkAcl(
        "data",
        (
            entry(100, "allow", cidr=ip_network("10.0.2.0/24"), ports=(5432, 5432)),
            entry(100, "allow", egress=True, cidr=ip_network("10.0.2.0/24"), ports=(1024, 65535)),
        ),
    )
    assert data.decide(False, tcp_in("10.0.2.7", 5432)).allowed
    assert data.decide(True, tcp_in("10.0.2.7", 40001)).allowed  # the reply to port 40001
    assert not data.decide(True, tcp_in("10.0.2.7", 80)).allowed  # below the reply ports
    assert not data.decide(False, tcp_in("10.0.3.7", 5432)).allowed  # another subnet


@pytest.mark.parametrize(
    ("protocol", "packet", "matched"),
    [
        (ALL, Packet(47, ip_address("10.0.1.1")), True),
        (47, Packet(47, ip_address("10.0.1.1")), True),  # any other protocol: every port
        (47, Packet(TCP, ip_address("10.0.1.1"), 22), False),
        (UDP, Packet(UDP, ip_address("10.0.1.1"), 53), True),
        (UDP, Packet(TCP, ip_address("10.0.1.1"), 53), False),
    ],
)
def test_protocols_match_by_number(protocol: int, packet: Packet, matched: bool) -> None:
    ports = (53, 53) if protocol == UDP else None
    assert entry(100, "allow", protocol, ports=ports).matches(packet) is matched


def test_icmp_entries_match_type_and_code() -> None:
    echo = entry(110, "allow", ICMP, cidr=VPC, icmp=(8, -1))
    assert echo.matches(Packet(ICMP, ip_address("10.0.9.9"), icmp=(8, 0)))
    assert not echo.matches(Packet(ICMP, ip_address("10.0.9.9"), icmp=(0, 0)))
    assert entry(111, "allow", ICMP, icmp=(-1, -1)).matches(
        Packet(ICMP, ip_address("192.0.2.1"), icmp=(3, 3))
    )
    assert echo.what() == "icmp 8:-1"


def test_a_default_acl_allows_everything_of_its_families() -> None:
    plain = NetworkAcl.allowing_all("default", ipv6=False)
    assert plain.decide(True, tcp_in("8.8.8.8", 443)).allowed
    assert not plain.decide(True, Packet(TCP, ip_address("2001:db8::9"), 443)).allowed
    dual = NetworkAcl.allowing_all("default", ipv6=True)
    assert dual.decide(False, Packet(UDP, ip_address("2001:db8::9"), 53)).allowed
    assert [e.number for e in dual.ordered(False)] == [100, 101]


def test_the_most_specific_route_carries_a_packet() -> None:
    private = RouteTable(
        "private",
        (
            Route(ip_network("0.0.0.0/0"), "nat-a"),
            Route(ip_network("10.1.0.0/16"), "prod-legacy"),
            Route(ip_network("10.1.5.0/24"), "appliance", blackhole=True),
        ),
    )
    local = (VPC, ip_network("2600:1f18::/56"))

    def target(address: str) -> str | None:
        found = private.lookup(ip_address(address), local)
        return None if found is None else found.target

    assert target("10.0.3.4") == "local"  # the VPC's own CIDR
    assert target("10.1.2.3") == "prod-legacy"
    assert target("203.0.113.5") == "nat-a"
    assert target("2600:1f18::7") == "local"
    assert target("2001:db8::1") is None  # 0.0.0.0/0 never carries IPv6
    held = private.lookup(ip_address("10.1.5.9"), local)
    assert held is not None and held.blackhole  # a dead route is not skipped for a shorter one
    assert held.describe() == (
        "route 10.1.5.0/24 -> appliance (blackhole: its target is not available)"
    )
    assert RouteTable("isolated").lookup(ip_address("8.8.8.8"), local) is None


ACL_TOPOLOGY = """
name: acl
vpcs:
  - name: v
    cidr: 10.0.0.0/16
    subnets:
      - {name: a, cidr: 10.0.1.0/24, network_acl: edge}
      - {name: b, cidr: 10.0.2.0/24}
    network_acls:
      - name: edge
        ingress:
          - {rule: 100, protocol: tcp, ports: 443, source: 0.0.0.0/0, action: allow}
          - {rule: 110, protocol: icmp, icmp: "8:-1", source: 10.0.0.0/16, action: allow}
        egress:
          - {rule: 100, protocol: "-1", destination: 0.0.0.0/0, action: allow}
instances:
  - {name: i, subnet: a}
"""


def test_a_topology_gives_subnets_their_network_acls() -> None:
    from harness.formats import topology_file

    topology = topology_file.loads(ACL_TOPOLOGY, "acl.yaml")
    vpc = topology.vpcs_by_name["v"]
    a, b = vpc.subnets
    edge = vpc.acl_of(a)
    assert edge.name == "edge" and [e.number for e in edge.ordered(False)] == [100, 110]
    assert edge.ordered(False)[1].icmp == (8, -1)
    assert vpc.acl_of(b).default  # no network_acl: the VPC's default, which allows all


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ("rule: 110, protocol: icmp", "rule: 100, protocol: icmp"),  # a number used twice
        ("rule: 110", "rule: 32767"),
        ("network_acl: edge}", "network_acl: edgy}"),
        ("protocol: tcp, ports: 443,", "protocol: tcp,"),
        ('icmp: "8:-1",', 'icmp: "8:-1", ports: 80,'),
        ("action: allow}\n        egress", "action: maybe}\n        egress"),
    ],
)
def test_a_bad_network_acl_is_one_line_naming_it(change: str, expected: str) -> None:
    from harness.errors import InvalidInput
    from harness.formats import topology_file

    text = ACL_TOPOLOGY.replace(change, expected, 1)
    assert text != ACL_TOPOLOGY
    with pytest.raises(InvalidInput) as info:
        topology_file.loads(text, "acl.yaml")
    message = str(info.value)
    assert "\n" not in message and message.startswith("acl.yaml"), message
    words = {
        "rule: 100, protocol: icmp": "NetworkAclEntryAlreadyExists",
        "rule: 32767": "ruleNumber is invalid",
        "network_acl: edgy}": "network_acl 'edgy' is not one of VPC 'v''s",
        "protocol: tcp,": "portRange",
        'icmp: "8:-1", ports: 80,': "takes no 'ports'",
        "action: maybe}\n        egress": "'action' must be allow or deny",
    }
    assert words[expected] in message, message


def test_the_router_judges_each_subnets_acl_both_ways() -> None:
    from harness.core.nftables import compile_router
    from harness.formats import topology_file

    topology = topology_file.loads(ACL_TOPOLOGY, "acl.yaml")
    policy = compile_router(topology, topology.routers[0])
    assert 'iifname "eth0" jump acl_out_eth0' in policy
    assert 'oifname "eth0" jump acl_in_eth0' in policy
    assert "eth1" not in policy  # b has the default ACL: nothing to judge
    assert (
        'ip saddr 0.0.0.0/0 tcp dport 443 return comment "inbound entry 100: allow tcp 443 '
        'from 0.0.0.0/0"'
    ) in policy
    assert "ip saddr 10.0.0.0/16 meta l4proto icmp icmp type 8 return" in policy
    assert policy.count('drop comment "a: network ACL edge, entry *"') == 2


def test_what_a_table_sends_to_the_gateway_leaves_out_more_specific_routes() -> None:
    from harness.core.vpc_path import INTERNET_GATEWAY, to_gateway

    table = RouteTable(
        "t",
        (
            Route(ip_network("0.0.0.0/0"), INTERNET_GATEWAY),
            Route(ip_network("192.0.2.0/24"), "elsewhere"),
            Route(ip_network("198.51.100.0/24"), INTERNET_GATEWAY, blackhole=True),
        ),
    )
    sent = to_gateway(table, (), INTERNET_GATEWAY)
    assert all(net.version == 4 for net in sent)
    for address, expected in (("8.8.8.8", True), ("192.0.2.7", False), ("198.51.100.9", False)):
        assert any(ip_address(address) in net for net in sent) is expected, address
    assert to_gateway(RouteTable("none"), (), INTERNET_GATEWAY) == []


ROUTED = """
name: routed
vpcs:
  - name: v
    cidr: 10.0.0.0/16
    internet_gateway: true
    route_tables:
      - name: out
        routes:
          - {destination: 0.0.0.0/0, target: internet_gateway}
    subnets:
      - {name: a, cidr: 10.0.1.0/24, route_table: out}
      - {name: b, cidr: 10.0.2.0/24}
instances:
  - {name: i, subnet: a, public_ip: true}
"""


def test_a_subnet_takes_its_route_table_or_the_main_one() -> None:
    from harness.formats import topology_file

    vpc = topology_file.loads(ROUTED, "routed.yaml").vpcs_by_name["v"]
    a, b = vpc.subnets
    assert vpc.table_of(a).name == "out" and vpc.to_internet(a, ip_address("8.8.8.8"))
    assert vpc.table_of(b).name == "main" and not vpc.to_internet(b, ip_address("8.8.8.8"))
    assert not vpc.to_internet(a, ip_address("10.0.2.5"))  # the local route


@pytest.mark.parametrize(
    ("change", "expected", "words"),
    [
        ("internet_gateway: true", "internet_gateway: false", "has none: give it"),
        ("route_table: out}", "route_table: gone}", "route_table 'gone' is not one of"),
        ("target: internet_gateway}", "target: nat-a}", "is no gateway, NAT gateway of this VPC"),
        ("destination: 0.0.0.0/0", "destination: 10.0.5.0/24", "equal to or more specific"),
        ("route_table: out}", "route_table: out, public: true}", "not both"),
        (
            "target: internet_gateway}\n",
            "target: internet_gateway}\n          - {destination: 0.0.0.0/0, "
            "target: internet_gateway}\n",
            "RouteAlreadyExists",
        ),
    ],
)
def test_a_bad_route_table_is_one_line_naming_it(change: str, expected: str, words: str) -> None:
    from harness.errors import InvalidInput
    from harness.formats import topology_file

    text = ROUTED.replace(change, expected, 1)
    assert text != ROUTED
    with pytest.raises(InvalidInput) as info:
        topology_file.loads(text, "routed.yaml")
    message = str(info.value)
    assert "\n" not in message and message.startswith("routed.yaml"), message
    assert words in message, message


def test_a_plan_by_classes_keeps_apart_probes_the_path_tells_apart() -> None:
    """The groups of vpc-network-acls.yaml allow everything: by the groups alone, ssh and http
    to web are one class; the front ACL denies 22, so the plan keeps both."""
    from pathlib import Path

    from harness.core.planner import plan
    from harness.formats import topology_file

    root = Path(__file__).resolve().parents[2]
    topology = topology_file.load(root / "tests/integration/topologies/vpc-network-acls.yaml")
    ports = {
        cell.probe.port
        for cell in plan(topology, classes=True)
        if (cell.source, cell.target) == ("internet", "web")
    }
    assert {22, 80} <= ports


def test_the_json_document_says_where_the_path_translates_and_routes() -> None:
    """A reader of --json can tell which address a packet carries where: each router's
    address on each subnet, and the public address each private one becomes."""
    from pathlib import Path

    from harness.formats import topology_file
    from harness.formats.matrix_report import path_json

    root = Path(__file__).resolve().parents[2]
    topology = topology_file.load(root / "tests/integration/topologies/vpc-route-tables.yaml")
    found = path_json(topology)
    (router,) = found["routers"]
    assert router["name"] == "_rt-rt" and router["kind"] == "router"
    assert router["subnets"] == {
        "main-a": "10.50.1.1",
        "partner-a": "10.50.2.1",
        "closed-a": "10.50.3.1",
    }
    gateway = found["internet_gateway"]
    web = topology.nodes_by_name["web"]
    assert gateway["kind"] == "gateway"
    assert gateway["translates"][str(web.address)].startswith("192.0.2.")
    assert str(topology.nodes_by_name["vault"].address) not in gateway["translates"]


def _full_text() -> str:
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    return (root / "topologies/vpc-full-path.yaml").read_text()


def test_the_full_path_file_builds_nat_gateways_peerings_and_elastic_ips() -> None:
    from harness.formats import topology_file

    topology = topology_file.loads(_full_text(), "full.yaml")
    prod = topology.vpcs_by_name["prod"]
    (nat,) = prod.nat_gateways
    assert (nat.label, nat.subnet, str(nat.public)) == ("nat-a", "public-a", "192.0.2.200")
    assert nat.address in topology.subnets_by_name["public-a"].cidr
    assert [p.vpcs for p in topology.peerings] == [("prod", "legacy"), ("legacy", "archive")]
    assert topology.connected("prod", "archive") and not topology.connected("prod", "lab6")
    bastion = topology.nodes_by_name["bastion"]
    assert str(bastion.nics[0].public) == "192.0.2.100"  # type: ignore[union-attr]
    assert topology.translations[nat.address] == nat.public
    assert topology.vpcs_by_name["lab6"].egress_only_internet_gateway
    ledger = next(g for g in topology.groups if g.name == "ledger")
    assert ledger.rules[0].group is not None and ledger.rules[0].group.vpc == "prod"
    names = {node.name for node in topology.lab_nodes}
    assert {"_nat-nat-a", "_rt-prod", "_rt-legacy", "_igw"} <= names


@pytest.mark.parametrize(
    ("change", "expected", "words"),
    [
        ("target: nat-a}", "target: nat-b}", "target 'nat-b' is no gateway"),
        (
            "{destination: 0.0.0.0/0, target: nat-a}",
            '{destination: "::/0", target: nat-a}',
            "a NAT gateway takes IPv4 destinations",
        ),
        (
            '{destination: "::/0", target: egress_only_internet_gateway}',
            "{destination: 0.0.0.0/0, target: egress_only_internet_gateway}",
            "an egress-only internet gateway takes IPv6 destinations only",
        ),
        (
            "egress_only_internet_gateway: true",
            "egress_only_internet_gateway: false",
            "routes to the egress only internet gateway, but VPC 'lab6' has none",
        ),
        ("vpcs: [legacy, archive]", "vpcs: [legacy, legacy]", "two different VPCs"),
        ("vpcs: [legacy, archive]", "vpcs: [legacy, gone]", "InvalidVpcID.NotFound"),
        ("vpcs: [legacy, archive]", "vpcs: [archive, prod]", "joins archive and prod, not"),
        ("source: prod/app}", "source: lab6/v6}", "which is not peered with VPC 'legacy'"),
        ("{name: nat-a, subnet: public-a}", "{name: nat-a, subnet: old}", "is not in VPC"),
        ("nat_gateway: nat-a, address", "nat_gateway: nat-z, address", "nat-z' does not exist"),
        ("instance: bastion, address", "instance: nobody, address", "InvalidInstanceID.NotFound"),
        ("address: 192.0.2.100}", "address: 192.0.2.200}", "is taken or outside"),
    ],
)
def test_a_bad_path_entry_is_one_line_naming_it(change: str, expected: str, words: str) -> None:
    from harness.errors import InvalidInput
    from harness.formats import topology_file

    text = _full_text()
    changed = text.replace(change, expected, 1)
    assert changed != text, change
    with pytest.raises(InvalidInput) as info:
        topology_file.loads(changed, "full.yaml")
    message = str(info.value)
    assert "\n" not in message and message.startswith("full.yaml"), message
    assert words in message, message


def test_a_router_whose_next_hops_change_is_plugged_again() -> None:
    """A route changes the router's policy alone; a peering added changes its routing, so the
    reconciler plugs it again (its recorded digest says what was plugged)."""
    from dataclasses import replace

    from harness.core.fabric import wiring
    from harness.core.model import Peering
    from harness.core.reconcile import Applied, plan
    from harness.core.runtime import SWITCH, NodeState
    from harness.formats import topology_file

    topology = topology_file.loads(_full_text(), "full.yaml")
    first = plan(topology, {}, {})
    applied = {name: Applied(1, digest) for name, digest in first.digests.items()}
    observed = {SWITCH: NodeState(SWITCH, True, 1)}
    for node in topology.lab_nodes:
        observed[node.name] = NodeState(node.name, True, 1, wiring(topology, node).addresses)
    assert plan(topology, observed, applied).remove == ()
    peered = replace(topology, peerings=(*topology.peerings, Peering("p3", ("prod", "lab6"))))
    again = plan(peered, observed, applied)
    assert set(again.remove) == {"_rt-prod", "_rt-lab6"}


def test_a_prober_picking_its_own_ports_is_refused_on_a_lab_with_network_acls() -> None:
    """nmap picks its own source ports; a network ACL judges replies by them, so the oracle
    could not be compared with it: one line, before anything is built."""
    from harness.adapters.probers.nmap_prober import NmapProber
    from harness.adapters.probers.scapy_prober import ScapyProber
    from harness.errors import InvalidInput
    from harness.formats import topology_file
    from harness.lab.measure import check_source_ports

    topology = topology_file.loads(_full_text(), "full.yaml")
    with pytest.raises(InvalidInput) as info:
        check_source_ports(topology, NmapProber())
    assert "\n" not in str(info.value) and "network ACLs" in str(info.value)
    check_source_ports(topology, ScapyProber())
    plain = topology_file.loads(ROUTED, "routed.yaml")  # route tables, no network ACL
    check_source_ports(plain, NmapProber())


def test_a_group_of_a_peered_vpc_gets_a_set_of_its_own_beside_a_namesake() -> None:
    """legacy/app and prod/app are two groups of one name: an instance of legacy naming both
    holds two sets, each with its own members."""
    from harness.core.nftables import compile_vpc_instance
    from harness.formats import topology_file

    text = """
name: twins
vpcs:
  - {name: prod, cidr: 10.0.0.0/16, subnets: [{name: a, cidr: 10.0.1.0/24}]}
  - {name: legacy, cidr: 10.1.0.0/16, subnets: [{name: b, cidr: 10.1.1.0/24}]}
peerings:
  - {name: p, vpcs: [prod, legacy]}
groups:
  - {name: app, vpc: prod}
  - name: app
    vpc: legacy
    ingress:
      - {protocol: tcp, ports: 22, source: app}
      - {protocol: tcp, ports: 443, source: prod/app}
instances:
  - {name: x, subnet: a, groups: [app]}
  - {name: y, subnet: b, groups: [app]}
"""
    topology = topology_file.loads(text, "twins.yaml")
    policy = compile_vpc_instance(topology, topology.nodes_by_name["y"])  # type: ignore[arg-type]
    sets = re.findall(r"\tset (grp_\w+) \{", policy)
    assert len(sets) == 4 and len(set(sets)) == 4, sets  # two groups, IPv4 and IPv6 each
    x, y = (topology.nodes_by_name[n].address for n in ("x", "y"))
    own = policy[policy.index("set grp_app {") :].split("}")[0]
    assert str(y) in own and str(x) not in own


def test_a_route_to_a_prefix_list_routes_each_of_its_entries() -> None:
    """A route's destination may be a prefix list: each entry routes as a CIDR would; a CIDR
    route of the same destination wins over the list's entry (AWS's route priority)."""
    from harness.formats import topology_file

    text = ROUTED.replace(
        "instances:",
        "prefix_lists:\n  - {name: partners, cidrs: [198.51.100.0/24, 203.0.113.0/24]}\ninstances:",
    ).replace(
        "          - {destination: 0.0.0.0/0, target: internet_gateway}",
        "          - {destination: pl:partners, target: internet_gateway}\n"
        "          - {destination: 203.0.113.0/24, target: internet_gateway}",
    )
    topology = topology_file.loads(text, "routed.yaml")
    vpc = topology.vpcs_by_name["v"]
    a = topology.subnets_by_name["a"]
    route = vpc.route(a, ip_address("198.51.100.7"))
    assert route is not None and route.prefix_list == "partners"
    assert route.describe() == "route pl:partners (198.51.100.0/24) -> internet_gateway"
    static = vpc.route(a, ip_address("203.0.113.9"))
    assert static is not None and not static.prefix_list
    assert vpc.route(a, ip_address("8.8.8.8")) is None
    doubled = text.replace(
        "          - {destination: 203.0.113.0/24, target: internet_gateway}",
        "          - {destination: pl:partners, target: internet_gateway}",
    )
    with pytest.raises(Exception, match="RouteAlreadyExists"):
        topology_file.loads(doubled, "routed.yaml")
