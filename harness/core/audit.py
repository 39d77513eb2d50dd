"""The static checkers' checks, answered by reachability: ``sgh lint``'s audit.

The checks are those of checkov, trivy, prowler and Trusted Advisor that users rely on (what
each kind stands for, with the anchors' ids, is in :data:`KINDS`), read semantically rather
than by pattern, so that none of their documented false results comes back:

- every rule is judged on its own: a ``self`` rule does not excuse the group's other rules;
- protocol ``-1`` is all traffic whatever ports it was written with;
- "the world" is a source that contains ``0.0.0.0/0`` or ``::/0``: a CIDR, or a prefix list
  holding one. A group reference, or a prefix list of narrower blocks, is never the world;
- direction matters: an egress rule is never reported as exposure to the world.

Each exposure finding carries a :class:`Reach`: whether the exposed port is reachable in the
lab and from where, by the oracle, from an outside host standing in the rule's source (a lab
host in that block, else a *witness* host made for it), at every member interface of the
group. ``sgh lint --prove`` sends those cells as packets (``harness.lab.audit``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network

from harness.core.ec2.platform import DEFAULT_GROUP
from harness.core.ec2.rules import all_out
from harness.core.model import (
    ICMPS,
    PORTED,
    Group,
    Host,
    Instance,
    Network,
    Origin,
    Probe,
    Protocol,
    Rule,
    State,
    Topology,
)
from harness.core.oracle import Oracle
from harness.core.paths import paths
from harness.core.planner import Cell
from harness.core.port_catalog import HIGH_RISK, PUBLIC, SENSITIVE

ERROR, WARNING, NOTE = "error", "warning", "note"  # SARIF's levels
FAILING = (ERROR, WARNING)  # the levels that make ``sgh lint`` exit 1


@dataclass(frozen=True)
class Kind:
    level: str
    title: str
    help: str


KINDS: dict[str, Kind] = {
    "world-all": Kind(
        ERROR,
        "every port open to the world",
        "Ingress from 0.0.0.0/0 or ::/0 (or a prefix list holding one) on all traffic, or on "
        "every TCP or UDP port. Protocol -1 is all traffic whatever ports it names. Anchors: "
        "checkov CKV_AWS_277, prowler ec2_securitygroup_allow_ingress_from_internet_to_all_ports.",
    ),
    "world-open": Kind(
        ERROR,
        "an administrative or database port open to the world",
        "Ingress from the world to SSH, RDP, Telnet, FTP, SMB, database and cluster ports. "
        "Anchors: checkov CKV_AWS_24/25, trivy AWS-0107, Trusted Advisor HCP4007jGY (red list), "
        "prowler's per-service ec2_securitygroup_allow_ingress_from_internet_to_* checks.",
    ),
    "world-port": Kind(
        WARNING,
        "another port open to the world",
        "Ingress from the world to a port other than those meant to be public (80, 443, 25, "
        "465). Anchors: Trusted Advisor 1iG5NDGVre and HCP4007jGY (yellow), prowler "
        "ec2_high_risk_ports and ..._to_any_port.",
    ),
    "wide-public": Kind(
        WARNING,
        "a wide public IPv4 block",
        "A globally routable IPv4 block of prefix /1 to /23, in ingress or egress. Anchor: "
        "prowler ec2_securitygroup_allow_wide_open_public_ipv4.",
    ),
    "wide-cidr": Kind(
        WARNING,
        "a CIDR far wider than the address it names",
        "A CIDR with host bits set: 198.51.100.7/0 is every address, not one host.",
    ),
    "default-rules": Kind(
        WARNING,
        "the default group carries rules",
        "A VPC's default group should have no rules: instances launched without a group land "
        "in it. Anchors: checkov CKV2_AWS_12, trivy AWS-0173, prowler "
        "ec2_securitygroup_default_restrict_traffic, AWS Config "
        "vpc-default-security-group-closed. A note when no instance is in it.",
    ),
    "egress-world": Kind(
        NOTE,
        "all traffic out to the world",
        "Egress to 0.0.0.0/0 or ::/0 on all traffic (AWS's own default egress). Anchors: "
        "checkov CKV_AWS_382, trivy AWS-0104. A note: it does not expose the group.",
    ),
    "unused": Kind(
        WARNING,
        "a group no instance is in",
        "A group (not a default group) with rules and no member interface. Anchors: checkov "
        "CKV2_AWS_5, prowler ec2_securitygroup_not_used.",
    ),
    "invalid-rule": Kind(
        ERROR,
        "a rule EC2 (or the input's own tool) refuses",
        "A rule sgh run refuses (a reversed port range, two sources, a duplicate, an "
        "unknown group...): the lint reports it at its line and audits the rest of the file "
        "without it.",
    ),
    "normalised": Kind(
        WARNING,
        "a rule AWS would have normalised",
        "A rule of the input that AWS keeps in another form: one that repeats another once "
        "normalised (10.0.0.0/0 is 0.0.0.0/0) is one rule, one with no peer allows nothing. "
        "The import takes it as AWS would and says so; the file says something it does not do.",
    ),
    "dangling-ref": Kind(
        WARNING,
        "a rule naming a group with no members",
        "A rule whose source or destination is a group no interface is in (a group that is "
        "gone, or outside the input): it matches no address.",
    ),
    "no-description": Kind(
        NOTE,
        "a group or rule without a description",
        "A group whose description is empty or Terraform's 'Managed by Terraform', or VPC "
        "rules written without one. Anchors: checkov CKV_AWS_23, trivy AWS-0099 and AWS-0124.",
    ),
    "redundant": Kind(
        WARNING,
        "a rule another rule already covers",
        "A rule covered by another rule of the same group, or of a group every member of this "
        "group is also in.",
    ),
    "near-limit": Kind(
        WARNING, "a group near EC2's rule limit", "A group with 90 or more of EC2's 100 rules."
    ),
    "too-many-rules": Kind(
        WARNING,
        "an instance with more than 100 rules",
        "An instance whose groups add up to more than EC2's 100 rules.",
    ),
}

TERRAFORM_DEFAULT_DESCRIPTION = "Managed by Terraform"
MAX_NAMED = 5


@dataclass(frozen=True)
class Reach:
    """Whether a finding is reachable in the lab, and from where: a sentence, and the cells
    (from the witness host) that prove it by packets."""

    text: str
    witness: Host | None = None
    cells: tuple[Cell, ...] = ()


@dataclass(frozen=True)
class Finding:
    kind: str
    where: str
    message: str
    detail: tuple[str, ...] = ()
    origin: Origin | None = None
    reach: Reach | None = None
    idle: bool = False  # reported as a note: nothing it concerns is in use
    proof: str = field(default="", compare=False)  # set by ``--prove``

    @property
    def level(self) -> str:
        return NOTE if self.idle else KINDS[self.kind].level

    def lines(self) -> list[str]:
        extra = [self.reach.text] if self.reach is not None else []
        if self.proof:
            extra.append(self.proof)
        return [
            f"{self.level:<8}{self.kind:<15}{self.where}: {self.message}",
            *(f"{'':23}  {d}" for d in (*extra, *self.detail)),
        ]


def failing(findings: list[Finding]) -> list[Finding]:
    return [finding for finding in findings if finding.level in FAILING]


def audit(topology: Topology) -> list[Finding]:
    """The anchors' checks on every group and rule of a topology."""
    reach = Reachability(topology)
    findings: list[Finding] = []
    for group in topology.groups:
        for rule in group.rules:
            findings.extend(_world(topology, reach, group, rule))
            findings.extend(_wide_public(topology, reach, group, rule, egress=False))
            findings.extend(_dangling(topology, group, rule, egress=False))
        for rule in group.egress or ():
            findings.extend(_wide_public(topology, reach, group, rule, egress=True))
            findings.extend(_dangling(topology, group, rule, egress=True))
        findings.extend(_egress_world(topology, group))
        findings.extend(_default_rules(topology, group))
        findings.extend(_unused(topology, group))
        findings.extend(_no_description(topology, group))
    return findings


