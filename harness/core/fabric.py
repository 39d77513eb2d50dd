"""The lab fabric: a bridge inside a "switch" namespace, one veth pair per node.

Docker's own networks carry one subnet each and drop traffic between subnets, and a bridge in
the host namespace passes through the host firewall. This fabric avoids both: the bridge lives
in the namespace of a small labelled container, each node's veth peer is created straight into
the node's namespace as ``eth0``, and every node gets on-link routes for every lab subnet.
Nothing crosses the host namespace and there is no uplink: the lab cannot reach the world.

This module only says how: the ``ip -batch`` scripts, sysctls and neighbour entries that
:mod:`harness.adapters.namespaces` applies.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network

from harness.core.model import (
    GATEWAY_TRANSIT,
    GATEWAY_TRANSIT6,
    TRANSIT,
    TRANSIT6,
    Address,
    Host,
    Instance,
    LabNode,
    NatGateway,
    Network,
    Router,
    Topology,
)

BRIDGE = "br0"
NODE_IFACE = "eth0"

# Lifted in every lab namespace: UDP verdicts need prompt ICMP port-unreachable replies.
SYSCTLS = {
    "net.ipv4.icmp_ratelimit": "0",
    "net.ipv4.icmp_msgs_per_sec": "1000000",
    "net.ipv4.icmp_msgs_burst": "100000",
}
# VPC labs: several interfaces of a node share one bridge, so each answers ARP only for its
# own addresses; nobody sends or takes redirects (the gateway forwards hairpin traffic back
# out of the interface it came in by); IPv6 on, without duplicate address detection.
VPC_SYSCTLS = {
    **SYSCTLS,
    "net.ipv4.conf.all.arp_ignore": "1",
    "net.ipv4.conf.all.arp_announce": "2",
    "net.ipv4.conf.all.send_redirects": "0",
    "net.ipv4.conf.all.accept_redirects": "0",
    "net.ipv6.conf.all.disable_ipv6": "0",
    "net.ipv6.conf.default.disable_ipv6": "0",
    "net.ipv6.conf.all.accept_dad": "0",
    "net.ipv6.conf.default.accept_dad": "0",
    "net.ipv6.conf.all.accept_redirects": "0",
    "net.ipv6.icmp.ratelimit": "0",
}
# A lab where no node holds an IPv6 address (every Classic lab, and VPC labs without IPv6
# CIDRs) has IPv6 off: each interface brought up would otherwise make a link-local address and
# send its router solicitation and multicast reports to every port of the bridge, which every
# node then handles (N² packets: a fifth of wiring 1000 instances, in a profile).
IPV6_OFF = {
    "net.ipv6.conf.all.disable_ipv6": "1",
    "net.ipv6.conf.default.disable_ipv6": "1",
}
GATEWAY_SYSCTLS = {  # the internet gateway and the VPCs' routers
    **VPC_SYSCTLS,
    "net.ipv4.ip_forward": "1",
    "net.ipv6.conf.all.forwarding": "1",
    "net.ipv4.conf.all.rp_filter": "0",  # a hairpin's reply comes back by another way
    "net.ipv4.conf.default.rp_filter": "0",
}
# The switch: frames crossing its bridge are not handed to IP netfilter hooks (where the host
# has br_netfilter loaded, as Docker does, every bridged packet is otherwise passed through the
# switch namespace's IP hooks: a ninth of the CPU time of verifying 1000 instances, in a
# profile). Security groups are enforced in the nodes; the switch has no rules of its own.
SWITCH_SYSCTLS = {
    "net.bridge.bridge-nf-call-iptables": "0",
    "net.bridge.bridge-nf-call-ip6tables": "0",
    "net.bridge.bridge-nf-call-arptables": "0",
}
RULE_TABLE_BASE = 100  # policy-routing table of interface N (N > 0): 100 + N
# A router's next hops other than the lab's edge: each NAT gateway of its VPC and each peering
# of its VPC, in name order, has a packet mark (16, 17...), which the router's policy sets by
# the subnets' route tables, and a routing table of that number holding the one route there.
# Only creating or deleting a NAT gateway or a peering changes a router's routing; a route
# added, replaced or removed changes its nftables policy alone.
MARK_EDGE = 1  # to the internet gateway or the egress-only one, by the default route
HOP_BASE = 16
LOCAL_RULE = 100  # "to the VPC's own addresses: the main table" comes before every mark


@dataclass(frozen=True)
class Hop:
    """A next hop of a router: a NAT gateway's private address on its subnet's interface, or
    the peer router's transit addresses on the transit link."""

    target: str  # the name routes give (a NAT gateway's label, a peering's name)
    mark: int
    iface: str
    via: IPv4Address
    via6: IPv6Address | None = None


