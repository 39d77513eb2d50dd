"""The scapy prober: TCP SYN, UDP and ICMP echo, a batch per source, one event loop for all.

For every source node the prober opens, inside the source's network namespace, one raw socket
to send (packets crafted with scapy, sent through the source's own netfilter so its conntrack
knows the flow and the replies are let in, as EC2 is stateful) and one raw socket per protocol
to receive. Raw ``AF_INET`` sockets see a packet only after the source's input hook has accepted
it, so a reply the source's policy would drop is never counted.

Verdicts: a SYN-ACK is ``open``, a RST ``closed``; a UDP reply ``open``, an ICMP port
unreachable ``closed``; an echo reply ``open``; nothing at all is ``filtered``; a probe that
could not be sent is ``not-run``. A probe of another IP protocol (a VPC rule's number) is a
well-formed packet of it (an SCTP INIT for 132, eight zero bytes otherwise): the target's
kernel, with no handler for it, answers ICMP protocol unreachable (ICMPv6 parameter problem,
unknown next header): the packet got through, ``closed``; nothing is ``filtered``. A probe the
source's own policy drops (VPC egress) fails to send with EPERM: ``filtered``, at once. IPv6
probes (VPC labs) are crafted whole by scapy and sent on an IPv6 raw socket.

A filtered verdict is the absence of an answer, so the prober
sends the whole batch and waits once. Within each batch it sends the probes the oracle expects
to go unanswered first and the answered ones last: once the last expected answer is back (a
barrier on the same path), the earlier probes have had their chance, and a short grace period
ends the wait. A cell whose verdict disagrees with the oracle is probed once more by the caller.

The grace is skipped when the drops are counted. Each instance's policy counts the new packets
its input chain drops for want of a rule (:data:`harness.core.nftables.DROPPED`; replies are
established or related, never new). The prober reads those counters in the targets' namespaces
before sending and again once every expected answer is back. If they rose by exactly the
number of unanswered-expected probes that left their source, every one of those was dropped,
and no answer can still come. Any other difference (an unexpected answer on its way, a probe
lost elsewhere, a stray packet) means waiting out the grace as before. Only a run in one lane
counts, since lanes share targets.

A big run (8,000 probes or more) is split into lanes, one per core, each a forked process
with its own sources, sockets (opened by the parent in the sources' namespaces, and inherited)
and wait (:mod:`harness.adapters.forked`). Python's share of a probe holds the
interpreter lock; lanes in threads spent much of their time waiting for it (futex waits were 8%
of a 2-core profile on 300 instances). On 2 cores, 300 instances, 148,440 probes: 25,800
verdicts/s in two threads, 39,300 in two processes, measured in the same conditions.
"""

from __future__ import annotations

import errno
import functools
import os
import resource
import selectors
import socket
import struct
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.inet6 import ICMPv6EchoRequest, IPv6
from scapy.layers.sctp import SCTP, SCTPChunkInit
from scapy.packet import Packet, Raw
from scapy.utils import checksum

from harness.adapters import forked, netns
from harness.core.model import Proto, Protocol, State
from harness.core.planner import Cell
from harness.core.probing import Observation, ProbeJob, SourceBatch

SPORT_BASE = 20000
SPORT_SPAN = 40000
RCVBUF = 8 * 1024 * 1024
SO_RCVBUFFORCE = 33
ICMP_ECHO_REPLY = 0
ICMP_UNREACH = 3
ICMP_PROTO_UNREACH = 2
ICMP_PORT_UNREACH = 3
DROPPED_LEAVING = "dropped leaving the source (its egress rules)"
ICMP6_UNREACH = 1
ICMP6_PORT_UNREACH = 4
ICMP6_PARAM_PROBLEM = 4
ICMP6_ECHO_REPLY = 129
NO_REPLY = Observation(State.FILTERED, "no reply")
SYN_ACK = Observation(State.OPEN, "syn-ack")
RST = Observation(State.CLOSED, "rst")


