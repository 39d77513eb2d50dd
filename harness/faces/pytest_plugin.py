"""The sg-harness pytest plugin (entry point ``pytest11``: it loads wherever sg-harness is
installed).

    @pytest.mark.sg_topology("topologies/three-tier.yaml")
    def test_web_is_public(lab):
        lab.assert_open("internet", "web-1", "tcp/80")

- ``--sg-topology PATH``: the topology of tests with no marker; ``--sg-keep-lab``: leave the
  labs running after the session (remove them with ``sgh clean``).
- ``@pytest.mark.sg_topology(PATH)`` on a test, a class or a module (``pytestmark``): the
  nearest one wins. A relative PATH is read from the rootdir, else beside the test file.
- ``lab``: the running lab of that topology (named ``NAME-pytest``, so that it never collides
  with ``sgh run``'s lab of the same file). Each topology is started once per session and
  shared; a test marked ``@pytest.mark.sg_mutates`` gets a fresh lab of its own, removed after
  it, so it may change policies without disturbing the others.
- ``lab.assert_open/assert_closed/assert_filtered(source, target, "tcp/80", at="")`` probe one
  cell with real packets (in a VPC lab ``at`` picks the target's address; by default the
  first the source can use: private from inside the VPC, public from outside);
  ``lab.assert_matrix_matches()`` probes every cell and lists only the
  wrong ones, each with the rule (or the lack of one) behind its expectation. They raise
  :class:`SgAssertionError`, an ``AssertionError`` (so ``pytest.raises(AssertionError)`` and
  retry loops work), with the helpers' own frames hidden from the report.
- A topology file that cannot be found is one line at collection, not an error per test.
- ``lab.host("web-1")``: a testinfra host whose commands run, with this machine's tools, in the
  instance's network namespace: sockets, routes and the nftables policy are the instance's;
  files and packages are this machine's, not the instance image's.
"""

from __future__ import annotations

import itertools
import shlex
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import testinfra.host
from testinfra.backend.base import BaseBackend

from harness.adapters import netns, runtimes
from harness.core.ec2 import actions
from harness.core.matrix import Matrix
from harness.core.model import Instance, State, Topology
from harness.core.nftables import compile_instance
from harness.core.oracle import Oracle
from harness.core.paths import paths
from harness.core.phases import QUIET
from harness.core.planner import Cell
from harness.core.probing import Observation
from harness.core.runtime import LabKind, LabNamespaces, LabRef, Runtime
from harness.errors import Ec2Error, HarnessError
from harness.formats import sources, topology_file
from harness.formats.matrix_report import wrong_lines
from harness.lab import one_shot
from harness.lab.controlled import ControlledLab
from harness.lab.lifecycle import teardown
from harness.lab.measure import batches_for, probe_matrix, reprove

# Labs this session owns (their names), so a suite's own cleanup can leave them alone.
ACTIVE_LABS: set[str] = set()
_fresh = itertools.count(1)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("sg-harness", "EC2 security groups tested by packets")
    group.addoption(
        "--sg-topology", metavar="PATH", help="topology for tests without an sg_topology marker"
    )
    group.addoption(
        "--sg-keep-lab",
        action="store_true",
        help="leave the labs running after the session ('sgh clean' removes them)",
    )
    group.addoption(
        "--sg-runtime",
        choices=runtimes.NAMES,
        default=None,
        help=runtimes.HELP,
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "sg_topology(path, outside=[REF, ...]): the topology whose lab the 'lab' fixture gives "
        "(outside: groups it names that live outside it, as sgh's --outside)",
    )
    config.addinivalue_line(
        "markers", "sg_mutates: this test changes its lab; give it a fresh one of its own"
    )


class SgAssertionError(AssertionError):
    """A cell that was not what a test asserted: the message names the cell, both states and
    the rule (or the lack of one) behind what the rules imply."""


class Ec2:
    """The lab's EC2 under boto3's method names and shapes: ``lab.ec2.run_instances(...)`` is
    the action layer's RunInstances (the one every door calls), with boto3's keyword arguments
    checked against botocore's model as boto3 checks them, and enforced on the lab before it
    returns. Every action the lab serves is here, on Classic and VPC labs alike. Refusals raise
    :class:`~harness.errors.Ec2Error` with EC2's code (``err.code``). As a convenience,
    ``run_instances`` takes one instance when MinCount and MaxCount are left out."""

    def __init__(self, lab: ControlledLab, account: str) -> None:
        self._lab = lab
        self._account = account

    def __getattr__(self, method: str) -> Any:
        name = _action_names().get(method)
        if name is None:
            raise AttributeError(
                f"lab.ec2 has no action {method} (the lab serves: "
                f"{', '.join(sorted(_action_names()))})"
            )

        def call(**kwargs: Any) -> dict[str, Any]:
            if name == "RunInstances":
                kwargs.setdefault("MinCount", 1)
                kwargs.setdefault("MaxCount", kwargs["MinCount"])
            _validated(name, kwargs)
            return self._lab.call(name, self._account, kwargs)

        call.__name__ = method
        return call

    def __dir__(self) -> list[str]:
        return sorted({*super().__dir__(), *_action_names()})


