"""Entering network namespaces: ``setns`` for this process's threads, ``nsenter`` for tools.

Both work on any container, whatever its image holds: the harness's own tools (nft, ip, the
probers) run from the host inside the container's network namespace.
"""

from __future__ import annotations

import ctypes
import os
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from harness.errors import LabError

CLONE_NEWNET = 0x40000000
T = TypeVar("T")

_libc = ctypes.CDLL(None, use_errno=True)


def _setns(fd: int) -> None:
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, os.strerror(errno))


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
