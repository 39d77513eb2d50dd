"""Which addresses a source can use to reach a target, and how the packet travels.

Classic: one path, the target's address, the source's address as the target sees it. VPC (as
AWS routes, §1.16 of the reference): inside a VPC an instance reaches another's private IPv4
and IPv6 addresses, leaving by its interface on the target's subnet if it has one and by its
primary interface otherwise; public IPv4 addresses are reached through the internet gateway,
only by instances whose primary interface has a public address of its own (the gateway puts
that public address as the source: the hairpin), and by outside hosts; outside hosts also
reach the IPv6 addresses of interfaces in public subnets.
"""

from __future__ import annotations

from typing import NamedTuple

from harness.core.model import Address, Host, Instance, Interface, Node, Topology


class Path(NamedTuple):
    """How a packet from a source reaches one of a target's addresses. A named tuple, not a
    dataclass: a big lab's walk makes a million, and a named tuple costs half as much."""

    address: Address  # what the source sends to
    target_nic: Interface
    source_nic: Interface | None  # the interface the packet leaves by (None: an outside host)
    source_address: Address  # the source address in the packet the source sends
    seen_from: Address  # the source address the target sees
    kind: str  # "private", "peering", "ipv6", "public" and "nat" (through the internet
    # gateway, from the source's public address or a NAT gateway's), "classic"


def paths(topology: Topology, source: Node, target: Instance) -> list[Path]:
    """The paths from ``source`` to ``target`` (worked out each time: a caller that asks
    about a pair again keeps the answer, as the oracle does)."""
    return _paths(topology, source, target)


def _paths(topology: Topology, source: Node, target: Instance) -> list[Path]:
    if not topology.is_vpc:
        nic = target.nics[0]
        source_nic = source.nics[0] if isinstance(source, Instance) else None
        return [Path(target.address, nic, source_nic, source.address, source.address, "classic")]
    if isinstance(source, Host):
        return _from_host(topology, source, target)
    return _from_instance(topology, source, target)


def _from_host(topology: Topology, host: Host, target: Instance) -> list[Path]:
    found = []
    for nic in target.nics:
        if nic.public is not None:
            found.append(Path(nic.public, nic, None, host.address, host.address, "public"))
        if nic.ipv6 is not None and _reached6(topology, nic) and host.address6 is not None:
            found.append(Path(nic.ipv6, nic, None, host.address6, host.address6, "ipv6"))
    return found


def _from_instance(topology: Topology, source: Instance, target: Instance) -> list[Path]:
    found = []
    source_vpc, target_vpc = topology.vpc_of(source), topology.vpc_of(target)
    assert source_vpc is not None and target_vpc is not None
    same_vpc = source_vpc is target_vpc
    peered = not same_vpc and topology.connected(source_vpc.name, target_vpc.name)
    primary = source.nics[0]
    home = topology.subnets_by_name[primary.subnet]
    for nic in target.nics:
        if same_vpc or peered:
            out = next(
                (mine for mine in source.nics if mine.subnet == nic.subnet),
                primary,
            )
            kind = "private" if same_vpc else "peering"
            found.append(Path(nic.address, nic, out, out.address, out.address, kind))
            if nic.ipv6 is not None and out.ipv6 is not None:
                found.append(Path(nic.ipv6, nic, out, out.ipv6, out.ipv6, "ipv6"))
        elif (
            nic.ipv6 is not None
            and primary.ipv6 is not None
            and _reached6(topology, nic)
            and topology.outbound6(primary.subnet)
        ):
            found.append(Path(nic.ipv6, nic, primary, primary.ipv6, primary.ipv6, "ipv6"))
        if nic.public is None:
            continue
        route = source_vpc.route(home, nic.public)
        nat = None if route is None or route.blackhole else source_vpc.nat_named(route.target)
        if nat is not None:
            seen = nat.public if nat.public is not None else nat.address
            found.append(Path(nic.public, nic, primary, primary.address, seen, "nat"))
        elif primary.public is not None:
            found.append(Path(nic.public, nic, primary, primary.address, primary.public, "public"))
    return found


def _reached6(topology: Topology, nic: Interface) -> bool:
    """Whether cells from outside a VPC go to an interface's IPv6 address: its subnet routes
    IPv6 to the internet gateway, or its VPC has an egress-only one (whose cells prove that
    nothing comes in)."""
    if nic.ipv6 is None:
        return False
    subnet = topology.subnets_by_name[nic.subnet]
    vpc = topology.vpcs_by_name[subnet.vpc]
    return topology.online(nic.subnet, 6) or vpc.egress_only_internet_gateway