def hops(topology: Topology, vpc_name: str) -> list[Hop]:
    """A VPC's router's next hops by NAT gateway and peering (see :data:`HOP_BASE`)."""
    vpc = topology.vpcs_by_name[vpc_name]
    index = {subnet.name: n for n, subnet in enumerate(vpc.subnets)}
    found: list[tuple[str, str, IPv4Address, IPv6Address | None]] = [
        (nat.label, nic_name(index[nat.subnet]), nat.address, None) for nat in vpc.nat_gateways
    ]
    routers = {router.vpc: router for router in topology.routers}
    for peering in topology.peerings:
        other = peering.other(vpc_name)
        if other is None or other not in routers:
            continue
        peer = routers[other]
        six = peer.transit6 if topology.holds_ipv6 else None
        found.append((peering.name, nic_name(len(vpc.subnets)), peer.transit, six))
    return [
        Hop(target, HOP_BASE + n, iface, via, via6)
        for n, (target, iface, via, via6) in enumerate(sorted(found, key=lambda hop: hop[0]))
    ]


@dataclass(frozen=True)
class Wiring:
    """How one node is plugged: its interfaces (switch port, name inside the node), the
    ``ip -batch`` script that gives them addresses and routes, its sysctls, and the
    addresses each interface holds."""

    ports: tuple[tuple[str, str], ...]
    script: str
    sysctls: tuple[tuple[str, str], ...]
    held: tuple[tuple[Address, ...], ...]  # each port's addresses, IPv4 and IPv6
    macs: tuple[str, ...]  # each port's MAC address, in the order of ``ports``
    routes: frozenset[IPv4Network] = frozenset()  # on-link routes of eth0 (Classic labs)
    script6: str = ""  # lines for ``ip -6 -batch`` (an IPv6 policy rule needs the family)
    # permanent neighbour entries: (interface inside, address, MAC), written by netlink
    neighbours: tuple[tuple[str, Address, str], ...] = ()

    @property
    def addresses(self) -> frozenset[IPv4Address]:
        """The IPv4 addresses a plugged node holds."""
        return frozenset(a for held in self.held for a in held if isinstance(a, IPv4Address))


def node_port(node: str) -> str:
    """A stable switch port name for a node of a persistent lab (15 characters at most)."""
    return "v" + hashlib.sha256(node.encode()).hexdigest()[:12]


def bridge_script() -> str:
    return f"link add {BRIDGE} type bridge\nlink set {BRIDGE} up\n"


PORTS_PER_BRIDGE = 1000  # a Linux bridge takes 1024 ports at most (BR_MAX_PORTS): beyond a
# thousand nodes' ports, more bridges, each linked to the first (a star: one broadcast domain)
_LISTED = re.compile(r"^\d+: ([^:@\s]+)(?:@\S*)?: .*?(?: master (\S+))?(?: state|$)", re.M)


def bridge_name(index: int) -> str:
    return BRIDGE if index == 0 else f"br{index}"


def bridges_in_use(listing: str, leaving: Iterable[str] = ()) -> dict[str, int]:
    """The switch's bridges (from ``ip -o link show`` in its namespace) and how many node
    ports each holds (the links between bridges, and the ports ``leaving``, not counted)."""
    names = {found[1]: found[2] for found in _LISTED.finditer(listing)}
    gone = set(leaving)
    held = {name: 0 for name in names if re.fullmatch(r"br\d+", name)}
    for name, master in names.items():
        if master in held and name not in gone and not re.fullmatch(r"(up|down)\d+", name):
            held[master] += 1
    return held


def placed(
    ports: Sequence[str], held: Mapping[str, int], per_bridge: int = PORTS_PER_BRIDGE
) -> tuple[dict[str, str], str]:
    """Each new port's bridge (the first with room for it among ``per_bridge`` ports, in
    order: ``br0``, ``br1``, ...), and the ``ip -batch`` lines that make the bridges it needs
    and link each to ``br0``."""
    counts = dict(held) or {BRIDGE: 0}
    script = []
    chosen: dict[str, str] = {}
    index = 0
    for port in ports:
        while counts.get(bridge_name(index), 0) >= per_bridge:
            index += 1
        name = bridge_name(index)
        if name not in counts:
            counts[name] = 0
            script += [
                f"link add {name} type bridge",
                f"link set {name} up",
                f"link add up{index} type veth peer name down{index}",
                f"link set up{index} master {name} up",
                f"link set down{index} master {BRIDGE} up",
            ]
        counts[name] += 1
        chosen[port] = name
    return chosen, "".join(f"{line}\n" for line in script)


