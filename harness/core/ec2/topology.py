"""The state as the data plane's topology (what the oracle and the compiler read), and a
topology as a state (its names kept as ids): one the inverse of the other.
"""

from __future__ import annotations

from ipaddress import IPv4Network, IPv6Network

from harness.core.ec2.images import image_of, listen_of
from harness.core.ec2.routing import acls_of, gateways_of, tables_of, touched
from harness.core.ec2.state import (
    VPC,
    AclRecord,
    AddressRecord,
    Cloud,
    GatewayRecord,
    InstanceRecord,
    NatRecord,
    NicRecord,
    PeeringRecord,
    PrefixListRecord,
    RouteRecord,
    RouteTableRecord,
    SubnetRecord,
    VpcRecord,
    stable_id,
)
from harness.core.model import (
    DEFAULT_ACCOUNT,
    ElasticIp,
    Instance,
    Interface,
    NatGateway,
    Peering,
    PrefixList,
    Subnet,
    Topology,
    Vpc,
)
from harness.core.vpc_path import (
    EGRESS_ONLY_INTERNET_GATEWAY,
    INTERNET_GATEWAY,
    NetworkAcl,
    Route,
    RouteTable,
)

# -- the lab's topology -------------------------------------------------------------------------


def topology(cloud: Cloud, lab: str, home_account: str | None = None) -> Topology:
    """What the oracle and the compiler need: every group, the active instances, the hosts.

    An EC2-Classic lab's data plane holds its Classic groups and instances; a VPC lab's holds
    its VPCs and subnets, its VPC groups, its instances with their interfaces, and the prefix
    lists its rules name."""
    accounts = cloud.accounts
    home = home_account or (
        DEFAULT_ACCOUNT if DEFAULT_ACCOUNT in accounts or not accounts else accounts[0]
    )
    if cloud.platform == VPC:
        return _vpc_topology(cloud, lab, home)
    instances = tuple(
        Instance(
            r.instance_id,
            r.owner,
            r.groups,
            r.address,
            listen_of(cloud, r),
            label=_label(cloud, r),
        )
        for r in cloud.active_instances()
    )
    return Topology(
        name=lab,
        account=home,
        groups=tuple(g for g in cloud.groups if g.vpc is None),
        instances=instances,
        hosts=cloud.hosts,
        subnet=cloud.subnet,
        source=f"lab {lab}",
    )


def _label(cloud: Cloud, record: InstanceRecord) -> str:
    """An instance's Name tag, else what its AMI stands for (``web server``)."""
    for tag in cloud.tags:
        if tag.resource == record.instance_id and tag.key == "Name" and tag.value:
            return tag.value
    return image_of(cloud, record.image_id).role


def _elastic(cloud: Cloud) -> dict[str, AddressRecord]:
    """Each Elastic IP by what holds it (a network interface's or a NAT gateway's id)."""
    return {a.eni_id or a.nat_id: a for a in cloud.addresses if a.eni_id or a.nat_id}


def _vpc_of(cloud: Cloud, vpc: VpcRecord, held: dict[str, AddressRecord]) -> Vpc:
    """A VPC as the data plane reads it: with the lab's shortcut until its path is given
    through the API (:func:`~harness.core.ec2.routing.touched`), else with its route tables,
    gateways, NAT gateways and network ACLs as the state holds them."""
    subnets = [s for s in cloud.subnets if s.vpc_id == vpc.vpc_id]
    if not touched(cloud, vpc.vpc_id):
        public = {n.subnet_id for n in cloud.nics if n.public is not None or n.eni_id in held}
        public |= {s.subnet_id for s in subnets if s.default or s.map_public}
        return Vpc(
            vpc.vpc_id,
            vpc.cidr,
            vpc.ipv6,
            tuple(
                Subnet(s.subnet_id, s.vpc_id, s.cidr, s.subnet_id in public, s.ipv6)
                for s in subnets
            ),
            vpc.default,
        )
    gateways = [g for g in gateways_of(cloud, vpc.owner) if g.vpc_id == vpc.vpc_id]
    igw = {g.gateway_id for g in gateways if not g.egress_only}
    eigw = {g.gateway_id for g in gateways if g.egress_only}
    nats = {n.nat_id: n for n in cloud.nat_gateways if n.vpc_id == vpc.vpc_id}
    active = {p.pcx_id for p in cloud.peerings if p.status == "active"}

    lists = {p.list_id: p for p in cloud.prefix_lists}

    def routes(record: RouteRecord) -> list[Route]:
        """A route as the data plane reads it (a route to a prefix list: one per entry)."""
        target, blackhole = record.target, False
        if target in igw:
            target = INTERNET_GATEWAY
        elif target in eigw:
            target = EGRESS_ONLY_INTERNET_GATEWAY
        elif not ((target in nats and nats[target].state == "available") or target in active):
            blackhole = True
        if record.destination is not None:
            return [Route(record.destination, target, blackhole)]
        listed = lists.get(record.prefix_list)
        entries = [net for net, _ in listed.entries] if listed is not None else []
        return [Route(net, target, blackhole, record.prefix_list) for net in entries]

    tables = tables_of(cloud, vpc)
    acls = acls_of(cloud, vpc)
    allowing = NetworkAcl.allowing_all("default", vpc.ipv6 is not None).entries
    custom = [a for a in acls if not (a.default and a.entries == allowing)]

    def acl_of(subnet: str) -> str:
        chosen = next((a for a in acls if subnet in a.subnets), acls[0])
        return chosen.acl_id if chosen in custom else ""

    return Vpc(
        vpc.vpc_id,
        vpc.cidr,
        vpc.ipv6,
        tuple(
            Subnet(
                s.subnet_id,
                s.vpc_id,
                s.cidr,
                False,
                s.ipv6,
                acl_of(s.subnet_id),
                next((t.table_id for t in tables if s.subnet_id in t.subnets), ""),
            )
            for s in subnets
        ),
        vpc.default,
        network_acls=tuple(NetworkAcl(a.acl_id, a.entries) for a in custom),
        route_tables=tuple(
            RouteTable(t.table_id, tuple(r for record in t.routes for r in routes(record)))
            for t in tables
        ),
        main_route_table=tables[0].table_id,
        internet_gateway=bool(igw),
        egress_only_internet_gateway=bool(eigw),
        nat_gateways=tuple(
            NatGateway(
                f"_nat-{n.nat_id}",
                n.nat_id,
                n.vpc_id,
                n.subnet_id,
                n.address,
                held[n.nat_id].public if n.nat_id in held else None,
            )
            for n in nats.values()
            if n.state == "available"
        ),
    )


