"""The probe planner: which cells to measure so that every distinct behaviour is seen.

For each target and protocol, the rules' port boundaries cut 0-65535 into intervals inside which
every port is treated alike; one port of each interval is probed, plus every port the target
listens on, ICMP echo, and the topology's extra ``probes:`` on every target. Instance-to-itself
cells are not probed.

In a VPC topology a cell also names the address probed: every address a source can use to
reach the target (:mod:`harness.core.paths`). The port cuts come from the ingress rules of the
target's interface and from every egress rule; IPv4 addresses get ICMP echo, IPv6 ones ICMPv6
echo; each protocol number a rule names gets a probe of that protocol, except those the kernel
consumes without any answer (:data:`SILENT`), whose verdict a packet could not show.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from functools import partial
from typing import NamedTuple
from typing import Protocol as TypingProtocol

from harness.core.memo import ByIdentity
from harness.core.model import (
    Address,
    Instance,
    Interface,
    Node,
    Probe,
    Protocol,
    Rule,
    Topology,
    protocol_number,
)
from harness.core.oracle import Applied, Expectation, Oracle, Verdict
from harness.core.paths import Path, paths
from harness.errors import InvalidInput

PORT_MAX = 65535
SILENT = frozenset({4, 41, 47, 50, 51})  # IPIP, IPv6-in-IP, GRE, ESP, AH: dropped unanswered


class Cell(NamedTuple):
    """One probe from a source to a target (at one of its addresses). A named tuple, not a
    dataclass: a big lab makes millions, and a named tuple costs half as much to make."""

    source: str
    target: str
    probe: Probe
    address: str = ""  # the address probed (VPC cells); "" is the target's one address


def representative(low: int, high: int) -> int:
    """The port probed for an interval: its first, but 1 rather than 0 when there is a choice."""
    if low == 0 and high > 0:
        return 1
    return low


def intervals(cuts: set[int]) -> list[tuple[int, int]]:
    """Split 0-65535 at the given starts (each cut starts a new interval)."""
    starts = sorted({0, *(cut for cut in cuts if 0 < cut <= PORT_MAX)})
    ends = [*(start - 1 for start in starts[1:]), PORT_MAX]
    return list(zip(starts, ends, strict=True))


def probe_set(topology: Topology, target: Instance) -> list[Probe]:
    probes: set[Probe] = {Probe(Protocol.ICMP, None), *topology.probes}
    for protocol in (Protocol.TCP, Protocol.UDP):
        cuts: set[int] = set()
        for _, rule in topology.rules_of(target):
            if rule.protocol is protocol:
                cuts.update((rule.from_port, rule.to_port + 1))
        for low, high in intervals(cuts):
            probes.add(Probe(protocol, representative(low, high)))
        for item in target.listen:
            if item.protocol is protocol:
                probes.add(Probe(protocol, item.port))
    return sorted(probes, key=Probe.sort_key)


def vpc_probe_set(topology: Topology, target: Instance, nic: Interface, ipv6: bool) -> list[Probe]:
    echo = Protocol.ICMPV6 if ipv6 else Protocol.ICMP
    probes: set[Probe] = {
        Probe(echo, None),
        *(p for p in topology.probes if p.protocol in (Protocol.TCP, Protocol.UDP)),
    }
    rules: list[Rule] = [rule for _, rule in topology.ingress_of(nic)]
    rules += [rule for group in topology.groups for rule in group.egress or ()]
    entries = [  # the network ACLs' port ranges cut too: a deny inside an allowed range
        entry
        for vpc in topology.vpcs
        for acl in vpc.network_acls
        for entry in acl.entries
        if entry.ports is not None
    ]
    for protocol in (Protocol.TCP, Protocol.UDP):
        cuts: set[int] = set()
        for rule in rules:
            if rule.protocol is protocol:
                cuts.update((rule.from_port, rule.to_port + 1))
        number = protocol_number(protocol)
        for entry in entries:
            if entry.protocol == number and entry.ports is not None:
                cuts.update((entry.ports[0], entry.ports[1] + 1))
        for low, high in intervals(cuts):
            probes.add(Probe(protocol, representative(low, high)))
    for item in target.listen:
        probes.add(Probe(item.protocol, item.port))
    for rule in rules:
        if isinstance(rule.protocol, int) and rule.protocol not in SILENT:
            probes.add(Probe(rule.protocol, None))
    return sorted(probes, key=Probe.sort_key)


class Wanted(TypingProtocol):
    """Which pairs to plan, of a lab changed since it was proven
    (:class:`harness.core.incremental.Selection`); ``None``: every pair."""

    def targets(self, source: Node, instances: Sequence[Instance]) -> Sequence[Instance]:
        """The instances, in order, whose pair from ``source`` is wanted."""
        ...


def plan(topology: Topology, *, classes: bool = False) -> list[Cell]:
    """Every cell to probe, sources in topology order (instances, then hosts). With
    ``classes``, one probe per pair and behaviour class (:func:`_picked`)."""
    walk = _picked(topology, Oracle(topology)) if classes else _routes(topology)
    return [
        Cell(source.name, target.name, probe, address)
        for source, target, _, address, probes, *_ in walk
        for probe in probes
    ]


def plan_expected(
    topology: Topology,
    *,
    classes: bool = False,
    sources: Sequence[Node] | None = None,
    wanted: Wanted | None = None,
) -> dict[Cell, Expectation]:
    """The cells :func:`plan` plans (from ``sources`` only, if given), in its order, each with
    the oracle's expectation (judged along the path the planner has in hand, rather than found
    again from the address)."""
    oracle = Oracle(topology)
    return {
        Cell(source.name, target.name, probe, address): oracle.expectation(
            source, target, path, verdict, probe
        )
        for source, target, path, address, judged in judged_paths(
            topology, oracle, classes=classes, sources=sources, wanted=wanted
        )
        for probe, verdict in judged
    }


def judged_paths(
    topology: Topology,
    oracle: Oracle,
    *,
    classes: bool = False,
    sources: Sequence[Node] | None = None,
    wanted: Wanted | None = None,
) -> Iterator[tuple[Node, Instance, Path, str, list[tuple[Probe, Verdict]]]]:
    """Each source (of ``sources``, or all), target and path in plan order, with the address a
    cell names and each probe sent along it with the oracle's verdict. A path's verdicts are
    worked out once per probe list, rules that apply, listening and account: a big lab has a
    million paths and a few hundred such lists."""
    judged: dict[tuple[object, ...], list[tuple[Probe, Verdict]]] = {}
    # what a verdict depends on in its target, looked up once per target, not per path
    listening = {id(t): (oracle.listening(t), t.account) for t in topology.instances}
    for source, target, path, address, probes, (egress, ingress) in _walk(
        topology, classes, oracle, sources, wanted
    ):
        key = (id(probes), id(egress), id(ingress), listening[id(target)])
        found = judged.get(key)
        if found is None:
            found = judged[key] = [
                (probe, oracle.verdict_of(egress, ingress, probe, target)) for probe in probes
            ]
        yield source, target, path, address, found


Walked = tuple[Node, Instance, Path, str, list[Probe], tuple[Applied | None, Applied]]


def _walk(
    topology: Topology,
    classes: bool,
    oracle: Oracle,
    sources: Sequence[Node] | None = None,
    wanted: Wanted | None = None,
) -> Iterator[Walked]:
    """Each source, target and path in plan order with the address a cell names, the probes
    sent along it (all of them, :func:`_routes`, or one per class, :func:`_picked`) and the
    rules that apply to it (asked of the oracle once per path, and not kept)."""
    if classes:
        return _picked(topology, oracle, sources, wanted)
    return (
        (source, target, path, address, probes, oracle.applying(source, target, path))
        for source, target, path, address, probes in _routes(topology, sources, wanted)
    )


def _routes(
    topology: Topology, sources: Sequence[Node] | None = None, wanted: Wanted | None = None
) -> Iterator[tuple[Node, Instance, Path, str, list[Probe]]]:
    """Each source, target and path in plan order, with the address a cell names ("" in
    Classic) and every probe the full plan sends along it (made once per target interface
    and family, and each address's text once: a big lab has a million paths)."""
    vpc = topology.is_vpc
    candidates: dict[tuple[int, bool], list[Probe]] = {}
    text = ByIdentity[Address, str](str)
    for source in topology.nodes if sources is None else sources:
        targets = (
            topology.instances if wanted is None else wanted.targets(source, topology.instances)
        )
        for target in targets:
            if target is source:
                continue
            for path in paths(topology, source, target):
                v6 = path.address.version == 6
                key = (id(path.target_nic), v6)
                probes = candidates.get(key)
                if probes is None:
                    probes = candidates[key] = (
                        vpc_probe_set(topology, target, path.target_nic, v6)
                        if vpc
                        else probe_set(topology, target)
                    )
                yield source, target, path, text(path.address) if vpc else "", probes


def _picked(
    topology: Topology,
    oracle: Oracle,
    sources: Sequence[Node] | None = None,
    wanted: Wanted | None = None,
) -> Iterator[Walked]:
    """:func:`_routes` with, for each path, one probe per behaviour class: of the probes the
    full plan would send, probes that the oracle cannot tell apart for this pair (the same
    egress rules let it out, the same ingress rules let it in, the target listens on both or
    on neither; or both dropped by the same side for want of a rule) are one class, whatever
    their protocol. A class is shown by a probe the target listens on when it has one (a
    drop is then seen in front of a live server), else by its first probe.

    The cells grow as the pairs do (N² for N instances) times the classes per pair, which the
    rules bound, not N: a pair's classes are computed once per distinct set of rules that
    apply to it (its signature), so planning costs a few set lookups per pair."""
    chosen: dict[tuple[int, ...], list[Probe]] = {}
    numbers: dict[object, int] = {}  # each distinct probe or listen list, numbered once
    number = ByIdentity[Sequence[object], int](
        lambda items: numbers.setdefault(tuple(items), len(numbers))
    )
    listens = {id(target): number(target.listen) for target in topology.instances}
    lists: dict[int, tuple[list[Probe], int]] = {}  # a probe list's identity -> its number

    for source, target, path, address, probes in _routes(topology, sources, wanted):
        applied = oracle.applying(source, target, path)  # interned: same rules, same id
        egress, ingress = applied
        known = lists.get(id(probes))
        if known is None:
            known = lists[id(probes)] = (probes, number(probes))
        if oracle.judges_path:  # network ACLs and routes tell probes apart too, per path
            beyond = partial(oracle.beyond_groups, source, target, path)
            yield (
                source,
                target,
                path,
                address,
                _one_per_class(probes, egress, ingress, target, beyond),
                applied,
            )
            continue
        signature = (known[1], id(egress), id(ingress), listens[id(target)])
        found = chosen.get(signature)
        if found is None:
            found = chosen[signature] = _one_per_class(probes, egress, ingress, target)
        yield source, target, path, address, found, applied


def _one_per_class(
    probes: list[Probe],
    egress: Applied | None,
    ingress: Applied,
    target: Instance,
    beyond: Callable[[Probe], str] | None = None,
) -> list[Probe]:
    classes: dict[tuple[object, ...], list[Probe]] = {}
    for probe in probes:
        key = _behaviour(probe, egress, ingress, target)
        if beyond is not None:
            key = (*key, beyond(probe))
        classes.setdefault(key, []).append(probe)
    return sorted(
        (
            next((p for p in members if target.listens(p.protocol, p.port)), members[0])
            for members in classes.values()
        ),
        key=Probe.sort_key,
    )


def _behaviour(
    probe: Probe, egress: Applied | None, ingress: Applied, target: Instance
) -> tuple[object, ...]:
    """What the oracle's verdict on a probe depends on, given the rules that apply to a path."""

    def covering(rules: Applied) -> tuple[int, ...]:
        return tuple(
            i for i, (_, rule) in enumerate(rules) if rule.covers(probe.protocol, probe.port)
        )

    out = None if egress is None else covering(egress)
    if out == ():
        return ("dropped leaving",)
    into = covering(ingress)
    if not into:
        return ("dropped entering", out)
    return ("allowed", out, into, target.listens(probe.protocol, probe.port))


def cells_between(
    topology: Topology, source: str, target: str, probes: Sequence[Probe] = ()
) -> list[Cell]:
    """The cells of one pair (``sgh explain``): those planned, or, for probes asked for, one
    per address the pair's planned cells probe (the target's own address when none)."""
    nodes = topology.nodes_by_name
    names = ", ".join(sorted(nodes))
    for name in (source, target):
        if name not in nodes:
            raise InvalidInput(f"lab '{topology.name}' has no node '{name}' (nodes: {names})")
    if nodes[target].kind != "instance":
        raise InvalidInput(f"'{target}' is an outside host: only instances are targets")
    if source == target:
        raise InvalidInput(f"'{source}' to itself is not probed: choose another source")
    planned = [c for c in plan(topology) if (c.source, c.target) == (source, target)]
    if not probes:
        return planned
    addresses = list(dict.fromkeys(c.address for c in planned)) or [""]
    return [Cell(source, target, probe, address) for probe in probes for address in addresses]
