"""Helpers for integration tests: the console scripts against a home directory, one-shot labs."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import botocore.config

from harness.adapters.probers.scapy_prober import ScapyProber
from harness.core.matrix import CellResult, Matrix
from harness.core.model import Protocol, Topology
from harness.core.phases import QUIET
from harness.core.runtime import LabKind, LabRef, Runtime
from harness.lab import one_shot
from harness.lab.lifecycle import Reconciled, teardown
from harness.lab.measure import probe_matrix

BIN = Path(sys.executable).parent


def ec2_client(endpoint: str, account: str, *, attempts: int | None = None) -> Any:
    """boto3's EC2 client against a lab's Query API, as ``account`` (``attempts``: botocore's
    retries, its default when None)."""
    config = (
        None if attempts is None else botocore.config.Config(retries={"max_attempts": attempts})
    )
    return boto3.client(
        "ec2",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=account,
        aws_secret_access_key="unused",
        config=config,
    )


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


def cell(
    matrix: dict[str, Any], source: str, target: str, probe: str, address: str | None = None
) -> dict[str, Any]:
    """A cell of ``sgh matrix --json`` (at ``address`` when given: VPC cells are per address)."""
    protocol, _, port = probe.partition("/")
    for item in matrix["cells"]:
        same_port = str(item["port"]) == port or (not port and item["port"] is None)
        same_address = address is None or item.get("address") == address
        if (item["from"], item["to"], item["protocol"]) == (source, target, protocol) and (
            same_port and same_address
        ):
            return dict(item)
    raise AssertionError(f"no cell {source} -> {target} {probe} in the matrix")


@contextmanager
def serving(shell: Shell, command: str = "serve") -> Iterator[str]:
    """``sgh serve`` (or ``sgh console``) on a free port for the shell's lab; its URL."""
    process = subprocess.Popen(
        ["sgh", command, "--port", "0"],
        env=shell.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        match = re.search(r"http://127\.0\.0\.1:(\d+)/", first)
        assert match, f"sgh {command} printed {first!r}"
        yield f"http://127.0.0.1:{match.group(1)}"
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=20)


@contextmanager
def running(runtime: Runtime, topology: Topology) -> Iterator[tuple[LabRef, Reconciled]]:
    """A one-shot lab of the topology, built through the one lifecycle and removed after."""
    ref, built = one_shot.start(runtime, topology, QUIET, kind=LabKind.RUN)
    try:
        yield ref, built
    finally:
        teardown(runtime, ref, QUIET)


@contextmanager
def probed(runtime: Runtime, topology: Topology) -> Iterator[Matrix]:
    """A one-shot lab of the topology probed by scapy (every planned cell), removed after."""
    runtime.check(topology)
    with running(runtime, topology) as (_, built):
        yield probe_matrix(topology, built.namespaces, ScapyProber(), QUIET)


def result_of(
    matrix: Matrix,
    source: str,
    target: str,
    *,
    port: int | None = None,
    protocol: Protocol | None = None,
    address: object = None,
) -> CellResult:
    """The first cell of a matrix from ``source`` to ``target`` with that probe port (None:
    an ICMP echo unless ``protocol`` says), protocol (default tcp for a port) and address."""
    wanted = protocol or (Protocol.TCP if port is not None else Protocol.ICMP)
    found = [
        r
        for r in matrix.results
        if (r.cell.source, r.cell.target, r.cell.probe.protocol, r.cell.probe.port)
        == (source, target, wanted, port)
        and (address is None or r.cell.address == str(address))
    ]
    assert found, (source, target, port, address)
    return found[0]
