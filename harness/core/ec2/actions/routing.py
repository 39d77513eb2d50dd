"""The VPC path's actions: route tables, routes and associations, internet gateways and
egress-only ones, Elastic IPs, NAT gateways, network ACLs and their entries, peering
connections. Answers in the SDK's shapes (botocore's model names the members)."""

from __future__ import annotations

from collections.abc import Callable
from ipaddress import IPv4Network, IPv6Network
from typing import Any

from harness.core.ec2 import plane as ec2
from harness.core.ec2.actions.describe import describe
from harness.core.ec2.actions.requests import (
    Answer,
    Caller,
    Request,
    missing,
    required,
    tag_specifications,
)
from harness.core.ec2.actions.tags import tag_new, tags
from harness.core.ec2.plane import Cloud
from harness.core.ec2.state import (
    AclRecord,
    AddressRecord,
    GatewayRecord,
    NatRecord,
    PeeringRecord,
    RouteTableRecord,
)
from harness.core.vpc_path import ANY_RULE, AclEntry
from harness.errors import Ec2Error

routing = ec2.routing
CREATED = "2026-01-01T00:00:00.000Z"  # the time a NAT gateway lists as made

# -- route tables ------------------------------------------------------------------------------


def _state_of_target(cloud: Cloud, target: str) -> str:
    """``active``, or ``blackhole`` for a route whose target is gone (a NAT gateway deleted,
    a gateway detached, a peering not active)."""
    for nat in cloud.nat_gateways:
        if nat.nat_id == target:
            return "active" if nat.state == "available" else "blackhole"
    for peering in cloud.peerings:
        if peering.pcx_id == target:
            return "active" if peering.status == "active" else "blackhole"
    return "active"


def _target_member(cloud: Cloud, account: str, target: str) -> dict[str, str]:
    for gateway in routing.gateways_of(cloud, account):
        if gateway.gateway_id == target:
            key = "EgressOnlyInternetGatewayId" if gateway.egress_only else "GatewayId"
            return {key: target}
    if any(n.nat_id == target for n in cloud.nat_gateways):
        return {"NatGatewayId": target}
    if any(p.pcx_id == target for p in cloud.peerings):
        return {"VpcPeeringConnectionId": target}
    return {"GatewayId": target}


def table_dict(cloud: Cloud, table: RouteTableRecord) -> Answer:
    vpc = next(v for v in cloud.vpcs if v.vpc_id == table.vpc_id)
    routes: list[Answer] = []
    for local in (vpc.cidr, vpc.ipv6):
        if local is not None:
            routes.append(
                {
                    _destination_key(local): str(local),
                    "GatewayId": "local",
                    "Origin": "CreateRouteTable",
                    "State": "active",
                }
            )
    for route in table.routes:
        if route.destination is None:
            where = {"DestinationPrefixListId": route.prefix_list}
        else:
            where = {_destination_key(route.destination): str(route.destination)}
        routes.append(
            {
                **where,
                **_target_member(cloud, table.owner, route.target),
                "Origin": "CreateRoute",
                "State": _state_of_target(cloud, route.target),
            }
        )
    associations: list[Answer] = [
        {
            "Main": False,
            "RouteTableAssociationId": routing.association_id(table, subnet),
            "RouteTableId": table.table_id,
            "SubnetId": subnet,
            "AssociationState": {"State": "associated"},
        }
        for subnet in table.subnets
    ]
    if table.main:
        associations.insert(
            0,
            {
                "Main": True,
                "RouteTableAssociationId": routing.main_association_id(table),
                "RouteTableId": table.table_id,
                "AssociationState": {"State": "associated"},
            },
        )
    return {
        "RouteTableId": table.table_id,
        "VpcId": table.vpc_id,
        "OwnerId": table.owner,
        "Routes": routes,
        "Associations": associations,
        "PropagatingVgws": [],
        "Tags": tags(cloud, table.table_id),
    }


def _destination_key(net: IPv4Network | IPv6Network) -> str:
    return "DestinationCidrBlock" if net.version == 4 else "DestinationIpv6CidrBlock"


