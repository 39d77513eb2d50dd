"""Request parameters of the VPC era: structured permissions with every kind of peer, tag
specifications, interfaces, pagination, and the check that refuses what is not modelled."""

from __future__ import annotations

import base64
from collections.abc import Collection, Sequence
from typing import TypeVar

from harness.core import ec2_rules
from harness.core.vpc_plane import NicRequest, VpcPermission
from harness.errors import Ec2Error
from harness.faces.query_api.params import Params, _int, indexed, listed, permissions

T = TypeVar("T")

# What every request may carry besides its action's own parameters: the action, the version,
# DryRun, and query-string signatures (SigV2 and presigned SigV4).
COMMON = {
    "Action",
    "Version",
    "DryRun",
    "AWSAccessKeyId",
    "SignatureMethod",
    "SignatureVersion",
    "Signature",
    "Timestamp",
    "Expires",
    "SecurityToken",
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Date",
    "X-Amz-Expires",
    "X-Amz-SignedHeaders",
    "X-Amz-Signature",
    "X-Amz-Security-Token",
}


def unknown(name: str) -> Ec2Error:
    return Ec2Error("UnknownParameter", f"The parameter {name} is not recognized")


def check_known(params: Params, allowed: Collection[str]) -> None:
    """Refuse a parameter the action does not model, rather than dropping it."""
    for key in params:
        head = key.split(".", 1)[0]
        if head not in allowed and head not in COMMON:
            raise unknown(key)


def _check_keys(item: Params, allowed: Collection[str], where: str) -> None:
    for key in item:
        head = key.split(".", 1)[0]
        if head not in allowed:
            raise unknown(f"{where}.{key}")


def flag(params: Params, name: str) -> bool | None:
    text = params.get(name)
    if text is None or text == "":
        return None
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    raise Ec2Error("InvalidParameterValue", f"Value ({text}) for parameter {name} is invalid")


def permission_items(params: Params, prefix: str = "IpPermissions") -> list[VpcPermission]:
    """``IpPermissions.N`` with IpRanges, Ipv6Ranges, PrefixListIds and Groups (each with its
    description); a field this endpoint does not model is refused."""
    found = []
    for number, item in indexed(params, prefix).items():
        where = f"{prefix}.{number}"
        _check_keys(
            item,
            (
                "IpProtocol",
                "FromPort",
                "ToPort",
                "IpRanges",
                "Ipv6Ranges",
                "PrefixListIds",
                "Groups",
            ),
            where,
        )
        protocol = item.get("IpProtocol")
        if not protocol:
            raise Ec2Error(
                "MissingParameter", f"The request must contain the parameter {where}.IpProtocol"
            )
        cidrs: list[tuple[str, str]] = []
        for kind, field in (("IpRanges", "CidrIp"), ("Ipv6Ranges", "CidrIpv6")):
            for n, sub in indexed(item, kind).items():
                _check_keys(sub, (field, "Description"), f"{where}.{kind}.{n}")
                if not sub.get(field):
                    raise Ec2Error("MissingParameter", f"{where}.{kind}.{n} needs a {field}")
                text = sub[field]
                if (":" in text) != (kind == "Ipv6Ranges"):
                    raise Ec2Error(
                        "InvalidParameterValue",
                        f"{where}.{kind}.{n}.{field}: '{text}' is not an "
                        f"{'IPv6' if kind == 'Ipv6Ranges' else 'IPv4'} CIDR",
                    )
                cidrs.append((text, sub.get("Description", "")))
        lists: list[tuple[str, str]] = []
        for n, sub in indexed(item, "PrefixListIds").items():
            _check_keys(sub, ("PrefixListId", "Description"), f"{where}.PrefixListIds.{n}")
            if not sub.get("PrefixListId"):
                raise Ec2Error(
                    "MissingParameter", f"{where}.PrefixListIds.{n} needs a PrefixListId"
                )
            lists.append((sub["PrefixListId"], sub.get("Description", "")))
        groups: list[tuple[str | None, str, str]] = []
        for n, sub in indexed(item, "Groups").items():
            _check_keys(
                sub,
                ("GroupId", "GroupName", "UserId", "VpcId", "Description"),
                f"{where}.Groups.{n}",
            )
            ref = sub.get("GroupId") or sub.get("GroupName")
            if not ref:
                raise Ec2Error(
                    "MissingParameter", f"{where}.Groups.{n} needs a GroupName or a GroupId"
                )
            groups.append((sub.get("UserId") or None, ref, sub.get("Description", "")))
        found.append(
            VpcPermission(
                protocol,
                _int(item, "FromPort"),
                _int(item, "ToPort"),
                tuple(cidrs),
                tuple(lists),
                tuple(groups),
            )
        )
    return found


