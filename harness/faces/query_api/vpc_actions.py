"""The Query API's VPC era: VPCs, subnets, VPC groups with egress and rule ids, prefix lists,
tags, interfaces and the account's attributes. Answers are written from botocore's model of
EC2 (:mod:`.shapes`), so they carry every field today's SDKs read."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar
from xml.etree.ElementTree import Element

from harness.core import control_plane, vpc_plane
from harness.core.control_plane import (
    EC2_CLASSIC,
    Cloud,
    NicRecord,
    PrefixListRecord,
    SubnetRecord,
    VpcRecord,
)
from harness.core.model import ICMPS, PORTED, Group, Rule
from harness.core.vpc_plane import RuleRecord, VpcPermission
from harness.errors import Ec2Error
from harness.faces.query_api.params import Params, _int, filters, indexed, listed
from harness.faces.query_api.shapes import output
from harness.faces.query_api.vpc_params import (
    flag,
    key_values,
    page,
    permission_items,
    tag_specifications,
)
from harness.lab.persistent import new_id

if TYPE_CHECKING:
    from harness.faces.query_api.actions import Api

Handler = Callable[["Api", str, Params], list[Element]]
R = TypeVar("R")


def _tags(cloud: Cloud, resource: str) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in vpc_plane.tags_of(cloud, resource)]


def _arn(cloud: Cloud, account: str, kind: str, ident: str) -> str:
    return f"arn:aws:ec2:{cloud.region}:{account}:{kind}/{ident}"


# -- answers, as the SDK returns them --------------------------------------------------------


def vpc_dict(cloud: Cloud, vpc: VpcRecord) -> dict[str, Any]:
    found: dict[str, Any] = {
        "VpcId": vpc.vpc_id,
        "OwnerId": vpc.owner,
        "State": "available",
        "CidrBlock": str(vpc.cidr),
        "DhcpOptionsId": "default",
        "InstanceTenancy": "default",
        "IsDefault": vpc.default,
        "CidrBlockAssociationSet": [
            {
                "AssociationId": control_plane.stable_id("vpc-cidr-assoc-", vpc.vpc_id),
                "CidrBlock": str(vpc.cidr),
                "CidrBlockState": {"State": "associated"},
            }
        ],
        "Tags": _tags(cloud, vpc.vpc_id),
    }
    if vpc.ipv6 is not None:
        found["Ipv6CidrBlockAssociationSet"] = [
            {
                "AssociationId": control_plane.stable_id("vpc-cidr-assoc-", vpc.vpc_id, "v6"),
                "Ipv6CidrBlock": str(vpc.ipv6),
                "Ipv6CidrBlockState": {"State": "associated"},
                "NetworkBorderGroup": cloud.region,
                "Ipv6Pool": "Amazon",
            }
        ]
    return found


def subnet_dict(cloud: Cloud, subnet: SubnetRecord) -> dict[str, Any]:
    used = sum(1 for n in cloud.nics if n.subnet_id == subnet.subnet_id)
    found: dict[str, Any] = {
        "SubnetId": subnet.subnet_id,
        "VpcId": subnet.vpc_id,
        "OwnerId": subnet.owner,
        "State": "available",
        "CidrBlock": str(subnet.cidr),
        "AvailabilityZone": control_plane.zone_of(cloud.region),
        "AvailabilityZoneId": control_plane.zone_id_of(cloud.region),
        "AvailableIpAddressCount": subnet.cidr.num_addresses - 5 - used,
        "DefaultForAz": subnet.default,
        "MapPublicIpOnLaunch": subnet.map_public,
        "AssignIpv6AddressOnCreation": subnet.ipv6 is not None,
        "SubnetArn": _arn(cloud, subnet.owner, "subnet", subnet.subnet_id),
        "Tags": _tags(cloud, subnet.subnet_id),
    }
    if subnet.ipv6 is not None:
        found["Ipv6CidrBlockAssociationSet"] = [
            {
                "AssociationId": control_plane.stable_id("subnet-cidr-assoc-", subnet.subnet_id),
                "Ipv6CidrBlock": str(subnet.ipv6),
                "Ipv6CidrBlockState": {"State": "associated"},
            }
        ]
    return found


def _ports(rule: Rule) -> dict[str, int]:
    if rule.protocol in PORTED or rule.protocol in ICMPS:
        return {"FromPort": rule.from_port, "ToPort": rule.to_port}
    return {}


def _peer(rule: Rule, home: str) -> tuple[str, dict[str, str]]:
    """The list an IpPermission names a rule's peer in, and the entry."""
    described = {"Description": rule.description} if rule.description else {}
    if rule.cidr is not None and rule.cidr.version == 4:
        return "IpRanges", {"CidrIp": str(rule.cidr), **described}
    if rule.cidr is not None:
        return "Ipv6Ranges", {"CidrIpv6": str(rule.cidr), **described}
    if rule.prefix_list is not None:
        return "PrefixListIds", {"PrefixListId": rule.prefix_list, **described}
    assert rule.group is not None
    pair = {"UserId": rule.group.account, "GroupId": rule.group.group_id, **described}
    if rule.group.vpc:
        pair["VpcId"] = rule.group.vpc
    if not rule.group.vpc or rule.group.account == home:  # Classic pairs: always
        pair["GroupName"] = rule.group.name
    return "UserIdGroupPairs", pair