@dataclass
class _Sockets:
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
class _Batch:
    spec: SourceBatch
    ident: int
    index: int  # among the batches of the run
    sockets: _Sockets | None = None
    error: str = ""  # why its sockets could not be opened
    # Each probe as sent: its bytes, the socket and address it goes by, and its index among
    # the lane's probed jobs (:func:`_probed_jobs`), by which answers are matched and kept.
    packets: list[tuple[bytes, socket.socket, tuple[str, int], int]] = field(default_factory=list)
    tcp: dict[tuple[str, int, int], int] = field(default_factory=dict)
    udp: dict[tuple[str, int, int], int] = field(default_factory=dict)
    echo: dict[tuple[str, int], int] = field(default_factory=dict)
    other: dict[tuple[str, int], int] = field(default_factory=dict)


def _receiver(family: int, proto: int) -> socket.socket:
    sock = socket.socket(family, socket.SOCK_RAW, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, RCVBUF)
    except OSError:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF)
    sock.setblocking(False)
    return sock


def _open_sockets(ipv6: bool = False) -> _Sockets:
    send = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    send.setblocking(False)
    receive = {
        proto: _receiver(socket.AF_INET, proto)
        for proto in (socket.IPPROTO_TCP, socket.IPPROTO_UDP, socket.IPPROTO_ICMP)
    }
    sockets = _Sockets(send, receive)
    if ipv6:
        sockets.send6 = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_RAW)
        sockets.send6.setblocking(False)
        sockets.receive6 = {
            proto: _receiver(socket.AF_INET6, proto)
            for proto in (socket.IPPROTO_TCP, socket.IPPROTO_UDP, socket.IPPROTO_ICMPV6)
        }
    return sockets


