"""The netns runtime's keeper: forks lab nodes, each in a network namespace of its own.

    python -m harness.adapters.netns_keeper RECORD < nodes.json

The keeper runs in a session of its own (a Ctrl-C at the terminal does not reach the lab). It
forks one child per node; the child unshares a new network namespace, says so on a pipe and
becomes ``sleep infinity``: a process of a few hundred KiB that holds the namespace. The
keeper then binds the ports each node declares in its namespace (:mod:`harness.adapters.
listener`, from a thread that entered it) and serves every node's sockets from one loop
(:class:`~harness.adapters.listener.Server`): a Python interpreter a lab, not one a node
(measured on 1,000 nodes: 2.6 MiB a node with a listener process each). A node whose process
ends (killed alone, or removed) has its sockets closed at once. Each node is written to the
lab's **record** (one JSON line: node, pid, the pid's start time, role) as soon as it is
forked, before it is waited for, so
whatever happens to the caller afterwards (an error, Ctrl-C, SIGKILL), ``sgh clean`` finds
every process this lab holds from the record alone, with no name pattern. A caller gone while
nodes start does not stop the keeper (what it would have told the caller goes nowhere). The
keeper stays the parent of its nodes and reaps them; it exits once none is left. The runtime
records the keeper itself as soon as it has started it, before the keeper forks anything, and
a node dies with its keeper (``PR_SET_PDEATHSIG``): no node can outlive what the record
names.

The record's format (:class:`Entry`) and its locking are here; the runtime
(:mod:`harness.adapters.netns_runtime`) reads and rewrites it under the same ``flock``.
"""

from __future__ import annotations

import fcntl
import json
import os
import selectors
import shutil
import signal
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass
from pathlib import Path

from harness.adapters import listener
from harness.adapters.netns import call_in, die_with_parent, netns_path, start_time, unshare_net


@dataclass(frozen=True)
class Entry:
    """One process a lab holds: a node (``role`` instance, host, gateway or switch) or a
    keeper (``node`` empty). ``start`` is the process's start time in clock ticks since boot,
    so that a pid reused by another process is never taken for the lab's."""

    node: str
    pid: int
    start: int
    role: str
    owner: int = 0


def alive(entry: Entry) -> bool:
    return entry.start != 0 and start_time(entry.pid) == entry.start


@contextmanager
def locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def read(path: Path) -> list[Entry]:
    try:
        lines = path.read_text().splitlines()
    except FileNotFoundError:
        return []
    return [Entry(**json.loads(line)) for line in lines if line.strip()]


def _line(entry: Entry) -> str:
    return json.dumps(asdict(entry)) + "\n"


def append(path: Path, entry: Entry) -> None:
    with locked(path), open(path, "a") as handle:
        handle.write(_line(entry))


def extend(path: Path, entries: list[Entry]) -> None:
    """Add entries in one write under the lock."""
    with locked(path), open(path, "a") as handle:
        handle.write("".join(_line(entry) for entry in entries))


def write(path: Path, entries: list[Entry]) -> None:
    """Replace the record's entries (the caller holds :func:`locked`)."""
    path.write_text("".join(_line(entry) for entry in entries))


def _child(ready: int, keeper: int, sleeper: str, record: Path) -> None:
    """In the forked child: a namespace of its own, said on the pipe, then only a sleep that
    holds it (the keeper binds and serves its ports), its command line naming the lab's
    record as the keeper's does (``ps`` shows whose it is)."""
    try:
        die_with_parent(keeper)  # kept through exec: the node dies with its keeper
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        quiet = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):  # the keeper's pipes must close when the keeper is done with them
            os.dup2(quiet, fd)
        unshare_net()
        os.write(ready, b"ok")
        os.close(ready)
        os.execv(sleeper, [f"sgh-node {record}", "infinity"])
    except BaseException as err:
        with suppress(OSError):
            os.write(ready, str(err).encode()[:400] or type(err).__name__.encode())
    os._exit(1)


def _bound(node: dict[str, object], pid: int) -> list[socket.socket]:
    """The node's declared ports, bound in its namespace."""
    specs = node.get("listen") or []
    assert isinstance(specs, list)
    return call_in(netns_path(pid), lambda: listener.bind([str(spec) for spec in specs]))


def _tell(said: dict[str, object]) -> None:
    """A line for the caller; a caller gone (a broken pipe) is not the keeper's end."""
    with suppress(OSError):
        print(json.dumps(said), flush=True)


def main(argv: list[str]) -> int:
    record = Path(argv[0])
    nodes = json.load(sys.stdin)
    sleeper = shutil.which("sleep") or "/bin/sleep"
    children: set[int] = set()

    def stop(signum: int, frame: object) -> None:  # sgh clean / down: take the nodes along
        for pid in children:
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)  # a caller gone: EPIPE, not death
    keeper = os.getpid()
    pipes: list[tuple[dict[str, object], int, int]] = []
    for node in nodes:  # fork them all first: their namespaces are made in parallel
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(read_end)
            _child(write_end, keeper, sleeper, record)
        os.close(write_end)
        children.add(pid)
        pipes.append((node, pid, read_end))
    started = [(n, pid, start_time(pid)) for n, pid, _ in pipes]
    extend(
        record,  # a child already gone (start 0) holds nothing
        [Entry(str(n["name"]), pid, at, str(n["role"])) for n, pid, at in started if at],
    )
    server = listener.Server()
    failed = False
    for node, pid, read_end in pipes:
        with os.fdopen(read_end, "rb") as answer:
            said = answer.read().decode(errors="replace")
        if said == "ok":
            try:
                server.add(pid, _bound(node, pid))
            except (ValueError, OSError) as err:
                said = str(err) or type(err).__name__
        if said == "ok":
            _tell({"node": node["name"], "pid": pid})
        else:
            failed = True
            _tell({"node": node["name"], "error": said or "exited"})
    with suppress(OSError):
        sys.stdout.flush()
    os.dup2(os.open(os.devnull, os.O_WRONLY), 1)  # the caller's end of the pipe sees EOF
    if failed:
        stop(signal.SIGKILL, None)
    _serve(server, children)
    return 0


def _serve(server: listener.Server, children: set[int]) -> None:
    """Serve every node's sockets until no node is left; a node that ends (killed alone, or
    removed) has its sockets closed as it is reaped (SIGCHLD wakes the loop)."""
    wake_read, wake_write = socket.socketpair()
    for end in (wake_read, wake_write):
        end.setblocking(False)
    signal.set_wakeup_fd(wake_write.fileno())
    signal.signal(signal.SIGCHLD, lambda signum, frame: None)
    server.selector.register(wake_read, selectors.EVENT_READ, "wake")
    while children:
        if server.step(timeout=5.0):
            with suppress(OSError):
                while wake_read.recv(512):
                    pass
        while children:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                children.clear()
                break
            if pid == 0:
                break
            children.discard(pid)
            server.drop(pid)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
