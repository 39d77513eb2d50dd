"""Security groups and their rules: create, describe, delete; authorize, revoke, modify and
describe rules, each one action whichever platform the group is on."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from harness.core.ec2 import plane as ec2
from harness.core.ec2 import platform as platforms
from harness.core.ec2.actions.describe import describe
from harness.core.ec2.actions.requests import (
    Answer,
    Caller,
    Request,
    filters,
    group_ref,
    ip_permissions,
    missing,
    page,
    permissions,
    required,
    tag_specifications,
)
from harness.core.ec2.actions.tags import arn, tag_new, tags
from harness.core.ec2.plane import Cloud, Permission, RuleRecord
from harness.core.model import ICMPS, PORTED, Group, GroupKey, Rule
from harness.errors import Ec2Error

# -- answers, as the SDK returns them --------------------------------------------------------


def _ports(rule: Rule) -> dict[str, int]:
    if rule.protocol in PORTED or rule.protocol in ICMPS:
        return {"FromPort": rule.from_port, "ToPort": rule.to_port}
    return {}


def _pair(cloud: Cloud, key: GroupKey, holder: Group) -> dict[str, str]:
    """A referenced group as EC2 describes it: its id and owner; its name for a Classic or
    default-VPC group; its VPC only when it is in another VPC than the rule's (peering)."""
    pair = {"UserId": key.account, "GroupId": key.group_id}
    if ec2.named_pair(cloud, key):
        pair["GroupName"] = key.name
    if key.vpc and key.vpc != holder.vpc:
        pair["VpcId"] = key.vpc
    return pair


def _peer(cloud: Cloud, rule: Rule, holder: Group) -> tuple[str, dict[str, str]]:
    """The list an IpPermission names a rule's peer in, and the entry."""
    described = {"Description": rule.description} if rule.description else {}
    if rule.cidr is not None and rule.cidr.version == 4:
        return "IpRanges", {"CidrIp": str(rule.cidr), **described}
    if rule.cidr is not None:
        return "Ipv6Ranges", {"CidrIpv6": str(rule.cidr), **described}
    if rule.prefix_list is not None:
        return "PrefixListIds", {"PrefixListId": rule.prefix_list, **described}
    assert rule.group is not None
    return "UserIdGroupPairs", {**_pair(cloud, rule.group, holder), **described}


def _permissions(cloud: Cloud, rules: Sequence[Rule], holder: Group) -> list[dict[str, Any]]:
    """Rules as IpPermissions (grouped as EC2 lists them), peers listed by kind."""
    found = []
    for _, _, _, same in ec2.permissions(rules):
        item: dict[str, Any] = {
            "IpProtocol": str(same[0].protocol),
            **_ports(same[0]),
            "UserIdGroupPairs": [],
            "IpRanges": [],
            "Ipv6Ranges": [],
            "PrefixListIds": [],
        }
        for rule in same:
            kind, entry = _peer(cloud, rule, holder)
            item[kind].append(entry)
        found.append(item)
    return found


def group_dict(cloud: Cloud, group: Group) -> Answer:
    owner = group.key.account
    found: Answer = {
        "OwnerId": owner,
        "GroupId": group.group_id,
        "GroupName": group.name,
        "Description": group.description,
        "IpPermissions": _permissions(cloud, group.rules, group),
        "IpPermissionsEgress": _permissions(cloud, group.egress or (), group),
        "Tags": tags(cloud, group.group_id),
        "SecurityGroupArn": arn(cloud, owner, "security-group", group.group_id),
    }
    if group.vpc:
        found["VpcId"] = group.vpc
    return found