def _values(items: list[Any]) -> list[str]:
    return [str(item) for item in items if item is not None and item != ""]


TABLE_FILTERS: dict[str, Callable[[RouteTableRecord], list[str]]] = {
    "route-table-id": lambda t: [t.table_id],
    "vpc-id": lambda t: [t.vpc_id],
    "owner-id": lambda t: [t.owner],
    "association.main": lambda t: ["true" if t.main else "false"],
    "association.subnet-id": lambda t: list(t.subnets),
    "association.route-table-id": lambda t: [t.table_id] if t.subnets or t.main else [],
    "association.route-table-association-id": lambda t: [
        *([routing.main_association_id(t)] if t.main else []),
        *(routing.association_id(t, s) for s in t.subnets),
    ],
    "route.destination-cidr-block": lambda t: [
        str(r.destination) for r in t.routes if r.destination and r.destination.version == 4
    ],
    "route.destination-ipv6-cidr-block": lambda t: [
        str(r.destination) for r in t.routes if r.destination and r.destination.version == 6
    ],
    "route.destination-prefix-list-id": lambda t: [
        r.prefix_list for r in t.routes if r.prefix_list
    ],
    "route.gateway-id": lambda t: [r.target for r in t.routes if r.target.startswith("igw-")],
    "route.nat-gateway-id": lambda t: [r.target for r in t.routes if r.target.startswith("nat-")],
    "route.vpc-peering-connection-id": lambda t: [
        r.target for r in t.routes if r.target.startswith("pcx-")
    ],
}


def create_route_table(cloud: Cloud, caller: Caller, request: Request) -> tuple[Cloud, Answer]:
    new_tags = tag_specifications(request, "route-table")
    cloud, table = routing.create_route_table(
        cloud, caller.account, required(request, "VpcId"), caller.new_id
    )
    cloud = tag_new(cloud, caller.account, table.table_id, new_tags)
    return cloud, {"RouteTable": table_dict(cloud, table)}


def delete_route_table(cloud: Cloud, caller: Caller, request: Request) -> tuple[Cloud, Answer]:
    return routing.delete_route_table(cloud, caller.account, required(request, "RouteTableId")), {}


def describe_route_tables(cloud: Cloud, caller: Caller, request: Request) -> tuple[Cloud, Answer]:
    return describe(
        cloud,
        caller,
        request,
        key="RouteTables",
        id_member="RouteTableIds",
        find=routing.find_table,
        owned=routing.all_tables,
        fields=lambda c: TABLE_FILTERS,
        ident=lambda t: t.table_id,
        answer=table_dict,
    )


TARGETS = ("GatewayId", "EgressOnlyInternetGatewayId", "NatGatewayId", "VpcPeeringConnectionId")
DESTINATIONS = ("DestinationCidrBlock", "DestinationIpv6CidrBlock", "DestinationPrefixListId")


def _route_request(request: Request) -> tuple[str, str]:
    destinations = _values([request.get(name) for name in DESTINATIONS])
    if len(destinations) != 1:
        raise Ec2Error(
            "InvalidParameterCombination",
            "Exactly one of DestinationCidrBlock, DestinationIpv6CidrBlock and "
            "DestinationPrefixListId is given",
        )
    targets = _values([request.get(name) for name in TARGETS])
    if len(targets) != 1:
        raise Ec2Error(
            "InvalidParameterCombination",
            "Exactly one of GatewayId, EgressOnlyInternetGatewayId, NatGatewayId and "
            "VpcPeeringConnectionId is given",
        )
    return destinations[0], targets[0]


def create_route(cloud: Cloud, caller: Caller, request: Request) -> tuple[Cloud, Answer]:
    destination, target = _route_request(request)
    table = required(request, "RouteTableId")
    cloud = routing.create_route(
        cloud, caller.account, table, destination, target, replace_it=False
    )
    return cloud, {"Return": True}


def replace_route(cloud: Cloud, caller: Caller, request: Request) -> tuple[Cloud, Answer]:
    destination, target = _route_request(request)
    table = required(request, "RouteTableId")
    cloud = routing.create_route(cloud, caller.account, table, destination, target, replace_it=True)
    return cloud, {}


