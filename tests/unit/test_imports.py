"""Importers: AWS JSON, Terraform (.tf, plan JSON) and CloudFormation into topologies.

The fixtures are the project's own (tests/fixtures/imports); the corpus of real files is
checked by bench/import_corpus.py.
"""

from __future__ import annotations

import json
from ipaddress import ip_network
from pathlib import Path

import pytest
import yaml

from harness.core.matrix import expectations
from harness.core.model import GroupKey, Protocol, Topology
from harness.core.planner import plan
from harness.errors import TopologyError
from harness.formats import sources, topology_file
from harness.formats.imports.yaml_writer import render

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "imports"
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"  # the README's quick start


def load(
    *names: str, variables: dict[str, str] | None = None, parameters: dict[str, str] | None = None
) -> sources.Loaded:
    paths = [str((EXAMPLES if name.startswith("shop-tf") else FIXTURES) / name) for name in names]
    return sources.load(paths, sources.Options(variables or {}, parameters or {}))


def group(topology: Topology, name: str):  # type: ignore[no-untyped-def]
    return next(g for g in topology.groups if g.name == name)


def rules_text(topology: Topology, name: str, egress: bool = False) -> set[str]:
    found = group(topology, name)
    word = "to" if egress else "from"
    return {rule.describe(topology.account, word) for rule in found.side(egress)}


def cells(topology: Topology, every: bool = False) -> dict[tuple[str, ...], str]:
    """Expected states by (source, target, probe); a target probed at several addresses
    counts as open when any is (``every``: keyed by address as well)."""
    expected = expectations(topology, plan(topology))
    result: dict[tuple[str, ...], str] = {}
    for cell, expectation in expected.items():
        key = (cell.source, cell.target, str(cell.probe))
        if every:
            result[(*key, cell.address)] = str(expectation.state)
        elif result.get(key) != "open":
            result[key] = str(expectation.state)
    return result


# -- one deployment, three formats -----------------------------------------------------------


def test_one_deployment_in_three_formats_gives_the_same_expected_matrix() -> None:
    tf = load("shop-tf").topology
    cfn = load("shop-cfn.yaml").topology
    aws = load("shop-aws").topology
    assert cells(tf, every=True) == cells(cfn, every=True) == cells(aws, every=True)
    matrix = cells(tf)
    assert matrix[("internet", "rep-web", "tcp/443")] == "open"
    assert matrix[("in-203.0.113.0_28", "rep-web", "tcp/22")] == "open"
    assert matrix[("out-203.0.113.0_28", "rep-web", "tcp/22")] == "filtered"
    assert matrix[("internet", "rep-web", "tcp/22")] == "filtered"
    assert "open" in {v for (s, t, _), v in matrix.items() if (s, t) == ("rep-app", "rep-db")}
    assert {v for (s, t, _), v in matrix.items() if (s, t) == ("rep-web", "rep-db")} == {"filtered"}


def test_the_imported_yaml_reads_back_as_the_same_topology() -> None:
    loaded = load("shop-cfn.yaml")
    assert loaded.imported is not None
    text = render(loaded.imported)
    again = topology_file.loads(text, "shop.yaml")
    assert cells(again) == cells(loaded.topology)
    assert "# Imported by sgh import" in text
    assert "shop-cfn.yaml:24 Web (AWS::EC2::SecurityGroup)" in text  # where the group came from


# -- each format's egress default ------------------------------------------------------------


def test_terraform_removes_the_default_egress() -> None:
    topology = load("module-tf").topology
    assert group(topology, "bastion").egress == ()


def test_cloudformation_keeps_allow_all_egress_only_when_none_is_declared() -> None:
    template = {
        "Resources": {
            "Quiet": {"Type": "AWS::EC2::SecurityGroup", "Properties": {"GroupDescription": "q"}},
            "Narrow": {
                "Type": "AWS::EC2::SecurityGroup",
                "Properties": {
                    "GroupDescription": "n",
                    "SecurityGroupEgress": [
                        {
                            "IpProtocol": "tcp",
                            "FromPort": 443,
                            "ToPort": 443,
                            "CidrIp": "10.0.0.0/8",
                        }
                    ],
                },
            },
        }
    }
    topology = _from_text(json.dumps(template), "egress.json")
    assert rules_text(topology, "Quiet", egress=True) == {"all traffic to 0.0.0.0/0"}
    assert rules_text(topology, "Narrow", egress=True) == {"tcp 443 to 10.0.0.0/8"}


