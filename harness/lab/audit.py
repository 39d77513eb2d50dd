"""``sgh lint --prove``: the audit's reachability claims sent as packets.

The lab is built from the topology plus the witness hosts the audit made (an outside host in
each source block the lab has no host in), every cell behind a finding's "reachable" or "not
reachable" is probed from its witness, and each finding gets the verdict of its own cells.
The lab is removed on every exit path.
"""

from __future__ import annotations

from dataclasses import replace

from harness.core.audit import Finding
from harness.core.matrix import CellResult
from harness.core.model import Instance, Topology
from harness.core.oracle import Oracle
from harness.core.phases import Phases
from harness.core.planner import Cell
from harness.core.probing import Prober
from harness.core.runtime import Runtime
from harness.lab.lifecycle import teardown
from harness.lab.measure import probe_cells
from harness.lab.one_shot import start


def prove(
    topology: Topology,
    findings: list[Finding],
    runtime: Runtime,
    prober: Prober,
    phases: Phases,
) -> tuple[list[Finding], list[CellResult]]:
    """Each finding with a reachability claim, with ``proof`` set from its cells' packets;
    and every probed cell's result."""
    witnesses = {
        f.reach.witness.name: f.reach.witness
        for f in findings
        if f.reach is not None and f.reach.witness is not None
    }
    extra = tuple(w for name, w in witnesses.items() if name not in topology.nodes_by_name)
    lab_topology = replace(topology, hosts=(*topology.hosts, *extra))
    cells = list(dict.fromkeys(c for f in findings if f.reach is not None for c in f.reach.cells))
    if not cells:
        return findings, []
    oracle = Oracle(lab_topology)
    nodes = lab_topology.nodes_by_name
    expected = {}
    for cell in cells:
        target = nodes[cell.target]
        assert isinstance(target, Instance)
        expected[cell] = oracle.evaluate(nodes[cell.source], target, cell.probe, cell.address)
    lab, built = start(runtime, lab_topology, phases)
    try:
        results = probe_cells(
            lab_topology, built.namespaces, expected, prober=prober, phases=phases, label="audit"
        )
    finally:
        teardown(runtime, lab, phases)
    by_cell: dict[Cell, CellResult] = {result.cell: result for result in results}
    proven = []
    for finding in findings:
        if finding.reach is None or not finding.reach.cells:
            proven.append(finding)
            continue
        mine = [by_cell[cell] for cell in finding.reach.cells]
        wrong = [r for r in mine if not r.correct]
        if wrong:
            first = wrong[0]
            text = (
                f"NOT proven: {len(wrong)} of {len(mine)} cells disagree ({first.cell.source} -> "
                f"{first.cell.target} {first.cell.probe}: expected {first.expected.state}, "
                f"observed {first.observed.state})"
            )
        else:
            states = ", ".join(sorted({str(r.observed.state) for r in mine}))
            cells_text = f"{len(mine)} cell{'s' * (len(mine) != 1)}"
            text = f"proven by packets: {cells_text} observed as predicted ({states})"
        proven.append(replace(finding, proof=text))
    return proven, results
