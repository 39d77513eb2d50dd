"""The top-level docker-compose.yml: Compose accepts it, and ``sgh run`` verifies it."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from junitparser import JUnitXml
from nodes import leftovers

from harness.core.runtime import Runtime
from harness.faces.sgh.main import main

pytestmark = pytest.mark.docker_only  # Compose is Docker's

ROOT = Path(__file__).resolve().parents[2]


def test_docker_compose_config_accepts_the_file() -> None:
    compose = shutil.which("docker-compose")
    assert compose is not None, "docker-compose is not installed ('make setup' installs it)"
    done = subprocess.run(
        [compose, "-f", str(ROOT / "docker-compose.yml"), "config"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "x-security-groups" in done.stdout or "replicas: 20" in done.stdout


def test_sgh_run_verifies_the_compose_project(runtime: Runtime, tmp_path: Path) -> None:
    out = tmp_path / "matrix.json"
    report = tmp_path / "junit.xml"
    argv = ["run", str(ROOT / "docker-compose.yml"), "-q", "--json", str(out)]
    assert main([*argv, "--junit", str(report)]) == 0
    suite = next(iter(JUnitXml.fromfile(str(report))))
    assert [case.name for case in suite] == ["summary"] and suite.failures == 0
    data = json.loads(out.read_text())
    assert data["lab"] == "three-tier-compose"
    assert data["summary"]["cells"] == 4560
    assert data["summary"]["correct"] == 4560
    assert not leftovers(runtime, "three-tier-compose")
