"""The tab-separated output of the legacy ec2-api-tools (1.5/1.6 layout), as pure functions of
EC2's answers (as an SDK gives them: the action layer's).

Lines as the tools printed them (the sources and the few choices: docs/guide/live-lab.md)::

    GROUP       sg-ed5b6c99  111122223333  apache  Mary's Apache group
    PERMISSION  111122223333  apache  ALLOWS  tcp  80  80  FROM  CIDR  0.0.0.0/0  ingress
    PERMISSION  111122223333  default  ALLOWS  tcp  0  65535  FROM  USER  111122223333
                NAME default  ID sg-2eac845a  ingress                    (one line)
    RESERVATION r-0592776c  111122223333  apache
    INSTANCE    i-cfd732a6  ami-fba54092  ...  running  ...  10.254.0.11  ...  sg-ed5b6c99

VPC groups and instances (a VPC lab, or ``-c VPC``) as the 1.6 tools printed them: the group's
VPC id after its description, egress permissions ``TO`` their destination, ``all`` for protocol
-1 (its port fields empty), an instance's public address, VPC and subnet in their fields::

    GROUP       sg-0a…  111122223333  web  web tier  vpc-0b…
    PERMISSION  111122223333  web  ALLOWS  all      TO  CIDR  0.0.0.0/0  egress

Fields are separated by one tab; empty fields stay as empty strings between tabs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

Answer = Mapping[str, Any]


def line(*fields: object) -> str:
    return "\t".join(str(field) for field in fields)


def group_created(group_id: str, name: str, description: str) -> str:
    return line("GROUP", group_id, name, description)


def group_line(group: Answer) -> str:
    vpc = (group["VpcId"],) if group.get("VpcId") else ()
    return line(
        "GROUP",
        group["GroupId"],
        group["OwnerId"],
        group["GroupName"],
        group["Description"],
        *vpc,
    )


def group_header(group: Answer) -> str:
    """The first line of ec2-authorize / ec2-revoke output."""
    return line("GROUP", group["GroupId"], group["OwnerId"], group["GroupName"])


def _peers(permission: Answer, names: Mapping[str, str]) -> list[tuple[object, ...]]:
    found: list[tuple[object, ...]] = []
    for pair in permission.get("UserIdGroupPairs") or []:
        name = pair.get("GroupName") or names.get(pair["GroupId"], "")
        found.append(("USER", pair.get("UserId", ""), f"NAME {name}", f"ID {pair['GroupId']}"))
    found += [("CIDR", item["CidrIp"]) for item in permission.get("IpRanges") or []]
    found += [("CIDR", item["CidrIpv6"]) for item in permission.get("Ipv6Ranges") or []]
    found += [
        ("PREFIX-LIST", item["PrefixListId"]) for item in permission.get("PrefixListIds") or []
    ]
    return found


def permission_lines(
    group: Answer, egress: bool = False, names: Mapping[str, str] | None = None
) -> list[str]:
    """One line a peer of each of the group's ingress (or egress) permissions; ``names``:
    group names by id, for peers an answer names by id alone."""
    lines = []
    key = "IpPermissionsEgress" if egress else "IpPermissions"
    for permission in group.get(key) or []:
        every = permission["IpProtocol"] == "-1"
        for peer in _peers(permission, names or {}):
            lines.append(
                line(
                    "PERMISSION",
                    group["OwnerId"],
                    group["GroupName"],
                    "ALLOWS",
                    "all" if every else permission["IpProtocol"],
                    "" if every else permission.get("FromPort", ""),
                    "" if every else permission.get("ToPort", ""),
                    "TO" if egress else "FROM",
                    *peer,
                    "egress" if egress else "ingress",
                )
            )
    return lines


def describe_groups(groups: Iterable[Answer], names: Mapping[str, str] | None = None) -> list[str]:
    lines = []
    for group in groups:
        lines.append(group_line(group))
        lines += permission_lines(group, False, names)
        lines += permission_lines(group, True, names)
    return lines


def rule_change(
    before: Answer, after: Answer, egress: bool, revoke: bool, names: Mapping[str, str]
) -> list[str]:
    """The permissions a change added (or, revoking, removed), as the tools echoed them."""
    old = permission_lines(before, egress, names)
    new = permission_lines(after, egress, names)
    changed = (
        [text for text in old if text not in new]
        if revoke
        else [text for text in new if text not in old]
    )
    return [group_header(after), *changed]


def _time(text: str) -> str:
    """EC2's launch time as the 2012 tools printed it (``2012-05-23T18:24:37+0000``)."""
    return text.replace(".000Z", "+0000")


def instance_line(instance: Answer, state: str | None = None) -> str:
    """One instance: its public address, VPC and subnet when it has them."""
    return line(
        "INSTANCE",
        instance["InstanceId"],
        instance["ImageId"],
        "",  # public DNS name: lab instances have only a private address
        instance.get("PrivateDnsName", ""),
        state or instance["State"]["Name"],
        "",  # key pair
        instance["AmiLaunchIndex"],
        "",  # product codes
        instance["InstanceType"],
        _time(instance["LaunchTime"]),
        instance["Placement"]["AvailabilityZone"],
        instance.get("KernelId", ""),
        instance.get("RamdiskId", ""),
        "",  # platform
        "monitoring-disabled",
        instance.get("PublicIpAddress", ""),
        instance.get("PrivateIpAddress", ""),
        instance.get("VpcId", ""),
        instance.get("SubnetId", ""),
        "ebs",
        "",  # lifecycle
        "",  # spot request
        "",  # license
        "",  # placement group
        "paravirtual",
        "xen",
        "",  # client token
        ",".join(group["GroupId"] for group in instance.get("SecurityGroups") or []),
    )


def reservation_line(reservation: Answer) -> str:
    return line(
        "RESERVATION",
        reservation["ReservationId"],
        reservation["OwnerId"],
        ",".join(group["GroupName"] for group in reservation.get("Groups") or []),
    )


def instances(reservations: Iterable[Answer], state: str | None = None) -> list[str]:
    lines = []
    for reservation in reservations:
        lines.append(reservation_line(reservation))
        lines += [instance_line(i, state) for i in reservation["Instances"]]
    return lines


def terminated(answer: Answer) -> list[str]:
    return [
        line(
            "INSTANCE",
            item["InstanceId"],
            item["PreviousState"]["Name"],
            item["CurrentState"]["Name"],
        )
        for item in answer["TerminatingInstances"]
    ]
