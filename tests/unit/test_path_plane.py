"""The VPC path in the control plane: a topology's route tables, gateways, NAT gateways,
Elastic IPs, network ACLs and peerings as records, read back as the same path; and the
actions that change them, with AWS's rules and codes (no lab: the state alone)."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.core.ec2 import plane as ec2
from harness.core.ec2.topology import state_of, topology
from harness.core.matrix import expectations
from harness.core.planner import plan
from harness.formats import topology_file

ROOT = Path(__file__).resolve().parents[2]
FILES = [
    "topologies/vpc-full-path.yaml",
    "topologies/vpc-three-tier.yaml",
    "tests/integration/topologies/vpc-route-tables.yaml",
    "tests/integration/topologies/vpc-network-acls.yaml",
]


@pytest.mark.parametrize("name", FILES)
def test_a_topology_as_a_state_reads_back_as_the_same_path(name: str) -> None:
    """Every planned cell has the same verdict in the topology and in the topology read back
    from its state (records named as the file names things)."""
    written = topology_file.load(ROOT / name)
    read = topology(state_of(written), written.name, written.account)
    cells = plan(written)
    before = expectations(written, cells)
    after = expectations(read, cells)
    assert {c: e.state for c, e in before.items()} == {c: e.state for c, e in after.items()}
    assert {n.name for n in read.lab_nodes} == {n.name for n in written.lab_nodes}


def test_a_vpc_never_given_a_path_keeps_the_labs_shortcut() -> None:
    written = topology_file.load(ROOT / "topologies/vpc-three-tier.yaml")
    cloud = state_of(written)
    assert not cloud.route_tables and not cloud.gateways
    assert ec2.routing.tables_of(cloud, cloud.vpcs[0])[0].main
