"""Expected against observed: cell results, the retry set, the summary, and the table that
holds a run's cells as numbers (:class:`CellTable`)."""

from __future__ import annotations

import time
from array import array
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from itertools import compress, repeat
from operator import add, mul
from typing import NamedTuple, TypeVar, overload

from harness.core.incremental import Selection
from harness.core.model import Instance, Node, Probe, State, Topology
from harness.core.oracle import Expectation, Oracle, Verdict
from harness.core.planner import Cell
from harness.core.probing import Observation


class CellResult(NamedTuple):
    """A cell, what the rules imply and what was seen (a named tuple: see :class:`Cell`)."""

    cell: Cell
    expected: Expectation
    observed: Observation
    attempts: int = 1

    @property
    def correct(self) -> bool:
        return self.observed.state is self.expected.state

    @property
    def not_run(self) -> bool:
        return self.observed.state is State.NOT_RUN

    @property
    def incorrect(self) -> bool:
        return not self.correct and not self.not_run


@dataclass(frozen=True)
class Summary:
    cells: int
    correct: int
    incorrect: int
    not_run: int

    @property
    def ok(self) -> bool:
        return self.incorrect == 0 and self.not_run == 0

    def line(self) -> str:
        return (
            f"{self.cells} cells: {self.correct} correct, {self.incorrect} incorrect, "
            f"{self.not_run} not run"
        )


K = TypeVar("K")
V = TypeVar("V")
STATES = tuple(State)  # a state's code in a table: its place here
_CODE = {state: code for code, state in enumerate(STATES)}


class Part(NamedTuple):
    """Cells as numbers into a few small tables, as a worker of a shared-out run gives them
    back (:func:`harness.lab.measure._share`), or as carried over from an earlier run: five
    columns (source and target, indexes into the topology's nodes; address, probe and
    verdict, indexes into the tables here) and an index into ``seen`` a cell. A verdict is the
    oracle's for the path (its words completed when read) or, for cells coded from results,
    the cell's whole expectation. ``expected`` (state codes) when known, else worked out;
    ``proven``: each cell's index into ``times`` (``None``: all at ``times[0]``, or now)."""

    probes: list[Probe]
    addresses: list[str]  # "": the target's one address
    verdicts: list[Verdict | Expectation]
    columns: tuple[array[int], array[int], array[int], array[int], array[int]]
    seen: list[Observation]
    seen_codes: array[int]
    expected: array[int] | None = None
    times: tuple[float, ...] = ()
    proven: array[int] | None = None

    @staticmethod
    def of(topology: Topology, results: Iterable[CellResult]) -> Part:
        """Results coded (by value) into a part."""
        index = {node.name: i for i, node in enumerate(topology.nodes)}
        probes: dict[Probe, int] = {}
        addresses: dict[str, int] = {}
        verdicts: dict[Expectation, int] = {}
        seen: dict[Observation, int] = {}
        columns = (array("I"), array("I"), array("I"), array("I"), array("I"))
        source, target, address, probe, verdict = columns
        seen_codes = array("I")
        for result in results:
            cell = result.cell
            source.append(index[cell.source])
            target.append(index[cell.target])
            address.append(addresses.setdefault(cell.address, len(addresses)))
            probe.append(probes.setdefault(cell.probe, len(probes)))
            verdict.append(verdicts.setdefault(result.expected, len(verdicts)))
            seen_codes.append(seen.setdefault(result.observed, len(seen)))
        return Part(list(probes), list(addresses), list(verdicts), columns, list(seen), seen_codes)


