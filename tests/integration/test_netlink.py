"""Sysctls and neighbour entries written from a thread inside a (new, empty) namespace: where
they land, and a refused entry named. The entries of a whole lab: ``test_vpc.py``; the lab
switch's settings: ``test_switch.py``."""

from __future__ import annotations

from ipaddress import IPv4Address
from pathlib import Path

import pytest

from harness.adapters import netlink, netns
from harness.errors import LabError


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
