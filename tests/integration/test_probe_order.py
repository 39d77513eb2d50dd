"""The scapy prober gives back what it saw in the order of the batches' jobs, in one lane or
several, a batch whose sockets cannot be opened saying why. Probes stay on 127.0.0.1 of a
namespace of the test's own."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest

from harness.adapters.probers import scapy_lanes
from harness.adapters.probers.scapy_prober import ScapyProber
from harness.core.model import Probe, Protocol, State
from harness.core.planner import Cell
from harness.core.probing import ProbeJob, SourceBatch


@pytest.fixture
def loopback() -> Iterator[str]:
    """The network namespace of a process of its own, its loopback up."""
    holder = subprocess.Popen(
        ["unshare", "--net", "sh", "-c", "ip link set lo up && echo up && exec sleep 60"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "up"
        yield f"/proc/{holder.pid}/ns/net"
    finally:
        holder.kill()
        holder.wait()


def jobs(source: str, probes: list[Probe]) -> list[ProbeJob]:
    return [
        ProbeJob(Cell(source, "self", probe), "127.0.0.1", probe.protocol is not Protocol.TCP)
        for probe in probes
    ]


@pytest.mark.parametrize("lanes", [1, 2])
def test_observations_come_in_job_order_and_a_batch_that_cannot_open_says_why(
    loopback: str, lanes: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(scapy_lanes, "LANE_MINIMUM", 1)
    closed, echo = Probe(Protocol.TCP, 1), Probe(Protocol.ICMP, None)
    batches = [
        SourceBatch("a", loopback, "127.0.0.1", jobs("a", [closed, echo, closed])),
        SourceBatch("gone", "/proc/0/ns/net", "127.0.0.1", jobs("gone", [echo, closed])),
        SourceBatch("b", loopback, "127.0.0.1", jobs("b", [echo])),
    ]
    batches[0].jobs[2] = ProbeJob(Cell("a", "self", Probe(Protocol.TCP, 2)), "127.0.0.1", True)
    seen = ScapyProber(timeout=2.0, grace=0.2, lanes=lanes, count=False).in_order(batches)
    states = [observation.state for observation in seen]
    assert states == [
        State.CLOSED,
        State.OPEN,
        State.CLOSED,
        State.NOT_RUN,
        State.NOT_RUN,
        State.OPEN,
    ], seen
    assert seen[3].detail.startswith("cannot open probe sockets in gone: ")
    by_cell = ScapyProber(timeout=2.0, grace=0.2, lanes=lanes, count=False).run(batches, 1)
    assert list(by_cell) == [job.cell for batch in batches for job in batch.jobs]
    assert [o.state for o in by_cell.values()] == states