def where(topology: Topology, group: Group, rule: Rule, egress: bool = False) -> str:
    home = topology.account
    side = "egress rule" if egress else "rule"
    written = rule.as_written(home, "to" if egress else "from")
    return f"group '{group.key.label(home)}' {side} '{written}'"


def _members(topology: Topology, group: Group) -> list[Instance]:
    return list(topology.members.get(group.key, ()))


def _names(items: list[str]) -> str:
    shown = ", ".join(items[:MAX_NAMED])
    return shown + (f" and {len(items) - MAX_NAMED} more" if len(items) > MAX_NAMED else "")


# -- exposure to the world -------------------------------------------------------------------


def _worlds(topology: Topology, rule: Rule) -> list[Network]:
    return [net for net in topology.expand(rule) if net.prefixlen == 0]


def _every_port(rule: Rule) -> bool:
    return rule.protocol is Protocol.ALL or (
        rule.protocol in PORTED and rule.from_port <= 1 and rule.to_port == 65535
    )


def _world(topology: Topology, reach: Reachability, group: Group, rule: Rule) -> list[Finding]:
    worlds = _worlds(topology, rule)
    if not worlds or rule.protocol in ICMPS:
        return []
    source = (
        "every address in the world"
        if rule.cidr is not None
        else (f"every address in the world (prefix list '{rule.prefix_list}' holds {worlds[0]})")
    )
    if _every_port(rule):
        what = "all traffic" if rule.protocol is Protocol.ALL else f"every {rule.protocol} port"
        kind, message, port = "world-all", f"opens {what} to {source}", None
    else:
        exposed = _named_ports(rule, SENSITIVE)
        if exposed:
            kind = "world-open"
            message = f"opens {_names([text for _, text in exposed])} to {source}"
            port = exposed[0][0]
        else:
            if rule.protocol in PORTED and all(
                (rule.protocol, p) in PUBLIC for p in range(rule.from_port, rule.to_port + 1)
            ):
                return []  # web and mail ports are meant to face the world
            risky = _named_ports(rule, HIGH_RISK)
            kind = "world-port"
            message = f"opens {rule.what()} to {source}"
            if risky:
                message += f", including {_names([text for _, text in risky])}"
            port = risky[0][0] if risky else None
        message += "; allow only the addresses that need it"
    probe = _probe_for(topology, group, rule, port)
    return [
        Finding(
            kind,
            where(topology, group, rule),
            message,
            origin=rule.origin,
            reach=reach.ingress(group, worlds[0], probe),
        )
    ]


