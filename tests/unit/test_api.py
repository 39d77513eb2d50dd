"""The EC2 Query API driven by the real boto3 client over HTTP (``endpoint_url``).

These tests run the server in-process on a lab that is not up, so they exercise the API, the
store and EC2's rules without Docker; ``tests/integration/test_persistent_lab.py`` shows the same
calls enforced on containers.
"""

from __future__ import annotations

import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import botocore.exceptions
import pytest

from harness.adapters.sqlite_store import Home
from harness.faces.query_api import make_server
from harness.lab.persistent import PersistentLab

A = "111122223333"
B = "444455556666"

Client = Any
Factory = Callable[..., Client]


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[PersistentLab]:
    lab = PersistentLab(Home(tmp_path), "api", create=True)
    yield lab
    lab.close()


def _start(lab: PersistentLab, host: str = "127.0.0.1", require_auth: bool = False) -> Any:
    server = make_server(lab, host, 0, require_auth)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    return server


@pytest.fixture
def endpoint(lab: PersistentLab) -> Iterator[str]:
    server = _start(lab)
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def client(endpoint: str, key: str = A, secret: str = "unused") -> Client:
    return boto3.client(
        "ec2",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        config=botocore.config.Config(retries={"max_attempts": 1}),
    )


@pytest.fixture
def ec2(endpoint: str) -> Client:
    return client(endpoint)


def error(call: Callable[[], object]) -> tuple[str, str, int]:
    with pytest.raises(botocore.exceptions.ClientError) as err:
        call()
    response = err.value.response
    status = response["ResponseMetadata"]["HTTPStatusCode"]
    return response["Error"]["Code"], response["Error"]["Message"], status


def perms(ec2: Client, name: str) -> list[dict[str, Any]]:
    groups = ec2.describe_security_groups(GroupNames=[name])["SecurityGroups"]
    return list(groups[0]["IpPermissions"])


def tcp(port: int, *cidrs: str, to: int | None = None) -> dict[str, Any]:
    return {
        "IpProtocol": "tcp",
        "FromPort": port,
        "ToPort": port if to is None else to,
        "IpRanges": [{"CidrIp": c} for c in cidrs],
    }


def test_create_describe_by_name_and_id_and_duplicate(ec2: Client) -> None:
    group_id = ec2.create_security_group(GroupName="web", Description="web servers")["GroupId"]
    assert group_id.startswith("sg-") and len(group_id) == 11
    by_id = ec2.describe_security_groups(GroupIds=[group_id])["SecurityGroups"]
    assert [(g["GroupName"], g["Description"], g["OwnerId"]) for g in by_id] == [
        ("web", "web servers", A)
    ]
    assert by_id[0]["IpPermissions"] == []
    names = [g["GroupName"] for g in ec2.describe_security_groups()["SecurityGroups"]]
    assert names == ["default", "web"]
    code, message, status = error(
        lambda: ec2.create_security_group(GroupName="web", Description="again")
    )
    assert (code, status) == ("InvalidGroup.Duplicate", 400)
    assert message == "The security group 'web' already exists"
    assert error(lambda: ec2.create_security_group(GroupName="x", Description=""))[0] == (
        "MissingParameter"
    )
    assert error(lambda: ec2.describe_security_groups(GroupNames=["nope"]))[0] == (
        "InvalidGroup.NotFound"
    )
    assert error(lambda: ec2.describe_security_groups(GroupIds=["badcompany"]))[0] == (
        "InvalidGroupId.Malformed"
    )


def test_default_group_as_ec2_classic_shows_it(ec2: Client) -> None:
    (group,) = ec2.describe_security_groups(GroupNames=["default"])["SecurityGroups"]
    assert group["Description"] == "default group"
    assert [(p["IpProtocol"], p["FromPort"], p["ToPort"]) for p in group["IpPermissions"]] == [
        ("tcp", 0, 65535),
        ("udp", 0, 65535),
        ("icmp", -1, -1),
    ]
    pair = group["IpPermissions"][0]["UserIdGroupPairs"][0]
    assert pair == {"UserId": A, "GroupName": "default", "GroupId": group["GroupId"]}
    code, _message, _ = error(lambda: ec2.delete_security_group(GroupName="default"))
    assert code == "InvalidGroup.Reserved"
    code, _, _ = error(lambda: ec2.create_security_group(GroupName="default", Description="d"))
    assert code == "InvalidGroup.Reserved"


