"""Helpers for tests of persistent labs: run the console scripts against a home directory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BIN = Path(sys.executable).parent


@dataclass
class Shell:
    """Runs ``sgh`` and the ``ec2-*`` commands with ``SGH_HOME`` set to a test's own home."""

    home: Path
    lab: str

    @property
    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            SGH_HOME=str(self.home),
            SGH_LAB=self.lab,
            PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        )
        env.pop("SGH_ACCOUNT", None)
        return env

    def run(
        self,
        *argv: str,
        check: bool = True,
        env: dict[str, str] | None = None,
        timeout: float = 300,
    ) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            list(argv),
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and done.returncode != 0:
            raise AssertionError(
                f"{' '.join(argv)} exited {done.returncode}\n"
                f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
            )
        return done

    def matrix(self, tmp: Path) -> dict[str, Any]:
        """``sgh matrix --json``: the live lab probed now (asserts the command's exit 0/1)."""
        path = tmp / "matrix.json"
        done = self.run("sgh", "matrix", "-q", "--json", str(path), check=False)
        assert done.returncode in (0, 1), done.stderr
        data: dict[str, Any] = json.loads(path.read_text())
        data["exit"] = done.returncode
        data["text"] = done.stdout
        return data


def cell(matrix: dict[str, Any], source: str, target: str, probe: str) -> dict[str, Any]:
    protocol, _, port = probe.partition("/")
    for item in matrix["cells"]:
        if (item["from"], item["to"], item["protocol"]) == (source, target, protocol) and (
            str(item["port"]) == port or (not port and item["port"] is None)
        ):
            return dict(item)
    raise AssertionError(f"no cell {source} -> {target} {probe} in the matrix")
