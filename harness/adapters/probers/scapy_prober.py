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

import functools
import selectors
import socket
import time
from collections.abc import Callable

from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.inet6 import ICMPv6EchoRequest, IPv6
from scapy.layers.sctp import SCTP, SCTPChunkInit
from scapy.packet import Packet, Raw

from harness.adapters import forked, netns
from harness.adapters.probers.scapy_lanes import (
    DROPPED_LEAVING,
    LANES,
    Batch,
    open_sockets,
    probed_jobs,
    raise_fd_limit,
    send_again,
    share_out,
    split_lanes,
)
from harness.adapters.probers.scapy_packets import Template, patch_echo, sum16
from harness.adapters.probers.scapy_replies import NO_REPLY, classify, classify6
from harness.core.model import Proto, Protocol, State
from harness.core.planner import Cell
from harness.core.probing import Observation, ProbeJob, SourceBatch
from harness.core.vpc_path import source_port


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
        raise_fd_limit(4 * len(batches) + 64)
        lanes = split_lanes(list(enumerate(batches)), self.lanes or LANES)
        states = [self._open(lane, round_number) for lane in lanes]
        seen: list[list[Observation]] = [[] for _ in batches]  # each batch's, in job order
        try:
            if len(states) == 1:
                observed = self._probe(states[0], round_number, on_verdict, count=self.count)
                share_out(states[0], observed, seen)
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
                share_out(lane, [failed] * sum(1 for _ in probed_jobs(lane)), seen)
                continue
            table, raw = answered
            share_out(lane, forked.decoded([Observation.from_row(r) for r in table], raw), seen)
        return [observation for each in seen for observation in each]

    def alone(self) -> ScapyProber:
        """In one lane, not counting drops: the other workers probe the same targets."""
        return ScapyProber(self.timeout, self.grace, lanes=1, count=False)

    def _answers(
        self, lane: list[Batch], round_number: int, progress: Callable[[int], None]
    ) -> tuple[list[tuple[str, str]], bytes]:
        """A lane probed in a child process: what was seen of each job, in job order, coded
        (:func:`forked.coded`)."""
        return forked.coded(self._probe(lane, round_number, progress), Observation.row)

    def _open(self, indexed: list[tuple[int, SourceBatch]], round_number: int) -> list[Batch]:
        """Each source's batch with its sockets open in its namespace; a batch whose sockets
        cannot be opened says why (its cells are ``not-run``)."""
        states: list[Batch] = []
        for index, spec in indexed:
            batch = Batch(spec, ident=(0x5300 + index * 7 + round_number) & 0xFFFF, index=index)
            ipv6 = any(":" in job.target_address for job in spec.jobs)
            try:
                batch.sockets = netns.call_in(spec.netns, functools.partial(open_sockets, ipv6))
            except OSError as err:
                batch.error = f"cannot open probe sockets in {spec.source}: {err.strerror or err}"
            states.append(batch)
        return states

    def _probe(
        self,
        states: list[Batch],
        round_number: int,
        on_verdict: Callable[[int], None] | None,
        count: bool = False,
    ) -> list[Observation]:
        """Build every open batch's probes, send them, wait once: what was seen of each of
        the lane's probed jobs (:func:`probed_jobs`), in their order."""
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

    def _build(self, batch: Batch, first: int, round_number: int) -> None:
        """A batch's probes, the ones expected to go unanswered first (see the module's
        docstring), each noted in the table its answer is matched by."""
        assert batch.sockets is not None
        send, send6 = batch.sockets.send, batch.sockets.send6
        source = batch.spec.address
        header = IP(src=source, dst="0.0.0.0", ttl=64)
        templates: dict[Proto, tuple[Template, dict[tuple[str, int, int], int]]] = {
            Protocol.TCP: (
                Template(bytes(header / TCP(sport=0, dport=0, flags="S", seq=0, window=64240))),
                batch.tcp,
            ),
            Protocol.UDP: (
                Template(bytes(header / UDP(sport=0, dport=0) / b"sg-harness probe")),
                batch.udp,
            ),
        }
        echo = bytes(header / ICMP(type=8, code=0, id=0, seq=0) / b"sg-harness")
        # A (target, port, source port) key stays unique in a batch: a port is the cell's.
        avoid = batch.spec.avoid_ports
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
                packet = self._crafted(batch, job, index, seq, round_number)
                sender = send6 if ":" in address else send
                assert sender is not None
                packets.append((packet, sender, (address, 0), index))
                continue
            target = targets.get(address)
            if target is None:
                packed = socket.inet_aton(address)
                target = targets[address] = (packed, sum16(packed), (address, 0))
            template = templates.get(protocol)
            if template is not None:  # TCP SYN or UDP: a template and its answers' table
                port = job.cell.probe.port
                assert port is not None
                sport = _sport(job, round_number, avoid)
                packet = template[0].build(target[0], target[1], sport, port)
                template[1][(address, port, sport)] = index
            elif protocol is Protocol.ICMP:
                packet = patch_echo(echo, target[0], batch.ident, seq)
                batch.echo[(address, seq)] = index
            else:
                packet = self._crafted(batch, job, index, seq, round_number)
            packets.append((packet, send, target[2], index))

    def _crafted(
        self,
        batch: Batch,
        job: ProbeJob,
        index: int,
        seq: int,
        round_number: int,
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
            sport = _sport(job, round_number, batch.spec.avoid_ports)
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
            sport = _sport(job, round_number, batch.spec.avoid_ports)
            payload: Packet = SCTP(sport=sport, dport=9) / chunk
        else:
            payload = Raw(b"\0" * 8)
        if v6:
            header.nh = protocol
        else:
            header.proto = protocol
        return bytes(header / payload)

    def _exchange(
        self,
        states: list[Batch],
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
                        match = classify6(batch, sock.proto, peer[0], data)
                    else:
                        match = classify(batch, data)
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
                    error = send_again(sender, data, address, err)
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


def _sport(job: ProbeJob, round_number: int, avoid: frozenset[int]) -> int:
    """The source port of a job's probe: the cell's (see :func:`.vpc_path.source_port`)."""
    cell = job.cell
    return source_port(
        cell.source,
        cell.target,
        cell.address,
        str(cell.probe),
        round_number=round_number,
        avoid=avoid,
    )
