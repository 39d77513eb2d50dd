"""EC2's answer shapes, built with ElementTree (the library escapes every text)."""

from __future__ import annotations

from collections.abc import Iterable
from ipaddress import IPv4Address
from xml.etree.ElementTree import Element, tostring

from harness.core import control_plane
from harness.core.control_plane import STATE_CODES, InstanceRecord
from harness.core.model import Group
from harness.formats.ec2_tools_text import AVAILABILITY_ZONE

Content = Element | str | int | IPv4Address | None


def E(tag: str, *content: Content) -> Element:
    """An element with children and text (ElementTree escapes the text)."""
    node = Element(tag)
    for item in content:
        if isinstance(item, Element):
            node.append(item)
        elif item is not None:
            node.text = (node.text or "") + str(item)
    return node


def items(tag: str, members: Iterable[list[Element]]) -> Element:
    """``<tag><item>...</item>...</tag>``: EC2's list shape."""
    return E(tag, *[E("item", *member) for member in members])


def group_xml(group: Group) -> list[Element]:
    perms = []
    for protocol, low, high, rules in control_plane.permissions(group):
        pairs = [
            [
                E("userId", r.group.account),
                E("groupName", r.group.name),
                E("groupId", r.group.group_id),
            ]
            for r in rules
            if r.group is not None
        ]
        ranges = [[E("cidrIp", str(r.cidr))] for r in rules if r.cidr is not None]
        perms.append(
            [
                E("ipProtocol", protocol),
                E("fromPort", low),
                E("toPort", high),
                items("groups", pairs),
                items("ipRanges", ranges),
            ]
        )
    return [
        E("ownerId", group.key.account),
        E("groupId", group.group_id),
        E("groupName", group.name),
        E("groupDescription", group.description),
        items("ipPermissions", perms),
        E("ipPermissionsEgress"),
        E("tagSet"),
    ]


def _group_set(record: InstanceRecord) -> Element:
    return items(
        "groupSet",
        ([E("groupId", key.group_id), E("groupName", key.name)] for key in record.held_groups),
    )


def _time(text: str) -> str:
    return text.replace("+0000", ".000Z")


def instance_xml(record: InstanceRecord, state: str | None = None) -> list[Element]:
    image = control_plane.ami(record.image_id)
    shown = state or record.state
    active = shown != control_plane.TERMINATED
    return [
        E("instanceId", record.instance_id),
        E("imageId", record.image_id),
        E("instanceState", E("code", STATE_CODES[shown]), E("name", shown)),
        E("privateDnsName", record.private_dns),
        E("dnsName"),
        E("reason"),
        E("amiLaunchIndex", record.launch_index),
        E("productCodes"),
        E("instanceType", record.instance_type),
        E("launchTime", _time(record.launch_time)),
        E("placement", E("availabilityZone", AVAILABILITY_ZONE), E("tenancy", "default")),
        E("kernelId", image.kernel),
        E("ramdiskId", image.ramdisk),
        E("monitoring", E("state", "disabled")),
        *([E("privateIpAddress", record.address)] if active else []),
        _group_set(record),
        E("architecture", "x86_64"),
        E("rootDeviceType", "ebs"),
        E("rootDeviceName", "/dev/sda1"),
        E("blockDeviceMapping"),
        E("virtualizationType", "paravirtual"),
        E("hypervisor", "xen"),
    ]


def reservation_xml(records: list[InstanceRecord], state: str | None = None) -> list[Element]:
    first = records[0]
    return [
        E("reservationId", first.reservation_id),
        E("ownerId", first.owner),
        _group_set(first),
        items("instancesSet", (instance_xml(r, state) for r in records)),
    ]


def document(root: Element) -> str:
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + tostring(root, encoding="unicode")


def error_xml(code: str, message: str, request_id: str) -> str:
    return document(
        E(
            "Response",
            E("Errors", E("Error", E("Code", code), E("Message", message))),
            E("RequestID", request_id),
        )
    )
