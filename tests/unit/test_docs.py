"""The README and the documentation site match the code: their examples load or run, every
`sgh` command line in them parses, and the README stays the short front door."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from harness.core.model import GroupKey
from harness.faces.sgh.main import _parse
from harness.formats import topology_file

ROOT = Path(__file__).resolve().parents[2]
PAGES = sorted((ROOT / "docs").rglob("*.md"))
SHELL = re.compile(r"```(?:sh|bash|console)\n(.*?)```", re.S)


def _command_lines() -> list[tuple[str, str]]:
    """Every ``sgh`` command line of a shell block in the README and the docs."""
    found = []
    for path in [ROOT / "README.md", *PAGES]:
        for block in SHELL.findall(path.read_text()):
            for raw in block.splitlines():
                line = raw.split(" #")[0].strip().removeprefix("sudo ").removeprefix("$ ")
                if re.match(r"(\.venv/bin/)?sgh ", line) and "..." not in line:
                    found.append((path.relative_to(ROOT).as_posix(), line))
    return found


COMMANDS = _command_lines()


def test_the_docs_have_command_lines_to_check() -> None:
    assert len(COMMANDS) > 20
    assert {where for where, _ in COMMANDS} >= {"README.md", "docs/guide/install.md"}


@pytest.mark.parametrize(("where", "line"), COMMANDS)
def test_every_sgh_command_line_of_the_docs_parses(where: str, line: str) -> None:
    command = re.split(r"\||>|&&", line, maxsplit=1)[0].rstrip(" &")
    argv = shlex.split(command)[1:]
    try:
        _parse(argv)
    except SystemExit as done:
        pytest.fail(f"{where}: '{line}' does not parse (exit {done.code})")


def test_the_readme_is_the_short_front_door() -> None:
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 160
    lines = [line for line in readme.splitlines() if line.startswith("make ")]
    assert [line.split()[:2] for line in lines[:2]] == [["make", "demo"], ["make", "test"]]
    for link in re.findall(r"\]\((docs/[^)]+)\)", readme):
        assert (ROOT / link).exists(), link


def test_the_topology_reference_example_loads() -> None:
    page = (ROOT / "docs/reference/topology-files.md").read_text()
    example = re.search(r"```yaml\n(.*?)```", page, re.S)
    assert example is not None
    topo = topology_file.loads(example.group(1), "topology-files.md")
    names = [i.name for i in topo.instances]
    assert names[:2] == ["web-1", "web-2"] and "admin" in names and "nginx" in names
    default = topo.group(GroupKey("111122223333", "default"))
    assert len(default.rules) == 4
    db = topo.group(GroupKey("111122223333", "dbserver"))
    assert len(db.rules) == 4  # 3306 from appserver, 8000-8080 from two CIDRs, icmp
    assert str(topo.nodes_by_name["pinned"].address) == "10.254.9.9"


def test_the_pytest_guide_carries_the_plugin_example_verbatim() -> None:
    page = (ROOT / "docs/guide/pytest.md").read_text()
    example = (ROOT / "tests" / "integration" / "test_example_plugin.py").read_text()
    assert f"```python\n{example}```" in page


def test_every_page_is_in_the_sites_navigation() -> None:
    config = (ROOT / "mkdocs.yml").read_text()
    for page in PAGES:
        assert page.relative_to(ROOT / "docs").as_posix() in config, page


def test_the_architecture_pages_map_names_every_module() -> None:
    page = (ROOT / "docs/design/architecture.md").read_text()
    tree = page.split("```\nharness/\n", 1)[1].split("```", 1)[0]
    names = set(re.findall(r"[a-z0-9_]+", tree))
    for path in (ROOT / "harness").rglob("*.py"):
        if path.stem != "__init__":
            assert path.stem in names, f"{path.relative_to(ROOT)} is not on the map"
    for package in (ROOT / "harness").rglob("__init__.py"):
        if package.parent != ROOT / "harness":
            assert package.parent.name in names, f"{package.parent.name}/ is not on the map"
