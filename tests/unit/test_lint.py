"""``sgh lint``: each finding on a topology made for it, silence on a clean one, and condensed
rule sets proven equivalent by the oracle."""

from __future__ import annotations

from dataclasses import replace
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.adapters.fake_runtime import FakeRuntime
from harness.adapters.sqlite_store import Home
from harness.core.ec2 import plane as ec2
from harness.core.lint import condense, equivalent, lint
from harness.core.model import Group, GroupKey, Instance, Protocol, Rule
from harness.errors import NotEquivalent
from harness.faces.sgh.main import main
from harness.formats import topology_file
from harness.lab.persistent import PersistentLab

LINT = Path(__file__).parent / "topologies" / "lint"


def findings(name: str) -> list[tuple[str, str, str]]:
    return [(f.kind, f.where, f.message) for f in lint(topology_file.load(LINT / f"{name}.yaml"))]


def test_a_clean_topology_has_no_findings(capsys: pytest.CaptureFixture[str]) -> None:
    assert findings("clean") == []
    assert main(["lint", str(LINT / "clean.yaml")]) == 0
    assert "no findings (3 groups, 7 rules)" in capsys.readouterr().out


def test_admin_and_database_ports_open_to_the_world() -> None:
    found = findings("world-open")
    world = [(where, message) for kind, where, message in found if kind == "world-open"]
    assert [where for where, _ in world] == [
        "group 'admin' rule 'tcp 22 from 0.0.0.0/0'",
        "group 'admin' rule 'service rdp (tcp 3389) from 0.0.0.0/0'",
        "group 'data' rule 'tcp 3000-7000 from 0.0.0.0/0'",
    ]
    assert world[0][1].startswith("opens SSH (tcp 22) to every address in the world")
    assert "MySQL (tcp 3306)" in world[2][1] and "PostgreSQL (tcp 5432)" in world[2][1]
    # Web ports open to the world are normal.
    assert not any("tcp 80 " in where or "https" in where for where, _ in world)


def test_cidrs_wider_than_their_address_are_quoted_as_written() -> None:
    assert [f for f in findings("wide-cidr") if f[0] == "wide-cidr"] == [
        (
            "wide-cidr",
            "group 'partner' rule 'tcp 8443 from 198.51.100.7/0'",
            "198.51.100.7/0 is every IPv4 address, not the address 198.51.100.7 it names "
            "(host bits set under /0); for that one host write 198.51.100.7/32",
        ),
        (
            "wide-cidr",
            "group 'partner' rule 'tcp 9000 from 10.1.2.3/8'",
            "10.1.2.3/8 is 10.0.0.0/8 (16,777,216 addresses), not the address 10.1.2.3 it "
            "names (host bits set under /8); for that one host write 10.1.2.3/32",
        ),
    ]


def test_covered_rules_are_called_redundant() -> None:
    assert findings("redundant") == [
        (
            "redundant",
            "group 'web' rule 'tcp 443 from 203.0.113.16/28'",
            "redundant: 'tcp 0-1024 from 203.0.113.0/24' in the same group covers it",
        ),
        (
            "redundant",
            "group 'monitoring' rule 'tcp 9100 from 203.0.113.5/32'",
            "redundant: 'tcp 9000-9200 from 203.0.113.0/24' in 'everything', a group every "
            "instance of 'monitoring' is also in, covers it",
        ),
    ]


def test_rule_counts_come_with_a_proven_condensed_equivalent(
    capsys: pytest.CaptureFixture[str],
) -> None:
    found = lint(topology_file.load(LINT / "rule-count.yaml"))
    assert [(f.kind, f.where) for f in found] == [
        ("near-limit", "group 'crowded'"),
        ("too-many-rules", "instance 'both'"),
    ]
    assert found[0].message.startswith("holds 95 of EC2's 100 rules; this rule is equivalent")
    assert found[0].detail == ("tcp 8000-8094 from 10.1.0.0/16",)
    assert "add up to 120 rules, more than 100" in found[1].message
    assert found[1].detail == ("tcp 20000-20059 from 10.2.0.0/23",)
    assert main(["lint", str(LINT / "rule-count.yaml")]) == 1
    assert "2 findings (near-limit, too-many-rules)" in capsys.readouterr().out


