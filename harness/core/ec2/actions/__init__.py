"""The one action layer: every EC2 action the lab serves, whichever door it came through.

An action is a pure function of (state, caller, request) to (state, answer). The request and
the answer are in an SDK's shape (boto3's member names, Python values), so a door only
translates its own form: the Query API reads the wire through botocore's model and writes the
answer back through it, the pytest plugin passes boto3's keyword arguments as they are. No door
chooses a platform: an action looks at the resource it works on.

Each action says which members of its request it models (``supported``, paths of member names
with list items left out; a path covers everything under it); a member the lab does not model
is refused by :func:`run`, naming it, never dropped. Doors call :func:`run`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import NamedTuple

from harness.core.ec2.actions import (
    account,
    groups,
    images,
    instances,
    network,
    prefix_lists,
    routing,
    tags,
)
from harness.core.ec2.actions.requests import Answer, Caller, Request
from harness.core.ec2.plane import Cloud
from harness.errors import Ec2Error

__all__ = ["ACTIONS", "Action", "Answer", "Caller", "Request", "check", "find", "run"]

Run = Callable[[Cloud, Caller, Request], tuple[Cloud, Answer]]


class Action(NamedTuple):
    run: Run
    changes: bool  # False: a describe (the state is only read)
    supported: frozenset[str]


def under(head: str, *paths: str) -> tuple[str, ...]:
    return tuple(f"{head}.{p}" for p in paths)


PERMISSION = (
    "IpProtocol",
    "FromPort",
    "ToPort",
    "IpRanges",
    "Ipv6Ranges",
    "PrefixListIds",
    *under("UserIdGroupPairs", "GroupId", "GroupName", "UserId", "VpcId", "Description"),
)
PERMISSIONS = under("IpPermissions", *PERMISSION)
LEGACY = (
    "IpProtocol",
    "FromPort",
    "ToPort",
    "CidrIp",
    "SourceSecurityGroupName",
    "SourceSecurityGroupOwnerId",
)
PAGED = ("Filters", "MaxResults", "NextToken")
ROUTE = (
    "DestinationCidrBlock",
    "DestinationIpv6CidrBlock",
    "DestinationPrefixListId",
    "GatewayId",
    "EgressOnlyInternetGatewayId",
    "NatGatewayId",
    "VpcPeeringConnectionId",
)
ACL_ENTRY = (
    "NetworkAclId",
    "RuleNumber",
    "Protocol",
    "RuleAction",
    "Egress",
    "CidrBlock",
    "Ipv6CidrBlock",
    "PortRange",
    "IcmpTypeCode",
)
NIC = under(
    "NetworkInterfaces",
    "DeviceIndex",
    "SubnetId",
    "Groups",
    "AssociatePublicIpAddress",
    "PrivateIpAddress",
    "Description",
    "DeleteOnTermination",
)


def _action(run: Run, *supported: str, changes: bool = True) -> Action:
    return Action(run, changes, frozenset(supported))


def _describe(run: Run, *supported: str) -> Action:
    return Action(run, False, frozenset(supported))


ACTIONS: dict[str, Action] = {
    # account and region
    "DescribeAccountAttributes": _describe(account.describe_account_attributes, "AttributeNames"),
    "DescribeRegions": _describe(account.describe_regions, "RegionNames", "Filters", "AllRegions"),
    "DescribeAvailabilityZones": _describe(
        account.describe_availability_zones,
        "ZoneNames",
        "ZoneIds",
        "Filters",
        "AllAvailabilityZones",
    ),
    # security groups and their rules
    "CreateSecurityGroup": _action(
        groups.create_security_group, "GroupName", "Description", "VpcId", "TagSpecifications"
    ),
    "DescribeSecurityGroups": _describe(
        groups.describe_security_groups, "GroupNames", "GroupIds", *PAGED
    ),
    "DeleteSecurityGroup": _action(groups.delete_security_group, "GroupName", "GroupId"),
    "AuthorizeSecurityGroupIngress": _action(
        groups.authorize_security_group_ingress,
        "GroupId",
        "GroupName",
        *PERMISSIONS,
        *LEGACY,
        "TagSpecifications",
    ),
    "RevokeSecurityGroupIngress": _action(
        groups.revoke_security_group_ingress,
        "GroupId",
        "GroupName",
        *PERMISSIONS,
        *LEGACY,
        "SecurityGroupRuleIds",
    ),
    "AuthorizeSecurityGroupEgress": _action(
        groups.authorize_security_group_egress,
        "GroupId",
        *PERMISSIONS,
        *LEGACY,
        "TagSpecifications",
    ),
    "RevokeSecurityGroupEgress": _action(
        groups.revoke_security_group_egress,
        "GroupId",
        *PERMISSIONS,
        *LEGACY,
        "SecurityGroupRuleIds",
    ),
    # the VPC path: route tables, gateways, NAT gateways, Elastic IPs, network ACLs, peerings
    "CreateRouteTable": _action(
        routing.create_route_table, "VpcId", "TagSpecifications", "ClientToken"
    ),
    "DeleteRouteTable": _action(routing.delete_route_table, "RouteTableId"),
    "DescribeRouteTables": _describe(routing.describe_route_tables, "RouteTableIds", *PAGED),
    "CreateRoute": _action(routing.create_route, "RouteTableId", *ROUTE),
    "ReplaceRoute": _action(routing.replace_route, "RouteTableId", *ROUTE),
    "DeleteRoute": _action(
        routing.delete_route,
        "RouteTableId",
        "DestinationCidrBlock",
        "DestinationIpv6CidrBlock",
        "DestinationPrefixListId",
    ),
    "AssociateRouteTable": _action(routing.associate_route_table, "RouteTableId", "SubnetId"),
    "DisassociateRouteTable": _action(routing.disassociate_route_table, "AssociationId"),
    "ReplaceRouteTableAssociation": _action(
        routing.replace_route_table_association, "AssociationId", "RouteTableId"
    ),
    "CreateInternetGateway": _action(routing.create_internet_gateway, "TagSpecifications"),
    "AttachInternetGateway": _action(routing.attach_internet_gateway, "InternetGatewayId", "VpcId"),
    "DetachInternetGateway": _action(routing.detach_internet_gateway, "InternetGatewayId", "VpcId"),
    "DeleteInternetGateway": _action(routing.delete_internet_gateway, "InternetGatewayId"),
    "DescribeInternetGateways": _describe(
        routing.describe_internet_gateways, "InternetGatewayIds", *PAGED
    ),
    "CreateEgressOnlyInternetGateway": _action(
        routing.create_egress_only_internet_gateway, "VpcId", "TagSpecifications", "ClientToken"
    ),
    "DeleteEgressOnlyInternetGateway": _action(
        routing.delete_egress_only_internet_gateway, "EgressOnlyInternetGatewayId"
    ),
    "DescribeEgressOnlyInternetGateways": _describe(
        routing.describe_egress_only_internet_gateways, "EgressOnlyInternetGatewayIds", *PAGED
    ),
    "AllocateAddress": _action(routing.allocate_address, "Domain", "Address", "TagSpecifications"),
    "AssociateAddress": _action(
        routing.associate_address,
        "AllocationId",
        "PublicIp",
        "InstanceId",
        "NetworkInterfaceId",
        "AllowReassociation",
    ),
    "DisassociateAddress": _action(routing.disassociate_address, "AssociationId", "PublicIp"),
    "ReleaseAddress": _action(routing.release_address, "AllocationId", "PublicIp"),
    "DescribeAddresses": _describe(
        routing.describe_addresses, "AllocationIds", "PublicIps", "Filters"
    ),
    "CreateNatGateway": _action(
        routing.create_nat_gateway,
        "SubnetId",
        "AllocationId",
        "ConnectivityType",
        "TagSpecifications",
        "ClientToken",
    ),
    "DeleteNatGateway": _action(routing.delete_nat_gateway, "NatGatewayId"),
    "DescribeNatGateways": _describe(
        routing.describe_nat_gateways, "NatGatewayIds", "Filter", "MaxResults", "NextToken"
    ),
    "CreateNetworkAcl": _action(
        routing.create_network_acl, "VpcId", "TagSpecifications", "ClientToken"
    ),
    "DeleteNetworkAcl": _action(routing.delete_network_acl, "NetworkAclId"),
    "DescribeNetworkAcls": _describe(routing.describe_network_acls, "NetworkAclIds", *PAGED),
    "CreateNetworkAclEntry": _action(routing.create_network_acl_entry, *ACL_ENTRY),
    "ReplaceNetworkAclEntry": _action(routing.replace_network_acl_entry, *ACL_ENTRY),
    "DeleteNetworkAclEntry": _action(
        routing.delete_network_acl_entry, "NetworkAclId", "RuleNumber", "Egress"
    ),
    "ReplaceNetworkAclAssociation": _action(
        routing.replace_network_acl_association, "AssociationId", "NetworkAclId"
    ),
    "CreateVpcPeeringConnection": _action(
        routing.create_vpc_peering_connection,
        "VpcId",
        "PeerVpcId",
        "PeerOwnerId",
        "PeerRegion",
        "TagSpecifications",
    ),
    "AcceptVpcPeeringConnection": _action(
        routing.accept_vpc_peering_connection, "VpcPeeringConnectionId"
    ),
    "DeleteVpcPeeringConnection": _action(
        routing.delete_vpc_peering_connection, "VpcPeeringConnectionId"
    ),
    "DescribeVpcPeeringConnections": _describe(
        routing.describe_vpc_peering_connections, "VpcPeeringConnectionIds", *PAGED
    ),
    "DescribeSecurityGroupRules": _describe(
        groups.describe_security_group_rules, "SecurityGroupRuleIds", *PAGED
    ),
    "ModifySecurityGroupRules": _action(
        groups.modify_security_group_rules, "GroupId", "SecurityGroupRules"
    ),
    "UpdateSecurityGroupRuleDescriptionsIngress": _action(
        groups.update_security_group_rule_descriptions_ingress,
        "GroupId",
        "GroupName",
        *PERMISSIONS,
        "SecurityGroupRuleDescriptions",
    ),
    "UpdateSecurityGroupRuleDescriptionsEgress": _action(
        groups.update_security_group_rule_descriptions_egress,
        "GroupId",
        "GroupName",
        *PERMISSIONS,
        "SecurityGroupRuleDescriptions",
    ),
    # images: what an instance serves
    "RegisterImage": _action(images.register_image, "Name", "Description", "TagSpecifications"),
    "DescribeImages": _describe(images.describe_images, "ImageIds", "Owners", *PAGED),
    "DeregisterImage": _action(images.deregister_image, "ImageId"),
    # instances
    "RunInstances": _action(
        instances.run_instances,
        "ImageId",
        "MinCount",
        "MaxCount",
        "InstanceType",
        "SecurityGroups",
        "SecurityGroupIds",
        "SubnetId",
        "PrivateIpAddress",
        *NIC,
        "TagSpecifications",
        "KeyName",
        "Placement",
        "ClientToken",
    ),
    "DescribeInstances": _describe(instances.describe_instances, "InstanceIds", *PAGED),
    "DescribeInstanceAttribute": _describe(
        instances.describe_instance_attribute, "InstanceId", "Attribute"
    ),
    "DescribeInstanceStatus": _describe(
        instances.describe_instance_status, "InstanceIds", "IncludeAllInstances", *PAGED
    ),
    "TerminateInstances": _action(instances.terminate_instances, "InstanceIds"),
    "ModifyInstanceAttribute": _action(instances.modify_instance_attribute, "InstanceId", "Groups"),
    # VPCs, subnets, interfaces
    "CreateVpc": _action(
        network.create_vpc,
        "CidrBlock",
        "AmazonProvidedIpv6CidrBlock",
        "InstanceTenancy",
        "TagSpecifications",
    ),
    "DescribeVpcs": _describe(network.describe_vpcs, "VpcIds", *PAGED),
    "DeleteVpc": _action(network.delete_vpc, "VpcId"),
    "DescribeVpcAttribute": _describe(network.describe_vpc_attribute, "VpcId", "Attribute"),
    "ModifyVpcAttribute": _action(
        network.modify_vpc_attribute, "VpcId", "EnableDnsSupport", "EnableDnsHostnames"
    ),
    "CreateSubnet": _action(
        network.create_subnet,
        "VpcId",
        "CidrBlock",
        "Ipv6CidrBlock",
        "AvailabilityZone",
        "TagSpecifications",
    ),
    "DescribeSubnets": _describe(network.describe_subnets, "SubnetIds", *PAGED),
    "DeleteSubnet": _action(network.delete_subnet, "SubnetId"),
    "ModifySubnetAttribute": _action(
        network.modify_subnet_attribute, "SubnetId", "MapPublicIpOnLaunch"
    ),
    "DescribeNetworkInterfaces": _describe(
        network.describe_network_interfaces, "NetworkInterfaceIds", *PAGED
    ),
    "ModifyNetworkInterfaceAttribute": _action(
        network.modify_network_interface_attribute, "NetworkInterfaceId", "Groups"
    ),
    # tags
    "CreateTags": _action(tags.create_tags, "Resources", "Tags"),
    "DeleteTags": _action(tags.delete_tags, "Resources", "Tags"),
    "DescribeTags": _describe(tags.describe_tags, *PAGED),
    # managed prefix lists
    "CreateManagedPrefixList": _action(
        prefix_lists.create_managed_prefix_list,
        "PrefixListName",
        "Entries",
        "MaxEntries",
        "AddressFamily",
        "TagSpecifications",
        "ClientToken",
    ),
    "DescribeManagedPrefixLists": _describe(
        prefix_lists.describe_managed_prefix_lists, "PrefixListIds", *PAGED
    ),
    "ModifyManagedPrefixList": _action(
        prefix_lists.modify_managed_prefix_list,
        "PrefixListId",
        "CurrentVersion",
        "PrefixListName",
        "AddEntries",
        "RemoveEntries",
        "MaxEntries",
    ),
    "DeleteManagedPrefixList": _action(prefix_lists.delete_managed_prefix_list, "PrefixListId"),
    "GetManagedPrefixListEntries": _describe(
        prefix_lists.get_managed_prefix_list_entries,
        "PrefixListId",
        "TargetVersion",
        "MaxResults",
        "NextToken",
    ),
}
"""Every action the lab serves, with the request members it models."""


def find(name: str) -> Action:
    action = ACTIONS.get(name)
    if action is None:
        raise Ec2Error("InvalidAction", f"The action {name} is not valid for this web service.")
    return action


def check(name: str, request: Request) -> None:
    """Refuse a member of the request the lab does not model, naming it as it was given
    (``IpPermissions.1.UserIdGroupPairs.1.PeeringStatus``): EC2 would act on it, and a lab
    that dropped it would answer for another request than the one asked."""
    covered = find(name).supported | {"DryRun"}
    inner = {p.rsplit(".", i)[0] for p in covered for i in range(1, p.count(".") + 1)}

    def walk(value: object, path: str, shown: str) -> None:
        if isinstance(value, Mapping):
            for key, item in value.items():
                here = f"{path}.{key}" if path else str(key)
                where = f"{shown}.{key}" if shown else str(key)
                if here in covered:
                    continue
                if here not in inner:
                    raise Ec2Error(
                        "Unsupported",
                        f"The lab does not model {where} of {name} (it refuses it rather "
                        "than answer as if it was not asked)",
                    )
                walk(item, here, where)
        elif isinstance(value, list | tuple):
            for number, item in enumerate(value, 1):
                walk(item, path, f"{shown}.{number}")

    walk(request, "", "")


def run(name: str, cloud: Cloud, caller: Caller, request: Request) -> tuple[Cloud, Answer]:
    """One action on a state, its request checked first: what every door calls."""
    action = find(name)
    check(name, request)
    return action.run(cloud, caller, request)