def _permissions(rules: Sequence[Rule], home: str) -> list[dict[str, Any]]:
    """Rules as IpPermissions (grouped as EC2 lists them), peers listed by kind."""
    found = []
    for _, _, _, same in control_plane.permissions(rules):
        item: dict[str, Any] = {
            "IpProtocol": str(same[0].protocol),
            **_ports(same[0]),
            "UserIdGroupPairs": [],
            "IpRanges": [],
            "Ipv6Ranges": [],
            "PrefixListIds": [],
        }
        for rule in same:
            kind, entry = _peer(rule, home)
            item[kind].append(entry)
        found.append(item)
    return found


def group_dict(cloud: Cloud, group: Group) -> dict[str, Any]:
    owner = group.key.account
    found: dict[str, Any] = {
        "OwnerId": owner,
        "GroupId": group.group_id,
        "GroupName": group.name,
        "Description": group.description,
        "IpPermissions": _permissions(group.rules, owner),
        "IpPermissionsEgress": _permissions(group.egress or (), owner),
        "Tags": _tags(cloud, group.group_id),
        "SecurityGroupArn": _arn(cloud, owner, "security-group", group.group_id),
    }
    if group.vpc:
        found["VpcId"] = group.vpc
    return found


def rule_dict(cloud: Cloud, record: RuleRecord) -> dict[str, Any]:
    rule, group = record.rule, record.group
    found: dict[str, Any] = {
        "SecurityGroupRuleId": record.rule_id,
        "GroupId": group.group_id,
        "GroupOwnerId": group.key.account,
        "IsEgress": record.egress,
        "IpProtocol": str(rule.protocol),
        "FromPort": rule.from_port,
        "ToPort": rule.to_port,
        "Tags": _tags(cloud, record.rule_id),
        "SecurityGroupRuleArn": _arn(
            cloud, group.key.account, "security-group-rule", record.rule_id
        ),
    }
    if rule.description:
        found["Description"] = rule.description
    if rule.cidr is not None:
        found["CidrIpv4" if rule.cidr.version == 4 else "CidrIpv6"] = str(rule.cidr)
    elif rule.prefix_list is not None:
        found["PrefixListId"] = rule.prefix_list
    elif rule.group is not None:
        info = {"GroupId": rule.group.group_id, "UserId": rule.group.account}
        if rule.group.vpc:
            info["VpcId"] = rule.group.vpc
        found["ReferencedGroupInfo"] = info
    return found


def plist_dict(cloud: Cloud, plist: PrefixListRecord) -> dict[str, Any]:
    return {
        "PrefixListId": plist.list_id,
        "AddressFamily": plist.family,
        "State": "create-complete",
        "PrefixListArn": _arn(cloud, plist.owner, "prefix-list", plist.list_id),
        "PrefixListName": plist.name,
        "MaxEntries": plist.max_entries,
        "Version": plist.version,
        "Tags": _tags(cloud, plist.list_id),
        "OwnerId": plist.owner,
    }


def nic_dict(cloud: Cloud, nic: NicRecord) -> dict[str, Any]:
    subnet = next(s for s in cloud.subnets if s.subnet_id == nic.subnet_id)
    groups = [{"GroupId": k.group_id, "GroupName": k.name} for k in nic.groups]
    found: dict[str, Any] = {
        "NetworkInterfaceId": nic.eni_id,
        "SubnetId": nic.subnet_id,
        "VpcId": subnet.vpc_id,
        "AvailabilityZone": control_plane.zone_of(cloud.region),
        "Description": nic.description,
        "OwnerId": nic.owner,
        "Status": "in-use" if nic.instance_id else "available",
        "InterfaceType": "interface",
        "PrivateIpAddress": str(nic.address),
        "PrivateIpAddresses": [{"PrivateIpAddress": str(nic.address), "Primary": True}],
        "Groups": groups,
        "Ipv6Addresses": [{"Ipv6Address": str(nic.ipv6)}] if nic.ipv6 is not None else [],
        "SourceDestCheck": True,
        "TagSet": _tags(cloud, nic.eni_id),
    }
    if nic.instance_id:
        found["Attachment"] = {
            "AttachmentId": control_plane.stable_id("eni-attach-", nic.eni_id),
            "DeviceIndex": nic.device_index,
            "InstanceId": nic.instance_id,
            "InstanceOwnerId": nic.owner,
            "Status": "attached",
            "DeleteOnTermination": True,
        }
    if nic.public is not None:
        found["Association"] = {"PublicIp": str(nic.public), "IpOwnerId": "amazon"}
    return found


