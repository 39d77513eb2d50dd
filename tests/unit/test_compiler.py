"""Golden files for compiled policies; set UPDATE_GOLDEN=1 to rewrite them after a change."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from harness.core.model import GroupKey
from harness.core.nftables import compile_instance, compile_lab, set_name
from harness.formats import topology_file

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests/golden"
CASES = [
    ("topologies/three-tier.yaml", "web-1"),
    ("topologies/three-tier.yaml", "app-1"),
    ("topologies/three-tier.yaml", "db-2"),
    ("topologies/default-group.yaml", "albert-instance"),
    ("tests/integration/topologies/features.yaml", "front"),
    ("tests/integration/topologies/features.yaml", "node-1"),
    ("tests/integration/topologies/features.yaml", "vault"),
]


@pytest.mark.parametrize(("path", "instance"), CASES)
def test_golden(path: str, instance: str) -> None:
    topo = topology_file.load(ROOT / path)
    text = compile_instance(topo, topo.nodes_by_name[instance])  # type: ignore[arg-type]
    golden = GOLDEN / f"{topo.name}.{instance}.nft"
    if os.environ.get("UPDATE_GOLDEN"):
        golden.write_text(text)
    assert text == golden.read_text()


def test_deterministic_and_atomic_shape() -> None:
    topo = topology_file.load(ROOT / "topologies/three-tier.yaml")
    first, second = (
        compile_lab(topo),
        compile_lab(topology_file.load(ROOT / "topologies/three-tier.yaml")),
    )
    assert first == second
    text = first["app-5"]
    lines = text.splitlines()
    # one transaction: create if missing, delete, define again; never a flush of the ruleset
    assert lines[2:5] == ["table inet sgh", "delete table inet sgh", "table inet sgh {"]
    assert "flush ruleset" not in text
    assert "policy drop;" in text and "ct state established,related accept" in text


def test_set_names_are_identifiers() -> None:
    home = "111122223333"
    assert set_name(GroupKey(home, "apache"), home) == "grp_apache"
    assert set_name(GroupKey("444455556666", "web"), home) == "grp_444455556666_web"
    odd = set_name(GroupKey(home, "Mary's group"), home)
    assert odd.startswith("grp_Mary_s_group_") and odd.replace("_", "").isalnum()