def vpc_permissions(params: Params) -> list[VpcPermission]:
    """The permissions of an authorize or a revoke: ``IpPermissions``, or a legacy flat form
    (a CIDR with protocol and ports, or a source group meaning all traffic)."""
    if indexed(params, "IpPermissions"):
        permissions(params)  # refuses a mix of the structured and the flat forms
        return permission_items(params)
    found = []
    for p in permissions(params):
        found.append(
            VpcPermission(
                p.protocol or "-1",
                p.from_port,
                p.to_port,
                tuple((c, "") for c in p.cidrs),
                (),
                tuple((owner, ref, "") for owner, ref in p.groups),
            )
        )
    return found


def key_values(params: Params, prefix: str) -> list[tuple[str, str | None]]:
    """``Tag.N.Key``/``Tag.N.Value`` pairs (a missing value is None)."""
    found = []
    for number, item in indexed(params, prefix).items():
        _check_keys(item, ("Key", "Value"), f"{prefix}.{number}")
        if not item.get("Key"):
            raise Ec2Error("MissingParameter", f"{prefix}.{number} needs a Key")
        found.append((item["Key"], item.get("Value")))
    return found


def tag_specifications(params: Params, resource_type: str) -> list[tuple[str, str]]:
    """The tags asked for on the resource being created (``TagSpecification.N``)."""
    found: list[tuple[str, str]] = []
    for number, item in indexed(params, "TagSpecification").items():
        where = f"TagSpecification.{number}"
        _check_keys(item, ("ResourceType", "Tag"), where)
        kind = item.get("ResourceType", "")
        if kind != resource_type:
            raise Ec2Error(
                "InvalidParameterValue",
                f"'{kind}' is not a valid taggable resource type for this operation "
                f"(expected '{resource_type}')",
            )
        found += [(k, v or "") for k, v in key_values(item, "Tag")]
    return found


def page(
    items: Sequence[T], params: Params, least: int = 5, most: int = 1000
) -> tuple[list[T], str | None]:
    """One page of a describe: ``MaxResults`` items from ``NextToken`` on, and the next token
    (None on the last page)."""
    size = _int(params, "MaxResults")
    token = params.get("NextToken")
    start = 0
    if token:
        try:
            start = int(base64.urlsafe_b64decode(token.encode()).decode().removeprefix("offset:"))
        except ValueError:
            raise Ec2Error("InvalidNextToken", "The token is not valid") from None
    if size is None:
        return list(items[start:]), None
    if not least <= size <= most:
        raise Ec2Error(
            "InvalidParameterValue",
            f"Value ({size}) for parameter maxResults is invalid. Expecting a value between "
            f"{least} and {most}.",
        )
    end = start + size
    more = base64.urlsafe_b64encode(f"offset:{end}".encode()).decode() if end < len(items) else None
    return list(items[start:end]), more


def nic_requests(params: Params) -> list[NicRequest]:
    """RunInstances' interfaces: ``NetworkInterface.N``, or ``SubnetId`` with the top-level
    groups (a request names groups in one place or the other)."""
    found = []
    for number, item in indexed(params, "NetworkInterface").items():
        where = f"NetworkInterface.{number}"
        _check_keys(
            item,
            (
                "DeviceIndex",
                "SubnetId",
                "SecurityGroupId",
                "AssociatePublicIpAddress",
                "PrivateIpAddress",
                "Description",
                "DeleteOnTermination",
            ),
            where,
        )
        if not item.get("SubnetId"):
            raise Ec2Error("MissingParameter", f"{where} needs a SubnetId")
        index = _int(item, "DeviceIndex")
        found.append(
            NicRequest(
                item["SubnetId"],
                tuple(listed(item, "SecurityGroupId")),
                flag(item, "AssociatePublicIpAddress"),
                item.get("PrivateIpAddress") or None,
                number - 1 if index is None else index,
                item.get("Description", ""),
            )
        )
    refs = listed(params, "SecurityGroupId") + listed(params, "SecurityGroup")
    if found:
        if params.get("SubnetId") or refs:
            raise Ec2Error(
                "InvalidParameterCombination",
                "Network interfaces and an instance-level security groups or subnet may not be "
                "specified on the same request",
            )
        return found
    if params.get("SubnetId"):
        return [NicRequest(params["SubnetId"], tuple(refs), None, params.get("PrivateIpAddress"))]
    return []


def group_refs(params: Params) -> list[str]:
    return listed(params, "SecurityGroup") + listed(params, "SecurityGroupId")


def account_of(text: str | None) -> str | None:
    return ec2_rules.check_account(text) if text else None
