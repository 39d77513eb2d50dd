"""Work in forked processes: answers in order, progress, a failing child named, none left."""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest

from harness.adapters.probers import forked


def squares(part: range, progress: Callable[[int], None]) -> list[forked.Answer]:
    answers = []
    for number in part:
        answers.append(("open" if number % 2 else "closed", f"{number * number}"))
        progress(1)
    return answers


def test_each_part_answers_in_order_and_reports_progress() -> None:
    seen: list[int] = []
    parts = [range(0, 5000), range(5000, 5003), range(0)]
    answers = forked.in_processes(squares, parts, seen.append)
    assert answers == [squares(part, lambda _: None) for part in parts]
    assert sum(seen) == 5003
    assert len(seen) >= 3  # the big part reported before it ended


def test_a_failing_child_says_why_and_the_others_still_answer() -> None:
    def work(part: int, progress: Callable[[int], None]) -> list[forked.Answer]:
        if part == 1:
            raise RuntimeError("no sockets in lane 1")
        if part == 2:
            os._exit(3)
        return [("open", str(part))]

    answers = forked.in_processes(work, [0, 1, 2])
    assert answers[0] == [("open", "0")]
    assert answers[1] == "RuntimeError: no sockets in lane 1"
    assert answers[2] == "the lane's process stopped without an answer"


def test_every_child_is_reaped(monkeypatch: pytest.MonkeyPatch) -> None:
    forks: list[int] = []
    fork = os.fork

    def recorded() -> int:
        pid = fork()
        if pid:
            forks.append(pid)
        return pid

    monkeypatch.setattr(os, "fork", recorded)
    forked.in_processes(squares, [range(3), range(4)])
    assert len(forks) == 2
    for pid in forks:
        with pytest.raises(ChildProcessError):  # reaped already: no longer our child
            os.waitpid(pid, os.WNOHANG)
