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
from ipaddress import collapse_addresses

from harness.core.fabric import HOP_BASE, MARK_EDGE, hops, nic_name
from harness.core.model import (
    GroupKey,
    Instance,
    NatGateway,
    Network,
    Protocol,
    Router,
    Rule,
    Topology,
)
from harness.core.vpc_path import (
    EGRESS_ONLY_INTERNET_GATEWAY,
    INTERNET_GATEWAY,
    AclEntry,
    to_gateway,
)

TABLE_FAMILY = "inet"
TABLE_NAME = "sgh"
DROPPED = "dropped"  # the counter of new packets an instance's input chain drops
MAX_COMMENT = 120


def set_name(key: GroupKey, home_account: str, vpc: str = "") -> str:
    """An nft identifier for a group-source set: ``grp_apache``, ``grp_444455556666_web``."""
    base = key.name if key.account == home_account else f"{key.account}_{key.name}"
    if key.vpc and vpc and key.vpc != vpc:  # a group of a peered VPC (which may reuse a name)
        base = f"{key.vpc}_{base}"
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


# The last rule of an instance's input chain counts the new packets (a probe, never a reply,
# which is established or related) that its policy is about to drop: the prober reads it to
# learn that an unanswered probe was dropped instead of waiting for silence. A listing without
# counter values is ``nft -s list``.
_COUNTER = [f"\tcounter {DROPPED} {{", "\t}"]
_COUNTED = f'\t\tct state new counter name "{DROPPED}" comment "dropped: no rule allows it"'


def compile_instance(topology: Topology, instance: Instance) -> str:
    """The nft transaction that installs ``instance``'s policy (replacing any earlier one)."""
    if topology.is_vpc:
        return compile_vpc_instance(topology, instance)
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
        *_COUNTER,
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
    lines += [_COUNTED, "\t}", "}", ""]
    return "\n".join(lines)


def compile_lab(topology: Topology) -> dict[str, str]:
    """Every instance's transaction, by instance name (and the gateway's, if any)."""
    if not topology.is_vpc:
        return {i.name: compile_instance(topology, i) for i in topology.instances}
    policies = {i.name: compile_vpc_instance(topology, i) for i in topology.instances}
    for router in topology.routers:
        policies[router.name] = compile_router(topology, router)
    for nat in topology.nat_gateways:
        policies[nat.name] = compile_nat(topology, nat)
    if topology.gateway is not None:
        policies[topology.gateway.name] = compile_gateway(topology)
    return policies


# -- VPC: per-interface chains, egress, untracked flows, the internet gateway ------------------

ND_TYPES = "nd-neighbor-solicit, nd-neighbor-advert, nd-router-solicit, nd-router-advert"


def _sets_v6_name(name: str) -> str:
    return f"{name}_6"


def _plist_set(name: str) -> str:
    """The nft set of a prefix list's CIDRs: ``pl_office``."""
    return "pl_" + re.sub(r"[^A-Za-z0-9_]", "_", name)


def _peer(
    rule: Rule, home: str, egress: bool, plists: dict[str, tuple[Network, ...]], vpc: str
) -> list[str]:
    """The address matches of a rule, one per family it can match."""
    side = "daddr" if egress else "saddr"
    if rule.cidr is not None:
        family = "ip6" if rule.cidr.version == 6 else "ip"
        return [f"{family} {side} {rule.cidr}"]
    if rule.prefix_list is not None:
        nets = plists[rule.prefix_list]
        family = "ip6" if nets and nets[0].version == 6 else "ip"
        return [f"{family} {side} @{_plist_set(rule.prefix_list)}"]
    assert rule.group is not None
    name = set_name(rule.group, home, vpc)
    return [f"ip {side} @{name}", f"ip6 {side} @{_sets_v6_name(name)}"]


