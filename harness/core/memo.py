"""A memo found by identity: a big lab asks about the same few thousand objects (addresses,
probe lists, targets) a million times, and hashing an address or a tuple each time costs more
than the answer."""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class ByIdentity(Generic[K, V]):
    """``make(key)`` worked out once per key object and found again by the object's identity.
    The memo keeps each key alive, so an identity cannot be reused while it is a key."""

    __slots__ = ("_found", "_make")

    def __init__(self, make: Callable[[K], V]) -> None:
        self._make = make
        self._found: dict[int, tuple[K, V]] = {}

    def __call__(self, key: K) -> V:
        found = self._found.get(id(key))
        if found is None:
            found = self._found[id(key)] = (key, self._make(key))
        return found[1]
