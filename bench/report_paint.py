"""How long a run's HTML report takes to show its heatmap in headless Chromium.

    .venv/bin/python bench/report_paint.py REPORT.html [SOURCE TARGET]

Prints the time from navigation to the first cells drawn (the page says ``data-ready``), the
file's size, and, given a pair, the time its detail takes to open on click and its rows.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

CHROMIUM = "/usr/bin/chromium"


def first_paint(report: Path) -> tuple[float, int]:
    """Seconds from navigation to the first cells drawn, and how many were drawn."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox"]
        )
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        started = time.monotonic()
        page.goto(report.resolve().as_uri())
        page.wait_for_selector("body[data-ready=true]", timeout=120_000)
        painted = time.monotonic() - started
        drawn = page.locator(".cell").count()
        browser.close()
    return painted, drawn


def main(argv: list[str]) -> int:
    report = Path(argv[0]).resolve()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox"]
        )
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        started = time.monotonic()
        page.goto(report.as_uri())
        page.wait_for_selector("body[data-ready=true]", timeout=120_000)
        painted = time.monotonic() - started
        cells = page.locator(".cell").count()
        size = report.stat().st_size / 2**20
        print(f"first paint {painted:.2f} s ({cells} cells drawn, {size:.1f} MiB file)")
        if len(argv) == 3:
            source, target = argv[1], argv[2]
            cell = page.locator(f'.cell[data-from="{source}"][data-to="{target}"]')
            started = time.monotonic()
            cell.click()
            page.wait_for_selector("#detail:not([hidden])")
            rows = page.locator("#detail-rows tr").all_inner_texts()
            print(f"detail of {source} -> {target}: {time.monotonic() - started:.2f} s")
            for row in rows:
                print("  " + row.replace("\t", " | "))
        browser.close()
    if errors:
        print("page errors: " + "; ".join(errors))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
