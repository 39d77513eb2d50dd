"""The tab-separated output of the legacy ec2-api-tools (1.5/1.6 layout), as pure functions.

Lines as the tools printed them (see the README for the sources and the few choices)::

    GROUP       sg-ed5b6c99  111122223333  apache  Mary's Apache group
    PERMISSION  111122223333  apache  ALLOWS  tcp  80  80  FROM  CIDR  0.0.0.0/0  ingress
    PERMISSION  111122223333  default  ALLOWS  tcp  0  65535  FROM  USER  111122223333
                NAME default  ID sg-2eac845a  ingress                    (one line)
    RESERVATION r-0592776c  111122223333  apache
    INSTANCE    i-cfd732a6  ami-fba54092  ...  running  ...  10.254.0.11  ...  sg-ed5b6c99

Fields are separated by one tab; empty fields stay as empty strings between tabs.
"""

from __future__ import annotations

from collections.abc import Iterable

from harness.core.control_plane import InstanceRecord, ami, reservations, terminating
from harness.core.model import Group, Rule

AVAILABILITY_ZONE = "us-east-1a"


def line(*fields: object) -> str:
    return "\t".join(str(field) for field in fields)


def group_created(group: Group) -> str:
    return line("GROUP", group.group_id, group.name, group.description)


def group_line(group: Group) -> str:
    return line("GROUP", group.group_id, group.key.account, group.name, group.description)


def group_header(group: Group) -> str:
    """The first line of ec2-authorize / ec2-revoke output."""
    return line("GROUP", group.group_id, group.key.account, group.name)


def permission_line(group: Group, rule: Rule) -> str:
    if rule.cidr is not None:
        source: tuple[object, ...] = ("CIDR", rule.cidr)
    else:
        assert rule.group is not None
        key = rule.group
        source = ("USER", key.account, f"NAME {key.name}", f"ID {key.group_id}")
    return line(
        "PERMISSION",
        group.key.account,
        group.name,
        "ALLOWS",
        rule.protocol,
        rule.from_port,
        rule.to_port,
        "FROM",
        *source,
        "ingress",
    )


def describe_groups(groups: Iterable[Group]) -> list[str]:
    lines = []
    for group in groups:
        lines.append(group_line(group))
        lines += [permission_line(group, rule) for rule in group.rules]
    return lines


def rule_change(group: Group, rules: Iterable[Rule]) -> list[str]:
    return [group_header(group), *(permission_line(group, rule) for rule in rules)]


def instance_line(record: InstanceRecord, state: str | None = None) -> str:
    image = ami(record.image_id)
    return line(
        "INSTANCE",
        record.instance_id,
        record.image_id,
        "",  # public DNS name: lab instances have only a private address
        record.private_dns,
        state or record.state,
        "",  # key pair
        record.launch_index,
        "",  # product codes
        record.instance_type,
        record.launch_time,
        AVAILABILITY_ZONE,
        image.kernel,
        image.ramdisk,
        "",  # platform
        "monitoring-disabled",
        "",  # public IP address
        record.held_address or "",
        "",  # VPC
        "",  # subnet
        "ebs",
        "",  # lifecycle
        "",  # spot request
        "",  # license
        "",  # placement group
        "paravirtual",
        "xen",
        "",  # client token
        ",".join(key.group_id for key in record.held_groups),
    )


def reservation_line(records: list[InstanceRecord]) -> str:
    first = records[0]
    return line(
        "RESERVATION",
        first.reservation_id,
        first.owner,
        ",".join(key.name for key in first.groups),
    )


def instances(records: Iterable[InstanceRecord], state: str | None = None) -> list[str]:
    lines = []
    for reservation in reservations(records):
        lines.append(reservation_line(reservation))
        lines += [instance_line(record, state) for record in reservation]
    return lines


def terminated(changes: Iterable[tuple[InstanceRecord, str]]) -> list[str]:
    return [line("INSTANCE", r.instance_id, before, terminating(before)) for r, before in changes]
