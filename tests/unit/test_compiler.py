"""Golden files for compiled policies; set UPDATE_GOLDEN=1 to rewrite them after a change."""

from __future__ import annotations

import os
import re
from dataclasses import replace
from pathlib import Path

import pytest

from harness.core.ec2 import platform as platforms
from harness.core.ec2 import rules as rulebook
from harness.core.model import GroupKey, Protocol
from harness.core.nftables import compile_instance, compile_lab, delta, set_name
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


def test_a_change_of_rules_is_a_delta_of_the_changed_chain_alone() -> None:
    topo = topology_file.load(ROOT / "topologies/vpc-three-tier.yaml")
    before = compile_lab(topo)
    web = next(group for group in topo.groups if group.name == "web")
    rule = rulebook.make_rule(
        platforms.CLASSIC,
        Protocol.TCP,
        8443,
        8443,
        cidr=rulebook.parse_cidr("10.9.0.0/16", platforms.CLASSIC),
    )
    grown = rulebook.authorize(web, [rule], egress=False)
    after = compile_lab(replace(topo, groups=tuple(grown if g is web else g for g in topo.groups)))
    changed = [name for name in after if after[name] != before[name]]
    assert changed
    for name in changed:
        step = delta(before[name], after[name])
        assert step is not None, name
        lines = step.splitlines()
        assert lines[0].startswith("flush chain inet sgh input_")  # the web nic's ingress
        assert all(line.startswith("add rule inet sgh input_") for line in lines[1:])
        assert any("tcp dport 8443" in line for line in lines)
        assert "delete" not in step and "output" not in step
    same = next(name for name in after if name not in changed)
    assert delta(before[same], after[same]) == ""


def test_a_change_of_members_is_a_delta_of_the_set_and_structure_is_whole() -> None:
    topo = topology_file.load(ROOT / "topologies/three-tier.yaml")
    policies = compile_lab(topo)
    one, other = policies["app-1"], policies["app-2"]  # same groups, other members' sets
    assert delta(one, one) == ""
    shrunk = re.sub(r"(elements = \{ [0-9.]+), [0-9., ]+ \}", r"\1 }", one, count=1)
    assert shrunk != one
    step = delta(one, shrunk)
    assert step is not None and step.startswith("flush set inet sgh grp_")
    assert step.splitlines()[1].startswith("add element inet sgh grp_")
    assert delta(one, other) == ""  # the same table apart from the comment lines
    assert delta(one, policies["web-1"]) is None  # other groups: other sets, a new table
    assert delta(one, one.replace("policy drop;", "policy accept;")) is None
    assert delta(one, "not a policy") is None


def test_the_input_chain_counts_what_it_drops_and_only_there() -> None:
    """The last rule of an instance's input chain counts the new packets its policy drops
    (the prober reads the counter); output chains, routers and the gateway count nothing."""
    for path in ("topologies/three-tier.yaml", "topologies/vpc-three-tier.yaml"):
        topo = topology_file.load(ROOT / path)
        for name, policy in compile_lab(topo).items():
            chains = dict(re.findall(r"\tchain (\w+) \{\n(.*?)\n\t\}", policy, re.S))
            counting = [c for c, body in chains.items() if 'counter name "dropped"' in body]
            routers = {router.name for router in topo.routers}
            if name == getattr(topo.gateway, "name", None) or name in routers:
                assert counting == [] and "counter dropped" not in policy
                continue
            assert counting == ["input"], name
            assert (
                chains["input"]
                .splitlines()[-1]
                .strip()
                .startswith('ct state new counter name "dropped"')
            ), name
            assert "\tcounter dropped {\n\t}\n" in policy, name
