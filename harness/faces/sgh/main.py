"""The ``sgh`` command line.

Exit status: 0 when every cell agrees with the rules, 1 when any disagrees or could not be
probed, 2 for invalid input or a missing prerequisite (one line on stderr, no traceback), 3
when ``sgh diff --fail-on-open`` finds a cell the change opens to outside addresses.
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Callable, Sequence
from types import FrameType
from typing import Any

from harness.adapters import runtimes
from harness.core.matrix import CellResult, Matrix, expectations
from harness.core.model import State, Topology
from harness.core.nftables import compile_instance
from harness.core.planner import Cell, plan
from harness.errors import HarnessError, InvalidInput
from harness.faces import exit_codes
from harness.faces.progress import Progress
from harness.faces.sgh import labs
from harness.faces.sgh.common import (
    add_by_port_option,
    add_html_option,
    add_json_options,
    add_junit_option,
    add_prober_option,
    add_runtime_option,
    add_source_options,
    load_sources,
    make_prober,
    output_path,
    report_matrix,
    source_options,
)
from harness.formats import topology_file
from harness.formats.matrix_report import explain

Subparsers = Any  # argparse's _SubParsersAction (private in typeshed)


def add_running_lab_options(parser: argparse.ArgumentParser, instead: str) -> None:
    """--home and --lab of a command that acts on the running lab unless given ``instead``."""
    parser.add_argument("--home", help=f"with no {instead}: the labs' home directory")
    parser.add_argument(
        "--lab", help=f"with no {instead}: the lab (default: $SGH_LAB, else current)"
    )


def _parser() -> argparse.ArgumentParser:
    from importlib.metadata import version

    parser = argparse.ArgumentParser(
        prog="sgh",
        description="EC2 security groups enforced on Docker containers and verified by packets.",
    )
    parser.add_argument("--version", action="version", version=f"sgh {version('sg-harness')}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    _add_run(sub)
    _add_replay(sub)
    _add_lint(sub)
    _add_check(sub)
    _add_diff(sub)
    _add_explain(sub)
    _add_import(sub)
    _add_compile(sub)
    _add_clean(sub)
    _add_doctor(sub)
    labs.add_commands(sub)
    return parser


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _parse(argv: list[str] | None) -> argparse.Namespace:
    """The command line. A command's optional positionals (``late``) may also come after its
    options (``sgh explain A B -t FILE tcp/80``): argparse takes positionals only in one run."""
    parser = _parser()
    args, extra = parser.parse_known_args(argv)
    for name in getattr(args, "late", ()):
        if extra and getattr(args, name) is None and not extra[0].startswith("-"):
            setattr(args, name, extra.pop(0))
    if extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    signal.signal(signal.SIGTERM, _interrupt)
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        status = handler(args)
        sys.stdout.flush()
        return status
    except BrokenPipeError:  # the reader went away (| head): labs were cleaned up on the way
        return exit_codes.reader_gone()
    except HarnessError as err:
        print(f"sgh: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        # one-shot labs are removed before the interrupt gets here (or an error says why not)
        done = "; the lab was removed" if args.command in ("run", "replay") else ""
        print(f"sgh: interrupted{done}", file=sys.stderr)
        return exit_codes.INTERRUPTED


def _add_run(sub: Subparsers) -> None:
    run = sub.add_parser("run", help="start a topology's lab, probe it, compare with the rules")
    run.set_defaults(handler=_run)
    run.add_argument(
        "sources",
        nargs="+",
        metavar="SOURCE",
        help="a topology file (YAML or Compose), or groups to import: AWS JSON, Terraform "
        "(.tf, plan or state JSON), CloudFormation",
    )
    add_source_options(run)
    add_json_options(run)
    run.add_argument("--keep", action="store_true", help="keep the lab running afterwards")
    run.add_argument(
        "--timeout",
        type=float,
        default=2.0,
        metavar="S",
        help="scapy prober: longest wait for answers after a batch is sent (default 2.0)",
    )
    run.add_argument(
        "--plan",
        choices=("auto", "full", "classes"),
        default="auto",
        help="full: every port interval the rules cut, per pair; classes: per pair, one probe "
        "for each behaviour the rules imply; auto (default): full below 40,000 pairs of "
        "nodes (200 by 200), classes from there",
    )
    run.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    add_prober_option(run)
    add_runtime_option(run)
    add_junit_option(run)
    add_html_option(run)
    add_by_port_option(run)


def _run(args: argparse.Namespace) -> int:
    from harness.lab.one_shot import verify

    loaded = load_sources(args)
    topology = loaded.topology
    prober = make_prober(args.prober, args.timeout)
    json_path = output_path("--json", args.json)
    junit_path = output_path("--junit", args.junit)
    html_path = output_path("--html", args.html)
    progress = Progress(enabled=not args.quiet)
    status: list[int] = []  # the report is written before the lab is removed

    def answer(matrix: Matrix) -> None:
        status.append(
            report_matrix(
                matrix,
                json_path,
                junit_path,
                html_path,
                by_port=args.by_port,
                notes=loaded.notes,
                form=args.json_form,
            )
        )
        sys.stdout.flush()

    verify(
        topology,
        runtimes.make(args.runtime),
        prober,
        progress,
        keep=args.keep,
        answer=answer,
        classes=None if args.plan == "auto" else args.plan == "classes",
    )
    return status[0]


def _add_replay(sub: Subparsers) -> None:
    rep = sub.add_parser(
        "replay", help="replay a seed walkthrough (default-group, three-tier) with real probes"
    )
    rep.set_defaults(handler=_replay)
    rep.add_argument("scenario", help="a scenario name (default-group, three-tier) or file")
    rep.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    add_prober_option(rep)
    add_runtime_option(rep)
    add_junit_option(rep)
    add_html_option(rep)


def _replay(args: argparse.Namespace) -> int:
    from harness.formats import scenario_file
    from harness.lab.replay import find, replay

    loaded = scenario_file.load(find(args.scenario))
    prober = make_prober(args.prober, 2.0)
    junit_path = output_path("--junit", args.junit)
    html_path = output_path("--html", args.html)
    progress = Progress(enabled=not args.quiet)
    print(f"replaying '{loaded.name}': {loaded.title}")
    if loaded.source:
        print(f"from {loaded.source}")
    for host in loaded.hosts:
        print(
            f"outside host {host.name} {host.address}" + (f" ({host.about})" if host.about else "")
        )

    def show(result: scenario_file.StepResult) -> None:
        print()
        print("\n".join(scenario_file.render_step(result)), flush=True)

    outcome = replay(loaded, prober, progress, _console, on_step=show, runtime=args.runtime)
    matched = sum(result.ok for result in outcome.results)
    print()
    print(
        f"replay {loaded.name}: {matched} of {len(outcome.results)} steps match the seed"
        + ("" if outcome.ok else "; see DIFFERS above")
    )
    if junit_path is not None:
        from harness.formats import junit_report

        junit_report.write(junit_report.replay_report(loaded.name, outcome.results), junit_path)
    if html_path is not None:
        from harness.formats.html_report import replay_page
        from harness.formats.matrix_report import to_json

        document = to_json(outcome.matrix) if outcome.matrix is not None else None
        page = replay_page(loaded.name, loaded.title, outcome.results, document)
        html_path.write_text(page, encoding="utf-8")
    return exit_codes.OK if outcome.ok else exit_codes.DISAGREE


def _console(command: str, argv: Sequence[str]) -> tuple[int, list[str], list[str]]:
    """The replay's console: the ``ec2-*`` tools, run in this process."""
    from harness.faces import ec2_tools

    outcome = ec2_tools.execute(command, argv)
    return outcome.code, outcome.out, outcome.err


