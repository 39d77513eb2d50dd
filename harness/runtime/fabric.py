"""The lab fabric: a bridge inside a "switch" namespace, one veth pair per node.

Docker's own networks carry one subnet each and drop traffic between subnets, and a bridge in
the host namespace passes through the host firewall. This fabric avoids both: the bridge lives
in the namespace of a small labelled container, each node's veth peer is created straight into
the node's namespace as ``eth0``, and every node gets on-link routes for every lab subnet.
Nothing crosses the host namespace and there is no uplink: the lab cannot reach the world.

This module only writes the ``ip -batch`` scripts; :mod:`harness.runtime.docker` runs them.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network

BRIDGE = "br0"
NODE_IFACE = "eth0"

# Lifted in every lab namespace: UDP verdicts need prompt ICMP port-unreachable replies.
SYSCTLS = {
    "net.ipv4.icmp_ratelimit": "0",
    "net.ipv4.icmp_msgs_per_sec": "1000000",
    "net.ipv4.icmp_msgs_burst": "100000",
}


def port_name(index: int) -> str:
    return f"p{index}"


def switch_script(node_pids: list[int]) -> str:
    """Bridge plus one veth per node, each peer made directly inside the node's namespace."""
    lines = [
        f"link add {BRIDGE} type bridge",
        f"link set {BRIDGE} up",
    ]
    for index, pid in enumerate(node_pids):
        port = port_name(index)
        lines.append(f"link add {port} type veth peer name {NODE_IFACE} netns {pid}")
        lines.append(f"link set {port} master {BRIDGE} up")
    return "\n".join(lines) + "\n"


def node_script(address: IPv4Address, subnets: list[IPv4Network]) -> str:
    lines = [
        "link set lo up",
        f"link set {NODE_IFACE} up",
        f"addr add {address}/32 dev {NODE_IFACE}",
    ]
    lines += [f"route add {net} dev {NODE_IFACE} scope link" for net in subnets]
    return "\n".join(lines) + "\n"


def sysctl_argv() -> list[str]:
    return ["sysctl", "-q", "-w", *(f"{key}={value}" for key, value in SYSCTLS.items())]
