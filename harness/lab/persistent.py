"""A persistent lab: a control plane in SQLite and a data plane of containers that follows it.

Every change (an ``ec2-*`` command, a Query API call, ``sgh host add``) runs under the lab's
lock as one database transaction, then the lab is reconciled (:mod:`harness.lab.lifecycle`)
before the caller answers, so the change is enforced when the call returns.

Reconciliation compares the state with what the runtime observes: ``sgh lab up`` repairs a lab
whose containers died, went missing, were never plugged in (an interrupted launch), or whose
policy was changed by hand (each policy is listed by nft and compared with what was
installed); changes trust the record of installed policies and observe the containers only.
Persistent labs are their own kind: a one-shot lab of the same name is never touched.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TypeVar

from harness.adapters import runtimes
from harness.adapters.sqlite_store import Home, Store
from harness.core.ec2 import actions
from harness.core.ec2 import plane as ec2
from harness.core.ec2.actions import Answer, Caller, Request
from harness.core.ec2.plane import Cloud
from harness.core.matrix import CellResult, Matrix, expectations
from harness.core.model import Host, Topology
from harness.core.phases import QUIET, Phases
from harness.core.planner import Cell
from harness.core.probing import Prober
from harness.core.runtime import SWITCH, LabKind, LabNamespaces, LabRef, Runtime
from harness.errors import InvalidInput, LabError
from harness.lab import proofs
from harness.lab.lifecycle import Reconciled, kept, reconcile, survey, teardown
from harness.lab.measure import probe_cells, probe_matrix, reprove

T = TypeVar("T")


def new_id(prefix: str) -> str:
    """An EC2-style id: ``i-``/``r-`` and 8 random hex digits."""
    return prefix + secrets.token_hex(4)


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


@dataclass(frozen=True)
class LabStatus:
    """What ``sgh lab status`` shows: the state, and the data plane as observed."""

    lab: str
    home: str
    platform: str
    region: str
    up: bool
    accounts: tuple[str, ...]
    groups: int
    rules: int
    instances: int
    terminated: int
    hosts: tuple[str, ...]
    containers: int  # running and in the state (the switch included)
    containers_expected: int
    problems: tuple[str, ...]  # what 'sgh lab up' would repair
    regions: tuple[str, ...] = ()  # other regions holding anything: "eu-west-1: 2 groups"


class PersistentLab:
    def __init__(
        self,
        home: Home,
        name: str,
        runtime: Runtime | None = None,
        create: bool = False,
    ) -> None:
        self.home = home
        self.name = name
        self.ref = LabRef(name, LabKind.PERSISTENT)
        self.store: Store = home.open(name, create=create)
        self.runtime: Runtime = (
            runtime if runtime is not None else runtimes.make(self.store.get("runtime") or None)
        )
        self.last_sync: Reconciled | None = None

    def close(self) -> None:
        self.store.close()

    def changes(self) -> int:
        """The lab's change counter (every change counts, whichever process made it)."""
        return self.store.changes()

    @property
    def is_up(self) -> bool:
        return self.store.get("up") == "1"

    def cloud(self, region: str | None = None) -> Cloud:
        """The lab's state, or another region's (``None``: the lab's own region)."""
        return self.store.load(region)

    @property
    def region(self) -> str:
        """The region the lab runs its instances in; other regions are control plane only."""
        return self.store.region()

    def is_home(self, region: str | None) -> bool:
        return region is None or region == self.region

    def topology(self, cloud: Cloud | None = None) -> Topology:
        return ec2.topology(cloud if cloud is not None else self.cloud(), self.name)

    # -- changes --------------------------------------------------------------------------

    def act(
        self,
        action: Callable[[Cloud], tuple[Cloud, T]],
        phases: Phases = QUIET,
        region: str | None = None,
    ) -> T:
        """Commit an action and, if the lab is up, enforce it before returning (a change in
        another region than the lab's has nothing to enforce)."""
        with self.store.lock():
            cloud, result = self.store.change(action, region)
            if self.is_up and self.is_home(region):
                self.sync(cloud, phases)
        return result

    def call(
        self,
        name: str,
        account: str,
        request: Request,
        *,
        phases: Phases = QUIET,
        region: str | None = None,
        regions: tuple[str, ...] = (),
    ) -> Answer:
        """An EC2 action of the action layer (the one every door calls), as ``account``: a
        change is committed and enforced, a describe only reads. ``regions``: the regions
        the caller's door knows (DescribeRegions)."""
        changes = actions.find(name).changes
        if region is not None:
            ec2.check_region(region)
        caller = Caller(account, new_id, now, regions, self.region)

        def run(cloud: Cloud) -> tuple[Cloud, Answer]:
            return actions.run(name, cloud, caller, request)

        return self.act(run, phases, region) if changes else self.read(run, region)

    def call_all(
        self, account: str, calls: Sequence[tuple[str, Request]], *, phases: Phases = QUIET
    ) -> list[Answer]:
        """Several actions as one change: all of them committed and enforced, or none (the
        first refusal leaves the lab as it was). Describes alone only read, all from one
        load of the state (one page of the console, one view)."""
        caller = Caller(account, new_id, now, (), self.region)
        changes = any(actions.find(name).changes for name, _ in calls)

        def run(cloud: Cloud) -> tuple[Cloud, list[Answer]]:
            answers = []
            for name, request in calls:
                cloud, answer = actions.run(name, cloud, caller, request)
                answers.append(answer)
            return cloud, answers

        return self.act(run, phases) if changes else self.read(run)

    def add_host(self, name: str, address: str, phases: Phases = QUIET) -> Host:
        """An outside host (the lab's own, not EC2's): placed and enforced."""
        return self.act(lambda c: ec2.add_host(c, name, address), phases)

    def remove_host(self, name: str, phases: Phases = QUIET) -> Host:
        return self.act(lambda c: ec2.remove_host(c, name), phases)

    def dry_run(self, name: str, account: str, request: Request, region: str | None = None) -> None:
        """Check an action against the lab's state, and do nothing (EC2's DryRun)."""
        caller = Caller(account, new_id, now, (), self.region)
        actions.run(name, self.cloud(region), caller, request)

    def read(self, action: Callable[[Cloud], tuple[Cloud, T]], region: str | None = None) -> T:
        """Run a describe action; an account seen for the first time gets its default group."""
        cloud = self.cloud(region)
        changed, result = action(cloud)
        if changed is not cloud:
            with self.store.lock():
                self.store.change(action, region)
        return result

    def choose(self, platform: str | None = None, region: str | None = None) -> None:
        """A new lab's platform and region; a lab that holds anything keeps the ones it was
        made with."""

        def choose(cloud: Cloud) -> tuple[Cloud, None]:
            wanted = ec2.set_platform(cloud, platform or cloud.platform)
            wanted = replace(wanted, region=ec2.check_region(region or cloud.region))
            if (wanted.platform, wanted.region) == (cloud.platform, cloud.region):
                return cloud, None
            if cloud.groups or cloud.vpcs or cloud.instances or self.store.regions():
                raise InvalidInput(
                    f"lab '{self.name}' is an {cloud.platform} lab in {cloud.region}; its "
                    f"platform and region are chosen when it is made (remove it with "
                    f"'sgh lab rm {self.name}' to start again)"
                )
            return wanted, None

        with self.store.lock():
            self.store.change(choose)

    def use_runtime(self, name: str | None) -> None:
        """Run the lab's nodes on the runtime ``name`` from its next ``up`` (``None``: keep the
        one it has); a lab that is up keeps its runtime until it is down."""
        if name is None or name == self.runtime.name:
            if self.store.get("runtime") != self.runtime.name:
                self.store.set("runtime", self.runtime.name)
            return
        with self.store.lock():
            if self.is_up:
                raise InvalidInput(
                    f"lab '{self.name}' is up on the {self.runtime.name} runtime; take it down "
                    f"first ('sgh lab down {self.name}')"
                )
            self.store.set("runtime", name)
        self.runtime = runtimes.make(name)

    # -- lifecycle ------------------------------------------------------------------------

    def up(self, phases: Phases) -> Reconciled:
        """Start the lab, or repair it: every difference from its state that the runtime shows
        (policies included, as nft lists them) is put right."""
        self.runtime.check()
        with self.store.lock():
            self.store.set("up", "1")
            return self.sync(self.cloud(), phases, deep=True)

    def down(self, phases: Phases) -> int:
        with self.store.lock():
            removed = teardown(self.runtime, self.ref, phases)
            self.store.set("up", "0")
            self.store.record_applied({})
        return removed

    def sync(self, cloud: Cloud, phases: Phases, deep: bool = False) -> Reconciled:
        """Make the containers and their policies match ``cloud``."""
        done = reconcile(
            self.runtime, self.ref, self.topology(cloud), self.store.applied(), phases, deep=deep
        )
        self.store.record_applied(done.applied)
        self.last_sync = done
        return done

    def live(self) -> LabNamespaces:
        """The running lab's namespaces, checked against the state (no changes made)."""
        if not self.is_up:
            raise LabError(f"lab '{self.name}' is down; start it with 'sgh lab up {self.name}'")
        _, steps = survey(self.runtime, self.ref, self.topology(), self.store.applied())
        if steps.remove or steps.start:
            found = steps.problems[0] if steps.problems else "its containers are not its state"
            raise LabError(
                f"lab '{self.name}': {found}; 'sgh lab up {self.name}' brings the lab back "
                "to its state"
            )
        return kept(self.ref, steps)

    # -- the live matrix ------------------------------------------------------------------

    def matrix(self, prober: Prober, phases: Phases, *, everything: bool = False) -> Matrix:
        """Probe the running lab now and compare with what its rules imply: the pairs the
        changes since the last proof can affect, the rest carried over from it
        (:func:`harness.lab.measure.reprove`), or, with ``everything`` or no proof by the same
        runtime and prober, every cell."""
        directory = self.home.lab_dir(self.name)
        with self.store.lock():
            topology = self.topology()
            lab = self.live()
            started = time.monotonic()
            previous = None if everything else proofs.load(directory, phases)
            if previous is not None and (previous.runtime, previous.prober) == (
                self.runtime.name,
                prober.name,
            ):
                matrix = reprove(topology, lab, prober, phases, previous, runtime=self.runtime.name)
            else:
                matrix = probe_matrix(topology, lab, prober, phases, runtime=self.runtime.name)
            proofs.save(directory, matrix)
        return matrix.with_timing("total", time.monotonic() - started)

    def probe(
        self, cells: Callable[[Topology], list[Cell]], prober: Prober, phases: Phases
    ) -> list[CellResult]:
        """Probe some cells of the running lab now (``sgh explain``): ``cells`` chooses them
        from the lab's topology."""
        with self.store.lock():
            topology = self.topology()
            lab = self.live()
            expected = expectations(topology, cells(topology))
            return probe_cells(
                topology, lab, expected, prober=prober, phases=phases, label="of the cell"
            )

    def status(self) -> LabStatus:
        cloud = self.cloud()
        active = cloud.active_instances()
        topology = self.topology(cloud)
        problems: tuple[str, ...] = ()
        running = 0
        if self.is_up:
            observed, steps = survey(
                self.runtime, self.ref, topology, self.store.applied(), deep=True
            )
            problems = steps.problems
            wanted = {SWITCH, *topology.nodes_by_name}
            running = sum(state.running for name, state in observed.items() if name in wanted)
        return LabStatus(
            lab=self.name,
            home=str(self.home.path),
            platform=cloud.platform,
            region=cloud.region,
            up=self.is_up,
            accounts=cloud.accounts,
            groups=len(cloud.groups),
            rules=sum(len(g.rules) for g in cloud.groups),
            instances=len(active),
            terminated=len(cloud.instances) - len(active),
            hosts=tuple(f"{h.name} {h.address}" for h in cloud.hosts),
            containers=running,
            containers_expected=len(topology.nodes) + 1 if self.is_up else 0,
            problems=problems,
            regions=tuple(
                f"{name}: {len(other.groups)} groups, {len(other.vpcs)} VPCs"
                for name, other in self.store.regions().items()
            ),
        )
