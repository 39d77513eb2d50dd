"""The orchestration and the reports, on a fake runtime and the simulated prober."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from harness.adapters.fake_runtime import FakeRuntime
from harness.adapters.probers.simulated_prober import SimulatedProber
from harness.core.ec2 import plane as ec2
from harness.core.matrix import Matrix
from harness.core.model import Probe, Protocol, State
from harness.core.phases import QUIET
from harness.core.planner import Cell
from harness.core.probing import Observation
from harness.core.runtime import LabKind, LabRef
from harness.errors import LabError
from harness.formats import topology_file
from harness.formats.matrix_report import render, to_json
from harness.lab.one_shot import verify

ROOT = Path(__file__).resolve().parents[2]
TOPO = topology_file.load(ROOT / "topologies/three-tier.yaml")
WRONG = Cell("internet", "app-3", Probe(Protocol.TCP, 8080))


def test_all_agree() -> None:
    runtime = FakeRuntime()
    prober = SimulatedProber(TOPO)
    matrix = verify(TOPO, runtime, prober, QUIET)
    assert matrix.summary.ok and matrix.summary.cells == len(prober.rounds[0])
    assert runtime.events == [
        "check",
        "observe",
        f"start {len(TOPO.nodes) + 1}",
        "install " + ",".join(sorted(i.name for i in TOPO.instances)),
        f"plug {len(TOPO.nodes)}",
        f"wait {len(TOPO.instances)}",
        "down",
    ]
    assert len(prober.rounds) == 1
    text = render(matrix)
    assert text.splitlines()[-1] == (
        f"{matrix.summary.cells} cells: {matrix.summary.cells} correct, 0 incorrect, 0 not run"
    )
    comparison = text.split("Observed vs expected")[1].splitlines()[8:]
    assert all(
        set(row[13:]) <= {".", " "}
        for row in comparison
        if row.strip() and " cells:" not in row and not row.startswith("plan:")
    )
    assert text.splitlines()[-2] == ("plan: full (every port interval the rules cut, per pair)")
    assert "Cells that disagree" not in text


def test_disagreeing_cells_are_probed_once_more() -> None:
    # wrong once, right on the retry: the retry is the verdict that stands
    prober = SimulatedProber(TOPO, {WRONG: [State.OPEN, State.FILTERED]})
    matrix = verify(TOPO, FakeRuntime(), prober, QUIET)
    assert prober.rounds[1] == [WRONG]
    assert matrix.summary.ok
    retried = next(r for r in matrix.results if r.cell == WRONG)
    assert retried.attempts == 2


def test_a_wrong_cell_is_shown_with_why() -> None:
    prober = SimulatedProber(TOPO, {WRONG: [State.OPEN, State.OPEN]})
    matrix = verify(TOPO, FakeRuntime(), prober, QUIET)
    assert matrix.summary.incorrect == 1 and not matrix.summary.ok
    text = render(matrix)
    internet_row = next(line for line in text.splitlines()[::-1] if line.startswith("internet"))
    assert internet_row.split()[10] == "X"  # columns: web-1..web-7, app-1, app-2, app-3
    assert (
        "Cells that disagree (1), by cause:\n"
        "  expected filtered, observed open (simulated): 1 cell\n"
        "    to app-3, where no rule allows them\n"
        "    (for example: no rule of appserver allows tcp 8080 from internet (198.51.100.10))\n"
        "    internet -> app-3: tcp/8080"
    ) in text
    assert text.splitlines()[-1].endswith("1 incorrect, 0 not run")


def test_not_run_is_never_filtered() -> None:
    prober = SimulatedProber(TOPO, {WRONG: [State.NOT_RUN, State.NOT_RUN]})
    matrix = verify(TOPO, FakeRuntime(), prober, QUIET)
    summary = matrix.summary
    assert (summary.incorrect, summary.not_run) == (0, 1)
    assert not summary.ok
    assert "!" in render(matrix)


@pytest.mark.parametrize("stage", ["start", "install"])
def test_lab_is_removed_when_building_fails(stage: str) -> None:
    runtime = FakeRuntime(fail_at=stage)
    with pytest.raises(LabError):
        verify(TOPO, runtime, SimulatedProber(TOPO), QUIET, keep=True)
    assert runtime.events[-1] == "down" and not runtime.labs()


def test_keep_leaves_a_built_lab() -> None:
    runtime = FakeRuntime()
    verify(TOPO, runtime, SimulatedProber(TOPO), QUIET, keep=True)
    assert "down" not in runtime.events
    assert [(info.name, info.kind) for info in runtime.labs()] == [("three-tier", LabKind.RUN)]


def test_a_kept_run_is_replaced_by_the_next_run_but_a_persistent_lab_is_not_touched() -> None:
    runtime = FakeRuntime()
    verify(TOPO, runtime, SimulatedProber(TOPO), QUIET, keep=True)
    persistent = LabRef("three-tier", LabKind.PERSISTENT)
    runtime.add_stray(persistent, "_switch")
    verify(TOPO, runtime, SimulatedProber(TOPO), QUIET)
    assert [(info.name, info.kind) for info in runtime.labs()] == [
        ("three-tier", LabKind.PERSISTENT)
    ]


def test_json_shape() -> None:
    matrix = verify(TOPO, FakeRuntime(), SimulatedProber(TOPO), QUIET)
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


def test_wrong_cells_are_grouped_by_cause_and_none_is_cut_off() -> None:
    # web-3's policy lets everything in (one cause, many cells); app-1 could not be probed
    # at all (the same reason for every cell of it): every cell is listed, folded by source
    matrix = verify(TOPO, FakeRuntime(), SimulatedProber(TOPO), QUIET)
    unreachable = Observation(State.NOT_RUN, "send failed: [Errno 101] Network is unreachable")
    changed = []
    for result in matrix.results:
        observed = result.observed
        if result.cell.source == "app-1":
            observed = unreachable
        elif result.cell.target == "web-3" and result.expected.state is State.FILTERED:
            observed = Observation(State.OPEN, "syn-ack")
        changed.append(result._replace(observed=observed))
    matrix = replace(matrix, results=changed)
    text = render(matrix)
    wrong = matrix.wrong()
    not_run = sum(1 for r in wrong if r.not_run)
    assert f"Cells that disagree ({len(wrong)}), by cause:" in text
    assert (
        f"  not run: {not_run} cells\n    send failed: [Errno 101] Network is unreachable" in text
    )
    listed = [line for line in text.splitlines() if line.startswith("    ") and " -> " in line]
    cells = 0
    for line in listed:
        targets, probes = line.split(" -> ")[1].split(": ")
        cells += len(targets.split()) * len(probes.split())
    assert cells == len(wrong)
    assert "  expected filtered, observed open (syn-ack): 145 cells\n    to web-3," in text
    assert any(line.startswith("    app-1 -> ") for line in listed)
    assert "... and" not in text


def test_the_answer_comes_before_the_teardown() -> None:
    runtime = FakeRuntime()
    labs_at_answer: list[int] = []

    def answer(matrix: Matrix) -> None:
        assert matrix.summary.ok
        labs_at_answer.append(len(runtime.labs()))

    verify(TOPO, runtime, SimulatedProber(TOPO), QUIET, answer=answer)
    assert labs_at_answer == [1]  # the lab was still there when the user got the answer
    assert runtime.labs() == []


def test_a_key_secret_is_never_written_to_a_file_others_can_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    from harness.adapters import sqlite_store

    seen: list[int | None] = []
    connect = sqlite_store._connect

    def watched(path: Path) -> object:
        seen.append(path.stat().st_mode & 0o777 if path.exists() else None)
        return connect(path)

    monkeypatch.setattr(sqlite_store, "_connect", watched)
    old = os.umask(0)
    try:
        home = sqlite_store.Home(tmp_path / "home")
        access, secret = home.add_key("111122223333")
    finally:
        os.umask(old)
    assert seen == [0o600]  # private before the secret went in
    for path in (tmp_path / "home").glob("keys.db*"):
        assert path.stat().st_mode & 0o777 == 0o600, path
    assert home.key(access) == (secret, "111122223333")


def test_sgh_image_register_says_what_instances_of_it_serve(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from harness.adapters.sqlite_store import Home
    from harness.faces.sgh.main import main
    from harness.lab.persistent import PersistentLab, new_id, now

    PersistentLab(Home(tmp_path), "img", runtime=FakeRuntime(), create=True).close()
    where = ["--home", str(tmp_path), "--lab", "img"]
    assert main(["image", "register", "shop-api", "--listen", "tcp/443,tcp/8080", *where]) == 0
    line = capsys.readouterr().out.strip().split("\t")
    assert line[0] == "IMAGE" and line[2:] == ["shop-api", "tcp/443,tcp/8080"]
    image = line[1]
    assert main(["image", "register", "bad", "--listen", "tcp/0", *where]) != 0
    assert "listen port 0 is out of range" in capsys.readouterr().err
    assert main(["image", "list", *where]) == 0
    listed = capsys.readouterr().out
    assert f"IMAGE\t{image}\t111122223333\tshop-api\ttcp/443,tcp/8080" in listed
    assert "IMAGE\tami-fba54092\tamazon\tweb server\ttcp/22,tcp/80" in listed
    lab = PersistentLab(Home(tmp_path), "img", runtime=FakeRuntime())
    try:
        (record,) = lab.act(
            lambda c: ec2.run_instances(
                c, "111122223333", image, 1, groups=[], now=now(), new_id=new_id
            )
        )
        served = {i.name: [str(p) for p in i.listen] for i in lab.topology().instances}
        assert served[record.instance_id] == ["tcp/443", "tcp/8080"]
    finally:
        lab.close()


@pytest.mark.parametrize(
    "argv",
    [
        ["run", "t.yaml"],
        ["replay", "three-tier"],
        ["lint"],
        ["check", "t.yaml"],
        ["diff", "a", "b"],
        ["explain", "a", "b"],
        ["import", "t.json"],
        ["compile", "t.yaml"],
        ["clean"],
        ["lab", "up"],
        ["lab", "down"],
        ["lab", "status"],
        ["lab", "list"],
        ["lab", "rm", "x"],
        ["host", "add", "h", "203.0.113.5"],
        ["host", "rm", "h"],
        ["image", "register", "x", "--listen", "tcp/1"],
        ["image", "list"],
        ["matrix"],
        ["serve"],
        ["console"],
        ["key", "add", "111122223333"],
    ],
)
def test_every_sgh_command_runs_a_function(argv: list[str]) -> None:
    import inspect

    from harness.faces.sgh.main import _parser

    args = _parser().parse_args(argv)
    assert inspect.isfunction(args.handler), (argv, args.handler)
    assert list(inspect.signature(args.handler).parameters) == ["args"]


def _grid_cells(
    text: str, title: str, rows: list[str], cols: list[str]
) -> dict[tuple[str, str], str]:
    """The glyphs of the grid headed ``title``, by (row, column), read by position: the
    header's first line starts at the first column; rows follow in the topology's order."""
    lines = text.split(title)[1].splitlines()[2:]  # past the title's line and the legend
    start = len(lines[0]) - len(lines[0].lstrip())
    body = [line for line in lines if line[:1] not in (" ", "")][: len(rows)]
    return {
        (row, col): line[start + 2 * index] if start + 2 * index < len(line) else " "
        for row, line in zip(rows, body, strict=True)
        for index, col in enumerate(cols)
    }


def test_the_grid_by_port_names_the_port_that_is_open() -> None:
    matrix = verify(TOPO, FakeRuntime(), SimulatedProber(TOPO), QUIET)
    text = render(matrix, by_port=True)
    assert "(--by-port names which)" in text and "blank: not probed" in text
    rows = [node.name for node in TOPO.nodes]
    cols = [instance.name for instance in TOPO.instances]
    on_8080 = _grid_cells(text, "Reachability on tcp/8080", rows, cols)
    on_3306 = _grid_cells(text, "Reachability on tcp/3306", rows, cols)
    assert on_8080[("web-1", "app-1")] == "O"  # the app tier serves 8080 to the web tier
    assert on_8080[("internet", "app-1")] == "-"  # and not to the world
    assert on_3306[("app-1", "db-1")] == "O"  # the database serves the app tier
    assert on_3306[("web-1", "db-1")] == "-"  # and not the web tier
    assert on_3306[("web-1", "app-1")] == " "  # not a port the rules name for this pair
    on_1 = _grid_cells(text, "Reachability on tcp/1", rows, cols)
    assert on_1[("web-1", "app-1")] == "c"  # allowed, nothing listens
    assert on_8080[("app-1", "app-1")] == " "  # a node and itself: not probed
    for (source, target), glyph in on_8080.items():
        states = {
            r.observed.state
            for r in matrix.results
            if (r.cell.source, r.cell.target) == (source, target)
            and str(r.cell.probe) == "tcp/8080"
        }
        shown = {"open": "O", "closed": "c", "filtered": "-"}
        assert glyph == (shown[str(states.pop())] if states else " ")
    assert "Reachability on tcp/8080" not in render(matrix)  # only when asked


def test_a_persistent_labs_columns_are_numbered_as_its_rows() -> None:
    lab = replace(TOPO, source="lab demo")
    matrix = verify(lab, FakeRuntime(), SimulatedProber(lab), QUIET)
    lines = render(matrix).split("Observed vs expected")[0].splitlines()
    heads = lines[2:4]  # two digits, written downwards
    start = len(heads[1]) - len(heads[1].lstrip())
    numbers = ["".join(h[start + 2 * i] for h in heads).strip() for i in range(len(lab.instances))]
    assert numbers == [str(n) for n in range(1, len(lab.instances) + 1)]
    assert lines[4].startswith(" 1 web-1")  # rows carry the number their column is headed by
    assert lines[5].startswith(" 2 web-2")


def test_removing_a_lab_that_does_not_exist_says_so_without_suggesting_to_start_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from harness.faces.sgh.main import main

    assert main(["lab", "rm", "nosuch", "--home", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "no lab named 'nosuch'" in err and "to remove" in err and "lab up" not in err


def test_sgh_says_its_version(capsys: pytest.CaptureFixture[str]) -> None:
    from importlib.metadata import version

    from harness.faces.sgh.main import main

    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out.strip() == f"sgh {version('sg-harness')}"


CHILD_EC2 = """
import sys
from harness.faces import ec2_tools
ec2_tools.execute = lambda command, argv: ec2_tools.Outcome(0, ["INSTANCE\\ti-1"] * 20000)
sys.exit(ec2_tools._console("ec2-describe-instances", []))
"""
CHILD_SGH = """
import sys
from harness.faces.sgh import main as sgh
def lines(args):
    for _ in range(20000):
        print("web-1        O O O")
    return 0
