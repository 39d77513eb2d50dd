"""sgh doctor: one table of what the machine needs, read by the runtimes' checks and by make
setup (which ran before these tests, so on this machine everything is there)."""

from __future__ import annotations

import pytest

from harness.adapters import system
from harness.adapters.netns_runtime import NetnsRuntime
from harness.errors import PrerequisiteError
from harness.faces.sgh.main import main

ABSENT = system.Need("sgh-no-such-tool", system.CORE, lambda: False, "sgh-no-such-package")


def test_after_make_setup_the_machine_has_everything(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["doctor", "--dev"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == len(system.NEEDS) + 1 and all(line.startswith("ok ") for line in out[:-1])


def test_what_is_missing_is_named_with_how_to_get_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(system, "NEEDS", (*system.NEEDS, ABSENT))
    assert main(["doctor"]) == 2
    out = capsys.readouterr().out
    assert "MISSING sgh-no-such-tool (for every lab): apt-get install sgh-no-such-package" in out
    assert "1 missing; 'sgh doctor --fix'" in out
    assert "nmap" not in out  # only what the scopes asked for


def test_a_runtime_refuses_with_the_doctors_words(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(system, "NEEDS", (*system.NEEDS, ABSENT))
    with pytest.raises(PrerequisiteError, match=r"missing: sgh-no-such-tool; 'sgh doctor'"):
        NetnsRuntime().check()


def test_each_need_says_how_to_get_it() -> None:
    for need in system.NEEDS:
        assert system.remedy(need), need.name
        assert need.scope in system.SCOPES
