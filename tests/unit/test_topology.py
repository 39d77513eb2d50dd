from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network
from pathlib import Path

import pytest

from harness.core.model import GroupKey, Listen, Protocol
from harness.errors import TopologyError
from harness.faces.sgh.main import main
from harness.formats import topology_file

ROOT = Path(__file__).resolve().parents[2]

GOOD = """
name: t
groups:
  - name: web
    rules:
      - {protocol: tcp, ports: 80, source: 0.0.0.0/0}
instances:
  - {name: web, count: 2, groups: [web], listen: [tcp/80]}
"""


def test_three_tier_shape() -> None:
    topo = topology_file.load(ROOT / "topologies/three-tier.yaml")
    names = [i.name for i in topo.instances]
    assert names[:2] == ["web-1", "web-2"] and len(names) == 29
    assert sum(n.startswith("app-") for n in names) == 20
    assert sum(n.startswith("db-") for n in names) == 2
    app = topo.group(GroupKey("111122223333", "appserver"))
    assert {(r.protocol, r.from_port, r.to_port) for r in app.rules} == {
        (Protocol.TCP, 0, 65535),
        (Protocol.UDP, 0, 65535),
        (Protocol.ICMP, -1, -1),
    }
    assert all(r.group == GroupKey("111122223333", "apache") for r in app.rules)
    assert [h.address for h in topo.hosts] == [
        IPv4Address("203.0.113.19"),
        IPv4Address("198.51.100.10"),
    ]
    assert topo.instances[0].address == IPv4Address("10.254.0.11")
    assert all(i.address in IPv4Network("10.254.0.0/16") for i in topo.instances)


def test_default_group_has_its_three_rules_and_alberts() -> None:
    topo = topology_file.load(ROOT / "topologies/default-group.yaml")
    default = topo.group(GroupKey("111122223333", "default"))
    described = [r.describe("111122223333") for r in default.rules]
    assert described == [
        "tcp 0-65535 from default",
        "udp 0-65535 from default",
        "icmp -1:-1 from default",
        "tcp 22 from 203.0.113.7/32",
    ]
    assert topo.instances[0].groups == (GroupKey("111122223333", "default"),)


def test_single_instance_keeps_its_name_and_count_expands() -> None:
    topo = topology_file.loads(GOOD + "  - {name: admin, listen: [tcp/22]}\n")
    assert [i.name for i in topo.instances] == ["web-1", "web-2", "admin"]
    assert topo.instances[2].listen == (Listen(Protocol.TCP, 22),)


def test_cidr_with_host_bits_is_normalized() -> None:
    topo = topology_file.loads(GOOD.replace("0.0.0.0/0", "10.1.2.3/24"))
    rule = topo.group(GroupKey("111122223333", "web")).rules[0]
    assert rule.cidr == IPv4Network("10.1.2.0/24")
    assert rule.written == "10.1.2.3/24"


def test_instances_never_take_a_host_address() -> None:
    text = """
name: t
subnet: 10.9.0.0/28
instances:
  - {name: i, count: 3}
hosts:
  - {name: h, address: 10.9.0.2}
"""
    topo = topology_file.loads(text)
    addresses = [i.address for i in topo.instances]
    assert IPv4Address("10.9.0.2") not in addresses
    assert len(set(addresses)) == 3


def test_cross_account_source() -> None:
    text = """
name: t
groups:
  - {name: partners, account: "444455556666"}
  - name: web
    rules:
      - {protocol: tcp, ports: 443, source: 444455556666/partners}
instances:
  - {name: w, groups: [web]}
"""
    topo = topology_file.loads(text)
    rule = topo.group(GroupKey("111122223333", "web")).rules[0]
    assert rule.group == GroupKey("444455556666", "partners")


