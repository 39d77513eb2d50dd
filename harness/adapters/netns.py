"""Entering network namespaces: ``setns`` for this process's threads, and the tools they start.

Policies go through libnftables with a context opened from a thread that entered the namespace
(:func:`load`): a change to a group of 29 members starts no process at all.

Both work on any container, whatever its image holds: the harness's own tools (nft, ip, the
probers) run from the host inside the container's network namespace.
"""

from __future__ import annotations

import ctypes
import os
import re
import resource
import signal
import subprocess
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from harness.adapters.libnftables import Context
from harness.core import nftables
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
    """Move the calling thread (the process, when it has one thread) into a new network
    namespace of its own."""
    _checked(_libc.unshare(CLONE_NEWNET))


PR_SET_PDEATHSIG = 1


def die_with_parent(parent: int) -> None:
    """This process is killed (SIGKILL) when its parent dies; if the parent is already gone
    (it died before this was set), this process exits now."""
    _checked(_libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0))
    if os.getppid() != parent:
        os._exit(1)


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


def call_in(path: str | None, function: Callable[[], T]) -> T:
    """Run ``function`` in a fresh thread that has entered the namespace at ``path`` (a new,
    empty namespace of its own when ``path`` is None).

    Sockets it opens stay in that namespace after the thread ends, so one process can hold
    sockets in every namespace of a lab and drive them from one event loop.
    """
    outcome: list[T] = []
    failure: list[BaseException] = []

    def body() -> None:
        try:
            if path is None:
                unshare_net()
            else:
                fd = os.open(path, os.O_RDONLY)
                try:
                    _setns(fd)
                finally:
                    os.close(fd)
            outcome.append(function())
        except BaseException as err:
            failure.append(err)

    thread = threading.Thread(target=body, name=f"netns:{path or 'new'}")
    thread.start()
    thread.join()
    if failure:
        raise failure[0]
    return outcome[0]


TABLE = f"{nftables.TABLE_FAMILY} {nftables.TABLE_NAME}"
LIST_TABLE = f"list table {TABLE}"  # listed stateless (``nft -s``): no counter values
_LIBNFTABLES = threading.Lock()  # libnftables is not thread-safe: concurrent calls abort
Key = tuple[int, int]  # (pid, start time): one process, whatever reuses the pid later
_CONTEXTS: OrderedDict[Key, Context] = OrderedDict()  # the contexts open, least recent first
CONTEXTS_KEPT = 256  # contexts kept open: each holds about 0.5 MiB (its cache) and a netlink
# socket whose descriptor libnftables hands to select(), which aborts the process at 1024 (a
# lab of 3000 nodes did); freeing one costs about 20 µs, opening one about 1 ms (measured)
_LOADED: dict[Key, str] = {}  # the policy last loaded in each namespace, for deltas
_SCRATCH: list[Context] = []  # a context in an empty namespace of this process's own
_OWNER = [os.getpid()]  # the process the contexts above were opened by
_INHERITED: list[object] = []  # a forked child's parent's contexts, left alone (see _own)
_LISTINGS: dict[str, str] = {}  # a policy (without its comment lines) -> how nft lists it
_MEMO = 4096


def listed(pid: int, what: str = "nft list") -> str:
    """``nft list table inet sgh`` in the namespace of ``pid``, through libnftables (no process
    is started).

    Each namespace gets one libnftables context, opened by a thread that entered it (its
    netlink socket stays in that namespace) and kept while it is among the
    :data:`CONTEXTS_KEPT` used last. Calls are serialised: libnftables aborts when two threads
    use it at once."""
    key = (pid, start_time(pid))
    with _LIBNFTABLES:
        listing = _cmd(_context(key), LIST_TABLE, what)
        loaded = _LOADED.get(key)
        if loaded is not None and _listing(loaded, what) != listing:
            del _LOADED[key]  # changed by hand since: the next load is a whole one
        return listing


def load(pid: int, policy: str, what: str = "nft policy") -> str:
    """Make ``policy`` (a compiled transaction, :mod:`harness.core.nftables`) the policy of the
    namespace of ``pid`` and return how nft lists it, without listing it there.

    When this process loaded the namespace's previous policy, only the difference is loaded
    (:func:`harness.core.nftables.delta`): on a group of 29 members a changed chain loads in
    about a third of the time of the whole table (measured). The listing comes from loading
    the same policy once into an empty namespace of this process: nft lists a table the same
    way wherever it is loaded (set elements sorted), so equal policies are listed once, and a
    change on 29 members with the same rules lists one table, not 29."""
    key = (pid, start_time(pid))
    with _LIBNFTABLES:
        context = _context(key)
        before = _LOADED.pop(key, None)
        change = None if before is None else nftables.delta(before, policy)
        if change is None or (change and context.cmd(change)[0] != 0):
            _cmd(context, policy, what)  # a first load, a structural change, or a failed delta
        _LOADED[key] = policy
        return _listing(policy, what)


