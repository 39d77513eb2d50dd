"""``sgh lab``, ``sgh host``, ``sgh matrix``, ``sgh serve``, ``sgh key``: persistent labs."""

from __future__ import annotations

import argparse

from harness import cloud as ec2cloud
from harness import ec2
from harness.livelab import PersistentLab
from harness.progress import Progress
from harness.store import DEFAULT_LAB, Home

EXIT_OK, EXIT_DISAGREE = 0, 1


def dispatch(args: argparse.Namespace) -> int:
    home = Home(args.home)
    if args.command == "key":
        return _key_add(home, args.account)
    progress = Progress(enabled=not getattr(args, "quiet", False))
    if args.command == "lab":
        if args.lab_command == "up":
            return _up(home, args.name, progress)
        if args.lab_command == "down":
            return _down(home, args.name, progress)
        return _status(home, args.lab)
    lab = PersistentLab(home, home.resolve(args.lab))
    try:
        if args.command == "host":
            return _host(lab, args, progress)
        if args.command == "matrix":
            return _matrix(lab, args, progress)
        from harness.api import serve

        return serve(lab, args.host, args.port, args.require_auth)
    finally:
        lab.close()


def _up(home: Home, name: str | None, progress: Progress) -> int:
    import os

    chosen = name or os.environ.get("SGH_LAB") or home.current() or DEFAULT_LAB
    lab = PersistentLab(home, chosen, create=True)
    try:
        live = lab.up(progress)
        home.set_current(lab.name)
        status = lab.status()
    finally:
        lab.close()
    print(
        f"lab '{lab.name}' is up ({home.path}): {status['instances']} instances, "
        f"{len(status['hosts'])} hosts, {status['groups']} groups; "
        f"{len(live.pids) + 1} containers running"
    )
    print(f"'{lab.name}' is now the current lab; ec2-* commands and 'sgh serve' act on it")
    return EXIT_OK


def _down(home: Home, name: str | None, progress: Progress) -> int:
    lab = PersistentLab(home, home.resolve(name))
    try:
        removed = lab.down(progress)
    finally:
        lab.close()
    print(f"lab '{lab.name}' is down: removed {removed} containers (its state is kept)")
    return EXIT_OK


def _status(home: Home, name: str | None) -> int:
    lab = PersistentLab(home, home.resolve(name))
    try:
        status = lab.status()
    finally:
        lab.close()
    current = " (current)" if home.current() == lab.name else ""
    print(f"lab:        {status['lab']}{current}")
    print(f"home:       {status['home']}")
    print(f"state:      {status['state']}")
    print(f"accounts:   {', '.join(status['accounts']) or '-'}")
    print(f"groups:     {status['groups']} ({status['rules']} rules)")
    print(f"instances:  {status['instances']} running, {status['terminated']} terminated")
    print(f"hosts:      {', '.join(status['hosts']) or '-'}")
    if status["state"] == "up":
        print(f"containers: {status['containers']} of {status['containers_expected']} running")
        if status["missing"]:
            print(f"missing:    {', '.join(status['missing'])} ('sgh lab up' recreates them)")
    if status["extra"]:
        print(f"extra:      {', '.join(status['extra'])} ('sgh lab up' removes them)")
    return EXIT_OK


def _host(lab: PersistentLab, args: argparse.Namespace, progress: Progress) -> int:
    if args.host_command == "add":
        host = lab.act(lambda c: ec2cloud.add_host(c, args.name, args.address), progress)
        print(f"host {host.name} {host.address} added to lab '{lab.name}'")
    else:
        host = lab.act(lambda c: ec2cloud.remove_host(c, args.name), progress)
        print(f"host {host.name} removed from lab '{lab.name}'")
    return EXIT_OK


def _matrix(lab: PersistentLab, args: argparse.Namespace, progress: Progress) -> int:
    from harness.cli import make_prober, output_path, report_matrix

    prober = make_prober(args.prober, args.timeout)
    json_path = output_path("--json", args.json)
    junit_path = output_path("--junit", args.junit)
    lab.runtime.check()
    return report_matrix(lab.matrix(prober, progress), json_path, junit_path)


def _key_add(home: Home, account: str) -> int:
    ec2.check_account(account)
    access, secret = home.add_key(account)
    print(f"KEY\t{access}\t{secret}\t{account}")
    return EXIT_OK
