"""The persistent lab's control plane: EC2-Classic's rules of the game, as pure functions."""

from __future__ import annotations

import itertools

import pytest

from harness.core.ec2 import plane as ec2
from harness.core.ec2.plane import Cloud, Permission
from harness.core.model import GroupKey
from harness.errors import Ec2Error, InvalidInput

A = "111122223333"
B = "444455556666"
_ids = itertools.count(1)


def new_id(prefix: str) -> str:
    return f"{prefix}{next(_ids):08x}"


def code(err: pytest.ExceptionInfo[Ec2Error]) -> str:
    return err.value.code


def create(c: Cloud, name: str, account: str = A) -> Cloud:
    return ec2.create_group(c, account, name, f"{name} group")[0]


def allow(
    protocol: str | None,
    low: int | None = None,
    high: int | None = None,
    cidrs: tuple[str, ...] = (),
    groups: tuple[tuple[str | None, str], ...] = (),
) -> Permission:
    """A permission as the legacy tools wrote one: CIDRs and (owner, group) pairs."""
    return Permission(
        protocol,
        low,
        high,
        tuple((cidr, "") for cidr in cidrs),
        groups=tuple((owner, ref, "") for owner, ref in groups),
    )


def grant(c: Cloud, group: str, *perms: Permission, account: str = A) -> Cloud:
    return ec2.authorize(c, account, group, list(perms), False)[0]


def launch(c: Cloud, groups: list[str], count: int = 1, account: str = A) -> Cloud:
    return ec2.run_instances(
        c,
        account,
        "ami-fba54092",
        count,
        groups=groups,
        now="2026-11-21T00:00:00+0000",
        new_id=new_id,
    )[0]


def test_every_account_has_a_default_group_with_three_self_rules() -> None:
    _c, groups = ec2.describe_groups(Cloud(), A)
    assert [g.name for g in groups] == ["default"]
    rules = groups[0].rules
    assert {(str(r.protocol), r.from_port, r.to_port) for r in rules} == {
        ("tcp", 0, 65535),
        ("udp", 0, 65535),
        ("icmp", -1, -1),
    }
    assert all(r.group == GroupKey(A, "default") for r in rules)


def test_default_is_reserved_and_undeletable() -> None:
    with pytest.raises(Ec2Error) as err:
        create(Cloud(), "default")
    assert code(err) == "InvalidGroup.Reserved"
    with pytest.raises(Ec2Error) as err:
        ec2.delete_group(Cloud(), A, "default")
    assert code(err) == "InvalidGroup.Reserved"
    assert "'default' is reserved" in err.value.message


def test_duplicate_group_and_duplicate_rule() -> None:
    c = create(Cloud(), "web")
    with pytest.raises(Ec2Error) as err:
        create(c, "web")
    assert code(err) == "InvalidGroup.Duplicate"
    assert err.value.message == "The security group 'web' already exists"
    c = create(c, "web", account=B)  # names are per account
    c = grant(c, "web", allow("tcp", 80, 80, ("0.0.0.0/0",)))
    with pytest.raises(Ec2Error) as err:
        grant(c, "web", allow("6", 80, 80, ("0.0.0.0/0",)))
    assert code(err) == "InvalidPermission.Duplicate"


def test_500_groups_per_account() -> None:
    c = Cloud()
    for index in range(499):  # plus default
        c = create(c, f"g{index}")
    with pytest.raises(Ec2Error) as err:
        create(c, "one-too-many")
    assert code(err) == "SecurityGroupLimitExceeded"
    create(c, "fine", account=B)


def test_100_rules_per_group_and_nothing_partial() -> None:
    c = create(Cloud(), "web")
    cidrs = tuple(f"10.0.{i}.0/24" for i in range(99))
    c = grant(c, "web", allow("tcp", 22, 22, cidrs))
    with pytest.raises(Ec2Error) as err:
        grant(c, "web", allow("tcp", 80, 80, ("1.1.1.1/32", "2.2.2.2/32")))
    assert code(err) == "RulesPerSecurityGroupLimitExceeded"
    assert len(ec2.find_group(c, A, "web").rules) == 99
    c = grant(c, "web", allow("tcp", 80, 80, ("1.1.1.1/32",)))
    assert len(ec2.find_group(c, A, "web").rules) == 100


def test_group_in_use_by_instances_or_by_other_groups_refuses_deletion() -> None:
    c = create(create(Cloud(), "web"), "app")
    c = grant(c, "app", allow(None, groups=((None, "web"),)))
    with pytest.raises(Ec2Error) as err:
        ec2.delete_group(c, A, "web")
    assert code(err) == "InvalidGroup.InUse"
    c = launch(c, ["app"])
    with pytest.raises(Ec2Error) as err:
        ec2.delete_group(c, A, "app")
    assert code(err) == "InvalidGroup.InUse"
    assert "active instances" in err.value.message
    # A termination releases the group at once.
    instance = c.active_instances()[0].instance_id
    c = ec2.terminate_instances(c, A, [instance])[0]
    c = ec2.delete_group(c, A, "app")[0]
    assert "app" not in [g.name for g in c.groups]
    c = ec2.delete_group(c, A, "web")[0]


