"""``sgh diff`` reports: the terminal text, JSON, Markdown (short enough for a pull-request
comment) and JUnit. Changed cells are grouped by kind and by the rule that causes them."""

from __future__ import annotations

from typing import Any

from harness.core.diff import CLOSED, OPENED, REASON, Change, by_cause
from harness.core.planner import Cell

TITLES = {OPENED: "opened", CLOSED: "closed", REASON: "changed reason"}
MAX_CELLS_MD = 8  # cells listed per cause in Markdown


def cell_text(cell: Cell) -> str:
    at = f" at {cell.address}" if cell.address else ""
    return f"{cell.source} -> {cell.target} {cell.probe}{at}"


def counts(changes: list[Change]) -> str:
    return ", ".join(
        f"{sum(1 for c in changes if c.kind == kind)} {title}" for kind, title in TITLES.items()
    )


def headline(cells: int, changes: list[Change]) -> str:
    """``36 cells compared: 1 opened, 1 closed, 0 changed reason``"""
    return f"{cells} cells compared: {counts(changes)}"


def render(cells: int, changes: list[Change], proof: str | None, gate: list[Change] | None) -> str:
    lines = [headline(cells, changes)]
    for (kind, cause), group in by_cause(changes).items():
        lines.append("")
        lines.append(f"{TITLES[kind]} by {cause}: {len(group)} cells")
        for change in group:
            lines.append(
                f"  {cell_text(change.cell)}: {change.before.state} -> {change.after.state}"
            )
    if proof is not None:
        lines.append("")
        lines.append(proof)
    if gate:
        lines.append("")
        lines.append(f"GATE: the change opens {len(gate)} cells to outside addresses:")
        lines.extend(f"  {cell_text(change.cell)}" for change in gate)
    return "\n".join(lines)


def to_json(
    cells: int, changes: list[Change], proven: bool | None, gate: list[Change] | None
) -> dict[str, Any]:
    return {
        "cells": cells,
        "proven": proven,
        "gate_failed": bool(gate),
        "changes": [
            {
                "kind": change.kind,
                "cause": change.cause,
                "source": change.cell.source,
                "target": change.cell.target,
                "probe": str(change.cell.probe),
                "address": change.cell.address,
                "before": str(change.before.state),
                "after": str(change.after.state),
                "why_before": change.before.why,
                "why_after": change.after.why,
                "gate": change in (gate or []),
            }
            for change in changes
        ],
    }


def markdown(
    title: str, cells: int, changes: list[Change], proof: str | None, gate: list[Change] | None
) -> str:
    lines = [f"### sg-harness diff: {title}", "", f"{headline(cells, changes)}."]
    if proof is not None:
        lines += ["", f"**Proof by packets:** {proof}"]
    if gate:
        lines += ["", f"**Gate failed:** {len(gate)} cells opened to outside addresses."]
    for (kind, cause), group in by_cause(changes).items():
        lines += ["", f"**{TITLES[kind]}** by `{cause}` ({len(group)} cells)", ""]
        lines += [
            f"- `{cell_text(c.cell)}`: {c.before.state} → {c.after.state}"
            for c in group[:MAX_CELLS_MD]
        ]
        if len(group) > MAX_CELLS_MD:
            lines.append(f"- … and {len(group) - MAX_CELLS_MD} more")
    return "\n".join(lines) + "\n"