def _proto(rule: Rule) -> str:
    protocol = rule.protocol
    if protocol is Protocol.ALL:
        return ""
    if isinstance(protocol, int):
        return f"meta l4proto {protocol}"
    if protocol in (Protocol.ICMP, Protocol.ICMPV6):
        word = "icmp" if protocol is Protocol.ICMP else "icmpv6"
        parts = [f"meta l4proto {'icmp' if protocol is Protocol.ICMP else 'ipv6-icmp'}"]
        if rule.from_port != -1:
            parts.append(f"{word} type {rule.from_port}")
        if rule.to_port != -1:
            parts.append(f"{word} code {rule.to_port}")
        return " ".join(parts)
    return f"{protocol} dport {rule.ports_text()}"


def _any_net(rule: Rule) -> bool:
    return rule.cidr is not None and rule.cidr.prefixlen == 0


def _all_ports(rule: Rule, protocol: Protocol) -> bool:
    return rule.protocol is Protocol.ALL or (
        rule.protocol is protocol and rule.from_port == 0 and rule.to_port == 65535
    )


def untracked(admit: Rule, opposite: list[Rule]) -> list[Protocol]:
    """The protocols of flows ``admit`` lets in untracked (§1.13): it allows the whole address
    space, and the opposite direction allows all traffic back to the whole space of the same
    family on all ports. ICMP is always tracked."""
    if not _any_net(admit) or admit.cidr is None:
        return []
    found = []
    for protocol in (Protocol.TCP, Protocol.UDP):
        if admit.protocol not in (protocol, Protocol.ALL):
            continue
        if any(
            _any_net(back)
            and back.cidr is not None
            and back.cidr.version == admit.cidr.version
            and _all_ports(back, protocol)
            for back in opposite
        ):
            found.append(protocol)
    return found


def _notrack_lines(
    rule: Rule, protocols: list[Protocol], iface: str, egress: bool
) -> tuple[list[str], list[str]]:
    """Raw-priority matches for the packets of a rule's untracked flows: (coming in, going
    out). Both directions of such a flow skip conntrack and are judged by the rules."""
    if not protocols:  # tracked: nothing to mark
        return [], []
    assert rule.cidr is not None  # untracked flows come from rules for a whole address space
    nfproto = "ipv6" if rule.cidr.version == 6 else "ipv4"
    coming: list[str] = []
    going: list[str] = []
    for protocol in protocols:
        if rule.protocol is Protocol.ALL:
            forward = back = f"meta l4proto {protocol}"
        else:
            forward = f"{protocol} dport {rule.ports_text()}"
            back = f"{protocol} sport {rule.ports_text()}"
        first, second = (going, coming) if egress else (coming, going)
        first_if, second_if = ("oifname", "iifname") if egress else ("iifname", "oifname")
        first.append(f'{first_if} "{iface}" meta nfproto {nfproto} {forward} notrack')
        second.append(f'{second_if} "{iface}" meta nfproto {nfproto} {back} notrack')
    return coming, going


