"""Seed scenarios: the guide's walkthroughs as data, and how what a replay sees is judged.

A scenario file (``harness/scenarios/*.yaml``, shipped in the package) lists steps. Each step
either runs one of the seed's commands (``run:``: an ``ec2-*`` command, ``nmap``, or ``telnet``)
with the seed's own output beside it (``seed:``), checks one probe the seed implies but does not
print (``check:``), or measures the whole matrix (``matrix: true``). This module reads the
files and compares by meaning; :mod:`harness.lab.replay` runs them.

Comparisons, by kind:

- ``ec2-*`` output: ids, owners, dates and private addresses are normalised, public DNS names
  and addresses and the BLOCKDEVICE line are dropped (the lab does not model them), and every
  seed line must be found, its fields in order, in a distinct output line of the same kind.
  The 2009 tools' ``GRPNAME`` reads as the later tools' ``NAME``.
- nmap: host up or not, and each scanned port's state. Nmap 4.11's "All 100 scanned ports on X
  are: filtered" and "(The 99 ports scanned but not shown are in state: filtered)" mean what
  nmap 7's "in ignored states" and "Not shown: 99 filtered tcp ports" mean.
- telnet: "Connected to" is an open port, "Connection refused" a closed one, and silence a
  filtered one.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from harness.core.model import DEFAULT_ACCOUNT, State
from harness.errors import InvalidInput, TopologyError
from harness.formats.yaml_lines import Loader

KINDS = ("GROUP", "PERMISSION", "RESERVATION", "INSTANCE", "BLOCKDEVICE", "RETURN")
# How nmap says "every port not listed is in this state", in 4.x and in 7.x words.
FOLDED = (
    re.compile(r"All \d+ scanned ports on .* are:? (\w[\w|]*)"),
    re.compile(r"ports scanned but not shown are in state: ([\w|]+)"),
    re.compile(r"Not shown: \d+ ([\w|]+) \w+ ports"),
)
PUBLIC_NAME = re.compile(r"ec2-[\d-]+\.compute-1\.amazonaws\.com|203\.0\.113\.\d+")


@dataclass(frozen=True)
class Step:
    """One step of a walkthrough."""

    number: str
    text: str
    run: str = ""
    seed: tuple[str, ...] = ()
    source: str = ""
    target: str = ""
    name: str = ""
    check: str = ""
    expect: State | None = None
    matrix: bool = False
    line: int | None = None

    @property
    def kind(self) -> str:
        if self.matrix:
            return "matrix"
        if self.check:
            return "check"
        word = self.argv[0]
        return "ec2" if word.startswith("ec2-") else word

    @property
    def argv(self) -> list[str]:
        return shlex.split(self.run)


@dataclass
class StepResult:
    """How a step went: ``verdict`` is one line, ``observed`` what the lab printed or saw."""

    step: Step
    ok: bool
    verdict: str
    ran: str = ""
    observed: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def prompt(self) -> str:
        return "PROMPT>" if self.step.kind == "ec2" else "$"

    @property
    def ran_shown(self) -> str:
        """What was run, when it says more than the seed's command ("" otherwise)."""
        if self.ran and (self.step.kind != "ec2" or self.ran != self.step.run):
            return self.ran
        return ""

    @property
    def seed_lines(self) -> list[str]:
        return _shown(self.step.seed)

    @property
    def observed_lines(self) -> list[str]:
        return _shown(self.observed)


def _shown(lines: Iterable[str]) -> list[str]:
    """Lines as a terminal shows them: tabs expanded, blank lines left out."""
    return [text.expandtabs(8).rstrip() for text in lines if text.strip()]


def render_step(result: StepResult) -> list[str]:
    """A step as the replay prints it: the seed's lines beside the observed ones."""
    step = result.step
    lines = [f"[{step.number}] {step.text}".rstrip()]
    if step.run:
        lines.append(f"    {result.prompt} {step.run}")
    if result.ran_shown:
        lines.append(f"    ran {result.ran_shown}")
    lines.extend(f"    seed     | {text}" for text in result.seed_lines)
    lines.extend(f"    observed | {text}" for text in result.observed_lines)
    word = "MATCH " if result.ok else "DIFFERS"
    lines.append(f"    {word}   {result.verdict} ({result.seconds:.1f} s)")
    return lines


@dataclass(frozen=True)
class HostSpec:
    name: str
    address: str
    about: str = ""


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    source: str
    account: str
    hosts: tuple[HostSpec, ...]
    steps: tuple[Step, ...]
    path: str = ""


# -- reading ----------------------------------------------------------------------------------