def delete_route(cloud: Cloud, caller: Caller, request: Request) -> tuple[Cloud, Answer]:
    destinations = _values([request.get(name) for name in DESTINATIONS])
    if len(destinations) != 1:
        raise missing("DestinationCidrBlock")
    table = required(request, "RouteTableId")
    return routing.delete_route(cloud, caller.account, table, destinations[0]), {}


def associate_route_table(cloud: Cloud, caller: Caller, request: Request) -> tuple[Cloud, Answer]:
    cloud, assoc = routing.associate_route_table(
        cloud, caller.account, required(request, "RouteTableId"), required(request, "SubnetId")
    )
    return cloud, {"AssociationId": assoc, "AssociationState": {"State": "associated"}}


def disassociate_route_table(
    cloud: Cloud, caller: Caller, request: Request
) -> tuple[Cloud, Answer]:
    assoc = required(request, "AssociationId")
    return routing.disassociate_route_table(cloud, caller.account, assoc), {}


def replace_route_table_association(
    cloud: Cloud, caller: Caller, request: Request
) -> tuple[Cloud, Answer]:
    cloud, assoc = routing.replace_association(
        cloud, caller.account, required(request, "AssociationId"), required(request, "RouteTableId")
    )
    return cloud, {"NewAssociationId": assoc, "AssociationState": {"State": "associated"}}


# -- internet gateways and egress-only ones ---------------------------------------------------


def gateway_dict(cloud: Cloud, gateway: GatewayRecord) -> Answer:
    if gateway.egress_only:
        return {
            "EgressOnlyInternetGatewayId": gateway.gateway_id,
            "Attachments": [{"State": "attached", "VpcId": gateway.vpc_id}],
            "Tags": tags(cloud, gateway.gateway_id),
        }
    attached = [{"State": "available", "VpcId": gateway.vpc_id}] if gateway.vpc_id else []
    return {
        "InternetGatewayId": gateway.gateway_id,
        "OwnerId": gateway.owner,
        "Attachments": attached,
        "Tags": tags(cloud, gateway.gateway_id),
    }


GATEWAY_FILTERS: dict[str, Callable[[GatewayRecord], list[str]]] = {
    "internet-gateway-id": lambda g: [g.gateway_id],
    "owner-id": lambda g: [g.owner],
    "attachment.vpc-id": lambda g: _values([g.vpc_id]),
    "attachment.state": lambda g: ["available"] if g.vpc_id else [],
}


def _gateways(egress_only: bool) -> Callable[[Cloud, str], list[GatewayRecord]]:
    def owned(cloud: Cloud, account: str) -> list[GatewayRecord]:
        return [g for g in routing.gateways_of(cloud, account) if g.egress_only == egress_only]

    return owned


def create_internet_gateway(cloud: Cloud, caller: Caller, request: Request) -> tuple[Cloud, Answer]:
    new_tags = tag_specifications(request, "internet-gateway")
    cloud, gateway = routing.create_gateway(cloud, caller.account, caller.new_id)
    cloud = tag_new(cloud, caller.account, gateway.gateway_id, new_tags)
    return cloud, {"InternetGateway": gateway_dict(cloud, gateway)}


def attach_internet_gateway(cloud: Cloud, caller: Caller, request: Request) -> tuple[Cloud, Answer]:
    gateway, vpc = required(request, "InternetGatewayId"), required(request, "VpcId")
    return routing.attach_gateway(cloud, caller.account, gateway, vpc), {}


def detach_internet_gateway(cloud: Cloud, caller: Caller, request: Request) -> tuple[Cloud, Answer]:
    gateway, vpc = required(request, "InternetGatewayId"), required(request, "VpcId")
    return routing.detach_gateway(cloud, caller.account, gateway, vpc), {}


def delete_internet_gateway(cloud: Cloud, caller: Caller, request: Request) -> tuple[Cloud, Answer]:
    gateway = required(request, "InternetGatewayId")
    return routing.delete_gateway(cloud, caller.account, gateway, False), {}


