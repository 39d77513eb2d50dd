"""The VPC path's resources: route tables and their routes and associations, internet
gateways and egress-only ones, NAT gateways, Elastic IPs, network ACLs and their entries,
peering connections. AWS's rules and error codes for each (``vpc-path.md``).

A VPC has a main route table and a default network ACL from its creation. The state holds
them once they are changed; until then they are what AWS makes (:func:`tables_of`,
:func:`acls_of`): the main table with the local routes only (the default VPC's also sends
0.0.0.0/0 to its internet gateway), the default ACL allowing everything each way.
"""

from __future__ import annotations

from dataclasses import replace
from ipaddress import IPv4Address, IPv4Network

from harness.core.ec2 import platform as platforms
from harness.core.ec2 import rules as rulebook
from harness.core.ec2.network import (
    find_nic,
    find_subnet,
    find_vpc,
    free_address_in,
    free_public,
    held_addresses,
    held_public,
)
from harness.core.ec2.prefix_lists import find_prefix_list
from harness.core.ec2.state import (
    AclRecord,
    AddressRecord,
    Cloud,
    GatewayRecord,
    NatRecord,
    NewId,
    PeeringRecord,
    RouteRecord,
    RouteTableRecord,
    VpcRecord,
    fresh_id,
    missing_id,
    stable_id,
    untagged,
    with_account,
)
from harness.core.model import Network
from harness.core.vpc_path import AclEntry, NetworkAcl
from harness.errors import Ec2Error

MAX_ROUTES = 50  # routes per route table (AWS's default quota)
MAX_ENTRIES = 20  # entries per network ACL and direction (AWS's default quota)
MAX_ADDRESSES = 5  # Elastic IPs per region (AWS's default quota)

# -- the implicit ones -------------------------------------------------------------------------


def main_table_id(vpc_id: str) -> str:
    return stable_id("rtb-", vpc_id, "main")


def default_acl_id(vpc_id: str) -> str:
    return stable_id("acl-", vpc_id, "default")


def default_gateway_id(vpc_id: str) -> str:
    return stable_id("igw-", vpc_id, "default")


def tables_of(cloud: Cloud, vpc: VpcRecord) -> list[RouteTableRecord]:
    """A VPC's route tables, its main one first (as AWS made it, until changed)."""
    held = [t for t in cloud.route_tables if t.vpc_id == vpc.vpc_id]
    if not any(t.main for t in held):
        routes: tuple[RouteRecord, ...] = ()
        if vpc.default:
            routes = (RouteRecord(IPv4Network("0.0.0.0/0"), default_gateway_id(vpc.vpc_id)),)
        held.insert(
            0, RouteTableRecord(main_table_id(vpc.vpc_id), vpc.vpc_id, vpc.owner, True, routes)
        )
    return sorted(held, key=lambda t: not t.main)


def gateways_of(cloud: Cloud, account: str) -> list[GatewayRecord]:
    """An account's internet gateways and egress-only ones; its default VPC's as AWS made
    it, until changed."""
    held = [g for g in cloud.gateways if g.owner == account]
    known = {g.gateway_id for g in cloud.gateways}  # a default one deleted leaves its id
    for vpc in cloud.vpcs:
        ident = default_gateway_id(vpc.vpc_id)
        if vpc.owner == account and vpc.default and ident not in known:
            held.insert(0, GatewayRecord(ident, account, vpc_id=vpc.vpc_id))
    return held


def acls_of(cloud: Cloud, vpc: VpcRecord) -> list[AclRecord]:
    """A VPC's network ACLs, its default one first (allowing everything, until changed)."""
    held = [a for a in cloud.network_acls if a.vpc_id == vpc.vpc_id]
    if not any(a.default for a in held):
        entries = NetworkAcl.allowing_all("default", vpc.ipv6 is not None).entries
        held.insert(0, AclRecord(default_acl_id(vpc.vpc_id), vpc.vpc_id, vpc.owner, True, entries))
    return sorted(held, key=lambda a: not a.default)