STEP_KEYS = {"step", "text", "run", "seed", "from", "to", "name", "check", "expect", "matrix"}
COMMANDS = ("nmap", "telnet")


def load(path: str | Path) -> Scenario:
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as err:
        raise InvalidInput(f"{source}: cannot read: {err.strerror or err}") from None
    try:
        data = yaml.load(text, Loader=Loader)
    except yaml.YAMLError as err:
        raise TopologyError(source, "", f"malformed YAML: {err}") from None
    if not isinstance(data, dict):
        raise TopologyError(source, "", "a scenario must be a mapping")
    for key in ("scenario", "steps"):
        if key not in data:
            raise TopologyError(
                source, "", f"a scenario needs '{key}'", getattr(data, "line", None)
            )
    hosts = tuple(
        HostSpec(str(h["name"]), str(h["address"]), str(h.get("about", "")))
        for h in data.get("hosts") or []
    )
    steps = tuple(_step(source, index, item) for index, item in enumerate(data["steps"]))
    return Scenario(
        name=str(data["scenario"]),
        title=str(data.get("title", data["scenario"])),
        source=str(data.get("source", "")),
        account=str(data.get("account", DEFAULT_ACCOUNT)),
        hosts=hosts,
        steps=steps,
        path=source,
    )


def _step(source: str, index: int, item: Any) -> Step:
    line = getattr(item, "line", None)

    def fail(problem: str) -> TopologyError:
        return TopologyError(source, f"steps[{index}]", problem, line)

    if not isinstance(item, dict):
        raise fail("a step must be a mapping")
    unknown = sorted(set(item) - STEP_KEYS)
    if unknown:
        raise fail(f"unknown key '{unknown[0]}' (allowed: {', '.join(sorted(STEP_KEYS))})")
    kinds = [key for key in ("run", "check", "matrix") if key in item]
    if len(kinds) != 1:
        raise fail("a step needs exactly one of 'run', 'check' and 'matrix'")
    expect = None
    if "expect" in item:
        try:
            expect = State(str(item["expect"]))
        except ValueError:
            raise fail(f"expect '{item['expect']}' must be open, closed or filtered") from None
    step = Step(
        number=str(item.get("step", index + 1)),
        text=str(item.get("text", "")),
        run=str(item.get("run", "")),
        seed=tuple(str(item.get("seed", "")).rstrip("\n").splitlines()) if "seed" in item else (),
        source=str(item.get("from", "")),
        target=str(item.get("to", "")),
        name=str(item.get("name", "")),
        check=str(item.get("check", "")),
        expect=expect,
        matrix=bool(item.get("matrix", False)),
        line=line,
    )
    if step.run:
        try:
            word = step.argv[0]
        except (ValueError, IndexError):
            raise fail(f"run '{step.run}' is not a command line") from None
        if not word.startswith("ec2-") and word not in COMMANDS:
            raise fail(f"run '{word}': a step runs an ec2-* command, nmap or telnet")
    if step.kind in ("nmap", "telnet", "check") and not (step.source and step.target):
        raise fail(f"a {step.kind} step needs 'from' and 'to'")
    if step.kind == "check" and step.expect is None:
        raise fail("a check step needs 'expect'")
    return step


# -- ec2-* output -----------------------------------------------------------------------------


def ec2_lines(seed: tuple[str, ...]) -> list[str]:
    """The seed's output lines, wrapped lines joined to the line they continue."""
    lines: list[str] = []
    for raw in seed:
        if not raw.strip():
            continue
        if raw.split()[0] in KINDS or not lines:
            lines.append(raw)
        else:
            lines[-1] += "\t" + raw
    return lines


