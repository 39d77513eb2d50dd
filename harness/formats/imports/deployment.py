"""What an importer read from a user's files, and the VPC topology document it becomes.

Every importer (AWS JSON, Terraform, CloudFormation) fills a :class:`Deployment`: groups with
their rules as written, the network interfaces that are members (when the input says), the
sets of groups the input attaches to things without addresses (launch templates, ECS services,
...), VPCs, subnets and prefix lists. :func:`.lowering.document` turns it into the topology
document the VPC reader validates, making the choices the input leaves open, each one visible:

- a group referenced but not in the input becomes a group with no rules and no members, named
  ``outside-...``, when the input itself says it lives outside (a Terraform data source, a
  CloudFormation parameter of a group type, any group of AWS's own describe output) or the
  user names it (``--outside REF``); any other (a literal ``sg-`` id, a module's output, an
  ``Fn::ImportValue``) is an error, since a typo would otherwise pass as an empty group;
- a VPC or subnet without a known CIDR gets an invented one; a real public address becomes one
  of the lab's (192.0.2.x);
- when no member is given, **representatives**: one instance per distinct set of groups the
  input attaches, else one per group, in a public subnet with a public address, listening on
  the ports its ingress rules admit;
- **outside hosts** for every address class the rules distinguish: inside and just outside
  each CIDR a rule names, and the rest of the internet.

Each choice is a line of :attr:`Imported.notes`; each group and rule keeps its
:class:`~harness.core.model.Origin`, so errors and findings point at the user's own file.

The importers' concerns, a module each: this one (what was read: the data types),
:mod:`.values` (protocols and ports as each format writes them), :mod:`.lowering` (the
document and its choices), :mod:`.yaml_writer` (the document as YAML for a person).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Container, Iterable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from ipaddress import (
    IPv6Address,
)

from harness.core.ec2.rules import ACCOUNT_RE
from harness.core.model import DEFAULT_ACCOUNT, Origin
from harness.errors import TopologyError
from harness.formats.yaml_lines import MAX_NAME, LineDict, kept_or_raised

DEFAULT_VPC = "default-vpc"  # where groups and interfaces with no VPC live (as in a default VPC)
INTERNET6 = IPv6Address("2001:db8:ffff::10")
PLACEHOLDER_ACCOUNTS = 999_000_000_001  # the first of the accounts owners that are not ids become


@dataclass(frozen=True)
class Outside:
    """A value from outside the input: a data source, another stack's export, a module or a
    parameter the input does not hold (it stands for a group or a VPC by this text).
    ``declared``: the input itself says it lives outside (a data source, a typed parameter)."""

    text: str
    declared: bool = False

    def ref(self, deployment: Deployment) -> str:
        """Its reference, one the deployment may hold outside when the input declares it."""
        if self.declared:
            deployment.declared_outside.add(self.text)
        return self.text


@dataclass(frozen=True)
class Peer:
    """A rule's other side: exactly one of a CIDR (as written), a group or a prefix list
    (each by the reference the input uses for it)."""

    cidr: str | None = None
    group: str | None = None
    prefix_list: str | None = None
    account: str | None = None  # a group peer's owner, when another account's


@dataclass(frozen=True)
class ImportedRule:
    protocol: str  # tcp, udp, icmp, icmpv6, -1 or a number, as text
    from_port: int | None
    to_port: int | None
    peer: Peer
    origin: Origin
    description: str = ""


@dataclass
class ImportedGroup:
    ref: str  # how the input refers to it: sg- id, Terraform address, logical id
    name: str
    origin: Origin
    description: str = ""
    vpc: str | None = None  # a VPC reference; None: the default VPC
    account: str | None = None
    ingress: list[ImportedRule] = field(default_factory=list)
    egress: list[ImportedRule] = field(default_factory=list)
    default_egress: bool = False  # the format adds the allow-all egress rule (API, CFN)
    is_default: bool = False  # the VPC's default group (its own rules replaced)
    outside: bool = False  # referenced or given rules by the input, but not declared in it


@dataclass(frozen=True)
class ImportedInterface:
    """A member: a network interface (or an instance's only one) and its groups."""

    name: str  # eni- or i- id, or a resource address
    groups: tuple[str, ...]
    origin: Origin
    instance: str | None = None  # the instance it is attached to, if any
    subnet: str | None = None
    vpc: str | None = None
    private_ip: str | None = None
    public: bool = False
    device: int = 0


@dataclass(frozen=True)
class ImportedVpc:
    ref: str
    name: str
    cidr: str | None = None
    ipv6: bool = False


@dataclass(frozen=True)
class ImportedSubnet:
    ref: str
    name: str
    vpc: str | None
    cidr: str | None = None
    public: bool = False


# A route's target members as EC2's API and CloudFormation both name them, and the kind of
# target each is (``other``: one the lab does not model).
ROUTE_TARGETS = {
    "GatewayId": "igw",
    "EgressOnlyInternetGatewayId": "eigw",
    "NatGatewayId": "nat",
    "VpcPeeringConnectionId": "pcx",
    "TransitGatewayId": "other",
    "NetworkInterfaceId": "other",
    "InstanceId": "other",
    "VpcEndpointId": "other",
    "CarrierGatewayId": "other",
    "LocalGatewayId": "other",
    "CoreNetworkArn": "other",
}


@dataclass(frozen=True)
class ImportedRoute:
    """A route as the input writes it: a destination, and its target's kind (``igw``,
    ``eigw``, ``nat``, ``pcx``, or ``other``: a target the lab does not model) and
    reference."""

    destination: str
    kind: str
    target: str
    origin: Origin


@dataclass
class ImportedRouteTable:
    ref: str
    name: str
    vpc: str | None
    origin: Origin
    routes: list[ImportedRoute] = field(default_factory=list)


@dataclass(frozen=True)
class ImportedAclEntry:
    number: int
    egress: bool
    protocol: str  # as values.protocol_text gives it (tcp, udp, icmp, -1, a number)
    action: str
    cidr: str
    from_port: int | None
    to_port: int | None
    icmp_type: int | None
    icmp_code: int | None
    origin: Origin


@dataclass
class ImportedAcl:
    ref: str
    name: str
    vpc: str | None
    origin: Origin
    entries: list[ImportedAclEntry] = field(default_factory=list)
    subnets: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ImportedPath:
    """The rest of a VPC's path, as the input gives it: gateways by the VPC they are attached
    to, NAT gateways by subnet, peerings by the two VPCs, and which table a subnet (or a VPC,
    as its main table) is associated with."""

    kind: str  # igw, eigw, nat, pcx, assoc, main
    ref: str
    vpc: str | None = None
    subnet: str | None = None  # a NAT gateway's, an association's
    other: str | None = None  # a peering's other VPC; an association's table
    private: bool = False  # a private NAT gateway
    origin: Origin | None = None


@dataclass(frozen=True)
class ImportedPrefixList:
    ref: str
    name: str
    cidrs: tuple[str, ...]


def attached(
    values: object, keys: Container[str], take: Callable[[object], bool] = lambda _: True
) -> Iterator[tuple[str, object]]:
    """The keys of ``keys`` and their values (those ``take`` accepts) anywhere in a resource's
    nested lists and mappings: where instances, interfaces, launch templates, services...
    name their groups."""
    if isinstance(values, list):
        for item in values:
            yield from attached(item, keys, take)
    elif isinstance(values, dict):
        for key, value in values.items():
            if key in keys and take(value):
                yield key, value
            else:
                yield from attached(value, keys, take)


@dataclass
class Deployment:
    sources: list[str]
    name: str = "imported"
    account: str = DEFAULT_ACCOUNT
    groups: dict[str, ImportedGroup] = field(default_factory=dict)
    interfaces: list[ImportedInterface] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    vpcs: dict[str, ImportedVpc] = field(default_factory=dict)
    subnets: dict[str, ImportedSubnet] = field(default_factory=dict)
    prefix_lists: dict[str, ImportedPrefixList] = field(default_factory=dict)
    route_tables: dict[str, ImportedRouteTable] = field(default_factory=dict)
    acls: dict[str, ImportedAcl] = field(default_factory=dict)
    path: list[ImportedPath] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    normalised: list[Normalised] = field(default_factory=list)
    # None: a bad rule refuses the input; a list (sgh lint): it is left out and kept here
    dropped: list[TopologyError] | None = None
    # groups that may live outside the input: those the user names (--outside), those the
    # input itself declares outside (data sources, typed parameters), or all (AWS's output)
    outside_allowed: frozenset[str] = frozenset()
    declared_outside: set[str] = field(default_factory=set)
    describes_account: bool = False  # AWS's own answer: a group it names exists in AWS
    # owners written as no account is (a fixture's "owner1", AWS's "amazon-elb") -> the
    # 12-digit account each stands for in the lab
    accounts: dict[str, str] = field(default_factory=dict)

    def account_of(self, value: object, origin: Origin) -> str | None:
        """An owner as the lab takes it: an account id as it is; anything else (a fixture's
        placeholder, an alias of AWS's own) one made-up account per distinct text, noted."""
        if value is None:
            return None
        text = str(value)
        if ACCOUNT_RE.match(text):
            return text
        if text not in self.accounts:
            self.accounts[text] = f"{PLACEHOLDER_ACCOUNTS + len(self.accounts)}"
            self.notes.append(
                f"{origin}: owner {text!r} is not an account id (12 digits): it stands for "
                f"account {self.accounts[text]} in the lab, and so does every {text!r}"
            )
        return self.accounts[text]

    def rule(self) -> AbstractContextManager[None]:
        """Reading one rule: its refusal ends the import, or (lint) leaves the rule out."""
        return kept_or_raised(self.dropped)

    def normalise(self, origin: Origin, message: str) -> None:
        """A rule imported as AWS would have kept it (or not at all): a note, and a lint
        finding at the rule's line."""
        self.normalised.append(Normalised(origin, message))
        self.notes.append(f"{origin}: {message}")

    def attach(
        self,
        refs: Iterable[str],
        origin: Origin,
        subnets: Iterable[str] = (),
        public: bool | None = None,
    ) -> None:
        """A set of groups something attaches (those of them the input declares), if any,
        with where the input places it."""
        known = tuple(ref for ref in refs if ref in self.groups)
        if known:
            self.attachments.append(Attachment(known, origin, tuple(subnets), public))

    def outside_group(
        self,
        ref: str,
        origin: Origin,
        *,
        description: str,
        holds: str,
        vpc: str | None = None,
        account: str | None = None,
        default_egress: bool = False,
    ) -> ImportedGroup:
        """A group the input names but does not declare: no members, only what the input
        ``holds`` for it (said in a note). Unless the input or the user says it lives outside
        the input, that is an error (sgh lint: a finding, and the import goes on)."""
        if not (
            self.describes_account or ref in self.declared_outside or ref in self.outside_allowed
        ):
            error = UndefinedReference(origin, ref)
            if self.dropped is None:
                raise error
            self.dropped.append(error)
        name = group_name(f"outside-{ref}")
        group = ImportedGroup(
            ref,
            name,
            origin,
            description=description,
            vpc=vpc,
            account=account,
            default_egress=default_egress,
            outside=True,
        )
        self.groups[ref] = group
        self.notes.append(
            f"{origin}: group {ref} is not in the input: it becomes group '{name}' with "
            f"{holds} and no members"
        )
        return group


@dataclass(frozen=True)
class Attachment:
    """Groups something of the input attaches (an instance, a launch template, a service, a
    load balancer...), and where the input places it: its subnets and whether it gets a
    public address (``None``: the input does not say; its subnet's default decides)."""

    groups: tuple[str, ...]
    origin: Origin
    subnets: tuple[str, ...] = ()
    public: bool | None = None


@dataclass(frozen=True)
class Normalised:
    """A rule the import took as AWS normalises it: a repeat dropped, a rule that allows
    nothing left out. ``sgh lint`` reports each at its line."""

    origin: Origin
    message: str


@dataclass(frozen=True)
class Imported:
    """The topology document of an import, with the choices made and its representatives."""

    document: LineDict
    notes: tuple[str, ...]
    representatives: tuple[str, ...]
    sources: tuple[str, ...]
    normalised: tuple[Normalised, ...] = ()
    dropped: tuple[TopologyError, ...] = ()  # rules left out (a lenient read: sgh lint)


class UndefinedReference(TopologyError):
    """A group the input names, does not define, and nobody said lives outside it."""

    def __init__(self, origin: Origin, ref: str) -> None:
        super().__init__(
            origin.file,
            origin.construct,
            f"{ref} is not defined in the input; if it lives outside the input, say so: "
            f"--outside {ref} (pytest: sg_topology(..., outside=[{ref!r}]))",
            origin.line or None,
        )
        self.ref = ref


def refuse(origin: Origin, problem: str) -> TopologyError:
    """The one-line refusal of an input: file, line, construct and the problem."""
    return TopologyError(origin.file, origin.construct, problem, origin.line or None)


def safe_name(text: str, taken: set[str] | None = None, prefix: str = "") -> str:
    """A name the topology accepts (letters, digits, ``._-``), unique among ``taken``."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", prefix + text).strip("-._") or "x"
    name = name[:MAX_NAME]
    if taken is None:
        return name
    base, number = name, 2
    while name in taken:
        suffix = f"-{number}"
        name = base[: MAX_NAME - len(suffix)] + suffix
        number += 1
    taken.add(name)
    return name


def group_name(text: str) -> str:
    """A group name EC2 accepts: ASCII, not ``sg-*``, without the characters peers use."""
    name = re.sub(r"[^A-Za-z0-9 ._\-=&;{}!$*()#@\[\]]+", "-", text).strip() or "group"
    return f"named-{name}" if name.startswith("sg-") else name[:255]