class CellTable(Sequence[CellResult]):
    """Every cell of a run as numbers into a few small tables: a big lab's million cells are
    a few arrays (about 30 bytes a cell), not a million objects. A cell's :class:`CellResult`
    is made when it is read (its expectation's words, for a filtered cell, only when those
    are read); the summary, the wrong cells and each pair's states are read from the numbers.
    A pair's cells are together, in the plan's order; each cell has the time it was proven
    (a run of a changed lab carries over the cells the change cannot affect)."""

    def __init__(self, topology: Topology, parts: Iterable[Part]) -> None:
        self.topology = topology
        self.nodes = topology.nodes
        self.probes: list[Probe] = []
        self.addresses: list[str] = []
        self.verdicts: list[Verdict | Expectation] = []
        self.seen: list[Observation] = []
        self.times: list[float] = []
        self.source, self.target = array("I"), array("I")
        self.address, self.probe = array("I"), array("I")
        self.verdict, self.observed = array("I"), array("I")
        self.proven = array("I")
        self.expected = array("B")
        self.attempts: dict[int, int] = {}  # cells probed more than once
        self._oracle: Oracle | None = None
        self._observed_states: array[int] | None = None
        self._summary: Summary | None = None
        probes: dict[Probe, int] = {}
        addresses: dict[str, int] = {}
        verdicts: dict[object, int] = {}
        seen: dict[Observation, int] = {}
        times: dict[float, int] = {}
        now = time.time()
        for part in parts:
            probe_map = [self._code(probes, self.probes, probe, probe) for probe in part.probes]
            address_map = [self._code(addresses, self.addresses, a, a) for a in part.addresses]
            verdict_map = [
                self._code(verdicts, self.verdicts, _verdict_key(v), v) for v in part.verdicts
            ]
            seen_map = [self._code(seen, self.seen, o, o) for o in part.seen]
            time_map = [self._code(times, self.times, t, t) for t in part.times or (now,)]
            first = len(self)
            source, target, address, probe, verdict = part.columns
            self.source.extend(source)
            self.target.extend(target)
            self.address.extend(map(address_map.__getitem__, address))
            self.probe.extend(map(probe_map.__getitem__, probe))
            self.verdict.extend(map(verdict_map.__getitem__, verdict))
            self.observed.extend(map(seen_map.__getitem__, part.seen_codes))
            if part.proven is None:
                self.proven.extend(array("I", [time_map[0]]) * len(source))
            else:
                self.proven.extend(map(time_map.__getitem__, part.proven))
            if part.expected is not None:
                self.expected.extend(part.expected)
            else:
                self.expected.extend(self._expected_states(range(first, len(self))))

    @staticmethod
    def _code(known: dict[K, int], table: list[V], key: K, value: V) -> int:
        code = known.get(key)
        if code is None:
            code = known[key] = len(table)
            table.append(value)
        return code

    @staticmethod
    def of(topology: Topology, results: Iterable[CellResult]) -> CellTable:
        return CellTable(topology, [Part.of(topology, results)])

    def __getstate__(self) -> dict[str, object]:
        """Kept (a persistent lab's last proof) without the oracle, made again when asked."""
        return {**self.__dict__, "_oracle": None}

    @property
    def oracle(self) -> Oracle:
        if self._oracle is None:
            self._oracle = Oracle(self.topology)
        return self._oracle

    def _expected_states(self, cells: range) -> array[int]:
        """Each cell's expected state (a code): its verdict's, unless the lab's path beyond
        the groups is judged (network ACLs, routes), which it is along each cell's own."""
        if not self.oracle.judges_path:
            by_verdict = [
                _CODE[(v if isinstance(v, Expectation) else v[1]).state] for v in self.verdicts
            ]
            return array("B", map(by_verdict.__getitem__, self.verdict[cells.start :]))
        return array("B", (_CODE[self.expectation(i).state] for i in cells))

    def __len__(self) -> int:
        return len(self.source)

    @overload
    def __getitem__(self, index: int) -> CellResult: ...
    @overload
    def __getitem__(self, index: slice) -> list[CellResult]: ...
    def __getitem__(self, index: int | slice) -> CellResult | list[CellResult]:
        if isinstance(index, slice):
            return [self.result(i) for i in range(len(self))[index]]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(index)
        return self.result(index)

    def __iter__(self) -> Iterator[CellResult]:
        return (self.result(i) for i in range(len(self)))

    def cell(self, i: int) -> Cell:
        nodes = self.nodes
        return Cell(
            nodes[self.source[i]].name,
            nodes[self.target[i]].name,
            self.probes[self.probe[i]],
            self.addresses[self.address[i]],
        )

    def expectation(self, i: int) -> Expectation:
        verdict = self.verdicts[self.verdict[i]]
        if isinstance(verdict, Expectation):
            return verdict
        target = self.nodes[self.target[i]]
        assert isinstance(target, Instance)
        return self.oracle.expectation_at(
            self.nodes[self.source[i]],
            target,
            self.addresses[self.address[i]],
            verdict,
            self.probes[self.probe[i]],
        )

    def result(self, i: int) -> CellResult:
        return CellResult(
            self.cell(i),
            self.expectation(i),
            self.seen[self.observed[i]],
            self.attempts.get(i, 1),
        )

    def observed_states(self) -> array[int]:
        """Each cell's observed state (a code), worked out once (until a retry)."""
        if self._observed_states is None:
            by_seen = array("B", (_CODE[o.state] for o in self.seen))
            self._observed_states = array("B", map(by_seen.__getitem__, self.observed))
        return self._observed_states

    def summary(self) -> Summary:
        """Counted once (until a retry); a run where every cell is as expected is told by
        comparing the two columns whole."""
        if self._summary is None:
            observed = self.observed_states()
            if observed.tobytes() == self.expected.tobytes():
                self._summary = Summary(len(self), len(self), 0, 0)
            else:
                counts = Counter(zip(self.expected, observed, strict=True))
                correct = sum(n for (e, o), n in counts.items() if e == o)
                not_run_code = _CODE[State.NOT_RUN]
                not_run = sum(n for (e, o), n in counts.items() if o == not_run_code and e != o)
                self._summary = Summary(len(self), correct, len(self) - correct - not_run, not_run)
        return self._summary

    def wrong_indices(self) -> list[int]:
        """The cells whose observed state is not the expected one (not-run cells too)."""
        if self.summary().correct == len(self):
            return []
        observed = self.observed_states()
        return [i for i, (e, o) in enumerate(zip(self.expected, observed, strict=True)) if e != o]

    def pairs(self) -> Iterator[tuple[int, int, int, int]]:
        """Each pair's run of cells: source and target (node indexes), first cell, end."""
        source, target = self.source, self.target
        start = 0
        for i in range(1, len(self) + 1):
            if i == len(self) or source[i] != source[start] or target[i] != target[start]:
                yield source[start], target[start], start, i
                start = i

    def carried(self, topology: Topology, dropped: Selection) -> Part:
        """The cells of every pair ``dropped`` does not select (both nodes still in
        ``topology``), as a part of a table for ``topology`` (a later state of the lab): nodes
        numbered as there, each cell's expected state and the time it was proven kept. Worked
        out by columns (a mask made by C loops: a million cells in about 0.3 s, where a loop
        over pairs took 2.7), from which pairs are kept, one byte a pair."""
        names = [node.name for node in self.nodes]
        width = len(names)
        index = {node.name: i for i, node in enumerate(topology.nodes)}
        old = {name: i for i, name in enumerate(names)}
        keep = bytearray(b"\x01") * (width * width)
        none = bytes(width)
        for s, name in enumerate(names):
            if name not in index or name in dropped.whole:
                keep[s * width : (s + 1) * width] = none  # from it
                keep[s::width] = none  # to it
        for one, others in dropped.pairs.items():
            if one in old:
                for other in others:
                    if other in old:
                        keep[old[one] * width + old[other]] = 0
        mask = bytes(
            map(keep.__getitem__, map(add, map(mul, self.source, repeat(width)), self.target))
        )

        def kept(column: array[int]) -> array[int]:
            return array(column.typecode, compress(column, mask))

        source, target = kept(self.source), kept(self.target)
        if names != [node.name for node in topology.nodes]:  # renumbered: nodes came or went
            renumber = array("I", [index.get(name, 0) for name in names])
            source = array("I", map(renumber.__getitem__, source))
            target = array("I", map(renumber.__getitem__, target))
        columns = (source, target, kept(self.address), kept(self.probe), kept(self.verdict))
        return Part(
            self.probes,
            self.addresses,
            self.verdicts,
            columns,
            self.seen,
            kept(self.observed),
            kept(self.expected),
            tuple(self.times),
            kept(self.proven),
        )

    def pairs_not_all_correct(self) -> set[tuple[str, str]]:
        """The pairs (names) with a cell wrong or not run."""
        names = [node.name for node in self.nodes]
        return {(names[self.source[i]], names[self.target[i]]) for i in self.wrong_indices()}

    def retried(self, again: Mapping[int, CellResult]) -> None:
        """Cells probed once more: what was seen the second time stands."""
        self._observed_states, self._summary = None, None
        known = {o: code for code, o in enumerate(self.seen)}
        for i, result in again.items():
            self.observed[i] = self._code(known, self.seen, result.observed, result.observed)
            self.attempts[i] = result.attempts


