"""The scapy prober's TCP SYN and UDP probes, filled into a template with the checksum summed
from the template's: the same bytes scapy crafts for the same fields."""

from __future__ import annotations

import random
import socket

from scapy.layers.inet import IP, TCP, UDP

from harness.adapters.probers.scapy_packets import Template, sum16


def crafted(source: str, target: str, sport: int, dport: int, *, tcp: bool) -> bytes:
    header = IP(src=source, dst=target, ttl=64)
    if tcp:
        seq = (sport * 7919 + dport) & 0xFFFFFFFF
        return bytes(header / TCP(sport=sport, dport=dport, flags="S", seq=seq, window=64240))
    return bytes(header / UDP(sport=sport, dport=dport) / b"sg-harness probe")


def test_filled_probes_are_the_bytes_scapy_crafts() -> None:
    pick = random.Random(7)
    for tcp in (True, False):
        for _ in range(400):
            source = socket.inet_ntoa(pick.randbytes(4))
            target = socket.inet_ntoa(pick.randbytes(4))
            sport, dport = pick.randrange(1, 65536), pick.randrange(0, 65536)
            template = Template(crafted(source, "0.0.0.0", 0, 0, tcp=tcp))
            packed = socket.inet_aton(target)
            built = template.build(packed, sum16(packed), sport, dport)
            expected = crafted(source, target, sport, dport, tcp=tcp)
            # The IPv4 header checksum is left to the kernel (IP_HDRINCL fills it in).
            assert built[:10] + built[12:] == expected[:10] + expected[12:], (tcp, source, target)


def test_a_udp_checksum_of_zero_is_sent_as_all_ones() -> None:
    source, target = "10.0.0.1", "10.0.0.2"
    template = Template(crafted(source, "0.0.0.0", 0, 0, tcp=False))
    packed = socket.inet_aton(target)
    zero = next(
        (sport, dport)
        for sport in range(1, 65536)
        for dport in (53,)
        if (template.base + sum16(packed) + sport + dport) % 0xFFFF == 0
    )
    built = template.build(packed, sum16(packed), *zero)
    assert built[26:28] == b"\xff\xff"  # after the IPv4 header and the UDP ports and length
    assert built[12:] == crafted(source, target, *zero, tcp=False)[12:]
