"""EC2's Query protocol, read from and written to botocore's own model of EC2.

A request's form (``IpPermissions.1.IpRanges.1.CidrIp=...``) is read through the action's
input shape into the request as an SDK gives it (member names, Python values): wire names
come from each member's ``queryName`` or capitalised ``locationName``, lists are ``.N``,
structures are dotted, scalars are converted by their shape. A key the shape does not have is
refused as EC2 refuses it (``UnknownParameter``, naming the key), and so is a required member
left out (``MissingParameter``). An answer, given as the SDK returns it, is written as EC2's
XML through the output shape, each element named as the model names it; a member the model
does not have is a bug here, not something to drop.

What is EC2's meaning rather than its wire format (Classic's flat legacy forms, quotas, error
codes: the model has no error shapes) is the action layer's, :mod:`harness.core.ec2.actions`.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any, cast
from xml.etree.ElementTree import Element

import botocore.session
from botocore.model import ListShape, OperationModel, ServiceModel, Shape, StructureShape

from harness.errors import Ec2Error

# What every request may carry besides its action's own members: the action, the version,
# and query-string signatures (SigV2 and presigned SigV4).
COMMON = frozenset(
    {
        "Action",
        "Version",
        "AWSAccessKeyId",
        "SignatureMethod",
        "SignatureVersion",
        "Signature",
        "Timestamp",
        "Expires",
        "SecurityToken",
        "X-Amz-Algorithm",
        "X-Amz-Credential",
        "X-Amz-Date",
        "X-Amz-Expires",
        "X-Amz-SignedHeaders",
        "X-Amz-Signature",
        "X-Amz-Security-Token",
    }
)


@cache
def ec2_model() -> ServiceModel:
    return botocore.session.get_session().get_service_model("ec2")


def operation(action: str) -> OperationModel:
    return ec2_model().operation_model(action)


def wire_name(name: str, shape: Shape) -> str:
    """A member's name on the wire, as botocore's EC2 serializer writes it."""
    found = shape.serialization.get("queryName")
    if found:
        return str(found)
    located = shape.serialization.get("name")
    if located:
        return str(located[0].upper() + located[1:])
    return name


@cache
def _wire_members(shape: StructureShape) -> dict[str, tuple[str, Shape]]:
    """A structure's members by wire name."""
    return {wire_name(name, member): (name, member) for name, member in shape.members.items()}


# -- requests --------------------------------------------------------------------------------

Tree = dict[str, "Node"]


class Node:
    """The keys under one dotted prefix: the prefix's own value, and the next parts."""

    __slots__ = ("children", "key", "value")

    def __init__(self, key: str) -> None:
        self.key = key
        self.value: str | None = None
        self.children: Tree = {}


def _tree(params: Mapping[str, str]) -> Node:
    root = Node("")
    for key, value in params.items():
        node = root
        for part in key.split("."):
            child = node.children.get(part)
            if child is None:
                child = node.children[part] = Node(f"{node.key}.{part}" if node.key else part)
            node = child
        node.value = value
    return root


def unknown(key: str) -> Ec2Error:
    return Ec2Error("UnknownParameter", f"The parameter {key} is not recognized")


def _first_key(node: Node) -> str:
    """The first full key at or under a node (what an error names)."""
    while node.value is None and node.children:
        node = next(iter(node.children.values()))
    return node.key


def parse(action: str, params: Mapping[str, str]) -> dict[str, Any]:
    """The request of ``action`` in an SDK's shape, from its form's keys and values."""
    shape = operation(action).input_shape
    own = {k: v for k, v in params.items() if k not in COMMON}
    if shape is None:
        if own:
            raise unknown(next(iter(own)))
        return {}
    return _structure(_tree(own), cast(StructureShape, shape))


def _structure(node: Node, shape: StructureShape) -> dict[str, Any]:
    if node.value not in (None, "") and node.key:
        raise _invalid(node.key, node.value or "")
    members = _wire_members(shape)
    found: dict[str, Any] = {}
    for part, child in node.children.items():
        entry = members.get(part)
        if entry is None:
            raise unknown(_first_key(child))
        name, member = entry
        value = _value(child, member)
        if value is not None:
            found[name] = value
    for name in shape.required_members:
        if name not in found:
            wire = wire_name(name, shape.members[name])
            where = f"{node.key}.{wire}" if node.key else wire
            raise Ec2Error("MissingParameter", f"The request must contain the parameter {where}")
    return found


def _list(node: Node, shape: ListShape) -> list[Any]:
    if node.value not in (None, ""):
        raise _invalid(node.key, node.value or "")
    items = []
    for part, child in node.children.items():
        if not part.isdigit():
            raise unknown(_first_key(child))
        items.append((int(part), child))
    found = []
    for _, child in sorted(items, key=lambda item: item[0]):
        value = _value(child, shape.member)
        if value is not None:
            found.append(value)
    return found


def _value(node: Node, shape: Shape) -> Any:
    kind = shape.type_name
    if kind == "structure":
        return _structure(node, cast(StructureShape, shape))
    if kind == "list":
        return _list(node, cast(ListShape, shape))
    if node.children:
        raise unknown(_first_key(next(iter(node.children.values()))))
    text = node.value or ""
    if kind in ("string", "timestamp", "blob"):
        return text
    if text == "":
        return None
    if kind in ("integer", "long"):
        try:
            return int(text)
        except ValueError:
            raise _invalid(node.key, text) from None
    if kind == "boolean":
        if text.lower() in ("true", "false"):
            return text.lower() == "true"
        raise _invalid(node.key, text)
    if kind in ("float", "double"):
        try:
            return float(text)
        except ValueError:
            raise _invalid(node.key, text) from None
    raise unknown(node.key)  # a map: no action the lab serves takes one


def _invalid(key: str, text: str) -> Ec2Error:
    return Ec2Error("InvalidParameterValue", f"Value ({text}) for parameter {key} is invalid")


# -- answers ---------------------------------------------------------------------------------


# What EC2 writes in an answer that the model has not: CreateSecurityGroupResponse carries
# <return>true</return> before its groupId (the API reference's example response).
RETURNS_TOO = frozenset({"CreateSecurityGroup"})


def output(action: str, value: Mapping[str, Any]) -> list[Element]:
    """The elements of ``action``'s answer (inside ``<ActionResponse>``)."""
    shape = operation(action).output_shape
    if shape is None:
        return [_element("return", "true", None)] if value.get("Return", True) else []
    found = _members(cast(StructureShape, shape), value)
    if action in RETURNS_TOO:
        found.insert(0, _element("return", "true", None))
    return found


def _members(shape: StructureShape, value: Mapping[str, Any]) -> list[Element]:
    unknown_members = set(value) - set(shape.members)
    if unknown_members:
        raise KeyError(f"{shape.name} has no member {sorted(unknown_members)[0]}")
    found = []
    for name, member in shape.members.items():
        item = value.get(name)
        if item is None:
            continue
        found.append(_element(member.serialization.get("name", name), item, member))
    return found


def _element(tag: str, value: Any, shape: Shape | None) -> Element:
    node = Element(tag)
    kind = shape.type_name if shape is not None else "string"
    if kind == "structure":
        node.extend(_members(cast(StructureShape, shape), value))
    elif kind == "list":
        member = cast(ListShape, shape).member
        item_tag = member.serialization.get("name", "item")
        node.extend(_element(item_tag, item, member) for item in value)
    elif kind == "boolean":
        node.text = "true" if value else "false"
    else:
        node.text = str(value)
    return node