@cache
def _action_names() -> dict[str, str]:
    """boto3's method names of the actions the lab serves."""
    from botocore import xform_name

    return {xform_name(name): name for name in actions.ACTIONS}


def _validated(name: str, kwargs: dict[str, Any]) -> None:
    """boto3's own check of a call's arguments (names and types, from botocore's model)."""
    import botocore.session
    from botocore.validate import ParamValidator

    model = botocore.session.get_session().get_service_model("ec2").operation_model(name)
    report = ParamValidator().validate(kwargs, model.input_shape)
    if report.has_errors():
        text = " ".join(report.generate_report().split())
        raise Ec2Error("InvalidParameterValue", f"{name}: {text}")


class SgLab:
    """A running lab of one topology, with assertions that probe it and ``ec2``, its control
    plane, to change it."""

    def __init__(self, controlled: ControlledLab) -> None:
        self.controlled = controlled
        self.runtime = controlled.runtime
        self.ec2 = Ec2(controlled, controlled.base.account)
        self._proven: Matrix | None = None  # the last matrix: changes since are proven alone

    @property
    def topology(self) -> Topology:
        """The lab's topology now (with every change made through ``ec2``)."""
        return self.controlled.topology

    @property
    def live(self) -> LabNamespaces:
        return self.controlled.namespaces

    @property
    def oracle(self) -> Oracle:
        return Oracle(self.topology)

    @property
    def name(self) -> str:
        return self.topology.name

    # -- probing ----------------------------------------------------------------------------

    def _cell(self, source: str, target: str, probe: str, at: str = "") -> tuple[Cell, Instance]:
        nodes = self.topology.nodes_by_name
        for name in (source, target):
            if name not in nodes:
                raise pytest.UsageError(f"lab '{self.name}' has no node '{name}'")
        found = nodes[target]
        if not isinstance(found, Instance):
            raise pytest.UsageError(f"'{target}' is an outside host; probes go to instances")
        try:
            probes = topology_file.parse_probe_spec(probe)
        except HarnessError as err:
            raise pytest.UsageError(str(err)) from None
        if len(probes) != 1:
            raise pytest.UsageError(f"probe '{probe}' must be one port: tcp/80, udp/53, icmp")
        address = ""
        if self.topology.is_vpc:  # a VPC cell is one of the addresses the source can use
            ways = [str(way.address) for way in paths(self.topology, nodes[source], found)]
            if at and at not in ways:
                usable = ", ".join(ways) or "none"
                raise pytest.UsageError(
                    f"{source} cannot send to {target} at {at} (its addresses for it: {usable})"
                )
            address = at or (ways[0] if ways else "")
        elif at and at != str(found.address):
            raise pytest.UsageError(f"{target}'s address is {found.address}, not {at}")
        return Cell(source, target, probes[0], address), found

    def probe(self, source: str, target: str, probe: str, at: str = "") -> Observation:
        """Send one probe now (``tcp/80``, ``udp/53``, ``icmp``): what came back. In a VPC
        lab ``at`` picks the target's address (default: the first the source can use: a
        private one from inside the VPC, a public one from outside)."""
        cell, _ = self._cell(source, target, probe, at)
        return self._send(cell)

    def _send(self, cell: Cell) -> Observation:
        batches = batches_for(self.topology, self.live, [cell], set())
        from harness.adapters.probers.scapy_prober import ScapyProber  # scapy: 0.3 s to load

        return ScapyProber(timeout=1.0).run(batches)[cell]

    def _assert_state(self, want: State, source: str, target: str, probe: str, at: str) -> None:
        __tracebackhide__ = True
        cell, instance = self._cell(source, target, probe, at)
        observed = self._send(cell)
        if observed.state is want:
            return
        node = self.topology.nodes_by_name[source]
        rules = self.oracle.evaluate(node, instance, cell.probe, cell.address)
        detail = f" ({observed.detail})" if observed.detail else ""
        where = f" at {cell.address}" if cell.address else ""
        raise SgAssertionError(
            f"{source} -> {target} {cell.probe}{where}: expected {want}, observed "
            f"{observed.state}{detail}\n  the rules say {rules.state}: {rules.why}"
        )

    def assert_open(self, source: str, target: str, probe: str, at: str = "") -> None:
        """The probe is answered: a connection accepted, a datagram answered, an echo reply."""
        __tracebackhide__ = True
        self._assert_state(State.OPEN, source, target, probe, at)

    def assert_closed(self, source: str, target: str, probe: str, at: str = "") -> None:
        """The probe passes the policy and is refused: a RST, an ICMP port unreachable."""
        __tracebackhide__ = True
        self._assert_state(State.CLOSED, source, target, probe, at)

    def assert_filtered(self, source: str, target: str, probe: str, at: str = "") -> None:
        """The probe is dropped without an answer, as EC2 drops what no rule allows."""
        __tracebackhide__ = True
        self._assert_state(State.FILTERED, source, target, probe, at)

    def matrix(self, *, everything: bool = False) -> Matrix:
        """Probe the planned cells now (with one retry of disagreeing cells): after a first
        matrix, only the pairs the changes made since (through ``ec2``) can affect, the rest
        carried over; every cell with ``everything``, or after ``host()`` was asked for (what
        is done inside a node by hand is not known)."""
        from harness.adapters.probers.scapy_prober import ScapyProber

        prober = ScapyProber()
        if self._proven is None or everything:
            found = probe_matrix(self.topology, self.live, prober, QUIET)
        else:
            found = reprove(self.topology, self.live, prober, QUIET, self._proven)
        self._proven = found
        return found

    def assert_matrix_matches(self) -> Matrix:
        """Every cell agrees with the rules; the failure lists only the wrong cells."""
        __tracebackhide__ = True
        matrix = self.matrix()
        wrong = matrix.wrong()
        if wrong:
            lines = [f"{len(wrong)} of {len(matrix.results)} cells disagree with the rules:"]
            lines += wrong_lines(matrix)  # by cause, every cell
            raise SgAssertionError("\n".join(lines))
        return matrix

    # -- inside an instance -----------------------------------------------------------------

    def host(self, name: str) -> Any:
        """A testinfra host running commands in the network namespace of ``name``."""
        if name not in self.live.pids:
            raise pytest.UsageError(f"lab '{self.name}' has no node '{name}'")
        self._proven = None  # what a command does in the node is not known: prove it all
        return testinfra.host.Host(_NetnsBackend(self.live.pids[name], name))

    def compiled_policy(self, name: str) -> str:
        """The nftables script the harness compiled for an instance."""
        node = self.topology.nodes_by_name.get(name)
        if not isinstance(node, Instance):
            raise pytest.UsageError(f"lab '{self.name}' has no instance '{name}'")
        return compile_instance(self.topology, node)

    def compiled_listing(self, name: str) -> str:
        """``nft -s list table inet sgh`` (stateless: without counter values) as it reads once
        the compiled policy is loaded: the harness loads the script into a scratch network
        namespace and lists it there (:func:`harness.adapters.netns.listing`, the listing it
        records for each install), so it compares line for line with
        ``lab.host(name).run("nft -s list table inet sgh")``."""
        return netns.listing(self.compiled_policy(name), f"nft policy of {name}")


