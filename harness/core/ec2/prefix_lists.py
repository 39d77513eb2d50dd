"""Managed prefix lists: create, modify (by version), delete (a list in use ends in
``delete-failed``), and their entries.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from harness.core.ec2 import platform as platforms
from harness.core.ec2 import rules as rulebook
from harness.core.ec2.state import (
    MAX_PREFIX_LIST_ENTRIES,
    Cloud,
    NewId,
    PrefixListRecord,
    fresh_id,
    missing_id,
    untagged,
    with_account,
)
from harness.core.model import (
    Network,
)
from harness.errors import Ec2Error

# -- managed prefix lists -------------------------------------------------------------------------


def find_prefix_list(
    cloud: Cloud, account: str, list_id: str, shared: bool = False
) -> PrefixListRecord:
    for plist in cloud.prefix_lists:
        if plist.list_id == list_id and (shared or plist.owner == account):
            return plist
    raise missing_id(list_id, "pl-", "InvalidPrefixListID", "prefix list")


def _entries(
    family: str, items: Sequence[tuple[str, str]], where: str
) -> list[tuple[Network, str]]:
    found = []
    for text, description in items:
        net = rulebook.parse_cidr(text, platforms.VPC)
        if (net.version == 6) != (family == "IPv6"):
            raise Ec2Error(
                "InvalidParameterValue",
                f"The {where} entry {text} is not an {family} CIDR",
            )
        found.append((net, description))
    return found


def create_prefix_list(
    cloud: Cloud,
    account: str,
    *,
    name: str,
    family: str,
    max_entries: int,
    entries: Sequence[tuple[str, str]],
    new_id: NewId,
) -> tuple[Cloud, PrefixListRecord]:
    cloud = with_account(cloud, account)
    if family not in ("IPv4", "IPv6"):
        raise Ec2Error(
            "InvalidParameterValue", f"Value ({family}) for parameter AddressFamily is invalid"
        )
    if not name:
        raise Ec2Error("MissingParameter", "The request must contain the parameter PrefixListName")
    if not 1 <= max_entries <= MAX_PREFIX_LIST_ENTRIES:
        raise Ec2Error(
            "InvalidParameterValue", f"Value ({max_entries}) for parameter MaxEntries is invalid"
        )
    found = _entries(family, entries, name)
    if len(found) > max_entries:
        raise Ec2Error(
            "PrefixListMaxEntriesExceeded",
            f"The prefix list has {len(found)} entries; its maximum is {max_entries}",
        )
    plist = PrefixListRecord(
        fresh_id(new_id, "pl-", (p.list_id for p in cloud.prefix_lists)),
        account,
        name,
        family,
        max_entries,
        tuple(found),
    )
    return replace(cloud, prefix_lists=(*cloud.prefix_lists, plist)), plist


def modify_prefix_list(
    cloud: Cloud,
    account: str,
    *,
    list_id: str,
    version: int | None,
    name: str | None,
    add: Sequence[tuple[str, str]],
    remove: Sequence[str],
    max_entries: int | None,
) -> tuple[Cloud, PrefixListRecord]:
    cloud = with_account(cloud, account)
    plist = find_prefix_list(cloud, account, list_id)
    if version is not None and version != plist.version:
        raise Ec2Error(
            "PrefixListVersionMismatch",
            f"The prefix list {list_id} is at version {plist.version}, not {version}",
        )
    entries = dict(plist.entries)
    for text in remove:
        net = rulebook.parse_cidr(text, platforms.VPC)
        if net not in entries:
            raise Ec2Error(
                "InvalidPrefixListModification",
                f"The CIDR {text} is not an entry of {list_id}",
            )
        del entries[net]
    for net, description in _entries(plist.family, add, list_id):
        entries[net] = description
    limit = max_entries if max_entries is not None else plist.max_entries
    if len(entries) > limit:
        raise Ec2Error(
            "PrefixListMaxEntriesExceeded",
            f"The prefix list {list_id} would have {len(entries)} entries; its maximum is {limit}",
        )
    changed_entries = tuple(entries.items()) != plist.entries
    new = replace(
        plist,
        name=name or plist.name,
        entries=tuple(entries.items()),
        max_entries=limit,
        version=plist.version + 1 if changed_entries else plist.version,
    )
    lists = tuple(new if p.list_id == list_id else p for p in cloud.prefix_lists)
    return replace(cloud, prefix_lists=lists), new


def delete_prefix_list(cloud: Cloud, account: str, list_id: str) -> tuple[Cloud, PrefixListRecord]:
    cloud = with_account(cloud, account)
    plist = find_prefix_list(cloud, account, list_id)
    users = [g.group_id for g in cloud.groups if any(r.prefix_list == list_id for r in g.all_rules)]
    users += [
        t.table_id for t in cloud.route_tables if any(r.prefix_list == list_id for r in t.routes)
    ]
    if users:  # EC2 deletes asynchronously: accepted, and the list ends in delete-failed
        failed = replace(
            plist,
            state="delete-failed",
            state_message=f"The prefix list is referenced by {', '.join(users)}",
        )
        lists = tuple(failed if p.list_id == list_id else p for p in cloud.prefix_lists)
        return replace(cloud, prefix_lists=lists), failed
    cloud = replace(
        cloud,
        prefix_lists=tuple(p for p in cloud.prefix_lists if p.list_id != list_id),
        tags=untagged(cloud, list_id),
    )
    return cloud, plist
