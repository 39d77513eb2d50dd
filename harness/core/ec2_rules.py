"""EC2-Classic rules of the game: validation, limits, the default group, error codes.

Pure functions over :mod:`harness.core.model` values. Each failure raises :class:`Ec2Error` with the
code and the wording EC2 uses (see the README's semantics section for the sources).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import replace
from ipaddress import IPv4Network

from harness.core.model import Group, GroupKey, Protocol, Rule
from harness.errors import Ec2Error

MAX_GROUPS_PER_ACCOUNT = 500
MAX_RULES_PER_GROUP = 100
MAX_NAME_LENGTH = 255
DEFAULT_GROUP = "default"
DEFAULT_DESCRIPTION = "default group"
ACCOUNT_RE = re.compile(r"^\d{12}$")

_PROTOCOLS = {
    "tcp": Protocol.TCP,
    "6": Protocol.TCP,
    "udp": Protocol.UDP,
    "17": Protocol.UDP,
    "icmp": Protocol.ICMP,
    "1": Protocol.ICMP,
}
_CIDR_RE = re.compile(r"^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})/(\d{1,2})$")


def parse_protocol(value: object) -> Protocol:
    """``tcp``/``udp``/``icmp`` or their numbers; EC2-Classic supports nothing else."""
    text = str(value).strip().lower()
    try:
        return _PROTOCOLS[text]
    except KeyError:
        raise Ec2Error(
            "InvalidPermission.Malformed",
            f'Unsupported IP protocol "{value}"  - supported: [tcp, udp, icmp]',
        ) from None


def parse_cidr(value: object) -> IPv4Network:
    """A CIDR block; host bits are cleared as EC2 does (``10.1.2.3/24`` -> ``10.1.2.0/24``)."""
    text = str(value).strip()
    match = _CIDR_RE.match(text)
    if match is None or any(int(octet) > 255 for octet in match.groups()[:4]):
        raise Ec2Error("InvalidParameterValue", f"CIDR block {value} is malformed")
    if int(match.group(5)) > 32:
        raise Ec2Error("InvalidParameterValue", f"CIDR block {value} is malformed")
    return IPv4Network(text, strict=False)


def check_account(account: str) -> str:
    if not ACCOUNT_RE.match(account):
        raise Ec2Error(
            "InvalidParameterValue",
            f"Value ({account}) for parameter UserId is invalid: an account is 12 digits",
        )
    return account


def check_group_name(name: str, *, creating: bool = True) -> str:
    """A Classic group name: 1-255 ASCII characters, not ``sg-*``, not ``default`` when new."""
    if not name:
        raise Ec2Error("MissingParameter", "The request must contain the parameter GroupName")
    if len(name) > MAX_NAME_LENGTH:
        raise Ec2Error(
            "InvalidParameterValue",
            f"Value ({name[:20]}...) for parameter GroupName is invalid. "
            "Length exceeds maximum of 255 characters.",
        )
    if not name.isascii():
        raise Ec2Error(
            "InvalidParameterValue",
            f"Value ({name}) for parameter GroupName is invalid. "
            "Character sets beyond ASCII are not supported.",
        )
    if name.startswith("sg-"):
        raise Ec2Error(
            "InvalidParameterValue",
            f"Value ({name}) for parameter GroupName is invalid. "
            "Group names may not be in the format sg-*.",
        )
    if creating and name == DEFAULT_GROUP:
        raise Ec2Error(
            "InvalidGroup.Reserved",
            "The name 'default' is reserved, and cannot be used to create a new security group.",
        )
    return name


def check_description(description: str) -> str:
    if not description:
        raise Ec2Error(
            "MissingParameter", "The request must contain the parameter GroupDescription"
        )
    if len(description) > MAX_NAME_LENGTH:
        raise Ec2Error(
            "InvalidParameterValue",
            "Value for parameter GroupDescription is invalid. "
            "Length exceeds maximum of 255 characters.",
        )
    if not description.isascii():
        raise Ec2Error(
            "InvalidParameterValue",
            "Value for parameter GroupDescription is invalid. "
            "Character sets beyond ASCII are not supported.",
        )
    return description


def check_ports(protocol: Protocol, from_port: int, to_port: int) -> None:
    """TCP/UDP ports 0-65535 with from <= to; ICMP type and code -1..255, code needs a type."""
    if protocol is Protocol.ICMP:
        for what, value in (("type", from_port), ("code", to_port)):
            if not -1 <= value <= 255:
                raise Ec2Error(
                    "InvalidParameterValue",
                    f"ICMP {what} ({value}) out of range. "
                    "Supported range for ICMP code and type is 0 to 255, or -1 for all",
                )
        if from_port == -1 and to_port != -1:
            raise Ec2Error(
                "InvalidPermission.Malformed",
                f"ICMP code {to_port} given with type -1: all types (-1) needs code -1",
            )
        return
    for value in (from_port, to_port):
        if not 0 <= value <= 65535:
            raise Ec2Error("InvalidPermission.Malformed", f"TCP/UDP port ({value}) out of range")
    if from_port > to_port:
        raise Ec2Error(
            "InvalidPermission.Malformed",
            f"TCP/UDP port range {from_port}-{to_port} is reversed: "
            "from port is greater than to port",
        )


def parse_port_range(value: object) -> tuple[int, int]:
    """``80``, ``"80"`` or ``"8000-8080"`` for tcp/udp ``-p``; range checks come later."""
    if isinstance(value, bool):
        raise Ec2Error("InvalidPermission.Malformed", f"Invalid port range {value!r}")
    if isinstance(value, int):
        return value, value
    text = str(value).strip()
    match = re.fullmatch(r"(-?\d+)(?:\s*-\s*(-?\d+))?", text)
    if match is None:
        raise Ec2Error("InvalidPermission.Malformed", f"Invalid port range '{value}'")
    low = int(match.group(1))
    high = int(match.group(2)) if match.group(2) is not None else low
    return low, high


def parse_icmp(value: object) -> tuple[int, int]:
    """``"8:-1"`` (type:code, ``-1`` for any) for ``-t``."""
    text = str(value).strip()
    match = re.fullmatch(r"(-?\d+):(-?\d+)", text)
    if match is None:
        raise Ec2Error(
            "InvalidPermission.Malformed",
            f"Invalid ICMP type:code '{value}' (expected TYPE:CODE, -1 for any)",
        )
    return int(match.group(1)), int(match.group(2))


def make_rule(
    protocol: Protocol,
    from_port: int,
    to_port: int,
    *,
    cidr: IPv4Network | None = None,
    group: GroupKey | None = None,
    written: str = "",
    service: str = "",
) -> Rule:
    check_ports(protocol, from_port, to_port)
    if (cidr is None) == (group is None):
        raise missing_source()
    return Rule(
        protocol, from_port, to_port, cidr=cidr, group=group, written=written, service=service
    )


def all_traffic_rules(
    *, cidr: IPv4Network | None = None, group: GroupKey | None = None
) -> list[Rule]:
    """What ``ec2-authorize G -o SRC`` without ``-P`` grants: tcp, udp 0-65535 and icmp -1:-1."""
    return [
        make_rule(Protocol.TCP, 0, 65535, cidr=cidr, group=group),
        make_rule(Protocol.UDP, 0, 65535, cidr=cidr, group=group),
        make_rule(Protocol.ICMP, -1, -1, cidr=cidr, group=group),
    ]


def new_group(key: GroupKey, description: str) -> Group:
    """A group as CreateSecurityGroup makes it: allows nothing inbound."""
    check_account(key.account)
    check_group_name(key.name)
    check_description(description)
    return Group(key, description, ())


def default_group(account: str) -> Group:
    """The Classic default group, with its three self-referencing rules."""
    key = GroupKey(account, DEFAULT_GROUP)
    return Group(key, DEFAULT_DESCRIPTION, tuple(all_traffic_rules(group=key)))


def _duplicate_text(rule: Rule, home_account: str) -> str:
    peer = rule.source_text(home_account)
    if rule.group is not None:
        peer = rule.group.group_id
    ports = (
        f"type: {rule.from_port}, code: {rule.to_port}"
        if rule.protocol is Protocol.ICMP
        else f"from port: {rule.from_port}, to port: {rule.to_port}"
    )
    protocol = str(rule.protocol).upper()
    return f'the specified rule "peer: {peer}, {protocol}, {ports}, ALLOW" already exists'


def check_new_rules(
    current: Iterable[Rule], new_rules: Iterable[Rule], duplicate: Callable[[Rule], str]
) -> None:
    """Rules to add: one twice in the request, or one the group has (``duplicate`` says how
    EC2 words it), is an error."""
    have = set(current)
    seen: set[Rule] = set()
    for rule in new_rules:
        if rule in seen:
            raise Ec2Error(
                "InvalidParameterValue", "The same permission must not appear multiple times"
            )
        seen.add(rule)
        if rule in have:
            raise Ec2Error("InvalidPermission.Duplicate", duplicate(rule))


def authorize(group: Group, rules: Iterable[Rule]) -> Group:
    """Add rules to a group: duplicates and the 100-rule limit are errors; nothing partial."""
    new_rules = list(rules)
    check_new_rules(group.rules, new_rules, lambda r: _duplicate_text(r, group.key.account))
    if len(group.rules) + len(new_rules) > MAX_RULES_PER_GROUP:
        raise Ec2Error(
            "RulesPerSecurityGroupLimitExceeded",
            f"The maximum number of rules per security group has been reached "
            f"({MAX_RULES_PER_GROUP}; group '{group.name}' would have "
            f"{len(group.rules) + len(new_rules)}).",
        )
    return replace(group, rules=group.rules + tuple(new_rules))


def revoke(group: Group, rules: Iterable[Rule]) -> Group:
    """Remove rules; in EC2-Classic revoking a rule that does not exist is not an error."""
    gone = set(rules)
    return replace(group, rules=tuple(rule for rule in group.rules if rule not in gone))


def check_group_count(count: int, account: str) -> None:
    if count > MAX_GROUPS_PER_ACCOUNT:
        raise Ec2Error(
            "SecurityGroupLimitExceeded",
            f"You have reached the maximum number of security groups ({MAX_GROUPS_PER_ACCOUNT}) "
            f"for account {account}.",
        )


def group_not_found(name: str) -> Ec2Error:
    return Ec2Error("InvalidGroup.NotFound", f"The security group '{name}' does not exist")


def missing_source() -> Ec2Error:
    return Ec2Error(
        "MissingParameter",
        "Missing source specification: include source security group or CIDR information",
    )
