"""Rule changes reach a running lab: one nft transaction per affected instance, no restart."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from harness import ec2, topology
from harness.compiler import compile_lab
from harness.lab import apply_change, batches_for
from harness.model import GroupKey, Probe, Protocol, Rule, State, Topology
from harness.planner import Cell
from harness.probe.scapy_prober import ScapyProber
from harness.progress import Progress
from harness.runtime.base import LiveLab
from harness.runtime.docker import DockerRuntime

FEATURES = Path(__file__).resolve().parent / "topologies/features.yaml"
SSH = Cell("outside", "vault", Probe(Protocol.TCP, 22))
OTHER = Cell("inside", "vault", Probe(Protocol.TCP, 22))


def with_rule(topo: Topology, rule: Rule) -> Topology:
    key = GroupKey(topo.account, "sealed")
    return replace(
        topo, groups=tuple(ec2.authorize(g, [rule]) if g.key == key else g for g in topo.groups)
    )


def observe(topo: Topology, live: LiveLab, cells: list[Cell]) -> dict[Cell, State]:
    batches = batches_for(topo, live, cells, set(cells))
    return {cell: obs.state for cell, obs in ScapyProber(timeout=1.0).run(batches).items()}


def test_authorize_and_revoke_on_a_running_lab(runtime: DockerRuntime) -> None:
    topo = topology.load(FEATURES)
    quiet = Progress.quiet()
    runtime.ensure_absent(topo.name)
    try:
        live = runtime.up(topo, quiet)
        runtime.install(live, compile_lab(topo), quiet)
        pids = dict(live.pids)
        assert observe(topo, live, [SSH, OTHER]) == {SSH: State.FILTERED, OTHER: State.FILTERED}

        rule = ec2.make_rule(Protocol.TCP, 22, 22, cidr=ec2.parse_cidr("203.0.113.8/32"))
        opened = with_rule(topo, rule)
        assert apply_change(runtime, live, topo, opened, quiet) == ["vault"]
        assert observe(opened, live, [SSH, OTHER]) == {SSH: State.OPEN, OTHER: State.FILTERED}
        installed = runtime.installed_policy(live, "vault")
        assert 'ip saddr 203.0.113.8 tcp dport 22 accept comment "sealed: tcp 22 from' in installed

        assert apply_change(runtime, live, opened, topo, quiet) == ["vault"]
        assert observe(topo, live, [SSH]) == {SSH: State.FILTERED}
        assert live.pids == pids  # nothing was restarted
    finally:
        runtime.down(topo.name)
    assert runtime.leftovers(topo.name) == []