def touched(cloud: Cloud, vpc_id: str) -> bool:
    """Whether a VPC's path was given through the API (a route table, a gateway, a NAT
    gateway, a network ACL or a peering of its own). Until it is, the lab keeps its shortcut:
    a subnet with MapPublicIpOnLaunch or an instance with a public address is routed to an
    internet gateway."""
    return (
        any(t.vpc_id == vpc_id for t in cloud.route_tables)
        or any(g.vpc_id == vpc_id for g in cloud.gateways)
        or any(n.vpc_id == vpc_id for n in cloud.nat_gateways)
        or any(a.vpc_id == vpc_id for a in cloud.network_acls)
        or any(vpc_id in (p.requester, p.accepter) for p in cloud.peerings)
    )


def _put_table(cloud: Cloud, table: RouteTableRecord) -> Cloud:
    held = tuple(t for t in cloud.route_tables if t.table_id != table.table_id)
    return replace(cloud, route_tables=(*held, table))


def _put_acl(cloud: Cloud, acl: AclRecord) -> Cloud:
    held = tuple(a for a in cloud.network_acls if a.acl_id != acl.acl_id)
    return replace(cloud, network_acls=(*held, acl))


def _put_gateway(cloud: Cloud, gateway: GatewayRecord) -> Cloud:
    held = tuple(g for g in cloud.gateways if g.gateway_id != gateway.gateway_id)
    return replace(cloud, gateways=(*held, gateway))


# -- route tables ------------------------------------------------------------------------------


def find_table(cloud: Cloud, account: str, table_id: str) -> RouteTableRecord:
    for vpc in cloud.vpcs:
        if vpc.owner == account:
            for table in tables_of(cloud, vpc):
                if table.table_id == table_id:
                    return table
    raise missing_id(table_id, "rtb-", "InvalidRouteTableID", "route table")


def all_tables(cloud: Cloud, account: str) -> list[RouteTableRecord]:
    return [t for v in cloud.vpcs if v.owner == account for t in tables_of(cloud, v)]


def create_route_table(
    cloud: Cloud, account: str, vpc_id: str, new_id: NewId
) -> tuple[Cloud, RouteTableRecord]:
    cloud = with_account(cloud, account)
    vpc = find_vpc(cloud, account, vpc_id)
    taken = (t.table_id for t in all_tables(cloud, account))
    table = RouteTableRecord(fresh_id(new_id, "rtb-", taken), vpc.vpc_id, account)
    return _put_table(cloud, table), table


def delete_route_table(cloud: Cloud, account: str, table_id: str) -> Cloud:
    cloud = with_account(cloud, account)
    table = find_table(cloud, account, table_id)
    if table.main or table.subnets:
        raise Ec2Error(
            "DependencyViolation",
            f"The routeTable '{table_id}' has dependencies and cannot be deleted.",
        )
    held = tuple(t for t in cloud.route_tables if t.table_id != table_id)
    return replace(cloud, route_tables=held, tags=untagged(cloud, table_id))


def target_of(cloud: Cloud, account: str, vpc_id: str, target: str) -> str:
    """A route's target, checked: a gateway attached to the VPC, one of its NAT gateways, or
    one of its peering connections."""
    if target.startswith(("igw-", "eigw-")) or target in {g.gateway_id for g in cloud.gateways}:
        for gateway in gateways_of(cloud, account):
            if gateway.gateway_id == target:
                if gateway.vpc_id != vpc_id:
                    raise Ec2Error(
                        "InvalidParameterValue",
                        f"route table and network gateway '{target}' belong to different networks",
                    )
                return target
        raise missing_id(target, "igw-", "InvalidInternetGatewayID", "internet gateway")
    for nat in cloud.nat_gateways:
        if nat.nat_id == target and nat.owner == account:
            if nat.vpc_id != vpc_id:
                raise Ec2Error(
                    "InvalidParameterValue",
                    f"route table and NAT gateway '{target}' belong to different networks",
                )
            return target
    for peering in cloud.peerings:
        if peering.pcx_id == target:
            if vpc_id not in (peering.requester, peering.accepter):
                raise Ec2Error(
                    "InvalidParameterValue",
                    f"route table and peering connection '{target}' belong to different networks",
                )
            return target
    if target.startswith("nat-"):
        raise missing_id(target, "nat-", "NatGatewayNotFound", "NAT gateway")
    raise missing_id(target, "pcx-", "InvalidVpcPeeringConnectionID", "peering connection")


