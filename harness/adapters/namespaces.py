"""What both runtimes do inside a lab's network namespaces, whoever holds them.

A node is a process whose network namespace the lab plugs into its switch: a container's first
process (:mod:`harness.adapters.docker_runtime`) or a process forked by the netns keeper
(:mod:`harness.adapters.netns_runtime`). From there on everything is the same and is here:
wiring the fabric, routes, installing policies, reading what a namespace listens on.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from ipaddress import IPv4Network
from pathlib import Path
from typing import Any

from harness.adapters import netlink, netns
from harness.adapters.concurrency import parallel
from harness.core import fabric
from harness.core.model import Instance, Listen, Protocol
from harness.core.phases import Phases
from harness.core.reconcile import digest
from harness.core.runtime import LabNamespaces
from harness.errors import LabError

READY_TIMEOUT = 30.0
PER_BRIDGE = int(os.environ.get("SGH_PORTS_PER_BRIDGE", fabric.PORTS_PER_BRIDGE))  # the tests
# set it low, to run a lab of many bridges at a small size


class NamespaceOps:
    """The runtime operations that only need each node's pid."""

    node_word = "node"  # what a node is called in errors: "container", "node"
    poll_interval = 0.05  # seconds between looks at the nodes not yet ready

    def plug(self, lab: LabNamespaces, wiring: Mapping[str, fabric.Wiring], phases: Phases) -> None:
        """Plug started nodes into the lab's switch and give them their addresses and routes."""
        if not wiring:
            return
        phases.start("wiring the lab fabric", len(wiring))
        ports = [
            (port, lab.pids[name], inside, hardware)
            for name, plan in wiring.items()
            for (port, inside), hardware in zip(plan.ports, plan.macs, strict=True)
        ]
        netns.release_dead()  # a removed node's namespace must not be held open by us
        stale = switch_ports(lab.switch_pid) & {port for port, _, _, _ in ports}
        script = "".join(f"link del {port}\n" for port in sorted(stale))  # a node's old port
        try:
            listing = netns.run(lab.switch_pid, ["ip", "-o", "link", "show"], "", "lab switch")
            held = fabric.bridges_in_use(listing, stale)
            bridges, made = fabric.placed([port for port, _, _, _ in ports], held, PER_BRIDGE)
            script += made + fabric.attach_script(ports, bridges)
            netns.run(lab.switch_pid, ["ip", "-batch", "-"], script, "lab switch")
            every = {*held, *bridges.values()}
            table = fabric.forwarding_script(ports, bridges, every)
            netns.run(lab.switch_pid, ["bridge", "-batch", "-"], table, "lab switch's table")
        except LabError:
            self._check_alive(lab)  # a node that died is the likelier cause: name it
            raise

        def wire_one(item: tuple[str, fabric.Wiring]) -> None:
            name, plan = item
            pid = lab.pids[name]
            _inside(
                pid, functools.partial(netlink.write_sysctls, plan.sysctls), f"sysctls of {name}"
            )
            netns.run(pid, ["ip", "-batch", "-"], plan.script, f"network of {name}")
            if plan.script6:
                netns.run(pid, ["ip", "-6", "-batch", "-"], plan.script6, f"network of {name}")
            if plan.neighbours:
                neighbours = functools.partial(netlink.add_neighbours, plan.neighbours)
                _inside(pid, neighbours, f"neighbours of {name}")
            phases.advance()

        parallel(wire_one, list(wiring.items()))
        phases.finish("fabric")

    def route(
        self, lab: LabNamespaces, names: Iterable[str], subnets: Sequence[IPv4Network]
    ) -> None:
        script = fabric.routes_script(list(subnets))
        parallel(
            lambda name: netns.run(lab.pids[name], ["ip", "-batch", "-"], script, "routes"),
            names,
        )

    def install(
        self, lab: LabNamespaces, policies: Mapping[str, str], phases: Phases
    ) -> dict[str, str]:
        """Apply each instance's nft transaction (atomically, one per instance); the digest
        of how nft lists it."""
        if not policies:
            return {}
        phases.start("installing nftables policies", len(policies))

        def apply(item: tuple[str, str]) -> tuple[str, str]:
            name, script = item
            try:
                listing = netns.load(lab.pids[name], script, f"nft policy of {name}")
            except OSError as err:  # its namespace is gone: a node that died, named if so
                self._check_alive(lab)
                raise LabError(f"nft policy of {name}: {err.strerror or err}") from None
            phases.advance()
            return name, digest(listing)

        # One after another: libnftables calls are serialised anyway (see ``netns.listed``), and
        # a pool of threads waiting on that lock cost 10-17 ms on 29 policies (measured).
        listed = dict(apply(item) for item in sorted(policies.items()))
        phases.finish("rules")
        return listed

    def installed_policy(self, lab: LabNamespaces, node: str) -> str:
        return netns.listed(lab.pids[node])

    def wait_listening(
        self,
        lab: LabNamespaces,
        instances: Sequence[Instance],
        phases: Phases,
        timeout: float = READY_TIMEOUT,
    ) -> None:
        """Wait until every instance listens on the ports it declares (its server is up),
        as :meth:`_ready` tells."""
        waiting = {i.name: i for i in instances if i.listen}
        if not waiting:
            return
        phases.start("waiting for instances to listen", len(waiting))
        deadline = time.monotonic() + timeout
        while waiting:
            self._check_alive(lab)
            for name, instance in list(waiting.items()):
                if self._ready(lab.pids[name], instance):
                    del waiting[name]
                    phases.advance()
            if not waiting:
                break
            if time.monotonic() > deadline:
                name, instance = sorted(waiting.items())[0]
                missing = set(instance.listen) - listening(lab.pids[name])
                ports = ", ".join(str(item) for item in sorted(missing))
                raise LabError(
                    f"instance {name} does not listen on {ports} after {timeout:.0f}s "
                    f"(its image must serve the ports its 'listen' declares)"
                )
            time.sleep(self.poll_interval)
        phases.finish("listen")

    def _ready(self, pid: int, instance: Instance) -> bool:
        """Whether the namespace listens on every port the instance declares (read from
        /proc/PID/net: about 10 ms, it walks the kernel's global socket tables)."""
        return set(instance.listen) <= listening(pid)

    def _check_alive(self, lab: LabNamespaces) -> None:
        """A LabError naming the first node whose container has exited."""
        for name, pid in sorted(lab.pids.items()):
            if not netns.start_time(pid):
                raise LabError(f"the {self.node_word} of {name} exited")


