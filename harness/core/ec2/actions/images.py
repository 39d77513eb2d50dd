"""Images: what a user's instances serve, said as AWS users say it.

An image registered with RegisterImage serves the ports of its ``sgh:listen`` tag (``tcp/443
tcp/8080``; given at registration in its TagSpecifications, or later with CreateTags), tcp 22
and 80 without one. An instance serves what its image served when it was launched, or its own
``sgh:listen`` tag given in RunInstances' TagSpecifications; it keeps that (a later tag would
change nothing running, so it is refused). The seed's three AMIs are there for everyone, as
public images of Amazon's."""

from __future__ import annotations

from collections.abc import Callable

from harness.core.ec2 import plane as ec2
from harness.core.ec2.actions.requests import (
    Answer,
    Caller,
    Request,
    filters,
    page,
    required,
    tag_specifications,
)
from harness.core.ec2.actions.tags import tag_new, tags
from harness.core.ec2.plane import AMIS, Cloud, ImageRecord, ami, parse_listen, select
from harness.errors import Ec2Error

AMAZON = "amazon"
LISTEN_TAG = ec2.LISTEN_TAG  # the tag a door writes to say what an image serves


def image_dict(cloud: Cloud, image_id: str) -> Answer:
    """A registered image, or a seed AMI (public, Amazon's)."""
    ami = ec2.image_of(cloud, image_id)
    registered = next((i for i in cloud.images if i.image_id == image_id), None)
    owner = AMAZON if registered is None else registered.owner
    found: Answer = {
        "ImageId": image_id,
        "Name": ami.role,
        "Description": ami.role if registered is None else registered.description,
        "OwnerId": owner,
        "ImageOwnerAlias": AMAZON if registered is None else None,
        "State": "available",
        "Public": registered is None,
        "ImageType": "machine",
        "Architecture": "x86_64",
        "RootDeviceType": "ebs",
        "RootDeviceName": "/dev/sda1",
        "VirtualizationType": "paravirtual",
        "Hypervisor": "xen",
        "KernelId": ami.kernel,
        "RamdiskId": ami.ramdisk,
        "Tags": tags(cloud, image_id),
    }
    return found


def serves(image: Answer) -> str:
    """What an image of DescribeImages serves, as ``sgh:listen`` text (``tcp/22 tcp/80``):
    its tag, else a seed AMI's ports, else tcp 22 and 80 (what a door shows of an image)."""
    told = next((t["Value"] for t in image.get("Tags") or () if t["Key"] == LISTEN_TAG), None)
    if told is not None:
        return " ".join(str(p) for p in parse_listen(told, str(image["ImageId"])))
    return " ".join(str(p) for p in ami(str(image["ImageId"])).listen)


def register_image(cloud: Cloud, caller: Caller, request: Request) -> tuple[Cloud, Answer]:
    new_tags = tag_specifications(request, "image")
    cloud, image = ec2.register_image(
        cloud,
        caller.account,
        required(request, "Name"),
        request.get("Description", ""),
        caller.new_id,
    )
    cloud = tag_new(cloud, caller.account, image.image_id, new_tags)
    return cloud, {"ImageId": image.image_id}


def _field(name: str) -> Callable[[Answer], list[str]]:
    return lambda image: [str(image[name]).lower() if name == "Public" else str(image[name])]


IMAGE_FILTERS = {
    "image-id": _field("ImageId"),
    "name": _field("Name"),
    "owner-id": _field("OwnerId"),
    "state": _field("State"),
    "is-public": _field("Public"),
    "image-type": _field("ImageType"),
    "architecture": _field("Architecture"),
}


def describe_images(cloud: Cloud, caller: Caller, request: Request) -> tuple[Cloud, Answer]:
    """The images named, else those of the owners asked for (``self``, ``amazon``, account
    ids), else every image the caller may launch (its own and the seed's)."""
    account = caller.account
    mine = [i.image_id for i in cloud.images if i.owner == account]
    ids = request.get("ImageIds") or []
    if ids:
        for image_id in ids:
            if image_id not in AMIS:
                found: ImageRecord = ec2.find_image(cloud, image_id)
                if found.owner != account:
                    raise Ec2Error(
                        "InvalidAMIID.NotFound", f"The image id '[{image_id}]' does not exist"
                    )
        chosen = list(dict.fromkeys(ids))
    else:
        owners = request.get("Owners") or ["self", AMAZON]
        chosen = []
        for owner in owners:
            if owner in ("self", account):
                chosen += mine
            elif owner == AMAZON:
                chosen += list(AMIS)
    answers = [image_dict(cloud, i) for i in dict.fromkeys(chosen)]
    known: dict[str, Callable[[Answer], list[str]]] = IMAGE_FILTERS
    selected = select(cloud, answers, filters(request), known, lambda i: str(i["ImageId"]))
    shown, token = page(selected, request)
    return cloud, {"Images": shown, "NextToken": token}


def deregister_image(cloud: Cloud, caller: Caller, request: Request) -> tuple[Cloud, Answer]:
    image_id = required(request, "ImageId")
    if image_id in AMIS:
        raise Ec2Error("AuthFailure", f"Not authorized for image:{image_id}")
    cloud, _ = ec2.deregister_image(cloud, caller.account, image_id)
    return cloud, {"Return": True}
