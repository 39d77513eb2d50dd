"""The tab-separated output of the legacy ec2-api-tools (1.5/1.6 layout), as pure functions.

Lines as the tools printed them (see the README for the sources and the few choices)::

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

from collections.abc import Iterable

from harness.core import vpc_plane
from harness.core.control_plane import (
    DEFAULT_REGION,
    Cloud,
    InstanceRecord,
    ami,
    reservations,
    terminating,
    zone_of,
)
from harness.core.model import Group, Protocol, Rule

AVAILABILITY_ZONE = zone_of(DEFAULT_REGION)


def line(*fields: object) -> str:
    return "\t".join(str(field) for field in fields)


def group_created(group: Group) -> str:
    return line("GROUP", group.group_id, group.name, group.description)


def group_line(group: Group) -> str:
    vpc = (group.vpc,) if group.vpc else ()
    return line("GROUP", group.group_id, group.key.account, group.name, group.description, *vpc)


def group_header(group: Group) -> str:
    """The first line of ec2-authorize / ec2-revoke output."""
    return line("GROUP", group.group_id, group.key.account, group.name)


def permission_line(group: Group, rule: Rule, egress: bool = False) -> str:
    if rule.cidr is not None:
        peer: tuple[object, ...] = ("CIDR", rule.cidr)
    elif rule.prefix_list is not None:
        peer = ("PREFIX-LIST", rule.prefix_list)
    else:
        assert rule.group is not None
        key = rule.group
        peer = ("USER", key.account, f"NAME {key.name}", f"ID {key.group_id}")
    every = rule.protocol == Protocol.ALL
    return line(
        "PERMISSION",
        group.key.account,
        group.name,
        "ALLOWS",
        "all" if every else rule.protocol,
        "" if every else rule.from_port,
        "" if every else rule.to_port,
        "TO" if egress else "FROM",
        *peer,
        "egress" if egress else "ingress",
    )


def describe_groups(groups: Iterable[Group]) -> list[str]:
    lines = []
    for group in groups:
        lines.append(group_line(group))
        lines += [permission_line(group, rule) for rule in group.rules]
        lines += [permission_line(group, rule, egress=True) for rule in group.egress or ()]
    return lines


def rule_change(group: Group, rules: Iterable[Rule], egress: bool = False) -> list[str]:
    return [group_header(group), *(permission_line(group, rule, egress) for rule in rules)]


def instance_line(
    record: InstanceRecord, state: str | None = None, cloud: Cloud | None = None
) -> str:
    """One instance; with ``cloud``, a VPC instance's public address, VPC and subnet (of its
    primary interface)."""
    image = ami(record.image_id)
    public = vpc = subnet = ""
    if cloud is not None and record.subnet_id and record.active:
        nics = vpc_plane.nics_of(cloud, record.instance_id)
        public = str(nics[0].public) if nics and nics[0].public else ""
        subnet = record.subnet_id
        vpc = next((s.vpc_id for s in cloud.subnets if s.subnet_id == subnet), "")
    zone = AVAILABILITY_ZONE if cloud is None else zone_of(cloud.region)
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
        zone,
        image.kernel,
        image.ramdisk,
        "",  # platform
        "monitoring-disabled",
        public,
        record.held_address or "",
        vpc,
        subnet,
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


def instances(
    records: Iterable[InstanceRecord], state: str | None = None, cloud: Cloud | None = None
) -> list[str]:
    lines = []
    for reservation in reservations(records):
        lines.append(reservation_line(reservation))
        lines += [instance_line(record, state, cloud) for record in reservation]
    return lines


def terminated(changes: Iterable[tuple[InstanceRecord, str]]) -> list[str]:
    return [line("INSTANCE", r.instance_id, before, terminating(before)) for r, before in changes]
