"""Orchestration: the one place that wires the runtime, the compiler and the probers.

``verify`` runs a topology end to end: check prerequisites, start the lab, install every
instance's policy, probe the planned cells, probe the disagreeing cells once more, and remove
the lab on every exit path (success, failure, Ctrl-C), unless asked to keep a lab that was
fully built.
"""

from __future__ import annotations

import time

from harness.compiler import compile_lab
from harness.matrix import Matrix, compare, expectations, merge_retry
from harness.model import Instance, State, Topology
from harness.planner import Cell, plan
from harness.probe.base import ProbeJob, Prober, SourceBatch
from harness.progress import Progress
from harness.runtime.base import LiveLab, Runtime


def batches_for(
    topology: Topology, lab: LiveLab, cells: list[Cell], answered: set[Cell]
) -> list[SourceBatch]:
    """One batch per source; ``answered`` holds the cells the oracle expects an answer for."""
    nodes = topology.nodes_by_name
    by_source: dict[str, list[ProbeJob]] = {}
    for cell in cells:
        job = ProbeJob(cell, str(nodes[cell.target].address), cell in answered)
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
    topology: Topology, lab: LiveLab, prober: Prober, progress: Progress, retry: bool = True
) -> Matrix:
    cells = plan(topology)
    expected = expectations(topology, cells)
    answered = {cell for cell, e in expected.items() if e.state is not State.FILTERED}
    progress.start(f"probing {len(cells)} cells from {len(topology.nodes)} sources", len(cells))
    started = time.monotonic()
    observed = prober.run(batches_for(topology, lab, cells, answered), 0, progress.advance)
    results = compare(expected, observed)
    probe_time = time.monotonic() - started
    progress.finish("probe")
    wrong = [result.cell for result in results if not result.correct]
    if wrong and retry:
        progress.start(f"probing {len(wrong)} disagreeing cells once more", len(wrong))
        again = prober.run(batches_for(topology, lab, wrong, answered), 1, progress.advance)
        retried = compare({cell: expected[cell] for cell in wrong}, again, attempts=2)
        results = merge_retry(results, retried)
        progress.finish("retry")
    timings = {"probe": probe_time}
    return Matrix(topology, results, prober=prober.name, timings=timings)


def changed_policies(old: Topology, new: Topology) -> dict[str, str]:
    """The transactions of the instances whose compiled policy differs between two states.

    A rule change touches the group's members; a membership change touches every instance
    with a set of that group's addresses; comparing compiled policies finds exactly those.
    """
    before = compile_lab(old)
    return {name: text for name, text in compile_lab(new).items() if before.get(name) != text}


def apply_change(
    runtime: Runtime, lab: LiveLab, old: Topology, new: Topology, progress: Progress
) -> list[str]:
    """Bring a running lab's policies from ``old`` to ``new``: one atomic nft transaction per
    affected instance, nothing restarted. Returns the names of the instances updated."""
    policies = changed_policies(old, new)
    if policies:
        runtime.install(lab, policies, progress)
    return sorted(policies)


def verify(
    topology: Topology,
    runtime: Runtime,
    prober: Prober,
    progress: Progress,
    keep: bool = False,
) -> Matrix:
    """Build the lab, enforce its groups, measure the matrix, tear the lab down."""
    started = time.monotonic()
    runtime.check(topology)
    runtime.ensure_absent(topology.name)
    built = False
    try:
        live = runtime.up(topology, progress)
        runtime.install(live, compile_lab(topology), progress)
        built = True
        matrix = probe_matrix(topology, live, prober, progress)
    except BaseException:
        progress.interrupted()
        raise
    finally:
        if not (keep and built):
            runtime.down(topology.name, progress)
    matrix.runtime = runtime.name
    matrix.timings = {**progress.timings, **matrix.timings}
    matrix.timings["total"] = time.monotonic() - started
    if keep:
        progress.note(f"lab '{topology.name}' kept; remove it with 'sgh clean {topology.name}'")
    return matrix
