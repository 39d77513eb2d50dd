"""Security groups and their rules, for EC2-Classic and VPC groups alike: find, create and
delete groups; one request type for a permission and one path from it to rules; authorize,
revoke, modify and describe rules by content or by ``sgr-`` id; describe groups with their
filters. What differs between the platforms is the group's platform's data
(:mod:`harness.core.ec2.platform`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace

from harness.core.ec2 import platform as platforms
from harness.core.ec2 import rules as rulebook
from harness.core.ec2.filters import select
from harness.core.ec2.network import find_vpc
from harness.core.ec2.prefix_lists import find_prefix_list
from harness.core.ec2.state import (
    Cloud,
    InstanceRecord,
    check_group_id,
    home_vpc,
    stable_id,
    untagged,
    with_account,
)
from harness.core.model import (
    ICMPS,
    PORTED,
    Group,
    GroupKey,
    Proto,
    Rule,
)
from harness.errors import Ec2Error


def find_group(cloud: Cloud, account: str, ref: str, vpc_id: str | None = None) -> Group:
    """A group of ``account`` by ``sg-`` id (Classic or VPC), or by name: in ``vpc_id`` when
    given, else the Classic group (an EC2-Classic lab) or the default VPC's (a VPC lab);
    other accounts' groups are not seen."""
    if ref.startswith("sg-"):
        check_group_id(ref)
        for group in cloud.groups_of(account):
            if group.group_id == ref:
                return group
        raise rulebook.group_not_found(ref)
    if not ref:
        raise Ec2Error("MissingParameter", "The request must contain the parameter GroupName")
    vpc = vpc_id if vpc_id is not None else home_vpc(cloud, account)
    found = cloud.by_key.get(GroupKey(account, ref, vpc))
    if found is None:
        raise rulebook.group_not_found(ref)
    return found


def source_group(
    cloud: Cloud, account: str, owner: str | None, ref: str, holder: Group | None = None
) -> GroupKey:
    """A rule's peer group: ``ref`` (name or id) owned by ``owner`` (default: ``account``),
    for a rule of ``holder``. A name is looked up in the holder's VPC (Classic: among Classic
    groups, where another account's ``default`` group may be named unseen, as in
    EC2-Classic); a VPC group's peer by id must be in its VPC, another account's (§1.9), or a
    VPC peered with its own by an active peering connection."""
    owner = owner or account
    rulebook.check_account(owner)
    vpc = holder.vpc if holder is not None else None
    if ref.startswith("sg-"):
        check_group_id(ref)
        for other in cloud.groups:
            if other.group_id == ref and other.key.account in (owner, account):
                peered = any(
                    p.status == "active" and {p.requester, p.accepter} == {vpc, other.vpc}
                    for p in cloud.peerings
                )
                if vpc is not None and other.vpc is not None and other.vpc != vpc and not peered:
                    assert holder is not None
                    raise Ec2Error(
                        "InvalidGroup.NotFound",
                        f"You have specified two resources that belong to different networks "
                        f"({other.group_id} in {other.vpc}, {holder.group_id} in {vpc}).",
                    )
                return other.key
        raise rulebook.group_not_found(ref)
    platform = platforms.CLASSIC if vpc is None else platforms.VPC
    key = GroupKey(owner, ref, vpc or "")
    if key not in cloud.by_key and not (
        platform.peer_default_on_demand and ref == platforms.DEFAULT_GROUP
    ):
        raise rulebook.group_not_found(ref if owner == account else f"{owner}/{ref}")
    return key


def groups_naming(cloud: Cloud, key: GroupKey) -> list[Group]:
    """The other groups whose rules (ingress or egress) name group ``key``."""
    return [g for g in cloud.groups if g.key != key and any(r.group == key for r in g.all_rules)]


def users_of(cloud: Cloud, key: GroupKey) -> tuple[list[InstanceRecord], list[Group]]:
    """The active instances in a group and the other groups whose rules name it."""
    instances = [r for r in cloud.active_instances() if key in r.groups]
    return instances, groups_naming(cloud, key)


def permissions(rules: Iterable[Rule]) -> list[tuple[Proto, int, int, list[Rule]]]:
    """Rules as EC2 lists them: one item per (protocol, from, to), in rule order."""
    items: dict[tuple[Proto, int, int], list[Rule]] = {}
    for rule in rules:
        items.setdefault((rule.protocol, rule.from_port, rule.to_port), []).append(rule)
    return [(*key, rules) for key, rules in items.items()]


# -- permissions as requests give them ----------------------------------------------------------


@dataclass(frozen=True)
class Permission:
    """One permission of a request, whichever door it came through: a protocol (``None``:
    EC2's legacy grant of every protocol to a user/group pair), ports or ICMP type/code, and
    its peers, each with its description: CIDRs (IPv4 and IPv6), prefix lists by ``pl-`` id,
    groups as ``(owner, name or id)``."""

    protocol: str | None
    from_port: int | None = None
    to_port: int | None = None
    cidrs: tuple[tuple[str, str], ...] = ()  # (cidr, description)
    prefix_lists: tuple[tuple[str, str], ...] = ()  # (pl- id, description)
    groups: tuple[tuple[str | None, str, str], ...] = ()  # (owner, name or id, description)


# -- groups -------------------------------------------------------------------------------------


def create_group(
    cloud: Cloud, account: str, name: str, description: str, vpc_id: str | None = None
) -> tuple[Cloud, Group]:
    """CreateSecurityGroup: in ``vpc_id``; without one, Classic (an EC2-Classic lab) or the
    default VPC (a VPC lab). A new VPC group allows all out: IPv4, and IPv6 in a VPC with an
    IPv6 block. The quota: Classic, an account's groups; VPC, a region's."""
    cloud = with_account(cloud, account)
    vpc = vpc_id if vpc_id is not None else home_vpc(cloud, account)
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
    group = find_group(cloud, account, ref)
    platform = platforms.of_group(group)
    if group.name == platforms.DEFAULT_GROUP:
        raise Ec2Error(*platform.says("delete_default", group_id=group.group_id))
    if platform.holders == "instances":
        held = [r.instance_id for r in cloud.active_instances() if group.key in r.groups]
    else:
        held = [n.eni_id for n in cloud.nics if group.key in n.groups]
    naming = [g.group_id for g in groups_naming(cloud, group.key)]
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
        tags=untagged(cloud, group.group_id),
    )
    return cloud, group


def rule_id(group: Group, rule: Rule, egress: bool) -> str:
    """A rule's ``sgr-`` id: the one it was given, else one derived from what it is."""
    if rule.rule_id:
        return rule.rule_id
    return stable_id(
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
            key = source_group(cloud, account, owner, ref, group)
            made += [
                rulebook.make_rule(platform, *shape, group=key, description=description)
                for shape in shapes
            ]
        rules += made
    return rules


def _vpc_group(cloud: Cloud, account: str, ref: str) -> tuple[Cloud, Group]:
    cloud = with_account(cloud, account)
    group = find_group(cloud, account, ref)
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
    group = find_group(cloud, account, ref)
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
    group = find_group(cloud, account, ref)
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
    group = find_group(cloud, account, ref)
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
    group = find_group(cloud, account, ref)
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
            group = find_group(cloud, account, ref)
            if group not in chosen:
                chosen.append(group)
    else:
        chosen = cloud.groups_of(account)
    return cloud, select(cloud, chosen, filters or {}, group_filters(cloud), lambda g: g.group_id)
