"""Real clients against ``sgh serve`` on VPC and EC2-Classic labs, with the rules they make
checked by packets on the containers: the AWS CLI for each VPC call, and Ansible's amazon.aws
modules (``ec2_vpc_net``, ``ec2_security_group``) with nothing but ``endpoint_url`` set."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from persistent import BIN, Shell, cell, ec2_client, serving

A = "111122223333"
PLAYBOOKS = Path(__file__).resolve().parent / "ansible"


@pytest.fixture
def vpc_lab(tmp_path: Path) -> Iterator[Shell]:
    shell = Shell(tmp_path / "home", "clients")
    shell.run("sgh", "lab", "up", "clients", "--platform", "vpc", "-q")
    yield shell
    shell.run("sgh", "lab", "rm", "clients", "-q", check=False)


@pytest.fixture
def classic_lab(tmp_path: Path) -> Iterator[Shell]:
    shell = Shell(tmp_path / "home", "classic")
    shell.run("sgh", "lab", "up", "classic", "-q")
    yield shell
    shell.run("sgh", "lab", "rm", "classic", "-q", check=False)


class Aws:
    """The AWS CLI with a test's endpoint and an account as its key."""

    def __init__(self, shell: Shell, endpoint: str) -> None:
        self.shell = shell
        self.endpoint = endpoint
        self.env = {
            "AWS_ACCESS_KEY_ID": A,
            "AWS_SECRET_ACCESS_KEY": "unused",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_CONFIG_FILE": "/dev/null",
            "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        }

    def __call__(self, *argv: str) -> Any:
        done = self.shell.run(
            "aws", "--endpoint-url", self.endpoint, "--output", "json", *argv, env=self.env
        )
        return json.loads(done.stdout) if done.stdout.strip() else {}

    def fails(self, *argv: str) -> str:
        done = self.shell.run(
            "aws", "--endpoint-url", self.endpoint, *argv, env=self.env, check=False
        )
        assert done.returncode != 0, done.stdout
        return done.stderr


def test_the_aws_cli_makes_a_vpc_lab_and_packets_follow(vpc_lab: Shell, tmp_path: Path) -> None:
    with serving(vpc_lab) as endpoint:
        aws = Aws(vpc_lab, endpoint)
        assert aws("sts", "get-caller-identity")["Account"] == A
        attributes = aws("ec2", "describe-account-attributes")["AccountAttributes"]
        assert {a["AttributeName"]: a["AttributeValues"][0]["AttributeValue"] for a in attributes}[
            "supported-platforms"
        ] == "VPC"
        vpc = aws(
            "ec2",
            "create-vpc",
            "--cidr-block",
            "10.3.0.0/16",
            "--amazon-provided-ipv6-cidr-block",
            "--tag-specifications",
            "ResourceType=vpc,Tags=[{Key=Name,Value=shop}]",
        )["Vpc"]
        vpc_id = vpc["VpcId"]
        block = vpc["Ipv6CidrBlockAssociationSet"][0]["Ipv6CidrBlock"]
        found = aws("ec2", "describe-vpcs", "--filters", "Name=tag:Name,Values=shop")["Vpcs"]
        assert [v["VpcId"] for v in found] == [vpc_id]
        west = aws("ec2", "describe-vpcs", "--region", "eu-west-1")["Vpcs"]
        assert [v["IsDefault"] for v in west] == [True]  # another region: its own default VPC
        aws("ec2", "modify-vpc-attribute", "--vpc-id", vpc_id, "--enable-dns-hostnames")
        dns = aws(
            "ec2",
            "describe-vpc-attribute",
            "--vpc-id",
            vpc_id,
            "--attribute",
            "enableDnsHostnames",
        )
        assert dns["EnableDnsHostnames"]["Value"] is True
        subnet = aws(
            "ec2",
            "create-subnet",
            "--vpc-id",
            vpc_id,
            "--cidr-block",
            "10.3.1.0/24",
            "--ipv6-cidr-block",
            block.replace("/56", "/64"),
        )["Subnet"]["SubnetId"]
        aws("ec2", "modify-subnet-attribute", "--subnet-id", subnet, "--map-public-ip-on-launch")
        office = aws(
            "ec2",
            "create-managed-prefix-list",
            "--prefix-list-name",
            "office",
            "--address-family",
            "IPv4",
            "--max-entries",
            "5",
            "--entries",
            "Cidr=10.3.9.0/24,Description=nobody yet",
        )["PrefixList"]["PrefixListId"]
        web = aws(
            "ec2",
            "create-security-group",
            "--group-name",
            "web",
            "--description",
            "web",
            "--vpc-id",
            vpc_id,
        )["GroupId"]
        client = aws(
            "ec2",
            "create-security-group",
            "--group-name",
            "client",
            "--description",
            "c",
            "--vpc-id",
            vpc_id,
        )["GroupId"]
        added = aws(
            "ec2",
            "authorize-security-group-ingress",
            "--group-id",
            web,
            "--ip-permissions",
            f"IpProtocol=tcp,FromPort=80,ToPort=80,UserIdGroupPairs=[{{GroupId={client}}}]",
            "IpProtocol=tcp,FromPort=443,ToPort=443,Ipv6Ranges=[{CidrIpv6=::/0}]",
            f"IpProtocol=tcp,FromPort=22,ToPort=22,PrefixListIds=[{{PrefixListId={office}}}]",
        )["SecurityGroupRules"]
        assert added[0]["ReferencedGroupInfo"]["GroupId"] == client
        rules = aws(
            "ec2", "describe-security-group-rules", "--filters", f"Name=group-id,Values={web}"
        )["SecurityGroupRules"]
        egress = [r for r in rules if r["IsEgress"]]  # all out, to 0.0.0.0/0 and ::/0
        assert sorted(r.get("CidrIpv4") or r["CidrIpv6"] for r in egress) == ["0.0.0.0/0", "::/0"]
        aws(
            "ec2",
            "update-security-group-rule-descriptions-ingress",
            "--group-id",
            web,
            "--security-group-rule-descriptions",
            f"SecurityGroupRuleId={added[1]['SecurityGroupRuleId']},Description=v6 web",
        )
        # the web tier answers but starts nothing: its all-out egress rule is revoked by id
        aws(
            "ec2",
            "revoke-security-group-egress",
            "--group-id",
            web,
            "--security-group-rule-ids",
            *(r["SecurityGroupRuleId"] for r in egress),
        )
        aws(
            "ec2",
            "create-tags",
            "--resources",
            web,
            "--tags",
            "Key=tier,Value=web",
        )
        tags = aws("ec2", "describe-tags", "--filters", f"Name=resource-id,Values={web}")["Tags"]
        assert [(t["Key"], t["Value"]) for t in tags] == [("tier", "web")]
        (server,) = aws(
            "ec2",
            "run-instances",
            "--image-id",
            "ami-fba54092",
            "--count",
            "1",
            "--subnet-id",
            subnet,
            "--security-group-ids",
            web,
        )["Instances"]
        clients = aws(
            "ec2",
            "run-instances",
            "--image-id",
            "ami-fba54092",
            "--count",
            "2",
            "--subnet-id",
            subnet,
            "--security-group-ids",
            client,
        )["Instances"]
        first, second = (i["InstanceId"] for i in clients)
        target = server["InstanceId"]
        nics = aws(
            "ec2", "describe-network-interfaces", "--filters", f"Name=vpc-id,Values={vpc_id}"
        )["NetworkInterfaces"]
        assert len(nics) == 3 and all(n["Association"]["PublicIp"] for n in nics)
        private = server["PrivateIpAddress"]

        matrix = vpc_lab.matrix(tmp_path)
        assert matrix["exit"] == 0, matrix["text"]  # every cell as the rules imply
        assert cell(matrix, first, target, "tcp/22", private)["observed"] == "filtered"
        assert cell(matrix, first, target, "tcp/80", private)["observed"] == "open"
        assert (
            cell(matrix, target, first, "tcp/80", clients[0]["PrivateIpAddress"])["observed"]
            == "filtered"
        )  # the web tier's egress is gone

        # a prefix list's new entry and a membership change, enforced live
        aws(
            "ec2",
            "modify-managed-prefix-list",
            "--prefix-list-id",
            office,
            "--current-version",
            "1",
            "--add-entries",
            f"Cidr={clients[1]['PrivateIpAddress']}/32",
        )
        aws("ec2", "modify-instance-attribute", "--instance-id", first, "--groups", web)
        after = vpc_lab.matrix(tmp_path)
        assert after["exit"] == 0, after["text"]
        assert cell(after, second, target, "tcp/22", private)["observed"] == "open"
        assert cell(after, first, target, "tcp/80", private)["observed"] == "filtered"

        # a dry run changes nothing; then everything is taken down again
        assert "DryRunOperation" in aws.fails(
            "ec2", "terminate-instances", "--instance-ids", target, "--dry-run"
        )
        aws("ec2", "terminate-instances", "--instance-ids", target, first, second)
        aws("ec2", "delete-security-group", "--group-id", web)
        aws("ec2", "delete-security-group", "--group-id", client)
        aws("ec2", "delete-managed-prefix-list", "--prefix-list-id", office)
        aws("ec2", "delete-subnet", "--subnet-id", subnet)
        aws("ec2", "delete-vpc", "--vpc-id", vpc_id)
        assert [v["IsDefault"] for v in aws("ec2", "describe-vpcs")["Vpcs"]] == [True]


def playbook(shell: Shell, endpoint: str, name: str, out: Path, **extra: str) -> dict[str, Any]:
    """Run one of the test's playbooks; what its tasks registered."""
    argv = [
        str(BIN / "ansible-playbook"),
        "-i",
        "localhost,",
        "-c",
        "local",
        "-e",
        f"ansible_python_interpreter={BIN / 'python'}",
        "-e",
        f"endpoint={endpoint}",
        "-e",
        f"out={out}",
    ]
    for key, value in extra.items():
        argv += ["-e", f"{key}={value}"]
    env = {"ANSIBLE_LOCAL_TEMP": str(out.parent / "ansible-tmp"), "ANSIBLE_NOCOLOR": "1"}
    shell.run(*argv, str(PLAYBOOKS / name), env=env)
    data: dict[str, Any] = json.loads(out.read_text())
    return data


def launch(endpoint: str, group: str, subnet: str | None) -> list[str]:
    """Two instances by boto3: one in ``group``, one in the default group."""
    ec2 = ec2_client(endpoint, A)
    where = {"SubnetId": subnet} if subnet else {}
    ids = []
    for groups in ([group], []):
        (instance,) = ec2.run_instances(
            ImageId="ami-fba54092",
            MinCount=1,
            MaxCount=1,
            **({"SecurityGroupIds": groups} if groups else {}),
            **where,
        )["Instances"]
        ids.append(instance["InstanceId"])
    return ids


def test_ansible_makes_a_vpc_and_a_group_and_packets_follow(vpc_lab: Shell, tmp_path: Path) -> None:
    with serving(vpc_lab) as endpoint:
        made = playbook(vpc_lab, endpoint, "vpc.yml", tmp_path / "1.json", wanted="present")
        assert made["vpc"]["changed"] and made["group"]["changed"]
        again = playbook(vpc_lab, endpoint, "vpc.yml", tmp_path / "2.json", wanted="present")
        assert not again["vpc"]["changed"] and not again["group"]["changed"]
        group = made["group"]["group_id"]
        vpc_id = made["vpc"]["vpc"]["id"]
        aws = Aws(vpc_lab, endpoint)
        rules = aws(
            "ec2", "describe-security-group-rules", "--filters", f"Name=group-id,Values={group}"
        )["SecurityGroupRules"]
        assert sorted(
            (r["IsEgress"], r["FromPort"], r.get("CidrIpv4") or r.get("CidrIpv6")) for r in rules
        ) == [(False, 80, "0.0.0.0/0"), (False, 443, "::/0"), (True, 5432, "10.4.0.0/16")]
        subnet = aws("ec2", "create-subnet", "--vpc-id", vpc_id, "--cidr-block", "10.4.1.0/24")[
            "Subnet"
        ]["SubnetId"]
        web, other = launch(endpoint, group, subnet)
        matrix = vpc_lab.matrix(tmp_path)
        assert matrix["exit"] == 0, matrix["text"]
        assert cell(matrix, other, web, "tcp/80")["observed"] == "open"  # 0.0.0.0/0 in
        assert cell(matrix, other, web, "tcp/22")["observed"] == "filtered"
        assert cell(matrix, web, other, "tcp/22")["observed"] == "filtered"  # egress: 5432 only
        aws("ec2", "terminate-instances", "--instance-ids", web, other)
        aws("ec2", "delete-subnet", "--subnet-id", subnet)
        gone = playbook(
            vpc_lab, endpoint, "vpc.yml", tmp_path / "3.json", wanted="absent", group_id=group
        )
        assert gone["group_gone"]["changed"] and gone["vpc_gone"]["changed"]
        assert [v["IsDefault"] for v in aws("ec2", "describe-vpcs")["Vpcs"]] == [True]


def test_ansible_on_a_classic_group(classic_lab: Shell, tmp_path: Path) -> None:
    with serving(classic_lab) as endpoint:
        made = playbook(classic_lab, endpoint, "classic.yml", tmp_path / "1.json", wanted="present")
        assert made["group"]["changed"]
        again = playbook(
            classic_lab, endpoint, "classic.yml", tmp_path / "2.json", wanted="present"
        )
        assert not again["group"]["changed"]
        web, other = launch(endpoint, made["group"]["group_id"], None)
        matrix = classic_lab.matrix(tmp_path)
        assert matrix["exit"] == 0, matrix["text"]
        assert cell(matrix, other, web, "tcp/80")["observed"] == "open"
        assert cell(matrix, other, web, "tcp/22")["observed"] == "filtered"
        Aws(classic_lab, endpoint)("ec2", "terminate-instances", "--instance-ids", web, other)
        gone = playbook(classic_lab, endpoint, "classic.yml", tmp_path / "3.json", wanted="absent")
        assert gone["group"]["changed"]


def test_the_ec2_tools_on_a_vpc_lab(vpc_lab: Shell, tmp_path: Path) -> None:
    """The ec2-* commands as the 1.6 tools ran on a default-VPC account: groups in the default
    VPC, egress rules, every protocol, instances in the default subnet; checked by packets."""

    def ec2(*argv: str) -> list[list[str]]:
        done = vpc_lab.run(*argv)
        return [line.split("\t") for line in done.stdout.splitlines()]

    ec2("ec2-create-group", "web", "-d", "web tier")
    app_id = ec2("ec2-create-group", "app", "-d", "app tier")[0][1]
    ec2("ec2-authorize", "web", "-p", "80")
    ec2("ec2-authorize", "app", "-p", "8080", "-o", "web")
    revoked = ec2("ec2-revoke", "app", "--egress", "-P", "all", "-s", "0.0.0.0/0")
    assert revoked[1][4:11] == ["all", "", "", "TO", "CIDR", "0.0.0.0/0", "egress"]
    ec2("ec2-revoke", "web", "--egress", "-P", "-1", "-s", "0.0.0.0/0")
    ec2("ec2-authorize", "web", "--egress", "-p", "8080", "-o", "app")
    # a rule the group does not have: in a default VPC, EC2 answers success and names it
    absent = vpc_lab.run("ec2-revoke", "web", "--egress", "-p", "22", check=False)
    assert absent.returncode == 0 and "note: no such rule, nothing revoked:" in absent.stderr

    groups = ec2("ec2-describe-group", "web", "app")
    vpc = groups[0][5]
    assert vpc.startswith("vpc-") and [g[5] for g in groups if g[0] == "GROUP"] == [vpc, vpc]
    egress = [g[2:] for g in groups if g[0] == "PERMISSION" and g[-1] == "egress"]
    assert egress == [
        [
            "web",
            "ALLOWS",
            "tcp",
            "8080",
            "8080",
            "TO",
            "USER",
            A,
            "NAME app",
            egress[0][9],
            "egress",
        ]
    ]

    webs = [
        i
        for i in ec2("ec2-run-instances", "ami-fba54092", "-g", "web", "-n", "2")
        if i[0] == "INSTANCE"
    ]
    (app,) = [
        i
        for i in ec2(
            "ec2-run-instances",
            "ami-e3a5408a",
            "-g",
            "app",
            "--associate-public-ip-address",
            "false",
        )
        if i[0] == "INSTANCE"
    ]
    assert all(w[16].startswith("192.0.2.") and w[18] == vpc for w in webs)  # public, in the VPC
    assert app[16] == "" and app[18] == vpc and app[19].startswith("subnet-")

    matrix = vpc_lab.matrix(tmp_path)
    assert matrix["exit"] == 0, matrix["text"]
    web, other = webs[0][1], webs[1][1]
    assert cell(matrix, web, app[1], "tcp/8080", app[17])["observed"] == "open"
    assert cell(matrix, web, app[1], "tcp/22", app[17])["observed"] == "filtered"
    assert cell(matrix, app[1], web, "tcp/80", webs[0][17])["observed"] == "filtered"  # no egress
    assert cell(matrix, other, web, "tcp/80", webs[0][17])["observed"] == "filtered"  # web's egress

    # a membership change, enforced live: 'other' leaves web for app
    assert ec2("ec2-modify-instance-attribute", other, "-g", "app") == [["groupSet", other, app_id]]
    after = vpc_lab.matrix(tmp_path)
    assert after["exit"] == 0, after["text"]
    assert cell(after, other, app[1], "tcp/8080", app[17])["observed"] == "filtered"  # not web
    assert cell(after, web, other, "tcp/8080", webs[1][17])["observed"] == "closed"  # now app
    ec2("ec2-terminate-instances", web, other, app[1])
    still = vpc_lab.run("ec2-delete-group", "app", check=False)  # web's egress names it
    assert still.returncode == 1 and "DependencyViolation" in still.stderr
    ec2("ec2-revoke", "web", "--egress", "-p", "8080", "-o", "app")
    ec2("ec2-delete-group", "app")
    assert [g[3] for g in ec2("ec2-describe-group") if g[0] == "GROUP"] == ["default", "web"]


PATH_KEYS = (
    "vpc",
    "public",
    "private",
    "igw",
    "nat",
    "public_table",
    "private_table",
    "nacl",
    "group",
)


def test_ansible_builds_a_vpc_path_and_packets_follow(vpc_lab: Shell, tmp_path: Path) -> None:
    """amazon.aws builds subnets, an internet gateway, a NAT gateway, route tables and a
    network ACL, launches instances and gives one an Elastic IP; a second run changes nothing;
    packets then go as the path says: the internet reaches the instance at its Elastic IP, a
    private instance reaches it through the NAT gateway (seen from the NAT gateway's Elastic
    IP), nothing outside reaches the private one, and the private subnet's network ACL lets
    in ssh and not http. Then it is torn down."""
    with serving(vpc_lab) as endpoint:
        made = playbook(vpc_lab, endpoint, "vpc-path.yml", tmp_path / "1.json")
        assert [k for k in PATH_KEYS if not made[k]["changed"]] == []
        again = playbook(vpc_lab, endpoint, "vpc-path.yml", tmp_path / "2.json")
        assert [k for k in PATH_KEYS if again[k]["changed"]] == []
        ec2 = ec2_client(endpoint, A)
        group = made["group"]["group_id"]
        public, private = made["public"]["subnet"]["id"], made["private"]["subnet"]["id"]
        ids = {"public": public, "private": private, "group": group}
        launched = playbook(vpc_lab, endpoint, "vpc-instances.yml", tmp_path / "5.json", **ids)
        assert launched["web"]["changed"] and launched["app"]["changed"]
        again = playbook(vpc_lab, endpoint, "vpc-instances.yml", tmp_path / "6.json", **ids)
        assert not again["web"]["changed"] and not again["app"]["changed"]
        web, app = (
            ec2.describe_instances(
                Filters=[
                    {"Name": "tag:Name", "Values": [name]},
                    {"Name": "instance-state-name", "Values": ["running"]},
                ]
            )["Reservations"][0]["Instances"][0]
            for name in ("web", "app")
        )
        given = playbook(
            vpc_lab, endpoint, "vpc-eip.yml", tmp_path / "3.json", instance=web["InstanceId"]
        )
        assert given["eip"]["changed"]
        again = playbook(
            vpc_lab, endpoint, "vpc-eip.yml", tmp_path / "4.json", instance=web["InstanceId"]
        )
        assert not again["eip"]["changed"]
        (eip,) = ec2.describe_addresses(
            Filters=[{"Name": "instance-id", "Values": [web["InstanceId"]]}]
        )["Addresses"]
        vpc_lab.run("sgh", "host", "add", "internet", "198.51.100.10", "-q")
        matrix = vpc_lab.matrix(tmp_path)
        assert matrix["exit"] == 0, matrix["text"]
        web_id, app_id = web["InstanceId"], app["InstanceId"]
        public_ip = eip["PublicIp"]
        assert cell(matrix, "internet", web_id, "tcp/80", public_ip)["observed"] == "open"
        through = cell(matrix, app_id, web_id, "tcp/80", public_ip)
        assert through["observed"] == "open"
        nat_ip = made["nat"]["nat_gateway_addresses"][0]["public_ip"]
        assert matrix["path"]["nat_gateways"][0]["elastic_ip"] == nat_ip
        assert not [c for c in matrix["cells"] if c["from"] == "internet" and c["to"] == app_id]
        assert cell(matrix, web_id, app_id, "tcp/22", app["PrivateIpAddress"])["observed"] == "open"
        http = cell(matrix, web_id, app_id, "tcp/80", app["PrivateIpAddress"])
        assert http["observed"] == "filtered" and "network ACL" in http["why"], http
        # torn down, in the order AWS allows
        ec2.terminate_instances(InstanceIds=[web_id, app_id])
        ec2.release_address(AllocationId=eip["AllocationId"])
        nat = made["nat"]["nat_gateway_id"]
        ec2.delete_nat_gateway(NatGatewayId=nat)
        for address in ec2.describe_addresses()["Addresses"]:
            ec2.release_address(AllocationId=address["AllocationId"])
        for key in ("public_table", "private_table"):
            table = made[key]["route_table"]["id"]
            for association in ec2.describe_route_tables(RouteTableIds=[table])["RouteTables"][0][
                "Associations"
            ]:
                ec2.disassociate_route_table(AssociationId=association["RouteTableAssociationId"])
            ec2.delete_route_table(RouteTableId=table)
        vpc_id = made["vpc"]["vpc"]["id"]
        ec2.detach_internet_gateway(InternetGatewayId=made["igw"]["gateway_id"], VpcId=vpc_id)
        ec2.delete_internet_gateway(InternetGatewayId=made["igw"]["gateway_id"])
        (default,) = ec2.describe_network_acls(
            Filters=[
                {"Name": "vpc-id", "Values": [vpc_id]},
                {"Name": "default", "Values": ["true"]},
            ]
        )["NetworkAcls"]
        (data,) = ec2.describe_network_acls(NetworkAclIds=[made["nacl"]["nacl_id"]])["NetworkAcls"]
        for association in data["Associations"]:
            ec2.replace_network_acl_association(
                AssociationId=association["NetworkAclAssociationId"],
                NetworkAclId=default["NetworkAclId"],
            )
        ec2.delete_network_acl(NetworkAclId=made["nacl"]["nacl_id"])
        ec2.delete_security_group(GroupId=group)
        for subnet in (public, private):
            ec2.delete_subnet(SubnetId=subnet)
        ec2.delete_vpc(VpcId=vpc_id)
        assert [v["IsDefault"] for v in ec2.describe_vpcs()["Vpcs"]] == [True]


def test_a_peering_accepted_live_carries_packets_and_a_group_reference(
    vpc_lab: Shell, tmp_path: Path
) -> None:
    """Through boto3 on a running lab: two VPCs routing each other's CIDR to a peering, each
    instance's group naming the other VPC's group by id (accepted once the peering is active);
    the two instances reach each other's ssh by their private addresses across it (their
    routers plugged again as the peering came); once it is deleted, no path joins them."""
    with serving(vpc_lab) as endpoint:
        ec2 = ec2_client(endpoint, A)
        made: dict[str, dict[str, str]] = {}
        for name, cidr in (("one", "10.11.0.0/16"), ("two", "10.12.0.0/16")):
            vpc = ec2.create_vpc(CidrBlock=cidr)["Vpc"]["VpcId"]
            subnet = ec2.create_subnet(VpcId=vpc, CidrBlock=cidr.replace(".0.0/16", ".1.0/24"))
            table = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
            ec2.associate_route_table(RouteTableId=table, SubnetId=subnet["Subnet"]["SubnetId"])
            group = ec2.create_security_group(GroupName=name, Description=name, VpcId=vpc)
            made[name] = {
                "vpc": vpc,
                "cidr": cidr,
                "subnet": subnet["Subnet"]["SubnetId"],
                "table": table,
                "group": group["GroupId"],
            }
        pcx = ec2.create_vpc_peering_connection(
            VpcId=made["one"]["vpc"], PeerVpcId=made["two"]["vpc"]
        )["VpcPeeringConnection"]["VpcPeeringConnectionId"]
        for mine, other in (("one", "two"), ("two", "one")):
            ec2.create_route(
                RouteTableId=made[mine]["table"],
                DestinationCidrBlock=made[other]["cidr"],
                VpcPeeringConnectionId=pcx,
            )
        ec2.accept_vpc_peering_connection(VpcPeeringConnectionId=pcx)
        for mine, other in (("one", "two"), ("two", "one")):
            ec2.authorize_security_group_ingress(
                GroupId=made[mine]["group"],
                IpPermissions=[
                    {
                        "IpProtocol": "tcp",
                        "FromPort": 22,
                        "ToPort": 22,
                        "UserIdGroupPairs": [{"GroupId": made[other]["group"]}],
                    }
                ],
            )
        instances = {
            name: ec2.run_instances(
                ImageId="ami-fba54092",
                MinCount=1,
                MaxCount=1,
                SubnetId=made[name]["subnet"],
                SecurityGroupIds=[made[name]["group"]],
            )["Instances"][0]
            for name in ("one", "two")
        }
        matrix = vpc_lab.matrix(tmp_path)
        assert matrix["exit"] == 0, matrix["text"]
        one, two = instances["one"], instances["two"]
        across = cell(
            matrix, one["InstanceId"], two["InstanceId"], "tcp/22", two["PrivateIpAddress"]
        )
        assert across["observed"] == "open", across
        back = cell(matrix, two["InstanceId"], one["InstanceId"], "tcp/22", one["PrivateIpAddress"])
        assert back["observed"] == "open", back
        ec2.delete_vpc_peering_connection(VpcPeeringConnectionId=pcx)
        matrix = vpc_lab.matrix(tmp_path)
        assert matrix["exit"] == 0, matrix["text"]
        assert not [
            c
            for c in matrix["cells"]
            if c["from"] == one["InstanceId"] and c["to"] == two["InstanceId"]
        ]  # no longer peered: no path planned, none open