# -- the actions -----------------------------------------------------------------------------------


def _paged(action: str, key: str, items: Sequence[dict[str, Any]], params: Params) -> list[Element]:
    chosen, token = page(items, params)
    return output(action, {key: chosen, "NextToken": token})


def _describe(
    api: Api,
    account: str,
    params: Params,
    *,
    action: str,
    key: str,
    id_param: str,
    find: Callable[[Cloud, str, str], R],
    owned: Callable[[Cloud, str], Sequence[R]],
    fields: Callable[[Cloud], dict[str, Callable[[R], list[str]]]],
    ident: Callable[[R], str],
    answer: Callable[[Cloud, R], dict[str, Any]],
) -> list[Element]:
    """A Describe action: the resources named by ``id_param`` (each must exist) or every one
    the account owns, narrowed by filters (``fields`` and tags), answered in pages."""
    ids = listed(params, id_param)
    chosen = filters(params)

    def read(c: Cloud) -> tuple[Cloud, list[dict[str, Any]]]:
        c = control_plane.with_account(c, account)
        items = [find(c, account, i) for i in ids] or list(owned(c, account))
        found = vpc_plane.select(c, items, chosen, fields(c), ident)
        return c, [answer(c, item) for item in found]

    return _paged(action, key, api.read(read), params)


def _tag_new(cloud: Cloud, account: str, ident: str, tags: list[tuple[str, str]]) -> Cloud:
    if not tags:
        return cloud
    return vpc_plane.create_tags(cloud, account, [ident], tags)[0]


def describe_regions(api: Api, account: str, params: Params) -> list[Element]:
    """Every region botocore knows for EC2 (each is a separate world in the lab; the lab's
    instances run in its own)."""
    import botocore.session

    names = botocore.session.get_session().get_available_regions("ec2")
    home = api.lab.region
    if home not in names:
        names = sorted([*names, home])
    wanted = listed(params, "RegionName")
    for name in wanted:
        if name not in names:
            raise Ec2Error("InvalidParameterValue", f"Invalid region: {name}")
    regions = [
        {
            "RegionName": n,
            "Endpoint": f"ec2.{n}.amazonaws.com",
            "OptInStatus": "opt-in-not-required",
        }
        for n in (wanted or names)
    ]
    known: dict[str, Callable[[dict[str, Any]], list[str]]] = {
        "region-name": partial(_field, name="RegionName"),
        "endpoint": partial(_field, name="Endpoint"),
        "opt-in-status": partial(_field, name="OptInStatus"),
    }
    cloud = api.cloud()
    found = vpc_plane.select(cloud, regions, filters(params), known, lambda r: str(r["RegionName"]))
    return output("DescribeRegions", {"Regions": found})


def _field(item: dict[str, Any], name: str) -> list[str]:
    return [str(item[name])]


def describe_availability_zones(api: Api, account: str, params: Params) -> list[Element]:
    """The lab's one zone in the request's region."""
    cloud = api.cloud()
    zone = {
        "ZoneName": control_plane.zone_of(cloud.region),
        "ZoneId": control_plane.zone_id_of(cloud.region),
        "RegionName": cloud.region,
        "State": "available",
        "OptInStatus": "opt-in-not-required",
        "Messages": [],
        "GroupName": cloud.region,
        "NetworkBorderGroup": cloud.region,
        "ZoneType": "availability-zone",
    }
    for name in listed(params, "ZoneName"):
        if name != zone["ZoneName"]:
            raise Ec2Error(
                "InvalidParameterValue",
                f"The zone '{name}' does not exist in {cloud.region}: the lab has one zone "
                f"here, {zone['ZoneName']}",
            )
    for ident in listed(params, "ZoneId"):
        if ident != zone["ZoneId"]:
            raise Ec2Error("InvalidParameterValue", f"The zone ID '{ident}' does not exist")
    fields = {
        "zone-name": "ZoneName",
        "zone-id": "ZoneId",
        "region-name": "RegionName",
        "state": "State",
        "zone-type": "ZoneType",
        "group-name": "GroupName",
    }
    known: dict[str, Callable[[dict[str, Any]], list[str]]] = {
        key: partial(_field, name=name) for key, name in fields.items()
    }
    found = vpc_plane.select(cloud, [zone], filters(params), known, lambda z: str(z["ZoneName"]))
    return output("DescribeAvailabilityZones", {"AvailabilityZones": found})