def attach_script(
    ports: list[tuple[str, int, str, str]], bridges: Mapping[str, str] | None = None
) -> str:
    """One veth per (switch port, node pid, name inside, MAC inside), the peer made inside
    the node's namespace, the port on its bridge (``br0`` unless ``bridges`` says)."""
    lines = []
    for port, pid, inside, mac in ports:
        bridge = (bridges or {}).get(port, BRIDGE)
        lines.append(f"link add {port} type veth peer name {inside} address {mac} netns {pid}")
        lines.append(f"link set {port} master {bridge} up")
    return "\n".join(lines) + "\n"


def forwarding_script(
    ports: list[tuple[str, int, str, str]],
    bridges: Mapping[str, str] | None = None,
    every: Iterable[str] = (),
) -> str:
    """For ``bridge -batch``: each node's MAC, per (switch port, node pid, name inside, MAC
    inside), a static entry of the bridge's forwarding table on its port, and on each other
    bridge of ``every``, on the link towards it (through ``br0``). A bridge learns a MAC only
    from frames it sends, and floods a frame for an unknown one to every port: a node whose
    policy drops everything never answers, so every probe sent to it reached every node of
    the lab (probing from 200 of 1000 instances took 106 s instead of 8, in a profile mostly
    flooding)."""
    others = sorted(set(every) | {BRIDGE})
    lines = []
    for port, _, _, mac in ports:
        home = (bridges or {}).get(port, BRIDGE)
        lines.append(f"fdb replace {mac} dev {port} master static\n")
        for bridge in others:
            if bridge == home:
                continue
            link = f"down{home[2:]}" if bridge == BRIDGE else f"up{bridge[2:]}"
            lines.append(f"fdb replace {mac} dev {link} master static\n")
    return "".join(lines)


def mac(address: IPv4Address) -> str:
    """The MAC address of the interface that holds an IPv4 address: ``02:53`` (locally
    administered) and the address's four bytes. Whoever holds an address has its MAC, so a
    neighbour entry made from an address alone stays right when a node is replaced."""
    return "02:53:" + ":".join(f"{byte:02x}" for byte in address.packed)


def wirings(topology: Topology, nodes: Iterable[LabNode]) -> dict[str, Wiring]:
    """How each of ``nodes`` is plugged, with a permanent neighbour entry for every address
    (IPv4 and IPv6) the lab's other nodes hold, as a VPC answers ARP itself: a node never
    asks to find a lab address. (Resolving by ARP floods every request to every port of the
    bridge: a big lab's verification spent its time there, growing as N³.) A node that comes
    later is found by ARP, as before; entries never go wrong, as MACs follow addresses."""
    nodes = list(nodes)
    if not nodes:
        return {}
    plans = {node.name: wiring(topology, node) for node in topology.lab_nodes}
    table = [
        (address, hardware)
        for plan in plans.values()
        for held, hardware in zip(plan.held, plan.macs, strict=True)
        for address in held
    ]
    found = {}
    for node in nodes:
        plan = plans[node.name]
        own = {address for held in plan.held for address in held}
        neighbours = tuple(
            (inside, address, hardware)
            for _, inside in plan.ports
            for address, hardware in table
            if address not in own
        )
        found[node.name] = replace(plan, neighbours=neighbours)
    return found


def node_script(address: IPv4Address, subnets: list[IPv4Network]) -> str:
    lines = [
        "link set lo up",
        f"link set {NODE_IFACE} up",
        f"addr add {address}/32 dev {NODE_IFACE}",
    ]
    return "\n".join(lines) + "\n" + routes_script(subnets)


def routes_script(subnets: list[IPv4Network]) -> str:
    """On-link routes for every lab subnet (``replace``: safe to run again when hosts come)."""
    return "".join(f"route replace {net} dev {NODE_IFACE} scope link\n" for net in subnets)


