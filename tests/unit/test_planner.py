from __future__ import annotations

from pathlib import Path

from harness.core.model import Probe, Protocol
from harness.core.planner import intervals, plan, probe_set, representative
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
