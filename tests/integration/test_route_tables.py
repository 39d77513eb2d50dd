"""Route tables on packets, on both runtimes (``topologies/vpc-route-tables.yaml``): a subnet
reaches the internet, and the internet it, only where its route table sends the packets (or
their replies) to the internet gateway; every cell of the lab must match the oracle, and the
cells named below must have AWS's verdicts."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from persistent import probed, result_of

from harness.core.matrix import CellResult, Matrix
from harness.core.model import State
from harness.core.runtime import Runtime
from harness.formats import topology_file

ROOT = Path(__file__).resolve().parents[2]
TOPO = topology_file.load(ROOT / "tests/integration/topologies/vpc-route-tables.yaml")


@pytest.fixture(scope="module")
def matrix(runtime: Runtime) -> Iterator[Matrix]:
    with probed(runtime, TOPO) as found:
        yield found


def cell(matrix: Matrix, source: str, target: str, address: str) -> CellResult:
    return result_of(matrix, source, target, port=80, address=address)


def public(name: str) -> str:
    instance = TOPO.nodes_by_name[name]
    assert instance.kind == "instance"
    nic = instance.nics[0]  # type: ignore[union-attr]
    return str(nic.public)


def test_every_cell_is_as_the_rules_and_the_routes_say(matrix: Matrix) -> None:
    assert matrix.summary.ok, matrix.summary.line()


def test_a_subnet_answers_only_the_networks_its_route_table_sends_to_the_gateway(
    matrix: Matrix,
) -> None:
    """partner-a's table routes only 198.51.100.0/24 to the gateway: the partner gets an
    answer, a stranger's request arrives but its reply has no route."""
    partner = cell(matrix, "partner", "api", public("api"))
    assert partner.observed.state is State.OPEN and partner.correct
    stranger = cell(matrix, "stranger", "api", public("api"))
    assert stranger.observed.state is State.FILTERED and stranger.correct
    assert "route table partners has no route to 203.0.113.5" in stranger.expected.why


def test_the_main_table_serves_subnets_without_their_own(matrix: Matrix) -> None:
    """main-a names no table: the VPC's main table (everywhere) routes it to the gateway."""
    reached = cell(matrix, "stranger", "web", public("web"))
    assert reached.observed.state is State.OPEN and reached.correct


def test_the_hairpin_needs_a_route_both_ways(matrix: Matrix) -> None:
    """web reaches api at its private address by the local route, but not at its public
    address: api's reply to web's public address has no route to the gateway."""
    private = TOPO.nodes_by_name["api"].address
    assert cell(matrix, "web", "api", str(private)).observed.state is State.OPEN
    hairpin = cell(matrix, "web", "api", public("api"))
    assert hairpin.observed.state is State.FILTERED and hairpin.correct
    assert "route table partners has no route to" in hairpin.expected.why
