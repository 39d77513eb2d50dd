"""Terraform: ``.tf`` files (python-hcl2), and the JSON of ``terraform show -json`` for a plan
or a state.

The four ways of writing rules are read: inline ``ingress``/``egress`` blocks of
``aws_security_group``, ``aws_security_group_rule``, ``aws_vpc_security_group_ingress_rule`` /
``aws_vpc_security_group_egress_rule``, and ``aws_default_security_group`` (the VPC's default
group, whose own rules Terraform removes). Terraform's egress default applies: a group has the
egress rules it declares and no others (Terraform removes the allow-all rule AWS adds).

``.tf`` files: variables take their ``default`` or ``--var NAME=VALUE``; ``locals`` are read;
``count`` is expanded; a module whose source is a local directory is read with its inputs;
other modules are not in the input (a note says so; references to their outputs become
outside groups). Expressions beyond references and interpolation (function calls,
conditionals, ``for_each``) are refused where a rule needs their value, naming file, line and
the expression.

Plan and state JSON: ``planned_values`` (or ``values``) walked through ``child_modules``;
values unknown at plan time are resolved through ``configuration``'s references.
``prior_state`` is the plan's before (see :func:`read_json`'s ``before``).

Other resources' group attachments (``vpc_security_group_ids``, ``security_groups``,
``security_group_ids``, anywhere in their arguments) become representatives.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hcl2
from hcl2.utils import SerializationOptions
from lark.exceptions import LarkError, UnexpectedInput

from harness.core.model import Origin
from harness.errors import TopologyError
from harness.formats.imports.deployment import (
    Deployment,
    ImportedGroup,
    ImportedPrefixList,
    ImportedRule,
    ImportedSubnet,
    ImportedVpc,
    Outside,
    Peer,
    attached,
    refuse,
)
from harness.formats.imports.values import make_rule, port_value, protocol_text

GROUP_TYPES = ("aws_security_group", "aws_default_security_group")
ATTACH_KEYS = ("vpc_security_group_ids", "security_groups", "security_group_ids")
OPTIONS = SerializationOptions(strip_string_quotes=True, explicit_blocks=False, with_comments=False)


@dataclass(frozen=True)
class Ref:
    """A value that denotes a resource of the input, by its address."""

    address: str


@dataclass(frozen=True)
class Unknown:
    """A value the import cannot know (an expression it does not evaluate)."""

    expression: str


def is_terraform_json(data: object) -> bool:
    return (
        isinstance(data, dict)
        and "format_version" in data
        and ("planned_values" in data or "values" in data or "prior_state" in data)
    )


# -- the one reader of resources, for .tf files and JSON --------------------------------------


@dataclass
class _Resources:
    deployment: Deployment
    ids: dict[str, str] = field(default_factory=dict)  # a real sg-/vpc- id -> its address

    def ref(self, value: object, origin: Origin, what: str) -> str:
        """The reference a group, VPC or prefix list value stands for."""
        if isinstance(value, Ref):
            return value.address
        if isinstance(value, Outside):
            return value.text
        if isinstance(value, Unknown):
            raise refuse(origin, f"{what} is not known: {value.expression}")
        if isinstance(value, str) and value:
            return self.ids.get(value, value)
        raise refuse(origin, f"{what} {value!r} is not a reference")

    def vpc(self, value: object, origin: Origin) -> str | None:
        """A VPC reference; one the input cannot know becomes a VPC named after it."""
        if value in (None, ""):
            return None
        if isinstance(value, Unknown):
            self.deployment.notes.append(
                f"{origin}: vpc_id {value.expression} is not known: a VPC of its own stands for it"
            )
            return value.expression
        return self.ref(value, origin, "vpc_id")

    def add(self, kind: str, address: str, values: dict[str, Any], origin: Origin) -> None:
        d = self.deployment
        if kind in GROUP_TYPES:
            self._group(kind, address, values, origin)
        elif kind == "aws_security_group_rule":
            self._legacy_rule(values, origin)
        elif kind in ("aws_vpc_security_group_ingress_rule", "aws_vpc_security_group_egress_rule"):
            self._vpc_rule(kind.endswith("egress_rule"), values, origin)
        elif kind == "aws_vpc":
            cidr = values.get("cidr_block")
            ipv6 = values.get("assign_generated_ipv6_cidr_block") is True
            d.vpcs[address] = ImportedVpc(
                address,
                address.rsplit(".", maxsplit=1)[-1],
                cidr if isinstance(cidr, str) else None,
                ipv6,
            )
        elif kind == "aws_subnet":
            vpc = values.get("vpc_id")
            cidr = values.get("cidr_block")
            d.subnets[address] = ImportedSubnet(
                address,
                address.rsplit(".", maxsplit=1)[-1],
                self.vpc(vpc, origin),
                cidr if isinstance(cidr, str) else None,
                values.get("map_public_ip_on_launch") is True,
            )
        elif kind == "aws_ec2_managed_prefix_list":
            entries = values.get("entry") or []
            cidrs = tuple(str(e.get("cidr")) for e in entries if isinstance(e, dict))
            name = values.get("name")
            d.prefix_lists[address] = ImportedPrefixList(
                address, name if isinstance(name, str) else address, cidrs
            )
        else:
            self._attachments(values, origin)

    def _group(self, kind: str, address: str, values: dict[str, Any], origin: Origin) -> None:
        name = values.get("name")
        if not isinstance(name, str) or not name:
            prefix = values.get("name_prefix")
            short = address.rsplit(".", maxsplit=1)[-1]
            name = prefix if isinstance(prefix, str) and prefix else short
        group = ImportedGroup(
            address,
            name,
            origin,
            description=str(values.get("description") or "Managed by Terraform"),
            vpc=self.vpc(values.get("vpc_id"), origin),
            is_default=kind == "aws_default_security_group",
        )
        if isinstance(values.get("id"), str):
            self.ids[values["id"]] = address
        self.deployment.groups[address] = group
        for direction in ("ingress", "egress"):
            blocks = values.get(direction) or []
            if isinstance(blocks, Unknown):
                raise refuse(origin, f"{direction} is not known: {blocks.expression}")
            for index, block in enumerate(blocks):
                line = block.pop("__line__", 0) if isinstance(block, dict) else 0
                where = Origin(origin.file, line or origin.line, f"{address} {direction}[{index}]")
                if not isinstance(block, dict):
                    raise refuse(where, f"an {direction} block must be a block")
                rules = self._rules(block, address, where, "security_groups")
                (group.egress if direction == "egress" else group.ingress).extend(rules)

    def _rules(
        self, block: dict[str, Any], group: str, origin: Origin, groups_key: str
    ) -> list[ImportedRule]:
        protocol = protocol_text(self._known(block.get("protocol"), origin, "protocol"), origin)
        low = port_value(
            self._known(block.get("from_port"), origin, "from_port"), origin, "from_port"
        )
        high = port_value(self._known(block.get("to_port"), origin, "to_port"), origin, "to_port")
        description = block.get("description")
        text = description if isinstance(description, str) else ""
        peers: list[Peer] = []
        for key in ("cidr_blocks", "ipv6_cidr_blocks"):
            for cidr in self._list(block.get(key), origin, key):
                peers.extend(Peer(cidr=part.strip()) for part in str(cidr).split(","))
        for plist in self._list(block.get("prefix_list_ids"), origin, "prefix_list_ids"):
            peers.append(Peer(prefix_list=self.ref(plist, origin, "prefix list")))
        for item in self._list(block.get(groups_key), origin, groups_key):
            peers.append(Peer(group=self.ref(item, origin, "security group")))
        source = block.get("source_security_group_id")
        if source is not None:
            peers.append(Peer(group=self.ref(source, origin, "source_security_group_id")))
        if self._known(block.get("self"), origin, "self") in (True, "true"):
            peers.append(Peer(group=group))
        if not peers:
            raise refuse(
                origin,
                "a rule with no peer (cidr_blocks, ipv6_cidr_blocks, prefix_list_ids, "
                "security groups or self)",
            )
        return [make_rule(protocol, low, high, peer, origin, text) for peer in peers]

    def _known(self, value: object, origin: Origin, what: str) -> object:
        if isinstance(value, Unknown):
            raise refuse(origin, f"{what} is not known: {value.expression}")
        if isinstance(value, Ref | Outside):
            raise refuse(origin, f"{what} is a reference, not a value")
        return value

    def _list(self, value: object, origin: Origin, what: str) -> list[object]:
        if isinstance(value, Ref | Outside):
            return [value]
        value = self._known(value, origin, what) if not isinstance(value, list) else value
        if value is None:
            return []
        if isinstance(value, str):
            return [value]
        if not isinstance(value, list):
            raise refuse(origin, f"{what} must be a list")
        for item in value:
            if isinstance(item, Unknown):
                raise refuse(origin, f"{what} is not known: {item.expression}")
        return value

    def _owner(self, values: dict[str, Any], origin: Origin) -> ImportedGroup:
        ref = self.ref(values.get("security_group_id"), origin, "security_group_id")
        d = self.deployment
        if ref not in d.groups:
            d.outside_group(
                ref,
                origin,
                description=f"{ref}: rules added, group not in the input",
                holds="only the rules the input adds",
            )
        return d.groups[ref]

    def _legacy_rule(self, values: dict[str, Any], origin: Origin) -> None:
        group = self._owner(values, origin)
        egress = values.get("type") == "egress"
        rules = self._rules(values, group.ref, origin, "")
        (group.egress if egress else group.ingress).extend(rules)

    def _vpc_rule(self, egress: bool, values: dict[str, Any], origin: Origin) -> None:
        group = self._owner(values, origin)
        protocol = protocol_text(
            self._known(values.get("ip_protocol"), origin, "ip_protocol"), origin
        )
        low = port_value(
            self._known(values.get("from_port"), origin, "from_port"), origin, "from_port"
        )
        high = port_value(self._known(values.get("to_port"), origin, "to_port"), origin, "to_port")
        peers = []
        for key in ("cidr_ipv4", "cidr_ipv6"):
            if values.get(key) is not None:
                peers.append(Peer(cidr=str(self._known(values[key], origin, key))))
        if values.get("prefix_list_id") is not None:
            peers.append(
                Peer(prefix_list=self.ref(values["prefix_list_id"], origin, "prefix list"))
            )
        if values.get("referenced_security_group_id") is not None:
            ref = self.ref(values["referenced_security_group_id"], origin, "referenced group")
            peers.append(Peer(group=ref))
        if len(peers) != 1:
            raise refuse(
                origin,
                "needs exactly one of cidr_ipv4, cidr_ipv6, prefix_list_id, "
                "referenced_security_group_id",
            )
        description = values.get("description")
        text = description if isinstance(description, str) else ""
        rule = make_rule(protocol, low, high, peers[0], origin, text)
        (group.egress if egress else group.ingress).append(rule)

    def _attachments(self, values: object, origin: Origin) -> None:
        for key, value in attached(values, ATTACH_KEYS, lambda found: isinstance(found, list)):
            assert isinstance(value, list)
            items = [item for item in value if isinstance(item, Ref | Outside | str)]
            self.deployment.attach((self.ref(item, origin, key) for item in items), origin)


# -- .tf files --------------------------------------------------------------------------------

_TRAVERSAL = re.compile(r"^[A-Za-z_][\w-]*(\[[^\]]*\])?(\.[A-Za-z_][\w-]*(\[[^\]]*\])?)*$")


@dataclass
class _Module:
    """One module's .tf files, evaluated with its variables."""

    files: list[Path]
    variables: dict[str, object]
    prefix: str  # "" for the root, "module.NAME." for a child
    resources: _Resources
    lines: dict[str, list[str]] = field(default_factory=dict)  # each file's lines
    blocks: dict[str, list[tuple[str, dict[str, Any]]]] = field(default_factory=dict)
    locals: dict[str, object] = field(default_factory=dict)
    declared: dict[str, set[str]] = field(default_factory=dict)  # type -> names
    counts: dict[str, int] = field(default_factory=dict)
    outputs: dict[str, object] = field(default_factory=dict)  # "module.x.out" -> its value

    def parse(self) -> None:
        for path in self.files:
            text = path.read_text(encoding="utf-8")
            self.lines[str(path)] = text.splitlines()
            try:
                data = hcl2.loads(text, serialization_options=OPTIONS)
            except UnexpectedInput as err:
                raise TopologyError(str(path), "", "malformed HCL", err.line) from None
            except (LarkError, ValueError, TypeError) as err:
                raise TopologyError(str(path), "", f"malformed HCL: {err}") from None
            for kind, items in data.items():
                for item in items if isinstance(items, list) else [items]:
                    self.blocks.setdefault(kind, []).append((str(path), item))
        for _, item in self.blocks.get("resource", []):
            for kind, named in item.items():
                self.declared.setdefault(kind, set()).update(named)

    def line(self, file: str, pattern: str, start: int = 0) -> int:
        for number, text in enumerate(self.lines[file][start:], start + 1):
            if re.match(pattern, text):
                return number
        return 0

    # -- evaluation -------------------------------------------------------------------------

    def evaluate(self, value: object, scope: dict[str, object]) -> object:
        if isinstance(value, list):
            return [self.evaluate(item, scope) for item in value]
        if isinstance(value, dict):
            return {k: self.evaluate(v, scope) for k, v in value.items()}
        if not isinstance(value, str) or "${" not in value:
            return value
        whole = re.fullmatch(r"\$\{(.*)\}", value, re.S)
        if whole is not None and "${" not in whole.group(1):
            return self.expression(whole.group(1).strip(), scope)
        parts = []
        for piece in re.split(r"(\$\{[^}]*\})", value):
            if piece.startswith("${"):
                result = self.expression(piece[2:-1].strip(), scope)
                if isinstance(result, Unknown | Ref | Outside | list | dict):
                    return Unknown(value)
                parts.append(str(result).lower() if isinstance(result, bool) else str(result))
            else:
                parts.append(piece)
        return "".join(parts)

    def expression(self, text: str, scope: dict[str, object]) -> object:
        if re.fullmatch(r"-?\d+", text):
            return int(text)
        if text in ("true", "false"):
            return text == "true"
        if re.fullmatch(r'"[^"$]*"', text):
            return text[1:-1]
        if not _TRAVERSAL.match(text):
            return Unknown(text)
        parts = re.findall(r"[A-Za-z_][\w-]*(?:\[[^\]]*\])?", text)
        head = parts[0]
        if head in scope:
            return scope[head] if len(parts) == 1 else Unknown(text)
        if head == "var" and len(parts) >= 2:
            name = parts[1]
            if name not in self.variables:
                return Unknown(text)
            return self.variables[name] if len(parts) == 2 else Unknown(text)
        if head == "local" and len(parts) >= 2:
            value = self.locals.get(parts[1], Unknown(text))
            return value if len(parts) == 2 else Unknown(text)
        if head == "count" and parts[1:] == ["index"]:
            return scope.get("count.index", Unknown(text))
        if head == "data" and len(parts) >= 3:
            return Outside(f"data.{parts[1]}.{parts[2]}")
        if head == "module" and len(parts) >= 3:
            return self.outputs.get(f"module.{parts[1]}.{parts[2]}", Outside(text))
        name = re.sub(r"\[.*\]$", "", parts[1]) if len(parts) > 1 else ""
        if head in GROUP_TYPES and name not in self.declared.get(head, set()):
            return Outside(f"{head}.{name}")  # a group the input does not declare
        if name in self.declared.get(head, set()):
            index = re.search(r"\[(\d+)\]", parts[1])
            address = f"{self.prefix}{head}.{name}"
            if self.counts.get(address) is not None:
                address += f"[{index.group(1) if index else 0}]"
            attribute = parts[2] if len(parts) > 2 else "id"
            if attribute in ("id", "arn"):
                return Ref(address)
            return self.attribute(head, name, attribute, text)
        return Unknown(text)

    def attribute(self, kind: str, name: str, attribute: str, text: str) -> object:
        for _, item in self.blocks.get("resource", []):
            body = item.get(kind, {}).get(name)
            if isinstance(body, dict) and attribute in body:
                return self.evaluate(body[attribute], {})
        return Unknown(text)

    def read(self, deployment: Deployment) -> None:
        for _file, item in self.blocks.get("variable", []):
            for name, body in item.items():
                if name not in self.variables and isinstance(body, dict) and "default" in body:
                    self.variables[name] = body["default"]
        for _ in range(3):  # locals may refer to each other
            for _file, item in self.blocks.get("locals", []):
                for name, value in item.items():
                    self.locals[name] = self.evaluate(value, {})
        for _file, item in self.blocks.get("resource", []):
            for kind, named in item.items():
                for name, body in named.items():
                    count = body.get("count") if isinstance(body, dict) else None
                    if count is not None:
                        value = self.evaluate(count, {})
                        self.counts[f"{self.prefix}{kind}.{name}"] = (
                            value if isinstance(value, int) else -1
                        )
        for file, item in self.blocks.get("module", []):
            for name, body in item.items():
                self._module(file, name, body, deployment)
        ordered = sorted(
            (
                (file, kind, name, body)
                for file, item in self.blocks.get("resource", [])
                for kind, named in item.items()
                for name, body in named.items()
            ),
            key=lambda entry: entry[1] not in GROUP_TYPES,  # groups first: rules name them
        )
        for file, kind, name, body in ordered:
            line = self.line(file, rf'\s*resource\s+"{kind}"\s+"{name}"')
            address = f"{self.prefix}{kind}.{name}"
            origin = Origin(file, line, address)
            count = self.counts.get(address)
            if isinstance(body, dict) and "for_each" in body:
                if kind in GROUP_TYPES or "security_group" in kind:
                    raise refuse(
                        origin,
                        "for_each is not expanded from .tf files: give the plan JSON "
                        "(terraform show -json) instead",
                    )
                continue
            if count == -1:
                raise refuse(origin, f"count is not known: {body.get('count')}")
            for index in range(count) if count is not None else [None]:
                scope: dict[str, object] = {} if index is None else {"count.index": index}
                at = address if index is None else f"{address}[{index}]"
                values = self.evaluate(
                    {k: v for k, v in body.items() if k not in ("count", "lifecycle")}, scope
                )
                assert isinstance(values, dict)
                self._block_lines(file, line, values)
                self.resources.add(kind, at, values, Origin(file, line, at))

    def _block_lines(self, file: str, start: int, values: dict[str, Any]) -> None:
        """Give each inline ingress/egress block the line it starts on."""
        if not start:
            return
        lines = self.lines[file]
        seen = {"ingress": 0, "egress": 0}
        depth = 0
        for number, text in enumerate(lines[start - 1 :], start):
            match = re.match(r"\s*(ingress|egress)\s*\{", text)
            if match is not None and depth == 1:
                direction = match.group(1)
                blocks = values.get(direction)
                if isinstance(blocks, list) and seen[direction] < len(blocks):
                    block = blocks[seen[direction]]
                    if isinstance(block, dict):
                        block["__line__"] = number
                    seen[direction] += 1
            depth += text.count("{") - text.count("}")
            if depth <= 0 and number > start:
                break

    def _module(self, file: str, name: str, body: Any, deployment: Deployment) -> None:
        line = self.line(file, rf'\s*module\s+"{name}"')
        origin = Origin(file, line, f"module.{name}")
        source = body.get("source") if isinstance(body, dict) else None
        directory = Path(file).parent / str(source) if isinstance(source, str) else None
        if (
            directory is None
            or not str(source).startswith(".")
            or not directory.is_dir()
            or not list(directory.glob("*.tf"))
        ):
            deployment.notes.append(
                f"{origin}: module source {source!r} is not in the input: its resources are "
                "left out (references to its outputs become outside groups)"
            )
            return
        inputs = {
            key: self.evaluate(value, {})
            for key, value in body.items()
            if key not in ("source", "version", "providers", "count", "for_each", "depends_on")
        }
        child = _Module(
            sorted(directory.glob("*.tf")),
            inputs,
            f"{self.prefix}module.{name}.",
            self.resources,
        )
        child.parse()
        child.read(deployment)
        for _file, item in child.blocks.get("output", []):
            for output, spec in item.items():
                if isinstance(spec, dict) and "value" in spec:
                    self.outputs[f"module.{name}.{output}"] = child.evaluate(spec["value"], {})


