"""The pure data model: accounts, groups, rules, instances, outside hosts, probes, and for
VPC topologies their VPCs, subnets, prefix lists and network interfaces.

Values are frozen dataclasses. EC2-Classic semantics (validation, limits, error codes, the
default group) live in :mod:`harness.core.ec2.rules`, for EC2-Classic and VPC groups alike
(the difference is data: :mod:`harness.core.ec2.platform`); this module only describes what
things are.

A topology is Classic unless it has VPCs. In a VPC topology groups have egress rules as well as
ingress rules (``Group.egress`` is ``None`` for a Classic group: everything goes out), rules
take any protocol, IPv6 CIDRs and prefix lists, and instances have network interfaces, each in
a subnet with its own groups and addresses.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field, replace
from enum import StrEnum
from functools import cached_property
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network

from harness.core.vpc_path import (
    EGRESS_ONLY_INTERNET_GATEWAY,
    INTERNET_GATEWAY,
    NetworkAcl,
    Route,
    RouteTable,
)

DEFAULT_ACCOUNT = "111122223333"
DEFAULT_SUBNET = IPv4Network("10.254.0.0/16")


Address = IPv4Address | IPv6Address
Network = IPv4Network | IPv6Network


class Protocol(StrEnum):
    """The protocols with names; any other IP protocol is its number (see :data:`Proto`)."""

    TCP = "tcp"
    UDP = "udp"
    ICMP = "icmp"
    ICMPV6 = "icmpv6"
    ALL = "-1"  # VPC rules only: every protocol, every port

    def __str__(self) -> str:
        return self.value


Proto = Protocol | int
"""A rule's or probe's protocol: a name, or the number of any other IP protocol (never 1, 6,
17 or 58, which are the named ones)."""

PUBLIC_TABLE = RouteTable(  # what ``public: true`` means
    "public",
    (
        Route(IPv4Network("0.0.0.0/0"), INTERNET_GATEWAY),
        Route(IPv6Network("::/0"), INTERNET_GATEWAY),
    ),
)
MAIN_TABLE = RouteTable("main")  # a VPC's main table as AWS makes it: the local routes only

NUMBERS = {Protocol.TCP: 6, Protocol.UDP: 17, Protocol.ICMP: 1, Protocol.ICMPV6: 58}
PORTED = (Protocol.TCP, Protocol.UDP)


def protocol_number(protocol: Proto) -> int:
    """A protocol's IP number (6 for tcp...), ``-1`` for every protocol."""
    if isinstance(protocol, int):
        return protocol
    return NUMBERS.get(protocol, -1)


ICMPS = (Protocol.ICMP, Protocol.ICMPV6)


class State(StrEnum):
    """A cell's verdict. ``not-run`` is never counted as ``filtered``."""

    OPEN = "open"
    CLOSED = "closed"
    FILTERED = "filtered"
    NOT_RUN = "not-run"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True, order=True)
class GroupKey:
    """A group's identity: its owner account and its name."""

    account: str
    name: str
    vpc: str = ""  # the name of its VPC; "" for a Classic group (names are unique per VPC)

    def label(self, home_account: str) -> str:
        """The name as a user in ``home_account`` writes it (``apache``, ``444455556666/x``)."""
        return self.name if self.account == home_account else f"{self.account}/{self.name}"

    @property
    def group_id(self) -> str:
        """A stable EC2-style id, ``sg-`` and 8 hex digits (17 for a VPC group)."""
        if self.vpc:
            text = f"{self.account}/{self.vpc}/{self.name}"
            return "sg-" + hashlib.sha256(text.encode()).hexdigest()[:17]
        digest = hashlib.sha256(f"{self.account}/{self.name}".encode()).hexdigest()
        return f"sg-{digest[:8]}"


@dataclass(frozen=True)
class Origin:
    """Where a group or a rule was written: a file, its line (0: not known) and the construct
    there (``aws_security_group.web ingress[0]``), for errors and for SARIF."""

    file: str
    line: int = 0
    construct: str = ""

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where} {self.construct}" if self.construct else where


