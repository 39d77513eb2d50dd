"""The JSON document's two forms: the small runs' list of cells unchanged for its readers, the
compact form read back by the reader the reference documents (run as written there), and the
HTML report's packed columns."""

from __future__ import annotations

import base64
import json
import re
import zlib
from array import array
from pathlib import Path
from typing import Any

import pytest

from harness.adapters.fake_runtime import FakeRuntime
from harness.adapters.probers.simulated_prober import SimulatedProber
from harness.core.matrix import Matrix, expectations
from harness.core.model import State
from harness.core.phases import QUIET
from harness.core.planner import plan
from harness.formats import topology_file
from harness.formats.html_report import HEATMAP_COLUMNS, heatmap
from harness.formats.matrix_report import to_json, write_json
from harness.lab.one_shot import verify

ROOT = Path(__file__).resolve().parents[2]
CELL_KEYS = {  # what a cell of today's document carries: a reader of it keeps working
    "from",
    "to",
    "address",
    "protocol",
    "port",
    "source_port",
    "expected",
    "observed",
    "correct",
    "why",
    "allowed_by",
    "detail",
    "attempts",
    "proven",
}


def documented_reader() -> Any:
    """The reader in docs/reference/output.md, as written there."""
    text = (ROOT / "docs/reference/output.md").read_text()
    section = text.split("### The compact JSON form", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S)
    assert code is not None
    scope: dict[str, Any] = {"__name__": "reader"}
    exec(compile(code.group(1), "output.md", "exec"), scope)
    return scope["cells"]


def run(name: str) -> Matrix:
    topology = topology_file.load(ROOT / "topologies" / name)
    planned = expectations(topology, plan(topology))
    wrong = next(cell for cell, e in planned.items() if e.state is State.FILTERED)
    prober = SimulatedProber(topology, {wrong: [State.OPEN, State.OPEN]})
    return verify(topology, FakeRuntime(), prober, QUIET)


@pytest.mark.parametrize("name", ["three-tier.yaml", "vpc-full-path.yaml"])
def test_the_documented_reader_gives_every_cell_of_the_compact_form(
    name: str, tmp_path: Path
) -> None:
    matrix = run(name)
    listed = to_json(matrix, "cells")
    path = tmp_path / "compact.json"
    write_json(to_json(matrix, "compact"), path)
    compact = json.loads(path.read_text())
    assert compact["form"] == "compact" and "cells" not in compact
    cells = documented_reader()
    read = list(cells(compact))
    assert len(read) == len(listed["cells"]) == compact["summary"]["cells"]
    assert any(not cell["correct"] for cell in read)  # the wrong cell is read as wrong
    same = CELL_KEYS - {"why", "source_port"}  # the compact form's words leave out the pair
    for mine, theirs in zip(read, listed["cells"], strict=True):
        assert {k: mine[k] for k in same} == {k: theirs[k] for k in same}
    assert list(cells(listed)) == listed["cells"]  # and the small form as it is


def test_a_small_runs_document_keeps_its_cells_and_their_fields() -> None:
    document = to_json(run("three-tier.yaml"))
    assert "form" not in document and document["plan"] == "full"
    assert all(set(cell) == CELL_KEYS for cell in document["cells"])
    assert {"lab", "runtime", "prober", "topology", "nodes", "groups", "summary_line"} <= set(
        document
    )


def test_the_reports_columns_are_the_documents_packed(tmp_path: Path) -> None:
    matrix = run("vpc-full-path.yaml")
    document = to_json(matrix, "compact")
    data = heatmap(document)["compact"]
    packed = array("I", zlib.decompress(base64.b64decode(data["columns"])))
    n = data["count"]
    assert n == len(matrix.results) and len(packed) == n * len(HEATMAP_COLUMNS)
    columns = dict(
        zip(HEATMAP_COLUMNS, (packed[k * n : (k + 1) * n] for k in range(7)), strict=True)
    )
    instances = [node.name for node in matrix.topology.instances]
    names = [node.name for node in matrix.topology.nodes]
    for i, result in enumerate(matrix.results):
        assert names[columns["from"][i]] == result.cell.source
        assert instances[columns["to"][i]] == result.cell.target
        assert data["states"][columns["expected"][i]] == str(result.expected.state)
        assert data["observations"][columns["observed"][i]][0] == str(result.observed.state)
