"""Expected against observed: cell results, the retry set, the summary."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import NamedTuple

from harness.core.model import Node, State, Topology
from harness.core.oracle import Expectation, Oracle
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


@dataclass(frozen=True)
class Matrix:
    """The outcome of one verification run."""

    topology: Topology
    results: list[CellResult]
    runtime: str = "docker"
    prober: str = "scapy"
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def summary(self) -> Summary:
        correct = sum(1 for r in self.results if r.correct)
        not_run = sum(1 for r in self.results if r.not_run)
        return Summary(len(self.results), correct, len(self.results) - correct - not_run, not_run)

    def wrong(self) -> list[CellResult]:
        return [r for r in self.results if not r.correct]

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