def normalize(line: str) -> list[str]:
    tokens = []
    for raw in line.split():
        token = raw
        if PUBLIC_NAME.fullmatch(token) or token.endswith(".ec2.internal"):
            continue  # public names and addresses (not modelled), the lab's private DNS name
        for pattern, replacement in (
            (r"sg-[0-9a-f]{8}", "<sg>"),
            (r"i-[0-9a-f]{8}", "<i>"),
            (r"r-[0-9a-f]{8}", "<r>"),
            (r"\d{12}", "<account>"),
            (r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+0000", "<date>"),
            (r"10\.254\.\d+\.\d+", "<private-ip>"),
            (r"GRPNAME", "NAME"),
        ):
            if re.fullmatch(pattern, raw):
                token = replacement
                break
        tokens.append(token)
    return tokens


def _is_subsequence(needle: list[str], haystack: list[str]) -> bool:
    it = iter(haystack)
    return all(token in it for token in needle)


def compare_ec2(seed: tuple[str, ...], output: list[str]) -> str | None:
    """None when the output carries every seed line; else what is missing."""
    expected = [normalize(line) for line in ec2_lines(seed) if not line.startswith("BLOCKDEVICE")]
    observed = [normalize(line) for line in output if line.strip()]
    kinds = sorted(tokens[0] for tokens in expected)
    got = sorted(tokens[0] for tokens in observed)
    if got != kinds:
        return f"the seed shows lines {kinds}, the command printed {got}"
    unused = list(observed)
    for want in expected:
        match = next((have for have in unused if _is_subsequence(want, have)), None)
        if match is None:
            return f"no output line carries the seed's '{' '.join(want)}'"
        unused.remove(match)
    return None


# -- nmap -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScanMeaning:
    """What an nmap scan says: whether the host is up and every scanned port's state."""

    host_up: bool
    ports: dict[str, str] = field(default_factory=dict)  # "22/tcp" -> "open"

    def describe(self) -> str:
        counts: dict[str, list[str]] = {}
        for port, state in sorted(self.ports.items(), key=lambda item: _port_key(item[0])):
            counts.setdefault(state, []).append(port)
        parts = []
        for state, ports in sorted(counts.items(), key=lambda item: len(item[1])):
            if len(ports) <= 3:
                parts.append(f"{', '.join(ports)} {state}")
            else:
                parts.append(f"{len(ports)} ports {state}")
        return f"host {'up' if self.host_up else 'down'}; " + "; ".join(parts)


def _port_key(port: str) -> tuple[str, int]:
    number, _, protocol = port.partition("/")
    return (protocol, int(number))


def scanned_ports(argv: list[str]) -> list[str]:
    """The ports an nmap command line scans (``-p1-100``, ``-p 22,80``), as ``22/tcp``."""
    spec = ""
    for index, arg in enumerate(argv):
        if arg == "-p" and index + 1 < len(argv):
            spec = argv[index + 1]
        elif arg.startswith("-p") and len(arg) > 2 and arg[2].isdigit():
            spec = arg[2:]
    protocol = "udp" if "-sU" in argv else "tcp"
    ports: list[str] = []
    for part in filter(None, spec.split(",")):
        low, _, high = part.partition("-")
        ports.extend(f"{port}/{protocol}" for port in range(int(low), int(high or low) + 1))
    return ports


def seed_scan(lines: tuple[str, ...], argv: list[str]) -> ScanMeaning:
    """The meaning of a documented nmap output (nmap 4.x wording, or 7.x)."""
    scanned = scanned_ports(argv)
    default: str | None = None
    explicit: dict[str, str] = {}
    host_up = False
    for line in lines:
        text = line.strip()
        folded = [found.group(1) for pattern in FOLDED if (found := pattern.search(text))]
        if folded:
            default = folded[0]
        elif match := re.match(r"(\d+)/(tcp|udp)\s+([\w|]+)", text):
            explicit[f"{match.group(1)}/{match.group(2)}"] = match.group(3)
        if match := re.search(r"\((\d+) hosts? up\)", text):
            host_up = int(match.group(1)) > 0
    ports = {port: explicit.get(port, default or "unknown") for port in scanned}
    return ScanMeaning(host_up, ports)


def compare_scans(seed: ScanMeaning, seen: ScanMeaning) -> str | None:
    """None when both say the same; else the differences."""
    problems = []
    if seed.host_up != seen.host_up:
        problems.append(
            f"the seed has the host {'up' if seed.host_up else 'down'}, "
            f"nmap saw it {'up' if seen.host_up else 'down'}"
        )
    for port, state in sorted(seed.ports.items(), key=lambda item: _port_key(item[0])):
        other = seen.ports.get(port, "not scanned")
        if other != state:
            problems.append(f"{port}: the seed shows {state}, nmap saw {other}")
    if not problems:
        return None
    shown = problems[:5]
    more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
    return "; ".join(shown) + more


# -- telnet -----------------------------------------------------------------------------------


def seed_connection(lines: tuple[str, ...]) -> State:
    text = "\n".join(lines)
    if "Connected to" in text:
        return State.OPEN
    if "Connection refused" in text:
        return State.CLOSED
    return State.FILTERED


def telnet_lines(address: str, outcome: State) -> list[str]:
    """What telnet prints for a connection's outcome (the words of netkit telnet)."""
    lines = [f"Trying {address}..."]
    if outcome is State.OPEN:
        lines += [f"Connected to {address}.", "Escape character is '^]'."]
    elif outcome is State.CLOSED:
        lines.append("telnet: Unable to connect to remote host: Connection refused")
    else:
        lines.append("telnet: Unable to connect to remote host: Connection timed out")
    return lines