@dataclass(frozen=True)
class Rule:
    """One rule: protocol, ports (or ICMP type:code) and one peer (the source of an ingress
    rule, the destination of an egress rule).

    For tcp/udp ``from_port``-``to_port`` is the port range; for icmp and icmpv6 they hold the
    type and the code, ``-1`` meaning any; for ``-1`` and protocol numbers they are ``-1`` (all
    ports). Exactly one of ``cidr``, ``group`` and ``prefix_list`` is set.
    """

    protocol: Proto
    from_port: int
    to_port: int
    cidr: Network | None = None
    group: GroupKey | None = None
    prefix_list: str | None = None  # the name of one of the topology's prefix lists
    written: str = field(default="", compare=False)
    service: str = field(default="", compare=False)
    description: str = field(default="", compare=False)
    rule_id: str = field(default="", compare=False)  # a control plane's sgr- id, once given
    origin: Origin | None = field(default=None, compare=False)

    def ports_text(self) -> str:
        if self.protocol in ICMPS:
            return f"{self.from_port}:{self.to_port}"
        if self.protocol not in PORTED:
            return "all"
        if self.from_port == self.to_port:
            return str(self.from_port)
        return f"{self.from_port}-{self.to_port}"

    def source_text(self, home_account: str) -> str:
        if self.cidr is not None:
            return str(self.cidr)
        if self.prefix_list is not None:
            return f"pl:{self.prefix_list}"
        assert self.group is not None
        return self.group.label(home_account)

    def what(self) -> str:
        """``tcp 80``, ``icmp 8:0``, ``all traffic``, ``protocol 132``."""
        if self.protocol is Protocol.ALL:
            return "all traffic"
        if isinstance(self.protocol, int):
            return f"protocol {self.protocol}"
        return f"{self.protocol} {self.ports_text()}"

    def as_written(self, home_account: str, word: str = "from") -> str:
        """The rule as its topology wrote it (``tcp 22 from 198.51.100.7/0``, ``service https
        (tcp 443) from 0.0.0.0/0``), where :meth:`describe` gives the normalised form."""
        source = self.written or self.source_text(home_account)
        what = self.what()
        if self.service:
            what = f"service {self.service} ({what})"
        return f"{what} {word} {source}"

    def describe(self, home_account: str, word: str = "from") -> str:
        """``tcp 80 from 0.0.0.0/0``, ``icmp -1:-1 from default``, ``all traffic to
        0.0.0.0/0`` (``word`` is ``to`` for egress rules)."""
        return f"{self.what()} {word} {self.source_text(home_account)}"

    def covers(self, protocol: Proto, port: int | None) -> bool:
        """Whether this rule's protocol and ports admit a probe (ICMP probes are echo requests,
        8:0 for icmp and 128:0 for icmpv6; probes of other numbers have no port)."""
        if self.protocol is Protocol.ALL:
            return True
        if protocol != self.protocol:
            return False
        echo = echo_of(protocol)
        if echo is not None:
            icmp_type, icmp_code = echo
            return self.from_port in (-1, icmp_type) and self.to_port in (-1, icmp_code)
        if protocol not in PORTED:
            return True
        assert port is not None
        return self.from_port <= port <= self.to_port


ECHO_REQUEST = (8, 0)
ECHO_REQUEST_V6 = (128, 0)


def echo_of(protocol: Proto) -> tuple[int, int] | None:
    """The ICMP type and code of an echo probe of ``protocol`` (icmp, icmpv6), else None: the
    one choice of what an ICMP probe sends, for the rules, the oracle and the path."""
    if protocol is Protocol.ICMP:
        return ECHO_REQUEST
    if protocol is Protocol.ICMPV6:
        return ECHO_REQUEST_V6
    return None


@dataclass(frozen=True)
class Group:
    """A security group. ``rules`` are its ingress rules; ``egress`` its egress rules, or
    ``None`` for a Classic group (EC2-Classic does not filter what leaves). ``vpc`` is the name
    of its VPC (``None``: Classic)."""

    key: GroupKey
    description: str
    rules: tuple[Rule, ...] = ()
    egress: tuple[Rule, ...] | None = None
    vpc: str | None = None
    origin: Origin | None = field(default=None, compare=False)

    @property
    def name(self) -> str:
        return self.key.name

    @property
    def group_id(self) -> str:
        return self.key.group_id

    @property
    def all_rules(self) -> tuple[Rule, ...]:
        """Its ingress and egress rules together."""
        return (*self.rules, *(self.egress or ()))

    def side(self, egress: bool) -> tuple[Rule, ...]:
        """The rules of one direction (a Classic group has no egress rules)."""
        return (self.egress or ()) if egress else self.rules

    def with_side(self, egress: bool, rules: tuple[Rule, ...]) -> Group:
        """The group with the rules of one direction replaced."""
        return replace(self, egress=rules) if egress else replace(self, rules=rules)


