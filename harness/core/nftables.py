"""Compile an instance's security groups to one nftables transaction.

Each instance gets a table of its own, ``table inet sgh``, inside its network namespace; nothing
else in that namespace's ruleset is touched (Docker may keep its own table there). The script
is one ``nft -f`` transaction that creates the table if it is missing, deletes it and defines it
again, so a rule change, a launch (new members in a group-source set) or a first install is
applied atomically: packets see the old policy or the new one, never a mix.

Group sources become named sets of the member instances' private addresses; the input chain's
policy is drop; established and related traffic is accepted first (stateful, as EC2 is);
outbound traffic is not filtered (EC2-Classic has no egress rules). Output is deterministic.
"""

from __future__ import annotations

import re

from harness.core.model import GroupKey, Instance, Protocol, Rule, Topology

TABLE_FAMILY = "inet"
TABLE_NAME = "sgh"
MAX_COMMENT = 120


def set_name(key: GroupKey, home_account: str) -> str:
    """An nft identifier for a group-source set: ``grp_apache``, ``grp_444455556666_web``."""
    base = key.name if key.account == home_account else f"{key.account}_{key.name}"
    clean = re.sub(r"[^A-Za-z0-9_]", "_", base)
    if clean != base or len(clean) > 40:
        clean = f"{clean[:32]}_{key.group_id[3:]}"
    return f"grp_{clean}"


def _quote(text: str) -> str:
    text = text.replace("\\", "/").replace('"', "'")
    if len(text) > MAX_COMMENT:
        text = text[: MAX_COMMENT - 3] + "..."
    return f'"{text}"'


def _match(rule: Rule, home_account: str) -> str:
    if rule.cidr is not None:
        source = f"ip saddr {rule.cidr}"
    else:
        assert rule.group is not None
        source = f"ip saddr @{set_name(rule.group, home_account)}"
    if rule.protocol is Protocol.ICMP:
        parts = [source, "ip protocol icmp"]
        if rule.from_port != -1:
            parts.append(f"icmp type {rule.from_port}")
        if rule.to_port != -1:
            parts.append(f"icmp code {rule.to_port}")
        return " ".join(parts)
    return f"{source} {rule.protocol} dport {rule.ports_text()}"


def compile_instance(topology: Topology, instance: Instance) -> str:
    """The nft transaction that installs ``instance``'s policy (replacing any earlier one)."""
    home = instance.account
    rules = topology.rules_of(instance)
    set_keys = sorted({rule.group for _, rule in rules if rule.group is not None})
    groups = ", ".join(key.label(home) for key in instance.groups)
    lines = [
        f"# sg-harness policy for {instance.name} ({instance.address}) in lab {topology.name}",
        f"# groups: {groups}",
        f"table {TABLE_FAMILY} {TABLE_NAME}",
        f"delete table {TABLE_FAMILY} {TABLE_NAME}",
        f"table {TABLE_FAMILY} {TABLE_NAME} {{",
    ]
    for key in set_keys:
        members = sorted(member.address for member in topology.members.get(key, ()))
        lines.append(f"\tset {set_name(key, home)} {{")
        lines.append("\t\ttype ipv4_addr")
        if members:
            lines.append(f"\t\telements = {{ {', '.join(str(a) for a in members)} }}")
        lines.append("\t}")
    lines += [
        "\tchain input {",
        "\t\ttype filter hook input priority filter; policy drop;",
        "\t\tct state established,related accept",
        '\t\tiif "lo" accept',
    ]
    for group, rule in rules:
        comment = f"{group.key.label(home)}: {rule.describe(home)}"
        lines.append(f"\t\t{_match(rule, home)} accept comment {_quote(comment)}")
    lines += ["\t}", "}", ""]
    return "\n".join(lines)


def compile_lab(topology: Topology) -> dict[str, str]:
    """Every instance's transaction, by instance name."""
    return {instance.name: compile_instance(topology, instance) for instance in topology.instances}
