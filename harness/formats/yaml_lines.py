"""YAML that remembers where things are: every mapping and sequence knows its line."""

from __future__ import annotations

from typing import Any

import yaml


class LineDict(dict[str, Any]):
    line: int | None = None


class LineList(list[Any]):
    line: int | None = None


class Loader(yaml.SafeLoader):
    """A safe loader that remembers the line of every mapping and sequence."""


def construct_mapping(loader: Loader, node: yaml.MappingNode) -> LineDict:
    loader.flatten_mapping(node)
    result = LineDict()
    result.line = node.start_mark.line + 1
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, str | int):
            raise yaml.constructor.ConstructorError(
                None, None, f"unsupported key {key!r}", key_node.start_mark
            )
        if str(key) in result:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key '{key}'", key_node.start_mark
            )
        result[str(key)] = loader.construct_object(value_node, deep=True)
    return result


def construct_sequence(loader: Loader, node: yaml.SequenceNode) -> LineList:
    result = LineList(loader.construct_object(child, deep=True) for child in node.value)
    result.line = node.start_mark.line + 1
    return result


Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, construct_mapping)
Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, construct_sequence)