def compile_vpc_instance(topology: Topology, instance: Instance) -> str:
    """A VPC instance's transaction: per interface, its groups' ingress rules on the way in
    and their egress rules on the way out; tracked replies pass, untracked flows (§1.13) are
    judged packet by packet."""
    home = instance.account
    plists = {plist.name: plist.cidrs for plist in topology.prefix_lists}
    nics = instance.nics
    own = topology.subnets_by_name[nics[0].subnet].vpc
    lines = [
        f"# sg-harness policy for {instance.name} ({instance.address}) in lab {topology.name}",
        "# interfaces: "
        + "; ".join(
            f"{nic_name(n)} {nic.subnet} {', '.join(k.label(home) for k in nic.groups)}"
            for n, nic in enumerate(nics)
        ),
        f"table {TABLE_FAMILY} {TABLE_NAME}",
        f"delete table {TABLE_FAMILY} {TABLE_NAME}",
        f"table {TABLE_FAMILY} {TABLE_NAME} {{",
        *_COUNTER,
    ]
    ingress = {n: topology.ingress_of(nic) for n, nic in enumerate(nics)}
    egress = {n: topology.egress_of(nic) or [] for n, nic in enumerate(nics)}
    rules = [rule for side in (*ingress.values(), *egress.values()) for _, rule in side]
    for key in sorted({rule.group for rule in rules if rule.group is not None}):
        name = set_name(key, home, own)
        members = topology.member_addresses.get(key, ())
        for set_id, kind, version in (
            (name, "ipv4_addr", 4),
            (_sets_v6_name(name), "ipv6_addr", 6),
        ):
            lines += [f"\tset {set_id} {{", f"\t\ttype {kind}"]
            chosen = sorted(str(a) for a in members if a.version == version)
            if chosen:
                lines.append(f"\t\telements = {{ {', '.join(chosen)} }}")
            lines.append("\t}")
    for plist in sorted({rule.prefix_list for rule in rules if rule.prefix_list is not None}):
        nets = plists[plist]
        kind = "ipv6_addr" if nets and nets[0].version == 6 else "ipv4_addr"
        lines += [
            f"\tset {_plist_set(plist)} {{",
            f"\t\ttype {kind}",
            "\t\tflags interval",
        ]
        if nets:
            lines.append(f"\t\telements = {{ {', '.join(str(n) for n in nets)} }}")
        lines.append("\t}")
    coming: list[str] = []
    going: list[str] = []
    for n in range(len(nics)):
        ins, outs = [r for _, r in ingress[n]], [r for _, r in egress[n]]
        for rule, opposite, is_egress in (
            *((r, outs, False) for r in ins),
            *((r, ins, True) for r in outs),
        ):
            more = _notrack_lines(rule, untracked(rule, opposite), nic_name(n), is_egress)
            coming += more[0]
            going += more[1]
    for chain, hook, found in (("raw_in", "prerouting", coming), ("raw_out", "output", going)):
        if found:
            lines.append(f"\tchain {chain} {{")
            lines.append(f"\t\ttype filter hook {hook} priority raw; policy accept;")
            lines += [f"\t\t{line}" for line in dict.fromkeys(found)]
            lines.append("\t}")
    for chain, hook, iface_word, lo in (
        ("input", "input", "iifname", "iif"),
        ("output", "output", "oifname", "oif"),
    ):
        lines += [
            f"\tchain {chain} {{",
            f"\t\ttype filter hook {hook} priority filter; policy drop;",
            "\t\tct state established,related accept",
            f'\t\t{lo} "lo" accept',
            f"\t\ticmpv6 type {{ {ND_TYPES} }} accept",
        ]
        jumps = ", ".join(f'"{nic_name(n)}" : jump {chain}_{nic_name(n)}' for n in range(len(nics)))
        lines.append(f"\t\t{iface_word} vmap {{ {jumps} }}")
        lines += [_COUNTED, "\t}"] if chain == "input" else ["\t}"]
    for n in range(len(nics)):
        for chain, side, is_egress in (("input", ingress[n], False), ("output", egress[n], True)):
            lines.append(f"\tchain {chain}_{nic_name(n)} {{")
            word = "to" if is_egress else "from"
            kind = "egress" if is_egress else "ingress"
            for group, rule in side:
                comment = _quote(f"{kind} {group.key.label(home)}: {rule.describe(home, word)}")
                proto = _proto(rule)
                for peer in _peer(rule, home, is_egress, plists, own):
                    match = f"{peer} {proto}".strip()
                    lines.append(f"\t\t{match} accept comment {comment}")
            lines.append("\t}")
    lines += ["}", ""]
    return "\n".join(lines)


