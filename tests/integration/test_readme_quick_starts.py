"""The README's quick starts, run as written (the shell blocks line by line, in a folder that
holds the clone's topologies and examples, with a labs home of the test's own)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def _blocks(title: str) -> list[str]:
    readme = (ROOT / "README.md").read_text()
    section = readme.split(f"## {title}", 1)[1].split("\n## ", 1)[0]
    lines = re.search(r"```sh\n(.*?)```", section, re.S)
    assert lines is not None, title
    return [line.split(" #")[0].strip() for line in lines.group(1).splitlines() if line.strip()]


@pytest.mark.netns_only
@pytest.mark.parametrize(
    "title",
    [
        "Quick start: the seed's lab, on packets",
        "Quick start: your own Terraform or CloudFormation",
    ],
)
def test_a_quick_start_runs_as_written(title: str, tmp_path: Path) -> None:
    for name in ("topologies", "examples"):
        (tmp_path / name).symlink_to(ROOT / name)
    env = {**os.environ, "SGH_HOME": str(tmp_path / "home"), "SGH_RUNTIME": "netns"}
    for line in _blocks(title):
        command = line.replace(".venv/bin/", f"{BIN}/")
        done = subprocess.run(
            ["bash", "-c", command],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, f"{line}\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
        if "sgh run" in line or "sgh matrix" in line:
            assert re.search(r"(\d+) cells: \1 correct, 0 incorrect, 0 not run", done.stdout), line
