"""VPCs, subnets and network interfaces."""

from __future__ import annotations

from collections.abc import Callable

from harness.core.ec2 import plane as ec2
from harness.core.ec2.actions.describe import describe
from harness.core.ec2.actions.requests import (
    Answer,
    Caller,
    Request,
    required,
    tag_specifications,
)
from harness.core.ec2.actions.tags import arn, tag_new, tags
from harness.core.ec2.plane import Cloud, NicRecord, SubnetRecord, VpcRecord
from harness.errors import Ec2Error

# -- VPCs ------------------------------------------------------------------------------------


def vpc_dict(cloud: Cloud, vpc: VpcRecord) -> Answer:
    found: Answer = {
        "VpcId": vpc.vpc_id,
        "OwnerId": vpc.owner,
        "State": "available",
        "CidrBlock": str(vpc.cidr),
        "DhcpOptionsId": "default",
        "InstanceTenancy": "default",
        "IsDefault": vpc.default,
        "CidrBlockAssociationSet": [
            {
                "AssociationId": ec2.stable_id("vpc-cidr-assoc-", vpc.vpc_id),
                "CidrBlock": str(vpc.cidr),
                "CidrBlockState": {"State": "associated"},
            }
        ],
        "Tags": tags(cloud, vpc.vpc_id),
    }
    if vpc.ipv6 is not None:
        found["Ipv6CidrBlockAssociationSet"] = [
            {
                "AssociationId": ec2.stable_id("vpc-cidr-assoc-", vpc.vpc_id, "v6"),
                "Ipv6CidrBlock": str(vpc.ipv6),
                "Ipv6CidrBlockState": {"State": "associated"},
                "NetworkBorderGroup": cloud.region,
                "Ipv6Pool": "Amazon",
            }
        ]
    return found


def create_vpc(cloud: Cloud, caller: Caller, request: Request) -> tuple[Cloud, Answer]:
    cidr = required(request, "CidrBlock")
    if request.get("InstanceTenancy", "default") != "default":
        raise Ec2Error("InvalidParameterValue", "The lab makes VPCs of default tenancy only")
    ipv6 = bool(request.get("AmazonProvidedIpv6CidrBlock"))
    new_tags = tag_specifications(request, "vpc")
    cloud, vpc = ec2.create_vpc(cloud, caller.account, cidr, ipv6, caller.new_id)
    cloud = tag_new(cloud, caller.account, vpc.vpc_id, new_tags)
    return cloud, {"Vpc": vpc_dict(cloud, vpc)}


VPC_FILTERS: dict[str, Callable[[VpcRecord], list[str]]] = {
    "vpc-id": lambda v: [v.vpc_id],
    "cidr": lambda v: [str(v.cidr)],
    "cidr-block": lambda v: [str(v.cidr)],
    "cidr-block-association.cidr-block": lambda v: [str(v.cidr)],
    "ipv6-cidr-block-association.ipv6-cidr-block": lambda v: [str(v.ipv6)] if v.ipv6 else [],
    "is-default": lambda v: ["true" if v.default else "false"],
    "owner-id": lambda v: [v.owner],
    "state": lambda v: ["available"],
}


def describe_vpcs(cloud: Cloud, caller: Caller, request: Request) -> tuple[Cloud, Answer]:
    return describe(
        cloud,
        caller,
        request,
        key="Vpcs",
        id_member="VpcIds",
        find=ec2.find_vpc,
        owned=lambda c, a: [v for v in c.vpcs if v.owner == a],
        fields=lambda c: VPC_FILTERS,
        ident=lambda v: v.vpc_id,
        answer=vpc_dict,
    )


def delete_vpc(cloud: Cloud, caller: Caller, request: Request) -> tuple[Cloud, Answer]:
    cloud, _ = ec2.delete_vpc(cloud, caller.account, required(request, "VpcId"))
    return cloud, {}


