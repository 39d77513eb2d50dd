"""Which pairs of nodes a change to a lab can affect, from what the oracle's verdicts depend on.

A cell's verdict depends on its two nodes (their addresses, interfaces, groups, what the target
listens on), the rules of the groups that apply to it (the target's ingress rules whose source
matches the address it is seen from, the source's egress rules whose destination matches the
address sent to) and, in a VPC, the path beyond the groups (route tables, network ACLs,
gateways, peerings). So, between two states of a lab (:func:`affected`):

- a node added, removed or changed in any way: every pair it is in;
- a rule added to or removed from a group's ingress rules (a changed rule is both, a prefix list
  changed changes every rule naming it): the pairs from each node the rule matches (its
  group's members, or a node with an address in its CIDRs, public, IPv6 and the NAT gateways'
  it may be seen from included) to each member of the group; egress rules the other way;
- a VPC's path changed (a route, a network ACL, a gateway, a NAT gateway, a subnet), or a
  peering or an Elastic IP of a NAT gateway: every pair with an instance of that VPC;
- anything else of the topology (its account, the Classic subnet, explicit probes): every
  pair;
- with the full plan (every port interval the rules cut), a target whose intervals changed (a
  rule's ports, anywhere its probes are cut from): every pair into it, so that each new
  interval is probed from every source. The classes plan probes one port per behaviour class
  of a pair, and a pair whose rules did not change keeps its classes: its cells still stand
  for them.

Every other pair's cells keep their verdicts and their enforcement (the policies of both its
nodes are those it was proven with, as far as the rules go): their cells can be carried over.
This errs on the wide side, never the narrow one.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from harness.core.model import Address, GroupKey, Instance, Node, Probe, Rule, Topology
from harness.core.planner import probe_set, vpc_probe_set


@dataclass(frozen=True)
class Affected:
    """The pairs a change can affect: every pair of ``nodes``, and ``pairs`` (source ->
    targets); ``everything`` when no pair can be carried over. ``reasons`` says what changed."""

    everything: bool = False
    nodes: frozenset[str] = frozenset()
    pairs: dict[str, frozenset[str]] = field(default_factory=dict)
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True)
class Selection:
    """The pairs to plan again (:data:`harness.core.planner.Wanted`): every pair of a node in
    ``whole``, and ``pairs`` (source -> targets), by name."""

    whole: frozenset[str] = frozenset()
    pairs: Mapping[str, frozenset[str]] = field(default_factory=dict)

    @staticmethod
    def of(change: Affected, nodes: Iterable[str], pairs: Iterable[tuple[str, str]]) -> Selection:
        """The pairs ``change`` can affect, those of ``nodes`` and ``pairs`` besides."""
        joined: dict[str, set[str]] = {s: set(t) for s, t in change.pairs.items()}
        for source, target in pairs:
            joined.setdefault(source, set()).add(target)
        return Selection(
            change.nodes | frozenset(nodes), {s: frozenset(t) for s, t in joined.items()}
        )

    def __call__(self, source: str, target: str) -> bool:
        return source in self.whole or target in self.whole or target in self.pairs.get(source, ())

    def targets(self, source: Node, instances: Sequence[Instance]) -> Sequence[Instance]:
        """The instances, in order, whose pair from ``source`` is selected."""
        if source.name in self.whole:
            return instances
        named = self.pairs.get(source.name, frozenset())
        whole = self.whole
        return [i for i in instances if i.name in whole or i.name in named]


def restarted(proven: Mapping[str, int], now: Mapping[str, int]) -> set[str]:
    """The nodes whose process (by node, ``now``) is not the one a proof was made on
    (``proven``): started again, or new."""
    return {name for name, pid in now.items() if proven.get(name) != pid}


def affected(before: Topology, after: Topology, *, classes: bool = False) -> Affected:
    """The pairs of ``after`` whose cells a change from ``before`` can affect, for the plan
    by ``classes`` or the full plan."""
    if (
        before.account != after.account
        or before.subnet != after.subnet
        or before.probes != after.probes
        or before.is_vpc != after.is_vpc
    ):
        return Affected(everything=True, reasons=("the lab's account, subnet or probes",))
    reasons: list[str] = []
    nodes = _changed_nodes(before, after, reasons)
    nodes |= _changed_paths(before, after, reasons)
    pairs: dict[str, set[str]] = {}
    lists = {
        name
        for name in {p.name for p in (*before.prefix_lists, *after.prefix_lists)}
        if before.prefix_lists_by_name.get(name) != after.prefix_lists_by_name.get(name)
    }
    if lists:
        reasons.append("prefix list " + ", ".join(sorted(lists)))
    for key in dict.fromkeys(g.key for g in (*before.groups, *after.groups)):
        old, new = before.groups_by_key.get(key), after.groups_by_key.get(key)
        ingress = _changed(old.rules if old else (), new.rules if new else (), lists)
        old_out = old.egress if old else ()
        new_out = new.egress if new else ()
        members = _members(before, after, key)
        if (old_out is None) != (new_out is None):  # filtered egress or not: all it sends
            reasons.append(f"{key.name}'s egress")
            nodes |= members
            old_out, new_out = (), ()
        egress = _changed(old_out or (), new_out or (), lists)
        if ingress:
            reasons.append(f"{key.name}'s ingress rules")
            for source in _matched(before, after, ingress):
                pairs.setdefault(source, set()).update(members)
        if egress:
            reasons.append(f"{key.name}'s egress rules")
            targets = _matched(before, after, egress)
            for source in members:
                pairs.setdefault(source, set()).update(targets)
    if not classes:
        recut = _recut(before, after, nodes)
        if recut:
            reasons.append(f"the port intervals of {len(recut)} targets")
        nodes |= recut
    return Affected(
        nodes=frozenset(nodes),
        pairs={source: frozenset(targets) for source, targets in pairs.items()},
        reasons=tuple(reasons),
    )


def _changed_nodes(before: Topology, after: Topology, reasons: list[str]) -> set[str]:
    old, new = before.nodes_by_name, after.nodes_by_name
    changed = {name for name in old.keys() | new.keys() if old.get(name) != new.get(name)}
    if changed:
        reasons.append(f"{len(changed)} node{'s' if len(changed) != 1 else ''}")
    return changed


def _changed_paths(before: Topology, after: Topology, reasons: list[str]) -> set[str]:
    """The instances of every VPC whose path changed (itself, its peerings, its NAT gateways'
    Elastic IPs)."""
    vpcs = {
        name
        for name in before.vpcs_by_name.keys() | after.vpcs_by_name.keys()
        if before.vpcs_by_name.get(name) != after.vpcs_by_name.get(name)
    }
    for peering in set(before.peerings) ^ set(after.peerings):
        vpcs.update(peering.vpcs)
    nat_vpcs = {nat.label: nat.vpc for t in (before, after) for nat in t.nat_gateways}
    for address in set(before.elastic_ips) ^ set(after.elastic_ips):
        if address.nat_gateway in nat_vpcs:
            vpcs.add(nat_vpcs[address.nat_gateway])
    if not vpcs:
        return set()
    reasons.append("the path of VPC " + ", ".join(sorted(vpcs)))
    subnets = {
        s.name for t in (before, after) for vpc in t.vpcs if vpc.name in vpcs for s in vpc.subnets
    }
    return {
        i.name
        for t in (before, after)
        for i in t.instances
        if any(nic.subnet in subnets for nic in i.nics)
    }


def _recut(before: Topology, after: Topology, known: set[str]) -> set[str]:
    """The instances (other than ``known``) whose full plan's probes differ."""
    found = set()
    for target in after.instances:
        was = before.nodes_by_name.get(target.name)
        if target.name in known or not isinstance(was, Instance):
            continue
        if _probes(before, was) != _probes(after, target):
            found.add(target.name)
    return found


