"""The pure data model: accounts, groups, rules, instances, outside hosts, probes.

Values are frozen dataclasses. EC2-Classic semantics (validation, limits, error codes, the
default group) live in :mod:`harness.core.ec2_rules`; this module only describes what things are.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property
from ipaddress import IPv4Address, IPv4Network

DEFAULT_ACCOUNT = "111122223333"
DEFAULT_SUBNET = IPv4Network("10.254.0.0/16")


class Protocol(StrEnum):
    TCP = "tcp"
    UDP = "udp"
    ICMP = "icmp"

    def __str__(self) -> str:
        return self.value


class State(StrEnum):
    """A cell's verdict. ``not-run`` is never counted as ``filtered``."""

    OPEN = "open"
    CLOSED = "closed"
    FILTERED = "filtered"
    NOT_RUN = "not-run"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True, order=True)
class GroupKey:
    """A group's identity: its owner account and its name."""

    account: str
    name: str

    def label(self, home_account: str) -> str:
        """The name as a user in ``home_account`` writes it (``apache``, ``444455556666/x``)."""
        return self.name if self.account == home_account else f"{self.account}/{self.name}"

    @property
    def group_id(self) -> str:
        """A stable EC2-style id, ``sg-`` and 8 hex digits."""
        digest = hashlib.sha256(f"{self.account}/{self.name}".encode()).hexdigest()
        return f"sg-{digest[:8]}"


@dataclass(frozen=True)
class Rule:
    """One ingress rule: protocol, ports (or ICMP type:code) and one source.

    For tcp/udp ``from_port``-``to_port`` is the port range; for icmp they hold the type and the
    code, ``-1`` meaning any. Exactly one of ``cidr`` and ``group`` is set.
    """

    protocol: Protocol
    from_port: int
    to_port: int
    cidr: IPv4Network | None = None
    group: GroupKey | None = None
    written: str = field(default="", compare=False)
    service: str = field(default="", compare=False)

    def ports_text(self) -> str:
        if self.protocol is Protocol.ICMP:
            return f"{self.from_port}:{self.to_port}"
        if self.from_port == self.to_port:
            return str(self.from_port)
        return f"{self.from_port}-{self.to_port}"

    def source_text(self, home_account: str) -> str:
        if self.cidr is not None:
            return str(self.cidr)
        assert self.group is not None
        return self.group.label(home_account)

    def as_written(self, home_account: str) -> str:
        """The rule as its topology wrote it (``tcp 22 from 198.51.100.7/0``, ``service https
        (tcp 443) from 0.0.0.0/0``), where :meth:`describe` gives the normalised form."""
        source = self.written or self.source_text(home_account)
        what = f"{self.protocol} {self.ports_text()}"
        if self.service:
            what = f"service {self.service} ({what})"
        return f"{what} from {source}"

    def describe(self, home_account: str) -> str:
        """``tcp 80 from 0.0.0.0/0``, ``icmp -1:-1 from default``."""
        return f"{self.protocol} {self.ports_text()} from {self.source_text(home_account)}"

    def covers(self, protocol: Protocol, port: int | None) -> bool:
        """Whether this rule's protocol and ports admit a probe (ICMP probes are echo, 8:0)."""
        if protocol is not self.protocol:
            return False
        if protocol is Protocol.ICMP:
            icmp_type, icmp_code = ECHO_REQUEST
            return self.from_port in (-1, icmp_type) and self.to_port in (-1, icmp_code)
        assert port is not None
        return self.from_port <= port <= self.to_port


ECHO_REQUEST = (8, 0)


@dataclass(frozen=True)
class Group:
    key: GroupKey
    description: str
    rules: tuple[Rule, ...] = ()

    @property
    def name(self) -> str:
        return self.key.name

    @property
    def group_id(self) -> str:
        return self.key.group_id


@dataclass(frozen=True, order=True)
class Listen:
    """A port an instance serves: TCP accepts connections, UDP answers datagrams."""

    protocol: Protocol
    port: int

    def __str__(self) -> str:
        return f"{self.protocol}/{self.port}"


@dataclass(frozen=True)
class Instance:
    name: str
    account: str
    groups: tuple[GroupKey, ...]
    address: IPv4Address
    listen: tuple[Listen, ...] = ()
    image: str | None = None
    command: tuple[str, ...] | None = None

    kind = "instance"

    def listens(self, protocol: Protocol, port: int | None) -> bool:
        if protocol is Protocol.ICMP:
            return True
        return any(item.protocol is protocol and item.port == port for item in self.listen)


@dataclass(frozen=True)
class Host:
    """A machine outside EC2 (a workstation, the internet): no groups, no policy."""

    name: str
    address: IPv4Address

    kind = "host"
    groups: tuple[GroupKey, ...] = ()


Node = Instance | Host


@dataclass(frozen=True, order=True)
class Probe:
    """What is sent to a target: ``tcp/80``, ``udp/53`` or ``icmp`` (echo request)."""

    protocol: Protocol
    port: int | None

    def __str__(self) -> str:
        return str(self.protocol) if self.port is None else f"{self.protocol}/{self.port}"

    def sort_key(self) -> tuple[int, int]:
        order = {Protocol.TCP: 0, Protocol.UDP: 1, Protocol.ICMP: 2}
        return (order[self.protocol], -1 if self.port is None else self.port)


@dataclass(frozen=True)
class Topology:
    name: str
    account: str
    groups: tuple[Group, ...]
    instances: tuple[Instance, ...]
    hosts: tuple[Host, ...] = ()
    probes: tuple[Probe, ...] = ()
    subnet: IPv4Network = DEFAULT_SUBNET
    source: str = "<topology>"

    @cached_property
    def groups_by_key(self) -> dict[GroupKey, Group]:
        return {group.key: group for group in self.groups}

    @cached_property
    def nodes(self) -> tuple[Node, ...]:
        return (*self.instances, *self.hosts)

    @cached_property
    def nodes_by_name(self) -> dict[str, Node]:
        return {node.name: node for node in self.nodes}

    @cached_property
    def members(self) -> dict[GroupKey, tuple[Instance, ...]]:
        """Each group's member instances, in topology order."""
        result: dict[GroupKey, list[Instance]] = {group.key: [] for group in self.groups}
        for instance in self.instances:
            for key in instance.groups:
                result.setdefault(key, []).append(instance)
        return {key: tuple(value) for key, value in result.items()}

    def group(self, key: GroupKey) -> Group:
        return self.groups_by_key[key]

    def rules_of(self, instance: Instance) -> list[tuple[Group, Rule]]:
        """The union of the rules of all the instance's groups, with the group of each."""
        return [
            (self.group(key), rule) for key in instance.groups for rule in self.group(key).rules
        ]

    def subnets(self) -> list[IPv4Network]:
        """Every subnet a lab node lives in: the instance subnet and each host's /24."""
        nets = {self.subnet}
        for host in self.hosts:
            if host.address not in self.subnet:
                nets.add(IPv4Network(f"{host.address}/24", strict=False))
        for instance in self.instances:
            if instance.address not in self.subnet:
                nets.add(IPv4Network(f"{instance.address}/24", strict=False))
        return sorted(nets, key=lambda net: (int(net.network_address), net.prefixlen))
