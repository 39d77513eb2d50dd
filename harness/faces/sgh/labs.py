"""``sgh lab``, ``sgh host``, ``sgh matrix``, ``sgh serve``, ``sgh key``: persistent labs."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from harness.adapters import runtimes
from harness.adapters.sqlite_store import DEFAULT_LAB, Home
from harness.core.ec2 import rules as rulebook
from harness.core.ec2.actions.images import LISTEN_TAG, serves
from harness.core.matrix import CellResult
from harness.core.model import DEFAULT_ACCOUNT, Topology
from harness.core.planner import Cell
from harness.core.probing import Prober
from harness.core.runtime import LabKind
from harness.errors import LabNotFound
from harness.faces import exit_codes
from harness.faces.progress import Progress
from harness.faces.sgh.common import (
    add_by_port_option,
    add_html_option,
    add_json_options,
    add_junit_option,
    add_prober_option,
    add_runtime_option,
    make_prober,
    output_path,
    report_matrix,
)
from harness.lab.persistent import PersistentLab


def _progress(args: argparse.Namespace) -> Progress:
    return Progress(enabled=not getattr(args, "quiet", False))


@contextmanager
def _opened(home: Home, name: str, create: bool = False) -> Iterator[PersistentLab]:
    lab = PersistentLab(home, name, create=create)
    try:
        yield lab
    finally:
        lab.close()


def _nodes(lab: PersistentLab) -> str:
    """What the lab's nodes are: containers (Docker) or namespaces (netns)."""
    return "containers" if lab.runtime.name == "docker" else "namespaces"