def _destination(vpc: VpcRecord, text: str) -> Network:
    net = rulebook.parse_cidr(text, platforms.VPC)
    for local in (vpc.cidr, vpc.ipv6):
        if local is not None and local.version == net.version and net.subnet_of(local):  # type: ignore[arg-type]
            raise Ec2Error(
                "InvalidParameterValue",
                f"The destination CIDR block {text} is equal to or more specific than one of "
                f"this VPC's CIDR blocks ({local}).",
            )
    return net


def _check_family(cloud: Cloud, net: Network, target: str) -> None:
    egress_only = any(g.gateway_id == target and g.egress_only for g in cloud.gateways)
    if egress_only and net.version != 6:
        raise Ec2Error(
            "InvalidParameterValue",
            f"An egress-only internet gateway takes IPv6 destinations, not {net}",
        )
    if target.startswith("nat-") and net.version != 4:
        raise Ec2Error("InvalidParameterValue", f"A NAT gateway takes IPv4 destinations, not {net}")


def _route_record(
    cloud: Cloud, account: str, vpc: VpcRecord, destination: str, target: str
) -> RouteRecord:
    """A route's destination (a CIDR, or a prefix list by its id: each of its entries) and
    target, checked as AWS checks them."""
    target = target_of(cloud, account, vpc.vpc_id, target)
    if destination.startswith("pl-") or any(p.list_id == destination for p in cloud.prefix_lists):
        listed = find_prefix_list(cloud, account, destination)
        for net, _ in listed.entries:
            _check_family(cloud, net, target)
            _destination(vpc, str(net))
        return RouteRecord(None, target, listed.list_id)
    net = _destination(vpc, destination)
    _check_family(cloud, net, target)
    return RouteRecord(net, target)


def create_route(
    cloud: Cloud, account: str, table_id: str, destination: str, target: str, *, replace_it: bool
) -> Cloud:
    """CreateRoute (``replace_it``: ReplaceRoute, whose route must exist); ``destination`` is
    a CIDR or a prefix list's id."""
    cloud = with_account(cloud, account)
    table = find_table(cloud, account, table_id)
    vpc = find_vpc(cloud, account, table.vpc_id)
    record = _route_record(cloud, account, vpc, destination, target)
    known = [r for r in table.routes if r.key == record.key]
    if replace_it and not known:
        raise Ec2Error(
            "InvalidRoute.NotFound",
            f"no route with destination {destination} in route table {table_id}",
        )
    if not replace_it and known:
        raise Ec2Error(
            "RouteAlreadyExists",
            f"The route identified by {destination} already exists.",
        )
    if not replace_it and len(table.routes) >= MAX_ROUTES:
        raise Ec2Error(
            "RouteLimitExceeded", f"The maximum number of routes ({MAX_ROUTES}) has been reached."
        )
    routes = tuple(r for r in table.routes if r.key != record.key)
    return _put_table(cloud, replace(table, routes=(*routes, record)))


def delete_route(cloud: Cloud, account: str, table_id: str, destination: str) -> Cloud:
    cloud = with_account(cloud, account)
    table = find_table(cloud, account, table_id)
    if destination.startswith("pl-"):
        key = destination
    else:
        key = str(rulebook.parse_cidr(destination, platforms.VPC))
    if not any(r.key == key for r in table.routes):
        raise Ec2Error(
            "InvalidRoute.NotFound",
            f"no route with destination {destination} in route table {table_id}",
        )
    routes = tuple(r for r in table.routes if r.key != key)
    return _put_table(cloud, replace(table, routes=routes))


def association_id(table: RouteTableRecord, subnet_id: str) -> str:
    return stable_id("rtbassoc-", table.table_id, subnet_id)


def main_association_id(table: RouteTableRecord) -> str:
    return stable_id("rtbassoc-", table.table_id, "main")


