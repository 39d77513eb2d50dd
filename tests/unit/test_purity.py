"""The pure core imports no Docker, scapy or subprocess, directly or through the package."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "harness"
CORE = [
    "model",
    "ec2",
    "topology",
    "oracle",
    "planner",
    "compiler",
    "matrix",
    "report",
    "errors",
    "progress",
    "probe.base",
    "probe.simulated",
    "runtime.base",
    "runtime.fabric",
    "cloud",
    "ec2text",
    "scenario",
    "lint",
    "compose",
    "services",
    "junit",
    "yamlload",
]
FORBIDDEN = {"docker", "scapy", "subprocess", "nmap", "testinfra"}


def imports(module: str) -> set[str]:
    path = PACKAGE.joinpath(*module.split(".")).with_suffix(".py")
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def closure(module: str) -> set[str]:
    seen: set[str] = set()
    todo = [module]
    while todo:
        current = todo.pop()
        for name in imports(current):
            if name.startswith("harness.") and name[8:] not in seen:
                seen.add(name[8:])
                todo.append(name[8:])
            seen.add(name)
    return seen


@pytest.mark.parametrize("module", CORE)
def test_core_module_is_pure(module: str) -> None:
    reached = closure(module)
    bad = {name for name in reached if name.split(".")[0] in FORBIDDEN}
    assert not bad, f"harness.{module} reaches {sorted(bad)}"
    effects = {name for name in reached if name in ("netns", "runtime.docker", "lab")}
    assert not effects, f"harness.{module} reaches effect modules {sorted(effects)}"
