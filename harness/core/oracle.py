"""The oracle: what the rules imply for every (source, target, protocol, port).

``open`` when a rule allows the probe and the target listens, ``closed`` when a rule allows it
and nothing listens, ``filtered`` when no rule allows it (EC2 drops it silently). Every verdict
carries its explanation: the group and rule that allowed it, or why nothing did.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from ipaddress import ip_address
from typing import Final

from harness.core.memo import ByIdentity
from harness.core.model import (
    Address,
    Group,
    GroupKey,
    Instance,
    Interface,
    Listen,
    Node,
    Probe,
    Rule,
    State,
    Topology,
)
from harness.core.path_walk import blocked, probe_words
from harness.core.paths import Path, paths
from harness.core.vpc_path import source_port


class Expectation:
    """What the rules imply for one cell: a state, the rules that let the probe through, and
    why, in words.

    The words may be written only when read: a big lab has a million filtered cells, each
    explained by words that name its pair, and most are never read. ``why`` is then a function
    that writes them (called once). Treat an expectation as immutable; two are equal when
    their state, rules and words are.
    """

    __slots__ = ("_explain", "_why", "allowed_by", "state")

    def __init__(
        self, state: State, allowed_by: tuple[str, ...], why: str | Callable[[], str]
    ) -> None:
        self.state: Final = state
        self.allowed_by: Final = allowed_by
        if isinstance(why, str):
            self._why, self._explain = why, None
        else:
            self._why, self._explain = "", why

    @property
    def why(self) -> str:
        if self._explain is not None:
            self._why, self._explain = self._explain(), None
        return self._why

    def _fields(self) -> tuple[State, tuple[str, ...], str]:
        return (self.state, self.allowed_by, self.why)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Expectation):
            return NotImplemented
        return self._fields() == other._fields()

    def __hash__(self) -> int:
        return hash(self._fields())

    def __repr__(self) -> str:
        return (
            f"Expectation(state={self.state!r}, allowed_by={self.allowed_by!r}, why={self.why!r})"
        )

    def __reduce__(self) -> tuple[type[Expectation], tuple[State, tuple[str, ...], str]]:
        return (Expectation, self._fields())


Verdict = tuple[str, Expectation]
"""What the rules that apply to a path make of a probe: ``allowed`` and the cell's whole
expectation, or ``leaving`` or ``entering`` and an expectation whose ``why`` is only the
probe's words (a cell's words also name its pair). Equal verdicts are one object."""

Applied = tuple[tuple[Group, Rule], ...]


class Oracle:
    def __init__(self, topology: Topology) -> None:
        self.topology = topology
        self._members = {key: frozenset(v) for key, v in topology.member_addresses.items()}
        self._hit_sets: dict[frozenset[int], frozenset[int]] = {}
        self._parsed: dict[str, str] = {}  # an address as a cell writes it, as it prints
        self._nic_rules: dict[tuple[int, bool], Applied | None] = {}
        self._words: dict[tuple[int, str, str], str] = {}
        self._pair_paths: dict[tuple[str, str], list[Path]] = {}  # each pair's, once
        # A big lab asks about a million paths and cells made of a few rules: what applies to
        # a path is worked out once per path, and shared (interned) between paths; a verdict
        # is worked out once per rules applied, probe and listening, and only the words
        # naming the pair are written per cell. Keys are identities; each memo keeps its
        # object alive, so an identity cannot be reused while it is a key.
        self._matching = ByIdentity[Address, frozenset[int]](self._hits)
        self._text = ByIdentity[Address, str](str)
        self.listening = ByIdentity[Instance, int](self._listen_number)  # public: a planner
        # tells verdicts apart by it
        self._applied: dict[int, tuple[Path, tuple[Applied | None, Applied]]] = {}
        self._interned: dict[tuple[object, ...], Applied] = {}
        self._pairs: dict[tuple[int, int], tuple[Applied | None, Applied]] = {}
        self._subsets: dict[tuple[int, int], Applied] = {}
        self._by_peer: dict[tuple[int, int], Applied] = {}
        self._verdicts: dict[tuple[object, ...], Verdict] = {}
        self._labels: dict[tuple[int, str], tuple[Interface, str]] = {}
        self._listens: dict[tuple[Listen, ...], int] = {}
        # network ACLs other than a VPC's default (which allows all), route tables other than
        # what ``public`` says: the path beyond the groups is judged per cell
        self._path = bool(topology.peerings) or any(
            vpc.network_acls
            or vpc.route_tables
            or vpc.internet_gateway
            or vpc.egress_only_internet_gateway
            or vpc.nat_gateways
            for vpc in topology.vpcs
        )

    def evaluate(
        self, source: Node, target: Instance, probe: Probe, address: str = ""
    ) -> Expectation:
        """The verdict for a probe from ``source`` to ``target`` at ``address`` (a VPC cell's
        address; Classic cells use the target's one address)."""
        path = self._path_at(source, target, address)
        if path is None:
            return Expectation(State.FILTERED, (), self._no_path(source, target, address))
        return self.evaluate_path(source, target, probe, path)

    def _path_at(self, source: Node, target: Instance, address: str) -> Path | None:
        """The pair's path to ``address`` (the first, in Classic), if it has one."""
        if self.topology.is_vpc:
            wanted = self._wanted(target, address)
            for path in self._paths(source, target):
                if self._text(path.address) == wanted:
                    return path
            return None
        return self._paths(source, target)[0]

    def _paths(self, source: Node, target: Instance) -> list[Path]:
        """A pair's paths, worked out once (a pair is asked about once per cell)."""
        key = (source.name, target.name)
        found = self._pair_paths.get(key)
        if found is None:
            found = self._pair_paths[key] = paths(self.topology, source, target)
        return found

    def _no_path(self, source: Node, target: Instance, address: str) -> str:
        return f"{source.name} has no path to {target.name} at {self._wanted(target, address)}"

    def _wanted(self, target: Instance, address: str) -> str:
        """A cell's address as paths print it (the target's own, when the cell names none)."""
        return self._canonical(address) if address else self._text(target.address)

    def applicable(
        self, source: Node, target: Instance, path: Path
    ) -> tuple[Applied | None, Applied]:
        """The rules that apply to a path whatever the probe: the sender's egress rules whose
        destination matches the address sent to (``None``: its egress is not filtered) and
        the receiver's ingress rules whose source matches the address it sees. Equal answers
        are the same objects (a planner may tell them apart by identity)."""
        found = self._applied.get(id(path))
        if found is None:
            found = self._applied[id(path)] = (path, self.applying(source, target, path))
        return found[1]

    def applying(
        self, source: Node, target: Instance, path: Path
    ) -> tuple[Applied | None, Applied]:
        """:meth:`applicable`, worked out again and not kept: for a walk that asks once per
        path (a big lab's million paths need not stay alive for the memo's sake)."""
        if not self.topology.is_vpc:
            admitted = tuple(
                (group, rule)
                for group, rule in self.topology.rules_of(target)
                if (
                    source.address in rule.cidr
                    if rule.cidr is not None
                    else isinstance(source, Instance) and rule.group in source.groups
                )
            )
            return self._pair(None, self._intern(admitted))
        out = None
        if path.source_nic is not None:
            egress = self._rules_of(path.source_nic, egress=True)
            if egress is not None:
                out = self._those_matching(egress, path.address)
        ingress = self._rules_of(path.target_nic, egress=False)
        assert ingress is not None
        return self._pair(out, self._those_matching(ingress, path.seen_from))

    def _those_matching(self, rules: Applied, peer: Address) -> Applied:
        """Those of an interface's rules whose peer matches an address (interned), found by
        the identities of the two (``_matching`` keeps the address alive)."""
        found = self._by_peer.get((id(rules), id(peer)))
        if found is None:
            hits = self._matching(peer)
            key = (id(rules), id(hits))
            found = self._subsets.get(key)
            if found is None:
                found = self._subsets[key] = self._intern(
                    tuple(item for item in rules if id(item[1]) in hits)
                )
            self._by_peer[(id(rules), id(peer))] = found
        return found

    def _intern(self, rules: Applied) -> Applied:
        key = tuple(id(group) for group, _ in rules) + tuple(id(rule) for _, rule in rules)
        return self._interned.setdefault(key, rules)

    def _pair(self, egress: Applied | None, ingress: Applied) -> tuple[Applied | None, Applied]:
        return self._pairs.setdefault((id(egress), id(ingress)), (egress, ingress))

    def _group_labels(self, nic: Interface, home: str) -> str:
        found = self._labels.get((id(nic), home))
        if found is None:
            found = self._labels[(id(nic), home)] = (nic, _labels(nic.groups, home))
        return found[1]

    def _canonical(self, text: str) -> str:
        found = self._parsed.get(text)
        if found is None:
            found = self._parsed[text] = str(ip_address(text))
        return found

    def _rules_of(self, nic: Interface, *, egress: bool) -> Applied | None:
        key = (id(nic), egress)
        if key not in self._nic_rules:
            rules = self.topology.egress_of(nic) if egress else self.topology.ingress_of(nic)
            self._nic_rules[key] = None if rules is None else self._intern(tuple(rules))
        return self._nic_rules[key]

    def _hits(self, peer: Address) -> frozenset[int]:
        """The rules (by identity) whose CIDR, prefix list or group matches an address (asked
        once per address through ``_matching``: a big lab asks about the same addresses a
        million times); equal sets are one object."""
        hits = frozenset(
            id(rule)
            for group in self.topology.groups
            for rule in (*group.rules, *(group.egress or ()))
            if self._matches(rule, peer)
        )
        return self._hit_sets.setdefault(hits, hits)

    def evaluate_path(
        self, source: Node, target: Instance, probe: Probe, path: Path
    ) -> Expectation:
        """The verdict for a probe along one of the pair's paths: in a VPC, the sender's egress
        rules and the receiver's ingress rules; in Classic, the receiver's rules."""
        verdict = self.verdict(source, target, probe, path)
        return self.expectation(source, target, path, verdict, probe)

    def verdict(self, source: Node, target: Instance, probe: Probe, path: Path) -> Verdict:
        """What the rules that apply to the path make of the probe (shared, see
        :data:`Verdict`); :meth:`expectation` makes it a cell's."""
        egress, ingress = self.applicable(source, target, path)
        return self.verdict_of(egress, ingress, probe, target)

    def verdict_of(
        self, egress: Applied | None, ingress: Applied, probe: Probe, target: Instance
    ) -> Verdict:
        """:meth:`verdict` given the rules that apply to the path (:meth:`applicable`)."""
        key = (id(egress), id(ingress), probe, self.listening(target), target.account)
        verdict = self._verdicts.get(key)
        if verdict is None:
            verdict = self._verdicts[key] = self._verdict(egress, ingress, probe, target)
        return verdict

    def expectation(
        self, source: Node, target: Instance, path: Path, verdict: Verdict, probe: Probe
    ) -> Expectation:
        """A verdict along a path as the cell's expectation: an allowed one as it is, a
        filtered one with words that name the pair, written when read; then what the network
        ACLs on the path make of the probe and its reply."""
        side, found = verdict
        if self._path and side != "leaving":
            blocked = self._path_block(source, target, path, probe, state=found.state, side=side)
            if blocked is not None:
                return Expectation(State.FILTERED, found.allowed_by, blocked)
        if side == "allowed":
            return found
        why = partial(self._why, source, target, path, side, found.why)
        return Expectation(found.state, found.allowed_by, why)

    def expectation_at(
        self, source: Node, target: Instance, address: str, verdict: Verdict, probe: Probe
    ) -> Expectation:
        """:meth:`expectation` for the pair's path to ``address`` (a cell's), the path found
        only when the words are read (or when the lab has network ACLs to judge it by)."""
        side, found = verdict
        if self._path:
            path = self._path_at(source, target, address)
            if path is not None:
                return self.expectation(source, target, path, verdict, probe)
        if side == "allowed":
            return found
        why = partial(self._why_at, source, target, address, side, found.why)
        return Expectation(found.state, found.allowed_by, why)

    def _why_at(self, source: Node, target: Instance, address: str, side: str, words: str) -> str:
        path = self._path_at(source, target, address)
        if path is None:
            return self._no_path(source, target, address)
        return self._why(source, target, path, side, words)

    def _why(self, source: Node, target: Instance, path: Path, side: str, words: str) -> str:
        """Why a probe (``words``) is filtered, naming the pair."""
        home = target.account
        if not self.topology.is_vpc:
            return (
                f"no rule of {_labels(target.groups, home)} allows {words} "
                f"from {source.name} ({source.address})"
            )
        if side == "leaving":
            assert path.source_nic is not None
            return (
                f"dropped leaving {source.name}: no egress rule of "
                f"{self._group_labels(path.source_nic, home)} allows {words} to "
                f"{self._text(path.address)}"
            )
        seen = f"{source.name} ({self._text(path.seen_from)})"
        if path.kind == "public" and path.source_nic is not None:
            seen += ", its public address: group rules match private addresses only"
        elif path.kind == "nat":
            nat = next(
                n for n in self.topology.nat_gateways if path.seen_from in (n.public, n.address)
            )
            what = "Elastic IP" if nat.public is not None else "address"
            seen += (
                f", the {what} of NAT gateway {nat.label}, where its route table sends it: "
                "group rules match private addresses only"
            )
        return (
            f"dropped entering {target.name}: no ingress rule of "
            f"{self._group_labels(path.target_nic, home)} allows {words} from {seen}"
        )

    @property
    def judges_path(self) -> bool:
        """Whether the lab has network ACLs or route tables the oracle judges per cell."""
        return self._path

    def beyond_groups(self, source: Node, target: Instance, path: Path, probe: Probe) -> str:
        """What the path beyond the groups makes of a probe along a path ("" when it passes):
        a planner tells probes apart by it."""
        side, found = self.verdict(source, target, probe, path)
        if side == "leaving":
            return ""
        return self._path_block(source, target, path, probe, state=found.state, side=side) or ""

    def _path_block(
        self, source: Node, target: Instance, path: Path, probe: Probe, *, state: State, side: str
    ) -> str | None:
        """Why the path beyond the groups drops the probe or its reply, if it does, naming
        the component that decides (:func:`harness.core.path_walk.blocked`)."""
        sport = source_port(
            source.name,
            target.name,
            self._text(path.address),
            str(probe),
            round_number=0,
            avoid=source.listen_ports,
        )
        return blocked(
            self.topology, source, target, path, probe, state=state, side=side, sport=sport
        )

    def _listen_number(self, target: Instance) -> int:
        """A number for what a target listens on, the same for equal listen lists."""
        return self._listens.setdefault(target.listen, len(self._listens))

    def _verdict(
        self, egress: Applied | None, ingress: Applied, probe: Probe, target: Instance
    ) -> Verdict:
        home = target.account
        words = probe_words(probe)
        allowed_by: list[str] = []
        if egress is not None:
            out = self._allowing(egress, probe, home, "egress ", "to")
            if not out:
                return "leaving", Expectation(State.FILTERED, (), words)
            allowed_by.extend(out)
        side = "ingress " if self.topology.is_vpc else ""
        admitted = self._allowing(ingress, probe, home, side)
        if not admitted:
            return "entering", Expectation(State.FILTERED, tuple(allowed_by), words)
        return "allowed", _let_in(target, probe, [*allowed_by, *admitted])

    def _matches(self, rule: Rule, peer: Address) -> bool:
        """Whether a rule's CIDR, prefix list or group reference matches an address."""
        if rule.group is not None:
            return peer in self._members.get(rule.group, ())
        return any(
            net.version == peer.version and peer in net for net in self.topology.expand(rule)
        )

    def _allowing(
        self, rules: Applied, probe: Probe, home: str, side: str = "", word: str = "from"
    ) -> list[str]:
        """``[side ]group: rule`` for each rule that admits the probe; a rule's words are made
        once (the same few rules describe a big lab's million cells)."""
        found = []
        for group, rule in rules:
            if rule.covers(probe.protocol, probe.port):
                key = (id(rule), home, word)
                words = self._words.get(key)
                if words is None:
                    words = self._words[key] = rule.describe(home, word)
                found.append(f"{side}{group.key.label(home)}: {words}")
        return found


def _let_in(target: Instance, probe: Probe, allowed_by: list[str]) -> Expectation:
    """A probe the rules let in: ``open`` if the target listens, else ``closed``."""
    reason = "; ".join(allowed_by)
    if target.listens(probe.protocol, probe.port):
        return Expectation(State.OPEN, tuple(allowed_by), reason)
    if isinstance(probe.protocol, int):
        return Expectation(
            State.CLOSED, tuple(allowed_by), f"{reason}; no handler for protocol {probe}"
        )
    return Expectation(State.CLOSED, tuple(allowed_by), f"{reason}; nothing listens on {probe}")


def _labels(keys: tuple[GroupKey, ...], home: str) -> str:
    return ", ".join(key.label(home) for key in keys)
