"""AWS JSON: what ``aws ec2 describe-*`` prints (and boto3 returns, and placebo records).

Read, from one or several documents: ``describe-security-groups`` (``SecurityGroups``), and
optionally ``describe-instances`` (``Reservations``), ``describe-network-interfaces``
(``NetworkInterfaces``), ``describe-managed-prefix-lists`` (``PrefixLists``) with
``get-managed-prefix-list-entries`` (``Entries``: the list is the one whose id the file's name
carries, or the only one), ``describe-vpcs`` (``Vpcs``) and ``describe-subnets``
(``Subnets``), and the VPC path: ``describe-route-tables``, ``describe-network-acls``,
``describe-nat-gateways``, ``describe-internet-gateways``,
``describe-egress-only-internet-gateways``, ``describe-vpc-peering-connections`` and
``describe-addresses``. A placebo record ``{"status_code": ..., "data": {...}}`` is unwrapped.

Membership is per network interface: an interface is a member of the groups in its
``Groups``; interfaces attached to one instance make one instance of the lab. Groups keep the
API's default egress: what ``IpPermissionsEgress`` lists (a missing key, as older dumps and
EC2-Classic groups have, means everything may leave).
"""

from __future__ import annotations

import re
from typing import Any

from harness.core.model import Origin
from harness.formats.imports.deployment import (
    ROUTE_TARGETS,
    Deployment,
    ImportedAcl,
    ImportedAclEntry,
    ImportedGroup,
    ImportedInterface,
    ImportedPath,
    ImportedPrefixList,
    ImportedRoute,
    ImportedRouteTable,
    ImportedRule,
    ImportedSubnet,
    ImportedVpc,
    Peer,
    refuse,
)
from harness.formats.imports.values import make_rule, port_value, protocol_text

KEYS = (
    "SecurityGroups",
    "Reservations",
    "NetworkInterfaces",
    "PrefixLists",
    "Entries",
    "Vpcs",
    "Subnets",
    "RouteTables",
    "NetworkAcls",
    "NatGateways",
    "InternetGateways",
    "EgressOnlyInternetGateways",
    "VpcPeeringConnections",
    "Addresses",
)


def unwrap(data: object) -> object:
    """The response inside a placebo record, or the document itself."""
    if isinstance(data, dict) and "status_code" in data and isinstance(data.get("data"), dict):
        return data["data"]
    return data


def is_aws_json(data: object) -> bool:
    data = unwrap(data)
    return isinstance(data, dict) and any(key in data for key in KEYS)


def read(documents: list[tuple[str, object]], deployment: Deployment) -> None:
    """Fill ``deployment`` from ``(file, parsed JSON)`` pairs."""
    deployment.describes_account = True  # a group it names and does not hold exists in AWS
    entries: list[tuple[str, list[Any]]] = []
    for source, raw in documents:
        data = unwrap(raw)
        if not isinstance(data, dict):
            raise refuse(Origin(source), "not an AWS JSON response (a mapping)")
        for index, group in enumerate(_list(data, "SecurityGroups", source)):
            _group(group, Origin(source, 0, f"SecurityGroups[{index}]"), deployment)
        for r_index, reservation in enumerate(_list(data, "Reservations", source)):
            where = f"Reservations[{r_index}]"
            for index, instance in enumerate(_list(reservation, "Instances", source)):
                _instance(instance, Origin(source, 0, f"{where}.Instances[{index}]"), deployment)
        for index, nic in enumerate(_list(data, "NetworkInterfaces", source)):
            _interface(nic, Origin(source, 0, f"NetworkInterfaces[{index}]"), None, deployment)
        for plist in _list(data, "PrefixLists", source):
            ref = str(plist.get("PrefixListId", ""))
            name = str(plist.get("PrefixListName") or ref)
            deployment.prefix_lists.setdefault(ref, ImportedPrefixList(ref, name, ()))
        if "Entries" in data:
            entries.append((source, _list(data, "Entries", source)))
        for vpc in _list(data, "Vpcs", source):
            ref = str(vpc.get("VpcId", ""))
            ipv6 = bool(vpc.get("Ipv6CidrBlockAssociationSet"))
            deployment.vpcs[ref] = ImportedVpc(ref, _tag_name(vpc, ref), vpc.get("CidrBlock"), ipv6)
        for subnet in _list(data, "Subnets", source):
            ref = str(subnet.get("SubnetId", ""))
            deployment.subnets[ref] = ImportedSubnet(
                ref,
                _tag_name(subnet, ref),
                subnet.get("VpcId"),
                subnet.get("CidrBlock"),
                bool(subnet.get("MapPublicIpOnLaunch")),
            )
        _path(data, source, deployment)
    for source, items in entries:
        _entries(source, items, deployment)