def with_home(p: argparse.ArgumentParser, lab: bool = True) -> argparse.ArgumentParser:
    """A persistent lab command's --home (and --lab) and -q."""
    p.add_argument("--home", help="the labs' home directory (default: $SGH_HOME or ~/.sgh)")
    if lab:
        p.add_argument("--lab", help="the lab (default: $SGH_LAB, else the current lab)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    return p


def _add_lab(sub: Any) -> None:
    lab = sub.add_parser("lab", help="persistent labs: up, down, status, list, rm")
    lab_sub = lab.add_subparsers(dest="lab_command", required=True, metavar="ACTION")
    up_parser = with_home(
        lab_sub.add_parser("up", help="start (or repair) a lab and make it current"), False
    )
    up_parser.set_defaults(handler=up)
    add_runtime_option(up_parser)
    up_parser.add_argument(
        "name", nargs="?", help=f"the lab's name (default: current, else '{DEFAULT_LAB}')"
    )
    up_parser.add_argument(
        "--platform",
        choices=("ec2-classic", "vpc"),
        help="a new lab's accounts: ec2-classic (the seed's, the default: groups without a VPC "
        "id are Classic) or vpc (a default VPC per account); an existing lab keeps its own",
    )
    up_parser.add_argument(
        "--region",
        metavar="REGION",
        help="a new lab's region (default us-east-1): where its instances run; API calls "
        "signed for another region see that region's own groups and VPCs (control plane only)",
    )
    down_parser = with_home(
        lab_sub.add_parser("down", help="remove a lab's containers (state kept)"), False
    )
    down_parser.set_defaults(handler=down)
    down_parser.add_argument(
        "name", nargs="?", help="the lab (default: $SGH_LAB, else the current)"
    )
    with_home(lab_sub.add_parser("status", help="show a lab's state and containers")).set_defaults(
        handler=status
    )
    with_home(
        lab_sub.add_parser("list", help="every lab: persistent labs of the home, one-shot labs"),
        False,
    ).set_defaults(handler=list_labs)
    remove_parser = with_home(
        lab_sub.add_parser("rm", help="remove a persistent lab: its containers and its state"),
        False,
    )
    remove_parser.set_defaults(handler=remove)
    remove_parser.add_argument("name", help="the lab")


def up(args: argparse.Namespace) -> int:
    home = Home(args.home)
    chosen = args.name or os.environ.get("SGH_LAB") or home.current() or DEFAULT_LAB
    with _opened(home, chosen, create=True) as lab:
        if args.platform or args.region:
            lab.choose(args.platform, args.region)
        lab.use_runtime(args.runtime)
        done = lab.up(_progress(args))
        home.set_current(lab.name)
        status = lab.status()
    repaired = f"; repaired {len(done.plan.problems)} problems" if done.plan.problems else ""
    print(
        f"lab '{lab.name}' ({status.platform}, {status.region}) is up ({home.path}): "
        f"{status.instances} instances, "
        f"{len(status.hosts)} hosts, {status.groups} groups; "
        f"{len(done.namespaces.pids) + 1} {_nodes(lab)} running{repaired}"
    )
    print(f"'{lab.name}' is now the current lab; ec2-* commands and 'sgh serve' act on it")
    return exit_codes.OK


def down(args: argparse.Namespace) -> int:
    home = Home(args.home)
    with _opened(home, home.resolve(args.name)) as lab:
        removed = lab.down(_progress(args))
    print(f"lab '{lab.name}' is down: removed {removed} {_nodes(lab)} (its state is kept)")
    return exit_codes.OK


def remove(args: argparse.Namespace) -> int:
    home = Home(args.home)
    name = home.resolve(args.name)
    if name not in home.labs():
        known = ", ".join(home.labs()) or "none"
        raise LabNotFound(f"no lab named '{name}' in {home.path} to remove (labs: {known})")
    with _opened(home, name) as lab:
        removed = lab.down(_progress(args))
    home.remove(lab.name)
    print(f"lab '{lab.name}' removed: {removed} {_nodes(lab)} and its state in {home.path}")
    return exit_codes.OK


def status(args: argparse.Namespace) -> int:
    home = Home(args.home)
    with _opened(home, home.resolve(args.lab)) as lab:
        found = lab.status()
    current = " (current)" if home.current() == lab.name else ""
    print(f"lab:        {found.lab}{current}")
    print(f"home:       {found.home}")
    print(f"state:      {'up' if found.up else 'down'}")
    print(f"runtime:    {lab.runtime.name}")
    print(f"platform:   {found.platform}")
    print(f"region:     {found.region} (its instances run here)")
    for other in found.regions:
        print(f"region:     {other} (control plane only)")
    print(f"accounts:   {', '.join(found.accounts) or '-'}")
    print(f"groups:     {found.groups} ({found.rules} rules)")
    print(f"instances:  {found.instances} running, {found.terminated} terminated")
    print(f"hosts:      {', '.join(found.hosts) or '-'}")
    if found.up:
        print(f"{_nodes(lab) + ':':<11} {found.containers} of {found.containers_expected} running")
        for problem in found.problems:
            print(f"problem:    {problem}")
        if found.problems:
            print(f"            ('sgh lab up {lab.name}' repairs them)")
    return exit_codes.OK


def list_labs(args: argparse.Namespace) -> int:
    """Every lab: the home's persistent labs (up or down), and the one-shot labs running."""
    from harness.lab.one_shot import in_use

    home = Home(args.home)
    running = [info for runtime in runtimes.every() for info in runtime.labs()]
    containers = {(i.name, i.kind): i for i in running}
    print(f"{'LAB':<32} {'KIND':<11} {'STATE':<9} CONTAINERS")
    current = home.current()
    for name in home.labs():
        with _opened(home, name) as lab:
            state = "up" if lab.is_up else "down"
        info = containers.pop((name, LabKind.PERSISTENT), None)
        mark = " *" if name == current else ""
        print(f"{name + mark:<32} {'persistent':<11} {state:<9} {info.running if info else 0}")
    for info in containers.values():
        if info.kind is LabKind.PERSISTENT:
            state = "elsewhere"  # a persistent lab of another home
        else:
            state = f"pid {info.owner}" if in_use(info) else "left"
        print(f"{info.name:<32} {info.kind!s:<11} {state:<9} {info.running}")
    return exit_codes.OK


def _add_host(sub: Any) -> None:
    host = sub.add_parser("host", help="outside hosts of a persistent lab (workstations, ...)")
    host_sub = host.add_subparsers(dest="host_command", required=True, metavar="ACTION")
    host_add_parser = with_home(host_sub.add_parser("add", help="add an outside host"))
    host_add_parser.set_defaults(handler=host_add)
    host_add_parser.add_argument("name")
    host_add_parser.add_argument("address", help="an IPv4 address outside the instances' subnet")
    host_rm_parser = with_home(host_sub.add_parser("rm", help="remove an outside host"))
    host_rm_parser.set_defaults(handler=host_rm)
    host_rm_parser.add_argument("name")


def host_add(args: argparse.Namespace) -> int:
    home = Home(args.home)
    with _opened(home, home.resolve(args.lab)) as lab:
        host = lab.add_host(args.name, args.address, _progress(args))
    print(f"host {host.name} {host.address} added to lab '{lab.name}'")
    return exit_codes.OK


def _account(args: argparse.Namespace) -> str:
    account = args.account or os.environ.get("SGH_ACCOUNT") or DEFAULT_ACCOUNT
    return rulebook.check_account(account)


def _add_image(sub: Any) -> None:
    parser = sub.add_parser("image", help="images of a persistent lab: what instances serve")
    image_sub = parser.add_subparsers(dest="image_command", required=True, metavar="ACTION")
    register = with_home(
        image_sub.add_parser(
            "register", help="register an image that serves the given ports (prints its AMI id)"
        )
    )
    register.set_defaults(handler=image_register)
    register.add_argument("name", help="the image's name (3-128 characters)")
    register.add_argument(
        "--listen",
        required=True,
        metavar="PORTS",
        help="what its instances serve: tcp/N and udp/N, separated by commas or spaces",
    )
    register.add_argument("--description", default="", help="a description")
    register.add_argument("--account", help="the owner (default: $SGH_ACCOUNT, else 111122223333)")
    listing = with_home(image_sub.add_parser("list", help="the images instances can run"))
    listing.set_defaults(handler=image_list)
    listing.add_argument("--account", help="whose (default: $SGH_ACCOUNT, else 111122223333)")


def image_register(args: argparse.Namespace) -> int:
    """RegisterImage through the action layer, its ports as its ``sgh:listen`` tag."""
    home = Home(args.home)
    tag = {"Key": LISTEN_TAG, "Value": args.listen}
    request = {
        "Name": args.name,
        "Description": args.description,
        "TagSpecifications": [{"ResourceType": "image", "Tags": [tag]}],
    }
    with _opened(home, home.resolve(args.lab)) as lab:
        answer = lab.call("RegisterImage", _account(args), request, phases=_progress(args))
    image = answer["ImageId"]
    print(f"IMAGE\t{image}\t{args.name}\t{args.listen}")
    return exit_codes.OK


def image_list(args: argparse.Namespace) -> int:
    home = Home(args.home)
    with _opened(home, home.resolve(args.lab)) as lab:
        answer = lab.call("DescribeImages", _account(args), {})
    for found in answer["Images"]:
        ports = ",".join(serves(found).split())
        print(f"IMAGE\t{found['ImageId']}\t{found['OwnerId']}\t{found['Name']}\t{ports}")
    return exit_codes.OK


def host_rm(args: argparse.Namespace) -> int:
    home = Home(args.home)
    with _opened(home, home.resolve(args.lab)) as lab:
        host = lab.remove_host(args.name, _progress(args))
    print(f"host {host.name} removed from lab '{lab.name}'")
    return exit_codes.OK


def _add_matrix(sub: Any) -> None:
    parser = with_home(sub.add_parser("matrix", help="probe the running lab now, compare"))
    parser.set_defaults(handler=matrix)
    parser.add_argument(
        "--all",
        action="store_true",
        dest="everything",
        help="probe every cell (default: only the pairs the changes since the last proof can "
        "affect; the rest are carried over from it)",
    )
    add_json_options(parser)
    parser.add_argument("--timeout", type=float, default=2.0, metavar="S")
    add_prober_option(parser)
    add_junit_option(parser)
    add_html_option(parser)
    add_by_port_option(parser)


def matrix(args: argparse.Namespace) -> int:
    prober = make_prober(args.prober, args.timeout)
    json_path = output_path("--json", args.json)
    junit_path = output_path("--junit", args.junit)
    html_path = output_path("--html", args.html)
    home = Home(args.home)
    with _opened(home, home.resolve(args.lab)) as lab:
        lab.runtime.check()
        measured = lab.matrix(prober, _progress(args), everything=args.everything)
    return report_matrix(
        measured, json_path, junit_path, html_path, by_port=args.by_port, form=args.json_form
    )


def _add_serve(sub: Any) -> None:
    parser = with_home(sub.add_parser("serve", help="serve the EC2 Query API for a lab"), True)
    parser.set_defaults(handler=serve)
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default loopback)")
    parser.add_argument("--port", type=int, default=8773, help="port (default 8773)")
    parser.add_argument(
        "--require-auth",
        action="store_true",
        help="accept only keys made with 'sgh key add', with verified SigV4 signatures",
    )


