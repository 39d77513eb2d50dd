"""The netns runtime raises the kernel's conntrack hash table for big labs, never lowers it."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.adapters.netns_runtime import CONNTRACK_MOST, conntrack_room


class Notes:
    def __init__(self) -> None:
        self.said: list[str] = []

    def start(self, phase: str, total: int = 0) -> None: ...

    def advance(self, count: int = 1) -> None: ...

    def finish(self, key: str = "", note: str = "") -> float:
        return 0.0

    def note(self, text: str) -> None:
        self.said.append(text)

    def interrupted(self) -> None: ...


def table(tmp_path: Path, buckets: int) -> Path:
    path = tmp_path / "nf_conntrack_buckets"
    path.write_text(f"{buckets}\n")
    return path


def test_a_big_lab_gets_a_bucket_per_flow_and_is_told(tmp_path: Path) -> None:
    path, notes = table(tmp_path, 262144), Notes()
    assert conntrack_room(1004, notes, path) == 1 << 20  # 1004 squared, to a power of two
    assert path.read_text() == str(1 << 20)
    assert notes.said == [
        "raised the kernel's conntrack hash table from 262,144 to 1,048,576 buckets for "
        "1004 nodes (for the whole machine, until reboot)"
    ]


def test_a_small_lab_or_a_big_enough_table_is_left_alone(tmp_path: Path) -> None:
    for nodes, buckets in ((300, 262144), (1004, 1 << 20), (1004, 1 << 19), (5000, 1 << 21)):
        path, notes = table(tmp_path, buckets), Notes()
        assert conntrack_room(nodes, notes, path) == buckets
        assert path.read_text() == f"{buckets}\n" and notes.said == []


def test_the_table_is_raised_at_most_to_its_cap(tmp_path: Path) -> None:
    path = table(tmp_path, 65536)
    assert conntrack_room(100_000, Notes(), path) == CONNTRACK_MOST


def test_a_machine_without_the_table_is_left_alone(tmp_path: Path) -> None:
    notes = Notes()
    assert conntrack_room(1004, notes, tmp_path / "absent") == 0
    assert conntrack_room(1004, notes, table(tmp_path, 0).with_name("x")) == 0
    assert notes.said == []


def test_a_refused_raise_is_told_and_leaves_the_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, notes = table(tmp_path, 262144), Notes()

    def refuse(self: Path, text: str) -> int:
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "write_text", refuse)
    assert conntrack_room(1004, notes, path) == 262144
    assert path.read_text() == "262144\n"
    assert len(notes.said) == 1
    assert notes.said[0].startswith("could not raise the kernel's conntrack table to 1,048,576")
