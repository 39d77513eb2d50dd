"""The VPC era of the control plane, as pure functions over a :class:`Cloud`: VPCs, subnets,
VPC security groups with ingress and egress rules and their ``sgr-`` ids, managed prefix lists,
tags, network interfaces, and instances launched into subnets.

Like :mod:`harness.core.control_plane` (the EC2-Classic actions, which these extend), each
action takes a cloud and returns a new one, or raises :class:`~harness.errors.Ec2Error` with
EC2's code, leaving nothing half-changed. Semantics and codes follow
``shared/reference/vpc-and-real-input.md`` §1.

Choices where AWS's behaviour is not a lab's to copy (the README's VPC section lists them):

* a subnet is public (routed to the lab's internet gateway) when it is a default subnet, when
  its ``MapPublicIpOnLaunch`` is set, or when an interface in it has a public address;
* an interface in a subnet with an IPv6 block gets an IPv6 address (its private address's
  offset in the subnet's /64);
* rule ids are ``sgr-`` and a hash of the group, the direction and the rule, kept by
  ``ModifySecurityGroupRules``; a rule revoked and authorized again gets its old id back;
* a lab's data plane is of one platform: an EC2-Classic lab runs Classic instances (its VPCs
  and VPC groups exist in the control plane), a VPC lab runs instances in subnets.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from ipaddress import IPv4Address, IPv4Network, IPv6Network
from typing import TypeVar

from harness.core import control_plane
from harness.core.control_plane import (
    EC2_CLASSIC,
    VPC,
    Cloud,
    InstanceRecord,
    NicRecord,
    Permission,
    PrefixListRecord,
    SubnetRecord,
    Tag,
    VpcRecord,
    with_account,
)
from harness.core.ec2 import platform as platforms
from harness.core.ec2 import rules as rulebook
from harness.core.model import ICMPS, PORTED, Group, GroupKey, Network, Proto, Rule
from harness.errors import Ec2Error

NewId = Callable[[str], str]
T = TypeVar("T")
MAX_TAGS = 50
MAX_PREFIX_LIST_ENTRIES = 1000


def _not_found(code: str, noun: str, ident: str) -> Ec2Error:
    return Ec2Error(code, f"The {noun} ID '{ident}' does not exist")


def _untagged(cloud: Cloud, resource: str) -> tuple[Tag, ...]:
    """The cloud's tags without those of a resource that is deleted."""
    return tuple(t for t in cloud.tags if t.resource != resource)


def _fresh(new_id: NewId, prefix: str, taken: Iterable[str]) -> str:
    used = set(taken)
    ident = new_id(prefix)
    while ident in used:
        ident = new_id(prefix)
    return ident


# -- VPCs and subnets --------------------------------------------------------------------------
#
# A finder looks a resource up by its id first: a lab made from a topology file keeps the
# file's names as ids (``shop``, ``web``), and only an id the state does not hold is checked
# for EC2's form (``vpc-...``) before it is called missing.


def find_vpc(cloud: Cloud, account: str, vpc_id: str) -> VpcRecord:
    for vpc in cloud.vpcs:
        if vpc.vpc_id == vpc_id and vpc.owner == account:
            return vpc
    if not vpc_id.startswith("vpc-"):
        raise Ec2Error("InvalidVpcID.Malformed", f'Invalid id: "{vpc_id}" (expecting "vpc-...")')
    raise _not_found("InvalidVpcID.NotFound", "vpc", vpc_id)


def _v4_block(text: str, what: str) -> IPv4Network:
    net = rulebook.parse_cidr(text, platforms.VPC)
    if not isinstance(net, IPv4Network) or not 16 <= net.prefixlen <= 28:
        raise Ec2Error(
            "InvalidVpc.Range" if what == "VPC" else "InvalidSubnet.Range",
            f"The CIDR '{text}' is invalid: a {what} block is an IPv4 /16 to /28",
        )
    return net


def create_vpc(
    cloud: Cloud, account: str, cidr: str, ipv6: bool, new_id: NewId
) -> tuple[Cloud, VpcRecord]:
    cloud = with_account(cloud, account)
    block = _v4_block(cidr, "VPC")
    if platforms.PUBLIC_POOL.overlaps(block):
        raise Ec2Error(
            "InvalidVpc.Range",
            f"The CIDR '{cidr}' overlaps the lab's public addresses ({platforms.PUBLIC_POOL})",
        )
    block6 = None
    if ipv6:
        used = {v.ipv6 for v in cloud.vpcs if v.ipv6 is not None}
        index = 1
        while rulebook.nth(platforms.IPV6_POOL, 56, index) in used:
            index += 1
        block6 = rulebook.nth(platforms.IPV6_POOL, 56, index)
    vpc = VpcRecord(_fresh(new_id, "vpc-", (v.vpc_id for v in cloud.vpcs)), account, block, block6)
    cloud = replace(cloud, vpcs=(*cloud.vpcs, vpc))
    return cloud.with_group(rulebook.default_group(account, vpc.vpc_id, ipv6)), vpc


def delete_vpc(cloud: Cloud, account: str, vpc_id: str) -> tuple[Cloud, VpcRecord]:
    cloud = with_account(cloud, account)
    vpc = find_vpc(cloud, account, vpc_id)
    subnets = [s.subnet_id for s in cloud.subnets if s.vpc_id == vpc_id]
    groups = [g.group_id for g in cloud.groups if g.vpc == vpc_id and g.name != "default"]
    if subnets or groups:
        parts = ", ".join(subnets + groups)
        raise Ec2Error(
            "DependencyViolation",
            f"The vpc '{vpc_id}' has dependencies and cannot be deleted ({parts}).",
        )
    remaining = tuple(g for g in cloud.groups if g.vpc != vpc_id)
    cloud = replace(
        cloud,
        vpcs=tuple(v for v in cloud.vpcs if v.vpc_id != vpc_id),
        groups=remaining,
        tags=_untagged(cloud, vpc_id),
    )
    return cloud, vpc


