"""The one reader of a rule in a topology file, for EC2-Classic and VPC groups alike.

A rule is ``protocol`` with ``ports``/``port`` or ``icmp``, or a ``service`` preset (``ssh``,
``https``, ...), from ``source``/``sources`` (ingress) or to ``destination``/``destinations``
(egress), with an optional ``description``. A peer is written one way in every file: ``pl:NAME``
a prefix list, ``ACCOUNT/GROUP`` another account's group, an IPv4 or IPv6 CIDR, else a group
of the rule's own VPC (or Classic). What the group's platform takes (protocols, CIDR families,
prefix lists, what every protocol means when none is written) is its data
(:mod:`harness.core.ec2.platform`); which groups and prefix lists exist is the file's, asked
through ``resolve``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from harness.core.ec2 import platform as platforms
from harness.core.ec2 import rules as rulebook
from harness.core.ec2.platform import Platform
from harness.core.model import ICMPS, PORTED, GroupKey, Network, Protocol, Rule
from harness.core.port_catalog import PRESETS
from harness.errors import Ec2Error
from harness.formats.yaml_lines import Reader, kept_or_raised


@dataclass(frozen=True)
class Resolve:
    """What the file knows: a group named in a rule of ``owner`` (``account`` None: the
    owner's), and a prefix list by name (None: the file has none)."""

    group: Callable[[str | None, str, GroupKey, str], GroupKey]  # (account, name, owner, text)
    prefix_list: Callable[[str], str] | None = None


def peer(
    text: str, owner: GroupKey, platform: Platform, resolve: Resolve
) -> tuple[Network | None, GroupKey | None, str | None]:
    """A peer's text (:func:`~harness.core.ec2.rules.peer_kind`): its CIDR, group or prefix
    list, as the file knows them."""
    kind, account, value = rulebook.peer_kind(text)
    if kind == "prefix-list":
        if resolve.prefix_list is None or not platform.vpc_peers:
            raise Ec2Error(*platform.says("vpc_peer"))
        return None, None, resolve.prefix_list(value)
    if kind == "cidr":
        return rulebook.parse_cidr(value, platform), None, None
    return None, resolve.group(account, value, owner, text), None


def read_rules(
    r: Reader, item: object, owner: GroupKey, egress: bool, resolve: Resolve
) -> list[Rule]:
    """One rule entry of a group (one rule a peer, or a preset's rules a peer)."""
    platform = platforms.CLASSIC if not owner.vpc else platforms.VPC
    peer_key, peers_key = ("destination", "destinations") if egress else ("source", "sources")
    spec = r.mapping(
        item,
        "a rule",
        {"protocol", "ports", "port", "icmp", peer_key, peers_key, "description", "service"},
        set(),
    )
    if peer_key in spec and peers_key in spec:
        r.fail(f"give '{peer_key}' or '{peers_key}', not both")
    if "ports" in spec and "port" in spec:
        r.fail("give 'ports' or 'port', not both")
    raw = spec.get(peers_key, spec.get(peer_key))
    if raw is None:
        code, words = platform.says("no_peer")
        hint = f"a rule needs a {peer_key}: a CIDR, a group, ACCOUNT/group or pl:NAME"
        raise Ec2Error(code, f"{words} ({hint})")
    shapes = _shapes(r, spec, platform)
    description = r.string(spec.get("description", ""), "description")
    service = str(spec.get("service", "")).lower()
    origin = r.where(item)
    rules: list[Rule] = []
    for entry in raw if isinstance(raw, list) else [raw]:
        text = r.string(entry, peer_key)
        cidr, group, plist = peer(text, owner, platform, resolve)
        rules += [
            rulebook.make_rule(
                platform,
                protocol,
                low,
                high,
                cidr=cidr,
                group=group,
                prefix_list=plist,
                written=text,
                service=service,
                description=description,
                origin=origin,
            )
            for protocol, low, high in shapes
        ]
    return rules


def _shapes(r: Reader, spec: dict[str, Any], platform: Platform) -> list[tuple[Any, int, int]]:
    """The protocols and ports a rule entry stands for."""
    ports = spec.get("ports", spec.get("port"))
    icmp = spec.get("icmp")
    if "service" in spec:
        other = sorted({"protocol", "ports", "port", "icmp"} & set(spec))
        if other:
            r.fail(f"a rule with 'service' takes no '{other[0]}'")
        name = r.string(spec["service"], "service").lower()
        if name not in PRESETS:
            r.fail(f"unknown service '{spec['service']}' (known: {', '.join(sorted(PRESETS))})")
        return list(PRESETS[name])
    if "protocol" in spec:
        protocol = rulebook.parse_protocol(r.string(spec["protocol"], "protocol"), platform)
    elif icmp is not None:
        protocol = Protocol.ICMP
    elif ports is not None:
        protocol = Protocol.TCP
    else:  # every protocol, as the platform means it
        return list(platform.all_traffic)
    if protocol in ICMPS:
        if ports is not None:
            r.fail(f"an {protocol} rule takes 'icmp: TYPE:CODE', not ports")
        if icmp is None and (protocol is Protocol.ICMP or not platform.icmp_any_by_default):
            raise Ec2Error(*platform.says("icmp_needs_type"))
        return [(protocol, *(rulebook.parse_icmp(icmp) if icmp is not None else (-1, -1)))]
    if protocol in PORTED:
        if icmp is not None:
            r.fail(f"a {protocol} rule takes 'ports', not 'icmp'")
        if ports is None:
            raise Ec2Error(*platform.says("ports_missing", value=-1))
        return [(protocol, *rulebook.parse_port_range(ports))]
    if ports is not None or icmp is not None:
        r.fail(f"protocol {protocol} matches all ports: give no 'ports' or 'icmp'")
    return [(protocol, -1, -1)]


# -- groups ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GroupFile:
    """What a file of one platform says of its groups, and what the file knows: the keys of
    a group entry, its lists of rules (a Classic group's ``rules``; a VPC group's ``ingress``
    and ``egress``), the VPC an entry names (``""``: Classic), the default group made on
    demand, and whether a VPC has IPv6."""

    keys: frozenset[str]
    directions: tuple[tuple[str, bool], ...]  # (key, egress)
    vpc_of: Callable[[dict[str, Any]], str]
    ensure_default: Callable[[str, str], None]  # (account, vpc)
    ipv6: Callable[[str], bool]
    refused: tuple[tuple[str, str], ...] = ()  # (key, why) a key of the other platform


def read_groups(
    r: Reader,
    items: list[Any],
    *,
    account: str,
    groups: dict[GroupKey, Any],
    shape: GroupFile,
    resolve: Resolve,
) -> None:
    """Every group entry of a file into ``groups`` (which holds the default groups made so
    far), then every rule, once every group a rule may name is known; one reader for both
    platforms, whose differences are the platform's data and the file's shape."""
    pending: list[tuple[str, Any, GroupKey]] = []
    declared: set[GroupKey] = set()
    for index, item in enumerate(items):
        label = f"groups[{index}]"
        with r.at(label, item):
            spec = r.mapping(item, "a group", set(shape.keys), {"name"})
            name = r.string(spec["name"], "group name")
            label = f"groups[{index}] '{name}'"
        with r.at(label, item):
            for refused, why in shape.refused:
                if refused in spec:
                    r.fail(why)
            owner = rulebook.check_account(r.string(spec.get("account", account), "account"))
            vpc = shape.vpc_of(spec)
            platform = platforms.VPC if vpc else platforms.CLASSIC
            key = GroupKey(owner, name, vpc)
            if key in declared:
                raise Ec2Error(*platform.says("duplicate_group", name=name, vpc=vpc))
            declared.add(key)
            if name == platforms.DEFAULT_GROUP:
                shape.ensure_default(owner, vpc)
                if "description" in spec:
                    r.fail("the default group's description cannot be changed")
                if spec.get("default_rules", True) is False:
                    groups[key] = replace(groups[key], rules=(), egress=() if vpc else None)
            else:
                if "default_rules" in spec:
                    r.fail("'default_rules' applies only to the default group")
                rulebook.check_group_name(name)
                counted = sum(
                    1
                    for other in groups
                    if bool(other.vpc) == bool(vpc)
                    and (not platform.groups_per_account or other.account == owner)
                )
                rulebook.check_group_count(platform, counted + 1, owner)
                description = r.string(spec.get("description", name), "description")
                groups[key] = rulebook.new_group(key, description, vpc or None, shape.ipv6(vpc))
                if vpc and "egress" in spec:  # the entry says its egress: only that
                    groups[key] = replace(groups[key], egress=())
            groups[key] = replace(groups[key], origin=r.where(item))
            pending.append((label, spec, key))
    for label, spec, key in pending:
        for field, egress in shape.directions:
            for index, rule_item in enumerate(r.sequence(spec.get(field), field)):
                with (
                    kept_or_raised(r.dropped),
                    r.at(label, spec),
                    r.at(f"{field}[{index}]", rule_item),
                ):
                    built = read_rules(r, rule_item, key, egress, resolve)
                    groups[key] = rulebook.authorize(groups[key], built, egress)
