"""The seed's ``ec2-*`` commands, with the options and output of the legacy ec2-api-tools.

They act on the current lab of the home (``sgh lab up``; ``--lab``/``SGH_LAB`` and
``--home``/``SGH_HOME`` choose others) as the account in ``SGH_ACCOUNT`` (default
111122223333), as the legacy tools took their credentials from the environment. When a command
returns, the lab's containers and firewalls already reflect it.

On a VPC lab they act as the 1.6 tools did on a default-VPC account: groups are made in the
default VPC (or ``-c VPC``), ``ec2-authorize --egress`` edits egress rules, ``-P all`` (or -1 or
a number) is every protocol, instances launch into the default subnet (or ``-s SUBNET``, with
``--associate-public-ip-address``). They act in the lab's own region.

Exit status: 0 done; 1 EC2 refused the request (``Client.<Code>: <message>`` on stderr);
2 the command could not run (bad usage, no lab, no Docker); 130 interrupted.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, NoReturn, TypeVar

from harness.adapters.sqlite_store import Home
from harness.core.ec2 import actions
from harness.core.ec2 import rules as rulebook
from harness.core.model import DEFAULT_ACCOUNT
from harness.errors import Ec2Error, HarnessError, InvalidInput
from harness.faces import exit_codes
from harness.faces.progress import Progress
from harness.formats import ec2_tools_text
from harness.lab.persistent import PersistentLab

T = TypeVar("T")


@dataclass
class _Session:
    """One command's hold on its lab (opened once, at its first call) and its notes."""

    notes: list[str] = field(default_factory=list)
    lab: PersistentLab | None = None
    warned: bool = False  # the lab-is-down note is given once


_SESSION: ContextVar[_Session] = ContextVar("ec2_tools_session")


@dataclass(frozen=True)
class Outcome:
    """What a legacy command gives: its exit status and the lines it prints."""

    code: int
    out: list[str] = field(default_factory=list)
    err: list[str] = field(default_factory=list)


class _Usage(Exception):
    """A command line argparse rejects (exit 2, like the legacy tools' usage errors)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise _Usage(f"{self.prog}: {message} (see '{self.prog} --help')")


def _parser(prog: str, description: str) -> argparse.ArgumentParser:
    parser = _Parser(prog=prog, description=description)
    parser.add_argument("--lab", help="the lab to act on (default: $SGH_LAB, else the current)")
    parser.add_argument("--home", help="the labs' home directory (default: $SGH_HOME or ~/.sgh)")
    return parser


def _account() -> str:
    account = os.environ.get("SGH_ACCOUNT", DEFAULT_ACCOUNT)
    rulebook.check_account(account)
    return account


def _attach_negative(argv: list[str], options: set[str]) -> list[str]:
    """Let ``-t -1:-1`` and ``-p -1`` through argparse (values that look like options)."""
    result: list[str] = []
    index = 0
    while index < len(argv):
        arg = argv[index]
        if arg in options and index + 1 < len(argv) and argv[index + 1].startswith("-"):
            joiner = "=" if arg.startswith("--") else ""
            result.append(f"{arg}{joiner}{argv[index + 1]}")
            index += 2
            continue
        result.append(arg)
        index += 1
    return result


def _outcome(prog: str, body: Callable[[], list[str]]) -> Outcome:
    try:
        lines = body()
    except Ec2Error as err:
        return Outcome(exit_codes.REFUSED, [], [f"Client.{err.code}: {err.message}"])
    except HarnessError as err:
        return Outcome(err.exit_code, [], [f"{prog}: {err}"])
    except KeyboardInterrupt:
        return Outcome(exit_codes.INTERRUPTED, [], [f"{prog}: interrupted"])
    return Outcome(exit_codes.OK, lines)


def _call(args: argparse.Namespace, name: str, request: dict[str, Any]) -> dict[str, Any]:
    """An action of the action layer (the one every door calls) on the lab, as the account
    of ``SGH_ACCOUNT``; a change is enforced before it returns."""
    session = _SESSION.get()
    if session.lab is None:
        home = Home(args.home)
        session.lab = PersistentLab(home, home.resolve(args.lab))
    lab = session.lab
    if actions.find(name).changes and not lab.is_up and not session.warned:
        session.warned = True
        session.notes.append(
            f"note: lab '{lab.name}' is down; the change is stored and enforced at "
            f"'sgh lab up {lab.name}'"
        )
    progress = Progress(enabled=sys.stderr.isatty())
    return dict(lab.call(name, _account(), request, phases=progress))


def _refs(refs: Sequence[str], names: str, ids: str) -> dict[str, list[str]]:
    """Group references split as EC2 takes them: ``sg-`` ids, and names."""
    found: dict[str, list[str]] = {}
    for ref in refs:
        found.setdefault(ids if ref.startswith("sg-") else names, []).append(ref)
    return found


def _group(args: argparse.Namespace, ref: str) -> dict[str, Any]:
    (group,) = _call(args, "DescribeSecurityGroups", _refs([ref], "GroupNames", "GroupIds"))[
        "SecurityGroups"
    ]
    return dict(group)


def _names(args: argparse.Namespace) -> dict[str, str]:
    """The account's group names by id (for peers an answer names by id alone)."""
    groups = _call(args, "DescribeSecurityGroups", {})["SecurityGroups"]
    return {group["GroupId"]: group["GroupName"] for group in groups}