def _probes(topology: Topology, target: Instance) -> list[list[Probe]]:
    if not topology.is_vpc:
        return [probe_set(topology, target)]
    return [
        vpc_probe_set(topology, target, nic, six) for nic in target.nics for six in (False, True)
    ]


def _changed(old: Sequence[Rule], new: Sequence[Rule], lists: set[str]) -> set[Rule]:
    """The rules added or removed (a rule given twice counts twice: the oracle names both),
    every rule when only their order changed (it orders the words), and those naming a
    changed prefix list."""
    before, after = Counter(old), Counter(new)
    found = set((before - after) + (after - before))
    if not found and tuple(old) != tuple(new):
        found = set(old)
    return found | {rule for rule in (*old, *new) if rule.prefix_list in lists}


def _members(before: Topology, after: Topology, key: GroupKey) -> set[str]:
    return {i.name for t in (before, after) for i in t.members.get(key, ())}


def _matched(before: Topology, after: Topology, rules: set[Rule]) -> set[str]:
    """The nodes a rule matches on either side: a group's members, or a node with an address
    (any it may be seen from) in its CIDRs."""
    found: set[str] = set()
    for topology in (before, after):
        nets = [net for rule in rules for net in topology.expand(rule)]
        for rule in rules:
            if rule.group is not None:
                found.update(i.name for i in topology.members.get(rule.group, ()))
        if nets:
            found.update(
                node.name
                for node in topology.nodes
                if any(
                    address.version == net.version and address in net
                    for address in _seen_as(topology, node)
                    for net in nets
                )
            )
    return found


def _seen_as(topology: Topology, node: Node) -> tuple[Address, ...]:
    """Every address a node may send from or be sent to: its own, public and IPv6 ones, and,
    in a VPC with NAT gateways, theirs."""
    if not isinstance(node, Instance):
        six = getattr(node, "address6", None)
        return (node.address,) if six is None else (node.address, six)
    addresses: list[Address] = [node.address]
    subnets = {nic.subnet for nic in node.nics}
    for nic in node.nics:
        addresses.extend(a for a in (nic.address, nic.public, nic.ipv6) if a is not None)
    for vpc in topology.vpcs:
        if any(s.name in subnets for s in vpc.subnets):
            for nat in vpc.nat_gateways:
                addresses.extend(a for a in (nat.address, nat.public) if a is not None)
    return tuple(addresses)
