"""Benchmark: issue 13's table of figures, measured now on this machine, beside the targets.

    .venv/bin/python bench/table.py [--sizes 100,300,1000]

Every figure is measured in this process, each baseline in the same run:
  - the seed's three-tier lab verified end to end on the netns runtime and on Docker, and the
    container floor: 29 minimal containers (busybox ``sleep``, a static binary in an image of
    its own) started in parallel and removed;
  - the probe engine's sustained verdicts per second on a big generated lab
    (``bench/big_lab.py``), and the nmap prober on the three-tier cells (same verdicts?);
  - an authorize on a group of 29 members, until every member enforces it;
  - big labs of N instances on the netns runtime: built, verified cell by cell (every pair,
    one probe per behaviour class), removed, with the memory each idle instance costs;
  - then issue 33's figures (``bench/big_runs.py``): ``sgh run`` on the biggest N and on three
    times as many with its reports, the report in Chromium, an idle instance's memory, a
    one-rule change re-proven.
Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

import yaml
from big_lab import big_lab

from harness.adapters.concurrency import parallel
from harness.adapters.docker_runtime import DockerRuntime
from harness.adapters.netns_runtime import NetnsRuntime
from harness.adapters.probers.nmap_prober import NmapProber
from harness.adapters.probers.scapy_prober import ScapyProber
from harness.core.ec2 import platform as platforms
from harness.core.ec2 import rules as rulebook
from harness.core.model import Protocol, Topology
from harness.core.phases import QUIET
from harness.core.planner import plan
from harness.core.runtime import Runtime
from harness.formats import topology_file
from harness.lab import one_shot
from harness.lab.lifecycle import reconcile, teardown
from harness.lab.measure import probe_matrix, workers_for

ROOT = Path(__file__).resolve().parent.parent
THREE_TIER = ROOT / "topologies/three-tier.yaml"
FLOOR_IMAGE = "sgh-floor:busybox"


def floor_image() -> None:
    """A static busybox in an image of its own (no registry: built from Debian's package)."""
    if (
        subprocess.run(
            ["docker", "image", "inspect", FLOOR_IMAGE], capture_output=True, check=False
        ).returncode
        == 0
    ):
        return
    busybox = shutil.which("busybox") or "/bin/busybox"
    if not Path(busybox).exists():
        raise SystemExit("the container floor needs busybox-static ('make setup' installs it)")
    with tempfile.TemporaryDirectory() as context:
        shutil.copy(busybox, Path(context) / "busybox")
        (Path(context) / "Dockerfile").write_text(
            'FROM scratch\nCOPY busybox /busybox\nENTRYPOINT ["/busybox"]\n'
        )
        subprocess.run(
            ["docker", "build", "-q", "-t", FLOOR_IMAGE, context], check=True, capture_output=True
        )


def container_floor(count: int = 29) -> float:
    """Seconds for Docker alone to start ``count`` minimal containers in parallel and remove
    them, with the same client and thread pool as the Docker runtime."""
    client = DockerRuntime().client
    started = time.monotonic()
    made = parallel(
        lambda i: client.containers.run(
            FLOOR_IMAGE,
            ["sleep", "3600"],
            name=f"sgh-floor-{i}",
            network_mode="none",
            detach=True,
            labels={"sg-harness.bench": "floor"},
        ),
        range(count),
    )
    parallel(lambda c: c.remove(force=True), made)
    return time.monotonic() - started


def verified(runtime: Runtime, topo: Topology) -> tuple[float, float, dict[str, float], int, bool]:
    """Seconds to the verdict, seconds with the teardown, the phases, cells, all correct."""
    started = time.monotonic()
    answered: list[float] = []
    matrix = one_shot.verify(
        topo,
        runtime,
        ScapyProber(),
        QUIET,
        answer=lambda m: answered.append(time.monotonic() - started),
    )
    return (
        answered[0],
        time.monotonic() - started,
        matrix.timings,
        len(matrix.results),
        matrix.summary.ok,
    )


def nmap_ratio(topo: Topology) -> tuple[float, int, int]:
    """The nmap prober's time over ours on the same lab and cells, and how many verdicts agree."""
    runtime = NetnsRuntime()
    ref, built = one_shot.start(runtime, topo, QUIET)
    try:
        started = time.monotonic()
        ours = probe_matrix(topo, built.namespaces, ScapyProber(), QUIET, retry=False)
        ours_time = time.monotonic() - started
        started = time.monotonic()
        theirs = probe_matrix(topo, built.namespaces, NmapProber(), QUIET, retry=False)
        nmap_time = time.monotonic() - started
    finally:
        teardown(runtime, ref, QUIET)
    same = sum(
        a.observed.state is b.observed.state
        for a, b in zip(ours.results, theirs.results, strict=True)
    )
    return nmap_time / ours_time, same, len(ours.results)


def load_generated(n: int, groups: int = 0) -> Topology:
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as handle:
        yaml.safe_dump(big_lab(n, groups), handle, sort_keys=False)
    try:
        return topology_file.load(handle.name)
    finally:
        os.unlink(handle.name)


def authorize_29() -> float:
    """Median seconds from an authorize on a group of 29 members to its enforcement on all
    (the call returns when every member's transaction has been applied)."""
    topo = load_generated(29, groups=1)  # every instance is a member of g0
    runtime = NetnsRuntime()
    ref, built = one_shot.start(runtime, topo, QUIET)
    times = []
    try:
        applied = built.applied
        for k in range(5):
            extra = rulebook.make_rule(
                platforms.CLASSIC,
                Protocol.TCP,
                9000 + k,
                9000 + k,
                cidr=rulebook.parse_cidr("203.0.113.0/28", platforms.CLASSIC),
            )
            target = next(group for group in topo.groups if group.name == "g0")
            grown = rulebook.authorize(target, [extra], egress=False)
            groups = tuple(grown if group is target else group for group in topo.groups)
            changed = replace(topo, groups=groups)
            started = time.monotonic()
            after = reconcile(runtime, ref, changed, applied, QUIET)
            times.append(time.monotonic() - started)
            if len(after.plan.install) != 29:
                raise SystemExit(f"the change reached {len(after.plan.install)} members, not 29")
            applied = reconcile(runtime, ref, topo, after.applied, QUIET).applied
    finally:
        teardown(runtime, ref, QUIET)
    return sorted(times)[len(times) // 2]


def busy_jiffies() -> int:
    """CPU time spent so far, all cores, not idle (user, system, interrupts), in jiffies."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:8]]
    return fields[0] + fields[1] + fields[2] + fields[5] + fields[6]


def kernel_quiet(most: float = 600.0) -> tuple[float, float]:
    """Wait until the machine is quiet (under a tenth of a core busy over half a second): a
    removed lab's namespaces are freed by the kernel in the background, and a big lab's take
    minutes of a core (conntrack's cleanup walks the whole table once per namespace). The
    seconds waited and the CPU seconds spent meanwhile."""
    hz = os.sysconf("SC_CLK_TCK")
    started, first = time.monotonic(), busy_jiffies()
    while time.monotonic() - started < most:
        before = busy_jiffies()
        time.sleep(0.5)
        if busy_jiffies() - before < hz * 0.05:
            break
    return time.monotonic() - started, (busy_jiffies() - first) / hz


def mem_available() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) * 1024
    return 0


@dataclass
class Big:
    n: int
    build: float = 0.0
    remove: float = 0.0
    memory: float = 0.0  # bytes per idle instance: MemAvailable's drop over the nodes
    full: int = 0  # cells of the full plan (counted for small N only)
    cells: int = 0
    pairs: int = 0
    verify: float = 0.0  # plan, probe, compare and retry
    plan: float = 0.0  # planning with the oracle's expectations (the slowest worker's)
    probe: float = 0.0  # the batches and the prober (the slowest worker's), and the retry
    workers: int = 1  # processes the run was shared out over, each with a share of sources
    wrong: int = 0
    freed: float = 0.0  # seconds the kernel went on freeing the namespaces after removal
    freed_cpu: float = 0.0  # CPU seconds it spent on that

    @property
    def total(self) -> float:
        return self.build + self.verify + self.remove

    def line(self) -> str:
        full = f" (the full plan: {self.full:,})" if self.full else ""
        shared = (
            f" in {self.workers} processes, each a share of the sources,"
            if self.workers > 1
            else ""
        )
        return (
            f"big lab N={self.n}: {self.total:.1f} s in all: built in {self.build:.2f} s, "
            f"verified in {self.verify:.1f} s, removed in {self.remove:.2f} s; "
            f"{self.pairs:,} pairs, {self.cells:,} cells{full},{shared} planned with their "
            f"expectations in {self.plan:.1f} s, batched and probed in {self.probe:.1f} s "
            f"({self.cells / self.probe:,.0f} verdicts/s), compared and gathered in "
            f"{self.verify - self.plan - self.probe:.1f} s, "
            + ("all correct" if not self.wrong else f"{self.wrong} wrong")
            + f"; {self.memory / 2**20:.2f} MiB per idle instance; the kernel then freed the "
            f"namespaces for {self.freed:.0f} s ({self.freed_cpu:.0f} CPU s)"
        )


def big(n: int) -> Big:
    """Build a generated lab of ``n`` instances on the netns runtime, measure it idle, verify
    it cell by cell (one probe per pair and behaviour class), remove it."""
    topo = load_generated(n)
    row = Big(n)
    if n <= 100:  # the full plan: 300 instances plan 1.27 million cells, 1000 plan 28 million
        row.full = len(plan(load_generated(n)))  # a topology of its own: no paths kept
    runtime = NetnsRuntime()
    kernel_quiet()
    before = mem_available()
    started = time.monotonic()
    ref, built = one_shot.start(runtime, topo, QUIET)
    row.build = time.monotonic() - started
    time.sleep(1.0)
    row.memory = (before - mem_available()) / max(1, len(built.namespaces.pids))
    try:
        started = time.monotonic()
        matrix = probe_matrix(topo, built.namespaces, ScapyProber(), QUIET, classes=True)
        row.verify = time.monotonic() - started
        row.plan = matrix.timings["plan"]
        row.probe = matrix.timings["probe"] + matrix.timings.get("retry", 0.0)
        row.workers = workers_for(topo)
        row.wrong = len(matrix.wrong())
        row.cells = len(matrix.results)
        row.pairs = len({(r.cell.source, r.cell.target, r.cell.address) for r in matrix.results})
    finally:
        started = time.monotonic()
        teardown(runtime, ref, QUIET)
        row.remove = time.monotonic() - started
    row.freed, row.freed_cpu = kernel_quiet()
    return row


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="100,300,1000")
    parser.add_argument("--big-only", action="store_true", help="only the big labs")
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",") if size]
    if args.big_only:
        for n in sizes:
            print(big(n).line())
        return 0
    print(
        f"machine: {os.cpu_count()} cores, {platform.machine()}, Linux {platform.release()}, "
        f"{mem_available() / 2**30:.1f} GiB available"
    )
    three = topology_file.load(THREE_TIER)
    vpc = topology_file.load(ROOT / "topologies/vpc-three-tier.yaml")

    kernel_quiet()
    netns_verdict, netns_total, netns_t, cells, ok = verified(NetnsRuntime(), three)
    print(
        f"three-tier, netns: verdict in {netns_verdict:.2f} s ({netns_total:.2f} s with the "
        f"teardown), {cells} cells, {'all correct' if ok else 'NOT all correct'}; phases "
        + ", ".join(f"{k} {v:.2f}" for k, v in netns_t.items())
    )
    vpc_verdict, _, _, vpc_cells, vpc_ok = verified(NetnsRuntime(), vpc)
    print(
        f"vpc three-tier, netns: verdict in {vpc_verdict:.2f} s, {vpc_cells} cells, "
        f"{'all correct' if vpc_ok else 'NOT all correct'}"
    )
    full = topology_file.load(ROOT / "topologies/vpc-full-path.yaml")
    kernel_quiet()
    full_verdict, _, full_t, full_cells, full_ok = verified(NetnsRuntime(), full)
    print(
        f"vpc full path (routers, network ACLs, a NAT gateway, peerings, an egress-only "
        f"gateway), netns: verdict in {full_verdict:.2f} s, {full_cells} cells, "
        f"{'all correct' if full_ok else 'NOT all correct'}; phases "
        + ", ".join(f"{k} {v:.2f}" for k, v in full_t.items())
    )

    floor_image()
    floor = container_floor()
    docker_verdict, docker_total, docker_t, _, docker_ok = verified(DockerRuntime(), three)
    floor_after = container_floor()
    floor_mean = (floor + floor_after) / 2
    print(
        f"three-tier, docker: verdict in {docker_verdict:.2f} s ({docker_total:.2f} s with "
        f"the teardown), {'all correct' if docker_ok else 'NOT all correct'}; phases "
        + ", ".join(f"{k} {v:.2f}" for k, v in docker_t.items())
    )
    print(
        f"container floor: 29 busybox sleep containers started and removed in {floor:.2f} s "
        f"before, {floor_after:.2f} s after"
    )

    kernel_quiet()
    ratio, same, compared = nmap_ratio(three)
    print(
        f"nmap prober: {ratio:.1f} x our time on the same {compared} cells, {same} verdicts equal"
    )
    kernel_quiet()
    change = authorize_29()
    print(f"authorize on a group of 29 members: {change * 1000:.0f} ms (median of 5)")

    rows = [big(n) for n in sizes]
    for row in rows:
        print(row.line())

    fastest = max(rows, key=lambda row: row.cells / row.probe if row.probe else 0.0)
    biggest = max(rows, key=lambda row: row.n)
    print()
    print(f"| figure | today (2 cores) | target | now ({os.cpu_count()} cores) |")
    print("|---|---|---|---|")
    print(f"| three-tier verified end to end, netns runtime | - | ≤ 2 s | {netns_verdict:.2f} s |")
    print(
        f"| three-tier verified end to end, Docker | 13.6-14.8 s = 2.0-2.3 x the floor | "
        f"≤ 1.5 x the container floor | {docker_verdict:.2f} s = "
        f"{docker_verdict / floor_mean:.2f} x the floor ({floor_mean:.2f} s) |"
    )
    print(
        "| probe engine, sustained on a big lab | 4,600-6,250 verdicts/s | ≥ 20,000 verdicts/s | "
        f"{fastest.cells / fastest.probe:,.0f} verdicts/s (N={fastest.n}, "
        f"{fastest.cells:,} cells) |"
    )
    print(
        f"| the same cells by the nmap prober | 11-15 x slower | ≥ 20 x slower | "
        f"{ratio:.1f} x slower |"
    )
    print(f"| authorize on a group of 29 members | 91 ms | ≤ 30 ms | {change * 1000:.0f} ms |")
    print(
        f"| {biggest.n} instances built, verified, removed, netns | - | ≤ 60 s | "
        f"{biggest.total:.1f} s: built {biggest.build:.1f} + verified {biggest.verify:.1f} "
        f"({biggest.cells:,} cells) + removed {biggest.remove:.1f} |"
    )
    print(f"| memory per idle instance, netns | - | ≤ 8 MiB | {biggest.memory / 2**20:.2f} MiB |")
    print()
    print("Issue 33: big labs through the front door (bench/big_runs.py)")
    from big_runs import table as front_door  # it uses this module's helpers

    for line in front_door([biggest.n], huge=3 * biggest.n):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
