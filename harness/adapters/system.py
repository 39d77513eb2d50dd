"""What this machine needs for sg-harness, checked and, when asked, installed: one table for
``sgh doctor``, the runtimes' own checks and ``make setup``.

Standard library only, so that ``make setup`` can run it with the system's Python before any
virtual environment exists (``python3 -m harness.adapters.system --fix --dev``). Packages are
Debian's (``apt-get``); on another system the report names what is missing and ``--fix``
says it cannot install it.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

CORE = "every lab"
DOCKER = "--runtime docker"
NMAP = "--prober nmap"
DEV = "make test"
SCOPES = (CORE, DOCKER, NMAP, DEV)

NEIGHBOURS = {  # the kernel's ARP table is one for every namespace: 1024 entries by default
    "net.ipv4.neigh.default.gc_thresh1": 8192,
    "net.ipv4.neigh.default.gc_thresh2": 32768,
    "net.ipv4.neigh.default.gc_thresh3": 65536,
}
DOCKERD_LOG = Path("/var/log/sgh-dockerd.log")


def _tool(name: str) -> Callable[[], bool]:
    return lambda: shutil.which(name) is not None


def _library(name: str) -> Callable[[], bool]:
    def loads() -> bool:
        try:
            ctypes.CDLL(name)
        except OSError:
            return False
        return True

    return loads


def _sysctl(name: str) -> int | None:
    try:
        return int(Path("/proc/sys", *name.split(".")).read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _neighbours() -> bool:
    return all((_sysctl(name) or 0) >= value for name, value in NEIGHBOURS.items())


def _docker_answers() -> bool:
    if shutil.which("docker") is None:
        return False
    done = subprocess.run(["docker", "info"], capture_output=True, check=False, timeout=30)
    return done.returncode == 0


@dataclass(frozen=True)
class Need:
    """One thing the machine must have: what it is, for whom, how to tell, how to get it."""

    name: str
    scope: str  # who needs it: CORE, DOCKER, NMAP or DEV
    present: Callable[[], bool]
    package: str | None = None  # the Debian package that brings it
    fix: str = ""  # how --fix makes it so when no package does ("dockerd", "sysctl")
    advice: str = ""  # what to do when nothing can fix it


NEEDS = (
    Need("root", CORE, lambda: os.geteuid() == 0, advice="run as root (sudo): labs are namespaces"),
    Need("libnftables.so.1", CORE, _library("libnftables.so.1"), "libnftables1"),
    Need("nft", CORE, _tool("nft"), "nftables"),
    Need("ip", CORE, _tool("ip"), "iproute2"),
    Need("bridge", CORE, _tool("bridge"), "iproute2"),
    Need("nsenter", CORE, _tool("nsenter"), "util-linux"),
    Need("sysctl", CORE, _tool("sysctl"), "procps"),
    Need("neighbour table of 65536 entries", CORE, _neighbours, fix="sysctl"),
    Need("nmap", NMAP, _tool("nmap"), "nmap"),
    Need("dockerd", DOCKER, _tool("dockerd"), "docker.io"),
    Need("a Docker engine that answers", DOCKER, _docker_answers, fix="dockerd"),
    Need("debootstrap", DEV, _tool("debootstrap"), "debootstrap"),
    Need("docker-compose", DEV, _tool("docker-compose"), "docker-compose"),
    Need("chromium", DEV, _tool("chromium"), "chromium"),
    Need("busybox", DEV, _tool("busybox"), "busybox-static"),
)


def needs(scopes: Sequence[str]) -> list[Need]:
    return [need for need in NEEDS if need.scope in scopes]


def missing(scopes: Sequence[str]) -> list[Need]:
    """What the machine lacks of ``scopes``' needs (in the table's order)."""
    return [need for need in needs(scopes) if not need.present()]


def remedy(need: Need) -> str:
    """How a user gets what is missing, in words."""
    if need.package is not None:
        return f"apt-get install {need.package}"
    if need.fix == "sysctl":
        return "sysctl -w " + " ".join(f"{k}={v}" for k, v in NEIGHBOURS.items())
    if need.fix == "dockerd":
        return "start dockerd"
    return need.advice


def hint(lacking: Sequence[Need]) -> str:
    """One line for a runtime's refusal: what is missing and the command that fixes it."""
    names = ", ".join(need.name for need in lacking)
    return f"missing: {names}; 'sgh doctor' says how to get each ('sgh doctor --fix' does it)"


