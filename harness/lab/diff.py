"""``sgh diff``: a change predicted by the oracle, then proven on one lab.

The lab is built from BEFORE and the compared cells are probed; the lab is then changed live
to AFTER through the one lifecycle (only what differs is touched) and the cells the change can
affect are probed again (the rest carried over, :func:`_unaffected`). The proof
holds when every cell's observation matches its prediction on both sides. The lab is removed
on every exit path.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

from harness.core.diff import Change, predict
from harness.core.incremental import Selection, affected, restarted
from harness.core.matrix import CellResult
from harness.core.model import Topology
from harness.core.oracle import Expectation
from harness.core.phases import Phases
from harness.core.planner import Cell
from harness.core.probing import Prober
from harness.core.runtime import Runtime
from harness.lab.lifecycle import Reconciled, reconcile, teardown
from harness.lab.measure import probe_cells
from harness.lab.one_shot import start


@dataclass(frozen=True)
class DiffResult:
    before: Topology
    after: Topology
    cells: list[Cell]
    changes: list[Change]
    observed_before: list[CellResult] = field(default_factory=list)
    observed_after: list[CellResult] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def proven(self) -> bool:
        results = (*self.observed_before, *self.observed_after)
        return bool(results) and all(result.correct for result in results)

    def wrong(self) -> list[tuple[str, CellResult]]:
        return [("before", r) for r in self.observed_before if not r.correct] + [
            ("after", r) for r in self.observed_after if not r.correct
        ]


def prove(
    before: Topology,
    after: Topology,
    runtime: Runtime,
    prober: Prober,
    phases: Phases,
) -> DiffResult:
    """Predict, then build BEFORE, probe, change it live to AFTER, probe again, remove."""
    started = time.monotonic()
    before, after = same_services(before, _named_as(after, before.name))
    cells, old, new, changes = predict(before, after)
    lab, built = start(runtime, before, phases)
    try:
        first = probe_cells(
            before, built.namespaces, old, prober=prober, phases=phases, label="before"
        )
        changing = time.monotonic()
        changed = reconcile(runtime, lab, after, built.applied, phases)
        change_time = time.monotonic() - changing
        again, carried = _unaffected(
            before, after, first, new, pids=built.namespaces.pids, changed=changed
        )
        probed = probe_cells(
            after, changed.namespaces, again, prober=prober, phases=phases, label="after"
        )
        if carried:
            phases.note(
                f"{len(carried)} cells carried over from before: the change cannot affect them"
            )
    finally:
        teardown(runtime, lab, phases)
    by_cell = {result.cell: result for result in (*probed, *carried)}
    second = [by_cell[cell] for cell in new]
    timings = {"change": change_time, "total": time.monotonic() - started}
    return DiffResult(before, after, cells, changes, first, second, timings)


def _unaffected(
    before: Topology,
    after: Topology,
    first: list[CellResult],
    new: dict[Cell, Expectation],
    *,
    pids: dict[str, int],
    changed: Reconciled,
) -> tuple[dict[Cell, Expectation], list[CellResult]]:
    """The cells to probe after the change (those of the pairs it can affect, of a node
    started again, or not proven before) and those carried over from before, as observed
    there (:func:`harness.core.incremental.affected`)."""
    change = affected(before, after)
    selected = Selection.of(change, restarted(pids, changed.namespaces.pids), ())
    seen = {result.cell: result for result in first}
    again: dict[Cell, Expectation] = {}
    carried: list[CellResult] = []
    for cell, expectation in new.items():
        was = seen.get(cell)
        if (
            was is None
            or not was.correct
            or was.expected.state is not expectation.state
            or change.everything
            or selected(cell.source, cell.target)
        ):
            again[cell] = expectation
        else:
            carried.append(CellResult(cell, expectation, was.observed, was.attempts))
    return again, carried


def same_services(before: Topology, after: Topology) -> tuple[Topology, Topology]:
    """Both sides with the same services: an instance present on both listens on the ports of
    either (a change of rules does not restart the machines; representatives listen on what
    their rules admit, which differs between the sides)."""
    listens = {i.name: set(i.listen) for i in before.instances}
    for instance in after.instances:
        listens.setdefault(instance.name, set()).update(instance.listen)

    def widened(topology: Topology) -> Topology:
        instances = tuple(
            replace(i, listen=tuple(sorted(listens[i.name]))) for i in topology.instances
        )
        return replace(topology, instances=instances)

    return widened(before), widened(after)


def _named_as(topology: Topology, name: str) -> Topology:
    return replace(topology, name=name)
