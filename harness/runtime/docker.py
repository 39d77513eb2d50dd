"""The Docker runtime: instances and outside hosts as containers on a lab fabric.

Every container carries the label ``sg-harness.lab=<lab name>``; cleanup removes exactly the
containers with that label, on success, failure and Ctrl-C alike. Containers run with
``--network none`` and are plumbed by :mod:`harness.runtime.fabric`; policies are installed by
running the host's ``nft`` inside each instance's network namespace.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from harness import netns
from harness.errors import LabError, PrerequisiteError
from harness.model import Instance, Listen, Node, Protocol, Topology
from harness.progress import Progress
from harness.runtime import fabric
from harness.runtime.base import LiveLab

LABEL = "sg-harness.lab"
NODE_LABEL = "sg-harness.node"
ROLE_LABEL = "sg-harness.role"
INSTANCE_IMAGE = "sgh-instance:latest"
SWITCH = "_switch"
WORKERS = 12
READY_TIMEOUT = 30.0
TOOLS = ("nsenter", "ip", "nft", "sysctl")

T = TypeVar("T")
R = TypeVar("R")


def container_name(lab: str, node: str) -> str:
    return f"sgh-{lab}-{node.strip('_')}"


def parallel(function: Callable[[T], R], items: Iterable[T], workers: int = WORKERS) -> list[R]:
    """Map in threads; the first error is raised after every call has finished."""
    items = list(items)
    if not items:
        return []
    with ThreadPoolExecutor(max_workers=min(workers, len(items))) as pool:
        futures = [pool.submit(function, item) for item in items]
        errors = [f.exception() for f in futures if f.exception() is not None]
    if errors:
        raise errors[0]  # type: ignore[misc]
    return [f.result() for f in futures]


class DockerRuntime:
    name = "docker"

    def __init__(self, instance_image: str = INSTANCE_IMAGE) -> None:
        self.instance_image = instance_image
        self._client: Any = None

    # -- prerequisites ---------------------------------------------------------------------

    @property
    def client(self) -> Any:
        if self._client is None:
            try:
                import docker
                import docker.errors

                client = docker.from_env(timeout=120)
                client.ping()
            except Exception as err:
                raise PrerequisiteError(
                    f"no Docker engine answers ({_short(err)}); run 'make setup' to start one"
                ) from None
            self._client = client
        return self._client

    def check(self, topology: Topology | None = None) -> None:
        """Everything a lab needs, or a PrerequisiteError naming what is missing."""
        if os.geteuid() != 0:
            raise PrerequisiteError(
                "sgh needs root (it enters containers' network namespaces); run it with sudo"
            )
        missing = [tool for tool in TOOLS if shutil.which(tool) is None]
        if missing:
            raise PrerequisiteError(
                f"missing host tools: {', '.join(missing)}; run 'make setup' to install them"
            )
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

    def leftovers(self, lab: str | None = None) -> list[Any]:
        selector = LABEL if lab is None else f"{LABEL}={lab}"
        return list(
            self.client.containers.list(all=True, filters={"label": selector}, ignore_removed=True)
        )

    def ensure_absent(self, lab: str) -> None:
        """Refuse to start a lab whose name is taken (before anything is created)."""
        if self.leftovers(lab):
            raise LabError(
                f"a lab named '{lab}' is already running (containers labelled "
                f"{LABEL}={lab}); remove it with 'sgh clean {lab}'"
            )

    # -- lifecycle -------------------------------------------------------------------------

    def up(self, topology: Topology, progress: Progress) -> LiveLab:
        """Start the switch and every node in parallel, then wire the fabric."""
        lab = LiveLab(topology.name)
        nodes: list[Node] = list(topology.nodes)
        progress.start("starting containers", len(nodes) + 1)

        def start(node: Node | None) -> tuple[str, int]:
            pid = self._start(topology.name, node)
            progress.advance()
            return (node.name if node is not None else SWITCH, pid)

        for name, pid in parallel(start, [None, *nodes]):
            if name == SWITCH:
                lab.switch_pid = pid
            else:
                lab.pids[name] = pid
        progress.finish("containers")

        netns.run(lab.switch_pid, ["ip", "-batch", "-"], fabric.bridge_script(), "lab switch")
        self.wire(lab, nodes, topology.subnets(), progress)
        self.wait_listening(topology.instances, lab, progress)
        return lab

    # -- persistent labs: nodes come and go one change at a time ---------------------------

    def lab_containers(self, lab: str) -> dict[str, Any]:
        """The lab's containers by node name (the switch as ``_switch``), running or not."""
        found: dict[str, Any] = {}
        for container in self.leftovers(lab):
            found[container.labels.get(NODE_LABEL, container.name)] = container
        return found

    def pid_of(self, container: Any, hint: int = 0) -> int:
        """A running container's pid: ``hint`` if /proc says it is still that container's."""
        if hint:
            try:
                if container.id in Path(f"/proc/{hint}/cgroup").read_text():
                    return hint
            except OSError:
                pass
        container.reload()
        return int(container.attrs["State"].get("Pid") or 0)

    def start_switch(self, lab: str) -> int:
        pid = self._start(lab, None)
        netns.run(pid, ["ip", "-batch", "-"], fabric.bridge_script(), "lab switch")
        return pid

    def start_nodes(self, lab: LiveLab, nodes: list[Node], progress: Progress) -> None:
        """Start containers for ``nodes`` (not yet wired; see ``wire``)."""
        progress.start(f"starting {len(nodes)} containers", len(nodes))

        def start(node: Node) -> tuple[str, int]:
            pid = self._start(lab.name, node)
            progress.advance()
            return node.name, pid

        lab.pids.update(parallel(start, nodes))
        progress.finish("containers")

    def wire(self, lab: LiveLab, nodes: list[Node], subnets: list[Any], progress: Progress) -> None:
        """Plug started nodes into the lab's switch and give them their address and routes."""
        progress.start("wiring the lab fabric", len(nodes))
        ports = [(fabric.node_port(node.name), lab.pids[node.name]) for node in nodes]
        try:
            netns.run(
                lab.switch_pid, ["ip", "-batch", "-"], fabric.attach_script(ports), "lab switch"
            )
        except LabError:
            self._check_alive(lab)  # a node that died is the likelier cause: name it
            raise

        def wire_one(node: Node) -> None:
            pid = lab.pids[node.name]
            script = fabric.node_script(node.address, subnets)
            netns.run(pid, ["ip", "-batch", "-"], script, f"network of {node.name}")
            netns.run(pid, fabric.sysctl_argv(), "", f"sysctls of {node.name}")
            progress.advance()

        parallel(wire_one, nodes)
        progress.finish("fabric")

    def set_routes(self, lab: LiveLab, names: list[str], subnets: list[Any]) -> None:
        script = fabric.routes_script(subnets)
        parallel(
            lambda name: netns.run(lab.pids[name], ["ip", "-batch", "-"], script, "routes"),
            names,
        )

    def remove(self, containers: list[Any], progress: Progress | None = None) -> int:
        return self._remove(containers, progress)

    def wait_listening(
        self,
        instances: Iterable[Instance],
        lab: LiveLab,
        progress: Progress,
        timeout: float = READY_TIMEOUT,
    ) -> None:
        """Wait until every instance listens on the ports it declares (its server is up)."""
        waiting = {i.name: set(i.listen) for i in instances if i.listen}
        progress.start("waiting for instances to listen", len(waiting))
        deadline = time.monotonic() + timeout
        while waiting:
            self._check_alive(lab)
            for name in list(waiting):
                waiting[name] -= listening(lab.pids[name])
                if not waiting[name]:
                    del waiting[name]
                    progress.advance()
            if not waiting:
                break
            if time.monotonic() > deadline:
                name, missing = sorted(waiting.items())[0]
                ports = ", ".join(str(item) for item in sorted(missing))
                raise LabError(
                    f"instance {name} does not listen on {ports} after {timeout:.0f}s "
                    f"(its image must serve the ports its 'listen' declares)"
                )
            time.sleep(0.05)
        progress.finish("listen")

    def _check_alive(self, lab: LiveLab) -> None:
        """A LabError naming the first node whose container has exited."""
        for name, pid in sorted(lab.pids.items()):
            if not Path(f"/proc/{pid}").exists():
                logs = ""
                try:
                    container = self.client.containers.get(container_name(lab.name, name))
                    logs = container.logs(tail=3).decode(errors="replace").strip()
                except Exception:  # the logs only decorate the message
                    pass
                detail = f": {logs.replace(chr(10), ' | ')}" if logs else ""
                raise LabError(f"the container of {name} exited{detail}")

    def _start(self, lab: str, node: Node | None) -> int:
        import docker.errors

        labels = {LABEL: lab}
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
            name, role, command = node.name, "host", []
        labels[NODE_LABEL] = name
        labels[ROLE_LABEL] = role
        try:
            container = self.client.containers.run(
                image,
                command,
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

    def install(self, lab: LiveLab, policies: dict[str, str], progress: Progress) -> None:
        """Apply each instance's nft transaction (atomically, one per instance)."""
        progress.start("installing nftables policies", len(policies))

        def apply(item: tuple[str, str]) -> None:
            name, script = item
            netns.run(lab.pids[name], ["nft", "-f", "-"], script, f"nft policy of {name}")
            progress.advance()

        parallel(apply, sorted(policies.items()))
        progress.finish("rules")

    def installed_policy(self, lab: LiveLab, node: str) -> str:
        return netns.run(lab.pids[node], ["nft", "list", "table", "inet", "sgh"], "", "nft list")

    def down(self, lab: str, progress: Progress | None = None) -> int:
        """Remove every container labelled with this lab; returns how many."""
        return self._remove(self.leftovers(lab), progress)

    def clean(self, lab: str | None = None, progress: Progress | None = None) -> int:
        return self._remove(self.leftovers(lab), progress)

    def _remove(self, containers: list[Any], progress: Progress | None) -> int:
        import docker.errors

        if progress is not None:
            progress.start("removing containers", len(containers))

        def remove(container: Any) -> None:
            try:
                container.remove(force=True)
            except docker.errors.NotFound:
                pass
            except docker.errors.APIError as err:
                if "already in progress" not in str(err):
                    raise LabError(f"cannot remove {container.name}: {_short(err)}") from None
            if progress is not None:
                progress.advance()

        parallel(remove, containers)
        if progress is not None:
            progress.finish("teardown")
        return len(containers)


def listening(pid: int) -> set[Listen]:
    """The TCP and UDP ports a namespace listens on, read from the host's /proc/PID/net."""
    found: set[Listen] = set()
    for protocol, files, state in (
        (Protocol.TCP, ("tcp", "tcp6"), "0A"),
        (Protocol.UDP, ("udp", "udp6"), "07"),
    ):
        for name in files:
            try:
                lines = Path(f"/proc/{pid}/net/{name}").read_text().splitlines()[1:]
            except OSError:
                continue
            for line in lines:
                fields = line.split()
                if len(fields) > 3 and fields[3] == state:
                    found.add(Listen(protocol, int(fields[1].rsplit(":", 1)[1], 16)))
    return found


def _short(err: BaseException) -> str:
    text = str(err).strip().replace("\n", " ")
    return text[:300] if text else type(err).__name__
