"""Topology files: YAML in, a validated :class:`Topology` out, or one clear error.

Every error names the file, the line, the item and the problem, for example::

    topologies/bad.yaml:14: groups[2] 'dbserver' rules[0]: InvalidPermission.Malformed: ...

The format is documented in docs/reference/topology-files.md.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path
from typing import Any, NoReturn

from harness.core.ec2 import platform as platforms
from harness.core.ec2 import rules as rulebook
from harness.core.model import (
    DEFAULT_ACCOUNT,
    DEFAULT_SUBNET,
    Group,
    GroupKey,
    Host,
    Instance,
    Probe,
    Protocol,
    Topology,
)
from harness.errors import Ec2Error, TopologyError
from harness.formats import compose_file, topology_vpcs, yaml_lines
from harness.formats.topology_nodes import Entry, group_refs, read_hosts, read_instances
from harness.formats.topology_rules import GroupFile, Resolve, read_groups
from harness.formats.yaml_lines import MAX_NAME, Reader
from harness.formats.yaml_lines import LineDict as _LineDict

FIRST_HOST_OFFSET = 11


def load(path: str | Path) -> Topology:
    """Read and validate a topology file."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise TopologyError(source, "", "no such file") from None
    except (OSError, UnicodeDecodeError) as err:
        raise TopologyError(source, "", f"cannot read: {err}") from None
    return loads(text, source)


def loads(text: str, source: str = "<topology>") -> Topology:
    """Validate topology YAML given as text; ``source`` names it in errors."""
    return from_data(yaml_lines.load(text, source), source)


def from_data(data: object, source: str, dropped: list[TopologyError] | None = None) -> Topology:
    """Validate a parsed topology or Compose file (LineDicts, so errors name their lines);
    ``dropped`` as for :func:`build`."""
    if compose_file.is_compose(data):
        assert isinstance(data, _LineDict)

        def fail(problem: str, line: int | None) -> NoReturn:
            raise TopologyError(source, "", problem, line)

        data = compose_file.translate(data, _project_name(source), fail)
    return _Builder(source, dropped=dropped).build(data)


def build(data: object, source: str, dropped: list[TopologyError] | None = None) -> Topology:
    """Validate a topology document made by a program (an import), not read from YAML;
    ``dropped``: leave each bad rule out and keep its error there (``sgh lint``)."""
    return _Builder(source, dropped=dropped).build(data)


def _project_name(source: str) -> str:
    """Compose's default project name: the file's directory, in the characters names allow."""
    directory = Path(source).resolve().parent.name
    name = re.sub(r"[^a-zA-Z0-9_.-]", "", directory).lstrip("._-")
    return name[:MAX_NAME] or "compose"


