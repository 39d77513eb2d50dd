"""The EC2-Classic control plane of a persistent lab, as pure functions over a :class:`Cloud`.

A ``Cloud`` is everything a lab's control plane holds: the accounts, their groups and rules,
the instances launched into them (with their reservations) and the outside hosts. Each API
action (``create_group``, ``authorize``, ``run_instances``, ...) takes a cloud and returns a new
one, or raises :class:`~harness.errors.Ec2Error` with EC2's code and wording, leaving nothing
half-changed. :mod:`harness.adapters.sqlite_store` persists clouds in SQLite;
:mod:`harness.lab.persistent` makes the data plane follow them. Nothing here touches Docker,
a socket or a file.

Choices where EC2's behaviour is not documented (see the README's semantics section):

* group ids are stable per (account, name) (``sg-`` + 8 hex of a hash): a group deleted and
  created again gets its old id back;
* a group's rules that name the group itself do not keep it "in use";
* an instance launched without a group goes into its account's ``default`` group, which every
  account gets on its first request;
* terminated instances stay visible (state ``terminated``) but no longer hold their groups or
  their address.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from hashlib import sha256
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network

from harness.core.ec2 import platform as platforms
from harness.core.ec2 import rules as rulebook
from harness.core.model import (
    DEFAULT_ACCOUNT,
    DEFAULT_SUBNET,
    Group,
    GroupKey,
    Host,
    Instance,
    Interface,
    Listen,
    Network,
    PrefixList,
    Proto,
    Protocol,
    Rule,
    Subnet,
    Topology,
    Vpc,
)
from harness.errors import Ec2Error, InvalidInput

MAX_INSTANCES = 250
GROUP_ID_RE = re.compile(r"^sg-[0-9a-f]{8,17}$")
INSTANCE_ID_RE = re.compile(r"^i-[0-9a-f]{8,17}$")
AMI_RE = re.compile(r"^ami-[0-9a-f]{8,17}$")
HOST_NAME_RE = re.compile(r"^[a-zA-Z][a-zA-Z0-9_.-]{0,39}$")

RUNNING = "running"
PENDING = "pending"
TERMINATED = "terminated"
SHUTTING_DOWN = "shutting-down"
STATE_CODES = {PENDING: 0, RUNNING: 16, SHUTTING_DOWN: 32, TERMINATED: 48}
DEFAULT_TYPE = "m1.small"
EC2_CLASSIC = platforms.EC2_CLASSIC  # a lab's platform, by its name (the table: platforms)
VPC = platforms.VPC_PLATFORM
PLATFORMS = tuple(platforms.PLATFORMS)
DEFAULT_REGION = "us-east-1"  # the seed's region, where a lab runs its instances unless told
REGION_RE = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d{1,2}$")


def zone_of(region: str) -> str:
    """The lab's one availability zone in a region: ``us-east-1a``."""
    return region + "a"


def zone_id_of(region: str) -> str:
    """That zone's id, as AWS spells it: ``use1-az1``."""
    parts = region.split("-")
    return parts[0] + "".join(p[0] for p in parts[1:-1]) + parts[-1] + "-az1"


def check_region(region: str) -> str:
    if not REGION_RE.match(region):
        raise Ec2Error("InvalidParameterValue", f"'{region}' is not a region name (us-east-1)")
    return region


@dataclass(frozen=True)
class Ami:
    """What an AMI id stands for in the lab: the ports its instances serve."""

    image_id: str
    role: str
    listen: tuple[Listen, ...]
    kernel: str = "aki-94c527fd"
    ramdisk: str = "ari-96c527ff"


def _tcp(*ports: int) -> tuple[Listen, ...]:
    return tuple(Listen(Protocol.TCP, port) for port in ports)


# The seed's AMIs: Mary's web, app and database servers, and Albert's favourite public AMI.
AMIS = {
    "ami-fba54092": Ami("ami-fba54092", "web server", _tcp(22, 80)),
    "ami-e3a5408a": Ami("ami-e3a5408a", "app server", _tcp(22, 8080)),
    "ami-f1a54098": Ami("ami-f1a54098", "database server", _tcp(22, 3306)),
}
DEFAULT_LISTEN = _tcp(22, 80)


