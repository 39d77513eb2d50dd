"""The networks of a VPC topology file: its ``vpcs:`` section (VPCs, subnets, IPv6 blocks),
prefix lists, and where each instance goes (network interfaces, addresses, public addresses).

:mod:`harness.formats.topology_file` reads the document and hands a file with ``vpcs:`` over;
the groups and rules (:mod:`harness.formats.topology_rules`) and the hosts and instance entries
(:mod:`harness.formats.topology_nodes`) are read by the same readers as in an EC2-Classic
file, with this file's shape as data. Errors are the same one-line ``TopologyError``, with
EC2's error code where EC2 has one.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network
from typing import Any

from harness.core.ec2 import platform as platforms
from harness.core.ec2 import rules as rulebook
from harness.core.model import (
    ElasticIp,
    Group,
    GroupKey,
    Host,
    Instance,
    Interface,
    NatGateway,
    Peering,
    PrefixList,
    Probe,
    Subnet,
    Topology,
    Vpc,
    protocol_number,
)
from harness.core.vpc_path import (
    EGRESS_ONLY_INTERNET_GATEWAY,
    INTERNET_GATEWAY,
    MAX_RULE_NUMBER,
    AclEntry,
    NetworkAcl,
    Route,
    RouteTable,
)
from harness.errors import Ec2Error
from harness.formats.topology_nodes import (
    HOST_KEYS,
    Entry,
    group_refs,
    read_hosts,
    read_instances,
)
from harness.formats.topology_nodes import INSTANCE_KEYS as CLASSIC_INSTANCE_KEYS
from harness.formats.topology_rules import GroupFile, Resolve, read_groups
from harness.formats.yaml_lines import LineDict, Reader

PUBLIC_POOL = platforms.PUBLIC_POOL
IPV6_POOL = platforms.IPV6_POOL
DEFAULT_SUBNET = "default-a"
DEFAULT_SUBNET_CIDR = platforms.DEFAULT_SUBNET_CIDR

INSTANCE_KEYS = CLASSIC_INSTANCE_KEYS | {"subnet", "public_ip", "interfaces"}
TOP_KEYS = {
    "name",
    "account",
    "description",
    "vpcs",
    "prefix_lists",
    "groups",
    "instances",
    "hosts",
    "probes",
    "peerings",
    "elastic_ips",
}
GATEWAY_TARGETS = (INTERNET_GATEWAY, EGRESS_ONLY_INTERNET_GATEWAY)


@dataclass(frozen=True)
class NatSpec:
    """A NAT gateway as its VPC's entry names it; its address is given once the instances
    have theirs (a NAT gateway added to a file moves no instance)."""

    label: str
    subnet: str
    private: bool
    line: int


@dataclass
class VpcReader:
    """Builds a VPC topology from a document whose top level is already checked."""

    r: Reader
    account: str
    vpcs: dict[str, Vpc] = field(default_factory=dict)
    prefix_lists: dict[str, PrefixList] = field(default_factory=dict)
    groups: dict[GroupKey, Group] = field(default_factory=dict)
    taken: set[IPv4Address] = field(default_factory=set)
    public_taken: set[IPv4Address] = field(default_factory=set)
    peering_names: dict[str, tuple[str, str, int]] = field(default_factory=dict)
    nat_specs: dict[str, list[NatSpec]] = field(default_factory=dict)
    nat_elastic: set[str] = field(default_factory=set)  # NAT gateways given an Elastic IP

    def build(self, top: LineDict, name: str, probes: tuple[Probe, ...]) -> Topology:
        r = self.r
        for index, item in enumerate(r.sequence(top.get("prefix_lists"), "prefix_lists")):
            with r.at(f"prefix_lists[{index}]", item):  # read first: routes may name them
                plist = self._prefix_list(item)
                self.prefix_lists[plist.name] = plist
        peering_items = r.sequence(top.get("peerings"), "peerings")
        for index, item in enumerate(peering_items):
            with r.at(f"peerings[{index}]", item):
                self._peering_name(item)
        for index, item in enumerate(r.sequence(top.get("vpcs"), "vpcs")):
            with r.at(f"vpcs[{index}]", item):
                vpc = self._vpc(item, index)
                self.vpcs[vpc.name] = vpc
        if not self.vpcs:
            r.fail("'vpcs' needs at least one VPC (leave it out for an EC2-Classic topology)")
        peerings = [
            self._peering(name, item)
            for name, item in zip(self.peering_names, peering_items, strict=True)
        ]
        self._check_peered_routes(peerings)
        hosts = read_hosts(
            r,
            r.sequence(top.get("hosts"), "hosts"),
            self.taken,
            keys=HOST_KEYS | {"address6"},
            outside=self._outside,
        )
        self._groups(r.sequence(top.get("groups"), "groups"))
        instances = self._instances(r.sequence(top.get("instances"), "instances"), hosts)
        if not instances:
            r.line = top.line
            r.fail("a topology needs at least one instance")
        elastic_items = r.sequence(top.get("elastic_ips"), "elastic_ips")
        chosen = self._elastic_choices(elastic_items, instances)
        self._place_nat_gateways(chosen)
        instances, elastic_ips = self._elastic_ips(elastic_items, instances, chosen)
        return Topology(
            name=name,
            account=self.account,
            groups=tuple(self.groups.values()),
            instances=tuple(instances),
            hosts=tuple(hosts),
            probes=probes,
            source=r.source,
            vpcs=tuple(self.vpcs.values()),
            prefix_lists=tuple(self.prefix_lists.values()),
            peerings=tuple(peerings),
            elastic_ips=tuple(elastic_ips),
        )

    # -- VPCs and prefix lists -------------------------------------------------------------

    def _vpc(self, item: object, index: int) -> Vpc:
        r = self.r
        spec = r.mapping(
            item,
            "a VPC",
            {
                "name",
                "cidr",
                "ipv6",
                "subnets",
                "network_acls",
                "route_tables",
                "main_route_table",
                "internet_gateway",
                "egress_only_internet_gateway",
                "nat_gateways",
            },
            {"name", "cidr"},
        )
        name = r.name(spec["name"], "VPC name")
        if name in self.vpcs or name == platforms.DEFAULT_VPC:
            r.fail(f"VPC name '{name}' is used twice (or is the default VPC's)")
        with r.at("cidr"):
            cidr = self._v4_block(spec["cidr"], "VPC CIDR", 16, 28)
        for other in self.vpcs.values():
            if cidr.overlaps(other.cidr):
                r.fail(f"VPC CIDR {cidr} overlaps VPC '{other.name}' ({other.cidr})")
        ipv6 = spec.get("ipv6", False)
        if not isinstance(ipv6, bool):
            r.fail("'ipv6' must be true or false")
        block6 = rulebook.nth(IPV6_POOL, 56, index + 1) if ipv6 else None
        gateway = spec.get("internet_gateway", False)
        if not isinstance(gateway, bool):
            r.fail("'internet_gateway' must be true or false")
        egress_only = spec.get("egress_only_internet_gateway", False)
        if not isinstance(egress_only, bool):
            r.fail("'egress_only_internet_gateway' must be true or false")
        nats: list[NatSpec] = []
        for number, entry in enumerate(r.sequence(spec.get("nat_gateways"), "nat_gateways")):
            with r.at(f"nat_gateways[{number}]", entry):
                nats.append(self._nat_spec(entry, nats))
        self.nat_specs[name] = nats
        targets = {*GATEWAY_TARGETS, *(nat.label for nat in nats), *self.peering_names}
        tables: dict[str, RouteTable] = {}
        for number, entry in enumerate(r.sequence(spec.get("route_tables"), "route_tables")):
            with r.at(f"route_tables[{number}]", entry):
                table = self._route_table(entry, tables, cidr, block6, targets)
                tables[table.name] = table
        main = spec.get("main_route_table", "")
        if main and main not in tables:
            with r.at("main_route_table"):
                r.fail(f"'{main}' is not one of VPC '{name}''s route tables")
        acls: dict[str, NetworkAcl] = {}
        for number, entry in enumerate(r.sequence(spec.get("network_acls"), "network_acls")):
            with r.at(f"network_acls[{number}]", entry):
                acl = self._network_acl(entry, acls)
                acls[acl.name] = acl
        subnets: list[Subnet] = []
        for number, entry in enumerate(r.sequence(spec.get("subnets"), "subnets")):
            with r.at(f"subnets[{number}]", entry):
                subnets.append(
                    self._subnet(
                        entry,
                        vpc=name,
                        cidr=cidr,
                        block6=block6,
                        number=number,
                        others=subnets,
                        acls=acls,
                        tables=tables,
                    )
                )
        if not subnets:
            r.fail(f"VPC '{name}' needs at least one subnet")
        vpc = Vpc(
            name,
            cidr,
            block6,
            tuple(subnets),
            network_acls=tuple(acls.values()),
            route_tables=tuple(tables.values()),
            main_route_table=str(main),
            internet_gateway=gateway,
            egress_only_internet_gateway=egress_only,
        )
        for table in tables.values():
            for target in GATEWAY_TARGETS:
                if table.routes_to(target) and not vpc.attached(target):
                    r.fail(
                        f"route table '{table.name}' routes to the {target.replace('_', ' ')}, "
                        f"but VPC '{name}' has none: give it '{target}: true'"
                    )
        for nat in nats:
            if nat.subnet not in {subnet.name for subnet in subnets}:
                r.line = nat.line
                r.fail(f"NAT gateway '{nat.label}': subnet '{nat.subnet}' is not in VPC '{name}'")
        return vpc

    def _route_table(
        self,
        item: object,
        tables: dict[str, RouteTable],
        cidr: IPv4Network,
        block6: IPv6Network | None,
        targets: set[str],
    ) -> RouteTable:
        """A custom route table: its routes (its local routes are the VPC's CIDRs), each to
        a gateway, one of its VPC's NAT gateways, or a peering connection."""
        r = self.r
        spec = r.mapping(item, "a route table", {"name", "routes"}, {"name"})
        name = r.name(spec["name"], "route table name")
        if name in tables or name == "main":
            r.fail(f"route table name '{name}' is used twice (or is one the lab names itself)")
        routes: list[Route] = []
        for number, entry in enumerate(r.sequence(spec.get("routes"), "routes")):
            with r.at(f"routes[{number}]", entry):
                route = r.mapping(
                    entry, "a route", {"destination", "target"}, {"destination", "target"}
                )
                written = r.string(route["destination"], "destination")
                listed = ""
                with r.at("destination"):
                    if written.startswith("pl:"):
                        listed = self._known_prefix_list(written[3:])
                        given = self.prefix_lists[listed].cidrs
                        if not given:
                            r.fail(f"prefix list '{listed}' has no entries to route")
                    else:
                        given = (rulebook.parse_cidr(written, platforms.VPC),)
                target = r.string(route["target"], "target")
                if target not in targets:
                    known = ", ".join(sorted(targets))
                    r.fail(
                        f"target '{target}' is no gateway, NAT gateway of this VPC or peering "
                        f"connection (known: {known})"
                    )
                for destination in given:
                    self._check_route_family(destination, target)
                    self._check_route(destination, routes, cidr, block6, listed)
                    routes.append(Route(destination, target, prefix_list=listed))
        return RouteTable(name, tuple(routes))

    def _check_route(
        self,
        destination: IPv4Network | IPv6Network,
        routes: list[Route],
        cidr: IPv4Network,
        block6: IPv6Network | None,
        listed: str,
    ) -> None:
        """A route's destination: outside the VPC's own blocks, and once per table (a
        prefix list's entry may share a CIDR route's destination: the CIDR route wins)."""
        for local in (cidr, block6):
            if (
                local is not None
                and local.version == destination.version
                and destination.subnet_of(local)  # type: ignore[arg-type]
            ):
                raise Ec2Error(
                    "InvalidParameterValue",
                    f"The destination CIDR block {destination} is equal to or more specific "
                    f"than one of this VPC's CIDR blocks ({local})",
                )
        for known in routes:
            if known.destination != destination:
                continue
            if listed and known.prefix_list == listed:
                raise Ec2Error(
                    "RouteAlreadyExists", f"The route identified by pl:{listed} already exists."
                )
            if not listed and not known.prefix_list:
                raise Ec2Error(
                    "RouteAlreadyExists",
                    f"The route identified by {destination} already exists.",
                )
            if listed and known.prefix_list:
                self.r.fail(
                    f"prefix lists {known.prefix_list} and {listed} both route {destination}: "
                    "AWS picks one of them at random, so the lab cannot say which"
                )

    def _check_route_family(self, destination: IPv4Network | IPv6Network, target: str) -> None:
        """An egress-only internet gateway carries IPv6 only; a NAT gateway IPv4 only (NAT64
        is not modelled)."""
        if target == EGRESS_ONLY_INTERNET_GATEWAY and destination.version != 6:
            raise Ec2Error(
                "InvalidParameterValue",
                f"route {destination}: an egress-only internet gateway takes IPv6 destinations "
                "only",
            )
        if target in GATEWAY_TARGETS or target in self.peering_names:
            return
        if destination.version != 4:
            raise Ec2Error(
                "InvalidParameterValue",
                f"route {destination} -> {target}: a NAT gateway takes IPv4 destinations "
                "(NAT64 is not modelled)",
            )

    def _nat_spec(self, item: object, nats: list[NatSpec]) -> NatSpec:
        """``{name: nat-a, subnet: public-a}`` (``connectivity: private``: no Elastic IP)."""
        r = self.r
        spec = r.mapping(
            item, "a NAT gateway", {"name", "subnet", "connectivity"}, {"name", "subnet"}
        )
        label = r.name(spec["name"], "NAT gateway name")
        known = {nat.label for specs in self.nat_specs.values() for nat in specs}
        if label in known or any(nat.label == label for nat in nats):
            r.fail(f"NAT gateway name '{label}' is used twice")
        if label in self.peering_names or label in GATEWAY_TARGETS:
            r.fail(f"NAT gateway name '{label}' is a peering's or a gateway's")
        connectivity = spec.get("connectivity", "public")
        if connectivity not in ("public", "private"):
            r.fail(f"'connectivity' must be public or private, not {connectivity!r}")
        subnet = r.string(spec["subnet"], "subnet")
        return NatSpec(label, subnet, connectivity == "private", getattr(item, "line", 0))

    def _peering_name(self, item: object) -> None:
        """A peering's name and its two VPCs' names (checked once the VPCs are read)."""
        r = self.r
        spec = r.mapping(item, "a peering connection", {"name", "vpcs"}, {"name", "vpcs"})
        name = r.name(spec["name"], "peering name")
        if name in self.peering_names or name in GATEWAY_TARGETS:
            r.fail(f"peering name '{name}' is used twice (or is a gateway's)")
        pair = r.sequence(spec["vpcs"], "vpcs")
        if len(pair) != 2:
            r.fail("a peering connects two VPCs: 'vpcs: [REQUESTER, ACCEPTER]'")
        first, second = (r.string(vpc, "a VPC name") for vpc in pair)
        self.peering_names[name] = (first, second, getattr(item, "line", 0))

    def _peering(self, name: str, item: object) -> Peering:
        r = self.r
        first, second, line = self.peering_names[name]
        r.line = line
        with r.at(f"peerings {name}", item):
            for vpc in (first, second):
                if vpc not in self.vpcs:
                    raise Ec2Error("InvalidVpcID.NotFound", f"The vpc ID '{vpc}' does not exist")
            if first == second:
                r.fail("a peering connects two different VPCs")
            one, other = self.vpcs[first], self.vpcs[second]
            if one.cidr.overlaps(other.cidr):
                raise Ec2Error(
                    "InvalidParameterValue",
                    f"VPCs '{first}' ({one.cidr}) and '{second}' ({other.cidr}) overlap: they "
                    "cannot be peered",
                )
            for earlier, (a, b, _) in self.peering_names.items():
                if earlier == name:
                    break
                if {a, b} == {first, second}:
                    raise Ec2Error(
                        "VpcPeeringConnectionAlreadyExists",
                        f"VPCs '{first}' and '{second}' are already peered by '{earlier}'",
                    )
        return Peering(name, (first, second))

    def _check_peered_routes(self, peerings: list[Peering]) -> None:
        """A route to a peering connection is in one of the two VPCs it joins."""
        by_name = {peering.name: peering for peering in peerings}
        for vpc in self.vpcs.values():
            for table in vpc.route_tables:
                for route in table.routes:
                    peering = by_name.get(route.target)
                    if peering is not None and peering.other(vpc.name) is None:
                        self.r.fail(
                            f"VPC '{vpc.name}' route table '{table.name}': peering "
                            f"'{peering.name}' joins {peering.vpcs[0]} and {peering.vpcs[1]}, "
                            f"not '{vpc.name}'"
                        )

    def _elastic_choices(
        self, items: list[Any], instances: list[Instance]
    ) -> dict[str, IPv4Address | None]:
        """The address each ``elastic_ips`` entry names, if it names one (taken first, so
        that no automatic address takes it)."""
        r = self.r
        chosen: dict[str, IPv4Address | None] = {}
        for index, item in enumerate(items):
            with r.at(f"elastic_ips[{index}]", item):
                spec = r.mapping(
                    item,
                    "an Elastic IP",
                    {"name", "address", "instance", "interface", "nat_gateway"},
                    {"name"},
                )
                name = r.name(spec["name"], "Elastic IP name")
                if name in chosen:
                    r.fail(f"Elastic IP name '{name}' is used twice")
                address = None
                if "address" in spec:
                    address = r.address(spec["address"], "address")
                    if address not in PUBLIC_POOL or address in self.public_taken:
                        r.fail(f"address {address} is taken or outside {PUBLIC_POOL}")
                    self.public_taken.add(address)
                chosen[name] = address
                if "nat_gateway" in spec:
                    self.nat_elastic.add(r.string(spec["nat_gateway"], "nat_gateway"))
        return chosen

    def _place_nat_gateways(self, chosen: dict[str, IPv4Address | None]) -> None:
        """Each NAT gateway's private address in its subnet, and a public NAT gateway's
        Elastic IP (given by ``elastic_ips`` or allocated here)."""
        named = self.nat_elastic
        for vpc_name, specs in self.nat_specs.items():
            vpc = self.vpcs[vpc_name]
            placed: list[NatGateway] = []
            for spec in specs:
                subnet = self._subnet_named(spec.subnet)
                self.r.line = spec.line
                address = self._allocate(subnet, None)
                public = None
                if not spec.private and spec.label not in named:
                    public = self._next_public()
                placed.append(
                    NatGateway(
                        f"_nat-{spec.label}", spec.label, vpc_name, spec.subnet, address, public
                    )
                )
            self.vpcs[vpc_name] = replace(vpc, nat_gateways=tuple(placed))

    def _elastic_ips(
        self,
        items: list[Any],
        instances: list[Instance],
        chosen: dict[str, IPv4Address | None],
    ) -> tuple[list[Instance], list[ElasticIp]]:
        """Each Elastic IP, associated with an instance's interface (its public address
        then, replacing an automatic one), a NAT gateway, or nothing."""
        r = self.r
        by_name = {instance.name: index for index, instance in enumerate(instances)}
        nats = {nat.label: nat for vpc in self.vpcs.values() for nat in vpc.nat_gateways}
        found: list[ElasticIp] = []
        held: set[tuple[str, int]] = set()
        for index, (item, (name, given)) in enumerate(zip(items, chosen.items(), strict=True)):
            with r.at(f"elastic_ips[{index}]", item):
                spec = item
                address = given if given is not None else self._next_public()
                targets = [key for key in ("instance", "nat_gateway") if key in spec]
                if len(targets) > 1:
                    r.fail(
                        "an Elastic IP is associated with an instance or a NAT gateway, not both"
                    )
                if "interface" in spec and "instance" not in spec:
                    r.fail("'interface' goes with 'instance' (the instance's interface number)")
                if "nat_gateway" in spec:
                    label = r.string(spec["nat_gateway"], "nat_gateway")
                    nat = nats.get(label)
                    if nat is None:
                        raise Ec2Error(
                            "InvalidParameterValue", f"NAT gateway '{label}' does not exist"
                        )
                    if (label, -1) in held:
                        r.fail(f"NAT gateway '{label}' already has an Elastic IP")
                    held.add((label, -1))
                    vpc = self.vpcs[nat.vpc]
                    moved = replace(nat, public=address)
                    self.vpcs[nat.vpc] = replace(
                        vpc,
                        nat_gateways=tuple(
                            moved if other.label == label else other for other in vpc.nat_gateways
                        ),
                    )
                    found.append(ElasticIp(name, address, nat_gateway=label))
                    continue
                if "instance" not in spec:
                    found.append(ElasticIp(name, address))
                    continue
                owner = r.string(spec["instance"], "instance")
                if owner not in by_name:
                    raise Ec2Error(
                        "InvalidInstanceID.NotFound", f"The instance ID '{owner}' does not exist"
                    )
                number = spec.get("interface", 0)
                instance = instances[by_name[owner]]
                if (
                    isinstance(number, bool)
                    or not isinstance(number, int)
                    or not (0 <= number < len(instance.nics))
                ):
                    r.fail(f"instance '{owner}' has no interface {number!r}")
                if (owner, number) in held:
                    r.fail(f"interface {number} of '{owner}' already has an Elastic IP")
                held.add((owner, number))
                nics = list(instance.nics)
                nics[number] = replace(nics[number], public=address)
                instances[by_name[owner]] = replace(instance, interfaces=tuple(nics))
                found.append(ElasticIp(name, address, owner, number))
        return instances, found

    def _network_acl(self, item: object, acls: dict[str, NetworkAcl]) -> NetworkAcl:
        """A custom network ACL: its entries as written; it denies all that none allows."""
        r = self.r
        spec = r.mapping(item, "a network ACL", {"name", "ingress", "egress"}, {"name"})
        name = r.name(spec["name"], "network ACL name")
        if name in acls or name == "default":
            r.fail(f"network ACL name '{name}' is used twice (or is the default ACL's)")
        entries: list[AclEntry] = []
        for key, egress in (("ingress", False), ("egress", True)):
            numbers: set[int] = set()
            for number, entry in enumerate(r.sequence(spec.get(key), key)):
                with r.at(f"{key}[{number}]", entry):
                    found = self._acl_entry(entry, egress)
                    if found.number in numbers:
                        raise Ec2Error(
                            "NetworkAclEntryAlreadyExists",
                            f"The network acl entry identified by {found.number} already exists.",
                        )
                    numbers.add(found.number)
                    entries.append(found)
        return NetworkAcl(name, tuple(entries))

    def _acl_entry(self, item: object, egress: bool) -> AclEntry:
        """``{rule: 100, protocol: tcp, ports: 443, source: 0.0.0.0/0, action: allow}``: the
        peer is ``source`` inbound, ``destination`` outbound; ``icmp: TYPE:CODE`` for ICMP."""
        r = self.r
        peer = "destination" if egress else "source"
        spec = r.mapping(
            item,
            "a network ACL entry",
            {"rule", "protocol", "ports", "port", "icmp", peer, "action"},
            {"rule", peer, "action"},
        )
        number = spec["rule"]
        if isinstance(number, bool) or not isinstance(number, int):
            r.fail(f"'rule' must be a number 1-{MAX_RULE_NUMBER}, not {number!r}")
        action = str(spec["action"]).lower()
        if action not in ("allow", "deny"):
            r.fail(f"'action' must be allow or deny, not {spec['action']!r}")
        with r.at(peer):
            cidr = rulebook.parse_cidr(r.string(spec[peer], peer), platforms.VPC)
        written = spec.get("protocol", "-1")
        protocol = rulebook.parse_protocol(r.string(str(written), "protocol"), platforms.VPC)
        number_of = protocol_number(protocol)
        ports_given = spec.get("ports", spec.get("port"))
        icmp_given = spec.get("icmp")
        if ports_given is not None and number_of not in (6, 17):
            r.fail(f"protocol {written} takes no 'ports' (only tcp and udp entries do)")
        typed = number_of == 1 or (number_of == 58 and cidr.version == 6)
        if icmp_given is not None and not typed:
            r.fail(f"protocol {written} takes no 'icmp' (only icmp and icmpv6 entries do)")
        ports = None if ports_given is None else rulebook.parse_port_range(ports_given)
        icmp = None if icmp_given is None else rulebook.parse_icmp(icmp_given)
        return rulebook.acl_entry(
            number, egress, action=action, protocol=protocol, cidr=cidr, ports=ports, icmp=icmp
        )

    def _subnet(
        self,
        item: object,
        *,
        vpc: str,
        cidr: IPv4Network,
        block6: IPv6Network | None,
        number: int,
        others: list[Subnet],
        acls: dict[str, NetworkAcl],
        tables: dict[str, RouteTable],
    ) -> Subnet:
        r = self.r
        spec = r.mapping(
            item,
            "a subnet",
            {"name", "cidr", "public", "network_acl", "route_table"},
            {"name", "cidr"},
        )
        name = r.name(spec["name"], "subnet name")
        known = {s.name for v in self.vpcs.values() for s in v.subnets}
        if name in known or any(s.name == name for s in others):
            r.fail(f"subnet name '{name}' is used twice")
        with r.at("cidr"):
            net = self._v4_block(spec["cidr"], "subnet CIDR", 16, 28)
        if not net.subnet_of(cidr):
            raise Ec2Error(
                "InvalidSubnet.Range", f"The CIDR '{net}' is invalid for VPC '{vpc}' ({cidr})"
            )
        for other in others:
            if net.overlaps(other.cidr):
                raise Ec2Error(
                    "InvalidSubnet.Conflict",
                    f"The CIDR '{net}' conflicts with subnet '{other.name}' ({other.cidr})",
                )
        public = spec.get("public", False)
        if not isinstance(public, bool):
            r.fail("'public' must be true or false")
        net6 = rulebook.nth(block6, 64, number) if block6 is not None else None
        acl = spec.get("network_acl", "default")
        if acl != "default" and acl not in acls:
            names = ", ".join(["default", *acls])
            r.fail(f"network_acl '{acl}' is not one of VPC '{vpc}''s (known: {names})")
        table = spec.get("route_table", "")
        if table and table not in tables:
            names = ", ".join(tables) or "none"
            r.fail(f"route_table '{table}' is not one of VPC '{vpc}''s (known: {names})")
        if table and public:
            r.fail(
                "give 'public: true' (a route to the internet gateway) or 'route_table', not both"
            )
        acl_name = "" if acl == "default" else str(acl)
        return Subnet(name, vpc, net, public, net6, acl_name, str(table))

    def _v4_block(self, value: object, what: str, widest: int, narrowest: int) -> IPv4Network:
        text = self.r.string(value, what)
        net = rulebook.parse_ipv4_cidr(text)
        if not widest <= net.prefixlen <= narrowest:
            raise Ec2Error(
                "InvalidParameterValue",
                f"{what} {text} must be between /{widest} and /{narrowest}",
            )
        return net

    def _prefix_list(self, item: object) -> PrefixList:
        r = self.r
        spec = r.mapping(item, "a prefix list", {"name", "cidrs"}, {"name", "cidrs"})
        name = r.name(spec["name"], "prefix list name")
        if name in self.prefix_lists:
            r.fail(f"prefix list '{name}' is declared twice")
        cidrs = tuple(
            rulebook.parse_cidr(r.string(entry, "a CIDR"), platforms.VPC)
            for entry in r.sequence(spec["cidrs"], "cidrs")
        )
        if len({net.version for net in cidrs}) > 1:
            r.fail(f"prefix list '{name}' mixes IPv4 and IPv6 CIDRs (a list holds one family)")
        return PrefixList(name, cidrs)

    def _default_vpc(self) -> Vpc:
        """The account's default VPC, made when something needs it (as AWS has one)."""
        vpc = self.vpcs.get(platforms.DEFAULT_VPC)
        if vpc is None:
            for other in self.vpcs.values():
                if other.cidr.overlaps(platforms.DEFAULT_VPC_CIDR):
                    self.r.fail(
                        f"VPC '{other.name}' overlaps the default VPC "
                        f"({platforms.DEFAULT_VPC_CIDR}), which a group or instance without "
                        "a VPC needs"
                    )
            subnet = Subnet(DEFAULT_SUBNET, platforms.DEFAULT_VPC, DEFAULT_SUBNET_CIDR, True)
            vpc = Vpc(
                platforms.DEFAULT_VPC, platforms.DEFAULT_VPC_CIDR, None, (subnet,), default=True
            )
            self.vpcs[vpc.name] = vpc
            self._ensure_default_group(self.account, vpc.name)
        return vpc

    # -- groups and rules ------------------------------------------------------------------

    def _ensure_default_group(self, account: str, vpc: str) -> GroupKey:
        key = GroupKey(account, platforms.DEFAULT_GROUP, vpc)
        if key not in self.groups:
            ipv6 = self.vpcs[vpc].ipv6 is not None
            self.groups[key] = rulebook.default_group(account, vpc, ipv6)
        return key

    def _groups(self, items: list[Any]) -> None:
        for vpc in list(self.vpcs):
            self._ensure_default_group(self.account, vpc)
        shape = GroupFile(
            frozenset({"name", "description", "account", "vpc", "ingress", "egress", "rules"})
            | {"default_rules"},
            (("ingress", False), ("egress", True)),
            self._vpc_of,
            self._ensure_default,
            lambda vpc: self.vpcs[vpc].ipv6 is not None,
            (("rules", "a VPC group has 'ingress' and 'egress', not 'rules'"),),
        )
        resolve = Resolve(self._peer_group, self._known_prefix_list)
        read_groups(
            self.r, items, account=self.account, groups=self.groups, shape=shape, resolve=resolve
        )

    def _ensure_default(self, account: str, vpc: str) -> None:
        self._ensure_default_group(account, vpc)

    def _vpc_of(self, spec: dict[str, Any]) -> str:
        """A group entry's VPC: the one it names, else the default VPC."""
        if "vpc" not in spec:
            return self._default_vpc().name
        vpc = self.r.string(spec["vpc"], "vpc")
        if vpc not in self.vpcs:
            raise Ec2Error("InvalidVpcID.NotFound", f"The vpc ID '{vpc}' does not exist")
        return vpc

    def _peer_group(self, account: str | None, name: str, owner: GroupKey, text: str) -> GroupKey:
        """A group named in a rule: in the rule's group's VPC (another account's default
        group is made on demand, as AWS has one in every account's VPC); ``VPC/GROUP``
        names a group of a VPC peered with the rule's."""
        vpc = owner.vpc
        where, _, rest = name.partition("/")
        if rest and where in self.vpcs:
            peered = any({a, b} == {where, vpc} for a, b, _ in self.peering_names.values())
            if not peered:
                raise Ec2Error(
                    "InvalidGroup.NotFound",
                    f"The security group '{text}' is in VPC '{where}', which is not peered "
                    f"with VPC '{vpc}' (a rule names another VPC's group across a peering)",
                )
            vpc, name = where, rest
        key = GroupKey(account or owner.account, name, vpc)
        if key.name == platforms.DEFAULT_GROUP:
            self._ensure_default_group(key.account, key.vpc)
        if key not in self.groups:
            raise Ec2Error(
                "InvalidGroup.NotFound",
                f"The security group '{text}' does not exist in VPC '{owner.vpc}'",
            )
        return key

    def _known_prefix_list(self, name: str) -> str:
        if name not in self.prefix_lists:
            raise Ec2Error(
                "InvalidPrefixListID.NotFound", f"The prefix list '{name}' does not exist"
            )
        return name

    # -- hosts and instances ---------------------------------------------------------------

    def _outside(self, address: IPv4Address, address6: IPv6Address | None) -> None:
        """An outside host's addresses: outside every VPC and the lab's public addresses."""
        for vpc in self.vpcs.values():
            if address in vpc.cidr or address in PUBLIC_POOL:
                self.r.fail(
                    f"host address {address} is inside VPC '{vpc.name}' or the lab's "
                    f"public addresses ({PUBLIC_POOL}): outside hosts live outside"
                )
            if address6 is not None and vpc.ipv6 is not None and address6 in vpc.ipv6:
                self.r.fail(f"host address6 {address6} is inside VPC '{vpc.name}'")

    def _instances(self, items: list[Any], hosts: list[Host]) -> list[Instance]:
        """Each instance by its interfaces: one in the subnet the entry names (the default
        VPC's first without one), or those of its ``interfaces``, all in one VPC."""
        r = self.r
        instances: list[Instance] = []

        def place(entry: Entry) -> None:
            spec = entry.spec
            if "interfaces" in spec:
                extra = sorted({"subnet", "groups", "public_ip", "address"} & set(spec))
                if extra:
                    r.fail(f"give '{extra[0]}' inside 'interfaces', not beside it")
                nic_specs = [
                    r.mapping(nic, "an interface", {"subnet", "groups", "public_ip"}, set())
                    for nic in r.sequence(spec["interfaces"], "interfaces")
                ]
                if not nic_specs:
                    r.fail("'interfaces' needs at least one interface")
            else:
                nic_specs = [spec]
            for node_name in entry.names:
                nics = tuple(
                    self._interface(nic, entry.owner, number, spec.get("address"))
                    for number, nic in enumerate(nic_specs)
                )
                vpcs = {self._subnet_named(nic.subnet).vpc for nic in nics}
                if len(vpcs) > 1:
                    r.fail(f"the interfaces of an instance are in one VPC, not {sorted(vpcs)}")
                instances.append(
                    Instance(
                        node_name,
                        entry.owner,
                        nics[0].groups,
                        nics[0].address,
                        entry.listen,
                        entry.image,
                        entry.command,
                        interfaces=nics,
                    )
                )

        names = {host.name for host in hosts}
        read_instances(self.r, items, self.account, names, place, keys=INSTANCE_KEYS)
        return instances

    def _subnet_named(self, name: str) -> Subnet:
        for vpc in self.vpcs.values():
            for subnet in vpc.subnets:
                if subnet.name == name:
                    return subnet
        raise Ec2Error("InvalidSubnetID.NotFound", f"The subnet ID '{name}' does not exist")

    def _interface(
        self, spec: LineDict, owner: str, number: int, fixed: object | None
    ) -> Interface:
        r = self.r
        if "subnet" in spec:
            subnet = self._subnet_named(r.string(spec["subnet"], "subnet"))
        else:
            subnet = self._default_vpc().subnets[0]

        def key_of(text: str) -> GroupKey:
            key = GroupKey(owner, text, subnet.vpc)
            if key.name == platforms.DEFAULT_GROUP:
                self._ensure_default_group(owner, subnet.vpc)
            if key not in self.groups:
                elsewhere = [k.vpc for k in self.groups if k.account == owner and k.name == text]
                if elsewhere:
                    raise Ec2Error(
                        "InvalidParameter",
                        f"Security group '{text}' (VPC '{elsewhere[0]}') and subnet "
                        f"'{subnet.name}' (VPC '{subnet.vpc}') belong to different networks.",
                    )
                raise rulebook.group_not_found(text)
            return key

        keys = group_refs(r, spec.get("groups"), key_of)
        if not keys:
            keys.append(self._ensure_default_group(owner, subnet.vpc))
        rulebook.check_interface_groups(len(keys))
        address = self._allocate(subnet, fixed if number == 0 else None)
        public = None
        want_public = spec.get("public_ip", False)
        if want_public is not False:
            if not self.vpcs[subnet.vpc].online(subnet, 4):
                r.fail(
                    f"a public address needs a public subnet: '{subnet.name}' has no route to "
                    "the internet gateway"
                )
            if want_public is True:
                public = self._next_public()
            else:
                public = r.address(want_public, "public_ip")
                if public not in PUBLIC_POOL or public in self.public_taken:
                    r.fail(f"public_ip {public} is taken or outside {PUBLIC_POOL}")
                self.public_taken.add(public)
        ipv6 = None
        if subnet.ipv6 is not None:
            ipv6 = rulebook.ipv6_of(address, subnet.cidr, subnet.ipv6)
        return Interface(subnet.name, address, tuple(keys), public, ipv6)

    def _allocate(self, subnet: Subnet, fixed: object | None) -> IPv4Address:
        r = self.r
        if fixed is not None:
            address = r.address(fixed, "address")
            if address not in subnet.cidr:
                raise Ec2Error(
                    "InvalidParameterValue",
                    f"Address {address} does not fall within the subnet's address range "
                    f"({subnet.name}, {subnet.cidr})",
                )
            if address in self.taken:
                r.fail(f"address {address} is already used by another node")
            if int(address) - int(subnet.cidr.network_address) < 4:
                r.fail(f"address {address} is one of the four AWS reserves in {subnet.cidr}")
            self.taken.add(address)
            return address
        found = rulebook.free_address(self.taken, subnet.cidr)
        if found is None:
            r.fail(f"subnet {subnet.name} ({subnet.cidr}) has no address left")
        self.taken.add(found)
        return found

    def _next_public(self) -> IPv4Address:
        found = rulebook.free_address(self.public_taken)
        if found is None:
            self.r.fail(f"the lab's public addresses ({PUBLIC_POOL}) are used up")
        self.public_taken.add(found)
        return found
