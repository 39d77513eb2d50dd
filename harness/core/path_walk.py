"""The VPC path of a probe and of its reply, hop by hop, as AWS routes them (``vpc-path.md``):
what decides a cell beyond the security groups, named the way AWS's Reachability Analyzer
names the component (a network ACL entry and its direction, a route table's route or its
absence, a gateway, a NAT gateway, a peering connection).

A packet leaving a subnet meets that subnet's network ACL (outbound entries), then its route
table; where the route goes decides the rest:

- ``local``: into the target's subnet, through its network ACL (inbound entries);
- the internet gateway (or, for IPv6 out, the egress-only one): the lab's edge, which
  translates public addresses one to one and lets in only what is addressed to a public
  address or to IPv6 of a subnet routed to an internet gateway;
- a NAT gateway: into the NAT gateway's subnet (its inbound entries), out again with the NAT
  gateway's address (its outbound entries, its route table, which must send it to the
  internet gateway), then as from the NAT gateway's Elastic IP;
- a peering connection: to the other VPC's router, which takes only what is addressed to its
  own VPC (no transitive routing).

Network ACLs keep no state: the reply is judged again, by the same components the other way,
going to the probe's source port. Traffic inside one subnet meets none of this.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from harness.core.model import (
    Address,
    Instance,
    NatGateway,
    Node,
    Probe,
    Protocol,
    State,
    Subnet,
    Topology,
    Vpc,
    echo_of,
    protocol_number,
)
from harness.core.paths import Path
from harness.core.vpc_path import (
    EGRESS_ONLY_INTERNET_GATEWAY,
    INTERNET_GATEWAY,
    LOCAL,
    Packet,
    Route,
    no_route,
)

Step = Callable[[], str | None]  # a component's words when it drops the packet, else None


@dataclass(frozen=True)
class Way:
    """How a request left its source's VPC: by its ``local`` route, the lab's ``edge`` (an
    internet gateway, directly or through a NAT gateway), or a ``peering``; the NAT gateway
    it crossed, if any."""

    kind: str
    nat: NatGateway | None = None


def blocked(
    topology: Topology,
    source: Node,
    target: Instance,
    path: Path,
    probe: Probe,
    *,
    state: State,
    side: str,
    sport: int,
) -> str | None:
    """Why the path beyond the groups drops a probe or its reply, if it does (see the
    module's words). A probe the target's groups drop (``side`` "entering") is judged only on
    its way in; ``sport`` is the probe's source port, where its reply goes."""
    subnets = topology.subnets_by_name
    into = subnets[path.target_nic.subnet]
    into_vpc = topology.vpcs_by_name[into.vpc]
    out = subnets[path.source_nic.subnet] if path.source_nic is not None else None
    out_vpc = topology.vpcs_by_name[out.vpc] if out is not None else None
    if out is into and path.kind in ("private", "ipv6"):
        return None  # inside a subnet: no router, no network ACL
    number, icmp = protocol_number(probe.protocol), echo_of(probe.protocol)

    def ask(peer: Address) -> Packet:
        return Packet(number, peer, probe.port, icmp)

    way = Way("edge")
    request: list[Step] = []
    if out is not None and out_vpc is not None:
        route = out_vpc.route(out, path.address)
        way = _way(topology, out_vpc, route)
        request.append(lambda: _acl(out_vpc, out, True, ask(path.address)))
        request.append(lambda: _leaving(topology, out_vpc, out, path, route, said=""))
        if way.nat is not None:
            nat = way.nat
            hop = subnets[nat.subnet]
            if hop is not out:
                request.append(lambda: _acl(out_vpc, hop, False, ask(path.source_address)))
            request.append(lambda: _acl(out_vpc, hop, True, ask(path.address)))
            request.append(lambda: _from_nat(out_vpc, hop, nat, path.address))
    if way.kind == "edge":
        request.append(lambda: _edge_in(topology, into, path.address))
    request.append(lambda: _acl(into_vpc, into, False, ask(path.seen_from)))
    for step in request:
        words = step()
        if words is not None:
            return f"{words}, for {probe_words(probe)} from {source.name} to {target.name}"
    if side != "allowed":
        return None
    kind, port, code = _reply(probe, state, path.address.version, sport)
    said = f"the reply ({_reply_words((kind, port, code))})"

    def answer(peer: Address) -> Packet:
        return Packet(kind, peer, port, code)

    reply: list[Step] = [
        lambda: _acl(into_vpc, into, True, answer(path.seen_from)),
        lambda: _back(topology, into_vpc, into, path.seen_from, way=way, far=out_vpc, said=said),
    ]
    if out is not None and out_vpc is not None:
        if way.nat is not None:
            hop = subnets[way.nat.subnet]
            reply.append(lambda: _acl(out_vpc, hop, False, answer(path.address)))
            if hop is not out:
                reply.append(lambda: _acl(out_vpc, hop, True, answer(path.source_address)))
                reply.append(lambda: _acl(out_vpc, out, False, answer(path.address)))
        else:
            reply.append(lambda: _acl(out_vpc, out, False, answer(path.address)))
    for step in reply:
        words = step()
        if words is not None:
            if words.startswith("the reply"):
                return words
            return f"{said} is {words}; network ACLs keep no state"
    return None


def _way(topology: Topology, vpc: Vpc, route: Route | None) -> Way:
    if route is None or route.blackhole:
        return Way("none")
    if route.target == LOCAL:
        return Way("local")
    if route.target in topology.peerings_by_name:
        return Way("peering")
    nat = vpc.nat_named(route.target)
    return Way("edge", nat)


def _acl(vpc: Vpc, subnet: Subnet, egress: bool, packet: Packet) -> str | None:
    """Why a subnet's network ACL drops a packet leaving it (``egress``) or entering it."""
    acl = vpc.acl_of(subnet)
    if acl.default:
        return None
    decided = acl.decide(egress, packet)
    if decided.allowed:
        return None
    return f"dropped {'leaving' if egress else 'entering'} subnet {subnet.name}: {decided.words}"


def _leaving(
    topology: Topology, vpc: Vpc, subnet: Subnet, path: Path, route: Route | None, *, said: str
) -> str | None:
    """Why the route a packet leaves its subnet by does not take it towards the target."""
    address = path.address
    what = f"{said} is dropped" if said else "dropped"
    where = f"{what} leaving subnet {subnet.name}"
    table = vpc.table_of(subnet)
    if route is None:
        return f"{where}: {no_route(table, address)}"
    if route.blackhole:
        return f"{where}: route table {table.name}: {route.describe()}"
    if route.target == LOCAL:
        return None
    if route.target in (INTERNET_GATEWAY, EGRESS_ONLY_INTERNET_GATEWAY):
        if not vpc.attached(route.target):
            gateway = route.target.replace("_", " ")
            return f"{where}: VPC {vpc.name} has no {gateway}"
        if path.kind == "peering" or (address.version == 4 and path.kind != "public"):
            return (
                f"{what} at the internet gateway: {address} is a private address, not on the "
                f"internet (route table {table.name} sends it to {route.target})"
            )
        return None
    peering = topology.peerings_by_name.get(route.target)
    if peering is not None:
        other = peering.other(vpc.name)
        far = topology.vpcs_by_name.get(other or "")
        if far is None or not any(
            address in net for net in far.local if net.version == address.version
        ):
            return (
                f"{what} at VPC {other}'s router: peering connection {peering.name} carries "
                f"traffic only to VPC {other}'s own addresses (no transitive routing; route "
                f"table {table.name} sends {address} to it)"
            )
        return None
    return None  # a NAT gateway: judged at it


def _from_nat(vpc: Vpc, subnet: Subnet, nat: NatGateway, address: Address) -> str | None:
    """Why what a NAT gateway sends on does not reach the internet gateway as its Elastic IP."""
    if vpc.to_internet(subnet, address):
        if nat.public is None:
            return (
                f"dropped at the internet gateway: NAT gateway {nat.label} is private (no "
                "Elastic IP)"
            )
        return None
    table = vpc.table_of(subnet)
    return (
        f"dropped leaving subnet {subnet.name} (NAT gateway {nat.label}): route table "
        f"{table.name} does not send {address} to the internet gateway"
    )


def _edge_in(topology: Topology, into: Subnet, address: Address) -> str | None:
    """Why the lab's edge does not let a packet in to an address: IPv6 of a subnet that routes
    no IPv6 to an internet gateway (an egress-only one lets nothing in)."""
    if address.version == 4 or topology.online(into.name, 6):
        return None
    vpc = topology.vpcs_by_name[into.vpc]
    only = (
        "; VPC's egress-only internet gateway lets no connection in"
        if vpc.egress_only_internet_gateway
        else ""
    )
    return (
        f"dropped at the internet gateway: subnet {into.name} routes no IPv6 to an internet "
        f"gateway{only}"
    )


def _back(
    topology: Topology,
    vpc: Vpc,
    subnet: Subnet,
    address: Address,
    *,
    way: Way,
    far: Vpc | None,
    said: str,
) -> str | None:
    """Why the reply's route (to ``address``, where the request came from) does not take it
    back the way the request came: the local route, a peering to the source's VPC, or the
    internet gateway."""
    route = vpc.route(subnet, address)
    table = vpc.table_of(subnet)
    where = f"{said} is dropped leaving subnet {subnet.name}"
    if way.kind == "local":
        return None
    if route is None:
        if way.kind == "edge" and not vpc.has_internet_gateway:
            return f"{where}: VPC {vpc.name} has no internet gateway"
        return f"{where}: {no_route(table, address)}"
    if route.blackhole:
        return f"{where}: route table {table.name}: {route.describe()}"
    if way.kind == "peering":
        peering = topology.peerings_by_name.get(route.target)
        if peering is not None and far is not None and peering.other(vpc.name) == far.name:
            return None
        return (
            f"{where}: route table {table.name} sends {address} to {route.target}, not to a "
            f"peering connection with VPC {far.name if far else '?'}"
        )
    if route.target == INTERNET_GATEWAY and vpc.has_internet_gateway:
        return None
    if route.target == INTERNET_GATEWAY:
        return f"{where}: VPC {vpc.name} has no internet gateway"
    return (
        f"{where}: route table {table.name} sends {address} to {route.target}, not to the "
        "internet gateway"
    )


def probe_words(probe: Probe) -> str:
    if probe.protocol is Protocol.ICMP:
        return "icmp echo"
    if probe.protocol is Protocol.ICMPV6:
        return "icmpv6 echo"
    if isinstance(probe.protocol, int):
        return f"protocol {probe.protocol}"
    return f"{probe.protocol} {probe.port}"


def _reply(
    probe: Probe, state: State, version: int, sport: int
) -> tuple[int, int | None, tuple[int, int] | None]:
    """The packet that answers a probe the groups let through (protocol, destination port,
    ICMP type and code): a SYN-ACK or RST to the probe's source port, a UDP reply or an ICMP
    port unreachable, an echo reply, or an ICMP protocol unreachable."""
    icmp = 1 if version == 4 else 58
    if probe.protocol is Protocol.TCP:
        return 6, sport, None
    if probe.protocol is Protocol.UDP:
        if state is State.OPEN:
            return 17, sport, None
        return icmp, None, (3, 3) if version == 4 else (1, 4)
    if probe.protocol in (Protocol.ICMP, Protocol.ICMPV6):
        return icmp, None, (0, 0) if version == 4 else (129, 0)
    return icmp, None, (3, 2) if version == 4 else (4, 1)


def _reply_words(reply: tuple[int, int | None, tuple[int, int] | None]) -> str:
    protocol, port, icmp = reply
    names = {6: "tcp", 17: "udp", 1: "icmp", 58: "icmpv6"}
    name = names.get(protocol, f"protocol {protocol}")
    if port is not None:
        return f"{name} to port {port}"
    assert icmp is not None
    return f"{name} {icmp[0]}:{icmp[1]}"
