"""The VPC path imported from Terraform: internet and egress-only gateways, a NAT gateway, route
tables (inline routes and ``aws_route``), associations, network ACLs (inline entries and
``aws_network_acl_rule``) and a peering, as the common VPC module writes them. The imported
topology runs as the input says: what the lab does not model is left out with a note."""

from __future__ import annotations

from pathlib import Path

from harness.core.matrix import expectations
from harness.core.planner import plan
from harness.formats import sources

MODULE = """
resource "aws_vpc" "main" {
  cidr_block = "10.20.0.0/16"
}
resource "aws_vpc" "legacy" {
  cidr_block = "10.21.0.0/16"
}
resource "aws_subnet" "public" {
  vpc_id                  = aws_vpc.main.id
  cidr_block              = "10.20.1.0/24"
  map_public_ip_on_launch = true
}
resource "aws_subnet" "private" {
  vpc_id     = aws_vpc.main.id
  cidr_block = "10.20.2.0/24"
}
resource "aws_subnet" "old" {
  vpc_id     = aws_vpc.legacy.id
  cidr_block = "10.21.1.0/24"
}
resource "aws_internet_gateway" "this" {
  vpc_id = aws_vpc.main.id
}
resource "aws_eip" "nat" {
  domain = "vpc"
}
resource "aws_nat_gateway" "this" {
  allocation_id = aws_eip.nat.id
  subnet_id     = aws_subnet.public.id
}
resource "aws_route_table" "public" {
  vpc_id = aws_vpc.main.id
}
resource "aws_route" "public_internet_gateway" {
  route_table_id         = aws_route_table.public.id
  destination_cidr_block = "0.0.0.0/0"
  gateway_id             = aws_internet_gateway.this.id
}
resource "aws_route_table" "private" {
  vpc_id = aws_vpc.main.id
  route {
    cidr_block     = "0.0.0.0/0"
    nat_gateway_id = aws_nat_gateway.this.id
  }
  route {
    cidr_block                = "10.21.0.0/16"
    vpc_peering_connection_id = aws_vpc_peering_connection.legacy.id
  }
  route {
    cidr_block         = "172.16.0.0/12"
    transit_gateway_id = "tgw-0123456789abcdef0"
  }
}
resource "aws_ec2_managed_prefix_list" "partners" {
  name           = "partners"
  address_family = "IPv4"
  max_entries    = 5
  entry {
    cidr = "198.51.100.0/24"
  }
}
resource "aws_route" "partners" {
  route_table_id             = aws_route_table.public.id
  destination_prefix_list_id = aws_ec2_managed_prefix_list.partners.id
  gateway_id                 = aws_internet_gateway.this.id
}
resource "aws_route_table_association" "public" {
  subnet_id      = aws_subnet.public.id
  route_table_id = aws_route_table.public.id
}
resource "aws_route_table_association" "private" {
  subnet_id      = aws_subnet.private.id
  route_table_id = aws_route_table.private.id
}
resource "aws_route_table" "back" {
  vpc_id = aws_vpc.legacy.id
  route {
    cidr_block                = "10.20.0.0/16"
    vpc_peering_connection_id = aws_vpc_peering_connection.legacy.id
  }
}
resource "aws_main_route_table_association" "legacy" {
  vpc_id         = aws_vpc.legacy.id
  route_table_id = aws_route_table.back.id
}
resource "aws_vpc_peering_connection" "legacy" {
  vpc_id      = aws_vpc.main.id
  peer_vpc_id = aws_vpc.legacy.id
  auto_accept = true
}
resource "aws_network_acl" "private" {
  vpc_id     = aws_vpc.main.id
  subnet_ids = [aws_subnet.private.id]
  egress {
    rule_no    = 100
    protocol   = "-1"
    action     = "allow"
    cidr_block = "0.0.0.0/0"
    from_port  = 0
    to_port    = 0
  }
}
resource "aws_network_acl_rule" "ssh_in" {
  network_acl_id = aws_network_acl.private.id
  rule_number    = 100
  egress         = false
  protocol       = "tcp"
  rule_action    = "allow"
  cidr_block     = "10.20.0.0/16"
  from_port      = 22
  to_port        = 22
}
resource "aws_network_acl_rule" "replies_in" {
  network_acl_id = aws_network_acl.private.id
  rule_number    = 110
  egress         = false
  protocol       = "tcp"
  rule_action    = "allow"
  cidr_block     = "0.0.0.0/0"
  from_port      = 1024
  to_port        = 65535
}
resource "aws_security_group" "web" {
  vpc_id = aws_vpc.main.id
  ingress {
    from_port   = 0
    to_port     = 0
    protocol    = "-1"
    cidr_blocks = ["0.0.0.0/0"]
  }
  egress {
    from_port   = 0
    to_port     = 0
    protocol    = "-1"
    cidr_blocks = ["0.0.0.0/0"]
  }
}
resource "aws_instance" "web" {
  subnet_id                   = aws_subnet.public.id
  vpc_security_group_ids      = [aws_security_group.web.id]
  associate_public_ip_address = true
}
resource "aws_instance" "app" {
  subnet_id              = aws_subnet.private.id
  vpc_security_group_ids = [aws_security_group.web.id]
}
"""