def ami(image_id: str) -> Ami:
    """A seed AMI's role and ports; any other (well-formed) AMI serves tcp 22 and 80."""
    if not AMI_RE.match(image_id):
        raise Ec2Error("InvalidAMIID.Malformed", f'Invalid id: "{image_id}" (expecting "ami-...")')
    return AMIS.get(image_id, Ami(image_id, "default instance", DEFAULT_LISTEN))


# What an image or an instance serves, said as AWS users say things of resources: a tag.
LISTEN_TAG = "sgh:listen"


def parse_listen(text: str, where: str) -> tuple[Listen, ...]:
    """A ``sgh:listen`` value: ports separated by spaces or commas (``tcp/443 tcp/8080``)."""
    try:
        return tuple(sorted({Listen.parse(part) for part in re.split(r"[\s,]+", text) if part}))
    except ValueError as err:
        raise Ec2Error("InvalidParameterValue", f"{where}: {err}") from None


@dataclass(frozen=True)
class ImageRecord:
    """An image a user registered; what it serves is its ``sgh:listen`` tag."""

    image_id: str
    owner: str
    name: str
    description: str = ""


def image_of(cloud: Cloud, image_id: str) -> Ami:
    """An image's role and ports: a registered image's name and ``sgh:listen`` tag (tcp 22
    and 80 without one), else a seed AMI's, else tcp 22 and 80."""
    for image in cloud.images:
        if image.image_id == image_id:
            told = _tag(cloud, image_id, LISTEN_TAG)
            listen = DEFAULT_LISTEN if told is None else parse_listen(told, image_id)
            return Ami(image_id, image.name, listen)
    return ami(image_id)


def listen_of(cloud: Cloud, record: InstanceRecord) -> tuple[Listen, ...]:
    """What an instance serves: what it was launched with (its image's ports then, or its own
    ``sgh:listen`` tag given at launch); a record from before that was kept: its AMI's."""
    if record.listen is not None:
        return record.listen
    return image_of(cloud, record.image_id).listen


def _tag(cloud: Cloud, resource: str, key: str) -> str | None:
    for tag in cloud.tags:
        if tag.resource == resource and tag.key == key:
            return tag.value
    return None


def find_image(cloud: Cloud, image_id: str) -> ImageRecord:
    ami(image_id)
    for image in cloud.images:
        if image.image_id == image_id:
            return image
    raise Ec2Error("InvalidAMIID.NotFound", f"The image id '[{image_id}]' does not exist")


def register_image(
    cloud: Cloud, account: str, name: str, description: str, new_id: Callable[[str], str]
) -> tuple[Cloud, ImageRecord]:
    """RegisterImage: a new image of this account (its ports: its ``sgh:listen`` tag)."""
    if not name:
        raise Ec2Error("MissingParameter", "The request must contain the parameter name")
    if not re.fullmatch(r"[A-Za-z0-9()\[\] ./'@_-]{3,128}", name):
        raise Ec2Error(
            "InvalidAMIName.Malformed",
            f"AMI name '{name}' must be 3-128 letters, digits, spaces and ( ) [ ] . / - ' @ _",
        )
    if any(i.owner == account and i.name == name for i in cloud.images):
        raise Ec2Error("InvalidAMIName.Duplicate", f"AMI name {name} is already in use by an AMI")
    taken = {i.image_id for i in cloud.images} | set(AMIS)
    image_id = new_id("ami-")
    while image_id in taken:
        image_id = new_id("ami-")
    image = ImageRecord(image_id, account, name, description)
    return replace(cloud, images=(*cloud.images, image)), image


def deregister_image(cloud: Cloud, account: str, image_id: str) -> tuple[Cloud, ImageRecord]:
    image = find_image(cloud, image_id)
    if image.owner != account:
        raise Ec2Error("AuthFailure", f"Not authorized for image:{image_id}")
    images = tuple(i for i in cloud.images if i.image_id != image_id)
    tags = tuple(t for t in cloud.tags if t.resource != image_id)
    return replace(cloud, images=images, tags=tags), image


@dataclass(frozen=True)
class InstanceRecord:
    instance_id: str
    reservation_id: str
    owner: str
    image_id: str
    groups: tuple[GroupKey, ...]
    address: IPv4Address
    launch_index: int
    launch_time: str
    state: str = RUNNING
    instance_type: str = DEFAULT_TYPE
    subnet_id: str = ""  # a VPC instance's primary interface's subnet ("": Classic)
    listen: tuple[Listen, ...] | None = None  # what it serves, fixed at launch (None: its AMI's)

    @property
    def active(self) -> bool:
        return self.state != TERMINATED

    @property
    def private_dns(self) -> str:
        return "ip-" + str(self.address).replace(".", "-") + ".ec2.internal" if self.active else ""

    @property
    def held_groups(self) -> tuple[GroupKey, ...]:
        """The groups the instance is in: none once it is terminated."""
        return self.groups if self.active else ()

    @property
    def held_address(self) -> IPv4Address | None:
        """Its private address: none once it is terminated (another may reuse it)."""
        return self.address if self.active else None


