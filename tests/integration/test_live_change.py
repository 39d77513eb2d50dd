"""Rule changes reach a running lab through the one lifecycle: one nft transaction per
affected instance, no restart."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from nodes import leftovers
from persistent import running

from harness.adapters import netns
from harness.adapters.probers.scapy_prober import ScapyProber
from harness.core.ec2 import platform as platforms
from harness.core.ec2 import rules as rulebook
from harness.core.model import GroupKey, Probe, Protocol, Rule, State, Topology
from harness.core.nftables import compile_lab, delta
from harness.core.phases import QUIET
from harness.core.planner import Cell
from harness.core.runtime import LabNamespaces, Runtime
from harness.formats import topology_file
from harness.lab.lifecycle import reconcile, survey
from harness.lab.measure import batches_for

FEATURES = Path(__file__).resolve().parent / "topologies/features.yaml"
VPC = Path(__file__).resolve().parents[2] / "topologies/vpc-three-tier.yaml"
SSH = Cell("outside", "vault", Probe(Protocol.TCP, 22))
OTHER = Cell("inside", "vault", Probe(Protocol.TCP, 22))


def with_rule(topo: Topology, rule: Rule) -> Topology:
    key = GroupKey(topo.account, "sealed")
    return replace(
        topo,
        groups=tuple(rulebook.authorize(g, [rule]) if g.key == key else g for g in topo.groups),
    )


def observe(topo: Topology, live: LabNamespaces, cells: list[Cell]) -> dict[Cell, State]:
    batches = batches_for(topo, live, cells, set(cells))
    return {cell: obs.state for cell, obs in ScapyProber(timeout=1.0).run(batches).items()}


def test_authorize_and_revoke_on_a_running_lab(runtime: Runtime) -> None:
    topo = topology_file.load(FEATURES)
    with running(runtime, topo) as (ref, built):
        live = built.namespaces
        pids = dict(live.pids)
        assert observe(topo, live, [SSH, OTHER]) == {SSH: State.FILTERED, OTHER: State.FILTERED}

        rule = rulebook.make_rule(
            platforms.CLASSIC,
            Protocol.TCP,
            22,
            22,
            cidr=rulebook.parse_cidr("203.0.113.8/32", platforms.CLASSIC),
        )
        opened = with_rule(topo, rule)
        changed = reconcile(runtime, ref, opened, built.applied, QUIET)
        assert list(changed.plan.install) == ["vault"]
        assert observe(opened, live, [SSH, OTHER]) == {SSH: State.OPEN, OTHER: State.FILTERED}
        installed = netns.run(live.pids["vault"], ["nft", "list", "table", "inet", "sgh"])
        assert 'ip saddr 203.0.113.8 tcp dport 22 accept comment "sealed: tcp 22 from' in installed

        back = reconcile(runtime, ref, topo, changed.applied, QUIET)
        assert list(back.plan.install) == ["vault"]
        assert observe(topo, live, [SSH]) == {SSH: State.FILTERED}
        assert back.namespaces.pids == pids  # nothing was restarted
    assert leftovers(runtime, topo.name) == []


def fresh_listing(policy: str) -> str:
    """How ``nft -s`` lists a whole policy loaded into a new, empty namespace."""

    def load() -> str:
        from harness.adapters.libnftables import Context

        context = Context()
        context.set_stateless_output(True)  # as the harness lists: without counter values
        assert context.cmd(policy)[0] == 0
        return str(context.cmd("list table inet sgh")[1])

    return netns.call_in(None, load)


def test_changes_loaded_as_deltas_list_as_the_whole_policies_would(runtime: Runtime) -> None:
    """A change loads only what differs (here a chain's rules); each namespace then lists what
    the whole policy lists in a fresh namespace, and a deep look finds every policy as
    installed."""
    topo = topology_file.load(VPC)
    web = next(group for group in topo.groups if group.name == "web")
    rule = rulebook.make_rule(
        platforms.CLASSIC,
        Protocol.TCP,
        8443,
        8443,
        cidr=rulebook.parse_cidr("10.9.0.0/16", platforms.CLASSIC),
    )
    grown = rulebook.authorize(web, [rule], egress=False)
    opened = replace(topo, groups=tuple(grown if g is web else g for g in topo.groups))
    with running(runtime, topo) as (ref, built):
        applied, current = built.applied, topo
        for desired in (opened, topo):
            before = compile_lab(current)
            done = reconcile(runtime, ref, desired, applied, QUIET)
            assert done.plan.install
            for name, policy in done.plan.install.items():
                assert delta(before[name], policy), name  # loaded as a difference
                assert netns.listed(done.namespaces.pids[name]) == fresh_listing(policy), name
            _, deep = survey(runtime, ref, desired, done.applied, deep=True)
            assert deep.problems == () and deep.install == {}
            applied, current = done.applied, desired
    assert leftovers(runtime, topo.name) == []