def test_aws_json_egress_is_what_the_api_lists_and_all_when_the_key_is_missing() -> None:
    topology = load("multi-eni.json").topology
    assert rules_text(topology, "front", egress=True) == {"all traffic to 0.0.0.0/0"}
    assert rules_text(topology, "admin", egress=True) == set()


# -- each way of writing rules ---------------------------------------------------------------


def test_terraform_inline_legacy_and_vpc_rule_resources_all_land_on_their_groups() -> None:
    topology = load("shop-tf").topology
    assert rules_text(topology, "web") == {"tcp 443 from 0.0.0.0/0", "tcp 22 from pl:office"}
    assert rules_text(topology, "app") == {"tcp 8080 from web"}  # var.app_port's default
    assert rules_text(topology, "db") == {"tcp 5432 from app", "all traffic from db"}
    assert rules_text(topology, "db", egress=True) == {"all traffic to 0.0.0.0/0"}


def test_terraform_default_security_group_replaces_the_default_rules(tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text(
        'resource "aws_vpc" "v" {\n  cidr_block = "10.5.0.0/16"\n}\n'
        'resource "aws_default_security_group" "d" {\n  vpc_id = aws_vpc.v.id\n'
        "  ingress {\n    protocol = -1\n    self = true\n    from_port = 0\n    to_port = 0\n"
        "  }\n}\n"
    )
    topology = sources.load([str(tmp_path)]).topology
    default = next(g for g in topology.groups if g.name == "default" and g.vpc == "v")
    assert {r.describe(topology.account) for r in default.rules} == {"all traffic from default"}
    assert default.egress == ()


def test_a_variable_given_on_the_command_line_wins_over_its_default() -> None:
    topology = load("shop-tf", variables={"app_port": "9090"}).topology
    assert rules_text(topology, "app") == {"tcp 9090 from web"}


def test_a_local_module_is_read_with_its_inputs_and_outputs() -> None:
    loaded = load("module-tf")
    bastion = group(loaded.topology, "bastion")
    assert bastion.origin is not None and bastion.origin.file.endswith("modules/sg/main.tf")
    assert rules_text(loaded.topology, "bastion") == {"tcp 22 from 198.51.100.0/24"}
    # the instance attaches the module's output: its representative comes from it
    assert loaded.imported is not None
    assert any("aws_instance.jump" in note for note in loaded.notes)


def test_a_value_unknown_at_plan_time_is_resolved_through_the_configuration() -> None:
    topology = load("plan/unknown.json").topology
    assert rules_text(topology, "svc") == {"tcp 8443 from lb"}


def test_cloudformation_short_form_tags_and_parameters() -> None:
    topology = load("shop-cfn.yaml", parameters={"AppPort": "8081"}).topology
    assert rules_text(topology, "app") == {"tcp 8081 from web"}
    assert group(topology, "app").description == "app tier on 8081"  # !Sub
    assert rules_text(topology, "web") == {"tcp 443 from 0.0.0.0/0", "tcp 22 from pl:office"}


def test_the_placebo_wrapper_and_membership_per_network_interface() -> None:
    loaded = load("multi-eni.json")
    topology = loaded.topology
    (router,) = (i for i in topology.instances if i.name == "i-0router")
    assert [nic.groups for nic in router.nics] == [
        (GroupKey("111122223333", "front", "vpc-0multi"),),
        (GroupKey("111122223333", "admin", "vpc-0multi"),),
    ]
    assert router.nics[0].public is not None and router.nics[1].public is None
    assert loaded.imported is not None and loaded.imported.representatives == ()
    matrix = cells(topology)
    # admin admits ssh from its own members, but lists no egress: ops may send nothing
    assert matrix[("i-0ops", "i-0router", "tcp/22")] == "filtered"
    assert matrix[("internet", "i-0router", "tcp/80")] == "open"


def test_a_prefix_list_comes_from_its_entries_file() -> None:
    topology = load("shop-aws").topology
    (office,) = topology.prefix_lists
    assert office.cidrs == (ip_network("203.0.113.0/28"),)


# -- what cannot be resolved: a visible choice or one line -----------------------------------


def test_a_foreign_group_becomes_a_group_with_no_members(tmp_path: Path) -> None:
    data = {
        "SecurityGroups": [
            {
                "GroupId": "sg-01",
                "GroupName": "web",
                "VpcId": "vpc-1",
                "OwnerId": "111122223333",
                "IpPermissions": [
                    {
                        "IpProtocol": "tcp",
                        "FromPort": 80,
                        "ToPort": 80,
                        "UserIdGroupPairs": [
                            {"GroupId": "sg-0elsewhere", "UserId": "444455556666"}
                        ],
                    }
                ],
            }
        ]
    }
    path = tmp_path / "groups.json"
    path.write_text(json.dumps(data))
    loaded = sources.load([str(path)])
    outside = group(loaded.topology, "outside-sg-0elsewhere")
    assert outside.key.account == "444455556666"
    assert loaded.topology.members[outside.key] == ()
    assert any("sg-0elsewhere is not in the input" in note for note in loaded.notes)


def test_a_group_outside_the_input_holds_only_the_rules_the_input_adds(tmp_path: Path) -> None:
    """In every format: no allow-all egress is made up for it (it has no members anyway)."""
    template = tmp_path / "template.yaml"
    template.write_text(
        "Parameters:\n  Other: {Type: 'AWS::EC2::SecurityGroup::Id'}\n"
        "Resources:\n  Ssh:\n    Type: AWS::EC2::SecurityGroupIngress\n    Properties:\n"
        "      GroupId: !Ref Other\n      IpProtocol: tcp\n      FromPort: 22\n"
        "      ToPort: 22\n      CidrIp: 10.0.0.0/8\n"
    )
    terraform = tmp_path / "tf"
    terraform.mkdir()
    (terraform / "main.tf").write_text(
        'variable "other" {}\nresource "aws_security_group_rule" "ssh" {\n'
        '  type = "ingress"\n  security_group_id = var.other\n  protocol = "tcp"\n'
        '  from_port = 22\n  to_port = 22\n  cidr_blocks = ["10.0.0.0/8"]\n}\n'
    )
    found = []
    options = sources.Options(variables={"other": "sg-0other"}, outside=frozenset({"sg-0other"}))
    for path in (template, terraform):
        topology = sources.load([str(path)], options).topology
        outside = [g for g in topology.groups if g.name.startswith("outside-")]
        assert len(outside) == 1, [g.name for g in topology.groups]
        found.append((rules_text(topology, outside[0].name), outside[0].egress))
    assert found[0] == found[1] == ({"tcp 22 from 10.0.0.0/8"}, ())


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        (
            "bad.tf",
            'resource "aws_security_group" "a" {\n  ingress {\n    from_port = 1\n'
            '    to_port = 2\n    protocol = "tcp"\n'
            '    cidr_blocks = [cidrsubnet("10.0.0.0/8", 8, 1)]\n'
            "  }\n}\n",
            "bad.tf:2: aws_security_group.a ingress[0]: cidr_blocks is not known",
        ),
        (
            "bad.tf",
            'resource "aws_security_group" "a" {\n  ingress {\n    from_port = 22\n'
            '    to_port = 22\n    protocol = "tcp"\n    cidr_block = "10.0.0.0/8"\n  }\n}\n',
            "bad.tf:2: aws_security_group.a ingress[0]: Terraform knows no argument 'cidr_block'",
        ),
        ("bad.tf", 'resource "x" {\n', "bad.tf:2: malformed HCL"),
        (
            "bad.yaml",
            "Resources:\n  G:\n    Type: AWS::EC2::SecurityGroup\n    Properties:\n"
            "      GroupDescription: g\n      SecurityGroupIngress:\n"
            "        - {IpProtocol: tcp, FromPort: 1, ToPort: 1, CidrIp: !GetAZs ''}\n",
            "bad.yaml:7: G SecurityGroupIngress[0]: unsupported intrinsic function Fn::GetAZs",
        ),
        (
            "bad.yaml",
            "Parameters:\n  Cidr: {Type: String}\nResources:\n  G:\n"
            "    Type: AWS::EC2::SecurityGroup\n    Properties:\n      GroupDescription: g\n"
            "      SecurityGroupIngress:\n"
            "        - {IpProtocol: tcp, FromPort: 1, ToPort: 1, CidrIp: !Ref Cidr}\n",
            "parameter 'Cidr' has no Default: give --parameter Cidr=VALUE",
        ),
        ("bad.yaml", "name: [x\n", "bad.yaml:2: malformed YAML"),  # a topology file
        ("bad.json", '{"SecurityGroups": [}', "bad.json:1: malformed JSON"),
        ("bad.json", '{"Something": []}', "bad.json: not a format sg-harness reads"),
        ("notes.txt", "hello", "notes.txt: not a format sg-harness reads (.txt extension"),
    ],
)
def test_what_cannot_be_imported_is_refused_in_one_line(
    tmp_path: Path, name: str, text: str, expected: str
) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(TopologyError) as info:
        sources.load([str(path)])
    message = str(info.value).replace(str(tmp_path) + "/", "")
    assert expected in message
    assert "\n" not in message


