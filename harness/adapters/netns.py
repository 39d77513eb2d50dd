"""Entering network namespaces: ``setns`` for this process's threads, ``nsenter`` for tools.

Policies go through libnftables with a context opened from a thread that entered the namespace
(:func:`nft`): a change to a group of 29 members starts no process at all.

Both work on any container, whatever its image holds: the harness's own tools (nft, ip, the
probers) run from the host inside the container's network namespace.
"""

from __future__ import annotations

import ctypes
import os
import resource
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from harness.errors import LabError

CLONE_NEWNET = 0x40000000
T = TypeVar("T")

_libc = ctypes.CDLL(None, use_errno=True)


def _checked(result: int) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, os.strerror(errno))


def _setns(fd: int) -> None:
    _checked(_libc.setns(fd, CLONE_NEWNET))


def unshare_net() -> None:
    """Move this (single-threaded) process into a new network namespace of its own."""
    _checked(_libc.unshare(CLONE_NEWNET))


def start_time(pid: int) -> int:
    """The start time of a live process (clock ticks since boot), 0 when there is none or it
    is a zombie: with the pid it names one process, whatever reuses the pid later."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0
    fields = text[text.rindex(")") + 2 :].split()
    if fields[0] in ("Z", "X"):
        return 0
    return int(fields[19])


def netns_path(pid: int) -> str:
    return f"/proc/{pid}/ns/net"


def call_in(path: str, function: Callable[[], T]) -> T:
    """Run ``function`` in a fresh thread that has entered the namespace at ``path``.

    Sockets it opens stay in that namespace after the thread ends, so one process can hold
    sockets in every namespace of a lab and drive them from one event loop.
    """
    outcome: list[T] = []
    failure: list[BaseException] = []

    def body() -> None:
        try:
            fd = os.open(path, os.O_RDONLY)
            try:
                _setns(fd)
            finally:
                os.close(fd)
            outcome.append(function())
        except BaseException as err:
            failure.append(err)

    thread = threading.Thread(target=body, name=f"netns:{path}")
    thread.start()
    thread.join()
    if failure:
        raise failure[0]
    return outcome[0]


LIST_TABLE = "list table inet sgh"
_LIBNFTABLES = threading.Lock()  # libnftables is not thread-safe: concurrent calls abort
_CONTEXTS: dict[tuple[int, int], Any] = {}  # (pid, start time): a context opened in its netns


def nft(pid: int, script: str, what: str = "nft", listing: bool = True) -> str:
    """Run an nft script (a transaction, atomic as ``nft -f``) in the namespace of ``pid``
    through libnftables: no process is started. Returns ``nft list table inet sgh`` as listed
    right after (``listing``), else "".

    Each namespace gets one libnftables context, opened by a thread that entered it (its
    netlink socket stays in that namespace) and kept: opening one costs under a millisecond,
    but closing one costs 5-20 ms (measured), so a change on 29 members would pay that 29
    times. Calls are serialised: libnftables aborts when two threads use it at once."""
    key = (pid, start_time(pid))
    with _LIBNFTABLES:
        context = _CONTEXTS.get(key)
        if context is None:
            context = call_in(netns_path(pid), _open_context)
            _CONTEXTS[key] = context
        if script:
            code, _, error = context.cmd(script)
            if code != 0:
                raise LabError(f"{what} failed: {_one_line(error)}")
        if not listing:
            return ""
        code, output, error = context.cmd(LIST_TABLE)
        if code != 0:
            raise LabError(f"{what}: {_one_line(error)}")
        return str(output)


def release_dead() -> None:
    """Close the contexts of namespaces whose process is gone: a context's socket holds its
    namespace (and the veth in it) alive, so a removed node's port would stay on the switch."""
    with _LIBNFTABLES:
        for key in [key for key in _CONTEXTS if start_time(key[0]) != key[1]]:
            del _CONTEXTS[key]


def _open_context() -> Any:
    from nftables import Nftables  # Debian's python3-nftables, the binding of libnftables

    _more_files()
    return Nftables()


def _more_files() -> None:
    """A context holds a socket: a lab of a thousand namespaces needs more than 1024 files."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def _one_line(text: str) -> str:
    return str(text).strip().replace("\n", " | ")[:400]


def run(pid: int, argv: list[str], stdin: str = "", what: str = "") -> str:
    """Run a host tool inside the network namespace of ``pid``; errors become LabError."""
    command = ["nsenter", f"--net={netns_path(pid)}", "--", *argv]
    try:
        done = subprocess.run(
            command, input=stdin, capture_output=True, text=True, check=False, timeout=60
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        raise LabError(f"{what or argv[0]}: {err}") from None
    if done.returncode != 0:
        message = (done.stderr or done.stdout).strip().replace("\n", " | ")
        raise LabError(f"{what or argv[0]} failed: {message[:400]}")
    return done.stdout
