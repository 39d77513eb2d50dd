"""Threads for effects that wait (Docker calls, namespace tools), and interrupts during cleanup.

``parallel`` maps in threads; at a Ctrl-C it stops starting more calls at once, lets the calls
in flight finish (so that what they create is known and can be removed), then raises the
interrupt. ``interrupts_deferred`` acknowledges Ctrl-C and SIGTERM without obeying them while a
cleanup runs, so that a second Ctrl-C cannot leave half a lab behind.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import contextmanager
from types import FrameType
from typing import TypeVar

WORKERS = 12
T = TypeVar("T")
R = TypeVar("R")


def parallel(
    function: Callable[[T], R],
    items: Iterable[T],
    workers: int = WORKERS,
    on_interrupt: Callable[[], None] | None = None,
) -> list[R]:
    """Map in threads; the first error is raised after every call has finished."""
    items = list(items)
    if not items:
        return []
    pool = ThreadPoolExecutor(max_workers=min(workers, len(items)))
    futures = [pool.submit(function, item) for item in items]
    try:
        wait(futures)
    except KeyboardInterrupt:
        with interrupts_deferred(on_interrupt):
            if on_interrupt is not None:
                on_interrupt()
            pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    errors = [f.exception() for f in futures if f.exception() is not None]
    if errors:
        raise errors[0]  # type: ignore[misc]
    return [f.result() for f in futures]


@contextmanager
def interrupts_deferred(acknowledge: Callable[[], None] | None = None) -> Iterator[None]:
    """Ctrl-C and SIGTERM are acknowledged (``acknowledge`` is called) but do not interrupt
    the block. Only the main thread can handle signals; elsewhere the block just runs."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def acknowledged(signum: int, frame: FrameType | None) -> None:
        if acknowledge is not None:
            acknowledge()

    previous = {sig: signal.signal(sig, acknowledged) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
