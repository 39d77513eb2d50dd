"""What a runtime holds of a lab, in terms both runtimes answer (containers or namespaces)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path

from harness.core.runtime import LabKind, LabRef, Runtime


def leftovers(runtime: Runtime, lab: str | None = None) -> list[str]:
    """Every lab of this name (any kind), or every lab, that holds nodes: ``kind.name:count``."""
    return sorted(
        f"{info.kind}.{info.name}:{info.containers}"
        for info in runtime.labs()
        if (lab is None or info.name == lab) and info.containers
    )


def running(runtime: Runtime, lab: str, kind: LabKind = LabKind.PERSISTENT) -> set[str]:
    """The names of the lab's nodes that run (the switch as ``_switch``)."""
    return {name for name, state in runtime.observe(LabRef(lab, kind)).items() if state.running}


def count(runtime: Runtime, lab: str) -> int:
    """How many nodes labs of this name (any kind) hold."""
    return sum(info.containers for info in runtime.labs() if info.name == lab)


def namespaces_of(runtime: Runtime, lab: str, kind: LabKind = LabKind.PERSISTENT) -> set[int]:
    """The network namespaces (inode numbers) the lab's running nodes are in."""
    found = set()
    for state in runtime.observe(LabRef(lab, kind)).values():
        if state.running and state.pid:
            with suppress(OSError):
                found.add(os.stat(f"/proc/{state.pid}/ns/net").st_ino)
    return found


def live_processes() -> Iterator[tuple[int, str, int | None]]:
    """Every live process (zombies left out), read from /proc: its pid, its command line
    and its network namespace's inode (None when it cannot be read)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state == "Z":
            continue
        try:
            inode: int | None = os.stat(entry / "ns/net").st_ino
        except OSError:
            inode = None
        yield int(entry.name), cmdline, inode


def processes_naming(text: str) -> list[int]:
    """Every live process whose command line holds ``text`` (a keeper and every node it
    forked carry their record's path), found from /proc, not from the record."""
    return [pid for pid, cmdline, _ in live_processes() if text in cmdline]


def held(record_name: str, namespaces: set[int]) -> list[str]:
    """What is still alive of a lab, read from /proc (not from the lab's records): processes
    whose command line names its record file (a netns keeper and every node it forked), and
    processes in one of the lab's network namespaces."""
    return [
        f"{pid}: {cmdline[:80]}"
        for pid, cmdline, inode in live_processes()
        if record_name in cmdline or (inode is not None and inode in namespaces)
    ]
