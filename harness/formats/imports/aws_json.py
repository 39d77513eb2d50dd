"""AWS JSON: what ``aws ec2 describe-*`` prints (and boto3 returns, and placebo records).

Read, from one or several documents: ``describe-security-groups`` (``SecurityGroups``), and
optionally ``describe-instances`` (``Reservations``), ``describe-network-interfaces``
(``NetworkInterfaces``), ``describe-managed-prefix-lists`` (``PrefixLists``) with
``get-managed-prefix-list-entries`` (``Entries``: the list is the one whose id the file's name
carries, or the only one), ``describe-vpcs`` (``Vpcs``) and ``describe-subnets``
(``Subnets``). A placebo record ``{"status_code": ..., "data": {...}}`` is unwrapped.

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
    Deployment,
    ImportedGroup,
    ImportedInterface,
    ImportedPrefixList,
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
    for source, items in entries:
        _entries(source, items, deployment)


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