class ScapyProber:
    """Probe many sources at once; see the module docstring for the method."""

    name = "scapy"

    def __init__(
        self, timeout: float = 2.0, grace: float = 0.3, lanes: int = 0, *, count: bool = True
    ) -> None:
        self.timeout = timeout
        self.grace = grace
        self.lanes = lanes  # 0: one per core (LANES)
        self.count = count  # a run in one lane counts drops (no other run shares its targets)
        self.waits: list[str] = []  # how each lane's wait ended: "counted", "grace", "timeout"

    def run(
        self,
        batches: list[SourceBatch],
        round_number: int = 0,
        on_verdict: Callable[[int], None] | None = None,
    ) -> dict[Cell, Observation]:
        seen = self.in_order(batches, round_number, on_verdict)
        return dict(zip((job.cell for batch in batches for job in batch.jobs), seen, strict=True))

    def in_order(
        self,
        batches: list[SourceBatch],
        round_number: int = 0,
        on_verdict: Callable[[int], None] | None = None,
    ) -> list[Observation]:
        _raise_fd_limit(4 * len(batches) + 64)
        lanes = _lanes(list(enumerate(batches)), self.lanes or LANES)
        states = [self._open(lane, round_number) for lane in lanes]
        seen: list[list[Observation]] = [[] for _ in batches]  # each batch's, in job order
        try:
            if len(states) == 1:
                observed = self._probe(states[0], round_number, on_verdict, count=self.count)
                _share_out(states[0], observed, seen)
                return [observation for each in seen for observation in each]
            # Lanes run in forked processes, each with its own sources and the sockets opened
            # above: Python's share of a probe holds the interpreter lock, and threads spent
            # their time waiting for it while the kernel's share could have run beside them.
            answers = forked.in_processes(
                lambda lane, progress: self._answers(lane, round_number, progress),
                states,
                on_verdict,
            )
        finally:
            for lane in states:
                for batch in lane:
                    if batch.sockets is not None:
                        batch.sockets.close()
        for lane, answered in zip(states, answers, strict=True):
            if isinstance(answered, str):
                failed = Observation(State.NOT_RUN, f"probe lane failed: {answered}")
                _share_out(lane, [failed] * sum(1 for _ in _probed_jobs(lane)), seen)
                continue
            table, raw = answered
            _share_out(lane, forked.decoded([Observation.from_row(r) for r in table], raw), seen)
        return [observation for each in seen for observation in each]

    def alone(self) -> ScapyProber:
        """In one lane, not counting drops: the other workers probe the same targets."""
        return ScapyProber(self.timeout, self.grace, lanes=1, count=False)

    def _answers(
        self, lane: list[_Batch], round_number: int, progress: Callable[[int], None]
    ) -> tuple[list[tuple[str, str]], bytes]:
        """A lane probed in a child process: what was seen of each job, in job order, coded
        (:func:`forked.coded`)."""
        return forked.coded(self._probe(lane, round_number, progress), Observation.row)

    def _open(self, indexed: list[tuple[int, SourceBatch]], round_number: int) -> list[_Batch]:
        """Each source's batch with its sockets open in its namespace; a batch whose sockets
        cannot be opened says why (its cells are ``not-run``)."""
        states: list[_Batch] = []
        for index, spec in indexed:
            batch = _Batch(spec, ident=(0x5300 + index * 7 + round_number) & 0xFFFF, index=index)
            ipv6 = any(":" in job.target_address for job in spec.jobs)
            try:
                batch.sockets = netns.call_in(spec.netns, functools.partial(_open_sockets, ipv6))
            except OSError as err:
                batch.error = f"cannot open probe sockets in {spec.source}: {err.strerror or err}"
            states.append(batch)
        return states

    def _probe(
        self,
        states: list[_Batch],
        round_number: int,
        on_verdict: Callable[[int], None] | None,
        count: bool = False,
    ) -> list[Observation]:
        """Build every open batch's probes, send them, wait once: what was seen of each of
        the lane's probed jobs (:func:`_probed_jobs`), in their order."""
        # Scapy crafts one template per source and protocol; each probe is that template with
        # its addresses, ports and ids filled in and its checksum summed from the template's
        # (crafting every probe with scapy would cost half a millisecond each).
        jobs: list[ProbeJob] = []
        for batch in states:
            if batch.sockets is None:
                continue
            first = len(jobs)
            jobs.extend(batch.spec.jobs)
            self._build(batch, first, round_number)
        seen: list[Observation | None] = [None] * len(jobs)
        selector = selectors.DefaultSelector()
        for batch in states:
            if batch.sockets is not None:
                for sock in batch.sockets.receive.values():
                    selector.register(sock, selectors.EVENT_READ, batch)
                for sock in batch.sockets.receive6.values():
                    selector.register(sock, selectors.EVENT_READ, batch)
        try:
            self._exchange(states, jobs, seen, selector, on_verdict=on_verdict, count=count)
        finally:
            selector.close()  # the sockets are closed by ``run`` (a child's at its exit)
        silent = seen.count(None)
        if silent and on_verdict is not None:
            on_verdict(silent)
        return [NO_REPLY if observation is None else observation for observation in seen]

    def _build(self, batch: _Batch, first: int, round_number: int) -> None:
        """A batch's probes, the ones expected to go unanswered first (see the module's
        docstring), each noted in the table its answer is matched by."""
        assert batch.sockets is not None
        send, send6 = batch.sockets.send, batch.sockets.send6
        source = batch.spec.address
        header = IP(src=source, dst="0.0.0.0", ttl=64)
        templates: dict[Proto, tuple[_Template, dict[tuple[str, int, int], int]]] = {
            Protocol.TCP: (
                _Template(bytes(header / TCP(sport=0, dport=0, flags="S", seq=0, window=64240))),
                batch.tcp,
            ),
            Protocol.UDP: (
                _Template(bytes(header / UDP(sport=0, dport=0) / b"sg-harness probe")),
                batch.udp,
            ),
        }
        echo = bytes(header / ICMP(type=8, code=0, id=0, seq=0) / b"sg-harness")
        # Source ports cycle; a (target, port, source port) key stays unique in a batch.
        sports = _source_ports(round_number, batch.spec.avoid_ports)
        targets: dict[str, tuple[bytes, int, tuple[str, int]]] = {}
        jobs = batch.spec.jobs
        ordered = sorted(range(len(jobs)), key=lambda i: jobs[i].expect_answer)
        packets = batch.packets
        for seq, i in enumerate(ordered):
            job = jobs[i]
            index = first + i
            address = job.target_address
            protocol = job.cell.probe.protocol
            if (job.source_address and job.source_address != source) or ":" in address:
                packet = self._crafted(batch, job, index, seq, sports)
                sender = send6 if ":" in address else send
                assert sender is not None
                packets.append((packet, sender, (address, 0), index))
                continue
            target = targets.get(address)
            if target is None:
                packed = socket.inet_aton(address)
                target = targets[address] = (packed, _sum16(packed), (address, 0))
            template = templates.get(protocol)
            if template is not None:  # TCP SYN or UDP: a template and its answers' table
                port = job.cell.probe.port
                assert port is not None
                sport = next(sports)
                packet = template[0].build(target[0], target[1], sport, port)
                template[1][(address, port, sport)] = index
            elif protocol is Protocol.ICMP:
                packet = _patch_echo(echo, target[0], batch.ident, seq)
                batch.echo[(address, seq)] = index
            else:
                packet = self._crafted(batch, job, index, seq, sports)
            packets.append((packet, send, target[2], index))

    def _crafted(
        self,
        batch: _Batch,
        job: ProbeJob,
        index: int,
        seq: int,
        sports: Iterator[int],
    ) -> bytes:
        """A probe crafted whole by scapy: IPv6, a source address other than the batch's
        (another interface), or another IP protocol."""
        probe = job.cell.probe
        target = job.target_address
        source = job.source_address or batch.spec.address
        v6 = ":" in target
        header: Packet = IPv6(src=source, dst=target) if v6 else IP(src=source, dst=target)
        protocol = probe.protocol
        if protocol in (Protocol.TCP, Protocol.UDP):
            assert probe.port is not None
            sport = next(sports)
            layer: Packet = (
                TCP(sport=sport, dport=probe.port, flags="S", seq=sport * 7919 + probe.port)
                if protocol is Protocol.TCP
                else UDP(sport=sport, dport=probe.port) / b"sg-harness probe"
            )
            table = batch.tcp if protocol is Protocol.TCP else batch.udp
            table[(target, probe.port, sport)] = index
            return bytes(header / layer)
        if protocol in (Protocol.ICMP, Protocol.ICMPV6):
            batch.echo[(target, seq)] = index
            if v6:
                return bytes(header / ICMPv6EchoRequest(id=batch.ident, seq=seq, data=b"sgh"))
            return bytes(header / ICMP(type=8, code=0, id=batch.ident, seq=seq) / b"sg-harness")
        assert isinstance(protocol, int)
        batch.other[(target, protocol)] = index
        if protocol == socket.IPPROTO_SCTP:
            chunk = SCTPChunkInit(
                init_tag=seq + 1, a_rwnd=1500, n_out_streams=1, n_in_streams=1, init_tsn=1
            )
            payload: Packet = SCTP(sport=next(sports), dport=9) / chunk
        else:
            payload = Raw(b"\0" * 8)
        if v6:
            header.nh = protocol
        else:
            header.proto = protocol
        return bytes(header / payload)

    def _exchange(
        self,
        states: list[_Batch],
        jobs: list[ProbeJob],
        seen: list[Observation | None],
        selector: selectors.BaseSelector,
        *,
        on_verdict: Callable[[int], None] | None,
        count: bool = False,
    ) -> None:
        """Send every batch's probes, round-robin across sources so that every source's batch
        is in flight at once, and note each answer in ``seen`` until the wait ends."""
        waiting = bytearray(job.expect_answer for job in jobs)  # expected and not yet seen
        outstanding = sum(waiting)
        silent = [i for i, job in enumerate(jobs) if not job.expect_answer]
        targets = sorted({jobs[i].target_pid for i in silent})
        before = netns.counted(targets) if count and silent and 0 not in targets else None

        def record(index: int, observation: Observation) -> None:
            nonlocal outstanding
            if seen[index] is not None:
                return
            seen[index] = observation
            if waiting[index]:
                waiting[index] = 0
                outstanding -= 1
            if on_verdict is not None:
                on_verdict(1)

        def drain(timeout: float) -> None:
            for key, _ in selector.select(timeout):
                sock = key.fileobj
                assert isinstance(sock, socket.socket)
                batch = key.data
                while True:
                    try:
                        data, peer = sock.recvfrom(65535)
                    except OSError:  # BlockingIOError included: nothing more to read
                        break
                    if sock.family == socket.AF_INET6:
                        match = _classify6(batch, sock.proto, peer[0], data)
                    else:
                        match = _classify(batch, data)
                    if match is not None:
                        record(*match)

        queues = [iter(batch.packets) for batch in states if batch.sockets is not None]
        sent = 0
        while queues:
            still = []
            for packets in queues:
                item = next(packets, None)
                if item is None:
                    continue
                still.append(packets)
                data, sender, address, index = item
                try:
                    sender.sendto(data, address)
                except OSError as err:
                    error = _send_again(sender, data, address, err)
                    if error == DROPPED_LEAVING:
                        record(index, Observation(State.FILTERED, DROPPED_LEAVING))
                    elif error:
                        record(index, Observation(State.NOT_RUN, f"send failed: {error}"))
                sent += 1
                if sent % 64 == 0:
                    drain(0)
            queues = still
        last_send = time.monotonic()
        deadline = last_send + self.timeout
        barrier_done = False
        # The unanswered-expected probes that left their source (a send refused by the
        # source's own policy was dropped there, and is not counted at the target).
        dropped = sum(1 for i in silent if seen[i] is None)
        ended = "timeout"
        while True:
            now = time.monotonic()
            if not outstanding and not barrier_done:
                barrier_done = True
                deadline = min(deadline, max(now, last_send) + self.grace)
                ended = "grace"
            if not outstanding and before is not None:
                drain(0)
                after = netns.counted(targets)
                if after is not None and after - before == dropped:
                    ended = "counted"
                    break
            if now >= deadline:
                break
            drain(min(0.01 if before is not None else 0.05, deadline - now))
        self.waits.append(ended)


