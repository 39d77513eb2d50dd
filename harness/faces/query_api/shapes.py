"""Answers in the shapes today's SDKs read, from botocore's own model of EC2.

An action's result is given as the SDK would return it (member names, Python values); this
writes it as EC2's XML, naming each element as the model does, so every field an SDK reads is
where it looks. A member the model does not have is a bug here, not something to drop.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any, cast
from xml.etree.ElementTree import Element

import botocore.session
from botocore.model import ListShape, ServiceModel, Shape, StructureShape


@cache
def ec2_model() -> ServiceModel:
    return botocore.session.get_session().get_service_model("ec2")


def output(action: str, value: Mapping[str, Any]) -> list[Element]:
    """The elements of ``action``'s answer (inside ``<ActionResponse>``)."""
    shape = ec2_model().operation_model(action).output_shape
    if shape is None:
        return [_element("return", "true", None)] if value.get("Return", True) else []
    return _members(cast(StructureShape, shape), value)


def _members(shape: StructureShape, value: Mapping[str, Any]) -> list[Element]:
    unknown = set(value) - set(shape.members)
    if unknown:
        raise KeyError(f"{shape.name} has no member {sorted(unknown)[0]}")
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
