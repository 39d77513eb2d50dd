"""EC2's answer shapes, built with ElementTree (the library escapes every text)."""

from __future__ import annotations

from collections.abc import Iterable
from ipaddress import IPv4Address
from xml.etree.ElementTree import Element, tostring

from harness.core import control_plane, vpc_plane
from harness.core.control_plane import STATE_CODES, Cloud, InstanceRecord

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


def _nics_xml(cloud: Cloud, record: InstanceRecord) -> list[Element]:
    """A VPC instance's subnet, VPC, public address and interfaces (none for Classic)."""
    nics = vpc_plane.nics_of(cloud, record.instance_id)
    if not nics or not record.active:
        return []
    subnets = {s.subnet_id: s.vpc_id for s in cloud.subnets}
    first = nics[0]
    found = [E("subnetId", first.subnet_id), E("vpcId", subnets[first.subnet_id])]
    if first.public is not None:
        found.append(E("ipAddress", first.public))
    found.append(
        items(
            "networkInterfaceSet",
            (
                [
                    E("networkInterfaceId", n.eni_id),
                    E("subnetId", n.subnet_id),
                    E("vpcId", subnets[n.subnet_id]),
                    E("ownerId", n.owner),
                    E("status", "in-use"),
                    E("privateIpAddress", n.address),
                    items(
                        "groupSet",
                        ([E("groupId", k.group_id), E("groupName", k.name)] for k in n.groups),
                    ),
                    E(
                        "attachment",
                        E("deviceIndex", n.device_index),
                        E("status", "attached"),
                    ),
                    *(
                        [E("association", E("publicIp", n.public), E("ipOwnerId", "amazon"))]
                        if n.public is not None
                        else []
                    ),
                    items(
                        "ipv6AddressesSet",
                        ([[E("ipv6Address", str(n.ipv6))]] if n.ipv6 is not None else []),
                    ),
                ]
                for n in nics
            ),
        )
    )
    return found


def _group_set(record: InstanceRecord) -> Element:
    return items(
        "groupSet",
        ([E("groupId", key.group_id), E("groupName", key.name)] for key in record.held_groups),
    )


def _time(text: str) -> str:
    return text.replace("+0000", ".000Z")


def instance_xml(record: InstanceRecord, cloud: Cloud, state: str | None = None) -> list[Element]:
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
        E(
            "placement",
            E("availabilityZone", control_plane.zone_of(cloud.region)),
            E("tenancy", "default"),
        ),
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
        *_nics_xml(cloud, record),
    ]


def reservation_xml(
    records: list[InstanceRecord], cloud: Cloud, state: str | None = None
) -> list[Element]:
    first = records[0]
    return [
        E("reservationId", first.reservation_id),
        E("ownerId", first.owner),
        _group_set(first),
        items("instancesSet", (instance_xml(r, cloud, state) for r in records)),
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