def test_authorize_and_revoke_ip_permissions_form(ec2: Client) -> None:
    ec2.create_security_group(GroupName="web", Description="web")
    ec2.authorize_security_group_ingress(
        GroupName="web", IpPermissions=[tcp(22, "1.2.3.4/32", to=2222)]
    )
    assert perms(ec2, "web") == [
        {
            "IpProtocol": "tcp",
            "FromPort": 22,
            "ToPort": 2222,
            "UserIdGroupPairs": [],
            "IpRanges": [{"CidrIp": "1.2.3.4/32"}],
            "Ipv6Ranges": [],
            "PrefixListIds": [],
        }
    ]
    # EC2-Classic: revoking a rule that does not exist answers true.
    ec2.revoke_security_group_ingress(
        GroupName="web", IpPermissions=[tcp(22, "9.9.9.9/32", to=2222)]
    )
    assert len(perms(ec2, "web")) == 1
    ec2.revoke_security_group_ingress(
        GroupName="web", IpPermissions=[tcp(22, "1.2.3.4/32", to=2222)]
    )
    assert perms(ec2, "web") == []


def test_authorize_and_revoke_legacy_flat_forms(ec2: Client) -> None:
    web = ec2.create_security_group(GroupName="web", Description="web")["GroupId"]
    ec2.create_security_group(GroupName="app", Description="app")
    ec2.authorize_security_group_ingress(
        GroupName="web", IpProtocol="tcp", FromPort=80, ToPort=80, CidrIp="0.0.0.0/0"
    )
    assert [p["IpRanges"] for p in perms(ec2, "web")] == [[{"CidrIp": "0.0.0.0/0"}]]
    # The user/group pair form grants every protocol, as ec2-authorize -o does.
    ec2.authorize_security_group_ingress(
        GroupName="app", SourceSecurityGroupName="web", SourceSecurityGroupOwnerId=A
    )
    got = perms(ec2, "app")
    assert [(p["IpProtocol"], p["FromPort"], p["ToPort"]) for p in got] == [
        ("tcp", 0, 65535),
        ("udp", 0, 65535),
        ("icmp", -1, -1),
    ]
    assert got[0]["UserIdGroupPairs"] == [{"UserId": A, "GroupName": "web", "GroupId": web}]
    code, _, _ = error(lambda: ec2.delete_security_group(GroupName="web"))
    assert code == "InvalidGroup.InUse"
    ec2.revoke_security_group_ingress(
        GroupName="app", SourceSecurityGroupName="web", SourceSecurityGroupOwnerId=A
    )
    ec2.revoke_security_group_ingress(
        GroupName="web", IpProtocol="tcp", FromPort=80, ToPort=80, CidrIp="0.0.0.0/0"
    )
    assert perms(ec2, "app") == perms(ec2, "web") == []
    code, _, _ = error(
        lambda: ec2.authorize_security_group_ingress(
            GroupName="web",
            IpProtocol="tcp",
            FromPort=1,
            ToPort=1,
            CidrIp="1.1.1.1/32",
            IpPermissions=[tcp(2, "2.2.2.2/32")],
        )
    )
    assert code == "InvalidParameterCombination"
    ec2.delete_security_group(GroupId=web)
    ec2.delete_security_group(GroupName="app")


def test_group_pairs_by_id_and_bulk(ec2: Client) -> None:
    web = ec2.create_security_group(GroupName="web", Description="web")["GroupId"]
    ec2.create_security_group(GroupName="db", Description="db")
    bulk = [
        {
            "IpProtocol": "tcp",
            "FromPort": 3306,
            "ToPort": 3306,
            "UserIdGroupPairs": [{"GroupId": web}],
        },
        tcp(3306, "10.0.0.0/8"),
        tcp(22, "1.2.3.4/32", "5.6.7.8/32"),
        {"IpProtocol": "icmp", "FromPort": 8, "ToPort": -1, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]},
    ]
    ec2.authorize_security_group_ingress(GroupName="db", IpPermissions=bulk)
    got = perms(ec2, "db")
    assert len(got) == 3
    assert got[0]["UserIdGroupPairs"] == [{"UserId": A, "GroupName": "web", "GroupId": web}]
    assert got[0]["IpRanges"] == [{"CidrIp": "10.0.0.0/8"}]
    ec2.revoke_security_group_ingress(GroupName="db", IpPermissions=bulk)
    assert perms(ec2, "db") == []