def _named_ports(rule: Rule, catalog: dict[tuple[Protocol, int], str]) -> list[tuple[int, str]]:
    return [
        (port, f"{name} ({protocol} {port})")
        for (protocol, port), name in sorted(catalog.items(), key=lambda item: item[0][1])
        if protocol is rule.protocol and rule.from_port <= port <= rule.to_port
    ]


def _probe_for(topology: Topology, group: Group, rule: Rule, port: int | None = None) -> Probe:
    """The probe that shows the finding: the named port, else a port a member listens on
    that the rule admits, else the rule's first port (SSH for all traffic)."""
    if isinstance(rule.protocol, int):
        return Probe(rule.protocol, None)
    protocol = Protocol.TCP if rule.protocol is Protocol.ALL else rule.protocol
    if port is None:
        listened = sorted(
            item.port
            for member in _members(topology, group)
            for item in member.listen
            if rule.covers(item.protocol, item.port) and item.protocol is protocol
        )
        if listened:
            port = listened[0]
        elif rule.protocol is Protocol.ALL:
            port = 22
        else:
            port = max(rule.from_port, 1)
    return Probe(protocol, port)


def _wide_public(
    topology: Topology, reach: Reachability, group: Group, rule: Rule, *, egress: bool
) -> list[Finding]:
    findings = []
    for net in topology.expand(rule):
        if not (isinstance(net, IPv4Network) and net.is_global and 1 <= net.prefixlen <= 23):
            continue
        direction = "to" if egress else "from"
        message = (
            f"{'lets its members send' if egress else 'admits'} {rule.what()} {direction} "
            f"{net}, a public block of {net.num_addresses:,} addresses that no one organisation "
            "holds; name the addresses that need it"
        )
        found = Finding(
            "wide-public",
            where(topology, group, rule, egress),
            message,
            origin=rule.origin,
            reach=None
            if egress
            else reach.ingress(group, net, _probe_for(topology, group, rule, None)),
        )
        findings.append(found)
    return findings


def _egress_world(topology: Topology, group: Group) -> list[Finding]:
    """One note per group whose egress lets all traffic out to the world (none for a group
    no instance is in: nothing leaves by it)."""
    rules = [r for r in group.egress or () if r.protocol is Protocol.ALL and _worlds(topology, r)]
    members = _members(topology, group)
    if not rules or not members:
        return []
    public = [
        m.name
        for m in members
        if any(nic.public is not None for nic in m.nics if group.key in nic.groups)
    ]
    if not topology.is_vpc:
        text = f"its {len(members)} members send anywhere"
    elif public:
        verb = "has" if len(public) == 1 else "have"
        text = f"{len(public)} of its {len(members)} members {verb} a public address to leave by"
        text += f" ({_names(public)})"
    else:
        text = (
            f"none of its {len(members)} members has a public address (no NAT is modelled), "
            "so nothing leaves the VPC"
        )
    written = _names([f"'{r.as_written(topology.account, 'to')}'" for r in rules])
    return [
        Finding(
            "egress-world",
            f"group '{group.key.label(topology.account)}'",
            f"{written} lets its members send all traffic to every address in the world; {text}",
            origin=rules[0].origin,
        )
    ]


