"""sg-harness in a user's own project: installed with pip into a fresh virtual environment
outside the clone (runtime dependencies only, nothing linked in), checked by ``sgh doctor``,
then the README's pytest file in a user's project, marked with the user's topology, run on
the netns runtime with a JUnit report. The steps are the ones the README and the CI guide
give."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

TOPOLOGY = """\
name: elsewhere
groups:
  - name: web
    description: the public web tier
    rules:
      - {protocol: tcp, ports: 80, source: 0.0.0.0/0}
  - name: db
    description: the database
    rules:
      - {protocol: tcp, ports: 5432, source: web}
instances:
  - {name: web-1, groups: [web], listen: [tcp/80]}
  - {name: db-1, groups: [db], listen: [tcp/5432]}
hosts:
  - {name: internet, address: 198.51.100.254}
"""


def users_test() -> str:
    """The README's pytest file, as a user copies it (its quick start, run as written)."""
    readme = (ROOT / "README.md").read_text()
    found = re.search(r"```python\n(.*?)```", readme, re.S)
    assert found is not None, "the README has no pytest example"
    return found.group(1)


def _run(argv: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        argv, cwd=cwd, env=env, capture_output=True, text=True, check=False, timeout=900
    )
    assert done.returncode == 0, f"{' '.join(argv)}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


def _checkout(to: Path) -> Path:
    """The clone's files as git lists them (what a user's checkout has), not its venv."""
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.split(b"\0")
    for name in filter(None, (item.decode() for item in listed)):
        source = ROOT / name
        if source.is_file():
            (to / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, to / name)
    return to


@pytest.mark.netns_only
def test_a_users_project_installs_sg_harness_and_tests_its_groups(tmp_path: Path) -> None:
    python = shutil.which("python3") or sys.executable
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    venv = tmp_path / "venv"
    checkout = _checkout(tmp_path / "checkout")
    _run([python, "-m", "venv", str(venv)], tmp_path, env)
    _run([str(venv / "bin/pip"), "install", "-q", str(checkout)], tmp_path, env)

    site = Path(
        _run(
            [
                str(venv / "bin/python"),
                "-c",
                "import sysconfig; print(sysconfig.get_paths()['purelib'])",
            ],
            tmp_path,
            env,
        ).stdout.strip()
    )
    linked = [p.name for p in site.iterdir() if p.is_symlink()]
    assert linked == [], f"linked into the venv: {linked}"
    installed = _run([str(venv / "bin/pip"), "list", "--format=freeze"], tmp_path, env).stdout
    for dev_tool in ("ruff", "mypy", "awscli", "ansible", "playwright", "hypothesis", "boto3"):
        assert f"{dev_tool}==" not in installed.lower(), f"{dev_tool} came with the install"

    doctor = _run([str(venv / "bin/sgh"), "doctor"], tmp_path, env)
    assert doctor.stdout.splitlines()[-1] == "everything sg-harness needs is here"

    project = tmp_path / "project"
    project.mkdir()
    (project / "shop.yaml").write_text(TOPOLOGY)
    (project / "test_shop.py").write_text(users_test())
    _run(
        [str(venv / "bin/pytest"), "-q", "--sg-runtime", "netns", "--junitxml=report.xml"],
        project,
        env,
    )
    suite = ET.parse(project / "report.xml").getroot().find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("2", "0", "0")
