"""The ``sgh`` command line.

Exit status: 0 when every cell agrees with the rules, 1 when any disagrees or could not be
probed, 2 for invalid input or a missing prerequisite (one line on stderr, no traceback).
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
from pathlib import Path
from types import FrameType

from harness import topology as topology_loader
from harness.compiler import compile_instance
from harness.errors import HarnessError, InvalidInput
from harness.matrix import Matrix, expectations
from harness.model import State
from harness.planner import plan
from harness.probe.base import Prober
from harness.progress import Progress
from harness.report import render, to_json
from harness.store import DEFAULT_LAB

EXIT_OK, EXIT_DISAGREE, EXIT_INVALID, EXIT_INTERRUPTED = 0, 1, 2, 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sgh",
        description="EC2 security groups enforced on Docker containers and verified by packets.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="start a topology's lab, probe it, compare with the rules")
    run.add_argument("topology", help="a topology file (YAML)")
    run.add_argument("--json", metavar="PATH", help="write the matrix as JSON to PATH")
    run.add_argument("--keep", action="store_true", help="keep the lab running afterwards")
    run.add_argument(
        "--timeout",
        type=float,
        default=2.0,
        metavar="S",
        help="scapy prober: longest wait for answers after a batch is sent (default 2.0)",
    )
    run.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    add_prober_option(run)
    add_junit_option(run)

    rep = sub.add_parser(
        "replay", help="replay a seed walkthrough (default-group, three-tier) with real probes"
    )
    rep.add_argument("scenario", help="a scenario name (default-group, three-tier) or file")
    rep.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    add_prober_option(rep)
    add_junit_option(rep)

    lint = sub.add_parser(
        "lint", help="warn about risky, redundant or oversized rules (exit 1 when any)"
    )
    lint.add_argument("topology", nargs="?", help="a topology file (default: the live lab)")
    lint.add_argument("--home", help="with no topology: the labs' home directory")
    lint.add_argument("--lab", help="with no topology: the lab (default: $SGH_LAB, else current)")

    check = sub.add_parser("check", help="validate a topology and print what its rules imply")
    check.add_argument("topology")

    comp = sub.add_parser("compile", help="print the nftables policy of instances")
    comp.add_argument("topology")
    comp.add_argument("instance", nargs="*", help="instance names (default: all)")

    clean = sub.add_parser("clean", help="remove labs left behind (containers by label)")
    clean.add_argument("lab", nargs="?", help="only this lab (default: every sg-harness lab)")

    def with_home(p: argparse.ArgumentParser, lab: bool = True) -> argparse.ArgumentParser:
        p.add_argument("--home", help="the labs' home directory (default: $SGH_HOME or ~/.sgh)")
        if lab:
            p.add_argument("--lab", help="the lab (default: $SGH_LAB, else the current lab)")
        p.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
        return p

    lab = sub.add_parser("lab", help="persistent labs: up, down, status")
    lab_sub = lab.add_subparsers(dest="lab_command", required=True, metavar="ACTION")
    up = with_home(
        lab_sub.add_parser("up", help="start (or reconcile) a lab and make it current"), False
    )
    up.add_argument(
        "name", nargs="?", help=f"the lab's name (default: current, else '{DEFAULT_LAB}')"
    )
    down = with_home(
        lab_sub.add_parser("down", help="remove a lab's containers (state kept)"), False
    )
    down.add_argument("name", nargs="?", help="the lab (default: $SGH_LAB, else the current)")
    with_home(lab_sub.add_parser("status", help="show a lab's state and containers"))

    host = sub.add_parser("host", help="outside hosts of a persistent lab (workstations, ...)")
    host_sub = host.add_subparsers(dest="host_command", required=True, metavar="ACTION")
    host_add = with_home(host_sub.add_parser("add", help="add an outside host"))
    host_add.add_argument("name")
    host_add.add_argument("address", help="an IPv4 address outside the instances' subnet")
    host_rm = with_home(host_sub.add_parser("rm", help="remove an outside host"))
    host_rm.add_argument("name")

    matrix = with_home(sub.add_parser("matrix", help="probe the running lab now, compare"))
    matrix.add_argument("--json", metavar="PATH", help="write the matrix as JSON to PATH")
    matrix.add_argument("--timeout", type=float, default=2.0, metavar="S")
    add_prober_option(matrix)
    add_junit_option(matrix)

    serve = with_home(sub.add_parser("serve", help="serve the EC2 Query API for a lab"), True)
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default loopback)")
    serve.add_argument("--port", type=int, default=8773, help="port (default 8773)")
    serve.add_argument(
        "--require-auth",
        action="store_true",
        help="accept only keys made with 'sgh key add', with verified SigV4 signatures",
    )

    key = sub.add_parser("key", help="access keys for 'sgh serve'")
    key_sub = key.add_subparsers(dest="key_command", required=True, metavar="ACTION")
    key_add = key_sub.add_parser("add", help="make an access key for an account")
    key_add.add_argument("account", help="a 12-digit account id")
    key_add.add_argument("--home", help="the labs' home directory")
    return parser


def add_junit_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--junit", metavar="PATH", help="also write a JUnit XML report to PATH (for CI)"
    )


def output_path(option: str, value: str | None) -> Path | None:
    """A report path checked before any work starts (its directory must exist)."""
    if value is None:
        return None
    path = Path(value)
    if not path.parent.exists():
        raise InvalidInput(f"{option} {value}: directory {path.parent} does not exist")
    return path


def add_prober_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--prober",
        choices=("scapy", "nmap"),
        default="scapy",
        help="what measures the matrix: scapy (default, fastest) or nmap (a second opinion)",
    )


def make_prober(name: str, timeout: float) -> Prober:
    """The prober a command asked for (imported lazily: the pure commands need neither)."""
    if timeout <= 0:
        raise InvalidInput(f"--timeout must be positive, not {timeout}")
    if name == "nmap":
        from harness.probe.nmap_prober import NmapProber

        return NmapProber()  # its timing is TUNING, made for lab networks
    from harness.probe.scapy_prober import ScapyProber

    return ScapyProber(timeout=timeout)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        if args.command == "run":
            return _run(args)
        if args.command == "check":
            return _check(args)
        if args.command == "replay":
            return _replay(args)
        if args.command == "lint":
            return _lint(args)
        if args.command == "compile":
            return _compile(args)
        if args.command == "clean":
            return _clean(args)
        from harness import cli_lab

        return cli_lab.dispatch(args)
    except HarnessError as err:
        print(f"sgh: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        done = "; the lab was removed" if args.command in ("run", "replay") else ""
        print(f"sgh: interrupted{done}", file=sys.stderr)
        return EXIT_INTERRUPTED


def _run(args: argparse.Namespace) -> int:
    from harness.lab import verify
    from harness.runtime.docker import DockerRuntime

    topology = topology_loader.load(args.topology)
    prober = make_prober(args.prober, args.timeout)
    json_path = output_path("--json", args.json)
    junit_path = output_path("--junit", args.junit)
    progress = Progress(enabled=not args.quiet)
    matrix = verify(topology, DockerRuntime(), prober, progress, keep=args.keep)
    return report_matrix(matrix, json_path, junit_path)


def report_matrix(matrix: Matrix, json_path: Path | None, junit_path: Path | None) -> int:
    """Print the matrix, write the reports asked for; the exit status."""
    print(render(matrix))
    if json_path is not None:
        json_path.write_text(json.dumps(to_json(matrix), indent=2) + "\n", encoding="utf-8")
    if junit_path is not None:
        from harness import junit

        junit.write(junit.matrix_report(matrix), junit_path)
    return EXIT_OK if matrix.summary.ok else EXIT_DISAGREE


def _replay(args: argparse.Namespace) -> int:
    from harness import scenario as scenarios
    from harness.replay import find, replay

    loaded = scenarios.load(find(args.scenario))
    prober = make_prober(args.prober, 2.0)
    junit_path = output_path("--junit", args.junit)
    progress = Progress(enabled=not args.quiet)
    print(f"replaying '{loaded.name}': {loaded.title}")
    if loaded.source:
        print(f"from {loaded.source}")
    for host in loaded.hosts:
        print(
            f"outside host {host.name} {host.address}" + (f" ({host.about})" if host.about else "")
        )

    def show(result: scenarios.StepResult) -> None:
        print()
        print("\n".join(scenarios.render_step(result)), flush=True)

    outcome = replay(loaded, prober, progress, on_step=show)
    matched = sum(result.ok for result in outcome.results)
    print()
    print(
        f"replay {loaded.name}: {matched} of {len(outcome.results)} steps match the seed"
        + ("" if outcome.ok else "; see DIFFERS above")
    )
    if junit_path is not None:
        from harness import junit

        junit.write(junit.replay_report(loaded.name, outcome.results), junit_path)
    return EXIT_OK if outcome.ok else EXIT_DISAGREE


def _lint(args: argparse.Namespace) -> int:
    from harness.lint import lint

    if args.topology:
        topology = topology_loader.load(args.topology)
        where = topology.source
    else:
        from harness.livelab import PersistentLab
        from harness.store import Home

        home = Home(args.home)
        lab = PersistentLab(home, home.resolve(args.lab))
        try:
            topology = lab.topology()
        finally:
            lab.close()
        where = f"lab '{lab.name}'"
    findings = lint(topology)
    for finding in findings:
        print("\n".join(finding.lines()))
    if not findings:
        print(
            f"{where}: no findings ({len(topology.groups)} groups, "
            f"{sum(len(g.rules) for g in topology.groups)} rules)"
        )
        return EXIT_OK
    kinds = sorted({finding.kind for finding in findings})
    print(f"{where}: {len(findings)} findings ({', '.join(kinds)})")
    return EXIT_DISAGREE


def _check(args: argparse.Namespace) -> int:
    topology = topology_loader.load(args.topology)
    cells = plan(topology)
    expected = expectations(topology, cells)
    counts = dict.fromkeys(State, 0)
    for expectation in expected.values():
        counts[expectation.state] += 1
    print(
        f"{topology.source}: lab '{topology.name}', {len(topology.instances)} instances, "
        f"{len(topology.hosts)} hosts, {len(topology.groups)} groups, {len(cells)} cells "
        f"({counts[State.OPEN]} open, {counts[State.CLOSED]} closed, "
        f"{counts[State.FILTERED]} filtered expected)"
    )
    return EXIT_OK


def _compile(args: argparse.Namespace) -> int:
    topology = topology_loader.load(args.topology)
    by_name = {instance.name: instance for instance in topology.instances}
    names = args.instance or list(by_name)
    for name in names:
        if name not in by_name:
            raise InvalidInput(f"{topology.source}: no instance named '{name}'")
    print("\n".join(compile_instance(topology, by_name[name]) for name in names), end="")
    return EXIT_OK


def _clean(args: argparse.Namespace) -> int:
    from harness.runtime.docker import DockerRuntime

    runtime = DockerRuntime()
    removed = runtime.clean(args.lab, Progress())
    what = f"lab '{args.lab}'" if args.lab else "sg-harness labs"
    print(f"removed {removed} containers of {what}")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