@dataclass(frozen=True, order=True)
class Listen:
    """A port an instance serves: TCP accepts connections, UDP answers datagrams."""

    protocol: Protocol
    port: int

    def __str__(self) -> str:
        return f"{self.protocol}/{self.port}"

    @classmethod
    def parse(cls, text: str) -> Listen:
        """``tcp/80`` or ``udp/53``; a ValueError says what is wrong."""
        match = re.fullmatch(r"(tcp|udp)/(\d+)", text.strip().lower())
        if match is None:
            raise ValueError(f"listen entry '{text}' must look like tcp/80 or udp/53")
        port = int(match.group(2))
        if not 1 <= port <= 65535:
            raise ValueError(f"listen port {port} is out of range (1-65535)")
        return cls(Protocol(match.group(1)), port)


@dataclass(frozen=True)
class Subnet:
    """A VPC subnet; ``public`` ones are routed to the VPC's internet gateway. Its network
    ACL is one of its VPC's by name ("": the VPC's default ACL)."""

    name: str
    vpc: str
    cidr: IPv4Network
    public: bool = False
    ipv6: IPv6Network | None = None
    network_acl: str = ""
    route_table: str = ""  # one of its VPC's route tables ("": as ``public`` says, or main)


@dataclass(frozen=True)
class Vpc:
    name: str
    cidr: IPv4Network
    ipv6: IPv6Network | None = None
    subnets: tuple[Subnet, ...] = ()
    default: bool = False  # the account's default VPC (172.31.0.0/16)
    network_acls: tuple[NetworkAcl, ...] = ()  # its custom network ACLs
    route_tables: tuple[RouteTable, ...] = ()  # its custom route tables
    main_route_table: str = ""  # one of them as the main table ("": the local routes only)
    internet_gateway: bool = False  # one is attached (also when a subnet is ``public``)
    egress_only_internet_gateway: bool = False  # one is attached: IPv6 out, replies back
    nat_gateways: tuple[NatGateway, ...] = ()

    @property
    def local(self) -> tuple[Network, ...]:
        """The destinations of its ``local`` routes: its CIDR, and its IPv6 block."""
        return (self.cidr,) if self.ipv6 is None else (self.cidr, self.ipv6)

    @property
    def has_internet_gateway(self) -> bool:
        return self.internet_gateway or any(subnet.public for subnet in self.subnets)

    def table_of(self, subnet: Subnet) -> RouteTable:
        """The route table a subnet is associated with: the one it names; for a ``public``
        subnet, one routing 0.0.0.0/0 and ::/0 to the internet gateway; else the main."""
        if subnet.route_table:
            return self.tables_by_name[subnet.route_table]
        if subnet.public:
            return PUBLIC_TABLE
        return self.tables_by_name.get(self.main_route_table, MAIN_TABLE)

    @cached_property
    def tables_by_name(self) -> dict[str, RouteTable]:
        return {table.name: table for table in self.route_tables}

    def route(self, subnet: Subnet, address: Address) -> Route | None:
        """The route a subnet's table sends a packet for ``address`` by (``None``: none)."""
        return self.table_of(subnet).lookup(address, self.local)

    def attached(self, target: str) -> bool:
        """Whether a gateway a route may name is attached: the internet gateway, the
        egress-only one (a NAT gateway or a peering is checked where it is named)."""
        if target == INTERNET_GATEWAY:
            return self.has_internet_gateway
        if target == EGRESS_ONLY_INTERNET_GATEWAY:
            return self.egress_only_internet_gateway
        return True

    def outbound6(self, subnet: Subnet) -> bool:
        """Whether a subnet sends IPv6 anywhere out of the VPC's gateways: to the internet
        gateway, or to the egress-only one."""
        return any(
            route.destination.version == 6
            and not route.blackhole
            and route.target in (INTERNET_GATEWAY, EGRESS_ONLY_INTERNET_GATEWAY)
            and self.attached(route.target)
            for route in self.table_of(subnet).routes
        )

    def nat_named(self, label: str) -> NatGateway | None:
        return next((nat for nat in self.nat_gateways if nat.label == label), None)

    def to_internet(self, subnet: Subnet, address: Address) -> bool:
        """Whether a subnet's route table sends ``address`` to the internet gateway."""
        route = self.table_of(subnet).lookup(address, self.local)
        return (
            route is not None
            and route.target == INTERNET_GATEWAY
            and not route.blackhole
            and self.has_internet_gateway
        )

    def online(self, subnet: Subnet, version: int) -> bool:
        """Whether a subnet routes anything of a family to the internet gateway."""
        table = self.table_of(subnet)
        return self.has_internet_gateway and any(
            route.target == INTERNET_GATEWAY
            and route.destination.version == version
            and not route.blackhole
            for route in table.routes
        )

    @cached_property
    def default_acl(self) -> NetworkAcl:
        """The VPC's default network ACL, as AWS makes it: everything allowed each way."""
        return NetworkAcl.allowing_all("default", self.ipv6 is not None)

    def acl_of(self, subnet: Subnet) -> NetworkAcl:
        """The network ACL a subnet is associated with."""
        for acl in self.network_acls:
            if acl.name == subnet.network_acl:
                return acl
        return self.default_acl


