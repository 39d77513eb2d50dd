"""Renderers: the terminal grids, the breakdown of wrong cells, the JSON document."""

from __future__ import annotations

import json
import re
from array import array
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness.core.matrix import STATES, CellResult, Matrix
from harness.core.model import Instance, Node, State, Topology
from harness.core.oracle import Expectation, Verdict
from harness.core.vpc_path import source_port

LEGEND_REACH = (
    "reachability observed: O some port open (--by-port names which), c answered but closed "
    "only, - nothing answers, ! not run, blank: not probed (a node and itself)"
)
LEGEND_PORT = (
    "O open, c closed, - nothing answers (filtered), ! not run, blank: not probed on this port"
)
LEGEND_COMPARE = "comparison with the rules: . as expected, X wrong, ! not run, blank: not probed"
GLYPHS = {State.OPEN: "O", State.CLOSED: "c", State.FILTERED: "-", State.NOT_RUN: "!"}
RANK = "Oc-!"  # the most open first


def _row_label(node: Node, topology: Topology) -> str:
    """A persistent lab's instance ids with what a person calls them and their groups
    (``i-94455486 web server [apache]``); a topology file's names say it already."""
    if not _is_lab(topology) or not isinstance(node, Instance):
        return node.name
    groups = ",".join(key.label(topology.account) for key in node.groups)
    return f"{node.name} {node.label} [{groups}]".replace("  ", " ")


def _is_lab(topology: Topology) -> bool:
    return topology.source.startswith("lab ")


def _grid(matrix: Matrix, glyph: dict[tuple[str, str], str], title: str, legend: str) -> list[str]:
    """A grid of one glyph a pair. Columns are headed by their names written downwards; in a
    persistent lab, whose names are instance ids, by the number of their row instead."""
    topology = matrix.topology
    rows = [node.name for node in topology.nodes]
    labels = {node.name: _row_label(node, topology) for node in topology.nodes}
    cols = [instance.name for instance in topology.instances]
    heads = {name: name for name in cols}
    if _is_lab(topology):
        numbers = {name: str(index) for index, name in enumerate(rows, 1)}
        digits = len(str(len(rows)))
        labels = {name: f"{numbers[name].rjust(digits)} {label}" for name, label in labels.items()}
        heads = {name: numbers[name].rjust(digits) for name in cols}
    width = max(len(label) for label in labels.values()) + 2
    height = max(len(head) for head in heads.values())
    lines = [title, f"  ({legend})"]
    for level in range(height):
        chars = [heads[name][level] if level < len(heads[name]) else " " for name in cols]
        lines.append(" " * width + " ".join(chars).rstrip())
    for row in rows:
        cells = [glyph.get((row, col), " ") for col in cols]
        lines.append(labels[row].ljust(width) + " ".join(cells).rstrip())
    return lines


GRID_LIMIT = 200  # nodes: a bigger lab's grids are not drawn in the terminal
_OPEN, _CLOSED, _FILTERED, _NOT_RUN = (STATES.index(state) for state in GLYPHS)


def _pair_codes(matrix: Matrix) -> Iterator[tuple[tuple[str, str], set[int], bool, bool]]:
    """Each pair: its names, the states observed, whether a cell is wrong, whether one was
    not run (read from the table's numbers, not from a million results)."""
    table = matrix.table
    observed, expected = table.observed_states(), table.expected
    names = [node.name for node in table.nodes]
    for s, t, start, stop in table.pairs():
        seen = set(observed[start:stop])
        wrong = any(
            o not in (e, _NOT_RUN)
            for o, e in zip(observed[start:stop], expected[start:stop], strict=True)
        )
        yield (names[s], names[t]), seen, wrong, _NOT_RUN in seen


def grids_skipped(matrix: Matrix) -> str:
    """Why the grids are not drawn ("" when they are)."""
    nodes = len(matrix.topology.nodes)
    if nodes <= GRID_LIMIT:
        return ""
    return (
        f"(the grids are not drawn for {nodes} sources by {len(matrix.topology.instances)} "
        f"targets: more than {GRID_LIMIT} nodes; --html draws them as a heatmap, --json "
        "lists every cell)"
    )


