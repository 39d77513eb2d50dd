"""A generator of big labs: N instances in G groups of one VPC, with rules naming groups, CIDRs
and a prefix list, and a few outside hosts.

    .venv/bin/python bench/big_lab.py N [G] > big.yaml

Group k admits ssh from the office prefix list, its own service port (8000 + k) from group
k - 1 (a chain, as tiers are), https from the VPC's CIDR for every third group, ICMP echo from
its own members, and sends only to the next group and to https anywhere for every fourth group
(the rest keep the default egress). Instances listen on 22, 443 and their group's port; every
tenth of the first 2,000 has a public address. The same N and G always give the same file.
"""

from __future__ import annotations

import sys

import yaml


def big_lab(n: int, groups: int = 0) -> dict[str, object]:
    groups = groups or max(4, n // 25)
    subnets = max(1, (n + 999) // 1000)
    group_list = []
    for k in range(groups):
        ingress: list[dict[str, object]] = [
            {"protocol": "tcp", "ports": 22, "source": "pl:office"},
            {"protocol": "tcp", "ports": 8000 + k, "source": f"g{(k - 1) % groups}"},
            {"protocol": "icmp", "icmp": "8:-1", "source": f"g{k}"},
        ]
        if k % 3 == 0:
            ingress.append({"protocol": "tcp", "ports": 443, "source": "10.0.0.0/16"})
        group: dict[str, object] = {
            "name": f"g{k}",
            "vpc": "big",
            "description": f"group {k}",
            "ingress": ingress,
        }
        if k % 4 == 1:
            group["egress"] = [
                {
                    "protocol": "tcp",
                    "ports": 8000 + (k + 1) % groups,
                    "destination": f"g{(k + 1) % groups}",
                },
                {"protocol": "tcp", "ports": 443, "destination": "0.0.0.0/0"},
            ]
        group_list.append(group)
    instances = []
    for i in range(n):
        k = i % groups
        instance: dict[str, object] = {
            "name": f"n{i:04d}",
            "subnet": f"s{i % subnets}",
            "groups": [f"g{k}"],
            "listen": ["tcp/22", "tcp/443", f"tcp/{8000 + k}"],
        }
        if i % 10 == 0 and i < 2000:  # the lab has 250 public addresses
            instance["public_ip"] = True
        instances.append(instance)
    return {
        "name": f"big-{n}",
        "account": "111122223333",
        "vpcs": [
            {
                "name": "big",
                "cidr": "10.0.0.0/16",
                "subnets": [
                    {"name": f"s{j}", "cidr": f"10.0.{4 * j}.0/22", "public": True}
                    for j in range(subnets)
                ],
            }
        ],
        "prefix_lists": [{"name": "office", "cidrs": ["203.0.113.0/28"]}],
        "groups": group_list,
        "instances": instances,
        "hosts": [
            {"name": "office", "address": "203.0.113.5"},
            {"name": "internet", "address": "198.51.100.10"},
            {"name": "partner", "address": "198.18.0.7"},
        ],
    }


if __name__ == "__main__":
    size = int(sys.argv[1])
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    yaml.safe_dump(big_lab(size, count), sys.stdout, sort_keys=False, width=120)