@dataclass(frozen=True)
class NatGateway:
    """A NAT gateway: a node of its own on a subnet, holding a private address there. It
    translates the source of what the VPC's subnets route to it to its own address, which the
    internet gateway translates to its Elastic IP (``public``; ``None``: a private NAT
    gateway, which the internet gateway does not serve). Nothing outside can open a
    connection through it. Not a probe source or target."""

    name: str  # the lab node's name: ``_nat-`` and its label
    label: str  # its name in the topology, which routes name
    vpc: str
    subnet: str
    address: IPv4Address
    public: IPv4Address | None = None

    kind = "nat_gateway"
    groups: tuple[GroupKey, ...] = ()

    @property
    def nat_gateway_id(self) -> str:
        return "nat-" + hashlib.sha256(f"{self.vpc}/{self.label}".encode()).hexdigest()[:17]


@dataclass(frozen=True)
class Peering:
    """A VPC peering connection between two VPCs of the lab (requester, accepter): their
    routers are linked; each side's route tables decide what crosses it; groups may name the
    other side's groups. Traffic that crosses it goes only to the other VPC's own addresses
    (no transitive routing)."""

    name: str
    vpcs: tuple[str, str]

    @property
    def peering_id(self) -> str:
        return "pcx-" + hashlib.sha256(self.name.encode()).hexdigest()[:17]

    def other(self, vpc: str) -> str | None:
        """The VPC at the other end from ``vpc`` (``None``: ``vpc`` is not one of its)."""
        first, second = self.vpcs
        return second if vpc == first else first if vpc == second else None


@dataclass(frozen=True)
class ElasticIp:
    """An Elastic IP: a public address of the lab's, associated with an instance's
    interface, with a NAT gateway, or with nothing."""

    name: str
    address: IPv4Address
    instance: str = ""
    interface: int = 0
    nat_gateway: str = ""

    @property
    def allocation_id(self) -> str:
        return "eipalloc-" + hashlib.sha256(self.name.encode()).hexdigest()[:17]


@dataclass(frozen=True)
class PrefixList:
    """A customer-managed prefix list: a name for a set of CIDRs, usable in rules."""

    name: str
    cidrs: tuple[Network, ...]

    @property
    def list_id(self) -> str:
        return "pl-" + hashlib.sha256(self.name.encode()).hexdigest()[:17]


@dataclass(frozen=True)
class Interface:
    """A network interface of a VPC instance: its subnet, its groups and its addresses."""

    subnet: str
    address: IPv4Address
    groups: tuple[GroupKey, ...]
    public: IPv4Address | None = None
    ipv6: IPv6Address | None = None

    def private_addresses(self) -> tuple[Address, ...]:
        """The addresses a group reference matches: private IPv4 and IPv6, never public."""
        return (self.address,) if self.ipv6 is None else (self.address, self.ipv6)