def _verdict_key(verdict: Verdict | Expectation) -> object:
    """Verdicts are equal when their side and expectation are (an expectation coded from a
    result is its own key)."""
    if isinstance(verdict, Expectation):
        return ("cell", verdict)
    side, found = verdict
    return (side, found.state, found.allowed_by, found.why)


@dataclass(frozen=True)
class Matrix:
    """The outcome of one verification run: its cells in a :class:`CellTable` (results given
    otherwise are coded into one)."""

    topology: Topology
    results: Sequence[CellResult]
    runtime: str = "docker"
    prober: str = "scapy"
    timings: dict[str, float] = field(default_factory=dict)
    plan: str = "full"  # the plan that ran: full (every port interval) or classes
    pids: dict[str, int] = field(default_factory=dict)  # the lab's processes, by node
    carried: int = 0  # cells carried over from an earlier run, unaffected by the changes

    def __post_init__(self) -> None:
        if not isinstance(self.results, CellTable):
            object.__setattr__(self, "results", CellTable.of(self.topology, self.results))

    @property
    def table(self) -> CellTable:
        """The cells, as numbers."""
        assert isinstance(self.results, CellTable)
        return self.results

    @property
    def summary(self) -> Summary:
        return self.table.summary()

    def wrong(self) -> list[CellResult]:
        return [self.table.result(i) for i in self.table.wrong_indices()]

    def with_timing(self, key: str, seconds: float) -> Matrix:
        return replace(self, timings={**self.timings, key: seconds})


def expectations(topology: Topology, cells: Iterable[Cell]) -> dict[Cell, Expectation]:
    oracle = Oracle(topology)
    nodes: Mapping[str, Node] = topology.nodes_by_name
    result = {}
    for cell in cells:
        target = nodes[cell.target]
        assert target.kind == "instance"
        result[cell] = oracle.evaluate(nodes[cell.source], target, cell.probe, cell.address)  # type: ignore[arg-type]
    return result


def compare(
    expected: Mapping[Cell, Expectation],
    observed: Mapping[Cell, Observation],
    attempts: int = 1,
) -> list[CellResult]:
    missing = Observation(State.NOT_RUN, "no observation")
    return [
        CellResult(cell, expectation, observed.get(cell, missing), attempts)
        for cell, expectation in expected.items()
    ]


def merge_retry(first: list[CellResult], retried: list[CellResult]) -> list[CellResult]:
    """Replace first-round results by their retries (the retry is the verdict that stands)."""
    by_cell = {result.cell: result for result in retried}
    return [by_cell.get(result.cell, result) for result in first]