BAD = {
    "malformed YAML": ("name: [x\n", "bad.yaml:2: malformed YAML"),
    "unknown group": (
        GOOD.replace("groups: [web]", "groups: [nope]"),
        "instances[0] 'web': InvalidGroup.NotFound: The security group 'nope' does not exist",
    ),
    "unknown source group": (
        GOOD.replace("source: 0.0.0.0/0", "source: ghosts"),
        "groups[0] 'web' rules[0]: InvalidGroup.NotFound: "
        "The security group 'ghosts' does not exist",
    ),
    "bad CIDR prefix": (
        GOOD.replace("0.0.0.0/0", "10.0.0.0/33"),
        "InvalidParameterValue: CIDR block 10.0.0.0/33 is malformed",
    ),
    "bad CIDR octet": (
        GOOD.replace("0.0.0.0/0", "300.1.1.1/32"),
        "InvalidParameterValue: CIDR block 300.1.1.1/32 is malformed",
    ),
    "reversed port range": (
        GOOD.replace("ports: 80", "ports: 8080-80"),
        "InvalidPermission.Malformed: TCP/UDP port range 8080-80 is reversed",
    ),
    "port out of range": (
        GOOD.replace("ports: 80", "ports: 70000"),
        "InvalidPermission.Malformed: TCP/UDP port (70000) out of range",
    ),
    "unknown protocol": (
        GOOD.replace("protocol: tcp", "protocol: sctp"),
        'InvalidPermission.Malformed: Unsupported IP protocol "sctp"',
    ),
    "all protocols (-1) is VPC only": (
        GOOD.replace("protocol: tcp", "protocol: -1"),
        'Unsupported IP protocol "-1"',
    ),
    "unknown key": (GOOD.replace("ports: 80", "portz: 80"), "unknown key 'portz' in a rule"),
    "duplicate group": (
        GOOD.replace("instances:", "  - {name: web}\ninstances:"),
        "InvalidGroup.Duplicate: The security group 'web' already exists",
    ),
    "duplicate rule": (
        GOOD.replace(
            "      - {protocol: tcp, ports: 80, source: 0.0.0.0/0}",
            "      - {protocol: tcp, ports: 80, source: 0.0.0.0/0}\n"
            "      - {protocol: tcp, ports: 80, source: 0.0.0.0/0}",
        ),
        "InvalidPermission.Duplicate",
    ),
    "group named sg-": (GOOD.replace("name: web\n", "name: sg-web\n"), "Group names may not be"),
    "no source": (GOOD.replace(", source: 0.0.0.0/0", ""), "MissingParameter: Missing source"),
    "icmp without type": (
        GOOD.replace("protocol: tcp, ports: 80", "protocol: icmp"),
        "ICMP type and code are required",
    ),
    "bad icmp type": (
        GOOD.replace("protocol: tcp, ports: 80", "protocol: icmp, icmp: '300:-1'"),
        "ICMP type (300) out of range",
    ),
    "bad listen": (GOOD.replace("tcp/80]", "http]"), "listen entry 'http'"),
    "no instances": ("name: t\n", "needs at least one instance"),
    "no name": ("instances: [{name: a}]\n", "the topology needs 'name'"),
    "empty file": ("", "the file is empty"),
    "bad count": (GOOD.replace("count: 2", "count: 0"), "count must be a whole number"),
    "host address reused": (
        GOOD + "hosts:\n  - {name: a, address: 1.2.3.4}\n  - {name: b, address: 1.2.3.4}\n",
        "address 1.2.3.4 is used by two hosts",
    ),
    "name clash": (GOOD + "hosts:\n  - {name: web-1, address: 1.2.3.4}\n", "'web-1' is used twice"),
}


def _too_many_rules() -> str:
    rules = "\n".join(
        f"      - {{protocol: tcp, ports: {port}, source: 0.0.0.0/0}}" for port in range(1, 102)
    )
    return f"name: t\ngroups:\n  - name: big\n    rules:\n{rules}\ninstances:\n  - {{name: a}}\n"


BAD["more than 100 rules"] = (_too_many_rules(), "RulesPerSecurityGroupLimitExceeded")


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_topology_is_one_clear_error(case: str) -> None:
    text, expected = BAD[case]
    with pytest.raises(TopologyError) as info:
        topology_file.loads(text, "bad.yaml")
    message = str(info.value)
    assert message.startswith("bad.yaml"), message
    assert expected in message
    assert "\n" not in message


@pytest.mark.parametrize("case", ["unknown group", "reversed port range", "malformed YAML"])
def test_cli_exits_2_with_one_line(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(BAD[case][0])
    assert main(["run", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(path) in err and "Traceback" not in err


def test_error_names_the_line() -> None:
    text = GOOD.replace("ports: 80", "ports: 99999")
    with pytest.raises(TopologyError) as info:
        topology_file.loads(text, "x.yaml")
    assert info.value.line == 6
    assert str(info.value).startswith("x.yaml:6: groups[0] 'web' rules[0]: ")


def test_missing_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "/nonexistent/topology_file.yaml"]) == 2
    assert "/nonexistent/topology_file.yaml: no such file" in capsys.readouterr().err


def test_wrong_kinds_are_named() -> None:
    with pytest.raises(TopologyError) as info:
        topology_file.loads("name: true\ninstances: [{name: a}]\n", "k.yaml")
    assert "name must be a string, not true/false" in str(info.value)
