"""The Query API's VPC era driven by boto3 over HTTP, on labs that are not up (no Docker): a
default-VPC lab and an EC2-Classic one. ``tests/integration/test_vpc_clients.py`` drives the
same calls from the AWS CLI and Ansible and checks them with packets."""

from __future__ import annotations

import threading
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
import botocore.config
import botocore.exceptions
import pytest

from harness.adapters.sqlite_store import Home
from harness.faces.query_api import make_server
from harness.lab.persistent import PersistentLab

A = "111122223333"
B = "444455556666"
Client = Any


@contextmanager
def serving(lab: PersistentLab) -> Iterator[str]:
    server = make_server(lab, "127.0.0.1", 0, False)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[PersistentLab]:
    lab = PersistentLab(Home(tmp_path), "vpc", create=True)
    lab.choose("vpc")
    yield lab
    lab.close()


@pytest.fixture
def endpoint(lab: PersistentLab) -> Iterator[str]:
    with serving(lab) as url:
        yield url


def client(endpoint: str, key: str = A, service: str = "ec2", region: str = "us-east-1") -> Client:
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id=key,
        aws_secret_access_key="unused",
        config=botocore.config.Config(retries={"max_attempts": 1}),
    )


@pytest.fixture
def ec2(endpoint: str) -> Client:
    return client(endpoint)


def error(call: Callable[[], object]) -> tuple[str, int]:
    with pytest.raises(botocore.exceptions.ClientError) as err:
        call()
    response = err.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def shop(ec2: Client, ipv6: bool = True) -> tuple[str, str]:
    vpc = ec2.create_vpc(CidrBlock="10.5.0.0/16", AmazonProvidedIpv6CidrBlock=ipv6)["Vpc"]
    block = vpc["Ipv6CidrBlockAssociationSet"][0]["Ipv6CidrBlock"] if ipv6 else None
    subnet = ec2.create_subnet(
        VpcId=vpc["VpcId"],
        CidrBlock="10.5.1.0/24",
        **({"Ipv6CidrBlock": block.replace("/56", "/64")} if block else {}),
    )["Subnet"]
    return vpc["VpcId"], subnet["SubnetId"]


def test_a_vpc_account_has_a_default_vpc_and_groups_go_into_it(ec2: Client) -> None:
    attributes = {
        a["AttributeName"]: [v["AttributeValue"] for v in a["AttributeValues"]]
        for a in ec2.describe_account_attributes()["AccountAttributes"]
    }
    assert attributes["supported-platforms"] == ["VPC"]
    (default,) = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"]
    assert attributes["default-vpc"] == [default["VpcId"]]
    assert default["CidrBlock"] == "172.31.0.0/16"
    group = ec2.create_security_group(GroupName="web", Description="web")
    assert group["SecurityGroupArn"].endswith(f":{A}:security-group/{group['GroupId']}")
    (found,) = ec2.describe_security_groups(GroupIds=[group["GroupId"]])["SecurityGroups"]
    assert found["VpcId"] == default["VpcId"]
    # a new group: nothing in, all IPv4 out (sec. 1.3); the VPC's default group: itself in
    assert found["IpPermissions"] == []
    assert found["IpPermissionsEgress"] == [
        {
            "IpProtocol": "-1",
            "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
            "Ipv6Ranges": [],
            "PrefixListIds": [],
            "UserIdGroupPairs": [],
        }
    ]
    (own,) = ec2.describe_security_groups(
        Filters=[
            {"Name": "group-name", "Values": ["default"]},
            {"Name": "vpc-id", "Values": [default["VpcId"]]},
        ]
    )["SecurityGroups"]
    assert own["IpPermissions"][0]["UserIdGroupPairs"][0]["GroupId"] == own["GroupId"]


@pytest.fixture
def classic(tmp_path: Path) -> Iterator[Client]:
    lab = PersistentLab(Home(tmp_path), "classic", create=True)
    with serving(lab) as url:
        yield client(url)
    lab.close()