class _NetnsBackend(BaseBackend):  # type: ignore[misc]
    """testinfra backend: ``nsenter --net`` into a container's namespace, this machine's tools."""

    NAME = "sgh-netns"

    def __init__(self, pid: int, node: str, **kwargs: Any) -> None:
        self.pid = pid
        self.node = node
        super().__init__(node, **kwargs)

    def get_pytest_id(self) -> str:
        return f"sgh-netns://{self.node}"

    def run(self, command: str, *args: str, **kwargs: Any) -> Any:
        inner = self.get_command(command, *args)
        wrapped = f"nsenter --net=/proc/{self.pid}/ns/net -- sh -c {shlex.quote(inner)}"
        done = subprocess.run(wrapped, shell=True, capture_output=True, check=False)
        return self.result(done.returncode, self.encode(inner), done.stdout, done.stderr)


class _Labs:
    """The session's labs, one per topology file, started on first use."""

    def __init__(self, keep: bool, runtime: str | None = None) -> None:
        self.keep = keep
        self.labs: dict[Source, SgLab] = {}
        self.refs: dict[str, LabRef] = {}
        self.runtime_name = runtime
        self.runtime: Runtime | None = None

    def _runtime(self) -> Runtime:
        if self.runtime is None:
            runtime = runtimes.make(self.runtime_name)
            try:
                runtime.check()
            except HarnessError as err:
                pytest.fail(f"sg-harness needs its {runtime.name} runtime: {err}")
            self.runtime = runtime
        return self.runtime

    def start(self, topology: Topology) -> SgLab:
        """A lab of the one lifecycle (a one-shot lab of the pytest kind, so that it never
        takes a lab of ``sgh run`` or a persistent lab), left by nothing on failure."""
        runtime = self._runtime()
        ACTIVE_LABS.add(topology.name)
        try:
            ref, built = one_shot.start(runtime, topology, QUIET, kind=LabKind.PYTEST)
        except HarnessError as err:
            ACTIVE_LABS.discard(topology.name)
            pytest.fail(f"could not start lab '{topology.name}': {err}", pytrace=False)
        self.refs[topology.name] = ref
        return SgLab(ControlledLab(runtime, ref, topology, built.namespaces, built.applied))

    def stop(self, lab: SgLab) -> None:
        teardown(lab.runtime, self.refs.pop(lab.name), QUIET)
        ACTIVE_LABS.discard(lab.name)

    def shared(self, source: Source) -> SgLab:
        if source not in self.labs:
            self.labs[source] = self.start(renamed(load(source), "pytest"))
        return self.labs[source]

    def close(self) -> None:
        for lab in self.labs.values():
            if self.keep:
                ACTIVE_LABS.discard(lab.name)
                self.refs.pop(lab.name, None)
            else:
                self.stop(lab)
        self.labs.clear()


