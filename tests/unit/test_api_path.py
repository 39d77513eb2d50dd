"""The VPC path through the Query API, driven by boto3 over HTTP on a lab that is not up (no
Docker): route tables, internet and egress-only gateways, Elastic IPs, NAT gateways, network
ACLs and peerings, with AWS's answers and errors, and the path the lab's data plane then
reads. ``tests/integration/test_vpc_clients.py`` builds the same with Ansible and checks it
by packets."""

from __future__ import annotations

from collections.abc import Iterator
from ipaddress import ip_address
from pathlib import Path
from typing import Any

import pytest
from test_api_vpc import client, error, serving

from harness.adapters.sqlite_store import Home
from harness.core.vpc_path import EGRESS_ONLY_INTERNET_GATEWAY, INTERNET_GATEWAY
from harness.lab.persistent import PersistentLab

Client = Any


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[PersistentLab]:
    lab = PersistentLab(Home(tmp_path), "vpc", create=True)
    lab.choose("vpc")
    yield lab
    lab.close()


@pytest.fixture
def ec2(lab: PersistentLab) -> Iterator[Client]:
    with serving(lab) as url:
        yield client(url)


def built(ec2: Client) -> dict[str, str]:
    """A VPC with a public and a private subnet, an internet gateway, a NAT gateway and the
    two route tables, as the Terraform VPC module makes them."""
    vpc = ec2.create_vpc(CidrBlock="10.7.0.0/16", AmazonProvidedIpv6CidrBlock=True)["Vpc"]
    vpc_id = vpc["VpcId"]
    public = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.7.1.0/24")["Subnet"]["SubnetId"]
    private = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.7.2.0/24")["Subnet"]["SubnetId"]
    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc_id)
    out = ec2.create_route_table(VpcId=vpc_id)["RouteTable"]["RouteTableId"]
    ec2.create_route(RouteTableId=out, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
    ec2.associate_route_table(RouteTableId=out, SubnetId=public)
    eip = ec2.allocate_address(Domain="vpc")
    nat = ec2.create_nat_gateway(SubnetId=public, AllocationId=eip["AllocationId"])
    nat_id = nat["NatGateway"]["NatGatewayId"]
    inside = ec2.create_route_table(VpcId=vpc_id)["RouteTable"]["RouteTableId"]
    ec2.create_route(RouteTableId=inside, DestinationCidrBlock="0.0.0.0/0", NatGatewayId=nat_id)
    ec2.associate_route_table(RouteTableId=inside, SubnetId=private)
    return {
        "vpc": vpc_id,
        "public": public,
        "private": private,
        "igw": igw,
        "out": out,
        "inside": inside,
        "nat": nat_id,
        "eip": eip["PublicIp"],
        "allocation": eip["AllocationId"],
    }


def test_route_tables_gateways_and_a_nat_gateway_as_aws_lists_them(
    ec2: Client, lab: PersistentLab
) -> None:
    made = built(ec2)
    (table,) = ec2.describe_route_tables(RouteTableIds=[made["inside"]])["RouteTables"]
    routes = {
        r.get("DestinationCidrBlock") or r["DestinationIpv6CidrBlock"]: r for r in table["Routes"]
    }
    assert routes["10.7.0.0/16"]["GatewayId"] == "local"
    assert routes["0.0.0.0/0"]["NatGatewayId"] == made["nat"]
    assert routes["0.0.0.0/0"]["State"] == "active"
    assert [a["SubnetId"] for a in table["Associations"]] == [made["private"]]
    (main,) = ec2.describe_route_tables(
        Filters=[
            {"Name": "vpc-id", "Values": [made["vpc"]]},
            {"Name": "association.main", "Values": ["true"]},
        ]
    )["RouteTables"]
    assert [r["GatewayId"] for r in main["Routes"]] == ["local", "local"]
    (gateway,) = ec2.describe_internet_gateways(
        Filters=[{"Name": "attachment.vpc-id", "Values": [made["vpc"]]}]
    )["InternetGateways"]
    assert gateway["Attachments"] == [{"State": "available", "VpcId": made["vpc"]}]
    (nat,) = ec2.describe_nat_gateways(Filter=[{"Name": "subnet-id", "Values": [made["public"]]}])[
        "NatGateways"
    ]
    assert nat["State"] == "available" and nat["ConnectivityType"] == "public"
    assert nat["NatGatewayAddresses"][0]["PublicIp"] == made["eip"]
    (address,) = ec2.describe_addresses(AllocationIds=[made["allocation"]])["Addresses"]
    assert address["PrivateIpAddress"] == nat["NatGatewayAddresses"][0]["PrivateIp"]
    # what the data plane reads
    topology = lab.topology()
    vpc = topology.vpcs_by_name[made["vpc"]]
    private = topology.subnets_by_name[made["private"]]
    (placed,) = vpc.nat_gateways
    assert str(placed.public) == made["eip"] and placed.subnet == made["public"]
    assert vpc.table_of(private).routes[0].target == made["nat"]
    public = topology.subnets_by_name[made["public"]]
    assert vpc.table_of(public).routes[0].target == INTERNET_GATEWAY


def test_what_aws_refuses_is_refused_with_its_code(ec2: Client) -> None:
    made = built(ec2)
    assert error(
        lambda: ec2.create_route(
            RouteTableId=made["out"], DestinationCidrBlock="0.0.0.0/0", GatewayId=made["igw"]
        )
    ) == ("RouteAlreadyExists", 400)
    assert (
        error(
            lambda: ec2.create_route(
                RouteTableId=made["out"], DestinationCidrBlock="10.7.5.0/24", GatewayId=made["igw"]
            )
        )[0]
        == "InvalidParameterValue"
    )
    assert error(lambda: ec2.delete_internet_gateway(InternetGatewayId=made["igw"]))[0] == (
        "DependencyViolation"
    )
    assert error(lambda: ec2.release_address(AllocationId=made["allocation"]))[0] == (
        "InvalidIPAddress.InUse"
    )
    assert (
        error(
            lambda: ec2.associate_route_table(RouteTableId=made["inside"], SubnetId=made["public"])
        )[0]
        == "Resource.AlreadyAssociated"
    )
    assert error(lambda: ec2.delete_route_table(RouteTableId=made["out"]))[0] == (
        "DependencyViolation"
    )
    assert (
        error(lambda: ec2.describe_route_tables(RouteTableIds=["rtb-0000000000000000f"]))[0]
        == "InvalidRouteTableID.NotFound"
    )


def test_a_nat_gateway_deleted_leaves_a_blackhole(ec2: Client, lab: PersistentLab) -> None:
    made = built(ec2)
    ec2.delete_nat_gateway(NatGatewayId=made["nat"])
    (table,) = ec2.describe_route_tables(RouteTableIds=[made["inside"]])["RouteTables"]
    assert [r["State"] for r in table["Routes"] if "NatGatewayId" in r] == ["blackhole"]
    vpc = lab.topology().vpcs_by_name[made["vpc"]]
    assert vpc.nat_gateways == ()
    assert vpc.tables_by_name[made["inside"]].routes[0].blackhole
    ec2.release_address(AllocationId=made["allocation"])  # freed with its NAT gateway


def test_an_elastic_ip_moves_between_instances(ec2: Client, lab: PersistentLab) -> None:
    made = built(ec2)
    ids = [
        ec2.run_instances(ImageId="ami-fba54092", MinCount=1, MaxCount=1, SubnetId=made["public"])[
            "Instances"
        ][0]["InstanceId"]
        for _ in range(2)
    ]
    eip = ec2.allocate_address(Domain="vpc")
    first = ec2.associate_address(AllocationId=eip["AllocationId"], InstanceId=ids[0])
    held = {i.name: i.nics[0].public for i in lab.topology().instances}
    assert str(held[ids[0]]) == eip["PublicIp"] and held[ids[1]] is None
    ec2.associate_address(AllocationId=eip["AllocationId"], InstanceId=ids[1])
    held = {i.name: i.nics[0].public for i in lab.topology().instances}
    assert held[ids[0]] is None and str(held[ids[1]]) == eip["PublicIp"]
    assert error(lambda: ec2.disassociate_address(AssociationId=first["AssociationId"]))[0] == (
        "InvalidAssociationID.NotFound"
    )
    (address,) = ec2.describe_addresses(PublicIps=[eip["PublicIp"]])["Addresses"]
    assert address["InstanceId"] == ids[1]


def test_network_acls_and_their_entries(ec2: Client, lab: PersistentLab) -> None:
    made = built(ec2)
    acl = ec2.create_network_acl(VpcId=made["vpc"])["NetworkAcl"]
    acl_id = acl["NetworkAclId"]
    assert [e["RuleNumber"] for e in acl["Entries"]] == [32767, 32768, 32767, 32768]
    entry = {
        "NetworkAclId": acl_id,
        "RuleNumber": 100,
        "Protocol": "6",
        "RuleAction": "allow",
        "Egress": False,
        "CidrBlock": "0.0.0.0/0",
        "PortRange": {"From": 443, "To": 443},
    }
    ec2.create_network_acl_entry(**entry)
    assert error(lambda: ec2.create_network_acl_entry(**entry))[0] == (
        "NetworkAclEntryAlreadyExists"
    )
    ec2.replace_network_acl_entry(**{**entry, "RuleAction": "deny"})
    (default,) = ec2.describe_network_acls(
        Filters=[
            {"Name": "vpc-id", "Values": [made["vpc"]]},
            {"Name": "default", "Values": ["true"]},
        ]
    )["NetworkAcls"]
    assoc = next(
        a["NetworkAclAssociationId"]
        for a in default["Associations"]
        if a["SubnetId"] == made["public"]
    )
    ec2.replace_network_acl_association(AssociationId=assoc, NetworkAclId=acl_id)
    topology = lab.topology()
    vpc = topology.vpcs_by_name[made["vpc"]]
    chosen = vpc.acl_of(topology.subnets_by_name[made["public"]])
    assert chosen.name == acl_id and [str(e.action) for e in chosen.entries] == ["deny"]
    assert vpc.acl_of(topology.subnets_by_name[made["private"]]).default


def test_a_peering_requested_then_accepted_and_an_egress_only_gateway(
    ec2: Client, lab: PersistentLab
) -> None:
    made = built(ec2)
    other = ec2.create_vpc(CidrBlock="10.8.0.0/16", AmazonProvidedIpv6CidrBlock=True)["Vpc"]
    pcx = ec2.create_vpc_peering_connection(VpcId=made["vpc"], PeerVpcId=other["VpcId"])[
        "VpcPeeringConnection"
    ]
    assert pcx["Status"]["Code"] == "pending-acceptance"
    pcx_id = pcx["VpcPeeringConnectionId"]
    ec2.create_route(
        RouteTableId=made["inside"],
        DestinationCidrBlock="10.8.0.0/16",
        VpcPeeringConnectionId=pcx_id,
    )
    assert lab.topology().peerings == ()
    inside = lab.topology().vpcs_by_name[made["vpc"]].tables_by_name[made["inside"]]
    assert [r.blackhole for r in inside.routes] == [False, True]  # not active yet
    ec2.accept_vpc_peering_connection(VpcPeeringConnectionId=pcx_id)
    assert [p.vpcs for p in lab.topology().peerings] == [(made["vpc"], other["VpcId"])]
    assert (
        error(
            lambda: ec2.create_vpc_peering_connection(VpcId=made["vpc"], PeerVpcId=other["VpcId"])
        )[0]
        == "VpcPeeringConnectionAlreadyExists"
    )
    eigw = ec2.create_egress_only_internet_gateway(VpcId=other["VpcId"])[
        "EgressOnlyInternetGateway"
    ]["EgressOnlyInternetGatewayId"]
    table = ec2.create_route_table(VpcId=other["VpcId"])["RouteTable"]["RouteTableId"]
    assert (
        error(
            lambda: ec2.create_route(
                RouteTableId=table,
                DestinationCidrBlock="0.0.0.0/0",
                EgressOnlyInternetGatewayId=eigw,
            )
        )[0]
        == "InvalidParameterValue"
    )
    ec2.create_route(
        RouteTableId=table, DestinationIpv6CidrBlock="::/0", EgressOnlyInternetGatewayId=eigw
    )
    far = lab.topology().vpcs_by_name[other["VpcId"]]
    assert far.egress_only_internet_gateway
    assert far.tables_by_name[table].routes[0].target == EGRESS_ONLY_INTERNET_GATEWAY


def test_a_vpc_with_a_path_is_deleted_only_once_its_parts_are(ec2: Client) -> None:
    made = built(ec2)
    for subnet in (made["public"], made["private"]):
        ec2.disassociate_route_table(
            AssociationId=next(
                a["RouteTableAssociationId"]
                for t in ec2.describe_route_tables()["RouteTables"]
                for a in t["Associations"]
                if a.get("SubnetId") == subnet
            )
        )
    ec2.delete_nat_gateway(NatGatewayId=made["nat"])
    for subnet in (made["public"], made["private"]):
        ec2.delete_subnet(SubnetId=subnet)
    assert error(lambda: ec2.delete_vpc(VpcId=made["vpc"]))[0] == "DependencyViolation"
    ec2.delete_route_table(RouteTableId=made["out"])
    ec2.delete_route_table(RouteTableId=made["inside"])
    ec2.detach_internet_gateway(InternetGatewayId=made["igw"], VpcId=made["vpc"])
    ec2.delete_vpc(VpcId=made["vpc"])
    assert [v["IsDefault"] for v in ec2.describe_vpcs()["Vpcs"]] == [True]


def test_what_describe_prints_imports_as_the_same_path(ec2: Client, tmp_path: Path) -> None:
    """AWS JSON: the describe outputs of a VPC with a path (here the lab's own answers, in
    AWS's shapes) import as that path: the tables, routes, NAT gateway and network ACL."""
    import json

    from harness.formats import sources

    made = built(ec2)
    acl = ec2.create_network_acl(VpcId=made["vpc"])["NetworkAcl"]["NetworkAclId"]
    ec2.create_network_acl_entry(
        NetworkAclId=acl,
        RuleNumber=100,
        Protocol="6",
        RuleAction="allow",
        Egress=False,
        CidrBlock="10.7.0.0/16",
        PortRange={"From": 22, "To": 22},
    )
    (default,) = ec2.describe_network_acls(
        Filters=[
            {"Name": "vpc-id", "Values": [made["vpc"]]},
            {"Name": "default", "Values": ["true"]},
        ]
    )["NetworkAcls"]
    assoc = next(
        a["NetworkAclAssociationId"]
        for a in default["Associations"]
        if a["SubnetId"] == made["private"]
    )
    ec2.replace_network_acl_association(AssociationId=assoc, NetworkAclId=acl)
    group = ec2.create_security_group(GroupName="web", Description="w", VpcId=made["vpc"])
    ec2.run_instances(
        ImageId="ami-fba54092",
        MinCount=1,
        MaxCount=1,
        SubnetId=made["private"],
        SecurityGroupIds=[group["GroupId"]],
    )
    dumps = {
        "vpcs": ec2.describe_vpcs(VpcIds=[made["vpc"]]),
        "subnets": ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [made["vpc"]]}]),
        "tables": ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [made["vpc"]]}]),
        "acls": ec2.describe_network_acls(Filters=[{"Name": "vpc-id", "Values": [made["vpc"]]}]),
        "nats": ec2.describe_nat_gateways(),
        "igws": ec2.describe_internet_gateways(),
        "groups": ec2.describe_security_groups(GroupIds=[group["GroupId"]]),
        "instances": ec2.describe_instances(),
    }
    paths = []
    for name, answer in dumps.items():
        answer.pop("ResponseMetadata", None)
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(answer, default=str))
        paths.append(str(path))
    topology = sources.load(paths).topology
    (vpc,) = [v for v in topology.vpcs if v.cidr.with_prefixlen == "10.7.0.0/16"]
    (nat,) = vpc.nat_gateways
    private = next(s for s in vpc.subnets if s.cidr.with_prefixlen == "10.7.2.0/24")
    public = next(s for s in vpc.subnets if s.cidr.with_prefixlen == "10.7.1.0/24")
    assert [(str(r.destination), r.target) for r in vpc.table_of(private).routes] == [
        ("0.0.0.0/0", nat.label)
    ]
    assert vpc.to_internet(public, ip_address("198.51.100.10"))
    assert nat.subnet == public.name
    entries = vpc.acl_of(private).entries
    assert [(e.number, e.egress, e.ports) for e in entries] == [(100, False, (22, 22))]