def associate_route_table(
    cloud: Cloud, account: str, table_id: str, subnet_id: str
) -> tuple[Cloud, str]:
    cloud = with_account(cloud, account)
    table = find_table(cloud, account, table_id)
    subnet = find_subnet(cloud, account, subnet_id)
    if subnet.vpc_id != table.vpc_id:
        raise Ec2Error(
            "InvalidParameterValue",
            f"route table {table_id} and subnet {subnet_id} belong to different networks",
        )
    for other in all_tables(cloud, account):
        if subnet_id in other.subnets:
            raise Ec2Error(
                "Resource.AlreadyAssociated",
                f"the specified association for route table {other.table_id} conflicts with "
                f"an existing association",
            )
    cloud = _put_table(cloud, replace(table, subnets=(*table.subnets, subnet_id)))
    return cloud, association_id(table, subnet_id)


def find_association(cloud: Cloud, account: str, assoc: str) -> tuple[RouteTableRecord, str]:
    """The table and subnet of an association id ("" for a main association)."""
    for table in all_tables(cloud, account):
        if table.main and main_association_id(table) == assoc:
            return table, ""
        for subnet in table.subnets:
            if association_id(table, subnet) == assoc:
                return table, subnet
    raise Ec2Error("InvalidAssociationID.NotFound", f"The association ID '{assoc}' does not exist")


def disassociate_route_table(cloud: Cloud, account: str, assoc: str) -> Cloud:
    cloud = with_account(cloud, account)
    table, subnet = find_association(cloud, account, assoc)
    if not subnet:
        raise Ec2Error(
            "InvalidParameterValue", "The main route table association cannot be disassociated"
        )
    return _put_table(cloud, replace(table, subnets=tuple(s for s in table.subnets if s != subnet)))


def replace_association(cloud: Cloud, account: str, assoc: str, table_id: str) -> tuple[Cloud, str]:
    """ReplaceRouteTableAssociation: a subnet's table, or the VPC's main table."""
    cloud = with_account(cloud, account)
    old, subnet = find_association(cloud, account, assoc)
    new = find_table(cloud, account, table_id)
    if new.vpc_id != old.vpc_id:
        raise Ec2Error(
            "InvalidParameterValue",
            f"route table {table_id} and association {assoc} belong to different networks",
        )
    if subnet:
        cloud = _put_table(
            cloud, replace(old, subnets=tuple(s for s in old.subnets if s != subnet))
        )
        new = find_table(cloud, account, table_id)
        cloud = _put_table(cloud, replace(new, subnets=(*new.subnets, subnet)))
        return cloud, association_id(new, subnet)
    cloud = _put_table(cloud, replace(old, main=False))
    new = find_table(cloud, account, table_id)
    cloud = _put_table(cloud, replace(new, main=True))
    return cloud, main_association_id(new)


# -- internet gateways and egress-only ones ---------------------------------------------------


def find_gateway(cloud: Cloud, account: str, gateway_id: str, egress_only: bool) -> GatewayRecord:
    for gateway in gateways_of(cloud, account):
        if gateway.gateway_id == gateway_id and gateway.egress_only == egress_only:
            return gateway
    if egress_only:
        raise missing_id(gateway_id, "eigw-", "InvalidGatewayID", "egress-only internet gateway")
    raise missing_id(gateway_id, "igw-", "InvalidInternetGatewayID", "internet gateway")


def create_gateway(
    cloud: Cloud, account: str, new_id: NewId, *, egress_only_vpc: str = ""
) -> tuple[Cloud, GatewayRecord]:
    """CreateInternetGateway (detached), or CreateEgressOnlyInternetGateway (``egress_only_vpc``
    given: attached to it)."""
    cloud = with_account(cloud, account)
    prefix = "eigw-" if egress_only_vpc else "igw-"
    if egress_only_vpc:
        find_vpc(cloud, account, egress_only_vpc)
    taken = (g.gateway_id for g in cloud.gateways)
    gateway = GatewayRecord(
        fresh_id(new_id, prefix, taken), account, bool(egress_only_vpc), egress_only_vpc
    )
    return _put_gateway(cloud, gateway), gateway


