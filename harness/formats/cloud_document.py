"""A persistent lab's control-plane state as one JSON document (what ``lab.db`` stores).

The :class:`~harness.core.ec2.Cloud` and everything in it are frozen dataclasses;
cattrs turns them into plain JSON values and back, with hooks for the few types JSON has no
shape for: addresses and networks (their text), and protocols (a name or a number).
"""

from __future__ import annotations

import json
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network
from typing import Any

import cattrs

from harness.core.ec2.plane import Cloud
from harness.core.model import Address, Network, Proto, Protocol
from harness.errors import LabError

VERSION = 1


def _proto(value: Any, _: Any) -> Proto:
    if isinstance(value, int):
        return value
    return Protocol(value)


def _converter() -> cattrs.Converter:
    converter = cattrs.Converter()
    for kind in (IPv4Address, IPv6Address, IPv4Network, IPv6Network):
        converter.register_unstructure_hook(kind, str)
    converter.register_structure_hook(IPv4Address, lambda v, _: IPv4Address(v))
    converter.register_structure_hook(IPv6Address, lambda v, _: IPv6Address(v))
    converter.register_structure_hook(IPv4Network, lambda v, _: IPv4Network(v))
    converter.register_structure_hook(IPv6Network, lambda v, _: IPv6Network(v))
    converter.register_structure_hook(Address, lambda v, _: ip_address(v))
    converter.register_structure_hook(Network, lambda v, _: ip_network(v))
    converter.register_structure_hook(
        Address | None, lambda v, _: None if v is None else ip_address(v)
    )
    converter.register_structure_hook(
        Network | None, lambda v, _: None if v is None else ip_network(v)
    )
    converter.register_unstructure_hook(Proto, lambda p: p if isinstance(p, int) else str(p))
    converter.register_structure_hook(Proto, _proto)
    return converter


CONVERTER = _converter()


def dumps(cloud: Cloud) -> str:
    return json.dumps({"version": VERSION, "cloud": CONVERTER.unstructure(cloud, Cloud)})


def loads(text: str, where: str) -> Cloud:
    try:
        data = json.loads(text)
        if data.get("version") != VERSION:
            raise LabError(
                f"{where}: the lab's state is version {data.get('version')}, this sg-harness "
                f"reads version {VERSION}"
            )
        return CONVERTER.structure(data["cloud"], Cloud)
    except (ValueError, KeyError, cattrs.BaseValidationError) as err:
        raise LabError(f"{where}: the lab's state cannot be read ({err})") from None