@dataclass(frozen=True)
class VpcRecord:
    vpc_id: str
    owner: str
    cidr: IPv4Network
    ipv6: IPv6Network | None = None
    default: bool = False
    dns_support: bool = True
    dns_hostnames: bool = False


@dataclass(frozen=True)
class SubnetRecord:
    subnet_id: str
    vpc_id: str
    owner: str
    cidr: IPv4Network
    ipv6: IPv6Network | None = None
    default: bool = False
    map_public: bool = False  # MapPublicIpOnLaunch: the lab routes it to the internet gateway


@dataclass(frozen=True)
class NicRecord:
    """A network interface: its subnet, groups and addresses, and the instance holding it."""

    eni_id: str
    owner: str
    subnet_id: str
    address: IPv4Address
    groups: tuple[GroupKey, ...]
    public: IPv4Address | None = None
    ipv6: IPv6Address | None = None
    instance_id: str = ""
    device_index: int = 0
    description: str = ""


@dataclass(frozen=True)
class PrefixListRecord:
    list_id: str
    owner: str
    name: str
    family: str  # IPv4 or IPv6
    max_entries: int
    entries: tuple[tuple[Network, str], ...] = ()  # (cidr, description)
    version: int = 1
    state: str = "create-complete"  # delete-failed: a delete refused (the list is in use)
    state_message: str = ""


@dataclass(frozen=True)
class Tag:
    resource: str
    key: str
    value: str


@dataclass(frozen=True)
class Cloud:
    """A lab's whole control-plane state (immutable; actions return new clouds)."""

    groups: tuple[Group, ...] = ()
    instances: tuple[InstanceRecord, ...] = ()
    hosts: tuple[Host, ...] = ()
    subnet: IPv4Network = DEFAULT_SUBNET
    platform: str = EC2_CLASSIC
    vpcs: tuple[VpcRecord, ...] = ()
    subnets: tuple[SubnetRecord, ...] = ()
    nics: tuple[NicRecord, ...] = ()
    prefix_lists: tuple[PrefixListRecord, ...] = ()
    tags: tuple[Tag, ...] = ()
    region: str = DEFAULT_REGION
    images: tuple[ImageRecord, ...] = ()

    @cached_property
    def by_key(self) -> dict[GroupKey, Group]:
        return {group.key: group for group in self.groups}

    @cached_property
    def accounts(self) -> tuple[str, ...]:
        return tuple(sorted({group.key.account for group in self.groups}))

    def groups_of(self, account: str) -> list[Group]:
        return [group for group in self.groups if group.key.account == account]

    def active_instances(self) -> list[InstanceRecord]:
        return [record for record in self.instances if record.active]

    def with_group(self, group: Group) -> Cloud:
        if group.key in self.by_key:
            groups = tuple(group if g.key == group.key else g for g in self.groups)
        else:
            groups = (*self.groups, group)
        return replace(self, groups=groups)


def with_account(cloud: Cloud, account: str) -> Cloud:
    """The cloud with ``account`` known from its first request: an EC2-Classic account gets its
    ``default`` group, a default-VPC account its default VPC (172.31.0.0/16, a public default
    subnet 172.31.0.0/20) with that VPC's ``default`` group."""
    rulebook.check_account(account)
    if cloud.platform == VPC:
        return _with_default_vpc(cloud, account)
    if GroupKey(account, platforms.DEFAULT_GROUP) in cloud.by_key:
        return cloud
    return cloud.with_group(rulebook.default_group(account))


def stable_id(prefix: str, *parts: str) -> str:
    """An id that is the same for the same parts: ``prefix`` and 17 hex digits."""
    return prefix + sha256("/".join(parts).encode()).hexdigest()[:17]


def default_vpc_of(cloud: Cloud, account: str) -> VpcRecord | None:
    for vpc in cloud.vpcs:
        if vpc.owner == account and vpc.default:
            return vpc
    return None