def describe_internet_gateways(
    cloud: Cloud, caller: Caller, request: Request
) -> tuple[Cloud, Answer]:
    return describe(
        cloud,
        caller,
        request,
        key="InternetGateways",
        id_member="InternetGatewayIds",
        find=lambda c, a, i: routing.find_gateway(c, a, i, False),
        owned=_gateways(False),
        fields=lambda c: GATEWAY_FILTERS,
        ident=lambda g: g.gateway_id,
        answer=gateway_dict,
    )


def create_egress_only_internet_gateway(
    cloud: Cloud, caller: Caller, request: Request
) -> tuple[Cloud, Answer]:
    new_tags = tag_specifications(request, "egress-only-internet-gateway")
    cloud, gateway = routing.create_gateway(
        cloud, caller.account, caller.new_id, egress_only_vpc=required(request, "VpcId")
    )
    cloud = tag_new(cloud, caller.account, gateway.gateway_id, new_tags)
    return cloud, {"EgressOnlyInternetGateway": gateway_dict(cloud, gateway)}


def delete_egress_only_internet_gateway(
    cloud: Cloud, caller: Caller, request: Request
) -> tuple[Cloud, Answer]:
    gateway = required(request, "EgressOnlyInternetGatewayId")
    return routing.delete_gateway(cloud, caller.account, gateway, True), {"ReturnCode": True}


def describe_egress_only_internet_gateways(
    cloud: Cloud, caller: Caller, request: Request
) -> tuple[Cloud, Answer]:
    return describe(
        cloud,
        caller,
        request,
        key="EgressOnlyInternetGateways",
        id_member="EgressOnlyInternetGatewayIds",
        find=lambda c, a, i: routing.find_gateway(c, a, i, True),
        owned=_gateways(True),
        fields=lambda c: {"egress-only-internet-gateway-id": lambda g: [g.gateway_id]},
        ident=lambda g: g.gateway_id,
        answer=gateway_dict,
    )


# -- Elastic IPs -------------------------------------------------------------------------------


def address_dict(cloud: Cloud, address: AddressRecord) -> Answer:
    found: Answer = {
        "AllocationId": address.allocation_id,
        "PublicIp": str(address.public),
        "Domain": "vpc",
        "PublicIpv4Pool": "amazon",
        "NetworkBorderGroup": cloud.region,
        "Tags": tags(cloud, address.allocation_id),
    }
    nic = (
        next((n for n in cloud.nics if n.eni_id == address.eni_id), None)
        if address.eni_id
        else None
    )
    if nic is not None:
        found.update(
            AssociationId=address.association_id,
            NetworkInterfaceId=nic.eni_id,
            NetworkInterfaceOwnerId=nic.owner,
            PrivateIpAddress=str(nic.address),
            **({"InstanceId": nic.instance_id} if nic.instance_id else {}),
        )
    nat = next((n for n in cloud.nat_gateways if n.nat_id == address.nat_id), None)
    if nat is not None:
        found.update(
            AssociationId=address.association_id,
            NetworkInterfaceId=_nat_eni(nat),
            NetworkInterfaceOwnerId=nat.owner,
            PrivateIpAddress=str(nat.address),
        )
    return found


def _address_filters(cloud: Cloud) -> dict[str, Callable[[AddressRecord], list[str]]]:
    def instance_of(address: AddressRecord) -> list[str]:
        return [n.instance_id for n in cloud.nics if n.eni_id == address.eni_id and n.instance_id]

    return {
        "allocation-id": lambda a: [a.allocation_id],
        "public-ip": lambda a: [str(a.public)],
        "domain": lambda a: ["vpc"],
        "association-id": lambda a: _values([a.association_id]),
        "network-interface-id": lambda a: _values([a.eni_id]),
        "instance-id": instance_of,
    }


