"""Benchmark: how long a control-plane change takes to be enforced everywhere on a live lab.

Builds Mary's three-tier service as a persistent lab (in a temporary home), then times each
kind of change from the call to the moment it returns, which is when every affected instance's
nftables transaction has been applied (and, for a launch, the new container runs and listens).
After each change one probe confirms the data plane shows it (not timed). The same authorize is
also timed through the ``ec2-authorize`` command (a new process) and through boto3 against the
Query API in this process.

    .venv/bin/python bench/propagation.py
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from harness.adapters.probers.scapy_prober import ScapyProber
from harness.adapters.sqlite_store import Home
from harness.core.ec2 import plane as ec2
from harness.core.ec2.plane import Cloud, Permission
from harness.core.matrix import expectations
from harness.core.model import Probe, Protocol, State
from harness.core.planner import Cell
from harness.faces.progress import Progress
from harness.lab.measure import batches_for
from harness.lab.persistent import PersistentLab, new_id, now

A = "111122223333"
BIN = Path(sys.executable).parent


def probe(lab: PersistentLab, source: str, target: str, port: int) -> State:
    topology = lab.topology()
    cell = Cell(source, target, Probe(Protocol.TCP, port))
    expected = expectations(topology, [cell])
    answered = {c for c, e in expected.items() if e.state is not State.FILTERED}
    batches = batches_for(topology, lab.live(), [cell], answered)
    return ScapyProber(timeout=1.0).run(batches, 0, _noop)[cell].state


def _noop(count: int = 1) -> None:
    pass


def timed(action: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = action()
    return time.perf_counter() - started, result


def main() -> None:
    home = Path(tempfile.mkdtemp(prefix="sgh-bench-"))
    lab = PersistentLab(Home(home), "bench", create=True)
    progress = Progress.quiet()
    try:
        started = time.perf_counter()
        lab.up(progress)
        act = lab.act

        def grant(group: str, *perms: Permission) -> Callable[[Cloud], tuple[Cloud, None]]:
            return lambda c: (ec2.authorize(c, A, group, list(perms), False)[0], None)

        def revoke(group: str, *perms: Permission) -> Callable[[Cloud], tuple[Cloud, None]]:
            return lambda c: (
                ec2.revoke(c, A, ref=group, permissions=list(perms), rule_ids=(), egress=False)[0],
                None,
            )

        def launch(image: str, count: int, group: str) -> Callable[[Cloud], tuple[Cloud, Any]]:
            return lambda c: ec2.run_instances(
                c, A, image, count, groups=[group], now=now(), new_id=new_id
            )

        act(lambda c: ec2.add_host(c, "workstation", "203.0.113.19"), progress)

        def create(name: str) -> Callable[[Cloud], tuple[Cloud, Any]]:
            return lambda c: ec2.create_group(c, A, name, f"Mary's {name}")

        def terminate(instance: str) -> Callable[[Cloud], tuple[Cloud, Any]]:
            return lambda c: ec2.terminate_instances(c, A, [instance])

        for name in ("apache", "appserver", "dbserver"):
            act(create(name), progress)
        act(grant("apache", Permission("tcp", 80, 80, (("0.0.0.0/0", ""),))), progress)
        web = act(launch("ami-fba54092", 7, "apache"), progress)
        app = act(launch("ami-e3a5408a", 20, "appserver"), progress)
        act(launch("ami-f1a54098", 2, "dbserver"), progress)
        act(grant("appserver", Permission(None, groups=((None, "apache", ""),))), progress)
        act(grant("dbserver", Permission(None, groups=((None, "appserver", ""),))), progress)
        build = time.perf_counter() - started
        web_id, app_id = web[0].instance_id, app[0].instance_id
        print(f"three-tier lab built through the control plane: {build:.1f}s (29 instances)")

        ssh = Permission("tcp", 22, 22, (("203.0.113.19/32", ""),))
        rows: list[tuple[str, list[float], str]] = []
        grants, revokes = [], []
        for _ in range(5):
            seconds, _ = timed(lambda: act(grant("apache", ssh), progress))
            grants.append(seconds)
            assert probe(lab, "workstation", web_id, 22) is State.OPEN
            seconds, _ = timed(lambda: act(revoke("apache", ssh), progress))
            revokes.append(seconds)
            assert probe(lab, "workstation", web_id, 22) is State.FILTERED
        rows.append(("authorize tcp/22 on apache (7 instances)", grants, "open"))
        rows.append(("revoke it (7 instances)", revokes, "filtered"))
        installed = len(lab.last_sync.plan.install) if lab.last_sync else 0

        launches, terminations = [], []
        for _ in range(3):
            seconds, records = timed(lambda: act(launch("ami-fba54092", 1, "apache"), progress))
            launches.append(seconds)
            new = records[0].instance_id
            assert probe(lab, new, app_id, 8080) is State.OPEN
            seconds, _ = timed(partial(act, terminate(new), progress))
            terminations.append(seconds)
        rows.append(("launch 1 web server (+20 app servers' sets)", launches, "in"))
        rows.append(("terminate it (20 app servers' sets)", terminations, "out"))

        commands = []
        for _ in range(3):
            for verb in ("ec2-authorize", "ec2-revoke"):
                argv = [str(BIN / verb), "apache", "-p", "22", "-s", "203.0.113.19/32"]
                env = {**os.environ, "SGH_HOME": str(home), "SGH_LAB": "bench"}
                seconds, _ = timed(
                    partial(subprocess.run, argv, env=env, check=True, capture_output=True)
                )
                commands.append(seconds)
        rows.append(("ec2-authorize / ec2-revoke command (new process)", commands, ""))

        import boto3

        from harness.faces.query_api import make_server

        server = make_server(lab, "127.0.0.1", 0, False)
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        client: Any = boto3.client(
            "ec2",
            endpoint_url=f"http://127.0.0.1:{server.server_address[1]}",
            region_name="us-east-1",
            aws_access_key_id=A,
            aws_secret_access_key="unused",
        )
        perm = [
            {
                "IpProtocol": "tcp",
                "FromPort": 22,
                "ToPort": 22,
                "IpRanges": [{"CidrIp": "203.0.113.19/32"}],
            }
        ]
        calls = []
        for _ in range(5):
            for call in (
                client.authorize_security_group_ingress,
                client.revoke_security_group_ingress,
            ):
                seconds, _ = timed(partial(call, GroupName="apache", IpPermissions=perm))
                calls.append(seconds)
        server.shutdown()
        rows.append(("boto3 authorize / revoke over HTTP", calls, ""))

        print(f"(last authorize re-installed {installed} policies)")
        print(f"{'change':52} {'median':>8} {'min':>8} {'max':>8}   runs")
        for label, values, _ in rows:
            print(
                f"{label:52} {statistics.median(values) * 1000:7.0f}ms "
                f"{min(values) * 1000:7.0f}ms {max(values) * 1000:7.0f}ms   {len(values)}"
            )
        print("each change was enforced when the call returned (a probe after each confirmed it)")
    finally:
        lab.down(progress)
        lab.close()


if __name__ == "__main__":
    main()
