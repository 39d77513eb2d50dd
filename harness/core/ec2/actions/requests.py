"""Reading a request as an SDK gives it (member names, Python values): permissions in every
form, filters, tag specifications, interfaces, pages. One reader per kind of member, whichever
action and whichever door the request came through."""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from harness.core.ec2 import rules as rulebook
from harness.core.ec2.plane import NewId, NicRequest, Permission
from harness.errors import Ec2Error

T = TypeVar("T")
Request = Mapping[str, Any]
Answer = dict[str, Any]


@dataclass(frozen=True)
class Caller:
    """Who asks, and what the door lends the action: ids, the time, the regions it knows."""

    account: str
    new_id: NewId
    now: Callable[[], str]
    regions: tuple[str, ...] = ()  # what DescribeRegions lists besides the state's own region
    home_region: str | None = None  # where instances run (None: wherever the request is)


def missing(name: str) -> Ec2Error:
    return Ec2Error("MissingParameter", f"The request must contain the parameter {name}")


def required(request: Request, name: str) -> Any:
    value = request.get(name)
    if value is None or value == "":
        raise missing(name)
    return value


def filters(request: Request) -> dict[str, list[str]]:
    """``Filters`` as ``{name: values}`` (a name given twice adds its values)."""
    found: dict[str, list[str]] = {}
    for number, item in enumerate(request.get("Filters") or [], 1):
        name = item.get("Name")
        if not name:
            raise missing(f"Filter.{number}.Name")
        found.setdefault(name, []).extend(item.get("Values") or [])
    return found


def page(
    items: Sequence[T], request: Request, least: int = 5, most: int = 1000
) -> tuple[list[T], str | None]:
    """One page of a describe: ``MaxResults`` items from ``NextToken`` on, and the next token
    (None on the last page)."""
    size = request.get("MaxResults")
    token = request.get("NextToken")
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


def tag_specifications(
    request: Request, resource_type: str, nowhere: tuple[str, ...] = ()
) -> list[tuple[str, str]]:
    """The tags asked for on the resource being created (``TagSpecifications``). ``nowhere``:
    resource types the action may tag that the lab does not have (an instance's volumes):
    their tags are accepted and kept nowhere, as nothing in the lab could show them."""
    found: list[tuple[str, str]] = []
    for item in request.get("TagSpecifications") or []:
        kind = item.get("ResourceType", "")
        if kind in nowhere:
            key_values(item.get("Tags") or [], "Tag")  # still checked
            continue
        if kind != resource_type:
            raise Ec2Error(
                "InvalidParameterValue",
                f"'{kind}' is not a valid taggable resource type for this operation "
                f"(expected '{resource_type}')",
            )
        found += [(k, v or "") for k, v in key_values(item.get("Tags") or [], "Tag")]
    return found


def key_values(tags: Sequence[Mapping[str, Any]], where: str) -> list[tuple[str, str | None]]:
    """Tags as ``(key, value)`` pairs (a missing value is None)."""
    found = []
    for number, item in enumerate(tags, 1):
        if not item.get("Key"):
            raise Ec2Error("MissingParameter", f"{where}.{number} needs a Key")
        found.append((item["Key"], item.get("Value")))
    return found


# -- permissions -----------------------------------------------------------------------------

LEGACY_CIDR = ("IpProtocol", "FromPort", "ToPort", "CidrIp")
LEGACY_GROUP = ("SourceSecurityGroupName", "SourceSecurityGroupOwnerId")


def _peers(
    item: Mapping[str, Any], where: str
) -> tuple[
    tuple[tuple[str, str], ...],
    tuple[tuple[str, str], ...],
    tuple[tuple[str | None, str, str], ...],
]:
    cidrs: list[tuple[str, str]] = []
    for kind, field, family in (("IpRanges", "CidrIp", 4), ("Ipv6Ranges", "CidrIpv6", 6)):
        for n, sub in enumerate(item.get(kind) or [], 1):
            text = sub.get(field)
            if not text:
                raise Ec2Error("MissingParameter", f"{where}.{kind}.{n} needs a {field}")
            if (":" in text) != (family == 6):
                raise Ec2Error(
                    "InvalidParameterValue",
                    f"{where}.{kind}.{n}.{field}: '{text}' is not an IPv{family} CIDR",
                )
            cidrs.append((text, sub.get("Description", "")))
    lists: list[tuple[str, str]] = []
    for n, sub in enumerate(item.get("PrefixListIds") or [], 1):
        if not sub.get("PrefixListId"):
            raise Ec2Error("MissingParameter", f"{where}.PrefixListIds.{n} needs a PrefixListId")
        lists.append((sub["PrefixListId"], sub.get("Description", "")))
    groups: list[tuple[str | None, str, str]] = []
    for n, sub in enumerate(item.get("UserIdGroupPairs") or [], 1):
        ref = sub.get("GroupId") or sub.get("GroupName")
        if not ref:
            raise Ec2Error("MissingParameter", f"{where}.Groups.{n} needs a GroupName or a GroupId")
        groups.append((sub.get("UserId") or None, ref, sub.get("Description", "")))
    return tuple(cidrs), tuple(lists), tuple(groups)


