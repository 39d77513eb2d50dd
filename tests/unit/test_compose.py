"""Compose files as topologies: the shipped docker-compose.yml is the seed's three-tier lab."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.core.matrix import expectations
from harness.core.model import Listen, Protocol
from harness.core.planner import plan
from harness.errors import TopologyError
from harness.formats import topology_file

ROOT = Path(__file__).resolve().parents[2]


def test_the_compose_file_is_the_three_tier_topology() -> None:
    compose = topology_file.load(ROOT / "docker-compose.yml")
    yaml = topology_file.load(ROOT / "topologies" / "three-tier.yaml")
    assert compose.name == "three-tier-compose"
    assert [i.name for i in compose.instances] == [i.name for i in yaml.instances]
    assert [h.address for h in compose.hosts] == [h.address for h in yaml.hosts]
    assert compose.groups == yaml.groups
    assert compose.instances == yaml.instances
    assert expectations(compose, plan(compose)) == expectations(yaml, plan(yaml))


def write(tmp_path: Path, services: str, groups: str = "") -> Path:
    path = tmp_path / "compose.yml"
    path.write_text(
        'version: "3.8"\n'
        + (
            groups
            or "x-security-groups:\n  - name: dns\n    rules:\n"
            "      - {protocol: udp, ports: 53, source: 0.0.0.0/0}\n"
        )
        + "services:\n"
        + services
    )
    return path


def test_udp_ranges_scale_list_labels_and_project_name(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "  ns:\n    image: sgh-instance\n    expose: ['53/udp', '8000-8002']\n    scale: 2\n"
        "    labels: ['sg-harness.groups=dns']\n"
        "  other:\n    image: nginx:1.25\n    command: nginx -g 'daemon off;'\n",
    )
    topo = topology_file.load(path)
    assert topo.name == tmp_path.name[:40].lstrip("._-") or topo.name == "compose"
    ns1, ns2, other = topo.instances
    assert (ns1.name, ns2.name) == ("ns-1", "ns-2")
    assert ns1.listen == (
        Listen(Protocol.TCP, 8000),
        Listen(Protocol.TCP, 8001),
        Listen(Protocol.TCP, 8002),
        Listen(Protocol.UDP, 53),
    )
    assert [key.name for key in ns1.groups] == ["dns"]
    assert other.image == "nginx:1.25" and [k.name for k in other.groups] == ["default"]


@pytest.mark.parametrize(
    ("services", "problem"),
    [
        (
            "  web:\n    expose: ['http']\n",
            ":8: service 'web': expose entry 'http' must look like 80, 53/udp or 8000-8010",
        ),
        (
            "  web:\n    labels: {sg-harness.groups: 'dns, nosuch'}\n",
            ":8: instances[0] 'web': InvalidGroup.NotFound",
        ),
        (
            "  web:\n    deploy: {replicas: 0}\n",
            ":8: service 'web': replicas must be a whole number of at least 1, not 0",
        ),
    ],
)
def test_compose_errors_name_the_service_and_line(
    tmp_path: Path, services: str, problem: str
) -> None:
    path = write(tmp_path, services)
    with pytest.raises(TopologyError) as err:
        topology_file.load(path)
    assert str(err.value).startswith(f"{path}{problem}"), str(err.value)