def render_grids(matrix: Matrix) -> str:
    skipped = grids_skipped(matrix)
    if skipped:
        return skipped
    reach: dict[tuple[str, str], str] = {}
    compare: dict[tuple[str, str], str] = {}
    for pair, seen, wrong, not_run in _pair_codes(matrix):
        if _OPEN in seen:
            reach[pair] = "O"
        elif _CLOSED in seen:
            reach[pair] = "c"
        elif seen == {_NOT_RUN}:
            reach[pair] = "!"
        else:
            reach[pair] = "-"
        compare[pair] = "X" if wrong else "!" if not_run else "."
    lines = _grid(matrix, reach, "Reachability (rows: sources, columns: targets)", LEGEND_REACH)
    lines.append("")
    lines += _grid(matrix, compare, "Observed vs expected", LEGEND_COMPARE)
    return "\n".join(lines)


def render_by_port(matrix: Matrix) -> str:
    """One reachability grid a probed port (``tcp/80``, ``icmp``): which ports are open."""
    if grids_skipped(matrix):
        return ""
    table = matrix.table
    names = [node.name for node in table.nodes]
    glyphs = [GLYPHS[o.state] for o in table.seen]
    by_probe: dict[int, dict[tuple[str, str], str]] = defaultdict(dict)
    for s, t, p, o in zip(table.source, table.target, table.probe, table.observed, strict=True):
        pair = (names[s], names[t])
        glyph = glyphs[o]
        held = by_probe[p].get(pair)  # a VPC pair probed at several addresses: the most open
        if held is None or RANK.index(glyph) < RANK.index(held):
            by_probe[p][pair] = glyph
    parts = []
    for p in sorted(by_probe, key=lambda p: table.probes[p].sort_key()):
        title = f"Reachability on {table.probes[p]}"
        parts.append("\n".join(_grid(matrix, by_probe[p], title, LEGEND_PORT)))
    return "\n\n".join(parts)


def states(result: CellResult) -> str:
    """``expected open, observed filtered (no reply)``"""
    detail = f" ({result.observed.detail})" if result.observed.detail else ""
    return f"expected {result.expected.state}, observed {result.observed.state}{detail}"


def explain(result: CellResult) -> str:
    """``expected open, observed filtered (no reply); expected because apache: ...``"""
    return f"{states(result)}; expected because {result.expected.why}"


def render_cell(source: str, target: str, results: list[CellResult]) -> str:
    """``sgh explain``: every probe of one cell with expected, observed and the why-text."""
    lines = [f"{source} -> {target}: {len(results)} probe{'s' if len(results) != 1 else ''}"]
    for r in results:
        verdict = "as expected" if r.correct else "NOT RUN" if r.not_run else "WRONG"
        at = f" at {r.cell.address}" if r.cell.address else ""
        lines.append(f"  {r.cell.probe}{at}: {states(r)}: {verdict}")
        lines.append(f"    why: {r.expected.why}")
    wrong = sum(1 for r in results if not r.correct)
    lines.append(
        "every probe as the rules imply" if not wrong else f"{wrong} of {len(results)} disagree"
    )
    return "\n".join(lines)


def cell_line(result: CellResult) -> str:
    """A wrong cell in one line: ``internet -> web-1 tcp/80: expected ...``."""
    cell = result.cell
    return f"{cell.source} -> {cell.target} {cell.probe}: {explain(result)}"


def _cause(result: CellResult) -> tuple[str, str]:
    """What wrong cells share: a cell not run, its reason; a wrong verdict, the expected and
    observed states and the rules behind the expectation, or, where no rule allows the cell,
    its target (the node whose policy disagrees)."""
    if result.not_run:
        return "not run", result.observed.detail or "no reason given"
    head = states(result)
    if result.expected.allowed_by:
        return head, "allowed by " + "; ".join(result.expected.allowed_by)
    return head, f"to {result.cell.target}, where no rule allows them"


def wrong_by_cause(matrix: Matrix) -> dict[tuple[str, str], list[CellResult]]:
    """The wrong and not-run cells grouped by cause, largest group first."""
    groups: dict[tuple[str, str], list[CellResult]] = defaultdict(list)
    for result in matrix.wrong():
        groups[_cause(result)].append(result)
    return dict(sorted(groups.items(), key=lambda item: -len(item[1])))


def _folded(results: list[CellResult]) -> list[str]:
    """Cells folded by source, then by the probes that share the same targets:
    ``web-3 -> app-1 app-2: tcp/22 icmp``."""
    by_source: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for result in results:
        cell = result.cell
        at = f"@{cell.address}" if cell.address else ""
        by_source[cell.source][str(cell.probe)].append(cell.target + at)
    lines = []
    for source, probes in by_source.items():
        shared: dict[tuple[str, ...], list[str]] = defaultdict(list)
        for probe, targets in probes.items():
            shared[tuple(targets)].append(probe)
        for same, probe_list in shared.items():
            lines.append(f"{source} -> {' '.join(same)}: {' '.join(probe_list)}")
    return lines


