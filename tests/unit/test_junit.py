"""JUnit reports: a case per wrong cell or step, and a summary case."""

from __future__ import annotations

from pathlib import Path

from junitparser import Error, Failure, JUnitXml

from harness.core.matrix import Matrix, compare, expectations
from harness.core.model import State
from harness.core.planner import plan
from harness.core.probing import Observation
from harness.formats import junit_report, topology_file
from harness.formats.scenario_file import Step, StepResult

ROOT = Path(__file__).resolve().parents[2]


def test_matrix_report_lists_only_wrong_and_unprobed_cells(tmp_path: Path) -> None:
    topo = topology_file.load(ROOT / "topologies" / "default-group.yaml")
    cells = plan(topo)
    expected = expectations(topo, cells)
    observed = {cell: Observation(e.state, "as expected") for cell, e in expected.items()}
    ssh = next(c for c in cells if c.source == "albert" and str(c.probe) == "tcp/22")
    lost = next(c for c in cells if c.source == "internet" and str(c.probe) == "tcp/80")
    observed[ssh] = Observation(State.FILTERED, "no reply")
    observed[lost] = Observation(State.NOT_RUN, "socket error")
    matrix = Matrix(topo, compare(expected, observed), prober="simulated")
    path = tmp_path / "m.xml"
    junit_report.write(junit_report.matrix_report(matrix), path)
    suite = next(iter(JUnitXml.fromfile(str(path))))
    cases = {case.name: case for case in suite}
    assert set(cases) == {
        "albert -> albert-instance tcp/22",
        "internet -> albert-instance tcp/80",
        "summary",
    }
    failure = cases["albert -> albert-instance tcp/22"].result[0]
    assert isinstance(failure, Failure)
    assert failure.message == (
        "expected open, observed filtered (no reply); expected because "
        "default: tcp 22 from 203.0.113.7/32"
    )
    assert isinstance(cases["internet -> albert-instance tcp/80"].result[0], Error)
    assert isinstance(cases["summary"].result[0], Failure)
    assert (suite.tests, suite.failures, suite.errors) == (3, 2, 1)


def test_replay_report_has_a_case_per_step() -> None:
    steps = [Step("1", "first", run="ec2-describe-group"), Step("2", "second", matrix=True)]
    results = [StepResult(steps[0], True, "fine"), StepResult(steps[1], False, "3 cells wrong")]
    suite = next(iter(junit_report.replay_report("demo", results)))
    names = [case.name for case in suite]
    assert names == ["01 step 1: first", "02 step 2: second", "summary"]
    assert suite.failures == 2