def test_a_classic_lab_says_so_and_keeps_classic_groups(classic: Client) -> None:
    ec2 = classic
    attributes = {
        a["AttributeName"]: [v["AttributeValue"] for v in a["AttributeValues"]]
        for a in ec2.describe_account_attributes()["AccountAttributes"]
    }
    assert attributes["supported-platforms"] == ["EC2", "VPC"]
    assert attributes["default-vpc"] == ["none"]
    classic = ec2.create_security_group(GroupName="web", Description="web")["GroupId"]
    assert len(classic) == len("sg-12345678")  # a Classic group
    vpc, subnet = shop(ec2)
    in_vpc = ec2.create_security_group(GroupName="web", Description="w", VpcId=vpc)
    (group,) = ec2.describe_security_groups(GroupIds=[in_vpc["GroupId"]])["SecurityGroups"]
    assert group["VpcId"] == vpc and len(group["IpPermissionsEgress"]) == 1
    assert error(
        lambda: ec2.authorize_security_group_ingress(
            GroupId=classic,
            IpPermissions=[
                {
                    "IpProtocol": "tcp",
                    "FromPort": 1,
                    "ToPort": 1,
                    "Ipv6Ranges": [{"CidrIpv6": "::/0"}],
                }
            ],
        )
    ) == ("InvalidParameterValue", 400)
    assert (
        error(
            lambda: ec2.run_instances(
                ImageId="ami-12345678", MinCount=1, MaxCount=1, SubnetId=subnet
            )
        )[0]
        == "Unsupported"
    )


