"""The Query API's request parameters: indexed lists, filters, permissions in every form."""

from __future__ import annotations

from harness.core import control_plane, ec2_rules
from harness.core.control_plane import Permission
from harness.errors import Ec2Error

Params = dict[str, str]


def indexed(params: Params, prefix: str) -> dict[int, Params]:
    """``Prefix.N.Rest=value`` as ``{N: {Rest: value}}`` (in index order)."""
    found: dict[int, Params] = {}
    head = prefix + "."
    for key, value in params.items():
        if not key.startswith(head):
            continue
        number, _, rest = key[len(head) :].partition(".")
        if not number.isdigit():
            raise Ec2Error("InvalidParameterValue", f"Invalid parameter {key}")
        found.setdefault(int(number), {})[rest] = value
    return dict(sorted(found.items()))


def listed(params: Params, prefix: str) -> list[str]:
    """``Prefix.1=a&Prefix.2=b`` as ``[a, b]``."""
    return [item[""] for item in indexed(params, prefix).values() if "" in item]


def filters(params: Params) -> dict[str, list[str]]:
    result: dict[str, list[str]] = {}
    for item in indexed(params, "Filter").values():
        name = item.get("Name")
        if not name:
            raise Ec2Error(
                "MissingParameter", "The request must contain the parameter Filter.N.Name"
            )
        values = [v for k, v in sorted(item.items(), key=_value_order) if k.startswith("Value.")]
        result.setdefault(name, []).extend(values)
    return result


def _value_order(item: tuple[str, str]) -> tuple[int, str]:
    key = item[0]
    tail = key.rpartition(".")[2]
    return (int(tail) if tail.isdigit() else 0, key)


def _int(params: Params, name: str) -> int | None:
    text = params.get(name)
    if text is None or text == "":
        return None
    try:
        return int(text)
    except ValueError:
        raise Ec2Error(
            "InvalidParameterValue", f"Value ({text}) for parameter {name} is invalid"
        ) from None


def _permission(item: Params, where: str) -> Permission:
    cidrs = tuple(sub["CidrIp"] for sub in indexed(item, "IpRanges").values() if sub.get("CidrIp"))
    groups: list[tuple[str | None, str]] = []
    for sub in indexed(item, "Groups").values():
        ref = sub.get("GroupId") or sub.get("GroupName")
        if not ref:
            raise Ec2Error("MissingParameter", f"{where}.Groups needs a GroupName or a GroupId")
        groups.append((sub.get("UserId") or None, ref))
    protocol = item.get("IpProtocol")
    if not protocol:
        raise Ec2Error(
            "MissingParameter", f"The request must contain the parameter {where}.IpProtocol"
        )
    return Permission(protocol, _int(item, "FromPort"), _int(item, "ToPort"), cidrs, tuple(groups))


LEGACY_CIDR = ("IpProtocol", "FromPort", "ToPort", "CidrIp")
LEGACY_GROUP = ("SourceSecurityGroupName", "SourceSecurityGroupOwnerId")


def permissions(params: Params) -> list[Permission]:
    """The ``IpPermissions.N`` form, or one of the legacy flat forms (never a mix)."""
    structured = indexed(params, "IpPermissions")
    cidr_form = [k for k in LEGACY_CIDR if k in params]
    group_form = [k for k in LEGACY_GROUP if k in params]
    if structured and (cidr_form or group_form):
        raise Ec2Error(
            "InvalidParameterCombination",
            f"The parameter 'IpPermissions' may not be used in combination with "
            f"'{(cidr_form or group_form)[0]}'",
        )
    if structured:
        return [_permission(item, f"IpPermissions.{n}") for n, item in structured.items()]
    if cidr_form and group_form:
        raise Ec2Error(
            "InvalidParameterCombination",
            "Mixing the CIDR form (IpProtocol, FromPort, ToPort, CidrIp) and the user/group "
            "pair form (SourceSecurityGroupName, SourceSecurityGroupOwnerId) is not allowed",
        )
    if group_form:
        name = params.get("SourceSecurityGroupName")
        if not name:
            raise Ec2Error(
                "MissingParameter",
                "The request must contain the parameter SourceSecurityGroupName",
            )
        owner = params.get("SourceSecurityGroupOwnerId") or None
        return [Permission(None, groups=((owner, name),))]
    if cidr_form:
        cidr = params.get("CidrIp")
        return [
            Permission(
                params.get("IpProtocol") or "tcp",
                _int(params, "FromPort"),
                _int(params, "ToPort"),
                (cidr,) if cidr else (),
            )
        ]
    raise ec2_rules.missing_source()


def group_ids(params: Params, prefix: str) -> list[str]:
    return [control_plane.check_group_id(value) for value in listed(params, prefix)]


def target_group(params: Params) -> str:
    if params.get("GroupId"):
        return control_plane.check_group_id(params["GroupId"])
    ref = params.get("GroupName")
    if not ref:
        raise Ec2Error(
            "MissingParameter", "The request must contain the parameter groupName or groupId"
        )
    return ref
