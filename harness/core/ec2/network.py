"""VPCs, subnets, network interfaces and the addresses they are given, and the outside
hosts of a lab.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from ipaddress import IPv4Address, IPv4Network, IPv6Network

from harness.core.ec2 import platform as platforms
from harness.core.ec2 import rules as rulebook
from harness.core.ec2.state import (
    HOST_NAME_RE,
    VPC,
    Cloud,
    NewId,
    NicRecord,
    SubnetRecord,
    VpcRecord,
    default_vpc_of,
    fresh_id,
    missing_id,
    untagged,
    with_account,
    zone_of,
)
from harness.core.model import (
    Host,
)
from harness.errors import Ec2Error, InvalidInput

# -- outside hosts ------------------------------------------------------------------------------


def add_host(cloud: Cloud, name: str, address: str) -> tuple[Cloud, Host]:
    if not HOST_NAME_RE.match(name) or name.startswith("i-"):
        raise InvalidInput(
            f"host name '{name}': use letters, digits, '_', '.', '-' (at most 40, "
            "starting with a letter, not 'i-')"
        )
    try:
        parsed = IPv4Address(address)
    except ValueError:
        raise InvalidInput(f"host {name}: '{address}' is not an IPv4 address") from None
    inside = [vpc.cidr for vpc in cloud.vpcs] if cloud.platform == VPC else [cloud.subnet]
    if cloud.platform == VPC:
        inside.append(platforms.PUBLIC_POOL)
    for net in inside:
        if parsed in net:
            raise InvalidInput(
                f"host {name}: {address} is inside the lab's {net}; outside hosts need an "
                "address outside it"
            )
    if parsed.is_multicast or parsed.is_unspecified or parsed.is_loopback or parsed.is_reserved:
        raise InvalidInput(f"host {name}: {address} cannot be a host address")
    for host in cloud.hosts:
        if host.name == name:
            raise InvalidInput(f"host {name} already exists (at {host.address})")
        if host.address == parsed:
            raise InvalidInput(f"host {name}: {address} is already the address of {host.name}")
    host = Host(name, parsed)
    return replace(cloud, hosts=(*cloud.hosts, host)), host


def remove_host(cloud: Cloud, name: str) -> tuple[Cloud, Host]:
    for host in cloud.hosts:
        if host.name == name:
            return replace(cloud, hosts=tuple(h for h in cloud.hosts if h.name != name)), host
    raise InvalidInput(f"no host named '{name}' in this lab")


# -- VPCs and subnets --------------------------------------------------------------------------
#
# A finder looks a resource up by its id first: a lab made from a topology file keeps the
# file's names as ids (``shop``, ``web``), and only an id the state does not hold is checked
# for EC2's form (``vpc-...``) before it is called missing.


def find_vpc(cloud: Cloud, account: str, vpc_id: str) -> VpcRecord:
    for vpc in cloud.vpcs:
        if vpc.vpc_id == vpc_id and vpc.owner == account:
            return vpc
    raise missing_id(vpc_id, "vpc-", "InvalidVpcID", "vpc")


def _v4_block(text: str, what: str) -> IPv4Network:
    net = rulebook.parse_cidr(text, platforms.VPC)
    if not isinstance(net, IPv4Network) or not 16 <= net.prefixlen <= 28:
        raise Ec2Error(
            "InvalidVpc.Range" if what == "VPC" else "InvalidSubnet.Range",
            f"The CIDR '{text}' is invalid: a {what} block is an IPv4 /16 to /28",
        )
    return net


def create_vpc(
    cloud: Cloud, account: str, cidr: str, ipv6: bool, new_id: NewId
) -> tuple[Cloud, VpcRecord]:
    cloud = with_account(cloud, account)
    block = _v4_block(cidr, "VPC")
    if platforms.PUBLIC_POOL.overlaps(block):
        raise Ec2Error(
            "InvalidVpc.Range",
            f"The CIDR '{cidr}' overlaps the lab's public addresses ({platforms.PUBLIC_POOL})",
        )
    block6 = None
    if ipv6:
        used = {v.ipv6 for v in cloud.vpcs if v.ipv6 is not None}
        index = 1
        while rulebook.nth(platforms.IPV6_POOL, 56, index) in used:
            index += 1
        block6 = rulebook.nth(platforms.IPV6_POOL, 56, index)
    vpc = VpcRecord(
        fresh_id(new_id, "vpc-", (v.vpc_id for v in cloud.vpcs)), account, block, block6
    )
    cloud = replace(cloud, vpcs=(*cloud.vpcs, vpc))
    return cloud.with_group(rulebook.default_group(account, vpc.vpc_id, ipv6)), vpc


def delete_vpc(cloud: Cloud, account: str, vpc_id: str) -> tuple[Cloud, VpcRecord]:
    cloud = with_account(cloud, account)
    vpc = find_vpc(cloud, account, vpc_id)
    subnets = [s.subnet_id for s in cloud.subnets if s.vpc_id == vpc_id]
    groups = [g.group_id for g in cloud.groups if g.vpc == vpc_id and g.name != "default"]
    path = [t.table_id for t in cloud.route_tables if t.vpc_id == vpc_id and not t.main]
    path += [g.gateway_id for g in cloud.gateways if g.vpc_id == vpc_id]
    path += [n.nat_id for n in cloud.nat_gateways if n.vpc_id == vpc_id and n.state != "deleted"]
    path += [a.acl_id for a in cloud.network_acls if a.vpc_id == vpc_id and not a.default]
    path += [
        p.pcx_id
        for p in cloud.peerings
        if vpc_id in (p.requester, p.accepter) and p.status == "active"
    ]
    if subnets or groups or path:
        parts = ", ".join(subnets + groups + path)
        raise Ec2Error(
            "DependencyViolation",
            f"The vpc '{vpc_id}' has dependencies and cannot be deleted ({parts}).",
        )
    remaining = tuple(g for g in cloud.groups if g.vpc != vpc_id)
    cloud = replace(
        cloud,
        vpcs=tuple(v for v in cloud.vpcs if v.vpc_id != vpc_id),
        route_tables=tuple(t for t in cloud.route_tables if t.vpc_id != vpc_id),
        network_acls=tuple(a for a in cloud.network_acls if a.vpc_id != vpc_id),
        groups=remaining,
        tags=untagged(cloud, vpc_id),
    )
    return cloud, vpc


def modify_vpc_attribute(
    cloud: Cloud, account: str, vpc_id: str, name: str, value: bool
) -> tuple[Cloud, VpcRecord]:
    cloud = with_account(cloud, account)
    vpc = find_vpc(cloud, account, vpc_id)
    if name == "enableDnsSupport":
        changed = replace(vpc, dns_support=value)
    elif name == "enableDnsHostnames":
        if value and not vpc.dns_support:
            raise Ec2Error(
                "InvalidParameterValue",
                "enableDnsHostnames needs enableDnsSupport on the VPC",
            )
        changed = replace(vpc, dns_hostnames=value)
    else:
        raise Ec2Error(
            "InvalidParameterValue", f"Value ({name}) for parameter attribute is invalid"
        )
    vpcs = tuple(changed if v.vpc_id == vpc_id else v for v in cloud.vpcs)
    return replace(cloud, vpcs=vpcs), changed


def find_subnet(cloud: Cloud, account: str, subnet_id: str) -> SubnetRecord:
    for subnet in cloud.subnets:
        if subnet.subnet_id == subnet_id and subnet.owner == account:
            return subnet
    raise missing_id(subnet_id, "subnet-", "InvalidSubnetID", "subnet")


def create_subnet(
    cloud: Cloud,
    account: str,
    *,
    vpc_id: str,
    cidr: str,
    ipv6_cidr: str | None,
    new_id: NewId,
) -> tuple[Cloud, SubnetRecord]:
    cloud = with_account(cloud, account)
    vpc = find_vpc(cloud, account, vpc_id)
    block = _v4_block(cidr, "subnet")
    if not block.subnet_of(vpc.cidr):
        raise Ec2Error("InvalidSubnet.Range", f"The CIDR '{cidr}' is invalid.")
    for other in cloud.subnets:
        if other.vpc_id == vpc_id and other.cidr.overlaps(block):
            raise Ec2Error(
                "InvalidSubnet.Conflict", f"The CIDR '{cidr}' conflicts with another subnet"
            )
    block6 = None
    if ipv6_cidr:
        net6 = rulebook.parse_cidr(ipv6_cidr, platforms.VPC)
        if (
            vpc.ipv6 is None
            or not isinstance(net6, IPv6Network)
            or net6.prefixlen != 64
            or not net6.subnet_of(vpc.ipv6)
        ):
            raise Ec2Error(
                "InvalidSubnet.Range",
                f"The IPv6 CIDR '{ipv6_cidr}' is invalid: a /64 of the VPC's block "
                f"({vpc.ipv6 or 'none'})",
            )
        if any(s.ipv6 == net6 for s in cloud.subnets):
            raise Ec2Error(
                "InvalidSubnet.Conflict", f"The CIDR '{ipv6_cidr}' conflicts with another subnet"
            )
        block6 = net6
    subnet = SubnetRecord(
        fresh_id(new_id, "subnet-", (s.subnet_id for s in cloud.subnets)),
        vpc_id,
        account,
        block,
        block6,
    )
    return replace(cloud, subnets=(*cloud.subnets, subnet)), subnet


def delete_subnet(cloud: Cloud, account: str, subnet_id: str) -> tuple[Cloud, SubnetRecord]:
    cloud = with_account(cloud, account)
    subnet = find_subnet(cloud, account, subnet_id)
    if any(n.subnet_id == subnet_id for n in cloud.nics) or any(
        n.subnet_id == subnet_id and n.state != "deleted" for n in cloud.nat_gateways
    ):
        raise Ec2Error(
            "DependencyViolation",
            f"The subnet '{subnet_id}' has dependencies and cannot be deleted.",
        )
    cloud = replace(
        cloud,
        route_tables=tuple(  # its associations go with it
            replace(t, subnets=tuple(s for s in t.subnets if s != subnet_id))
            for t in cloud.route_tables
        ),
        network_acls=tuple(
            replace(a, subnets=tuple(s for s in a.subnets if s != subnet_id))
            for a in cloud.network_acls
        ),
        subnets=tuple(s for s in cloud.subnets if s.subnet_id != subnet_id),
        tags=untagged(cloud, subnet_id),
    )
    return cloud, subnet


def modify_subnet_attribute(
    cloud: Cloud, account: str, subnet_id: str, map_public: bool
) -> tuple[Cloud, SubnetRecord]:
    cloud = with_account(cloud, account)
    subnet = replace(find_subnet(cloud, account, subnet_id), map_public=map_public)
    subnets = tuple(subnet if s.subnet_id == subnet_id else s for s in cloud.subnets)
    return replace(cloud, subnets=subnets), subnet


# -- network interfaces and instances --------------------------------------------------------------


def find_nic(cloud: Cloud, account: str, eni_id: str) -> NicRecord:
    for nic in cloud.nics:
        if nic.eni_id == eni_id and nic.owner == account:
            return nic
    raise missing_id(eni_id, "eni-", "InvalidNetworkInterfaceID", "network interface")


@dataclass(frozen=True)
class NicRequest:
    """One network interface of a RunInstances request."""

    subnet_id: str
    groups: tuple[str, ...] = ()  # ids or names
    public: bool | None = None  # AssociatePublicIpAddress (None: the subnet's default)
    address: str | None = None
    device_index: int = 0
    description: str = ""


def default_subnet(cloud: Cloud, account: str) -> str:
    """Where an instance launched without a subnet goes: the default VPC's default subnet."""
    default = default_vpc_of(cloud, account)
    if default is None:
        raise Ec2Error("VPCIdNotSpecified", "No default VPC for this user")
    for subnet in cloud.subnets:
        if subnet.vpc_id == default.vpc_id and subnet.default:
            return subnet.subnet_id
    raise Ec2Error(
        "MissingInput",
        f"No default subnet for availability zone: '{zone_of(cloud.region)}'",
    )


