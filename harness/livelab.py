"""A persistent lab: a control plane in SQLite and a data plane of containers that follows it.

Every change (an ``ec2-*`` command, a Query API call, ``sgh host add``) runs under the lab's
lock as one database transaction, then ``sync`` brings the data plane to the committed state
before the caller answers:

1. containers of terminated instances, removed hosts and dead containers are removed;
2. containers are started for active instances and hosts that have none;
3. every instance whose compiled policy differs from what it last had (or whose container is
   new) gets its nftables transaction, before a new container is wired into the fabric;
4. new containers are plugged into the switch; routes follow new host subnets;
5. new instances are waited for until their servers listen.

The database records, per node, the pid and policy digest last applied, so ``sync`` is also
the reconciliation after a reboot or a killed process: ``sgh lab up`` on a lab whose containers
are gone, stopped or extra brings them back to the state, and nothing committed is lost.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from harness import cloud as ec2cloud
from harness.cloud import Cloud
from harness.compiler import compile_lab
from harness.errors import LabError
from harness.lab import probe_matrix
from harness.matrix import Matrix
from harness.model import Instance, Node, Topology
from harness.probe.base import Prober
from harness.progress import Progress
from harness.runtime.base import LiveLab
from harness.runtime.docker import SWITCH, DockerRuntime
from harness.store import Applied, Home, Store

T = TypeVar("T")


def new_id(prefix: str) -> str:
    """An EC2-style id: ``i-``/``r-`` and 8 random hex digits."""
    return prefix + secrets.token_hex(4)


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class PersistentLab:
    def __init__(
        self,
        home: Home,
        name: str,
        runtime: DockerRuntime | None = None,
        create: bool = False,
    ) -> None:
        self.home = home
        self.name = name
        self.store: Store = home.open(name, create=create)
        self.runtime = runtime if runtime is not None else DockerRuntime()
        self.last_sync: dict[str, float] = {}

    def close(self) -> None:
        self.store.close()

    @property
    def is_up(self) -> bool:
        return self.store.get("up") == "1"

    def cloud(self) -> Cloud:
        return self.store.load()

    def topology(self, cloud: Cloud | None = None) -> Topology:
        return ec2cloud.topology(cloud if cloud is not None else self.cloud(), self.name)

    # -- changes --------------------------------------------------------------------------

    def act(
        self, action: Callable[[Cloud], tuple[Cloud, T]], progress: Progress | None = None
    ) -> T:
        """Commit an action and, if the lab is up, enforce it before returning."""
        with self.store.lock():
            cloud, result = self.store.change(action)
            if self.is_up:
                self.sync(cloud, progress or Progress.quiet())
        return result

    def read(self, action: Callable[[Cloud], tuple[Cloud, T]]) -> T:
        """Run a describe action; an account seen for the first time gets its default group."""
        cloud = self.cloud()
        changed, result = action(cloud)
        if changed is not cloud:
            with self.store.lock():
                self.store.change(action)
        return result

    # -- lifecycle ------------------------------------------------------------------------

    def up(self, progress: Progress) -> LiveLab:
        self.runtime.check()
        with self.store.lock():
            self.store.set("up", "1")
            return self.sync(self.cloud(), progress)

    def down(self, progress: Progress) -> int:
        with self.store.lock():
            removed = self.runtime.down(self.name, progress)
            self.store.set("up", "0")
            self.store.forget_applied()
        return removed

    def live(self) -> LiveLab:
        """The running lab's namespaces, checked against the state (no changes made)."""
        if not self.is_up:
            raise LabError(f"lab '{self.name}' is down; start it with 'sgh lab up {self.name}'")
        topology = self.topology()
        containers = self.runtime.lab_containers(self.name)
        applied = self.store.applied()
        lab = LiveLab(self.name)
        for node in [SWITCH, *(n.name for n in topology.nodes)]:
            container = containers.get(node)
            if container is None or container.status != "running":
                raise LabError(
                    f"lab '{self.name}': the container of {node} is not running; "
                    f"'sgh lab up {self.name}' brings the lab back to its state"
                )
            hint = applied[node].pid if node in applied else 0
            pid = self.runtime.pid_of(container, hint)
            if node == SWITCH:
                lab.switch_pid = pid
            else:
                lab.pids[node] = pid
        return lab

    def sync(self, cloud: Cloud, progress: Progress) -> LiveLab:
        """Make the containers and their policies match ``cloud`` (see the module docstring)."""
        started = time.monotonic()
        runtime = self.runtime
        topology = self.topology(cloud)
        desired: dict[str, Node] = {node.name: node for node in topology.nodes}
        containers = runtime.lab_containers(self.name)
        applied = self.store.applied()
        lab = LiveLab(self.name)

        def running(name: str) -> bool:
            container = containers.get(name)
            return container is not None and container.status == "running"

        if not running(SWITCH):
            # The fabric lives in the switch: without it, every node must be plugged again.
            runtime.remove(list(containers.values()))
            containers = {}
            applied = {}
            self.store.forget_applied()
            lab.switch_pid = runtime.start_switch(self.name)
        else:
            lab.switch_pid = runtime.pid_of(containers[SWITCH], applied.get(SWITCH, _NONE).pid)
        stale = {
            name: container
            for name, container in containers.items()
            if name != SWITCH and (name not in desired or not running(name))
        }
        if stale:
            runtime.remove(list(stale.values()), progress)
        for name in desired:
            if name in containers and name not in stale:
                lab.pids[name] = runtime.pid_of(containers[name], applied.get(name, _NONE).pid)
        new_nodes = [node for name, node in desired.items() if name not in lab.pids]
        if new_nodes:
            runtime.start_nodes(lab, new_nodes, progress)
        policies = compile_lab(topology)
        todo = {
            name: text
            for name, text in policies.items()
            if applied.get(name) != Applied(lab.pids[name], digest(text))
        }
        if todo:
            runtime.install(lab, todo, progress)
        subnets = topology.subnets()
        if new_nodes:
            runtime.wire(lab, new_nodes, subnets, progress)
        subnet_text = ",".join(str(net) for net in subnets)
        new_subnets = self.store.get("subnets") != subnet_text
        if new_subnets:
            old_nodes = [n for n in lab.pids if n not in {node.name for node in new_nodes}]
            runtime.set_routes(lab, old_nodes, subnets)
        new_instances = [node for node in new_nodes if isinstance(node, Instance)]
        if new_instances:
            runtime.wait_listening(new_instances, lab, progress)
        record = {name: Applied(lab.pids[name], digest(text)) for name, text in todo.items()}
        record.update(
            {
                name: Applied(lab.pids[name], "host")
                for name, node in desired.items()
                if not isinstance(node, Instance) and applied.get(name, _NONE).pid != lab.pids[name]
            }
        )
        record[SWITCH] = Applied(lab.switch_pid, "switch")
        gone = frozenset(set(applied) - set(desired) - {SWITCH})
        self.store.record_applied(record, gone)
        if new_subnets:
            self.store.set("subnets", subnet_text)
        self.last_sync = {
            "seconds": time.monotonic() - started,
            "started": len(new_nodes),
            "removed": len(stale),
            "installed": len(todo),
        }
        return lab

    # -- the live matrix ------------------------------------------------------------------

    def matrix(self, prober: Prober, progress: Progress) -> Matrix:
        """Probe the running lab now and compare with what its rules imply."""
        with self.store.lock():
            topology = self.topology()
            lab = self.live()
            started = time.monotonic()
            matrix = probe_matrix(topology, lab, prober, progress)
        matrix.runtime = self.runtime.name
        matrix.timings["total"] = time.monotonic() - started
        return matrix

    def status(self) -> dict[str, Any]:
        cloud = self.cloud()
        active = cloud.active_instances()
        containers = self.runtime.lab_containers(self.name) if self.is_up else {}
        wanted = {SWITCH, *(r.instance_id for r in active), *(h.name for h in cloud.hosts)}
        running = {n for n, c in containers.items() if c.status == "running"}
        return {
            "lab": self.name,
            "home": str(self.home.path),
            "state": "up" if self.is_up else "down",
            "accounts": list(cloud.accounts),
            "groups": len(cloud.groups),
            "rules": sum(len(g.rules) for g in cloud.groups),
            "instances": len(active),
            "terminated": len(cloud.instances) - len(active),
            "hosts": [f"{h.name} {h.address}" for h in cloud.hosts],
            "containers": len(running & wanted),
            "containers_expected": len(wanted) if self.is_up else 0,
            "missing": sorted(wanted - running) if self.is_up else [],
            "extra": sorted(set(containers) - wanted),
        }


_NONE = Applied(0, "")
