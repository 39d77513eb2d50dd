"""The guide's shell and Python examples, run as written: each page's ``sh`` and ``python``
blocks in order, as one bash session with ``set -e`` (a Python block is fed to python), in a
folder that holds the clone's topologies, examples and fixtures, with a labs home of its own.
What a page starts (``sgh serve &``, labs) is stopped and removed afterwards.

Pages left out, and why: the install page (its ``pip install /path/to/sg-harness`` is run by
``test_install_elsewhere.py``), the console page (``sgh console`` serves until stopped: the
browser tests drive it), the pytest page (its example is ``test_example_plugin.py``)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
BLOCK = re.compile(r"^( *)```(sh|python)\n(.*?)^\1```", re.S | re.M)
PAGES = [
    "guide/live-lab.md",
    "guide/clients.md",
    "guide/vpc.md",
    "guide/full-path.md",
    "guide/diff.md",
    "guide/walkthroughs.md",
]
WAIT_FOR_SERVE = (
    "for _ in $(seq 100); do (echo > /dev/tcp/127.0.0.1/8773) 2>/dev/null && break; sleep 0.1; done"
)
CLEANUP = """\
cleanup() {
    kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true
    for lab in "$SGH_HOME"/labs/*/; do
        if [ -d "$lab" ]; then sgh lab rm -q "$(basename "$lab")" || true; fi
    done
    return 0
}
trap cleanup EXIT
"""


def script_of(page: str) -> str:
    """A page's runnable blocks as one bash script."""
    lines = ["set -euo pipefail", CLEANUP]
    for indent, language, block in BLOCK.findall((ROOT / "docs" / page).read_text()):
        body = "\n".join(line.removeprefix(indent) for line in block.splitlines())
        if language == "python":
            lines += [f"\"{sys.executable}\" - <<'PYTHON'", body, "PYTHON"]
            continue
        for line in body.splitlines():
            lines.append(line.replace(".venv/bin/", f"{BIN}/"))
            if re.match(r"sgh serve.*&", line.strip()):
                lines.append(WAIT_FOR_SERVE)
    return "\n".join(lines) + "\n"


def test_every_guide_page_with_examples_is_run_or_said_why_not() -> None:
    left_out = {"guide/install.md", "guide/console.md", "guide/pytest.md"}
    for path in sorted((ROOT / "docs" / "guide").glob("*.md")):
        page = path.relative_to(ROOT / "docs").as_posix()
        if BLOCK.search(path.read_text()):
            assert page in PAGES or page in left_out, f"{page}: run its examples, or say why not"


@pytest.mark.netns_only
@pytest.mark.parametrize("page", PAGES)
def test_a_guide_pages_examples_run_as_written(page: str, tmp_path: Path) -> None:
    for name in ("topologies", "examples", "tests"):
        (tmp_path / name).symlink_to(ROOT / name)
    env = {
        **os.environ,
        "SGH_HOME": str(tmp_path / "home"),
        "SGH_RUNTIME": "netns",
        "PATH": f"{BIN}:{os.environ['PATH']}",
    }
    done = subprocess.run(
        ["bash", "-c", script_of(page)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )
    assert done.returncode == 0, f"{page}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    assert "0 incorrect" in done.stdout or "sgh matrix" not in script_of(page)