def _vpc_topology(cloud: Cloud, lab: str, home: str) -> Topology:
    held = _elastic(cloud)
    vpcs = tuple(_vpc_of(cloud, vpc, held) for vpc in cloud.vpcs)
    nics: dict[str, list[NicRecord]] = {}
    for nic in sorted(cloud.nics, key=lambda n: n.device_index):
        nics.setdefault(nic.instance_id, []).append(nic)
    instances = []
    for record in cloud.active_instances():
        interfaces = tuple(
            Interface(
                n.subnet_id,
                n.address,
                n.groups,
                held[n.eni_id].public if n.eni_id in held else n.public,
                n.ipv6,
            )
            for n in nics.get(record.instance_id, [])
        )
        if not interfaces:
            continue  # a Classic instance left from before the lab's platform changed
        first = interfaces[0]
        instances.append(
            Instance(
                record.instance_id,
                record.owner,
                first.groups,
                first.address,
                listen_of(cloud, record),
                interfaces=interfaces,
                label=_label(cloud, record),
            )
        )
    groups = tuple(g for g in cloud.groups if g.vpc is not None)
    named = {r.prefix_list for g in groups for r in g.all_rules if r.prefix_list}
    plists = tuple(
        PrefixList(p.list_id, tuple(net for net, _ in p.entries))
        for p in cloud.prefix_lists
        if p.list_id in named
    )
    return Topology(
        name=lab,
        account=home,
        groups=groups,
        instances=tuple(instances),
        hosts=cloud.hosts,
        source=f"lab {lab}",
        vpcs=vpcs,
        prefix_lists=plists,
        peerings=tuple(
            Peering(p.pcx_id, (p.requester, p.accepter))
            for p in cloud.peerings
            if p.status == "active"
        ),
        elastic_ips=tuple(
            ElasticIp(
                a.allocation_id,
                a.public,
                next((n.instance_id for n in cloud.nics if n.eni_id == a.eni_id), ""),
                next((n.device_index for n in cloud.nics if n.eni_id == a.eni_id), 0),
                a.nat_id,
            )
            for a in cloud.addresses
        ),
    )


# -- a topology as a state ----------------------------------------------------------------------

TOPOLOGY_AMI = "ami-00000000"  # what a topology's own instances stand for in a state