def serve(args: argparse.Namespace) -> int:
    from harness.faces.query_api import serve as serve_api

    home = Home(args.home)
    with _opened(home, home.resolve(args.lab)) as lab:
        return serve_api(lab, args.host, args.port, args.require_auth)


def topology(args: argparse.Namespace) -> Topology:
    """The running lab's topology (``sgh lint`` with no sources)."""
    home = Home(args.home)
    with _opened(home, home.resolve(args.lab)) as lab:
        return lab.topology()


def probe(
    args: argparse.Namespace,
    cells: Callable[[Topology], list[Cell]],
    prober: Prober,
    progress: Progress,
) -> list[CellResult]:
    """Some cells of the running lab, probed now (``sgh explain``)."""
    home = Home(args.home)
    with _opened(home, home.resolve(args.lab)) as lab:
        lab.runtime.check()
        return lab.probe(cells, prober, progress)


def _add_console(sub: Any) -> None:
    parser = with_home(
        sub.add_parser(
            "console",
            help="serve the web console of a lab (Security Groups, Instances, Reachability)",
        ),
        True,
    )
    parser.set_defaults(handler=console)
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default loopback)")
    parser.add_argument("--port", type=int, default=8774, help="port (default 8774; 0: any)")
    parser.add_argument(
        "--account",
        help="the account the console acts as (default: $SGH_ACCOUNT, else 111122223333)",
    )
    parser.add_argument("--timeout", type=float, default=2.0, metavar="S")
    add_prober_option(parser)


