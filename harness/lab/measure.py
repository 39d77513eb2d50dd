"""Measuring a running lab: the planned cells probed from every source, compared with the rules.

Probes that disagree with the oracle are sent once more (a lost packet is not a verdict); cells
that could not be probed stay ``not-run``, never ``filtered``.
"""

from __future__ import annotations

import gc
import itertools
import os
import time
from array import array
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from harness.adapters import forked
from harness.core.incremental import Selection, affected, restarted
from harness.core.matrix import CellResult, CellTable, Matrix, Part, compare, merge_retry
from harness.core.memo import ByIdentity
from harness.core.model import Address, Instance, Node, Probe, Proto, Protocol, State, Topology
from harness.core.oracle import Expectation, Oracle, Verdict
from harness.core.paths import paths
from harness.core.phases import Phases
from harness.core.planner import Cell, Wanted, judged_paths, plan_expected
from harness.core.probing import Observation, ProbeJob, Prober, SourceBatch
from harness.core.runtime import LabNamespaces
from harness.errors import InvalidInput


@contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector paused: measuring makes millions of small objects
    (cells, paths, expectations, jobs) and no cycles, and each collection walks every live
    object; for 1000 instances planning took 27 s with it and 16.5 s without (measured)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def batches_for(
    topology: Topology, lab: LabNamespaces, cells: list[Cell], answered: set[Cell]
) -> list[SourceBatch]:
    """One batch per source; ``answered`` holds the cells the oracle expects an answer for."""
    nodes = topology.nodes_by_name
    by_source: dict[str, list[ProbeJob]] = {}
    text = ByIdentity[Address, str](str)  # each address written once (a big lab has a
    # million paths over a few thousand addresses)
    pair: tuple[str, str] = ("", "")
    routes: list[tuple[str, str]] = []  # the pair's paths: the address sent to, and from
    jobs: list[ProbeJob] = []
    target_address, target_pid = "", 0
    for cell in cells:
        if (cell.source, cell.target) != pair:  # cells come pair by pair
            pair = (cell.source, cell.target)
            target = nodes[cell.target]
            assert isinstance(target, Instance)
            routes = [
                (text(path.address), text(path.source_address))
                for path in paths(topology, nodes[cell.source], target)
            ]
            target_address = text(target.address)
            target_pid = lab.pids.get(cell.target, 0)
            jobs = by_source.setdefault(cell.source, [])
        source_address = ""
        if cell.address:
            source_address = next((s for a, s in routes if a == cell.address), "")
        address = cell.address or target_address
        jobs.append(ProbeJob(cell, address, cell in answered, source_address, target_pid))
    return [_batch(nodes[source], lab, jobs) for source, jobs in by_source.items()]


def _batch(node: Node, lab: LabNamespaces, jobs: list[ProbeJob]) -> SourceBatch:
    """The batch of ``jobs`` from ``node``: sent from its namespace, never from a port it
    listens on."""
    return SourceBatch(node.name, lab.netns(node.name), str(node.address), jobs, node.listen_ports)


SPLIT_PAIRS = 20_000  # pairs of nodes from which a run is shared out, one worker per core
WORKERS = os.cpu_count() or 1
CHUNK_JOBS = 400_000  # probe jobs a worker plans before it probes them: what it holds at once
# (a job, its packet and the tables its answer is matched by cost about 1.5 KiB: measured)
CLASSES_FROM_PAIRS = 40_000  # pairs of nodes (200 by 200) from which the default plan is
# one probe per behaviour class: every port interval of a thousand instances is ten million
# cells, and the classes are what the rules tell apart


def by_classes(topology: Topology) -> bool:
    """The default plan of a lab: by classes for a lab of :data:`CLASSES_FROM_PAIRS` pairs or
    more, else every port interval the rules cut."""
    return len(topology.nodes) * len(topology.instances) >= CLASSES_FROM_PAIRS


@collector_paused()
def check_source_ports(topology: Topology, prober: Prober) -> None:
    """A prober that picks its own source ports (nmap) cannot be compared with the oracle on
    a lab with network ACLs: they judge each reply by the port its probe came from, which the
    oracle takes to be the cell's own (:func:`harness.core.vpc_path.source_port`)."""
    if getattr(prober, "picks_source_ports", False) and any(
        vpc.network_acls for vpc in topology.vpcs
    ):
        raise InvalidInput(
            f"--prober {getattr(prober, 'name', 'nmap')}: lab {topology.name} has network "
            "ACLs, which judge a reply by the port its probe came from, and this prober picks "
            "its own ports; probe it with the default prober (scapy), which sends each cell "
            "from the port the oracle judges"
        )


