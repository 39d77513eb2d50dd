"""A one-shot lab (``sgh run``): reconciled once from nothing, measured, torn down.

``verify`` checks prerequisites, refuses a lab whose name a live run holds, builds the lab
through the one lifecycle (:mod:`harness.lab.lifecycle`), probes the planned cells (once more
for the disagreeing ones) and removes the lab on every exit path (success, failure, Ctrl-C,
SIGTERM), unless asked to keep a lab that was fully built.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import replace

from harness.core.matrix import CellResult, Matrix, expectations
from harness.core.model import Topology
from harness.core.phases import Phases
from harness.core.planner import Cell
from harness.core.probing import Prober
from harness.core.runtime import LabInfo, LabKind, LabRef, Runtime
from harness.errors import LabError
from harness.lab.lifecycle import Reconciled, Timed, reconcile, teardown
from harness.lab.measure import check_source_ports, probe_cells, probe_matrix


def claim(runtime: Runtime, lab: LabRef, phases: Phases) -> None:
    """Make the name ``lab`` free for a new one-shot lab: a lab of that name whose owner still
    runs is refused; one whose owner is gone (kept with --keep, or left by a crash) is
    removed, with a note. Persistent labs are another kind and are never touched."""
    for info in runtime.labs():
        if info.name != lab.name or info.kind is not lab.kind:
            continue
        if in_use(info):
            raise LabError(
                f"a {lab.kind} lab named '{lab.name}' is in use by process {info.owner}; "
                "wait for it to end (or stop it) first"
            )
        phases.note(f"removing {lab}, left by an earlier run ({info.containers} containers)")
        teardown(runtime, lab, phases)


def in_use(info: LabInfo) -> bool:
    """A one-shot lab whose owning process (another than this one) still runs."""
    return bool(info.owner) and info.owner != os.getpid() and _alive(info.owner)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def start(
    runtime: Runtime, topology: Topology, phases: Phases, kind: LabKind = LabKind.RUN
) -> tuple[LabRef, Reconciled]:
    """Build a one-shot lab; on any failure or interrupt nothing of it is left."""
    lab = LabRef(topology.name, kind, os.getpid())
    runtime.check(topology)
    claim(runtime, lab, phases)
    try:
        return lab, reconcile(runtime, lab, topology, {}, phases)
    except BaseException:
        phases.interrupted()
        teardown(runtime, lab, phases)
        raise


def verify(
    topology: Topology,
    runtime: Runtime,
    prober: Prober,
    phases: Phases,
    *,
    keep: bool = False,
    answer: Callable[[Matrix], None] | None = None,
    classes: bool | None = None,
) -> Matrix:
    """Build the lab, enforce its groups, measure the matrix, tear the lab down. ``answer``
    gets the matrix (its ``total`` is the time to the verdict) **before** the teardown, so
    that the user's answer does not wait for it; the matrix returned has the teardown too.
    ``classes``: one probe per pair and behaviour class (``planner.plan(classes=True)``);
    ``None``, as the lab's size decides (:func:`harness.lab.measure.by_classes`)."""
    started = time.monotonic()
    check_source_ports(topology, prober)  # before anything is built
    lab, built = start(runtime, topology, phases)
    try:
        matrix = probe_matrix(
            topology, built.namespaces, prober, phases, runtime=runtime.name, classes=classes
        )
        timings = {**built.timings, **matrix.timings, "total": time.monotonic() - started}
        if answer is not None:
            answer(replace(matrix, timings=timings))
    except BaseException:
        phases.interrupted()
        teardown(runtime, lab, phases)
        raise
    down = Timed(phases)
    if not keep:
        teardown(runtime, lab, down)
    timings = {**timings, **down.timings, "total": time.monotonic() - started}
    if keep:
        phases.note(f"lab '{topology.name}' kept; remove it with 'sgh clean {topology.name}'")
    return replace(matrix, timings=timings)


def probe_some(
    topology: Topology, cells: list[Cell], runtime: Runtime, prober: Prober, phases: Phases
) -> list[CellResult]:
    """Build the lab, probe only ``cells`` (``sgh explain``), tear the lab down."""
    lab, built = start(runtime, topology, phases)
    try:
        expected = expectations(topology, cells)
        return probe_cells(
            topology, built.namespaces, expected, prober=prober, phases=phases, label="of the cell"
        )
    finally:
        teardown(runtime, lab, phases)
