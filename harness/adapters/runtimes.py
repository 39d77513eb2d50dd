"""The runtimes by name: ``docker`` (the default: containers, and a user's own images) and
``netns`` (daemonless: a network namespace and one small process a node)."""

from __future__ import annotations

import os

from harness.core.runtime import Runtime
from harness.errors import InvalidInput

NAMES = ("docker", "netns")
DEFAULT = "docker"
HELP = (
    "what runs the lab's nodes: docker (default, or $SGH_RUNTIME) or netns "
    "(daemonless network namespaces; no images)"
)


def default() -> str:
    """``$SGH_RUNTIME`` when set (CI runs the suite once per runtime), else docker."""
    return os.environ.get("SGH_RUNTIME") or DEFAULT


def make(name: str | None = None) -> Runtime:
    chosen = name or default()
    if chosen == "docker":
        from harness.adapters.docker_runtime import DockerRuntime

        return DockerRuntime()
    if chosen == "netns":
        from harness.adapters.netns_runtime import NetnsRuntime

        return NetnsRuntime()
    raise InvalidInput(f"unknown runtime '{chosen}' (one of: {', '.join(NAMES)})")


def every() -> list[Runtime]:
    """Every runtime, to find labs whichever made them (``sgh clean``, ``sgh lab list``)."""
    return [make(name) for name in NAMES]
