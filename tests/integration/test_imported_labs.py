"""Imported groups on real labs: sgh run on each format's fixture, sgh diff proven by packets
and its gate, the pytest marker on a Terraform directory."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from browser import Watched
from nodes import leftovers

from harness.core.runtime import Runtime
from harness.faces.sgh.main import main

ROOT = Path(__file__).resolve().parent.parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "imports"
EXAMPLES = ROOT / "examples"  # the README's own Terraform


@pytest.mark.parametrize("source", ["shop-tf", "shop-cfn.yaml", "shop-aws", "multi-eni.json"])
def test_an_imported_source_runs_with_every_cell_correct(
    runtime: Runtime, tmp_path: Path, capsys: pytest.CaptureFixture[str], source: str
) -> None:
    out = tmp_path / "matrix.json"
    where = EXAMPLES if source.startswith("shop-tf") else FIXTURES
    status = main(["run", str(where / source), "--json", str(out), "--quiet"])
    printed = capsys.readouterr()
    doc = json.loads(out.read_text())
    assert doc["summary"]["incorrect"] == 0 and doc["summary"]["not_run"] == 0, printed.out
    assert status == 0
    seen = {(c["from"], c["to"], c["protocol"], c["port"]): c["observed"] for c in doc["cells"]}
    if source == "multi-eni.json":
        assert seen[("internet", "i-0router", "tcp", 80)] == "open"
    else:
        assert seen[("internet", "rep-web", "tcp", 443)] == "open"
        assert seen[("in-203.0.113.0_28", "rep-web", "tcp", 22)] == "open"
        assert seen[("out-203.0.113.0_28", "rep-web", "tcp", 22)] == "filtered"


def test_diff_proves_what_a_change_opens_and_closes_and_the_gate_fails(
    runtime: Runtime, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = tmp_path / "diff.json"
    markdown = tmp_path / "diff.md"
    status = main(
        [
            "diff",
            str(EXAMPLES / "shop-tf"),
            str(EXAMPLES / "shop-tf-after"),
            "--fail-on-open",
            "internet",
            "--json",
            str(report),
            "--markdown",
            str(markdown),
            "--quiet",
        ]
    )
    printed = capsys.readouterr().out
    doc = json.loads(report.read_text())
    assert doc["proven"] is True, printed
    assert status == 3  # proven, and the gate holds the world-open ssh
    kinds = {(c["kind"], c["source"], c["target"], c["probe"]) for c in doc["changes"]}
    assert ("opened", "internet", "rep-web", "tcp/22") in kinds
    assert ("closed", "rep-app", "rep-db", "tcp/5432") in kinds
    assert ("opened", "rep-app", "rep-db", "tcp/5433") in kinds
    assert {c["source"] for c in doc["changes"] if c["gate"]} == {"internet", "out-203.0.113.0_28"}
    assert "**Gate failed:**" in markdown.read_text()
    # the same change without the gate: proven, exit 0
    status = main(["diff", str(EXAMPLES / "shop-tf"), str(EXAMPLES / "shop-tf-after"), "--quiet"])
    assert status == 0, capsys.readouterr().out
    assert not leftovers(runtime, "shop-tf")


def test_a_plan_alone_is_proven_cell_by_cell_and_the_gate_fails(
    runtime: Runtime, tmp_path: Path, capsys: pytest.CaptureFixture[str], watched: Watched
) -> None:
    running = set(leftovers(runtime))  # other tests' shared labs
    report = tmp_path / "plan.json"
    page_path = tmp_path / "diff.html"
    plan = FIXTURES / "plan" / "change.json"  # the load balancer moves from tcp/80 to tcp/443
    options = ["--fail-on-open", "internet", "--json", str(report), "--html", str(page_path)]
    status = main(["diff", str(plan), *options, "-q"])
    printed = capsys.readouterr().out
    doc = json.loads(report.read_text())
    assert doc["proven"] is True, printed
    assert {(c["kind"], c["source"], c["target"], c["probe"]) for c in doc["changes"]} == {
        ("opened", "internet", "rep-lb", "tcp/443"),
        ("closed", "internet", "rep-lb", "tcp/80"),
    }
    assert status == 3
    assert set(leftovers(runtime)) <= running

    # the HTML report: the opened and closed cells stand out, with their cause
    page = watched.page
    page.goto(page_path.as_uri())
    page.wait_for_selector("body[data-ready=true]")
    page.screenshot(path=str(tmp_path / "diff.png"), full_page=True)
    assert watched.requests == [page_path.as_uri()] and watched.errors == []
    changes = page.locator("#changes").inner_text()
    assert "opened by ingress lb: tcp 443 from 0.0.0.0/0" in changes
    assert "closed by ingress lb: tcp 80 from 0.0.0.0/0" in changes
    cell = page.locator('.cell[data-from="internet"][data-to="rep-lb"]')
    for port, change, state in (("443", "opened", "open"), ("80", "closed", "filtered")):
        page.locator("#f-port").fill(port)
        assert (cell.get_attribute("data-change"), cell.get_attribute("data-state")) == (
            change,
            state,
        )
    cell.click()
    why = page.locator("#detail-rows").inner_text()
    assert "closed by ingress lb: tcp 80 from 0.0.0.0/0: open before" in why
    assert "not probed" not in why  # proven: observed on the lab


def test_lint_prove_sends_the_packets_behind_each_reachability_claim(
    runtime: Runtime, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    running = set(leftovers(runtime))  # other tests' shared labs
    audit = ROOT / "tests" / "unit" / "topologies" / "lint" / "vpc-audit.yaml"
    sarif = tmp_path / "audit.sarif"
    for source in (audit, FIXTURES / "anchors-cfn.yaml"):
        status = main(["lint", str(source), "--prove", "--sarif", str(sarif), "-q"])
        printed = capsys.readouterr().out
        assert status == 1, printed  # the findings fail; the proof held
        assert "NOT proven" not in printed
        assert "proven by packets: 1 cell observed as predicted (open)" in printed
        assert "proven by packets" in sarif.read_text()
    # the IPv6 claim of the template was proven from the witness's IPv6 address
    assert "reachable from internet (2001:db8:ffff::10) on tcp/22" in printed
    assert set(leftovers(runtime)) <= running


def test_the_marker_takes_an_imported_source(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_user=f"""
        import pytest

        pytestmark = pytest.mark.sg_topology({str(EXAMPLES / "shop-tf")!r})

        def test_office_ssh(lab):
            lab.assert_open("in-203.0.113.0_28", "rep-web", "tcp/22")
            lab.assert_filtered("out-203.0.113.0_28", "rep-web", "tcp/22")

        def test_wrong(lab):
            lab.assert_open("internet", "rep-db", "tcp/5432", at=lab.topology.nodes_by_name[
                "rep-db"].interfaces[0].public.exploded)
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    out = result.stdout.str()
    assert "internet -> rep-db tcp/5432 at 192.0.2.13: expected open, observed filtered" in out
    assert "the rules say filtered: dropped entering rep-db" in out


