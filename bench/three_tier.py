"""Benchmark: the seed's three-tier lab, end to end, with figures.

Prints lab start time, rule install time, probe count, probe time, verdicts per second and
total time for the harness's own run, then ratios against baselines run in the same process on
the same lab: scapy's own ``sr()`` and ``nmap -sS``, each sending one source's TCP probes.

    .venv/bin/python bench/three_tier.py [TOPOLOGY]
"""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

from harness.adapters import netns
from harness.adapters.docker_runtime import DockerRuntime
from harness.adapters.probers.nmap_prober import NmapProber
from harness.adapters.probers.scapy_prober import ScapyProber
from harness.core.ec2 import platform as platforms
from harness.core.ec2 import rules as rulebook
from harness.core.matrix import Matrix, expectations
from harness.core.model import Protocol, State, Topology
from harness.core.phases import QUIET
from harness.core.planner import plan
from harness.core.reconcile import Applied
from harness.core.runtime import LabNamespaces, LabRef
from harness.faces.progress import Progress
from harness.formats import topology_file
from harness.lab import one_shot
from harness.lab.lifecycle import reconcile, teardown
from harness.lab.measure import batches_for, probe_matrix

ROOT = Path(__file__).resolve().parent.parent


def scapy_sr(path: str, source: str, jobs: list[tuple[str, int]], timeout: float) -> float:
    """Seconds scapy's sr() takes for these TCP SYN probes from inside the source namespace."""
    from scapy.config import conf
    from scapy.layers.inet import IP, TCP
    from scapy.sendrecv import sr
    from scapy.supersocket import L3RawSocket

    conf.L3socket = L3RawSocket
    packets = [
        IP(src=source, dst=dst) / TCP(sport=40000 + i, dport=port, flags="S")
        for i, (dst, port) in enumerate(jobs)
    ]

    def send() -> float:
        started = time.monotonic()
        sr(packets, timeout=timeout, verbose=0)
        return time.monotonic() - started

    return netns.call_in(path, send)


def nmap_scan(pid: int, jobs: list[tuple[str, int]]) -> float:
    """Seconds nmap -sS takes to scan the same targets and ports (all ports on all targets)."""
    targets = sorted({dst for dst, _ in jobs})
    ports = ",".join(str(p) for p in sorted({port for _, port in jobs}))
    started = time.monotonic()
    subprocess.run(
        [
            "nsenter",
            f"--net=/proc/{pid}/ns/net",
            "nmap",
            "-n",
            "-Pn",
            "-sS",
            "-T5",
            "--max-retries",
            "0",
            "--host-timeout",
            "30s",
            "-p",
            ports,
            *targets,
        ],
        check=True,
        capture_output=True,
    )
    return time.monotonic() - started


def baselines(topo: Topology, live: LabNamespaces, matrix: Matrix, probe_time: float) -> None:
    """The same matrix by the nmap prober, and one source's TCP probes by scapy sr() and nmap."""
    cells = len(matrix.results)
    # The same matrix measured by the nmap prober on the same lab (no retry round).
    nmap_started = time.monotonic()
    by_nmap = probe_matrix(topo, live, NmapProber(), QUIET, retry=False)
    nmap_matrix_time = time.monotonic() - nmap_started
    agree = sum(
        a.observed.state is b.observed.state
        for a, b in zip(matrix.results, by_nmap.results, strict=True)
    )
    print(
        f"nmap prober        {nmap_matrix_time:.2f} s for the same {cells} cells "
        f"({cells / nmap_matrix_time:.0f} verdicts/s, {nmap_matrix_time / probe_time:.1f}x "
        f"the scapy prober's time); {agree} of {cells} verdicts equal to scapy's"
    )

    # Baselines on the same lab: one source's TCP probes, ours against scapy sr() and nmap.
    source = topo.hosts[-1] if topo.hosts else topo.instances[0]
    cells_tcp = [
        c for c in plan(topo) if c.source == source.name and c.probe.protocol is Protocol.TCP
    ]
    expected = expectations(topo, cells_tcp)
    answered = {c for c, e in expected.items() if e.state is not State.FILTERED}
    nodes = topo.nodes_by_name
    jobs = [(str(nodes[c.target].address), c.probe.port or 0) for c in cells_tcp]
    ours_started = time.monotonic()
    ScapyProber().run(batches_for(topo, live, cells_tcp, answered), 2)
    ours = time.monotonic() - ours_started
    sr_time = scapy_sr(live.netns(source.name), str(source.address), jobs, timeout=1.0)
    nmap_time = nmap_scan(live.pids[source.name], jobs)
    nmap_cells = len({d for d, _ in jobs}) * len({p for _, p in jobs})
    print(f"baseline           {len(jobs)} TCP SYN probes from {source.name}")
    print(f"  sg-harness       {ours:.2f} s  {len(jobs) / ours:.0f} verdicts/s")
    print(
        f"  scapy sr()       {sr_time:.2f} s  {len(jobs) / sr_time:.0f} verdicts/s  "
        f"(ratio {sr_time / ours:.1f}x)"
    )
    print(
        f"  nmap -sS -T5     {nmap_time:.2f} s  {nmap_cells / nmap_time:.0f} verdicts/s "
        f"over {nmap_cells} port x target pairs  (ratio per verdict "
        f"{(nmap_time / nmap_cells) / (ours / len(jobs)):.1f}x)"
    )


