"""The console's rule editor, pure: its presets, a typed rule as a staged change, and Apply
Rule Changes as the action layer's requests, run as one change (every staged change in one
transaction, so a refused change leaves the group as it was)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from harness.core.ec2 import rules as rulebook
from harness.core.ec2.actions import Answer
from harness.core.model import Protocol, Rule
from harness.errors import Ec2Error


@dataclass(frozen=True)
class Preset:
    name: str
    protocol: str  # tcp, udp, icmp, or -1
    ports: str | None  # fixed ports ("80", "0-65535"), or None: the Port range field says
    vpc_only: bool = False


# The 2012 console's "Create a new rule" list, and All traffic for VPC groups.
PRESETS = (
    Preset("Custom TCP rule", "tcp", None),
    Preset("Custom UDP rule", "udp", None),
    Preset("Custom ICMP rule", "icmp", None),
    Preset("All TCP", "tcp", "0-65535"),
    Preset("All UDP", "udp", "0-65535"),
    Preset("All ICMP", "icmp", "-1:-1"),
    Preset("SSH", "tcp", "22"),
    Preset("HTTP", "tcp", "80"),
    Preset("HTTPS", "tcp", "443"),
    Preset("RDP", "tcp", "3389"),
    Preset("MySQL", "tcp", "3306"),
    Preset("PostgreSQL", "tcp", "5432"),
    Preset("MS SQL", "tcp", "1433"),
    Preset("DNS", "udp", "53"),
    Preset("SMTP", "tcp", "25"),
    Preset("POP3", "tcp", "110"),
    Preset("IMAP", "tcp", "143"),
    Preset("LDAP", "tcp", "389"),
    Preset("All traffic", "-1", None, vpc_only=True),
)
BY_NAME = {preset.name: preset for preset in PRESETS}


def presets_for(vpc: str | None) -> list[Preset]:
    """The presets for a group of ``vpc`` (``None``: an EC2-Classic group)."""
    return [p for p in PRESETS if vpc is not None or not p.vpc_only]


def rule_text(rule: Answer, names: Mapping[str, str], account: str) -> str:
    """A SecurityGroupRule (DescribeSecurityGroupRules) as the tab lists it: ``tcp 80 from
    0.0.0.0/0``, ``all traffic to db``; a group of ``account`` by its name (``names``: id to
    name), another account's as ``ACCOUNT/ID``."""
    text = rule["IpProtocol"]
    protocol = Protocol(text) if text in iter(Protocol) else int(text)
    what = Rule(protocol, rule["FromPort"], rule["ToPort"]).what()
    word = "to" if rule["IsEgress"] else "from"
    peer = rule.get("ReferencedGroupInfo")
    if peer is not None:
        owner, group_id = peer["UserId"], peer["GroupId"]
        source = names.get(group_id, group_id) if owner == account else f"{owner}/{group_id}"
    elif "PrefixListId" in rule:
        source = f"pl:{rule['PrefixListId']}"
    else:
        source = rule.get("CidrIpv4") or rule["CidrIpv6"]
    return f"{what} {word} {source}"


def _ports(preset: Preset, text: str) -> tuple[int | None, int | None]:
    if preset.protocol == "-1":
        if text and text not in ("all", "-1"):
            raise Ec2Error("InvalidParameterValue", "All traffic takes no port range")
        return None, None
    if preset.ports is not None:
        if text and text != preset.ports:
            raise Ec2Error(
                "InvalidParameterValue",
                f"{preset.name} is {preset.protocol} {preset.ports}; choose a Custom "
                f"{preset.protocol.upper()} rule for port range {text}",
            )
        text = preset.ports
    if not text:
        what = "an ICMP TYPE:CODE (-1 for all)" if preset.protocol == "icmp" else "a port"
        raise Ec2Error("MissingParameter", f"{preset.name} needs {what} in Port range")
    if preset.protocol == "icmp":
        return rulebook.parse_icmp("-1:-1" if text == "-1" else text)
    return rulebook.parse_port_range(text)


def _peer(text: str) -> dict[str, Any]:
    """The Source field as an IpPermission's peer: a CIDR (IPv4 or IPv6), a prefix list id,
    a group id or name, or ACCOUNT/GROUP."""
    if not text:
        raise Ec2Error(
            "MissingParameter",
            "Source needs a CIDR (0.0.0.0/0), a group name or id, or ACCOUNT/GROUP",
        )
    kind, account, value = rulebook.peer_kind(text)
    if kind == "prefix-list":
        return {"PrefixListIds": [{"PrefixListId": value}]}
    if kind == "cidr":
        key, field = ("Ipv6Ranges", "CidrIpv6") if ":" in value else ("IpRanges", "CidrIp")
        return {key: [{field: value}]}
    pair = _group(value)
    return {"UserIdGroupPairs": [{**pair, "UserId": account} if account else pair]}


