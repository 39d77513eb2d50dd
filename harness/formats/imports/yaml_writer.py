"""An imported topology document as YAML for a person to read and edit: flow style for
short items, each group and rule with a comment naming where the user wrote it."""

from __future__ import annotations

import yaml

from harness.core.model import Origin
from harness.formats.imports.deployment import Imported

# -- the document as YAML, for a person to read and edit ---------------------------------------


def _flow(value: object) -> str:
    text: str = yaml.safe_dump(value, default_flow_style=True, width=10_000, sort_keys=False)
    return text.strip().removesuffix("...").strip()


def _comment(origin: Origin | None) -> str:
    return f"  # {origin}" if origin is not None else ""


def render(imported: Imported) -> str:
    """The topology as YAML: comments say where each group, rule and member came from and
    which choices the import made."""
    doc = imported.document
    lines = [f"# Imported by sgh import from {', '.join(imported.sources)}"]
    if imported.notes:
        lines.append("# Choices the import made:")
        lines.extend(f"#   - {note}" for note in imported.notes)
    lines.append(f"name: {_flow(doc['name'])}")
    lines.append(f"account: {_flow(doc['account'])}")
    lines.append("vpcs:")
    for vpc in doc["vpcs"]:
        lines.append(f"  - name: {_flow(vpc['name'])}")
        lines.append(f"    cidr: {vpc['cidr']}")
        lines.append(f"    ipv6: {_flow(vpc['ipv6'])}")
        for key in ("internet_gateway", "egress_only_internet_gateway", "main_route_table"):
            if key in vpc:
                lines.append(f"    {key}: {_flow(vpc[key])}")
        lines.append("    subnets:")
        lines.extend(f"      - {_flow(dict(subnet))}" for subnet in vpc["subnets"])
        if "nat_gateways" in vpc:
            lines.append("    nat_gateways:")
            lines.extend(
                f"      - {_flow(dict(nat))}{_comment(nat.origin)}" for nat in vpc["nat_gateways"]
            )
        if "route_tables" in vpc:
            lines.append("    route_tables:")
            for table in vpc["route_tables"]:
                lines.append(f"      - name: {_flow(table['name'])}{_comment(table.origin)}")
                lines.append(f"        routes:{' []' if not table['routes'] else ''}")
                lines.extend(
                    f"          - {_flow(dict(route))}{_comment(route.origin)}"
                    for route in table["routes"]
                )
        if "network_acls" in vpc:
            lines.append("    network_acls:")
            for acl in vpc["network_acls"]:
                lines.append(f"      - name: {_flow(acl['name'])}{_comment(acl.origin)}")
                for side in ("ingress", "egress"):
                    entries = acl[side]
                    lines.append(f"        {side}:{' []' if not entries else ''}")
                    lines.extend(
                        f"          - {_flow(dict(entry))}{_comment(entry.origin)}"
                        for entry in entries
                    )
    if "peerings" in doc:
        lines.append("peerings:")
        lines.extend(
            f"  - {_flow(dict(peering))}{_comment(peering.origin)}" for peering in doc["peerings"]
        )
    if "prefix_lists" in doc:
        lines.append("prefix_lists:")
        lines.extend(f"  - {_flow(dict(plist))}" for plist in doc["prefix_lists"])
    lines.append("groups:")
    for group in doc["groups"]:
        lines.append(f"  - name: {_flow(group['name'])}{_comment(group.origin)}")
        for key in ("vpc", "account", "description", "default_rules"):
            if key in group:
                lines.append(f"    {key}: {_flow(group[key])}")
        for direction in ("ingress", "egress"):
            if direction not in group:
                continue
            rules = group[direction]
            lines.append(f"    {direction}:{' []' if not rules else ''}")
            lines.extend(f"      - {_flow(dict(rule))}{_comment(rule.origin)}" for rule in rules)
    lines.append("instances:")
    for instance in doc["instances"]:
        plain = {k: v for k, v in instance.items() if k != "interfaces"}
        if "interfaces" in instance:
            lines.append(f"  - name: {_flow(plain.pop('name'))}{_comment(instance.origin)}")
            lines.extend(f"    {key}: {_flow(value)}" for key, value in plain.items())
            lines.append("    interfaces:")
            lines.extend(
                f"      - {_flow(dict(nic))}{_comment(nic.origin)}"
                for nic in instance["interfaces"]
            )
        else:
            lines.append(f"  - {_flow(plain)}{_comment(instance.origin)}")
    if "hosts" in doc:
        lines.append("hosts:")
        lines.extend(f"  - {_flow(dict(host))}" for host in doc["hosts"])
    return "\n".join(lines) + "\n"
