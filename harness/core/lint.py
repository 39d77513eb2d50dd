"""``sgh lint``: the static checkers' checks and the seeds' own warnings, on a topology.

The checks of :mod:`harness.core.audit` (exposure to the world answered by reachability, the
default group, egress to the world, unused groups, dangling references, descriptions, wide
public blocks), then this module's own, each naming the group and the rule as written:

- ``wide-cidr``: a CIDR whose address has host bits set, so that its prefix makes it far wider
  than the address suggests (``198.51.100.7/0`` is every address, not one host).
- ``redundant``: a rule another rule already covers, in the same group or in a group every
  member of this group also belongs to.
- ``near-limit``: a group with 90 or more of EC2's 100 rules.
- ``too-many-rules``: an instance whose groups add up to more than 100 rules (the first seed's
  caution). Both rule-count findings offer a condensed rule set, and :func:`equivalent` proves
  with the oracle that it gives the same verdict as the original for every behaviour class.

Lint reads rules only: instances need no ``listen`` entries.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from ipaddress import IPv4Address, IPv4Network, collapse_addresses, ip_network

from harness.core.audit import Finding, audit, where
from harness.core.ec2.platform import CLASSIC
from harness.core.model import (
    Group,
    GroupKey,
    Host,
    Instance,
    Network,
    Node,
    Probe,
    Proto,
    Protocol,
    Rule,
    Topology,
)
from harness.core.oracle import Oracle
from harness.core.planner import intervals
from harness.errors import NotEquivalent

NEAR_LIMIT = 90
WORLD = IPv4Network("0.0.0.0/0")


def lint(topology: Topology) -> list[Finding]:
    """The audit's checks (:mod:`harness.core.audit`), then this module's own."""
    findings = audit(topology)
    for group in topology.groups:
        for egress in (False, True):
            for rule in group.side(egress):
                findings.extend(_wide_cidr(topology, group, rule, egress))
        findings.extend(_redundant(topology, group))
        findings.extend(_near_limit(topology, group))
    for instance in topology.instances:
        findings.extend(_too_many(topology, instance))
    return findings


# -- wide blocks -----------------------------------------------------------------------------


def _wide_cidr(topology: Topology, group: Group, rule: Rule, egress: bool) -> list[Finding]:
    if rule.cidr is None or "/" not in rule.written:
        return []
    address_text, _, prefix = rule.written.partition("/")
    try:
        ip_network(rule.written, strict=True)
        return []
    except ValueError:
        pass
    try:
        address = IPv4Address(address_text)
    except ValueError:
        return []
    net = rule.cidr
    size = f"{net.num_addresses:,} addresses"
    what = "every IPv4 address" if net.prefixlen == 0 else f"{net} ({size})"
    return [
        Finding(
            "wide-cidr",
            where(topology, group, rule, egress),
            f"{rule.written} is {what}, not the address {address} it names (host bits set "
            f"under /{prefix}); for that one host write {address}/32",
            origin=rule.origin,
        )
    ]


# -- redundancy ------------------------------------------------------------------------------


def covers(big: Rule, small: Rule) -> bool:
    """Whether ``big`` admits everything ``small`` admits."""
    if big.protocol is not small.protocol:
        return False
    if big.protocol is Protocol.ICMP:
        if big.from_port not in (-1, small.from_port) or big.to_port not in (-1, small.to_port):
            return False
    elif not (big.from_port <= small.from_port and small.to_port <= big.to_port):
        return False
    if big.cidr is not None:
        if small.cidr is not None:
            return small.cidr.version == big.cidr.version and small.cidr.subnet_of(big.cidr)  # type: ignore[arg-type]
        return big.cidr.prefixlen == 0  # every member's address is in 0.0.0.0/0
    return small.group is not None and small.group == big.group


def _redundant(topology: Topology, group: Group) -> list[Finding]:
    home = topology.account
    members = set(topology.members.get(group.key, ()))
    order = {g.key: n for n, g in enumerate(topology.groups)}
    # This group first, then the groups every member of this group also belongs to.
    scopes = [(group, "in the same group")]
    for other in topology.groups:
        if other.key != group.key and members and members <= set(topology.members[other.key]):
            scopes.append(
                (
                    other,
                    f"in '{other.key.label(home)}', a group every instance of "
                    f"'{group.key.label(home)}' is also in,",
                )
            )
    findings = []
    for index, rule in enumerate(group.rules):
        for scope, words in scopes:
            same = scope.key == group.key or members == set(topology.members[scope.key])
            earlier = scope.key == group.key or order[scope.key] < order[group.key]
            cover = next(
                (
                    other
                    for other_index, other in enumerate(scope.rules)
                    if (scope.key != group.key or other_index != index)
                    and covers(other, rule)
                    # The same rule twice: only the later copy is redundant.
                    and not (
                        covers(rule, other)
                        and same
                        and (other_index > index if scope.key == group.key else not earlier)
                    )
                ),
                None,
            )
            if cover is not None:
                message = f"redundant: '{cover.as_written(home)}' {words} covers it"
                findings.append(
                    Finding("redundant", where(topology, group, rule), message, origin=rule.origin)
                )
                break
    return findings


# -- rule counts and condensed equivalents ---------------------------------------------------


def _near_limit(topology: Topology, group: Group) -> list[Finding]:
    if len(group.rules) < NEAR_LIMIT:
        return []
    home = topology.account
    member = Instance(f"<member of {group.name}>", group.key.account, (group.key,), _ADDR)
    note, detail = _condensed(topology, member, list(group.rules))
    message = f"holds {len(group.rules)} of EC2's {CLASSIC.max_rules} rules{note}"
    where = f"group '{group.key.label(home)}'"
    return [Finding("near-limit", where, message, detail, origin=group.origin)]


def _too_many(topology: Topology, instance: Instance) -> list[Finding]:
    rules = [rule for _, rule in topology.rules_of(instance)]
    if len(rules) <= CLASSIC.max_rules:
        return []
    home = topology.account
    names = ", ".join(key.label(home) for key in instance.groups)
    note, detail = _condensed(topology, instance, rules)
    message = (
        f"its groups ({names}) add up to {len(rules)} rules, more than {CLASSIC.max_rules}{note}"
    )
    return [Finding("too-many-rules", f"instance '{instance.name}'", message, detail)]


_ADDR = IPv4Address("0.0.0.1")


def _condensed(
    topology: Topology, instance: Instance, rules: list[Rule]
) -> tuple[str, tuple[str, ...]]:
    """The note and the rule lines of a condensed equivalent, proven by :func:`equivalent`."""
    smaller = condense(rules)
    if len(smaller) >= len(rules):
        return "; no smaller equivalent rule set was found", ()
    classes = equivalent(topology, instance, smaller)
    rules_text = "this rule is" if len(smaller) == 1 else f"these {len(smaller)} rules are"
    note = (
        f"; {rules_text} equivalent (the oracle gives the same verdict for all {classes} "
        "behaviour classes):"
    )
    return note, tuple(rule.describe(topology.account) for rule in smaller)


def _source_key(rule: Rule) -> tuple[int, int, str]:
    if rule.cidr is not None:
        return (0, int(rule.cidr.network_address), str(rule.cidr))
    assert rule.group is not None
    return (1, 0, f"{rule.group.account}/{rule.group.name}")


def condense(rules: Iterable[Rule]) -> list[Rule]:
    """A smaller rule list admitting exactly the same traffic: port ranges of one source
    merged, CIDR blocks of one port range merged, covered rules dropped; to a fixed point."""
    current = [replace(rule, written="", service="") for rule in rules]
    while True:
        merged = _drop_covered(_merge_blocks(_merge_ports(current)))
        if len(merged) >= len(current):
            return sorted(current, key=_order)
        current = merged


def _order(rule: Rule) -> tuple[str, int, int, tuple[int, int, str]]:
    return (str(rule.protocol), rule.from_port, rule.to_port, _source_key(rule))


def _merge_ports(rules: list[Rule]) -> list[Rule]:
    by_source: dict[tuple[Proto, tuple[int, int, str]], list[Rule]] = {}
    result: list[Rule] = []
    for rule in rules:
        if rule.protocol is Protocol.ICMP:
            result.append(rule)
        else:
            by_source.setdefault((rule.protocol, _source_key(rule)), []).append(rule)
    for same in by_source.values():
        same.sort(key=lambda r: r.from_port)
        low, high = same[0].from_port, same[0].to_port
        for rule in same[1:]:
            if rule.from_port <= high + 1:
                high = max(high, rule.to_port)
            else:
                result.append(replace(same[0], from_port=low, to_port=high))
                low, high = rule.from_port, rule.to_port
        result.append(replace(same[0], from_port=low, to_port=high))
    return result


def _merge_blocks(rules: list[Rule]) -> list[Rule]:
    by_ports: dict[tuple[Proto, int, int, int], list[Network]] = {}
    result: list[Rule] = []
    for rule in rules:
        if rule.cidr is None:
            result.append(rule)
        else:
            key = (rule.protocol, rule.from_port, rule.to_port, rule.cidr.version)
            by_ports.setdefault(key, []).append(rule.cidr)
    for (protocol, low, high, _), nets in by_ports.items():
        collapsed = collapse_addresses(nets)  # type: ignore[type-var]
        result.extend(Rule(protocol, low, high, cidr=net) for net in collapsed)
    return result


def _drop_covered(rules: list[Rule]) -> list[Rule]:
    kept: list[Rule] = []
    for index, rule in enumerate(rules):
        covered = any(
            covers(other, rule) and not (covers(rule, other) and other_index > index)
            for other_index, other in enumerate(rules)
            if other_index != index
        )
        if not covered:
            kept.append(rule)
    return kept


# -- the proof -------------------------------------------------------------------------------


def equivalent(topology: Topology, instance: Instance, condensed: list[Rule]) -> int:
    """Check with the oracle that ``condensed`` gives ``instance`` the same verdict as its
    groups' rules for every behaviour class; returns the number of classes checked.

    A behaviour class is a (source, protocol, port) region inside which no rule of either set
    changes its answer: ports are cut at every rule's range ends, source addresses at every
    CIDR block's ends, and every lab node is a source of its own (it carries its groups, which
    group-sourced rules match). ICMP classes are the rules' types and codes plus one no rule
    names. Raises :class:`NotEquivalent` naming the first class that differs.
    """
    original = [rule for _, rule in topology.rules_of(instance)]
    key = GroupKey(instance.account, "<condensed>")
    twin = replace(instance, groups=(key,))
    alt = replace(
        topology,
        groups=(*topology.groups, Group(key, "condensed", tuple(condensed))),
        instances=tuple(twin if i.name == instance.name else i for i in topology.instances),
    )
    if instance not in topology.instances:
        topology = replace(topology, instances=(*topology.instances, instance))
        alt = replace(alt, instances=(*alt.instances, twin))
    before, after = Oracle(topology), Oracle(alt)
    every = [*original, *condensed]

    sources: list[Node] = [node for node in topology.nodes if node.name != instance.name]
    cuts = {0}
    for rule in every:
        if rule.cidr is not None:
            cuts.add(int(rule.cidr.network_address))
            cuts.add(int(rule.cidr.broadcast_address) + 1)
    sources += [
        Host(f"<{IPv4Address(cut)}>", IPv4Address(cut)) for cut in sorted(cuts) if cut < 2**32
    ]
    probes: list[Probe] = [Probe(Protocol.ICMP, None)]
    for protocol in (Protocol.TCP, Protocol.UDP):
        ends = {v for r in every if r.protocol is protocol for v in (r.from_port, r.to_port + 1)}
        probes += [Probe(protocol, low) for low, _ in intervals(ends)]
    checked = 0
    for source in sources:
        for probe in probes:
            want = before.evaluate(source, instance, probe).state
            got = after.evaluate(source, twin, probe).state
            if want is not got:
                raise NotEquivalent(
                    f"{source.name} -> {instance.name} {probe}: {want} with the original "
                    f"rules, {got} with the condensed ones"
                )
            checked += 1
        checked += _icmp_classes(source, original, condensed, instance)
    return checked


def _admits(rules: list[Rule], source: Node, icmp_type: int, code: int) -> bool:
    for rule in rules:
        if rule.protocol is not Protocol.ICMP:
            continue
        if rule.from_port not in (-1, icmp_type) or rule.to_port not in (-1, code):
            continue
        if rule.cidr is not None and source.address in rule.cidr:
            return True
        if rule.group is not None and rule.group in source.groups:
            return True
    return False


def _icmp_classes(
    source: Node, original: list[Rule], condensed: list[Rule], target: Instance
) -> int:
    icmp = [r for r in (*original, *condensed) if r.protocol is Protocol.ICMP]
    types = {r.from_port for r in icmp if r.from_port != -1} | {254}
    codes = {r.to_port for r in icmp if r.to_port != -1} | {254}
    for icmp_type in types:
        for code in codes:
            if _admits(original, source, icmp_type, code) != _admits(
                condensed, source, icmp_type, code
            ):
                raise NotEquivalent(
                    f"{source.name} -> {target.name} icmp {icmp_type}:{code}: the original and "
                    "condensed rules disagree"
                )
    return len(types) * len(codes)