def _add_lint(sub: Subparsers) -> None:
    lint = sub.add_parser(
        "lint", help="warn about risky, redundant or oversized rules (exit 1 when any)"
    )
    lint.set_defaults(handler=_lint)
    lint.add_argument(
        "sources", nargs="*", metavar="SOURCE", help="a topology or sources (default: the lab)"
    )
    add_source_options(lint)
    add_running_lab_options(lint, "topology")
    lint.add_argument(
        "--sarif", metavar="PATH", help="also write the findings as SARIF 2.1.0 to PATH"
    )
    lint.add_argument(
        "--prove",
        action="store_true",
        help="build the lab and send the packets behind each 'reachable' / 'not reachable'",
    )
    lint.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    add_prober_option(lint)
    add_runtime_option(lint)


def _lint(args: argparse.Namespace) -> int:
    from harness.core.audit import NOTE, Finding, failing
    from harness.core.lint import lint
    from harness.core.model import Origin

    sarif_path = output_path("--sarif", args.sarif)
    normalised: list[Finding] = []
    if args.sources:
        loaded = load_sources(args, lenient=True)  # a bad rule is a finding, not a refusal
        topology = loaded.topology
        where = topology.source
        for rule in loaded.imported.normalised if loaded.imported else ():
            construct = rule.origin.construct or str(rule.origin)
            normalised.append(Finding("normalised", construct, rule.message, origin=rule.origin))
        for err in loaded.dropped:
            origin = Origin(err.source, err.line or 0, err.where)
            normalised.append(Finding("invalid-rule", err.where, err.problem, origin=origin))
    else:
        topology = labs.topology(args)
        where = f"lab '{topology.name}'"
    findings = [*normalised, *lint(topology)]
    wrong = 0
    if args.prove:
        from harness.lab.audit import prove

        findings, results = prove(
            topology,
            findings,
            runtimes.make(args.runtime),
            make_prober(args.prober, 2.0),
            Progress(enabled=not args.quiet),
        )
        wrong = sum(not result.correct for result in results)
    for finding in findings:
        print("\n".join(finding.lines()))
    if sarif_path is not None:
        import json
        import os
        from importlib.metadata import version

        from harness.formats import sarif_report

        log = sarif_report.document(findings, topology.source, os.getcwd(), version("sg-harness"))
        sarif_path.write_text(json.dumps(log, indent=2) + "\n", encoding="utf-8")
    if not findings:
        print(
            f"{where}: no findings ({len(topology.groups)} groups, "
            f"{sum(len(g.all_rules) for g in topology.groups)} rules)"
        )
        return exit_codes.OK
    kinds = sorted({finding.kind for finding in findings})
    levels = [finding.level for finding in findings]
    counts = ", ".join(
        f"{levels.count(level)} {level}{'' if levels.count(level) == 1 else 's'}"
        for level in ("error", "warning", NOTE)
    )
    print(f"{where}: {len(findings)} findings ({', '.join(kinds)}): {counts}")
    if wrong:
        print(f"{where}: NOT proven: {wrong} probed cells disagree with the oracle")
    return exit_codes.DISAGREE if failing(findings) or wrong else exit_codes.OK


