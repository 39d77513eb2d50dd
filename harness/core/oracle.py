"""The oracle: what the rules imply for every (source, target, protocol, port).

``open`` when a rule allows the probe and the target listens, ``closed`` when a rule allows it
and nothing listens, ``filtered`` when no rule allows it (EC2 drops it silently). Every verdict
carries its explanation: the group and rule that allowed it, or why nothing did.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.core.model import Instance, Node, Probe, Protocol, State, Topology


@dataclass(frozen=True)
class Expectation:
    state: State
    allowed_by: tuple[str, ...]
    why: str


class Oracle:
    def __init__(self, topology: Topology) -> None:
        self.topology = topology

    def evaluate(self, source: Node, target: Instance, probe: Probe) -> Expectation:
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
            groups = ", ".join(key.label(home) for key in target.groups)
            why = (
                f"no rule of {groups} allows {_probe_words(probe)} "
                f"from {source.name} ({source.address})"
            )
            return Expectation(State.FILTERED, (), why)
        reason = "; ".join(allowed_by)
        if target.listens(probe.protocol, probe.port):
            return Expectation(State.OPEN, tuple(allowed_by), reason)
        return Expectation(State.CLOSED, tuple(allowed_by), f"{reason}; nothing listens on {probe}")


def _probe_words(probe: Probe) -> str:
    if probe.protocol is Protocol.ICMP:
        return "icmp echo"
    return f"{probe.protocol} {probe.port}"