def modify_vpc_attribute(
    cloud: Cloud, account: str, vpc_id: str, name: str, value: bool
) -> tuple[Cloud, VpcRecord]:
    cloud = with_account(cloud, account)
    vpc = find_vpc(cloud, account, vpc_id)
    if name == "enableDnsSupport":
        changed = replace(vpc, dns_support=value)
    elif name == "enableDnsHostnames":
        if value and not vpc.dns_support:
            raise Ec2Error(
                "InvalidParameterValue",
                "enableDnsHostnames needs enableDnsSupport on the VPC",
            )
        changed = replace(vpc, dns_hostnames=value)
    else:
        raise Ec2Error(
            "InvalidParameterValue", f"Value ({name}) for parameter attribute is invalid"
        )
    vpcs = tuple(changed if v.vpc_id == vpc_id else v for v in cloud.vpcs)
    return replace(cloud, vpcs=vpcs), changed


def find_subnet(cloud: Cloud, account: str, subnet_id: str) -> SubnetRecord:
    for subnet in cloud.subnets:
        if subnet.subnet_id == subnet_id and subnet.owner == account:
            return subnet
    if not subnet_id.startswith("subnet-"):
        raise Ec2Error(
            "InvalidSubnetID.Malformed", f'Invalid id: "{subnet_id}" (expecting "subnet-...")'
        )
    raise _not_found("InvalidSubnetID.NotFound", "subnet", subnet_id)


def create_subnet(
    cloud: Cloud,
    account: str,
    *,
    vpc_id: str,
    cidr: str,
    ipv6_cidr: str | None,
    new_id: NewId,
) -> tuple[Cloud, SubnetRecord]:
    cloud = with_account(cloud, account)
    vpc = find_vpc(cloud, account, vpc_id)
    block = _v4_block(cidr, "subnet")
    if not block.subnet_of(vpc.cidr):
        raise Ec2Error("InvalidSubnet.Range", f"The CIDR '{cidr}' is invalid.")
    for other in cloud.subnets:
        if other.vpc_id == vpc_id and other.cidr.overlaps(block):
            raise Ec2Error(
                "InvalidSubnet.Conflict", f"The CIDR '{cidr}' conflicts with another subnet"
            )
    block6 = None
    if ipv6_cidr:
        net6 = rulebook.parse_cidr(ipv6_cidr, platforms.VPC)
        if (
            vpc.ipv6 is None
            or not isinstance(net6, IPv6Network)
            or net6.prefixlen != 64
            or not net6.subnet_of(vpc.ipv6)
        ):
            raise Ec2Error(
                "InvalidSubnet.Range",
                f"The IPv6 CIDR '{ipv6_cidr}' is invalid: a /64 of the VPC's block "
                f"({vpc.ipv6 or 'none'})",
            )
        if any(s.ipv6 == net6 for s in cloud.subnets):
            raise Ec2Error(
                "InvalidSubnet.Conflict", f"The CIDR '{ipv6_cidr}' conflicts with another subnet"
            )
        block6 = net6
    subnet = SubnetRecord(
        _fresh(new_id, "subnet-", (s.subnet_id for s in cloud.subnets)),
        vpc_id,
        account,
        block,
        block6,
    )
    return replace(cloud, subnets=(*cloud.subnets, subnet)), subnet


def delete_subnet(cloud: Cloud, account: str, subnet_id: str) -> tuple[Cloud, SubnetRecord]:
    cloud = with_account(cloud, account)
    subnet = find_subnet(cloud, account, subnet_id)
    if any(n.subnet_id == subnet_id for n in cloud.nics):
        raise Ec2Error(
            "DependencyViolation",
            f"The subnet '{subnet_id}' has dependencies and cannot be deleted.",
        )
    cloud = replace(
        cloud,
        subnets=tuple(s for s in cloud.subnets if s.subnet_id != subnet_id),
        tags=_untagged(cloud, subnet_id),
    )
    return cloud, subnet


def modify_subnet_attribute(
    cloud: Cloud, account: str, subnet_id: str, map_public: bool
) -> tuple[Cloud, SubnetRecord]:
    cloud = with_account(cloud, account)
    subnet = replace(find_subnet(cloud, account, subnet_id), map_public=map_public)
    subnets = tuple(subnet if s.subnet_id == subnet_id else s for s in cloud.subnets)
    return replace(cloud, subnets=subnets), subnet


# -- groups -------------------------------------------------------------------------------------


def create_group(
    cloud: Cloud, account: str, name: str, description: str, vpc_id: str | None = None
) -> tuple[Cloud, Group]:
    """CreateSecurityGroup: in ``vpc_id``; without one, Classic (an EC2-Classic lab) or the
    default VPC (a VPC lab). A new VPC group allows all out: IPv4, and IPv6 in a VPC with an
    IPv6 block. The quota: Classic, an account's groups; VPC, a region's."""
    cloud = with_account(cloud, account)
    vpc = vpc_id if vpc_id is not None else control_plane.home_vpc(cloud, account)
    record = find_vpc(cloud, account, vpc) if vpc else None
    platform = platforms.CLASSIC if record is None else platforms.VPC
    group = rulebook.new_group(
        GroupKey(account, name, vpc),
        description,
        vpc or None,
        record is not None and record.ipv6 is not None,
    )
    if group.key in cloud.by_key:
        raise Ec2Error(*platform.says("duplicate_group", name=name, vpc=vpc))
    counted = sum(
        1
        for g in cloud.groups
        if (g.vpc is None) == (record is None)
        and (not platform.groups_per_account or g.key.account == account)
    )
    rulebook.check_group_count(platform, counted + 1, account)
    group = _with_ids(group)
    return cloud.with_group(group), group