def _path(data: dict[str, Any], source: str, deployment: Deployment) -> None:
    """The VPC path as ``describe-route-tables``, ``describe-network-acls``,
    ``describe-nat-gateways``, ``describe-internet-gateways``,
    ``describe-egress-only-internet-gateways`` and ``describe-vpc-peering-connections``
    print it. A route to an internet gateway says that gateway is attached (AWS routes to
    one only when it is); a blackhole route, a deleted NAT gateway and a peering that is
    not active are left out with a note."""
    d = deployment
    for kind, key, member in (
        ("igw", "InternetGateways", "InternetGatewayId"),
        ("eigw", "EgressOnlyInternetGateways", "EgressOnlyInternetGatewayId"),
    ):
        for gateway in _list(data, key, source):
            for attachment in gateway.get("Attachments") or []:
                if attachment.get("VpcId"):
                    d.path.append(ImportedPath(kind, str(gateway.get(member)), attachment["VpcId"]))
    for index, nat in enumerate(_list(data, "NatGateways", source)):
        origin = Origin(source, 0, f"NatGateways[{index}]")
        if nat.get("State") in ("deleted", "deleting", "failed"):
            d.notes.append(
                f"{origin}: NAT gateway {nat.get('NatGatewayId')} is {nat['State']}: left out"
            )
            continue
        private = nat.get("ConnectivityType") == "private"
        d.path.append(
            ImportedPath(
                "nat",
                str(nat.get("NatGatewayId")),
                subnet=nat.get("SubnetId"),
                private=private,
                origin=origin,
            )
        )
    for index, peering in enumerate(_list(data, "VpcPeeringConnections", source)):
        origin = Origin(source, 0, f"VpcPeeringConnections[{index}]")
        status = (peering.get("Status") or {}).get("Code")
        if status != "active":
            d.notes.append(
                f"{origin}: peering {peering.get('VpcPeeringConnectionId')} is {status}: left out"
            )
            continue
        one = (peering.get("RequesterVpcInfo") or {}).get("VpcId")
        other = (peering.get("AccepterVpcInfo") or {}).get("VpcId")
        d.path.append(
            ImportedPath(
                "pcx", str(peering.get("VpcPeeringConnectionId")), one, other=other, origin=origin
            )
        )
    for index, table in enumerate(_list(data, "RouteTables", source)):
        origin = Origin(source, 0, f"RouteTables[{index}]")
        ref, vpc = str(table.get("RouteTableId")), table.get("VpcId")
        found = d.route_tables.setdefault(
            ref, ImportedRouteTable(ref, _tag_name(table, ref), vpc, origin)
        )
        for number, route in enumerate(table.get("Routes") or []):
            where = Origin(source, 0, f"RouteTables[{index}].Routes[{number}]")
            destination = route.get("DestinationCidrBlock") or route.get("DestinationIpv6CidrBlock")
            if route.get("DestinationPrefixListId"):
                destination = f"pl:{route['DestinationPrefixListId']}"
            if route.get("GatewayId") == "local" or not destination:
                continue
            if route.get("State") == "blackhole":
                d.notes.append(f"{where}: route {destination} is a blackhole: left out")
                continue
            for member, kind in ROUTE_TARGETS.items():
                if route.get(member):
                    target = str(route[member])
                    if kind == "other" or target.startswith("vgw-"):
                        d.notes.append(
                            f"{where}: route {destination} -> {target}: a target the lab does "
                            "not model; left out"
                        )
                        break
                    if kind in ("igw", "eigw"):
                        d.path.append(ImportedPath(kind, target, vpc))  # routed to: attached
                    found.routes.append(ImportedRoute(destination, kind, target, where))
                    break
        for association in table.get("Associations") or []:
            if association.get("Main"):
                d.path.append(ImportedPath("main", ref, vpc, other=ref, origin=origin))
            elif association.get("SubnetId"):
                d.path.append(
                    ImportedPath(
                        "assoc",
                        str(association.get("RouteTableAssociationId")),
                        subnet=association["SubnetId"],
                        other=ref,
                        origin=origin,
                    )
                )
    for index, acl in enumerate(_list(data, "NetworkAcls", source)):
        origin = Origin(source, 0, f"NetworkAcls[{index}]")
        ref = str(acl.get("NetworkAclId"))
        found_acl = d.acls.setdefault(
            ref, ImportedAcl(ref, _tag_name(acl, ref), acl.get("VpcId"), origin)
        )
        for number, entry in enumerate(acl.get("Entries") or []):
            where = Origin(source, 0, f"NetworkAcls[{index}].Entries[{number}]")
            rule = port_value(entry.get("RuleNumber"), where, "RuleNumber")
            if rule is None or rule >= 32767:
                continue  # the * entries: the lab's own
            ports = entry.get("PortRange") or {}
            icmp = entry.get("IcmpTypeCode") or {}
            protocol = str(entry.get("Protocol", "-1"))
            found_acl.entries.append(
                ImportedAclEntry(
                    rule,
                    bool(entry.get("Egress")),
                    "-1" if protocol == "-1" else protocol_text(protocol, where),
                    str(entry.get("RuleAction", "")).lower(),
                    str(entry.get("CidrBlock") or entry.get("Ipv6CidrBlock")),
                    port_value(ports.get("From"), where, "PortRange.From"),
                    port_value(ports.get("To"), where, "PortRange.To"),
                    port_value(icmp.get("Type"), where, "IcmpTypeCode.Type"),
                    port_value(icmp.get("Code"), where, "IcmpTypeCode.Code"),
                    where,
                )
            )
        for association in acl.get("Associations") or []:
            if association.get("SubnetId"):
                found_acl.subnets.append(str(association["SubnetId"]))
    if _list(data, "Addresses", source):
        d.notes.append(
            f"{source}: Elastic IPs: the lab gives its own public addresses (192.0.2.0/24); a NAT "
            "gateway gets one of its own"
        )


