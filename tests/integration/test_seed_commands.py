"""The seed's walkthroughs typed command by command through the ``ec2-*`` commands.

Each command's output is compared with the seed's lines (``seed_walkthroughs.txt``, verbatim):
ids, owners, dates and addresses are normalised, and every seed line must be found, in order of
its fields, in a distinct output line of the same kind. Fields the seed prints and the lab does
not model are dropped from the seed's side: public DNS names and public addresses (lab instances
have only private ones) and the BLOCKDEVICE line (no EBS). The 2009 tools' ``GRPNAME`` reads as
the 1.5/1.6 tools' ``NAME``. Between commands, probes check what the seed checks with nmap and
telnet.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from persistent import Shell, cell

SEED = Path(__file__).with_name("seed_walkthroughs.txt")
KINDS = ("GROUP", "PERMISSION", "RESERVATION", "INSTANCE", "BLOCKDEVICE", "RETURN")


def walkthrough(name: str) -> list[tuple[str, list[str]]]:
    """``[(command, seed output lines)]`` of one walkthrough, wrapped lines joined."""
    steps: list[tuple[str, list[str]]] = []
    current = ""
    for raw in SEED.read_text().splitlines():
        if raw.startswith("## "):
            current = raw[3:].strip()
            continue
        if current != name or raw.startswith("#") or not raw.strip():
            continue
        if raw.startswith("PROMPT>"):
            steps.append((raw.removeprefix("PROMPT>").strip(), []))
        elif raw.split()[0] in KINDS or not steps[-1][1]:
            steps[-1][1].append(raw)
        else:
            steps[-1][1][-1] += "\t" + raw  # a wrapped line
    return steps


def normalize(line: str) -> list[str]:
    tokens = []
    for raw in line.split():
        token = raw
        if re.fullmatch(r"ec2-[\d-]+\.compute-1\.amazonaws\.com|203\.0\.113\.\d+", token):
            continue  # public name and address: not modelled
        if token.endswith(".ec2.internal"):
            continue  # the lab's private DNS name: not in the seed's lines
        for pattern, replacement in (
            (r"sg-[0-9a-f]{8}", "<sg>"),
            (r"i-[0-9a-f]{8}", "<i>"),
            (r"r-[0-9a-f]{8}", "<r>"),
            (r"\d{12}", "<account>"),
            (r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+0000", "<date>"),
            (r"10\.254\.\d+\.\d+", "<private-ip>"),
            (r"GRPNAME", "NAME"),
        ):
            if re.fullmatch(pattern, raw):
                token = replacement
                break
        tokens.append(token)
    return tokens


def is_subsequence(needle: list[str], haystack: list[str]) -> bool:
    it = iter(haystack)
    return all(token in it for token in needle)


def compare(command: str, seed: list[str], output: list[str]) -> None:
    expected = [normalize(line) for line in seed if not line.startswith("BLOCKDEVICE")]
    observed = [normalize(line) for line in output]
    kinds = sorted(tokens[0] for tokens in expected)
    assert sorted(tokens[0] for tokens in observed) == kinds, (
        f"{command}: the seed shows lines {kinds}, the command printed:\n" + "\n".join(output)
    )
    unused = list(observed)
    for want in expected:
        match = next((got for got in unused if is_subsequence(want, got)), None)
        assert match is not None, (
            f"{command}: no output line carries the seed's\n  {' '.join(want)}\n"
            "output:\n" + "\n".join(output)
        )
        unused.remove(match)


def replay(
    shell: Shell, steps: list[tuple[str, list[str]]], substitutions: dict[str, str]
) -> dict[str, list[str]]:
    """Run commands, comparing each output with the seed's; returns the output lines. The
    seed's instance ids stand for the lab's (in launch order) in later commands."""
    outputs: dict[str, list[str]] = {}
    for command, seed in steps:
        argv = [substitutions.get(arg, arg) for arg in shlex.split(command)]
        lines = shell.run(*argv).stdout.splitlines()
        if seed:
            compare(command, seed, lines)
        outputs[command] = lines
        if argv[0] in ("ec2-run-instances", "ec2-run") and seed:
            seed_ids = [s.split()[1] for s in seed if s.startswith("INSTANCE")]
            ours = [line.split("\t")[1] for line in lines if line.startswith("INSTANCE")]
            substitutions.update(zip(seed_ids, ours, strict=True))
    return outputs


def first_instance(lines: list[str]) -> str:
    return next(line.split("\t")[1] for line in lines if line.startswith("INSTANCE"))


def test_albert_modifies_the_default_group(tmp_path: Path) -> None:
    shell = Shell(tmp_path / "home", "albert")
    shell.run("sgh", "lab", "up", "albert", "-q")
    try:
        shell.run("sgh", "host", "add", "albert", "203.0.113.7", "-q")
        steps = walkthrough("albert")
        assert [c for c, _ in steps] == [
            "ec2-run-instances ami-eca54085",
            "ec2-describe-group default",
            "ec2-authorize default -P tcp -p 22 -s 203.0.113.7/32",
        ]
        outputs = replay(shell, steps, {})
        instance = first_instance(outputs["ec2-run-instances ami-eca54085"])
        after = shell.matrix(tmp_path)
        assert after["exit"] == 0, after["text"]
        assert cell(after, "albert", instance, "tcp/22")["observed"] == "open"
        assert cell(after, "albert", instance, "tcp/80")["observed"] == "filtered"
        # Before his rule (revoked again here), Albert's scan saw every port filtered.
        shell.run("ec2-revoke", "default", "-P", "tcp", "-p", "22", "-s", "203.0.113.7/32")
        before = shell.matrix(tmp_path)
        assert before["exit"] == 0, before["text"]
        assert cell(before, "albert", instance, "tcp/22")["observed"] == "filtered"
    finally:
        shell.run("sgh", "lab", "down", "-q")


def test_mary_builds_her_three_tier_service(tmp_path: Path) -> None:
    shell = Shell(tmp_path / "home", "mary")
    shell.run("sgh", "lab", "up", "mary", "-q")
    try:
        shell.run("sgh", "host", "add", "workstation", "203.0.113.19", "-q")
        shell.run("sgh", "host", "add", "internet", "198.51.100.10", "-q")
        mary = walkthrough("mary")
        assert [command for command, _ in mary[-2:]] == [
            "ec2-authorize apache -P tcp -p 22 -s 203.0.113.19/32",
            "ec2-revoke apache -P tcp -p 22 -s 203.0.113.19/32",
        ]
        # Everything up to the temporary SSH rule, with the seed's output compared.
        substitutions: dict[str, str] = {}
        outputs = replay(shell, mary[:-2], substitutions)
        web = substitutions["i-cfd732a6"]
        app = first_instance(outputs["ec2-run ami-e3a5408a -n 20 -g appserver"])
        shown = shell.matrix(tmp_path)
        assert shown["exit"] == 0, shown["text"]
        assert cell(shown, "internet", web, "tcp/80")["observed"] == "open"
        assert cell(shown, "workstation", app, "tcp/22")["observed"] == "filtered"
        assert cell(shown, web, app, "tcp/8080")["observed"] == "open"  # her telnet
        # Step 9: the temporary SSH rule, then its revocation.
        replay(shell, [mary[-2]], substitutions)
        during = shell.matrix(tmp_path)
        assert cell(during, "workstation", web, "tcp/22")["observed"] == "open"
        replay(shell, [mary[-1]], substitutions)
        # Step 10: the database tier, the same way.
        shell.run("ec2-create-group", "dbserver", "-d", "Mary's database servers")
        shell.run("ec2-run-instances", "ami-f1a54098", "-n", "2", "-g", "dbserver")
        shell.run("ec2-authorize", "dbserver", "-o", "appserver", "-u", "111122223333")
        final = shell.matrix(tmp_path)
        assert final["exit"] == 0, final["text"]
        assert cell(final, "workstation", web, "tcp/22")["observed"] == "filtered"
        assert final["summary"]["cells"] == 4560  # the same matrix as topologies/three-tier.yaml
        groups = shell.run("ec2-describe-group").stdout
        assert "203.0.113.19" not in groups
    finally:
        shell.run("sgh", "lab", "down", "-q")