def attach_gateway(cloud: Cloud, account: str, gateway_id: str, vpc_id: str) -> Cloud:
    cloud = with_account(cloud, account)
    gateway = find_gateway(cloud, account, gateway_id, False)
    vpc = find_vpc(cloud, account, vpc_id)
    if gateway.vpc_id:
        raise Ec2Error(
            "Resource.AlreadyAssociated",
            f"resource {gateway_id} is already attached to network {gateway.vpc_id}",
        )
    if any(g.vpc_id == vpc.vpc_id and not g.egress_only for g in gateways_of(cloud, account)):
        raise Ec2Error(
            "InvalidParameterValue",
            f"Network {vpc_id} already has an internet gateway attached",
        )
    return _put_gateway(cloud, replace(gateway, vpc_id=vpc.vpc_id))


def detach_gateway(cloud: Cloud, account: str, gateway_id: str, vpc_id: str) -> Cloud:
    cloud = with_account(cloud, account)
    gateway = find_gateway(cloud, account, gateway_id, False)
    if gateway.vpc_id != vpc_id:
        raise Ec2Error(
            "Gateway.NotAttached", f"resource {gateway_id} is not attached to network {vpc_id}"
        )
    mapped = [
        a.allocation_id
        for a in cloud.addresses
        if a.owner == account and (a.eni_id or a.nat_id) and _vpc_of_address(cloud, a) == vpc_id
    ]
    if mapped:
        raise Ec2Error(
            "DependencyViolation",
            f"Network {vpc_id} has some mapped public address(es). Please unmap those public "
            "address(es) before detaching the gateway.",
        )
    return _put_gateway(cloud, replace(gateway, vpc_id=""))


def _vpc_of_address(cloud: Cloud, address: AddressRecord) -> str:
    for nic in cloud.nics:
        if nic.eni_id == address.eni_id:
            return next((s.vpc_id for s in cloud.subnets if s.subnet_id == nic.subnet_id), "")
    for nat in cloud.nat_gateways:
        if nat.nat_id == address.nat_id:
            return nat.vpc_id
    return ""


def delete_gateway(cloud: Cloud, account: str, gateway_id: str, egress_only: bool) -> Cloud:
    cloud = with_account(cloud, account)
    gateway = find_gateway(cloud, account, gateway_id, egress_only)
    if gateway.vpc_id and not egress_only:
        raise Ec2Error(
            "DependencyViolation",
            f"The internetGateway '{gateway_id}' has dependencies and cannot be deleted.",
        )
    held = tuple(g for g in cloud.gateways if g.gateway_id != gateway_id)
    if gateway_id in {default_gateway_id(v.vpc_id) for v in cloud.vpcs}:
        held = (*held, GatewayRecord(gateway_id, ""))  # no owner: gone, not made again
    return replace(cloud, gateways=held, tags=untagged(cloud, gateway_id))


# -- Elastic IPs -------------------------------------------------------------------------------


def find_address(
    cloud: Cloud, account: str, allocation_id: str = "", public: str = ""
) -> AddressRecord:
    for address in cloud.addresses:
        if address.owner != account:
            continue
        if allocation_id and address.allocation_id == allocation_id:
            return address
        if public and str(address.public) == public:
            return address
    if allocation_id:
        raise missing_id(allocation_id, "eipalloc-", "InvalidAllocationID", "allocation")
    raise Ec2Error("InvalidAddress.NotFound", f"Address '{public}' not found.")


def allocate_address(
    cloud: Cloud, account: str, new_id: NewId, wanted: str | None = None
) -> tuple[Cloud, AddressRecord]:
    cloud = with_account(cloud, account)
    if sum(1 for a in cloud.addresses if a.owner == account) >= MAX_ADDRESSES:
        raise Ec2Error(
            "AddressLimitExceeded",
            f"The maximum number of addresses ({MAX_ADDRESSES}) has been reached.",
        )
    taken = held_public(cloud)
    if wanted:
        public = IPv4Address(wanted)
        if public not in platforms.PUBLIC_POOL or public in taken:
            raise Ec2Error(
                "InvalidParameterValue", f"Address {wanted} is taken or outside the lab's pool"
            )
    else:
        public = free_public(taken)
    ident = fresh_id(new_id, "eipalloc-", (a.allocation_id for a in cloud.addresses))
    address = AddressRecord(ident, account, public)
    return replace(cloud, addresses=(*cloud.addresses, address)), address


