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
    GroupKey,
    Instance,
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


class Oracle:
    def __init__(self, topology: Topology) -> None:
        self.topology = topology
        self._paths: dict[tuple[str, str], list[Path]] = {}  # a pair's paths, for its cells

    def evaluate(
        self, source: Node, target: Instance, probe: Probe, address: str = ""
    ) -> Expectation:
        """The verdict for a probe from ``source`` to ``target`` at ``address`` (a VPC cell's
        address; Classic cells use the target's one address)."""
        if self.topology.is_vpc:
            wanted = ip_address(address) if address else target.address
            pair = (source.name, target.name)
            if pair not in self._paths:
                self._paths[pair] = paths(self.topology, source, target)
            for path in self._paths[pair]:
                if path.address == wanted:
                    return self.evaluate_path(source, target, probe, path)
            return Expectation(
                State.FILTERED, (), f"{source.name} has no path to {target.name} at {wanted}"
            )
        home = target.account
        allowed_by = []
        for group, rule in self.topology.rules_of(target):
            if not rule.covers(probe.protocol, probe.port):
                continue
            if rule.cidr is not None:
                if source.address not in rule.cidr:
                    continue
            elif not (isinstance(source, Instance) and rule.group in source.groups):
                continue
            allowed_by.append(f"{group.key.label(home)}: {rule.describe(home)}")
        if not allowed_by:
            groups = _labels(target.groups, home)
            why = (
                f"no rule of {groups} allows {_probe_words(probe)} "
                f"from {source.name} ({source.address})"
            )
            return Expectation(State.FILTERED, (), why)
        reason = "; ".join(allowed_by)
        if target.listens(probe.protocol, probe.port):
            return Expectation(State.OPEN, tuple(allowed_by), reason)
        return Expectation(State.CLOSED, tuple(allowed_by), f"{reason}; nothing listens on {probe}")

    def evaluate_path(
        self, source: Node, target: Instance, probe: Probe, path: Path
    ) -> Expectation:
        """A VPC cell: the sender's egress rules and the receiver's ingress rules."""
        topology = self.topology
        home = target.account
        words = _probe_words(probe)
        allowed_by: list[str] = []
        if path.source_nic is not None:
            egress = topology.egress_of(path.source_nic)
            if egress is not None:
                out = [
                    f"egress {group.key.label(home)}: {rule.describe(home, 'to')}"
                    for group, rule in egress
                    if rule.covers(probe.protocol, probe.port) and self._matches(rule, path.address)
                ]
                if not out:
                    groups = _labels(path.source_nic.groups, home)
                    return Expectation(
                        State.FILTERED,
                        (),
                        f"dropped leaving {source.name}: no egress rule of {groups} allows "
                        f"{words} to {path.address}",
                    )
                allowed_by.extend(out)
        ingress = [
            f"ingress {group.key.label(home)}: {rule.describe(home)}"
            for group, rule in topology.ingress_of(path.target_nic)
            if rule.covers(probe.protocol, probe.port) and self._matches(rule, path.seen_from)
        ]
        if not ingress:
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
        allowed_by.extend(ingress)
        reason = "; ".join(allowed_by)
        if target.listens(probe.protocol, probe.port):
            return Expectation(State.OPEN, tuple(allowed_by), reason)
        if isinstance(probe.protocol, int):
            return Expectation(
                State.CLOSED, tuple(allowed_by), f"{reason}; no handler for protocol {probe}"
            )
        return Expectation(State.CLOSED, tuple(allowed_by), f"{reason}; nothing listens on {probe}")

    def _matches(self, rule: Rule, peer: Address) -> bool:
        """Whether a rule's CIDR, prefix list or group reference matches an address."""
        if rule.group is not None:
            return peer in self.topology.member_addresses.get(rule.group, ())
        return any(
            net.version == peer.version and peer in net for net in self.topology.expand(rule)
        )


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