def wrong_lines(matrix: Matrix) -> list[str]:
    """Every wrong and not-run cell, grouped by cause (the same rule, the same node, the same
    reason a probe could not be sent), each group folded by source and probes. Nothing is cut
    off."""
    lines = []
    for (head, cause), results in wrong_by_cause(matrix).items():
        lines.append(f"  {head}: {len(results)} cell{'s' if len(results) != 1 else ''}")
        lines.append(f"    {cause}")
        first = results[0]
        if not first.not_run and not first.expected.allowed_by:  # grouped by target
            lines.append(f"    (for example: {first.expected.why})")
        lines.extend(f"    {line}" for line in _folded(results))
    return lines


def render_wrong(matrix: Matrix) -> str:
    """:func:`wrong_lines` under their count; "" when every cell agrees."""
    wrong = matrix.wrong()
    if not wrong:
        return ""
    return "\n".join([f"Cells that disagree ({len(wrong)}), by cause:", *wrong_lines(matrix)])


PLANS = {
    "full": "every port interval the rules cut, per pair",
    "classes": "one probe per pair and behaviour class the rules imply",
}


def plan_line(matrix: Matrix) -> str:
    """Which plan ran: ``plan: classes (one probe per pair and ...)``."""
    return f"plan: {matrix.plan} ({PLANS[matrix.plan]})"


def carried_line(matrix: Matrix) -> str:
    """A run that carried cells over from the last proof: how many were probed now, how many
    carried, since when ("" for a run that probed every cell)."""
    if "carry" not in matrix.timings:
        return ""
    table = matrix.table
    oldest = min((table.times[code] for code in set(table.proven)), default=0.0)
    since = f" (proven since {_stamp(oldest)})" if matrix.carried else ""
    return (
        f"{len(table) - matrix.carried} cells probed now (the pairs the changes since the last "
        f"proof can affect, and any not proven), {matrix.carried} carried over{since}; "
        "--all probes every cell"
    )


def _stamp(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="seconds")


def render(matrix: Matrix, by_port: bool = False) -> str:
    """The grids (one a port too, with ``by_port``), the wrong cells by cause, the plan that
    ran (and what was carried over) and the summary."""
    parts = [render_grids(matrix)]
    if by_port and not grids_skipped(matrix):
        parts.append(render_by_port(matrix))
    wrong = render_wrong(matrix)
    if wrong:
        parts.append(wrong)
    carried = carried_line(matrix)
    parts.append(
        "\n".join([plan_line(matrix), *([carried] if carried else []), matrix.summary.line()])
    )
    return "\n\n".join(parts)


def _interfaces(node: Node, home: str) -> dict[str, Any]:
    """A VPC node's interfaces (an outside host: its IPv6 address)."""
    if not isinstance(node, Instance):
        return {"address6": str(node.address6) if node.address6 is not None else None}
    return {
        "interfaces": [
            {
                "subnet": nic.subnet,
                "private": str(nic.address),
                "public": str(nic.public) if nic.public is not None else None,
                "ipv6": str(nic.ipv6) if nic.ipv6 is not None else None,
                "groups": [key.label(home) for key in nic.groups],
            }
            for nic in node.nics
        ]
    }


def nodes_json(topology: Topology) -> list[dict[str, Any]]:
    """The nodes of a lab as the JSON document (and the HTML report's axes) show them."""
    return [
        {
            "name": node.name,
            "kind": node.kind,
            "address": str(node.address),
            "groups": [key.label(topology.account) for key in node.groups],
            **({"label": node.label} if isinstance(node, Instance) and node.label else {}),
            **(
                {"listen": [str(item) for item in node.listen]}
                if isinstance(node, Instance)
                else {}
            ),
            **(_interfaces(node, topology.account) if topology.is_vpc else {}),
        }
        for node in topology.nodes
    ]