def _put_address(cloud: Cloud, address: AddressRecord) -> Cloud:
    held = tuple(
        address if a.allocation_id == address.allocation_id else a for a in cloud.addresses
    )
    return replace(cloud, addresses=held)


def associate_address(
    cloud: Cloud,
    account: str,
    address: AddressRecord,
    eni_id: str,
    *,
    reassociate: bool,
) -> tuple[Cloud, AddressRecord]:
    """An Elastic IP onto a network interface (off whatever held it, when ``reassociate``;
    whatever Elastic IP the interface held is freed)."""
    cloud = with_account(cloud, account)
    nic = find_nic(cloud, account, eni_id)
    if (address.eni_id or address.nat_id) and not reassociate and address.eni_id != eni_id:
        raise Ec2Error(
            "Resource.AlreadyAssociated",
            f"resource {address.allocation_id} is already associated with associate-id "
            f"{address.association_id}",
        )
    if address.nat_id:
        raise Ec2Error(
            "InvalidIPAddress.InUse", f"Address {address.public} is in use by a NAT gateway"
        )
    for other in cloud.addresses:
        if other.eni_id == nic.eni_id and other.allocation_id != address.allocation_id:
            cloud = _put_address(cloud, replace(other, eni_id=""))
    moved = replace(address, eni_id=nic.eni_id)
    return _put_address(cloud, moved), moved


def disassociate_address(cloud: Cloud, account: str, assoc: str) -> Cloud:
    cloud = with_account(cloud, account)
    for address in cloud.addresses:
        if address.owner == account and address.association_id == assoc:
            if address.nat_id:
                raise Ec2Error(
                    "InvalidIPAddress.InUse",
                    f"Address {address.public} is in use by NAT gateway {address.nat_id}",
                )
            return _put_address(cloud, replace(address, eni_id=""))
    raise Ec2Error("InvalidAssociationID.NotFound", f"The association ID '{assoc}' does not exist")


def release_address(cloud: Cloud, account: str, address: AddressRecord) -> Cloud:
    cloud = with_account(cloud, account)
    if address.eni_id or address.nat_id:
        raise Ec2Error("InvalidIPAddress.InUse", f"Address {address.public} is in use (associated)")
    held = tuple(a for a in cloud.addresses if a.allocation_id != address.allocation_id)
    return replace(cloud, addresses=held, tags=untagged(cloud, address.allocation_id))


# -- NAT gateways -----------------------------------------------------------------------------


def find_nat(cloud: Cloud, account: str, nat_id: str) -> NatRecord:
    for nat in cloud.nat_gateways:
        if nat.nat_id == nat_id and nat.owner == account:
            return nat
    raise missing_id(nat_id, "nat-", "NatGatewayNotFound", "NAT gateway")


def create_nat_gateway(
    cloud: Cloud,
    account: str,
    subnet_id: str,
    allocation_id: str,
    new_id: NewId,
) -> tuple[Cloud, NatRecord]:
    """A NAT gateway in a subnet: public with an Elastic IP (``allocation_id``), private
    without."""
    cloud = with_account(cloud, account)
    subnet = find_subnet(cloud, account, subnet_id)
    address = free_address_in(subnet, held_addresses(cloud))
    ident = fresh_id(new_id, "nat-", (n.nat_id for n in cloud.nat_gateways))
    if allocation_id:
        elastic = find_address(cloud, account, allocation_id)
        if elastic.eni_id or elastic.nat_id:
            raise Ec2Error(
                "Resource.AlreadyAssociated",
                f"Elastic IP address [{allocation_id}] is already associated",
            )
        cloud = _put_address(cloud, replace(elastic, nat_id=ident))
    nat = NatRecord(ident, account, subnet.vpc_id, subnet.subnet_id, address, allocation_id)
    return replace(cloud, nat_gateways=(*cloud.nat_gateways, nat)), nat


