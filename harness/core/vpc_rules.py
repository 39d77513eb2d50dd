"""VPC-era rules of the game: protocols by name or number, IPv4 and IPv6 CIDRs, the default
group of a VPC and a new group's egress, quotas, and the error codes EC2 answers with.

Pure functions over :mod:`harness.core.model` values; the sources are in
``shared/reference/vpc-and-real-input.md`` §1 (cited below by section).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_network

from harness.core import ec2_rules
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
)
from harness.errors import Ec2Error

DEFAULT_VPC = "default"
DEFAULT_VPC_CIDR = IPv4Network("172.31.0.0/16")  # as AWS makes a default VPC (§1.2)
MAX_RULES_PER_DIRECTION = 60  # per group, IPv4 and IPv6 counted apart (§1.11)
MAX_GROUPS_PER_INTERFACE = 5
MAX_GROUPS_PER_REGION = 2500
PUBLIC_POOL = IPv4Network("192.0.2.0/24")  # TEST-NET-1: the lab's public IPv4 addresses
IPV6_POOL = IPv6Network("2001:db8::/32")  # documentation space: each VPC's /56 comes from it
DEFAULT_SUBNET_CIDR = IPv4Network("172.31.0.0/20")  # the default VPC's subnet in zone a
ANY_V4 = IPv4Network("0.0.0.0/0")
ANY_V6 = IPv6Network("::/0")

_NAMES: dict[str, Proto] = {
    "tcp": Protocol.TCP,
    "udp": Protocol.UDP,
    "icmp": Protocol.ICMP,
    "icmpv6": Protocol.ICMPV6,
    "-1": Protocol.ALL,
    "all": Protocol.ALL,
}


def parse_protocol(value: object) -> Proto:
    """A name, ``-1``/``all``, or any protocol number 0-255 (6, 17, 1, 58 are the named ones)."""
    text = str(value).strip().lower()
    if text in _NAMES:
        return _NAMES[text]
    if re.fullmatch(r"\d{1,3}", text) and int(text) <= 255:
        number = int(text)
        for protocol, known in NUMBERS.items():
            if known == number:
                return protocol
        return number
    raise Ec2Error(
        "InvalidParameterValue",
        f"Invalid value '{value}' for IP protocol. Unknown protocol "
        "(use tcp, udp, icmp, icmpv6, -1 or a number 0-255)",
    )


def parse_cidr(value: object) -> Network:
    """An IPv4 or IPv6 CIDR; host bits are cleared as EC2 does (§1.4)."""
    text = str(value).strip()
    if "/" not in text:
        raise Ec2Error(
            "InvalidParameterValue",
            f"CIDR block {text} is malformed (a single address is written "
            f"{text}/{128 if ':' in text else 32})",
        )
    try:
        return ip_network(text, strict=False)
    except ValueError:
        raise Ec2Error("InvalidParameterValue", f"CIDR block {value} is malformed") from None


def check_ports(protocol: Proto, from_port: int, to_port: int) -> tuple[int, int]:
    """The port range as stored: tcp/udp 0-65535, icmp/icmpv6 type:code (-1 any), and -1:-1
    for ``-1`` and other numbers, whose ports are ignored (§1.5)."""
    if protocol not in PORTED and protocol not in ICMPS:
        return -1, -1
    if protocol in ICMPS:
        for what, value in (("type", from_port), ("code", to_port)):
            if not -1 <= value <= 255:
                raise Ec2Error(
                    "InvalidParameterValue",
                    f"ICMP {what} ({value}) out of range (0 to 255, or -1 for all)",
                )
        if from_port == -1 and to_port != -1:
            raise Ec2Error(
                "InvalidParameterValue",
                "Invalid value for portRange: all ICMP types (-1) needs code -1",
            )
        return from_port, to_port
    for value in (from_port, to_port):
        if not 0 <= value <= 65535:
            raise Ec2Error("InvalidParameterValue", f"TCP/UDP port ({value}) out of range")
    if from_port > to_port:
        raise Ec2Error(
            "InvalidParameterValue",
            f"Invalid value for portRange: {from_port}-{to_port} is reversed",
        )
    return from_port, to_port


def make_rule(
    protocol: Proto,
    from_port: int,
    to_port: int,
    *,
    cidr: Network | None = None,
    group: GroupKey | None = None,
    prefix_list: str | None = None,
    written: str = "",
    description: str = "",
    origin: Origin | None = None,
) -> Rule:
    low, high = check_ports(protocol, from_port, to_port)
    peers = sum(item is not None for item in (cidr, group, prefix_list))
    if peers == 0:
        raise Ec2Error(
            "MissingParameter",
            "The request must contain exactly one of: cidrIp, cidrIpv6, prefixListId, "
            "or referencedGroupId",
        )
    if peers > 1:
        raise Ec2Error(
            "InvalidParameterCombination",
            "Only one of cidrIp, cidrIpv6, prefixListId, or referencedGroupId can be specified",
        )
    return Rule(
        protocol,
        low,
        high,
        cidr=cidr,
        group=group,
        prefix_list=prefix_list,
        written=written,
        description=description,
        origin=origin,
    )


def all_out(ipv6: bool) -> tuple[Rule, ...]:
    """Allow-all egress: to 0.0.0.0/0, and to ::/0 too when ``ipv6``."""
    rules = [Rule(Protocol.ALL, -1, -1, cidr=ANY_V4)]
    if ipv6:
        rules.append(Rule(Protocol.ALL, -1, -1, cidr=ANY_V6))
    return tuple(rules)


def default_group(account: str, vpc: str, ipv6: bool) -> Group:
    """A VPC's default group: all traffic from itself; all out, to ::/0 too with IPv6 (§1.2)."""
    key = GroupKey(account, "default", vpc)
    return Group(
        key,
        "default VPC security group",
        (Rule(Protocol.ALL, -1, -1, group=key),),
        egress=all_out(ipv6),
        vpc=vpc,
    )