@pytest.mark.parametrize(
    ("permission", "expected"),
    [
        (
            {"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]},
            "InvalidPermission.Malformed",
        ),
        (
            {"IpProtocol": "tcp", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]},
            "InvalidPermission.Malformed",
        ),
        (tcp(80, "0.0.0.0/0", to=22), "InvalidPermission.Malformed"),
        (tcp(70000, "0.0.0.0/0"), "InvalidPermission.Malformed"),
        (
            {
                "IpProtocol": "icmp",
                "FromPort": 8,
                "ToPort": 300,
                "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
            },
            "InvalidParameterValue",
        ),
        (tcp(80, "1.2.3.4"), "InvalidParameterValue"),
        (tcp(80, "1.2.3.4/40"), "InvalidParameterValue"),
        ({"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80}, "MissingParameter"),
        (
            {
                "IpProtocol": "tcp",
                "FromPort": 1,
                "ToPort": 1,
                "UserIdGroupPairs": [{"GroupName": "nope"}],
            },
            "InvalidGroup.NotFound",
        ),
    ],
)
def test_malformed_permissions(ec2: Client, permission: dict[str, Any], expected: str) -> None:
    ec2.create_security_group(GroupName="web", Description="web")
    code, _, status = error(
        lambda: ec2.authorize_security_group_ingress(GroupName="web", IpPermissions=[permission])
    )
    assert (code, status) == (expected, 400)
    assert perms(ec2, "web") == []


def test_duplicates_and_unknown_targets(ec2: Client) -> None:
    ec2.create_security_group(GroupName="web", Description="web")
    ec2.authorize_security_group_ingress(GroupName="web", IpPermissions=[tcp(80, "0.0.0.0/0")])
    code, message, _ = error(
        lambda: ec2.authorize_security_group_ingress(
            GroupName="web", IpPermissions=[tcp(80, "0.0.0.0/0")]
        )
    )
    assert code == "InvalidPermission.Duplicate"
    assert "already exists" in message
    code, _, _ = error(
        lambda: ec2.authorize_security_group_ingress(
            GroupName="web", IpPermissions=[tcp(81, "0.0.0.0/0"), tcp(81, "0.0.0.0/0")]
        )
    )
    assert code == "InvalidParameterValue"
    code, message, _ = error(
        lambda: ec2.authorize_security_group_ingress(
            GroupId="sg-12345678", IpPermissions=[tcp(1, "0.0.0.0/0")]
        )
    )
    assert (code, message) == (
        "InvalidGroup.NotFound",
        "The security group 'sg-12345678' does not exist",
    )
    assert error(lambda: ec2.delete_security_group(GroupName="nope"))[0] == "InvalidGroup.NotFound"
    assert error(lambda: ec2.delete_security_group(GroupId="sg-1"))[0] == "InvalidGroupId.Malformed"
    code, _, _ = error(lambda: ec2.create_security_group(GroupName="sg-web", Description="x"))
    assert code == "InvalidParameterValue"


def test_rule_and_group_limits(ec2: Client) -> None:
    ec2.create_security_group(GroupName="web", Description="web")
    cidrs = [f"10.{i}.0.0/16" for i in range(100)]
    ec2.authorize_security_group_ingress(GroupName="web", IpPermissions=[tcp(22, *cidrs)])
    code, _, _ = error(
        lambda: ec2.authorize_security_group_ingress(
            GroupName="web", IpPermissions=[tcp(80, "1.1.1.1/32")]
        )
    )
    assert code == "RulesPerSecurityGroupLimitExceeded"
    assert len(perms(ec2, "web")[0]["IpRanges"]) == 100
    for index in range(498):  # with default and web: 500
        ec2.create_security_group(GroupName=f"g{index}", Description="many")
    code, _, _ = error(lambda: ec2.create_security_group(GroupName="g500", Description="x"))
    assert code == "SecurityGroupLimitExceeded"
    assert len(ec2.describe_security_groups()["SecurityGroups"]) == 500


def test_filters(ec2: Client) -> None:
    web = ec2.create_security_group(GroupName="web-1", Description="Mary's web tier")["GroupId"]
    ec2.create_security_group(GroupName="web-10", Description="other")
    ec2.create_security_group(GroupName="db", Description="db")
    ec2.authorize_security_group_ingress(
        GroupName="web-1", IpPermissions=[tcp(20, "203.0.113.7/32", to=30)]
    )
    ec2.authorize_security_group_ingress(
        GroupName="db",
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 3306,
                "ToPort": 3306,
                "UserIdGroupPairs": [{"GroupId": web}],
            }
        ],
    )

    def names(*filters: tuple[str, list[str]]) -> list[str]:
        answer = ec2.describe_security_groups(
            Filters=[{"Name": n, "Values": v} for n, v in filters]
        )
        return [g["GroupName"] for g in answer["SecurityGroups"]]

    assert names(("group-name", ["web-1"])) == ["web-1"]
    assert names(("group-name", ["web-?"])) == ["web-1"]
    assert names(("group-name", ["web*"])) == ["web-1", "web-10"]
    assert names(("description", ["*web*"])) == ["web-1"]
    assert names(("ip-permission.cidr", ["203.0.113.*"])) == ["web-1"]
    assert names(("ip-permission.from-port", ["22"])) == []
    assert names(("ip-permission.from-port", ["20"]), ("ip-permission.to-port", ["30"])) == [
        "web-1"
    ]
    assert names(("ip-permission.group-id", [web])) == ["db"]
    assert names(("ip-permission.group-name", ["web-1"]), ("owner-id", [A])) == ["db"]
    assert names(("group-id", [web])) == ["web-1"]
    assert error(lambda: names(("flavour", ["x"])))[0] == "InvalidParameterValue"


