"""Progress on a terminal: counters redrawn at most ten times a second, every phase's line."""

from __future__ import annotations

import io

from harness.faces.progress import REDRAWS, Progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_counter_is_redrawn_at_most_ten_times_a_second() -> None:
    now = [0.0]
    screen = Terminal()
    progress = Progress(screen, clock=lambda: now[0])
    progress.start("probing", total=100_000)
    for _ in range(100_000):  # one second of work, 100,000 steps
        now[0] += 1e-5
        progress.advance()
    progress.finish()
    drawn = screen.getvalue().count(" ...")
    assert 1 <= drawn <= REDRAWS + 2, drawn
    assert screen.getvalue().endswith("[sgh] probing 100000/100000: 1.00s\n")


def test_elsewhere_a_phase_is_one_line_when_it_ends() -> None:
    stream = io.StringIO()
    progress = Progress(stream, clock=lambda: 0.0)
    progress.start("building", total=3)
    for _ in range(3):
        progress.advance()
    progress.finish(note="(3 nodes)")
    assert stream.getvalue() == "[sgh] building 3/3: 0.00s (3 nodes)\n"
