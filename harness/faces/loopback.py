"""Whether a server bound to a host is reachable from this machine only (the Query API and the
console ask for keys beyond it)."""

from __future__ import annotations

import ipaddress


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
