"""Real labs: Docker containers, nftables policies, packets. Each cell asserted is observed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from nodes import count, leftovers

from harness.adapters.docker_runtime import DockerRuntime
from harness.adapters.probers import scapy_lanes, scapy_prober
from harness.core.planner import plan
from harness.core.runtime import Runtime
from harness.faces.sgh.main import main
from harness.formats import topology_file
from harness.lab import measure

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent


def run_lab(
    path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], *extra: str
) -> tuple[int, Any, str]:
    out = tmp_path / "matrix.json"
    status = main(["run", str(path), "--json", str(out), "--quiet", *extra])
    printed = capsys.readouterr().out
    return status, json.loads(out.read_text()), printed


def observed(doc: Any) -> dict[tuple[str, str, str], str]:
    table = {}
    for cell in doc["cells"]:
        probe = cell["protocol"] if cell["port"] is None else f"{cell['protocol']}/{cell['port']}"
        table[(cell["from"], cell["to"], probe)] = cell["observed"]
    return table


def test_three_tier(
    runtime: Runtime,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Probed in three lanes (forked processes, each with its own sources), as a big lab is."""
    monkeypatch.setattr(scapy_prober, "LANES", 3)
    monkeypatch.setattr(scapy_lanes, "LANE_MINIMUM", 1)
    status, doc, printed = run_lab(ROOT / "topologies/three-tier.yaml", tmp_path, capsys)
    assert doc["summary"]["incorrect"] == 0 and doc["summary"]["not_run"] == 0, printed
    assert status == 0
    cells = doc["summary"]["cells"]
    assert (
        printed.rstrip().splitlines()[-1]
        == f"{cells} cells: {cells} correct, 0 incorrect, 0 not run"
    )
    seen = observed(doc)
    assert seen[("internet", "web-1", "tcp/80")] == "open"
    assert seen[("internet", "web-1", "tcp/22")] == "filtered"
    assert seen[("workstation", "app-3", "tcp/8080")] == "filtered"
    assert seen[("web-2", "app-3", "tcp/8080")] == "open"
    assert seen[("web-2", "app-3", "tcp/1")] == "closed"
    assert seen[("web-2", "app-3", "udp/1")] == "closed"
    assert seen[("web-2", "app-3", "icmp")] == "open"
    assert seen[("app-20", "db-2", "tcp/3306")] == "open"
    assert seen[("web-7", "db-1", "tcp/3306")] == "filtered"
    assert seen[("app-1", "app-2", "tcp/8080")] == "filtered"
    assert not leftovers(runtime, "three-tier")
    nodes = {node["name"]: node for node in doc["nodes"]}
    assert nodes["web-1"]["groups"] == ["apache"] and nodes["internet"]["kind"] == "host"


