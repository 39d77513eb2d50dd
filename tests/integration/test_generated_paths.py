"""The whole VPC path on generated labs (fixed seeds), on both runtimes: subnets with random
route tables (to the internet gateway everywhere, to a partner's network only, nowhere, or
through a NAT gateway in a random subnet and a peering to a second VPC, itself peered with a
third: no transitive path), a random egress-only gateway for the second VPC's IPv6
and random network ACLs (entries of random numbers, actions, protocols, ports and CIDRs, in
both directions, IPv4 and IPv6), instances with public addresses where their subnet allows
it, outside hosts inside and outside the partner's network. Every cell must match the oracle:
a property that holds for labs nobody wrote by hand."""

from __future__ import annotations

import random

import pytest

from harness.adapters.probers.scapy_prober import ScapyProber
from harness.core.model import Topology
from harness.core.phases import QUIET
from harness.core.runtime import Runtime
from harness.formats import topology_file
from harness.lab.one_shot import verify

SEEDS = (4, 17, 33)
PORTS = ["22", "80", "443", "53", "1024-65535", "32768-60999", "49152-65535", "0-65535"]
TABLES = ["everywhere", "partners", "isolated", "natted", "natted"]


def _entry(rng: random.Random, number: int, egress: bool, cidrs: list[str]) -> str:
    protocol = rng.choice(["tcp", "tcp", "udp", "icmp", '"-1"'])
    peer = "destination" if egress else "source"
    cidr = rng.choice(cidrs)
    if protocol == "icmp" and ":" in cidr:
        protocol = '"-1"'  # an ICMP (1) entry never matches IPv6
    fields = [f"rule: {number}", f"protocol: {protocol}", f'{peer}: "{cidr}"']
    if protocol in ("tcp", "udp"):
        fields.append(f"ports: {rng.choice(PORTS)}")
    if protocol == "icmp":
        fields.append(f'icmp: "{rng.choice(["8:-1", "0:-1", "3:-1", "-1:-1"])}"')
    fields.append(f"action: {rng.choice(['allow', 'allow', 'deny'])}")
    return "{" + ", ".join(fields) + "}"