def test_an_invalid_rule_names_the_users_file_and_construct(tmp_path: Path) -> None:
    path = tmp_path / "main.tf"
    path.write_text(
        'resource "aws_security_group" "a" {\n  ingress {\n    from_port = 443\n'
        '    to_port = 22\n    protocol = "tcp"\n    cidr_blocks = ["0.0.0.0/0"]\n  }\n}\n'
    )
    with pytest.raises(TopologyError) as info:
        sources.load([str(tmp_path)])
    assert str(info.value).startswith(f"{path}:2: aws_security_group.a ingress[0]: ")
    assert "reversed" in str(info.value)


# -- representatives and outside hosts -------------------------------------------------------


def test_representatives_stand_for_each_attached_set_of_groups_and_listen_on_admitted_ports() -> (
    None
):
    template = {
        "Resources": {
            "A": {
                "Type": "AWS::EC2::SecurityGroup",
                "Properties": {
                    "GroupDescription": "a",
                    "SecurityGroupIngress": [
                        {
                            "IpProtocol": "tcp",
                            "FromPort": 80,
                            "ToPort": 81,
                            "CidrIp": "10.1.0.0/16",
                        },
                        {"IpProtocol": "udp", "FromPort": 53, "ToPort": 53, "CidrIp": "0.0.0.0/0"},
                    ],
                },
            },
            "B": {"Type": "AWS::EC2::SecurityGroup", "Properties": {"GroupDescription": "b"}},
            "Web": {
                "Type": "AWS::EC2::Instance",
                "Properties": {
                    "SecurityGroupIds": [{"Ref": "A"}, {"Fn::GetAtt": ["B", "GroupId"]}]
                },
            },
        }
    }
    loaded = _load_text(json.dumps(template), "rep.json")
    assert loaded.imported is not None
    assert loaded.imported.representatives == ("rep-A-B",)
    (rep,) = loaded.topology.instances
    assert {str(item) for item in rep.listen} == {"tcp/80", "tcp/81", "udp/53"}
    assert rep.nics[0].public is not None
    hosts = {host.name: str(host.address) for host in loaded.topology.hosts}
    assert set(hosts) == {"internet", "in-10.1.0.0_16", "out-10.1.0.0_16"}
    assert hosts["internet"] not in ("10.1.0.10",)
    assert cells(loaded.topology)[("in-10.1.0.0_16", "rep-A-B", "tcp/80")] == "open"
    assert cells(loaded.topology)[("out-10.1.0.0_16", "rep-A-B", "tcp/80")] == "filtered"


