"""The one lab lifecycle: observe, plan (:mod:`harness.core.reconcile`), execute, tear down.

``reconcile`` is the only way a lab is built or changed: ``sgh run`` reconciles a new lab once,
persistent labs reconcile after every change and at ``sgh lab up``, the pytest plugin and the
replays do the same. The steps run in a safe order: what must go is removed, what is missing is
started, policies are installed **before** a new node is plugged into the fabric, then routes
follow new subnets and new instances are waited for until they listen.

``teardown`` removes a lab with interrupts deferred: a second Ctrl-C is acknowledged but cannot
cut the cleanup short, and it returns only when the runtime shows nothing of the lab left.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from harness.adapters.concurrency import interrupts_deferred
from harness.core.model import Topology
from harness.core.phases import Phases
from harness.core.reconcile import Applied, Plan, plan
from harness.core.runtime import SWITCH, LabNamespaces, LabRef, NodeState, Runtime


class Timed:
    """Phases that also keep each finished phase's time (the lab times its own work)."""

    def __init__(self, phases: Phases) -> None:
        self.phases = phases
        self.timings: dict[str, float] = {}
        self._started = time.monotonic()

    def start(self, phase: str, total: int = 0) -> None:
        self._started = time.monotonic()
        self.phases.start(phase, total)

    def advance(self, count: int = 1) -> None:
        self.phases.advance(count)

    def finish(self, key: str = "", note: str = "") -> float:
        elapsed = time.monotonic() - self._started
        if key:
            self.timings[key] = self.timings.get(key, 0.0) + elapsed
        self.phases.finish(key, note)
        return elapsed

    def note(self, text: str) -> None:
        self.phases.note(text)

    def interrupted(self) -> None:
        self.phases.interrupted()


@dataclass
class Reconciled:
    """A lab after reconciliation: its namespaces, what is installed, and what was done."""

    namespaces: LabNamespaces
    applied: dict[str, Applied]
    plan: Plan
    seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)


def survey(
    runtime: Runtime,
    lab: LabRef,
    desired: Topology,
    applied: dict[str, Applied],
    *,
    deep: bool = False,
) -> tuple[dict[str, NodeState], Plan]:
    """What the runtime observes of the lab (the pids last seen as hints), and the plan that
    would bring it to ``desired``; nothing is changed."""
    hints = {name: record.pid for name, record in applied.items()}
    observed = runtime.observe(lab, hints, policies=deep)
    return observed, plan(desired, observed, applied)


def kept(lab: LabRef, steps: Plan) -> LabNamespaces:
    """The namespaces of the nodes a plan keeps running as they are."""
    return LabNamespaces(
        lab.name,
        {name: pid for name, pid in steps.keep.items() if name != SWITCH},
        steps.keep.get(SWITCH, 0),
        lab.kind,
    )


def reconcile(
    runtime: Runtime,
    lab: LabRef,
    desired: Topology,
    applied: dict[str, Applied],
    phases: Phases,
    *,
    deep: bool = False,
) -> Reconciled:
    """Bring the lab to ``desired``. ``deep`` also compares each policy as nft lists it with the
    one installed (every ``sgh lab up``; changes trust the record for speed)."""
    started = time.monotonic()
    timed = Timed(phases)
    _, steps = survey(runtime, lab, desired, applied, deep=deep)
    for problem in steps.problems:
        timed.note(f"{lab}: {problem}; repairing")
    if steps.remove:
        runtime.remove(lab, steps.remove, timed)
    namespaces = kept(lab, steps)
    to_start = ([None] if steps.start_switch else []) + list(steps.start)
    pids = runtime.start(lab, to_start, timed)
    namespaces.switch_pid = pids.pop(SWITCH, namespaces.switch_pid)
    namespaces.pids.update(pids)
    listings = runtime.install(namespaces, steps.install, timed)
    runtime.plug(namespaces, steps.wiring, timed)
    if steps.route:
        runtime.route(namespaces, steps.route, steps.subnets)
    runtime.wait_listening(namespaces, steps.wait, timed)
    record = {SWITCH: Applied(namespaces.switch_pid)}
    for node in desired.lab_nodes:
        pid = namespaces.pids[node.name]
        if node.name in listings:
            record[node.name] = Applied(pid, steps.digests[node.name], listings[node.name])
        elif node.name in steps.digests:
            record[node.name] = applied[node.name]
        else:
            record[node.name] = Applied(pid)
    return Reconciled(namespaces, record, steps, time.monotonic() - started, timed.timings)


def teardown(runtime: Runtime, lab: LabRef, phases: Phases) -> int:
    """Remove the whole lab; Ctrl-C and SIGTERM are acknowledged but wait for the end."""

    def acknowledge() -> None:
        phases.interrupted()
        phases.note(f"still removing {lab}; it will be gone in a moment")

    with interrupts_deferred(acknowledge):
        return runtime.down(lab, phases)
