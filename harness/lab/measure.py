"""Measuring a running lab: the planned cells probed from every source, compared with the rules.

Probes that disagree with the oracle are sent once more (a lost packet is not a verdict); cells
that could not be probed stay ``not-run``, never ``filtered``.
"""

from __future__ import annotations

import time

from harness.core.matrix import CellResult, Matrix, compare, expectations, merge_retry
from harness.core.model import Instance, State, Topology
from harness.core.oracle import Expectation
from harness.core.paths import paths
from harness.core.phases import Phases
from harness.core.planner import Cell, plan
from harness.core.probing import ProbeJob, Prober, SourceBatch
from harness.core.runtime import LabNamespaces


def batches_for(
    topology: Topology, lab: LabNamespaces, cells: list[Cell], answered: set[Cell]
) -> list[SourceBatch]:
    """One batch per source; ``answered`` holds the cells the oracle expects an answer for."""
    nodes = topology.nodes_by_name
    by_source: dict[str, list[ProbeJob]] = {}
    routes: dict[tuple[str, str], dict[str, str]] = {}
    for cell in cells:
        source_address = ""
        if cell.address:
            key = (cell.source, cell.target)
            if key not in routes:
                target = nodes[cell.target]
                assert isinstance(target, Instance)
                routes[key] = {
                    str(path.address): str(path.source_address)
                    for path in paths(topology, nodes[cell.source], target)
                }
            source_address = routes[key].get(cell.address, "")
        target_address = cell.address or str(nodes[cell.target].address)
        job = ProbeJob(cell, target_address, cell in answered, source_address)
        by_source.setdefault(cell.source, []).append(job)
    batches = []
    for source, jobs in by_source.items():
        node = nodes[source]
        avoid = (
            frozenset(item.port for item in node.listen)
            if isinstance(node, Instance)
            else frozenset()
        )
        batches.append(SourceBatch(source, lab.netns(source), str(node.address), jobs, avoid))
    return batches


def probe_matrix(
    topology: Topology,
    lab: LabNamespaces,
    prober: Prober,
    phases: Phases,
    *,
    retry: bool = True,
    runtime: str = "docker",
    classes: bool = False,
) -> Matrix:
    cells = plan(topology, classes=classes)
    expected = expectations(topology, cells)
    answered = {cell for cell, e in expected.items() if e.state is not State.FILTERED}
    phases.start(f"probing {len(cells)} cells from {len(topology.nodes)} sources", len(cells))
    started = time.monotonic()
    observed = prober.run(batches_for(topology, lab, cells, answered), 0, phases.advance)
    results = compare(expected, observed)
    timings = {"probe": time.monotonic() - started}
    phases.finish("probe")
    wrong = [result.cell for result in results if not result.correct]
    if wrong and retry:
        phases.start(f"probing {len(wrong)} disagreeing cells once more", len(wrong))
        started = time.monotonic()
        again = prober.run(batches_for(topology, lab, wrong, answered), 1, phases.advance)
        retried = compare({cell: expected[cell] for cell in wrong}, again, attempts=2)
        results = merge_retry(results, retried)
        timings["retry"] = time.monotonic() - started
        phases.finish("retry")
    return Matrix(topology, results, runtime=runtime, prober=prober.name, timings=timings)


def probe_cells(
    topology: Topology,
    namespaces: LabNamespaces,
    expected: dict[Cell, Expectation],
    *,
    prober: Prober,
    phases: Phases,
    label: str,
) -> list[CellResult]:
    """Probe the cells of ``expected`` (once more for those that disagree)."""
    cells = list(expected)
    answered = {cell for cell, e in expected.items() if e.state is not State.FILTERED}
    phases.start(f"probing {len(cells)} cells {label}", len(cells))
    observed = prober.run(batches_for(topology, namespaces, cells, answered), 0, phases.advance)
    phases.finish(f"probe {label}")
    results = compare(expected, observed)
    wrong = [result.cell for result in results if not result.correct]
    if wrong:
        again = prober.run(batches_for(topology, namespaces, wrong, answered), 1, phases.advance)
        retried = compare({cell: expected[cell] for cell in wrong}, again, attempts=2)
        results = merge_retry(results, retried)
    return results
