"""The console's rule editor, pure: its presets, a typed rule as a staged change, and Apply
Rule Changes as one control-plane action (every staged change in one transaction, so a
refused change leaves the group as it was)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from harness.core import control_plane, vpc_plane
from harness.core.control_plane import Cloud
from harness.core.ec2 import rules as rulebook
from harness.core.model import Group
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
ACCOUNT_GROUP = re.compile(r"^(\d{12})/(.+)$")


def presets_for(group: Group) -> list[Preset]:
    return [p for p in PRESETS if group.vpc is not None or not p.vpc_only]


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
    """The Source field: a CIDR, a prefix list id, a group id or name, or ACCOUNT/GROUP."""
    if not text:
        raise Ec2Error(
            "MissingParameter",
            "Source needs a CIDR (0.0.0.0/0), a group name or id, or ACCOUNT/GROUP",
        )
    if "/" in text and (match := ACCOUNT_GROUP.match(text)) is not None:
        return {"groups": ((match.group(1), match.group(2), ""),)}
    if "/" in text or text[:1].isdigit() or ":" in text:
        return {"cidrs": ((text, ""),)}
    if text.startswith("pl-"):
        return {"prefix_lists": ((text, ""),)}
    return {"groups": ((None, text, ""),)}


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


def apply(
    cloud: Cloud, account: str, group_id: str, changes: Sequence[dict[str, Any]]
) -> tuple[Cloud, Group]:
    """Apply Rule Changes: every staged change of a group, deletions first, in one action."""
    group = control_plane.find_group(cloud, account, group_id)
    for egress in (False, True):
        gone = [c["rule_id"] for c in changes if c["op"] == "delete" and c["egress"] is egress]
        if gone:
            cloud, _ = vpc_plane.revoke(
                cloud, account, ref=group.group_id, permissions=(), rule_ids=gone, egress=egress
            )
    for change in changes:
        if change["op"] != "add":
            continue
        wanted = control_plane.Permission(
            change["protocol"], change["from"], change["to"], **_peer(change["source"])
        )
        cloud, _ = vpc_plane.authorize(cloud, account, group.group_id, [wanted], change["egress"])
    return cloud, control_plane.find_group(cloud, account, group.group_id)
