"""JUnit XML reports for CI (``--junit PATH``), written with junitparser.

A matrix gives one test case per cell that disagreed with the rules (a failure) or could not
be probed (an error), plus a summary case that fails when any did; the agreeing cells are
counted in the summary, not listed. A replay gives one test case per scenario step, plus a
summary case.
"""

from __future__ import annotations

from pathlib import Path

from junitparser import Error, Failure, JUnitXml, TestCase, TestSuite

from harness.core.diff import Change
from harness.core.matrix import CellResult, Matrix
from harness.formats.matrix_report import explain
from harness.formats.scenario_file import StepResult


def _document(suite: TestSuite) -> JUnitXml:
    document = JUnitXml()
    document.add_testsuite(suite)
    document.update_statistics()  # type: ignore[no-untyped-call]
    return document


def matrix_report(matrix: Matrix) -> JUnitXml:
    lab = matrix.topology.name
    suite = TestSuite(f"sg-harness matrix {lab}")
    for result in matrix.wrong():
        cell = result.cell
        case = TestCase(f"{cell.source} -> {cell.target} {cell.probe}", f"sgh.{lab}")
        message = explain(result)
        case.result = [Error(message, "not-run") if result.not_run else Failure(message, "wrong")]
        suite.add_testcase(case)
    summary = TestCase("summary", f"sgh.{lab}", matrix.timings.get("total", 0.0))
    summary.system_out = matrix.summary.line()
    if not matrix.summary.ok:
        summary.result = [Failure(matrix.summary.line(), "matrix")]
    suite.add_testcase(summary)
    return _document(suite)


def replay_report(scenario: str, results: list[StepResult]) -> JUnitXml:
    suite = TestSuite(f"sg-harness replay {scenario}")
    for index, result in enumerate(results, start=1):
        step = result.step
        case = TestCase(f"{index:02d} step {step.number}: {step.text}", f"sgh.replay.{scenario}")
        case.time = result.seconds
        case.system_out = "\n".join([result.ran, *result.observed]).strip()
        if not result.ok:
            case.result = [Failure(result.verdict, "differs")]
        suite.add_testcase(case)
    matched = sum(result.ok for result in results)
    summary = TestCase("summary", f"sgh.replay.{scenario}")
    summary.system_out = f"{matched} of {len(results)} steps match the seed"
    if matched != len(results) or not results:
        summary.result = [Failure(summary.system_out, "replay")]
    suite.add_testcase(summary)
    return _document(suite)


def write(document: JUnitXml, path: Path) -> None:
    document.write(str(path), pretty=True)


def diff_report(
    name: str, changes: list[Change], wrong: list[tuple[str, CellResult]], gate: list[Change]
) -> JUnitXml:
    """One case per changed cell (a failure when the gate holds it, or when its probe
    disagreed with the prediction), and one per disagreeing cell of the proof."""
    suite = TestSuite(f"sg-harness diff {name}")
    for change in changes:
        cell = change.cell
        case = TestCase(
            f"{change.kind}: {cell.source} -> {cell.target} {cell.probe}", f"sgh.diff.{name}"
        )
        case.system_out = f"{change.before.state} -> {change.after.state}: {change.cause}"
        if change in gate:
            case.result = [Failure(f"opened to outside addresses by {change.cause}", "gate")]
        suite.add_testcase(case)
    for side, result in wrong:
        cell = result.cell
        case = TestCase(f"proof {side}: {cell.source} -> {cell.target} {cell.probe}", "sgh.diff")
        case.result = [Failure(explain(result), "wrong")]
        suite.add_testcase(case)
    return _document(suite)
