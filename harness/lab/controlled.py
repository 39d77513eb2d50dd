"""A one-shot lab with a control plane: a topology's lab that changes through EC2 actions.

The pytest plugin's ``lab.ec2`` drives it. The topology's groups and instances become the
control plane's state (its instances keep their names as ids), every action is the control
plane's own pure function (:mod:`harness.core.control_plane`, the one that serves persistent
labs), and the lab is reconciled through the one lifecycle before the action returns, so the
change is enforced when the call returns. Instances launched this way are named by their
instance ids; the topology's own instances keep their images and ports.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TypeVar

from harness.core import control_plane
from harness.core.control_plane import Cloud, InstanceRecord
from harness.core.model import Instance, Topology
from harness.core.phases import QUIET
from harness.core.reconcile import Applied
from harness.core.runtime import LabNamespaces, LabRef, Runtime
from harness.lab.lifecycle import reconcile
from harness.lab.persistent import new_id, now

T = TypeVar("T")
TOPOLOGY_AMI = "ami-00000000"  # what the topology's own instances stand for in the state


def as_cloud(topology: Topology) -> Cloud:
    """The control plane's state of a topology: its groups, instances (ids = names), hosts."""
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
        )
        for index, instance in enumerate(topology.instances)
    )
    return Cloud(topology.groups, records, topology.hosts, topology.subnet)


class ControlledLab:
    """A running one-shot lab and its control plane; ``act`` changes and enforces."""

    def __init__(
        self,
        runtime: Runtime,
        ref: LabRef,
        topology: Topology,
        namespaces: LabNamespaces,
        applied: dict[str, Applied],
    ) -> None:
        self.runtime = runtime
        self.ref = ref
        self.base = topology
        self.topology = topology
        self.namespaces = namespaces
        self.applied = applied
        self.cloud = as_cloud(topology)

    def desired(self, cloud: Cloud) -> Topology:
        """The topology of a state: the topology's instances as written, launched ones by id."""
        own = {instance.name: instance for instance in self.base.instances}
        instances: list[Instance] = []
        for record in cloud.active_instances():
            instance = own.get(record.instance_id)
            if instance is None:
                instance = Instance(
                    record.instance_id,
                    record.owner,
                    record.groups,
                    record.address,
                    control_plane.listen_of(cloud, record),
                )
            instances.append(instance)
        return replace(self.topology, groups=cloud.groups, instances=tuple(instances))

    def act(self, action: Callable[[Cloud], tuple[Cloud, T]]) -> T:
        cloud, result = action(self.cloud)
        topology = self.desired(cloud)
        done = reconcile(self.runtime, self.ref, topology, self.applied, QUIET)
        self.cloud, self.topology = cloud, topology
        self.namespaces, self.applied = done.namespaces, done.applied
        return result

    def launch(
        self, account: str, image_id: str, count: int, groups: list[str]
    ) -> list[InstanceRecord]:
        return self.act(
            lambda c: control_plane.run_instances(
                c, account, image_id, count, groups, now=now(), new_id=new_id
            )
        )
