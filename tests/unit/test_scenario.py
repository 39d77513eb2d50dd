"""Seed scenarios: reading the files, and judging what a replay saw by meaning."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.core.model import State
from harness.errors import TopologyError
from harness.formats import scenario_file
from harness.formats.scenario_file import ScanMeaning, compare_ec2, compare_scans, seed_scan

ROOT = Path(__file__).resolve().parents[2]
ARGV = ["-P0", "-p1-100", "10.254.0.11"]


def test_nmap_4_and_nmap_7_wordings_mean_the_same() -> None:
    old_all = seed_scan(
        (
            "All 100 scanned ports on ec2-203-0-113-5.compute-1.amazonaws.com  (203.0.113.5) "
            "are: filtered",
            "Nmap finished: 1 IP address (1 host up) scanned in 31.008 seconds",
        ),
        ARGV,
    )
    new_all = seed_scan(
        (
            "All 100 scanned ports on 10.254.0.11 are in ignored states.",
            "Not shown: 100 filtered tcp ports (no-response)",
            "Nmap done: 1 IP address (1 host up) scanned in 0.27 seconds",
        ),
        ARGV,
    )
    assert old_all == new_all
    assert old_all.host_up and set(old_all.ports.values()) == {"filtered"}
    assert len(old_all.ports) == 100

    old_one = seed_scan(
        (
            "(The 99 ports scanned but not shown are in state: filtered)",
            "PORT   STATE SERVICE",
            "22/tcp open  ssh",
            "Nmap finished: 1 IP address (1 host up) scanned in 32.705 seconds",
        ),
        ARGV,
    )
    new_one = seed_scan(
        (
            "Not shown: 99 filtered tcp ports (no-response)",
            "PORT   STATE SERVICE",
            "22/tcp open  ssh",
            "Nmap done: 1 IP address (1 host up) scanned in 0.26 seconds",
        ),
        ARGV,
    )
    assert old_one == new_one
    assert old_one.ports["22/tcp"] == "open" and old_one.ports["23/tcp"] == "filtered"
    assert old_one.describe() == "host up; 22/tcp open; 99 ports filtered"


def test_scan_differences_are_named_port_by_port() -> None:
    seed = ScanMeaning(True, {"22/tcp": "open", "80/tcp": "filtered"})
    seen = ScanMeaning(False, {"22/tcp": "filtered", "80/tcp": "filtered"})
    assert compare_scans(seed, seen) == (
        "the seed has the host up, nmap saw it down; 22/tcp: the seed shows open, nmap saw filtered"
    )
    assert compare_scans(seed, seed) is None


def test_ec2_output_is_compared_by_meaning() -> None:
    seed = (
        "GROUP   sg-2eac845a ",
        "PERMISSION    ALLOWS  tcp  22  22  FROM  CIDR  203.0.113.7/32  ingress",
    )
    ours = [
        "GROUP\tsg-c71ed9f8\t111122223333\tdefault",
        "PERMISSION\t111122223333\tdefault\tALLOWS\ttcp\t22\t22\tFROM\tCIDR\t203.0.113.7/32\tingress",
    ]
    assert compare_ec2(seed, ours) is None
    wrong_port = [ours[0], ours[1].replace("\t22\t22", "\t23\t23")]
    assert compare_ec2(seed, wrong_port) == (
        "no output line carries the seed's 'PERMISSION ALLOWS tcp 22 22 FROM CIDR "
        "203.0.113.7/32 ingress'"
    )
    assert compare_ec2(seed, ours[:1]) == (
        "the seed shows lines ['GROUP', 'PERMISSION'], the command printed ['GROUP']"
    )


def test_telnet_outcomes() -> None:
    assert (
        scenario_file.seed_connection(("Trying 203.0.113.12...", "Connected to x.")) is State.OPEN
    )
    assert scenario_file.telnet_lines("10.0.0.1", State.OPEN)[1] == "Connected to 10.0.0.1."


@pytest.mark.parametrize("name", ["default-group", "three-tier"])
def test_shipped_scenarios_load(name: str) -> None:
    loaded = scenario_file.load(ROOT / "harness" / "scenarios" / f"{name}.yaml")
    assert loaded.name == name
    kinds = [step.kind for step in loaded.steps]
    assert "nmap" in kinds and kinds[-1] == "matrix"
    for step in loaded.steps:
        if step.kind == "nmap":
            assert step.seed and step.source and step.target
            assert scenario_file.scanned_ports(step.argv) == [f"{p}/tcp" for p in range(1, 101)]


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ("  - {run: ls -l}", "steps[0]: run 'ls': a step runs an ec2-* command, nmap or telnet"),
        ("  - {run: nmap -p22 x}", "steps[0]: a nmap step needs 'from' and 'to'"),
        ("  - {check: tcp/22, from: a, to: b}", "steps[0]: a check step needs 'expect'"),
        ("  - {matrix: true, colour: red}", "steps[0]: unknown key 'colour'"),
        (
            "  - {check: tcp/22, from: a, to: b, expect: shut}",
            "steps[0]: expect 'shut' must be open, closed or filtered",
        ),
    ],
)
def test_bad_steps_are_one_line_errors(tmp_path: Path, body: str, problem: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("scenario: bad\nsteps:\n" + body + "\n")
    with pytest.raises(TopologyError) as err:
        scenario_file.load(path)
    assert str(err.value).startswith(f"{path}:3: {problem}")
    assert "\n" not in str(err.value)
