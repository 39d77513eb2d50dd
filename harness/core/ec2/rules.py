"""The rules of the game, one function each for EC2-Classic and VPC groups alike: protocols,
CIDRs, ports, the one place that makes a rule, groups as EC2 makes them, adding and removing
rules with EC2's quotas and duplicates, and the words of EC2's errors.

Pure functions over :mod:`harness.core.model` values; what differs between the platforms is
data (:mod:`harness.core.ec2.platform`). Each failure raises :class:`Ec2Error` with the code
and the wording EC2 uses (docs/reference/semantics.md has the sources).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_network

from harness.core.ec2.platform import (
    ANY_V4,
    ANY_V6,
    CLASSIC,
    DEFAULT_GROUP,
    MAX_GROUPS_PER_INTERFACE,
    MAX_NAME_LENGTH,
    PUBLIC_POOL,
    VPC,
    Platform,
)
from harness.core.model import (
    ICMPS,
    NUMBERS,
    PORTED,
    Group,
    GroupKey,
    Network,
    Origin,
    Proto,
    Protocol,
    Rule,
    protocol_number,
)
from harness.core.vpc_path import MAX_RULE_NUMBER, AclEntry, Action
from harness.errors import Ec2Error

ACCOUNT_RE = re.compile(r"^\d{12}$")


def _error(platform: Platform, situation: str, **fields: object) -> Ec2Error:
    return Ec2Error(*platform.says(situation, **fields))


# -- text ------------------------------------------------------------------------------------


def parse_protocol(value: object, platform: Platform) -> Proto:
    """A protocol by name or number: ``tcp``/``udp``/``icmp`` (6, 17, 1) on both platforms;
    in a VPC also ``icmpv6``, ``-1``/``all`` and any number 0-255."""
    text = str(value).strip().lower()
    if text in platform.protocols:
        return platform.protocols[text]
    if platform.any_number and re.fullmatch(r"\d{1,3}", text) and int(text) <= 255:
        number = int(text)
        for protocol, known in NUMBERS.items():
            if known == number:
                return protocol
        return number
    raise _error(platform, "bad_protocol", value=value)


def parse_cidr(value: object, platform: Platform) -> Network:
    """A CIDR block of a family the platform takes; host bits are cleared as EC2 does
    (``10.1.2.3/24`` is ``10.1.2.0/24``)."""
    text = str(value).strip()
    if "/" not in text:
        code, words = platform.says("bad_cidr", value=text)
        width = 128 if ":" in text else 32
        raise Ec2Error(code, f"{words} (a single address is written {text}/{width})")
    try:
        network = ip_network(text, strict=False)
    except ValueError:
        raise _error(platform, "bad_cidr", value=value) from None
    if network.version not in platform.families or (
        network.version == 4 and not re.fullmatch(r"[\d.]+/\d{1,2}", text)
    ):
        raise _error(platform, "bad_cidr", value=value)
    return network


PEER_CIDR = re.compile(r"^[\d.]+(/\d+)?$")
PEER_ACCOUNT_GROUP = re.compile(r"^(\d{12})/(.+)$")


def peer_kind(text: str) -> tuple[str, str | None, str]:
    """What a peer's text names, written one way in every file, form and command:
    ``("prefix-list", None, NAME or pl-ID)`` for ``pl:NAME`` or ``pl-ID``, ``("group",
    ACCOUNT, NAME)`` for ``ACCOUNT/GROUP``, ``("cidr", None, TEXT)`` for an IPv4 or IPv6
    CIDR (or a lone address, refused later with a hint), else ``("group", None, NAME or
    sg-ID)``."""
    if text.startswith("pl:"):
        return "prefix-list", None, text[3:]
    if text.startswith("pl-"):
        return "prefix-list", None, text
    match = PEER_ACCOUNT_GROUP.match(text)
    if match is not None:
        return "group", check_account(match.group(1)), match.group(2)
    if ":" in text or PEER_CIDR.match(text):
        return "cidr", None, text
    return "group", None, text


def parse_ipv4_cidr(value: object) -> IPv4Network:
    """An IPv4 CIDR block (a lab subnet, a VPC's block, a Classic rule's source)."""
    network = parse_cidr(value, CLASSIC)
    assert isinstance(network, IPv4Network)  # Classic takes IPv4 only
    return network


def parse_port_range(value: object) -> tuple[int, int]:
    """``80``, ``"80"`` or ``"8000-8080"``; range checks come later."""
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
    """``"8:-1"``: ICMP type:code, ``-1`` for any."""
    text = str(value).strip()
    match = re.fullmatch(r"(-?\d+):(-?\d+)", text)
    if match is None:
        raise Ec2Error(
            "InvalidPermission.Malformed",
            f"Invalid ICMP type:code '{value}' (expected TYPE:CODE, -1 for any)",
        )
    return int(match.group(1)), int(match.group(2))


def check_account(account: str) -> str:
    if not ACCOUNT_RE.match(account):
        raise Ec2Error(
            "InvalidParameterValue",
            f"Value ({account}) for parameter UserId is invalid: an account is 12 digits",
        )
    return account


def check_group_name(name: str, *, creating: bool = True) -> str:
    """A group name: 1-255 ASCII characters, not ``sg-*``, not ``default`` when new."""
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


# -- rules -----------------------------------------------------------------------------------


def check_ports(protocol: Proto, low: int, high: int, platform: Platform) -> tuple[int, int]:
    """The port range as kept: tcp/udp 0-65535 with low <= high, icmp/icmpv6 type:code (-1
    any; a code needs a type); in a VPC every other protocol is -1:-1, its ports ignored."""
    if platform.ported_only and protocol not in PORTED and protocol not in ICMPS:
        return -1, -1
    if protocol in ICMPS:
        for what, value in (("type", low), ("code", high)):
            if not -1 <= value <= 255:
                raise _error(platform, "icmp_range", what=what, value=value)
        if low == -1 and high != -1:
            raise _error(platform, "icmp_any_type", low=low, high=high)
        return low, high
    for value in (low, high):
        if not 0 <= value <= 65535:
            raise _error(platform, "port_range", value=value)
    if low > high:
        raise _error(platform, "port_reversed", low=low, high=high)
    return low, high


def make_rule(
    platform: Platform,
    protocol: Proto,
    low: int,
    high: int,
    *,
    cidr: Network | None = None,
    group: GroupKey | None = None,
    prefix_list: str | None = None,
    written: str = "",
    service: str = "",
    description: str = "",
    origin: Origin | None = None,
) -> Rule:
    """The one place a rule is made: its ports checked, exactly one peer."""
    low, high = check_ports(protocol, low, high, platform)
    peers = sum(item is not None for item in (cidr, group, prefix_list))
    if peers != 1:
        raise _error(platform, "no_peer" if peers == 0 else "two_peers")
    return Rule(
        protocol,
        low,
        high,
        cidr=cidr,
        group=group,
        prefix_list=prefix_list,
        written=written,
        service=service,
        description=description,
        origin=origin,
    )


def all_traffic(
    platform: Platform, *, cidr: Network | None = None, group: GroupKey | None = None
) -> list[Rule]:
    """Every protocol from (or to) a peer: Classic's tcp and udp 0-65535 and icmp -1:-1 (what
    ``ec2-authorize G -o SRC`` grants without ``-P``), a VPC's -1."""
    return [
        make_rule(platform, protocol, low, high, cidr=cidr, group=group)
        for protocol, low, high in platform.all_traffic
    ]