def compile_router(topology: Topology, router: Router) -> str:
    """A VPC's router: each subnet's network ACL, stateless, on every packet that leaves the
    subnet (its outbound entries) or enters it (its inbound entries), replies included; and
    each subnet's route table, as packet marks set on what enters from the subnet (a mark per
    next hop: the lab's edge, a NAT gateway, a peering; see :data:`harness.core.fabric.
    HOP_BASE`): what no route of the table carries out of the VPC is dropped, and what comes
    in over the transit link goes only to the VPC's own addresses (no transitive routing)."""
    vpc = topology.vpcs_by_name[router.vpc]
    lines = [
        f"# sg-harness router of VPC {vpc.name} in lab {topology.name}",
        "table inet sgh",
        "delete table inet sgh",
        "table inet sgh {",
    ]
    forward: list[str] = []
    for n, subnet in enumerate(vpc.subnets):
        acl = vpc.acl_of(subnet)
        if acl.default:
            continue  # allows everything each way
        iface = nic_name(n)
        for egress, hook, chain in ((True, "iifname", "out"), (False, "oifname", "in")):
            name = f"acl_{chain}_{iface}"
            forward.append(f'\t\t{hook} "{iface}" jump {name}')
            lines.append(f"\tchain {name} {{")
            lines += [f"\t\t{_acl_rule(entry)}" for entry in acl.ordered(egress)]
            lines += [
                f'\t\tdrop comment "{subnet.name}: network ACL {acl.name}, entry *"',
                "\t}",
            ]
    marks = {hop.target: hop.mark for hop in hops(topology, vpc.name)}
    route: list[str] = []
    if topology.transit_link:
        transit = nic_name(len(vpc.subnets))
        own = [str(net) for net in vpc.local]
        for family, version in (("ip", 4), ("ip6", 6)):
            nets = [
                net for net, net_ in zip(own, vpc.local, strict=True) if net_.version == version
            ]
            if nets:
                forward.append(
                    f'\t\tiifname "{transit}" {family} daddr != {{ {", ".join(nets)} }} drop '
                    f'comment "{vpc.name}: what comes in goes only to its own addresses"'
                )
        for n, subnet in enumerate(vpc.subnets):
            table = vpc.table_of(subnet)
            iface = nic_name(n)
            for target, mark in _targets(vpc.name, topology, marks):
                if not vpc.attached(target):
                    continue
                for family, version in (("ip", 4), ("ip6", 6)):
                    nets = [
                        str(net)
                        for net in to_gateway(table, (), target)
                        if net.version == version
                        and not (target == EGRESS_ONLY_INTERNET_GATEWAY and version == 4)
                    ]
                    if nets:
                        route.append(
                            f'\t\tiifname "{iface}" {family} daddr {{ {", ".join(nets)} }} '
                            f'meta mark set {mark} comment "{subnet.name}: route table '
                            f'{table.name} -> {target}"'
                        )
            forward.append(
                f'\t\tiifname "{iface}" oifname "{transit}" meta mark 0 drop comment '
                f'"{subnet.name}: route table {table.name} has no route out of the VPC"'
            )
    if route:
        lines += [
            "\tchain route {",
            "\t\ttype filter hook prerouting priority mangle; policy accept;",
            "\t\tmeta mark set 0",
            *route,
            "\t}",
        ]
    lines += [
        "\tchain forward {",
        "\t\ttype filter hook forward priority filter; policy accept;",
        *forward,
        "\t}",
        "}",
        "",
    ]
    return "\n".join(lines)


def _targets(vpc: str, topology: Topology, marks: dict[str, int]) -> list[tuple[str, int]]:
    """Each route target a router marks packets for, with its mark: the lab's edge (the
    internet gateway and the egress-only one), each NAT gateway and each peering."""
    edge = [(INTERNET_GATEWAY, MARK_EDGE), (EGRESS_ONLY_INTERNET_GATEWAY, MARK_EDGE)]
    assert all(mark >= HOP_BASE for mark in marks.values())
    return [*edge, *sorted(marks.items(), key=lambda item: item[1])]


def compile_nat(topology: Topology, nat: NatGateway) -> str:
    """A NAT gateway: what its VPC's subnets send through it leaves with its address as the
    source (the internet gateway then puts its Elastic IP); replies come back; nothing from
    outside opens a connection through it."""
    vpc = topology.vpcs_by_name[nat.vpc]
    own = ", ".join(str(net) for net in vpc.local if net.version == 4)
    return "\n".join(
        [
            f"# sg-harness NAT gateway {nat.label} of VPC {vpc.name} in lab {topology.name}",
            "table inet sgh",
            "delete table inet sgh",
            "table inet sgh {",
            "\tchain postrouting {",
            "\t\ttype nat hook postrouting priority srcnat; policy accept;",
            f'\t\tip saddr != {nat.address} masquerade comment "to {nat.label}\'s address"',
            "\t}",
            "\tchain forward {",
            "\t\ttype filter hook forward priority filter; policy drop;",
            "\t\tct state established,related accept",
            f'\t\tip saddr {{ {own} }} accept comment "from VPC {vpc.name}"',
            "\t}",
            "\tchain input {",
            "\t\ttype filter hook input priority filter; policy drop;",
            "\t\tct state established,related accept",
            "\t}",
            "}",
            "",
        ]
    )


