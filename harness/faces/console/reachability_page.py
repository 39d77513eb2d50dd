"""The Reachability page: the live map, probed after each change."""

from __future__ import annotations

from flask import Flask

from harness.faces.console.context import Console, Page
from harness.formats.html_report import LEGEND, heatmap, is_bad, subtitle


def register(app: Flask, console: Console, page: Page) -> None:
    # -- Reachability ---------------------------------------------------------------------

    @app.get("/reachability")
    def reachability() -> str:
        snap = console.live.snapshot()
        document = snap.document
        return page(
            "reachability.html.j2",
            "Reachability",
            fresh=snap.fresh,
            error=snap.error,
            summary=document["summary_line"] if document else "",
            bad=is_bad(document) if document else False,
            subtitle=subtitle(document) if document else "",
            legend=LEGEND,
            data=heatmap(document) if document else None,
        )