# -- groups ----------------------------------------------------------------------------------


def _default_rules(topology: Topology, group: Group) -> list[Finding]:
    if group.vpc is None or group.name != DEFAULT_GROUP or not group.all_rules:
        return []
    members = [m.name for m in _members(topology, group)]
    count = len(group.all_rules)
    inside = (
        f"{len(members)} instances are in it ({_names(members)})"
        if members
        else "no instance is in it yet, but instances launched without a group land in it"
    )
    message = (
        f"the default group of VPC '{group.vpc}' carries {count} rule{'s' * (count != 1)}; "
        f"{inside}; leave it without rules and give instances groups of their own"
    )
    label = f"group '{group.key.label(topology.account)}'"
    return [Finding("default-rules", label, message, origin=group.origin, idle=not members)]


def _referrers(topology: Topology, group: Group) -> list[str]:
    home = topology.account
    return [
        other.key.label(home)
        for other in topology.groups
        if other.key != group.key and any(rule.group == group.key for rule in other.all_rules)
    ]


def _unused(topology: Topology, group: Group) -> list[Finding]:
    default_egress = group.egress in (None, all_out(False), all_out(True))
    if group.name == DEFAULT_GROUP or _members(topology, group):
        return []
    if not group.rules and default_egress:
        return []  # a bare group: only the rules that name it matter (dangling-ref)
    message = "no instance or interface is in it: its rules protect nothing"
    referrers = _referrers(topology, group)
    if referrers:
        message += f"; rules of {_names(referrers)} name it, and so match no address"
    return [
        Finding(
            "unused", f"group '{group.key.label(topology.account)}'", message, origin=group.origin
        )
    ]


def _dangling(topology: Topology, group: Group, rule: Rule, *, egress: bool) -> list[Finding]:
    if rule.group is None or rule.group == group.key or topology.members.get(rule.group):
        return []
    name = rule.group.label(topology.account)
    return [
        Finding(
            "dangling-ref",
            where(topology, group, rule, egress),
            f"group '{name}' has no members (it is gone, or outside the input), so this rule "
            "matches no address",
            origin=rule.origin,
        )
    ]


def _no_description(topology: Topology, group: Group) -> list[Finding]:
    findings = []
    label = f"group '{group.key.label(topology.account)}'"
    if group.name != DEFAULT_GROUP and group.description.strip() in (
        "",
        TERRAFORM_DEFAULT_DESCRIPTION,
    ):
        said = f"'{group.description}'" if group.description else "nothing"
        findings.append(
            Finding(
                "no-description",
                label,
                f"its description says {said}: say what the group is for",
                origin=group.origin,
            )
        )
    if group.vpc is None:
        return findings  # EC2-Classic rules had no descriptions
    home = topology.account
    bare = [
        (rule, egress)
        for egress in (False, True)
        for rule in group.side(egress)
        if rule.origin is not None and not rule.description.strip()
    ]
    if bare:
        texts = [rule.as_written(home, "to" if egress else "from") for rule, egress in bare]
        findings.append(
            Finding(
                "no-description",
                label,
                f"{len(bare)} of its {len(group.all_rules)} rules have no description",
                tuple(texts),
                origin=bare[0][0].origin,
            )
        )
    return findings


# -- reachability ----------------------------------------------------------------------------

WITNESS_V4 = (
    IPv4Address("198.51.100.254"),
    IPv4Address("203.0.113.254"),
    IPv4Address("192.0.2.254"),
)
WITNESS_V6 = IPv6Address("2001:db8:ffff::fe")