def _acl_rule(entry: AclEntry) -> str:
    """One network ACL entry as an nft rule: ``return`` (allowed, on to the next check) or
    ``drop``."""
    family = "ip" if entry.cidr.version == 4 else "ip6"
    peer = "daddr" if entry.egress else "saddr"
    parts = [f"{family} {peer} {entry.cidr}"]
    if entry.protocol in (6, 17):
        name = "tcp" if entry.protocol == 6 else "udp"
        assert entry.ports is not None
        low, high = entry.ports
        parts.append(f"{name} dport {low}" if low == high else f"{name} dport {low}-{high}")
    elif (
        entry.protocol in (1, 58)
        and entry.icmp is not None
        and entry.protocol == (1 if entry.cidr.version == 4 else 58)
    ):
        name = "icmp" if entry.protocol == 1 else "icmpv6"
        parts.append(f"meta l4proto {name}")
        kind, code = entry.icmp
        if kind != -1:
            parts.append(f"{name} type {kind}")
            if code != -1:
                parts.append(f"{name} code {code}")
    elif entry.protocol != -1:
        parts.append(f"meta l4proto {entry.protocol}")
    verdict = "return" if entry.action == "allow" else "drop"
    words = entry.describe().replace('"', "'")
    return f'{" ".join(parts)} {verdict} comment "{words}"'


def compile_gateway(topology: Topology) -> str:
    """The internet gateway: 1:1 NAT between public and private IPv4 addresses, and a forward
    filter that lets outside hosts reach only public addresses and public-subnet IPv6."""
    publics = sorted(topology.translations.items())
    open6 = sorted(
        str(nic.ipv6)
        for instance in topology.instances
        for nic in instance.nics
        if nic.ipv6 is not None and topology.online(nic.subnet, 6)
    )
    out6 = sorted(
        str(nic.ipv6)
        for instance in topology.instances
        for nic in instance.nics
        if nic.ipv6 is not None and topology.outbound6(nic.subnet) and str(nic.ipv6) not in open6
    )
    lines = [
        f"# sg-harness internet gateway of lab {topology.name}",
        "table inet sgh",
        "delete table inet sgh",
        "table inet sgh {",
    ]
    if publics:
        to_private = ", ".join(f"{pub} : {priv}" for priv, pub in publics)
        to_public = ", ".join(f"{priv} : {pub}" for priv, pub in publics)
        lines += [
            "\tmap to_private {",
            "\t\ttype ipv4_addr : ipv4_addr",
            f"\t\telements = {{ {to_private} }}",
            "\t}",
            "\tmap to_public {",
            "\t\ttype ipv4_addr : ipv4_addr",
            f"\t\telements = {{ {to_public} }}",
            "\t}",
            "\tchain prerouting {",
            "\t\ttype nat hook prerouting priority dstnat; policy accept;",
            "\t\tdnat ip to ip daddr map @to_private",
            "\t}",
            "\tchain postrouting {",
            "\t\ttype nat hook postrouting priority srcnat; policy accept;",
            "\t\tsnat ip to ip saddr map @to_public",
            "\t}",
        ]
    if publics:
        lines += [
            "\tset from_public {",
            "\t\ttype ipv4_addr",
            f"\t\telements = {{ {', '.join(str(priv) for priv, _ in publics)} }}",
            "\t}",
        ]
    if out6:
        lines += [
            "\tset egress6 {",
            "\t\ttype ipv6_addr",
            f"\t\telements = {{ {', '.join(out6)} }}",
            "\t}",
        ]
    if open6:
        lines += [
            "\tset public6 {",
            "\t\ttype ipv6_addr",
            f"\t\telements = {{ {', '.join(open6)} }}",
            "\t}",
        ]
    private = [str(n) for n in collapse_addresses(vpc.cidr for vpc in topology.vpcs)]
    private6 = [
        str(n) for n in collapse_addresses(v.ipv6 for v in topology.vpcs if v.ipv6 is not None)
    ]
    lines += [
        "\tchain forward {",
        "\t\ttype filter hook forward priority filter; policy drop;",
        "\t\tct state established,related accept",
        '\t\tct status dnat accept comment "to a public address"',
        f"\t\tip daddr {{ {', '.join(private)} }} drop "
        'comment "a private address: not on the internet"',
    ]
    if publics:
        lines.append(
            '\t\tip saddr @from_public accept comment "from an instance with a public address"'
        )
    if open6:
        lines.append('\t\tip6 daddr @public6 accept comment "to IPv6 in a public subnet"')
        if private6:
            lines.append(
                f"\t\tip6 daddr {{ {', '.join(private6)} }} drop "
                'comment "IPv6 of a subnet not routed to the internet gateway"'
            )
        lines.append('\t\tip6 saddr @public6 accept comment "from IPv6 in a public subnet"')
    if out6:
        lines.append(
            '\t\tip6 saddr @egress6 accept comment "out by an egress-only internet gateway"'
        )
    lines.append("\t}")
    lines += ["}", ""]
    return "\n".join(lines)