def _variable_value(text: str) -> object:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def read_hcl(files: list[Path], variables: dict[str, str], deployment: Deployment) -> None:
    """Fill ``deployment`` from the .tf files of one root module."""
    resources = _Resources(deployment)
    module = _Module(files, {k: _variable_value(v) for k, v in variables.items()}, "", resources)
    module.parse()
    module.read(deployment)
    if not deployment.groups:
        modules = deployment.notes[-1] if deployment.notes else ""
        where = Origin(str(files[0]))
        raise refuse(
            where,
            "no security groups in the input" + (f" ({modules})" if modules else ""),
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
    reader = _Resources(deployment)
    addresses = {str(r.get("address")) for r in resources}
    for resource in resources:
        if resource.get("mode", "managed") != "managed":
            continue
        values = resource.get("values") or {}
        if isinstance(values.get("id"), str) and resource.get("type") in GROUP_TYPES:
            reader.ids[values["id"]] = str(resource.get("address"))
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
        for candidate in (text, re.sub(r"\.[a-z_]+$", "", text)):
            if candidate in addresses:
                return Ref(candidate)
            if f"{candidate}[0]" in addresses:
                return Ref(f"{candidate}[0]")
        if text.startswith("data."):
            return Outside(".".join(text.split(".")[:3]))
    return Unknown(f"{key} (unknown until apply)")