def path_json(topology: Topology) -> dict[str, Any]:
    """A VPC lab's path beyond the groups, for a reader who wants to know which address a
    packet carries where: each VPC's router (the first address of each of its subnets) and
    the internet gateway, with the public address each private one is translated to."""
    gateway = topology.gateway
    return {
        "routers": [
            {
                "name": router.name,
                "kind": router.kind,
                "vpc": router.vpc,
                "subnets": {
                    subnet.name: str(subnet.cidr.network_address + 1)
                    for subnet in topology.vpcs_by_name[router.vpc].subnets
                },
            }
            for router in topology.routers
        ],
        "internet_gateway": None
        if gateway is None
        else {
            "name": gateway.name,
            "kind": gateway.kind,
            "translates": {
                str(private): str(public) for private, public in topology.translations.items()
            },
        },
        "nat_gateways": [
            {
                "name": nat.label,
                "kind": nat.kind,
                "vpc": nat.vpc,
                "subnet": nat.subnet,
                "address": str(nat.address),
                "elastic_ip": None if nat.public is None else str(nat.public),
            }
            for nat in topology.nat_gateways
        ],
        "peerings": [
            {"name": peering.name, "vpcs": list(peering.vpcs)} for peering in topology.peerings
        ],
    }


def groups_json(topology: Topology) -> list[dict[str, Any]]:
    """Every group with its rules as written."""
    return [
        {
            "name": group.key.label(topology.account),
            "vpc": group.vpc,
            "description": group.description,
            "ingress": [rule.as_written(topology.account) for rule in group.rules],
            "egress": None
            if group.egress is None
            else [rule.as_written(topology.account, "to") for rule in group.egress],
        }
        for group in topology.groups
    ]


def _source_port(matrix: Matrix, result: CellResult) -> int | None:
    """The source port the probe of a TCP or UDP cell was sent from (scapy's probes: each
    cell's own, see :func:`harness.core.vpc_path.source_port`; ``None`` for other probers,
    which choose their own)."""
    cell = result.cell
    if cell.probe.port is None or matrix.prober != "scapy":
        return None
    source = matrix.topology.nodes_by_name[cell.source]
    return source_port(
        cell.source,
        cell.target,
        cell.address,
        str(cell.probe),
        round_number=max(result.attempts - 1, 0),
        avoid=source.listen_ports,
    )


COMPACT_CELLS = 100_000  # cells: a bigger run's JSON document takes the compact form
FORMS = ("auto", "cells", "compact")


def to_json(matrix: Matrix, form: str = "auto") -> dict[str, Any]:
    """The JSON document of a run. Its cells are a list of objects (``"cells"``) up to
    :data:`COMPACT_CELLS`, and beyond (or with ``form="compact"``) the compact form
    (``"form": "compact"``, ``"compact"``: tables and one column of numbers a field, see
    :func:`compact_cells`), which a reader expecting ``"cells"`` cannot mistake for an empty
    run."""
    topology = matrix.topology
    summary = matrix.summary
    compact = form == "compact" or (form == "auto" and len(matrix.results) > COMPACT_CELLS)
    return {
        "lab": topology.name,
        "runtime": matrix.runtime,
        "prober": matrix.prober,
        "plan": matrix.plan,
        "carried": matrix.carried,
        "topology": topology.source,
        "nodes": nodes_json(topology),
        **(
            {"form": "compact", "compact": compact_cells(matrix)}
            if compact
            else {"cells": cells_json(matrix)}
        ),
        "groups": groups_json(topology),
        **({"path": path_json(topology)} if topology.is_vpc else {}),
        "summary_line": summary.line(),
        "summary": {
            "cells": summary.cells,
            "correct": summary.correct,
            "incorrect": summary.incorrect,
            "not_run": summary.not_run,
        },
        "timings": {key: round(value, 3) for key, value in matrix.timings.items()},
    }


def cells_json(matrix: Matrix) -> list[dict[str, Any]]:
    """Every cell as an object (the document of a small run)."""
    nodes = matrix.topology.nodes_by_name
    table = matrix.table
    stamps = [_stamp(t) for t in table.times]
    return [
        {
            "from": r.cell.source,
            "to": r.cell.target,
            "address": r.cell.address or str(nodes[r.cell.target].address),
            "protocol": str(r.cell.probe.protocol),
            "port": r.cell.probe.port,
            "source_port": _source_port(matrix, r),
            "expected": str(r.expected.state),
            "observed": str(r.observed.state),
            "correct": r.correct,
            "why": r.expected.why,
            "allowed_by": list(r.expected.allowed_by),
            "detail": r.observed.detail,
            "attempts": r.attempts,
            "proven": stamps[table.proven[i]],
        }
        for i, r in enumerate(table)
    ]


COLUMNS = (
    "from",
    "to",
    "address",
    "probe",
    "expected",
    "observed",
    "verdict",
    "attempts",
    "proven",
)


