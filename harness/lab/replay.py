"""Replaying a seed scenario on a fresh persistent lab, step by step, with real probes.

The lab lives in a temporary home and is removed when the replay ends, whatever the outcome
(success, a step that differs, an error, Ctrl-C). ``ec2-*`` steps run the harness's own
console commands in this process; nmap runs inside the source machine's network namespace;
telnet is a real TCP connection from the source's namespace.
"""

from __future__ import annotations

import shutil
import socket
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Protocol as TypingProtocol

from harness.adapters import netns
from harness.adapters.probers.nmap_prober import TUNING, scan
from harness.adapters.sqlite_store import Home
from harness.core.ec2 import plane as ec2
from harness.core.matrix import Matrix
from harness.core.model import Protocol, State
from harness.core.phases import Phases
from harness.core.probing import Prober
from harness.errors import InvalidInput, LabError
from harness.formats.matrix_report import cell_line
from harness.formats.scenario_file import (
    PUBLIC_NAME,
    ScanMeaning,
    Scenario,
    Step,
    StepResult,
    compare_ec2,
    compare_scans,
    scanned_ports,
    seed_connection,
    seed_scan,
    telnet_lines,
)
from harness.lab.persistent import PersistentLab

CONNECT_TIMEOUT = 2.0


class Console(TypingProtocol):
    """How a replay runs a legacy command in this process (the face gives the ``ec2-*``
    tools): an exit status, the lines on stdout and the lines on stderr."""

    def __call__(self, command: str, argv: Sequence[str]) -> tuple[int, list[str], list[str]]: ...


def shipped() -> Traversable:
    """The scenarios shipped in the package (``harness/scenarios``)."""
    return resources.files("harness").joinpath("scenarios")


def find(name: str) -> Path:
    """A scenario by name (``default-group``) or by path."""
    path = Path(name)
    if path.suffix in (".yaml", ".yml") or path.exists():
        if not path.is_file():
            raise InvalidInput(f"no scenario file {name}")
        return path
    candidate = shipped().joinpath(f"{name}.yaml")
    if not candidate.is_file():
        names = (item.name for item in shipped().iterdir() if item.name.endswith(".yaml"))
        known = ", ".join(sorted(n.removesuffix(".yaml") for n in names)) or "none found"
        raise InvalidInput(f"no scenario '{name}' (known: {known})")
    return Path(str(candidate))


@dataclass
class Replay:
    scenario: Scenario
    results: list[StepResult] = field(default_factory=list)
    matrix: Matrix | None = None

    @property
    def ok(self) -> bool:
        return bool(self.results) and all(result.ok for result in self.results)


@dataclass(frozen=True)
class _Machine:
    """A machine a step names: the scenario's name, its node in the lab, its address."""

    name: str
    node: str
    address: str

    def __str__(self) -> str:
        label = self.name if self.node == self.name else f"{self.name} ({self.node})"
        return f"{label} {self.address}"