def describe_account_attributes(api: Api, account: str, params: Params) -> list[Element]:
    cloud = api.read(lambda c: (control_plane.with_account(c, account), c))
    classic = cloud.platform == EC2_CLASSIC
    default = control_plane.default_vpc_of(control_plane.with_account(cloud, account), account)
    values = {
        "supported-platforms": ["EC2", "VPC"] if classic else ["VPC"],
        "default-vpc": ["none" if default is None else default.vpc_id],
        "max-instances": [str(control_plane.MAX_INSTANCES)],
        "vpc-max-security-groups-per-interface": ["5"],
        "max-elastic-ips": ["5"],
        "vpc-max-elastic-ips": ["5"],
    }
    wanted = listed(params, "AttributeName") or list(values)
    for name in wanted:
        if name not in values:
            raise Ec2Error(
                "InvalidParameterValue", f"Value ({name}) for parameter attributeName is invalid"
            )
    return output(
        "DescribeAccountAttributes",
        {
            "AccountAttributes": [
                {
                    "AttributeName": name,
                    "AttributeValues": [{"AttributeValue": v} for v in values[name]],
                }
                for name in wanted
            ]
        },
    )


def create_vpc(api: Api, account: str, params: Params) -> list[Element]:
    cidr = params.get("CidrBlock")
    if not cidr:
        raise Ec2Error("MissingParameter", "The request must contain the parameter CidrBlock")
    if params.get("InstanceTenancy", "default") != "default":
        raise Ec2Error("InvalidParameterValue", "The lab makes VPCs of default tenancy only")
    ipv6 = bool(flag(params, "AmazonProvidedIpv6CidrBlock"))
    tags = tag_specifications(params, "vpc")

    def action(c: Cloud) -> tuple[Cloud, dict[str, Any]]:
        c, vpc = vpc_plane.create_vpc(c, account, cidr, ipv6, new_id)
        c = _tag_new(c, account, vpc.vpc_id, tags)
        return c, vpc_dict(c, vpc)

    return output("CreateVpc", {"Vpc": api.act(action)})


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


def describe_vpcs(api: Api, account: str, params: Params) -> list[Element]:
    return _describe(
        api,
        account,
        params,
        action="DescribeVpcs",
        key="Vpcs",
        id_param="VpcId",
        find=vpc_plane.find_vpc,
        owned=lambda c, a: [v for v in c.vpcs if v.owner == a],
        fields=lambda c: VPC_FILTERS,
        ident=lambda v: v.vpc_id,
        answer=vpc_dict,
    )


def delete_vpc(api: Api, account: str, params: Params) -> list[Element]:
    vpc_id = _required(params, "VpcId")
    api.act(lambda c: vpc_plane.delete_vpc(c, account, vpc_id))
    return output("DeleteVpc", {})


def describe_vpc_attribute(api: Api, account: str, params: Params) -> list[Element]:
    vpc_id = _required(params, "VpcId")
    name = _required(params, "Attribute")
    vpc = api.read(
        lambda c: (c, vpc_plane.find_vpc(control_plane.with_account(c, account), account, vpc_id))
    )
    values = {"enableDnsSupport": vpc.dns_support, "enableDnsHostnames": vpc.dns_hostnames}
    if name not in values:
        raise Ec2Error(
            "InvalidParameterValue", f"Value ({name}) for parameter attribute is invalid"
        )
    member = name[0].upper() + name[1:]
    return output("DescribeVpcAttribute", {"VpcId": vpc_id, member: {"Value": values[name]}})


def modify_vpc_attribute(api: Api, account: str, params: Params) -> list[Element]:
    vpc_id = _required(params, "VpcId")
    changes = [
        (name, flag(params, f"{name[0].upper()}{name[1:]}.Value"))
        for name in ("enableDnsSupport", "enableDnsHostnames")
    ]
    chosen = [(n, v) for n, v in changes if v is not None]
    if len(chosen) != 1:
        raise Ec2Error(
            "InvalidParameterCombination",
            "Exactly one of EnableDnsSupport and EnableDnsHostnames is changed per request",
        )
    name, value = chosen[0]
    assert value is not None
    api.act(lambda c: vpc_plane.modify_vpc_attribute(c, account, vpc_id, name, value))
    return output("ModifyVpcAttribute", {})


