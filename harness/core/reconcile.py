"""Reconciliation, decided: the steps that bring a lab to its desired state.

Every lab is built and changed the same way (``sgh run``, persistent labs and every change to
them, the pytest plugin, replays): from the desired topology, what the runtime **observes**
(each node running, plugged into the fabric with its address and routes, its policy as nft
lists it) and what was last installed (pid and policy digests), :func:`plan` returns what to
do; :mod:`harness.lab.lifecycle` does it through the runtime port. Nothing here runs anything.

A node is started again when it is missing, not running, or not plugged into the fabric (an
interrupted launch leaves containers without their link), or in a VPC lab when its wiring now
needs addresses it does not hold (the internet gateway, when a subnet becomes public); without
a running switch every node is (the fabric lives in the switch). An instance gets its policy
when it is new, when its compiled policy differs from the one last installed (a rule or a
membership change: only the group's members and the holders of its address set), or when the
policy nft lists is not the one installed (changed by hand).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from ipaddress import IPv4Network

from harness.core.fabric import Wiring, wiring, wirings
from harness.core.model import Gateway, Instance, LabNode, NatGateway, Router, Topology
from harness.core.nftables import compile_lab
from harness.core.runtime import SWITCH, NodeState


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Applied:
    """What a node last had installed: its pid, the digest of its compiled policy and of the
    listing nft gave right after (empty for hosts and the switch)."""

    pid: int
    digest: str = ""
    listing: str = ""


@dataclass(frozen=True)
class Plan:
    """The steps, in the order they are taken."""

    remove: tuple[str, ...] = ()  # nodes whose containers go (dead, unplugged, not wanted)
    start_switch: bool = False
    start: tuple[LabNode, ...] = ()  # nodes started, then plugged into the switch
    install: Mapping[str, str] = field(default_factory=dict)  # instance -> nft transaction
    route: tuple[str, ...] = ()  # kept nodes that lack a route to a lab subnet
    wait: tuple[Instance, ...] = ()  # new instances, until they listen
    keep: Mapping[str, int] = field(default_factory=dict)  # running nodes kept, with pids
    subnets: tuple[IPv4Network, ...] = ()  # every lab subnet (Classic labs: routed on-link)
    wiring: Mapping[str, Wiring] = field(default_factory=dict)  # how each started node plugs
    digests: Mapping[str, str] = field(default_factory=dict)  # every instance's policy digest
    problems: tuple[str, ...] = ()  # what was found wrong, in words

    @property
    def empty(self) -> bool:
        return not (self.remove or self.start_switch or self.start or self.install or self.route)


def routing_digest(topology: Topology, node: LabNode) -> str:
    """A router's, NAT gateway's or the internet gateway's routing as plugged (a router's
    next hops: a NAT gateway or a peering added or deleted; the gateway's way to each VPC
    with an internet gateway); "" for every other node."""
    if not isinstance(node, Router | NatGateway | Gateway):
        return ""
    plan = wiring(topology, node)
    return digest(plan.script + plan.script6)


def plan(
    desired: Topology,
    observed: Mapping[str, NodeState],
    applied: Mapping[str, Applied],
) -> Plan:
    subnets = () if desired.is_vpc else tuple(desired.subnets())
    wanted: dict[str, LabNode] = {node.name: node for node in desired.lab_nodes}
    problems: list[str] = []
    remove: list[str] = []
    keep: dict[str, int] = {}
    switch = observed.get(SWITCH)
    if switch is None or not switch.running:
        if observed:
            problems.append("the lab's switch is not running: every node is plugged again")
        remove = sorted(observed)
    else:
        keep[SWITCH] = switch.pid
        for name, state in sorted(observed.items()):
            if name == SWITCH:
                continue
            node = wanted.get(name)
            if node is None:
                remove.append(name)
                problems.append(f"{name}: a container the lab's state does not have")
            elif not state.running:
                remove.append(name)
                problems.append(f"{name}: its container is not running")
            elif node.address not in state.addresses:
                remove.append(name)
                problems.append(f"{name}: not plugged into the lab's fabric")
            elif desired.is_vpc and not wiring(desired, node).addresses <= state.addresses:
                remove.append(name)  # e.g. the gateway, when a subnet becomes public: a change
            elif _rerouted(desired, node, applied.get(name)):
                remove.append(name)  # its next hops changed: plugged again, a change
            else:
                keep[name] = state.pid
        for name in sorted(set(wanted) - set(observed)):
            if name in applied:  # started once and gone; one never started is a change
                problems.append(f"{name}: its container is missing")
    start = tuple(node for name, node in wanted.items() if name not in keep)
    route = tuple(
        name for name in wanted if name in keep and not set(subnets) <= observed[name].routes
    )
    policies = compile_lab(desired)
    digests = {name: digest(text) for name, text in policies.items()}
    for node in desired.lab_nodes:
        routed = routing_digest(desired, node)
        if routed and node.name in digests:
            digests[node.name] += f"/{routed}"  # what was plugged, beside what was installed
    install: dict[str, str] = {}
    for name, text in policies.items():
        if name not in keep:
            install[name] = text
            continue
        last = applied.get(name)
        seen = observed[name].policy
        if last is None:
            install[name] = text  # e.g. a launch killed between starting and recording
            problems.append(f"{name}: running, but no policy is recorded as installed on it")
        elif last.pid != keep[name]:
            install[name] = text
            problems.append(f"{name}: its container restarted since its policy was installed")
        elif last.digest != digests[name]:
            install[name] = text  # the rules changed: a change, not a problem
        elif seen is not None and seen != last.listing:
            install[name] = text
            problems.append(f"{name}: its nftables policy is not the one installed")
    wait = tuple(node for node in start if isinstance(node, Instance) and node.listen)
    return Plan(
        remove=tuple(remove),
        start_switch=SWITCH not in keep,
        start=start,
        install=install,
        route=route,
        wait=wait,
        keep=keep,
        subnets=subnets,
        wiring=wirings(desired, start),
        digests=digests,
        problems=tuple(problems),
    )


def _rerouted(desired: Topology, node: LabNode, last: Applied | None) -> bool:
    """Whether a running router's or NAT gateway's routing is not what the topology now
    needs (recorded after its policy digest, as ``POLICY/ROUTING``)."""
    routed = routing_digest(desired, node)
    if not routed or last is None or "/" not in last.digest:
        return False
    return last.digest.rsplit("/", 1)[1] != routed
