"""The Docker runtime: instances and outside hosts as containers on a lab fabric.

Every container carries the labels ``sg-harness.lab=<lab name>``, ``sg-harness.kind`` (run,
pytest or persistent), ``sg-harness.node`` and, for one-shot labs, ``sg-harness.owner`` (the
pid of the process that made it); cleanup removes exactly the containers of one lab, and labs
of different kinds never touch one another. Containers run with ``--network none`` and are
plumbed by the scripts of :mod:`harness.core.fabric`; policies are installed by running the
host's ``nft`` inside each instance's network namespace. No Docker SDK object leaves this
module: the lab sees :class:`~harness.core.runtime.NodeState` values.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from harness.adapters import netns, system
from harness.adapters.concurrency import parallel
from harness.adapters.namespaces import NamespaceOps, listed_policy, make_switch, plugging
from harness.core.model import Instance, LabNode, Topology
from harness.core.phases import Phases
from harness.core.runtime import (
    SWITCH,
    LabInfo,
    LabKind,
    LabRef,
    NodeState,
)
from harness.errors import LabError, PrerequisiteError

LABEL = "sg-harness.lab"
KIND_LABEL = "sg-harness.kind"
NODE_LABEL = "sg-harness.node"
ROLE_LABEL = "sg-harness.role"
OWNER_LABEL = "sg-harness.owner"
INSTANCE_IMAGE = "sgh-instance:latest"
REMOVE_ROUNDS = 5
READY_FILE = "/run/sgh-ready"  # written by the listener once its ports are bound


def container_name(lab: LabRef, node: str) -> str:
    prefix = "sghp" if lab.kind is LabKind.PERSISTENT else "sgh"
    return f"{prefix}-{lab.name}-{node.strip('_')}"


def kind_of(labels: Mapping[str, str]) -> LabKind:
    """A container's lab kind (containers made before kinds existed were one-shot runs)."""
    try:
        return LabKind(labels.get(KIND_LABEL, LabKind.RUN))
    except ValueError:
        return LabKind.RUN