def allocate_address(cloud: Cloud, caller: Caller, request: Request) -> tuple[Cloud, Answer]:
    if request.get("Domain", "vpc") not in ("vpc", "standard"):
        raise Ec2Error("InvalidParameterValue", f"Invalid value for Domain: {request['Domain']}")
    new_tags = tag_specifications(request, "elastic-ip")
    cloud, address = routing.allocate_address(
        cloud, caller.account, caller.new_id, request.get("Address")
    )
    cloud = tag_new(cloud, caller.account, address.allocation_id, new_tags)
    return cloud, {
        "AllocationId": address.allocation_id,
        "PublicIp": str(address.public),
        "Domain": "vpc",
        "PublicIpv4Pool": "amazon",
        "NetworkBorderGroup": cloud.region,
    }


def _address_of(cloud: Cloud, account: str, request: Request) -> AddressRecord:
    allocation, public = request.get("AllocationId"), request.get("PublicIp")
    if not allocation and not public:
        raise missing("AllocationId")
    return routing.find_address(cloud, account, allocation or "", public or "")


def associate_address(cloud: Cloud, caller: Caller, request: Request) -> tuple[Cloud, Answer]:
    cloud = ec2.with_account(cloud, caller.account)
    address = _address_of(cloud, caller.account, request)
    eni = request.get("NetworkInterfaceId")
    if not eni:
        instance = required(request, "InstanceId")
        primary = [n for n in ec2.nics_of(cloud, instance) if n.device_index == 0]
        if not primary:
            raise ec2.not_found("InvalidInstanceID.NotFound", "instance", instance)
        eni = primary[0].eni_id
    reassociate = bool(request.get("AllowReassociation", True))
    cloud, moved = routing.associate_address(
        cloud, caller.account, address, eni, reassociate=reassociate
    )
    return cloud, {"AssociationId": moved.association_id}


def disassociate_address(cloud: Cloud, caller: Caller, request: Request) -> tuple[Cloud, Answer]:
    assoc = request.get("AssociationId")
    if not assoc:
        address = _address_of(cloud, caller.account, request)
        assoc = address.association_id
        if not assoc:
            return cloud, {}
    return routing.disassociate_address(cloud, caller.account, assoc), {}


def release_address(cloud: Cloud, caller: Caller, request: Request) -> tuple[Cloud, Answer]:
    address = _address_of(cloud, caller.account, request)
    return routing.release_address(cloud, caller.account, address), {}


def describe_addresses(cloud: Cloud, caller: Caller, request: Request) -> tuple[Cloud, Answer]:
    publics = request.get("PublicIps") or []
    cloud, found = describe(
        cloud,
        caller,
        request,
        key="Addresses",
        id_member="AllocationIds",
        find=routing.find_address,
        owned=lambda c, a: [x for x in c.addresses if x.owner == a],
        fields=_address_filters,
        ident=lambda x: x.allocation_id,
        answer=address_dict,
    )
    if publics:
        for public in publics:
            routing.find_address(cloud, caller.account, public=public)
        found["Addresses"] = [x for x in found["Addresses"] if x["PublicIp"] in publics]
    found.pop("NextToken", None)
    return cloud, found


# -- NAT gateways ------------------------------------------------------------------------------


def _nat_eni(nat: NatRecord) -> str:
    return ec2.stable_id("eni-", nat.nat_id)


def nat_dict(cloud: Cloud, nat: NatRecord) -> Answer:
    address = next((a for a in cloud.addresses if a.nat_id == nat.nat_id), None)
    entry: Answer = {
        "NetworkInterfaceId": _nat_eni(nat),
        "PrivateIp": str(nat.address),
        "IsPrimary": True,
        "Status": "succeeded",
    }
    if nat.allocation_id:
        entry["AllocationId"] = nat.allocation_id
    if address is not None:
        entry.update(PublicIp=str(address.public), AssociationId=address.association_id)
    return {
        "NatGatewayId": nat.nat_id,
        "SubnetId": nat.subnet_id,
        "VpcId": nat.vpc_id,
        "State": nat.state,
        "ConnectivityType": "public" if nat.allocation_id else "private",
        "CreateTime": CREATED,
        "NatGatewayAddresses": [entry],
        "Tags": tags(cloud, nat.nat_id),
    }


NAT_FILTERS: dict[str, Callable[[NatRecord], list[str]]] = {
    "nat-gateway-id": lambda n: [n.nat_id],
    "subnet-id": lambda n: [n.subnet_id],
    "vpc-id": lambda n: [n.vpc_id],
    "state": lambda n: [n.state],
}


