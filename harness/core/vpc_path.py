"""The VPC path beyond security groups, as AWS documents it: network ACLs and route tables.

Pure semantics, no effects (the reference is ``vpc-path.md``, §1 and §6, with AWS's sources):

- A **network ACL** judges a packet where it leaves or enters a subnet, never inside one. Its
  entries are numbered 1-32766 per direction and read in order, lowest first: the first entry
  whose protocol, ports (or ICMP type and code) and CIDR match decides, allow or deny; when none
  does, the ``*`` entry denies (32767 for IPv4, 32768 for IPv6). IPv4 entries never judge IPv6
  packets and the other way round. It keeps no state: a reply is judged again, by the other
  direction's entries, with the ports swapped, so a reply's destination port is the client's
  ephemeral port (Linux: 32768-60999).
- A **route table** sends a packet leaving a subnet by the most specific route whose
  destination holds the packet's destination (longest prefix); every table holds the VPC's
  ``local`` routes (its IPv4 CIDR and IPv6 block), which no other route can replace here.
  IPv4 and IPv6 are apart: ``0.0.0.0/0`` never carries IPv6.

Each decision carries the words that name the component deciding, the way AWS's Reachability
Analyzer names it (the entry number and direction of a NACL, the route or its absence).
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Set
from dataclasses import dataclass
from enum import StrEnum
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, collapse_addresses

Address = IPv4Address | IPv6Address  # as harness.core.model says (which imports this module)
Network = IPv4Network | IPv6Network

MAX_RULE_NUMBER = 32766  # 32767-65535 are AWS's own (the "*" entries)
ANY_RULE = {4: 32767, 6: 32768}  # the "*" entry of each family, as DescribeNetworkAcls lists it
EPHEMERAL_PORTS = (32768, 60999)  # Linux's ip_local_port_range: where a lab client's ports are
ALL = -1  # an entry's protocol that matches every protocol (and every port and ICMP type)
TCP, UDP, ICMP, ICMPV6 = 6, 17, 1, 58
EVERYWHERE: dict[int, Network] = {4: IPv4Network("0.0.0.0/0"), 6: IPv6Network("::/0")}


def source_port(
    source: str, target: str, address: str, probe: str, *, round_number: int, avoid: Set[int]
) -> int:
    """The source port of a probe, as a real client's connection has one: in the Linux
    ephemeral range, never one the source listens on. It is a function of the cell (its
    source, target, address and probe) so that the oracle can judge a network ACL's verdict
    on the reply, which goes to this port, and of the round, so that a retry never reuses the
    first attempt's connection."""
    low, high = EPHEMERAL_PORTS
    span = high - low + 1
    key = f"{source}\0{target}\0{address}\0{probe}".encode()
    port = low + (zlib.crc32(key) + round_number * 7919) % span
    while port in avoid:
        port = low + (port - low + 1) % span
    return port


class Action(StrEnum):
    ALLOW = "allow"
    DENY = "deny"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class Packet:
    """What a network ACL entry judges of a packet: its IP protocol number, the address on
    the far side of the subnet edge (the source of a packet entering, the destination of one
    leaving), its destination port (TCP and UDP) or its ICMP type and code."""

    protocol: int
    peer: Address
    port: int | None = None
    icmp: tuple[int, int] | None = None


@dataclass(frozen=True)
class AclEntry:
    """One numbered entry of a network ACL. ``protocol`` -1 is every protocol; ``ports`` is
    the destination port range of TCP and UDP entries; ``icmp`` the type and code of ICMP
    entries (-1: any). As AWS says, an entry for -1 or a protocol other than TCP, UDP and ICMP
    (and ICMPv6 with an IPv6 CIDR) matches every port and every ICMP type."""

    number: int
    egress: bool
    action: Action
    protocol: int
    cidr: Network
    ports: tuple[int, int] | None = None
    icmp: tuple[int, int] | None = None

    def matches(self, packet: Packet) -> bool:
        if packet.peer.version != self.cidr.version or packet.peer not in self.cidr:
            return False
        if self.protocol == ALL:
            return True
        if self.protocol != packet.protocol:
            return False
        if self.protocol in (TCP, UDP):
            if self.ports is None or packet.port is None:
                return self.ports is None
            return self.ports[0] <= packet.port <= self.ports[1]
        if self._by_type():
            if self.icmp is None or packet.icmp is None:
                return True
            kind, code = self.icmp
            return kind in (-1, packet.icmp[0]) and code in (-1, packet.icmp[1])
        return True

    def _by_type(self) -> bool:
        """Whether the entry tells ICMP types apart: ICMP, and ICMPv6 with an IPv6 CIDR (AWS:
        protocol 58 with an IPv4 CIDR matches every ICMP type)."""
        return self.protocol == ICMP or (self.protocol == ICMPV6 and self.cidr.version == 6)

    def what(self) -> str:
        """``tcp 1024-65535``, ``icmp 8:-1``, ``all traffic``, ``protocol 47``."""
        names = {TCP: "tcp", UDP: "udp", ICMP: "icmp", ICMPV6: "icmpv6"}
        if self.protocol == ALL:
            return "all traffic"
        name = names.get(self.protocol, f"protocol {self.protocol}")
        if self.protocol in (TCP, UDP) and self.ports is not None:
            low, high = self.ports
            return f"{name} {low}" if low == high else f"{name} {low}-{high}"
        if self._by_type() and self.icmp is not None:
            return f"{name} {self.icmp[0]}:{self.icmp[1]}"
        return name

    def describe(self) -> str:
        """``inbound entry 110: deny tcp 22 from 0.0.0.0/0``."""
        side, word = ("outbound", "to") if self.egress else ("inbound", "from")
        return f"{side} entry {self.number}: {self.action} {self.what()} {word} {self.cidr}"


