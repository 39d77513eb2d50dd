"""Sysctls and neighbour entries written from a thread inside a (new, empty) namespace: where
they land, and a refused entry named; the lab switch's. The entries of a whole lab:
``test_vpc.py``."""

from __future__ import annotations

import shutil
import subprocess
from ipaddress import IPv4Address
from pathlib import Path

import pytest
from nodes import leftovers
from persistent import running

from harness.adapters import netlink, netns
from harness.core import fabric
from harness.core.runtime import Runtime
from harness.errors import LabError
from harness.formats import topology_file

ROOT = Path(__file__).resolve().parents[2]


def test_sysctls_land_in_the_namespace_of_the_thread() -> None:
    def written() -> str:
        netlink.write_sysctls([("net.ipv4.icmp_ratelimit", "0")])
        return Path("/proc/sys/net/ipv4/icmp_ratelimit").read_text().strip()

    assert netns.call_in(None, written) == "0"
    assert Path("/proc/sys/net/ipv4/icmp_ratelimit").read_text().strip() != "0"  # ours only


def test_a_refused_entry_is_named() -> None:
    def refused() -> None:
        netlink.add_neighbours(
            [
                ("lo", IPv4Address("10.0.0.2"), "02:53:0a:00:00:02"),
                ("lo", IPv4Address("10.0.0.3"), "02:53"),  # too short for an Ethernet address
            ]
        )

    with pytest.raises(LabError, match=r"neighbour 10\.0\.0\.3 lladdr 02:53 on lo: Invalid"):
        netns.call_in(None, refused)
    with pytest.raises(LabError, match="no interface eth9"):
        netns.call_in(
            None,
            lambda: netlink.add_neighbours(
                [("eth9", IPv4Address("10.0.0.2"), "02:53:0a:00:00:02")]
            ),
        )
    with pytest.raises(LabError, match=r"sysctl net\.ipv4\.no_such_thing=1"):
        netns.call_in(None, lambda: netlink.write_sysctls([("net.ipv4.no_such_thing", "1")]))


def test_settings_a_kernel_lacks_are_skipped_only_when_asked() -> None:
    missing = [("net.bridge.no_such_thing", "0"), ("net.ipv4.icmp_ratelimit", "0")]

    def written() -> str:
        netlink.write_sysctls(missing, present=True)
        return Path("/proc/sys/net/ipv4/icmp_ratelimit").read_text().strip()

    assert netns.call_in(None, written) == "0"
    with pytest.raises(LabError, match=r"sysctl net\.bridge\.no_such_thing=0: no such setting"):
        netns.call_in(None, lambda: netlink.write_sysctls(missing))


def test_the_lab_switch_keeps_bridged_frames_out_of_ip_netfilter(runtime: Runtime) -> None:
    """With br_netfilter loaded (Docker loads it), a bridge hands every frame it forwards to
    the IP hooks of its namespace unless told not to; the lab's switch is told not to."""
    if shutil.which("modprobe"):
        subprocess.run(["modprobe", "br_netfilter"], capture_output=True, check=False)
    assert Path("/proc/sys/net/bridge/bridge-nf-call-iptables").exists(), "no br_netfilter"
    topo = topology_file.load(ROOT / "topologies/three-tier.yaml")

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