def probe_matrix(
    topology: Topology,
    lab: LabNamespaces,
    prober: Prober,
    phases: Phases,
    *,
    retry: bool = True,
    runtime: str = "docker",
    classes: bool | None = None,
    workers: int = 0,
    wanted: Wanted | None = None,
    carried: Part | None = None,
) -> Matrix:
    """Plan the cells with their expectations, probe them, compare, and probe those that
    disagree once more. A lab of :data:`SPLIT_PAIRS` pairs or more (or any, with ``workers``
    above 1) is shared out: each worker, a forked process, plans and probes the cells of a
    share of the sources (:func:`_share`), so that planning, a single core's Python work,
    runs on every core. Either way the cells come back as numbers into a :class:`CellTable`,
    never as a million objects. ``classes``: one probe per pair and behaviour class; by
    default (``None``), for a lab of :data:`CLASSES_FROM_PAIRS` pairs or more
    (:func:`by_classes`). ``wanted``: only the pairs it says (the rest, ``carried``, come
    from an earlier run: :func:`reprove`)."""
    check_source_ports(topology, prober)
    classes = by_classes(topology) if classes is None else classes
    workers = workers or workers_for(topology)
    if workers > 1:
        parts, timings = _in_shares(
            topology, lab, prober, phases, classes=classes, workers=workers, wanted=wanted
        )
    else:

        def planned(count: int) -> None:
            phases.start(f"probing {count} cells from {len(topology.nodes)} sources", count)

        share = _share(
            topology,
            lab,
            prober,
            range(len(topology.nodes)),
            phases.advance,
            classes=classes,
            planned=planned,
            wanted=wanted,
        )
        phases.finish("probe")
        parts, timings = [_part(share)], dict(share[-1])
    table = CellTable(topology, parts if carried is None else [carried, *parts])
    wrong = table.wrong_indices()
    if wrong and retry:
        phases.start(f"probing {len(wrong)} disagreeing cells once more", len(wrong))
        started = time.monotonic()
        again = _again(topology, lab, prober, [table.result(i) for i in wrong], phases.advance)
        table.retried(dict(zip(wrong, again, strict=True)))
        timings["retry"] = time.monotonic() - started
        phases.finish("retry")
    plan = "classes" if classes else "full"
    return Matrix(
        topology,
        table,
        runtime=runtime,
        prober=prober.name,
        timings=timings,
        plan=plan,
        pids=dict(lab.pids),
        carried=0 if carried is None else len(carried.seen_codes),
    )


def reprove(
    topology: Topology,
    lab: LabNamespaces,
    prober: Prober,
    phases: Phases,
    previous: Matrix,
    *,
    runtime: str = "docker",
    workers: int = 0,
) -> Matrix:
    """The matrix of a lab changed since ``previous`` was proven on it: the pairs the change
    can affect (:func:`harness.core.incremental.affected`), those with a node whose process
    is not the one proven (restarted) and those with a cell that was not correct are planned
    and probed again, with the same plan; every other pair's cells are carried over with the
    time they were proven."""
    classes = previous.plan == "classes"
    change = affected(previous.topology, topology, classes=classes)
    unsure = previous.table.pairs_not_all_correct()
    if change.everything:
        phases.note(f"{'; '.join(change.reasons)} changed: every cell is probed again")
        return probe_matrix(topology, lab, prober, phases, runtime=runtime, classes=classes)

    wanted = Selection.of(change, restarted(previous.pids, lab.pids), unsure)
    started = time.monotonic()
    carried = previous.table.carried(topology, wanted)
    kept = time.monotonic() - started
    matrix = probe_matrix(
        topology,
        lab,
        prober,
        phases,
        runtime=runtime,
        classes=classes,
        wanted=wanted,
        carried=carried,
        workers=workers,
    )
    return matrix.with_timing("carry", kept)


def _again(
    topology: Topology,
    lab: LabNamespaces,
    prober: Prober,
    results: list[CellResult],
    on_verdict: Callable[[int], None],
) -> list[CellResult]:
    """The results, those that disagreed probed once more (a lost packet is not a verdict)."""
    wrong = {result.cell: result.expected for result in results if not result.correct}
    if not wrong:
        return results
    answered = {cell for cell, e in wrong.items() if e.state is not State.FILTERED}
    again = prober.run(batches_for(topology, lab, list(wrong), answered), 1, on_verdict)
    return merge_retry(results, compare(wrong, again, attempts=2))