def test_rules_with_every_peer_their_ids_and_revoke_by_id(ec2: Client) -> None:
    vpc, _ = shop(ec2)
    web = ec2.create_security_group(GroupName="web", Description="web", VpcId=vpc)["GroupId"]
    app = ec2.create_security_group(GroupName="app", Description="app", VpcId=vpc)["GroupId"]
    office = ec2.create_managed_prefix_list(
        PrefixListName="office",
        AddressFamily="IPv4",
        MaxEntries=2,
        Entries=[{"Cidr": "203.0.113.0/28", "Description": "hq"}],
    )["PrefixList"]["PrefixListId"]
    added = ec2.authorize_security_group_ingress(
        GroupId=web,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 443,
                "ToPort": 443,
                "IpRanges": [{"CidrIp": "0.0.0.0/0", "Description": "anyone"}],
                "Ipv6Ranges": [{"CidrIpv6": "::/0"}],
                "PrefixListIds": [{"PrefixListId": office}],
                "UserIdGroupPairs": [{"GroupId": app}],
            },
            {"IpProtocol": "132", "IpRanges": [{"CidrIp": "10.5.0.0/16"}]},
        ],
    )["SecurityGroupRules"]
    assert [
        (r["IpProtocol"], r.get("CidrIpv4"), r.get("CidrIpv6"), r.get("PrefixListId"))
        for r in added
    ] == [
        ("tcp", "0.0.0.0/0", None, None),
        ("tcp", None, "::/0", None),
        ("tcp", None, None, office),
        ("tcp", None, None, None),
        ("132", "10.5.0.0/16", None, None),
    ]
    assert added[3]["ReferencedGroupInfo"]["GroupId"] == app
    assert added[0]["Description"] == "anyone"
    ids = [r["SecurityGroupRuleId"] for r in added]
    assert all(i.startswith("sgr-") for i in ids) and len(set(ids)) == 5
    listed = ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [web]}])
    assert {r["SecurityGroupRuleId"] for r in listed["SecurityGroupRules"]} >= set(ids)
    (perm,) = [
        p
        for p in ec2.describe_security_groups(GroupIds=[web])["SecurityGroups"][0]["IpPermissions"]
        if p["IpProtocol"] == "tcp"
    ]
    assert perm["PrefixListIds"] == [{"PrefixListId": office}]
    assert perm["Ipv6Ranges"] == [{"CidrIpv6": "::/0"}]
    # duplicates and rules that do not exist are errors in a VPC
    assert error(
        lambda: ec2.authorize_security_group_ingress(
            GroupId=web,
            IpPermissions=[
                {"IpProtocol": "132", "IpRanges": [{"CidrIp": "10.5.0.0/16"}]},
            ],
        )
    ) == ("InvalidPermission.Duplicate", 400)
    assert error(
        lambda: ec2.revoke_security_group_ingress(
            GroupId=web,
            IpPermissions=[
                {
                    "IpProtocol": "udp",
                    "FromPort": 1,
                    "ToPort": 1,
                    "IpRanges": [{"CidrIp": "1.1.1.1/32"}],
                }
            ],
        )
    ) == ("InvalidPermission.NotFound", 400)
    # revoke by id; modify a rule in place (its id stays); change a description
    revoked = ec2.revoke_security_group_ingress(GroupId=web, SecurityGroupRuleIds=[ids[4]])
    assert revoked["Return"] is True
    ec2.modify_security_group_rules(
        GroupId=web,
        SecurityGroupRules=[
            {
                "SecurityGroupRuleId": ids[0],
                "SecurityGroupRule": {
                    "IpProtocol": "tcp",
                    "FromPort": 8443,
                    "ToPort": 8443,
                    "CidrIpv4": "198.51.100.0/24",
                },
            }
        ],
    )
    ec2.update_security_group_rule_descriptions_ingress(
        GroupId=web,
        SecurityGroupRuleDescriptions=[{"SecurityGroupRuleId": ids[1], "Description": "v6"}],
    )
    rules = {
        r["SecurityGroupRuleId"]: r
        for r in ec2.describe_security_group_rules(SecurityGroupRuleIds=ids[:4])[
            "SecurityGroupRules"
        ]
    }
    assert (rules[ids[0]]["FromPort"], rules[ids[0]]["CidrIpv4"]) == (8443, "198.51.100.0/24")
    assert rules[ids[1]]["Description"] == "v6"
    assert error(lambda: ec2.describe_security_group_rules(SecurityGroupRuleIds=[ids[4]]))[0] == (
        "InvalidSecurityGroupRuleId.NotFound"
    )
    # egress: the default rule revoked by id, a narrower one added
    egress = [
        r
        for r in ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [web]}])[
            "SecurityGroupRules"
        ]
        if r["IsEgress"]
    ]
    ec2.revoke_security_group_egress(
        GroupId=web, SecurityGroupRuleIds=[egress[0]["SecurityGroupRuleId"]]
    )
    ec2.authorize_security_group_egress(
        GroupId=web,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 5432,
                "ToPort": 5432,
                "UserIdGroupPairs": [{"GroupId": app}],
            }
        ],
    )
    (group,) = ec2.describe_security_groups(
        Filters=[{"Name": "egress.ip-permission.to-port", "Values": ["5432"]}]
    )["SecurityGroups"]
    assert group["GroupId"] == web
    # a prefix list in use: the delete is accepted and fails (EC2 deletes asynchronously);
    # the list stays, described as delete-failed with why; a group in use cannot go
    asked = ec2.delete_managed_prefix_list(PrefixListId=office)["PrefixList"]
    assert asked["State"] == "delete-in-progress"
    (kept,) = ec2.describe_managed_prefix_lists(PrefixListIds=[office])["PrefixLists"]
    assert kept["State"] == "delete-failed" and web in kept["StateMessage"]
    assert error(lambda: ec2.delete_security_group(GroupId=app))[0] == "DependencyViolation"


