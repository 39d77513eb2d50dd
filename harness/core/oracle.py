"""The oracle: what the rules imply for every (source, target, protocol, port).

``open`` when a rule allows the probe and the target listens, ``closed`` when a rule allows it
and nothing listens, ``filtered`` when no rule allows it (EC2 drops it silently). Every verdict
carries its explanation: the group and rule that allowed it, or why nothing did.
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import ip_address

from harness.core.model import (
    Address,
    Group,
    GroupKey,
    Instance,
    Interface,
    Node,
    Probe,
    Protocol,
    Rule,
    State,
    Topology,
)
from harness.core.paths import Path, paths


@dataclass(frozen=True)
class Expectation:
    state: State
    allowed_by: tuple[str, ...]
    why: str


Applied = tuple[tuple[Group, Rule], ...]


class Oracle:
    def __init__(self, topology: Topology) -> None:
        self.topology = topology
        self._members = {key: frozenset(v) for key, v in topology.member_addresses.items()}
        self._peers: dict[Address, frozenset[int]] = {}
        self._parsed: dict[str, Address] = {}
        self._nic_rules: dict[tuple[int, bool], Applied | None] = {}
        self._words: dict[tuple[int, str, str], str] = {}

    def evaluate(
        self, source: Node, target: Instance, probe: Probe, address: str = ""
    ) -> Expectation:
        """The verdict for a probe from ``source`` to ``target`` at ``address`` (a VPC cell's
        address; Classic cells use the target's one address)."""
        if self.topology.is_vpc:
            wanted = self._address(address) if address else target.address
            for path in paths(self.topology, source, target):
                if path.address == wanted:
                    return self.evaluate_path(source, target, probe, path)
            return Expectation(
                State.FILTERED, (), f"{source.name} has no path to {target.name} at {wanted}"
            )
        home = target.account
        _, ingress = self.applicable(source, target, paths(self.topology, source, target)[0])
        allowed_by = self._allowing(ingress, probe, home)
        if not allowed_by:
            groups = _labels(target.groups, home)
            why = (
                f"no rule of {groups} allows {_probe_words(probe)} "
                f"from {source.name} ({source.address})"
            )
            return Expectation(State.FILTERED, (), why)
        return _let_in(target, probe, allowed_by)

    def applicable(
        self, source: Node, target: Instance, path: Path
    ) -> tuple[Applied | None, Applied]:
        """The rules that apply to a path whatever the probe: the sender's egress rules whose
        destination matches the address sent to (``None``: its egress is not filtered) and
        the receiver's ingress rules whose source matches the address it sees."""
        if not self.topology.is_vpc:
            return None, tuple(
                (group, rule)
                for group, rule in self.topology.rules_of(target)
                if (
                    source.address in rule.cidr
                    if rule.cidr is not None
                    else isinstance(source, Instance) and rule.group in source.groups
                )
            )
        out = None
        if path.source_nic is not None:
            egress = self._rules_of(path.source_nic, egress=True)
            if egress is not None:
                hits = self._matching(path.address)
                out = tuple(item for item in egress if id(item[1]) in hits)
        hits = self._matching(path.seen_from)
        ingress = self._rules_of(path.target_nic, egress=False)
        assert ingress is not None
        return out, tuple(item for item in ingress if id(item[1]) in hits)

    def _address(self, text: str) -> Address:
        found = self._parsed.get(text)
        if found is None:
            found = self._parsed[text] = ip_address(text)
        return found

    def _rules_of(self, nic: Interface, *, egress: bool) -> Applied | None:
        key = (id(nic), egress)
        if key not in self._nic_rules:
            rules = self.topology.egress_of(nic) if egress else self.topology.ingress_of(nic)
            self._nic_rules[key] = None if rules is None else tuple(rules)
        return self._nic_rules[key]

    def _matching(self, peer: Address) -> frozenset[int]:
        """The rules (by identity) whose CIDR, prefix list or group matches an address: worked
        out once per address, as a big lab asks about the same addresses a million times."""
        found = self._peers.get(peer)
        if found is None:
            found = self._peers[peer] = frozenset(
                id(rule)
                for group in self.topology.groups
                for rule in (*group.rules, *(group.egress or ()))
                if self._matches(rule, peer)
            )
        return found

    def evaluate_path(
        self, source: Node, target: Instance, probe: Probe, path: Path
    ) -> Expectation:
        """A VPC cell: the sender's egress rules and the receiver's ingress rules."""
        home = target.account
        words = _probe_words(probe)
        allowed_by: list[str] = []
        egress, ingress = self.applicable(source, target, path)
        if egress is not None:
            assert path.source_nic is not None
            out = self._allowing(egress, probe, home, "egress ", "to")
            if not out:
                groups = _labels(path.source_nic.groups, home)
                return Expectation(
                    State.FILTERED,
                    (),
                    f"dropped leaving {source.name}: no egress rule of {groups} allows "
                    f"{words} to {path.address}",
                )
            allowed_by.extend(out)
        admitted = self._allowing(ingress, probe, home, "ingress ")
        if not admitted:
            groups = _labels(path.target_nic.groups, home)
            seen = f"{source.name} ({path.seen_from})"
            if path.kind == "public" and path.source_nic is not None:
                seen += ", its public address: group rules match private addresses only"
            return Expectation(
                State.FILTERED,
                tuple(allowed_by),
                f"dropped entering {target.name}: no ingress rule of {groups} allows {words} "
                f"from {seen}",
            )
        return _let_in(target, probe, [*allowed_by, *admitted])

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


def _probe_words(probe: Probe) -> str:
    if probe.protocol is Protocol.ICMP:
        return "icmp echo"
    if probe.protocol is Protocol.ICMPV6:
        return "icmpv6 echo"
    if isinstance(probe.protocol, int):
        return f"protocol {probe.protocol}"
    return f"{probe.protocol} {probe.port}"