def parse_routes(text: str, iface: str = NODE_IFACE) -> frozenset[IPv4Network]:
    """The on-link IPv4 routes via ``iface`` in a ``/proc/PID/net/route`` table."""
    found = set()
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 8 or fields[0] != iface or int(fields[2], 16) != 0:
            continue
        destination = IPv4Address(int.from_bytes(bytes.fromhex(fields[1]), "little"))
        mask = IPv4Address(int.from_bytes(bytes.fromhex(fields[7]), "little"))
        found.add(IPv4Network(f"{destination}/{mask}", strict=False))
    return frozenset(found)


def parse_local_addresses(text: str) -> frozenset[IPv4Address]:
    """The namespace's own IPv4 addresses (not loopback) in a ``/proc/PID/net/fib_trie``."""
    found = set()
    previous = ""
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("/32 host LOCAL") and previous:
            address = IPv4Address(previous)
            if not address.is_loopback:
                found.add(address)
        previous = stripped[4:] if stripped.startswith("|-- ") else ""
    return frozenset(found)


# -- wiring of every kind of node (Classic and VPC) ------------------------------------------


def wiring(topology: Topology, node: LabNode) -> Wiring:
    """How ``node`` is plugged into its lab's fabric."""
    if not topology.is_vpc:
        assert isinstance(node, Instance | Host)
        script = node_script(node.address, topology.subnets())
        plan = Wiring(
            ((node_port(node.name), NODE_IFACE),),
            script,
            tuple(SYSCTLS.items()),
            ((node.address,),),
            (mac(node.address),),
            frozenset(topology.subnets()),
        )
    elif isinstance(node, Instance):
        plan = _instance_wiring(topology, node)
    elif isinstance(node, Host):
        plan = _host_wiring(topology, node)
    elif isinstance(node, Router):
        plan = _router_wiring(topology, node)
    elif isinstance(node, NatGateway):
        plan = _nat_wiring(topology, node)
    else:
        plan = _gateway_wiring(topology)
    if topology.holds_ipv6:
        return plan
    return replace(plan, sysctls=tuple({**dict(plan.sysctls), **IPV6_OFF}.items()))


def nic_name(n: int) -> str:
    """The name of a node's interface N inside its namespace (``eth0``, ``eth1``)."""
    return f"eth{n}"


def _port(node: str, n: int) -> str:
    return node_port(node if n == 0 else f"{node}/{n}")


def gateway_address(net: IPv4Network, taken: set[IPv4Address]) -> IPv4Address:
    """The gateway's address on an outside host's /24: .1, or .254 when a host has .1."""
    first = net.network_address + 1
    return first if first not in taken else net.broadcast_address - 1


def host_net(address: IPv4Address) -> IPv4Network:
    return IPv4Network(f"{address}/24", strict=False)


def host_net6(address: IPv6Address) -> IPv6Network:
    return IPv6Network(f"{address}/64", strict=False)


def _router6(net: IPv6Network) -> IPv6Address:
    return net.network_address + 1


def _instance_wiring(topology: Topology, node: Instance) -> Wiring:
    """Each interface: its own subnet on-link, everything else through that subnet's router
    (.1), as an AWS instance sees its VPC; the primary interface holds the default routes,
    and each other interface's replies leave by it (policy routing, as AWS's images do)."""
    lines = ["link set lo up"]
    lines6: list[str] = []
    nics = node.nics
    for n, nic in enumerate(nics):
        subnet = topology.subnets_by_name[nic.subnet]
        iface = nic_name(n)
        lines += [f"link set {iface} up", f"addr add {nic.address}/32 dev {iface}"]
        if nic.ipv6 is not None:
            lines.append(f"addr add {nic.ipv6}/128 dev {iface} nodad")
        table = "" if n == 0 else f" table {RULE_TABLE_BASE + n}"
        onlink: list[tuple[Network, Address, Address]] = [
            (subnet.cidr, nic.address, subnet.cidr.network_address + 1)
        ]
        if nic.ipv6 is not None and subnet.ipv6 is not None:
            onlink.append((subnet.ipv6, nic.ipv6, _router6(subnet.ipv6)))
        if n > 0:  # replies leave by the interface their address belongs to
            lines.append(f"rule add from {nic.address}{table}")
            if nic.ipv6 is not None:
                lines6.append(f"rule add from {nic.ipv6}{table}")
        for net, src, router in onlink:
            everything = "default" if net.version == 4 else "::/0"
            lines.append(f"route replace {net} dev {iface} scope link src {src}")
            if table:  # its own subnet is on-link by it, whoever sends
                lines.append(f"route replace {net} dev {iface} scope link src {src}{table}")
            # not "onlink": IPv6 checks an onlink gateway against the main table's routes,
            # where a second interface's subnet may be the first one's
            lines.append(f"route replace {everything} via {router} dev {iface}{table}")
    return Wiring(
        tuple((_port(node.name, n), nic_name(n)) for n in range(len(nics))),
        "\n".join(lines) + "\n",
        tuple(VPC_SYSCTLS.items()),
        tuple((nic.address, *((nic.ipv6,) if nic.ipv6 is not None else ())) for nic in nics),
        tuple(mac(nic.address) for nic in nics),
        script6="".join(f"{line}\n" for line in lines6),
    )


