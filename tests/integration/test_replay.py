"""``sgh replay``: the seed's walkthroughs, with real nmap scans and connections, end to end."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from browser import Watched
from nodes import leftovers

from harness.core.runtime import Runtime
from harness.faces.sgh.main import main
from harness.lab.replay import shipped


def verdicts(text: str) -> list[str]:
    return re.findall(r"^    (MATCH |DIFFERS)", text, flags=re.MULTILINE)


def test_albert_default_group(runtime: Runtime, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", "default-group", "-q"]) == 0
    out = capsys.readouterr().out
    assert verdicts(out) == ["MATCH "] * 6
    # Step 3: every port filtered, in nmap 4.11's words and in nmap 7's.
    assert "All 100 scanned ports on 10.254.0.11 are in ignored states." in out
    assert "Not shown: 100 filtered tcp ports (no-response)" in out
    # Step 5: after his rule, Albert's scan shows ssh open.
    assert "observed | 22/tcp open  ssh" in out
    assert "host up; 22/tcp open; 99 ports filtered" in out
    assert "replay default-group: 6 of 6 steps match the seed" in out
    assert not leftovers(runtime, "replay-default-group")


def test_mary_three_tier(runtime: Runtime, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", "three-tier", "-q"]) == 0
    out = capsys.readouterr().out
    steps = out.split("\n\n")
    assert all(v == "MATCH " for v in verdicts(out)) and len(verdicts(out)) == 21

    def step(number: str, words: str) -> str:
        return next(s for s in steps if s.startswith(f"[{number}] {words}"))

    assert "host up; 80/tcp open; 99 ports filtered" in step("3", "Being as cautious")
    assert "Connected to 10.254." in step("4", "Mary verifies")
    assert "host up; 100 ports filtered" in step("8", "Mary verifies access")
    assert "tcp/22 open, as expected" in step("9.1", "While the rule stands")
    assert "tcp/8080 open (connected)" in step("9.2", "She logs in")
    assert "from web-1 (i-" in step("9.2", "She logs in")
    assert "tcp/22 filtered, as expected" in step("9.3", "After the revocation")
    # The final lab is topologies/three-tier.yaml: the same 4560 cells, all agreeing.
    assert "4560 cells: 4560 correct, 0 incorrect, 0 not run" in out
    assert not leftovers(runtime, "replay-three-tier")


def test_a_step_that_differs_fails_and_the_lab_is_removed(
    runtime: Runtime, tmp_path: Path, capsys: pytest.CaptureFixture[str], watched: Watched
) -> None:
    text = shipped().joinpath("default-group.yaml").read_text()
    # A documented result the rules contradict: ssh open before Albert's rule exists.
    wrong = text.replace(
        "All 100 scanned ports on ec2-203-0-113-5.compute-1.amazonaws.com  (203.0.113.5) are: "
        "filtered",
        "(The 99 ports scanned but not shown are in state: filtered)\n      22/tcp open  ssh",
    )
    assert wrong != text
    path = tmp_path / "wrong.yaml"
    path.write_text(wrong)
    report = tmp_path / "replay.html"
    assert main(["replay", str(path), "-q", "--html", str(report)]) == 1
    out = capsys.readouterr().out
    assert verdicts(out).count("DIFFERS") == 1
    assert "22/tcp: the seed shows open, nmap saw filtered" in out
    assert "replay default-group: 5 of 6 steps match the seed; see DIFFERS above" in out
    assert not leftovers(runtime, "replay-default-group")

    # the HTML report: every step, the one that differs marked with its verdict; the last
    # step's whole-lab heatmap
    page = watched.page
    page.goto(report.as_uri())
    page.wait_for_selector("body[data-ready=true]")
    page.screenshot(path=str(tmp_path / "replay.png"), full_page=True)
    assert watched.requests == [report.as_uri()] and watched.errors == []
    assert (
        page.locator("#summary").inner_text() == "replay default-group: 5 of 6 steps match the seed"
    )
    differs = page.locator('li.step[data-ok="false"]')
    assert page.locator("li.step").count() == 6 and differs.count() == 1
    assert "22/tcp: the seed shows open, nmap saw filtered" in differs.inner_text()
    assert page.locator(".cell").count() == 1  # albert to the instance (none from itself)
    assert page.locator('.cell[data-from="albert"]').get_attribute("data-state") == "mixed"


def test_unknown_scenario_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", "four-tier"]) == 2
    err = capsys.readouterr().err
    assert err == "sgh: no scenario 'four-tier' (known: default-group, three-tier)\n"
