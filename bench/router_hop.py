"""What a VPC router's hop costs a probe: the same generated lab (N instances, their groups
and rules) built twice on the netns runtime, once with every instance in one subnet (their
probes never leave the subnet) and once spread over two subnets (half their pairs cross the
VPC's router), each verified cell by cell; both runs three times, alternating, in one process.

    .venv/bin/python bench/router_hop.py [N]
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from typing import cast

import yaml
from big_lab import big_lab  # bench/ is the script's directory, first on sys.path
from table import kernel_quiet

from harness.adapters.netns_runtime import NetnsRuntime
from harness.adapters.probers.scapy_prober import ScapyProber
from harness.core.model import Topology
from harness.core.phases import QUIET
from harness.formats import topology_file
from harness.lab.one_shot import verify


def lab(n: int, subnets: int) -> Topology:
    """The generated lab of ``n`` instances, spread over ``subnets`` /24s of one VPC."""
    document = big_lab(n)
    vpcs = cast(list[dict[str, object]], document["vpcs"])
    vpcs[0]["subnets"] = [
        {"name": f"s{j}", "cidr": f"10.0.{4 * j}.0/22", "public": True} for j in range(subnets)
    ]
    for i, instance in enumerate(cast(list[dict[str, object]], document["instances"])):
        instance["subnet"] = f"s{i % subnets}"
    document["name"] = f"hop-{subnets}"
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as handle:
        yaml.safe_dump(document, handle, sort_keys=False)
    try:
        return topology_file.load(handle.name)
    finally:
        os.unlink(handle.name)


def run(topology: Topology) -> tuple[int, float]:
    """Cells verified and the seconds their probing took."""
    matrix = verify(topology, NetnsRuntime(), ScapyProber(), QUIET, classes=True)
    assert matrix.summary.ok, matrix.summary.line()
    return len(matrix.results), matrix.timings.get("probe", 0.0)


def main() -> int:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    labs = {1: lab(n, 1), 2: lab(n, 2)}
    rates: dict[int, list[float]] = {1: [], 2: []}
    started = time.monotonic()
    for _ in range(3):
        for subnets, topology in labs.items():
            kernel_quiet()  # the last lab's namespaces freed: no background work in the figures
            cells, seconds = run(topology)
            rates[subnets].append(seconds / cells * 1e6)
            print(f"{subnets} subnet(s), N={n}: {cells:,} cells probed in {seconds:.2f} s")
    one, two = min(rates[1]), min(rates[2])
    print(
        f"router hop: {one:.1f} µs a cell in one subnet, {two:.1f} µs with half the pairs "
        f"across the router ({two / one:.2f} x); so a crossing probe costs about "
        f"{2 * (two - one):.1f} µs more ({time.monotonic() - started:.0f} s in all)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
