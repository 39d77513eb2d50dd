"""The emulated EC2's state, as pure values: a :class:`Cloud` is everything a lab's control
plane holds (accounts and their groups and rules, instances and their reservations,
VPCs, subnets, interfaces, prefix lists, images, tags, outside hosts, the region), and the
records it is made of; with the ids, states, quotas and the default VPC an account gets on its
first request. Every action takes a cloud and returns a new one, or raises
:class:`~harness.errors.Ec2Error` with EC2's code and wording, leaving nothing half-changed.
:mod:`harness.adapters.sqlite_store` persists clouds; :mod:`harness.lab.persistent` makes the
data plane follow them. Nothing here touches Docker, a socket or a file.

Choices where EC2's behaviour is not documented (see docs/reference/semantics.md):

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
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from functools import cached_property
from hashlib import sha256
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network
from typing import TypeVar

from harness.core.ec2 import platform as platforms
from harness.core.ec2 import rules as rulebook
from harness.core.model import (
    DEFAULT_SUBNET,
    Group,
    GroupKey,
    Host,
    Listen,
    Network,
    Protocol,
)
from harness.core.vpc_path import AclEntry
from harness.errors import Ec2Error

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


def tag_value(cloud: Cloud, resource: str, key: str) -> str | None:
    for tag in cloud.tags:
        if tag.resource == resource and tag.key == key:
            return tag.value
    return None


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
class RouteRecord:
    """A route of a route table: a destination (IPv4 or IPv6) and the id of its target (an
    internet gateway, an egress-only one, a NAT gateway, a peering connection)."""

    destination: Network | None  # None: the entries of ``prefix_list``
    target: str
    prefix_list: str = ""  # a route to a prefix list, by its id

    @property
    def key(self) -> str:
        """What identifies the route in its table: its CIDR, or its prefix list."""
        return self.prefix_list or str(self.destination)


@dataclass(frozen=True)
class RouteTableRecord:
    """A route table of a VPC: its routes (its local routes are the VPC's blocks), whether it
    is the VPC's main table, and the subnets associated with it."""

    table_id: str
    vpc_id: str
    owner: str
    main: bool = False
    routes: tuple[RouteRecord, ...] = ()
    subnets: tuple[str, ...] = ()


@dataclass(frozen=True)
class GatewayRecord:
    """An internet gateway (attached to ``vpc_id``, or to none) or an egress-only internet
    gateway (attached to its VPC from its creation)."""

    gateway_id: str
    owner: str
    egress_only: bool = False
    vpc_id: str = ""


@dataclass(frozen=True)
class NatRecord:
    """A NAT gateway: its subnet, its private address there, its Elastic IP's allocation
    (``""``: a private NAT gateway) and its state (``available`` or ``deleted``)."""

    nat_id: str
    owner: str
    vpc_id: str
    subnet_id: str
    address: IPv4Address
    allocation_id: str = ""
    state: str = "available"


@dataclass(frozen=True)
class AddressRecord:
    """An Elastic IP: its address, and the network interface or NAT gateway it is associated
    with (neither: allocated, not associated)."""

    allocation_id: str
    owner: str
    public: IPv4Address
    eni_id: str = ""
    nat_id: str = ""

    @property
    def association_id(self) -> str:
        held = self.eni_id or self.nat_id
        return stable_id("eipassoc-", self.allocation_id, held) if held else ""


@dataclass(frozen=True)
class AclRecord:
    """A network ACL of a VPC: its entries, whether it is the VPC's default, and the subnets
    associated with it (a subnet no ACL names is the default's)."""

    acl_id: str
    vpc_id: str
    owner: str
    default: bool = False
    entries: tuple[AclEntry, ...] = ()
    subnets: tuple[str, ...] = ()


@dataclass(frozen=True)
class PeeringRecord:
    """A VPC peering connection: requested, then accepted (``active``), or deleted."""

    pcx_id: str
    owner: str
    requester: str
    accepter: str
    status: str = "pending-acceptance"


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
    route_tables: tuple[RouteTableRecord, ...] = ()
    gateways: tuple[GatewayRecord, ...] = ()
    nat_gateways: tuple[NatRecord, ...] = ()
    addresses: tuple[AddressRecord, ...] = ()
    network_acls: tuple[AclRecord, ...] = ()
    peerings: tuple[PeeringRecord, ...] = ()

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
        return with_default_vpc(cloud, account)
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


def with_default_vpc(cloud: Cloud, account: str) -> Cloud:
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


def home_vpc(cloud: Cloud, account: str) -> str:
    """Where a group named without a VPC lives: Classic ("") or the default VPC."""
    if cloud.platform == EC2_CLASSIC:
        return ""
    default = default_vpc_of(cloud, account)
    return default.vpc_id if default is not None else ""


def check_instance_id(instance_id: str) -> str:
    if not INSTANCE_ID_RE.match(instance_id):
        raise Ec2Error(
            "InvalidInstanceID.Malformed", f'Invalid id: "{instance_id}" (expecting "i-...")'
        )
    return instance_id


NewId = Callable[[str], str]
T = TypeVar("T")
MAX_TAGS = 50
MAX_PREFIX_LIST_ENTRIES = 1000


def not_found(code: str, noun: str, ident: str) -> Ec2Error:
    return Ec2Error(code, f"The {noun} ID '{ident}' does not exist")


def missing_id(ident: str, prefix: str, code: str, noun: str) -> Ec2Error:
    """An id the state does not hold: malformed when not of EC2's form (``vpc-...``), else not
    found. A finder looks the id up first: a lab made from a topology keeps its names as ids."""
    if not ident.startswith(prefix):
        return Ec2Error(f"{code}.Malformed", f'Invalid id: "{ident}" (expecting "{prefix}...")')
    return not_found(f"{code}.NotFound", noun, ident)


def untagged(cloud: Cloud, resource: str) -> tuple[Tag, ...]:
    """The cloud's tags without those of a resource that is deleted."""
    return tuple(t for t in cloud.tags if t.resource != resource)


def fresh_id(new_id: NewId, prefix: str, taken: Iterable[str]) -> str:
    used = set(taken)
    ident = new_id(prefix)
    while ident in used:
        ident = new_id(prefix)
    return ident


def tags_of(cloud: Cloud, resource: str) -> list[tuple[str, str]]:
    return [(t.key, t.value) for t in cloud.tags if t.resource == resource]


def set_platform(cloud: Cloud, platform: str) -> Cloud:
    """A new lab's platform; an existing lab keeps its own."""
    if platform not in PLATFORMS:
        raise Ec2Error("InvalidParameterValue", f"platform '{platform}': use ec2-classic or vpc")
    return replace(cloud, platform=platform)