def _load_text(text: str, name: str) -> sources.Loaded:
    import tempfile

    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / name
        path.write_text(text)
        return sources.load([str(path)])


def _from_text(text: str, name: str) -> Topology:
    return _load_text(text, name).topology


def test_protocol_numbers_and_string_ports_are_normalised() -> None:
    template = yaml.safe_dump(
        {
            "Resources": {
                "G": {
                    "Type": "AWS::EC2::SecurityGroup",
                    "Properties": {
                        "GroupDescription": "g",
                        "SecurityGroupIngress": [
                            {
                                "IpProtocol": "6",
                                "FromPort": "22",
                                "ToPort": "22",
                                "CidrIp": "10.0.0.0/8",
                            },
                            {"IpProtocol": -1, "CidrIpv6": "::/0"},
                        ],
                    },
                }
            }
        }
    )
    topology = _from_text(template, "g.yaml")
    rules = group(topology, "G").rules
    assert {(r.protocol, r.from_port) for r in rules} == {(Protocol.TCP, 22), (Protocol.ALL, -1)}


def test_adjacent_cidrs_get_one_host_per_address() -> None:
    """Just outside 10.1.0.0/24 is inside 10.1.1.0/24: one host stands for that address."""
    rules = [
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "CidrIp": cidr}
        for cidr in ("10.1.0.0/24", "10.1.1.0/24")
    ]
    template = {
        "Resources": {
            "G": {
                "Type": "AWS::EC2::SecurityGroup",
                "Properties": {"GroupDescription": "g", "SecurityGroupIngress": rules},
            }
        }
    }
    topology = _from_text(json.dumps(template), "adjacent.json")
    addresses = [str(host.address) for host in topology.hosts]
    assert len(addresses) == len(set(addresses))
    assert {h.name for h in topology.hosts} >= {"in-10.1.0.0_24", "in-10.1.1.0_24"}


