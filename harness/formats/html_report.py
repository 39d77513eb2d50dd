"""``--html``: a report people look at, in one self-contained file.

The page is rendered from the same JSON document ``--json`` writes (one path for both), with
Jinja2 (autoescaped: every name, description and why-text is text, never markup) and an inline
script that draws the heatmap: sources as rows, targets as columns, each cell coloured by what
was observed, wrong and not-run cells marked, each a focusable element carrying ``data-from``,
``data-to`` and ``data-state`` whose click (or Enter) opens every probe of it. Only the cells
in view are in the DOM, so a lab of a thousand nodes stays usable. No request leaves the page:
styles and script are inline and its Content-Security-Policy forbids anything else.
"""

from __future__ import annotations

import base64
import sys
import zlib
from array import array
from collections.abc import Sequence
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from harness.core.diff import Change, by_cause
from harness.core.matrix import CellResult
from harness.core.model import Topology
from harness.formats.matrix_report import groups_json, nodes_json
from harness.formats.scenario_file import StepResult

LEGEND = (  # (CSS classes of the swatch, text)
    ("s-open", "open"),
    ("s-closed", "closed (answered, nothing listens)"),
    ("s-filtered", "filtered (dropped)"),
    ("some-open", "some ports open, others filtered"),
    ("some-closed", "some closed, none open"),
    ("s-mixed", "another mix"),
    ("s-not-run", "not run"),
)

_env = Environment(
    loader=PackageLoader("harness.formats", "templates"),
    autoescape=select_autoescape(["html", "j2"], default_for_string=True),
    undefined=StrictUndefined,
    keep_trailing_newline=True,
)


def _probe_text(cell: dict[str, Any]) -> str:
    return cell["protocol"] if cell["port"] is None else f"{cell['protocol']}/{cell['port']}"


Axis = list[dict[str, Any]]


def _axes(nodes: list[dict[str, Any]]) -> tuple[Axis, Axis, dict[str, int], dict[str, int]]:
    """Rows (every node) and columns (instances), and each name's index on them."""

    def axis(node: dict[str, Any]) -> dict[str, Any]:
        groups = node.get("groups", [])
        readable = node.get("label", "")
        named = f"{node['name']} {readable}" if readable else node["name"]
        title = f"{named} ({node['kind']}, {node['address']})"
        if groups:
            title += f" in {', '.join(groups)}"
        return {
            "name": node["name"],
            "groups": groups,
            "title": title,
            "readable": readable,
            "label": named + (" " + ", ".join(groups) if groups else ""),  # as drawn
        }

    rows = [axis(node) for node in nodes]
    cols = [axis(node) for node in nodes if node["kind"] == "instance"]
    row_index = {row["name"]: n for n, row in enumerate(rows)}
    col_index = {col["name"]: n for n, col in enumerate(cols)}
    return rows, cols, row_index, col_index


def heatmap(document: dict[str, Any]) -> dict[str, Any]:
    """The heatmap's data (axes and one row per probe, or for a compact document
    :func:`compact_heatmap`) of a JSON document, for the report's page and the console's
    Reachability page alike."""
    rows, cols, row_index, col_index = _axes(document["nodes"])
    if document.get("form") == "compact":
        return {"mode": "matrix", "rows": rows, "cols": cols, **compact_heatmap(document)}
    probes = [
        [
            row_index[cell["from"]],
            col_index[cell["to"]],
            _probe_text(cell),
            cell["address"],
            cell["expected"],
            cell["observed"],
            cell["why"],
            cell["detail"],
        ]
        for cell in document["cells"]
    ]
    return {"mode": "matrix", "rows": rows, "cols": cols, "probes": probes}


HEATMAP_COLUMNS = ("from", "to", "address", "probe", "expected", "observed", "verdict")


def compact_heatmap(document: dict[str, Any]) -> dict[str, Any]:
    """A compact document's cells for the page: its small tables as they are, and its columns
    (``to`` as an index of the heatmap's columns, the instances) packed as 32-bit numbers,
    deflated and in base64, one column after another. The page inflates them
    (``DecompressionStream``) and makes a pair's rows only when it draws or opens the pair,
    so a million cells neither weigh down the file nor fill the page's memory."""
    compact = document["compact"]
    cells = compact["cells"]
    instances = [n for n, node in enumerate(document["nodes"]) if node["kind"] == "instance"]
    col_of = dict(zip(instances, range(len(instances)), strict=True))
    columns = {name: array("I", cells[name]) for name in HEATMAP_COLUMNS}
    columns["to"] = array("I", map(col_of.__getitem__, columns["to"]))
    packed = b"".join(columns[name].tobytes() for name in HEATMAP_COLUMNS)
    if sys.byteorder != "little":  # the page reads them as the browser's (little-endian)
        swapped = array("I", packed)
        swapped.byteswap()
        packed = swapped.tobytes()
    return {
        "compact": {
            "count": len(columns["from"]),
            "states": compact["states"],
            "addresses": compact["addresses"],
            "probes": [_probe_text(probe) for probe in compact["probes"]],
            "observations": [[o["observed"], o["detail"]] for o in compact["observations"]],
            "verdicts": [verdict["why"] for verdict in compact["verdicts"]],
            "columns": base64.b64encode(zlib.compress(packed, 6)).decode("ascii"),
        }
    }