def test_dry_run_checks_and_does_nothing(ec2: Client) -> None:
    group = ec2.create_security_group(GroupName="web", Description="web")["GroupId"]
    assert error(lambda: ec2.delete_security_group(GroupId=group, DryRun=True)) == (
        "DryRunOperation",
        412,
    )
    assert ec2.describe_security_groups(GroupIds=[group])["SecurityGroups"]  # still there
    assert error(lambda: ec2.delete_security_group(GroupId="sg-00000000", DryRun=True))[0] == (
        "InvalidGroup.NotFound"
    )
    assert (
        error(lambda: ec2.create_vpc(CidrBlock="10.9.0.0/16", DryRun=True))[0] == "DryRunOperation"
    )
    assert len(ec2.describe_vpcs()["Vpcs"]) == 1  # the default VPC only


def test_what_is_not_modelled_is_refused_not_dropped(endpoint: str) -> None:
    def post(body: str) -> str:
        request = urllib.request.Request(endpoint, data=body.encode(), method="POST")
        try:
            with urllib.request.urlopen(request) as answer:
                return str(answer.read().decode())
        except urllib.error.HTTPError as err:
            return str(err.read().decode())

    base = f"Version=2016-11-15&AWSAccessKeyId={A}"
    text = post(f"Action=CreateSecurityGroup&{base}&GroupName=x&GroupDescription=x&Colour=red")
    assert "<Code>UnknownParameter</Code>" in text and "Colour" in text
    text = post(
        f"Action=AuthorizeSecurityGroupIngress&{base}&GroupName=default"
        "&IpPermissions.1.IpProtocol=tcp&IpPermissions.1.FromPort=1&IpPermissions.1.ToPort=1"
        "&IpPermissions.1.IpRanges.1.CidrIp=1.2.3.4/32&IpPermissions.1.IpRanges.1.Colour=red"
    )
    assert "<Code>UnknownParameter</Code>" in text
    assert "IpPermissions.1.IpRanges.1.Colour" in text
    # EC2's model has no GroupName for egress: refused, not taken as a group
    text = post(
        f"Action=AuthorizeSecurityGroupEgress&{base}&GroupName=default"
        "&IpPermissions.1.IpProtocol=-1&IpPermissions.1.IpRanges.1.CidrIp=1.2.3.4/32"
    )
    assert "<Code>UnknownParameter</Code>" in text and "GroupName" in text
    # a member EC2 has and the lab does not model: refused, naming it
    text = post(
        f"Action=RunInstances&{base}&ImageId=ami-fba54092&MinCount=1&MaxCount=1"
        "&NetworkInterface.1.DeviceIndex=0&NetworkInterface.1.Ipv6AddressCount=1"
    )
    assert "<Code>Unsupported</Code>" in text and "NetworkInterfaces.1.Ipv6AddressCount" in text


def test_tags_filters_and_pages(ec2: Client) -> None:
    vpc, subnet = shop(ec2)
    ec2.create_tags(Resources=[vpc, subnet], Tags=[{"Key": "Name", "Value": "shop"}])
    assert [
        v["VpcId"]
        for v in ec2.describe_vpcs(Filters=[{"Name": "tag:Name", "Values": ["sh*"]}])["Vpcs"]
    ] == [vpc]
    names = [f"g{n}" for n in range(12)]
    for name in names:
        ec2.create_security_group(
            GroupName=name,
            Description=name,
            VpcId=vpc,
            TagSpecifications=[
                {"ResourceType": "security-group", "Tags": [{"Key": "n", "Value": name}]}
            ],
        )
    pages = ec2.get_paginator("describe_security_groups").paginate(
        Filters=[{"Name": "vpc-id", "Values": [vpc]}], PaginationConfig={"PageSize": 5}
    )
    sizes = [len(p["SecurityGroups"]) for p in pages]
    assert sizes == [5, 5, 3]  # twelve groups and the VPC's default
    tags = ec2.describe_tags(Filters=[{"Name": "key", "Values": ["n"]}])["Tags"]
    assert sorted(t["Value"] for t in tags) == sorted(names)
    ec2.delete_tags(Resources=[vpc], Tags=[{"Key": "Name"}])
    assert ec2.describe_vpcs(VpcIds=[vpc])["Vpcs"][0]["Tags"] == []