def test_instances(ec2: Client) -> None:
    web = ec2.create_security_group(GroupName="web", Description="web")["GroupId"]
    ec2.create_security_group(GroupName="app", Description="app")
    code, message, _ = error(
        lambda: ec2.run_instances(
            ImageId="ami-fba54092", MinCount=1, MaxCount=1, SecurityGroups=["nope"]
        )
    )
    assert (code, message) == ("InvalidGroup.NotFound", "The security group 'nope' does not exist")
    run = ec2.run_instances(
        ImageId="ami-fba54092",
        MinCount=2,
        MaxCount=2,
        SecurityGroups=["web"],
        SecurityGroupIds=[web],
    )
    instances = run["Instances"]
    assert [i["State"]["Name"] for i in instances] == ["pending", "pending"]
    assert [i["PrivateIpAddress"] for i in instances] == ["10.254.0.11", "10.254.0.12"]
    assert instances[0]["SecurityGroups"] == [{"GroupId": web, "GroupName": "web"}]
    assert run["ReservationId"].startswith("r-") and run["OwnerId"] == A
    ids = [i["InstanceId"] for i in instances]
    app = ec2.run_instances(ImageId="ami-e3a5408a", MinCount=1, MaxCount=1, SecurityGroups=["app"])
    described = ec2.describe_instances(InstanceIds=ids)["Reservations"]
    assert len(described) == 1 and described[0]["ReservationId"] == run["ReservationId"]
    assert [i["State"]["Name"] for i in described[0]["Instances"]] == ["running", "running"]
    by_group = ec2.describe_instances(Filters=[{"Name": "instance.group-name", "Values": ["app"]}])
    assert [r["ReservationId"] for r in by_group["Reservations"]] == [app["ReservationId"]]
    by_id = ec2.describe_instances(Filters=[{"Name": "instance.group-id", "Values": [web]}])
    assert len(by_id["Reservations"][0]["Instances"]) == 2
    assert error(lambda: ec2.delete_security_group(GroupName="web"))[0] == "InvalidGroup.InUse"
    assert error(lambda: ec2.terminate_instances(InstanceIds=["i-12345678"]))[0] == (
        "InvalidInstanceID.NotFound"
    )
    assert error(lambda: ec2.describe_instances(InstanceIds=["bad"]))[0] == (
        "InvalidInstanceID.Malformed"
    )
    assert error(lambda: ec2.run_instances(ImageId="x", MinCount=1, MaxCount=1))[0] == (
        "InvalidAMIID.Malformed"
    )
    gone = ec2.terminate_instances(InstanceIds=ids)["TerminatingInstances"]
    assert [(g["PreviousState"]["Name"], g["CurrentState"]["Name"]) for g in gone] == [
        ("running", "shutting-down")
    ] * 2
    ec2.delete_security_group(GroupName="web")  # a terminated instance holds no group
    states = ec2.describe_instances(InstanceIds=ids)["Reservations"][0]["Instances"]
    assert [s["State"]["Name"] for s in states] == ["terminated"] * 2