def _with_default_vpc(cloud: Cloud, account: str) -> Cloud:
    if default_vpc_of(cloud, account) is not None:
        return cloud
    vpc = VpcRecord(
        stable_id("vpc-", account, "default", cloud.region),
        account,
        platforms.DEFAULT_VPC_CIDR,
        default=True,
        dns_hostnames=True,
    )
    subnet = SubnetRecord(
        stable_id("subnet-", account, "default", zone_of(cloud.region)),
        vpc.vpc_id,
        account,
        platforms.DEFAULT_SUBNET_CIDR,
        default=True,
        map_public=True,
    )
    cloud = replace(cloud, vpcs=(*cloud.vpcs, vpc), subnets=(*cloud.subnets, subnet))
    return cloud.with_group(rulebook.default_group(account, vpc.vpc_id, ipv6=False))


# -- groups ------------------------------------------------------------------------------------


def check_group_id(group_id: str) -> str:
    if not GROUP_ID_RE.match(group_id):
        raise Ec2Error("InvalidGroupId.Malformed", f'Invalid id: "{group_id}" (expecting "sg-...")')
    return group_id


def find_group(cloud: Cloud, account: str, ref: str, vpc_id: str | None = None) -> Group:
    """A group of ``account`` by ``sg-`` id (Classic or VPC), or by name: in ``vpc_id`` when
    given, else the Classic group (an EC2-Classic lab) or the default VPC's (a VPC lab);
    other accounts' groups are not seen."""
    if ref.startswith("sg-"):
        check_group_id(ref)
        for group in cloud.groups_of(account):
            if group.group_id == ref:
                return group
        raise rulebook.group_not_found(ref)
    if not ref:
        raise Ec2Error("MissingParameter", "The request must contain the parameter GroupName")
    vpc = vpc_id if vpc_id is not None else home_vpc(cloud, account)
    found = cloud.by_key.get(GroupKey(account, ref, vpc))
    if found is None:
        raise rulebook.group_not_found(ref)
    return found


def home_vpc(cloud: Cloud, account: str) -> str:
    """Where a group named without a VPC lives: Classic ("") or the default VPC."""
    if cloud.platform == EC2_CLASSIC:
        return ""
    default = default_vpc_of(cloud, account)
    return default.vpc_id if default is not None else ""


def source_group(
    cloud: Cloud, account: str, owner: str | None, ref: str, holder: Group | None = None
) -> GroupKey:
    """A rule's peer group: ``ref`` (name or id) owned by ``owner`` (default: ``account``),
    for a rule of ``holder``. A name is looked up in the holder's VPC (Classic: among Classic
    groups, where another account's ``default`` group may be named unseen, as in
    EC2-Classic); a VPC group's peer by id must be in its VPC or another account's (§1.9)."""
    owner = owner or account
    rulebook.check_account(owner)
    vpc = holder.vpc if holder is not None else None
    if ref.startswith("sg-"):
        check_group_id(ref)
        for other in cloud.groups:
            if other.group_id == ref and other.key.account in (owner, account):
                if vpc is not None and other.vpc is not None and other.vpc != vpc:
                    assert holder is not None
                    raise Ec2Error(
                        "InvalidGroup.NotFound",
                        f"You have specified two resources that belong to different networks "
                        f"({other.group_id} in {other.vpc}, {holder.group_id} in {vpc}).",
                    )
                return other.key
        raise rulebook.group_not_found(ref)
    platform = platforms.CLASSIC if vpc is None else platforms.VPC
    key = GroupKey(owner, ref, vpc or "")
    if key not in cloud.by_key and not (
        platform.peer_default_on_demand and ref == platforms.DEFAULT_GROUP
    ):
        raise rulebook.group_not_found(ref if owner == account else f"{owner}/{ref}")
    return key


def groups_naming(cloud: Cloud, key: GroupKey) -> list[Group]:
    """The other groups whose rules (ingress or egress) name group ``key``."""
    return [g for g in cloud.groups if g.key != key and any(r.group == key for r in g.all_rules)]


def users_of(cloud: Cloud, key: GroupKey) -> tuple[list[InstanceRecord], list[Group]]:
    """The active instances in a group and the other groups whose rules name it."""
    instances = [r for r in cloud.active_instances() if key in r.groups]
    return instances, groups_naming(cloud, key)


