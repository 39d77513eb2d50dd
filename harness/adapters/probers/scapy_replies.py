"""Replies read from the raw sockets: which probe each answers (the quoted header of an ICMP
error, the ports of a SYN-ACK or RST, an echo's id and sequence) and what it means."""

from __future__ import annotations

import socket
import struct

from harness.adapters.probers.scapy_lanes import Batch
from harness.core.model import State
from harness.core.probing import Observation

ICMP_ECHO_REPLY = 0
ICMP_UNREACH = 3
ICMP_PROTO_UNREACH = 2
ICMP_PORT_UNREACH = 3
ICMP6_UNREACH = 1
ICMP6_PORT_UNREACH = 4
ICMP6_PARAM_PROBLEM = 4
ICMP6_ECHO_REPLY = 129
NO_REPLY = Observation(State.FILTERED, "no reply")
SYN_ACK = Observation(State.OPEN, "syn-ack")
RST = Observation(State.CLOSED, "rst")


def classify(batch: Batch, data: bytes) -> tuple[int, Observation] | None:
    """Match a packet received on an IPv4 raw socket (IP header included)."""
    if len(data) < 20:
        return None
    ihl = (data[0] & 0x0F) * 4
    return match(batch, data[9], socket.inet_ntoa(data[12:16]), data[ihl:], v6=False)


def classify6(batch: Batch, proto: int, src: str, body: bytes) -> tuple[int, Observation] | None:
    """Match a packet received on an IPv6 raw socket (no IP header: ``src`` from recvfrom)."""
    src = src.split("%", maxsplit=1)[0]  # the canonical text, as the planner writes it
    return match(batch, proto, src, body, v6=True)


def match(
    batch: Batch, proto: int, src: str, body: bytes, *, v6: bool
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
    quoted = quoted_ipv6(icmp_type, body) if v6 else quoted_ipv4(icmp_type, body)
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


def quoted_ipv4(icmp_type: int, body: bytes) -> tuple[int, str, bytes] | None:
    """What an ICMP destination unreachable quotes: protocol, destination, the first four
    bytes after the IPv4 header (the ports of TCP and UDP)."""
    if icmp_type != ICMP_UNREACH or len(body) < 8 + 20 + 4:
        return None
    inner = body[8:]
    inner_ihl = (inner[0] & 0x0F) * 4
    if len(inner) < inner_ihl + 4:
        return None
    return inner[9], socket.inet_ntoa(inner[16:20]), inner[inner_ihl : inner_ihl + 4]


def quoted_ipv6(icmp_type: int, body: bytes) -> tuple[int, str, bytes] | None:
    """The same for an ICMPv6 destination unreachable or parameter problem."""
    if icmp_type not in (ICMP6_UNREACH, ICMP6_PARAM_PROBLEM) or len(body) < 8 + 40 + 4:
        return None
    inner = body[8:]
    return inner[6], socket.inet_ntop(socket.AF_INET6, inner[24:40]), inner[40:44]