def _say(text: str) -> None:
    print(f"[doctor] {text}", file=sys.stderr)


def fix(lacking: Sequence[Need]) -> list[str]:
    """Install and start what is missing (root, Debian); what could not be fixed, in words."""
    if os.geteuid() != 0:
        return ["fixing needs root: run 'sudo sgh doctor --fix'"]
    packages = sorted({need.package for need in lacking if need.package is not None})
    failed: list[str] = []
    if packages:
        if shutil.which("apt-get") is None:
            failed.append(f"no apt-get here: install {' '.join(packages)} yourself")
        else:
            _say(f"installing Debian packages: {' '.join(packages)}")
            env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
            quiet = subprocess.DEVNULL
            subprocess.run(["apt-get", "update", "-qq"], env=env, stdout=quiet, check=False)
            done = subprocess.run(
                ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages],
                env=env,
                stdout=quiet,
                check=False,
            )
            if done.returncode != 0:
                failed.append(f"apt-get install {' '.join(packages)} failed")
    for need in lacking:
        if need.fix == "sysctl":
            _say("raising the kernel's neighbour table limits (one table for every namespace)")
            for name, value in NEIGHBOURS.items():
                Path("/proc/sys", *name.split(".")).write_text(f"{value}\n")
        elif need.fix == "dockerd" and not _docker_answers():
            failed += _start_dockerd()
    return failed


def _start_dockerd() -> list[str]:
    if shutil.which("dockerd") is None:
        return ["dockerd is not installed"]
    _say(f"no Docker engine answers: starting dockerd in the background (log: {DOCKERD_LOG})")
    with DOCKERD_LOG.open("ab") as log:
        subprocess.Popen(
            ["dockerd"], stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True
        )
    for _ in range(60):
        if _docker_answers():
            return []
        time.sleep(1)
    tail = DOCKERD_LOG.read_text(errors="replace").splitlines()[-5:]
    return ["dockerd did not come up; last lines of its log:", *tail]


def report(scopes: Sequence[str]) -> list[tuple[Need, bool]]:
    return [(need, need.present()) for need in needs(scopes)]


def main(argv: Sequence[str] | None = None, prog: str = "sgh doctor") -> int:
    """Say what the machine has and lacks; with --fix, get what it lacks. 0 when every need
    of the scopes asked for is met, 2 when one is not."""
    parser = argparse.ArgumentParser(prog=prog, description=main.__doc__)
    add_arguments(parser)
    return run(parser.parse_args(argv))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--fix", action="store_true", help="install and start what is missing")
    parser.add_argument(
        "--runtime",
        choices=("netns", "docker"),
        default="netns",
        help="the runtime to check for (docker also needs a Docker engine; default netns)",
    )
    parser.add_argument("--nmap", action="store_true", help="also check for --prober nmap")
    parser.add_argument(
        "--dev", action="store_true", help="everything, and the tools make test uses"
    )


def run(args: argparse.Namespace) -> int:
    scopes = [CORE]
    if args.runtime == "docker" or args.dev:
        scopes.append(DOCKER)
    if args.nmap or args.dev:
        scopes.append(NMAP)
    if args.dev:
        scopes.append(DEV)
    if args.fix:
        lacking = missing(scopes)
        for line in fix(lacking):
            print(f"cannot fix: {line}")
    for need, present in report(scopes):
        state = "ok" if present else "MISSING"
        advice = "" if present else f": {remedy(need)}"
        print(f"{state:<8}{need.name} (for {need.scope}){advice}")
    lacking = missing(scopes)
    if lacking:
        print(f"{len(lacking)} missing; 'sgh doctor --fix' installs what a package brings")
        return 2
    print("everything sg-harness needs is here")
    return 0


if __name__ == "__main__":
    sys.exit(main(prog="python -m harness.adapters.system"))
