"""A big lab's run shared out over forked workers, each planning, probing and comparing the
cells of a share of the sources, gives the very results of a run in one process."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from harness.adapters.probers.simulated_prober import SimulatedProber
from harness.core.matrix import CellResult
from harness.core.model import State, Topology
from harness.core.phases import QUIET
from harness.core.planner import Cell, plan
from harness.core.probing import Observation, SourceBatch
from harness.core.runtime import LabNamespaces
from harness.formats import topology_file
from harness.lab.measure import probe_matrix

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))
from big_lab import big_lab  # noqa: E402


def generated(n: int, tmp_path: Path) -> Topology:
    import yaml

    path = tmp_path / f"big-{n}.yaml"
    path.write_text(yaml.safe_dump(big_lab(n), sort_keys=False))
    return topology_file.load(path)


def namespaces(topology: Topology) -> LabNamespaces:
    return LabNamespaces("x", {node.name: 1000 + i for i, node in enumerate(topology.lab_nodes)})


def seen(results: Sequence[CellResult]) -> list[tuple[object, ...]]:
    return [
        (r.cell, r.expected.state, r.expected.allowed_by, r.expected.why, r.observed, r.attempts)
        for r in results
    ]


@pytest.mark.parametrize(
    ("name", "classes"),
    [
        ("topologies/three-tier.yaml", False),
        ("topologies/vpc-three-tier.yaml", False),
        ("tests/integration/topologies/vpc-features.yaml", True),
        ("big-30", True),
    ],
)
@pytest.mark.parametrize("workers", [2, 3])
def test_shared_out_results_are_those_of_one_process(
    name: str, classes: bool, workers: int, tmp_path: Path
) -> None:
    topology = (
        generated(int(name[4:]), tmp_path)
        if name.startswith("big-")
        else topology_file.load(ROOT / name)
    )
    lab = namespaces(topology)
    one = probe_matrix(topology, lab, SimulatedProber(topology), QUIET, classes=classes)
    shared = probe_matrix(
        topology, lab, SimulatedProber(topology), QUIET, classes=classes, workers=workers
    )
    assert len(one.results) == len(plan(topology, classes=classes)) > 100
    assert seen(shared.results) == seen(one.results)
    assert {"plan", "probe", "gather"} <= set(shared.timings)


def test_a_cell_a_worker_finds_wrong_is_probed_once_more(tmp_path: Path) -> None:
    topology = topology_file.load(ROOT / "topologies/three-tier.yaml")
    wrong = next(cell for cell in plan(topology) if cell.source == topology.nodes[-1].name)
    prober = SimulatedProber(topology, {wrong: [State.OPEN, State.OPEN]})
    matrix = probe_matrix(topology, namespaces(topology), prober, QUIET, workers=2)
    [found] = matrix.wrong()
    assert found.cell == wrong and found.attempts == 2
    assert prober.rounds == [[wrong]]  # the first round ran in a worker, the retry here


class FailingFor(SimulatedProber):
    """Fails in any batch from ``source``."""

    def __init__(self, topology: Topology, source: str) -> None:
        super().__init__(topology)
        self.source = source

    def run(
        self,
        batches: list[SourceBatch],
        round_number: int = 0,
        on_verdict: Callable[[int], None] | None = None,
    ) -> dict[Cell, Observation]:
        if any(batch.source == self.source for batch in batches):
            raise RuntimeError(f"no sockets in {self.source}")
        return super().run(batches, round_number, on_verdict)


def test_a_failed_worker_leaves_its_share_not_run_saying_why() -> None:
    topology = topology_file.load(ROOT / "topologies/three-tier.yaml")
    first = topology.nodes[0].name
    prober = FailingFor(topology, first)
    matrix = probe_matrix(topology, namespaces(topology), prober, QUIET, workers=2, retry=False)
    share = {node.name for node in topology.nodes[: len(topology.nodes) // 2]}
    failed = [r for r in matrix.results if r.cell.source in share]
    others = [r for r in matrix.results if r.cell.source not in share]
    assert [r.cell for r in matrix.results] == plan(topology)
    assert failed and all(r.not_run for r in failed)
    assert {r.observed.detail for r in failed} == {
        f"probe worker failed: RuntimeError: no sockets in {first}"
    }
    assert others and all(r.correct for r in others)
