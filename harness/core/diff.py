"""What a change of security groups does to reachability, predicted by the oracle.

``predict(before, after)`` plans the cells of both topologies (the behaviour classes of either
side's rules), keeps those whose source and target exist on both sides, and evaluates each
with both oracles: a cell whose state changes is *opened* (now answers, open or closed, where
it was filtered) or *closed* (the reverse); one whose state stays but whose reason changes
(another rule allows it) is *reason*. Each change names its cause: the rule that now allows
it (opened), the rule that allowed it before (closed), or both (reason).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from ipaddress import ip_network

from harness.core.matrix import expectations
from harness.core.model import Host, State, Topology
from harness.core.oracle import Expectation
from harness.core.planner import Cell, plan

OPENED = "opened"
CLOSED = "closed"
REASON = "reason"


@dataclass(frozen=True)
class Change:
    cell: Cell
    kind: str  # opened, closed, reason
    before: Expectation
    after: Expectation

    @property
    def cause(self) -> str:
        """The rules that make the difference: those allowing the cell on one side only."""
        gained = _only(self.after, self.before)
        lost = _only(self.before, self.after)
        if self.kind == OPENED:
            return gained or self.after.why
        if self.kind == CLOSED:
            return lost or self.before.why
        return f"{lost} -> {gained}"


def _only(one: Expectation, other: Expectation) -> str:
    """The rules allowing ``one`` that do not allow ``other``."""
    return "; ".join(rule for rule in one.allowed_by if rule not in other.allowed_by)


def _answers(state: State) -> bool:
    return state in (State.OPEN, State.CLOSED)


def common_cells(before: Topology, after: Topology) -> list[Cell]:
    """The cells planned for either side whose source and target exist on both."""
    b, a = before.nodes_by_name, after.nodes_by_name
    seen: dict[Cell, None] = {}
    for cell in (*plan(before), *plan(after)):
        if cell.source in b and cell.source in a and cell.target in b and cell.target in a:
            seen.setdefault(cell, None)
    return list(seen)


def predict(
    before: Topology, after: Topology, cells: Iterable[Cell] | None = None
) -> tuple[list[Cell], dict[Cell, Expectation], dict[Cell, Expectation], list[Change]]:
    """The cells compared, their expectations on each side, and the changes among them."""
    chosen = list(cells) if cells is not None else common_cells(before, after)
    old = expectations(before, chosen)
    new = expectations(after, chosen)
    changes: list[Change] = []
    for cell in chosen:
        b, a = old[cell], new[cell]
        if _answers(b.state) != _answers(a.state):
            kind = OPENED if _answers(a.state) else CLOSED
            changes.append(Change(cell, kind, b, a))
        elif b.state is a.state and _answers(a.state) and b.allowed_by != a.allowed_by:
            changes.append(Change(cell, REASON, b, a))
    return chosen, old, new, changes


def by_cause(changes: Iterable[Change]) -> dict[tuple[str, str], list[Change]]:
    """Changes grouped by kind and cause, in the order first seen."""
    groups: dict[tuple[str, str], list[Change]] = {}
    for change in changes:
        groups.setdefault((change.kind, change.cause), []).append(change)
    return groups


def gate(after: Topology, changes: Iterable[Change], targets: Iterable[str]) -> list[Change]:
    """The opened cells whose source is an outside host in one of ``targets``: ``internet``
    (any outside host) or a CIDR."""
    nets = []
    for text in targets:
        if text == "internet":
            nets.extend([ip_network("0.0.0.0/0"), ip_network("::/0")])
        else:
            nets.append(ip_network(text, strict=False))
    failed = []
    nodes = after.nodes_by_name
    for change in changes:
        source = nodes[change.cell.source]
        if change.kind != OPENED or not isinstance(source, Host):
            continue
        addresses = [source.address, *((source.address6,) if source.address6 else ())]
        if any(
            address in net
            for net in nets
            for address in addresses
            if address.version == net.version
        ):
            failed.append(change)
    return failed