class DockerRuntime(NamespaceOps):
    name = "docker"
    node_word = "container"
    poll_interval = 0.005  # a stat a node: looking often costs next to nothing

    def __init__(self, instance_image: str = INSTANCE_IMAGE) -> None:
        self.instance_image = instance_image
        self._client: Any = None

    # -- prerequisites ---------------------------------------------------------------------

    @property
    def client(self) -> Any:
        if self._client is None:
            try:
                import docker

                client = docker.from_env(timeout=120)
                client.ping()
            except Exception as err:
                raise PrerequisiteError(
                    f"no Docker engine answers ({_short(err)}); "
                    "'sgh doctor --runtime docker --fix' starts one"
                ) from None
            self._client = client
        return self._client

    def check(self, topology: Topology | None = None) -> None:
        """Everything a lab needs, or a PrerequisiteError naming what is missing."""
        if os.geteuid() != 0:
            raise PrerequisiteError(
                "sgh needs root (it enters containers' network namespaces); run it with sudo"
            )
        lacking = system.missing([system.CORE])  # the engine: the client says below
        if lacking:
            raise PrerequisiteError(system.hint(lacking))
        images = {self.instance_image}
        if topology is not None:
            images.update(i.image for i in topology.instances if i.image is not None)
        for image in sorted(images):
            if not self._has_image(image):
                hint = (
                    "run 'make setup' to build it"
                    if image == self.instance_image
                    else "build or load it first (no registry is reachable from a lab machine)"
                )
                raise PrerequisiteError(f"Docker image {image} is missing; {hint}")

    def _has_image(self, image: str) -> bool:
        import docker.errors

        try:
            self.client.images.get(image)
        except docker.errors.ImageNotFound:
            return False
        except docker.errors.APIError as err:
            raise PrerequisiteError(f"cannot look up image {image}: {_short(err)}") from None
        return True

    # -- what is there ---------------------------------------------------------------------

    def _containers(self, lab: LabRef | None = None) -> list[Any]:
        """The lab's containers (every sg-harness container with no lab), running or not."""
        import docker.errors

        selector = LABEL if lab is None else f"{LABEL}={lab.name}"
        try:
            found = self.client.containers.list(
                all=True, filters={"label": selector}, ignore_removed=True
            )
        except docker.errors.DockerException as err:
            raise LabError(f"cannot list containers: {_short(err)}") from None
        if lab is None:
            return list(found)
        return [c for c in found if kind_of(c.labels) is lab.kind]

    def leftovers(self, lab: str | None = None) -> list[str]:
        """Names of the containers labelled with this lab name (any kind), or of every lab."""
        found = self._containers()
        return sorted(c.name for c in found if lab is None or c.labels.get(LABEL) == lab)

    def labs(self) -> list[LabInfo]:
        by_lab: dict[tuple[str, LabKind], list[Any]] = {}
        for container in self._containers():
            key = (container.labels.get(LABEL, ""), kind_of(container.labels))
            by_lab.setdefault(key, []).append(container)
        infos = []
        for (name, kind), containers in sorted(by_lab.items()):
            owners = {int(c.labels.get(OWNER_LABEL) or 0) for c in containers}
            infos.append(
                LabInfo(
                    name,
                    kind,
                    len(containers),
                    sum(c.status == "running" for c in containers),
                    max(owners),
                )
            )
        return infos

    def observe(
        self, lab: LabRef, hints: Mapping[str, int] | None = None, policies: bool = False
    ) -> dict[str, NodeState]:
        hints = hints or {}
        containers = {c.labels.get(NODE_LABEL, c.name): c for c in self._containers(lab)}

        def state(item: tuple[str, Any]) -> NodeState:
            name, container = item
            if container.status != "running":
                return NodeState(name, running=False)
            pid = _pid_of(container, hints.get(name, 0))
            if pid == 0:
                return NodeState(name, running=False)
            addresses, routes = plugging(pid)
            policy = None
            if policies and container.labels.get(ROLE_LABEL) == "instance":
                policy = listed_policy(pid)
            return NodeState(name, True, pid, addresses, routes, policy)

        return dict(parallel(lambda item: (item[0], state(item)), containers.items()))

    # -- changes ---------------------------------------------------------------------------

    def start(self, lab: LabRef, nodes: Sequence[LabNode | None], phases: Phases) -> dict[str, int]:
        """Start nodes in parallel (``None``: the switch, with its bridge)."""
        if not nodes:
            return {}
        phases.start(f"starting {len(nodes)} containers", len(nodes))

        def start(node: LabNode | None) -> tuple[str, int]:
            pid = self._start(lab, node)
            if node is None:
                make_switch(pid)
            phases.advance()
            return (SWITCH if node is None else node.name), pid

        def acknowledge() -> None:
            phases.interrupted()
            phases.note("interrupted: no more containers start; the lab is being cleaned up")

        started = dict(parallel(start, nodes, on_interrupt=acknowledge))
        phases.finish("containers")
        return started

    def remove(self, lab: LabRef, names: Iterable[str], phases: Phases) -> int:
        wanted = set(names)
        containers = [
            c for c in self._containers(lab) if c.labels.get(NODE_LABEL, c.name) in wanted
        ]
        return self._remove(containers, phases)

    def down(self, lab: LabRef, phases: Phases) -> int:
        """Remove every container of the lab, looking again until none is left."""
        removed = 0
        for _ in range(REMOVE_ROUNDS):
            containers = self._containers(lab)
            if not containers:
                return removed
            removed += self._remove(containers, phases)
        left = len(self._containers(lab))
        if left:
            raise LabError(f"{lab}: {left} containers are still there after {REMOVE_ROUNDS} tries")
        return removed

    def _ready(self, pid: int, instance: Instance) -> bool:
        """The harness's listener says it is ready in a file of the container (one stat from
        the host, at /proc/PID/root); a user's own image is waited for by its sockets."""
        if instance.image is None:
            return Path(f"/proc/{pid}/root{READY_FILE}").exists()
        return super()._ready(pid, instance)

    # -- containers ------------------------------------------------------------------------

    def _start(self, lab: LabRef, node: LabNode | None) -> int:
        import docker.errors

        labels = {LABEL: lab.name, KIND_LABEL: str(lab.kind)}
        if lab.owner:
            labels[OWNER_LABEL] = str(lab.owner)
        command: list[str] | None
        image = self.instance_image
        if node is None:
            name, role, command = SWITCH, "switch", []
        elif isinstance(node, Instance):
            name, role = node.name, "instance"
            if node.image is not None:
                image = node.image
                command = list(node.command) if node.command is not None else None
            else:
                command = [str(item) for item in node.listen]
        else:
            name, role, command = node.name, node.kind, []
        labels[NODE_LABEL] = name
        labels[ROLE_LABEL] = role
        try:
            container = self.client.containers.run(
                image,
                command,
                environment={"SGH_READY_FILE": READY_FILE} if image == self.instance_image else {},
                name=container_name(lab, name),
                hostname=name.strip("_")[:63],
                labels=labels,
                network_mode="none",
                detach=True,
            )
            container.reload()
        except docker.errors.DockerException as err:
            raise LabError(f"cannot start the container of {name}: {_short(err)}") from None
        pid = int(container.attrs["State"].get("Pid") or 0)
        if container.status != "running" or pid == 0:
            logs = container.logs(tail=3).decode(errors="replace").strip().replace("\n", " | ")
            raise LabError(f"the container of {name} exited at once: {logs or 'no output'}")
        return pid

    def _remove(self, containers: list[Any], phases: Phases) -> int:
        import docker.errors

        if not containers:
            return 0
        phases.start("removing containers", len(containers))

        def remove(container: Any) -> None:
            try:
                container.remove(force=True)
            except docker.errors.NotFound:
                pass
            except docker.errors.APIError as err:
                if "already in progress" not in str(err):
                    raise LabError(f"cannot remove {container.name}: {_short(err)}") from None
            phases.advance()

        # One at a time: Docker 20.10 before 20.10.27 (Debian 12 ships 20.10.24) deadlocks
        # when two containers of one network release it at once (moby#46661, fixed by
        # libnetwork#2679): sbLeave holds the network's lock and waits for the controller's,
        # while the watch loop holds the controller's and waits for the network's. Every lab
        # container is on the "none" network, and removing them in parallel wedged the
        # engine (goroutine dump, 2026-11-22). This runs after the answer.
        failed: list[LabError] = []
        for container in containers:
            try:
                remove(container)
            except LabError as err:  # the others are still removed; the first error stands
                failed.append(err)
        netns.release_dead()  # their namespaces must not stay held by our contexts
        if failed:
            raise failed[0]
        phases.finish("teardown")
        return len(containers)


def _pid_of(container: Any, hint: int = 0) -> int:
    """A running container's pid: ``hint`` if /proc says it is still that container's."""
    if hint:
        try:
            if container.id in Path(f"/proc/{hint}/cgroup").read_text():
                return hint
        except OSError:
            pass
    try:
        container.reload()
    except Exception:  # gone since it was listed
        return 0
    return int(container.attrs["State"].get("Pid") or 0)


def _short(err: BaseException) -> str:
    text = str(err).strip().replace("\n", " ")
    return text[:300] if text else type(err).__name__
