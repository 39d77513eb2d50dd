"""The JSON of ``terraform show -json`` (a plan or a state): ``planned_values`` (or
``values``) through ``child_modules``, values unknown at plan time resolved through
``configuration``'s references, ``prior_state`` as a plan's before."""

from __future__ import annotations

import re
from typing import Any

from harness.core.model import Origin
from harness.formats.imports.deployment import (
    Deployment,
    Outside,
    refuse,
)
from harness.formats.imports.terraform.resources import (
    GROUP_TYPES,
    PATH_TYPES,
    VPC_DEFAULTS,
    Ref,
    Resources,
    Unknown,
)

# -- plan and state JSON ----------------------------------------------------------------------


def _walk(module: object) -> list[dict[str, Any]]:
    if not isinstance(module, dict):
        return []
    found = [r for r in module.get("resources") or [] if isinstance(r, dict)]
    for child in module.get("child_modules") or []:
        found.extend(_walk(child))
    return found


def _config_resources(module: object, prefix: str = "") -> dict[str, dict[str, Any]]:
    """Configuration resources by address (``module.x.aws_security_group.y``)."""
    result: dict[str, dict[str, Any]] = {}
    if not isinstance(module, dict):
        return result
    for resource in module.get("resources") or []:
        result[prefix + str(resource.get("address"))] = resource
    for name, call in (module.get("module_calls") or {}).items():
        result.update(_config_resources(call.get("module"), f"{prefix}module.{name}."))
    return result


def read_json(
    source: str,
    data: dict[str, Any],
    variables: dict[str, str],
    deployment: Deployment,
    *,
    before: bool = False,
) -> None:
    """Fill ``deployment`` from a plan (its planned values, or with ``before`` its prior
    state) or a state."""
    if before:
        prior = data.get("prior_state")
        if not isinstance(prior, dict):
            raise refuse(Origin(source), "the plan has no prior_state (nothing before it)")
        root = (prior.get("values") or {}).get("root_module")
    else:
        values = data.get("planned_values") or data.get("values") or {}
        root = values.get("root_module") if isinstance(values, dict) else None
    resources = _walk(root)
    unknown: dict[str, dict[str, Any]] = {}
    for change in data.get("resource_changes") or []:
        after = (change.get("change") or {}).get("after_unknown")
        if isinstance(after, dict) and not before:
            unknown[str(change.get("address"))] = after
    config = _config_resources((data.get("configuration") or {}).get("root_module"))
    reader = Resources(deployment)
    addresses = {str(r.get("address")) for r in resources}
    for resource in resources:
        if resource.get("mode", "managed") != "managed":
            continue
        values = resource.get("values") or {}
        kind = resource.get("type")
        if isinstance(values.get("id"), str) and (kind in GROUP_TYPES or kind in PATH_TYPES):
            reader.ids[values["id"]] = str(resource.get("address"))
        if kind == "aws_vpc":
            for attribute in VPC_DEFAULTS:  # its main table's and default ACL's ids
                if isinstance(values.get(attribute), str):
                    reader.ids[values[attribute]] = f"{resource.get('address')}:{attribute}"
    ordered = sorted(
        (r for r in resources if r.get("mode", "managed") == "managed"),
        key=lambda r: r.get("type") not in GROUP_TYPES,
    )
    for resource in ordered:
        address = str(resource.get("address"))
        kind = str(resource.get("type"))
        origin = Origin(source, 0, address)
        values = dict(resource.get("values") or {})
        flags = unknown.get(address, {})
        expressions = (config.get(_config_address(address)) or {}).get("expressions") or {}
        for key, flag in flags.items():
            if flag is True and values.get(key) is None:
                expression = expressions.get(key)
                if expression is None:  # computed by the provider, not configured
                    values[key] = [] if key in ("ingress", "egress") else None
                elif isinstance(expression, list):  # blocks (ingress, egress) from the config
                    values[key] = [
                        {name: _from_config(item, addresses, name) for name, item in block.items()}
                        for block in expression
                        if isinstance(block, dict)
                    ]
                else:
                    values[key] = _from_config(expression, addresses, key)
            elif isinstance(flag, list) and isinstance(values.get(key), list):
                current: list[Any] = values[key]
                found = expressions.get(key)
                blocks: list[Any] = found if isinstance(found, list) else []
                for number, block_flags in enumerate(flag):
                    if not isinstance(block_flags, dict) or number >= len(current):
                        continue
                    block = dict(current[number])
                    block_expr = blocks[number] if number < len(blocks) else {}
                    for name, is_unknown in block_flags.items():
                        unknown_now = is_unknown is True or (
                            isinstance(is_unknown, list) and True in is_unknown
                        )
                        if unknown_now and not block.get(name):
                            block[name] = _from_config(block_expr.get(name), addresses, name)
                    current[number] = block
        reader.add(kind, address, values, origin)
    if not deployment.groups:
        raise refuse(Origin(source), "no security groups in the plan or state")


def _config_address(address: str) -> str:
    return re.sub(r"\[[^\]]*\]", "", address)


def _from_config(expression: object, addresses: set[str], key: str) -> object:
    """An unknown value through the configuration's references: a resource of the input."""
    if isinstance(expression, list):
        return [_from_config(item, addresses, key) for item in expression]
    if not isinstance(expression, dict):
        return Unknown(f"{key} (unknown until apply)")
    if "constant_value" in expression:
        return expression["constant_value"]
    for reference in expression.get("references") or []:
        text = str(reference)
        attribute = text.rsplit(".", 1)[-1]
        if attribute in VPC_DEFAULTS and text.rsplit(".", 1)[0] in addresses:
            return Ref(f"{text.rsplit('.', 1)[0]}:{attribute}")  # a VPC's main table, default ACL
        for candidate in (text, re.sub(r"\.[a-z_]+$", "", text)):
            if candidate in addresses:
                return Ref(candidate)
            if f"{candidate}[0]" in addresses:
                return Ref(f"{candidate}[0]")
        if text.startswith("data."):
            return Outside(".".join(text.split(".")[:3]), declared=True)  # a data source
    return Unknown(f"{key} (unknown until apply)")
