"""The fast oracle (memos, identities, shared verdicts) says what the plain reference oracle
says, cell by cell, on generated Classic and VPC topologies and on the shipped ones."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.core.model import Instance, Topology
from harness.core.oracle import Oracle
from harness.core.planner import plan
from harness.core.reference_oracle import judge
from harness.formats import topology_file

ROOT = Path(__file__).resolve().parents[2]
PORTS = [22, 53, 80, 443, 8080]


def agree(topology: Topology) -> int:
    oracle = Oracle(topology)
    nodes = topology.nodes_by_name
    cells = plan(topology)
    for cell in cells:
        source, target = nodes[cell.source], nodes[cell.target]
        assert isinstance(target, Instance)
        fast = oracle.evaluate(source, target, cell.probe, cell.address)
        plain = judge(topology, source, target, cell.probe, cell.address)
        assert (fast.state, fast.allowed_by) == (plain.state, plain.allowed_by), cell
    return len(cells)


@pytest.mark.parametrize(
    "name",
    [
        "topologies/three-tier.yaml",
        "topologies/vpc-three-tier.yaml",
        "topologies/default-group.yaml",
        "tests/integration/topologies/vpc-features.yaml",
        "tests/integration/topologies/features.yaml",
    ],
)
def test_the_fast_oracle_agrees_with_the_reference_on_the_shipped_topologies(name: str) -> None:
    assert agree(topology_file.load(ROOT / name)) > 0


def _rule(draw: st.DrawFn, peers: list[str], vpc: bool) -> str:
    kind = draw(st.sampled_from(["tcp", "udp", "icmp", "all"] if vpc else ["tcp", "udp", "icmp"]))
    peer = draw(st.sampled_from(peers))
    if kind == "icmp":
        code = draw(st.sampled_from(["8:-1", "-1:-1", "0:-1"]))
        return f'{{protocol: icmp, icmp: "{code}", source: {peer}}}'
    if kind == "all":
        return f'{{protocol: "-1", source: {peer}}}'
    low = draw(st.sampled_from(PORTS))
    high = draw(st.sampled_from([p for p in PORTS if p >= low]))
    return f'{{protocol: {kind}, ports: "{low}-{high}", source: {peer}}}'


@st.composite
def classic_topologies(draw: st.DrawFn) -> Topology:
    groups = [f"g{n}" for n in range(draw(st.integers(1, 3)))]
    cidrs = ["0.0.0.0/0", "10.254.0.0/28", "10.254.0.12/32", "203.0.113.0/24", "198.51.100.10/32"]
    lines = ["name: gen", 'account: "111122223333"', "groups:"]
    for group in groups:
        rules = sorted(
            {_rule(draw, [*cidrs, *groups], False) for _ in range(draw(st.integers(0, 4)))}
        )
        lines += [f"  - name: {group}", f"    rules: [{', '.join(rules)}]"]
    lines.append("instances:")
    for n in range(draw(st.integers(1, 4))):
        chosen = draw(st.lists(st.sampled_from(groups), min_size=1, max_size=2, unique=True))
        listen = draw(st.lists(st.sampled_from(["tcp/22", "tcp/80", "udp/53"]), unique=True))
        lines.append(
            f"  - {{name: i{n}, groups: [{', '.join(chosen)}], listen: [{', '.join(listen)}]}}"
        )
    lines += ["hosts:", "  - {name: outside, address: 198.51.100.10}"]
    return topology_file.loads("\n".join(lines) + "\n")


@st.composite
def vpc_topologies(draw: st.DrawFn) -> Topology:
    ipv6 = draw(st.booleans())
    groups = [f"g{n}" for n in range(draw(st.integers(1, 3)))]
    cidrs = ["0.0.0.0/0", "10.0.1.0/24", "10.0.2.16/28", "198.51.100.0/24", "pl:office"]
    if ipv6:
        cidrs.append('"::/0"')
    lines = [
        "name: gen",
        'account: "111122223333"',
        "vpcs:",
        "  - name: v",
        "    cidr: 10.0.0.0/16",
        f"    ipv6: {'true' if ipv6 else 'false'}",
        "    subnets:",
        "      - {name: pub, cidr: 10.0.1.0/24, public: true}",
        "      - {name: priv, cidr: 10.0.2.0/24}",
        "prefix_lists:",
        "  - {name: office, cidrs: [198.51.100.0/28, 10.0.2.0/28]}",
        "groups:",
    ]
    for group in groups:
        ingress = sorted(
            {_rule(draw, [*cidrs, *groups], True) for _ in range(draw(st.integers(0, 3)))}
        )
        lines += [f"  - name: {group}", "    vpc: v", f"    ingress: [{', '.join(ingress)}]"]
        if draw(st.booleans()):
            egress = sorted(
                {
                    _rule(draw, [*cidrs, *groups], True).replace("source:", "destination:")
                    for _ in range(draw(st.integers(0, 3)))
                }
            )
            lines.append(f"    egress: [{', '.join(egress)}]")
    lines.append("instances:")
    for n in range(draw(st.integers(1, 4))):
        chosen = draw(st.lists(st.sampled_from(groups), min_size=1, max_size=2, unique=True))
        subnet = draw(st.sampled_from(["pub", "priv"]))
        public = subnet == "pub" and draw(st.booleans())
        listen = draw(st.lists(st.sampled_from(["tcp/22", "tcp/80", "udp/53"]), unique=True))
        lines.append(
            f"  - {{name: i{n}, subnet: {subnet}, groups: [{', '.join(chosen)}], "
            f"public_ip: {'true' if public else 'false'}, listen: [{', '.join(listen)}]}}"
        )
    lines += [
        "hosts:",
        '  - {name: outside, address: 198.51.100.10, address6: "2001:db8:ffff::10"}',
    ]
    return topology_file.loads("\n".join(lines) + "\n")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(classic_topologies())
def test_the_fast_oracle_agrees_with_the_reference_on_classic_labs(topology: Topology) -> None:
    agree(topology)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(vpc_topologies())
def test_the_fast_oracle_agrees_with_the_reference_on_vpc_labs(topology: Topology) -> None:
    agree(topology)
