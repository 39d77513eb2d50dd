"""VPC topologies without Docker: the loader's defaults and errors, the oracle's paths and
verdicts (egress, hairpin, IPv6), the compiled nftables policy (untracked flows), the wiring."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network, IPv6Network
from pathlib import Path

import pytest

from harness.core.fabric import attach_script, mac, wiring, wirings
from harness.core.matrix import expectations
from harness.core.model import GroupKey, Instance, Protocol, State, Topology
from harness.core.nftables import compile_lab, compile_router, untracked
from harness.core.planner import plan
from harness.errors import TopologyError
from harness.formats import topology_file

ROOT = Path(__file__).resolve().parents[2]
ACCOUNT = "111122223333"

SMALL = """
name: small
vpcs:
  - name: v
    cidr: 10.0.0.0/16
    ipv6: true
    subnets:
      - {name: pub, cidr: 10.0.1.0/24, public: true}
      - {name: priv, cidr: 10.0.2.0/24}
groups:
  - name: web
    vpc: v
    ingress:
      - {protocol: tcp, ports: 80, source: 0.0.0.0/0}
      - {protocol: tcp, ports: 81, source: web}
  - name: open
    vpc: v
    ingress:
      - {protocol: tcp, ports: 80, source: 0.0.0.0/0}
    egress:
      - {protocol: "-1", destination: 0.0.0.0/0}
instances:
  - {name: web, count: 2, subnet: pub, groups: [web], public_ip: true, listen: [tcp/80, tcp/81]}
  - {name: db, subnet: priv, listen: [tcp/5432]}
  - {name: loose, subnet: priv, groups: [open], listen: [tcp/80]}
hosts:
  - {name: internet, address: 198.51.100.10, address6: "2001:db8:ffff::10"}
