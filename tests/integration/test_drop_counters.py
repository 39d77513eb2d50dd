"""The prober learns that unanswered probes were dropped from the counters at the end of the
targets' input chains, instead of waiting out the grace; a count that falls short means the
grace, as before."""

from __future__ import annotations

from pathlib import Path

from nodes import leftovers
from persistent import running

from harness.adapters import netns
from harness.adapters.probers.scapy_prober import ScapyProber
from harness.core.model import Instance, State
from harness.core.nftables import compile_instance
from harness.core.planner import plan_expected
from harness.core.runtime import Runtime
from harness.formats import topology_file
from harness.lab.measure import batches_for

VPC = Path(__file__).resolve().parents[2] / "topologies/vpc-three-tier.yaml"


def test_drops_counted_end_the_wait_and_a_short_count_waits_the_grace(runtime: Runtime) -> None:
    topo = topology_file.load(VPC)
    expected = plan_expected(topo)
    answered = {cell for cell, e in expected.items() if e.state is not State.FILTERED}
    with running(runtime, topo) as (_, built):
        live = built.namespaces
        prober = ScapyProber()
        seen = prober.run(batches_for(topo, live, list(expected), answered))
        assert prober.waits == ["counted"]
        assert {c: o.state for c, o in seen.items()} == {c: e.state for c, e in expected.items()}

        # One target stops counting (its policy without the counting rule): the count falls
        # short, and the prober waits out the grace; the verdicts are the same.
        target = next(c.target for c, e in expected.items() if "dropped entering" in e.why)
        node = topo.nodes_by_name[target]
        assert isinstance(node, Instance)
        uncounted = "\n".join(
            line
            for line in compile_instance(topo, node).splitlines()
            if 'counter name "dropped"' not in line
        )
        netns.load(live.pids[target], uncounted + "\n")
        seen = prober.run(batches_for(topo, live, list(expected), answered), 1)
        assert prober.waits[-1] == "grace"
        assert {c: o.state for c, o in seen.items()} == {c: e.state for c, e in expected.items()}
    assert leftovers(runtime, topo.name) == []
