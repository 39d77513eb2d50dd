"""Instances: one RunInstances for both platforms (an EC2-Classic instance is one implicit
interface on the lab's flat subnet), terminate, describe, and the groups of a running one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from ipaddress import IPv4Address

from harness.core.ec2 import platform as platforms
from harness.core.ec2 import rules as rulebook
from harness.core.ec2.filters import select
from harness.core.ec2.groups import find_group
from harness.core.ec2.images import image_of
from harness.core.ec2.network import (
    NicRequest,
    default_subnet,
    find_nic,
    find_subnet,
    free_address_in,
    free_public,
    held_addresses,
    held_public,
)
from harness.core.ec2.state import (
    DEFAULT_TYPE,
    EC2_CLASSIC,
    MAX_INSTANCES,
    SHUTTING_DOWN,
    TERMINATED,
    VPC,
    Cloud,
    InstanceRecord,
    NewId,
    NicRecord,
    SubnetRecord,
    ami,
    check_instance_id,
    fresh_id,
    with_account,
)
from harness.core.model import (
    GroupKey,
)
from harness.errors import Ec2Error

# -- instances ----------------------------------------------------------------------------------


def _groups(record: InstanceRecord) -> list[str]:
    return [key.group_id for key in record.held_groups]


def _group_names(record: InstanceRecord) -> list[str]:
    return [key.name for key in record.held_groups]


INSTANCE_FILTERS: dict[str, Callable[[InstanceRecord], list[str]]] = {
    "group-id": _groups,
    "group-name": _group_names,
    "image-id": lambda r: [r.image_id],
    "instance-id": lambda r: [r.instance_id],
    "instance-state-name": lambda r: [r.state],
    "instance.group-id": _groups,
    "instance.group-name": _group_names,
    "private-ip-address": lambda r: [] if r.held_address is None else [str(r.held_address)],
    "reservation-id": lambda r: [r.reservation_id],
    "subnet-id": lambda r: [r.subnet_id] if r.subnet_id else [],
    "instance-type": lambda r: [r.instance_type],
}


def find_instances(cloud: Cloud, account: str, ids: Sequence[str]) -> list[InstanceRecord]:
    mine = {r.instance_id: r for r in cloud.instances if r.owner == account}
    missing = [check_instance_id(i) for i in ids if i not in mine]
    if missing:
        quoted = ", ".join(missing)
        noun = "ID" if len(missing) == 1 else "IDs"
        verb = "does" if len(missing) == 1 else "do"
        raise Ec2Error(
            "InvalidInstanceID.NotFound", f"The instance {noun} '{quoted}' {verb} not exist"
        )
    return [mine[i] for i in dict.fromkeys(ids)]


def terminating(before: str) -> str:
    """The state a termination reports: EC2 answers ``shutting-down`` (``terminated`` for an
    instance that already was)."""
    return TERMINATED if before == TERMINATED else SHUTTING_DOWN


def terminate_instances(
    cloud: Cloud, account: str, ids: Sequence[str]
) -> tuple[Cloud, list[tuple[InstanceRecord, str]]]:
    """Terminate instances, their interfaces with them (their addresses are free again);
    returns each with its previous state."""
    if not ids:
        raise Ec2Error("MissingParameter", "The request must contain the parameter InstanceId")
    cloud = with_account(cloud, account)
    chosen = find_instances(cloud, account, ids)
    gone = {r.instance_id for r in chosen}
    instances = tuple(
        replace(r, state=TERMINATED) if r.instance_id in gone else r for r in cloud.instances
    )
    nics = tuple(n for n in cloud.nics if n.instance_id not in gone)  # a VPC instance's go
    kept = {n.eni_id for n in nics}
    addresses = tuple(  # their Elastic IPs are disassociated, as AWS does
        replace(a, eni_id="") if a.eni_id and a.eni_id not in kept else a for a in cloud.addresses
    )
    cloud = replace(cloud, instances=instances, nics=nics, addresses=addresses)
    return cloud, [(r, r.state) for r in chosen]


def describe_instances(
    cloud: Cloud,
    account: str,
    ids: Sequence[str] = (),
    filters: dict[str, list[str]] | None = None,
) -> tuple[Cloud, list[InstanceRecord]]:
    """Instances by id (each must exist) or all the account's, narrowed by the one filter
    engine (``tag:KEY`` too)."""
    cloud = with_account(cloud, account)
    chosen = (
        find_instances(cloud, account, ids)
        if ids
        else [r for r in cloud.instances if r.owner == account]
    )
    return cloud, select(cloud, chosen, filters or {}, INSTANCE_FILTERS, lambda r: r.instance_id)


def reservations(records: Iterable[InstanceRecord]) -> list[list[InstanceRecord]]:
    """Instances grouped by reservation, in launch order."""
    by_id: dict[str, list[InstanceRecord]] = {}
    for record in records:
        by_id.setdefault(record.reservation_id, []).append(record)
    return list(by_id.values())


def _groups_for(
    cloud: Cloud, account: str, refs: Sequence[str], vpc_id: str
) -> tuple[GroupKey, ...]:
    keys: list[GroupKey] = []
    for ref in refs or [platforms.DEFAULT_GROUP]:
        group = find_group(cloud, account, ref, None if ref.startswith("sg-") else vpc_id)
        if (group.vpc or "") != vpc_id:
            raise Ec2Error(
                "InvalidParameter",
                f"Security group {group.group_id} and subnet belong to different networks.",
            )
        if group.key not in keys:
            keys.append(group.key)
    if vpc_id:  # an interface's groups (an EC2-Classic instance has none)
        rulebook.check_interface_groups(len(keys))
    return tuple(keys)


def run_instances(
    cloud: Cloud,
    account: str,
    image_id: str,
    count: int,
    *,
    groups: Sequence[str] = (),
    nics: Sequence[NicRequest] = (),
    now: str,
    new_id: NewId,
    instance_type: str = DEFAULT_TYPE,
) -> tuple[Cloud, list[InstanceRecord]]:
    """RunInstances on either platform: ``count`` instances of an AMI. Without interfaces,
    on an EC2-Classic lab each is an EC2-Classic instance on the lab's flat subnet in
    ``groups`` (``default`` when none); otherwise each gets the interfaces asked for (one in
    the default subnet with ``groups`` when none; an interface without a subnet goes into the
    default subnet too). ``new_id(prefix)`` makes ids; ``now`` is the launch time."""
    cloud = with_account(cloud, account)
    ami(image_id)
    if count < 1:
        raise Ec2Error(
            "InvalidParameterValue", f"Value ({count}) for parameter MinCount is invalid"
        )
    classic = not nics and cloud.platform == EC2_CLASSIC
    if nics and cloud.platform != VPC:
        raise Ec2Error(
            "Unsupported",
            "This lab runs EC2-Classic instances; instances in a subnet need a VPC lab "
            "('sgh lab up --platform vpc')",
        )
    plans: list[tuple[NicRequest, SubnetRecord | None, tuple[GroupKey, ...]]] = []
    if classic:
        plans.append((NicRequest("", tuple(groups)), None, _groups_for(cloud, account, groups, "")))
    else:
        chosen = [
            n if n.subnet_id else replace(n, subnet_id=default_subnet(cloud, account))
            for n in nics or [NicRequest("", tuple(groups))]
        ]
        if sorted(n.device_index for n in chosen) != list(range(len(chosen))):
            raise Ec2Error(
                "InvalidParameterValue", "Network interface device indexes must be 0, 1, ..."
            )
        if count > 1 and any(n.address for n in chosen):
            raise Ec2Error(
                "InvalidParameterCombination",
                "A private IP address can be given only when one instance is launched",
            )
        for request in sorted(chosen, key=lambda n: n.device_index):
            subnet = find_subnet(cloud, account, request.subnet_id)
            plans.append(
                (request, subnet, _groups_for(cloud, account, request.groups, subnet.vpc_id))
            )
        if len({subnet.vpc_id for _, subnet, _ in plans if subnet is not None}) > 1:
            raise Ec2Error(
                "InvalidParameterValue", "The network interfaces of an instance must be in one VPC"
            )
    running = len(cloud.active_instances())
    if running + count > MAX_INSTANCES:
        raise Ec2Error(
            "InstanceLimitExceeded",
            f"Your quota allows for {MAX_INSTANCES - running} more running "
            f"instance(s) in this lab. You requested at least {count}",
        )
    taken = held_addresses(cloud)
    public_taken = held_public(cloud)
    reservation = new_id("r-")
    ids = {r.instance_id for r in cloud.instances}
    enis = {n.eni_id for n in cloud.nics}
    records: list[InstanceRecord] = []
    new_nics: list[NicRecord] = []
    for index in range(count):
        instance_id = fresh_id(new_id, "i-", ids)
        ids.add(instance_id)
        made: list[NicRecord] = []
        for request, place, keys in plans:
            address = _address(cloud, request, place, taken)
            taken.add(address)
            if place is None:  # an EC2-Classic instance: no interface of its own
                made.append(NicRecord("", account, "", address, keys))
                continue
            wants_public = place.map_public if request.public is None else request.public
            if wants_public and request.device_index != 0:
                raise Ec2Error(
                    "InvalidParameterCombination",
                    "A public IP address can be associated only with device index 0",
                )
            public = free_public(public_taken) if wants_public else None
            if public is not None:
                public_taken.add(public)
            ipv6 = (
                rulebook.ipv6_of(address, place.cidr, place.ipv6)
                if place.ipv6 is not None
                else None
            )
            eni = fresh_id(new_id, "eni-", enis)
            enis.add(eni)
            made.append(
                NicRecord(
                    eni,
                    account,
                    place.subnet_id,
                    address,
                    keys,
                    public,
                    ipv6,
                    instance_id,
                    request.device_index,
                    request.description,
                )
            )
        primary = made[0]
        records.append(
            InstanceRecord(
                instance_id,
                reservation,
                account,
                image_id,
                primary.groups,
                primary.address,
                index,
                now,
                instance_type=instance_type,
                subnet_id=primary.subnet_id,
                listen=image_of(cloud, image_id).listen,
            )
        )
        new_nics += [nic for nic in made if nic.eni_id]
    cloud = replace(
        cloud, instances=cloud.instances + tuple(records), nics=cloud.nics + tuple(new_nics)
    )
    return cloud, records


def _address(
    cloud: Cloud, request: NicRequest, subnet: SubnetRecord | None, taken: set[IPv4Address]
) -> IPv4Address:
    """An interface's private address: the one asked for, else the subnet's first free one
    (an EC2-Classic instance's: the lab's flat subnet's)."""
    if subnet is None:
        found = rulebook.free_address(taken, cloud.subnet)
        if found is None:
            raise Ec2Error(
                "InsufficientInstanceCapacity",
                f"The lab's subnet {cloud.subnet} has no free address for more instances",
            )
        return found
    if request.address:
        address = IPv4Address(request.address)
        if address not in subnet.cidr or address in taken:
            raise Ec2Error(
                "InvalidIPAddress.InUse" if address in taken else "InvalidParameterValue",
                f"Address {address} is in use or outside {subnet.subnet_id} ({subnet.cidr})",
            )
        return address
    return free_address_in(subnet, taken)


def set_nic_groups(
    cloud: Cloud, account: str, eni_id: str, refs: Sequence[str]
) -> tuple[Cloud, NicRecord]:
    """ModifyNetworkInterfaceAttribute with groups: the interface's groups are replaced."""
    cloud = with_account(cloud, account)
    nic = find_nic(cloud, account, eni_id)
    if not refs:
        raise Ec2Error("MissingParameter", "The request must contain the parameter SecurityGroupId")
    subnet = next(s for s in cloud.subnets if s.subnet_id == nic.subnet_id)
    keys = _groups_for(cloud, account, refs, subnet.vpc_id)
    changed = replace(nic, groups=keys)
    nics = tuple(changed if n.eni_id == eni_id else n for n in cloud.nics)
    instances = cloud.instances
    if changed.device_index == 0 and changed.instance_id:
        instances = tuple(
            replace(r, groups=keys) if r.instance_id == changed.instance_id else r
            for r in instances
        )
    return replace(cloud, nics=nics, instances=instances), changed


def set_instance_groups(
    cloud: Cloud, account: str, instance_id: str, refs: Sequence[str]
) -> tuple[Cloud, NicRecord]:
    """ModifyInstanceAttribute with groups: the groups of the instance's primary interface."""
    cloud = with_account(cloud, account)
    (record,) = find_instances(cloud, account, [instance_id])
    if not record.active:
        raise Ec2Error(
            "IncorrectInstanceState", f"The instance '{instance_id}' is not in a state to modify"
        )
    for nic in cloud.nics:
        if nic.instance_id == instance_id and nic.device_index == 0:
            return set_nic_groups(cloud, account, nic.eni_id, refs)
    raise Ec2Error(
        "InvalidInstanceID",
        f"The instance '{instance_id}' is an EC2-Classic instance: its groups cannot change",
    )
