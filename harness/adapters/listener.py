#!/usr/bin/python3
"""The harness's own listener: serve the ports an instance declares, and nothing else.

    sgh-serve tcp/22 tcp/80 udp/53

TCP ports accept connections (and hold them until the peer closes); UDP ports answer each
datagram with one datagram, from the address it was sent to. With no ports it just waits, as an
outside host or a lab switch. Every socket is bound before ``ready`` is said (a file named by
``$SGH_READY_FILE`` in a container, a byte on a pipe for a netns node), so a lab never reads
the kernel's socket tables to learn that its listeners are up.

It needs nothing but Python's standard library: the Docker instance image runs this very file
as ``/usr/local/bin/sgh-serve`` (``scripts/build-images.sh`` copies it), and the netns
runtime's keeper (:mod:`harness.adapters.netns_keeper`) imports it into each node it forks.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import socket
import sys

IP_PKTINFO = 8
IPV6_RECVPKTINFO = 49
IPV6_PKTINFO = 50
BACKLOG = 1024


def bind(specs: list[str]) -> list[socket.socket]:
    """Every declared port bound on IPv4, and on IPv6 where the namespace has it ("::" is
    bound v6-only); a bad spec or a port that cannot be bound is a ValueError or OSError."""
    sockets: list[socket.socket] = []
    for spec in specs:
        proto, _, port_text = spec.partition("/")
        if proto not in ("tcp", "udp") or not port_text.isdigit():
            raise ValueError(f"bad port spec {spec!r} (tcp/N or udp/N)")
        port = int(port_text)
        for family, host in ((socket.AF_INET, "0.0.0.0"), (socket.AF_INET6, "::")):
            try:
                sockets.append(_bound(proto, family, host, port))
            except OSError:
                if family == socket.AF_INET:
                    raise
    return sockets


def _bound(proto: str, family: socket.AddressFamily, host: str, port: int) -> socket.socket:
    kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
    sock = socket.socket(family, kind)
    try:
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        if proto == "tcp":
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        elif family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, IPV6_RECVPKTINFO, 1)
        else:
            sock.setsockopt(socket.IPPROTO_IP, IP_PKTINFO, 1)
        sock.bind((host, port))
        if proto == "tcp":
            sock.listen(BACKLOG)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


def serve(sockets: list[socket.socket]) -> None:
    """Serve until killed (SIGTERM or SIGINT end it quietly)."""
    server = Server()
    server.add(0, sockets)
    while True:
        server.step()


class Server:
    """The sockets of many nodes served from one loop (the netns runtime's keeper serves
    every node it forked: one process, not one a node), each node's by its owner, so that a
    node's sockets and the connections they hold can be closed alone (:meth:`drop`)."""

    def __init__(self) -> None:
        self.selector = selectors.DefaultSelector()
        self.owned: dict[int, set[socket.socket]] = {}

    def add(self, owner: int, sockets: list[socket.socket]) -> None:
        held = self.owned.setdefault(owner, set())
        for listening in sockets:
            self.selector.register(listening, selectors.EVENT_READ, (owner, "listen"))
            held.add(listening)

    def drop(self, owner: int) -> None:
        for sock in self.owned.pop(owner, set()):
            with contextlib.suppress(KeyError, ValueError):
                self.selector.unregister(sock)
            sock.close()

    def step(self, timeout: float | None = None) -> list[object]:
        """Serve what is ready (waiting up to ``timeout``); the data of ready files that are
        not a node's (a caller's own, registered with other data)."""
        others: list[object] = []
        for key, _ in self.selector.select(timeout):
            sock = key.fileobj
            if not isinstance(key.data, tuple) or not isinstance(sock, socket.socket):
                others.append(key.data)
                continue
            owner, role = key.data
            if sock.type == socket.SOCK_DGRAM:
                _answer(sock)
            elif role == "held":
                self._drain(owner, sock)
            else:
                self._accept(owner, sock)
        return others

    def _accept(self, owner: int, sock: socket.socket) -> None:
        try:
            conn, _ = sock.accept()
        except OSError:
            return
        conn.setblocking(False)
        self.selector.register(conn, selectors.EVENT_READ, (owner, "held"))
        self.owned.setdefault(owner, set()).add(conn)

    def _drain(self, owner: int, conn: socket.socket) -> None:
        try:
            if conn.recv(4096):
                return
        except BlockingIOError:
            return
        except OSError:
            pass
        self.selector.unregister(conn)
        self.owned.get(owner, set()).discard(conn)
        conn.close()


def _answer(sock: socket.socket) -> None:
    """Answer each datagram from the address it was sent to (an instance with several
    interfaces must not answer from another one), using the packet-info control message."""
    level, kind = (
        (socket.IPPROTO_IP, IP_PKTINFO)
        if sock.family == socket.AF_INET
        else (socket.IPPROTO_IPV6, IPV6_PKTINFO)
    )
    while True:
        try:
            data, ancillary, _, addr = sock.recvmsg(2048, 256)
        except OSError:  # BlockingIOError included: nothing more to read
            return
        control = [(lvl, typ, info) for lvl, typ, info in ancillary if lvl == level and typ == kind]
        if control and sock.family == socket.AF_INET:
            # in_pktinfo: ifindex, spec_dst, addr; answer from addr (where it was sent)
            info = control[0][2]
            control = [(level, kind, info[:4] + info[8:12] + info[8:12])]
        with contextlib.suppress(OSError):
            sock.sendmsg([b"sgh " + data[:64]], control, 0, addr)


def _stop(signum: int, frame: object) -> None:
    sys.exit(0)


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        sockets = bind(argv)
    except (ValueError, OSError) as err:
        print(f"sgh-serve: {err}", file=sys.stderr)
        return 2
    print("sgh-serve: ready " + " ".join(argv), flush=True)
    marker = os.environ.get("SGH_READY_FILE")
    if marker:  # a container: the host sees it at /proc/PID/root, one stat, no polling of sockets
        with open(marker, "w") as handle:
            handle.write("ready\n")
    serve(sockets)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