def _host_wiring(topology: Topology, node: Host) -> Wiring:
    taken = {host.address for host in topology.hosts}
    net = host_net(node.address)
    lines = [
        "link set lo up",
        f"link set {NODE_IFACE} up",
        f"addr add {node.address}/32 dev {NODE_IFACE}",
        f"route replace {net} dev {NODE_IFACE} scope link",
    ]
    if topology.gateway is not None:
        via = gateway_address(net, taken)
        lines.append(f"route replace default via {via} dev {NODE_IFACE} onlink")
    if node.address6 is not None:
        net6 = host_net6(node.address6)
        lines += [
            f"addr add {node.address6}/128 dev {NODE_IFACE} nodad",
            f"route replace {net6} dev {NODE_IFACE}",
        ]
        if topology.gateway is not None:
            lines.append(f"route replace ::/0 via {_router6(net6)} dev {NODE_IFACE} onlink")
    return Wiring(
        ((node_port(node.name), NODE_IFACE),),
        "\n".join(lines) + "\n",
        tuple(VPC_SYSCTLS.items()),
        ((node.address, *((node.address6,) if node.address6 is not None else ())),),
        (mac(node.address),),
    )


def _router_wiring(topology: Topology, node: Router) -> Wiring:
    """A VPC's router: the first host address of each subnet (and ::1 of its IPv6 block) on
    an interface of its own, the subnets on-link, the rest of the VPC's CIDRs a blackhole (the
    local route holds no other address), and the transit link to the internet gateway, the
    way out of every subnet (the router's policy keeps to it only what a subnet's route table
    sends to the gateway)."""
    vpc = topology.vpcs_by_name[node.vpc]
    v6 = topology.holds_ipv6  # a lab without IPv6 has it off
    lines = ["link set lo up"]
    ports: list[tuple[str, str]] = []
    held: list[tuple[Address, ...]] = []
    macs: list[str] = []
    for n, subnet in enumerate(vpc.subnets):
        iface, router = nic_name(n), subnet.cidr.network_address + 1
        addresses: list[Address] = [router]
        lines += [
            f"link set {iface} up",
            f"addr add {router}/32 dev {iface}",
            f"route replace {subnet.cidr} dev {iface} scope link src {router}",
        ]
        if subnet.ipv6 is not None and v6:
            addresses.append(_router6(subnet.ipv6))
            lines += [
                f"addr add {_router6(subnet.ipv6)}/128 dev {iface} nodad",
                f"route replace {subnet.ipv6} dev {iface}",
            ]
        ports.append((_port(node.name, n), iface))
        held.append(tuple(addresses))
        macs.append(mac(router))
    lines.append(f"route replace blackhole {vpc.cidr}")
    lines6: list[str] = []
    if vpc.ipv6 is not None and v6:
        lines.append(f"route replace blackhole {vpc.ipv6}")
    lines.append(f"rule add to {vpc.cidr} lookup main pref {LOCAL_RULE}")
    if vpc.ipv6 is not None and v6:
        lines6.append(f"rule add to {vpc.ipv6} lookup main pref {LOCAL_RULE}")
    if topology.transit_link:
        iface = nic_name(len(vpc.subnets))
        lines += [
            f"link set {iface} up",
            f"addr add {node.transit}/32 dev {iface}",
            f"route replace {TRANSIT} dev {iface} scope link src {node.transit}",
        ]
        edge = topology.gateway is not None
        if edge:
            lines.append(f"route replace default via {GATEWAY_TRANSIT} dev {iface} onlink")
        if v6:
            lines += [
                f"addr add {node.transit6}/128 dev {iface} nodad",
                f"route replace {TRANSIT6} dev {iface}",
            ]
            if edge:
                lines.append(f"route replace ::/0 via {GATEWAY_TRANSIT6} dev {iface} onlink")
        ports.append((_port(node.name, len(vpc.subnets)), iface))
        held.append((node.transit, node.transit6) if v6 else (node.transit,))
        macs.append(mac(node.transit))
    for hop in hops(topology, vpc.name):  # once every interface is up
        lines += [
            f"rule add fwmark {hop.mark} lookup {hop.mark} pref {LOCAL_RULE + 1}",
            f"route replace default via {hop.via} dev {hop.iface} onlink table {hop.mark}",
        ]
        if hop.via6 is not None:
            lines6 += [
                f"rule add fwmark {hop.mark} lookup {hop.mark} pref {LOCAL_RULE + 1}",
                f"route replace ::/0 via {hop.via6} dev {hop.iface} onlink table {hop.mark}",
            ]
    return Wiring(
        tuple(ports),
        "\n".join(lines) + "\n",
        tuple(GATEWAY_SYSCTLS.items()),
        tuple(held),
        tuple(macs),
        script6="".join(f"{line}\n" for line in lines6),
    )


