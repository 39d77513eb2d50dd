"""Work in forked processes: results in order, progress, a failing child named, none left;
answers coded into a table and back."""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest

from harness.adapters import forked
from harness.core.model import State
from harness.core.probing import Observation


def squares(part: range, progress: Callable[[int], None]) -> list[tuple[str, str]]:
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
    def work(part: int, progress: Callable[[int], None]) -> list[tuple[str, str]]:
        if part == 1:
            raise RuntimeError("no sockets in lane 1")
        if part == 2:
            os._exit(3)
        return [("open", str(part))]

    answers = forked.in_processes(work, [0, 1, 2])
    assert answers[0] == [("open", "0")]
    assert answers[1] == "RuntimeError: no sockets in lane 1"
    assert answers[2] == "its process stopped without an answer"


def test_a_child_gives_back_what_marshal_carries() -> None:
    def work(part: int, progress: Callable[[int], None]) -> tuple[dict[str, int], bytes]:
        return {"part": part}, forked.coded(["a", "b", "a"] * part, str)[1]

    first, second = forked.in_processes(work, [1, 2])
    assert isinstance(first, tuple) and isinstance(second, tuple)
    assert first[0] == {"part": 1} and list(forked.codes(first[1])) == [0, 1, 0]
    assert second[0] == {"part": 2} and list(forked.codes(second[1])) == [0, 1, 0] * 2


def test_answers_coded_into_a_table_of_the_distinct_ones_and_back() -> None:
    syn_ack, silent = Observation(State.OPEN, "syn-ack"), Observation(State.FILTERED, "no reply")
    again = Observation(State.OPEN, "syn-ack")  # equal to the first, made apart
    answers = [syn_ack, silent, syn_ack, again] * 1000
    table, raw = forked.coded(answers, Observation.row)
    assert table == [("open", "syn-ack"), ("filtered", "no reply"), ("open", "syn-ack")]
    assert len(raw) == 4 * len(answers)
    assert forked.decoded([Observation.from_row(row) for row in table], raw) == answers


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
