"""Where a real client met a difference from AWS (moto's own security-group tests run against
``sgh serve``, each case checked against AWS's documentation or an AWS-verified test): the
answers EC2 gives, through boto3 over HTTP on labs that are not up."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_api_vpc import A, Client, client, error, serving

from harness.adapters.sqlite_store import Home
from harness.lab.persistent import PersistentLab

TCP_22 = {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22}


@pytest.fixture
def ec2(tmp_path: Path) -> Iterator[Client]:
    lab = PersistentLab(Home(tmp_path), "fidelity", create=True)
    lab.choose("vpc")
    try:
        with serving(lab) as url:
            yield client(url)
    finally:
        lab.close()


def vpc_with_two_groups(ec2: Client, ipv6: bool = False) -> tuple[str, str, str]:
    vpc = ec2.create_vpc(CidrBlock="10.7.0.0/16", AmazonProvidedIpv6CidrBlock=ipv6)["Vpc"]["VpcId"]
    web = ec2.create_security_group(GroupName="web", Description="w", VpcId=vpc)["GroupId"]
    app = ec2.create_security_group(GroupName="app", Description="a", VpcId=vpc)["GroupId"]
    return vpc, web, app


def test_a_new_group_in_an_ipv6_vpc_sends_everything_out_over_both_families(ec2: Client) -> None:
    _, web, _ = vpc_with_two_groups(ec2, ipv6=True)
    (group,) = ec2.describe_security_groups(GroupIds=[web])["SecurityGroups"]
    (out,) = group["IpPermissionsEgress"]
    assert out["IpProtocol"] == "-1"
    assert out["IpRanges"] == [{"CidrIp": "0.0.0.0/0"}]
    assert out["Ipv6Ranges"] == [{"CidrIpv6": "::/0"}]
    _, plain = vpc_with_two_groups_named(ec2, "v4")
    (group,) = ec2.describe_security_groups(GroupIds=[plain])["SecurityGroups"]
    assert group["IpPermissionsEgress"][0]["Ipv6Ranges"] == []  # no IPv6 block: IPv4 only


def vpc_with_two_groups_named(ec2: Client, name: str) -> tuple[str, str]:
    vpc = ec2.create_vpc(CidrBlock="10.8.0.0/16")["Vpc"]["VpcId"]
    group = ec2.create_security_group(GroupName=name, Description=name, VpcId=vpc)["GroupId"]
    return vpc, group


def test_a_reference_within_a_nondefault_vpc_is_its_id_and_owner_alone(ec2: Client) -> None:
    _, web, app = vpc_with_two_groups(ec2)
    pair = {**TCP_22, "UserIdGroupPairs": [{"GroupId": app}]}
    (added,) = ec2.authorize_security_group_ingress(GroupId=web, IpPermissions=[pair])[
        "SecurityGroupRules"
    ]
    assert added["ReferencedGroupInfo"] == {"GroupId": app, "UserId": A}
    (group,) = ec2.describe_security_groups(GroupIds=[web])["SecurityGroups"]
    assert group["IpPermissions"][0]["UserIdGroupPairs"] == [{"UserId": A, "GroupId": app}]
    by_name = [{"Name": "ip-permission.group-name", "Values": ["app"]}]
    assert ec2.describe_security_groups(Filters=by_name)["SecurityGroups"] == []
    by_id = [{"Name": "ip-permission.group-id", "Values": [app]}]
    assert [
        g["GroupId"] for g in ec2.describe_security_groups(Filters=by_id)["SecurityGroups"]
    ] == [web]
    # in the default VPC a reference is named too, and found by its name
    db = ec2.create_security_group(GroupName="db", Description="d")["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=db, IpPermissions=[{**TCP_22, "UserIdGroupPairs": [{"GroupName": "default"}]}]
    )
    (group,) = ec2.describe_security_groups(GroupIds=[db])["SecurityGroups"]
    (pair_seen,) = group["IpPermissions"][0]["UserIdGroupPairs"]
    assert pair_seen["GroupName"] == "default" and "VpcId" not in pair_seen
    named = [{"Name": "ip-permission.group-name", "Values": ["default"]}]
    assert db in [
        g["GroupId"] for g in ec2.describe_security_groups(Filters=named)["SecurityGroups"]
    ]


def _modify(ec2: Client, group: str, rule: str, request: dict[str, Any]) -> Any:
    return lambda: ec2.modify_security_group_rules(
        GroupId=group,
        SecurityGroupRules=[{"SecurityGroupRuleId": rule, "SecurityGroupRule": request}],
    )


def test_modify_security_group_rules_checks_as_ec2_does(ec2: Client) -> None:
    _, web, _ = vpc_with_two_groups(ec2)
    (rule,) = ec2.authorize_security_group_ingress(
        GroupId=web, IpPermissions=[{**TCP_22, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}]
    )["SecurityGroupRules"]
    ident = rule["SecurityGroupRuleId"]
    ports = {"FromPort": 22, "ToPort": 22}
    v4, v6 = {"CidrIpv4": "10.1.0.0/16"}, {"CidrIpv6": "2001:db8::/32"}
    cases = [
        ({**ports, **v4}, "InvalidParameterValue", "Invalid value 'null' for protocol"),
        ({"IpProtocol": "tcp", **ports, **v4, **v6}, "InvalidParameterCombination", "Only one of"),
        ({"IpProtocol": "tcp", **ports}, "MissingParameter", "exactly one of"),
    ]
    for request, code, words in cases:
        with pytest.raises(Exception) as err:
            _modify(ec2, web, ident, request)()
        answer = err.value.response["Error"]  # type: ignore[attr-defined]
        assert (answer["Code"], words in answer["Message"]) == (code, True), answer
    (kept,) = ec2.describe_security_group_rules(SecurityGroupRuleIds=[ident])["SecurityGroupRules"]
    assert kept["CidrIpv4"] == "10.0.0.0/8"  # nothing was dropped or changed
    assert _modify(ec2, web, ident, {"IpProtocol": "tcp", **ports, **v6})()["Return"] is True
    (kept,) = ec2.describe_security_group_rules(SecurityGroupRuleIds=[ident])["SecurityGroupRules"]
    assert kept["CidrIpv6"] == "2001:db8::/32"


def test_a_malformed_group_id_filter_of_describe_security_group_rules(ec2: Client) -> None:
    bad = [{"Name": "group-id", "Values": ["foobar"]}]
    assert error(lambda: ec2.describe_security_group_rules(Filters=bad)) == (
        "InvalidGroupId.Malformed",
        400,
    )


def test_revoking_a_rule_a_default_vpc_group_lacks_succeeds_and_names_it(ec2: Client) -> None:
    web = ec2.create_security_group(GroupName="web", Description="w")["GroupId"]  # default VPC
    absent = {**TCP_22, "IpRanges": [{"CidrIp": "10.9.0.0/16"}]}
    answer = ec2.revoke_security_group_ingress(GroupId=web, IpPermissions=[absent])
    assert answer["Return"] is True
    (unknown,) = answer["UnknownIpPermissions"]
    assert (unknown["IpProtocol"], unknown["FromPort"], unknown["IpRanges"]) == (
        "tcp",
        22,
        [{"CidrIp": "10.9.0.0/16"}],
    )
    _, other, _ = vpc_with_two_groups(ec2)  # a nondefault VPC: EC2's error
    assert error(lambda: ec2.revoke_security_group_ingress(GroupId=other, IpPermissions=[absent]))[
        0
    ] == ("InvalidPermission.NotFound")


def test_ec2_classic_rules_take_descriptions(tmp_path: Path) -> None:
    lab = PersistentLab(Home(tmp_path), "classic", create=True)
    try:
        with serving(lab) as url:
            ec2 = client(url)
            ec2.create_security_group(GroupName="web", Description="w")
            described = {
                **TCP_22,
                "IpRanges": [{"CidrIp": "203.0.113.0/24", "Description": "office"}],
            }
            ec2.authorize_security_group_ingress(GroupName="web", IpPermissions=[described])
            (group,) = ec2.describe_security_groups(GroupNames=["web"])["SecurityGroups"]
            assert "VpcId" not in group
            assert group["IpPermissions"][0]["IpRanges"] == [
                {"CidrIp": "203.0.113.0/24", "Description": "office"}
            ]
    finally:
        lab.close()


def test_describe_instances_filters_as_every_describe_does(ec2: Client) -> None:
    tagged = [{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": "web-a"}]}]
    (web,) = ec2.run_instances(
        ImageId="ami-fba54092", MinCount=1, MaxCount=1, TagSpecifications=tagged
    )["Instances"]
    ec2.run_instances(ImageId="ami-fba54092", MinCount=1, MaxCount=1)

    def found(name: str, *values: str) -> list[str]:
        chosen = [{"Name": name, "Values": list(values)}]
        return [
            i["InstanceId"]
            for r in ec2.describe_instances(Filters=chosen)["Reservations"]
            for i in r["Instances"]
        ]

    assert found("tag:Name", "web-*") == [web["InstanceId"]]  # tags, as on every resource
    assert found("instance-id", web["InstanceId"]) == [web["InstanceId"]]
    assert len(found("instance-state-name", "pending", "running")) == 2
    assert error(lambda: found("colour", "red"))[0] == "InvalidParameterValue"
