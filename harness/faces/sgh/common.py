"""What the ``sgh`` commands share: report paths, the prober option, printing a matrix."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from harness.adapters import runtimes
from harness.core.matrix import Matrix
from harness.core.probing import Prober
from harness.errors import InvalidInput
from harness.faces import exit_codes
from harness.formats import sources
from harness.formats.matrix_report import FORMS, render, to_json, write_json


def add_source_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--var",
        action="append",
        metavar="NAME=VALUE",
        help="Terraform: a variable's value (JSON for lists and numbers); repeatable",
    )
    parser.add_argument(
        "--parameter",
        action="append",
        metavar="NAME=VALUE",
        help="CloudFormation: a parameter's value; repeatable",
    )
    parser.add_argument(
        "--outside",
        action="append",
        metavar="REF",
        help="a group the input names but does not define, deliberately (a literal sg- id, "
        "a module's output, an import): it becomes an empty group; repeatable",
    )


def source_options(args: argparse.Namespace, lenient: bool = False) -> sources.Options:
    """The values the user gives for the input: ``--var``, ``--parameter``, ``--outside``."""
    return sources.Options(
        sources.pairs(args.var, "--var"),
        sources.pairs(args.parameter, "--parameter"),
        lenient,
        frozenset(args.outside or ()),
    )


def load_sources(
    args: argparse.Namespace, *, quiet: bool = False, lenient: bool = False
) -> sources.Loaded:
    """The topology of a command's sources; an import's choices go to stderr, ``-q`` or not
    (each can change what is tested; ``quiet``: ``sgh import`` writes them into the file)."""
    loaded = sources.load(args.sources, source_options(args, lenient))
    if loaded.imported is not None and not quiet:
        for note in loaded.notes:
            print(f"sgh: import: {note}", file=sys.stderr)
    return loaded


def add_junit_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--junit", metavar="PATH", help="also write a JUnit XML report to PATH (for CI)"
    )


def add_html_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--html", metavar="PATH", help="also write a self-contained HTML report to PATH"
    )


def add_by_port_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--by-port",
        action="store_true",
        help="also print one reachability grid a probed port (which ports are open)",
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


def add_json_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", metavar="PATH", help="write the matrix as JSON to PATH")
    parser.add_argument(
        "--json-form",
        choices=FORMS,
        default="auto",
        help="cells: every cell an object; compact: tables and columns of numbers "
        "(docs: reference/json-report); auto (default): compact beyond 100,000 cells",
    )


def add_runtime_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--runtime",
        choices=runtimes.NAMES,
        default=None,
        help=runtimes.HELP,
    )


def make_prober(name: str, timeout: float) -> Prober:
    """The prober a command asked for (imported lazily: the pure commands need neither)."""
    if timeout <= 0:
        raise InvalidInput(f"--timeout must be positive, not {timeout}")
    if name == "nmap":
        from harness.adapters.probers.nmap_prober import NmapProber

        return NmapProber()  # its timing is TUNING, made for lab networks
    from harness.adapters.probers.scapy_prober import ScapyProber

    return ScapyProber(timeout=timeout)


def report_matrix(
    matrix: Matrix,
    json_path: Path | None,
    junit_path: Path | None,
    html_path: Path | None = None,
    *,
    by_port: bool = False,
    notes: Sequence[str] = (),
    form: str = "auto",
) -> int:
    """Print the matrix, write the reports asked for (the JSON document, in ``form``, with
    the import's ``notes``: the choices that made the lab); the exit status."""
    print(render(matrix, by_port))
    document = to_json(matrix, form) if json_path or html_path else {}  # one for both
    if document and notes:
        document["import_notes"] = list(notes)
    if json_path is not None:
        write_json(document, json_path)
    if html_path is not None:
        from harness.formats import html_report

        html_path.write_text(html_report.matrix_page(document), encoding="utf-8")
    if junit_path is not None:
        from harness.formats import junit_report

        junit_report.write(junit_report.matrix_report(matrix), junit_path)
    return exit_codes.OK if matrix.summary.ok else exit_codes.DISAGREE
