"""Kernel settings written from a thread inside a node's namespace: sysctls and neighbours.

Both are run through :func:`harness.adapters.netns.call_in`, so no process is started. A
sysctl under ``net.`` is the namespace's own, found through the thread that opens its file. The
static neighbour entries (a thousand per node in a lab of a thousand: a million in all) go as
``RTM_NEWNEIGH`` messages packed into a few buffers, one ``send`` each, the kernel answering
only for the last and for any that fails; ``ip -batch`` sent one and waited for its answer per
line, and spent 17.7 s wiring 1000 instances.
"""

from __future__ import annotations

import os
import socket
import struct
from collections.abc import Sequence
from ipaddress import IPv4Address, IPv6Address

from harness.errors import LabError

NETLINK_ROUTE = 0
RTM_NEWNEIGH = 28
NLMSG_ERROR = 2
NLM_F_REQUEST, NLM_F_ACK, NLM_F_REPLACE, NLM_F_CREATE = 0x1, 0x4, 0x100, 0x400
NUD_PERMANENT = 0x80
NDA_DST, NDA_LLADDR = 1, 2
CHUNK = 2000  # messages per send (60 bytes at most each: well under the socket's buffer)

_HEADER = struct.Struct("=IHHII")  # nlmsghdr: length, type, flags, sequence, port
_NDMSG = struct.Struct("=BBHiHBB")  # ndmsg: family, pads, ifindex, state, flags, type
_ERROR = struct.Struct("=i")

Neighbour = tuple[str, IPv4Address | IPv6Address, str]  # interface, address, MAC


def write_sysctls(settings: Sequence[tuple[str, str]], *, present: bool = False) -> None:
    """Set ``net.*`` sysctls of the calling thread's namespace; with ``present``, only those
    the kernel has (a module's, such as br_netfilter's, exist only once it is loaded)."""
    for key, value in settings:
        path = "/proc/sys/" + key.replace(".", "/")
        try:
            with open(path, "w") as handle:
                handle.write(value)
        except FileNotFoundError:
            if not present:
                raise LabError(f"sysctl {key}={value}: no such setting") from None
        except OSError as err:
            raise LabError(f"sysctl {key}={value}: {err.strerror or err}") from None


def _attribute(kind: int, payload: bytes) -> bytes:
    length = 4 + len(payload)
    return struct.pack("=HH", length, kind) + payload + b"\0" * (-length % 4)


def neighbour_message(
    sequence: int, ifindex: int, address: IPv4Address | IPv6Address, hardware: str, ack: bool
) -> bytes:
    """``ip neigh replace ADDRESS lladdr HARDWARE dev IFINDEX nud permanent`` as a message."""
    family = socket.AF_INET if address.version == 4 else socket.AF_INET6
    body = (
        _NDMSG.pack(family, 0, 0, ifindex, NUD_PERMANENT, 0, 0)
        + _attribute(NDA_DST, address.packed)
        + _attribute(NDA_LLADDR, bytes.fromhex(hardware.replace(":", "")))
    )
    flags = NLM_F_REQUEST | NLM_F_CREATE | NLM_F_REPLACE | (NLM_F_ACK if ack else 0)
    return _HEADER.pack(_HEADER.size + len(body), RTM_NEWNEIGH, flags, sequence, 0) + body


def add_neighbours(entries: Sequence[Neighbour]) -> None:
    """Permanent neighbour entries in the calling thread's namespace; a LabError names the
    first entry the kernel refused."""
    indexes: dict[str, int] = {}
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_ROUTE) as sock:
        for start in range(0, len(entries), CHUNK):
            chunk = entries[start : start + CHUNK]
            messages = []
            for offset, (interface, address, hardware) in enumerate(chunk):
                index = indexes.get(interface)
                if index is None:
                    try:
                        index = indexes[interface] = socket.if_nametoindex(interface)
                    except OSError:
                        raise LabError(f"no interface {interface} for its neighbours") from None
                last = offset == len(chunk) - 1
                messages.append(
                    neighbour_message(start + offset + 1, index, address, hardware, last)
                )
            sock.sendall(b"".join(messages))
            failed = _answers(sock, start + len(chunk))
            if failed:
                sequence, error = failed
                interface, address, hardware = entries[sequence - 1]
                raise LabError(
                    f"neighbour {address} lladdr {hardware} on {interface}: {os.strerror(error)}"
                )


def _answers(sock: socket.socket, last: int) -> tuple[int, int] | None:
    """Read the kernel's answers up to the acknowledgement of message ``last``: the first
    (sequence, errno) it refused, or None."""
    failed: tuple[int, int] | None = None
    while True:
        data = sock.recv(1 << 16)
        offset = 0
        while offset + _HEADER.size <= len(data):
            length, kind, _, sequence, _ = _HEADER.unpack_from(data, offset)
            if kind == NLMSG_ERROR:
                (error,) = _ERROR.unpack_from(data, offset + _HEADER.size)
                if error and failed is None:
                    failed = (sequence, -error)
                if sequence == last:
                    return failed
            offset += (length + 3) & ~3 or len(data)