def describe_vpc_attribute(cloud: Cloud, caller: Caller, request: Request) -> tuple[Cloud, Answer]:
    vpc_id = required(request, "VpcId")
    name = required(request, "Attribute")
    cloud = ec2.with_account(cloud, caller.account)
    vpc = ec2.find_vpc(cloud, caller.account, vpc_id)
    values = {"enableDnsSupport": vpc.dns_support, "enableDnsHostnames": vpc.dns_hostnames}
    if name not in values:
        raise Ec2Error(
            "InvalidParameterValue", f"Value ({name}) for parameter attribute is invalid"
        )
    member = name[0].upper() + name[1:]
    return cloud, {"VpcId": vpc_id, member: {"Value": values[name]}}


def modify_vpc_attribute(cloud: Cloud, caller: Caller, request: Request) -> tuple[Cloud, Answer]:
    vpc_id = required(request, "VpcId")
    changes = [
        (name, (request.get(name[0].upper() + name[1:]) or {}).get("Value"))
        for name in ("enableDnsSupport", "enableDnsHostnames")
    ]
    chosen = [(n, v) for n, v in changes if v is not None]
    if len(chosen) != 1:
        raise Ec2Error(
            "InvalidParameterCombination",
            "Exactly one of EnableDnsSupport and EnableDnsHostnames is changed per request",
        )
    name, value = chosen[0]
    cloud, _ = ec2.modify_vpc_attribute(cloud, caller.account, vpc_id, name, bool(value))
    return cloud, {}


# -- subnets ---------------------------------------------------------------------------------


def subnet_dict(cloud: Cloud, subnet: SubnetRecord) -> Answer:
    used = sum(1 for n in cloud.nics if n.subnet_id == subnet.subnet_id)
    found: Answer = {
        "SubnetId": subnet.subnet_id,
        "VpcId": subnet.vpc_id,
        "OwnerId": subnet.owner,
        "State": "available",
        "CidrBlock": str(subnet.cidr),
        "AvailabilityZone": ec2.zone_of(cloud.region),
        "AvailabilityZoneId": ec2.zone_id_of(cloud.region),
        "AvailableIpAddressCount": subnet.cidr.num_addresses - 5 - used,
        "DefaultForAz": subnet.default,
        "MapPublicIpOnLaunch": subnet.map_public,
        "AssignIpv6AddressOnCreation": subnet.ipv6 is not None,
        "SubnetArn": arn(cloud, subnet.owner, "subnet", subnet.subnet_id),
        "Tags": tags(cloud, subnet.subnet_id),
    }
    if subnet.ipv6 is not None:
        found["Ipv6CidrBlockAssociationSet"] = [
            {
                "AssociationId": ec2.stable_id("subnet-cidr-assoc-", subnet.subnet_id),
                "Ipv6CidrBlock": str(subnet.ipv6),
                "Ipv6CidrBlockState": {"State": "associated"},
            }
        ]
    return found


def create_subnet(cloud: Cloud, caller: Caller, request: Request) -> tuple[Cloud, Answer]:
    vpc_id = required(request, "VpcId")
    cidr = required(request, "CidrBlock")
    zone = request.get("AvailabilityZone")
    home = ec2.zone_of(cloud.region)
    if zone and zone != home:
        raise Ec2Error(
            "InvalidParameterValue",
            f"Value ({zone}) for parameter availabilityZone is invalid. "
            f"The lab has one zone in this region, {home}",
        )
    new_tags = tag_specifications(request, "subnet")
    cloud, subnet = ec2.create_subnet(
        cloud,
        caller.account,
        vpc_id=vpc_id,
        cidr=cidr,
        ipv6_cidr=request.get("Ipv6CidrBlock"),
        new_id=caller.new_id,
    )
    cloud = tag_new(cloud, caller.account, subnet.subnet_id, new_tags)
    return cloud, {"Subnet": subnet_dict(cloud, subnet)}


def _subnet_filters(cloud: Cloud) -> dict[str, Callable[[SubnetRecord], list[str]]]:
    return {
        "subnet-id": lambda s: [s.subnet_id],
        "vpc-id": lambda s: [s.vpc_id],
        "cidr-block": lambda s: [str(s.cidr)],
        "default-for-az": lambda s: ["true" if s.default else "false"],
        "availability-zone": lambda s: [ec2.zone_of(cloud.region)],
        "state": lambda s: ["available"],
    }


