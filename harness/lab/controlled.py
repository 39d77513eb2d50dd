"""A one-shot lab with a control plane: a topology's lab that changes through EC2 actions.

The pytest plugin's ``lab.ec2`` drives it. The topology becomes the control plane's state
(:func:`~harness.core.ec2.state_of`: its names kept as ids), every change is an
action of the one action layer (:mod:`harness.core.ec2.actions`, the one every door calls),
the state is projected back onto the data plane as a persistent lab's is, and the lab is
reconciled through the one lifecycle before the action returns, so the change is enforced when
the call returns. Classic and VPC topologies alike. Instances launched this way are named by
their instance ids; the topology's own instances keep their images, commands and ports.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TypeVar

from harness.core.ec2 import actions
from harness.core.ec2 import plane as ec2
from harness.core.ec2.actions import Answer, Caller, Request
from harness.core.ec2.plane import Cloud
from harness.core.model import Topology
from harness.core.phases import QUIET
from harness.core.reconcile import Applied
from harness.core.runtime import LabNamespaces, LabRef, Runtime
from harness.lab.lifecycle import reconcile
from harness.lab.persistent import new_id, now

T = TypeVar("T")


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
        self.cloud = ec2.state_of(topology)

    def desired(self, cloud: Cloud) -> Topology:
        """The topology of a state: its projection, the topology's own instances as written
        (image, command, label) with their groups and interfaces as the state has them."""
        projected = ec2.topology(cloud, self.base.name, self.base.account)
        own = {instance.name: instance for instance in self.base.instances}
        instances = tuple(
            replace(
                own[i.name],
                groups=i.groups,
                address=i.address,
                interfaces=i.interfaces,
                listen=i.listen,
            )
            if i.name in own
            else i
            for i in projected.instances
        )
        return replace(
            self.base,
            groups=projected.groups,
            instances=instances,
            hosts=projected.hosts,
            vpcs=projected.vpcs if self.base.is_vpc else (),
            prefix_lists=projected.prefix_lists if self.base.is_vpc else (),
        )

    def act(self, action: Callable[[Cloud], tuple[Cloud, T]]) -> T:
        cloud, result = action(self.cloud)
        topology = self.desired(cloud)
        done = reconcile(self.runtime, self.ref, topology, self.applied, QUIET)
        self.cloud, self.topology = cloud, topology
        self.namespaces, self.applied = done.namespaces, done.applied
        return result

    def call(self, name: str, account: str, request: Request) -> Answer:
        """An EC2 action of the action layer, as ``account``, enforced before it returns."""
        caller = Caller(account, new_id, now)
        return self.act(lambda cloud: actions.run(name, cloud, caller, request))
