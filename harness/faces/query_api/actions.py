"""The Query API's actions over one persistent lab, and the registry of them."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar
from xml.etree.ElementTree import Element

from harness.core import control_plane, vpc_plane
from harness.core.control_plane import STATE_CODES, Cloud, InstanceRecord
from harness.core.phases import QUIET
from harness.errors import Ec2Error
from harness.faces.query_api.params import (
    Params,
    _int,
    filters,
    group_ids,
    indexed,
    listed,
    permissions,
    target_group,
)
from harness.faces.query_api.responses import E, items, reservation_xml
from harness.faces.query_api.shapes import output
from harness.faces.query_api.vpc_actions import VPC_ACTIONS, group_dict, rule_dict
from harness.faces.query_api.vpc_params import (
    check_known,
    flag,
    nic_requests,
    page,
    permission_items,
    tag_specifications,
    vpc_permissions,
)
from harness.lab.persistent import PersistentLab, new_id, now

T = TypeVar("T")


class Api:
    """The actions, over one persistent lab. Calls are serialised (one lab lock anyway)."""

    def __init__(self, lab: PersistentLab) -> None:
        self.lab = lab
        self.guard = threading.Lock()
        self.dry = False
        self.region: str | None = None  # the request's region; None: the lab's own

    def call(
        self, account: str, action: str, params: Params, region: str | None = None
    ) -> list[Element]:
        """One action, in the region the request was signed for (regions are separate: each
        has its own groups, VPCs and prefix lists; instances run in the lab's own only)."""
        entry = ACTIONS.get(action)
        if entry is None:
            raise Ec2Error(
                "InvalidAction", f"The action {action} is not valid for this web service."
            )
        handler, allowed = entry
        check_known(params, allowed)
        if region is not None:
            control_plane.check_region(region)
        with self.guard:
            self.dry = bool(flag(params, "DryRun"))
            self.region = None if self.lab.is_home(region) else region
            try:
                return handler(self, account, params)
            finally:
                self.dry, self.region = False, None

    def _dry_run(self, action: Callable[[Cloud], tuple[Cloud, Any]]) -> None:
        """DryRun: the request is checked against the lab's state, and nothing is done."""
        action(self.cloud())
        raise Ec2Error("DryRunOperation", "Request would have succeeded, but DryRun flag is set.")

    def act(self, action: Callable[[Cloud], tuple[Cloud, T]]) -> T:
        if self.dry:
            self._dry_run(action)
        return self.lab.act(action, QUIET, self.region)

    def read(self, action: Callable[[Cloud], tuple[Cloud, T]]) -> T:
        if self.dry:
            self._dry_run(action)
        return self.lab.read(action, self.region)

    def cloud(self) -> Cloud:
        """The state of the request's region."""
        return self.lab.cloud(self.region)

    def _cloud(self, account: str) -> Cloud:
        return control_plane.with_account(self.cloud(), account)


def _CreateSecurityGroup(api: Api, account: str, params: Params) -> list[Element]:
    name = params.get("GroupName", "")
    description = params.get("GroupDescription", "")
    vpc_id = params.get("VpcId") or None
    tags = tag_specifications(params, "security-group")

    def action(c: Cloud) -> tuple[Cloud, dict[str, Any]]:
        c, group = vpc_plane.create_group(c, account, name, description, vpc_id)
        if tags:
            c, _ = vpc_plane.create_tags(c, account, [group.group_id], tags)
        found = group_dict(c, group)
        return c, {k: found[k] for k in ("GroupId", "Tags", "SecurityGroupArn")}

    return [E("return", "true"), *output("CreateSecurityGroup", api.act(action))]


def _DescribeSecurityGroups(api: Api, account: str, params: Params) -> list[Element]:
    refs = listed(params, "GroupName") + group_ids(params, "GroupId")
    chosen = filters(params)

    def action(c: Cloud) -> tuple[Cloud, list[dict[str, Any]]]:
        c, groups = vpc_plane.describe_groups(c, account, refs, chosen)
        return c, [group_dict(c, g) for g in groups]

    found, token = page(api.read(action), params)
    return output("DescribeSecurityGroups", {"SecurityGroups": found, "NextToken": token})


def _is_classic(api: Api, account: str, ref: str) -> bool:
    return vpc_plane.find_group(api._cloud(account), account, ref).vpc is None


def _classic_change(api: Api, account: str, params: Params, ref: str, revoke: bool) -> None:
    """A Classic group's rules: IPv4 ranges and groups, as in 2012; anything the VPC era added
    is refused, not dropped."""
    if indexed(params, "IpPermissions"):
        for item in permission_items(params):
            if item.prefix_lists or any(":" in c for c, _ in item.cidrs):
                raise Ec2Error(
                    "InvalidParameterValue",
                    "EC2-Classic groups take IPv4 ranges and groups only (no IPv6 ranges or "
                    "prefix lists)",
                )
            if any(d for _, d in item.cidrs) or any(d for *_, d in item.groups):
                raise Ec2Error("InvalidParameterValue", "EC2-Classic rules have no descriptions")
    if listed(params, "SecurityGroupRuleId") or indexed(params, "TagSpecification"):
        raise Ec2Error("InvalidParameterValue", "EC2-Classic rules have no rule ids and no tags")
    wanted = permissions(params)
    change = control_plane.revoke if revoke else control_plane.authorize

    def action(c: Cloud) -> tuple[Cloud, None]:
        rules = control_plane.permission_rules(c, account, wanted)
        new, _, _ = change(c, account, ref, rules)
        return new, None

    api.act(action)


def _change(egress: bool, revoke: bool) -> Callable[[Api, str, Params], list[Element]]:
    name = (
        ("Revoke" if revoke else "Authorize")
        + "SecurityGroup"
        + ("Egress" if egress else "Ingress")
    )

    def handler(api: Api, account: str, params: Params) -> list[Element]:
        ref = target_group(params)
        if not egress and _is_classic(api, account, ref):
            _classic_change(api, account, params, ref, revoke)
            return [E("return", "true")]
        rule_ids = listed(params, "SecurityGroupRuleId")
        wanted = (
            [] if rule_ids and not indexed(params, "IpPermissions") else vpc_permissions(params)
        )
        tags = [] if revoke else tag_specifications(params, "security-group-rule")

        def action(c: Cloud) -> tuple[Cloud, list[dict[str, Any]]]:
            if revoke:
                c, (group, rules) = vpc_plane.revoke(
                    c, account, ref=ref, permissions=wanted, rule_ids=rule_ids, egress=egress
                )
            else:
                c, (group, rules) = vpc_plane.authorize(c, account, ref, wanted, egress)
            records = [vpc_plane.RuleRecord(group, r, egress) for r in rules]
            if tags:
                c, _ = vpc_plane.create_tags(c, account, [r.rule_id for r in records], tags)
            return c, [rule_dict(c, r) for r in records]

        rules = api.act(action)
        key = "RevokedSecurityGroupRules" if revoke else "SecurityGroupRules"
        if revoke:
            return output(
                name,
                {
                    "Return": True,
                    key: [
                        {
                            "SecurityGroupRuleId": r["SecurityGroupRuleId"],
                            "GroupId": r["GroupId"],
                            "IsEgress": egress,
                        }
                        for r in rules
                    ],
                },
            )
        return output(name, {"Return": True, key: rules})

    return handler


def _DeleteSecurityGroup(api: Api, account: str, params: Params) -> list[Element]:
    ref = target_group(params)
    group = api.act(lambda c: vpc_plane.delete_group(c, account, ref))
    return [E("return", "true"), E("groupId", group.group_id)]


def _RunInstances(api: Api, account: str, params: Params) -> list[Element]:
    image = params.get("ImageId")
    if not image:
        raise Ec2Error("MissingParameter", "The request must contain the parameter ImageId")
    low = _int(params, "MinCount")
    high = _int(params, "MaxCount")
    if low is None or high is None:
        raise Ec2Error(
            "MissingParameter", "The request must contain the parameters MinCount and MaxCount"
        )
    if low < 1 or high < low:
        raise Ec2Error(
            "InvalidParameterValue",
            f"MinCount ({low}) must be at least 1 and at most MaxCount ({high})",
        )
    kind = params.get("InstanceType") or control_plane.DEFAULT_TYPE
    nics = nic_requests(params)
    tags = tag_specifications(params, "instance")
    refs = listed(params, "SecurityGroup") + group_ids(params, "SecurityGroupId")

    if api.region is not None:
        raise Ec2Error(
            "Unsupported",
            f"This lab runs instances in {api.lab.region} only; region {api.region} has its own "
            "groups, VPCs and prefix lists but no instances (sign the request for "
            f"{api.lab.region})",
        )

    def action(c: Cloud) -> tuple[Cloud, tuple[Cloud, list[InstanceRecord]]]:
        c, records = vpc_plane.launch(
            c,
            account,
            image,
            high,
            groups=refs,
            nics=nics,
            now=now(),
            new_id=new_id,
            instance_type=kind,
        )
        for record in records if tags else []:
            c, _ = vpc_plane.create_tags(c, account, [record.instance_id], tags)
        return c, (c, records)

    cloud, records = api.act(action)
    return reservation_xml(records, cloud, state=control_plane.PENDING)


def _DescribeInstances(api: Api, account: str, params: Params) -> list[Element]:
    ids = listed(params, "InstanceId")
    chosen = filters(params)
    records = api.read(lambda c: control_plane.describe_instances(c, account, ids, chosen))
    cloud = api.cloud()
    groups = control_plane.reservations(records)
    found, token = page(groups, params)
    out = [items("reservationSet", (reservation_xml(group, cloud) for group in found))]
    if token:
        out.append(E("nextToken", token))
    return out


def _TerminateInstances(api: Api, account: str, params: Params) -> list[Element]:
    ids = listed(params, "InstanceId")
    changes = api.act(lambda c: vpc_plane.terminate_instances(c, account, ids))
    out = []
    for record, before in changes:
        current = control_plane.terminating(before)
        out.append(
            [
                E("instanceId", record.instance_id),
                E("currentState", E("code", STATE_CODES[current]), E("name", current)),
                E("previousState", E("code", STATE_CODES[before]), E("name", before)),
            ]
        )
    return [items("instancesSet", out)]


PERMISSION_PARAMS = (
    "GroupId",
    "GroupName",
    "IpPermissions",
    "IpProtocol",
    "FromPort",
    "ToPort",
    "CidrIp",
    "SourceSecurityGroupName",
    "SourceSecurityGroupOwnerId",
)

ACTIONS: dict[str, tuple[Callable[[Api, str, Params], list[Element]], tuple[str, ...]]] = {
    "CreateSecurityGroup": (
        _CreateSecurityGroup,
        ("GroupName", "GroupDescription", "VpcId", "TagSpecification"),
    ),
    "DescribeSecurityGroups": (
        _DescribeSecurityGroups,
        ("GroupName", "GroupId", "Filter", "MaxResults", "NextToken"),
    ),
    "AuthorizeSecurityGroupIngress": (
        _change(False, False),
        (*PERMISSION_PARAMS, "TagSpecification"),
    ),
    "RevokeSecurityGroupIngress": (
        _change(False, True),
        (*PERMISSION_PARAMS, "SecurityGroupRuleId"),
    ),
    "AuthorizeSecurityGroupEgress": (
        _change(True, False),
        (*PERMISSION_PARAMS, "TagSpecification"),
    ),
    "RevokeSecurityGroupEgress": (_change(True, True), (*PERMISSION_PARAMS, "SecurityGroupRuleId")),
    "DeleteSecurityGroup": (_DeleteSecurityGroup, ("GroupName", "GroupId")),
    "RunInstances": (
        _RunInstances,
        (
            "ImageId",
            "MinCount",
            "MaxCount",
            "InstanceType",
            "SecurityGroup",
            "SecurityGroupId",
            "SubnetId",
            "PrivateIpAddress",
            "NetworkInterface",
            "TagSpecification",
            "KeyName",
            "Placement",
            "ClientToken",
        ),
    ),
    "DescribeInstances": (
        _DescribeInstances,
        ("InstanceId", "Filter", "MaxResults", "NextToken"),
    ),
    "TerminateInstances": (_TerminateInstances, ("InstanceId",)),
    **VPC_ACTIONS,
}
"""Every action the Query API serves, with the parameters it models (others are refused)."""
