"""The lab switch: its settings and its forwarding table, on both runtimes."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from nodes import leftovers
from persistent import running

from harness.adapters import namespaces, netns
from harness.adapters.probers.scapy_prober import ScapyProber
from harness.core import fabric
from harness.core.phases import QUIET
from harness.core.runtime import Runtime
from harness.formats import topology_file
from harness.lab.measure import probe_matrix

VPC = Path(__file__).resolve().parents[2] / "topologies/vpc-three-tier.yaml"


def test_the_lab_switch_keeps_bridged_frames_out_of_ip_netfilter(runtime: Runtime) -> None:
    """With br_netfilter loaded (Docker loads it), a bridge hands every frame it forwards to
    the IP hooks of its namespace unless told not to; the lab's switch is told not to."""
    if shutil.which("modprobe"):
        subprocess.run(["modprobe", "br_netfilter"], capture_output=True, check=False)
    assert Path("/proc/sys/net/bridge/bridge-nf-call-iptables").exists(), "no br_netfilter"
    topo = topology_file.load(VPC)

    def settings() -> dict[str, str]:
        return {
            key: Path("/proc/sys/" + key.replace(".", "/")).read_text().strip()
            for key in fabric.SWITCH_SYSCTLS
        }

    with running(runtime, topo) as (_, built):
        switch = netns.netns_path(built.namespaces.switch_pid)
        assert netns.call_in(switch, settings) == fabric.SWITCH_SYSCTLS
        assert netns.call_in(None, settings) != fabric.SWITCH_SYSCTLS  # a new namespace's
    assert leftovers(runtime, topo.name) == []


def test_every_node_mac_is_a_static_entry_of_the_switch_on_its_port(runtime: Runtime) -> None:
    """A bridge floods a frame for a MAC it has not learned to every port; a node that never
    answers (its policy drops everything) would be sent every probe meant for it through every
    node. Each node's MACs are static entries of the switch's table, on their ports."""
    topo = topology_file.load(VPC)
    wiring = fabric.wirings(topo, topo.lab_nodes)
    with running(runtime, topo) as (_, built):
        table = netns.run(built.namespaces.switch_pid, ["bridge", "fdb", "show", "br", "br0"])
        static = set(re.findall(r"^(\S+) dev (\S+) master br0 static$", table, re.MULTILINE))
        wanted = {
            (hardware, port)
            for plan in wiring.values()
            for (port, _), hardware in zip(plan.ports, plan.macs, strict=True)
        }
        assert wanted and wanted <= static, sorted(wanted - static)[:5]
    assert leftovers(runtime, topo.name) == []


def test_a_lab_of_more_ports_than_a_bridge_takes_is_one_switch_of_linked_bridges(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Linux bridge takes 1024 ports: a bigger lab's ports fill ``br0``, then ``br1``, ...,
    each linked to ``br0``, and every bridge knows every MAC (on its port, or on the link
    towards it), so nothing floods. Run at a small size: five ports a bridge."""
    monkeypatch.setattr(namespaces, "PER_BRIDGE", 5)
    topo = topology_file.load(VPC)
    wiring = fabric.wirings(topo, topo.lab_nodes)
    macs = {hardware for plan in wiring.values() for hardware in plan.macs}
    ports = sum(len(plan.ports) for plan in wiring.values())
    with running(runtime, topo) as (_, built):
        switch = built.namespaces.switch_pid
        matrix = probe_matrix(topo, built.namespaces, ScapyProber(), QUIET)
        assert matrix.summary.ok, matrix.summary.line()
        bridges = sorted(fabric.bridges_in_use(netns.run(switch, ["ip", "-o", "link", "show"])))
        assert len(bridges) == -(-ports // 5) > 2
        for bridge in bridges:
            table = netns.run(switch, ["bridge", "fdb", "show", "br", bridge])
            static = set(re.findall(rf"^(\S+) dev \S+ master {bridge} static$", table, re.M))
            assert macs <= static, (bridge, sorted(macs - static)[:3])
    assert leftovers(runtime, topo.name) == []