def create_nat_gateway(cloud: Cloud, caller: Caller, request: Request) -> tuple[Cloud, Answer]:
    kind = request.get("ConnectivityType", "public")
    allocation = request.get("AllocationId") or ""
    if kind == "public" and not allocation:
        raise Ec2Error("MissingParameter", "The request must contain the parameter AllocationId")
    if kind == "private" and allocation:
        raise Ec2Error("InvalidParameterCombination", "A private NAT gateway takes no AllocationId")
    new_tags = tag_specifications(request, "natgateway")
    cloud, nat = routing.create_nat_gateway(
        cloud, caller.account, required(request, "SubnetId"), allocation, caller.new_id
    )
    cloud = tag_new(cloud, caller.account, nat.nat_id, new_tags)
    return cloud, {"NatGateway": nat_dict(cloud, nat), "ClientToken": request.get("ClientToken")}


def delete_nat_gateway(cloud: Cloud, caller: Caller, request: Request) -> tuple[Cloud, Answer]:
    cloud, nat = routing.delete_nat_gateway(
        cloud, caller.account, required(request, "NatGatewayId")
    )
    return cloud, {"NatGatewayId": nat.nat_id}


def describe_nat_gateways(cloud: Cloud, caller: Caller, request: Request) -> tuple[Cloud, Answer]:
    asked = {**request, "Filters": request.get("Filter") or []}  # this action says "Filter"
    asked.pop("Filter", None)
    return describe(
        cloud,
        caller,
        asked,
        key="NatGateways",
        id_member="NatGatewayIds",
        find=routing.find_nat,
        owned=lambda c, a: [n for n in c.nat_gateways if n.owner == a],
        fields=lambda c: NAT_FILTERS,
        ident=lambda n: n.nat_id,
        answer=nat_dict,
    )


# -- network ACLs ------------------------------------------------------------------------------


def _entry_dict(entry: AclEntry) -> Answer:
    found: Answer = {
        "RuleNumber": entry.number,
        "Protocol": str(entry.protocol),
        "RuleAction": str(entry.action),
        "Egress": entry.egress,
        ("CidrBlock" if entry.cidr.version == 4 else "Ipv6CidrBlock"): str(entry.cidr),
    }
    if entry.ports is not None:
        found["PortRange"] = {"From": entry.ports[0], "To": entry.ports[1]}
    if entry.icmp is not None:
        found["IcmpTypeCode"] = {"Type": entry.icmp[0], "Code": entry.icmp[1]}
    return found


def acl_dict(cloud: Cloud, acl: AclRecord) -> Answer:
    vpc = next(v for v in cloud.vpcs if v.vpc_id == acl.vpc_id)
    entries = [_entry_dict(e) for e in sorted(acl.entries, key=lambda e: (e.egress, e.number))]
    for egress in (False, True):
        for version, net in ((4, "0.0.0.0/0"), (6, "::/0")):
            if version == 6 and vpc.ipv6 is None:
                continue
            key = "CidrBlock" if version == 4 else "Ipv6CidrBlock"
            entries.append(
                {
                    "RuleNumber": ANY_RULE[version],
                    "Protocol": "-1",
                    "RuleAction": "deny",
                    "Egress": egress,
                    key: net,
                }
            )
    subnets = [s.subnet_id for s in cloud.subnets if s.vpc_id == acl.vpc_id]
    members = [
        s for s in subnets if routing.acl_of_subnet(cloud, acl.owner, s).acl_id == acl.acl_id
    ]
    return {
        "NetworkAclId": acl.acl_id,
        "VpcId": acl.vpc_id,
        "OwnerId": acl.owner,
        "IsDefault": acl.default,
        "Entries": entries,
        "Associations": [
            {
                "NetworkAclAssociationId": routing.acl_association_id(acl, subnet),
                "NetworkAclId": acl.acl_id,
                "SubnetId": subnet,
            }
            for subnet in members
        ],
        "Tags": tags(cloud, acl.acl_id),
    }