# -- groups -------------------------------------------------------------------------------------


def _create_group(argv: Sequence[str]) -> Outcome:
    parser = _parser("ec2-create-group", "Create a security group.")
    parser.add_argument("group", metavar="GROUP")
    parser.add_argument("-d", "--description", required=True, metavar="DESCRIPTION")
    parser.add_argument(
        "-c", "--vpc", metavar="VPC", help="the VPC (default: Classic, or a VPC lab's default VPC)"
    )
    args = parser.parse_args(argv)

    def body() -> list[str]:
        request = {"GroupName": args.group, "Description": args.description}
        if args.vpc:
            request["VpcId"] = args.vpc
        group_id = _call(args, "CreateSecurityGroup", request)["GroupId"]
        return [ec2_tools_text.group_created(group_id, args.group, args.description)]

    return _outcome(parser.prog, body)


def _filters(items: list[str] | None) -> list[dict[str, Any]]:
    filters: dict[str, list[str]] = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise Ec2Error("InvalidParameterValue", f"The filter '{item}' is not NAME=VALUE")
        filters.setdefault(name, []).append(value)
    return [{"Name": name, "Values": values} for name, values in filters.items()]


def _describe_group(argv: Sequence[str]) -> Outcome:
    parser = _parser("ec2-describe-group", "Describe security groups (all of them by default).")
    parser.add_argument("groups", nargs="*", metavar="GROUP", help="names or sg- ids")
    parser.add_argument(
        "-F", "--filter", action="append", metavar="NAME=VALUE", help="e.g. group-name=web*"
    )
    args = parser.parse_args(argv)

    def body() -> list[str]:
        request: dict[str, Any] = dict(_refs(args.groups, "GroupNames", "GroupIds"))
        if args.filter:
            request["Filters"] = _filters(args.filter)
        groups = _call(args, "DescribeSecurityGroups", request)["SecurityGroups"]
        return ec2_tools_text.describe_groups(groups, _names(args))

    return _outcome(parser.prog, body)


def _delete_group(argv: Sequence[str]) -> Outcome:
    parser = _parser("ec2-delete-group", "Delete a security group.")
    parser.add_argument("group", metavar="GROUP", help="a name or an sg- id")
    args = parser.parse_args(argv)

    def body() -> list[str]:
        key = "GroupId" if args.group.startswith("sg-") else "GroupName"
        _call(args, "DeleteSecurityGroup", {key: args.group})
        return [ec2_tools_text.line("RETURN", "true")]

    return _outcome(parser.prog, body)


RULE_OPTIONS = {"-p", "--port-range", "-t", "--icmp-type-code"}


def _rule_parser(prog: str, verb: str) -> argparse.ArgumentParser:
    parser = _parser(prog, f"{verb} a security group's ingress permissions.")
    parser.add_argument("group", metavar="GROUP", help="a name or an sg- id")
    parser.add_argument(
        "-P", "--protocol", help="tcp, udp or icmp (default tcp); VPC groups: all, -1, a number"
    )
    parser.add_argument("-p", "--port-range", metavar="N|N-M")
    parser.add_argument("-t", "--icmp-type-code", metavar="TYPE:CODE", help="-1 for any")
    parser.add_argument("-u", "--source-group-user", action="append", default=[], metavar="ACCOUNT")
    parser.add_argument(
        "-o", "--source-group", action="append", default=[], metavar="GROUP|ACCOUNT/GROUP"
    )
    parser.add_argument(
        "-s", "--source-subnet", "--cidr", action="append", default=[], metavar="CIDR"
    )
    parser.add_argument(
        "--egress", action="store_true", help="an egress rule (VPC groups): -s/-o name the peer"
    )
    return parser