class Reachability:
    """Who can reach a group's members from an address block, by the oracle, from one outside
    host standing in the block."""

    def __init__(self, topology: Topology) -> None:
        self.topology = topology
        self.oracle = Oracle(topology)
        self.witnesses: dict[Network, Host | None] = {}
        self.made: list[Host] = []  # witness hosts that are not in the topology
        self.named = [
            net for g in topology.groups for r in g.all_rules for net in topology.expand(r)
        ]

    def witness(self, net: Network) -> Host | None:
        if net not in self.witnesses:
            self.witnesses[net] = self._witness(net)
        return self.witnesses[net]

    def _inside(self, host: Host, net: Network) -> bool:
        if isinstance(net, IPv4Network):
            return host.address in net
        return host.address6 is not None and host.address6 in net

    def _witness(self, net: Network) -> Host | None:
        """A host in ``net`` that as few narrower blocks of the rules hold as can be: a lab
        host if one is there, else one made for it outside the lab's subnets."""
        narrower = [n for n in self.named if n != net and _within(n, net)]

        def depth(host: Host) -> tuple[int, str]:
            address = host.address if net.version == 4 else host.address6
            return (sum(address in n for n in narrower), host.name)

        hosts = [h for h in (*self.topology.hosts, *self.made) if self._inside(h, net)]
        if hosts:
            return min(hosts, key=depth)
        taken = {h.address for h in (*self.topology.hosts, *self.made)}
        lab = self.topology.subnets()
        names = {n.name for n in self.topology.nodes} | {h.name for h in self.made}
        v4 = [a for a in (*WITNESS_V4, *_ends(net)) if isinstance(a, IPv4Address)]
        usable = [
            a
            for a in v4
            if a not in taken
            and not any(a in subnet for subnet in lab)
            and not any(a in n for n in narrower)
            and (isinstance(net, IPv6Network) or a in net)
        ]
        if not usable:
            return None
        address6 = None
        if isinstance(net, IPv6Network):
            address6 = WITNESS_V6 if WITNESS_V6 in net else net.network_address + 1
        name = "internet" if net.prefixlen == 0 else f"in-{net}".replace("/", "_")
        base, n = name, 2
        while name in names:
            name, n = f"{base}-{n}", n + 1
        host = Host(name, usable[0], address6)
        self.made.append(host)
        return host

    def ingress(self, group: Group, net: Network, probe: Probe) -> Reach:
        topology = self.topology
        label = group.key.label(topology.account)
        nics = [
            (instance, nic)
            for instance in topology.instances
            for nic in instance.nics
            if group.key in nic.groups
        ]
        if not nics:
            return Reach(f"not reachable: no instance is in group '{label}'")
        host = self.witness(net)
        if host is None:
            return Reach(f"not known: no address of {net} can stand for the outside in this lab")
        who = f"{host.name} ({host.address if net.version == 4 else host.address6})"
        reached: list[str] = []
        missed: list[str] = []
        cells: list[Cell] = []
        for instance, nic in nics:
            if not topology.is_vpc:
                verdict = self.oracle.evaluate(host, instance, probe)
                cells.append(Cell(host.name, instance.name, probe))
                if verdict.state is State.FILTERED:
                    missed.append(f"{instance.name}: {verdict.why}")
                else:
                    reached.append(f"{instance.name} ({instance.address})")
                continue
            ways = [
                p
                for p in paths(topology, host, instance)
                if p.target_nic == nic and p.address.version == net.version
            ]
            if not ways:
                lacking = (
                    "public address" if net.version == 4 else "IPv6 address in a public subnet"
                )
                missed.append(f"{instance.name}: no {lacking}")
            for way in ways:
                verdict = self.oracle.evaluate_path(host, instance, probe, way)
                cells.append(Cell(host.name, instance.name, probe, str(way.address)))
                if verdict.state is State.FILTERED:
                    missed.append(f"{instance.name}: {verdict.why}")
                else:
                    reached.append(f"{instance.name} ({way.address})")
        kind = "" if not topology.is_vpc else ("public " if net.version == 4 else "IPv6 ")
        if reached:
            text = f"reachable from {who} on {probe} at {len(reached)} {kind}address"
            text += f"{'es' * (len(reached) != 1)}: {_names(reached)}"
            if missed:
                text += f"; not at {_names(missed)}"
        elif all(m.endswith("no public address") for m in missed):
            text = f"not reachable from {who}: no member has a public address"
        elif all("no IPv6 address" in m for m in missed):
            text = f"not reachable from {who}: no member has an IPv6 address in a public subnet"
        else:
            text = f"not reachable from {who} on {probe}: {_names(missed)}"
        return Reach(text, host, tuple(cells))


def _within(small: Network, big: Network) -> bool:
    if isinstance(small, IPv4Network) and isinstance(big, IPv4Network):
        return small.subnet_of(big)
    if isinstance(small, IPv6Network) and isinstance(big, IPv6Network):
        return small.subnet_of(big)
    return False


def _ends(net: Network) -> list[IPv4Address | IPv6Address]:
    if net.num_addresses < 4:
        return []
    return [net.broadcast_address - 1, net.network_address + 1]