def listing(policy: str, what: str = "nft policy") -> str:
    """How ``nft -s list table inet sgh`` reads once ``policy`` is loaded, from loading it
    into an empty namespace of this process's own (once per policy text)."""
    with _LIBNFTABLES:
        return _listing(policy, what)


def counted(pids: list[int], name: str = nftables.DROPPED) -> int | None:
    """The sum of the counter ``name`` of ``table inet sgh`` over the namespaces of ``pids``
    (:data:`harness.core.nftables.DROPPED`: the new packets their policies dropped); None
    when one of them has no such counter or cannot be read."""
    total = 0
    with _LIBNFTABLES:
        for pid in pids:
            started = start_time(pid)
            if not started:
                return None
            try:
                context = _context((pid, started))
            except (OSError, LabError):
                return None
            context.set_stateless_output(False)
            try:
                code, output, _ = context.cmd(f"list counter {TABLE} {name}")
            finally:
                context.set_stateless_output(True)
            found = _PACKETS.search(str(output)) if code == 0 else None
            if found is None:
                return None
            total += int(found.group(1))
    return total


_PACKETS = re.compile(r"packets (\d+)")


def _own() -> None:
    """In a forked child, forget the parent's contexts: their netlink sockets are the parent's
    too, and two processes reading one socket get each other's answers (libnftables then
    says its "kernel ABI is broken"). They are kept, unused, rather than freed (freeing a
    thousand costs time and frees nothing the child needs); the child opens its own."""
    if _OWNER[0] != os.getpid():
        _INHERITED.append((dict(_CONTEXTS), list(_SCRATCH)))
        _CONTEXTS.clear()
        _SCRATCH.clear()
        _OWNER[0] = os.getpid()


def _context(key: Key) -> Context:
    _own()
    context = _CONTEXTS.get(key)
    if context is None:
        while len(_CONTEXTS) >= CONTEXTS_KEPT:
            _CONTEXTS.popitem(last=False)  # freed as it goes
        context = call_in(netns_path(key[0]), _open_context)
        _CONTEXTS[key] = context
    else:
        _CONTEXTS.move_to_end(key)
    return context


def _cmd(context: Context, script: str, what: str) -> str:
    code, output, error = context.cmd(script)
    if code != 0:
        raise LabError(f"{what} failed: {_one_line(error)}")
    return str(output)


def _listing(policy: str, what: str) -> str:
    """How nft lists ``policy`` once loaded (the caller holds the libnftables lock)."""
    body = "\n".join(line for line in policy.splitlines() if not line.startswith("#"))
    found = _LISTINGS.get(body)
    if found is None:
        _own()
        if not _SCRATCH:
            _SCRATCH.append(call_in(None, _open_context))
        _cmd(_SCRATCH[0], policy, what)
        found = _cmd(_SCRATCH[0], LIST_TABLE, what)
        if len(_LISTINGS) >= _MEMO:
            _LISTINGS.clear()
        _LISTINGS[body] = found
    return found


def release_dead() -> None:
    """Close the contexts of namespaces whose process is gone: a context's socket holds its
    namespace (and the veth in it) alive, so a removed node's port would stay on the switch."""
    with _LIBNFTABLES:
        for key in [key for key in _CONTEXTS if start_time(key[0]) != key[1]]:
            del _CONTEXTS[key]
            _LOADED.pop(key, None)


def _open_context() -> Context:
    _more_files()
    context = Context()
    context.set_stateless_output(True)  # listings compare policies, not what counters saw
    return context


def _more_files() -> None:
    """A context holds a socket: a lab of a thousand namespaces needs more than 1024 files."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def _one_line(text: str) -> str:
    return str(text).strip().replace("\n", " | ")[:400]


def run(pid: int, argv: list[str], stdin: str = "", what: str = "") -> str:
    """Run a host tool inside the network namespace of ``pid``; errors become LabError.

    The tool is started by a thread that entered the namespace (:func:`call_in`), and a child
    is born in its parent thread's namespace: one process, where ``nsenter`` made two (the
    wiring of 1000 instances spent a sixth of its CPU time starting ``nsenter`` and ``ip``)."""

    def started() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            argv, input=stdin, capture_output=True, text=True, check=False, timeout=60
        )

    try:
        done = call_in(netns_path(pid), started)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise LabError(f"{what or argv[0]}: {err}") from None
    if done.returncode != 0:
        message = (done.stderr or done.stdout).strip().replace("\n", " | ")
        raise LabError(f"{what or argv[0]} failed: {message[:400]}")
    return done.stdout