def legacy_requests(args: argparse.Namespace) -> list[dict[str, Any]]:
    """The requests the legacy options describe, with the tools' defaults: no source means
    0.0.0.0/0; no ``-P`` means tcp, or icmp with ``-t``, or every protocol with ``-o`` (EC2's
    user/group pair form, one request a pair)."""
    users: list[str] = args.source_group_user
    sources: list[str] = args.source_group
    if users and not sources:
        raise Ec2Error("MissingParameter", "-u names the owner of a source group given with -o")
    if len(users) > 1 and len(users) != len(sources):
        raise Ec2Error("InvalidParameterCombination", "there must be exactly one -u per -o")
    groups: list[tuple[str | None, str]] = []
    for index, source in enumerate(sources):
        owner: str | None = users[index] if len(users) > 1 else (users[0] if users else None)
        name = source
        if "/" in source:
            owner, name = source.split("/", 1)
        groups.append((owner, name))
    cidrs = list(args.source_subnet) or ([] if groups else ["0.0.0.0/0"])
    protocol: str | None = args.protocol
    if args.port_range is not None and args.icmp_type_code is not None:
        raise Ec2Error("InvalidParameterCombination", "give -p (ports) or -t (ICMP), not both")
    if protocol is None:
        if args.icmp_type_code is not None:
            protocol = "icmp"
        elif args.port_range is None and groups:
            return [  # the legacy all-traffic grant of a user/group pair
                {
                    "SourceSecurityGroupName": name,
                    **({"SourceSecurityGroupOwnerId": owner} if owner else {}),
                }
                for owner, name in groups
            ]
        else:
            protocol = "tcp"
    permission: dict[str, Any] = {"IpProtocol": protocol}  # "all" too: EC2 reads it as -1
    is_icmp = protocol.lower() in ("icmp", "1", "icmpv6", "58")
    if is_icmp and args.port_range is not None:
        raise Ec2Error("InvalidParameterCombination", "ICMP permissions take -t, not -p")
    if not is_icmp and args.icmp_type_code is not None:
        raise Ec2Error("InvalidParameterCombination", "-t is for ICMP permissions (-P icmp)")
    low = high = None
    if is_icmp and args.icmp_type_code is not None:
        low, high = rulebook.parse_icmp(args.icmp_type_code)
    elif args.port_range is not None:
        low, high = rulebook.parse_port_range(args.port_range)
    if low is not None:
        permission["FromPort"], permission["ToPort"] = low, high
    v4 = [{"CidrIp": cidr} for cidr in cidrs if ":" not in cidr]
    v6 = [{"CidrIpv6": cidr} for cidr in cidrs if ":" in cidr]
    pairs = [
        {
            ("GroupId" if name.startswith("sg-") else "GroupName"): name,
            **({"UserId": owner} if owner else {}),
        }
        for owner, name in groups
    ]
    for key, items in (("IpRanges", v4), ("Ipv6Ranges", v6), ("UserIdGroupPairs", pairs)):
        if items:
            permission[key] = items
    return [{"IpPermissions": [permission]}]


