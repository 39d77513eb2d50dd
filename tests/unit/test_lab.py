"""The orchestration and the reports, on a fake runtime and the simulated prober."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness import topology
from harness.errors import LabError
from harness.lab import verify
from harness.model import Probe, Protocol, State
from harness.planner import Cell
from harness.probe.simulated import SimulatedProber
from harness.progress import Progress
from harness.report import render, to_json
from harness.runtime.fake import FakeRuntime

ROOT = Path(__file__).resolve().parents[2]
TOPO = topology.load(ROOT / "topologies/three-tier.yaml")
WRONG = Cell("internet", "app-3", Probe(Protocol.TCP, 8080))


def test_all_agree() -> None:
    runtime = FakeRuntime()
    prober = SimulatedProber(TOPO)
    matrix = verify(TOPO, runtime, prober, Progress.quiet())
    assert matrix.summary.ok and matrix.summary.cells == len(prober.rounds[0])
    assert runtime.events == ["check", "up", "install", "down"]
    assert set(runtime.installed) == {i.name for i in TOPO.instances}
    assert len(prober.rounds) == 1
    text = render(matrix)
    assert text.splitlines()[-1] == (
        f"{matrix.summary.cells} cells: {matrix.summary.cells} correct, 0 incorrect, 0 not run"
    )
    comparison = text.split("Observed vs expected")[1].splitlines()[8:]
    assert all(
        set(row[13:]) <= {".", " "} for row in comparison if row.strip() and " cells:" not in row
    )
    assert "Cells that disagree" not in text


def test_disagreeing_cells_are_probed_once_more() -> None:
    # wrong once, right on the retry: the retry is the verdict that stands
    prober = SimulatedProber(TOPO, {WRONG: [State.OPEN, State.FILTERED]})
    matrix = verify(TOPO, FakeRuntime(), prober, Progress.quiet())
    assert prober.rounds[1] == [WRONG]
    assert matrix.summary.ok
    retried = next(r for r in matrix.results if r.cell == WRONG)
    assert retried.attempts == 2


def test_a_wrong_cell_is_shown_with_why() -> None:
    prober = SimulatedProber(TOPO, {WRONG: [State.OPEN, State.OPEN]})
    matrix = verify(TOPO, FakeRuntime(), prober, Progress.quiet())
    assert matrix.summary.incorrect == 1 and not matrix.summary.ok
    text = render(matrix)
    internet_row = next(line for line in text.splitlines()[::-1] if line.startswith("internet"))
    assert internet_row.split()[10] == "X"  # columns: web-1..web-7, app-1, app-2, app-3
    assert (
        "internet -> app-3 tcp/8080: expected filtered, observed open (simulated); expected "
        "because no rule of appserver allows tcp 8080 from internet (198.51.100.10)"
    ) in text
    assert text.splitlines()[-1].endswith("1 incorrect, 0 not run")


def test_not_run_is_never_filtered() -> None:
    prober = SimulatedProber(TOPO, {WRONG: [State.NOT_RUN, State.NOT_RUN]})
    matrix = verify(TOPO, FakeRuntime(), prober, Progress.quiet())
    summary = matrix.summary
    assert (summary.incorrect, summary.not_run) == (0, 1)
    assert not summary.ok
    assert "!" in render(matrix)


@pytest.mark.parametrize("stage", ["up", "install"])
def test_lab_is_removed_when_building_fails(stage: str) -> None:
    runtime = FakeRuntime(fail_at=stage)
    with pytest.raises(LabError):
        verify(TOPO, runtime, SimulatedProber(TOPO), Progress.quiet(), keep=True)
    assert runtime.events[-1] == "down" and not runtime.running


def test_keep_leaves_a_built_lab() -> None:
    runtime = FakeRuntime()
    verify(TOPO, runtime, SimulatedProber(TOPO), Progress.quiet(), keep=True)
    assert "down" not in runtime.events and runtime.running == {"three-tier"}


def test_json_shape() -> None:
    matrix = verify(TOPO, FakeRuntime(), SimulatedProber(TOPO), Progress.quiet())
    doc = json.loads(json.dumps(to_json(matrix)))
    assert doc["lab"] == "three-tier" and doc["runtime"] == "fake"
    web1 = doc["nodes"][0]
    assert web1 == {
        "name": "web-1",
        "kind": "instance",
        "address": "10.254.0.11",
        "groups": ["apache"],
        "listen": ["tcp/22", "tcp/80"],
    }
    assert doc["nodes"][-1] == {
        "name": "internet",
        "kind": "host",
        "address": "198.51.100.10",
        "groups": [],
    }
    cell = next(
        c for c in doc["cells"] if (c["from"], c["to"], c["port"]) == ("internet", "web-1", 80)
    )
    assert cell["expected"] == cell["observed"] == "open"
    assert cell["why"] == "apache: tcp 80 from 0.0.0.0/0"
    icmp = next(c for c in doc["cells"] if c["protocol"] == "icmp")
    assert icmp["port"] is None
    assert doc["summary"] == {
        "cells": len(doc["cells"]),
        "correct": len(doc["cells"]),
        "incorrect": 0,
        "not_run": 0,
    }


def test_a_rule_change_recompiles_only_the_affected_instances() -> None:
    from dataclasses import replace

    from harness import ec2
    from harness.lab import apply_change
    from harness.model import GroupKey

    apache = GroupKey("111122223333", "apache")
    group = TOPO.group(apache)
    extra = ec2.make_rule(Protocol.TCP, 22, 22, cidr=ec2.parse_cidr("203.0.113.19/32"))
    changed = replace(
        TOPO,
        groups=tuple(ec2.authorize(g, [extra]) if g is group else g for g in TOPO.groups),
    )
    runtime = FakeRuntime()
    live = runtime.up(TOPO, Progress.quiet())
    updated = apply_change(runtime, live, TOPO, changed, Progress.quiet())
    # apache's members change; appserver's members keep the same set of apache addresses
    assert updated == sorted(f"web-{n}" for n in range(1, 8))
    assert "tcp dport 22 accept" in runtime.installed["web-3"]
    assert apply_change(runtime, live, changed, changed, Progress.quiet()) == []
