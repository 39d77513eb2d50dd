"""Instances with several interfaces answer at every address of every interface: generated VPC
labs (fixed seeds) where instances have a second interface, in a public subnet with a public
address or in another private subnet, IPv6 on or off. Every cell must match the oracle on
both runtimes, and the plan must reach each interface's every address (its private IPv4, its
public address, its IPv6), so a reply leaving by the wrong interface cannot go unseen."""

from __future__ import annotations

import random

import pytest

from harness.adapters.probers.scapy_prober import ScapyProber
from harness.core.model import Instance, Topology
from harness.core.phases import QUIET
from harness.core.runtime import Runtime
from harness.formats import topology_file
from harness.lab.one_shot import verify

SEEDS = (3, 11, 29)


def generated(seed: int) -> Topology:
    """A small VPC lab of a seed: two subnets public, one private; groups with ingress from
    the world, from each other and from a CIDR; one to three instances, each with one or two
    interfaces."""
    rng = random.Random(seed)
    ipv6 = rng.random() < 0.7
    groups = ["g0", "g1"]
    lines = [
        f"name: multi-{seed}",
        "vpcs:",
        "  - name: v",
        "    cidr: 10.7.0.0/16",
        f"    ipv6: {'true' if ipv6 else 'false'}",
        "    subnets:",
        "      - {name: pub-a, cidr: 10.7.1.0/24, public: true}",
        "      - {name: pub-b, cidr: 10.7.2.0/24, public: true}",
        "      - {name: priv, cidr: 10.7.3.0/24}",
        "groups:",
    ]
    peers = ["0.0.0.0/0", "g0", "g1", "10.7.0.0/16", *(['"::/0"'] if ipv6 else [])]
    for group in groups:
        rules = sorted(
            {
                f"{{protocol: tcp, ports: {rng.choice([22, 80, 443])}, "
                f"source: {rng.choice(peers)}}}"
                for _ in range(rng.randint(1, 3))
            }
        )
        lines += [f"  - name: {group}", "    vpc: v", f"    ingress: [{', '.join(rules)}]"]
    lines.append("instances:")
    for n in range(rng.randint(2, 3)):
        nics = []
        for number in range(rng.choice([1, 2, 2])):
            subnet = rng.choice(["pub-a", "pub-b", "priv"] if number else ["pub-a", "priv"])
            public = subnet != "priv" and rng.random() < 0.8
            nics.append(
                f"{{subnet: {subnet}, groups: [{rng.choice(groups)}], "
                f"public_ip: {'true' if public else 'false'}}}"
            )
        lines.append(
            f"  - {{name: i{n}, listen: [tcp/22, tcp/80, tcp/443], "
            f"interfaces: [{', '.join(nics)}]}}"
        )
    lines += [
        "hosts:",
        '  - {name: outside, address: 198.51.100.10, address6: "2001:db8:ffff::10"}',
    ]
    return topology_file.loads("\n".join(lines) + "\n", f"seed {seed}")


def test_the_seeds_make_labs_with_second_interfaces_at_every_kind_of_address() -> None:
    second = [
        nic
        for topology in map(generated, SEEDS)
        for instance in topology.instances
        for nic in instance.nics[1:]
    ]
    assert any(nic.public is not None for nic in second)
    assert any(nic.ipv6 is not None for nic in second)
    assert any(nic.public is None for nic in second)


@pytest.mark.parametrize("seed", SEEDS)
def test_every_address_of_every_interface_answers_as_the_rules_say(
    runtime: Runtime, seed: int
) -> None:
    topology = generated(seed)
    runtime.check(topology)
    matrix = verify(topology, runtime, ScapyProber(), QUIET)
    wrong = [r for r in matrix.results if not r.correct]
    assert not wrong, "\n".join(
        f"{r.cell.source} -> {r.cell.target} {r.cell.probe} at {r.cell.address}: expected "
        f"{r.expected.state}, observed {r.observed.state}"
        for r in wrong[:20]
    )
    probed = {(r.cell.target, r.cell.address) for r in matrix.results}
    for instance in topology.instances:
        assert isinstance(instance, Instance)
        for nic in instance.nics[1:]:
            for address in (nic.address, nic.public, nic.ipv6):
                if address is not None:
                    seen = (instance.name, str(address)) in probed
                    assert seen, f"{instance.name} at {address} was never probed"
