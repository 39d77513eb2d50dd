"""Values every input format writes in its own way: protocols (names, numbers, ``all``),
ports, and the one place an imported rule is made."""

from __future__ import annotations

import re

from harness.core.model import Origin
from harness.formats.imports.deployment import ImportedRule, Peer, refuse

# -- values every format writes in its own way -------------------------------------------------

_PROTOCOL_NUMBERS = {"6": "tcp", "17": "udp", "1": "icmp", "58": "icmpv6", "all": "-1"}


def protocol_text(value: object, origin: Origin) -> str:
    """A protocol as the topology writes it: ``tcp``, ``-1``, ``icmp``, ``50``."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise refuse(origin, f"protocol {value!r} is not a protocol")
    text = str(int(value)) if isinstance(value, float) else str(value).strip().lower()
    text = _PROTOCOL_NUMBERS.get(text, text)
    if text in ("tcp", "udp", "icmp", "icmpv6", "-1") or (text.isdigit() and int(text) < 256):
        return text
    raise refuse(origin, f"protocol '{value}' is not tcp, udp, icmp, icmpv6, -1 or a number")


def port_value(value: object, origin: Origin, what: str) -> int | None:
    """A port (or ICMP type/code) written as a number or a string of one; None if absent."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise refuse(origin, f"{what} {value!r} is not a number")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
        return int(value)
    raise refuse(origin, f"{what} {value!r} is not a number")


def make_rule(  # noqa: PLR0917 - the fields of a rule, in their order
    protocol: str,
    from_port: int | None,
    to_port: int | None,
    peer: Peer,
    origin: Origin,
    description: str = "",
) -> ImportedRule:
    """A rule with the ports each protocol takes: none for ``-1`` and protocol numbers, a range
    for tcp/udp (``0``-``0`` with ``-1`` as Terraform writes it is all ports)."""
    if protocol in ("tcp", "udp"):
        if from_port is None or to_port is None:
            raise refuse(origin, f"a {protocol} rule needs from_port and to_port")
        if from_port == -1 and to_port == -1:
            from_port, to_port = 0, 65535
    elif protocol not in ("icmp", "icmpv6"):
        from_port = to_port = None
    return ImportedRule(protocol, from_port, to_port, peer, origin, description)