def new_group(key: GroupKey, description: str, vpc: str, ipv6: bool) -> Group:
    """A group as CreateSecurityGroup makes it in a VPC: nothing in, all out (to 0.0.0.0/0,
    and to ::/0 when the VPC has an IPv6 block: AWS's "Get started with IPv6" and moto's
    AWS-verified test)."""
    return Group(key, description, (), egress=all_out(ipv6), vpc=vpc)


def _family_counts(rules: Iterable[Rule]) -> tuple[int, int]:
    v4 = v6 = 0
    for rule in rules:
        if isinstance(rule.cidr, IPv6Network):
            v6 += 1
        else:
            v4 += 1
    return v4, v6


def authorize(group: Group, rules: Iterable[Rule], egress: bool) -> Group:
    """Add rules to one direction: duplicates and the 60-per-family quota are errors."""
    current = group.side(egress)
    new_rules = list(rules)
    ec2_rules.check_new_rules(
        current,
        new_rules,
        lambda r: f'the specified rule "{r.describe(group.key.account)}" already exists',
    )
    v4, v6 = _family_counts((*current, *new_rules))
    if max(v4, v6) > MAX_RULES_PER_DIRECTION:
        raise Ec2Error(
            "RulesPerSecurityGroupLimitExceeded",
            f"The maximum number of rules per security group has been reached "
            f"({MAX_RULES_PER_DIRECTION} {'outbound' if egress else 'inbound'} per address "
            f"family; group '{group.name}' would have {max(v4, v6)}).",
        )
    return group.with_side(egress, (*current, *new_rules))


def check_interface_groups(count: int) -> None:
    if count > MAX_GROUPS_PER_INTERFACE:
        raise Ec2Error(
            "SecurityGroupsPerInterfaceLimitExceeded",
            f"The maximum number of security groups per interface has been reached "
            f"({MAX_GROUPS_PER_INTERFACE}; {count} given).",
        )


def check_group_count(count: int) -> None:
    if count > MAX_GROUPS_PER_REGION:
        raise Ec2Error(
            "SecurityGroupLimitExceeded",
            f"You have reached the maximum number of VPC security groups "
            f"({MAX_GROUPS_PER_REGION}) for this region.",
        )


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