"""


def small() -> Topology:
    return topology_file.loads(SMALL, "small.yaml")


def test_defaults_as_aws_makes_them() -> None:
    topo = small()
    default = topo.group(GroupKey(ACCOUNT, "default", "v"))
    assert [(str(r.protocol), r.group) for r in default.rules] == [("-1", default.key)]
    assert default.egress is not None
    assert {str(r.cidr) for r in default.egress} == {"0.0.0.0/0", "::/0"}  # the VPC has IPv6
    web = topo.group(GroupKey(ACCOUNT, "web", "v"))
    # a new group in a VPC with IPv6: all out to ::/0 too, as AWS makes it
    assert web.egress is not None and [str(r.cidr) for r in web.egress] == ["0.0.0.0/0", "::/0"]
    db = topo.nodes_by_name["db"]
    assert isinstance(db, Instance) and db.groups == (default.key,)
    assert db.nics[0].address == IPv4Address("10.0.2.11") and db.nics[0].public is None
    assert db.nics[0].ipv6 is not None and db.nics[0].ipv6 in IPv6Network("2001:db8::/32")


def test_a_group_without_a_vpc_goes_to_the_default_vpc() -> None:
    topo = topology_file.loads(
        "name: d\nvpcs: [{name: v, cidr: 10.0.0.0/16, subnets: [{name: s, cidr: 10.0.0.0/24}]}]\n"
        "groups: [{name: g}]\ninstances: [{name: i, groups: [g]}]\n"
    )
    vpc = topo.vpcs_by_name["default"]
    assert vpc.cidr == IPv4Network("172.31.0.0/16") and vpc.default
    assert topo.group(GroupKey(ACCOUNT, "g", "default")).vpc == "default"


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ("{name: priv, cidr: 10.9.2.0/24}", "InvalidSubnet.Range"),
        ("{name: priv, cidr: 10.0.1.128/25}", "InvalidSubnet.Conflict"),
        ("{name: priv, cidr: 10.0.2.0/24, public: maybe}", "'public' must be true or false"),
    ],
)
def test_bad_subnets(change: str, expected: str) -> None:
    text = SMALL.replace("{name: priv, cidr: 10.0.2.0/24}", change)
    with pytest.raises(TopologyError) as info:
        topology_file.loads(text, "small.yaml")
    assert expected in str(info.value) and "small.yaml" in str(info.value)


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("source: web}", "source: pl:nope}", "InvalidPrefixListID.NotFound"),
        ("source: web}", "source: web, sources: [db]}", "give 'source' or 'sources'"),
        ("{protocol: tcp, ports: 81,", "{protocol: 132, ports: 81,", "matches all ports"),
        ("{protocol: tcp, ports: 81,", "{protocol: bogus, ports: 81,", "Unknown protocol"),
        ("groups: [web], public_ip", "groups: [web, web], public_ip", "listed twice"),
        ("subnet: priv, listen: [tcp/5432]", "subnet: priv, public_ip: true", "public subnet"),
        ("subnet: priv, listen: [tcp/5432]", "subnet: nowhere", "InvalidSubnetID.NotFound"),
        (
            "    vpc: v\n    ingress:\n      - {protocol: tcp, ports: 80, source: 0.0.0.0/0}\n"
            "    egress",
            "    vpc: x\n    egress",
            "InvalidVpcID.NotFound",
        ),
        (
            "{name: internet, address: 198.51.100.10",
            "{name: internet, address: 10.0.9.9",
            "outside hosts live outside",
        ),
    ],
)
def test_bad_vpc_input_is_one_line_with_the_ec2_code(old: str, new: str, expected: str) -> None:
    assert old in SMALL
    with pytest.raises(TopologyError) as info:
        topology_file.loads(SMALL.replace(old, new, 1), "small.yaml")
    text = str(info.value)
    assert expected in text and "\n" not in text and text.startswith("small.yaml")


def test_too_many_groups_on_an_interface() -> None:
    groups = "\n".join(f"  - {{name: g{n}, vpc: v}}" for n in range(6))
    text = SMALL.replace("groups:\n  - name: web", f"groups:\n{groups}\n  - name: web")
    text = text.replace(
        "subnet: priv, listen",
        f"subnet: priv, groups: [{', '.join(f'g{n}' for n in range(6))}], listen",
    )
    with pytest.raises(TopologyError, match="SecurityGroupsPerInterfaceLimitExceeded"):
        topology_file.loads(text, "small.yaml")


def test_sixty_one_rules_of_one_family_are_too_many() -> None:
    rules = "\n".join(
        f"      - {{protocol: tcp, ports: {n}, source: 10.0.0.0/8}}" for n in range(1, 62)
    )
    text = SMALL.replace("      - {protocol: tcp, ports: 81, source: web}", rules)
    with pytest.raises(TopologyError, match="RulesPerSecurityGroupLimitExceeded"):
        topology_file.loads(text, "small.yaml")


def verdicts(topo: Topology) -> dict[tuple[str, str, str, str], tuple[State, str]]:
    return {
        (c.source, c.target, str(c.probe), c.address): (e.state, e.why)
        for c, e in expectations(topo, plan(topo)).items()
    }


def test_the_hairpin_and_the_paths_of_each_source() -> None:
    topo = small()
    seen = verdicts(topo)
    web2 = topo.nodes_by_name["web-2"]
    assert isinstance(web2, Instance) and web2.nics[0].public is not None
    public, private = str(web2.nics[0].public), str(web2.address)
    assert seen[("web-1", "web-2", "tcp/81", private)][0] is State.OPEN  # group rule, inside
    state, why = seen[("web-1", "web-2", "tcp/81", public)]  # the same, through the gateway
    assert state is State.FILTERED and "group rules match private addresses only" in why
    assert seen[("internet", "web-2", "tcp/80", public)][0] is State.OPEN
    assert not any(k[0] == "internet" and k[3] == private for k in seen)  # no route inside
    assert not any(k[0] == "db" and k[3] == public for k in seen)  # db has no public address
    state, why = seen[("web-1", "db", "tcp/5432", "10.0.2.11")]
    assert state is State.FILTERED and why.startswith("dropped entering db")


def test_untracked_flows_are_those_aws_names() -> None:
    topo = small()
    loose = topo.group(GroupKey(ACCOUNT, "open", "v"))
    web = topo.group(GroupKey(ACCOUNT, "web", "v"))
    assert loose.egress is not None and web.egress is not None
    # 0.0.0.0/0 in and all traffic back out to 0.0.0.0/0: untracked
    assert untracked(loose.rules[0], list(loose.egress)) == [Protocol.TCP]
    # a narrow source is tracked; so is anything when the way back is not all ports
    assert untracked(web.rules[1], list(web.egress)) == []
    policies = compile_lab(topo)
    assert 'iifname "eth0" meta nfproto ipv4 tcp dport 80 notrack' in policies["loose"]
    assert "notrack" in policies["web-1"]  # web: 80 from anywhere, and the default all-out
    assert "notrack" not in policies["db"]
    assert "dnat ip to ip daddr map @to_private" in policies["_igw"]


def test_wiring_of_a_public_instance_and_a_host() -> None:
    topo = small()
    web = wiring(topo, topo.nodes_by_name["web-1"])
    assert "route replace default via 10.0.1.1 dev eth0" in web.script
    db = wiring(topo, topo.nodes_by_name["db"])  # every subnet's way out is its router
    assert "route replace 10.0.2.0/24 dev eth0 scope link src 10.0.2.11" in db.script
    assert "route replace default via 10.0.2.1 dev eth0" in db.script
    assert "10.0.0.0/16" not in db.script  # another subnet is reached through the router
    host = wiring(topo, topo.nodes_by_name["internet"])
    assert "route replace default via 198.51.100.1 dev eth0 onlink" in host.script
    (router,) = topo.routers  # one interface per subnet, and the transit link
    plan = wiring(topo, router)
    assert [str(held[0]) for held in plan.held] == ["10.0.1.1", "10.0.2.1", str(router.transit)]
    policy = compile_router(topo, router)  # the private subnet has no way to the gateway
    assert 'iifname "eth1" oifname "eth2" meta mark 0 drop comment "priv: route table' in policy
    assert 'iifname "eth0" ip daddr { 0.0.0.0/0 } meta mark set 1' in policy  # the public one
    assert 'iifname "eth1" ip daddr' not in policy


def test_the_shipped_vpc_topology_plans_and_compiles() -> None:
    topo = topology_file.load(ROOT / "topologies/vpc-three-tier.yaml")
    seen = verdicts(topo)
    assert sum(state is State.OPEN for state, _ in seen.values()) > 20
    assert seen[("web-1", "app-1", "tcp/8080", "10.0.2.11")][0] is State.OPEN
    assert seen[("web-1", "app-1", "tcp/22", "10.0.2.11")][0] is State.FILTERED  # egress
    assert seen[("bastion", "web-1", "tcp/22", "10.0.1.11")][0] is State.OPEN
    assert seen[("bastion", "web-1", "tcp/22", "192.0.2.11")][0] is State.FILTERED  # hairpin
    routers = {router.name for router in topo.routers}
    assert set(compile_lab(topo)) == {*(i.name for i in topo.instances), *routers, "_igw"}


def test_sgh_compile_prints_a_vpc_policy(capsys: pytest.CaptureFixture[str]) -> None:
    from harness.faces.sgh.main import main

    assert main(["compile", str(ROOT / "topologies/vpc-three-tier.yaml"), "db-1"]) == 0
    out = capsys.readouterr().out
    assert "chain output_eth0 {" in out and "egress" not in out.split("chain output_eth0")[1]


def test_every_node_knows_every_other_lab_address_without_asking() -> None:
    """Static neighbour entries: each node has one for each address another node holds
    (IPv4 and IPv6), pointing at the MAC its holder's port is given, and none for its own."""
    topo = topology_file.load(ROOT / "topologies/vpc-three-tier.yaml")
    plans = wirings(topo, topo.lab_nodes)
    held = {
        str(address): hardware
        for wired in plans.values()
        for addresses, hardware in zip(wired.held, wired.macs, strict=True)
        for address in addresses
    }
    assert held["10.0.1.11"] == mac(IPv4Address("10.0.1.11")) == "02:53:0a:00:01:0b"
    assert "2001:db8:0:100::b" in held
    for name, wired in plans.items():
        own = {str(a) for addresses in wired.held for a in addresses}
        entries = {(str(address), hardware) for _, address, hardware in wired.neighbours}
        assert entries == {(a, m) for a, m in held.items() if a not in own}, name
        assert {inside for inside, _, _ in wired.neighbours} == {i for _, i in wired.ports}
    # an instance's ports are made with the MACs its addresses give
    web = plans["web-1"]
    script = attach_script([(web.ports[0][0], 42, web.ports[0][1], web.macs[0])])
    assert f"address {mac(IPv4Address('10.0.1.11'))} netns 42" in script