def compact_cells(matrix: Matrix) -> dict[str, Any]:
    """A big run's cells (``docs/reference/json-report.md``): small tables, and one column of
    numbers a field, cell ``i`` being the ``i``-th number of every column. ``from`` and
    ``to`` index the document's ``nodes``; ``address``, ``probe``, ``observed`` and
    ``verdict`` their tables here; ``expected`` the ``states``. A verdict gives the rules that
    allow the cell and the oracle's words (for a filtered cell, what no rule allows; ``sgh
    explain`` names the pair in them). The columns are arrays of numbers until written
    (:func:`write_json`)."""
    table = matrix.table
    addresses = list(table.addresses)
    own = {address: code for code, address in enumerate(addresses)}
    # "" is the target's one address: each target's, written out
    by_target = [own.setdefault(str(node.address), len(own)) for node in table.nodes]
    addresses = list(own)
    blank = own.get("", -1)
    address = table.address
    if blank >= 0:
        address = array(
            "I",
            (
                by_target[t] if a == blank else a
                for a, t in zip(table.address, table.target, strict=True)
            ),
        )
    words = [_verdict_words(verdict) for verdict in table.verdicts]
    verdict_rows: list[dict[str, Any]] = []
    column, expected = table.verdict, table.expected
    if not table.oracle.judges_path:  # each cell's expected state is its verdict's
        verdict_rows = [{"allowed_by": rules, "why": why} for _, rules, why in words]
    else:  # judged along each cell's own path: a verdict and a state make a row
        known: dict[tuple[int, int], int] = {}
        column = array("I")
        for v, e in zip(table.verdict, expected, strict=True):
            row = known.get((v, e))
            if row is None:
                row = known[(v, e)] = len(verdict_rows)
                state, allowed_by, why = words[v]
                if STATES[e].value != state:  # dropped beyond the groups: an ACL or a route
                    why = (
                        f"{why}; then dropped on its path (a network ACL or a route): sgh "
                        "explain names the component"
                    )
                verdict_rows.append({"allowed_by": allowed_by, "why": why})
            column.append(row)
    attempts = array("B", [1]) * len(table)
    for i, count in table.attempts.items():
        attempts[i] = count
    return {
        "states": [state.value for state in STATES],
        "addresses": addresses,
        "probes": [{"protocol": str(probe.protocol), "port": probe.port} for probe in table.probes],
        "observations": [{"observed": str(o.state), "detail": o.detail} for o in table.seen],
        "verdicts": verdict_rows,
        "times": [_stamp(t) for t in table.times],
        "columns": list(COLUMNS),
        "cells": dict(
            zip(
                COLUMNS,
                (
                    table.source,
                    table.target,
                    address,
                    table.probe,
                    expected,
                    table.observed,
                    column,
                    attempts,
                    table.proven,
                ),
                strict=True,
            )
        ),
    }


def _verdict_words(verdict: Verdict | Expectation) -> tuple[str, list[str], str]:
    """A verdict's state, rules and words, the pair left out of a filtered one's."""
    if isinstance(verdict, Expectation):
        return verdict.state.value, list(verdict.allowed_by), verdict.why
    side, found = verdict
    why = found.why
    if side == "entering":
        why = f"no ingress rule of the target's groups allows {why} from the source"
    elif side == "leaving":
        why = f"no egress rule of the source's groups allows {why} to the target"
    return found.state.value, list(found.allowed_by), why


def write_json(document: dict[str, Any], path: Path) -> None:
    """The document, indented, written piece by piece: a compact document's columns (arrays of
    a million numbers) each on one line, never all in one string."""
    columns: list[array[int]] = []

    def placeholder(value: object) -> str:
        if not isinstance(value, array):
            raise TypeError(f"{type(value).__name__} is not JSON")
        columns.append(value)
        return f"\x00column {len(columns) - 1}\x00"

    text = json.dumps(document, indent=2, default=placeholder)
    pieces = re.split(r'"\\u0000column (\d+)\\u0000"', text)
    with path.open("w", encoding="utf-8") as out:
        for n, piece in enumerate(pieces):
            if n % 2 == 0:
                out.write(piece)
                continue
            column = columns[int(piece)]
            for start in range(0, len(column) or 1, 1 << 20):  # a million numbers at a time
                text = json.dumps(column[start : start + (1 << 20)].tolist(), separators=(",", ":"))
                first, last = start == 0, start + (1 << 20) >= len(column)
                out.write(
                    text[0 if first else 1 : len(text) if last else -1] + ("" if last else ",")
                )
        out.write("\n")
