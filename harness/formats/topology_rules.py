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
from dataclasses import dataclass
from typing import Any

from harness.core.ec2 import platform as platforms
from harness.core.ec2 import rules as rulebook
from harness.core.ec2.platform import Platform
from harness.core.model import ICMPS, PORTED, GroupKey, Network, Protocol, Rule
from harness.core.port_catalog import PRESETS
from harness.errors import Ec2Error
from harness.formats.yaml_lines import Reader


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