def wildcard(pattern: str) -> re.Pattern[str]:
    """EC2 filter values: literal text where ``*`` is any run and ``?`` one character."""
    parts = ["." if char == "?" else ".*" if char == "*" else re.escape(char) for char in pattern]
    return re.compile("".join(parts), re.DOTALL)


def matches(values: Iterable[str], patterns: Sequence[str]) -> bool:
    compiled = [wildcard(pattern) for pattern in patterns]
    return any(p.fullmatch(value) for value in values for p in compiled)


def check_filters(filters: dict[str, list[str]], known: Sequence[str]) -> None:
    for name, values in filters.items():
        if name not in known:
            raise Ec2Error("InvalidParameterValue", f"The filter '{name}' is invalid")
        if not values:
            raise Ec2Error("InvalidParameterValue", f"The filter '{name}' has no values")


def permissions(rules: Iterable[Rule]) -> list[tuple[Proto, int, int, list[Rule]]]:
    """Rules as EC2 lists them: one item per (protocol, from, to), in rule order."""
    items: dict[tuple[Proto, int, int], list[Rule]] = {}
    for rule in rules:
        items.setdefault((rule.protocol, rule.from_port, rule.to_port), []).append(rule)
    return [(*key, rules) for key, rules in items.items()]


# -- instances ----------------------------------------------------------------------------------

INSTANCE_FILTERS = (
    "group-id",
    "group-name",
    "image-id",
    "instance-id",
    "instance-state-name",
    "instance.group-id",
    "instance.group-name",
    "private-ip-address",
    "reservation-id",
)


def check_instance_id(instance_id: str) -> str:
    if not INSTANCE_ID_RE.match(instance_id):
        raise Ec2Error(
            "InvalidInstanceID.Malformed", f'Invalid id: "{instance_id}" (expecting "i-...")'
        )
    return instance_id


def find_instances(cloud: Cloud, account: str, ids: Sequence[str]) -> list[InstanceRecord]:
    mine = {r.instance_id: r for r in cloud.instances if r.owner == account}
    missing = [check_instance_id(i) for i in ids if i not in mine]
    if missing:
        quoted = ", ".join(missing)
        noun = "ID" if len(missing) == 1 else "IDs"
        verb = "does" if len(missing) == 1 else "do"
        raise Ec2Error(
            "InvalidInstanceID.NotFound", f"The instance {noun} '{quoted}' {verb} not exist"
        )
    return [mine[i] for i in dict.fromkeys(ids)]


def terminating(before: str) -> str:
    """The state a termination reports: EC2 answers ``shutting-down`` (``terminated`` for an
    instance that already was)."""
    return TERMINATED if before == TERMINATED else SHUTTING_DOWN


def terminate_instances(
    cloud: Cloud, account: str, ids: Sequence[str]
) -> tuple[Cloud, list[tuple[InstanceRecord, str]]]:
    """Terminate instances, their interfaces with them (their addresses are free again);
    returns each with its previous state."""
    if not ids:
        raise Ec2Error("MissingParameter", "The request must contain the parameter InstanceId")
    cloud = with_account(cloud, account)
    chosen = find_instances(cloud, account, ids)
    gone = {r.instance_id for r in chosen}
    instances = tuple(
        replace(r, state=TERMINATED) if r.instance_id in gone else r for r in cloud.instances
    )
    nics = tuple(n for n in cloud.nics if n.instance_id not in gone)  # a VPC instance's go
    return replace(cloud, instances=instances, nics=nics), [(r, r.state) for r in chosen]


def _instance_values(cloud: Cloud, record: InstanceRecord, name: str) -> list[str]:
    if name in ("group-id", "instance.group-id"):
        return [key.group_id for key in record.held_groups]
    if name in ("group-name", "instance.group-name"):
        return [key.name for key in record.held_groups]
    address = record.held_address
    return {
        "image-id": [record.image_id],
        "instance-id": [record.instance_id],
        "instance-state-name": [record.state],
        "private-ip-address": [] if address is None else [str(address)],
        "reservation-id": [record.reservation_id],
    }[name]


def describe_instances(
    cloud: Cloud,
    account: str,
    ids: Sequence[str] = (),
    filters: dict[str, list[str]] | None = None,
) -> tuple[Cloud, list[InstanceRecord]]:
    cloud = with_account(cloud, account)
    filters = filters or {}
    check_filters(filters, INSTANCE_FILTERS)
    chosen = (
        find_instances(cloud, account, ids)
        if ids
        else [r for r in cloud.instances if r.owner == account]
    )
    result = [
        r
        for r in chosen
        if all(matches(_instance_values(cloud, r, n), v) for n, v in filters.items())
    ]
    return cloud, result


