"""The nmap prober: a second, independent verdict on a lab, from nmap's own scans.

For every source, nmap runs inside the source's network namespace (``nsenter --net``) and its
XML is read with ElementTree. TCP cells come from a SYN scan (``open``, ``closed``,
``filtered``); UDP cells from a UDP scan, where nmap's ``open|filtered`` (no answer at all) is
read as ``filtered``, since a lab server answers every datagram; ICMP cells from an echo ping
(``-sn -PE``: host up is ``open``, no reply ``filtered``). Targets that share a port list are
scanned by one nmap run; the sources' runs go in parallel.

nmap's default timing waits about a second per unanswered probe and retries it. A lab network
has sub-millisecond round trips and loses nothing, so ``TUNING`` caps the wait for an answer
and allows one retry: a filtered port costs tens of milliseconds instead of seconds. Cells
that still disagree with the oracle are probed once more by the caller, as for scapy.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

from harness.core.model import Protocol, State
from harness.core.planner import Cell
from harness.core.probing import ByCell, Observation, ProbeJob, SourceBatch
from harness.errors import LabError, PrerequisiteError

# Lab round trips are well under a millisecond; nothing is lost but what a policy drops.
TUNING = (
    "-n",
    "--max-retries",
    "1",
    "--initial-rtt-timeout",
    "50ms",
    "--max-rtt-timeout",
    "100ms",
    "--min-rate",
    "2000",
    "--host-timeout",
    "120s",
)
STATES = {
    "open": State.OPEN,
    "closed": State.CLOSED,
    "filtered": State.FILTERED,
    "open|filtered": State.FILTERED,
    "closed|filtered": State.FILTERED,
    "unfiltered": State.OPEN,
}


@dataclass(frozen=True)
class Scan:
    """One nmap run: what its XML says (:func:`read_xml`), and nmap's own text output."""

    result: dict[str, Any]
    text: str

    def host(self, address: str) -> dict[str, Any] | None:
        hosts: dict[str, Any] = self.result.get("scan", {})
        found: dict[str, Any] | None = hosts.get(address)
        return found

    def port_state(self, address: str, protocol: str, port: int) -> str | None:
        """nmap's word for a port (``open``, ``filtered``, ...), None when not scanned."""
        host = self.host(address)
        if host is None:
            return None
        entry = host.get(protocol, {}).get(port)
        return None if entry is None else str(entry["state"])

    def verdict(self, address: str, protocol: str, port: int) -> tuple[State, str] | None:
        """The verdict nmap's word for a port means, and the word (``open|filtered`` is
        ``filtered``: a lab server answers every datagram); None when not scanned."""
        word = self.port_state(address, protocol, port)
        return None if word is None else (STATES.get(word, State.NOT_RUN), word)

    def host_up(self, address: str) -> bool:
        host = self.host(address)
        return host is not None and host.get("status", {}).get("state") == "up"


def _nmap() -> str:
    found = shutil.which("nmap")
    if found is None:
        raise PrerequisiteError("nmap is not installed ('sgh doctor --nmap --fix' installs it)")
    return found


def scan(netns_path: str, argv: list[str], timeout: float = 300) -> Scan:
    """Run ``nmap ARGV`` inside a network namespace and read the XML it writes."""
    nmap = _nmap()
    with (
        tempfile.NamedTemporaryFile("r", suffix=".nmap") as normal,
        tempfile.NamedTemporaryFile("r", suffix=".xml") as xml,
    ):
        command = ["nsenter", f"--net={netns_path}", "--", nmap]
        command += ["-oX", xml.name, "-oN", normal.name, *argv]
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, timeout=timeout, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as err:
            raise LabError(f"nmap {' '.join(argv)}: {err}") from None
        document = Path(xml.name).read_text(encoding="utf-8", errors="replace")
        if done.returncode != 0 or not document.strip():
            message = (done.stderr or done.stdout).strip().replace("\n", " | ")
            raise LabError(f"nmap {' '.join(argv)} failed: {message[:400]}")
        try:
            parsed = read_xml(document)
        except ElementTree.ParseError as err:
            raise LabError(f"nmap {' '.join(argv)}: unreadable XML: {err}") from None
        text = Path(normal.name).read_text(encoding="utf-8", errors="replace")
    return Scan(parsed, text)