@dataclass(frozen=True)
class Instance:
    """An instance. ``address`` and ``groups`` are those of its primary interface; a VPC
    instance lists all its interfaces in ``interfaces`` (a Classic one has none)."""

    name: str
    account: str
    groups: tuple[GroupKey, ...]
    address: IPv4Address
    listen: tuple[Listen, ...] = ()
    image: str | None = None
    command: tuple[str, ...] | None = None
    interfaces: tuple[Interface, ...] = ()
    label: str = ""  # what a person calls it (a persistent lab's Name tag, else its AMI's role)

    kind = "instance"

    @cached_property
    def nics(self) -> tuple[Interface, ...]:
        """Its interfaces; a Classic instance has one, in no subnet (made once: memos of a
        big lab's walk know an interface by its identity)."""
        return self.interfaces or (Interface("", self.address, self.groups),)

    @cached_property
    def listen_ports(self) -> frozenset[int]:
        """The ports it listens on: its probes are never sent from one of them."""
        return frozenset(item.port for item in self.listen)

    def listens(self, protocol: Proto, port: int | None) -> bool:
        if protocol in ICMPS:
            return True
        return any(item.protocol is protocol and item.port == port for item in self.listen)


@dataclass(frozen=True)
class Host:
    """A machine outside EC2 (a workstation, the internet): no groups, no policy. In a VPC
    topology it reaches instances through the internet gateway, by public addresses (and
    IPv6 when it has ``address6``)."""

    name: str
    address: IPv4Address
    address6: IPv6Address | None = None

    kind = "host"
    groups: tuple[GroupKey, ...] = ()

    @property
    def listen_ports(self) -> frozenset[int]:
        return frozenset()


@dataclass(frozen=True)
class Gateway:
    """A VPC lab's internet gateway: routes between the VPCs' public subnets and the outside
    hosts, with 1:1 NAT between public and private IPv4 addresses. Not a probe source or
    target; it exists only as a node of the lab."""

    name: str
    address: IPv4Address  # one of its addresses (a plugged gateway holds it)

    kind = "gateway"
    groups: tuple[GroupKey, ...] = ()


@dataclass(frozen=True)
class Router:
    """A VPC's router (AWS's "implicit router"): an interface on each of the VPC's subnets,
    holding the subnet's first host address (.1, which AWS reserves for it; ::1 of an IPv6
    block), and one on the transit link to the internet gateway (when the lab has one). Traffic
    between subnets, and to and from the internet gateway, crosses it; the subnets' route
    tables decide where it may go. Not a probe source or target."""

    name: str
    vpc: str
    address: IPv4Address  # the first subnet's .1 (a plugged router holds it)
    transit: IPv4Address
    transit6: IPv6Address

    kind = "router"
    groups: tuple[GroupKey, ...] = ()


# The transit link between the VPCs' routers and the internet gateway: link-local addresses,
# which no VPC, subnet or outside host of a lab may use.
TRANSIT = IPv4Network("169.254.0.0/16")
TRANSIT6 = IPv6Network("fd00:5347:4800::/64")
GATEWAY_TRANSIT = TRANSIT.network_address + 1
GATEWAY_TRANSIT6 = TRANSIT6.network_address + 1


def transit_addresses(vpcs: list[str]) -> dict[str, tuple[IPv4Address, IPv6Address]]:
    """Each VPC's router's transit addresses, from a hash of its name (so a VPC added to a
    running lab does not move the others' routers), the next free one on a collision."""
    found: dict[str, tuple[IPv4Address, IPv6Address]] = {}
    taken = {0, 1, 0xFFFF}
    for vpc in sorted(vpcs):
        slot = int(hashlib.sha256(vpc.encode()).hexdigest()[:4], 16)
        while slot in taken or slot & 0xFF in (0, 0xFF):
            slot = (slot + 1) & 0xFFFF
        taken.add(slot)
        found[vpc] = (TRANSIT.network_address + slot, TRANSIT6.network_address + slot)
    return found


Node = Instance | Host
LabNode = Instance | Host | Gateway | Router | NatGateway


@dataclass(frozen=True)
class Probe:
    """What is sent to a target: ``tcp/80``, ``udp/53``, ``icmp`` or ``icmpv6`` (echo
    request), or a packet of another IP protocol by its number (``132``)."""

    protocol: Proto
    port: int | None

    def __str__(self) -> str:
        return str(self.protocol) if self.port is None else f"{self.protocol}/{self.port}"

    def sort_key(self) -> tuple[int, int]:
        order = {Protocol.TCP: 0, Protocol.UDP: 1, Protocol.ICMP: 2, Protocol.ICMPV6: 3}
        if isinstance(self.protocol, int):
            return (4, self.protocol)
        return (order[self.protocol], -1 if self.port is None else self.port)

    def __lt__(self, other: Probe) -> bool:
        return self.sort_key() < other.sort_key()


