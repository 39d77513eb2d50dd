"""The HTML report in a real browser (Debian's Chromium, headless): the three-tier run's
heatmap, a cell's detail, the filters, and a run with a wrong cell found and explained."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from browser import Watched
from playwright.sync_api import Page

from harness.core.runtime import Runtime
from harness.faces.pytest_plugin import SgLab
from harness.faces.sgh.main import main
from harness.formats.html_report import matrix_page
from harness.formats.matrix_report import to_json

ROOT = Path(__file__).resolve().parents[2]
ALBERT = ROOT / "topologies" / "default-group.yaml"


def opened(page: Page, path: Path) -> Page:
    page.goto(path.as_uri())
    page.wait_for_selector("body[data-ready=true]")
    return page


def test_the_three_tier_report_opens_offline_with_its_heatmap_and_details(
    runtime: Runtime, tmp_path: Path, watched: Watched, capsys: pytest.CaptureFixture[str]
) -> None:
    page = watched.page
    report = tmp_path / "report.html"
    assert main(["run", str(ROOT / "topologies/three-tier.yaml"), "--html", str(report), "-q"]) == 0
    capsys.readouterr()
    opened(page, report)
    page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
    assert watched.requests == [report.as_uri()]  # nothing else
    assert watched.errors == []
    assert page.locator("[role=rowheader]").count() == 31
    assert page.locator("[role=columnheader]").count() == 29
    assert page.locator(".cell").count() == 31 * 29 - 29  # no cell from an instance to itself
    assert "4560 cells: 4560 correct, 0 incorrect, 0 not run" in page.inner_text("#summary")
    cell = page.locator('.cell[data-from="internet"][data-to="web-1"]')
    assert cell.get_attribute("data-state") == "mixed"
    cell.click()
    detail = page.locator("#detail")
    assert detail.is_visible()
    row = detail.locator("tr", has_text="tcp/80")
    assert row.inner_text().split("\t")[2:4] == ["open", "open (syn-ack)"]
    assert "apache: tcp 80 from 0.0.0.0/0" in row.inner_text()
    page.screenshot(path=str(tmp_path / "detail.png"))
    page.keyboard.press("Escape")
    assert not detail.is_visible()
    # filters: tcp/80 only, targets in dbserver: the databases are filtered from the internet
    page.select_option("#f-proto", "tcp")
    page.fill("#f-port", "80")
    assert (
        page.locator('.cell[data-from="internet"][data-to="web-1"]').get_attribute("data-state")
        == "open"
    )
    page.select_option("#f-group", "dbserver")
    assert page.locator("[role=columnheader]").all_inner_texts() == [
        "db-1 dbserver",
        "db-2 dbserver",
    ]
    # Enter on a focused cell opens it too (every TCP port probed: db's are not 80)
    page.fill("#f-port", "")
    page.locator('.cell[data-from="internet"][data-to="db-1"]').focus()
    page.keyboard.press("Enter")
    assert detail.is_visible()
    assert "no rule of dbserver allows tcp 3306 from internet" in detail.inner_text()


@pytest.mark.sg_topology(str(ALBERT))
@pytest.mark.sg_mutates
def test_a_wrong_cell_stands_out_and_says_why(lab: SgLab, tmp_path: Path, watched: Watched) -> None:
    page = watched.page
    # a policy flushed by hand: Albert's SSH rule no longer works
    lab.host("albert-instance").run_expect([0], "nft flush chain inet sgh input")
    document = to_json(lab.matrix())
    report = tmp_path / "wrong.html"
    report.write_text(matrix_page(document))
    opened(page, report)
    assert json.loads(page.inner_text("#data"))["mode"] == "matrix"
    assert "1 incorrect" in page.inner_text("#summary")
    page.check("#f-wrong")
    wrong = page.locator(".cell[data-wrong=true]")
    assert wrong.count() == 1
    assert (wrong.get_attribute("data-from"), wrong.get_attribute("data-to")) == (
        "albert",
        "albert-instance",
    )
    wrong.click()
    page.screenshot(path=str(tmp_path / "wrong.png"))
    row = page.locator("#detail tr.bad")
    assert row.count() == 1
    text = row.inner_text()
    assert "tcp/22" in text and "filtered (no reply)" in text
    assert "default: tcp 22 from 203.0.113.7/32" in text