def generated(seed: int) -> Topology:
    rng = random.Random(seed)
    ipv6 = rng.random() < 0.6
    cidrs = ["0.0.0.0/0", "0.0.0.0/0", "10.8.0.0/16", "10.8.1.0/24", "198.51.100.0/24"]
    cidrs += ["10.9.0.0/16", "192.0.2.0/24"]
    cidrs += ["::/0"] if ipv6 else []
    lines = [
        f"name: paths-{seed}",
        "vpcs:",
        "  - name: v",
        "    cidr: 10.8.0.0/16",
        f"    ipv6: {'true' if ipv6 else 'false'}",
        "    internet_gateway: true",
        "    route_tables:",
        "      - name: everywhere",
        "        routes:",
        "          - {destination: 0.0.0.0/0, target: internet_gateway}",
        '          - {destination: "::/0", target: internet_gateway}',
        "      - name: partners",
        "        routes:",
        "          - {destination: 198.51.100.0/24, target: internet_gateway}",
        "      - name: isolated",
        "        routes: []",
        "      - name: natted",
        "        routes:",
        "          - {destination: 0.0.0.0/0, target: nat}",
        *(["          - {destination: 10.9.0.0/16, target: vw}"] if rng.random() < 0.8 else []),
        *(["          - {destination: 10.10.0.0/16, target: vw}"] if rng.random() < 0.5 else []),
        *(['          - {destination: "::/0", target: internet_gateway}'] if ipv6 else []),
        "    nat_gateways:",
        f"      - {{name: nat, subnet: s{rng.randint(0, 2)}}}",
        "    network_acls:",
    ]
    for acl in ("n0", "n1"):
        lines.append(f"      - name: {acl}")
        for key, egress in (("ingress", False), ("egress", True)):
            numbers = sorted(rng.sample(range(1, 200), rng.randint(1, 4)))
            entries = [_entry(rng, number, egress, cidrs) for number in numbers]
            lines.append(f"        {key}: [{', '.join(entries)}]")
    lines.append("    subnets:")
    tables = {}
    for n in range(3):
        table = rng.choice(TABLES)
        tables[f"s{n}"] = table
        acl = rng.choice(["default", "n0", "n1"])
        lines.append(
            f"      - {{name: s{n}, cidr: 10.8.{n + 1}.0/24, route_table: {table}, "
            f"network_acl: {acl}}}"
        )
    eigw = ipv6 and rng.random() < 0.6
    back = ["{destination: 10.8.0.0/16, target: vw}"] if rng.random() < 0.8 else []
    back += ["{destination: 10.10.0.0/16, target: wx}"]
    back += ['{destination: "::/0", target: egress_only_internet_gateway}'] if eigw else []
    lines += [
        "  - name: w",
        "    cidr: 10.9.0.0/16",
        f"    ipv6: {'true' if ipv6 else 'false'}",
        f"    egress_only_internet_gateway: {'true' if eigw else 'false'}",
        f"    route_tables: [{{name: back, routes: [{', '.join(back)}]}}]",
        "    subnets: [{name: t0, cidr: 10.9.1.0/24, route_table: back}]",
        "  - name: x",
        "    cidr: 10.10.0.0/16",
        "    route_tables:",
        "      - name: home",
        "        routes:",
        "          - {destination: 10.9.0.0/16, target: wx}",
        "          - {destination: 10.8.0.0/16, target: wx}",
        "    subnets: [{name: u0, cidr: 10.10.1.0/24, route_table: home}]",
        "peerings:",
        "  - {name: vw, vpcs: [v, w]}",
        "  - {name: wx, vpcs: [w, x]}",
    ]
    peers = ["0.0.0.0/0", "10.8.0.0/16", "198.51.100.0/24", "g0", "g1", "192.0.2.0/24"]
    peers += ['"::/0"'] if ipv6 else []
    lines.append("groups:")
    for group in ("g0", "g1"):
        rules = sorted(
            {
                rng.choice(
                    [
                        f"{{protocol: tcp, ports: {rng.choice([22, 80, 443])}, "
                        f"source: {rng.choice(peers)}}}",
                        f"{{protocol: udp, ports: 53, source: {rng.choice(peers)}}}",
                        f'{{protocol: icmp, icmp: "8:-1", source: {rng.choice(peers[:3])}}}',
                    ]
                )
                for _ in range(rng.randint(2, 4))
            }
        )
        lines += [f"  - name: {group}", "    vpc: v", f"    ingress: [{', '.join(rules)}]"]
    far = rng.choice(["v/g0", "v/g1", "10.8.0.0/16", "0.0.0.0/0"])
    lines += [
        "  - name: g2",
        "    vpc: w",
        f"    ingress: [{{protocol: tcp, ports: 80, source: {far}}}, "
        + ('{protocol: tcp, ports: 80, source: "::/0"}, ' if ipv6 else "")
        + "{protocol: tcp, ports: 443, source: 10.10.0.0/16}]",
        "  - name: g3",
        "    vpc: x",
        "    ingress: [{protocol: tcp, ports: 80, source: 10.0.0.0/8}]",
    ]
    lines.append("instances:")
    for n in range(rng.randint(3, 4)):
        subnet = f"s{rng.randint(0, 2)}"
        public = tables[subnet] in ("everywhere", "partners") and rng.random() < 0.7
        lines.append(
            f"  - {{name: i{n}, subnet: {subnet}, groups: [g{rng.randint(0, 1)}], "
            f"public_ip: {'true' if public else 'false'}, "
            "listen: [tcp/22, tcp/80, tcp/443, udp/53]}"
        )
    lines += [
        "  - {name: j0, subnet: t0, groups: [g2], listen: [tcp/80, tcp/443]}",
        "  - {name: k0, subnet: u0, groups: [g3], listen: [tcp/80]}",
        "hosts:",
        '  - {name: partner, address: 198.51.100.10, address6: "2001:db8:ffff::10"}',
        "  - {name: stranger, address: 203.0.113.5}",
    ]
    return topology_file.loads("\n".join(lines) + "\n", f"seed {seed}")


def test_the_seeds_make_labs_where_every_part_of_the_path_decides_something() -> None:
    """Across the seeds: some cells are dropped by a network ACL on the way in, some on the
    reply, some by a route table, and some are open (judged by the oracle alone)."""
    from harness.core.matrix import expectations
    from harness.core.planner import plan

    whys = []
    for seed in SEEDS:
        topology = generated(seed)
        whys += [e.why for e in expectations(topology, plan(topology)).values()]
    assert any("network ACL" in why and why.startswith("dropped") for why in whys)
    assert any(why.startswith("the reply") and "network ACL" in why for why in whys)
    assert any("route table" in why for why in whys)
    assert any("no transitive routing" in why for why in whys)
    assert any("NAT gateway" in why for why in whys)
    assert any("egress-only" in why for why in whys)
    assert any(not why.startswith(("dropped", "the reply")) for why in whys)


@pytest.mark.parametrize("seed", SEEDS)
def test_every_cell_of_a_generated_lab_is_as_the_path_says(runtime: Runtime, seed: int) -> None:
    topology = generated(seed)
    runtime.check(topology)
    matrix = verify(topology, runtime, ScapyProber(), QUIET)
    wrong = [
        f"{r.cell.source} -> {r.cell.target}@{r.cell.address} {r.cell.probe}: expected "
        f"{r.expected.state} ({r.expected.why}), observed {r.observed.state} "
        f"({r.observed.detail})"
        for r in matrix.wrong()
    ]
    assert matrix.summary.ok, "\n".join(wrong[:20])