def _list(data: object, key: str, source: str) -> list[dict[str, Any]]:
    value = data.get(key, []) if isinstance(data, dict) else []
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise refuse(Origin(source, 0, key), f"'{key}' must be a list of objects")
    return value


def _tag_name(item: dict[str, Any], default: str) -> str:
    for tag in item.get("Tags") or item.get("TagSet") or []:
        if isinstance(tag, dict) and tag.get("Key") == "Name" and tag.get("Value"):
            return str(tag["Value"])
    return default


def _group(item: dict[str, Any], origin: Origin, deployment: Deployment) -> None:
    ref = item.get("GroupId")
    name = item.get("GroupName")
    if not isinstance(ref, str) or not isinstance(name, str):
        raise refuse(origin, "a security group needs GroupId and GroupName")
    origin = Origin(origin.file, 0, f"{origin.construct} {ref} ({name})")
    owner = deployment.account_of(item.get("OwnerId"), origin)
    if owner is not None and not deployment.groups:
        deployment.account = owner
    group = ImportedGroup(
        ref,
        name,
        origin,
        description=str(item.get("Description") or ""),
        vpc=item.get("VpcId"),
        account=owner,
        is_default=name == "default" and bool(item.get("VpcId")),
    )
    for direction, key in (("ingress", "IpPermissions"), ("egress", "IpPermissionsEgress")):
        for index, permission in enumerate(_list(item, key, origin.file)):
            where = Origin(origin.file, 0, f"{origin.construct} {key}[{index}]")
            with deployment.rule():
                rules = _permission(permission, where, direction == "egress", deployment)
                (group.egress if direction == "egress" else group.ingress).extend(rules)
    if "IpPermissionsEgress" not in item:
        group.default_egress = True
        deployment.notes.append(
            f"{origin}: no IpPermissionsEgress (an older dump or an EC2-Classic group): "
            "everything may leave, as the API's default"
        )
    deployment.groups[ref] = group