def all_out(ipv6: bool) -> tuple[Rule, ...]:
    """A VPC group's allow-all egress: to 0.0.0.0/0, and to ::/0 too when ``ipv6``."""
    rules = [Rule(Protocol.ALL, -1, -1, cidr=ANY_V4)]
    if ipv6:
        rules.append(Rule(Protocol.ALL, -1, -1, cidr=ANY_V6))
    return tuple(rules)


def new_group(key: GroupKey, description: str, vpc: str | None = None, ipv6: bool = False) -> Group:
    """A group as CreateSecurityGroup makes it: nothing in; in a VPC (``vpc``) all out, to
    ::/0 as well when the VPC has an IPv6 block (AWS's "Get started with IPv6", moto's
    AWS-verified test)."""
    check_account(key.account)
    check_group_name(key.name)
    check_description(description)
    if vpc is None:
        return Group(key, description, ())
    return Group(key, description, (), egress=all_out(ipv6), vpc=vpc)


def default_group(account: str, vpc: str | None = None, ipv6: bool = False) -> Group:
    """The default group: all traffic from itself (Classic's three rules, a VPC's -1); in a
    VPC all out too, to ::/0 as well with IPv6 (§1.2)."""
    platform = CLASSIC if vpc is None else VPC
    key = GroupKey(account, DEFAULT_GROUP, vpc or "")
    rules = tuple(all_traffic(platform, group=key))
    if vpc is None:
        return Group(key, platform.default_description, rules)
    return Group(key, platform.default_description, rules, egress=all_out(ipv6), vpc=vpc)


def _duplicate(platform: Platform, rule: Rule, home: str) -> str:
    if platform.rules_counted == "group":  # Classic's words
        peer = rule.group.group_id if rule.group is not None else rule.source_text(home)
        ports = (
            f"type: {rule.from_port}, code: {rule.to_port}"
            if rule.protocol is Protocol.ICMP
            else f"from port: {rule.from_port}, to port: {rule.to_port}"
        )
        return platform.says(
            "duplicate_rule", peer=peer, protocol=str(rule.protocol).upper(), ports=ports
        )[1]
    return platform.says("duplicate_rule", described=rule.describe(home))[1]


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


def _counted(platform: Platform, rules: list[Rule]) -> int:
    if platform.rules_counted == "group":
        return len(rules)
    v6 = sum(1 for rule in rules if isinstance(rule.cidr, IPv6Network))
    return max(v6, len(rules) - v6)