sgh._compile = lines
sys.exit(sgh.main(["compile", "any.yaml"]))
"""


@pytest.mark.parametrize("child", [CHILD_EC2, CHILD_SGH])
def test_a_reader_that_goes_away_ends_the_command_quietly(child: str) -> None:
    """``ec2-describe-instances | awk '... exit'``, ``sgh matrix | head``: no traceback."""
    import os
    import subprocess
    import sys

    read, write = os.pipe()
    os.close(read)  # the reader is gone before the first line
    try:
        done = subprocess.run(
            [sys.executable, "-c", child], stdout=write, stderr=subprocess.PIPE, check=False
        )
    finally:
        os.close(write)
    assert done.returncode == 1
    assert done.stderr == b""


def test_an_imports_choices_are_said_with_q_and_kept_in_the_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """What an import chose (a stand-in's place, a rule dropped) changes what is tested: it
    is printed even with -q, and the JSON report carries it."""
    import argparse

    from harness.faces.sgh.common import load_sources, report_matrix

    args = argparse.Namespace(
        sources=[str(ROOT / "examples" / "shop-tf")],
        var=None,
        parameter=None,
        outside=None,
        quiet=True,
    )
    loaded = load_sources(args)
    said = capsys.readouterr().err
    assert "sgh: import: representative rep-web stands for every member of web" in said
    matrix = verify(loaded.topology, FakeRuntime(), SimulatedProber(loaded.topology), QUIET)
    out = tmp_path / "m.json"
    report_matrix(matrix, out, None, notes=loaded.notes)
    capsys.readouterr()
    document = json.loads(out.read_text())
    assert document["import_notes"] == list(loaded.notes) and loaded.notes