def free_address_in(subnet: SubnetRecord, taken: set[IPv4Address]) -> IPv4Address:
    found = rulebook.free_address(taken, subnet.cidr)
    if found is None:
        raise Ec2Error(
            "InsufficientFreeAddressesInSubnet",
            f"The subnet {subnet.subnet_id} ({subnet.cidr}) has no free address",
        )
    return found


def held_addresses(cloud: Cloud) -> set[IPv4Address]:
    """The private addresses lab nodes hold: instances, network interfaces, outside hosts and
    NAT gateways (a new one takes none of them)."""
    taken = {r.address for r in cloud.active_instances()} | {n.address for n in cloud.nics}
    taken |= {h.address for h in cloud.hosts}
    return taken | {n.address for n in cloud.nat_gateways if n.state != "deleted"}


def held_public(cloud: Cloud) -> set[IPv4Address]:
    """The lab's public addresses in use: interfaces' own and every Elastic IP."""
    taken = {n.public for n in cloud.nics if n.public is not None}
    return taken | {a.public for a in cloud.addresses}


def free_public(taken: set[IPv4Address]) -> IPv4Address:
    found = rulebook.free_address(taken)
    if found is None:
        raise Ec2Error(
            "AddressLimitExceeded",
            f"The lab's public addresses ({platforms.PUBLIC_POOL}) are used up",
        )
    return found


def nics_of(cloud: Cloud, instance_id: str) -> list[NicRecord]:
    return sorted(
        (n for n in cloud.nics if n.instance_id == instance_id), key=lambda n: n.device_index
    )