def _acl_filters(cloud: Cloud) -> dict[str, Callable[[AclRecord], list[str]]]:
    def members(acl: AclRecord) -> list[str]:
        return [a["SubnetId"] for a in acl_dict(cloud, acl)["Associations"]]

    def assoc_ids(acl: AclRecord) -> list[str]:
        return [a["NetworkAclAssociationId"] for a in acl_dict(cloud, acl)["Associations"]]

    return {
        "network-acl-id": lambda a: [a.acl_id],
        "vpc-id": lambda a: [a.vpc_id],
        "owner-id": lambda a: [a.owner],
        "default": lambda a: ["true" if a.default else "false"],
        "association.subnet-id": members,
        "association.network-acl-id": lambda a: [a.acl_id] if members(a) else [],
        "association.association-id": assoc_ids,
    }


def create_network_acl(cloud: Cloud, caller: Caller, request: Request) -> tuple[Cloud, Answer]:
    new_tags = tag_specifications(request, "network-acl")
    cloud, acl = routing.create_network_acl(
        cloud, caller.account, required(request, "VpcId"), caller.new_id
    )
    cloud = tag_new(cloud, caller.account, acl.acl_id, new_tags)
    return cloud, {"NetworkAcl": acl_dict(cloud, acl)}


def delete_network_acl(cloud: Cloud, caller: Caller, request: Request) -> tuple[Cloud, Answer]:
    return routing.delete_network_acl(cloud, caller.account, required(request, "NetworkAclId")), {}


def describe_network_acls(cloud: Cloud, caller: Caller, request: Request) -> tuple[Cloud, Answer]:
    return describe(
        cloud,
        caller,
        request,
        key="NetworkAcls",
        id_member="NetworkAclIds",
        find=routing.find_acl,
        owned=routing.all_acls,
        fields=_acl_filters,
        ident=lambda a: a.acl_id,
        answer=acl_dict,
    )


def _entry(request: Request) -> AclEntry:
    """CreateNetworkAclEntry's members as an entry (:func:`~harness.core.ec2.rules.acl_entry`
    checks it as every door does)."""
    from harness.core.ec2 import platform as platforms
    from harness.core.ec2 import rules as rulebook

    cidrs = _values([request.get("CidrBlock"), request.get("Ipv6CidrBlock")])
    if len(cidrs) != 1:
        raise Ec2Error(
            "InvalidParameterCombination", "Exactly one of CidrBlock and Ipv6CidrBlock is given"
        )
    ports = icmp = None
    given = request.get("PortRange")
    if given and given.get("From") is not None and given.get("To") is not None:
        ports = (int(given["From"]), int(given["To"]))
    typed = request.get("IcmpTypeCode")
    if typed and typed.get("Type") is not None and typed.get("Code") is not None:
        icmp = (int(typed["Type"]), int(typed["Code"]))
    return rulebook.acl_entry(
        int(required(request, "RuleNumber")),
        bool(request.get("Egress", False)),
        action=str(required(request, "RuleAction")).lower(),
        protocol=rulebook.parse_protocol(str(required(request, "Protocol")), platforms.VPC),
        cidr=rulebook.parse_cidr(cidrs[0], platforms.VPC),
        ports=ports,
        icmp=icmp,
    )


def create_network_acl_entry(
    cloud: Cloud, caller: Caller, request: Request
) -> tuple[Cloud, Answer]:
    acl = required(request, "NetworkAclId")
    return routing.put_acl_entry(cloud, caller.account, acl, _entry(request), replace_it=False), {}


def replace_network_acl_entry(
    cloud: Cloud, caller: Caller, request: Request
) -> tuple[Cloud, Answer]:
    acl = required(request, "NetworkAclId")
    return routing.put_acl_entry(cloud, caller.account, acl, _entry(request), replace_it=True), {}


def delete_network_acl_entry(
    cloud: Cloud, caller: Caller, request: Request
) -> tuple[Cloud, Answer]:
    acl, number = required(request, "NetworkAclId"), int(required(request, "RuleNumber"))
    egress = bool(required(request, "Egress"))
    return routing.delete_acl_entry(cloud, caller.account, acl, number, egress), {}