def test_a_rule_names_a_group_across_an_active_peering(ec2: Client, lab: PersistentLab) -> None:
    made = built(ec2)
    other = ec2.create_vpc(CidrBlock="10.8.0.0/16")["Vpc"]["VpcId"]
    far = ec2.create_security_group(GroupName="far", Description="f", VpcId=other)["GroupId"]
    near = ec2.create_security_group(GroupName="near", Description="n", VpcId=made["vpc"])
    pairs = [
        {
            "IpProtocol": "tcp",
            "FromPort": 443,
            "ToPort": 443,
            "UserIdGroupPairs": [{"GroupId": far}],
        }
    ]
    assert (
        error(
            lambda: ec2.authorize_security_group_ingress(
                GroupId=near["GroupId"], IpPermissions=pairs
            )
        )[0]
        == "InvalidGroup.NotFound"
    )
    pcx = ec2.create_vpc_peering_connection(VpcId=made["vpc"], PeerVpcId=other)[
        "VpcPeeringConnection"
    ]["VpcPeeringConnectionId"]
    ec2.accept_vpc_peering_connection(VpcPeeringConnectionId=pcx)
    ec2.authorize_security_group_ingress(GroupId=near["GroupId"], IpPermissions=pairs)
    group = next(g for g in lab.topology().groups if g.group_id == near["GroupId"])
    assert group.rules[0].group is not None and group.rules[0].group.vpc == other