def _nat_wiring(topology: Topology, node: NatGateway) -> Wiring:
    """A NAT gateway: its private address on its subnet, everything else through the
    subnet's router, as an instance there."""
    subnet = topology.subnets_by_name[node.subnet]
    router = subnet.cidr.network_address + 1
    lines = [
        "link set lo up",
        f"link set {NODE_IFACE} up",
        f"addr add {node.address}/32 dev {NODE_IFACE}",
        f"route replace {subnet.cidr} dev {NODE_IFACE} scope link src {node.address}",
        f"route replace default via {router} dev {NODE_IFACE}",
    ]
    return Wiring(
        ((node_port(node.name), NODE_IFACE),),
        "\n".join(lines) + "\n",
        tuple(GATEWAY_SYSCTLS.items()),
        ((node.address,),),
        (mac(node.address),),
    )


def _gateway_wiring(topology: Topology) -> Wiring:
    """The internet gateway: the transit link to the routers of the VPCs with a public
    subnet (each VPC's CIDRs through its router), and a gateway address on each outside
    host's network."""
    taken = {host.address for host in topology.hosts}
    lines = [
        "link set lo up",
        f"link set {NODE_IFACE} up",
        f"addr add {GATEWAY_TRANSIT}/32 dev {NODE_IFACE}",
        f"route replace {TRANSIT} dev {NODE_IFACE} scope link src {GATEWAY_TRANSIT}",
    ]
    held: set[IPv4Address] = {GATEWAY_TRANSIT}
    held6: set[IPv6Address] = set()
    v6 = topology.holds_ipv6  # a lab without IPv6 has it off
    if v6:
        held6.add(GATEWAY_TRANSIT6)
        lines += [
            f"addr add {GATEWAY_TRANSIT6}/128 dev {NODE_IFACE} nodad",
            f"route replace {TRANSIT6} dev {NODE_IFACE}",
        ]
    for router in topology.routers:
        vpc = topology.vpcs_by_name[router.vpc]
        if not (vpc.has_internet_gateway or vpc.egress_only_internet_gateway):
            continue
        lines.append(f"route replace {vpc.cidr} via {router.transit} dev {NODE_IFACE} onlink")
        if vpc.ipv6 is not None and v6:
            lines.append(f"route replace {vpc.ipv6} via {router.transit6} dev {NODE_IFACE} onlink")
    nets = sorted({host_net(host.address) for host in topology.hosts})
    for net in nets:
        address = gateway_address(net, taken)
        held.add(address)
        lines += [
            f"addr add {address}/32 dev {NODE_IFACE}",
            f"route replace {net} dev {NODE_IFACE} scope link src {address}",
        ]
    for net6 in sorted({host_net6(h.address6) for h in topology.hosts if h.address6}):
        held6.add(_router6(net6))
        lines += [
            f"addr add {_router6(net6)}/128 dev {NODE_IFACE} nodad",
            f"route replace {net6} dev {NODE_IFACE}",
        ]
    return Wiring(
        ((node_port("_igw"), NODE_IFACE),),
        "\n".join(lines) + "\n",
        tuple(GATEWAY_SYSCTLS.items()),
        ((*sorted(held), *sorted(held6)),),
        (mac(GATEWAY_TRANSIT),),
    )