def delete_nat_gateway(cloud: Cloud, account: str, nat_id: str) -> tuple[Cloud, NatRecord]:
    """Deleted: it stays listed as ``deleted`` (as AWS lists it for a while), its Elastic IP
    is freed, routes to it become blackholes."""
    cloud = with_account(cloud, account)
    nat = find_nat(cloud, account, nat_id)
    gone = replace(nat, state="deleted")
    held = tuple(gone if n.nat_id == nat_id else n for n in cloud.nat_gateways)
    addresses = tuple(replace(a, nat_id="") if a.nat_id == nat_id else a for a in cloud.addresses)
    return replace(cloud, nat_gateways=held, addresses=addresses), gone


# -- network ACLs ------------------------------------------------------------------------------


def find_acl(cloud: Cloud, account: str, acl_id: str) -> AclRecord:
    for vpc in cloud.vpcs:
        if vpc.owner == account:
            for acl in acls_of(cloud, vpc):
                if acl.acl_id == acl_id:
                    return acl
    raise missing_id(acl_id, "acl-", "InvalidNetworkAclID", "network ACL")


def all_acls(cloud: Cloud, account: str) -> list[AclRecord]:
    return [a for v in cloud.vpcs if v.owner == account for a in acls_of(cloud, v)]


def acl_of_subnet(cloud: Cloud, account: str, subnet_id: str) -> AclRecord:
    subnet = find_subnet(cloud, account, subnet_id)
    vpc = find_vpc(cloud, account, subnet.vpc_id)
    acls = acls_of(cloud, vpc)
    return next((a for a in acls if subnet_id in a.subnets), acls[0])


def acl_association_id(acl: AclRecord, subnet_id: str) -> str:
    return stable_id("aclassoc-", acl.acl_id, subnet_id)


def create_network_acl(
    cloud: Cloud, account: str, vpc_id: str, new_id: NewId
) -> tuple[Cloud, AclRecord]:
    cloud = with_account(cloud, account)
    vpc = find_vpc(cloud, account, vpc_id)
    taken = (a.acl_id for a in all_acls(cloud, account))
    acl = AclRecord(fresh_id(new_id, "acl-", taken), vpc.vpc_id, account)
    return _put_acl(cloud, acl), acl


def delete_network_acl(cloud: Cloud, account: str, acl_id: str) -> Cloud:
    cloud = with_account(cloud, account)
    acl = find_acl(cloud, account, acl_id)
    if acl.default:
        raise Ec2Error("InvalidParameterValue", "cannot delete default network ACL")
    if acl.subnets:
        raise Ec2Error(
            "DependencyViolation",
            f"The networkAcl '{acl_id}' has dependencies and cannot be deleted.",
        )
    held = tuple(a for a in cloud.network_acls if a.acl_id != acl_id)
    return replace(cloud, network_acls=held, tags=untagged(cloud, acl_id))


def put_acl_entry(
    cloud: Cloud, account: str, acl_id: str, entry: AclEntry, *, replace_it: bool
) -> Cloud:
    """CreateNetworkAclEntry (``replace_it``: ReplaceNetworkAclEntry, whose entry must
    exist)."""
    cloud = with_account(cloud, account)
    acl = find_acl(cloud, account, acl_id)  # the entry is checked (rules.acl_entry)
    same = [e for e in acl.entries if e.number == entry.number and e.egress == entry.egress]
    if same and not replace_it:
        raise Ec2Error(
            "NetworkAclEntryAlreadyExists",
            f"The network acl entry identified by {entry.number} already exists.",
        )
    if replace_it and not same:
        raise Ec2Error(
            "InvalidNetworkAclEntry.NotFound",
            f"The network acl entry identified by {entry.number} does not exist.",
        )
    side = [e for e in acl.entries if e.egress == entry.egress]
    if not replace_it and len(side) >= MAX_ENTRIES:
        raise Ec2Error(
            "NetworkAclEntryLimitExceeded",
            f"The maximum number of entries ({MAX_ENTRIES}) per direction has been reached.",
        )
    kept = tuple(e for e in acl.entries if e not in same)
    return _put_acl(cloud, replace(acl, entries=(*kept, entry)))