def test_the_proof_catches_a_set_that_is_not_equivalent() -> None:
    topo = topology_file.load(LINT / "rule-count.yaml")
    both = next(i for i in topo.instances if i.name == "both")
    wrong = [Rule(Protocol.TCP, 20000, 20059, cidr=IPv4Network("10.2.0.0/24"))]
    with pytest.raises(
        NotEquivalent,
        match=r"^peer -> both tcp/20000: closed with the original rules, filtered with the",
    ):
        equivalent(topo, both, wrong)


def test_a_bad_rule_is_a_finding_and_only_an_unreadable_file_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "name: x\ngroups:\n  - name: g\n    rules:\n      - {service: gopher, source: 0.0.0.0/0}\n"
        "instances: [{name: a, groups: [g]}]\n"
    )
    assert main(["lint", str(bad)]) == 1  # the rule is a finding; the rest is audited
    out = capsys.readouterr().out
    assert "error   invalid-rule   groups[0] 'g' rules[0]: unknown service 'gopher'" in out
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: x\ngroups: [\n")
    assert main(["lint", str(broken)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"sgh: {broken}:") and "malformed YAML" in err
    assert err.count("\n") == 1


BLOCKS = st.sampled_from(
    ["10.0.0.0/8", "10.1.0.0/16", "10.1.2.0/24", "10.1.3.0/24", "10.1.2.128/25", "0.0.0.0/0"]
)
RULES = st.builds(
    lambda protocol, low, width, block: Rule(
        protocol, low, min(low + width, 65535), cidr=IPv4Network(block)
    ),
    st.sampled_from([Protocol.TCP, Protocol.UDP]),
    st.integers(0, 200),
    st.integers(0, 40),
    BLOCKS,
)


@settings(max_examples=60, deadline=None)
@given(st.lists(RULES, min_size=1, max_size=30, unique=True))
def test_condense_never_changes_a_verdict(rules: list[Rule]) -> None:
    topo = topology_file.load(LINT / "clean.yaml")
    target = Instance("target", topo.account, (), IPv4Address("10.9.9.9"))
    # A target whose one group holds exactly these rules.
    key = GroupKey(topo.account, "random")
    topo = replace(
        topo,
        groups=(*topo.groups, Group(key, "random", tuple(rules))),
        instances=(*topo.instances, replace(target, groups=(key,))),
    )
    smaller = condense(rules)
    assert len(smaller) <= len(rules)
    assert equivalent(topo, topo.instances[-1], smaller) > 0


def test_an_egress_rule_equal_to_an_ingress_rule_is_named_as_egress() -> None:
    assert [where for kind, where, _ in findings("egress-cidr") if kind == "wide-cidr"] == [
        "group 'g' rule 'tcp 443 from 10.1.2.3/8'",
        "group 'g' egress rule 'tcp 443 to 10.1.2.3/8'",
    ]


def test_with_no_sources_lint_reads_the_labs_state(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lab = PersistentLab(Home(tmp_path), "state", runtime=FakeRuntime(), create=True)
    try:
        account = "111122223333"
        lab.act(lambda c: ec2.create_group(c, account, "web", "web", None))
        world_ssh = ec2.Permission("tcp", 22, 22, cidrs=(("0.0.0.0/0", ""),))
        lab.act(lambda c: ec2.authorize(c, account, "web", [world_ssh], False))
    finally:
        lab.close()
    status = main(["lint", "--home", str(tmp_path), "--lab", "state", "-q"])
    out = capsys.readouterr().out
    assert status == 1
    assert "lab 'state'" in out and "tcp 22 from 0.0.0.0/0" in out