def workers_for(topology: Topology) -> int:
    """The workers a run of the lab is shared out over: one per core for a big lab, else 1."""
    pairs = len(topology.nodes) * len(topology.instances)
    return WORKERS if pairs >= SPLIT_PAIRS else 1


def _in_shares(
    topology: Topology,
    lab: LabNamespaces,
    prober: Prober,
    phases: Phases,
    *,
    classes: bool,
    workers: int,
    wanted: Wanted | None = None,
) -> tuple[list[Part], dict[str, float]]:
    """The cells of every share of the sources, each planned and probed by a worker of its
    own, in plan order; and the slowest worker's times."""
    count = len(topology.nodes)
    bounds = [count * k // workers for k in range(workers + 1)]
    shares = [range(low, high) for low, high in itertools.pairwise(bounds) if high > low]
    alone = prober.alone()
    phases.start(
        f"planning and probing from {count} sources in {len(shares)} processes"
        f" (a share of about {count // len(shares)} sources each)"
    )
    given = forked.in_processes(
        lambda share, progress: _share(
            topology, lab, alone, share, progress, classes=classes, wanted=wanted
        ),
        shares,
        phases.advance,
    )
    phases.finish("probe")
    started = time.monotonic()
    parts: list[Part] = []
    timings = {"plan": 0.0, "probe": 0.0}
    for share, outcome in zip(shares, given, strict=True):
        if isinstance(outcome, str):
            failed = Observation(State.NOT_RUN, f"probe worker failed: {outcome}")
            expected = plan_expected(
                topology,
                classes=classes,
                sources=topology.nodes[share.start : share.stop],
                wanted=wanted,
            )
            parts.append(
                Part.of(topology, (CellResult(cell, e, failed) for cell, e in expected.items()))
            )
            continue
        parts.append(_part(outcome))
        for key, longest in timings.items():
            timings[key] = max(longest, outcome[-1][key])
    timings["gather"] = time.monotonic() - started
    return parts, timings


Share = tuple[
    list[tuple[str | int, int | None]],  # the probes (protocol, port)
    list[str],  # the addresses cells name
    list[tuple[str, str, tuple[str, ...], str]],  # the verdicts: side, state, rules, words
    bytes,  # each cell: source, target, address, probe, verdict (codes)
    list[tuple[str, str]],  # what was seen: state, detail
    bytes,  # each cell: what was seen (codes)
    dict[str, float],  # the share's times
]


def _share(
    topology: Topology,
    lab: LabNamespaces,
    prober: Prober,
    sources: range,
    progress: Callable[[int], None],
    *,
    classes: bool,
    planned: Callable[[int], None] | None = None,
    wanted: Wanted | None = None,
) -> Share:
    """A worker's share (in a process of its own): the cells from the nodes ``sources``
    indexes, planned with the oracle's verdicts straight into probe jobs, probed, and given
    back as codes into a few tables (a million cells of a few hundred verdicts), for the parent
    to make its results from (:func:`_part`) without a million objects crossing a pipe. The
    sources are probed a chunk at a time (:data:`CHUNK_JOBS`), so that a worker holds the
    jobs of a chunk, not of its whole share."""
    started = time.monotonic()
    probing = 0.0
    seen_rows: list[tuple[str, str]] = []
    seen_index: dict[tuple[str, str], int] = {}
    seen_codes = array("I")
    sent = 0  # the jobs probed so far

    def flush() -> None:
        """Probe the batches planned so far, code what was seen, let the jobs go."""
        nonlocal probing, sent
        if planned is not None and not sent:
            planned(len(rows) // 5)
        begun = time.monotonic()
        observed = prober.in_order(batches, 0, progress)
        probing += time.monotonic() - begun
        chunk_rows, chunk_codes = forked.coded(observed, Observation.row)
        mapping = []
        for row in chunk_rows:
            code = seen_index.get(row)
            if code is None:
                code = seen_index[row] = len(seen_rows)
                seen_rows.append(row)
            mapping.append(code)
        seen_codes.extend(map(mapping.__getitem__, forked.codes(chunk_codes)))
        sent = len(rows) // 5
        batches.clear()

    nodes = topology.nodes
    probes: dict[Probe, int] = {}
    addresses: dict[str, int] = {}
    verdicts: dict[int, int] = {}  # a verdict's identity -> its row
    verdict_rows: list[tuple[str, str, tuple[str, ...], str]] = []
    # each judged probe list (shared by many paths): its probes with their codes and whether
    # an answer is expected, worked out once
    lists: dict[int, tuple[object, list[tuple[Probe, int, int, bool]]]] = {}
    batches: list[SourceBatch] = []
    jobs: list[ProbeJob] = []
    text = ByIdentity[Address, str](str)  # each address written once
    rows = array("I")
    pair: tuple[Node | None, Node | None] = (None, None)
    sent_from: dict[str, str] = {}  # the pair's addresses probed -> the address sent from
    source_name = ""
    shared = judged_paths(
        topology,
        Oracle(topology),
        classes=classes,
        sources=nodes[sources.start : sources.stop],
        wanted=wanted,
    )
    # each node's index, name, address and process, looked up once per pair
    known_nodes = {
        id(node): (i, node.name, str(node.address), lab.pids.get(node.name, 0))
        for i, node in enumerate(nodes)
    }
    target_name, target_address, target_pid, s, t = "", "", 0, 0, 0
    for source, target, path, address, judged in shared:
        if pair[0] is not source:
            if len(rows) // 5 - sent >= CHUNK_JOBS:
                flush()
            jobs = []
            batches.append(_batch(source, lab, jobs))
            s, source_name, _, _ = known_nodes[id(source)]
        if pair != (source, target):
            pair = (source, target)
            sent_from = {}
            t, target_name, target_address, target_pid = known_nodes[id(target)]
        source_address = ""
        if address:  # a VPC cell: sent from the address of the pair's first path to it
            source_address = sent_from.setdefault(address, text(path.source_address))
        send_to = address or target_address
        at = (s, t, addresses.setdefault(address, len(addresses)))
        known = lists.get(id(judged))
        if known is None:
            coded = []
            for probe, verdict in judged:
                row = verdicts.get(id(verdict))
                if row is None:
                    side, found = verdict
                    row = verdicts[id(verdict)] = len(verdict_rows)
                    verdict_rows.append((side, found.state.value, found.allowed_by, found.why))
                answered = verdict[1].state is not State.FILTERED
                coded.append((probe, probes.setdefault(probe, len(probes)), row, answered))
            known = lists[id(judged)] = (judged, coded)
        for probe, number, row, answered in known[1]:
            cell = Cell(source_name, target_name, probe, address)
            jobs.append(ProbeJob(cell, send_to, answered, source_address, target_pid))
            rows.extend((*at, number, row))
    if batches or not sent:
        flush()
    times = {"plan": time.monotonic() - started - probing, "probe": probing}
    return (
        [(_protocol_word(probe.protocol), probe.port) for probe in probes],
        list(addresses),
        verdict_rows,
        rows.tobytes(),
        seen_rows,
        seen_codes.tobytes(),
        times,
    )


def _protocol_word(protocol: Proto) -> str | int:
    return protocol.value if isinstance(protocol, Protocol) else protocol


def _part(share: Share) -> Part:
    """A worker's share (:func:`_share`) as a part of the run's :class:`CellTable`."""
    probe_rows, addresses, verdict_rows, raw, seen_rows, seen_codes, _ = share
    probes = [
        Probe(proto if isinstance(proto, int) else Protocol(proto), port)
        for proto, port in probe_rows
    ]
    verdicts: list[Verdict | Expectation] = [
        (side, Expectation(State(state), allowed_by, why))
        for side, state, allowed_by, why in verdict_rows
    ]
    seen = [Observation.from_row(row) for row in seen_rows]
    rows = forked.codes(raw)
    columns = (rows[0::5], rows[1::5], rows[2::5], rows[3::5], rows[4::5])
    return Part(probes, addresses, verdicts, columns, seen, forked.codes(seen_codes))


@collector_paused()
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
    check_source_ports(topology, prober)
    cells = list(expected)
    answered = {cell for cell, e in expected.items() if e.state is not State.FILTERED}
    phases.start(f"probing {len(cells)} cells {label}", len(cells))
    observed = prober.run(batches_for(topology, namespaces, cells, answered), 0, phases.advance)
    phases.finish(f"probe {label}")
    return _again(topology, namespaces, prober, compare(expected, observed), phases.advance)