def create_subnet(api: Api, account: str, params: Params) -> list[Element]:
    vpc_id = _required(params, "VpcId")
    cidr = _required(params, "CidrBlock")
    zone = params.get("AvailabilityZone")
    home = control_plane.zone_of(api.cloud().region)
    if zone and zone != home:
        raise Ec2Error(
            "InvalidParameterValue",
            f"Value ({zone}) for parameter availabilityZone is invalid. "
            f"The lab has one zone in this region, {home}",
        )
    tags = tag_specifications(params, "subnet")
    ipv6 = params.get("Ipv6CidrBlock")

    def action(c: Cloud) -> tuple[Cloud, dict[str, Any]]:
        c, subnet = vpc_plane.create_subnet(
            c, account, vpc_id=vpc_id, cidr=cidr, ipv6_cidr=ipv6, new_id=new_id
        )
        c = _tag_new(c, account, subnet.subnet_id, tags)
        return c, subnet_dict(c, subnet)

    return output("CreateSubnet", {"Subnet": api.act(action)})


def _subnet_filters(cloud: Cloud) -> dict[str, Callable[[SubnetRecord], list[str]]]:
    return {
        "subnet-id": lambda s: [s.subnet_id],
        "vpc-id": lambda s: [s.vpc_id],
        "cidr-block": lambda s: [str(s.cidr)],
        "default-for-az": lambda s: ["true" if s.default else "false"],
        "availability-zone": lambda s: [control_plane.zone_of(cloud.region)],
        "state": lambda s: ["available"],
    }


def describe_subnets(api: Api, account: str, params: Params) -> list[Element]:
    return _describe(
        api,
        account,
        params,
        action="DescribeSubnets",
        key="Subnets",
        id_param="SubnetId",
        find=vpc_plane.find_subnet,
        owned=lambda c, a: [s for s in c.subnets if s.owner == a],
        fields=_subnet_filters,
        ident=lambda s: s.subnet_id,
        answer=subnet_dict,
    )


def delete_subnet(api: Api, account: str, params: Params) -> list[Element]:
    subnet_id = _required(params, "SubnetId")
    api.act(lambda c: vpc_plane.delete_subnet(c, account, subnet_id))
    return output("DeleteSubnet", {})


def modify_subnet_attribute(api: Api, account: str, params: Params) -> list[Element]:
    subnet_id = _required(params, "SubnetId")
    value = flag(params, "MapPublicIpOnLaunch.Value")
    if value is None:
        raise Ec2Error(
            "MissingParameter", "The request must contain the parameter MapPublicIpOnLaunch"
        )
    api.act(lambda c: vpc_plane.modify_subnet_attribute(c, account, subnet_id, value))
    return output("ModifySubnetAttribute", {})


def _required(params: Params, name: str) -> str:
    value = params.get(name)
    if not value:
        raise Ec2Error("MissingParameter", f"The request must contain the parameter {name}")
    return value


# -- rules -----------------------------------------------------------------------------------------


RULE_FILTERS: dict[str, Callable[[RuleRecord], list[str]]] = {
    "group-id": lambda r: [r.group.group_id],
    "security-group-rule-id": lambda r: [r.rule_id],
}


def describe_security_group_rules(api: Api, account: str, params: Params) -> list[Element]:
    return _describe(
        api,
        account,
        params,
        action="DescribeSecurityGroupRules",
        key="SecurityGroupRules",
        id_param="SecurityGroupRuleId",
        find=vpc_plane.find_rule,
        owned=vpc_plane.rules_of,
        fields=lambda c: RULE_FILTERS,
        ident=lambda r: r.rule_id,
        answer=rule_dict,
    )


def _rule_permission(item: Params, where: str) -> VpcPermission:
    allowed = (
        "IpProtocol",
        "FromPort",
        "ToPort",
        "CidrIpv4",
        "CidrIpv6",
        "PrefixListId",
        "ReferencedGroupId",
        "Description",
    )
    for key in item:
        if key.split(".")[0] not in allowed:
            raise Ec2Error("UnknownParameter", f"The parameter {where}.{key} is not recognized")
    protocol = item.get("IpProtocol")
    if not protocol:
        raise Ec2Error("MissingParameter", f"{where} needs an IpProtocol")
    description = item.get("Description", "")
    cidr = item.get("CidrIpv4") or item.get("CidrIpv6")
    return VpcPermission(
        protocol,
        _int(item, "FromPort"),
        _int(item, "ToPort"),
        ((cidr, description),) if cidr else (),
        ((item["PrefixListId"], description),) if item.get("PrefixListId") else (),
        ((None, item["ReferencedGroupId"], description),) if item.get("ReferencedGroupId") else (),
    )