def read_xml(document: str) -> dict[str, Any]:
    """nmap's XML as ``{"scan": {address: {"status": {"state"}, "tcp": {port: {"state",
    "reason", "name"}}, ...}}}``: each host by its IPv4 address (else its first), each port
    it printed, and the ports it folded into ``extraports`` ("Not shown: 99 filtered tcp
    ports"), from their ``extrareasons``."""
    root = ElementTree.fromstring(document)
    hosts: dict[str, Any] = {}
    for host in root.iter("host"):
        address = host.find("address[@addrtype='ipv4']")
        if address is None:
            address = host.find("address")
        if address is None:
            continue
        status = host.find("status")
        entry: dict[str, Any] = {
            "status": {"state": "" if status is None else status.get("state", "")}
        }
        for port in host.iterfind("ports/port"):
            state = port.find("state")
            service = port.find("service")
            entry.setdefault(port.get("protocol", "tcp"), {})[int(port.get("portid", "0"))] = {
                "state": "" if state is None else state.get("state", ""),
                "reason": "" if state is None else state.get("reason", ""),
                "name": "" if service is None else service.get("name", ""),
            }
        for extra in host.iter("extraports"):
            word = extra.get("state", "")
            for reasons in extra.iter("extrareasons"):
                ports = entry.setdefault(reasons.get("proto", "tcp"), {})
                for number in _expand(reasons.get("ports", "")):
                    ports.setdefault(
                        number, {"state": word, "reason": reasons.get("reason", ""), "name": ""}
                    )
        hosts[address.get("addr", "")] = entry
    return {"scan": hosts}


def _expand(ports: str) -> list[int]:
    """``1-21,23-100`` -> the ports."""
    result: list[int] = []
    for part in filter(None, ports.split(",")):
        low, _, high = part.partition("-")
        result.extend(range(int(low), int(high or low) + 1))
    return result


def _port_list(jobs: list[ProbeJob]) -> str:
    """nmap's ``-p`` for these jobs: ``T:22,80,U:53``."""
    parts = []
    for protocol, letter in ((Protocol.TCP, "T"), (Protocol.UDP, "U")):
        ports = sorted(
            {
                job.cell.probe.port
                for job in jobs
                if job.cell.probe.protocol is protocol and job.cell.probe.port is not None
            }
        )
        if ports:
            parts.append(f"{letter}:" + ",".join(str(port) for port in ports))
    return ",".join(parts)


class NmapProber(ByCell):
    """Probes a lab with nmap, one or more nmap runs per source, sources in parallel."""

    name = "nmap"
    picks_source_ports = True  # nmap's own: refused on labs with network ACLs (measure.py)

    def __init__(self, parallel: int | None = None) -> None:
        self.parallel = parallel or max(2, 2 * (os.cpu_count() or 1))

    def run(
        self,
        batches: list[SourceBatch],
        round_number: int = 0,
        on_verdict: Callable[[int], None] | None = None,
    ) -> dict[Cell, Observation]:
        _nmap()  # a missing nmap is named before any scan starts
        results: dict[Cell, Observation] = {}
        with ThreadPoolExecutor(max_workers=self.parallel) as pool:
            for observed in pool.map(self._source, batches):
                results.update(observed)
                if on_verdict is not None:
                    on_verdict(len(observed))
        return results

    def _source(self, batch: SourceBatch) -> dict[Cell, Observation]:
        results: dict[Cell, Observation] = {}
        by_target: dict[str, list[ProbeJob]] = {}
        for job in batch.jobs:
            by_target.setdefault(job.target_address, []).append(job)
        runs: list[tuple[list[str], list[ProbeJob]]] = []
        # ICMP echo: one ping sweep of every target the batch pings.
        pinged = [job for job in batch.jobs if job.cell.probe.protocol is Protocol.ICMP]
        if pinged:
            targets = sorted({job.target_address for job in pinged})
            runs.append((["-sn", "-PE", "--disable-arp-ping", *TUNING, *targets], pinged))
        # Ports: targets with the same port list share a run.
        by_ports: dict[str, list[str]] = {}
        for address, jobs in by_target.items():
            ports = _port_list(jobs)
            if ports:
                by_ports.setdefault(ports, []).append(address)
        for ports, addresses in by_ports.items():
            kinds = (["-sS"] if "T:" in ports else []) + (["-sU"] if "U:" in ports else [])
            jobs = [
                job
                for address in addresses
                for job in by_target[address]
                if job.cell.probe.protocol is not Protocol.ICMP
            ]
            runs.append((["-Pn", *kinds, "-p", ports, *TUNING, *sorted(addresses)], jobs))
        for argv, jobs in runs:
            try:
                found = scan(batch.netns, argv)
            except LabError as err:
                for job in jobs:
                    results[job.cell] = Observation(State.NOT_RUN, str(err))
                continue
            for job in jobs:
                results[job.cell] = _verdict(found, job)
        return results


def _verdict(found: Scan, job: ProbeJob) -> Observation:
    probe = job.cell.probe
    if probe.protocol is Protocol.ICMP:
        if found.host_up(job.target_address):
            return Observation(State.OPEN, "nmap: host up (echo reply)")
        return Observation(State.FILTERED, "nmap: host down (no echo reply)")
    assert probe.port is not None
    seen = found.verdict(job.target_address, str(probe.protocol), probe.port)
    if seen is None:
        return Observation(State.NOT_RUN, "nmap did not report this port")
    state, word = seen
    return Observation(state, f"nmap: {word}")
