"""The state as the data plane's topology (what the oracle and the compiler read), and a
topology as a state (its names kept as ids): one the inverse of the other.
"""

from __future__ import annotations

from harness.core.ec2.images import image_of, listen_of
from harness.core.ec2.state import (
    VPC,
    Cloud,
    InstanceRecord,
    NicRecord,
    PrefixListRecord,
    SubnetRecord,
    VpcRecord,
    stable_id,
)
from harness.core.model import (
    DEFAULT_ACCOUNT,
    Instance,
    Interface,
    PrefixList,
    Subnet,
    Topology,
    Vpc,
)

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