def replace_network_acl_association(
    cloud: Cloud, caller: Caller, request: Request
) -> tuple[Cloud, Answer]:
    cloud, assoc = routing.replace_acl_association(
        cloud, caller.account, required(request, "AssociationId"), required(request, "NetworkAclId")
    )
    return cloud, {"NewAssociationId": assoc}


# -- peering connections -----------------------------------------------------------------------


def peering_dict(cloud: Cloud, peering: PeeringRecord) -> Answer:
    def side(vpc_id: str) -> Answer:
        vpc = next(v for v in cloud.vpcs if v.vpc_id == vpc_id)
        found: Answer = {
            "VpcId": vpc.vpc_id,
            "OwnerId": vpc.owner,
            "CidrBlock": str(vpc.cidr),
            "CidrBlockSet": [{"CidrBlock": str(vpc.cidr)}],
            "Region": cloud.region,
        }
        if vpc.ipv6 is not None:
            found["Ipv6CidrBlockSet"] = [{"Ipv6CidrBlock": str(vpc.ipv6)}]
        return found

    messages = {
        "pending-acceptance": f"Pending Acceptance by {peering.owner}",
        "active": "Active",
        "deleted": f"Deleted by {peering.owner}",
    }
    return {
        "VpcPeeringConnectionId": peering.pcx_id,
        "RequesterVpcInfo": side(peering.requester),
        "AccepterVpcInfo": side(peering.accepter),
        "Status": {"Code": peering.status, "Message": messages.get(peering.status, "")},
        "Tags": tags(cloud, peering.pcx_id),
    }


PEERING_FILTERS: dict[str, Callable[[PeeringRecord], list[str]]] = {
    "vpc-peering-connection-id": lambda p: [p.pcx_id],
    "requester-vpc-info.vpc-id": lambda p: [p.requester],
    "accepter-vpc-info.vpc-id": lambda p: [p.accepter],
    "status-code": lambda p: [p.status],
}


def create_vpc_peering_connection(
    cloud: Cloud, caller: Caller, request: Request
) -> tuple[Cloud, Answer]:
    for member, words in (("PeerOwnerId", "another account"), ("PeerRegion", "another region")):
        value = request.get(member)
        if value and value not in (caller.account, cloud.region):
            raise Ec2Error(
                "InvalidParameterValue",
                f"The lab peers VPCs of one account and region, not {words}",
            )
    new_tags = tag_specifications(request, "vpc-peering-connection")
    cloud, peering = routing.create_peering(
        cloud,
        caller.account,
        required(request, "VpcId"),
        required(request, "PeerVpcId"),
        caller.new_id,
    )
    cloud = tag_new(cloud, caller.account, peering.pcx_id, new_tags)
    return cloud, {"VpcPeeringConnection": peering_dict(cloud, peering)}


def accept_vpc_peering_connection(
    cloud: Cloud, caller: Caller, request: Request
) -> tuple[Cloud, Answer]:
    pcx = required(request, "VpcPeeringConnectionId")
    cloud, peering = routing.set_peering(cloud, caller.account, pcx, "active")
    return cloud, {"VpcPeeringConnection": peering_dict(cloud, peering)}


def delete_vpc_peering_connection(
    cloud: Cloud, caller: Caller, request: Request
) -> tuple[Cloud, Answer]:
    pcx = required(request, "VpcPeeringConnectionId")
    cloud, _ = routing.set_peering(cloud, caller.account, pcx, "deleted")
    return cloud, {"Return": True}


def describe_vpc_peering_connections(
    cloud: Cloud, caller: Caller, request: Request
) -> tuple[Cloud, Answer]:
    return describe(
        cloud,
        caller,
        request,
        key="VpcPeeringConnections",
        id_member="VpcPeeringConnectionIds",
        find=routing.find_peering,
        owned=lambda c, a: [p for p in c.peerings if p.owner == a],
        fields=lambda c: PEERING_FILTERS,
        ident=lambda p: p.pcx_id,
        answer=peering_dict,
    )
