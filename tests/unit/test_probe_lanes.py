"""The scapy prober's lanes: its sources split into processes of about equal numbers of probes."""

from __future__ import annotations

from harness.adapters.probers import scapy_lanes
from harness.core.model import Probe, Protocol
from harness.core.planner import Cell
from harness.core.probing import ProbeJob, SourceBatch


def batch(name: str, size: int) -> SourceBatch:
    jobs = [
        ProbeJob(Cell(name, "t", Probe(Protocol.TCP, port)), "10.0.0.9", True)
        for port in range(1, size + 1)
    ]
    return SourceBatch(name, f"/proc/1/ns/net#{name}", "10.0.0.1", jobs)


def test_lanes_share_the_probes_and_keep_each_source_once_in_order() -> None:
    sizes = [9000, 500, 4000, 3000, 2500, 7000, 100]
    indexed = list(enumerate(batch(f"s{n}", size) for n, size in enumerate(sizes)))
    lanes = scapy_lanes.split_lanes(indexed, 3)
    assert len(lanes) == 3
    assert sorted(index for lane in lanes for index, _ in lane) == list(range(len(sizes)))
    for lane in lanes:
        assert [index for index, _ in lane] == sorted(index for index, _ in lane)
    loads = [sum(len(spec.jobs) for _, spec in lane) for lane in lanes]
    assert max(loads) - min(loads) <= max(sizes) // 2, loads


def test_few_probes_stay_in_one_lane() -> None:
    indexed = list(enumerate([batch("a", 100), batch("b", 200)]))
    assert scapy_lanes.split_lanes(indexed, 8) == [indexed]
    assert len(scapy_lanes.split_lanes(indexed[:1], 8)) == 1