@dataclass(frozen=True)
class Topology:
    name: str
    account: str
    groups: tuple[Group, ...]
    instances: tuple[Instance, ...]
    hosts: tuple[Host, ...] = ()
    probes: tuple[Probe, ...] = ()
    subnet: IPv4Network = DEFAULT_SUBNET
    source: str = "<topology>"
    vpcs: tuple[Vpc, ...] = ()
    prefix_lists: tuple[PrefixList, ...] = ()
    peerings: tuple[Peering, ...] = ()
    elastic_ips: tuple[ElasticIp, ...] = ()

    @property
    def is_vpc(self) -> bool:
        return bool(self.vpcs)

    @cached_property
    def subnets_by_name(self) -> dict[str, Subnet]:
        return {subnet.name: subnet for vpc in self.vpcs for subnet in vpc.subnets}

    @cached_property
    def vpcs_by_name(self) -> dict[str, Vpc]:
        return {vpc.name: vpc for vpc in self.vpcs}

    @cached_property
    def prefix_lists_by_name(self) -> dict[str, PrefixList]:
        return {plist.name: plist for plist in self.prefix_lists}

    def online(self, subnet: str, version: int) -> bool:
        """Whether a subnet routes anything of an IP family to the internet gateway."""
        found = self.subnets_by_name[subnet]
        return self.vpcs_by_name[found.vpc].online(found, version)

    @cached_property
    def nat_gateways(self) -> tuple[NatGateway, ...]:
        return tuple(nat for vpc in self.vpcs for nat in vpc.nat_gateways)

    @cached_property
    def peerings_by_name(self) -> dict[str, Peering]:
        return {peering.name: peering for peering in self.peerings}

    def peering_between(self, one: str, other: str) -> Peering | None:
        """The peering connection between two VPCs, if any (AWS allows one per pair)."""
        return next((p for p in self.peerings if set(p.vpcs) == {one, other}), None)

    @cached_property
    def peered(self) -> frozenset[frozenset[str]]:
        """The VPCs joined by peerings, each group of them connected by a chain of peerings
        (whose cells are planned, so that no transitive path goes unproven)."""
        found: dict[str, set[str]] = {}
        for peering in self.peerings:
            joined = set(peering.vpcs)
            for vpc in peering.vpcs:
                joined |= found.get(vpc, set())
            for vpc in joined:
                found[vpc] = joined
        return frozenset(frozenset(group) for group in found.values())

    def connected(self, one: str, other: str) -> bool:
        """Whether a chain of peerings joins two VPCs."""
        return any(one in group and other in group for group in self.peered)

    @property
    def transit_link(self) -> bool:
        """Whether the VPCs' routers share the transit link: to the internet gateway, or
        to each other's across a peering."""
        return self.gateway is not None or bool(self.peerings)

    def outbound6(self, subnet: str) -> bool:
        """Whether a subnet sends IPv6 out by the internet gateway or the egress-only one."""
        found = self.subnets_by_name[subnet]
        return self.vpcs_by_name[found.vpc].outbound6(found)

    @cached_property
    def translations(self) -> dict[IPv4Address, IPv4Address]:
        """What the internet gateway translates one to one: each private address with a
        public one (an instance's interface, a NAT gateway's Elastic IP)."""
        found = {
            nic.address: nic.public
            for instance in self.instances
            for nic in instance.nics
            if nic.public is not None
        }
        found.update(
            (nat.address, nat.public) for nat in self.nat_gateways if nat.public is not None
        )
        return found

    def vpc_of(self, instance: Instance) -> Vpc | None:
        if not instance.interfaces:
            return None
        return self.vpcs_by_name[self.subnets_by_name[instance.interfaces[0].subnet].vpc]

    @cached_property
    def gateway(self) -> Gateway | None:
        """The lab's edge to the outside (every VPC's internet gateway and egress-only one),
        when a VPC has one attached or the topology has outside hosts."""
        if not self.is_vpc:
            return None
        attached = any(
            vpc.has_internet_gateway or vpc.egress_only_internet_gateway for vpc in self.vpcs
        )
        if not attached and not self.hosts:
            return None
        return Gateway("_igw", GATEWAY_TRANSIT)

    @cached_property
    def routers(self) -> tuple[Router, ...]:
        """Each VPC's router (a VPC with subnets)."""
        transit = transit_addresses([vpc.name for vpc in self.vpcs])
        return tuple(
            Router(
                f"_rt-{vpc.name}",
                vpc.name,
                vpc.subnets[0].cidr.network_address + 1,
                *transit[vpc.name],
            )
            for vpc in self.vpcs
            if vpc.subnets
        )

    @cached_property
    def holds_ipv6(self) -> bool:
        """Whether any node of the lab holds an IPv6 address."""
        return any(host.address6 is not None for host in self.hosts) or any(
            nic.ipv6 is not None for instance in self.instances for nic in instance.nics
        )

    @cached_property
    def lab_nodes(self) -> tuple[LabNode, ...]:
        """Every node a lab runs: instances, hosts, the VPCs' routers and the internet
        gateway, if any."""
        gateway = (self.gateway,) if self.gateway is not None else ()
        return (*self.nodes, *self.routers, *self.nat_gateways, *gateway)

    @cached_property
    def member_addresses(self) -> dict[GroupKey, tuple[Address, ...]]:
        """What a reference to each group matches: the private IPv4 (and IPv6) addresses of
        the interfaces in the group, never public ones."""
        result: dict[GroupKey, list[Address]] = {group.key: [] for group in self.groups}
        for instance in self.instances:
            for nic in instance.nics:
                for key in nic.groups:
                    result.setdefault(key, []).extend(nic.private_addresses())
        return {key: tuple(value) for key, value in result.items()}

    def expand(self, rule: Rule) -> tuple[Network, ...]:
        """The CIDRs a rule's CIDR or prefix list stands for (none for a group reference)."""
        if rule.cidr is not None:
            return (rule.cidr,)
        if rule.prefix_list is not None:
            return self.prefix_lists_by_name[rule.prefix_list].cidrs
        return ()

    @cached_property
    def groups_by_key(self) -> dict[GroupKey, Group]:
        return {group.key: group for group in self.groups}

    @cached_property
    def nodes(self) -> tuple[Node, ...]:
        return (*self.instances, *self.hosts)

    @cached_property
    def nodes_by_name(self) -> dict[str, Node]:
        return {node.name: node for node in self.nodes}

    @cached_property
    def members(self) -> dict[GroupKey, tuple[Instance, ...]]:
        """Each group's member instances (on any of their interfaces), in topology order."""
        result: dict[GroupKey, list[Instance]] = {group.key: [] for group in self.groups}
        for instance in self.instances:
            keys = dict.fromkeys(key for nic in instance.nics for key in nic.groups)
            for key in keys:
                result.setdefault(key, []).append(instance)
        return {key: tuple(value) for key, value in result.items()}

    def group(self, key: GroupKey) -> Group:
        return self.groups_by_key[key]

    def rules_of(self, instance: Instance) -> list[tuple[Group, Rule]]:
        """The union of the rules of all the instance's groups, with the group of each."""
        return [
            (self.group(key), rule) for key in instance.groups for rule in self.group(key).rules
        ]

    def ingress_of(self, nic: Interface) -> list[tuple[Group, Rule]]:
        """The union of the ingress rules of an interface's groups, with the group of each."""
        return [(self.group(key), rule) for key in nic.groups for rule in self.group(key).rules]

    def egress_of(self, nic: Interface) -> list[tuple[Group, Rule]] | None:
        """The union of the egress rules of an interface's groups; ``None``: not filtered
        (Classic)."""
        groups = [self.group(key) for key in nic.groups]
        if not groups or any(group.egress is None for group in groups):
            return None
        return [(group, rule) for group in groups for rule in group.egress or ()]

    def subnets(self) -> list[IPv4Network]:
        """Every subnet a lab node lives in: the instance subnet and each host's /24 (in a
        VPC topology: every VPC subnet and each host's /24)."""
        if self.is_vpc:
            vpc_nets = {s.cidr for v in self.vpcs for s in v.subnets}
            vpc_nets |= {IPv4Network(f"{h.address}/24", strict=False) for h in self.hosts}
            return sorted(vpc_nets, key=lambda net: (int(net.network_address), net.prefixlen))
        nets = {self.subnet}
        for host in self.hosts:
            if host.address not in self.subnet:
                nets.add(IPv4Network(f"{host.address}/24", strict=False))
        for instance in self.instances:
            if instance.address not in self.subnet:
                nets.add(IPv4Network(f"{instance.address}/24", strict=False))
        return sorted(nets, key=lambda net: (int(net.network_address), net.prefixlen))
