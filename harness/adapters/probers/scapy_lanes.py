"""The prober's sockets and lanes: raw sockets opened in each source's namespace, the batches
of a source, the source ports of a round, the share of the jobs each forked lane probes, and
the file-descriptor room a big run needs."""

from __future__ import annotations

import errno
import os
import resource
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from harness.core.model import State
from harness.core.probing import Observation, ProbeJob, SourceBatch

RCVBUF = 8 * 1024 * 1024
SO_RCVBUFFORCE = 33
DROPPED_LEAVING = "dropped leaving the source (its egress rules)"


@dataclass
class Sockets:
    send: socket.socket
    receive: dict[int, socket.socket]
    send6: socket.socket | None = None
    receive6: dict[int, socket.socket] = field(default_factory=dict)

    def close(self) -> None:
        self.send.close()
        for sock in (*self.receive.values(), *self.receive6.values()):
            sock.close()
        if self.send6 is not None:
            self.send6.close()


@dataclass
class Batch:
    spec: SourceBatch
    ident: int
    index: int  # among the batches of the run
    sockets: Sockets | None = None
    error: str = ""  # why its sockets could not be opened
    # Each probe as sent: its bytes, the socket and address it goes by, and its index among
    # the lane's probed jobs (:func:`probed_jobs`), by which answers are matched and kept.
    packets: list[tuple[bytes, socket.socket, tuple[str, int], int]] = field(default_factory=list)
    tcp: dict[tuple[str, int, int], int] = field(default_factory=dict)
    udp: dict[tuple[str, int, int], int] = field(default_factory=dict)
    echo: dict[tuple[str, int], int] = field(default_factory=dict)
    other: dict[tuple[str, int], int] = field(default_factory=dict)


def receiver(family: int, proto: int) -> socket.socket:
    sock = socket.socket(family, socket.SOCK_RAW, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, RCVBUF)
    except OSError:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF)
    sock.setblocking(False)
    return sock


def open_sockets(ipv6: bool = False) -> Sockets:
    send = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    send.setblocking(False)
    receive = {
        proto: receiver(socket.AF_INET, proto)
        for proto in (socket.IPPROTO_TCP, socket.IPPROTO_UDP, socket.IPPROTO_ICMP)
    }
    sockets = Sockets(send, receive)
    if ipv6:
        sockets.send6 = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_RAW)
        sockets.send6.setblocking(False)
        sockets.receive6 = {
            proto: receiver(socket.AF_INET6, proto)
            for proto in (socket.IPPROTO_TCP, socket.IPPROTO_UDP, socket.IPPROTO_ICMPV6)
        }
    return sockets


def share_out(
    lane: list[Batch], observed: list[Observation], seen: list[list[Observation]]
) -> None:
    """What was seen of a lane's probed jobs (in :func:`probed_jobs` order), each batch's
    given to its place in ``seen``; a batch whose sockets did not open has its jobs not-run."""
    at = 0
    for batch in lane:
        count = len(batch.spec.jobs)
        if batch.sockets is None:
            seen[batch.index] = [Observation(State.NOT_RUN, batch.error)] * count
            continue
        seen[batch.index] = observed[at : at + count]
        at += count


def probed_jobs(lane: list[Batch]) -> Iterator[ProbeJob]:
    """The jobs of a lane's sources whose sockets opened, in the order a child answers them
    and its parent reads the answers."""
    return (job for batch in lane if batch.sockets is not None for job in batch.spec.jobs)


LANES = os.cpu_count() or 1
LANE_MINIMUM = 4000  # probes: fewer go in one lane (a thread costs more than it saves)


def split_lanes(
    indexed: list[tuple[int, SourceBatch]], most: int
) -> list[list[tuple[int, SourceBatch]]]:
    """The batches in up to ``most`` lanes of about equal numbers of probes."""
    total = sum(len(spec.jobs) for _, spec in indexed)
    count = max(1, min(most, len(indexed), total // LANE_MINIMUM))
    lanes: list[list[tuple[int, SourceBatch]]] = [[] for _ in range(count)]
    loads = [0] * count
    for item in sorted(indexed, key=lambda item: -len(item[1].jobs)):
        lightest = loads.index(min(loads))
        lanes[lightest].append(item)
        loads[lightest] += len(item[1].jobs)
    return [sorted(lane, key=lambda item: item[0]) for lane in lanes]


def raise_fd_limit(needed: int) -> None:
    """Four sockets per source: lift the soft limit on open files towards the hard one."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, target), hard))


def send_again(sock: socket.socket, data: bytes, address: tuple[str, int], err: OSError) -> str:
    """After a send failed with ``err``: "" once a retry went, else why it could not."""
    for _ in range(200):
        if isinstance(err, BlockingIOError) or err.errno == errno.ENOBUFS:
            time.sleep(0.001)
        elif err.errno == errno.EPERM:  # the source's own output hook dropped it (egress)
            return DROPPED_LEAVING
        else:
            return os.strerror(err.errno or 0) or str(err)
        try:
            sock.sendto(data, address)
            return ""
        except OSError as again:
            err = again
    return "send buffer stayed full"