def authorize(group: Group, rules: Iterable[Rule], egress: bool = False) -> Group:
    """Add rules to one direction of a group: a duplicate and the platform's quota (Classic:
    100 a group; VPC: 60 a direction and address family) are errors; nothing partial."""
    platform = CLASSIC if group.vpc is None else VPC
    current = group.side(egress)
    new_rules = list(rules)
    check_new_rules(current, new_rules, lambda r: _duplicate(platform, r, group.key.account))
    count = _counted(platform, [*current, *new_rules])
    if count > platform.max_rules:
        raise _error(
            platform,
            "rule_limit",
            limit=platform.max_rules,
            group=group.name,
            count=count,
            direction="outbound" if egress else "inbound",
        )
    return group.with_side(egress, (*current, *new_rules))


def revoke(group: Group, rules: Iterable[Rule], egress: bool = False) -> Group:
    """Remove rules from one direction (a rule the group lacks is the caller's to judge)."""
    gone = set(rules)
    return group.with_side(egress, tuple(rule for rule in group.side(egress) if rule not in gone))


def check_group_count(platform: Platform, count: int, account: str) -> None:
    if count > platform.max_groups:
        raise _error(platform, "group_limit", limit=platform.max_groups, account=account)


def check_interface_groups(count: int) -> None:
    if count > MAX_GROUPS_PER_INTERFACE:
        raise Ec2Error(
            "SecurityGroupsPerInterfaceLimitExceeded",
            f"The maximum number of security groups per interface has been reached "
            f"({MAX_GROUPS_PER_INTERFACE}; {count} given).",
        )


def group_not_found(name: str) -> Ec2Error:
    return Ec2Error("InvalidGroup.NotFound", f"The security group '{name}' does not exist")


def missing_source() -> Ec2Error:
    return Ec2Error(*CLASSIC.says("no_peer"))


# -- addresses -------------------------------------------------------------------------------


def nth(block: IPv6Network, prefix: int, index: int) -> IPv6Network:
    """The ``index``-th /``prefix`` inside ``block`` (without listing them all)."""
    base = int(block.network_address) + (index << (128 - prefix))
    return IPv6Network((base, prefix))


def first_host(subnet: IPv4Network) -> int:
    """The first address handed out in a subnet: .11 in a /24 or wider (as the Classic lab
    does), else the first after the four AWS reserves."""
    return int(subnet.network_address) + (11 if subnet.prefixlen <= 24 else 4)


def free_address(
    taken: Collection[IPv4Address], subnet: IPv4Network | None = None
) -> IPv4Address | None:
    """The first address not taken: in ``subnet`` from :func:`first_host` on, or without one in
    the lab's public pool from .11 on; None when there is none left."""
    pool = PUBLIC_POOL if subnet is None else subnet
    start = int(pool.network_address) + 11 if subnet is None else first_host(pool)
    for value in range(start, int(pool.broadcast_address)):
        candidate = IPv4Address(value)
        if candidate not in taken:
            return candidate
    return None


def ipv6_of(private: IPv4Address, subnet: IPv4Network, block6: IPv6Network) -> IPv6Address:
    """An interface's IPv6 address: its private address's offset in the subnet's /64."""
    return IPv6Address(int(block6.network_address) + int(private) - int(subnet.network_address))


def acl_entry(
    number: int,
    egress: bool,
    *,
    action: str,
    protocol: Proto,
    cidr: Network,
    ports: tuple[int, int] | None,
    icmp: tuple[int, int] | None,
) -> AclEntry:
    """A network ACL entry as EC2 accepts one, whichever door it came through (a topology
    file, CreateNetworkAclEntry): its number 1-32766, ``allow`` or ``deny``, a port range for
    tcp and udp, a type and code for icmp (and icmpv6 with an IPv6 CIDR); other protocols keep
    neither."""
    if not 1 <= number <= MAX_RULE_NUMBER:
        raise Ec2Error(
            "InvalidParameterValue",
            f"Value ({number}) for parameter ruleNumber is invalid: it must be 1-"
            f"{MAX_RULE_NUMBER} (32767-65535 are AWS's own)",
        )
    if action not in ("allow", "deny"):
        raise Ec2Error("InvalidParameterValue", f"Invalid value for RuleAction: {action}")
    number_of = protocol_number(protocol)
    kept_ports = kept_icmp = None
    if number_of in (6, 17):
        if ports is None:
            raise Ec2Error("MissingParameter", "The request must contain the parameter portRange")
        if not 0 <= ports[0] <= ports[1] <= 65535:
            raise Ec2Error(
                "InvalidParameterValue", f"Invalid value for portRange: {ports[0]}-{ports[1]}"
            )
        kept_ports = ports
    if number_of == 1 or (number_of == 58 and cidr.version == 6):
        if icmp is None:
            raise Ec2Error(
                "MissingParameter", "The request must contain the parameter icmpTypeCode"
            )
        kept_icmp = icmp
    return AclEntry(number, egress, Action(action), number_of, cidr, kept_ports, kept_icmp)
