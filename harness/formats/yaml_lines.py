"""YAML that remembers where things are: every mapping and sequence knows its line."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv6Address
from typing import Any, NoReturn

import yaml

from harness.core.model import Listen, Origin
from harness.errors import Ec2Error, TopologyError

NAME_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")
MAX_NAME = 40


class LineDict(dict[str, Any]):
    line: int | None = None
    origin: Origin | None = None  # an imported item: where the user wrote it (not this document)
    # a document's root, read by a last-wins loader: each key written twice in one mapping,
    # with the line it was first written at and the line whose value was kept
    duplicates: tuple[tuple[str, int, int], ...] = ()


class LineList(list[Any]):
    line: int | None = None


# libyaml's parser where PyYAML was built with it (Debian's and PyPI's wheels are): the
# pure-Python one is several times slower on a big template.
SafeLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class Loader(SafeLoader):  # type: ignore[valid-type,misc]
    """A safe loader that remembers the line of every mapping and sequence. A key written
    twice in one mapping is an error, unless ``last_wins`` (a format whose own tool keeps the
    last): then the last is kept and the pair is recorded in ``duplicates``."""

    last_wins = False
    duplicates: list[tuple[str, int, int]]


def construct_mapping(loader: Loader, node: yaml.MappingNode) -> LineDict:
    loader.flatten_mapping(node)
    result = LineDict()
    result.line = node.start_mark.line + 1
    lines: dict[str, int] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, str | int):
            raise yaml.constructor.ConstructorError(
                None, None, f"unsupported key {key!r}", key_node.start_mark
            )
        line = key_node.start_mark.line + 1
        if str(key) in result:
            if not loader.last_wins:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key '{key}'", key_node.start_mark
                )
            loader.duplicates.append((str(key), lines[str(key)], line))
        lines[str(key)] = line
        result[str(key)] = loader.construct_object(value_node, deep=True)
    return result


def construct_sequence(loader: Loader, node: yaml.SequenceNode) -> LineList:
    result = LineList(loader.construct_object(child, deep=True) for child in node.value)
    result.line = node.start_mark.line + 1
    return result


Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, construct_mapping)
Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, construct_sequence)


def load(text: str, source: str, loader: type[Any] = Loader) -> Any:
    """YAML text as LineDicts and LineLists; a syntax error is one line naming file and line."""
    try:
        reader = loader(text)
        reader.duplicates = []
        try:
            data = reader.get_single_data()
        finally:
            reader.dispose()
        if isinstance(data, LineDict):
            data.duplicates = tuple(reader.duplicates)
        return data
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = err.problem or err.context or "invalid YAML"
        raise TopologyError(source, "", f"malformed YAML: {problem}", line) from None
    except (yaml.YAMLError, ValueError) as err:  # ValueError: a malformed short-form tag
        raise TopologyError(source, "", f"malformed YAML: {err}") from None


@contextmanager
def kept_or_raised(dropped: list[TopologyError] | None) -> Iterator[None]:
    """Reading one rule: its refusal ends the read (``dropped`` None), or leaves the rule out
    and is kept in ``dropped`` (a lenient read: ``sgh lint`` reports it and audits the rest)."""
    try:
        yield
    except TopologyError as err:
        if dropped is None:
            raise
        dropped.append(err)


@dataclass
class Reader:
    """Reads a document of LineDicts and LineLists: each failure is one line naming the file,
    the path to the value (``groups[1] 'web' rules[0]``) and its line."""

    source: str
    path: list[str] = field(default_factory=list)
    line: int | None = None
    origin: Origin | None = None
    origin_depth: int = 0  # how much of ``path`` the origin's construct already names
    # None: the first bad rule refuses the file; a list: each bad rule is left out and kept
    # here (sgh lint reports it as a finding and audits the rest)
    dropped: list[TopologyError] | None = None

    # -- error reporting -------------------------------------------------------------------

    def fail(self, problem: str) -> NoReturn:
        if self.origin is not None:  # an imported item: name the user's file, line, construct
            where = " ".join([self.origin.construct, *self.path[self.origin_depth :]]).strip()
            raise TopologyError(self.origin.file, where, problem, self.origin.line or None)
        raise TopologyError(self.source, " ".join(self.path), problem, self.line)

    def where(self, node: object) -> Origin:
        """Where an item of the document was written: its import origin, or this file's line."""
        origin = getattr(node, "origin", None)
        if isinstance(origin, Origin):
            return origin
        return Origin(self.source, getattr(node, "line", None) or 0, " ".join(self.path))

    @contextmanager
    def at(self, label: str, node: object = None) -> Iterator[None]:
        saved = self.line, self.origin, self.origin_depth
        self.path.append(label)
        line = getattr(node, "line", None)
        if line is not None:
            self.line = line
        origin = getattr(node, "origin", None)
        if isinstance(origin, Origin):
            self.origin, self.origin_depth = origin, len(self.path)
        try:
            yield
        except Ec2Error as err:
            self.fail(str(err))
        finally:
            self.path.pop()
            self.line, self.origin, self.origin_depth = saved

    def mapping(self, value: object, what: str, allowed: set[str], required: set[str]) -> LineDict:
        if not isinstance(value, dict):
            self.fail(f"{what} must be a mapping, not {_kind(value)}")
        assert isinstance(value, LineDict)
        unknown = sorted(set(value) - allowed)
        if unknown:
            self.fail(
                f"unknown key '{unknown[0]}' in {what} (allowed: {', '.join(sorted(allowed))})"
            )
        missing = sorted(required - set(value))
        if missing:
            self.fail(f"{what} needs '{missing[0]}'")
        return value

    def sequence(self, value: object, what: str) -> list[Any]:
        if value is None:
            return []
        if not isinstance(value, list):
            self.fail(f"{what} must be a list, not {_kind(value)}")
        return value

    def string(self, value: object, what: str) -> str:
        if isinstance(value, bool) or not isinstance(value, str | int):
            self.fail(f"{what} must be a string, not {_kind(value)}")
        return str(value)

    def name(self, value: object, what: str) -> str:
        text = self.string(value, what)
        if not NAME_RE.match(text) or len(text) > MAX_NAME:
            self.fail(
                f"{what} '{text}' is invalid: use letters, digits, '.', '_' and '-' "
                f"(at most {MAX_NAME} characters, starting with a letter or digit)"
            )
        return text

    def address(self, value: object, what: str) -> IPv4Address:
        text = self.string(value, what)
        try:
            return IPv4Address(text)
        except ValueError:
            self.fail(f"{what} '{text}' is not an IPv4 address")

    def address6(self, value: object, what: str) -> IPv6Address:
        text = self.string(value, what)
        try:
            return IPv6Address(text)
        except ValueError:
            self.fail(f"{what} '{text}' is not an IPv6 address")

    def copies(self, spec: LineDict, base: str) -> list[str]:
        """An instance entry's node names: ``base``, or ``base-1`` ... ``base-N`` for a count."""
        count = spec.get("count", 1)
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            self.fail(f"count must be a whole number of at least 1, not {count!r}")
        return [base] if count == 1 else [f"{base}-{n}" for n in range(1, count + 1)]

    def serving(
        self, spec: LineDict
    ) -> tuple[tuple[Listen, ...], str | None, tuple[str, ...] | None]:
        """An instance entry's ports to listen on, its image and its command."""
        listen = tuple(
            sorted({self.listen(entry) for entry in self.sequence(spec.get("listen"), "listen")})
        )
        image = self.string(spec["image"], "image") if "image" in spec else None
        command = None
        if "command" in spec:
            command = tuple(
                self.string(part, "a command word")
                for part in self.sequence(spec["command"], "command")
            )
        return listen, image, command

    def listen(self, value: object) -> Listen:
        text = self.string(value, "a listen entry")
        try:
            return Listen.parse(text)
        except ValueError as err:
            self.fail(str(err))


def _kind(value: object) -> str:
    if value is None:
        return "nothing"
    kinds: dict[type, str] = {  # bool before int: True is an int too
        bool: "true/false",
        str: "a string",
        int: "a number",
        float: "a number",
        list: "a list",
        dict: "a mapping",
    }
    for typ, word in kinds.items():
        if isinstance(value, typ):
            return word
    return type(value).__name__