def modify_security_group_rules(api: Api, account: str, params: Params) -> list[Element]:
    group_id = _required(params, "GroupId")
    changes = []
    for number, item in indexed(params, "SecurityGroupRule").items():
        where = f"SecurityGroupRule.{number}"
        ident = item.get("SecurityGroupRuleId")
        if not ident:
            raise Ec2Error("MissingParameter", f"{where} needs a SecurityGroupRuleId")
        inner = {
            k.partition(".")[2]: v for k, v in item.items() if k.startswith("SecurityGroupRule.")
        }
        changes.append((ident, _rule_permission(inner, f"{where}.SecurityGroupRule")))
    if not changes:
        raise Ec2Error(
            "MissingParameter", "The request must contain the parameter SecurityGroupRule"
        )
    api.act(lambda c: vpc_plane.modify_rules(c, account, group_id, changes))
    return output("ModifySecurityGroupRules", {"Return": True})


def update_descriptions(egress: bool) -> Handler:
    action_name = f"UpdateSecurityGroupRuleDescriptions{'Egress' if egress else 'Ingress'}"

    def handler(api: Api, account: str, params: Params) -> list[Element]:
        ref = params.get("GroupId") or _required(params, "GroupName")
        by_content = permission_items(params)
        by_id = []
        for number, item in indexed(params, "SecurityGroupRuleDescription").items():
            ident = item.get("SecurityGroupRuleId")
            if not ident:
                raise Ec2Error(
                    "MissingParameter", f"SecurityGroupRuleDescription.{number} needs an id"
                )
            by_id.append((ident, item.get("Description", "")))
        if not by_content and not by_id:
            raise Ec2Error("MissingParameter", "The request must contain IpPermissions or rule ids")
        api.act(
            lambda c: vpc_plane.describe_rules(
                c, account, ref, by_content=by_content, by_id=by_id, egress=egress
            )
        )
        return output(action_name, {"Return": True})

    return handler


# -- tags ------------------------------------------------------------------------------------------


def create_tags(api: Api, account: str, params: Params) -> list[Element]:
    resources = listed(params, "ResourceId")
    tags = [(k, v or "") for k, v in key_values(params, "Tag")]
    api.act(lambda c: vpc_plane.create_tags(c, account, resources, tags))
    return output("CreateTags", {})


def delete_tags(api: Api, account: str, params: Params) -> list[Element]:
    resources = listed(params, "ResourceId")
    tags = key_values(params, "Tag")
    api.act(lambda c: vpc_plane.delete_tags(c, account, resources, tags))
    return output("DeleteTags", {})


def _resource_type(ident: str) -> str:
    return {
        "vpc": "vpc",
        "subnet": "subnet",
        "sg": "security-group",
        "sgr": "security-group-rule",
        "pl": "prefix-list",
        "i": "instance",
        "eni": "network-interface",
    }.get(ident.split("-", 1)[0], "unknown")


def describe_tags(api: Api, account: str, params: Params) -> list[Element]:
    chosen = filters(params)

    def action(c: Cloud) -> tuple[Cloud, list[dict[str, Any]]]:
        mine = vpc_plane.owned_resources(c, account)
        tags = [t for t in c.tags if t.resource in mine]
        known: dict[str, Callable[[Any], list[str]]] = {
            "resource-id": lambda t: [t.resource],
            "resource-type": lambda t: [_resource_type(t.resource)],
            "key": lambda t: [t.key],
            "value": lambda t: [t.value],
        }
        found = vpc_plane.select(c, tags, chosen, known, lambda t: t.resource)
        return c, [
            {
                "ResourceId": t.resource,
                "ResourceType": _resource_type(t.resource),
                "Key": t.key,
                "Value": t.value,
            }
            for t in found
        ]

    return _paged("DescribeTags", "Tags", api.read(action), params)


# -- managed prefix lists --------------------------------------------------------------------------


def _entries(params: Params, prefix: str) -> list[tuple[str, str]]:
    found = []
    for number, item in indexed(params, prefix).items():
        for key in item:
            if key not in ("Cidr", "Description"):
                raise Ec2Error(
                    "UnknownParameter", f"The parameter {prefix}.{number}.{key} is not recognized"
                )
        if not item.get("Cidr"):
            raise Ec2Error("MissingParameter", f"{prefix}.{number} needs a Cidr")
        found.append((item["Cidr"], item.get("Description", "")))
    return found


