"""Network ACLs on packets, on both runtimes: each subnet of
``topologies/vpc-network-acls.yaml`` shows one behaviour AWS documents, every cell of the lab
must match the oracle, and the cells named below must have AWS's verdicts, so that a wrong
oracle cannot hide behind a wrong lab (or the other way round)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from persistent import probed, result_of

from harness.core.matrix import CellResult, Matrix
from harness.core.model import State
from harness.core.runtime import Runtime
from harness.core.vpc_path import EPHEMERAL_PORTS
from harness.formats import topology_file
from harness.formats.matrix_report import to_json

ROOT = Path(__file__).resolve().parents[2]
TOPO = topology_file.load(ROOT / "tests/integration/topologies/vpc-network-acls.yaml")


@pytest.fixture(scope="module")
def matrix(runtime: Runtime) -> Iterator[Matrix]:
    with probed(runtime, TOPO) as found:
        yield found


def cell(matrix: Matrix, source: str, target: str, port: int | None) -> CellResult:
    return result_of(matrix, source, target, port=port)


def test_every_cell_is_as_the_rules_and_the_acls_say(matrix: Matrix) -> None:
    assert matrix.summary.ok, matrix.summary.line()


def test_the_lowest_numbered_matching_entry_decides(matrix: Matrix) -> None:
    """front: 90 denies 22 before 100 allows every port; 100 allows 8080 before 110 denies
    it. The groups allow everything: the ACL alone decides."""
    ssh = cell(matrix, "internet", "web", 22)
    assert ssh.observed.state is State.FILTERED and ssh.correct
    assert "network ACL front: inbound entry 90: deny tcp 22" in ssh.expected.why
    for port in (80, 8080):
        seen = cell(matrix, "internet", "web", port)
        assert seen.observed.state is State.OPEN and seen.correct, port


def test_a_request_allowed_whose_reply_is_not_fails(matrix: Matrix) -> None:
    """back lets everything in, but lets out only tcp to 1024-32767: a reply goes to the
    client's ephemeral port (32768-60999), so no connection to app completes."""
    reply = cell(matrix, "web", "app", 8080)
    assert reply.observed.state is State.FILTERED and reply.correct
    assert "the reply (tcp to port" in reply.expected.why
    assert "network ACL back: no outbound entry matches" in reply.expected.why


def test_a_reply_passes_or_not_by_the_port_its_client_chose(matrix: Matrix) -> None:
    """split answers only clients whose port is 49152 or above: as a real client's, each
    probe's port is in the Linux ephemeral range, and the verdict follows it."""
    cells = [r for r in to_json(matrix)["cells"] if r["to"] == "cache" and r["from"] == "web"]
    ports = {(c["port"], c["source_port"], c["observed"]) for c in cells if c["port"]}
    ports = {item for item in ports if item[0] in (6379, 6380, 6381, 6382)}  # it listens
    assert ports
    low, high = EPHEMERAL_PORTS
    for _, source_port, observed in ports:
        assert low <= source_port <= high
        assert observed == ("open" if source_port >= 49152 else "filtered"), source_port
    assert {observed for _, _, observed in ports} == {"open", "filtered"}


def test_traffic_inside_a_subnet_never_meets_its_acl(matrix: Matrix) -> None:
    """data's ACL denies everything both ways, yet its two instances reach each other."""
    inside = cell(matrix, "db-1", "db-2", 5432)
    assert inside.observed.state is State.OPEN and inside.correct
    outside = cell(matrix, "app", "db-1", 5432)
    assert outside.observed.state is State.FILTERED and outside.correct
    assert "network ACL data" in outside.expected.why