def console(args: argparse.Namespace) -> int:
    from harness.faces.console import serve as serve_console

    account = _account(args)
    prober = make_prober(args.prober, args.timeout)
    home = Home(args.home)
    with _opened(home, home.resolve(args.lab)) as lab:
        lab.runtime.check()
        return serve_console(lab, args.host, args.port, account, prober)


def _add_key(sub: Any) -> None:
    key = sub.add_parser("key", help="access keys for 'sgh serve' and 'sgh console'")
    key_sub = key.add_subparsers(dest="key_command", required=True, metavar="ACTION")
    key_add_parser = key_sub.add_parser("add", help="make an access key for an account")
    key_add_parser.set_defaults(handler=key_add)
    key_add_parser.add_argument("account", help="a 12-digit account id")
    key_add_parser.add_argument("--home", help="the labs' home directory")


def key_add(args: argparse.Namespace) -> int:
    rulebook.check_account(args.account)
    access, secret = Home(args.home).add_key(args.account)
    print(f"KEY\t{access}\t{secret}\t{args.account}")
    return exit_codes.OK


def add_commands(sub: Any) -> None:
    """The persistent lab's commands: lab, host, image, matrix, serve, console, key."""
    _add_lab(sub)
    _add_host(sub)
    _add_image(sub)
    _add_matrix(sub)
    _add_serve(sub)
    _add_console(sub)
    _add_key(sub)