def test_a_terraform_vpc_path_is_imported_as_written(tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text(MODULE)
    loaded = sources.load([str(tmp_path)])
    topology = loaded.topology
    main = topology.vpcs_by_name["main"]
    assert main.has_internet_gateway
    (nat,) = main.nat_gateways
    assert nat.subnet == "public" and nat.public is not None
    private = topology.subnets_by_name["private"]
    table = main.table_of(private)
    assert [(str(r.destination), r.target) for r in table.routes] == [
        ("0.0.0.0/0", nat.label),
        ("10.21.0.0/16", topology.peerings[0].name),
    ]
    assert any("transit_gateway_id" in note and "left out" in note for note in loaded.notes)
    acl = main.acl_of(private)
    assert sorted((e.number, e.egress) for e in acl.entries) == [
        (100, False),
        (100, True),
        (110, False),
    ]
    public_table = main.table_of(topology.subnets_by_name["public"])
    assert [(str(r.destination), r.prefix_list) for r in public_table.routes if r.prefix_list] == [
        ("198.51.100.0/24", "partners")
    ]
    legacy = topology.vpcs_by_name["legacy"]
    assert legacy.table_of(topology.subnets_by_name["old"]).routes[0].target == (
        topology.peerings[0].name
    )
    # the imported lab answers as the path says: the private member has no public address
    # and reaches the public member's public address through the NAT gateway, seen from its
    # Elastic IP
    public, private_member = (
        next(i for i in topology.instances if i.nics[0].subnet == name)
        for name in ("public", "private")
    )
    assert private_member.nics[0].public is None
    expected = expectations(topology, plan(topology))
    through = {
        c.probe: e
        for c, e in expected.items()
        if (c.source, c.target) == (private_member.name, public.name)
        and c.address == str(public.nics[0].public)
    }
    assert through
    for probe, found in through.items():
        if str(probe).startswith("tcp"):  # the ACL lets in replies to ephemeral tcp ports
            assert str(found.state) == "closed", (probe, found)
        else:
            assert str(found.state) == "filtered" and "network ACL acl-private" in found.why
    assert not [c for c in expected if c.source == "internet" and c.target == private_member.name]


def test_sgh_import_writes_the_path_and_it_reads_back_the_same(tmp_path: Path) -> None:
    from harness.formats import topology_file
    from harness.formats.imports.yaml_writer import render

    (tmp_path / "main.tf").write_text(MODULE)
    loaded = sources.load([str(tmp_path)])
    assert loaded.imported is not None
    text = render(loaded.imported)
    again = topology_file.loads(text, "imported.yaml")
    before = {c: e.state for c, e in expectations(loaded.topology, plan(loaded.topology)).items()}
    after = {c: e.state for c, e in expectations(again, plan(again)).items()}
    assert before == after
    assert "target: nat-this}  #" in text and "aws_route.public_internet_gateway" in text
    assert "legacy-public" not in text  # no subnet is made up where the input gives the routes


TEMPLATE = """
Resources:
  main: {Type: AWS::EC2::VPC, Properties: {CidrBlock: 10.20.0.0/16}}
  legacy: {Type: AWS::EC2::VPC, Properties: {CidrBlock: 10.21.0.0/16}}
  public:
    Type: AWS::EC2::Subnet
    Properties: {VpcId: !Ref main, CidrBlock: 10.20.1.0/24, MapPublicIpOnLaunch: true}
  private: {Type: AWS::EC2::Subnet, Properties: {VpcId: !Ref main, CidrBlock: 10.20.2.0/24}}
  old: {Type: AWS::EC2::Subnet, Properties: {VpcId: !Ref legacy, CidrBlock: 10.21.1.0/24}}
  this: {Type: AWS::EC2::InternetGateway}
  attach:
    Type: AWS::EC2::VPCGatewayAttachment
    Properties: {VpcId: !Ref main, InternetGatewayId: !Ref this}
  eip: {Type: AWS::EC2::EIP, Properties: {Domain: vpc}}
  nat:
    Type: AWS::EC2::NatGateway
    Properties: {SubnetId: !Ref public, AllocationId: !GetAtt eip.AllocationId}
  publicTable: {Type: AWS::EC2::RouteTable, Properties: {VpcId: !Ref main}}
  publicRoute:
    Type: AWS::EC2::Route
    Properties:
      RouteTableId: !Ref publicTable
      DestinationCidrBlock: 0.0.0.0/0
      GatewayId: !Ref this
  privateTable: {Type: AWS::EC2::RouteTable, Properties: {VpcId: !Ref main}}
  privateRoute:
    Type: AWS::EC2::Route
    Properties:
      RouteTableId: !Ref privateTable
      DestinationCidrBlock: 0.0.0.0/0
      NatGatewayId: !Ref nat
  peerRoute:
    Type: AWS::EC2::Route
    Properties:
      RouteTableId: !Ref privateTable
      DestinationCidrBlock: 10.21.0.0/16
      VpcPeeringConnectionId: !Ref peering
  partners:
    Type: AWS::EC2::PrefixList
    Properties:
      PrefixListName: partners
      AddressFamily: IPv4
      MaxEntries: 5
      Entries: [{Cidr: 198.51.100.0/24}]
  partnersRoute:
    Type: AWS::EC2::Route
    Properties:
      RouteTableId: !Ref publicTable
      DestinationPrefixListId: !GetAtt partners.PrefixListId
      GatewayId: !Ref this
  tgwRoute:
    Type: AWS::EC2::Route
    Properties:
      RouteTableId: !Ref privateTable
      DestinationCidrBlock: 172.16.0.0/12
      TransitGatewayId: tgw-0123456789abcdef0
  publicAssoc:
    Type: AWS::EC2::SubnetRouteTableAssociation
    Properties: {SubnetId: !Ref public, RouteTableId: !Ref publicTable}
  privateAssoc:
    Type: AWS::EC2::SubnetRouteTableAssociation
    Properties: {SubnetId: !Ref private, RouteTableId: !Ref privateTable}
  back: {Type: AWS::EC2::RouteTable, Properties: {VpcId: !Ref legacy}}
  backRoute:
    Type: AWS::EC2::Route
    Properties:
      RouteTableId: !Ref back
      DestinationCidrBlock: 10.20.0.0/16
      VpcPeeringConnectionId: !Ref peering
  backAssoc:
    Type: AWS::EC2::SubnetRouteTableAssociation
    Properties: {SubnetId: !Ref old, RouteTableId: !Ref back}
  peering:
    Type: AWS::EC2::VPCPeeringConnection
    Properties: {VpcId: !Ref main, PeerVpcId: !Ref legacy}
  acl: {Type: AWS::EC2::NetworkAcl, Properties: {VpcId: !Ref main}}
  aclOut:
    Type: AWS::EC2::NetworkAclEntry
    Properties:
      NetworkAclId: !Ref acl
      RuleNumber: 100
      Protocol: -1
      RuleAction: allow
      Egress: true
      CidrBlock: 0.0.0.0/0
  sshIn:
    Type: AWS::EC2::NetworkAclEntry
    Properties:
      NetworkAclId: !Ref acl
      RuleNumber: 100
      Protocol: 6
      RuleAction: allow
      CidrBlock: 10.20.0.0/16
      PortRange: {From: 22, To: 22}
  repliesIn:
    Type: AWS::EC2::NetworkAclEntry
    Properties:
      NetworkAclId: !Ref acl
      RuleNumber: 110
      Protocol: 6
      RuleAction: allow
      CidrBlock: 0.0.0.0/0
      PortRange: {From: 1024, To: 65535}
  aclAssoc:
    Type: AWS::EC2::SubnetNetworkAclAssociation
    Properties: {SubnetId: !Ref private, NetworkAclId: !Ref acl}
  web:
    Type: AWS::EC2::SecurityGroup
    Properties:
      GroupName: web
      GroupDescription: web
      VpcId: !Ref main
      SecurityGroupIngress: [{IpProtocol: "-1", CidrIp: 0.0.0.0/0}]
  webInstance:
    Type: AWS::EC2::Instance
    Properties:
      ImageId: ami-12345678
      NetworkInterfaces:
        - DeviceIndex: "0"
          SubnetId: !Ref public
          GroupSet: [!Ref web]
          AssociatePublicIpAddress: true
  appInstance:
    Type: AWS::EC2::Instance
    Properties: {ImageId: ami-12345678, SubnetId: !Ref private, SecurityGroupIds: [!Ref web]}
"""


def test_cloudformation_gives_the_same_path_as_terraform(tmp_path: Path) -> None:
    """One design in two formats: the same verdict for every cell (CloudFormation keeps the
    allow-all egress a template does not replace, as the group in MODULE writes it)."""
    (tmp_path / "main.tf").write_text(MODULE)
    (tmp_path / "stack.yaml").write_text(TEMPLATE)
    terraform = sources.load([str(tmp_path / "main.tf")])
    cloudformation = sources.load([str(tmp_path / "stack.yaml")])
    assert any("TransitGatewayId" in note for note in cloudformation.notes)

    def states(loaded: sources.Loaded) -> dict[tuple[str, str], str]:
        topology = loaded.topology
        subnet_of = {i.name: i.nics[0].subnet for i in topology.instances}
        found: dict[tuple[str, str], str] = {}
        for cell, expectation in expectations(topology, plan(topology)).items():
            source = subnet_of.get(cell.source, cell.source)
            kind = "public" if cell.address.startswith("192.0.2") else "private"
            key = (f"{source}->{subnet_of[cell.target]} {kind} {cell.probe}", "")
            found[key] = str(expectation.state)
        return found

    assert len(states(terraform)) > 20
    assert states(cloudformation) == states(terraform)
