"""The netns runtime's own promises: what a lab holds is recorded, so nothing escapes cleanup."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from nodes import processes_naming

from harness.adapters.netns_keeper import Entry, alive, read
from harness.adapters.netns_runtime import NetnsRuntime
from harness.core.runtime import Runtime

ROOT = Path(__file__).resolve().parents[2]
SGH = [sys.executable, "-m", "harness.faces.sgh.main"]
DEFAULT_GROUP = "topologies/default-group.yaml"
pytestmark = pytest.mark.netns_only


def test_a_run_killed_with_sigkill_leaves_nothing_sgh_clean_does_not_remove(
    runtime: Runtime,
) -> None:
    assert isinstance(runtime, NetnsRuntime)
    record = runtime.records / "run.three-tier.jsonl"
    run = subprocess.Popen(
        [*SGH, "run", "-q", "--runtime", "netns", str(ROOT / "topologies/three-tier.yaml")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while sum(1 for entry in read(record) if entry.node) < 32:  # every node started
        assert run.poll() is None, "the run ended before it could be killed"
        assert time.monotonic() < deadline, "no node was recorded"
        time.sleep(0.002)
    run.send_signal(signal.SIGKILL)  # in the middle: policies, wiring or probes
    run.wait()
    held: list[Entry] = [entry for entry in read(record) if alive(entry)]
    assert len([entry for entry in held if entry.node]) == 32, "the lab was not left running"
    assert sorted(processes_naming(str(record))) == sorted(entry.pid for entry in held)

    cleaned = subprocess.run(
        [*SGH, "clean"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert cleaned.returncode == 0, cleaned.stderr
    assert "removed 32 nodes" in cleaned.stdout
    assert processes_naming(str(record)) == []  # no process, so no namespace, is left
    assert not any(alive(entry) for entry in held)
    assert not record.exists()
    assert all(info.name != "three-tier" for info in runtime.labs())


def test_a_keeper_killed_alone_takes_its_nodes_and_sgh_clean_forgets_them(
    runtime: Runtime,
) -> None:
    """The keeper gone (the parent of every node), no node is left holding a namespace: each
    dies with it; the record still names them all for sgh clean."""
    assert isinstance(runtime, NetnsRuntime)
    done = subprocess.run(
        [*SGH, "run", "-q", "--keep", "--runtime", "netns", str(ROOT / DEFAULT_GROUP)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    record = runtime.records / "run.default-group.jsonl"
    keepers = [entry for entry in read(record) if not entry.node and alive(entry)]
    nodes = [entry for entry in read(record) if entry.node and alive(entry)]
    assert keepers and nodes
    for keeper in keepers:
        os.kill(keeper.pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while processes_naming(str(record)):
        assert time.monotonic() < deadline, processes_naming(str(record))
        time.sleep(0.01)
    assert not any(alive(entry) for entry in nodes)
    cleaned = subprocess.run(
        [*SGH, "clean", "default-group"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert cleaned.returncode == 0, cleaned.stderr
    assert not record.exists()


def test_a_caller_gone_while_nodes_start_leaves_every_node_recorded(tmp_path: Path) -> None:
    """The leak of an ec2-run killed mid-launch: the keeper's caller gone (its pipe broken)
    while nodes still start. Every node the keeper forked is in the record (none orphaned,
    none unknown to sgh clean), and none outlives the keeper."""
    record = tmp_path / "persistent.leak.jsonl"
    nodes = [{"name": f"n{i}", "role": "instance", "listen": ["tcp/22"]} for i in range(60)]
    keeper = subprocess.Popen(
        [sys.executable, "-m", "harness.adapters.netns_keeper", str(record)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    assert keeper.stdin is not None and keeper.stdout is not None
    keeper.stdin.write(json.dumps(nodes).encode())
    keeper.stdin.close()
    keeper.stdout.readline()  # one node started: then the caller is gone
    keeper.stdout.close()
    try:
        deadline = time.monotonic() + 30
        while len([e for e in read(record) if alive(e)]) < len(nodes):
            assert time.monotonic() < deadline, read(record)
            time.sleep(0.02)
        time.sleep(0.5)  # the keeper goes on after the broken pipe: nothing more appears
        held = {e.pid for e in read(record) if alive(e)}
        assert keeper.poll() is None, "the keeper died with its caller's pipe"
        assert sorted(processes_naming(str(record))) == sorted(held | {keeper.pid})
    finally:
        keeper.kill()
        keeper.wait()
    deadline = time.monotonic() + 10
    while processes_naming(str(record)):  # every node dies with its keeper
        assert time.monotonic() < deadline, processes_naming(str(record))
        time.sleep(0.01)


def test_a_node_gone_before_its_policy_is_named_in_one_error(runtime: Runtime) -> None:
    """A node whose process ended between its start and its policy (a container that dies
    at once can) is a LabError naming it, not an OSError from /proc."""
    from harness.core.phases import QUIET
    from harness.core.runtime import LabNamespaces
    from harness.errors import LabError

    gone = subprocess.Popen(["true"])
    gone.wait()
    lab = LabNamespaces("sgh-gone", {"dies": gone.pid})
    assert isinstance(runtime, NetnsRuntime)
    with pytest.raises(LabError, match="the node of dies exited"):
        runtime.install(lab, {"dies": "table inet sgh\n"}, QUIET)


def test_a_node_stopped_alone_takes_its_listener_and_the_others_serve_on(
    runtime: Runtime,
) -> None:
    """One keeper serves every node's ports, and each node is a process of its own: a node
    killed alone has its sockets closed by the keeper as it is reaped (so its namespace goes
    with it), and every other node still answers."""
    import socket

    from persistent import running

    from harness.adapters import netns
    from harness.formats import topology_file

    assert isinstance(runtime, NetnsRuntime)
    topo = topology_file.load(ROOT / "topologies/three-tier.yaml")
    nodes = topo.nodes_by_name

    def answers(source_pid: int, target: str, port: int) -> bool:
        def connect() -> bool:
            try:
                with socket.create_connection((str(nodes[target].address), port), timeout=2):
                    return True
            except OSError:
                return False

        return netns.call_in(netns.netns_path(source_pid), connect)

    with running(runtime, topo) as (ref, built):
        pids = built.namespaces.pids
        [keeper] = [e.pid for e in read(runtime.record(ref)) if not e.node and alive(e)]

        def sockets() -> int:
            return sum(
                os.readlink(f"/proc/{keeper}/fd/{fd}").startswith("socket:")
                for fd in os.listdir(f"/proc/{keeper}/fd")
            )

        assert answers(pids["internet"], "web-1", 80) and answers(pids["internet"], "web-2", 80)
        held, settled = sockets(), time.monotonic() + 5
        while time.monotonic() < settled:  # the keeper closes what it accepted as it reads EOF
            time.sleep(0.2)
            now = sockets()
            if now == held:
                break
            held = now
        os.kill(pids["web-1"], signal.SIGKILL)
        deadline = time.monotonic() + 10
        while sockets() > held - 4:  # tcp/22 and tcp/80, IPv4 and IPv6
            assert time.monotonic() < deadline, f"{sockets()} sockets, {held} before"
            time.sleep(0.02)
        assert sockets() == held - 4
        assert answers(pids["internet"], "web-2", 80)  # the others serve on
