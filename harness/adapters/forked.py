"""Work split over forked processes, each giving back what :mod:`marshal` can carry.

A prober's lanes, and the shares of a big lab's verification (plan, probe, compare), run in
processes of their own, not threads: Python's per-probe work holds the interpreter lock, and two
threads spent much of their time waiting for it (a futex in 8% of the samples of a 2-core
profile, 300 instances) while the kernel's share of each probe could have run beside them. A
forked child inherits what the parent prepared (open sockets included), so nothing is sent to
it; it sends back its result, and progress as it goes. Many equal answers travel as codes into
a table of the distinct ones (:func:`coded`: a few dozen for a million probes).

The parent reads every child's pipe until it closes. A child that fails says why (its lane's
items then have no answer, and the caller says so); a child is killed and reaped on every exit
path of the parent, a Ctrl-C included.
"""

from __future__ import annotations

import contextlib
import gc
import marshal
import os
import selectors
import signal
import struct
from array import array
from collections.abc import Callable, Hashable, Sequence
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")
H = TypeVar("H", bound=Hashable)
PROGRESS_EVERY = 2048  # items between progress reports from a child

_HEADER = struct.Struct("=cI")  # a frame: its kind and its length
_PROGRESS, _RESULT, _ERROR = b"P", b"R", b"E"


def in_processes(
    work: Callable[[T, Callable[[int], None]], R],
    parts: Sequence[T],
    on_progress: Callable[[int], None] | None = None,
) -> list[R | str]:
    """``work(part, progress)`` for each part in a forked child; for each part, what it
    returned (made of what :mod:`marshal` carries: numbers, strings, bytes, tuples, lists,
    dicts), or why its child failed."""
    children: dict[int, int] = {}  # read end -> pid
    try:
        for part in parts:
            read, write = os.pipe()
            pid = os.fork()
            if pid == 0:  # pragma: no cover - the child's coverage is not collected
                os.close(read)
                for other in children:
                    os.close(other)
                _child(work, part, write)
            os.close(write)
            children[read] = pid
        return _collect(list(children), on_progress)
    finally:
        for read, pid in children.items():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            os.close(read)


def coded(answers: Sequence[T], row: Callable[[T], H]) -> tuple[list[H], bytes]:
    """Answers as a table of the distinct ones (as ``row`` writes each, to cross to the
    parent) and each answer's code in it, for a child to send: a million answers of a few
    dozen kinds. Answers are told apart by identity, which the sequence keeps from being
    reused (equal ones made apart take a row each): hashing a million answers cost more than
    the rest of the coding."""
    table: dict[int, int] = {}
    rows: list[H] = []
    codes = array("I")
    for answer in answers:
        code = table.get(id(answer))
        if code is None:
            code = table[id(answer)] = len(rows)
            rows.append(row(answer))
        codes.append(code)
    return rows, codes.tobytes()


def decoded(table: Sequence[R], raw: bytes) -> list[R]:
    """What :func:`coded` made, as the answers again."""
    return [table[code] for code in codes(raw)]


def codes(raw: bytes) -> array[int]:
    """Numbers sent as the bytes of an ``array("I")``."""
    found = array("I")
    found.frombytes(raw)
    return found


def _child(
    work: Callable[[T, Callable[[int], None]], Any], part: T, write: int
) -> None:  # pragma: no cover - runs in the child
    code = 1
    try:
        gc.disable()  # a collection would touch, and so copy, every object the parent shares
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles a Ctrl-C
        done = [0, 0]  # items counted, items reported

        def progress(count: int) -> None:
            done[0] += count
            if done[0] - done[1] >= PROGRESS_EVERY:
                _frame(write, _PROGRESS, struct.pack("=I", done[0] - done[1]))
                done[1] = done[0]

        result = work(part, progress)
        if done[0] > done[1]:
            _frame(write, _PROGRESS, struct.pack("=I", done[0] - done[1]))
        _frame(write, _RESULT, marshal.dumps(result))
        code = 0
    except BaseException as err:
        with contextlib.suppress(OSError):
            _frame(write, _ERROR, f"{type(err).__name__}: {err}".encode())
    finally:
        os._exit(code)


def _frame(fd: int, kind: bytes, payload: bytes) -> None:
    data = memoryview(_HEADER.pack(kind, len(payload)) + payload)
    while data:
        data = data[os.write(fd, data) :]


def _collect(reads: list[int], on_progress: Callable[[int], None] | None) -> list[Any]:
    buffers = {read: bytearray() for read in reads}
    outcome: dict[int, Any] = {}
    with selectors.DefaultSelector() as selector:
        for read in reads:
            selector.register(read, selectors.EVENT_READ)
        open_ends = len(reads)
        while open_ends:
            for key, _ in selector.select():
                read = int(key.fd)
                chunk = os.read(read, 1 << 20)
                if not chunk:
                    selector.unregister(read)
                    open_ends -= 1
                    continue
                buffer = buffers[read]
                buffer += chunk
                while len(buffer) >= _HEADER.size:
                    kind, length = _HEADER.unpack_from(buffer)
                    if len(buffer) < _HEADER.size + length:
                        break
                    payload = bytes(buffer[_HEADER.size : _HEADER.size + length])
                    del buffer[: _HEADER.size + length]
                    if kind == _PROGRESS:
                        if on_progress is not None:
                            on_progress(struct.unpack("=I", payload)[0])
                    elif kind == _RESULT:
                        outcome[read] = marshal.loads(payload)
                    else:
                        outcome[read] = payload.decode(errors="replace")
    return [outcome.get(read, "its process stopped without an answer") for read in reads]