def delete_group(cloud: Cloud, account: str, ref: str) -> tuple[Cloud, Group]:
    """DeleteSecurityGroup: never the default group; never one in use (by its members:
    Classic instances, VPC interfaces; or named by another group's rules)."""
    cloud = with_account(cloud, account)
    group = control_plane.find_group(cloud, account, ref)
    platform = platforms.of_group(group)
    if group.name == platforms.DEFAULT_GROUP:
        raise Ec2Error(*platform.says("delete_default", group_id=group.group_id))
    if platform.holders == "instances":
        held = [r.instance_id for r in cloud.active_instances() if group.key in r.groups]
    else:
        held = [n.eni_id for n in cloud.nics if group.key in n.groups]
    naming = [g.group_id for g in control_plane.groups_naming(cloud, group.key)]
    if held:
        users = ", ".join(held + naming)
        raise Ec2Error(
            *platform.says("held", name=group.name, group_id=group.group_id, users=users)
        )
    if naming:
        users = ", ".join(naming)
        raise Ec2Error(*platform.says("named", group_id=group.group_id, users=users))
    cloud = replace(
        cloud,
        groups=tuple(g for g in cloud.groups if g.key != group.key),
        tags=_untagged(cloud, group.group_id),
    )
    return cloud, group


def rule_id(group: Group, rule: Rule, egress: bool) -> str:
    """A rule's ``sgr-`` id: the one it was given, else one derived from what it is."""
    if rule.rule_id:
        return rule.rule_id
    return control_plane.stable_id(
        "sgr-",
        group.group_id,
        "egress" if egress else "ingress",
        str(rule.protocol),
        str(rule.from_port),
        str(rule.to_port),
        str(rule.cidr or ""),
        rule.group.group_id if rule.group else "",
        rule.prefix_list or "",
    )


def _with_ids(group: Group) -> Group:
    """The group with every rule carrying its id (so a modified rule keeps it)."""
    rules = tuple(replace(r, rule_id=rule_id(group, r, False)) for r in group.rules)
    egress = (
        None
        if group.egress is None
        else tuple(replace(r, rule_id=rule_id(group, r, True)) for r in group.egress)
    )
    return replace(group, rules=rules, egress=egress)


def _ports(
    platform: platforms.Platform, protocol: Proto, low: int | None, high: int | None
) -> tuple[int, int]:
    """A permission's ports as given; left out: any ICMP type and code in a VPC, else EC2's
    error (the protocols without ports take -1:-1)."""
    if protocol in PORTED or protocol in ICMPS:
        if low is None or high is None:
            if protocol in ICMPS and platform.icmp_any_by_default:
                return (-1 if low is None else low), (-1 if high is None else high)
            if protocol in ICMPS:
                raise Ec2Error(*platform.says("icmp_no_ports"))
            raise Ec2Error(*platform.says("ports_missing", value=-1 if low is None else high))
        return low, high
    return -1, -1


def permission_rules(
    cloud: Cloud, account: str, group: Group, permissions: Sequence[Permission]
) -> list[Rule]:
    """The rules a request's permissions stand for on ``group``, by its platform's rules:
    protocols, CIDR families, ports, which peers it takes; a protocol left out (the legacy
    user/group pair form) is every protocol (Classic: tcp, udp and icmp; VPC: -1). Peer by
    peer, in the request's order."""
    platform = platforms.of_group(group)
    rules: list[Rule] = []
    for p in permissions:
        if not (p.cidrs or p.prefix_lists or p.groups):
            raise rulebook.missing_source()
        if not platform.vpc_peers and (p.prefix_lists or any(":" in c for c, _ in p.cidrs)):
            raise Ec2Error(*platform.says("vpc_peer"))
        if p.protocol is None:
            shapes = list(platform.all_traffic)
        else:
            protocol = rulebook.parse_protocol(p.protocol, platform)
            shapes = [(protocol, *_ports(platform, protocol, p.from_port, p.to_port))]
        made: list[Rule] = []
        for text, description in p.cidrs:
            cidr = rulebook.parse_cidr(text, platform)
            made += [
                rulebook.make_rule(platform, *shape, cidr=cidr, description=description)
                for shape in shapes
            ]
        for list_id, description in p.prefix_lists:
            plist = find_prefix_list(cloud, account, list_id, shared=True).list_id
            made += [
                rulebook.make_rule(platform, *shape, prefix_list=plist, description=description)
                for shape in shapes
            ]
        for owner, ref, description in p.groups:
            key = control_plane.source_group(cloud, account, owner, ref, group)
            made += [
                rulebook.make_rule(platform, *shape, group=key, description=description)
                for shape in shapes
            ]
        rules += made
    return rules


def _vpc_group(cloud: Cloud, account: str, ref: str) -> tuple[Cloud, Group]:
    cloud = with_account(cloud, account)
    group = control_plane.find_group(cloud, account, ref)
    if group.vpc is None:
        raise Ec2Error(
            "InvalidGroup.NotFound",
            f"The security group '{ref}' is an EC2-Classic group: it has no egress rules",
        )
    return cloud, group


def authorize(
    cloud: Cloud,
    account: str,
    ref: str,
    permissions: Sequence[Permission],
    egress: bool,
) -> tuple[Cloud, tuple[Group, list[Rule]]]:
    """Authorize ingress or egress rules on a VPC group; returns the new rules with ids."""
    cloud = with_account(cloud, account)
    group = control_plane.find_group(cloud, account, ref)
    if group.vpc is None and egress:
        _vpc_group(cloud, account, ref)
    rules = permission_rules(cloud, account, group, permissions)
    if not rules:
        raise rulebook.missing_source()
    if group.vpc is None:
        changed = rulebook.authorize(group, rules)
    else:
        changed = rulebook.authorize(group, rules, egress)
    changed = _with_ids(changed)
    wanted = set(rules)
    added = [r for r in changed.side(egress) if r in wanted]
    return cloud.with_group(changed), (changed, added)


