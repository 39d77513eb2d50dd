"""Benchmark: the two ways to serve instances' ports on the netns runtime, side by side.

    .venv/bin/python bench/listeners.py [--sizes 100,300,1000]

For N nodes, each with a network namespace of its own serving tcp/22, tcp/443, tcp/8000 and
udp/53 with the harness's listener (:mod:`harness.adapters.listener`):
  - **a process per node** (what the runtime did until issue 33): N processes forked from one
    parent; each makes its namespace, binds its ports, says ready on a pipe and serves them
    (:func:`_listening_child`);
  - **one process for all**: one forked process makes the N namespaces from threads (a
    namespace lives while a socket opened in it is open), binds every port, says ready once
    and serves all the sockets from one event loop.
Printed: seconds until all are ready, and memory per node (MemAvailable's drop over N, read
one second after ready). Each variant is checked to serve: a TCP connection and a UDP answer in
one node's namespace. Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import signal
import socket
import struct
import sys
import time

from table import mem_available

from harness.adapters import listener, netns

PORTS = ["tcp/22", "tcp/443", "tcp/8000", "udp/53"]


def served(path: str) -> bool:
    """A TCP connection is accepted and a UDP datagram answered in the namespace at ``path``."""

    def check() -> bool:
        _loopback_up()
        with socket.create_connection(("127.0.0.1", 8000), timeout=2):
            pass
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.settimeout(2)
            udp.sendto(b"hello", ("127.0.0.1", 53))
            return udp.recv(64).startswith(b"sgh ")

    return netns.call_in(path, check)


def _loopback_up() -> None:
    """``ip link set lo up`` in this thread's namespace, without a process (SIOCSIFFLAGS)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        got = fcntl.ioctl(sock, 0x8913, struct.pack("16sH", b"lo", 0))  # SIOCGIFFLAGS
        flags = struct.unpack("16sH", got[:18])[1]
        fcntl.ioctl(sock, 0x8914, struct.pack("16sH", b"lo", flags | 1))  # IFF_UP


def _listening_child(ready: int, parent: int) -> None:
    """A node as the keeper made it until issue 33: a Python process serving its own ports."""
    try:
        netns.die_with_parent(parent)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        netns.unshare_net()
        sockets = listener.bind(PORTS)
        os.write(ready, b"ok")
        os.close(ready)
        listener.serve(sockets)
    finally:
        os._exit(1)


def per_node(n: int) -> tuple[float, float, bool, list[int]]:
    before = mem_available()
    started = time.monotonic()
    pids, pipes = [], []
    me = os.getpid()
    for _ in range(n):
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # a namespace, the ports, ready said, serve
            os.close(read_end)
            _listening_child(write_end, me)
        os.close(write_end)
        pids.append(pid)
        pipes.append(read_end)
    for read_end in pipes:
        assert os.read(read_end, 2) == b"ok"
        os.close(read_end)
    ready = time.monotonic() - started
    time.sleep(1.0)
    memory = (before - mem_available()) / n
    return ready, memory, served(netns.netns_path(pids[-1])), pids


def one_for_all(n: int) -> tuple[float, float, bool, list[int]]:
    before = mem_available()
    started = time.monotonic()
    read_end, write_end = os.pipe()
    paths_read, paths_write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        try:
            everything: list[socket.socket] = []
            for _ in range(n - 1):
                everything += netns.call_in(None, lambda: listener.bind(PORTS))
            holder, last = _park()  # the last namespace, held by a thread that stays in it
            everything += last
            os.write(paths_write, holder.encode())
            os.write(write_end, b"k")
            listener.serve(everything)
        finally:
            os._exit(1)
    os.close(write_end)
    assert os.read(read_end, 1) == b"k"
    ready = time.monotonic() - started
    path = os.read(paths_read, 200).decode()
    time.sleep(1.0)
    memory = (before - mem_available()) / n
    return ready, memory, served(path), [pid]


def _park() -> tuple[str, list[socket.socket]]:
    """A thread in a namespace of its own, its ports bound, that stays there: its /proc path
    names that namespace, so the check can enter it."""
    import threading

    said: list[str] = []
    bound: list[socket.socket] = []
    done = threading.Event()

    def body() -> None:
        netns.unshare_net()  # a fresh one, bound like the others
        bound.extend(listener.bind(PORTS))
        said.append(f"/proc/{os.getpid()}/task/{threading.get_native_id()}/ns/net")
        done.set()
        time.sleep(3600)

    threading.Thread(target=body, daemon=True).start()
    done.wait()
    return said[0], bound


def stop(pids: list[int]) -> None:
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    for pid in pids:
        os.waitpid(pid, 0)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="100,300,1000")
    sizes = [int(size) for size in parser.parse_args().sizes.split(",") if size]
    print(f"machine: {os.cpu_count()} cores; ports per node: {' '.join(PORTS)}")
    for n in sizes:
        for label, variant in (
            ("a process per node", per_node),
            ("one process for all", one_for_all),
        ):
            ready, memory, ok, pids = variant(n)
            stop(pids)
            print(
                f"N={n}, {label}: ready in {ready:.2f} s, {memory / 2**20:.2f} MiB per node, "
                + ("serving" if ok else "NOT serving")
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
