"""The probe planner: which cells to measure so that every distinct behaviour is seen.

For each target and protocol, the rules' port boundaries cut 0-65535 into intervals inside which
every port is treated alike; one port of each interval is probed, plus every port the target
listens on, ICMP echo, and the topology's extra ``probes:`` on every target. Instance-to-itself
cells are not probed.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.core.model import Instance, Probe, Protocol, Topology

PORT_MAX = 65535


@dataclass(frozen=True, order=True)
class Cell:
    source: str
    target: str
    probe: Probe


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


def plan(topology: Topology) -> list[Cell]:
    """Every cell to probe, sources in topology order (instances, then hosts)."""
    per_target = {target.name: probe_set(topology, target) for target in topology.instances}
    return [
        Cell(source.name, target.name, probe)
        for source in topology.nodes
        for target in topology.instances
        if target.name != source.name
        for probe in per_target[target.name]
    ]