def _add_diff(sub: Subparsers) -> None:
    diff = sub.add_parser(
        "diff",
        help="what a change opens and closes: predicted by the oracle, proven on one lab",
    )
    diff.set_defaults(handler=_diff)
    diff.add_argument("before", metavar="BEFORE", help="a source, or a Terraform plan JSON alone")
    diff.add_argument("after", metavar="AFTER", nargs="?", help="a source (not with a plan)")
    diff.add_argument(
        "--predict-only", action="store_true", help="predict from the rules; build no lab"
    )
    diff.add_argument(
        "--fail-on-open",
        action="append",
        metavar="internet|CIDR",
        help="exit 3 when the change opens a cell to an outside host (any: 'internet', or in "
        "CIDR); repeatable",
    )
    diff.add_argument("--json", metavar="PATH", help="write the changes as JSON to PATH")
    diff.add_argument("--markdown", metavar="PATH", help="write a Markdown summary to PATH")
    add_html_option(diff)
    diff.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    add_junit_option(diff)
    add_prober_option(diff)
    add_runtime_option(diff)
    add_source_options(diff)


def _diff(args: argparse.Namespace) -> int:
    import json

    from harness.core.diff import gate, predict
    from harness.formats import diff_report, sources

    json_path = output_path("--json", args.json)
    junit_path = output_path("--junit", args.junit)
    markdown_path = output_path("--markdown", args.markdown)
    html_path = output_path("--html", args.html)
    before, after = sources.load_change(
        [args.before], [args.after] if args.after else None, source_options(args)
    )
    after_topology = after.topology  # the lab keeps BEFORE's name (prove renames AFTER)
    title = f"{args.before} -> {args.after}" if args.after else f"{args.before} (plan)"
    notes = {"before": list(before.notes), "after": list(after.notes)}
    for side, said in notes.items():  # each changes what is compared: said, -q or not
        for note in said:
            print(f"sgh: import ({side}): {note}", file=sys.stderr)
    proof: str | None = None
    proven: bool | None = None
    wrong: list[tuple[str, CellResult]] = []
    observed_after: list[CellResult] = []
    timings: dict[str, float] = {}
    if args.predict_only:
        from harness.lab.diff import same_services

        old, new = same_services(before.topology, after_topology)
        cells, _, _, changes = predict(old, new)
        count = len(cells)
    else:
        from harness.lab.diff import prove

        result = prove(
            before.topology,
            after_topology,
            runtimes.make(args.runtime),
            make_prober(args.prober, 2.0),
            Progress(enabled=not args.quiet),
        )
        changes, count, proven, wrong = (
            result.changes,
            len(result.cells),
            result.proven,
            result.wrong(),
        )
        observed_after, timings = result.observed_after, result.timings
        n_before, n_after = len(result.observed_before), len(result.observed_after)
        proof = (
            f"proven: {n_before} cells probed before and {n_after} after the live change "
            f"({result.timings['change']:.2f} s), every one as predicted"
            if proven
            else f"NOT proven: {len(wrong)} probes disagree with the prediction"
            + "".join(f"\n  {side}: {explain(r)}" for side, r in wrong[:20])
        )
    failed = gate(after_topology, changes, args.fail_on_open or [])
    print(diff_report.render(count, changes, proof, failed if args.fail_on_open else None))
    if json_path is not None:
        document = diff_report.to_json(count, changes, proven, failed)
        if notes["before"] or notes["after"]:
            document["import_notes"] = notes
        json_path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    if markdown_path is not None:
        markdown_path.write_text(
            diff_report.markdown(title, count, changes, proof, failed), encoding="utf-8"
        )
    if html_path is not None:
        from harness.formats.html_report import diff_page

        html_path.write_text(
            diff_page(
                title,
                after_topology,
                changes,
                observed=observed_after,
                summary=diff_report.headline(count, changes)
                + (f"; {proof.splitlines()[0]}" if proof else "; predicted, not proven"),
                bad=proven is False or bool(failed),
                timings=timings,
            ),
            encoding="utf-8",
        )
    if junit_path is not None:
        from harness.formats import junit_report

        junit_report.write(
            junit_report.diff_report(before.topology.name, changes, wrong, failed), junit_path
        )
    if proven is False:
        return exit_codes.DISAGREE
    if failed:
        return exit_codes.GATE
    return exit_codes.OK


