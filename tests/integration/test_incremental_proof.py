"""Changes proven incrementally on a running lab of 60 instances, both runtimes: after a
one-rule change only the pairs the rule matches are probed again, the rest carried over, and
the result is what probing every cell gives; ``sgh matrix`` on a persistent lab says so."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from persistent import Shell

from harness.core.matrix import Matrix
from harness.faces.pytest_plugin import SgLab

pytestmark = pytest.mark.sg_topology("tests/integration/topologies/big-60.yaml")


def probed_pairs(matrix: Matrix, since: float) -> set[tuple[str, str]]:
    table = matrix.table
    names = [node.name for node in table.nodes]
    return {
        (names[table.source[i]], names[table.target[i]])
        for i in range(len(table))
        if table.times[table.proven[i]] > since
    }


def verdicts(matrix: Matrix) -> dict[object, tuple[object, ...]]:
    return {r.cell: (r.expected.state, r.observed.state) for r in matrix.results}


@pytest.mark.sg_mutates
def test_a_one_rule_change_is_proven_on_the_pairs_it_matches_only(lab: SgLab) -> None:
    first = lab.matrix()
    assert first.summary.ok and first.carried == 0
    proven_at = max(first.table.times)
    ids = {
        g["GroupName"]: g["GroupId"] for g in lab.ec2.describe_security_groups()["SecurityGroups"]
    }
    # g3 admits its own port 8003 from g2 (a chain); now from g0 too: no new port interval
    lab.ec2.authorize_security_group_ingress(
        GroupId=ids["g3"],
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 8003,
                "ToPort": 8003,
                "UserIdGroupPairs": [{"GroupId": ids["g0"]}],
            }
        ],
    )
    again = lab.matrix()
    members = {i.name: {k.name for k in i.groups} for i in lab.topology.instances}
    g0 = {name for name, groups in members.items() if "g0" in groups}
    g3 = {name for name, groups in members.items() if "g3" in groups}
    assert probed_pairs(again, proven_at) == {(s, t) for s in g0 for t in g3}
    probed = len(again.results) - again.carried
    assert 0 < probed < len(again.results) // 20  # a few cells of the lab
    assert again.summary.ok
    opened = next(
        r
        for r in again.results
        if r.cell.source in g0 and r.cell.target in g3 and r.cell.probe.port == 8003
    )
    assert str(opened.observed.state) == "open"
    everything = lab.matrix(everything=True)
    assert everything.carried == 0 and verdicts(everything) == verdicts(again)


def test_sgh_matrix_carries_over_what_a_change_cannot_affect(tmp_path: Path) -> None:
    shell = Shell(tmp_path / "home", "incremental")
    shell.run("sgh", "lab", "up", "incremental", "-q")
    try:
        shell.run("sgh", "host", "add", "office", "203.0.113.19", "-q")
        shell.run("ec2-create-group", "web", "-d", "web")
        shell.run("ec2-create-group", "db", "-d", "db")
        shell.run("ec2-authorize", "web", "-p", "80", "-s", "203.0.113.19/32")
        shell.run("ec2-run-instances", "ami-fba54092", "-g", "web", "-n", "3")
        shell.run("ec2-run-instances", "ami-f1a54098", "-g", "db", "-n", "2")
        first = shell.run("sgh", "matrix").stdout
        assert "carried over" not in first
        same = shell.run("sgh", "matrix").stdout
        assert "0 cells probed now" in same
        shell.run("ec2-authorize", "db", "-p", "3306", "-o", "web")
        changed = shell.run("sgh", "matrix", "--json", str(tmp_path / "m.json")).stdout
        found = re.search(r"^(\d+) cells probed now .*\), (\d+) carried over", changed, re.M)
        assert found is not None, changed
        probed, carried = int(found[1]), int(found[2])
        assert probed > 0 and carried > 0, changed
        assert json.loads((tmp_path / "m.json").read_text())["carried"] == carried
        assert "0 incorrect, 0 not run" in changed
        every = shell.run("sgh", "matrix", "--all").stdout
        assert "carried over" not in every and "0 incorrect, 0 not run" in every
    finally:
        shell.run("sgh", "lab", "rm", "incremental", "-q", check=False)