def _share_out(
    lane: list[_Batch], observed: list[Observation], seen: list[list[Observation]]
) -> None:
    """What was seen of a lane's probed jobs (in :func:`_probed_jobs` order), each batch's
    given to its place in ``seen``; a batch whose sockets did not open has its jobs not-run."""
    at = 0
    for batch in lane:
        count = len(batch.spec.jobs)
        if batch.sockets is None:
            seen[batch.index] = [Observation(State.NOT_RUN, batch.error)] * count
            continue
        seen[batch.index] = observed[at : at + count]
        at += count


def _probed_jobs(lane: list[_Batch]) -> Iterator[ProbeJob]:
    """The jobs of a lane's sources whose sockets opened, in the order a child answers them
    and its parent reads the answers."""
    return (job for batch in lane if batch.sockets is not None for job in batch.spec.jobs)


LANES = os.cpu_count() or 1
LANE_MINIMUM = 4000  # probes: fewer go in one lane (a thread costs more than it saves)


def _lanes(
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


def _source_ports(round_number: int, avoid: frozenset[int]) -> Iterator[int]:
    """The source ports of a batch, in a cycle that starts where the round says, skipping
    the source's own listening ports; made as they are used (a big lab has a thousand
    batches of a few thousand probes, and a list of all 40,000 per batch cost seconds)."""
    start = round_number * 7919
    while True:
        for offset in range(SPORT_SPAN):
            port = SPORT_BASE + (offset + start) % SPORT_SPAN
            if port not in avoid:
                yield port


def _raise_fd_limit(needed: int) -> None:
    """Four sockets per source: lift the soft limit on open files towards the hard one."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, target), hard))


class _Template:
    """A TCP SYN or UDP probe from one source, cut around the fields each probe fills (its
    destination, ports, TCP sequence and checksum), with the checksum's sum over the rest
    done once: a probe's checksum then adds five or six words to it (summing each probe's
    bytes again cost a third of a lane's building, measured)."""

    def __init__(self, packet: bytes) -> None:
        ihl = (packet[0] & 0x0F) * 4
        proto = packet[9]
        self.tcp = proto == socket.IPPROTO_TCP
        fixed = ihl + (8 if self.tcp else 4)  # after the ports (and the TCP sequence)
        at = ihl + (16 if self.tcp else 6)  # the checksum
        self.head = packet[:16]  # the IPv4 header up to its destination
        self.options = packet[20:ihl]
        self.middle = packet[fixed:at]
        self.tail = packet[at + 2 :]
        segment = bytearray(packet[ihl:])
        segment[: fixed - ihl] = bytes(fixed - ihl)
        segment[at - ihl : at - ihl + 2] = b"\0\0"
        pseudo = packet[12:16] + struct.pack("!BBH", 0, proto, len(segment))
        self.base = _sum16(pseudo + bytes(segment))
        ports = "HHI" if self.tcp else "HH"
        self.layout = struct.Struct(
            f"!16s4s{len(self.options)}s{ports}{len(self.middle)}sH{len(self.tail)}s"
        )

    def build(self, target: bytes, target_sum: int, sport: int, dport: int) -> bytes:
        """The probe to ``target`` (``target_sum``: its two words summed) between the ports."""
        total = self.base + target_sum + sport + dport
        if self.tcp:
            seq = (sport * 7919 + dport) & 0xFFFFFFFF
            total += (seq >> 16) + (seq & 0xFFFF)
        while total > 0xFFFF:
            total = (total & 0xFFFF) + (total >> 16)
        value = ~total & 0xFFFF
        if self.tcp:
            return self.layout.pack(
                self.head, target, self.options, sport, dport, seq, self.middle, value, self.tail
            )
        return self.layout.pack(
            self.head, target, self.options, sport, dport, self.middle, value or 0xFFFF, self.tail
        )


def _sum16(data: bytes) -> int:
    """The sum of ``data``'s big-endian 16-bit words (padded to a whole word), unfolded."""
    if len(data) % 2:
        data += b"\0"
    return sum(struct.unpack(f"!{len(data) // 2}H", data))


def _patch_echo(template: bytes, target: bytes, ident: int, seq: int) -> bytes:
    packet = bytearray(template)
    ihl = (packet[0] & 0x0F) * 4
    packet[16:20] = target
    struct.pack_into("!HHH", packet, ihl + 2, 0, ident, seq)
    struct.pack_into("!H", packet, ihl + 2, checksum(bytes(packet[ihl:])))
    return bytes(packet)


def _send_again(sock: socket.socket, data: bytes, address: tuple[str, int], err: OSError) -> str:
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


def _classify(batch: _Batch, data: bytes) -> tuple[int, Observation] | None:
    """Match a packet received on an IPv4 raw socket (IP header included)."""
    if len(data) < 20:
        return None
    ihl = (data[0] & 0x0F) * 4
    return _match(batch, data[9], socket.inet_ntoa(data[12:16]), data[ihl:], v6=False)


def _classify6(batch: _Batch, proto: int, src: str, body: bytes) -> tuple[int, Observation] | None:
    """Match a packet received on an IPv6 raw socket (no IP header: ``src`` from recvfrom)."""
    src = src.split("%", maxsplit=1)[0]  # the canonical text, as the planner writes it
    return _match(batch, proto, src, body, v6=True)


def _match(
    batch: _Batch, proto: int, src: str, body: bytes, *, v6: bool
) -> tuple[int, Observation] | None:
    """Match a transport segment (or ICMP message) from ``src`` to one of the batch's probes:
    a SYN-ACK or RST, a UDP reply, an echo reply, or an ICMP error quoting a probe."""
    if proto == socket.IPPROTO_TCP and len(body) >= 14:
        sport, dport = struct.unpack("!HH", body[:4])
        flags = body[13]
        job = batch.tcp.get((src, sport, dport))
        if job is None:
            return None
        if flags & 0x12 == 0x12:
            return job, SYN_ACK
        if flags & 0x04:
            return job, RST
        return None
    if proto == socket.IPPROTO_UDP and len(body) >= 8:
        sport, dport = struct.unpack("!HH", body[:4])
        job = batch.udp.get((src, sport, dport))
        return (job, Observation(State.OPEN, "udp reply")) if job is not None else None
    if proto != (socket.IPPROTO_ICMPV6 if v6 else socket.IPPROTO_ICMP) or len(body) < 8:
        return None
    icmp_type, icmp_code = body[0], body[1]
    if icmp_type == (ICMP6_ECHO_REPLY if v6 else ICMP_ECHO_REPLY):
        ident, seq = struct.unpack("!HH", body[4:8])
        if ident != batch.ident:
            return None
        job = batch.echo.get((src, seq))
        return (job, Observation(State.OPEN, "echo reply")) if job is not None else None
    quoted = _quoted6(icmp_type, body) if v6 else _quoted(icmp_type, body)
    if quoted is None:
        return None
    inner_proto, inner_dst, ports = quoted
    if (v6 and icmp_type == ICMP6_PARAM_PROBLEM) or (not v6 and icmp_code == ICMP_PROTO_UNREACH):
        job = batch.other.get((inner_dst, inner_proto))
        if job is None:
            return None
        what = "unknown next header" if v6 else "protocol unreachable"
        return job, Observation(State.CLOSED, f"{what}: it got through")
    sport, dport = struct.unpack("!HH", ports)
    table = batch.udp if inner_proto == socket.IPPROTO_UDP else batch.tcp
    job = table.get((inner_dst, dport, sport))
    if job is None:
        return None
    word = "icmpv6" if v6 else "icmp"
    if icmp_code == (ICMP6_PORT_UNREACH if v6 else ICMP_PORT_UNREACH):
        return job, Observation(State.CLOSED, f"{word} port unreachable")
    return job, Observation(State.FILTERED, f"{word} unreachable code {icmp_code}")


def _quoted(icmp_type: int, body: bytes) -> tuple[int, str, bytes] | None:
    """What an ICMP destination unreachable quotes: protocol, destination, the first four
    bytes after the IPv4 header (the ports of TCP and UDP)."""
    if icmp_type != ICMP_UNREACH or len(body) < 8 + 20 + 4:
        return None
    inner = body[8:]
    inner_ihl = (inner[0] & 0x0F) * 4
    if len(inner) < inner_ihl + 4:
        return None
    return inner[9], socket.inet_ntoa(inner[16:20]), inner[inner_ihl : inner_ihl + 4]


def _quoted6(icmp_type: int, body: bytes) -> tuple[int, str, bytes] | None:
    """The same for an ICMPv6 destination unreachable or parameter problem."""
    if icmp_type not in (ICMP6_UNREACH, ICMP6_PARAM_PROBLEM) or len(body) < 8 + 40 + 4:
        return None
    inner = body[8:]
    return inner[6], socket.inet_ntop(socket.AF_INET6, inner[24:40]), inner[40:44]
