"""What the Query API and the console share as servers: whether a host is loopback only (they
ask for keys beyond it), and serving until Ctrl-C or SIGTERM."""

from __future__ import annotations

import ipaddress
from socketserver import BaseServer


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def until_interrupted(server: BaseServer, name: str) -> int:
    """Serve until interrupted (Ctrl-C, or SIGTERM raised as KeyboardInterrupt); then close."""
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    print(f"{name}: stopped", flush=True)
    return 0