def _add_doctor(sub: Subparsers) -> None:
    from harness.adapters import system

    doctor = sub.add_parser(
        "doctor", help="what this machine has and lacks for sg-harness (--fix: get it)"
    )
    doctor.set_defaults(handler=system.run)
    system.add_arguments(doctor)


def _add_explain(sub: Subparsers) -> None:
    exp = sub.add_parser(
        "explain",
        help="probe one cell (a source and a target) and say why each probe went as it did",
    )
    exp.set_defaults(handler=_explain, late=("probe",))
    exp.add_argument("source", metavar="SOURCE", help="the source node (an instance or host)")
    exp.add_argument("target", metavar="TARGET", help="the target instance")
    exp.add_argument(
        "probe", metavar="PROTO/PORT", nargs="?", help="tcp/80, udp/53, icmp (default: the planned)"
    )
    exp.add_argument(
        "-t",
        "--topology",
        action="append",
        metavar="SOURCE",
        help="build this file's lab for it (a topology or groups to import); "
        "default: the running persistent lab",
    )
    add_running_lab_options(exp, "--topology")
    exp.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    add_source_options(exp)
    add_prober_option(exp)
    add_runtime_option(exp)


def _explain(args: argparse.Namespace) -> int:
    from harness.core.planner import cells_between
    from harness.formats.matrix_report import render_cell
    from harness.formats.topology_file import parse_probe_spec

    probes = parse_probe_spec(args.probe) if args.probe else []
    prober = make_prober(args.prober, 2.0)
    progress = Progress(enabled=not args.quiet)

    def chosen(topology: Topology) -> list[Cell]:
        return cells_between(topology, args.source, args.target, probes)

    if args.topology:
        from harness.lab.one_shot import probe_some

        args.sources = args.topology
        topology = load_sources(args).topology
        results = probe_some(
            topology, chosen(topology), runtimes.make(args.runtime), prober, progress
        )
    else:
        results = labs.probe(args, chosen, prober, progress)
    print(render_cell(args.source, args.target, results))
    return exit_codes.OK if all(r.correct for r in results) else exit_codes.DISAGREE


