"""The daemonless runtime: every node a network namespace held by one small process.

No Docker: a keeper process (:mod:`harness.adapters.netns_keeper`) forks the nodes, each of
which unshares a network namespace and serves its instance's ports with the harness's own
listener (:mod:`harness.adapters.listener`). From there the lab is the same as a Docker lab
(:class:`~harness.adapters.namespaces.NamespaceOps`): a switch namespace holding the bridge,
veths, addresses, routes, the same nftables policies and the same probes.

What a lab holds is **recorded**, not named: one JSON-lines file per lab under
:data:`RECORDS` (``<kind>.<lab>.jsonl``) lists every keeper and node by pid and start time,
written before a node is reported started. ``labs``/``down`` (and so ``sgh clean``) work from
the records alone, so a run killed with SIGKILL leaves nothing they cannot find. Nodes run no
images: a topology naming an image needs the Docker runtime.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import suppress
from pathlib import Path

from harness.adapters import netns, system
from harness.adapters.concurrency import interrupts_deferred
from harness.adapters.namespaces import NamespaceOps, listed_policy, make_switch, plugging
from harness.adapters.netns_keeper import Entry, alive, append, locked, read, write
from harness.core.model import Instance, LabNode, Topology
from harness.core.phases import Phases
from harness.core.runtime import SWITCH, LabInfo, LabKind, LabNamespaces, LabRef, NodeState
from harness.errors import LabError, PrerequisiteError

RECORDS = Path(os.environ.get("SGH_NETNS_RECORDS", "/run/sg-harness/netns"))
GONE_TIMEOUT = 10.0
REMOVE_ROUNDS = 5
CONNTRACK_BUCKETS = Path("/proc/sys/net/netfilter/nf_conntrack_buckets")
CONNTRACK_MOST = 1 << 22  # buckets: 32 MiB of table


class NetnsRuntime(NamespaceOps):
    name = "netns"
    node_word = "node"

    def __init__(self, records: Path | None = None) -> None:
        self.records = records if records is not None else RECORDS

    # -- prerequisites ---------------------------------------------------------------------

    def check(self, topology: Topology | None = None) -> None:
        if os.geteuid() != 0:
            raise PrerequisiteError(
                "sgh needs root (it makes network namespaces); run it with sudo"
            )
        lacking = system.missing([system.CORE])
        if lacking:
            raise PrerequisiteError(system.hint(lacking))
        if topology is not None:
            for instance in topology.instances:
                if instance.image is not None:
                    raise PrerequisiteError(
                        f"instance {instance.name} runs the image {instance.image}: the netns "
                        "runtime runs no images; use --runtime docker"
                    )

    # -- the records -----------------------------------------------------------------------

    def record(self, lab: LabRef) -> Path:
        return self.records / f"{lab.kind}.{lab.name}.jsonl"

    def _nodes(self, lab: LabRef) -> dict[str, Entry]:
        """Each node's latest entry (a node started again has a newer one)."""
        return {entry.node: entry for entry in read(self.record(lab)) if entry.node}

    def labs(self) -> list[LabInfo]:
        infos = []
        for path in sorted(self.records.glob("*.jsonl")):
            kind_text, _, name = path.name.removesuffix(".jsonl").partition(".")
            try:
                kind = LabKind(kind_text)
            except ValueError:
                continue
            entries = read(path)
            if not entries:
                continue
            nodes = {entry.node: entry for entry in entries if entry.node}
            owners = [entry.owner for entry in entries if not entry.node]
            running = sum(alive(entry) for entry in nodes.values())
            infos.append(LabInfo(name, kind, len(nodes), running, max(owners, default=0)))
        return infos

    def observe(
        self, lab: LabRef, hints: Mapping[str, int] | None = None, policies: bool = False
    ) -> dict[str, NodeState]:
        states = {}
        for name, entry in self._nodes(lab).items():
            if not alive(entry):
                states[name] = NodeState(name, running=False)
                continue
            addresses, routes = plugging(entry.pid)
            policy = listed_policy(entry.pid) if policies and entry.role == "instance" else None
            states[name] = NodeState(name, True, entry.pid, addresses, routes, policy)
        return states

    # -- changes ---------------------------------------------------------------------------

    def start(self, lab: LabRef, nodes: Sequence[LabNode | None], phases: Phases) -> dict[str, int]:
        """Fork the nodes through one keeper; each is recorded before it is reported."""
        if not nodes:
            return {}
        phases.start(f"starting {len(nodes)} namespaces", len(nodes))
        specs = [_spec(node) for node in nodes]
        path = self.record(lab)
        command = [sys.executable, "-m", "harness.adapters.netns_keeper", str(path)]
        with interrupts_deferred(phases.interrupted):  # the keeper is recorded once it exists
            keeper = subprocess.Popen(
                command,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                stderr=subprocess.DEVNULL,  # it reports on stdout; it must not hold ours
                start_new_session=True,  # a Ctrl-C at the terminal is the lab's to handle
            )
            entry = Entry("", keeper.pid, netns.start_time(keeper.pid), "keeper", lab.owner)
            append(path, entry)
        assert keeper.stdin is not None and keeper.stdout is not None
        keeper.stdin.write(json.dumps(specs))
        keeper.stdin.close()
        pids: dict[str, int] = {}
        errors: list[str] = []
        for line in keeper.stdout:
            said = json.loads(line)
            if "error" in said:
                errors.append(f"cannot start node {said['node']}: {said['error']}")
                continue
            pids[said["node"]] = said["pid"]
            phases.advance()
        keeper.stdout.close()
        if len(pids) + len(errors) < len(specs):
            errors.append(f"the keeper of {lab} stopped after {len(pids)} of {len(specs)} nodes")
        if errors:
            raise LabError(errors[0])
        if SWITCH in pids:
            make_switch(pids[SWITCH])
        phases.finish("namespaces")
        conntrack_room(len(nodes), phases)
        return pids

    def wait_listening(
        self,
        lab: LabNamespaces,
        instances: Sequence[Instance],
        phases: Phases,
        timeout: float = 0.0,
    ) -> None:
        """Nothing to wait for: a node is reported started only once its ports are bound
        (reading /proc/PID/net/tcp instead costs ~10 ms a node: it walks the kernel's global
        socket tables). A node that has died since is named."""
        self._check_alive(lab)

    def remove(self, lab: LabRef, names: Iterable[str], phases: Phases) -> int:
        wanted = set(names)
        entries = [entry for name, entry in self._nodes(lab).items() if name in wanted]
        if not entries:
            return 0
        phases.start("removing namespaces", len(entries))
        _kill(entries)
        _wait_gone(entries, phases)
        self._forget(lab, lambda entry: entry.node in wanted)
        netns.release_dead()  # their namespaces must not stay held by our contexts
        phases.finish("teardown")
        return len(entries)

    def down(self, lab: LabRef, phases: Phases) -> int:
        """Stop every keeper and node the record names, until none is left; then forget it."""
        removed = 0
        path = self.record(lab)
        for _ in range(REMOVE_ROUNDS):
            entries = [entry for entry in read(path) if alive(entry)]
            if not entries:
                with locked(path):
                    if not any(alive(entry) for entry in read(path)):
                        path.unlink(missing_ok=True)
                        return removed
                continue
            nodes = _nodes_in(entries)
            phases.start("removing namespaces", nodes)
            _kill(entries)  # keepers first: none forks another node after this
            _wait_gone(entries, phases)
            netns.release_dead()  # their namespaces must not stay held by our contexts
            phases.finish("teardown")
            removed += nodes
        left = sum(alive(entry) for entry in read(path))
        raise LabError(f"{lab}: {left} processes are still there after {REMOVE_ROUNDS} tries")

    def _forget(self, lab: LabRef, gone: Callable[[Entry], bool]) -> None:
        """Rewrite the record without the entries ``gone`` names, nor the dead ones."""
        path = self.record(lab)
        with locked(path):
            kept = [entry for entry in read(path) if alive(entry) and not gone(entry)]
            write(path, kept)


