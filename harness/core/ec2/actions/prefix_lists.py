"""Managed prefix lists: create, describe, modify, delete, and their entries."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from harness.core.ec2 import plane as ec2
from harness.core.ec2.actions.describe import describe
from harness.core.ec2.actions.requests import (
    Answer,
    Caller,
    Request,
    page,
    required,
    tag_specifications,
)
from harness.core.ec2.actions.tags import arn, tag_new, tags
from harness.core.ec2.plane import Cloud, PrefixListRecord
from harness.errors import Ec2Error


def plist_dict(cloud: Cloud, plist: PrefixListRecord) -> Answer:
    return {
        "PrefixListId": plist.list_id,
        "AddressFamily": plist.family,
        "State": plist.state,
        **({"StateMessage": plist.state_message} if plist.state_message else {}),
        "PrefixListArn": arn(cloud, plist.owner, "prefix-list", plist.list_id),
        "PrefixListName": plist.name,
        "MaxEntries": plist.max_entries,
        "Version": plist.version,
        "Tags": tags(cloud, plist.list_id),
        "OwnerId": plist.owner,
    }


def _entries(items: Sequence[dict[str, Any]], where: str) -> list[tuple[str, str]]:
    found = []
    for number, item in enumerate(items, 1):
        if not item.get("Cidr"):
            raise Ec2Error("MissingParameter", f"{where}.{number} needs a Cidr")
        found.append((item["Cidr"], item.get("Description", "")))
    return found


def create_managed_prefix_list(
    cloud: Cloud, caller: Caller, request: Request
) -> tuple[Cloud, Answer]:
    new_tags = tag_specifications(request, "prefix-list")
    cloud, plist = ec2.create_prefix_list(
        cloud,
        caller.account,
        name=required(request, "PrefixListName"),
        family=required(request, "AddressFamily"),
        max_entries=required(request, "MaxEntries"),
        entries=_entries(request.get("Entries") or [], "Entry"),
        new_id=caller.new_id,
    )
    cloud = tag_new(cloud, caller.account, plist.list_id, new_tags)
    return cloud, {"PrefixList": plist_dict(cloud, plist)}


PREFIX_LIST_FILTERS: dict[str, Callable[[PrefixListRecord], list[str]]] = {
    "prefix-list-id": lambda p: [p.list_id],
    "prefix-list-name": lambda p: [p.name],
    "owner-id": lambda p: [p.owner],
}


def describe_managed_prefix_lists(
    cloud: Cloud, caller: Caller, request: Request
) -> tuple[Cloud, Answer]:
    return describe(
        cloud,
        caller,
        request,
        key="PrefixLists",
        id_member="PrefixListIds",
        find=ec2.find_prefix_list,
        owned=lambda c, a: [p for p in c.prefix_lists if p.owner == a],
        fields=lambda c: PREFIX_LIST_FILTERS,
        ident=lambda p: p.list_id,
        answer=plist_dict,
    )


def modify_managed_prefix_list(
    cloud: Cloud, caller: Caller, request: Request
) -> tuple[Cloud, Answer]:
    cloud, plist = ec2.modify_prefix_list(
        cloud,
        caller.account,
        list_id=required(request, "PrefixListId"),
        version=request.get("CurrentVersion"),
        name=request.get("PrefixListName"),
        add=_entries(request.get("AddEntries") or [], "AddEntry"),
        remove=[item.get("Cidr", "") for item in request.get("RemoveEntries") or []],
        max_entries=request.get("MaxEntries"),
    )
    return cloud, {"PrefixList": plist_dict(cloud, plist)}


def delete_managed_prefix_list(
    cloud: Cloud, caller: Caller, request: Request
) -> tuple[Cloud, Answer]:
    cloud, plist = ec2.delete_prefix_list(cloud, caller.account, required(request, "PrefixListId"))
    answer = plist_dict(cloud, plist)
    if plist.state != "delete-failed":  # gone; a list in use is described as delete-failed
        answer["State"] = "delete-complete"
    else:
        answer["State"] = "delete-in-progress"
        answer.pop("StateMessage", None)
    return cloud, {"PrefixList": answer}


def get_managed_prefix_list_entries(
    cloud: Cloud, caller: Caller, request: Request
) -> tuple[Cloud, Answer]:
    list_id = required(request, "PrefixListId")
    plist = ec2.find_prefix_list(cloud, caller.account, list_id, shared=True)
    entries = [
        {"Cidr": str(net), **({"Description": text} if text else {})} for net, text in plist.entries
    ]
    chosen, token = page(entries, request, least=1, most=100)
    return cloud, {"Entries": chosen, "NextToken": token}