def revoke(
    cloud: Cloud,
    account: str,
    *,
    ref: str,
    permissions: Sequence[Permission],
    rule_ids: Sequence[str],
    egress: bool,
) -> tuple[Cloud, tuple[Group, list[Rule], list[Rule]]]:
    """Revoke rules by content or by ``sgr-`` id: the group, the rules removed, and the rules
    asked for that it does not have. In a nondefault VPC such a rule is an error
    (``InvalidPermission.NotFound``); in a default VPC (and EC2-Classic) the call succeeds and
    names them (``UnknownIpPermissions``, the EC2 API reference). An unknown rule id is an
    error everywhere."""
    cloud = with_account(cloud, account)
    group = control_plane.find_group(cloud, account, ref)
    if group.vpc is None and egress:
        _vpc_group(cloud, account, ref)
    current = group.side(egress)
    unknown: list[Rule] = []
    if rule_ids:
        by_id = {rule_id(group, r, egress): r for r in current}
        missing = [i for i in rule_ids if i not in by_id]
        if missing:
            raise Ec2Error(
                "InvalidSecurityGroupRuleId.NotFound",
                f"The security group rule ID '{missing[0]}' does not exist",
            )
        gone = [by_id[i] for i in rule_ids]
    else:
        gone = permission_rules(cloud, account, group, permissions)
        if not gone:
            raise rulebook.missing_source()
        unknown = [r for r in gone if r not in current]
        if unknown and group.vpc is not None and not _default_vpc(cloud, group.vpc):
            raise Ec2Error(
                "InvalidPermission.NotFound",
                f"The specified rule does not exist in this security group "
                f"({unknown[0].describe(account, 'to' if egress else 'from')})",
            )
    going = set(gone)
    removed = [r for r in current if r in going]
    changed = group.with_side(egress, tuple(r for r in current if r not in going))
    return cloud.with_group(changed), (changed, removed, unknown)


def _default_vpc(cloud: Cloud, vpc_id: str) -> bool:
    return any(v.vpc_id == vpc_id and v.default for v in cloud.vpcs)


@dataclass(frozen=True)
class RuleRecord:
    """One rule as DescribeSecurityGroupRules shows it."""

    group: Group
    rule: Rule
    egress: bool

    @property
    def rule_id(self) -> str:
        return rule_id(self.group, self.rule, self.egress)


def rules_of(cloud: Cloud, account: str) -> list[RuleRecord]:
    found = []
    for group in cloud.groups_of(account):
        found += [RuleRecord(group, r, False) for r in group.rules]
        found += [RuleRecord(group, r, True) for r in group.egress or ()]
    return found


def find_rule(cloud: Cloud, account: str, ident: str) -> RuleRecord:
    for record in rules_of(cloud, account):
        if record.rule_id == ident:
            return record
    raise Ec2Error(
        "InvalidSecurityGroupRuleId.NotFound",
        f"The security group rule ID '{ident}' does not exist",
    )


def modify_rules(
    cloud: Cloud,
    account: str,
    ref: str,
    changes: Sequence[tuple[str, Permission]],
) -> tuple[Cloud, Group]:
    """ModifySecurityGroupRules: each rule (by id) replaced by a new definition, keeping its id
    and its direction."""
    cloud = with_account(cloud, account)
    group = control_plane.find_group(cloud, account, ref)
    for ident, permission in changes:
        record = find_rule(cloud, account, ident)
        if record.group.key != group.key:
            raise Ec2Error(
                "InvalidSecurityGroupRuleId.NotFound",
                f"The security group rule ID '{ident}' does not belong to {group.group_id}",
            )
        new = permission_rules(cloud, account, group, [permission])
        if len(new) != 1:
            raise Ec2Error("InvalidParameterValue", f"A rule of {ident} must name exactly one peer")
        rule = replace(new[0], rule_id=ident)
        current = group.side(record.egress)
        if rule in current and rule != record.rule:
            raise Ec2Error(
                "InvalidPermission.Duplicate", f"the rule {rule.describe(account)} already exists"
            )
        changed = tuple(rule if r.rule_id == ident or r == record.rule else r for r in current)
        group = group.with_side(record.egress, changed)
        cloud = cloud.with_group(group)
    return cloud, group


def describe_rules(
    cloud: Cloud,
    account: str,
    ref: str,
    *,
    by_content: Sequence[Permission],
    by_id: Sequence[tuple[str, str]],
    egress: bool,
) -> tuple[Cloud, Group]:
    """UpdateSecurityGroupRuleDescriptionsIngress/Egress: new descriptions for existing rules,
    named by content (the description comes with each peer) or by id."""
    cloud = with_account(cloud, account)
    group = control_plane.find_group(cloud, account, ref)
    current = list(group.side(egress))
    ids = [rule_id(group, r, egress) for r in current]
    for ident, text in by_id:
        if ident not in ids:
            raise Ec2Error(
                "InvalidSecurityGroupRuleId.NotFound",
                f"The security group rule ID '{ident}' does not exist in {group.group_id}",
            )
        index = ids.index(ident)
        current[index] = replace(current[index], description=text)
    for new in permission_rules(cloud, account, group, by_content):
        if new not in current:
            raise Ec2Error(
                "InvalidPermission.NotFound",
                f"The specified rule does not exist in this security group "
                f"({new.describe(account)})",
            )
        index = current.index(new)
        current[index] = replace(current[index], description=new.description)
    group = group.with_side(egress, tuple(current))
    return cloud.with_group(group), group


# -- managed prefix lists -------------------------------------------------------------------------


def find_prefix_list(
    cloud: Cloud, account: str, list_id: str, shared: bool = False
) -> PrefixListRecord:
    for plist in cloud.prefix_lists:
        if plist.list_id == list_id and (shared or plist.owner == account):
            return plist
    if not list_id.startswith("pl-"):
        raise Ec2Error(
            "InvalidPrefixListID.Malformed", f'Invalid id: "{list_id}" (expecting "pl-...")'
        )
    raise _not_found("InvalidPrefixListID.NotFound", "prefix list", list_id)