def _change_rules(argv: Sequence[str], prog: str, revoke: bool) -> Outcome:
    parser = _rule_parser(prog, "Revoke" if revoke else "Authorize")
    raw = list(argv)
    args = parser.parse_args(_attach_negative(raw, RULE_OPTIONS))

    def body() -> list[str]:
        requests = legacy_requests(args)
        before = _group(args, args.group)
        action = ("Revoke" if revoke else "Authorize") + "SecurityGroup"
        action += "Egress" if args.egress else "Ingress"
        if args.egress or before.get("VpcId"):
            target = {"GroupId": before["GroupId"]}  # EC2 takes a VPC group by its id
        else:
            target = {"GroupName": before["GroupName"]}
        for request in requests:
            answer = _call(args, action, {**target, **request})
            for permission in answer.get("UnknownIpPermissions") or []:  # a default VPC's
                shown = ec2_tools_text.permission_lines(  # revoke of what is not there
                    {**before, "IpPermissions": [permission], "IpPermissionsEgress": [permission]},
                    args.egress,
                )
                notes = _SESSION.get().notes
                notes.extend(f"note: no such rule, nothing revoked: {t}" for t in shown)
        groups = _call(args, "DescribeSecurityGroups", {})["SecurityGroups"]
        after = next(g for g in groups if g["GroupId"] == before["GroupId"])
        names = {group["GroupId"]: group["GroupName"] for group in groups}
        return ec2_tools_text.rule_change(before, after, args.egress, revoke, names)

    return _outcome(prog, body)


def _authorize(argv: Sequence[str]) -> Outcome:
    return _change_rules(argv, "ec2-authorize", revoke=False)


def _revoke(argv: Sequence[str]) -> Outcome:
    return _change_rules(argv, "ec2-revoke", revoke=True)


# -- instances ----------------------------------------------------------------------------------


def _count(text: str) -> int:
    low, sep, high = text.partition("-")
    try:
        return int(high if sep else low)
    except ValueError:
        raise Ec2Error(
            "InvalidParameterValue", f"Value ({text}) for parameter MaxCount is invalid"
        ) from None


def _run_instances(argv: Sequence[str], prog: str = "ec2-run-instances") -> Outcome:
    parser = _parser(prog, "Launch instances of an AMI into security groups.")
    parser.add_argument("image", metavar="AMI")
    parser.add_argument("-n", "--instance-count", default="1", metavar="N|MIN-MAX")
    parser.add_argument("-g", "--group", action="append", default=[], metavar="GROUP")
    parser.add_argument("-t", "--instance-type", metavar="TYPE", help="default m1.small")
    parser.add_argument("-k", "--key", metavar="KEYPAIR", help="accepted and ignored")
    parser.add_argument("-s", "--subnet", metavar="SUBNET", help="VPC lab: the subnet")
    parser.add_argument(
        "--associate-public-ip-address",
        choices=("true", "false"),
        help="VPC lab: a public address (default: the subnet's setting)",
    )
    parser.add_argument("--private-ip-address", metavar="ADDRESS", help="VPC lab")
    args = parser.parse_args(argv)

    def body() -> list[str]:
        count = _count(args.instance_count)
        request: dict[str, Any] = {"ImageId": args.image, "MinCount": count, "MaxCount": count}
        if args.instance_type:
            request["InstanceType"] = args.instance_type
        groups = _refs(args.group, "SecurityGroups", "SecurityGroupIds")
        public = args.associate_public_ip_address
        if public is not None:  # EC2 takes a public address on an interface of the request
            nic: dict[str, Any] = {"DeviceIndex": 0, "AssociatePublicIpAddress": public == "true"}
            if args.subnet:
                nic["SubnetId"] = args.subnet
            if args.private_ip_address:
                nic["PrivateIpAddress"] = args.private_ip_address
            if args.group:
                nic["Groups"] = list(args.group)
            request["NetworkInterfaces"] = [nic]
        else:
            request.update(groups)
            if args.subnet:
                request["SubnetId"] = args.subnet
            if args.private_ip_address:
                request["PrivateIpAddress"] = args.private_ip_address
        reservation = _call(args, "RunInstances", request)
        return ec2_tools_text.instances([reservation])

    return _outcome(prog, body)


def _run(argv: Sequence[str]) -> Outcome:
    """``ec2-run``, as Mary types it: the same as ``ec2-run-instances``."""
    return _run_instances(argv, prog="ec2-run")


def _describe_instances(argv: Sequence[str]) -> Outcome:
    parser = _parser("ec2-describe-instances", "Describe instances (all by default).")
    parser.add_argument("instances", nargs="*", metavar="INSTANCE")
    parser.add_argument("-F", "--filter", action="append", metavar="NAME=VALUE")
    args = parser.parse_args(argv)

    def body() -> list[str]:
        request: dict[str, Any] = {}
        if args.instances:
            request["InstanceIds"] = list(args.instances)
        if args.filter:
            request["Filters"] = _filters(args.filter)
        return ec2_tools_text.instances(_call(args, "DescribeInstances", request)["Reservations"])

    return _outcome(parser.prog, body)