def test_the_marker_names_groups_outside_its_source(pytester: pytest.Pytester) -> None:
    """A group the source does not define stops the session in one line naming it, until the
    marker says it lives outside (``outside=[...]``), as sgh's ``--outside`` does."""
    source = pytester.path / "tf" / "main.tf"
    source.parent.mkdir()
    source.write_text(
        'resource "aws_security_group" "db" {\n  name = "db"\n}\n'
        'resource "aws_security_group_rule" "pg" {\n'
        '  type = "ingress"\n  from_port = 5432\n  to_port = 5432\n  protocol = "tcp"\n'
        "  security_group_id = aws_security_group.db.id\n"
        '  source_security_group_id = "sg-0abc"\n'
        "}\n"
    )
    test = """
        import pytest

        pytestmark = pytest.mark.sg_topology({marker})

        def test_db_is_closed_to_the_internet(lab):
            lab.assert_filtered("internet", "rep-db", "tcp/5432")
        """
    pytester.makepyfile(test_user=test.format(marker=repr(str(source.parent))))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    assert result.ret != 0
    assert "sg-0abc is not defined in the input" in result.stdout.str() + result.stderr.str()
    pytester.makepyfile(
        test_user=test.format(marker=f"{str(source.parent)!r}, outside=['sg-0abc']")
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
