"""The lab fabric: a bridge inside a "switch" namespace, one veth pair per node.

Docker's own networks carry one subnet each and drop traffic between subnets, and a bridge in
the host namespace passes through the host firewall. This fabric avoids both: the bridge lives
in the namespace of a small labelled container, each node's veth peer is created straight into
the node's namespace as ``eth0``, and every node gets on-link routes for every lab subnet.
Nothing crosses the host namespace and there is no uplink: the lab cannot reach the world.

This module only writes the ``ip -batch`` scripts; :mod:`harness.adapters.docker_runtime` runs them.
"""

from __future__ import annotations

import hashlib
from ipaddress import IPv4Address, IPv4Network

BRIDGE = "br0"
NODE_IFACE = "eth0"

# Lifted in every lab namespace: UDP verdicts need prompt ICMP port-unreachable replies.
SYSCTLS = {
    "net.ipv4.icmp_ratelimit": "0",
    "net.ipv4.icmp_msgs_per_sec": "1000000",
    "net.ipv4.icmp_msgs_burst": "100000",
}


def node_port(node: str) -> str:
    """A stable switch port name for a node of a persistent lab (15 characters at most)."""
    return "v" + hashlib.sha256(node.encode()).hexdigest()[:12]


def bridge_script() -> str:
    return f"link add {BRIDGE} type bridge\nlink set {BRIDGE} up\n"


def attach_script(ports: list[tuple[str, int]]) -> str:
    """One veth per (switch port, node pid), the peer made inside the node's namespace."""
    lines = []
    for port, pid in ports:
        lines.append(f"link add {port} type veth peer name {NODE_IFACE} netns {pid}")
        lines.append(f"link set {port} master {BRIDGE} up")
    return "\n".join(lines) + "\n"


def node_script(address: IPv4Address, subnets: list[IPv4Network]) -> str:
    lines = [
        "link set lo up",
        f"link set {NODE_IFACE} up",
        f"addr add {address}/32 dev {NODE_IFACE}",
    ]
    return "\n".join(lines) + "\n" + routes_script(subnets)


def routes_script(subnets: list[IPv4Network]) -> str:
    """On-link routes for every lab subnet (``replace``: safe to run again when hosts come)."""
    return "".join(f"route replace {net} dev {NODE_IFACE} scope link\n" for net in subnets)


def sysctl_argv() -> list[str]:
    return ["sysctl", "-q", "-w", *(f"{key}={value}" for key, value in SYSCTLS.items())]


def parse_routes(text: str, iface: str = NODE_IFACE) -> frozenset[IPv4Network]:
    """The on-link IPv4 routes via ``iface`` in a ``/proc/PID/net/route`` table."""
    found = set()
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 8 or fields[0] != iface or int(fields[2], 16) != 0:
            continue
        destination = IPv4Address(int.from_bytes(bytes.fromhex(fields[1]), "little"))
        mask = IPv4Address(int.from_bytes(bytes.fromhex(fields[7]), "little"))
        found.add(IPv4Network(f"{destination}/{mask}", strict=False))
    return frozenset(found)


def parse_local_addresses(text: str) -> frozenset[IPv4Address]:
    """The namespace's own IPv4 addresses (not loopback) in a ``/proc/PID/net/fib_trie``."""
    found = set()
    previous = ""
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("/32 host LOCAL") and previous:
            address = IPv4Address(previous)
            if not address.is_loopback:
                found.add(address)
        previous = stripped[4:] if stripped.startswith("|-- ") else ""
    return frozenset(found)