def test_instances_in_subnets_and_membership_changes(ec2: Client) -> None:
    vpc, subnet = shop(ec2)
    ec2.modify_subnet_attribute(SubnetId=subnet, MapPublicIpOnLaunch={"Value": True})
    web = ec2.create_security_group(GroupName="web", Description="web", VpcId=vpc)["GroupId"]
    other = ec2.create_security_group(GroupName="other", Description="o", VpcId=vpc)["GroupId"]
    (instance,) = ec2.run_instances(
        ImageId="ami-12345678",
        MinCount=1,
        MaxCount=1,
        NetworkInterfaces=[{"DeviceIndex": 0, "SubnetId": subnet, "Groups": [web]}],
    )["Instances"]
    assert instance["SubnetId"] == subnet and instance["VpcId"] == vpc
    assert instance["PublicIpAddress"].startswith("192.0.2.")
    (nic,) = ec2.describe_network_interfaces(
        Filters=[{"Name": "attachment.instance-id", "Values": [instance["InstanceId"]]}]
    )["NetworkInterfaces"]
    assert nic["Ipv6Addresses"][0]["Ipv6Address"].startswith("2001:db8:")
    ec2.modify_instance_attribute(InstanceId=instance["InstanceId"], Groups=[other])
    (nic,) = ec2.describe_network_interfaces(NetworkInterfaceIds=[nic["NetworkInterfaceId"]])[
        "NetworkInterfaces"
    ]
    assert [g["GroupId"] for g in nic["Groups"]] == [other]
    ec2.modify_network_interface_attribute(
        NetworkInterfaceId=nic["NetworkInterfaceId"], Groups=[web, other]
    )
    reservation = ec2.describe_instances(InstanceIds=[instance["InstanceId"]])["Reservations"][0]
    assert [g["GroupId"] for g in reservation["Instances"][0]["SecurityGroups"]] == [web, other]
    assert (
        error(
            lambda: ec2.modify_network_interface_attribute(
                NetworkInterfaceId=nic["NetworkInterfaceId"],
                Groups=[
                    ec2.create_security_group(GroupName=f"x{n}", Description="x", VpcId=vpc)[
                        "GroupId"
                    ]
                    for n in range(6)
                ],
            )
        )[0]
        == "SecurityGroupsPerInterfaceLimitExceeded"
    )
    assert error(lambda: ec2.delete_subnet(SubnetId=subnet))[0] == "DependencyViolation"
    ec2.terminate_instances(InstanceIds=[instance["InstanceId"]])
    ec2.delete_subnet(SubnetId=subnet)


def test_sts_says_who_the_caller_is(endpoint: str) -> None:
    identity = client(endpoint, B, "sts").get_caller_identity()
    assert (identity["Account"], identity["Arn"]) == (B, f"arn:aws:iam::{B}:root")