def test_membership_is_fixed_after_launch() -> None:
    c = create(create(Cloud(), "web"), "app")
    c = launch(c, ["web"])
    record = c.instances[0]
    c = grant(c, "app", allow("tcp", 1, 2, ("0.0.0.0/0",)))
    c = create(c, "later")
    assert c.instances[0].groups == record.groups == (GroupKey(A, "web"),)


def test_revoking_a_missing_rule_is_not_an_error_in_classic() -> None:
    c = create(Cloud(), "web")
    wanted = [allow("tcp", 22, 22, ("1.2.3.4/32",))]
    _c2, (group, removed, unknown) = ec2.revoke(
        c, A, ref="web", permissions=wanted, rule_ids=(), egress=False
    )
    assert removed == [] and group.rules == () and len(unknown) == 1


@pytest.mark.parametrize(
    ("permission", "expected"),
    [
        (allow("-1", 0, 0, ("0.0.0.0/0",)), "InvalidPermission.Malformed"),
        (allow("gre", 0, 0, ("0.0.0.0/0",)), "InvalidPermission.Malformed"),
        (allow("tcp", None, None, ("0.0.0.0/0",)), "InvalidPermission.Malformed"),
        (allow("tcp", 80, 22, ("0.0.0.0/0",)), "InvalidPermission.Malformed"),
        (allow("udp", 0, 65536, ("0.0.0.0/0",)), "InvalidPermission.Malformed"),
        (allow("icmp", 256, 0, ("0.0.0.0/0",)), "InvalidParameterValue"),
        (allow("icmp", -1, 3, ("0.0.0.0/0",)), "InvalidPermission.Malformed"),
        (allow("icmp", None, None, ("0.0.0.0/0",)), "InvalidPermission.Malformed"),
        (allow("tcp", 22, 22, ("10.0.0.0/33",)), "InvalidParameterValue"),
        (allow("tcp", 22, 22, ("300.0.0.1/32",)), "InvalidParameterValue"),
        (allow("tcp", 22, 22, ("10.0.0.1",)), "InvalidParameterValue"),
        (allow("tcp", 22, 22), "MissingParameter"),
        (allow("tcp", 22, 22, groups=((None, "nope"),)), "InvalidGroup.NotFound"),
        (allow("tcp", 22, 22, groups=((None, "sg-zz"),)), "InvalidGroupId.Malformed"),
        (allow("tcp", 22, 22, groups=(("12", "web"),)), "InvalidParameterValue"),
    ],
)
def test_malformed_permissions(permission: Permission, expected: str) -> None:
    c = create(Cloud(), "web")
    with pytest.raises(Ec2Error) as err:
        grant(c, "web", permission)
    assert code(err) == expected


@pytest.mark.parametrize(
    ("name", "description", "expected"),
    [
        ("", "x", "MissingParameter"),
        ("web", "", "MissingParameter"),
        ("sg-web", "x", "InvalidParameterValue"),
        ("w" * 256, "x", "InvalidParameterValue"),
        ("wéb", "x", "InvalidParameterValue"),
        ("web", "d" * 256, "InvalidParameterValue"),
    ],
)
def test_malformed_names_and_descriptions(name: str, description: str, expected: str) -> None:
    with pytest.raises(Ec2Error) as err:
        ec2.create_group(Cloud(), A, name, description)
    assert code(err) == expected


def test_malformed_and_unknown_ids() -> None:
    c = create(Cloud(), "web")
    for ref, expected in (
        ("sg-123", "InvalidGroupId.Malformed"),
        ("sg-12345678", "InvalidGroup.NotFound"),
        ("nope", "InvalidGroup.NotFound"),
    ):
        with pytest.raises(Ec2Error) as err:
            ec2.delete_group(c, A, ref)
        assert code(err) == expected
    for ids, expected in (
        (["i-xyz"], "InvalidInstanceID.Malformed"),
        (["i-12345678"], "InvalidInstanceID.NotFound"),
    ):
        with pytest.raises(Ec2Error) as err:
            ec2.terminate_instances(c, A, ids)
        assert code(err) == expected
    with pytest.raises(Ec2Error) as err:
        ec2.run_instances(c, A, "ami-x", 1, groups=[], now="", new_id=new_id)
    assert code(err) == "InvalidAMIID.Malformed"
    with pytest.raises(Ec2Error) as err:
        ec2.run_instances(c, A, "ami-12345678", 1, groups=["nope"], now="", new_id=new_id)
    assert code(err) == "InvalidGroup.NotFound"