def test_a_route_to_a_prefix_list_follows_its_entries(ec2: Client, lab: PersistentLab) -> None:
    made = built(ec2)
    plist = ec2.create_managed_prefix_list(
        PrefixListName="partners",
        AddressFamily="IPv4",
        MaxEntries=5,
        Entries=[{"Cidr": "198.51.100.0/24"}],
    )["PrefixList"]["PrefixListId"]
    ec2.create_route(RouteTableId=made["out"], DestinationPrefixListId=plist, GatewayId=made["igw"])
    (table,) = ec2.describe_route_tables(RouteTableIds=[made["out"]])["RouteTables"]
    assert [r["GatewayId"] for r in table["Routes"] if r.get("DestinationPrefixListId")] == [
        made["igw"]
    ]
    routes = lab.topology().vpcs_by_name[made["vpc"]].tables_by_name[made["out"]].routes
    assert [(str(r.destination), r.prefix_list) for r in routes if r.prefix_list] == [
        ("198.51.100.0/24", plist)
    ]
    version = ec2.describe_managed_prefix_lists(PrefixListIds=[plist])["PrefixLists"][0]["Version"]
    ec2.modify_managed_prefix_list(
        PrefixListId=plist, CurrentVersion=version, AddEntries=[{"Cidr": "203.0.113.0/24"}]
    )
    routes = lab.topology().vpcs_by_name[made["vpc"]].tables_by_name[made["out"]].routes
    assert sorted(str(r.destination) for r in routes if r.prefix_list) == [
        "198.51.100.0/24",
        "203.0.113.0/24",
    ]
    assert (
        error(
            lambda: ec2.create_route(
                RouteTableId=made["out"], DestinationPrefixListId=plist, GatewayId=made["igw"]
            )
        )[0]
        == "RouteAlreadyExists"
    )
    ec2.delete_route(RouteTableId=made["out"], DestinationPrefixListId=plist)
    routes = lab.topology().vpcs_by_name[made["vpc"]].tables_by_name[made["out"]].routes
    assert not [r for r in routes if r.prefix_list]