def _group(ref: str) -> dict[str, str]:
    return {"GroupId": ref} if ref.startswith("sg-") else {"GroupName": ref}


def group_refs(refs: Sequence[str]) -> dict[str, list[str]]:
    """Groups as RunInstances takes them: ids, and names."""
    found: dict[str, list[str]] = {}
    for ref in refs:
        found.setdefault(
            "SecurityGroupIds" if ref.startswith("sg-") else "SecurityGroups", []
        ).append(ref)
    return found


def staged_rule(preset_name: str, port_range: str, source: str, egress: bool) -> dict[str, Any]:
    """What Add Rule stages (a dict, kept in the browser's session): checked for its form
    here, against the group's state at Apply Rule Changes."""
    preset = BY_NAME.get(preset_name)
    if preset is None:
        raise Ec2Error("InvalidParameterValue", f"'{preset_name}' is not a rule of the list")
    low, high = _ports(preset, port_range.strip())
    _peer(source.strip())
    return {
        "op": "add",
        "egress": egress,
        "preset": preset.name,
        "protocol": preset.protocol,
        "from": low,
        "to": high,
        "source": source.strip(),
    }


def staged_delete(rule_id: str, text: str, egress: bool) -> dict[str, Any]:
    return {"op": "delete", "egress": egress, "rule_id": rule_id, "text": text}


def describe(change: dict[str, Any]) -> str:
    """A staged change as the tab lists it."""
    if change["op"] == "delete":
        return f"delete {change['text']}"
    ports = "" if change["from"] is None else f" {change['from']}-{change['to']}"
    if change["from"] is not None and change["from"] == change["to"]:
        ports = f" {change['from']}"
    way = "to" if change["egress"] else "from"
    return f"add {change['preset']} ({change['protocol']}{ports}) {way} {change['source']}"


def _permission(rule: Answer) -> dict[str, Any]:
    """A SecurityGroupRule as the IpPermission that names it (a Classic rule is revoked by
    what it is: it has no id in EC2)."""
    found: dict[str, Any] = {"IpProtocol": rule["IpProtocol"]}
    if rule["IpProtocol"] != str(Protocol.ALL):
        found["FromPort"], found["ToPort"] = rule["FromPort"], rule["ToPort"]
    if "CidrIpv4" in rule:
        found["IpRanges"] = [{"CidrIp": rule["CidrIpv4"]}]
    elif "CidrIpv6" in rule:
        found["Ipv6Ranges"] = [{"CidrIpv6": rule["CidrIpv6"]}]
    elif "PrefixListId" in rule:
        found["PrefixListIds"] = [{"PrefixListId": rule["PrefixListId"]}]
    else:
        peer = rule["ReferencedGroupInfo"]
        found["UserIdGroupPairs"] = [{"UserId": peer["UserId"], "GroupId": peer["GroupId"]}]
    return found


def requests(
    group_id: str, vpc: str | None, by_id: Mapping[str, Answer], changes: Sequence[dict[str, Any]]
) -> list[tuple[str, dict[str, Any]]]:
    """Apply Rule Changes: the action layer's requests for a group's staged changes,
    deletions first (by rule id in a VPC; by what the rule is in EC2-Classic, from its
    SecurityGroupRule in ``by_id``)."""
    found: list[tuple[str, dict[str, Any]]] = []
    for egress in (False, True):
        direction = "Egress" if egress else "Ingress"
        gone = [c["rule_id"] for c in changes if c["op"] == "delete" and c["egress"] is egress]
        if not gone:
            continue
        if vpc is not None:
            found.append(
                (
                    f"RevokeSecurityGroup{direction}",
                    {"GroupId": group_id, "SecurityGroupRuleIds": gone},
                )
            )
            continue
        missing = [ident for ident in gone if ident not in by_id]
        if missing:
            raise Ec2Error(
                "InvalidSecurityGroupRuleId.NotFound",
                f"The security group rule ID '{missing[0]}' does not exist",
            )
        permissions = [_permission(by_id[ident]) for ident in gone]
        found.append(
            (
                f"RevokeSecurityGroup{direction}",
                {"GroupId": group_id, "IpPermissions": permissions},
            )
        )
    for change in changes:
        if change["op"] != "add":
            continue
        permission: dict[str, Any] = {"IpProtocol": change["protocol"], **_peer(change["source"])}
        if change["from"] is not None:
            permission["FromPort"], permission["ToPort"] = change["from"], change["to"]
        direction = "Egress" if change["egress"] else "Ingress"
        found.append(
            (
                f"AuthorizeSecurityGroup{direction}",
                {"GroupId": group_id, "IpPermissions": [permission]},
            )
        )
    return found
