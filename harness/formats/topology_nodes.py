"""A topology file's nodes, one reader for both platforms: the outside hosts, and each
instance entry up to where the platforms differ (its keys, owner, copies, ports, image and
command, its node names, its groups). Where an instance goes is each file's own: the lab's
one subnet in an EC2-Classic file (:mod:`harness.formats.topology_file`), a VPC subnet by
interface in a VPC file (:mod:`harness.formats.topology_vpcs`)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address
from typing import Any

from harness.core.ec2 import rules as rulebook
from harness.core.model import GroupKey, Host, Listen
from harness.formats.yaml_lines import LineDict, Reader

INSTANCE_KEYS = frozenset(
    {"name", "count", "groups", "listen", "address", "image", "command", "account"}
)
HOST_KEYS = frozenset({"name", "address"})


@dataclass(frozen=True)
class Entry:
    """An instance entry, read: its node names (one per copy) and what each serves."""

    spec: LineDict
    owner: str
    names: tuple[str, ...]
    listen: tuple[Listen, ...]
    image: str | None
    command: tuple[str, ...] | None


def read_hosts(
    r: Reader,
    items: list[Any],
    taken: set[IPv4Address],
    *,
    keys: Iterable[str] = HOST_KEYS,
    outside: Callable[[IPv4Address, IPv6Address | None], None] = lambda a, b: None,
) -> list[Host]:
    """The outside hosts; each address joins ``taken``. ``outside`` refuses an address the
    file's networks hold (a VPC's block, the public pool)."""
    hosts: list[Host] = []
    for index, item in enumerate(items):
        with r.at(f"hosts[{index}]", item):
            spec = r.mapping(item, "a host", set(keys), {"name", "address"})
            name = r.name(spec["name"], "host name")
            address = r.address(spec["address"], "address")
            address6 = r.address6(spec["address6"], "address6") if "address6" in spec else None
            if any(host.name == name for host in hosts):
                r.fail(f"host name '{name}' is used twice")
            if address in taken:
                r.fail(f"address {address} is used by two hosts")
            outside(address, address6)
            taken.add(address)
            hosts.append(Host(name, address, address6))
    return hosts


def read_instances(
    r: Reader,
    items: list[Any],
    account: str,
    names: set[str],
    each: Callable[[Entry], None],
    *,
    keys: Iterable[str] = INSTANCE_KEYS,
) -> None:
    """Each instance entry, checked and handed to ``each`` while its place in the file is
    the one an error names; ``names`` holds the node names taken (the hosts' to begin)."""
    for index, item in enumerate(items):
        with r.at(f"instances[{index}]", item):
            spec = r.mapping(item, "an instance", set(keys), {"name"})
            base = r.name(spec["name"], "instance name")
        with r.at(f"instances[{index}] '{base}'", item):
            owner = r.string(spec.get("account", account), "account")
            rulebook.check_account(owner)
            expanded = r.copies(spec, base)
            if "address" in spec and len(expanded) != 1:
                r.fail("'address' needs count 1")
            listen, image, command = r.serving(spec)
            for node_name in expanded:
                if node_name in names:
                    r.fail(f"node name '{node_name}' is used twice")
                names.add(node_name)
            each(Entry(spec, owner, tuple(expanded), listen, image, command))


def group_refs(r: Reader, value: object, key_of: Callable[[str], GroupKey]) -> list[GroupKey]:
    """An instance's (or interface's) ``groups``: groups of its own account, each once;
    ``key_of`` finds one by name or refuses it as EC2 does."""
    keys: list[GroupKey] = []
    for item in r.sequence(value, "groups"):
        text = r.string(item, "a group")
        if "/" in text:
            r.fail(f"an instance joins groups of its own account, not '{text}'")
        key = key_of(text)
        if key in keys:
            r.fail(f"group '{text}' is listed twice")
        keys.append(key)
    return keys