def create_managed_prefix_list(api: Api, account: str, params: Params) -> list[Element]:
    name = _required(params, "PrefixListName")
    family = _required(params, "AddressFamily")
    most = _int(params, "MaxEntries")
    if most is None:
        raise Ec2Error("MissingParameter", "The request must contain the parameter MaxEntries")
    entries = _entries(params, "Entry")
    tags = tag_specifications(params, "prefix-list")

    def action(c: Cloud) -> tuple[Cloud, dict[str, Any]]:
        c, plist = vpc_plane.create_prefix_list(
            c, account, name=name, family=family, max_entries=most, entries=entries, new_id=new_id
        )
        c = _tag_new(c, account, plist.list_id, tags)
        return c, plist_dict(c, plist)

    return output("CreateManagedPrefixList", {"PrefixList": api.act(action)})


PREFIX_LIST_FILTERS: dict[str, Callable[[PrefixListRecord], list[str]]] = {
    "prefix-list-id": lambda p: [p.list_id],
    "prefix-list-name": lambda p: [p.name],
    "owner-id": lambda p: [p.owner],
}


def describe_managed_prefix_lists(api: Api, account: str, params: Params) -> list[Element]:
    return _describe(
        api,
        account,
        params,
        action="DescribeManagedPrefixLists",
        key="PrefixLists",
        id_param="PrefixListId",
        find=vpc_plane.find_prefix_list,
        owned=lambda c, a: [p for p in c.prefix_lists if p.owner == a],
        fields=lambda c: PREFIX_LIST_FILTERS,
        ident=lambda p: p.list_id,
        answer=plist_dict,
    )


def modify_managed_prefix_list(api: Api, account: str, params: Params) -> list[Element]:
    list_id = _required(params, "PrefixListId")
    add = _entries(params, "AddEntry")
    remove = [cidr for cidr, _ in _entries(params, "RemoveEntry")]

    def action(c: Cloud) -> tuple[Cloud, dict[str, Any]]:
        c, plist = vpc_plane.modify_prefix_list(
            c,
            account,
            list_id=list_id,
            version=_int(params, "CurrentVersion"),
            name=params.get("PrefixListName"),
            add=add,
            remove=remove,
            max_entries=_int(params, "MaxEntries"),
        )
        return c, plist_dict(c, plist)

    return output("ModifyManagedPrefixList", {"PrefixList": api.act(action)})


def delete_managed_prefix_list(api: Api, account: str, params: Params) -> list[Element]:
    list_id = _required(params, "PrefixListId")

    def action(c: Cloud) -> tuple[Cloud, dict[str, Any]]:
        c, plist = vpc_plane.delete_prefix_list(c, account, list_id)
        return c, {**plist_dict(c, plist), "State": "delete-complete"}

    return output("DeleteManagedPrefixList", {"PrefixList": api.act(action)})


def get_managed_prefix_list_entries(api: Api, account: str, params: Params) -> list[Element]:
    list_id = _required(params, "PrefixListId")
    plist = api.read(lambda c: (c, vpc_plane.find_prefix_list(c, account, list_id, shared=True)))
    entries = [
        {"Cidr": str(net), **({"Description": text} if text else {})} for net, text in plist.entries
    ]
    chosen, token = page(entries, params, least=1, most=100)
    return output("GetManagedPrefixListEntries", {"Entries": chosen, "NextToken": token})


# -- interfaces ------------------------------------------------------------------------------------


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


def describe_network_interfaces(api: Api, account: str, params: Params) -> list[Element]:
    return _describe(
        api,
        account,
        params,
        action="DescribeNetworkInterfaces",
        key="NetworkInterfaces",
        id_param="NetworkInterfaceId",
        find=vpc_plane.find_nic,
        owned=lambda c, a: [n for n in c.nics if n.owner == a],
        fields=_nic_filters,
        ident=lambda n: n.eni_id,
        answer=nic_dict,
    )


def modify_network_interface_attribute(api: Api, account: str, params: Params) -> list[Element]:
    eni = _required(params, "NetworkInterfaceId")
    refs = listed(params, "SecurityGroupId")
    api.act(lambda c: vpc_plane.set_nic_groups(c, account, eni, refs))
    return output("ModifyNetworkInterfaceAttribute", {})


def modify_instance_attribute(api: Api, account: str, params: Params) -> list[Element]:
    instance_id = _required(params, "InstanceId")
    refs = listed(params, "GroupId")
    if not refs:
        raise Ec2Error(
            "InvalidParameterCombination",
            "The lab changes an instance's groups only (GroupId.N)",
        )
    api.act(lambda c: vpc_plane.set_instance_groups(c, account, instance_id, refs))
    return output("ModifyInstanceAttribute", {})