def test_accounts_are_isolated_but_may_reference_each_other(endpoint: str) -> None:
    mary, bob = client(endpoint, A), client(endpoint, B)
    web = mary.create_security_group(GroupName="web", Description="mary")["GroupId"]
    bob.create_security_group(GroupName="web", Description="bob")
    assert [g["OwnerId"] for g in bob.describe_security_groups()["SecurityGroups"]] == [B, B]
    assert error(lambda: bob.describe_security_groups(GroupIds=[web]))[0] == "InvalidGroup.NotFound"
    assert error(lambda: bob.delete_security_group(GroupId=web))[0] == "InvalidGroup.NotFound"
    bob.authorize_security_group_ingress(
        GroupName="web",
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 80,
                "ToPort": 80,
                "UserIdGroupPairs": [{"UserId": A, "GroupName": "web"}],
            }
        ],
    )
    pair = perms(bob, "web")[0]["UserIdGroupPairs"][0]
    assert pair == {"UserId": A, "GroupName": "web", "GroupId": web}
    assert error(lambda: mary.delete_security_group(GroupName="web"))[0] == "InvalidGroup.InUse"


def _post(endpoint: str, body: str, headers: dict[str, str] | None = None) -> tuple[int, str]:
    request = urllib.request.Request(endpoint + "/", data=body.encode(), headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def test_2012_version_plain_http_and_errors(endpoint: str) -> None:
    status, text = _post(
        endpoint,
        "Action=CreateSecurityGroup&Version=2012-05-01&GroupName=web&GroupDescription=w"
        f"&AWSAccessKeyId={A}",
    )
    assert status == 200
    assert 'xmlns="http://ec2.amazonaws.com/doc/2012-05-01/"' in text
    assert "<return>true</return><groupId>sg-" in text
    status, text = _post(
        endpoint,
        f"Action=DescribeSecurityGroups&Version=2012-05-01&AWSAccessKeyId={A}&GroupName.1=web",
    )
    assert "<ipPermissions />" in text and "<groupName>web</groupName>" in text
    status, text = _post(endpoint, f"Action=CreateVpnGateway&Version=2012-05-01&AWSAccessKeyId={A}")
    assert status == 400 and "<Code>InvalidAction</Code>" in text
    status, text = _post(endpoint, "Action=DescribeSecurityGroups&Version=2012-05-01")
    assert status == 401 and "<Code>AuthFailure</Code>" in text
    status, text = _post(
        endpoint, "Action=DescribeSecurityGroups&Version=2012-05-01&AWSAccessKeyId=nobody"
    )
    assert status == 401 and "<Code>AuthFailure</Code>" in text


def test_require_auth_verifies_sigv4(lab: PersistentLab) -> None:
    access, secret = lab.home.add_key(B)
    server = _start(lab, require_auth=True)
    endpoint = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        good = client(endpoint, access, secret)
        assert [g["OwnerId"] for g in good.describe_security_groups()["SecurityGroups"]] == [B]
        for key, wrong in ((access, secret + "x"), (A, "x"), ("AKIANOTAKEY000000000", secret)):
            bad = client(endpoint, key, wrong)
            code, _, status = error(bad.describe_security_groups)
            assert (code, status) == ("AuthFailure", 401)
    finally:
        server.shutdown()
        server.server_close()


def test_binding_beyond_loopback_requires_auth(lab: PersistentLab) -> None:
    server = _start(lab, host="0.0.0.0")
    endpoint = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        code, _, _ = error(lambda: client(endpoint, A).describe_security_groups())
        assert code == "AuthFailure"
    finally:
        server.shutdown()
        server.server_close()