def rule_dict(cloud: Cloud, record: RuleRecord) -> Answer:
    rule, group = record.rule, record.group
    found: Answer = {
        "SecurityGroupRuleId": record.rule_id,
        "GroupId": group.group_id,
        "GroupOwnerId": group.key.account,
        "IsEgress": record.egress,
        "IpProtocol": str(rule.protocol),
        "FromPort": rule.from_port,
        "ToPort": rule.to_port,
        "Tags": tags(cloud, record.rule_id),
        "SecurityGroupRuleArn": arn(
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
        if rule.group.vpc and rule.group.vpc != group.vpc:  # another VPC: peering
            info["VpcId"] = rule.group.vpc
        found["ReferencedGroupInfo"] = info
    return found


# -- groups ----------------------------------------------------------------------------------


def create_security_group(cloud: Cloud, caller: Caller, request: Request) -> tuple[Cloud, Answer]:
    account = caller.account
    new_tags = tag_specifications(request, "security-group")
    cloud, group = ec2.create_group(
        cloud,
        account,
        request.get("GroupName", ""),
        request.get("Description", ""),
        request.get("VpcId") or None,
    )
    cloud = tag_new(cloud, account, group.group_id, new_tags)
    found = group_dict(cloud, group)
    return cloud, {k: found[k] for k in ("GroupId", "Tags", "SecurityGroupArn")}


def describe_security_groups(
    cloud: Cloud, caller: Caller, request: Request
) -> tuple[Cloud, Answer]:
    refs = [
        *(request.get("GroupNames") or ()),
        *(ec2.check_group_id(i) for i in request.get("GroupIds") or ()),
    ]
    cloud, groups = ec2.describe_groups(cloud, caller.account, refs, filters(request))
    found, token = page([group_dict(cloud, g) for g in groups], request)
    return cloud, {"SecurityGroups": found, "NextToken": token}


def delete_security_group(cloud: Cloud, caller: Caller, request: Request) -> tuple[Cloud, Answer]:
    cloud, group = ec2.delete_group(cloud, caller.account, group_ref(request))
    return cloud, {"Return": True, "GroupId": group.group_id}


# -- rules -----------------------------------------------------------------------------------


def _change(egress: bool, revoke: bool) -> Callable[[Cloud, Caller, Request], tuple[Cloud, Answer]]:
    def action(cloud: Cloud, caller: Caller, request: Request) -> tuple[Cloud, Answer]:
        account = caller.account
        ref = group_ref(request)
        cloud = ec2.with_account(cloud, account)
        group = ec2.find_group(cloud, account, ref)  # the group first, then its rules
        platform = platforms.of_group(group)
        if not platform.rule_ids and (
            request.get("SecurityGroupRuleIds") or request.get("TagSpecifications")
        ):
            raise Ec2Error(*platform.says("rule_ids"))
        rule_ids = request.get("SecurityGroupRuleIds") or []
        wanted = [] if rule_ids and not request.get("IpPermissions") else permissions(request)
        if revoke:
            cloud, (group, rules, unknown) = ec2.revoke(
                cloud, account, ref=ref, permissions=wanted, rule_ids=rule_ids, egress=egress
            )
            answer: Answer = {"Return": True}
            if platform.rule_ids:
                answer["RevokedSecurityGroupRules"] = [
                    {
                        "SecurityGroupRuleId": RuleRecord(group, r, egress).rule_id,
                        "GroupId": group.group_id,
                        "IsEgress": egress,
                    }
                    for r in rules
                ]
            if unknown:  # a default VPC: not an error, but named (the EC2 API reference)
                answer["UnknownIpPermissions"] = _permissions(cloud, unknown, group)
            return cloud, answer
        cloud, (group, rules) = ec2.authorize(cloud, account, ref, wanted, egress)
        if not platform.rule_ids:  # EC2-Classic answers without rules (they have no ids)
            return cloud, {"Return": True}
        records = [RuleRecord(group, r, egress) for r in rules]
        new_tags = tag_specifications(request, "security-group-rule")
        if new_tags:
            cloud, _ = ec2.create_tags(cloud, account, [r.rule_id for r in records], new_tags)
        return cloud, {"Return": True, "SecurityGroupRules": [rule_dict(cloud, r) for r in records]}

    return action


authorize_security_group_ingress = _change(egress=False, revoke=False)
revoke_security_group_ingress = _change(egress=False, revoke=True)
authorize_security_group_egress = _change(egress=True, revoke=False)
revoke_security_group_egress = _change(egress=True, revoke=True)

RULE_FILTERS: dict[str, Callable[[RuleRecord], list[str]]] = {
    "group-id": lambda r: [r.group.group_id],
    "security-group-rule-id": lambda r: [r.rule_id],
}


def describe_security_group_rules(
    cloud: Cloud, caller: Caller, request: Request
) -> tuple[Cloud, Answer]:
    for value in filters(request).get("group-id", []):
        if not ec2.GROUP_ID_RE.match(value):
            raise Ec2Error(
                "InvalidGroupId.Malformed", f"The security group ID '{value}' is malformed"
            )
    return describe(
        cloud,
        caller,
        request,
        key="SecurityGroupRules",
        id_member="SecurityGroupRuleIds",
        find=ec2.find_rule,
        owned=ec2.rules_of,
        fields=lambda c: RULE_FILTERS,
        ident=lambda r: r.rule_id,
        answer=rule_dict,
    )


PEERS = ("CidrIpv4", "CidrIpv6", "PrefixListId", "ReferencedGroupId")


def _rule_permission(item: Request) -> Permission:
    """A SecurityGroupRuleRequest, checked as EC2 checks it: a protocol, exactly one peer."""
    protocol = item.get("IpProtocol")
    if not protocol:
        raise Ec2Error(
            "InvalidParameterValue",
            "Invalid value 'null' for protocol. VPC security group rules must specify "
            "protocols explicitly.",
        )
    peers = [name for name in PEERS if item.get(name)]
    if not peers:
        raise Ec2Error(
            "MissingParameter",
            "The request must contain exactly one of: cidrIp, cidrIpv6, prefixListId, or "
            "referencedGroupId",
        )
    if len(peers) > 1:
        raise Ec2Error(
            "InvalidParameterCombination",
            "Only one of cidrIp, cidrIpv6, prefixListId, or referencedGroupId can be specified",
        )
    description = item.get("Description", "")
    cidr = item.get("CidrIpv4") or item.get("CidrIpv6")
    return Permission(
        protocol,
        item.get("FromPort"),
        item.get("ToPort"),
        ((cidr, description),) if cidr else (),
        ((item["PrefixListId"], description),) if item.get("PrefixListId") else (),
        ((None, item["ReferencedGroupId"], description),) if item.get("ReferencedGroupId") else (),
    )


def modify_security_group_rules(
    cloud: Cloud, caller: Caller, request: Request
) -> tuple[Cloud, Answer]:
    group_id = required(request, "GroupId")
    changes = []
    for number, item in enumerate(request.get("SecurityGroupRules") or [], 1):
        where = f"SecurityGroupRule.{number}"
        ident = item.get("SecurityGroupRuleId")
        if not ident:
            raise Ec2Error("MissingParameter", f"{where} needs a SecurityGroupRuleId")
        changes.append((ident, _rule_permission(item.get("SecurityGroupRule") or {})))
    if not changes:
        raise missing("SecurityGroupRule")
    cloud, _ = ec2.modify_rules(cloud, caller.account, group_id, changes)
    return cloud, {"Return": True}


def _update_descriptions(egress: bool) -> Callable[[Cloud, Caller, Request], tuple[Cloud, Answer]]:
    def action(cloud: Cloud, caller: Caller, request: Request) -> tuple[Cloud, Answer]:
        ref = request.get("GroupId") or required(request, "GroupName")
        by_content = ip_permissions(request)
        by_id = []
        for number, item in enumerate(request.get("SecurityGroupRuleDescriptions") or [], 1):
            ident = item.get("SecurityGroupRuleId")
            if not ident:
                raise Ec2Error(
                    "MissingParameter", f"SecurityGroupRuleDescription.{number} needs an id"
                )
            by_id.append((ident, item.get("Description", "")))
        if not by_content and not by_id:
            raise Ec2Error("MissingParameter", "The request must contain IpPermissions or rule ids")
        cloud, _ = ec2.describe_rules(
            cloud, caller.account, ref, by_content=by_content, by_id=by_id, egress=egress
        )
        return cloud, {"Return": True}

    return action


update_security_group_rule_descriptions_ingress = _update_descriptions(egress=False)
update_security_group_rule_descriptions_egress = _update_descriptions(egress=True)
