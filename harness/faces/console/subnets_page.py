"""The Subnets page (VPC labs): each subnet with its route table's routes and its network
ACL's entries in the order they are read, from the same Describe actions every door uses.
Read-only: the path is changed through the Query API, the topology file or Ansible."""

from __future__ import annotations

from typing import Any

from flask import Flask

from harness.core.ec2.actions import Answer
from harness.core.ec2.actions.routing import TARGETS
from harness.faces.console.context import PLATFORMS, Console, Page, platform_of


def _route(route: Answer) -> dict[str, str]:
    destination = route.get("DestinationCidrBlock") or route.get("DestinationIpv6CidrBlock", "")
    target = next((route[k] for k in TARGETS if k in route), "")
    return {"destination": destination, "target": target, "state": route.get("State", "")}


def _entry(entry: Answer) -> dict[str, str]:
    protocol = {"-1": "all", "6": "tcp", "17": "udp", "1": "icmp", "58": "icmpv6"}.get(
        entry["Protocol"], entry["Protocol"]
    )
    ports = ""
    if "PortRange" in entry:
        low, high = entry["PortRange"]["From"], entry["PortRange"]["To"]
        ports = str(low) if low == high else f"{low}-{high}"
    elif "IcmpTypeCode" in entry:
        ports = f"{entry['IcmpTypeCode']['Type']}:{entry['IcmpTypeCode']['Code']}"
    number = entry["RuleNumber"]
    return {
        "rule": "*" if number in (32767, 32768) else str(number),
        "protocol": protocol,
        "ports": ports,
        "peer": entry.get("CidrBlock") or entry.get("Ipv6CidrBlock", ""),
        "action": entry["RuleAction"],
    }


def register(app: Flask, console: Console, page: Page) -> None:
    @app.get("/subnets")
    def subnets() -> str:
        platforms, found, tables, acls = console.describe(
            PLATFORMS,
            ("DescribeSubnets", {}),
            ("DescribeRouteTables", {}),
            ("DescribeNetworkAcls", {}),
        )
        rows: list[dict[str, Any]] = []
        for subnet in found["Subnets"]:
            subnet_id, vpc = subnet["SubnetId"], subnet["VpcId"]
            mine = [t for t in tables["RouteTables"] if t["VpcId"] == vpc]
            table = next(
                (t for t in mine for a in t["Associations"] if a.get("SubnetId") == subnet_id),
                next((t for t in mine for a in t["Associations"] if a.get("Main")), None),
            )
            acl = next(
                a
                for a in acls["NetworkAcls"]
                if a["VpcId"] == vpc and any(x["SubnetId"] == subnet_id for x in a["Associations"])
            )
            entries = sorted(acl["Entries"], key=lambda e: (e["Egress"], e["RuleNumber"]))
            rows.append(
                {
                    "id": subnet_id,
                    "vpc": vpc,
                    "cidr": subnet["CidrBlock"],
                    "table": table["RouteTableId"] if table else "",
                    "routes": [_route(r) for r in table["Routes"]] if table else [],
                    "acl": acl["NetworkAclId"],
                    "inbound": [_entry(e) for e in entries if not e["Egress"]],
                    "outbound": [_entry(e) for e in entries if e["Egress"]],
                }
            )
        return page("subnets.html.j2", "Subnets", platform_of(platforms), subnets=rows)