@dataclass
class _Builder(Reader):
    # -- the document ----------------------------------------------------------------------

    def build(self, data: object) -> Topology:
        if data is None:
            self.fail("the file is empty")
        vpc = isinstance(data, dict) and "vpcs" in data
        top = self.mapping(
            data,
            "the topology",
            topology_vpcs.TOP_KEYS
            if vpc
            else {"name", "account", "subnet", "groups", "instances", "hosts", "probes"}
            | {"description"},
            {"name"},
        )
        self.line = top.line
        with self.at("name"):
            name = self.name(top["name"], "name")
        account = self.string(top.get("account", DEFAULT_ACCOUNT), "account")
        with self.at("account"):
            rulebook.check_account(account)
        if vpc:
            probes = self._probes(top)
            return topology_vpcs.VpcReader(self, account).build(top, name, probes)
        subnet = DEFAULT_SUBNET
        if "subnet" in top:
            with self.at("subnet"):
                subnet = self._lab_subnet(top["subnet"])

        group_items = self.sequence(top.get("groups"), "groups")
        groups = self._groups(group_items, account)
        hosts = read_hosts(self, self.sequence(top.get("hosts"), "hosts"), set())
        instances = self._instances(
            self.sequence(top.get("instances"), "instances"), account, groups, hosts, subnet
        )
        probes = self._probes(top)
        if not instances:
            self.line = top.line
            self.fail("a topology needs at least one instance")
        topology = Topology(
            name=name,
            account=account,
            groups=tuple(groups.values()),
            instances=tuple(instances),
            hosts=tuple(hosts),
            probes=probes,
            subnet=subnet,
            source=self.source,
        )
        return topology

    def _probes(self, top: _LineDict) -> tuple[Probe, ...]:
        probes: list[Probe] = []
        for index, item in enumerate(self.sequence(top.get("probes"), "probes")):
            with self.at(f"probes[{index}]", top.get("probes")):
                probes.extend(parse_probe_spec(self.string(item, "a probe")))
        return tuple(sorted(set(probes), key=Probe.sort_key))

    def _lab_subnet(self, value: object) -> IPv4Network:
        text = self.string(value, "subnet")
        net = rulebook.parse_ipv4_cidr(text)
        if net.prefixlen > 29:
            self.fail(f"subnet {text} is too small for instances (use /29 or wider)")
        return net

    # -- groups and rules ------------------------------------------------------------------

    def _groups(self, items: list[Any], account: str) -> dict[GroupKey, Group]:
        groups: dict[GroupKey, Group] = {
            GroupKey(account, platforms.DEFAULT_GROUP): rulebook.default_group(account)
        }

        def ensure_default(owner: str, vpc: str) -> None:  # every account has its default
            key = GroupKey(owner, platforms.DEFAULT_GROUP)
            groups.setdefault(key, rulebook.default_group(owner))

        def group(account_: str | None, name: str, owner: GroupKey, text: str) -> GroupKey:
            key = GroupKey(account_ or owner.account, name)
            if key not in groups:
                raise rulebook.group_not_found(text)
            return key

        shape = GroupFile(
            frozenset({"name", "description", "account", "rules", "default_rules"}),
            (("rules", False),),
            lambda spec: "",
            ensure_default,
            lambda vpc: False,
            (("ingress", "an EC2-Classic group has 'rules', not 'ingress'"),),
        )
        read_groups(
            self, items, account=account, groups=groups, shape=shape, resolve=Resolve(group)
        )
        return groups

    # -- instances on the lab's subnet ------------------------------------------------------

    def _instances(
        self,
        items: list[Any],
        account: str,
        groups: dict[GroupKey, Group],
        hosts: list[Host],
        subnet: IPv4Network,
    ) -> list[Instance]:
        """Each instance on the lab's one subnet: fixed addresses first, then the rest in
        order from the subnet's 11th address."""
        taken = {host.address for host in hosts}
        placed: list[tuple[str, Entry, tuple[GroupKey, ...], IPv4Address | None]] = []

        def place(entry: Entry) -> None:
            def key_of(text: str) -> GroupKey:
                key = GroupKey(entry.owner, text)
                if key not in groups:
                    raise rulebook.group_not_found(text)
                return key

            keys = group_refs(self, entry.spec.get("groups"), key_of) or [
                GroupKey(entry.owner, platforms.DEFAULT_GROUP)
            ]
            address = None
            if "address" in entry.spec:
                address = self.address(entry.spec["address"], "address")
                if address in taken:
                    self.fail(f"address {address} is already used by another node")
                taken.add(address)
            placed.extend((name, entry, tuple(keys), address) for name in entry.names)

        read_instances(self, items, account, {host.name for host in hosts}, place)
        addresses = _allocator(subnet, taken)
        instances: list[Instance] = []
        for node_name, entry, keys, fixed in placed:
            address = fixed if fixed is not None else next(addresses, None)
            if address is None:
                self.line = entry.spec.line
                self.fail(f"subnet {subnet} has no address left for instance '{node_name}'")
            instances.append(
                Instance(
                    node_name, entry.owner, keys, address, entry.listen, entry.image, entry.command
                )
            )
        return instances


def _allocator(subnet: IPv4Network, taken: set[IPv4Address]) -> Iterator[IPv4Address]:
    start = int(subnet.network_address) + FIRST_HOST_OFFSET
    if subnet.num_addresses <= FIRST_HOST_OFFSET + 2:
        start = int(subnet.network_address) + 1
    end = int(subnet.broadcast_address)
    for value in range(start, end):
        address = IPv4Address(value)
        if address not in taken:
            taken.add(address)
            yield address


def parse_probe_spec(text: str) -> list[Probe]:
    """``tcp/1-100``, ``udp/53``, ``icmp`` -> probes."""
    spec = text.strip().lower()
    if spec == "icmp":
        return [Probe(Protocol.ICMP, None)]
    match = re.fullmatch(r"(tcp|udp)/(\d+)(?:-(\d+))?", spec)
    if match is None:
        raise Ec2Error(
            "InvalidParameterValue", f"probe '{text}' must look like tcp/80, udp/1-100 or icmp"
        )
    low = int(match.group(2))
    high = int(match.group(3)) if match.group(3) else low
    rulebook.check_ports(Protocol(match.group(1)), low, high, platforms.CLASSIC)
    if high - low >= 1024:
        raise Ec2Error("InvalidParameterValue", f"probe range '{text}' is wider than 1024 ports")
    return [Probe(Protocol(match.group(1)), port) for port in range(low, high + 1)]