@dataclass(frozen=True)
class AclDecision:
    """What a network ACL made of a packet: the entry that decided (``None``: the ``*`` entry,
    which denies) and the words naming the ACL and that entry."""

    allowed: bool
    entry: AclEntry | None
    words: str


@dataclass(frozen=True)
class NetworkAcl:
    """A network ACL: its entries of both directions (read in number order per direction)."""

    name: str
    entries: tuple[AclEntry, ...] = ()
    default: bool = False  # the VPC's default ACL (allows everything unless changed)

    @classmethod
    def allowing_all(cls, name: str, ipv6: bool) -> NetworkAcl:
        """A VPC's default network ACL as AWS makes it: entry 100 allows all IPv4 each way,
        and entry 101 all IPv6 when the VPC has an IPv6 block."""
        entries = [
            AclEntry(number, egress, Action.ALLOW, ALL, EVERYWHERE[version])
            for egress in (False, True)
            for number, version in ((100, 4), (101, 6))
            if version == 4 or ipv6
        ]
        return cls(name, tuple(entries), default=True)

    def ordered(self, egress: bool) -> tuple[AclEntry, ...]:
        return tuple(sorted((e for e in self.entries if e.egress == egress), key=_number))

    def decide(self, egress: bool, packet: Packet) -> AclDecision:
        """The first entry of that direction, in number order, that matches the packet; else
        the ``*`` entry's deny."""
        side = "outbound" if egress else "inbound"
        for entry in self.ordered(egress):
            if entry.matches(packet):
                allowed = entry.action is Action.ALLOW
                return AclDecision(allowed, entry, f"network ACL {self.name}: {entry.describe()}")
        star = ANY_RULE[packet.peer.version]
        return AclDecision(
            False, None, f"network ACL {self.name}: no {side} entry matches (entry * {star} denies)"
        )


def _number(entry: AclEntry) -> int:
    return entry.number


# -- route tables ------------------------------------------------------------------------------

LOCAL = "local"
INTERNET_GATEWAY = "internet_gateway"
EGRESS_ONLY_INTERNET_GATEWAY = "egress_only_internet_gateway"


@dataclass(frozen=True)
class Route:
    """A route: a destination and its target (``local``, ``internet_gateway``,
    ``egress_only_internet_gateway``, or the name of a NAT gateway, a peering connection or a
    network interface). ``blackhole``: its target is gone (a deleted NAT gateway, a peering not
    yet active); a packet it matches is dropped, not sent by a shorter route."""

    destination: Network
    target: str
    blackhole: bool = False
    prefix_list: str = ""  # the prefix list whose entry this is (a route to a list: one each)

    def describe(self) -> str:
        state = " (blackhole: its target is not available)" if self.blackhole else ""
        where = f"pl:{self.prefix_list} ({self.destination})" if self.prefix_list else ""
        return f"route {where or self.destination} -> {self.target}{state}"


@dataclass(frozen=True)
class RouteTable:
    """A route table: the routes it was given (its ``local`` routes are the VPC's CIDRs)."""

    name: str
    routes: tuple[Route, ...] = ()

    def lookup(self, destination: Address, local: Iterable[Network]) -> Route | None:
        """The most specific route holding ``destination`` (``local`` first among equals: no
        route can have a local route's destination; a CIDR route before a prefix list's entry
        of the same destination, as AWS ranks them), or ``None``: no route, the packet is
        dropped."""
        candidates = [Route(net, LOCAL) for net in local] + list(self.routes)
        best: Route | None = None
        for route in candidates:
            net = route.destination
            if net.version != destination.version or destination not in net:
                continue
            if (
                best is None
                or net.prefixlen > best.destination.prefixlen
                or (
                    net.prefixlen == best.destination.prefixlen
                    and best.prefix_list
                    and not route.prefix_list
                )
            ):
                best = route
        return best

    def routes_to(self, target: str) -> tuple[Route, ...]:
        return tuple(route for route in self.routes if route.target == target)


def to_gateway(table: RouteTable, local: Iterable[Network], target: str) -> list[Network]:
    """The destinations a table sends to ``target`` (a route's, without what a more specific
    route of another target, the local routes or a blackhole takes from it), collapsed."""
    others = [*local, *(r.destination for r in table.routes if r.target != target or r.blackhole)]
    pieces: list[Network] = []
    for route in table.routes:
        if route.target != target or route.blackhole:
            continue
        if route.prefix_list and any(
            r.destination == route.destination and not r.prefix_list and r.target != target
            for r in table.routes
        ):
            continue  # a CIDR route of the same destination wins over a prefix list's entry
        parts: list[Network] = [route.destination]
        for other in others:
            if other.version != route.destination.version:
                continue
            if other.prefixlen <= route.destination.prefixlen or not other.subnet_of(
                route.destination  # type: ignore[arg-type]
            ):
                continue
            parts = [
                kept
                for part in parts
                for kept in (
                    part.address_exclude(other)  # type: ignore[arg-type]
                    if other.subnet_of(part)  # type: ignore[arg-type]
                    else (part,)
                )
            ]
        pieces.extend(parts)
    v4 = collapse_addresses(p for p in pieces if isinstance(p, IPv4Network))
    v6 = collapse_addresses(p for p in pieces if isinstance(p, IPv6Network))
    return [*v4, *v6]


def no_route(table: RouteTable, destination: Address) -> str:
    """The words for a packet no route of a table carries (Reachability Analyzer: the route
    table has no route whose destination matches)."""
    return f"route table {table.name} has no route to {destination}"