def _entries(
    family: str, items: Sequence[tuple[str, str]], where: str
) -> list[tuple[Network, str]]:
    found = []
    for text, description in items:
        net = rulebook.parse_cidr(text, platforms.VPC)
        if (net.version == 6) != (family == "IPv6"):
            raise Ec2Error(
                "InvalidParameterValue",
                f"The {where} entry {text} is not an {family} CIDR",
            )
        found.append((net, description))
    return found


def create_prefix_list(
    cloud: Cloud,
    account: str,
    *,
    name: str,
    family: str,
    max_entries: int,
    entries: Sequence[tuple[str, str]],
    new_id: NewId,
) -> tuple[Cloud, PrefixListRecord]:
    cloud = with_account(cloud, account)
    if family not in ("IPv4", "IPv6"):
        raise Ec2Error(
            "InvalidParameterValue", f"Value ({family}) for parameter AddressFamily is invalid"
        )
    if not name:
        raise Ec2Error("MissingParameter", "The request must contain the parameter PrefixListName")
    if not 1 <= max_entries <= MAX_PREFIX_LIST_ENTRIES:
        raise Ec2Error(
            "InvalidParameterValue", f"Value ({max_entries}) for parameter MaxEntries is invalid"
        )
    found = _entries(family, entries, name)
    if len(found) > max_entries:
        raise Ec2Error(
            "PrefixListMaxEntriesExceeded",
            f"The prefix list has {len(found)} entries; its maximum is {max_entries}",
        )
    plist = PrefixListRecord(
        _fresh(new_id, "pl-", (p.list_id for p in cloud.prefix_lists)),
        account,
        name,
        family,
        max_entries,
        tuple(found),
    )
    return replace(cloud, prefix_lists=(*cloud.prefix_lists, plist)), plist


def modify_prefix_list(
    cloud: Cloud,
    account: str,
    *,
    list_id: str,
    version: int | None,
    name: str | None,
    add: Sequence[tuple[str, str]],
    remove: Sequence[str],
    max_entries: int | None,
) -> tuple[Cloud, PrefixListRecord]:
    cloud = with_account(cloud, account)
    plist = find_prefix_list(cloud, account, list_id)
    if version is not None and version != plist.version:
        raise Ec2Error(
            "PrefixListVersionMismatch",
            f"The prefix list {list_id} is at version {plist.version}, not {version}",
        )
    entries = dict(plist.entries)
    for text in remove:
        net = rulebook.parse_cidr(text, platforms.VPC)
        if net not in entries:
            raise Ec2Error(
                "InvalidPrefixListModification",
                f"The CIDR {text} is not an entry of {list_id}",
            )
        del entries[net]
    for net, description in _entries(plist.family, add, list_id):
        entries[net] = description
    limit = max_entries if max_entries is not None else plist.max_entries
    if len(entries) > limit:
        raise Ec2Error(
            "PrefixListMaxEntriesExceeded",
            f"The prefix list {list_id} would have {len(entries)} entries; its maximum is {limit}",
        )
    changed_entries = tuple(entries.items()) != plist.entries
    new = replace(
        plist,
        name=name or plist.name,
        entries=tuple(entries.items()),
        max_entries=limit,
        version=plist.version + 1 if changed_entries else plist.version,
    )
    lists = tuple(new if p.list_id == list_id else p for p in cloud.prefix_lists)
    return replace(cloud, prefix_lists=lists), new


def delete_prefix_list(cloud: Cloud, account: str, list_id: str) -> tuple[Cloud, PrefixListRecord]:
    cloud = with_account(cloud, account)
    plist = find_prefix_list(cloud, account, list_id)
    users = [g.group_id for g in cloud.groups if any(r.prefix_list == list_id for r in g.all_rules)]
    if users:  # EC2 deletes asynchronously: accepted, and the list ends in delete-failed
        failed = replace(
            plist,
            state="delete-failed",
            state_message=f"The prefix list is referenced by {', '.join(users)}",
        )
        lists = tuple(failed if p.list_id == list_id else p for p in cloud.prefix_lists)
        return replace(cloud, prefix_lists=lists), failed
    cloud = replace(
        cloud,
        prefix_lists=tuple(p for p in cloud.prefix_lists if p.list_id != list_id),
        tags=_untagged(cloud, list_id),
    )
    return cloud, plist


# -- tags -----------------------------------------------------------------------------------------


def _resource_exists(cloud: Cloud, account: str, resource: str) -> None:
    prefix = resource.split("-", 1)[0]
    finders: dict[str, Callable[[], object]] = {
        "vpc": lambda: find_vpc(cloud, account, resource),
        "subnet": lambda: find_subnet(cloud, account, resource),
        "sg": lambda: control_plane.find_group(cloud, account, resource),
        "sgr": lambda: find_rule(cloud, account, resource),
        "pl": lambda: find_prefix_list(cloud, account, resource),
        "i": lambda: control_plane.find_instances(cloud, account, [resource]),
        "eni": lambda: find_nic(cloud, account, resource),
        "ami": lambda: _own_image(cloud, account, resource),
    }
    finder = finders.get(prefix)
    if finder is None:
        raise Ec2Error("InvalidID", f"The ID '{resource}' is not valid")
    finder()


def _own_image(cloud: Cloud, account: str, image_id: str) -> None:
    if control_plane.find_image(cloud, image_id).owner != account:
        raise Ec2Error("AuthFailure", f"Not authorized for image:{image_id}")