def reservations(records: Iterable[InstanceRecord]) -> list[list[InstanceRecord]]:
    """Instances grouped by reservation, in launch order."""
    by_id: dict[str, list[InstanceRecord]] = {}
    for record in records:
        by_id.setdefault(record.reservation_id, []).append(record)
    return list(by_id.values())


# -- outside hosts ------------------------------------------------------------------------------


def add_host(cloud: Cloud, name: str, address: str) -> tuple[Cloud, Host]:
    if not HOST_NAME_RE.match(name) or name.startswith("i-"):
        raise InvalidInput(
            f"host name '{name}': use letters, digits, '_', '.', '-' (at most 40, "
            "starting with a letter, not 'i-')"
        )
    try:
        parsed = IPv4Address(address)
    except ValueError:
        raise InvalidInput(f"host {name}: '{address}' is not an IPv4 address") from None
    inside = [vpc.cidr for vpc in cloud.vpcs] if cloud.platform == VPC else [cloud.subnet]
    if cloud.platform == VPC:
        inside.append(platforms.PUBLIC_POOL)
    for net in inside:
        if parsed in net:
            raise InvalidInput(
                f"host {name}: {address} is inside the lab's {net}; outside hosts need an "
                "address outside it"
            )
    if parsed.is_multicast or parsed.is_unspecified or parsed.is_loopback or parsed.is_reserved:
        raise InvalidInput(f"host {name}: {address} cannot be a host address")
    for host in cloud.hosts:
        if host.name == name:
            raise InvalidInput(f"host {name} already exists (at {host.address})")
        if host.address == parsed:
            raise InvalidInput(f"host {name}: {address} is already the address of {host.name}")
    host = Host(name, parsed)
    return replace(cloud, hosts=(*cloud.hosts, host)), host


def remove_host(cloud: Cloud, name: str) -> tuple[Cloud, Host]:
    for host in cloud.hosts:
        if host.name == name:
            return replace(cloud, hosts=tuple(h for h in cloud.hosts if h.name != name)), host
    raise InvalidInput(f"no host named '{name}' in this lab")


# -- the lab's topology -------------------------------------------------------------------------


def topology(cloud: Cloud, lab: str, home_account: str | None = None) -> Topology:
    """What the oracle and the compiler need: every group, the active instances, the hosts.

    An EC2-Classic lab's data plane holds its Classic groups and instances; a VPC lab's holds
    its VPCs and subnets, its VPC groups, its instances with their interfaces, and the prefix
    lists its rules name."""
    accounts = cloud.accounts
    home = home_account or (
        DEFAULT_ACCOUNT if DEFAULT_ACCOUNT in accounts or not accounts else accounts[0]
    )
    if cloud.platform == VPC:
        return _vpc_topology(cloud, lab, home)
    instances = tuple(
        Instance(
            r.instance_id,
            r.owner,
            r.groups,
            r.address,
            listen_of(cloud, r),
            label=_label(cloud, r),
        )
        for r in cloud.active_instances()
    )
    return Topology(
        name=lab,
        account=home,
        groups=tuple(g for g in cloud.groups if g.vpc is None),
        instances=instances,
        hosts=cloud.hosts,
        subnet=cloud.subnet,
        source=f"lab {lab}",
    )


def _label(cloud: Cloud, record: InstanceRecord) -> str:
    """An instance's Name tag, else what its AMI stands for (``web server``)."""
    for tag in cloud.tags:
        if tag.resource == record.instance_id and tag.key == "Name" and tag.value:
            return tag.value
    return image_of(cloud, record.image_id).role


