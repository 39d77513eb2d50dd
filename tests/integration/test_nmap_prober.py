"""nmap as a second prober: on the shipped topologies it must see exactly what scapy sees."""

from __future__ import annotations

from pathlib import Path

import pytest
from persistent import running

from harness.adapters.probers.nmap_prober import NmapProber
from harness.adapters.probers.scapy_prober import ScapyProber
from harness.core.model import State
from harness.core.phases import QUIET
from harness.core.runtime import Runtime
from harness.formats import topology_file
from harness.lab.measure import probe_matrix

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", ["default-group", "three-tier"])
def test_nmap_and_scapy_agree_on_every_cell(runtime: Runtime, name: str) -> None:
    topo = topology_file.load(ROOT / "topologies" / f"{name}.yaml")
    with running(runtime, topo) as (_, built):
        by_scapy = probe_matrix(topo, built.namespaces, ScapyProber(), QUIET)
        by_nmap = probe_matrix(topo, built.namespaces, NmapProber(), QUIET)
    assert by_scapy.summary.ok, by_scapy.summary.line()
    assert by_nmap.summary.ok, by_nmap.summary.line()
    scapy_states = {r.cell: r.observed.state for r in by_scapy.results}
    nmap_states = {r.cell: r.observed.state for r in by_nmap.results}
    assert scapy_states.keys() == nmap_states.keys()
    differ = [cell for cell in scapy_states if scapy_states[cell] is not nmap_states[cell]]
    assert not differ, f"{len(differ)} cells differ, first {differ[:5]}"
    # Both matrices hold every kind of verdict the topology can give, not only 'filtered'.
    assert {State.OPEN, State.FILTERED} <= set(nmap_states.values())
    assert all(r.observed.detail.startswith("nmap: ") for r in by_nmap.results)


def test_nmap_sees_udp_and_closed_ports(runtime: Runtime) -> None:
    """The features topology has UDP servers, closed ports and ICMP rules."""
    topo = topology_file.load(ROOT / "tests/integration/topologies/features.yaml")
    with running(runtime, topo) as (_, built):
        by_nmap = probe_matrix(topo, built.namespaces, NmapProber(), QUIET, retry=False)
    wrong = [r for r in by_nmap.results if not r.correct]
    assert not wrong, [(r.cell, r.expected.state, r.observed) for r in wrong[:5]]
    seen = {(str(r.cell.probe.protocol), r.observed.state) for r in by_nmap.results}
    assert {("udp", State.OPEN), ("udp", State.CLOSED), ("tcp", State.CLOSED)} <= seen