def _add_import(sub: Subparsers) -> None:
    imp = sub.add_parser(
        "import",
        help="write the topology of AWS JSON, Terraform or CloudFormation sources (VPC format)",
    )
    imp.set_defaults(handler=_import)
    imp.add_argument("sources", nargs="+", metavar="SOURCE")
    imp.add_argument("-o", "--output", metavar="FILE", help="write it to FILE (default: stdout)")
    add_source_options(imp)


def _import(args: argparse.Namespace) -> int:
    from harness.formats.imports.yaml_writer import render

    loaded = load_sources(args, quiet=True)
    if loaded.imported is None:
        raise InvalidInput(f"{loaded.topology.source}: already a topology file; nothing to import")
    text = render(loaded.imported)
    if args.output:
        path = output_path("-o", args.output)
        assert path is not None
        path.write_text(text, encoding="utf-8")
        topology = loaded.topology
        print(
            f"wrote {path}: {len(topology.groups)} groups, {len(topology.instances)} instances "
            f"({len(loaded.imported.representatives)} representatives), "
            f"{len(topology.hosts)} outside hosts",
            file=sys.stderr,
        )
    else:
        print(text, end="")
    return exit_codes.OK


def _add_check(sub: Subparsers) -> None:
    check = sub.add_parser(
        "check", help="validate a topology; count the cells its rules expect open, closed, filtered"
    )
    check.set_defaults(handler=_check)
    check.add_argument("sources", nargs="+", metavar="SOURCE")
    add_source_options(check)


def _check(args: argparse.Namespace) -> int:
    topology = load_sources(args).topology
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
    return exit_codes.OK


def _add_compile(sub: Subparsers) -> None:
    comp = sub.add_parser("compile", help="print the nftables policy of instances")
    comp.set_defaults(handler=_compile)
    comp.add_argument("topology")
    comp.add_argument("instance", nargs="*", help="instance names (default: all)")


def _compile(args: argparse.Namespace) -> int:
    topology = topology_file.load(args.topology)
    by_name = {instance.name: instance for instance in topology.instances}
    names = args.instance or list(by_name)
    for name in names:
        if name not in by_name:
            raise InvalidInput(f"{topology.source}: no instance named '{name}'")
    print("\n".join(compile_instance(topology, by_name[name]) for name in names), end="")
    return exit_codes.OK


def _add_clean(sub: Subparsers) -> None:
    clean = sub.add_parser(
        "clean", help="remove one-shot labs left behind (sgh run --keep, crashed runs, pytest)"
    )
    clean.set_defaults(handler=_clean)
    clean.add_argument("lab", nargs="?", help="only this lab (default: every one-shot lab)")


def _clean(args: argparse.Namespace) -> int:
    """Remove one-shot labs (``sgh run``, the pytest plugin) whose process is gone; persistent
    labs have ``sgh lab down`` and ``sgh lab rm``, and a run in progress is left alone."""
    from harness.core.runtime import LabKind, LabRef
    from harness.lab.lifecycle import teardown
    from harness.lab.one_shot import in_use

    progress = Progress()
    removed = 0
    for runtime in runtimes.every():
        for info in runtime.labs():
            if info.kind is LabKind.PERSISTENT or (args.lab and info.name != args.lab):
                continue
            if in_use(info):
                progress.note(
                    f"{info.kind} lab '{info.name}' is in use by process {info.owner}; left"
                )
                continue
            removed += teardown(runtime, LabRef(info.name, info.kind), progress)
    what = f"lab '{args.lab}'" if args.lab else "one-shot sg-harness labs"
    print(f"removed {removed} nodes of {what}")
    return exit_codes.OK


if __name__ == "__main__":
    sys.exit(main())