def ip_permissions(request: Request, member: str = "IpPermissions") -> list[Permission]:
    """``IpPermissions`` with IpRanges, Ipv6Ranges, PrefixListIds and group pairs, each with
    its description."""
    found = []
    for number, item in enumerate(request.get(member) or [], 1):
        where = f"IpPermissions.{number}"
        protocol = item.get("IpProtocol")
        if not protocol:
            raise missing(f"{where}.IpProtocol")
        cidrs, lists, groups = _peers(item, where)
        found.append(
            Permission(protocol, item.get("FromPort"), item.get("ToPort"), cidrs, lists, groups)
        )
    return found


def permissions(request: Request) -> list[Permission]:
    """The permissions of an authorize or a revoke: ``IpPermissions``, or one of the legacy flat
    forms (a CIDR with protocol and ports; a source group meaning all traffic), never a mix."""
    structured = request.get("IpPermissions") or []
    cidr_form = [k for k in LEGACY_CIDR if k in request]
    group_form = [k for k in LEGACY_GROUP if k in request]
    if structured and (cidr_form or group_form):
        raise Ec2Error(
            "InvalidParameterCombination",
            f"The parameter 'IpPermissions' may not be used in combination with "
            f"'{(cidr_form or group_form)[0]}'",
        )
    if structured:
        return ip_permissions(request)
    if cidr_form and group_form:
        raise Ec2Error(
            "InvalidParameterCombination",
            "Mixing the CIDR form (IpProtocol, FromPort, ToPort, CidrIp) and the user/group "
            "pair form (SourceSecurityGroupName, SourceSecurityGroupOwnerId) is not allowed",
        )
    if group_form:
        name = request.get("SourceSecurityGroupName")
        if not name:
            raise missing("SourceSecurityGroupName")
        owner = request.get("SourceSecurityGroupOwnerId") or None
        return [Permission(None, groups=((owner, name, ""),))]  # every protocol
    if cidr_form:
        cidr = request.get("CidrIp")
        return [
            Permission(
                request.get("IpProtocol") or "tcp",
                request.get("FromPort"),
                request.get("ToPort"),
                ((cidr, ""),) if cidr else (),
            )
        ]
    raise rulebook.missing_source()


def group_ref(request: Request) -> str:
    """The group an action works on: ``GroupId``, else ``GroupName``."""
    from harness.core.ec2 import plane as ec2

    if request.get("GroupId"):
        return ec2.check_group_id(request["GroupId"])
    ref = request.get("GroupName")
    if not ref:
        raise Ec2Error(
            "MissingParameter", "The request must contain the parameter groupName or groupId"
        )
    return str(ref)


# -- interfaces ------------------------------------------------------------------------------


def nic_requests(request: Request) -> list[NicRequest]:
    """RunInstances' interfaces: ``NetworkInterfaces``, or ``SubnetId`` with the top-level
    groups (a request names groups in one place or the other)."""
    found = []
    for number, item in enumerate(request.get("NetworkInterfaces") or [], 1):
        index = item.get("DeviceIndex")
        found.append(
            NicRequest(
                item.get("SubnetId") or "",  # none: the default subnet
                tuple(item.get("Groups") or ()),
                item.get("AssociatePublicIpAddress"),
                item.get("PrivateIpAddress") or None,
                number - 1 if index is None else index,
                item.get("Description", ""),
            )
        )
    refs = [*(request.get("SecurityGroupIds") or ()), *(request.get("SecurityGroups") or ())]
    if found:
        if request.get("SubnetId") or refs:
            raise Ec2Error(
                "InvalidParameterCombination",
                "Network interfaces and an instance-level security groups or subnet may not be "
                "specified on the same request",
            )
        return found
    if request.get("SubnetId"):
        return [NicRequest(request["SubnetId"], tuple(refs), None, request.get("PrivateIpAddress"))]
    return []