def test_regions_are_separate_and_instances_run_in_the_labs_own(
    lab: PersistentLab, endpoint: str
) -> None:
    east, west = client(endpoint), client(endpoint, region="eu-west-1")
    east_vpc = east.describe_vpcs()["Vpcs"][0]
    west_vpc = west.describe_vpcs()["Vpcs"][0]
    assert east_vpc["IsDefault"] and west_vpc["IsDefault"]
    assert east_vpc["VpcId"] != west_vpc["VpcId"]
    made = west.create_security_group(GroupName="web", Description="web")
    assert made["SecurityGroupArn"].startswith(f"arn:aws:ec2:eu-west-1:{A}:security-group/")
    assert [g["GroupName"] for g in east.describe_security_groups()["SecurityGroups"]] == [
        "default"
    ]
    assert {g["GroupName"] for g in west.describe_security_groups()["SecurityGroups"]} == {
        "default",
        "web",
    }
    assert error(lambda: east.describe_security_groups(GroupIds=[made["GroupId"]]))[0] == (
        "InvalidGroup.NotFound"
    )
    east.create_security_group(GroupName="web", Description="the same name, another region")
    (subnet,) = west.describe_subnets()["Subnets"]
    assert subnet["AvailabilityZone"] == "eu-west-1a"
    assert subnet["AvailabilityZoneId"] == "euw1-az1"
    zones = west.describe_availability_zones()["AvailabilityZones"]
    assert [z["ZoneName"] for z in zones] == ["eu-west-1a"]
    names = [r["RegionName"] for r in east.describe_regions()["Regions"]]
    assert "us-east-1" in names and "eu-west-1" in names
    code, status = error(
        lambda: west.run_instances(
            ImageId="ami-00000001", MinCount=1, MaxCount=1, SecurityGroupIds=[made["GroupId"]]
        )
    )
    assert (code, status) == ("Unsupported", 400)
    east.run_instances(ImageId="ami-00000001", MinCount=1, MaxCount=1)
    assert len(lab.cloud().instances) == 1 and not lab.cloud("eu-west-1").instances
    assert lab.status().regions == ("eu-west-1: 2 groups, 1 VPCs",)


def test_a_users_image_says_what_its_instances_serve(ec2: Client, lab: PersistentLab) -> None:
    def served(instance: str) -> list[str]:
        (node,) = [i for i in lab.topology().instances if i.name == instance]
        return [str(item) for item in node.listen]

    listen = [{"Key": "sgh:listen", "Value": "tcp/443, udp/53"}]
    image = ec2.register_image(
        Name="api", TagSpecifications=[{"ResourceType": "image", "Tags": listen}]
    )["ImageId"]
    assert error(lambda: ec2.register_image(Name="api"))[0] == "InvalidAMIName.Duplicate"
    bad = [{"ResourceType": "image", "Tags": [{"Key": "sgh:listen", "Value": "tcp/99999"}]}]
    assert error(lambda: ec2.register_image(Name="bad", TagSpecifications=bad)) == (
        "InvalidParameterValue",
        400,
    )
    assert [i["Name"] for i in ec2.describe_images(Owners=["self"])["Images"]] == ["api"]
    (first,) = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1)["Instances"]
    assert served(first["InstanceId"]) == ["tcp/443", "udp/53"]
    # its own tag at launch overrides the image's; a later one would change nothing running
    own = [{"ResourceType": "instance", "Tags": [{"Key": "sgh:listen", "Value": "tcp/8443"}]}]
    (second,) = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, TagSpecifications=own)[
        "Instances"
    ]
    assert served(second["InstanceId"]) == ["tcp/8443"]
    later = [{"Key": "sgh:listen", "Value": "tcp/1"}]
    assert error(lambda: ec2.create_tags(Resources=[first["InstanceId"]], Tags=later)) == (
        "InvalidParameterValue",
        400,
    )
    # the image's ports changed: instances launched after serve them, the running one keeps its
    ec2.create_tags(Resources=[image], Tags=[{"Key": "sgh:listen", "Value": "tcp/9000"}])
    (third,) = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1)["Instances"]
    assert served(third["InstanceId"]) == ["tcp/9000"]
    assert served(first["InstanceId"]) == ["tcp/443", "udp/53"]
    # a seed AMI is Amazon's and public; another account's image is not there for this one
    (seed,) = ec2.describe_images(ImageIds=["ami-e3a5408a"])["Images"]
    assert (seed["OwnerId"], seed["Public"], seed["Name"]) == ("amazon", True, "app server")
    other = client(ec2.meta.endpoint_url, key=B)
    assert error(lambda: other.describe_images(ImageIds=[image]))[0] == "InvalidAMIID.NotFound"
    ec2.deregister_image(ImageId=image)
    assert ec2.describe_images(Owners=["self"])["Images"] == []
