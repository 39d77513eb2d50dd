"""The pytest plugin, seen from a user's test run (pytester runs each user file in a
subprocess): readable failures that hide the helpers' frames, options and markers."""

from __future__ import annotations

from pathlib import Path

import pytest
from nodes import leftovers

from harness.core.phases import QUIET
from harness.core.runtime import LabKind, LabRef, Runtime
from harness.lab.lifecycle import teardown

ROOT = Path(__file__).resolve().parents[2]
ALBERT = ROOT / "topologies" / "default-group.yaml"


def test_a_wrong_expectation_names_cell_states_and_rule(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_user=f"""
        import pytest

        @pytest.mark.sg_topology({str(ALBERT)!r})
        def test_wrong(lab):
            lab.assert_open("internet", "albert-instance", "tcp/22")

        @pytest.mark.sg_topology({str(ALBERT)!r})
        def test_right(lab):
            lab.assert_open("albert", "albert-instance", "tcp/22")
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    out = result.stdout.str()
    assert "internet -> albert-instance tcp/22: expected open, observed filtered (no reply)" in out
    assert (
        "the rules say filtered: no rule of default allows tcp 22 from internet (198.51.100.10)"
        in out
    )
    assert "_assert_state" not in out and "def assert_open" not in out  # helpers hidden


def test_matrix_failure_lists_only_the_wrong_cells_with_their_rule(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        test_user="""
        import pytest

        @pytest.mark.sg_mutates
        def test_tampered(lab):
            # Drop the accept rules that Albert's SSH rule and the default group's rules made.
            lab.host("albert-instance").run_expect([0], "nft flush chain inet sgh input")
            lab.assert_matrix_matches()
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", f"--sg-topology={ALBERT}")
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    assert "1 of 204 cells disagree with the rules:" in out
    told = [line.removeprefix("E       ") for line in out.splitlines()]  # pytest's margin
    start = told.index("  expected open, observed filtered (no reply): 1 cell")
    assert told[start + 1 : start + 3] == [
        "    allowed by default: tcp 22 from 203.0.113.7/32",
        "    albert -> albert-instance: tcp/22",
    ]
    assert "internet -> albert-instance" not in out  # the right cells are not shown


def test_keep_lab_leaves_the_lab_and_a_missing_topology_is_a_usage_error(
    pytester: pytest.Pytester, runtime: Runtime
) -> None:
    pytester.makepyfile(
        test_user="""
        def test_up(lab):
            assert lab.name == "default-group-pytest"
            lab.assert_filtered("albert", "albert-instance", "udp/53")
        """
    )
    try:
        kept = pytester.runpytest_subprocess(
            "-p", "no:cacheprovider", f"--sg-topology={ALBERT}", "--sg-keep-lab"
        )
        kept.assert_outcomes(passed=1)
        assert leftovers(runtime, "default-group-pytest")
    finally:
        teardown(runtime, LabRef("default-group-pytest", LabKind.PYTEST), QUIET)
    missing = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    assert missing.ret == pytest.ExitCode.USAGE_ERROR
    assert "the 'lab' fixture needs @pytest.mark.sg_topology(PATH) or --sg-topology" in (
        missing.stderr.str()
    )


def test_assertions_are_assertion_errors_for_raises_and_retry_loops(
    pytester: pytest.Pytester,
) -> None:
    """What a new user writes from the pytest guide: ``pytest.raises(AssertionError)`` around a
    wrong expectation, and a loop that retries an assertion."""
    pytester.makepyfile(
        test_user=f"""
        import pytest

        pytestmark = pytest.mark.sg_topology({str(ALBERT)!r})

        def test_raises(lab):
            with pytest.raises(AssertionError, match="expected open, observed filtered"):
                lab.assert_open("internet", "albert-instance", "tcp/22")

        def test_retry(lab):
            for attempt in range(3):
                try:
                    lab.assert_filtered("internet", "albert-instance", "tcp/22")
                    break
                except AssertionError:
                    continue
            else:
                raise AssertionError("never filtered")
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)


def test_a_topology_that_cannot_be_found_is_one_line(pytester: pytest.Pytester) -> None:
    """The guide's example copied alone into a folder without the topology file."""
    pytester.makepyfile(
        test_user="""
        import pytest

        pytestmark = pytest.mark.sg_topology("topologies/three-tier.yaml")

        def test_one(lab):
            lab.assert_open("internet", "web-1", "tcp/80")

        def test_two(lab):
            lab.assert_filtered("internet", "db-1", "tcp/3306")
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    err = result.stderr.str().strip().splitlines()
    assert len(err) == 1, err
    assert "topology file 'topologies/three-tier.yaml' not found" in err[0]
    assert "Traceback" not in result.stdout.str() + result.stderr.str()