VPC_WITH_SERVICES = """
name: services
vpcs:
  - name: v
    cidr: 10.0.0.0/16
    subnets: [{name: s, cidr: 10.0.1.0/24}]
groups:
  - name: web
    vpc: v
    ingress:
      - {service: https, source: 0.0.0.0/0, description: the world}
      - {service: ssh, sources: [admin]}
    egress:
      - {service: postgresql, destination: 10.0.1.0/24}
  - {name: admin, vpc: v}
instances:
  - {name: w, subnet: s, groups: [web], listen: [tcp/443]}
"""


def test_service_presets_work_in_vpc_files_as_in_classic_ones() -> None:
    topo = topology_file.loads(VPC_WITH_SERVICES, "services.yaml")
    web = topo.group(GroupKey(ACCOUNT, "web", "v"))
    assert [(str(r.protocol), r.from_port, r.service, r.description) for r in web.rules] == [
        ("tcp", 443, "https", "the world"),
        ("tcp", 22, "ssh", ""),
    ]
    assert web.egress is not None
    assert [(str(r.protocol), r.from_port, str(r.cidr)) for r in web.egress] == [
        ("tcp", 5432, "10.0.1.0/24")
    ]


@pytest.mark.parametrize(
    ("source", "words"),
    [
        ("pl:office", "EC2-Classic groups take IPv4 ranges and groups only"),
        ('"::/0"', "CIDR block ::/0 is malformed"),
        ("nobody", "The security group 'nobody' does not exist"),
    ],
)
def test_a_classic_file_reads_peers_as_a_vpc_file_does_and_refuses_what_classic_lacks(
    source: str, words: str
) -> None:
    text = (
        "name: c\ngroups:\n  - name: web\n"
        f"    rules: [{{protocol: tcp, ports: 80, source: {source}}}]\n"
        "instances: [{name: i, groups: [web]}]\n"
    )
    with pytest.raises(TopologyError) as info:
        topology_file.loads(text, "c.yaml")
    assert words in str(info.value)
