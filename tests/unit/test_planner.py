from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from harness.core.matrix import expectations
from harness.core.model import Probe, Protocol, Topology
from harness.core.planner import Cell, intervals, plan, probe_set, representative
from harness.formats import topology_file

ROOT = Path(__file__).resolve().parents[2]


def test_intervals_cut_at_rule_boundaries() -> None:
    assert intervals({80, 81}) == [(0, 79), (80, 80), (81, 65535)]
    assert intervals({0, 65536}) == [(0, 65535)]
    assert intervals({8000, 8081, 53, 54}) == [
        (0, 52),
        (53, 53),
        (54, 7999),
        (8000, 8080),
        (8081, 65535),
    ]


def test_representative_avoids_port_zero() -> None:
    assert representative(0, 79) == 1
    assert representative(0, 0) == 0
    assert representative(81, 65535) == 81


def test_probe_set_of_a_web_server() -> None:
    topo = topology_file.load(ROOT / "topologies/three-tier.yaml")
    web = topo.nodes_by_name["web-1"]
    assert [str(p) for p in probe_set(topo, web)] == [  # type: ignore[arg-type]
        "tcp/1",
        "tcp/22",
        "tcp/80",
        "tcp/81",
        "udp/1",
        "icmp",
    ]


def test_plan_skips_self_and_adds_extra_probes() -> None:
    topo = topology_file.load(ROOT / "topologies/default-group.yaml")
    cells = plan(topo)
    assert all(cell.source != cell.target for cell in cells)
    probes = {cell.probe for cell in cells if cell.source == "albert"}
    assert {Probe(Protocol.TCP, port) for port in range(1, 101)} <= probes
    assert Probe(Protocol.ICMP, None) in probes
    # two hosts, one target: only the hosts probe it
    assert {cell.source for cell in cells} == {"albert", "internet"}


def _classes_by_pair(topo: Topology, cells: list[Cell]) -> dict[tuple[str, str, str], set[object]]:
    """For each pair and address, the distinct expectations (state and the rules that allowed
    it) its cells have."""
    found: dict[tuple[str, str, str], set[object]] = {}
    for cell, expectation in expectations(topo, cells).items():
        key = (cell.source, cell.target, cell.address)
        found.setdefault(key, set()).add((expectation.state, expectation.allowed_by))
    return found


@pytest.mark.parametrize("name", ["three-tier.yaml", "vpc-three-tier.yaml", "default-group.yaml"])
def test_planning_by_class_keeps_every_pair_and_every_behaviour(name: str) -> None:
    topo = topology_file.load(ROOT / "topologies" / name)
    full = plan(topo)
    by_class = plan(topo, classes=True)
    assert set(by_class) <= set(full)
    assert len(by_class) < len(full)
    # every pair and address, and on each every expectation the full plan meets, once
    assert _classes_by_pair(topo, by_class) == _classes_by_pair(topo, full)
    kinds = Counter((c.source, c.target, c.address) for c in by_class)
    assert sum(kinds.values()) == len(by_class)
    classes = _classes_by_pair(topo, by_class)
    assert all(kinds[pair] == len(classes[pair]) for pair in kinds)


def test_a_class_is_shown_by_a_port_the_target_listens_on() -> None:
    topo = topology_file.load(ROOT / "topologies/three-tier.yaml")
    target = next(i for i in topo.instances if i.listen)
    cells = [c for c in plan(topo, classes=True) if c.target == target.name]
    listened = {(item.protocol, item.port) for item in target.listen}
    # a class that contains a listened port is represented by one
    expected = expectations(topo, plan(topo))
    for cell in cells:
        same = [
            c
            for c, e in expected.items()
            if (c.source, c.target, c.address) == (cell.source, cell.target, cell.address)
            and (e.state, e.allowed_by) == (expected[cell].state, expected[cell].allowed_by)
        ]
        if any((c.probe.protocol, c.probe.port) in listened for c in same):
            assert (cell.probe.protocol, cell.probe.port) in listened