def describe_subnets(cloud: Cloud, caller: Caller, request: Request) -> tuple[Cloud, Answer]:
    return describe(
        cloud,
        caller,
        request,
        key="Subnets",
        id_member="SubnetIds",
        find=ec2.find_subnet,
        owned=lambda c, a: [s for s in c.subnets if s.owner == a],
        fields=_subnet_filters,
        ident=lambda s: s.subnet_id,
        answer=subnet_dict,
    )


def delete_subnet(cloud: Cloud, caller: Caller, request: Request) -> tuple[Cloud, Answer]:
    cloud, _ = ec2.delete_subnet(cloud, caller.account, required(request, "SubnetId"))
    return cloud, {}


def modify_subnet_attribute(cloud: Cloud, caller: Caller, request: Request) -> tuple[Cloud, Answer]:
    subnet_id = required(request, "SubnetId")
    value = (request.get("MapPublicIpOnLaunch") or {}).get("Value")
    if value is None:
        raise Ec2Error(
            "MissingParameter", "The request must contain the parameter MapPublicIpOnLaunch"
        )
    cloud, _ = ec2.modify_subnet_attribute(cloud, caller.account, subnet_id, bool(value))
    return cloud, {}


# -- network interfaces ----------------------------------------------------------------------


def nic_dict(cloud: Cloud, nic: NicRecord) -> Answer:
    subnet = next(s for s in cloud.subnets if s.subnet_id == nic.subnet_id)
    groups = [{"GroupId": k.group_id, "GroupName": k.name} for k in nic.groups]
    found: Answer = {
        "NetworkInterfaceId": nic.eni_id,
        "SubnetId": nic.subnet_id,
        "VpcId": subnet.vpc_id,
        "AvailabilityZone": ec2.zone_of(cloud.region),
        "Description": nic.description,
        "OwnerId": nic.owner,
        "Status": "in-use" if nic.instance_id else "available",
        "InterfaceType": "interface",
        "PrivateIpAddress": str(nic.address),
        "PrivateIpAddresses": [{"PrivateIpAddress": str(nic.address), "Primary": True}],
        "Groups": groups,
        "Ipv6Addresses": [{"Ipv6Address": str(nic.ipv6)}] if nic.ipv6 is not None else [],
        "SourceDestCheck": True,
        "TagSet": tags(cloud, nic.eni_id),
    }
    if nic.instance_id:
        found["Attachment"] = {
            "AttachmentId": ec2.stable_id("eni-attach-", nic.eni_id),
            "DeviceIndex": nic.device_index,
            "InstanceId": nic.instance_id,
            "InstanceOwnerId": nic.owner,
            "Status": "attached",
            "DeleteOnTermination": True,
        }
    if nic.public is not None:
        found["Association"] = {"PublicIp": str(nic.public), "IpOwnerId": "amazon"}
    return found


def _nic_filters(cloud: Cloud) -> dict[str, Callable[[NicRecord], list[str]]]:
    vpc_of = {s.subnet_id: s.vpc_id for s in cloud.subnets}
    return {
        "network-interface-id": lambda n: [n.eni_id],
        "subnet-id": lambda n: [n.subnet_id],
        "vpc-id": lambda n: [vpc_of[n.subnet_id]],
        "group-id": lambda n: [k.group_id for k in n.groups],
        "attachment.instance-id": lambda n: [n.instance_id] if n.instance_id else [],
        "private-ip-address": lambda n: [str(n.address)],
    }


def describe_network_interfaces(
    cloud: Cloud, caller: Caller, request: Request
) -> tuple[Cloud, Answer]:
    return describe(
        cloud,
        caller,
        request,
        key="NetworkInterfaces",
        id_member="NetworkInterfaceIds",
        find=ec2.find_nic,
        owned=lambda c, a: [n for n in c.nics if n.owner == a],
        fields=_nic_filters,
        ident=lambda n: n.eni_id,
        answer=nic_dict,
    )


def modify_network_interface_attribute(
    cloud: Cloud, caller: Caller, request: Request
) -> tuple[Cloud, Answer]:
    eni = required(request, "NetworkInterfaceId")
    cloud, _ = ec2.set_nic_groups(cloud, caller.account, eni, request.get("Groups") or [])
    return cloud, {}
