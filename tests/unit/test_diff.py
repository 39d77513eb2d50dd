"""sgh diff's prediction: exactly the cells a change opens and closes, grouped by cause."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.core.diff import CLOSED, OPENED, REASON, by_cause, gate, predict
from harness.faces import exit_codes
from harness.faces.sgh.main import main
from harness.formats import sources
from harness.lab.diff import same_services

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "imports"
EXAMPLES = ROOT / "examples"  # the README's own Terraform


def test_a_change_opens_and_closes_exactly_its_cells() -> None:
    before, after = sources.load_change(
        [str(EXAMPLES / "shop-tf")], [str(EXAMPLES / "shop-tf-after")]
    )
    old, new = same_services(before.topology, after.topology)
    _, _, _, changes = predict(old, new)
    groups = {
        key: sorted((c.cell.source, str(c.cell.probe)) for c in v)
        for key, v in by_cause(changes).items()
    }
    assert groups[(OPENED, "ingress web: tcp 22 from 0.0.0.0/0")] == sorted(
        [
            ("rep-app", "tcp/22"),
            ("rep-app", "tcp/22"),
            ("rep-db", "tcp/22"),
            ("rep-db", "tcp/22"),
            ("internet", "tcp/22"),
            ("out-203.0.113.0_28", "tcp/22"),
        ]
    )
    assert groups[(CLOSED, "ingress db: tcp 5432 from app")] == [("rep-app", "tcp/5432")]
    assert groups[(OPENED, "ingress db: tcp 5433 from app")] == [("rep-app", "tcp/5433")]
    reason = "ingress web: tcp 22 from pl:office -> ingress web: tcp 22 from 0.0.0.0/0"
    assert groups[(REASON, reason)] == [("in-203.0.113.0_28", "tcp/22")]
    assert len(changes) == 9
    world = gate(new, changes, ["internet"])
    assert {c.cell.source for c in world} == {"internet", "out-203.0.113.0_28"}
    assert gate(new, changes, ["10.0.0.0/8"]) == []
    assert {c.cell.source for c in gate(new, changes, ["198.51.100.0/24"])} == {"internet"}


def test_no_change_predicts_nothing() -> None:
    before, after = sources.load_change(
        [str(EXAMPLES / "shop-tf")], [str(FIXTURES / "shop-cfn.yaml")]
    )
    _, _, _, changes = predict(*same_services(before.topology, after.topology))
    assert [c for c in changes if c.kind != REASON] == []


def test_a_plan_alone_is_its_prior_state_against_its_planned_values() -> None:
    # change.json: unknown.json with a prior state where the load balancer admitted 80, not 443
    path = FIXTURES / "plan" / "change.json"
    before, after = sources.load_change([str(path)], None)
    _, _, _, changes = predict(*same_services(before.topology, after.topology))
    kinds = {
        (c.kind, c.cell.source, str(c.cell.probe)) for c in changes if c.cell.target == "rep-lb"
    }
    assert (OPENED, "internet", "tcp/443") in kinds
    assert (CLOSED, "internet", "tcp/80") in kinds


def test_one_source_that_is_not_a_plan_asks_for_the_second(
    capsys: pytest.CaptureFixture[str],
) -> None:
    topology = ROOT / "topologies" / "three-tier.yaml"
    assert main(["diff", str(topology), "--predict-only"]) == exit_codes.INVALID
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "give BEFORE and AFTER" in err and "JSON" not in err[:30]
    aws = FIXTURES / "multi-eni.json"  # AWS describe-* JSON
    assert main(["diff", str(aws), "--predict-only"]) == exit_codes.INVALID
    assert "not a Terraform plan JSON: give BEFORE and AFTER" in capsys.readouterr().err


def test_diff_says_each_sides_import_choices_and_keeps_them_in_its_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "diff.json"
    before, after = str(EXAMPLES / "shop-tf"), str(EXAMPLES / "shop-tf-after")
    main(["diff", before, after, "--predict-only", "-q", "--json", str(out)])
    err = capsys.readouterr().err
    assert "sgh: import (before): representative rep-web" in err
    assert "sgh: import (after): representative rep-web" in err
    notes = json.loads(out.read_text())["import_notes"]
    assert notes["before"] and notes["after"]
