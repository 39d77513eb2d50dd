"""Images: what an instance serves. A seed AMI's ports, or a registered image's ``sgh:listen``
tag; an instance keeps what it was launched with.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace

from harness.core.ec2.state import (
    AMIS,
    DEFAULT_LISTEN,
    LISTEN_TAG,
    Ami,
    Cloud,
    ImageRecord,
    InstanceRecord,
    ami,
    parse_listen,
    tag_value,
)
from harness.core.model import (
    Listen,
)
from harness.errors import Ec2Error


def image_of(cloud: Cloud, image_id: str) -> Ami:
    """An image's role and ports: a registered image's name and ``sgh:listen`` tag (tcp 22
    and 80 without one), else a seed AMI's, else tcp 22 and 80."""
    for image in cloud.images:
        if image.image_id == image_id:
            told = tag_value(cloud, image_id, LISTEN_TAG)
            listen = DEFAULT_LISTEN if told is None else parse_listen(told, image_id)
            return Ami(image_id, image.name, listen)
    return ami(image_id)


def listen_of(cloud: Cloud, record: InstanceRecord) -> tuple[Listen, ...]:
    """What an instance serves: what it was launched with (its image's ports then, or its own
    ``sgh:listen`` tag given at launch); a record from before that was kept: its AMI's."""
    if record.listen is not None:
        return record.listen
    return image_of(cloud, record.image_id).listen


def find_image(cloud: Cloud, image_id: str) -> ImageRecord:
    ami(image_id)
    for image in cloud.images:
        if image.image_id == image_id:
            return image
    raise Ec2Error("InvalidAMIID.NotFound", f"The image id '[{image_id}]' does not exist")


def register_image(
    cloud: Cloud, account: str, name: str, description: str, new_id: Callable[[str], str]
) -> tuple[Cloud, ImageRecord]:
    """RegisterImage: a new image of this account (its ports: its ``sgh:listen`` tag)."""
    if not name:
        raise Ec2Error("MissingParameter", "The request must contain the parameter name")
    if not re.fullmatch(r"[A-Za-z0-9()\[\] ./'@_-]{3,128}", name):
        raise Ec2Error(
            "InvalidAMIName.Malformed",
            f"AMI name '{name}' must be 3-128 letters, digits, spaces and ( ) [ ] . / - ' @ _",
        )
    if any(i.owner == account and i.name == name for i in cloud.images):
        raise Ec2Error("InvalidAMIName.Duplicate", f"AMI name {name} is already in use by an AMI")
    taken = {i.image_id for i in cloud.images} | set(AMIS)
    image_id = new_id("ami-")
    while image_id in taken:
        image_id = new_id("ami-")
    image = ImageRecord(image_id, account, name, description)
    return replace(cloud, images=(*cloud.images, image)), image


def deregister_image(cloud: Cloud, account: str, image_id: str) -> tuple[Cloud, ImageRecord]:
    image = find_image(cloud, image_id)
    if image.owner != account:
        raise Ec2Error("AuthFailure", f"Not authorized for image:{image_id}")
    images = tuple(i for i in cloud.images if i.image_id != image_id)
    tags = tuple(t for t in cloud.tags if t.resource != image_id)
    return replace(cloud, images=images, tags=tags), image
