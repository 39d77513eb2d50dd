"""EC2-Classic and VPC as data: what differs between the two platforms' rules, in one table.

A group's platform is where it lives (a Classic group has no VPC); a lab's platform is what
its accounts are (EC2-Classic accounts, the seed's, or default-VPC accounts). Every function
of :mod:`harness.core.ec2.rules` takes a :class:`Platform` and reads the difference from it:
the protocols it knows, the address families of its CIDRs, the error codes and words EC2
answers with, its quotas, its default group and a new group's egress. Sources:
``shared/reference/ec2-security-group-semantics.md`` (Classic) and
``shared/reference/vpc-and-real-input.md`` §1 (VPC).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from ipaddress import IPv4Network, IPv6Network

from harness.core.model import Group, Proto, Protocol

EC2_CLASSIC = "ec2-classic"  # the seed's accounts: instances on one flat network
VPC_PLATFORM = "vpc"  # today's accounts: a default VPC, and groups without a VPC id go into it

DEFAULT_GROUP = "default"
MAX_NAME_LENGTH = 255
DEFAULT_VPC = "default"
DEFAULT_VPC_CIDR = IPv4Network("172.31.0.0/16")  # as AWS makes a default VPC (§1.2)
DEFAULT_SUBNET_CIDR = IPv4Network("172.31.0.0/20")  # the default VPC's subnet in zone a
MAX_GROUPS_PER_INTERFACE = 5
PUBLIC_POOL = IPv4Network("192.0.2.0/24")  # TEST-NET-1: the lab's public IPv4 addresses
IPV6_POOL = IPv6Network("2001:db8::/32")  # documentation space: each VPC's /56 comes from it
ANY_V4 = IPv4Network("0.0.0.0/0")
ANY_V6 = IPv6Network("::/0")

# What EC2 answers, by situation: (code, words); the words are formatted with the fields the
# situation has ({value}, {what}, {low}, {high}, {rule}, {count}, {limit}, ...).
Said = tuple[str, str]


@dataclass(frozen=True)
class Platform:
    name: str
    protocols: Mapping[str, Proto]  # by name and number
    any_number: bool  # any protocol number 0-255 besides the named ones
    families: tuple[int, ...]  # of the CIDRs its rules take
    ported_only: bool  # ports are checked for tcp/udp/icmp only, others are -1:-1
    all_traffic: tuple[tuple[Proto, int, int], ...]  # what "every protocol" grants
    max_rules: int
    rules_counted: str  # "group": all its rules; "direction-family": per direction and family
    max_groups: int
    default_description: str
    egress: bool  # its groups have egress rules (a new one: all out)
    peer_default_on_demand: bool  # another account's default group may be named unseen
    holders: str  # what keeps a group in use: "instances" or "interfaces"
    groups_per_account: bool  # its group quota counts an account's groups (else a region's)
    icmp_any_by_default: bool  # an ICMP rule without type and code means any (else an error)
    vpc_peers: bool  # its rules take IPv6 ranges and prefix lists
    rule_ids: bool  # its rules have sgr- ids and tags
    said: Mapping[str, Said]

    def says(self, situation: str, **fields: object) -> tuple[str, str]:
        code, words = self.said[situation]
        return code, words.format(**fields)


CLASSIC = Platform(
    name=EC2_CLASSIC,
    protocols={
        "tcp": Protocol.TCP,
        "6": Protocol.TCP,
        "udp": Protocol.UDP,
        "17": Protocol.UDP,
        "icmp": Protocol.ICMP,
        "1": Protocol.ICMP,
    },
    any_number=False,
    families=(4,),
    ported_only=False,
    all_traffic=((Protocol.TCP, 0, 65535), (Protocol.UDP, 0, 65535), (Protocol.ICMP, -1, -1)),
    max_rules=100,
    rules_counted="group",
    max_groups=500,
    default_description="default group",
    egress=False,
    peer_default_on_demand=True,
    holders="instances",
    groups_per_account=True,
    icmp_any_by_default=False,
    vpc_peers=False,
    rule_ids=False,
    said={
        "duplicate_group": (
            "InvalidGroup.Duplicate",
            "The security group '{name}' already exists",
        ),
        "delete_default": ("InvalidGroup.Reserved", "The security group 'default' is reserved"),
        "held": (
            "InvalidGroup.InUse",
            "There are active instances using security group '{name}'",
        ),
        "named": ("InvalidGroup.InUse", "Group {group_id} is used by groups: {users}"),
        "icmp_no_ports": (
            "InvalidPermission.Malformed",
            "ICMP type and code are required (-1 for any)",
        ),
        "ports_missing": ("InvalidPermission.Malformed", "TCP/UDP port ({value}) out of range"),
        "icmp_needs_type": (
            "InvalidPermission.Malformed",
            "ICMP type and code are required for protocol icmp (icmp: TYPE:CODE, -1 for any)",
        ),
        "vpc_peer": (
            "InvalidParameterValue",
            "EC2-Classic groups take IPv4 ranges and groups only (no IPv6 ranges or prefix lists)",
        ),
        "rule_ids": (
            "InvalidParameterValue",
            "EC2-Classic rules have no rule ids and no tags",
        ),
        "bad_protocol": (
            "InvalidPermission.Malformed",
            'Unsupported IP protocol "{value}"  - supported: [tcp, udp, icmp]',
        ),
        "bad_cidr": ("InvalidParameterValue", "CIDR block {value} is malformed"),
        "icmp_range": (
            "InvalidParameterValue",
            "ICMP {what} ({value}) out of range. Supported range for ICMP code and type is 0 "
            "to 255, or -1 for all",
        ),
        "icmp_any_type": (
            "InvalidPermission.Malformed",
            "ICMP code {high} given with type -1: all types (-1) needs code -1",
        ),
        "port_range": ("InvalidPermission.Malformed", "TCP/UDP port ({value}) out of range"),
        "port_reversed": (
            "InvalidPermission.Malformed",
            "TCP/UDP port range {low}-{high} is reversed: from port is greater than to port",
        ),
        "no_peer": (
            "MissingParameter",
            "Missing source specification: include source security group or CIDR information",
        ),
        "two_peers": (
            "MissingParameter",
            "Missing source specification: include source security group or CIDR information",
        ),
        "duplicate_rule": (
            "InvalidPermission.Duplicate",
            'the specified rule "peer: {peer}, {protocol}, {ports}, ALLOW" already exists',
        ),
        "rule_limit": (
            "RulesPerSecurityGroupLimitExceeded",
            "The maximum number of rules per security group has been reached ({limit}; group "
            "'{group}' would have {count}).",
        ),
        "group_limit": (
            "SecurityGroupLimitExceeded",
            "You have reached the maximum number of security groups ({limit}) for account "
            "{account}.",
        ),
    },
)

VPC = Platform(
    name=VPC_PLATFORM,
    protocols={
        "tcp": Protocol.TCP,
        "udp": Protocol.UDP,
        "icmp": Protocol.ICMP,
        "icmpv6": Protocol.ICMPV6,
        "-1": Protocol.ALL,
        "all": Protocol.ALL,
    },
    any_number=True,
    families=(4, 6),
    ported_only=True,
    all_traffic=((Protocol.ALL, -1, -1),),
    max_rules=60,  # per group, direction and address family (§1.11)
    rules_counted="direction-family",
    max_groups=2500,  # per region
    default_description="default VPC security group",
    egress=True,
    peer_default_on_demand=False,
    holders="interfaces",
    groups_per_account=False,
    icmp_any_by_default=True,
    vpc_peers=True,
    rule_ids=True,
    said={
        "duplicate_group": (
            "InvalidGroup.Duplicate",
            "The security group '{name}' already exists for VPC '{vpc}'",
        ),
        "delete_default": (
            "CannotDelete",
            'the specified group: "{group_id}" name: "default" cannot be deleted by a user',
        ),
        "held": (
            "DependencyViolation",
            "resource {group_id} has a dependent object ({users})",
        ),
        "named": (
            "DependencyViolation",
            "resource {group_id} has a dependent object ({users})",
        ),
        "ports_missing": (
            "InvalidParameterValue",
            "Invalid value for portRange. Must specify both from and to ports with TCP/UDP.",
        ),
        "icmp_needs_type": (
            "InvalidParameterValue",
            "ICMP type and code are required for protocol icmp (icmp: TYPE:CODE, -1 for any)",
        ),
        "bad_protocol": (
            "InvalidParameterValue",
            "Invalid value '{value}' for IP protocol. Unknown protocol (use tcp, udp, icmp, "
            "icmpv6, -1 or a number 0-255)",
        ),
        "bad_cidr": ("InvalidParameterValue", "CIDR block {value} is malformed"),
        "icmp_range": (
            "InvalidParameterValue",
            "ICMP {what} ({value}) out of range (0 to 255, or -1 for all)",
        ),
        "icmp_any_type": (
            "InvalidParameterValue",
            "Invalid value for portRange: all ICMP types (-1) needs code -1",
        ),
        "port_range": ("InvalidParameterValue", "TCP/UDP port ({value}) out of range"),
        "port_reversed": (
            "InvalidParameterValue",
            "Invalid value for portRange: {low}-{high} is reversed",
        ),
        "no_peer": (
            "MissingParameter",
            "The request must contain exactly one of: cidrIp, cidrIpv6, prefixListId, or "
            "referencedGroupId",
        ),
        "two_peers": (
            "InvalidParameterCombination",
            "Only one of cidrIp, cidrIpv6, prefixListId, or referencedGroupId can be specified",
        ),
        "duplicate_rule": (
            "InvalidPermission.Duplicate",
            'the specified rule "{described}" already exists',
        ),
        "rule_limit": (
            "RulesPerSecurityGroupLimitExceeded",
            "The maximum number of rules per security group has been reached ({limit} "
            "{direction} per address family; group '{group}' would have {count}).",
        ),
        "group_limit": (
            "SecurityGroupLimitExceeded",
            "You have reached the maximum number of VPC security groups ({limit}) for this region.",
        ),
    },
)

PLATFORMS = {CLASSIC.name: CLASSIC, VPC.name: VPC}


def of_group(group: Group) -> Platform:
    """The platform of a group's rules: where the group lives."""
    return CLASSIC if group.vpc is None else VPC


def named(name: str) -> Platform:
    """A lab's platform by its name (a state keeps the name)."""
    return PLATFORMS[name]
