"""Instances: run, describe, terminate, and the groups of a running one."""

from __future__ import annotations

from dataclasses import replace

from harness.core.ec2 import plane as ec2
from harness.core.ec2.actions.requests import (
    Answer,
    Caller,
    Request,
    filters,
    nic_requests,
    page,
    required,
    tag_specifications,
)
from harness.core.ec2.actions.tags import tags
from harness.core.ec2.plane import STATE_CODES, Cloud, InstanceRecord
from harness.errors import Ec2Error


def _state(name: str) -> Answer:
    return {"Code": STATE_CODES[name], "Name": name}


def _nics(cloud: Cloud, record: InstanceRecord) -> Answer:
    """A VPC instance's subnet, VPC, public address and interfaces (none for Classic)."""
    nics = ec2.nics_of(cloud, record.instance_id)
    if not nics or not record.active:
        return {}
    subnets = {s.subnet_id: s.vpc_id for s in cloud.subnets}
    first = nics[0]
    found: Answer = {"SubnetId": first.subnet_id, "VpcId": subnets[first.subnet_id]}
    if first.public is not None:
        found["PublicIpAddress"] = str(first.public)
    found["NetworkInterfaces"] = [
        {
            "NetworkInterfaceId": n.eni_id,
            "SubnetId": n.subnet_id,
            "VpcId": subnets[n.subnet_id],
            "OwnerId": n.owner,
            "Status": "in-use",
            "PrivateIpAddress": str(n.address),
            "Groups": [{"GroupId": k.group_id, "GroupName": k.name} for k in n.groups],
            "Attachment": {"DeviceIndex": n.device_index, "Status": "attached"},
            **(
                {"Association": {"PublicIp": str(n.public), "IpOwnerId": "amazon"}}
                if n.public is not None
                else {}
            ),
            "Ipv6Addresses": [{"Ipv6Address": str(n.ipv6)}] if n.ipv6 is not None else [],
        }
        for n in nics
    ]
    return found


def _groups(record: InstanceRecord) -> list[Answer]:
    return [{"GroupId": key.group_id, "GroupName": key.name} for key in record.held_groups]


def instance_dict(cloud: Cloud, record: InstanceRecord, state: str | None = None) -> Answer:
    image = ec2.image_of(cloud, record.image_id)
    shown = state or record.state
    active = shown != ec2.TERMINATED
    return {
        "InstanceId": record.instance_id,
        "ImageId": record.image_id,
        "State": _state(shown),
        "PrivateDnsName": record.private_dns,
        "PublicDnsName": "",
        "StateTransitionReason": "",
        "AmiLaunchIndex": record.launch_index,
        "ProductCodes": [],
        "InstanceType": record.instance_type,
        "LaunchTime": record.launch_time.replace("+0000", ".000Z"),
        "Placement": {
            "AvailabilityZone": ec2.zone_of(cloud.region),
            "Tenancy": "default",
        },
        "KernelId": image.kernel,
        "RamdiskId": image.ramdisk,
        "Monitoring": {"State": "disabled"},
        **({"PrivateIpAddress": str(record.address)} if active else {}),
        "SecurityGroups": _groups(record),
        "Architecture": "x86_64",
        "RootDeviceType": "ebs",
        "RootDeviceName": "/dev/sda1",
        "BlockDeviceMappings": [],
        "VirtualizationType": "paravirtual",
        "Hypervisor": "xen",
        "Tags": tags(cloud, record.instance_id) or None,
        **_nics(cloud, record),
    }


def reservation_dict(
    cloud: Cloud, records: list[InstanceRecord], state: str | None = None
) -> Answer:
    first = records[0]
    return {
        "ReservationId": first.reservation_id,
        "OwnerId": first.owner,
        "Groups": [{"GroupId": k.group_id, "GroupName": k.name} for k in first.groups],
        "Instances": [instance_dict(cloud, r, state) for r in records],
    }