def subtitle(document: dict[str, Any]) -> str:
    data_rows = len(document["nodes"])
    targets = sum(1 for node in document["nodes"] if node["kind"] == "instance")
    return (
        f"topology {document['topology']} · runtime {document['runtime']} · prober "
        f"{document['prober']} · {data_rows} sources by {targets} targets"
    )


def is_bad(document: dict[str, Any]) -> bool:
    summary = document["summary"]
    return bool(summary["incorrect"] or summary["not_run"])


def matrix_page(document: dict[str, Any]) -> str:
    """The report of a run (``sgh run``, ``sgh matrix``, ``sgh replay``), from its JSON
    document (:func:`harness.formats.matrix_report.to_json`)."""
    return _env.get_template("report.html.j2").render(
        title=f"sg-harness: lab {document['lab']}",
        summary=document["summary_line"],
        bad=is_bad(document),
        subtitle=[subtitle(document)],
        changes=[],
        steps=[],
        legend=LEGEND,
        timings=sorted(document["timings"].items()),
        groups=document["groups"],
        data=heatmap(document),
    )


def diff_page(
    title: str,
    after: Topology,
    changes: Sequence[Change],
    *,
    observed: Sequence[CellResult],
    summary: str,
    bad: bool,
    timings: dict[str, float],
) -> str:
    """The report of ``sgh diff``: a heatmap of the changed cells only (opened ``+``, closed
    a minus sign), each coloured by its state after the change, as observed when the change was
    proven on a lab (a cell observed otherwise than predicted is wrong), else as predicted;
    the changes grouped by cause; AFTER's groups as written."""
    rows, cols, row_index, col_index = _axes(nodes_json(after))
    seen = {result.cell: result for result in observed}
    probes = []
    for change in changes:
        cell, result = change.cell, seen.get(change.cell)
        predicted = str(change.after.state)
        probes.append(
            [
                row_index[cell.source],
                col_index[cell.target],
                str(cell.probe),
                cell.address or str(after.nodes_by_name[cell.target].address),
                predicted,
                str(result.observed.state) if result is not None else predicted,
                f"{change.kind} by {change.cause}: {change.before.state} before "
                f"({change.before.why}), {predicted} after ({change.after.why})"
                + ("" if result is not None else "; predicted, not probed"),
                change.kind,
            ]
        )
    return _env.get_template("report.html.j2").render(
        title=f"sg-harness diff: {title}",
        summary=summary,
        bad=bad,
        subtitle=[f"{len(changes)} changed cells of {after.name}; AFTER's groups below"],
        changes=[
            {
                "kind": kind,
                "cause": cause,
                "cells": [
                    f"{c.cell.source} → {c.cell.target} {c.cell.probe}: "
                    f"{c.before.state} → {c.after.state}"
                    for c in group
                ],
            }
            for (kind, cause), group in by_cause(changes).items()
        ],
        steps=[],
        legend=LEGEND,
        timings=sorted(timings.items()),
        groups=groups_json(after),
        data={"mode": "diff", "rows": rows, "cols": cols, "probes": probes},
    )


def replay_page(
    name: str, title: str, results: Sequence[StepResult], document: dict[str, Any] | None
) -> str:
    """The report of ``sgh replay``: every step with the seed's lines beside the observed
    ones and its verdict, then the heatmap of the last whole-lab step (``document``), if any."""
    matched = sum(result.ok for result in results)
    steps = [
        {
            "number": r.step.number,
            "text": r.step.text,
            "prompt": r.prompt,
            "run": r.step.run,
            "ran": r.ran_shown,
            "seed": r.seed_lines,
            "observed": r.observed_lines,
            "ok": r.ok,
            "verdict": r.verdict,
            "seconds": r.seconds,
        }
        for r in results
    ]
    return _env.get_template("report.html.j2").render(
        title=f"sg-harness replay: {name}",
        summary=f"replay {name}: {matched} of {len(results)} steps match the seed",
        bad=matched != len(results) or not results,
        subtitle=[title] + ([document["summary_line"]] if document else []),
        changes=[],
        steps=steps,
        legend=LEGEND,
        timings=sorted(document["timings"].items()) if document else [],
        groups=document["groups"] if document else [],
        data=heatmap(document) if document else None,
    )