def test_a_plain_topology_file_is_never_read_by_the_cloudformation_loader(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from harness.formats import sources
    from harness.formats.imports import cloudformation

    def refused(text: str, source: str) -> object:
        raise AssertionError("a plain topology went through the CloudFormation loader")

    monkeypatch.setattr(cloudformation, "parse", refused)
    path = tmp_path / "lab.yaml"
    path.write_text("name: lab\ngroups: [{name: web}]\ninstances: [{name: i, groups: [web]}]\n")
    loaded = sources.load([str(path)])
    assert loaded.imported is None and loaded.topology.name == "lab"


def test_a_short_form_tag_outside_a_template_is_an_error_not_a_function(tmp_path: Path) -> None:
    from harness.formats import sources

    path = tmp_path / "lab.yaml"
    path.write_text("name: lab\ngroups: [{name: !Ref Web}]\ninstances: []\n")
    with pytest.raises(TopologyError) as err:
        sources.load([str(path)])
    assert "lab.yaml" in str(err.value) and "tag" in str(err.value)


@pytest.mark.parametrize(
    ("suffix", "data", "name"),
    [
        (".yaml", {"AWSTemplateFormatVersion": "2010-09-09", "Resources": {}}, "cloudformation"),
        (".json", {"format_version": "1.2", "planned_values": {}}, "terraform-json"),
        (".json", {"SecurityGroups": []}, "aws-json"),
        (".yaml", {"services": {"web": {"image": "x"}}}, "compose"),
        (".yaml", {"name": "lab", "groups": []}, "topology"),
        (".tf", None, "terraform"),
    ],
)
def test_every_format_is_told_apart_in_one_table(suffix: str, data: object, name: str) -> None:
    from harness.formats import sources

    assert sources.format_of("f" + suffix, suffix, data).name == name


def test_a_json_template_indented_with_tabs_is_read_with_its_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """JSON allows tabs between tokens; YAML's pure-Python loader refuses them (libyaml's is
    lenient): the template is given to the line-keeping loader without them, lines kept."""
    from harness.formats import sources
    from harness.formats.imports import cloudformation

    read = cloudformation.parse

    def without_tabs(text: str, source: str) -> object:
        assert "\t" not in text, "a tab reached the YAML loader"
        return read(text, source)

    monkeypatch.setattr(cloudformation, "parse", without_tabs)
    template = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Resources": {
            "Web": {
                "Type": "AWS::EC2::SecurityGroup",
                "Properties": {
                    "GroupDescription": "web",
                    "SecurityGroupIngress": [
                        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "CidrIp": "0.0.0.0/0"}
                    ],
                },
            }
        },
    }
    path = tmp_path / "web.json"
    path.write_text(json.dumps(template, indent="\t"))
    loaded = sources.load([str(path)])
    web = next(g for g in loaded.topology.groups if g.name == "Web")
    (rule,) = web.rules
    assert rule.from_port == 22 and str(rule.cidr) == "0.0.0.0/0"
    assert web.origin is not None and web.origin.line == 4  # "Web": { is the file's line 4