def _vpc_topology(cloud: Cloud, lab: str, home: str) -> Topology:
    public_subnets = {n.subnet_id for n in cloud.nics if n.public is not None} | {
        s.subnet_id for s in cloud.subnets if s.default or s.map_public
    }
    vpcs = tuple(
        Vpc(
            vpc.vpc_id,
            vpc.cidr,
            vpc.ipv6,
            tuple(
                Subnet(s.subnet_id, s.vpc_id, s.cidr, s.subnet_id in public_subnets, s.ipv6)
                for s in cloud.subnets
                if s.vpc_id == vpc.vpc_id
            ),
            vpc.default,
        )
        for vpc in cloud.vpcs
    )
    nics: dict[str, list[NicRecord]] = {}
    for nic in sorted(cloud.nics, key=lambda n: n.device_index):
        nics.setdefault(nic.instance_id, []).append(nic)
    instances = []
    for record in cloud.active_instances():
        interfaces = tuple(
            Interface(n.subnet_id, n.address, n.groups, n.public, n.ipv6)
            for n in nics.get(record.instance_id, [])
        )
        if not interfaces:
            continue  # a Classic instance left from before the lab's platform changed
        first = interfaces[0]
        instances.append(
            Instance(
                record.instance_id,
                record.owner,
                first.groups,
                first.address,
                listen_of(cloud, record),
                interfaces=interfaces,
                label=_label(cloud, record),
            )
        )
    groups = tuple(g for g in cloud.groups if g.vpc is not None)
    named = {r.prefix_list for g in groups for r in g.all_rules if r.prefix_list}
    plists = tuple(
        PrefixList(p.list_id, tuple(net for net, _ in p.entries))
        for p in cloud.prefix_lists
        if p.list_id in named
    )
    return Topology(
        name=lab,
        account=home,
        groups=groups,
        instances=tuple(instances),
        hosts=cloud.hosts,
        source=f"lab {lab}",
        vpcs=vpcs,
        prefix_lists=plists,
    )


# -- a topology as a state ----------------------------------------------------------------------

TOPOLOGY_AMI = "ami-00000000"  # what a topology's own instances stand for in a state


def state_of(topology: Topology) -> Cloud:
    """The control plane's state of a topology, the inverse of :func:`topology`: its groups,
    instances, hosts and (VPC) its VPCs, subnets, interfaces and prefix lists, each keeping
    the topology's name as its id, so a change made by an action projects back onto the same
    names. Instances serve what the topology says they serve."""
    records = tuple(
        InstanceRecord(
            instance.name,
            "r-topology",
            instance.account,
            TOPOLOGY_AMI,
            instance.groups,
            instance.address,
            index,
            "",
            subnet_id=instance.interfaces[0].subnet if instance.interfaces else "",
            listen=instance.listen,
        )
        for index, instance in enumerate(topology.instances)
    )
    if not topology.is_vpc:
        return Cloud(topology.groups, records, topology.hosts, topology.subnet)
    owner = topology.account
    vpcs = tuple(VpcRecord(v.name, owner, v.cidr, v.ipv6, default=v.default) for v in topology.vpcs)
    subnets = tuple(
        SubnetRecord(s.name, v.name, owner, s.cidr, s.ipv6, map_public=s.public)
        for v in topology.vpcs
        for s in v.subnets
    )
    nics = tuple(
        NicRecord(
            stable_id("eni-", instance.name, str(index)),
            instance.account,
            nic.subnet,
            nic.address,
            nic.groups,
            nic.public,
            nic.ipv6,
            instance.name,
            index,
        )
        for instance in topology.instances
        for index, nic in enumerate(instance.interfaces)
    )
    plists = tuple(
        PrefixListRecord(
            p.name,
            owner,
            p.name,
            "IPv6" if p.cidrs and p.cidrs[0].version == 6 else "IPv4",
            max(len(p.cidrs), 1),
            tuple((net, "") for net in p.cidrs),
        )
        for p in topology.prefix_lists
    )
    return Cloud(
        topology.groups,
        records,
        topology.hosts,
        topology.subnet,
        platform=VPC,
        vpcs=vpcs,
        subnets=subnets,
        nics=nics,
        prefix_lists=plists,
    )


# -- permissions as requests give them ----------------------------------------------------------


@dataclass(frozen=True)
class Permission:
    """One permission of a request, whichever door it came through: a protocol (``None``:
    EC2's legacy grant of every protocol to a user/group pair), ports or ICMP type/code, and
    its peers, each with its description: CIDRs (IPv4 and IPv6), prefix lists by ``pl-`` id,
    groups as ``(owner, name or id)``."""

    protocol: str | None
    from_port: int | None = None
    to_port: int | None = None
    cidrs: tuple[tuple[str, str], ...] = ()  # (cidr, description)
    prefix_lists: tuple[tuple[str, str], ...] = ()  # (pl- id, description)
    groups: tuple[tuple[str | None, str, str], ...] = ()  # (owner, name or id, description)