class _Run:
    """The state of one replay: the lab, and the names the scenario gives its instances."""

    def __init__(
        self, scenario: Scenario, lab: PersistentLab, home: Path, prober: Prober, console: Console
    ) -> None:
        self.scenario = scenario
        self.console = console
        self.lab = lab
        self.home = home
        self.prober = prober
        self.names: dict[str, str] = {}  # scenario name -> instance id
        self.substitutions: dict[str, str] = {}  # the seed's instance ids -> the lab's
        self.matrix: Matrix | None = None

    def ends(self, step: Step) -> tuple[_Machine, _Machine]:
        """The step's source and target machines, from one read of the lab's state."""
        nodes = self.lab.topology().nodes_by_name
        machines = []
        for name in (step.source, step.target):
            node = self.names.get(name, name)
            found = nodes.get(node)
            if found is None:
                raise InvalidInput(f"{self.scenario.path}: no machine '{name}' at this step")
            machines.append(_Machine(name, node, str(found.address)))
        return machines[0], machines[1]

    # -- the steps --------------------------------------------------------------------------

    def step(self, step: Step, progress: Phases) -> StepResult:
        started = time.monotonic()
        if step.kind == "matrix":
            result = self.whole_matrix(step, progress)
        else:
            handlers: dict[str, Callable[[Step], StepResult]] = {
                "ec2": self.ec2,
                "nmap": self.nmap,
                "telnet": self.telnet,
                "check": self.check,
            }
            result = handlers[step.kind](step)
        result.seconds = time.monotonic() - started
        return result

    def ec2(self, step: Step) -> StepResult:
        argv = [self.substitutions.get(arg, arg) for arg in step.argv]
        try:
            code, lines, errors = self.console(
                argv[0], [*argv[1:], "--home", str(self.home), "--lab", self.lab.name]
            )
        except InvalidInput as err:
            raise InvalidInput(f"{self.scenario.path}: step {step.number}: {err}") from None
        observed = lines + [f"(stderr) {line}" for line in errors]
        ran = " ".join(argv)
        if code != 0:
            return StepResult(step, False, f"{argv[0]} exited {code}", ran, observed)
        if argv[0] in ("ec2-run-instances", "ec2-run"):
            self._name_instances(step, lines)
        if not step.seed:
            return StepResult(step, True, "the command succeeded (the seed shows no output)", ran)
        problem = compare_ec2(step.seed, lines)
        if problem:
            return StepResult(step, False, problem, ran, observed)
        return StepResult(
            step,
            True,
            "every seed line is in the output (ids, owners, dates, addresses normalised)",
            ran,
            observed,
        )

    def _name_instances(self, step: Step, lines: list[str]) -> None:
        ours = [line.split("\t")[1] for line in lines if line.startswith("INSTANCE")]
        seed_ids = [s.split()[1] for s in step.seed if s.startswith("INSTANCE")]
        self.substitutions.update(zip(seed_ids, ours, strict=False))
        if step.name:
            if len(ours) == 1:
                self.names[step.name] = ours[0]
            else:
                for index, instance in enumerate(ours, start=1):
                    self.names[f"{step.name}-{index}"] = instance

    def nmap(self, step: Step) -> StepResult:
        source, target = self.ends(step)
        address = target.address
        argv = [address if PUBLIC_NAME.fullmatch(arg) else arg for arg in step.argv[1:]]
        found = scan(self.lab.live().netns(source.node), [*argv, *TUNING])
        ports = {
            port: found.port_state(address, port.split("/")[1], int(port.split("/")[0]))
            or "not scanned"
            for port in scanned_ports(argv)
        }
        seen = ScanMeaning(found.host_up(address), ports)
        documented = seed_scan(step.seed, argv)
        ran = f"from {source}: nmap {' '.join(argv)} (to {target})"
        observed = nmap_text(found.text)
        problem = compare_scans(documented, seen)
        if problem:
            return StepResult(step, False, problem, ran, observed)
        return StepResult(step, True, seen.describe(), ran, observed)

    def telnet(self, step: Step) -> StepResult:
        source, target = self.ends(step)
        address = target.address
        port = int(step.argv[-1])
        outcome, detail = self._connect(source.node, address, port)
        want = seed_connection(step.seed)
        ran = f"from {source}: a TCP connection to {address} port {port}"
        observed = telnet_lines(address, outcome)
        if outcome is not want:
            return StepResult(
                step, False, f"the seed shows {want}, the connection was {detail}", ran, observed
            )
        return StepResult(step, True, f"tcp/{port} {outcome} ({detail})", ran, observed)

    def _connect(self, node: str, address: str, port: int) -> tuple[State, str]:
        def attempt() -> tuple[State, str]:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.settimeout(CONNECT_TIMEOUT)
            try:
                sock.connect((address, port))
                return State.OPEN, "connected"
            except ConnectionRefusedError:
                return State.CLOSED, "refused"
            except TimeoutError:
                return State.FILTERED, f"no answer in {CONNECT_TIMEOUT:g} s"
            except OSError as err:
                return State.FILTERED, err.strerror or str(err)
            finally:
                sock.close()

        return netns.call_in(self.lab.live().netns(node), attempt)

    def check(self, step: Step) -> StepResult:
        source, target = self.ends(step)
        address = target.address
        protocol, _, port_text = step.check.partition("/")
        if protocol not in ("tcp", "udp") or not port_text.isdigit():
            raise InvalidInput(f"{self.scenario.path}: step {step.number}: check '{step.check}'")
        kind = "-sU" if protocol == Protocol.UDP else "-sS"
        argv = ["-Pn", kind, "-p", port_text, address]
        found = scan(self.lab.live().netns(source.node), [*argv, *TUNING])
        state, word = found.verdict(address, protocol, int(port_text)) or (None, "not scanned")
        ran = f"from {source}: nmap {' '.join(argv)} (not in the seed)"
        observed = nmap_text(found.text)
        assert step.expect is not None
        if state is not step.expect:
            return StepResult(
                step, False, f"{step.check} expected {step.expect}, nmap saw {word}", ran, observed
            )
        return StepResult(step, True, f"{step.check} {word}, as expected", ran, observed)

    def whole_matrix(self, step: Step, progress: Phases) -> StepResult:
        matrix = self.lab.matrix(self.prober, progress)
        self.matrix = matrix
        observed = [cell_line(result) for result in matrix.wrong()[:20]]
        ran = f"{matrix.prober} prober, every cell of the lab"
        return StepResult(step, matrix.summary.ok, matrix.summary.line(), ran, observed)


def nmap_text(text: str) -> list[str]:
    """nmap's normal output as a terminal shows it: its first and last lines are comments in
    an ``-oN`` file (``# Nmap 7.93 scan initiated ...``, ``# Nmap done at ...``)."""
    return [line.removeprefix("# ").split(" as: ")[0] for line in text.splitlines()]


def replay(
    scenario: Scenario,
    prober: Prober,
    progress: Phases,
    console: Console,
    on_step: Callable[[StepResult], None] | None = None,
    *,
    runtime: str | None = None,
) -> Replay:
    """Run every step of ``scenario`` on a fresh lab (on ``runtime``, by name); the lab is
    removed at the end."""
    outcome = Replay(scenario)
    home = Path(tempfile.mkdtemp(prefix="sgh-replay-"))
    name = f"replay-{scenario.name}"
    lab = PersistentLab(Home(home), name, create=True)
    try:
        lab.use_runtime(runtime)
        lab.up(progress)
        for host in scenario.hosts:
            lab.act(partial(ec2.add_host, name=host.name, address=host.address), progress)
        run = _Run(scenario, lab, home, prober, console)
        for step in scenario.steps:
            try:
                result = run.step(step, progress)
            except LabError as err:
                result = StepResult(step, False, f"could not run: {err}")
            outcome.results.append(result)
            if on_step is not None:
                on_step(result)
        outcome.matrix = run.matrix
    finally:
        try:
            lab.down(progress)
        finally:
            lab.close()
            shutil.rmtree(home, ignore_errors=True)
    return outcome