def make_switch(pid: int) -> None:
    """The lab's bridge, in the namespace of ``pid``, with bridged frames kept out of IP
    netfilter (:data:`fabric.SWITCH_SYSCTLS`)."""
    netns.run(pid, ["ip", "-batch", "-"], fabric.bridge_script(), "lab switch")
    settings = tuple(fabric.SWITCH_SYSCTLS.items())
    write = functools.partial(netlink.write_sysctls, settings, present=True)
    _inside(pid, write, "sysctls of the lab switch")


def _inside(pid: int, function: Callable[[], None], what: str) -> None:
    """``function`` in a thread inside the namespace of ``pid`` (what :func:`netns.run` is for
    a process): its errors become a LabError naming ``what``."""
    try:
        netns.call_in(netns.netns_path(pid), function)
    except (LabError, OSError) as err:
        raise LabError(f"{what}: {err}") from None


def plugging(pid: int) -> tuple[frozenset[Any], frozenset[Any]]:
    """The addresses and on-link routes of a namespace, read from the host's /proc/PID/net."""
    try:
        trie = Path(f"/proc/{pid}/net/fib_trie").read_text()
        routes = Path(f"/proc/{pid}/net/route").read_text()
    except OSError:
        return frozenset(), frozenset()
    return fabric.parse_local_addresses(trie), fabric.parse_routes(routes)


def switch_ports(pid: int) -> set[str]:
    """The interfaces of a namespace, from the host's /proc/PID/net/dev."""
    try:
        lines = Path(f"/proc/{pid}/net/dev").read_text().splitlines()[2:]
    except OSError:
        return set()
    return {line.split(":", 1)[0].strip() for line in lines if ":" in line}


def listed_policy(pid: int) -> str:
    """The digest of the namespace's ``table inet sgh`` as nft lists it; "" when it has none."""
    try:
        return digest(netns.listed(pid))
    except LabError:
        return ""


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