def test_three_tier_shared_out(
    runtime: Runtime,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Shared out over three workers (forked processes, each planning, probing and comparing
    the cells of a third of the sources), as a big lab is: the same verdicts, in plan order."""
    monkeypatch.setattr(measure, "SPLIT_PAIRS", 1)
    monkeypatch.setattr(measure, "WORKERS", 3)
    status, doc, printed = run_lab(ROOT / "topologies/three-tier.yaml", tmp_path, capsys)
    assert doc["summary"]["incorrect"] == 0 and doc["summary"]["not_run"] == 0, printed
    assert status == 0
    topology = topology_file.load(ROOT / "topologies/three-tier.yaml")
    planned = [(c.source, c.target, str(c.probe)) for c in plan(topology)]
    assert list(observed(doc)) == planned  # every cell, in plan order
    seen = observed(doc)
    assert seen[("internet", "web-1", "tcp/80")] == "open"
    assert seen[("workstation", "app-3", "tcp/8080")] == "filtered"
    assert seen[("web-2", "app-3", "tcp/1")] == "closed"
    assert seen[("app-20", "db-2", "tcp/3306")] == "open"
    assert not leftovers(runtime, "three-tier")


def test_vpc_three_tier(
    runtime: Runtime, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The shipped VPC topology, as the VPC guide walks through it."""
    status, doc, printed = run_lab(ROOT / "topologies/vpc-three-tier.yaml", tmp_path, capsys)
    assert doc["summary"]["incorrect"] == 0 and doc["summary"]["not_run"] == 0, printed
    assert status == 0
    seen = {(c["from"], c["to"], c["protocol"], c["port"], c["address"]): c for c in doc["cells"]}

    def state(source: str, target: str, port: int, address: str) -> str:
        return str(seen[(source, target, "tcp", port, address)]["observed"])

    assert state("internet", "web-1", 80, "192.0.2.11") == "open"  # the public door
    assert state("internet", "web-1", 80, "2001:db8:0:100::b") == "open"  # and over IPv6
    assert state("web-1", "web-2", 80, "10.0.1.12") == "filtered"  # web's egress
    assert state("web-1", "app-1", 8080, "10.0.2.11") == "open"
    assert state("bastion", "web-1", 22, "10.0.1.11") == "open"
    hairpin = seen[("bastion", "web-1", "tcp", 22, "192.0.2.11")]
    assert hairpin["observed"] == "filtered" and "public address" in hairpin["why"]
    assert state("workstation", "web-1", 22, "2001:db8:0:100::b") == "filtered"  # IPv4 list
    private = [c for c in doc["cells"] if c["from"] == "internet" and c["to"][:3] in ("app", "db-")]
    assert not private  # private subnets: the internet has no address of theirs to try
    assert not leftovers(runtime, "vpc-three-tier")


def test_vpc_three_tier_by_behaviour_class(
    runtime: Runtime, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--plan classes``: every pair and address is still probed, once per class, and the
    packets agree with the rules."""
    path = ROOT / "topologies/vpc-three-tier.yaml"
    status, doc, printed = run_lab(path, tmp_path, capsys, "--plan", "classes")
    assert doc["summary"]["incorrect"] == 0 and doc["summary"]["not_run"] == 0, printed
    assert status == 0
    full = plan(topology_file.load(path))
    pairs = {(c["from"], c["to"], c["address"]) for c in doc["cells"]}
    assert pairs == {(c.source, c.target, c.address) for c in full}
    assert len(pairs) < len(doc["cells"]) < len(full)
    seen = {(c["from"], c["to"], c["address"]): c for c in doc["cells"] if c["port"] == 80}
    assert seen[("internet", "web-1", "192.0.2.11")]["observed"] == "open"
    assert not leftovers(runtime, "vpc-three-tier")


def test_default_group(
    runtime: Runtime, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, doc, printed = run_lab(ROOT / "topologies/default-group.yaml", tmp_path, capsys)
    assert status == 0, printed
    seen = observed(doc)
    # Albert's nmap -p1-100 from his machine: 22/tcp open, the other 99 filtered.
    scan = {port: seen[("albert", "albert-instance", f"tcp/{port}")] for port in range(1, 101)}
    assert scan[22] == "open"
    assert {state for port, state in scan.items() if port != 22} == {"filtered"}
    assert seen[("internet", "albert-instance", "tcp/22")] == "filtered"
    assert seen[("albert", "albert-instance", "icmp")] == "filtered"


def test_features(runtime: Runtime, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, doc, printed = run_lab(HERE / "topologies/features.yaml", tmp_path, capsys)
    assert status == 0, printed
    seen = observed(doc)
    expected = {
        # a port range's edges, and the ports just outside it
        ("inside", "front", "tcp/8000"): "open",
        ("inside", "front", "tcp/8080"): "open",
        ("inside", "front", "tcp/7999"): "filtered",
        ("inside", "front", "tcp/8081"): "filtered",
        # allowed but nothing listens
        ("inside", "front", "tcp/8050"): "closed",
        # UDP: a reply is open, an ICMP port unreachable closed, nothing filtered
        ("inside", "front", "udp/53"): "open",
        ("inside", "front", "udp/54"): "filtered",
        ("node-1", "node-2", "udp/5353"): "open",
        ("node-1", "node-2", "udp/1"): "closed",
        # CIDR boundaries: 203.0.113.7 is in 203.0.113.0/29, .8 is not
        ("outside", "front", "tcp/8000"): "filtered",
        ("outside", "front", "udp/53"): "filtered",
        # an instance in several groups: icmp from the 'ping' group, tcp from 'web'
        ("inside", "front", "icmp"): "open",
        ("outside", "front", "icmp"): "filtered",
        # a group referencing itself, and another group
        ("node-1", "node-2", "tcp/5432"): "open",
        ("node-2", "node-1", "icmp"): "open",
        ("front", "node-1", "tcp/5432"): "open",
        ("front", "node-1", "tcp/1"): "filtered",
        ("vault", "node-1", "tcp/5432"): "filtered",
        # statefulness: 'vault' allows nothing inbound, yet its replies come back
        ("vault", "front", "tcp/8080"): "open",
        ("vault", "front", "udp/53"): "open",
        ("inside", "vault", "tcp/22"): "filtered",
        ("node-1", "vault", "icmp"): "filtered",
    }
    assert {key: seen[key] for key in expected} == expected


def test_failed_run_leaves_nothing(
    runtime: Runtime, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    topology = tmp_path / "broken.yaml"
    topology.write_text(
        "name: sgh-broken\n"
        "instances:\n"
        "  - {name: ok, count: 3, listen: [tcp/22]}\n"
        "  - {name: dies, image: 'sgh-instance:latest', command: ['nonsense/1'], listen: [tcp/1]}\n"
    )
    status = main(["run", str(topology), "--quiet"])
    err = capsys.readouterr().err
    assert status == 2
    assert "dies" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert leftovers(runtime, "sgh-broken") == []


@pytest.mark.docker_only  # a netns run is built before a person could press Ctrl-C
def test_interrupt_removes_the_lab(runtime: Runtime) -> None:
    """Ctrl-C while the containers start: the command exits 130 and removes what it made."""
    import signal
    import subprocess
    import sys
    import time

    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "harness.faces.sgh.main",
            "run",
            str(ROOT / "topologies/three-tier.yaml"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while count(runtime, "three-tier") < 3:
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "no container appeared"
            time.sleep(0.05)
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    assert leftovers(runtime, "three-tier") == []


@pytest.mark.docker_only
def test_instance_image_carries_none_of_the_harness_tools(runtime: Runtime) -> None:
    """Policies and probes work from the host: the instance image has no nft, ip, nmap, scapy."""
    assert isinstance(runtime, DockerRuntime)
    output = runtime.client.containers.run(
        "sgh-instance:latest",
        [
            "-c",
            "for t in nft ip nmap iptables; do command -v $t || echo no-$t; done; "
            "python3 -c 'import scapy' 2>/dev/null || echo no-scapy",
        ],
        entrypoint="/bin/sh",
        network_mode="none",
        remove=True,
        labels={"sg-harness.lab": "sgh-image-check"},
    ).decode()
    assert output.split() == ["no-nft", "no-ip", "no-nmap", "no-iptables", "no-scapy"]