def conntrack_room(nodes: int, phases: Phases, table: Path = CONNTRACK_BUCKETS) -> int:
    """Raise the kernel's conntrack hash table to a bucket per flow a lab of ``nodes`` can
    hold alive (one per probe a source sends, about nodes squared), when it has a quarter of
    that or less; the buckets it has then. The table is the whole machine's, shared by every
    namespace, and sized at boot for its memory (262,144 buckets on most machines): a
    1000-node lab's million flows made chains of six and slowed each probe (probing
    1000 instances took 43.3 s, 39.2 s with the table raised; measured). kube-proxy raises it
    the same way. It is never lowered, and a machine that refuses leaves it as it was."""
    wanted = min(CONNTRACK_MOST, 1 << max(0, nodes * nodes - 1).bit_length())
    try:
        have = int(table.read_text())
    except (OSError, ValueError):
        return 0
    if have * 4 > wanted:
        return have
    try:
        table.write_text(str(wanted))
    except OSError as err:
        phases.note(f"could not raise the kernel's conntrack table to {wanted:,} buckets: {err}")
        return have
    phases.note(
        f"raised the kernel's conntrack hash table from {have:,} to {wanted:,} buckets for "
        f"{nodes} nodes (for the whole machine, until reboot)"
    )
    return wanted


def _spec(node: LabNode | None) -> dict[str, object]:
    if node is None:
        return {"name": SWITCH, "role": "switch", "listen": []}
    if isinstance(node, Instance):
        return {"name": node.name, "role": "instance", "listen": [str(i) for i in node.listen]}
    return {"name": node.name, "role": node.kind, "listen": []}


def _kill(entries: Sequence[Entry]) -> None:
    """Keepers get SIGTERM (they kill their nodes and reap them), nodes SIGKILL."""
    for entry in sorted(entries, key=lambda entry: bool(entry.node)):
        if alive(entry):
            with suppress(ProcessLookupError):
                os.kill(entry.pid, signal.SIGKILL if entry.node else signal.SIGTERM)


def _wait_gone(entries: Sequence[Entry], phases: Phases) -> None:
    """Until every process is gone; a keeper that outlives its SIGTERM gets SIGKILL, and
    what outlives that is left to the caller's next round."""
    deadline = time.monotonic() + GONE_TIMEOUT
    waiting = list(entries)
    forced = False
    while waiting:
        still = [entry for entry in waiting if alive(entry)]
        phases.advance(_nodes_in(waiting) - _nodes_in(still))
        waiting = still
        if not waiting or (forced and time.monotonic() > deadline):
            return
        if time.monotonic() > deadline:
            for entry in waiting:
                with suppress(ProcessLookupError):
                    os.kill(entry.pid, signal.SIGKILL)
            deadline, forced = time.monotonic() + GONE_TIMEOUT, True
        time.sleep(0.005)


def _nodes_in(entries: Sequence[Entry]) -> int:
    return sum(1 for entry in entries if entry.node)