def create_tags(
    cloud: Cloud,
    account: str,
    resources: Sequence[str],
    tags: Sequence[tuple[str, str]],
    at_launch: bool = False,
) -> tuple[Cloud, None]:
    cloud = with_account(cloud, account)
    if not resources:
        raise Ec2Error("MissingParameter", "The request must contain the parameter ResourceId")
    for resource in resources:
        _resource_exists(cloud, account, resource)
    kept = list(cloud.tags)
    for resource in resources:
        for key, value in tags:
            if not key or key.startswith("aws:"):
                raise Ec2Error("InvalidParameterValue", f"Tag key '{key}' is not allowed")
            if key == control_plane.LISTEN_TAG:  # what it serves: checked before it is kept
                control_plane.parse_listen(value, f"{resource} tag {key}")
                if resource.startswith("i-") and not at_launch:
                    raise Ec2Error(
                        "InvalidParameterValue",
                        f"{resource}: what an instance serves is fixed when it is launched "
                        f"(tag its image, or give {key} in RunInstances' TagSpecifications)",
                    )
            kept = [t for t in kept if not (t.resource == resource and t.key == key)]
            kept.append(Tag(resource, key, value))
        if sum(1 for t in kept if t.resource == resource) > MAX_TAGS:
            raise Ec2Error(
                "TagLimitExceeded", f"The resource {resource} has more than {MAX_TAGS} tags"
            )
    return replace(cloud, tags=tuple(kept)), None


def delete_tags(
    cloud: Cloud, account: str, resources: Sequence[str], tags: Sequence[tuple[str, str | None]]
) -> tuple[Cloud, None]:
    """Remove tags: a key alone removes it whatever its value; no tags removes all."""
    cloud = with_account(cloud, account)
    for resource in resources:
        _resource_exists(cloud, account, resource)
    chosen = set(resources)

    def gone(tag: Tag) -> bool:
        if tag.resource not in chosen:
            return False
        if not tags:
            return True
        return any(tag.key == k and (v is None or tag.value == v) for k, v in tags)

    return replace(cloud, tags=tuple(t for t in cloud.tags if not gone(t))), None


def tags_of(cloud: Cloud, resource: str) -> list[tuple[str, str]]:
    return [(t.key, t.value) for t in cloud.tags if t.resource == resource]


def owned_resources(cloud: Cloud, account: str) -> set[str]:
    found = {v.vpc_id for v in cloud.vpcs if v.owner == account}
    found |= {s.subnet_id for s in cloud.subnets if s.owner == account}
    found |= {g.group_id for g in cloud.groups_of(account)}
    found |= {p.list_id for p in cloud.prefix_lists if p.owner == account}
    found |= {r.instance_id for r in cloud.instances if r.owner == account}
    found |= {n.eni_id for n in cloud.nics if n.owner == account}
    found |= {i.image_id for i in cloud.images if i.owner == account}
    found |= {r.rule_id for r in rules_of(cloud, account)}
    return found


# -- network interfaces and instances --------------------------------------------------------------


def find_nic(cloud: Cloud, account: str, eni_id: str) -> NicRecord:
    for nic in cloud.nics:
        if nic.eni_id == eni_id and nic.owner == account:
            return nic
    if not eni_id.startswith("eni-"):
        raise Ec2Error(
            "InvalidNetworkInterfaceID.Malformed", f'Invalid id: "{eni_id}" (expecting "eni-...")'
        )
    raise _not_found("InvalidNetworkInterfaceID.NotFound", "network interface", eni_id)


@dataclass(frozen=True)
class NicRequest:
    """One network interface of a RunInstances request."""

    subnet_id: str
    groups: tuple[str, ...] = ()  # ids or names
    public: bool | None = None  # AssociatePublicIpAddress (None: the subnet's default)
    address: str | None = None
    device_index: int = 0
    description: str = ""


def default_subnet(cloud: Cloud, account: str) -> str:
    """Where an instance launched without a subnet goes: the default VPC's default subnet."""
    default = control_plane.default_vpc_of(cloud, account)
    if default is None:
        raise Ec2Error("VPCIdNotSpecified", "No default VPC for this user")
    for subnet in cloud.subnets:
        if subnet.vpc_id == default.vpc_id and subnet.default:
            return subnet.subnet_id
    raise Ec2Error(
        "MissingInput",
        f"No default subnet for availability zone: '{control_plane.zone_of(cloud.region)}'",
    )


def _groups_for(
    cloud: Cloud, account: str, refs: Sequence[str], vpc_id: str
) -> tuple[GroupKey, ...]:
    keys: list[GroupKey] = []
    for ref in refs or [platforms.DEFAULT_GROUP]:
        group = control_plane.find_group(
            cloud, account, ref, None if ref.startswith("sg-") else vpc_id
        )
        if (group.vpc or "") != vpc_id:
            raise Ec2Error(
                "InvalidParameter",
                f"Security group {group.group_id} and subnet belong to different networks.",
            )
        if group.key not in keys:
            keys.append(group.key)
    if vpc_id:  # an interface's groups (an EC2-Classic instance has none)
        rulebook.check_interface_groups(len(keys))
    return tuple(keys)


def _free_address(subnet: SubnetRecord, taken: set[IPv4Address]) -> IPv4Address:
    found = rulebook.free_address(taken, subnet.cidr)
    if found is None:
        raise Ec2Error(
            "InsufficientFreeAddressesInSubnet",
            f"The subnet {subnet.subnet_id} ({subnet.cidr}) has no free address",
        )
    return found


def _free_public(taken: set[IPv4Address]) -> IPv4Address:
    found = rulebook.free_address(taken)
    if found is None:
        raise Ec2Error(
            "AddressLimitExceeded",
            f"The lab's public addresses ({platforms.PUBLIC_POOL}) are used up",
        )
    return found


