"""The one describe-filter engine: AND of filters, OR of one filter's values, ``*``/``?``
wildcards, and ``tag:KEY``, ``tag-key``, ``tag-value`` on every resource.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence

from harness.core.ec2.state import Cloud, T, tags_of
from harness.errors import Ec2Error


def wildcard(pattern: str) -> re.Pattern[str]:
    """EC2 filter values: literal text where ``*`` is any run and ``?`` one character."""
    parts = ["." if char == "?" else ".*" if char == "*" else re.escape(char) for char in pattern]
    return re.compile("".join(parts), re.DOTALL)


def matches(values: Iterable[str], patterns: Sequence[str]) -> bool:
    compiled = [wildcard(pattern) for pattern in patterns]
    return any(p.fullmatch(value) for value in values for p in compiled)


# -- describe filters ------------------------------------------------------------------------------


def select(
    cloud: Cloud,
    items: Sequence[T],
    filters: dict[str, list[str]],
    known: dict[str, Callable[[T], list[str]]],
    ident: Callable[[T], str],
) -> list[T]:
    """Items that pass every filter (AND of filters, OR of one filter's values, ``*``/``?``
    wildcards); ``tag:KEY``, ``tag-key`` and ``tag-value`` work on every resource."""
    for name, values in filters.items():
        if (
            name not in known
            and not name.startswith("tag:")
            and name not in ("tag-key", "tag-value")
        ):
            raise Ec2Error("InvalidParameterValue", f"The filter '{name}' is invalid")
        if not values:
            raise Ec2Error("InvalidParameterValue", f"The filter '{name}' has no values")

    def values_of(item: T, name: str) -> list[str]:
        if name in known:
            return known[name](item)
        tags = tags_of(cloud, ident(item))
        if name == "tag-key":
            return [k for k, _ in tags]
        if name == "tag-value":
            return [v for _, v in tags]
        return [v for k, v in tags if k == name[4:]]

    return [
        item for item in items if all(matches(values_of(item, n), v) for n, v in filters.items())
    ]