def renamed(topology: Topology, suffix: str) -> Topology:
    """A pytest lab's own name (``three-tier-pytest``), so that it never takes the name of a
    lab that ``sgh run`` builds from the same file."""
    return replace(topology, name=f"{topology.name[: 39 - len(suffix)]}-{suffix}")


@dataclass(frozen=True)
class Source:
    """A marker's topology: its path, and the groups it says live outside it."""

    path: Path
    outside: frozenset[str] = frozenset()


def load(source: Source | Path) -> Topology:
    """A topology file, Compose file or any source ``sgh run`` accepts (imported)."""
    if isinstance(source, Path):
        source = Source(source)
    try:
        options = sources.Options(outside=source.outside)
        return sources.load([str(source.path)], options).topology
    except HarnessError as err:
        raise pytest.UsageError(str(err)) from None


def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    """A topology that cannot be found stops the session at once, in one line."""
    for item in items:
        info = getattr(item, "_fixtureinfo", None)
        defs = info.name2fixturedefs.get("lab") if info is not None else None
        if defs and getattr(defs[-1].func, "__module__", "") == __name__:
            _find_topology(item, config)


def _topology_source(request: pytest.FixtureRequest) -> Source:
    marker = request.node.get_closest_marker("sg_topology")
    outside = marker.kwargs.get("outside", ()) if marker is not None else ()
    if isinstance(outside, str) or not all(isinstance(ref, str) for ref in outside):
        raise pytest.UsageError("sg_topology(outside=...) takes a list of group references")
    return Source(_find_topology(request.node, request.config), frozenset(outside))


def _find_topology(node: pytest.Item | Any, config: pytest.Config) -> Path:
    marker = node.get_closest_marker("sg_topology")
    if marker is not None:
        if len(marker.args) != 1:
            raise pytest.UsageError("sg_topology takes one argument: the topology file")
        text = str(marker.args[0])
    else:
        option = config.getoption("--sg-topology")
        if not option:
            raise pytest.UsageError(
                f"{node.nodeid}: the 'lab' fixture needs @pytest.mark.sg_topology(PATH) "
                "or --sg-topology PATH"
            )
        text = str(option)
    path = Path(text)
    if path.is_absolute():
        return path
    for base in (Path(str(config.rootpath)), Path(str(node.path)).parent):
        if (base / path).exists():
            return (base / path).resolve()
    raise pytest.UsageError(
        f"{node.nodeid}: topology file '{text}' not found (looked in the rootdir "
        f"{config.rootpath} and beside the test)"
    )


@pytest.fixture(scope="session")
def _sg_labs(request: pytest.FixtureRequest) -> Iterator[_Labs]:
    labs = _Labs(
        keep=bool(request.config.getoption("--sg-keep-lab")),
        runtime=request.config.getoption("--sg-runtime"),
    )
    try:
        yield labs
    finally:
        labs.close()


@pytest.fixture
def lab(request: pytest.FixtureRequest, _sg_labs: _Labs) -> Iterator[SgLab]:
    """The running lab of the nearest ``sg_topology`` marker (or ``--sg-topology``)."""
    source = _topology_source(request)
    if request.node.get_closest_marker("sg_mutates") is None:
        yield _sg_labs.shared(source)
        return
    own = _sg_labs.start(renamed(load(source), f"pytest{next(_fresh)}"))
    try:
        yield own
    finally:
        _sg_labs.stop(own)
