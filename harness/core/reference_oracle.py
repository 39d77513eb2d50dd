"""The oracle as a specification: what the rules imply for one probe, written to be read.

No memo, no identity tricks, no sharing: each call works everything out again from the
topology. It is slow on purpose and it is not used to judge labs; :mod:`harness.core.oracle`
is, and a property test checks on generated Classic and VPC topologies that the fast oracle
says what this one says, cell by cell (state, and the rules that let the probe through).

The semantics, as EC2 has them:

* EC2-Classic: a probe enters an instance if a rule of one of its groups covers it (protocol
  and port, or ICMP type and code) and names the sender: a CIDR holding the sender's address,
  or a group the sender is in. Nothing is filtered on the way out.
* VPC: a probe leaves by the sender's interface on that path if an egress rule of one of that
  interface's groups covers it and names where it goes (the address sent to); it enters by the
  target's interface if an ingress rule of one of that interface's groups covers it and names
  the address the target sees it from. A CIDR or a prefix list names an address it holds (of
  its family); a group names the private addresses of the interfaces in it, never a public
  one. An outside host filters nothing on the way out.
* Let through, a probe finds the port ``open`` if the target listens on it (ICMP echo always
  answers), else ``closed``; stopped, it is ``filtered``.
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import ip_address

from harness.core.model import (
    Address,
    Group,
    Instance,
    Node,
    Probe,
    Rule,
    State,
    Topology,
)
from harness.core.paths import Path, paths


@dataclass(frozen=True)
class Judged:
    """What the rules imply for one probe: the state, and the rules that let it through
    (``[egress |ingress ]group: rule``, as the fast oracle words them)."""

    state: State
    allowed_by: tuple[str, ...]


def judge(
    topology: Topology, source: Node, target: Instance, probe: Probe, address: str = ""
) -> Judged:
    """The verdict for a probe from ``source`` to ``target`` (at ``address`` in a VPC: one of
    the addresses the source can send to; the target's own address when none is given)."""
    path = _path(topology, source, target, address)
    if path is None:
        return Judged(State.FILTERED, ())
    home = target.account
    if not topology.is_vpc:
        admitted = [
            _words(group, rule, home, "", "from")
            for group, rule in topology.rules_of(target)
            if rule.covers(probe.protocol, probe.port) and _names_sender(rule, source)
        ]
        return _let_in(target, probe, admitted)
    allowed: list[str] = []
    if path.source_nic is not None:
        egress = topology.egress_of(path.source_nic)
        if egress is not None:
            out = [
                _words(group, rule, home, "egress ", "to")
                for group, rule in egress
                if rule.covers(probe.protocol, probe.port) and _names(topology, rule, path.address)
            ]
            if not out:
                return Judged(State.FILTERED, ())
            allowed += out
    admitted = [
        _words(group, rule, home, "ingress ", "from")
        for group, rule in topology.ingress_of(path.target_nic)
        if rule.covers(probe.protocol, probe.port) and _names(topology, rule, path.seen_from)
    ]
    if not admitted:
        return Judged(State.FILTERED, tuple(allowed))
    return _let_in(target, probe, [*allowed, *admitted])


def _path(topology: Topology, source: Node, target: Instance, address: str) -> Path | None:
    found = paths(topology, source, target)
    if not topology.is_vpc:
        return found[0]
    wanted = ip_address(address) if address else target.address
    for path in found:
        if path.address == wanted:
            return path
    return None


def _names_sender(rule: Rule, source: Node) -> bool:
    """Classic: a CIDR holding the sender's address, or a group the sender is in."""
    if rule.cidr is not None:
        return source.address in rule.cidr
    return isinstance(source, Instance) and rule.group in source.groups


def _names(topology: Topology, rule: Rule, address: Address) -> bool:
    """VPC: a CIDR or prefix list holding the address (of its family), or a group one of
    whose interfaces holds it as a private address."""
    if rule.group is not None:
        return any(
            rule.group in nic.groups and address in nic.private_addresses()
            for instance in topology.instances
            for nic in instance.nics
        )
    return any(net.version == address.version and address in net for net in topology.expand(rule))


def _words(group: Group, rule: Rule, home: str, side: str, word: str) -> str:
    return f"{side}{group.key.label(home)}: {rule.describe(home, word)}"


def _let_in(target: Instance, probe: Probe, allowed: list[str]) -> Judged:
    if not allowed:
        return Judged(State.FILTERED, ())
    if target.listens(probe.protocol, probe.port):  # ICMP echo is always answered
        return Judged(State.OPEN, tuple(allowed))
    return Judged(State.CLOSED, tuple(allowed))
