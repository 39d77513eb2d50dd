"""Tags on every resource: create, delete, describe; and what every answer says of a
resource's tags and ARN."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from harness.core.ec2 import plane as ec2
from harness.core.ec2.actions.requests import (
    Answer,
    Caller,
    Request,
    filters,
    key_values,
    page,
    required,
)
from harness.core.ec2.plane import Cloud


def tags(cloud: Cloud, resource: str) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in ec2.tags_of(cloud, resource)]


def arn(cloud: Cloud, account: str, kind: str, ident: str) -> str:
    return f"arn:aws:ec2:{cloud.region}:{account}:{kind}/{ident}"


def tag_new(cloud: Cloud, account: str, ident: str, new_tags: list[tuple[str, str]]) -> Cloud:
    """A resource just made gets the tags its request asked for."""
    if not new_tags:
        return cloud
    return ec2.create_tags(cloud, account, [ident], new_tags)[0]


RESOURCE_TYPES = {
    "vpc": "vpc",
    "subnet": "subnet",
    "sg": "security-group",
    "sgr": "security-group-rule",
    "pl": "prefix-list",
    "i": "instance",
    "eni": "network-interface",
    "ami": "image",
    "rtb": "route-table",
    "acl": "network-acl",
    "igw": "internet-gateway",
    "eigw": "egress-only-internet-gateway",
    "nat": "natgateway",
    "eipalloc": "elastic-ip",
    "pcx": "vpc-peering-connection",
}


def resource_type(ident: str) -> str:
    return RESOURCE_TYPES.get(ident.split("-", 1)[0], "unknown")


def create_tags(cloud: Cloud, caller: Caller, request: Request) -> tuple[Cloud, Answer]:
    pairs = [(k, v or "") for k, v in key_values(required(request, "Tags"), "Tag")]
    cloud, _ = ec2.create_tags(cloud, caller.account, required(request, "Resources"), pairs)
    return cloud, {}


def delete_tags(cloud: Cloud, caller: Caller, request: Request) -> tuple[Cloud, Answer]:
    pairs = key_values(request.get("Tags") or [], "Tag")
    cloud, _ = ec2.delete_tags(cloud, caller.account, required(request, "Resources"), pairs)
    return cloud, {}


def describe_tags(cloud: Cloud, caller: Caller, request: Request) -> tuple[Cloud, Answer]:
    mine = ec2.owned_resources(cloud, caller.account)
    held = [t for t in cloud.tags if t.resource in mine]
    known: dict[str, Callable[[Any], list[str]]] = {
        "resource-id": lambda t: [t.resource],
        "resource-type": lambda t: [resource_type(t.resource)],
        "key": lambda t: [t.key],
        "value": lambda t: [t.value],
    }
    found = ec2.select(cloud, held, filters(request), known, lambda t: t.resource)
    chosen, token = page(
        [
            {
                "ResourceId": t.resource,
                "ResourceType": resource_type(t.resource),
                "Key": t.key,
                "Value": t.value,
            }
            for t in found
        ],
        request,
    )
    return cloud, {"Tags": chosen, "NextToken": token}
