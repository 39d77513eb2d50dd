"""Benchmark: issue 33's figures, big labs through the front door, measured now on this machine.

    .venv/bin/python bench/big_runs.py [--sizes 1000] [--huge 3000]

- ``sgh run`` on a generated lab of N instances (``bench/big_lab.py N 10``) with the default
  options and every report (``--json --junit --html``), as a user runs it: its wall time and
  peak resident memory (``wait4``'s, as ``/usr/bin/time`` reports it: the largest process of
  the command, a probe worker included), and the report files' sizes;
- that run's HTML report opened in headless Chromium: the time to its first cells drawn;
- the memory an idle instance costs on the netns runtime (N instances built and left idle):
  what the lab itself holds (the kernel's unreclaimable slab, page tables and stacks that grew,
  and the proportional set size of the lab's processes: its keepers and nodes), and, as the
  earlier figure was taken, MemAvailable's drop (which also counts the building process's own
  growth);
- a one-rule change on a running lab of N instances, re-proven: the change enforced (the
  lifecycle's live reconcile), then the matrix proven again from the last one
  (:func:`harness.lab.measure.reprove`), against probing every cell again in the same process;
- the probe engine's sustained verdicts a second on a lab of 300 (the first figure's run);
- ``sgh run`` on 3,000 instances (9 million pairs) with ``--json``: wall, peak memory, phases.
Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import yaml
from big_lab import big_lab
from report_paint import first_paint
from table import kernel_quiet, load_generated, mem_available

from harness.adapters.netns_keeper import read
from harness.adapters.netns_runtime import NetnsRuntime
from harness.adapters.probers.scapy_prober import ScapyProber
from harness.core.model import Protocol, Rule
from harness.core.phases import QUIET
from harness.lab import one_shot
from harness.lab.lifecycle import reconcile, teardown
from harness.lab.measure import probe_matrix, reprove

SGH = Path(sys.executable).parent / "sgh"


@dataclass
class Run:
    """One ``sgh run`` as a user runs it."""

    n: int
    wall: float = 0.0
    peak: int = 0  # bytes
    status: int = 0
    document: dict[str, object] = field(default_factory=dict)
    sizes: dict[str, int] = field(default_factory=dict)
    paint: float = 0.0
    drawn: int = 0

    def line(self) -> str:
        summary = self.document.get("summary_line", "no summary")
        timings = self.document.get("timings", {})
        assert isinstance(timings, dict)
        phases = ", ".join(f"{k} {v:.1f}" for k, v in timings.items())
        files = ", ".join(f"{k} {v / 2**20:.1f} MiB" for k, v in self.sizes.items())
        painted = f"; HTML first paint {self.paint:.2f} s" if self.paint else ""
        return (
            f"sgh run N={self.n} (plan {self.document.get('plan')}): {self.wall:.1f} s, peak "
            f"RSS {self.peak / 2**30:.2f} GiB, exit {self.status}; {summary}; phases {phases}; "
            f"{files}{painted}"
        )


def sgh_run(n: int, directory: Path, *, reports: bool = True) -> Run:
    """``sgh run`` on a generated lab of ``n`` instances, timed and measured by ``wait4``."""
    topology = directory / f"big-{n}.yaml"
    topology.write_text(yaml.safe_dump(big_lab(n, 10), sort_keys=False))
    outputs = {"json": directory / f"big-{n}.json"}
    if reports:
        outputs |= {"junit": directory / f"big-{n}.xml", "html": directory / f"big-{n}.html"}
    argv = [str(SGH), "run", str(topology), "--runtime", "netns", "-q"]
    for kind, path in outputs.items():
        argv += [f"--{kind}", str(path)]
    kernel_quiet()
    started = time.monotonic()
    pid = os.fork()
    if pid == 0:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.execv(argv[0], argv)
    _, status, usage = os.wait4(pid, 0)
    run = Run(
        n, time.monotonic() - started, usage.ru_maxrss * 1024, os.waitstatus_to_exitcode(status)
    )
    run.document = json.loads(outputs["json"].read_text())
    run.sizes = {kind: path.stat().st_size for kind, path in outputs.items()}
    if "html" in outputs:
        run.paint, run.drawn = first_paint(outputs["html"])
    return run


@dataclass
class Idle:
    n: int
    own: float = 0.0  # bytes a node: kernel growth and the lab's processes' PSS
    available: float = 0.0  # bytes a node: MemAvailable's drop
    kernel: float = 0.0
    processes: float = 0.0

    def line(self) -> str:
        return (
            f"idle lab N={self.n}, netns: {self.own / 2**20:.2f} MiB a node held by the lab "
            f"(kernel {self.kernel / 2**20:.2f}, its processes' PSS "
            f"{self.processes / 2**20:.2f}); MemAvailable dropped "
            f"{self.available / 2**20:.2f} MiB a node (the building process included)"
        )


def meminfo() -> dict[str, int]:
    found = {}
    for line in Path("/proc/meminfo").read_text().splitlines():
        key, _, value = line.partition(":")
        found[key] = int(value.split()[0]) * 1024
    return found


def pss(pid: int) -> int:
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return 0
    return next(
        int(line.split()[1]) * 1024 for line in text.splitlines() if line.startswith("Pss:")
    )


@dataclass
class Change:
    n: int
    cells: int = 0
    enforce: float = 0.0
    reprove: float = 0.0
    probed: int = 0
    carried: int = 0
    everything: float = 0.0
    same: bool = False

    def line(self) -> str:
        return (
            f"one-rule change on N={self.n}: enforced in {self.enforce:.2f} s, re-proven in "
            f"{self.reprove:.2f} s ({self.probed:,} cells probed, {self.carried:,} carried "
            f"over of {self.cells:,}); every cell probed again: {self.everything:.1f} s; "
            + ("the same verdicts" if self.same else "DIFFERENT verdicts")
        )


def idle_and_change(n: int) -> tuple[Idle, Change]:
    """A lab of ``n`` built and left idle (its memory), proven, changed by one rule (g3 admits
    its own port from g1 too: no new port interval) and proven again from the last proof,
    then every cell probed again."""
    before = load_generated(n, 10)
    runtime = NetnsRuntime()
    kernel_quiet()
    first, available = meminfo(), mem_available()
    ref, built = one_shot.start(runtime, before, QUIET)
    idle, change = Idle(n), Change(n)
    try:
        time.sleep(1.0)
        then = meminfo()
        nodes = len(built.namespaces.pids)
        idle.available = (available - mem_available()) / nodes
        grown = sum(then[k] - first[k] for k in ("SUnreclaim", "PageTables", "KernelStack"))
        held = sum(pss(entry.pid) for entry in read(runtime.record(ref)))
        idle.kernel, idle.processes = grown / nodes, held / nodes
        idle.own = idle.kernel + idle.processes
        proof = probe_matrix(before, built.namespaces, ScapyProber(), QUIET)
        groups = {group.name: group for group in before.groups}
        g3 = before.groups.index(groups["g3"])
        added = Rule(Protocol.TCP, 8003, 8003, group=groups["g1"].key)
        changed = list(before.groups)
        changed[g3] = replace(changed[g3], rules=(*changed[g3].rules, added))
        after = replace(before, groups=tuple(changed))
        started = time.monotonic()
        now = reconcile(runtime, ref, after, built.applied, QUIET)
        change.enforce = time.monotonic() - started
        started = time.monotonic()
        again = reprove(after, now.namespaces, ScapyProber(), QUIET, proof, runtime="netns")
        change.reprove = time.monotonic() - started
        change.cells, change.carried = len(again.results), again.carried
        change.probed = change.cells - change.carried
        started = time.monotonic()
        every = probe_matrix(after, now.namespaces, ScapyProber(), QUIET)
        change.everything = time.monotonic() - started
        change.same = {r.cell: r.observed.state for r in again.results} == {
            r.cell: r.observed.state for r in every.results
        } and again.summary.ok
    finally:
        teardown(runtime, ref, QUIET)
    return idle, change


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000", help="the sgh run sizes (the last: the rest)")
    parser.add_argument("--huge", type=int, default=3000, help="the biggest run (0: none)")
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",") if size]
    rows = table(sizes, args.huge)
    for line in rows:
        print(line)
    return 0


def table(sizes: list[int], huge: int) -> list[str]:
    """Every figure's line, then issue 33's table."""
    lines: list[str] = []
    with tempfile.TemporaryDirectory(prefix="sgh-bench-") as temporary:
        directory = Path(temporary)
        runs = [sgh_run(n, directory) for n in sizes]
        lines += [run.line() for run in runs]
        engine = sgh_run(300, directory, reports=False)
        lines.append(engine.line())
        n = sizes[-1]
        idle, change = idle_and_change(n)
        lines += [idle.line(), change.line()]
        biggest = sgh_run(huge, directory, reports=False) if huge else None
        if biggest is not None:
            lines.append(biggest.line())
    run = runs[-1]
    probe = engine.document["timings"]
    assert isinstance(probe, dict)
    cells = engine.document["summary"]
    assert isinstance(cells, dict)
    lines += [
        "",
        f"| figure | before (2 cores, 24 GB) | target | now ({os.cpu_count()} cores) |",
        "|---|---|---|---|",
        f"| `sgh run` {n:,} instances, default options, netns, with `--json --junit --html` | "
        f"killed for memory after ~6 min (21.5 GB) | ≤ 60 s wall, peak RSS ≤ 4 GiB | "
        f"{run.wall:.1f} s, {run.peak / 2**30:.2f} GiB ({run.document.get('plan')} plan) |",
        f"| the same lab's HTML report opened in headless Chromium, first paint | - | ≤ 5 s | "
        f"{run.paint:.2f} s ({run.sizes.get('html', 0) / 2**20:.1f} MiB) |",
        f"| memory per idle instance, netns (N = {n:,}) | 2.6-2.7 MiB | ≤ 1 MiB | "
        f"{idle.own / 2**20:.2f} MiB held by the lab ({idle.available / 2**20:.2f} MiB by "
        "MemAvailable, the builder included) |",
        f"| a one-rule change on a {n:,}-instance lab, re-proven | whole lab re-probed | ≤ 2 s | "
        f"{change.reprove:.2f} s ({change.probed:,} cells; all: {change.everything:.1f} s) |",
    ]
    if biggest is not None:
        lines.append(
            f"| {huge:,} instances built, verified (every pair, every class) and removed, netns "
            f"| - | ≤ 5 min, peak RSS ≤ 8 GiB | {biggest.wall:.0f} s, "
            f"{biggest.peak / 2**30:.2f} GiB |"
        )
    lines.append(
        f"| probe engine, sustained (N = 300) | 85,000 verdicts/s | ≥ 85,000 | "
        f"{cells['cells'] / probe['probe']:,.0f} verdicts/s |"
    )
    return lines


if __name__ == "__main__":
    sys.exit(main())