def _modify_instance_attribute(argv: Sequence[str]) -> Outcome:
    parser = _parser(
        "ec2-modify-instance-attribute", "Change a VPC instance's groups (its primary interface's)."
    )
    parser.add_argument("instance", metavar="INSTANCE")
    parser.add_argument(
        "-g", "--group-id", action="append", required=True, metavar="GROUP", help="names or sg- ids"
    )
    args = parser.parse_args(argv)

    def body() -> list[str]:
        _call(
            args,
            "ModifyInstanceAttribute",
            {"InstanceId": args.instance, "Groups": list(args.group_id)},
        )
        (reservation,) = _call(args, "DescribeInstances", {"InstanceIds": [args.instance]})[
            "Reservations"
        ]
        (instance,) = reservation["Instances"]
        held = ",".join(group["GroupId"] for group in instance["SecurityGroups"])
        return [ec2_tools_text.line("groupSet", args.instance, held)]

    return _outcome(parser.prog, body)


def _terminate_instances(argv: Sequence[str]) -> Outcome:
    parser = _parser("ec2-terminate-instances", "Terminate instances.")
    parser.add_argument("instances", nargs="+", metavar="INSTANCE")
    args = parser.parse_args(argv)

    def body() -> list[str]:
        answer = _call(args, "TerminateInstances", {"InstanceIds": list(args.instances)})
        return ec2_tools_text.terminated(answer)

    return _outcome(parser.prog, body)


# -- the commands, as functions and as console scripts ----------------------------------------

COMMANDS: dict[str, Callable[[Sequence[str]], Outcome]] = {
    "ec2-create-group": _create_group,
    "ec2-describe-group": _describe_group,
    "ec2-delete-group": _delete_group,
    "ec2-authorize": _authorize,
    "ec2-revoke": _revoke,
    "ec2-run-instances": _run_instances,
    "ec2-run": _run,
    "ec2-describe-instances": _describe_instances,
    "ec2-terminate-instances": _terminate_instances,
    "ec2-modify-instance-attribute": _modify_instance_attribute,
}


def execute(command: str, argv: Sequence[str]) -> Outcome:
    """Run a legacy command in this process: its exit status and its output lines."""
    function = COMMANDS.get(command)
    if function is None:
        raise InvalidInput(f"no command {command} (known: {', '.join(sorted(COMMANDS))})")
    session = _Session()
    token = _SESSION.set(session)
    try:
        outcome = function(list(argv))
    except _Usage as err:
        return Outcome(exit_codes.INVALID, [], [*session.notes, str(err)])
    finally:
        _SESSION.reset(token)
        if session.lab is not None:
            session.lab.close()
    return Outcome(outcome.code, outcome.out, [*session.notes, *outcome.err])


def _console(command: str, argv: Sequence[str] | None) -> int:
    outcome = execute(command, sys.argv[1:] if argv is None else argv)
    for text in outcome.err:
        print(text, file=sys.stderr)
    try:
        for text in outcome.out:
            print(text)
        sys.stdout.flush()
    except BrokenPipeError:
        return exit_codes.reader_gone()
    return outcome.code


def create_group(argv: Sequence[str] | None = None) -> int:
    return _console("ec2-create-group", argv)


def describe_group(argv: Sequence[str] | None = None) -> int:
    return _console("ec2-describe-group", argv)


def delete_group(argv: Sequence[str] | None = None) -> int:
    return _console("ec2-delete-group", argv)


def authorize(argv: Sequence[str] | None = None) -> int:
    return _console("ec2-authorize", argv)


def revoke(argv: Sequence[str] | None = None) -> int:
    return _console("ec2-revoke", argv)


def run_instances(argv: Sequence[str] | None = None) -> int:
    return _console("ec2-run-instances", argv)


def run(argv: Sequence[str] | None = None) -> int:
    return _console("ec2-run", argv)


def describe_instances(argv: Sequence[str] | None = None) -> int:
    return _console("ec2-describe-instances", argv)


def terminate_instances(argv: Sequence[str] | None = None) -> int:
    return _console("ec2-terminate-instances", argv)


def modify_instance_attribute(argv: Sequence[str] | None = None) -> int:
    return _console("ec2-modify-instance-attribute", argv)