def delete_acl_entry(cloud: Cloud, account: str, acl_id: str, number: int, egress: bool) -> Cloud:
    cloud = with_account(cloud, account)
    acl = find_acl(cloud, account, acl_id)
    kept = tuple(e for e in acl.entries if not (e.number == number and e.egress == egress))
    if len(kept) == len(acl.entries):
        raise Ec2Error(
            "InvalidNetworkAclEntry.NotFound",
            f"The network acl entry identified by {number} does not exist.",
        )
    return _put_acl(cloud, replace(acl, entries=kept))


def replace_acl_association(
    cloud: Cloud, account: str, assoc: str, acl_id: str
) -> tuple[Cloud, str]:
    cloud = with_account(cloud, account)
    for vpc in cloud.vpcs:
        if vpc.owner != account:
            continue
        for subnet in cloud.subnets:
            if subnet.vpc_id != vpc.vpc_id:
                continue
            old = acl_of_subnet(cloud, account, subnet.subnet_id)
            if acl_association_id(old, subnet.subnet_id) != assoc:
                continue
            new = find_acl(cloud, account, acl_id)
            if new.vpc_id != vpc.vpc_id:
                raise Ec2Error(
                    "InvalidParameterValue",
                    f"network ACL {acl_id} and association {assoc} belong to different networks",
                )
            cloud = _put_acl(
                cloud, replace(old, subnets=tuple(s for s in old.subnets if s != subnet.subnet_id))
            )
            new = find_acl(cloud, account, acl_id)
            if not new.default:
                cloud = _put_acl(cloud, replace(new, subnets=(*new.subnets, subnet.subnet_id)))
            return cloud, acl_association_id(new, subnet.subnet_id)
    raise Ec2Error("InvalidAssociationID.NotFound", f"The association ID '{assoc}' does not exist")


# -- peering connections -----------------------------------------------------------------------


def find_peering(cloud: Cloud, account: str, pcx_id: str) -> PeeringRecord:
    for peering in cloud.peerings:
        if peering.pcx_id == pcx_id and peering.owner == account:
            return peering
    raise missing_id(pcx_id, "pcx-", "InvalidVpcPeeringConnectionID", "vpc peering connection")


def create_peering(
    cloud: Cloud, account: str, vpc_id: str, peer_vpc_id: str, new_id: NewId
) -> tuple[Cloud, PeeringRecord]:
    cloud = with_account(cloud, account)
    one = find_vpc(cloud, account, vpc_id)
    other = find_vpc(cloud, account, peer_vpc_id)
    if one.vpc_id == other.vpc_id or one.cidr.overlaps(other.cidr):
        raise Ec2Error(
            "InvalidParameterValue",
            f"VPCs {vpc_id} ({one.cidr}) and {peer_vpc_id} ({other.cidr}) overlap: they cannot "
            "be peered",
        )
    for peering in cloud.peerings:
        if {peering.requester, peering.accepter} == {one.vpc_id, other.vpc_id} and (
            peering.status in ("active", "pending-acceptance")
        ):
            raise Ec2Error(
                "VpcPeeringConnectionAlreadyExists",
                f"A peering connection between {vpc_id} and {peer_vpc_id} already exists "
                f"({peering.pcx_id}).",
            )
    ident = fresh_id(new_id, "pcx-", (p.pcx_id for p in cloud.peerings))
    peering = PeeringRecord(ident, account, one.vpc_id, other.vpc_id)
    return replace(cloud, peerings=(*cloud.peerings, peering)), peering


def set_peering(
    cloud: Cloud, account: str, pcx_id: str, status: str
) -> tuple[Cloud, PeeringRecord]:
    """Accept (``active``) or delete (``deleted``) a peering connection."""
    cloud = with_account(cloud, account)
    peering = find_peering(cloud, account, pcx_id)
    if status == "active" and peering.status != "pending-acceptance":
        raise Ec2Error(
            "InvalidStateTransition",
            f"Invalid state transition for {pcx_id}, attempted to transition from "
            f"{peering.status} to active",
        )
    changed = replace(peering, status=status)
    held = tuple(changed if p.pcx_id == pcx_id else p for p in cloud.peerings)
    return replace(cloud, peerings=held), changed
