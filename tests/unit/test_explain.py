"""``sgh explain``: the cells of one pair, and how they are told."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.adapters.fake_runtime import FakeRuntime
from harness.adapters.probers.simulated_prober import SimulatedProber
from harness.adapters.sqlite_store import Home
from harness.core.ec2 import plane as ec2
from harness.core.model import Probe, Protocol, State
from harness.core.phases import QUIET
from harness.core.planner import Cell, cells_between
from harness.errors import InvalidInput
from harness.faces.sgh.main import main
from harness.formats import topology_file
from harness.formats.matrix_report import render, render_cell, to_json
from harness.lab.one_shot import probe_some, verify
from harness.lab.persistent import PersistentLab, new_id, now

ROOT = Path(__file__).resolve().parents[2]
TOPO = topology_file.load(ROOT / "topologies/three-tier.yaml")


def test_the_planned_cells_of_a_pair_or_the_probes_asked_for() -> None:
    planned = cells_between(TOPO, "web-1", "db-1")
    assert planned and {(c.source, c.target) for c in planned} == {("web-1", "db-1")}
    assert Cell("web-1", "db-1", Probe(Protocol.TCP, 3306)) in planned
    asked = cells_between(TOPO, "internet", "web-2", [Probe(Protocol.TCP, 443)])
    assert asked == [Cell("internet", "web-2", Probe(Protocol.TCP, 443))]


@pytest.mark.parametrize(
    ("source", "target", "words"),
    [
        ("web-9", "db-1", "has no node 'web-9'"),
        ("web-1", "internet", "outside host"),
        ("db-1", "db-1", "to itself"),
    ],
)
def test_a_pair_that_is_not_one_is_refused(source: str, target: str, words: str) -> None:
    with pytest.raises(InvalidInput, match=words):
        cells_between(TOPO, source, target)


def test_every_probe_is_told_with_its_why_and_a_wrong_one_stands_out() -> None:
    wrong = Cell("internet", "app-3", Probe(Protocol.TCP, 8080))
    prober = SimulatedProber(TOPO, {wrong: [State.OPEN, State.OPEN]})
    cells = cells_between(TOPO, "internet", "app-3")
    results = probe_some(TOPO, cells, FakeRuntime(), prober, QUIET)
    text = render_cell("internet", "app-3", results)
    assert text.splitlines()[0] == f"internet -> app-3: {len(cells)} probes"
    assert "  tcp/8080: expected filtered, observed open (simulated): WRONG" in text
    assert "    why: no rule of appserver allows tcp 8080 from internet (198.51.100.10)" in text
    assert text.splitlines()[-1] == f"1 of {len(cells)} disagree"


def test_a_bad_pair_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["explain", "web-9", "db-1", "-t", str(ROOT / "topologies/three-tier.yaml")])
    err = capsys.readouterr().err
    assert status == 2
    assert err.startswith("sgh: lab 'three-tier' has no node 'web-9' (nodes: ")
    assert len(err.strip().splitlines()) == 1


def test_a_persistent_labs_grid_names_its_instances_for_a_person(tmp_path: Path) -> None:
    lab = PersistentLab(Home(tmp_path), "named", runtime=FakeRuntime(), create=True)
    try:
        account = "111122223333"
        lab.act(lambda c: ec2.create_group(c, account, "apache", "web", None))

        def launch(image: str, group: str) -> str:
            records = lab.act(
                lambda c: ec2.run_instances(
                    c, account, image, 1, groups=[group], nics=[], now=now(), new_id=new_id
                )
            )
            return records[0].instance_id

        web, db = launch("ami-fba54092", "apache"), launch("ami-f1a54098", "default")
        lab.act(lambda c: ec2.create_tags(c, account, [db], [("Name", "orders-db")]))
        topology = lab.topology()
    finally:
        lab.close()
    matrix = verify(topology, FakeRuntime(), SimulatedProber(topology), QUIET)
    rows = render(matrix).splitlines()
    assert any(row.startswith(f"1 {web} web server [apache] ") for row in rows)
    assert any(row.startswith(f"2 {db} orders-db [default] ") for row in rows)
    nodes = {n["name"]: n for n in to_json(matrix)["nodes"]}
    assert (nodes[web]["label"], nodes[db]["label"]) == ("web server", "orders-db")


def test_the_port_may_follow_the_topology_option() -> None:
    from harness.faces.sgh.main import _parse

    before = _parse(["explain", "web-1", "app-1", "tcp/8080", "-t", "three-tier.yaml"])
    after = _parse(["explain", "web-1", "app-1", "-t", "three-tier.yaml", "tcp/8080"])
    assert before.probe == after.probe == "tcp/8080"
    assert before.topology == after.topology == ["three-tier.yaml"]
    with pytest.raises(SystemExit):
        _parse(["explain", "web-1", "app-1", "-t", "x.yaml", "tcp/80", "udp/53"])
    with pytest.raises(SystemExit):
        _parse(["lab", "status", "stray"])  # only a command's own optional positionals
