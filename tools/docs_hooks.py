"""MkDocs hooks: the reference pages written from the code, at every build.

A page holds a marker (``<!-- generated: cli -->``, ``api``, ``ec2-tools``, ``exit-codes``)
that the build replaces by text made from the parsers, the action registry and the exit codes
themselves, so a command, an option or an action cannot exist without its entry.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import re
from collections.abc import Iterator
from typing import Any

MARKER = re.compile(r"<!-- generated: ([a-z0-9-]+) -->")
AWS_API = "https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_{}.html"


def _escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _subcommands(parser: argparse.ArgumentParser) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {choice.dest: choice.help for choice in action._choices_actions}
            for name, sub in action.choices.items():
                sub.description = sub.description or helps.get(name)
                yield name, sub


def _options(parser: argparse.ArgumentParser) -> list[str]:
    rows = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction | argparse._HelpAction):
            continue
        if action.option_strings:
            name = ", ".join(f"`{o}`" for o in action.option_strings)
            if action.nargs != 0 and action.metavar is not None:
                name += f" `{action.metavar}`"
            elif action.nargs != 0 and action.choices:
                name += " `{" + ",".join(map(str, action.choices)) + "}`"
        else:
            name = f"`{action.metavar or action.dest}`"
        text = action.help or ""
        if text == argparse.SUPPRESS:
            continue
        default = action.default
        if default not in (None, False, [], argparse.SUPPRESS) and "default" not in text:
            text += f" (default: {default})"
        rows.append(f"| {name} | {_escape(text)} |")
    return rows


def _command(prefix: str, parser: argparse.ArgumentParser, depth: int) -> list[str]:
    lines = [f"{'#' * depth} `{prefix}`", ""]
    if parser.description:
        lines += [parser.description[0].upper() + parser.description[1:] + ".", ""]
    usage = parser.format_usage().removeprefix("usage: ").strip()
    lines += ["```", re.sub(r"\s+", " ", usage), "```", ""]
    subs = list(_subcommands(parser))
    rows = _options(parser)
    if rows:
        lines += ["| argument | what |", "|---|---|", *rows, ""]
    for name, sub in subs:
        lines += _command(f"{prefix} {name}", sub, min(depth + 1, 4))
    return lines


def cli() -> str:
    from harness.faces.sgh.main import _parser

    parser = _parser()
    lines: list[str] = []
    for name, sub in _subcommands(parser):
        lines += _command(f"sgh {name}", sub, 2)
    return "\n".join(lines)


def ec2_tools() -> str:
    from harness.faces import ec2_tools as tools

    lines: list[str] = []
    for name in tools.COMMANDS:
        out = io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
            tools.execute(name, ["--help"])
        lines += [f"## `{name}`", "", "```", out.getvalue().strip(), "```", ""]
    return "\n".join(lines)


def api() -> str:
    from harness.core.ec2.actions import ACTIONS

    lines = [
        "| action | kind | members the lab models |",
        "|---|---|---|",
    ]
    for name in sorted(ACTIONS):
        action = ACTIONS[name]
        kind = "change" if action.changes else "describe"
        members = ", ".join(f"`{m}`" for m in sorted(action.supported)) or "none"
        lines.append(f"| [{name}]({AWS_API.format(name)}) | {kind} | {members} |")
    return "\n".join(lines)


def exit_codes() -> str:
    from harness.faces import exit_codes as codes

    names = [n for n in vars(codes) if n.isupper()]
    rows = [f"| `{n}` | {getattr(codes, n)} |" for n in names]
    return "\n".join([codes.__doc__ or "", "", "| name | status |", "|---|---|", *rows])


def platforms() -> str:
    from dataclasses import fields

    from harness.core.ec2.platform import CLASSIC, VPC

    lines = ["| situation | EC2-Classic | VPC |", "|---|---|---|"]
    for situation in sorted(set(CLASSIC.said) | set(VPC.said)):
        cells = []
        for platform in (CLASSIC, VPC):
            said = platform.said.get(situation)
            cells.append("-" if said is None else f"`{said[0]}`: {_escape(said[1])}")
        lines.append(f"| {situation} | {cells[0]} | {cells[1]} |")
    lines += ["", "| fact | EC2-Classic | VPC |", "|---|---|---|"]
    for field in fields(CLASSIC):
        if field.name in ("name", "said", "protocols"):
            continue
        values = [_escape(str(getattr(p, field.name))) for p in (CLASSIC, VPC)]
        lines.append(f"| `{field.name}` | {values[0]} | {values[1]} |")
    return "\n".join(lines)


MAKERS = {
    "platforms": platforms,
    "cli": cli,
    "ec2-tools": ec2_tools,
    "api": api,
    "exit-codes": exit_codes,
}


def on_page_markdown(markdown: str, **_: Any) -> str:
    def made(found: re.Match[str]) -> str:
        return MAKERS[found.group(1)]()

    return MARKER.sub(made, markdown)