def state_of(topology: Topology) -> Cloud:
    """The control plane's state of a topology, the inverse of :func:`topology`: its groups,
    instances, hosts and (VPC) its VPCs, subnets, interfaces and prefix lists, each keeping
    the topology's name as its id, so a change made by an action projects back onto the same
    names. Instances serve what the topology says they serve."""
    records = tuple(
        InstanceRecord(
            instance.name,
            "r-topology",
            instance.account,
            TOPOLOGY_AMI,
            instance.groups,
            instance.address,
            index,
            "",
            subnet_id=instance.interfaces[0].subnet if instance.interfaces else "",
            listen=instance.listen,
        )
        for index, instance in enumerate(topology.instances)
    )
    if not topology.is_vpc:
        return Cloud(topology.groups, records, topology.hosts, topology.subnet)
    owner = topology.account
    vpcs = tuple(VpcRecord(v.name, owner, v.cidr, v.ipv6, default=v.default) for v in topology.vpcs)
    path = _path_records(topology)
    subnets = tuple(
        SubnetRecord(s.name, v.name, owner, s.cidr, s.ipv6, map_public=s.public)
        for v in topology.vpcs
        for s in v.subnets
    )
    elastic = {(e.instance, e.interface) for e in topology.elastic_ips if e.instance}
    nics = tuple(
        NicRecord(
            stable_id("eni-", instance.name, str(index)),
            instance.account,
            nic.subnet,
            nic.address,
            nic.groups,
            None if (instance.name, index) in elastic else nic.public,
            nic.ipv6,
            instance.name,
            index,
        )
        for instance in topology.instances
        for index, nic in enumerate(instance.interfaces)
    )
    addresses = list(path.addresses)  # the NAT gateways' Elastic IPs
    for eip in topology.elastic_ips:
        if eip.nat_gateway:
            continue  # made with its NAT gateway
        eni = stable_id("eni-", eip.instance, str(eip.interface)) if eip.instance else ""
        addresses.append(AddressRecord(eip.allocation_id, owner, eip.address, eni))

    plists = tuple(
        PrefixListRecord(
            p.name,
            owner,
            p.name,
            "IPv6" if p.cidrs and p.cidrs[0].version == 6 else "IPv4",
            max(len(p.cidrs), 1),
            tuple((net, "") for net in p.cidrs),
        )
        for p in topology.prefix_lists
    )
    return Cloud(
        topology.groups,
        records,
        topology.hosts,
        topology.subnet,
        platform=VPC,
        vpcs=vpcs,
        subnets=subnets,
        nics=nics,
        prefix_lists=plists,
        route_tables=path.route_tables,
        gateways=path.gateways,
        nat_gateways=path.nat_gateways,
        addresses=tuple(addresses),
        network_acls=path.network_acls,
        peerings=tuple(
            PeeringRecord(p.name, owner, p.vpcs[0], p.vpcs[1], "active") for p in topology.peerings
        ),
    )


def _path_records(topology: Topology) -> Cloud:
    """The route tables, gateways, NAT gateways (with their Elastic IPs) and network ACLs of
    a topology's VPCs whose path the file gives (the others keep the lab's shortcut), named
    as the file names them."""
    owner = topology.account
    tables: list[RouteTableRecord] = []
    gateways: list[GatewayRecord] = []
    nats: list[NatRecord] = []
    addresses: list[AddressRecord] = []
    acls: list[AclRecord] = []
    peered = {vpc for p in topology.peerings for vpc in p.vpcs}
    nat_eips = {e.nat_gateway: e.allocation_id for e in topology.elastic_ips if e.nat_gateway}
    for vpc in topology.vpcs:
        if not (
            vpc.route_tables
            or vpc.network_acls
            or vpc.nat_gateways
            or vpc.internet_gateway
            or vpc.egress_only_internet_gateway
            or vpc.name in peered
        ):
            continue
        igw, eigw = stable_id("igw-", vpc.name), stable_id("eigw-", vpc.name)
        if vpc.has_internet_gateway:
            gateways.append(GatewayRecord(igw, owner, vpc_id=vpc.name))
        if vpc.egress_only_internet_gateway:
            gateways.append(GatewayRecord(eigw, owner, True, vpc.name))
        names = {INTERNET_GATEWAY: igw, EGRESS_ONLY_INTERNET_GATEWAY: eigw}
        given = list(vpc.route_tables)
        public = [s.name for s in vpc.subnets if s.public and not s.route_table]
        if public:
            given.append(
                RouteTable(
                    stable_id("rtb-", vpc.name, "public"),
                    (
                        Route(IPv4Network("0.0.0.0/0"), INTERNET_GATEWAY),
                        Route(IPv6Network("::/0"), INTERNET_GATEWAY),
                    ),
                )
            )
        for table in given:
            members = [s.name for s in vpc.subnets if s.route_table == table.name]
            if table.name == stable_id("rtb-", vpc.name, "public"):
                members = public
            tables.append(
                RouteTableRecord(
                    table.name,
                    vpc.name,
                    owner,
                    table.name == vpc.main_route_table,
                    tuple(
                        dict.fromkeys(  # a prefix list's entries: one route to the list
                            RouteRecord(
                                None if r.prefix_list else r.destination,
                                names.get(r.target, r.target),
                                r.prefix_list,
                            )
                            for r in table.routes
                        )
                    ),
                    tuple(members),
                )
            )
        for acl in vpc.network_acls:
            members = [s.name for s in vpc.subnets if s.network_acl == acl.name]
            acls.append(
                AclRecord(acl.name, vpc.name, owner, entries=acl.entries, subnets=tuple(members))
            )
        for nat in vpc.nat_gateways:
            allocation = ""
            if nat.public is not None:
                allocation = nat_eips.get(nat.label, stable_id("eipalloc-", nat.label))
                addresses.append(AddressRecord(allocation, owner, nat.public, nat_id=nat.label))
            nats.append(NatRecord(nat.label, owner, vpc.name, nat.subnet, nat.address, allocation))
    return Cloud(
        route_tables=tuple(tables),
        gateways=tuple(gateways),
        nat_gateways=tuple(nats),
        addresses=tuple(addresses),
        network_acls=tuple(acls),
    )