def run_instances(
    cloud: Cloud,
    account: str,
    image_id: str,
    count: int,
    *,
    groups: Sequence[str] = (),
    nics: Sequence[NicRequest] = (),
    now: str,
    new_id: NewId,
    instance_type: str = control_plane.DEFAULT_TYPE,
) -> tuple[Cloud, list[InstanceRecord]]:
    """RunInstances on either platform: ``count`` instances of an AMI. Without interfaces,
    on an EC2-Classic lab each is an EC2-Classic instance on the lab's flat subnet in
    ``groups`` (``default`` when none); otherwise each gets the interfaces asked for (one in
    the default subnet with ``groups`` when none; an interface without a subnet goes into the
    default subnet too). ``new_id(prefix)`` makes ids; ``now`` is the launch time."""
    cloud = with_account(cloud, account)
    control_plane.ami(image_id)
    if count < 1:
        raise Ec2Error(
            "InvalidParameterValue", f"Value ({count}) for parameter MinCount is invalid"
        )
    classic = not nics and cloud.platform == EC2_CLASSIC
    if nics and cloud.platform != VPC:
        raise Ec2Error(
            "Unsupported",
            "This lab runs EC2-Classic instances; instances in a subnet need a VPC lab "
            "('sgh lab up --platform vpc')",
        )
    plans: list[tuple[NicRequest, SubnetRecord | None, tuple[GroupKey, ...]]] = []
    if classic:
        plans.append((NicRequest("", tuple(groups)), None, _groups_for(cloud, account, groups, "")))
    else:
        chosen = [
            n if n.subnet_id else replace(n, subnet_id=default_subnet(cloud, account))
            for n in nics or [NicRequest("", tuple(groups))]
        ]
        if sorted(n.device_index for n in chosen) != list(range(len(chosen))):
            raise Ec2Error(
                "InvalidParameterValue", "Network interface device indexes must be 0, 1, ..."
            )
        if count > 1 and any(n.address for n in chosen):
            raise Ec2Error(
                "InvalidParameterCombination",
                "A private IP address can be given only when one instance is launched",
            )
        for request in sorted(chosen, key=lambda n: n.device_index):
            subnet = find_subnet(cloud, account, request.subnet_id)
            plans.append(
                (request, subnet, _groups_for(cloud, account, request.groups, subnet.vpc_id))
            )
        if len({subnet.vpc_id for _, subnet, _ in plans if subnet is not None}) > 1:
            raise Ec2Error(
                "InvalidParameterValue", "The network interfaces of an instance must be in one VPC"
            )
    running = len(cloud.active_instances())
    if running + count > control_plane.MAX_INSTANCES:
        raise Ec2Error(
            "InstanceLimitExceeded",
            f"Your quota allows for {control_plane.MAX_INSTANCES - running} more running "
            f"instance(s) in this lab. You requested at least {count}",
        )
    taken = (
        {r.address for r in cloud.active_instances()}
        | {n.address for n in cloud.nics if n.instance_id}
        | {h.address for h in cloud.hosts}
    )
    public_taken = {n.public for n in cloud.nics if n.public is not None}
    reservation = new_id("r-")
    ids = {r.instance_id for r in cloud.instances}
    enis = {n.eni_id for n in cloud.nics}
    records: list[InstanceRecord] = []
    new_nics: list[NicRecord] = []
    for index in range(count):
        instance_id = _fresh(new_id, "i-", ids)
        ids.add(instance_id)
        made: list[NicRecord] = []
        for request, place, keys in plans:
            address = _address(cloud, request, place, taken)
            taken.add(address)
            if place is None:  # an EC2-Classic instance: no interface of its own
                made.append(NicRecord("", account, "", address, keys))
                continue
            wants_public = place.map_public if request.public is None else request.public
            if wants_public and request.device_index != 0:
                raise Ec2Error(
                    "InvalidParameterCombination",
                    "A public IP address can be associated only with device index 0",
                )
            public = _free_public(public_taken) if wants_public else None
            if public is not None:
                public_taken.add(public)
            ipv6 = (
                rulebook.ipv6_of(address, place.cidr, place.ipv6)
                if place.ipv6 is not None
                else None
            )
            eni = _fresh(new_id, "eni-", enis)
            enis.add(eni)
            made.append(
                NicRecord(
                    eni,
                    account,
                    place.subnet_id,
                    address,
                    keys,
                    public,
                    ipv6,
                    instance_id,
                    request.device_index,
                    request.description,
                )
            )
        primary = made[0]
        records.append(
            InstanceRecord(
                instance_id,
                reservation,
                account,
                image_id,
                primary.groups,
                primary.address,
                index,
                now,
                instance_type=instance_type,
                subnet_id=primary.subnet_id,
                listen=control_plane.image_of(cloud, image_id).listen,
            )
        )
        new_nics += [nic for nic in made if nic.eni_id]
    cloud = replace(
        cloud, instances=cloud.instances + tuple(records), nics=cloud.nics + tuple(new_nics)
    )
    return cloud, records


def _address(
    cloud: Cloud, request: NicRequest, subnet: SubnetRecord | None, taken: set[IPv4Address]
) -> IPv4Address:
    """An interface's private address: the one asked for, else the subnet's first free one
    (an EC2-Classic instance's: the lab's flat subnet's)."""
    if subnet is None:
        found = rulebook.free_address(taken, cloud.subnet)
        if found is None:
            raise Ec2Error(
                "InsufficientInstanceCapacity",
                f"The lab's subnet {cloud.subnet} has no free address for more instances",
            )
        return found
    if request.address:
        address = IPv4Address(request.address)
        if address not in subnet.cidr or address in taken:
            raise Ec2Error(
                "InvalidIPAddress.InUse" if address in taken else "InvalidParameterValue",
                f"Address {address} is in use or outside {subnet.subnet_id} ({subnet.cidr})",
            )
        return address
    return _free_address(subnet, taken)


def set_nic_groups(
    cloud: Cloud, account: str, eni_id: str, refs: Sequence[str]
) -> tuple[Cloud, NicRecord]:
    """ModifyNetworkInterfaceAttribute with groups: the interface's groups are replaced."""
    cloud = with_account(cloud, account)
    nic = find_nic(cloud, account, eni_id)
    if not refs:
        raise Ec2Error("MissingParameter", "The request must contain the parameter SecurityGroupId")
    subnet = next(s for s in cloud.subnets if s.subnet_id == nic.subnet_id)
    keys = _groups_for(cloud, account, refs, subnet.vpc_id)
    changed = replace(nic, groups=keys)
    nics = tuple(changed if n.eni_id == eni_id else n for n in cloud.nics)
    instances = cloud.instances
    if changed.device_index == 0 and changed.instance_id:
        instances = tuple(
            replace(r, groups=keys) if r.instance_id == changed.instance_id else r
            for r in instances
        )
    return replace(cloud, nics=nics, instances=instances), changed