def caller_identity(account: str, request_id: str) -> str:
    """sts:GetCallerIdentity's answer (STS's own namespace and result wrapper)."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
        "<GetCallerIdentityResult>"
        f"<Arn>arn:aws:iam::{account}:root</Arn><UserId>{account}</UserId>"
        f"<Account>{account}</Account>"
        "</GetCallerIdentityResult>"
        f"<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata>"
        "</GetCallerIdentityResponse>"
    )


VPC_ACTIONS: dict[str, tuple[Handler, tuple[str, ...]]] = {
    "DescribeAccountAttributes": (describe_account_attributes, ("AttributeName",)),
    "DescribeRegions": (describe_regions, ("RegionName", "Filter", "AllRegions")),
    "DescribeAvailabilityZones": (
        describe_availability_zones,
        ("ZoneName", "ZoneId", "Filter", "AllAvailabilityZones"),
    ),
    "CreateVpc": (
        create_vpc,
        ("CidrBlock", "AmazonProvidedIpv6CidrBlock", "InstanceTenancy", "TagSpecification"),
    ),
    "DescribeVpcs": (describe_vpcs, ("VpcId", "Filter", "MaxResults", "NextToken")),
    "DeleteVpc": (delete_vpc, ("VpcId",)),
    "DescribeVpcAttribute": (describe_vpc_attribute, ("VpcId", "Attribute")),
    "ModifyVpcAttribute": (
        modify_vpc_attribute,
        ("VpcId", "EnableDnsSupport", "EnableDnsHostnames"),
    ),
    "CreateSubnet": (
        create_subnet,
        ("VpcId", "CidrBlock", "Ipv6CidrBlock", "AvailabilityZone", "TagSpecification"),
    ),
    "DescribeSubnets": (describe_subnets, ("SubnetId", "Filter", "MaxResults", "NextToken")),
    "DeleteSubnet": (delete_subnet, ("SubnetId",)),
    "ModifySubnetAttribute": (modify_subnet_attribute, ("SubnetId", "MapPublicIpOnLaunch")),
    "DescribeSecurityGroupRules": (
        describe_security_group_rules,
        ("SecurityGroupRuleId", "Filter", "MaxResults", "NextToken"),
    ),
    "ModifySecurityGroupRules": (modify_security_group_rules, ("GroupId", "SecurityGroupRule")),
    "UpdateSecurityGroupRuleDescriptionsIngress": (
        update_descriptions(egress=False),
        ("GroupId", "GroupName", "IpPermissions", "SecurityGroupRuleDescription"),
    ),
    "UpdateSecurityGroupRuleDescriptionsEgress": (
        update_descriptions(egress=True),
        ("GroupId", "GroupName", "IpPermissions", "SecurityGroupRuleDescription"),
    ),
    "CreateTags": (create_tags, ("ResourceId", "Tag")),
    "DeleteTags": (delete_tags, ("ResourceId", "Tag")),
    "DescribeTags": (describe_tags, ("Filter", "MaxResults", "NextToken")),
    "CreateManagedPrefixList": (
        create_managed_prefix_list,
        (
            "PrefixListName",
            "Entry",
            "MaxEntries",
            "AddressFamily",
            "TagSpecification",
            "ClientToken",
        ),
    ),
    "DescribeManagedPrefixLists": (
        describe_managed_prefix_lists,
        ("PrefixListId", "Filter", "MaxResults", "NextToken"),
    ),
    "ModifyManagedPrefixList": (
        modify_managed_prefix_list,
        (
            "PrefixListId",
            "CurrentVersion",
            "PrefixListName",
            "AddEntry",
            "RemoveEntry",
            "MaxEntries",
        ),
    ),
    "DeleteManagedPrefixList": (delete_managed_prefix_list, ("PrefixListId",)),
    "GetManagedPrefixListEntries": (
        get_managed_prefix_list_entries,
        ("PrefixListId", "TargetVersion", "MaxResults", "NextToken"),
    ),
    "DescribeNetworkInterfaces": (
        describe_network_interfaces,
        ("NetworkInterfaceId", "Filter", "MaxResults", "NextToken"),
    ),
    "ModifyNetworkInterfaceAttribute": (
        modify_network_interface_attribute,
        ("NetworkInterfaceId", "SecurityGroupId"),
    ),
    "ModifyInstanceAttribute": (modify_instance_attribute, ("InstanceId", "GroupId")),
}
