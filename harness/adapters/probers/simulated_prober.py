"""The oracle run as if it were a prober: for unit tests of everything above the probers."""

from __future__ import annotations

from collections.abc import Callable

from harness.core.matrix import expectations
from harness.core.model import State, Topology
from harness.core.planner import Cell
from harness.core.probing import ByCell, Observation, SourceBatch


class SimulatedProber(ByCell):
    """Answers every cell as the oracle says, except the ``overrides`` it is given."""

    name = "simulated"

    def __init__(
        self, topology: Topology, overrides: dict[Cell, list[State]] | None = None
    ) -> None:
        self.topology = topology
        self.overrides = {cell: list(states) for cell, states in (overrides or {}).items()}
        self.rounds: list[list[Cell]] = []

    def run(
        self,
        batches: list[SourceBatch],
        round_number: int = 0,
        on_verdict: Callable[[int], None] | None = None,
    ) -> dict[Cell, Observation]:
        cells = [job.cell for batch in batches for job in batch.jobs]
        self.rounds.append(cells)
        expected = expectations(self.topology, cells)
        result = {}
        for cell in cells:
            states = self.overrides.get(cell)
            state = states.pop(0) if states else expected[cell].state
            result[cell] = Observation(state, "simulated")
            if on_verdict is not None:
                on_verdict(1)
        return result