def rule_change(
    runtime: DockerRuntime, ref: LabRef, topo: Topology, applied: dict[str, Applied]
) -> None:
    """A live rule change: one group gains a rule; time until every member enforces it."""
    first = topo.groups[1]
    extra = rulebook.make_rule(
        platforms.CLASSIC,
        Protocol.TCP,
        22,
        22,
        cidr=rulebook.parse_cidr("203.0.113.19/32", platforms.CLASSIC),
    )
    if topo.is_vpc:
        grown = rulebook.authorize(first, [extra], egress=False)
    else:
        grown = rulebook.authorize(first, [extra])
    changed = replace(topo, groups=tuple(grown if g is first else g for g in topo.groups))
    change_started = time.monotonic()
    after = reconcile(runtime, ref, changed, applied, QUIET)
    change_time = time.monotonic() - change_started
    updated = list(after.plan.install)
    reconcile(runtime, ref, topo, after.applied, QUIET)
    print(
        f"rule change        {change_time:.3f} s to enforce on {len(updated)} instances "
        f"({first.name} +tcp 22 from 203.0.113.19/32)"
    )


def main() -> int:
    path = sys.argv[1] if len(sys.argv) > 1 else str(ROOT / "topologies/three-tier.yaml")
    topo = topology_file.load(path)
    runtime = DockerRuntime()
    progress = Progress()
    started = time.monotonic()
    ref, built = one_shot.start(runtime, topo, progress)
    live = built.namespaces
    try:
        matrix = probe_matrix(topo, live, ScapyProber(), progress)
        total = time.monotonic() - started
        t = {**built.timings, **matrix.timings}
        cells = len(matrix.results)
        probe_time = t["probe"] + t.get("retry", 0.0)
        lab_start = t["containers"] + t["fabric"] + t["listen"]
        print(
            f"topology           {topo.source} ({len(topo.instances)} instances, "
            f"{len(topo.hosts)} hosts)"
        )
        print(
            f"lab start          {lab_start:.2f} s (containers {t['containers']:.2f}, "
            f"fabric {t['fabric']:.2f}, listening {t['listen']:.2f})"
        )
        print(f"rule install       {t['rules']:.3f} s")
        print(f"probes             {cells}")
        print(f"probe time         {probe_time:.2f} s")
        print(f"verdicts/s         {cells / probe_time:.0f}")
        print(f"result             {matrix.summary.line()}")

        rule_change(runtime, ref, topo, built.applied)
        if topo.is_vpc:
            print(
                "baselines          not run on a VPC topology (nmap and scapy sr() are "
                "compared on the Classic three-tier lab)"
            )
        else:
            baselines(topo, live, matrix, probe_time)
    finally:
        teardown(runtime, ref, progress)
    print(
        f"total time         {total:.2f} s to a verified matrix "
        f"({time.monotonic() - started:.2f} s with baselines and teardown)"
    )
    return 0 if matrix.summary.ok else 1


if __name__ == "__main__":
    sys.exit(main())
