"""The importers over a directory of real files: per format, how many imported, how many
verified by packets (``sgh run``: every cell correct), how many were refused, and why.

    .venv/bin/python bench/import_corpus.py [DIR] [--no-verify]

DIR defaults to ../shared/corpus; each file of it is one source (README-like files, ``*.md``,
are skipped). The format is the file's folder under DIR. Verification builds each imported
lab on Docker, probes it and removes it.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

from harness.adapters.docker_runtime import DockerRuntime
from harness.adapters.probers.scapy_prober import ScapyProber
from harness.errors import HarnessError
from harness.faces.progress import Progress
from harness.formats import sources
from harness.formats.imports.deployment import UndefinedReference
from harness.lab.one_shot import verify

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", nargs="?", default=str(ROOT.parent / "shared" / "corpus"))
    parser.add_argument("--no-verify", action="store_true", help="import only, build no lab")
    args = parser.parse_args()
    base = Path(args.directory)
    files = sorted(p for p in base.rglob("*") if p.is_file() and p.suffix != ".md")
    if not files:
        print(f"{base}: no files", file=sys.stderr)
        return 2
    runtime = None if args.no_verify else DockerRuntime()
    prober = ScapyProber()
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    reasons: list[str] = []
    started = time.perf_counter()
    for path in files:
        kind = path.parent.name if path.parent != base else "(top)"
        counts[kind]["files"] += 1
        told: list[str] = []  # what the one-line errors asked for: --outside REF
        try:
            loaded = _load(path, told)
        except HarnessError as err:
            counts[kind]["refused"] += 1
            reasons.append(f"  refused  {path.relative_to(base)}: {_short(str(err), path)}")
            continue
        counts[kind]["imported"] += 1
        counts[kind]["told"] += bool(told)
        topology = loaded.topology
        line = (
            f"  imported {path.relative_to(base)}"
            f"{''.join(f' --outside {ref}' for ref in told)}: {len(topology.groups)} groups, "
            f"{len(topology.instances)} instances, {len(topology.hosts)} hosts"
        )
        if runtime is not None:
            begin = time.perf_counter()
            matrix = verify(topology, runtime, prober, Progress(enabled=False))
            summary = matrix.summary
            if summary.ok:
                counts[kind]["verified"] += 1
            line += f"; {summary.line()} in {time.perf_counter() - begin:.1f} s"
        reasons.append(line)
    print("\n".join(reasons))
    print()
    print(f"{'format':<22}{'files':>6}{'imported':>10}{'verified':>10}{'refused':>9}")
    total: Counter[str] = Counter()
    for kind in sorted(counts):
        c = counts[kind]
        total.update(c)
        verified = str(c["verified"]) if runtime is not None else "-"
        print(f"{kind:<22}{c['files']:>6}{c['imported']:>10}{verified:>10}{c['refused']:>9}")
    verified = str(total["verified"]) if runtime is not None else "-"
    print(
        f"{'total':<22}{total['files']:>6}{total['imported']:>10}{verified:>10}"
        f"{total['refused']:>9}"
    )
    print(
        f"({total['told']} imported only with --outside, as their one-line error said; "
        f"{time.perf_counter() - started:.1f} s)"
    )
    broken = runtime is not None and total["verified"] != total["imported"]
    return 1 if broken else 0


def _load(path: Path, told: list[str]) -> sources.Loaded:
    """The source imported as a user would after reading each one-line error that names a
    group outside the input (``--outside REF``); ``told`` collects the options given."""
    while True:
        try:
            return sources.load([str(path)], sources.Options(outside=frozenset(told)))
        except UndefinedReference as err:
            if err.ref in told:
                raise
            told.append(err.ref)


def _short(message: str, path: Path) -> str:
    return message.replace(str(path), "").lstrip(": ")


if __name__ == "__main__":
    sys.exit(main())
