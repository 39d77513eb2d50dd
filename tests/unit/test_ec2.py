from __future__ import annotations

from ipaddress import IPv4Network

import pytest

from harness.core.ec2 import platform as platforms
from harness.core.ec2 import rules as rulebook
from harness.core.model import GroupKey, Protocol, Rule
from harness.errors import Ec2Error

KEY = GroupKey("111122223333", "web")


def rule(port: int, cidr: str = "0.0.0.0/0") -> Rule:
    return rulebook.make_rule(
        platforms.CLASSIC, Protocol.TCP, port, port, cidr=IPv4Network(cidr, strict=False)
    )


def code(call: object) -> str:
    with pytest.raises(Ec2Error) as info:
        call()  # type: ignore[operator]
    return info.value.code


def test_default_group_rules() -> None:
    group = rulebook.default_group("111122223333")
    assert group.description == "default group"
    assert [r.describe("111122223333") for r in group.rules] == [
        "tcp 0-65535 from default",
        "udp 0-65535 from default",
        "icmp -1:-1 from default",
    ]


def test_new_group_allows_nothing_and_default_is_reserved() -> None:
    assert rulebook.new_group(KEY, "d").rules == ()
    assert code(lambda: rulebook.new_group(GroupKey("111122223333", "default"), "d")) == (
        "InvalidGroup.Reserved"
    )
    assert code(lambda: rulebook.new_group(KEY, "")) == "MissingParameter"
    assert code(lambda: rulebook.new_group(GroupKey("111122223333", "x" * 256), "d")) == (
        "InvalidParameterValue"
    )
    assert code(lambda: rulebook.new_group(GroupKey("111122223333", "caf\u00e9"), "d")) == (
        "InvalidParameterValue"
    )


def test_authorize_duplicate_and_normalized_duplicate() -> None:
    group = rulebook.authorize(rulebook.new_group(KEY, "d"), [rule(80, "10.1.2.0/24")])
    assert code(lambda: rulebook.authorize(group, [rule(80, "10.1.2.9/24")])) == (
        "InvalidPermission.Duplicate"
    )
    assert code(lambda: rulebook.authorize(group, [rule(81), rule(81)])) == "InvalidParameterValue"


def test_rule_limit_is_100_and_nothing_partial() -> None:
    group = rulebook.authorize(rulebook.new_group(KEY, "d"), [rule(port) for port in range(1, 100)])
    assert len(group.rules) == 99
    full = rulebook.authorize(group, [rule(100)])
    assert len(full.rules) == 100
    assert (
        code(lambda: rulebook.authorize(full, [rule(101)])) == "RulesPerSecurityGroupLimitExceeded"
    )
    assert code(lambda: rulebook.authorize(group, [rule(101), rule(102)])) == (
        "RulesPerSecurityGroupLimitExceeded"
    )


def test_revoke_missing_rule_is_not_an_error_in_classic() -> None:
    group = rulebook.authorize(rulebook.new_group(KEY, "d"), [rule(80)])
    assert rulebook.revoke(group, [rule(81)]) == group
    assert rulebook.revoke(group, [rule(80)]).rules == ()


def test_group_count_limit() -> None:
    rulebook.check_group_count(platforms.CLASSIC, 500, "111122223333")
    assert (
        code(lambda: rulebook.check_group_count(platforms.CLASSIC, 501, "111122223333"))
        == "SecurityGroupLimitExceeded"
    )


@pytest.mark.parametrize(
    ("protocol", "low", "high", "expected"),
    [
        (Protocol.TCP, -1, -1, "InvalidPermission.Malformed"),
        (Protocol.UDP, 0, 65536, "InvalidPermission.Malformed"),
        (Protocol.TCP, 90, 80, "InvalidPermission.Malformed"),
        (Protocol.ICMP, 256, 0, "InvalidParameterValue"),
        (Protocol.ICMP, -1, 3, "InvalidPermission.Malformed"),
    ],
)
def test_bad_ports(protocol: Protocol, low: int, high: int, expected: str) -> None:
    assert code(lambda: rulebook.check_ports(protocol, low, high, platforms.CLASSIC)) == expected


def test_protocol_numbers_and_cidrs() -> None:
    assert rulebook.parse_protocol("6", platforms.CLASSIC) is Protocol.TCP
    assert rulebook.parse_protocol("UDP", platforms.CLASSIC) is Protocol.UDP
    assert rulebook.parse_protocol(1, platforms.CLASSIC) is Protocol.ICMP
    assert rulebook.parse_cidr("100.68.0.18/18", platforms.CLASSIC) == IPv4Network("100.68.0.0/18")
    for bad in ("10.0.0.0/33", "300.1.1.1/32", "10.0.0/8", "10.0.0.1", "x"):
        assert (
            code(lambda bad=bad: rulebook.parse_cidr(bad, platforms.CLASSIC))
            == "InvalidParameterValue"
        )


def test_duplicate_message_has_ec2s_shape() -> None:
    group = rulebook.authorize(rulebook.new_group(KEY, "d"), [rule(22)])
    with pytest.raises(Ec2Error) as info:
        rulebook.authorize(group, [rule(22)])
    assert info.value.message == (
        'the specified rule "peer: 0.0.0.0/0, TCP, from port: 22, to port: 22, ALLOW" '
        "already exists"
    )


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("pl:office", ("prefix-list", None, "office")),
        ("pl-0123456789abcdef0", ("prefix-list", None, "pl-0123456789abcdef0")),
        ("444455556666/web", ("group", "444455556666", "web")),
        ("10.0.0.0/8", ("cidr", None, "10.0.0.0/8")),
        ("10.0.0.1", ("cidr", None, "10.0.0.1")),
        ("::/0", ("cidr", None, "::/0")),
        ("3tier", ("group", None, "3tier")),
        ("sg-12345678", ("group", None, "sg-12345678")),
    ],
)
def test_a_peers_text_is_read_one_way_everywhere(
    text: str, kind: tuple[str, str | None, str]
) -> None:
    assert rulebook.peer_kind(text) == kind
