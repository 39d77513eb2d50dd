"""Renderers: the terminal grids, the breakdown of wrong cells, the JSON document."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from harness.core.matrix import CellResult, Matrix
from harness.core.model import Instance, Node, State, Topology
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


def _by_pair(results: list[CellResult]) -> dict[tuple[str, str], list[CellResult]]:
    pairs: dict[tuple[str, str], list[CellResult]] = defaultdict(list)
    for result in results:
        pairs[(result.cell.source, result.cell.target)].append(result)
    return pairs


def render_grids(matrix: Matrix) -> str:
    reach: dict[tuple[str, str], str] = {}
    compare: dict[tuple[str, str], str] = {}
    for pair, results in _by_pair(matrix.results).items():
        states = {r.observed.state for r in results}
        if State.OPEN in states:
            reach[pair] = "O"
        elif State.CLOSED in states:
            reach[pair] = "c"
        elif State.NOT_RUN in states and len(states) == 1:
            reach[pair] = "!"
        else:
            reach[pair] = "-"
        if any(r.incorrect for r in results):
            compare[pair] = "X"
        elif any(r.not_run for r in results):
            compare[pair] = "!"
        else:
            compare[pair] = "."
    lines = _grid(matrix, reach, "Reachability (rows: sources, columns: targets)", LEGEND_REACH)
    lines.append("")
    lines += _grid(matrix, compare, "Observed vs expected", LEGEND_COMPARE)
    return "\n".join(lines)


def render_by_port(matrix: Matrix) -> str:
    """One reachability grid a probed port (``tcp/80``, ``icmp``): which ports are open."""
    by_probe: dict[str, dict[tuple[str, str], str]] = defaultdict(dict)
    order: dict[str, tuple[Any, ...]] = {}
    for result in matrix.results:
        probe = result.cell.probe
        name = str(probe)
        order[name] = probe.sort_key()
        pair = (result.cell.source, result.cell.target)
        glyph = GLYPHS[result.observed.state]
        held = by_probe[name].get(pair)  # a VPC pair probed at several addresses: the most open
        if held is None or RANK.index(glyph) < RANK.index(held):
            by_probe[name][pair] = glyph
    parts = []
    for name in sorted(by_probe, key=lambda n: order[n]):
        parts.append(
            "\n".join(_grid(matrix, by_probe[name], f"Reachability on {name}", LEGEND_PORT))
        )
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


def render(matrix: Matrix, by_port: bool = False) -> str:
    """The grids (one a port too, with ``by_port``), the wrong cells by cause, the summary."""
    parts = [render_grids(matrix)]
    if by_port:
        parts.append(render_by_port(matrix))
    wrong = render_wrong(matrix)
    if wrong:
        parts.append(wrong)
    parts.append(matrix.summary.line())
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


def to_json(matrix: Matrix) -> dict[str, Any]:
    topology = matrix.topology
    summary = matrix.summary
    nodes = topology.nodes_by_name
    return {
        "lab": topology.name,
        "runtime": matrix.runtime,
        "prober": matrix.prober,
        "topology": topology.source,
        "nodes": nodes_json(topology),
        "cells": [
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
            }
            for r in matrix.results
        ],
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