# -- a change as a smaller transaction ---------------------------------------------------------

Block = tuple[str, str, tuple[str, ...]]  # kind (one of _KINDS), name, body lines
_KINDS = ("counter", "set", "map", "chain")


def _blocks(script: str) -> list[Block] | None:
    """The counters, sets, maps and chains of a compiled transaction, in order; None when its
    text is not in the compiler's form."""
    lines = script.splitlines()
    try:
        start = lines.index(f"table {TABLE_FAMILY} {TABLE_NAME} {{")
    except ValueError:
        return None
    found: list[Block] = []
    head: list[str] | None = None
    body: list[str] = []
    for line in lines[start + 1 :]:
        if head is None:
            if line == "}":
                return found
            words = line.split()
            if len(words) != 3 or words[0] not in _KINDS or words[2] != "{":
                return None
            head, body = words[:2], []
        elif line == "\t}":
            found.append((head[0], head[1], tuple(body)))
            head = None
        else:
            body.append(line.strip())
    return None


def _split(kind: str, body: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """A block's declaration lines and its content: a chain's rules, a set's element lists."""
    if kind == "chain":
        declared = [line for line in body if line.startswith("type ")]
        return declared, [line for line in body if not line.startswith("type ")]
    elements = "elements = "
    declared = [line for line in body if not line.startswith(elements)]
    return declared, [line.removeprefix(elements) for line in body if line.startswith(elements)]


def delta(before: str, after: str) -> str | None:
    """A transaction that turns the policy ``before`` (as loaded) into ``after``, touching only
    what differs: a changed set's or map's elements, a changed chain's rules. "" when the two
    load the same table; None when the change is one of structure (sets or chains added,
    removed or reordered, a set's type or flags, a base chain's hook or policy), which the
    whole ``after`` makes. One transaction: packets see the old policy or the new one, never a
    mix. (Should nft refuse one, the caller loads ``after`` whole.)"""
    old, new = _blocks(before), _blocks(after)
    if old is None or new is None or [b[:2] for b in old] != [b[:2] for b in new]:
        return None
    where = f"{TABLE_FAMILY} {TABLE_NAME}"
    steps: list[str] = []
    for (kind, name, was), (_, _, now) in zip(old, new, strict=True):
        if was == now:
            continue
        declared, listed = _split(kind, now)
        if declared != _split(kind, was)[0]:
            return None  # a set's type or flags, a base chain's hook, priority or policy
        item = "rule" if kind == "chain" else "element"
        steps.append(f"flush {kind} {where} {name}")  # a base chain keeps its hook
        steps += [f"add {item} {where} {name} {content}" for content in listed]
    return "\n".join(steps) + ("\n" if steps else "")
