"""``.tf`` files (python-hcl2): a module's variables, locals and ``count`` evaluated, local
modules read with their inputs; expressions beyond references and interpolation refused
where a rule needs their value, naming file, line and the expression."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hcl2
from hcl2.utils import SerializationOptions
from lark import Token, Tree
from lark.exceptions import LarkError, UnexpectedInput

from harness.core.model import Origin
from harness.errors import TopologyError
from harness.formats.imports.deployment import (
    Deployment,
    Outside,
    refuse,
)
from harness.formats.imports.terraform.resources import (
    GROUP_TYPES,
    VPC_DEFAULTS,
    Ref,
    Resources,
    Undeclared,
    Unknown,
)

OPTIONS = SerializationOptions(strip_string_quotes=True, explicit_blocks=False, with_comments=False)


# -- .tf files --------------------------------------------------------------------------------


@dataclass(frozen=True)
class BlockLines:
    """Where a top-level block starts, and where each of its inner blocks does, by type and in
    order (``ingress`` -> [12, 19])."""

    line: int
    inner: dict[str, list[int]]


def _text(node: object) -> str:
    """An identifier's or a label's text, from the parse tree."""
    if isinstance(node, Token):
        return "" if node.type == "DBLQUOTE" else str(node)
    if isinstance(node, Tree):
        return "".join(_text(child) for child in node.children)
    return ""


def _blocks(body: object) -> list[Tree[Any]]:
    if not isinstance(body, Tree):
        return []
    return [c for c in body.children if isinstance(c, Tree) and c.data == "block"]


def _block_lines(tree: Tree[Any]) -> dict[tuple[str, ...], BlockLines]:
    """Every top-level block's labels with its line and its inner blocks' lines, read from
    python-hcl2's parse tree (each node knows the line it starts on)."""
    found: dict[tuple[str, ...], BlockLines] = {}
    bodies = [c for c in tree.children if isinstance(c, Tree) and c.data == "body"]
    for block in (b for body in bodies for b in _blocks(body)):
        labels = tuple(_text(c) for c in block.children if isinstance(c, Tree) and c.data != "body")
        inner: dict[str, list[int]] = {}
        for body in (c for c in block.children if isinstance(c, Tree) and c.data == "body"):
            for child in _blocks(body):
                kind = _text(child.children[0])
                inner.setdefault(kind, []).append(child.meta.line)
        found[labels] = BlockLines(block.meta.line, inner)
    return found


_TRAVERSAL = re.compile(r"^[A-Za-z_][\w-]*(\[[^\]]*\])?(\.[A-Za-z_][\w-]*(\[[^\]]*\])?)*$")


@dataclass
class _Module:
    """One module's .tf files, evaluated with its variables."""

    files: list[Path]
    variables: dict[str, object]
    prefix: str  # "" for the root, "module.NAME." for a child
    resources: Resources
    lines: dict[str, list[str]] = field(default_factory=dict)  # each file's lines
    # each file's blocks by their labels ("resource", TYPE, NAME), with their lines and their
    # inner blocks' (python-hcl2's parse tree: a brace in a string or comment moves nothing)
    block_lines: dict[str, dict[tuple[str, ...], BlockLines]] = field(default_factory=dict)
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
                tree = hcl2.parses_to_tree(text)
                self.block_lines[str(path)] = _block_lines(tree)
                data = hcl2.serialize(hcl2.transform(tree), serialization_options=OPTIONS)
            except UnexpectedInput as err:
                raise TopologyError(str(path), "", "malformed HCL", err.line) from None
            except (LarkError, ValueError, TypeError) as err:
                raise TopologyError(str(path), "", f"malformed HCL: {err}") from None
            for kind, items in data.items():
                for item in items if isinstance(items, list) else [items]:
                    self.blocks.setdefault(kind, []).append((str(path), item))
        for block, prefix in (("resource", ""), ("data", "data.")):
            for _, item in self.blocks.get(block, []):
                for kind, named in item.items():
                    self.declared.setdefault(prefix + kind, set()).update(named)

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
            name = re.sub(r"\[.*\]$", "", parts[2])
            if name not in self.declared.get(f"data.{parts[1]}", set()):
                return Undeclared(f"data.{parts[1]}.{name}")  # Terraform refuses it too
            return Outside(f"data.{parts[1]}.{parts[2]}", declared=True)
        if head == "module" and len(parts) >= 3:
            return self.outputs.get(f"module.{parts[1]}.{parts[2]}", Outside(text))
        name = re.sub(r"\[.*\]$", "", parts[1]) if len(parts) > 1 else ""
        if head.startswith("aws_") and name and name not in self.declared.get(head, set()):
            return Undeclared(f"{head}.{name}")  # Terraform: Reference to undeclared resource
        if name in self.declared.get(head, set()):
            index = re.search(r"\[(\d+)\]", parts[1])
            address = f"{self.prefix}{head}.{name}"
            if self.counts.get(address) is not None:
                address += f"[{index.group(1) if index else 0}]"
            attribute = parts[2] if len(parts) > 2 else "id"
            if attribute in ("id", "arn"):
                return Ref(address)
            if attribute in VPC_DEFAULTS:  # a VPC's main route table, its default ACL
                return Ref(f"{address}:{attribute}")
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
            line = self._line(file, ("resource", kind, name))
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
                self._inner_lines(file, ("resource", kind, name), values)
                self.resources.add(kind, at, values, Origin(file, line, at))

    def _inner_lines(self, file: str, labels: tuple[str, ...], values: dict[str, Any]) -> None:
        """Give each inline ingress/egress block the line it starts on."""
        found = self.block_lines.get(file, {}).get(labels)
        if found is None:
            return
        for direction in ("ingress", "egress"):
            blocks = values.get(direction)
            if not isinstance(blocks, list):
                continue
            for block, number in zip(blocks, found.inner.get(direction, ()), strict=False):
                if isinstance(block, dict):
                    block["__line__"] = number

    def _line(self, file: str, labels: tuple[str, ...]) -> int:
        found = self.block_lines.get(file, {}).get(labels)
        return 0 if found is None else found.line

    def _module(self, file: str, name: str, body: Any, deployment: Deployment) -> None:
        line = self._line(file, ("module", name))
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
    resources = Resources(deployment)
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