def set_instance_groups(
    cloud: Cloud, account: str, instance_id: str, refs: Sequence[str]
) -> tuple[Cloud, NicRecord]:
    """ModifyInstanceAttribute with groups: the groups of the instance's primary interface."""
    cloud = with_account(cloud, account)
    (record,) = control_plane.find_instances(cloud, account, [instance_id])
    if not record.active:
        raise Ec2Error(
            "IncorrectInstanceState", f"The instance '{instance_id}' is not in a state to modify"
        )
    for nic in cloud.nics:
        if nic.instance_id == instance_id and nic.device_index == 0:
            return set_nic_groups(cloud, account, nic.eni_id, refs)
    raise Ec2Error(
        "InvalidInstanceID",
        f"The instance '{instance_id}' is an EC2-Classic instance: its groups cannot change",
    )


def nics_of(cloud: Cloud, instance_id: str) -> list[NicRecord]:
    return sorted(
        (n for n in cloud.nics if n.instance_id == instance_id), key=lambda n: n.device_index
    )


def set_platform(cloud: Cloud, platform: str) -> Cloud:
    """A new lab's platform; an existing lab keeps its own."""
    if platform not in control_plane.PLATFORMS:
        raise Ec2Error("InvalidParameterValue", f"platform '{platform}': use ec2-classic or vpc")
    return replace(cloud, platform=platform)


# -- describe filters ------------------------------------------------------------------------------


def select(
    cloud: Cloud,
    items: Sequence[T],
    filters: dict[str, list[str]],
    known: dict[str, Callable[[T], list[str]]],
    ident: Callable[[T], str],
) -> list[T]:
    """Items that pass every filter (AND of filters, OR of one filter's values, ``*``/``?``
    wildcards); ``tag:KEY``, ``tag-key`` and ``tag-value`` work on every resource."""
    for name, values in filters.items():
        if (
            name not in known
            and not name.startswith("tag:")
            and name not in ("tag-key", "tag-value")
        ):
            raise Ec2Error("InvalidParameterValue", f"The filter '{name}' is invalid")
        if not values:
            raise Ec2Error("InvalidParameterValue", f"The filter '{name}' has no values")

    def values_of(item: T, name: str) -> list[str]:
        if name in known:
            return known[name](item)
        tags = tags_of(cloud, ident(item))
        if name == "tag-key":
            return [k for k, _ in tags]
        if name == "tag-value":
            return [v for _, v in tags]
        return [v for k, v in tags if k == name[4:]]

    return [
        item
        for item in items
        if all(control_plane.matches(values_of(item, n), v) for n, v in filters.items())
    ]


def named_pair(cloud: Cloud, key: GroupKey) -> bool:
    """Whether EC2 names a referenced group by its name too: an EC2-Classic group, or one in
    a default VPC; a reference within a nondefault VPC is ``{GroupId, UserId}`` alone (the
    EC2 API reference: UserIdGroupPair.GroupName is "[Default VPC]")."""
    if not key.vpc:
        return True
    return any(v.vpc_id == key.vpc and v.default for v in cloud.vpcs)


def _peer_values(cloud: Cloud, rules: Sequence[Rule], name: str) -> list[str]:
    if name == "cidr":
        return [str(r.cidr) for r in rules if r.cidr is not None and r.cidr.version == 4]
    if name == "ipv6-cidr":
        return [str(r.cidr) for r in rules if r.cidr is not None and r.cidr.version == 6]
    if name == "prefix-list-id":
        return [r.prefix_list for r in rules if r.prefix_list]
    if name == "from-port":
        return [str(r.from_port) for r in rules]
    if name == "to-port":
        return [str(r.to_port) for r in rules]
    if name == "protocol":
        return [str(r.protocol) for r in rules]
    keys = [r.group for r in rules if r.group is not None]
    if name == "group-id":
        return [k.group_id for k in keys]
    if name == "group-name":  # only where EC2 describes the pair by name
        return [k.name for k in keys if named_pair(cloud, k)]
    return [k.account for k in keys]  # user-id


PEER_FILTERS = (
    "cidr",
    "ipv6-cidr",
    "prefix-list-id",
    "from-port",
    "to-port",
    "protocol",
    "group-id",
    "group-name",
    "user-id",
)


def group_filters(cloud: Cloud) -> dict[str, Callable[[Group], list[str]]]:
    found: dict[str, Callable[[Group], list[str]]] = {
        "description": lambda g: [g.description],
        "group-id": lambda g: [g.group_id],
        "group-name": lambda g: [g.name],
        "owner-id": lambda g: [g.key.account],
        "vpc-id": lambda g: [g.vpc] if g.vpc else [],
    }
    for peer in PEER_FILTERS:
        found[f"ip-permission.{peer}"] = lambda g, p=peer: _peer_values(cloud, g.rules, p)  # type: ignore[misc]
        found[f"egress.ip-permission.{peer}"] = lambda g, p=peer: _peer_values(  # type: ignore[misc]
            cloud, g.egress or (), p
        )
    return found


def describe_groups(
    cloud: Cloud,
    account: str,
    refs: Sequence[str] = (),
    filters: dict[str, list[str]] | None = None,
) -> tuple[Cloud, list[Group]]:
    """Groups by name or id (all of the account's, Classic and VPC, when none), narrowed by
    filters."""
    cloud = with_account(cloud, account)
    if refs:
        chosen: list[Group] = []
        for ref in refs:
            group = control_plane.find_group(cloud, account, ref)
            if group not in chosen:
                chosen.append(group)
    else:
        chosen = cloud.groups_of(account)
    return cloud, select(cloud, chosen, filters or {}, group_filters(cloud), lambda g: g.group_id)