def test_a_typo_in_a_group_reference_is_refused_as_terraform_refuses_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from harness.faces.sgh.main import main

    (tmp_path / "main.tf").write_text(
        'resource "aws_security_group" "web" {\n  name = "web"\n}\n'
        'resource "aws_security_group" "db" {\n  name = "db"\n}\n'
        'resource "aws_security_group_rule" "pg" {\n'
        '  type                     = "ingress"\n'
        "  from_port                = 5432\n"
        "  to_port                  = 5432\n"
        '  protocol                 = "tcp"\n'
        "  security_group_id        = aws_security_group.db.id\n"
        "  source_security_group_id = aws_security_group.webb.id\n"
        "}\n"
    )
    assert main(["run", str(tmp_path), "-q", "--runtime", "netns"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        f"sgh: {tmp_path}/main.tf:7: aws_security_group_rule.pg: source_security_group_id names "
        "aws_security_group.webb, which is not declared: Reference to undeclared resource "
        "(Terraform refuses it too; if another file declares it, give the module's directory)"
    ]


OUTSIDE_TF = (
    'resource "aws_security_group" "db" {\n  name = "db"\n}\n'
    'resource "aws_security_group_rule" "pg" {\n'
    '  type = "ingress"\n  from_port = 5432\n  to_port = 5432\n  protocol = "tcp"\n'
    "  security_group_id = aws_security_group.db.id\n"
    "  source_security_group_id = {source}\n"
    "}\n"
)


def test_a_group_the_input_does_not_define_is_refused_until_named_outside(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A literal id (or a module's output, an import) could be a typo that would test as an
    empty group: sgh run exits 2 naming it and the option that says it is deliberate."""
    from harness.faces.sgh.main import main

    (tmp_path / "main.tf").write_text(OUTSIDE_TF.replace("{source}", '"sg-0abc"'))
    assert main(["run", str(tmp_path), "-q", "--runtime", "netns"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        f"sgh: {tmp_path}/main.tf:4: aws_security_group_rule.pg: sg-0abc is not defined in the "
        "input; if it lives outside the input, say so: --outside sg-0abc "
        "(pytest: sg_topology(..., outside=['sg-0abc']))"
    ]
    loaded = sources.load([str(tmp_path)], sources.Options(outside=frozenset({"sg-0abc"})))
    assert loaded.imported is not None
    assert any("group sg-0abc is not in the input" in n for n in loaded.imported.notes)
    assert "outside-sg-0abc" in {g.name for g in loaded.topology.groups}


def test_a_data_source_is_outside_by_the_inputs_own_word_and_must_be_declared(
    tmp_path: Path,
) -> None:
    source = "data.aws_security_group.shared.id"
    (tmp_path / "main.tf").write_text(OUTSIDE_TF.replace("{source}", source))
    with pytest.raises(TopologyError, match=r"data\.aws_security_group\.shared, which is not decl"):
        sources.load([str(tmp_path)])
    (tmp_path / "data.tf").write_text('data "aws_security_group" "shared" {\n  id = "x"\n}\n')
    topology = sources.load([str(tmp_path)]).topology
    assert "outside-data.aws_security_group.shared" in {g.name for g in topology.groups}


def test_a_group_aws_names_but_the_dump_does_not_hold_is_outside_with_a_note(
    tmp_path: Path,
) -> None:
    """AWS's own describe output cannot hold a typo: a group it names exists in AWS (a partial
    dump, another account)."""
    dump = {
        "SecurityGroups": [
            {
                "GroupId": "sg-0aaa",
                "GroupName": "db",
                "VpcId": "vpc-1",
                "IpPermissions": [
                    {
                        "IpProtocol": "tcp",
                        "FromPort": 5432,
                        "ToPort": 5432,
                        "UserIdGroupPairs": [{"GroupId": "sg-0bbb"}],
                    }
                ],
            }
        ]
    }
    path = tmp_path / "groups.json"
    path.write_text(json.dumps(dump))
    loaded = sources.load([str(path)])
    assert loaded.imported is not None
    assert any("group sg-0bbb is not in the input" in n for n in loaded.imported.notes)


def test_what_aws_normalises_is_imported_once_with_a_note(tmp_path: Path) -> None:
    """A rule that repeats another once normalised is one rule in AWS; a block with no peer
    allows nothing. Each is said in a note; the rest of the group is imported."""
    (tmp_path / "main.tf").write_text(
        'resource "aws_security_group" "web" {\n'
        '  name = "web"\n'
        "  ingress {\n"
        '    from_port = 22\n    to_port = 22\n    protocol = "tcp"\n'
        '    cidr_blocks = ["0.0.0.0/0"]\n'
        "  }\n"
        "  egress {\n"
        '    from_port = 0\n    to_port = 0\n    protocol = "-1"\n'
        '    cidr_blocks = ["0.0.0.0/0", "10.0.0.0/0"]\n'
        "  }\n"
        "  egress {\n"
        '    from_port = 0\n    to_port = 0\n    protocol = "-1"\n'
        "    cidr_blocks = null\n"
        "  }\n"
        "}\n"
    )
    loaded = sources.load([str(tmp_path)])
    assert loaded.imported is not None
    notes = "\n".join(loaded.imported.notes)
    assert "main.tf:9 aws_security_group.web egress[0]: this egress rule repeats" in notes
    assert "main.tf:15 aws_security_group.web egress[1]: a rule with no peer" in notes
    web = next(g for g in loaded.topology.groups if g.name == "web")
    assert [str(r.cidr) for r in web.rules] == ["0.0.0.0/0"]
    assert web.egress is not None and [str(r.cidr) for r in web.egress] == ["0.0.0.0/0"]


def test_an_interface_address_the_lab_cannot_use_is_moved_with_a_note(tmp_path: Path) -> None:
    """A test fixture's interface at a subnet's reserved address (AWS never gives one) is
    placed at the subnet's highest free address, and the note names both."""
    dump = {
        "SecurityGroups": [
            {
                "GroupId": "sg-0a0000000000000a1",
                "GroupName": "web",
                "Description": "web",
                "OwnerId": "111122223333",
                "VpcId": "vpc-0fix",
                "IpPermissions": [
                    {
                        "IpProtocol": "tcp",
                        "FromPort": 80,
                        "ToPort": 80,
                        "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
                    }
                ],
            }
        ],
        "Vpcs": [{"VpcId": "vpc-0fix", "CidrBlock": "10.0.0.0/16"}],
        "Subnets": [{"SubnetId": "subnet-0fix", "VpcId": "vpc-0fix", "CidrBlock": "10.0.0.0/24"}],
        "NetworkInterfaces": [
            {
                "NetworkInterfaceId": "eni-0fix",
                "SubnetId": "subnet-0fix",
                "VpcId": "vpc-0fix",
                "PrivateIpAddress": "10.0.0.1",
                "Groups": [{"GroupId": "sg-0a0000000000000a1"}],
            }
        ],
    }
    path = tmp_path / "dump.json"
    path.write_text(json.dumps(dump))
    loaded = sources.load([str(path)])
    assert loaded.imported is not None
    notes = "\n".join(loaded.imported.notes)
    assert (
        "interface address 10.0.0.1 is one of the addresses AWS reserves in 10.0.0.0/24: "
        "the lab places it at 10.0.0.254"
    ) in notes
    (instance,) = loaded.topology.instances
    assert str(instance.address) == "10.0.0.254"


def test_stand_ins_go_where_the_terraform_puts_its_instances(tmp_path: Path) -> None:
    """aws_instance.app and .db in a private subnet, without public addresses: their stand-in
    is private too, and the internet has no path to it; the web instance's is public."""
    from harness.core.matrix import expectations
    from harness.core.model import State
    from harness.core.planner import plan

    (tmp_path / "main.tf").write_text(
        """\
resource "aws_vpc" "shop" {
  cidr_block = "10.30.0.0/16"
}
resource "aws_subnet" "public" {
  vpc_id                  = aws_vpc.shop.id
  cidr_block              = "10.30.1.0/24"
  map_public_ip_on_launch = true
}
resource "aws_subnet" "private" {
  vpc_id     = aws_vpc.shop.id
  cidr_block = "10.30.2.0/24"
}
resource "aws_security_group" "web" {
  name   = "web"
  vpc_id = aws_vpc.shop.id
  ingress {
    from_port   = 443
    to_port     = 443
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }
}
resource "aws_security_group" "app" {
  name   = "app"
  vpc_id = aws_vpc.shop.id
  ingress {
    from_port   = 8080
    to_port     = 8080
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }
}
resource "aws_instance" "web" {
  ami                    = "ami-12345678"
  subnet_id              = aws_subnet.public.id
  vpc_security_group_ids = [aws_security_group.web.id]
}
resource "aws_instance" "app" {
  ami                    = "ami-12345678"
  subnet_id              = aws_subnet.private.id
  vpc_security_group_ids = [aws_security_group.app.id]
}
"""
    )
    loaded = sources.load([str(tmp_path)])
    assert loaded.imported is not None
    instances = {i.name: i for i in loaded.topology.instances}
    app, web = instances["rep-app"], instances["rep-web"]
    assert app.nics[0].subnet == "private" and app.nics[0].public is None
    assert web.nics[0].subnet == "public" and web.nics[0].public is not None
    notes = "\n".join(loaded.imported.notes)
    assert "rep-app stands for every member of app" in notes
    assert "in private with no public address (its subnet aws_subnet.private" in notes
    cells = [c for c in plan(loaded.topology) if c.source == "internet"]
    verdicts = expectations(loaded.topology, cells)
    to_app = {v.state for c, v in verdicts.items() if c.target == "rep-app"}
    to_web = {v.state for c, v in verdicts.items() if c.target == "rep-web"}
    assert to_app == set()  # a private instance: no path from the internet, nothing to probe
    assert State.OPEN in to_web


def test_a_cloudformation_instance_in_a_private_subnet_has_a_private_stand_in(
    tmp_path: Path,
) -> None:
    (tmp_path / "stack.yaml").write_text(
        """\
AWSTemplateFormatVersion: "2010-09-09"
Resources:
  Vpc:
    Type: AWS::EC2::VPC
    Properties: {CidrBlock: 10.40.0.0/16}
  Private:
    Type: AWS::EC2::Subnet
    Properties: {VpcId: !Ref Vpc, CidrBlock: 10.40.2.0/24}
  Db:
    Type: AWS::EC2::SecurityGroup
    Properties:
      GroupDescription: db
      VpcId: !Ref Vpc
      SecurityGroupIngress:
        - {IpProtocol: tcp, FromPort: 5432, ToPort: 5432, CidrIp: 0.0.0.0/0}
  Server:
    Type: AWS::EC2::Instance
    Properties:
      ImageId: ami-12345678
      NetworkInterfaces:
        - DeviceIndex: "0"
          SubnetId: !Ref Private
          AssociatePublicIpAddress: false
          GroupSet: [!Ref Db]
"""
    )
    loaded = sources.load([str(tmp_path / "stack.yaml")])
    (stand_in,) = loaded.topology.instances
    assert stand_in.nics[0].subnet == "Private" and stand_in.nics[0].public is None
    assert loaded.imported is not None
    assert any("in Private with no public address" in note for note in loaded.imported.notes)


def test_a_ref_to_nothing_the_template_declares_is_refused_as_cloudformation_refuses_it(
    tmp_path: Path,
) -> None:
    path = tmp_path / "stack.yaml"
    path.write_text(
        'AWSTemplateFormatVersion: "2010-09-09"\n'
        "Resources:\n"
        "  Web:\n    Type: AWS::EC2::SecurityGroup\n    Properties: {GroupDescription: web}\n"
        "  Db:\n    Type: AWS::EC2::SecurityGroup\n    Properties:\n"
        "      GroupDescription: db\n      SecurityGroupIngress:\n"
        "        - {IpProtocol: tcp, FromPort: 5432, ToPort: 5432,\n"
        "           SourceSecurityGroupId: !Ref Webb}\n"
    )
    with pytest.raises(TopologyError) as info:
        sources.load([str(path)])
    message = str(info.value)
    assert "Ref Webb: the template has no resource or parameter 'Webb'" in message
    assert "--parameter" not in message and "\n" not in message


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_a_key_written_twice_in_a_template_keeps_the_last_as_cloudformation_does(
    tmp_path: Path, suffix: str
) -> None:
    lines = [
        "{",
        '  "Resources": {',
        '    "Web": {"Type": "AWS::EC2::SecurityGroup", "Properties": {',
        '      "GroupDescription": "web",',
        '      "SecurityGroupIngress": [{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,',
        '                                "CidrIp": "10.0.0.0/8"}],',
        '      "SecurityGroupIngress": [{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,',
        '                                "CidrIp": "0.0.0.0/0"}]}}',
        "  }",
        "}",
    ]
    path = tmp_path / f"stack{suffix}"
    path.write_text("\n".join(lines) + "\n")  # JSON is YAML: one text serves both readers
    loaded = sources.load([str(path)])
    assert loaded.imported is not None
    assert (
        f"{path}:7: key 'SecurityGroupIngress' is written twice in one mapping (lines 5 and 7): "
        "CloudFormation keeps the last, and so does the import"
    ) in loaded.imported.notes
    assert rules_text(loaded.topology, "Web") == {"tcp 443 from 0.0.0.0/0"}


def test_an_owner_that_is_no_account_id_stands_for_one_account_with_a_note(
    tmp_path: Path,
) -> None:
    """Test fixtures write owners as "owner1"; AWS writes the Classic ELB's as "amazon-elb"."""
    pair = {"UserId": "amazon-elb", "GroupId": "sg-0elb", "GroupName": "amazon-elb-sg"}
    dump = {
        "SecurityGroups": [
            {
                "GroupId": "sg-0app",
                "GroupName": "app",
                "OwnerId": "owner1",
                "IpPermissions": [
                    {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "UserIdGroupPairs": [pair]}
                ],
            }
        ]
    }
    path = tmp_path / "groups.json"
    path.write_text(json.dumps(dump))
    loaded = sources.load([str(path)])
    assert loaded.imported is not None
    notes = "\n".join(loaded.imported.notes)
    assert "owner 'owner1' is not an account id (12 digits): it stands for account 9990" in notes
    assert "owner 'amazon-elb' is not an account id" in notes
    outside = next(g for g in loaded.topology.groups if g.name == "outside-sg-0elb")
    app = next(g for g in loaded.topology.groups if g.name == "app")
    assert outside.key.account != app.key.account