def run_instances(cloud: Cloud, caller: Caller, request: Request) -> tuple[Cloud, Answer]:
    image = required(request, "ImageId")
    low, high = request.get("MinCount"), request.get("MaxCount")
    if low is None or high is None:
        raise Ec2Error(
            "MissingParameter", "The request must contain the parameters MinCount and MaxCount"
        )
    if low < 1 or high < low:
        raise Ec2Error(
            "InvalidParameterValue",
            f"MinCount ({low}) must be at least 1 and at most MaxCount ({high})",
        )
    nics = nic_requests(request)
    new_tags = tag_specifications(request, "instance", nowhere=("volume",))
    refs = [
        *(request.get("SecurityGroups") or ()),
        *(ec2.check_group_id(i) for i in request.get("SecurityGroupIds") or ()),
    ]
    home = caller.home_region
    if home is not None and home != cloud.region:
        raise Ec2Error(
            "Unsupported",
            f"This lab runs instances in {home} only; region {cloud.region} has its own "
            f"groups, VPCs and prefix lists but no instances (sign the request for {home})",
        )
    cloud, records = ec2.run_instances(
        cloud,
        caller.account,
        image,
        high,
        groups=refs,
        nics=nics,
        now=caller.now(),
        new_id=caller.new_id,
        instance_type=request.get("InstanceType") or ec2.DEFAULT_TYPE,
    )
    told = dict(new_tags).get(ec2.LISTEN_TAG)
    if told is not None:  # the instances' own ports, instead of their image's
        listen = ec2.parse_listen(told, f"tag {ec2.LISTEN_TAG}")
        records = [replace(r, listen=listen) for r in records]
        ids = {r.instance_id: r for r in records}
        cloud = replace(cloud, instances=tuple(ids.get(r.instance_id, r) for r in cloud.instances))
    for record in records if new_tags else []:
        cloud, _ = ec2.create_tags(
            cloud, caller.account, [record.instance_id], new_tags, at_launch=True
        )
    return cloud, reservation_dict(cloud, records, state=ec2.PENDING)


def describe_instances(cloud: Cloud, caller: Caller, request: Request) -> tuple[Cloud, Answer]:
    cloud, records = ec2.describe_instances(
        cloud, caller.account, request.get("InstanceIds") or [], filters(request)
    )
    found, token = page(ec2.reservations(records), request)
    return cloud, {
        "Reservations": [reservation_dict(cloud, group) for group in found],
        "NextToken": token,
    }


def describe_instance_attribute(
    cloud: Cloud, caller: Caller, request: Request
) -> tuple[Cloud, Answer]:
    """The attributes the lab has: the instance type, its primary interface's groups, and
    what every lab instance is (no API termination protection, not EBS-optimized, its
    source/destination check on)."""
    instance_id, name = required(request, "InstanceId"), required(request, "Attribute")
    cloud = ec2.with_account(cloud, caller.account)
    (record,) = ec2.find_instances(cloud, caller.account, [instance_id])
    values: dict[str, Answer] = {
        "instanceType": {"InstanceType": {"Value": record.instance_type}},
        "groupSet": {"Groups": _groups(record)},
        "disableApiTermination": {"DisableApiTermination": {"Value": False}},
        "ebsOptimized": {"EbsOptimized": {"Value": False}},
        "sourceDestCheck": {"SourceDestCheck": {"Value": True}},
    }
    if name not in values:
        raise Ec2Error(
            "Unsupported",
            f"The lab does not model the instance attribute {name} (it has {', '.join(values)})",
        )
    return cloud, {"InstanceId": instance_id, **values[name]}


def describe_instance_status(
    cloud: Cloud, caller: Caller, request: Request
) -> tuple[Cloud, Answer]:
    """Each instance's state and checks: a running lab instance passes its checks (its
    namespace is up); without ``IncludeAllInstances``, running instances only, as EC2 lists."""
    asked = {k: v for k, v in request.items() if k != "IncludeAllInstances"}
    cloud, records = ec2.describe_instances(
        cloud, caller.account, asked.get("InstanceIds") or [], filters(asked)
    )
    if not request.get("IncludeAllInstances"):
        records = [r for r in records if r.state == ec2.RUNNING]
    found, token = page(records, request)
    checked = [{"Name": "reachability", "Status": "passed"}]
    return cloud, {
        "InstanceStatuses": [
            {
                "InstanceId": r.instance_id,
                "AvailabilityZone": ec2.zone_of(cloud.region),
                "InstanceState": _state(r.state),
                "InstanceStatus": {"Status": "ok", "Details": checked},
                "SystemStatus": {"Status": "ok", "Details": checked},
            }
            for r in found
        ],
        "NextToken": token,
    }


def terminate_instances(cloud: Cloud, caller: Caller, request: Request) -> tuple[Cloud, Answer]:
    cloud, changes = ec2.terminate_instances(
        cloud, caller.account, request.get("InstanceIds") or []
    )
    return cloud, {
        "TerminatingInstances": [
            {
                "InstanceId": record.instance_id,
                "CurrentState": _state(ec2.terminating(before)),
                "PreviousState": _state(before),
            }
            for record, before in changes
        ]
    }


def modify_instance_attribute(
    cloud: Cloud, caller: Caller, request: Request
) -> tuple[Cloud, Answer]:
    instance_id = required(request, "InstanceId")
    refs = request.get("Groups") or []
    if not refs:
        raise Ec2Error(
            "InvalidParameterCombination",
            "The lab changes an instance's groups only (GroupId.N)",
        )
    cloud, _ = ec2.set_instance_groups(cloud, caller.account, instance_id, refs)
    return cloud, {}
