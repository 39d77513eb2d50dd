"""What every prober takes and gives: batches of probe jobs per source, observations per cell."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol as TypingProtocol
from typing import Self

from harness.core.model import State
from harness.core.planner import Cell


@dataclass(frozen=True)
class Observation:
    """What a prober saw for one cell; ``detail`` says how (``syn-ack``, ``no reply``, ...)."""

    state: State
    detail: str = ""

    def row(self) -> tuple[str, str]:
        """As plain strings, to cross to another process (:meth:`from_row` makes it again)."""
        return (self.state.value, self.detail)

    @staticmethod
    def from_row(row: tuple[str, str]) -> Observation:
        return Observation(State(row[0]), row[1])


@dataclass(slots=True)
class ProbeJob:
    """One probe to send. Not frozen: 1000 instances make 1.56 million, and a frozen
    dataclass costs four times as much to make (0.64 µs against 0.16, measured)."""

    cell: Cell
    target_address: str
    expect_answer: bool
    source_address: str = ""  # the address the probe is sent from ("": the batch's address)
    target_pid: int = 0  # a process in the target's namespace (0: unknown)


@dataclass
class SourceBatch:
    """All probes of one source: sent from its namespace, answered to its address."""

    source: str
    netns: str
    address: str
    jobs: list[ProbeJob]
    avoid_ports: frozenset[int] = frozenset()


class Prober(TypingProtocol):
    name: str

    def run(
        self,
        batches: list[SourceBatch],
        round_number: int = 0,
        on_verdict: Callable[[int], None] | None = None,
    ) -> dict[Cell, Observation]: ...

    def in_order(
        self,
        batches: list[SourceBatch],
        round_number: int = 0,
        on_verdict: Callable[[int], None] | None = None,
    ) -> list[Observation]:
        """What :meth:`run` sees, as a list in the order of the batches' jobs (a big lab's
        worker sends a million back in that order: no dictionary keyed by cell to make)."""
        ...

    def alone(self) -> Prober:
        """This prober as a worker of a shared-out run uses it, in the worker's process: with
        no processes of its own (the workers already use every core)."""
        ...


NO_OBSERVATION = Observation(State.NOT_RUN, "no observation")


class ByCell(ABC):
    """A prober whose :meth:`run` answers by cell (nmap, the simulated prober): its
    :meth:`in_order` is made from it, and it is its own worker (:meth:`alone`), starting no
    processes of its own."""

    @abstractmethod
    def run(
        self,
        batches: list[SourceBatch],
        round_number: int = 0,
        on_verdict: Callable[[int], None] | None = None,
    ) -> dict[Cell, Observation]: ...

    def in_order(
        self,
        batches: list[SourceBatch],
        round_number: int = 0,
        on_verdict: Callable[[int], None] | None = None,
    ) -> list[Observation]:
        seen = self.run(batches, round_number, on_verdict)
        return [seen.get(job.cell, NO_OBSERVATION) for batch in batches for job in batch.jobs]

    def alone(self) -> Self:
        return self