def test_group_by_id_and_accounts_are_isolated() -> None:
    c = create(create(Cloud(), "web"), "web", account=B)
    mine = ec2.find_group(c, A, "web")
    theirs = ec2.find_group(c, B, "web")
    assert mine.group_id != theirs.group_id
    assert ec2.find_group(c, A, mine.group_id) == mine
    with pytest.raises(Ec2Error) as err:
        ec2.find_group(c, A, theirs.group_id)
    assert code(err) == "InvalidGroup.NotFound"
    _, seen = ec2.describe_groups(c, A)
    assert {g.key.account for g in seen} == {A}
    # Another account's group may be a rule's source, as in EC2-Classic.
    c = grant(c, "web", allow("tcp", 80, 80, groups=((B, "web"),)))
    assert ec2.find_group(c, A, "web").rules[0].group == GroupKey(B, "web")
    c = launch(c, ["web"], account=B)
    with pytest.raises(Ec2Error) as err:
        ec2.terminate_instances(c, A, [c.instances[0].instance_id])
    assert code(err) == "InvalidInstanceID.NotFound"
    assert ec2.describe_instances(c, A)[1] == []


def test_describe_filters_with_wildcards_and_literal_ports() -> None:
    c = create(create(create(Cloud(), "web-1"), "web-2"), "db")
    c = grant(c, "web-1", allow("tcp", 20, 30, ("203.0.113.7/32",)))
    c = grant(c, "db", allow("tcp", 3306, 3306, groups=((None, "web-2"),)))

    def names(**filters: list[str]) -> list[str]:
        chosen = {
            k.replace("_", "-").replace("ip-permission-", "ip-permission."): v
            for k, v in filters.items()
        }
        return [g.name for g in ec2.describe_groups(c, A, (), chosen)[1]]

    assert names(group_name=["web-?"]) == ["web-1", "web-2"]
    assert names(group_name=["web"]) == []  # exact, not a prefix
    assert names(description=["*2 g*"]) == ["web-2"]
    assert names(ip_permission_cidr=["203.0.113.*"]) == ["web-1"]
    assert names(ip_permission_from_port=["22"]) == []  # literal: 20-30 does not match 22
    assert names(ip_permission_from_port=["20"]) == ["web-1"]
    assert names(ip_permission_group_name=["web-2"]) == ["db"]
    assert names(group_name=["web-1", "db"], ip_permission_protocol=["tcp"]) == ["web-1", "db"]
    with pytest.raises(Ec2Error) as err:
        names(colour=["red"])
    assert code(err) == "InvalidParameterValue"
    with pytest.raises(Ec2Error) as err:
        ec2.describe_groups(c, A, ["nope"])
    assert code(err) == "InvalidGroup.NotFound"


def test_permissions_are_grouped_as_ec2_lists_them() -> None:
    c = create(create(Cloud(), "web"), "app")
    c = grant(c, "web", allow("tcp", 80, 80, ("0.0.0.0/0", "10.0.0.0/8"), ((None, "app"),)))
    c = grant(c, "web", allow("tcp", 22, 22, ("1.2.3.4/32",)))
    items = ec2.permissions(ec2.find_group(c, A, "web").rules)
    assert [(str(p), lo, hi, len(rules)) for p, lo, hi, rules in items] == [
        ("tcp", 80, 80, 3),
        ("tcp", 22, 22, 1),
    ]


def test_instances_get_free_addresses_and_terminated_ones_release_theirs() -> None:
    c, records = ec2.run_instances(Cloud(), A, "ami-e3a5408a", 3, groups=[], now="t", new_id=new_id)
    assert [str(r.address) for r in records] == ["10.254.0.11", "10.254.0.12", "10.254.0.13"]
    assert records[0].groups == (GroupKey(A, "default"),)
    assert [str(x) for x in ec2.listen_of(c, records[0])] == ["tcp/22", "tcp/8080"]
    c, changes = ec2.terminate_instances(c, A, [records[1].instance_id])
    assert changes[0][1] == "running"
    c, again = ec2.run_instances(c, A, "ami-12345678", 1, groups=[], now="t", new_id=new_id)
    assert str(again[0].address) == "10.254.0.12"
    assert [str(x) for x in ec2.listen_of(c, again[0])] == ["tcp/22", "tcp/80"]
    topo = ec2.topology(c, "lab")
    assert {i.name for i in topo.instances} == {
        records[0].instance_id,
        records[2].instance_id,
        again[0].instance_id,
    }
    # the terminated instance holds neither groups nor address: a filter finds only the new one
    _, found = ec2.describe_instances(c, A, [], {"private-ip-address": ["10.254.0.12"]})
    assert [r.instance_id for r in found] == [again[0].instance_id]
    _, gone = ec2.describe_instances(c, A, [records[1].instance_id], {})
    assert gone[0].held_groups == () and gone[0].held_address is None
    _, by_group = ec2.describe_instances(c, A, [], {"group-name": ["default"]})
    assert records[1].instance_id not in {r.instance_id for r in by_group}


def test_hosts() -> None:
    c, _host = ec2.add_host(Cloud(), "albert", "203.0.113.7")
    for name, address in (
        ("albert", "203.0.113.8"),
        ("bob", "203.0.113.7"),
        ("bad name", "203.0.113.9"),
        ("carol", "10.254.0.50"),
        ("dave", "999.1.1.1"),
    ):
        with pytest.raises(InvalidInput):
            ec2.add_host(c, name, address)
    c, _ = ec2.remove_host(c, "albert")
    assert c.hosts == ()
    with pytest.raises(InvalidInput):
        ec2.remove_host(c, "albert")