def _permission(
    item: dict[str, Any], origin: Origin, egress: bool, deployment: Deployment
) -> list[ImportedRule]:
    protocol = protocol_text(item.get("IpProtocol"), origin)
    low = port_value(item.get("FromPort"), origin, "FromPort")
    high = port_value(item.get("ToPort"), origin, "ToPort")
    peers: list[tuple[Peer, str]] = []
    for entry in item.get("IpRanges") or []:
        peers.append((Peer(cidr=str(entry.get("CidrIp"))), str(entry.get("Description") or "")))
    for entry in item.get("Ipv6Ranges") or []:
        peers.append((Peer(cidr=str(entry.get("CidrIpv6"))), str(entry.get("Description") or "")))
    for entry in item.get("PrefixListIds") or []:
        peers.append(
            (Peer(prefix_list=str(entry.get("PrefixListId"))), str(entry.get("Description") or ""))
        )
    for entry in item.get("UserIdGroupPairs") or []:
        ref = entry.get("GroupId") or entry.get("GroupName")
        if not ref:
            raise refuse(origin, "a UserIdGroupPairs entry needs GroupId or GroupName")
        peer = Peer(group=str(ref), account=deployment.account_of(entry.get("UserId"), origin))
        peers.append((peer, str(entry.get("Description") or "")))
    if not peers:
        raise refuse(origin, "a permission with no IpRanges, Ipv6Ranges, PrefixListIds or pairs")
    return [make_rule(protocol, low, high, peer, origin, text) for peer, text in peers]


def _instance(item: dict[str, Any], origin: Origin, deployment: Deployment) -> None:
    instance_id = str(item.get("InstanceId") or origin.construct)
    state = (item.get("State") or {}).get("Name", "running")
    if state in ("terminated", "shutting-down"):
        deployment.notes.append(f"{origin}: instance {instance_id} is {state}: left out")
        return
    nics = item.get("NetworkInterfaces") or []
    if nics:
        for index, nic in enumerate(nics):
            where = Origin(origin.file, 0, f"{origin.construct}.NetworkInterfaces[{index}]")
            _interface(nic, where, instance_id, deployment)
        return
    groups = tuple(str(g.get("GroupId")) for g in item.get("SecurityGroups") or [])
    deployment.interfaces.append(
        ImportedInterface(
            instance_id,
            groups,
            origin,
            instance=instance_id,
            subnet=item.get("SubnetId"),
            vpc=item.get("VpcId"),
            private_ip=item.get("PrivateIpAddress"),
            public=bool(item.get("PublicIpAddress")),
        )
    )


def _interface(
    item: dict[str, Any], origin: Origin, instance: str | None, deployment: Deployment
) -> None:
    nic_id = str(item.get("NetworkInterfaceId") or origin.construct)
    attachment = item.get("Attachment") or {}
    owner = instance or attachment.get("InstanceId")
    if any(nic.name == nic_id for nic in deployment.interfaces):
        return  # given twice (describe-instances and describe-network-interfaces)
    public = bool((item.get("Association") or {}).get("PublicIp"))
    groups = tuple(str(g.get("GroupId")) for g in item.get("Groups") or [])
    deployment.interfaces.append(
        ImportedInterface(
            nic_id,
            groups,
            Origin(origin.file, 0, f"{origin.construct} {nic_id}"),
            instance=owner,
            subnet=item.get("SubnetId"),
            vpc=item.get("VpcId"),
            private_ip=item.get("PrivateIpAddress"),
            public=public,
            device=int(attachment.get("DeviceIndex") or 0),
        )
    )


def _entries(source: str, items: list[dict[str, Any]], deployment: Deployment) -> None:
    named = re.search(r"pl-[0-9a-f]+", source)
    if named is not None:
        ref = named.group(0)
    elif len(deployment.prefix_lists) == 1:
        ref = next(iter(deployment.prefix_lists))
    else:
        raise refuse(
            Origin(source),
            "prefix-list entries without a list id: name the file after its list "
            "(pl-....json), or give the one list's describe-managed-prefix-lists",
        )
    known = deployment.prefix_lists.get(ref)
    cidrs = tuple(str(entry.get("Cidr")) for entry in items)
    deployment.prefix_lists[ref] = ImportedPrefixList(ref, known.name if known else ref, cidrs)