def test_an_instances_status_and_attributes_as_ansible_reads_them(ec2: Client) -> None:
    made = built(ec2)
    group = ec2.create_security_group(GroupName="web", Description="w", VpcId=made["vpc"])
    (instance,) = ec2.run_instances(
        ImageId="ami-fba54092",
        MinCount=1,
        MaxCount=1,
        SubnetId=made["public"],
        SecurityGroupIds=[group["GroupId"]],
        TagSpecifications=[
            {"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": "web"}]},
            {"ResourceType": "volume", "Tags": [{"Key": "Name", "Value": "web"}]},
        ],
    )["Instances"]
    ident = instance["InstanceId"]
    (status,) = ec2.describe_instance_status(InstanceIds=[ident])["InstanceStatuses"]
    assert status["InstanceState"]["Name"] == "running"
    assert status["InstanceStatus"]["Status"] == "ok"
    found = ec2.describe_instance_attribute(InstanceId=ident, Attribute="groupSet")
    assert [g["GroupId"] for g in found["Groups"]] == [group["GroupId"]]
    kind = ec2.describe_instance_attribute(InstanceId=ident, Attribute="instanceType")
    assert kind["InstanceType"]["Value"] == instance["InstanceType"]
    assert (
        error(lambda: ec2.describe_instance_attribute(InstanceId=ident, Attribute="userData"))[0]
        == "Unsupported"
    )
    (tagged,) = ec2.describe_instances(
        Filters=[
            {"Name": "tag:Name", "Values": ["web"]},
            {"Name": "subnet-id", "Values": [made["public"]]},
        ]
    )["Reservations"]
    assert tagged["Instances"][0]["InstanceId"] == ident
    ec2.terminate_instances(InstanceIds=[ident])
    assert ec2.describe_instance_status(InstanceIds=[ident])["InstanceStatuses"] == []
