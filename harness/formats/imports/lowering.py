"""The lowering of a :class:`~harness.formats.imports.deployment.Deployment` into the VPC
topology document the reader validates, making each choice the input leaves open visible
(outside groups, invented blocks, representatives, outside hosts: see :mod:`.deployment`)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from ipaddress import (
    IPv4Address,
    IPv4Network,
    IPv6Network,
    ip_network,
)
from typing import Any

from harness.core.ec2 import platform as platforms
from harness.core.model import Origin
from harness.formats.imports.deployment import (
    DEFAULT_VPC,
    INTERNET6,
    Attachment,
    Deployment,
    Imported,
    ImportedGroup,
    ImportedInterface,
    ImportedPrefixList,
    ImportedRoute,
    ImportedRule,
    ImportedSubnet,
    Peer,
    group_name,
    refuse,
    safe_name,
)
from harness.formats.yaml_lines import LineDict, LineList

MAX_LISTEN = 24  # ports a representative listens on, at most
MAX_HOSTS = 24  # outside hosts, at most (address classes beyond are merged into 'internet')
INTERNET_CANDIDATES = ("198.51.100.10", "203.0.113.10", "100.64.0.10", "8.8.4.10")
# where no lab node may live: the lab's public pool, Docker's own bridge, unroutable space
RESERVED = tuple(
    IPv4Network(text)
    for text in (
        "0.0.0.0/8",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.17.0.0/16",
        "224.0.0.0/3",
        str(platforms.PUBLIC_POOL),
    )
)


def _node(origin: Origin | None = None, **values: object) -> LineDict:
    result = LineDict(values)
    result.origin = origin
    return result


# -- the document ----------------------------------------------------------------------------


@dataclass
class _VpcPath:
    """What :meth:`_Builder._path` makes of a VPC: its document keys and, for its subnets,
    their route tables, network ACLs, and which tables route to an internet gateway."""

    keys: dict[str, Any] = field(default_factory=dict)
    table_of: dict[str, str] = field(default_factory=dict)  # subnet ref -> table name
    acl_of: dict[str, str] = field(default_factory=dict)  # subnet ref -> ACL name
    online_tables: set[str] = field(default_factory=set)
    nat_subnets: dict[str, str] = field(default_factory=dict)  # NAT name -> subnet ref
    main: str = ""


@dataclass
class _Builder:
    deployment: Deployment
    notes: list[str] = field(default_factory=list)
    vpc_names: dict[str, str] = field(default_factory=dict)  # vpc ref -> topology name
    vpc_cidrs: dict[str, IPv4Network] = field(default_factory=dict)  # by topology name
    subnet_names: dict[str, str] = field(default_factory=dict)  # subnet ref -> name
    subnet_cidrs: dict[str, IPv4Network] = field(default_factory=dict)  # by name
    public_subnet: dict[str, str] = field(default_factory=dict)  # vpc name -> public subnet
    online: set[str] = field(default_factory=set)  # subnets routed to an internet gateway
    table_names: dict[str, str] = field(default_factory=dict)  # route table ref -> name
    nat_names: dict[str, str] = field(default_factory=dict)  # NAT gateway ref -> name
    peering_names: dict[str, str] = field(default_factory=dict)  # peering ref -> name
    group_names: dict[str, tuple[str, str]] = field(default_factory=dict)  # ref -> (vpc, name)
    plist_names: dict[str, str] = field(default_factory=dict)
    names: set[str] = field(default_factory=set)  # VPC, subnet and node names in use
    addresses: set[IPv4Address] = field(default_factory=set)  # interfaces' fixed addresses

    def build(self) -> Imported:
        d = self.deployment
        self._outside_groups()  # adds to the deployment's notes
        self._outside_prefix_lists()
        plists = self._prefix_lists()  # first: routes may name them
        vpcs = self._vpcs()
        peerings = self._peerings()
        groups = self._groups()
        instances, representatives = self._instances()
        hosts = self._hosts()
        document = _node(
            None,
            name=safe_name(d.name),
            account=d.account,
            vpcs=vpcs,
        )
        if peerings:
            document["peerings"] = peerings
        if plists:
            document["prefix_lists"] = plists
        document["groups"] = groups
        document["instances"] = instances
        if hosts:
            document["hosts"] = hosts
        return Imported(
            document,
            (*d.notes, *self.notes),  # the importer's, then the lowering's own choices
            tuple(representatives),
            tuple(d.sources),
            tuple(d.normalised),
            tuple(d.dropped or ()),
        )

    # -- groups referenced but not in the input --------------------------------------------

    def _outside_groups(self) -> None:
        d = self.deployment
        for group in list(d.groups.values()):
            for rule in (*group.ingress, *group.egress):
                ref = rule.peer.group
                if ref is None or ref in d.groups:
                    continue
                d.outside_group(
                    ref,
                    rule.origin,
                    description=f"{ref}: referenced, not in the input",
                    holds="no rules",
                    vpc=group.vpc,
                    account=rule.peer.account,
                )

    def _outside_prefix_lists(self) -> None:
        """A prefix list a rule names but the input does not hold becomes an empty one."""
        d = self.deployment
        for group in d.groups.values():
            for rule in (*group.ingress, *group.egress):
                ref = rule.peer.prefix_list
                if ref is None:
                    continue
                if ref not in d.prefix_lists:
                    d.prefix_lists[ref] = ImportedPrefixList(ref, ref, ())
                    self.notes.append(
                        f"{rule.origin}: prefix list {ref} is not in the input (its entries "
                        "are unknown): it becomes an empty list, which matches no address"
                    )
                elif not d.prefix_lists[ref].cidrs:
                    self.notes.append(
                        f"{rule.origin}: prefix list {ref} has no entries in the input: it "
                        "matches no address"
                    )

    # -- VPCs, subnets and prefix lists ----------------------------------------------------

    def _vpc_refs(self) -> list[str | None]:
        d = self.deployment
        refs: list[str | None] = list(d.vpcs)
        refs.extend(group.vpc for group in d.groups.values())
        refs.extend(nic.vpc or self._subnet_vpc(nic.subnet) for nic in d.interfaces)
        refs.extend(p.vpc for p in d.path if p.kind == "pcx")
        refs.extend(p.other for p in d.path if p.kind == "pcx")
        return list(dict.fromkeys(refs))

    def _subnet_vpc(self, ref: str | None) -> str | None:
        subnet = self.deployment.subnets.get(ref or "")
        return subnet.vpc if subnet is not None else None

    def _vpcs(self) -> LineList:
        d = self.deployment
        refs = self._vpc_refs()
        result = LineList()
        self.names.add(platforms.DEFAULT_VPC)
        for ref in refs:
            known = d.vpcs.get(ref) if ref is not None else None
            if ref is None:  # groups and interfaces without a VPC: the default VPC's place
                name = safe_name(DEFAULT_VPC, self.names)
                cidr = self._vpc_cidr("(no VPC)", str(platforms.DEFAULT_VPC_CIDR))
            else:
                name = safe_name(known.name if known else ref, self.names)
                cidr = self._vpc_cidr(ref, known.cidr if known else None)
            self.vpc_names[ref or ""] = name
            self.vpc_cidrs[name] = cidr
            ipv6 = (known.ipv6 if known else False) or self._wants_ipv6(ref)
            path = self._path(ref, name, cidr)
            subnets = self._subnets(ref, name, cidr, path)
            node = _node(None, name=name, cidr=str(cidr), ipv6=ipv6, subnets=subnets)
            node.update(path.keys)
            result.append(node)
        return result

    # -- the rest of a VPC's path: gateways, NAT gateways, route tables, network ACLs -------

    def _path(self, ref: str | None, vpc: str, cidr: IPv4Network) -> _VpcPath:
        """A VPC's gateways, NAT gateways, route tables and network ACLs as the input gives
        them; what the lab does not model is left out with a note (its destinations then
        have no route in the lab: nothing looks reachable that is not)."""
        d = self.deployment
        found = _VpcPath()
        mine = [p for p in d.path if p.vpc == ref and ref is not None]
        gateways = {p.ref for p in mine if p.kind == "igw"}
        egress_only = {p.ref for p in mine if p.kind == "eigw"}
        if gateways:
            found.keys["internet_gateway"] = True
        if egress_only:
            found.keys["egress_only_internet_gateway"] = True
        nats = LineList()
        for nat in d.path:
            if nat.kind != "nat" or self._subnet_vpc(nat.subnet) != ref or ref is None:
                continue
            name = safe_name(nat.ref.rsplit(".", 1)[-1], self.names, prefix="nat-")
            self.nat_names[nat.ref] = name
            spec = _node(nat.origin, name=name, subnet=nat.subnet or "")
            if nat.private:
                spec["connectivity"] = "private"
            nats.append(spec)
            found.nat_subnets[name] = nat.subnet or ""
        for peering in d.path:
            if peering.kind == "pcx" and peering.ref not in self.peering_names:
                self.peering_names[peering.ref] = safe_name(
                    peering.ref.rsplit(".", 1)[-1], self.names, prefix="pcx-"
                )
        taken: set[str] = {"main"}
        tables = LineList()
        for table in d.route_tables.values():
            if table.vpc != ref or ref is None:
                continue
            name = safe_name(table.name, taken, prefix="rt-")
            self.table_names[table.ref] = name
            routes = LineList()
            for route in table.routes:
                target = self._route_target(route, gateways, egress_only, cidr)
                if target is not None:
                    written = route.destination
                    if written.startswith("pl:"):
                        written = f"pl:{self.plist_names[written[3:]]}"
                    routes.append(_node(route.origin, destination=written, target=target))
                    if target == "internet_gateway" and ":" not in route.destination:
                        found.online_tables.add(name)
            tables.append(_node(table.origin, name=name, routes=routes))
        if tables:
            found.keys["route_tables"] = tables
        for main in d.path:
            if main.kind == "main" and main.vpc == ref and main.other in self.table_names:
                found.keys["main_route_table"] = self.table_names[main.other]
                found.main = self.table_names[main.other]
        if nats:
            found.keys["nat_gateways"] = nats
        acls = LineList()
        acl_taken: set[str] = {"default"}
        for acl in d.acls.values():
            members = [
                *acl.subnets,
                *(p.subnet for p in d.path if p.kind == "acl" and p.other == acl.ref),
            ]
            vpc_ref = acl.vpc or next((self._subnet_vpc(s) for s in members if s), None)
            if vpc_ref != ref or ref is None:
                continue
            name = safe_name(acl.name, acl_taken, prefix="acl-")
            for subnet in members:
                if subnet:
                    found.acl_of[subnet] = name
            sides: dict[str, LineList] = {"ingress": LineList(), "egress": LineList()}
            for entry in acl.entries:
                spec = _node(
                    entry.origin,
                    rule=entry.number,
                    protocol=entry.protocol,
                    action=entry.action,
                    **{"destination" if entry.egress else "source": entry.cidr},
                )
                if entry.protocol in ("tcp", "udp", "6", "17"):
                    spec["ports"] = f"{_int(entry.from_port)}-{_int(entry.to_port)}"
                elif entry.protocol in ("icmp", "1") or (
                    entry.protocol in ("icmpv6", "58") and ":" in entry.cidr
                ):
                    kind = -1 if entry.icmp_type is None else entry.icmp_type
                    code = -1 if entry.icmp_code is None else entry.icmp_code
                    spec["icmp"] = f"{kind}:{code}"
                sides["egress" if entry.egress else "ingress"].append(spec)
            acls.append(
                _node(acl.origin, name=name, ingress=sides["ingress"], egress=sides["egress"])
            )
        if acls:
            found.keys["network_acls"] = acls
        for assoc in d.path:
            if assoc.kind == "assoc" and assoc.other in self.table_names:
                found.table_of[assoc.subnet or ""] = self.table_names[assoc.other]
        return found

    def _route_target(
        self,
        route: ImportedRoute,
        gateways: set[str],
        egress_only: set[str],
        cidr: IPv4Network,
    ) -> str | None:
        if route.destination.startswith("pl:"):
            if route.destination[3:] not in self.plist_names:
                self.notes.append(
                    f"{route.origin}: route to prefix list {route.destination[3:]}, which the "
                    "input does not hold: left out (no route in the lab)"
                )
                return None
            return self._target_name(route, gateways, egress_only)
        try:
            destination = ip_network(route.destination, strict=False)
        except ValueError:
            self.notes.append(f"{route.origin}: route {route.destination} is no CIDR: left out")
            return None
        if isinstance(destination, IPv4Network) and destination.subnet_of(cidr):
            self.notes.append(
                f"{route.origin}: route {route.destination} falls inside the VPC's CIDR in the "
                f"lab ({cidr}): left out"
            )
            return None
        return self._target_name(route, gateways, egress_only)

    def _target_name(
        self, route: ImportedRoute, gateways: set[str], egress_only: set[str]
    ) -> str | None:
        if route.kind == "igw" and route.target in gateways:
            return "internet_gateway"
        if route.kind == "eigw" and route.target in egress_only:
            return "egress_only_internet_gateway"
        if route.kind == "nat" and route.target in self.nat_names:
            return self.nat_names[route.target]
        if route.kind == "pcx" and route.target in self.peering_names:
            return self.peering_names[route.target]
        self.notes.append(
            f"{route.origin}: route {route.destination} -> {route.target}: not a gateway, NAT "
            "gateway or peering of this VPC in the input; left out (no route in the lab)"
        )
        return None

    def _peerings(self) -> LineList:
        d = self.deployment
        result = LineList()
        for peering in d.path:
            if peering.kind != "pcx":
                continue
            one, other = (
                self.vpc_names.get(peering.vpc or ""),
                self.vpc_names.get(peering.other or ""),
            )
            if one is None or other is None or one == other:
                self.notes.append(
                    f"{peering.origin}: a peering whose VPCs the input does not give: left out"
                )
                continue
            name = self.peering_names[peering.ref]
            result.append(_node(peering.origin, name=name, vpcs=[one, other]))
        return result

    def _wants_ipv6(self, vpc: str | None) -> bool:
        """A VPC whose groups name IPv6 CIDRs gets an IPv6 block, so the rules are exercised."""
        for group in self.deployment.groups.values():
            if group.vpc == vpc:
                for rule in (*group.ingress, *group.egress):
                    if rule.peer.cidr is not None and ":" in rule.peer.cidr:
                        return True
        return False

    def _taken_blocks(self) -> list[IPv4Network]:
        return [*self.vpc_cidrs.values(), *RESERVED]

    def _vpc_cidr(self, ref: str, text: str | None) -> IPv4Network:
        if text is not None:
            try:
                cidr = ip_network(text, strict=False)
            except ValueError:
                cidr = None
            if (
                isinstance(cidr, IPv4Network)
                and 16 <= cidr.prefixlen <= 28
                and not any(cidr.overlaps(other) for other in self._taken_blocks())
            ):
                return cidr
            self.notes.append(
                f"VPC {ref}: its CIDR {text} overlaps another VPC or the lab's own addresses, "
                "so the lab gives it another"
            )
        for second in range(0, 256):
            candidate = IPv4Network(f"10.{second}.0.0/16")
            if not any(candidate.overlaps(other) for other in self._taken_blocks()):
                if text is None:
                    self.notes.append(f"VPC {ref}: no CIDR in the input; the lab uses {candidate}")
                return candidate
        raise refuse(Origin(ref), "too many VPCs to place in 10.0.0.0/8")

    def _subnets(
        self, vpc_ref: str | None, vpc_name: str, vpc_cidr: IPv4Network, path: _VpcPath
    ) -> LineList:
        d = self.deployment
        result = LineList()
        used: list[IPv4Network] = []
        known = [s for s in d.subnets.values() if s.vpc == vpc_ref]
        # subnets only named by interfaces: their CIDR around the interfaces' addresses
        implied = {
            nic.subnet: ImportedSubnet(nic.subnet, nic.subnet, vpc_ref)
            for nic in d.interfaces
            if nic.subnet and nic.subnet not in d.subnets and nic.vpc == vpc_ref
        }
        known.extend(implied.values())
        for subnet in known:
            name = safe_name(subnet.name, self.names)
            self.subnet_names[subnet.ref] = name
            cidr = self._subnet_cidr(subnet, vpc_cidr, used)
            used.append(cidr)
            self.subnet_cidrs[name] = cidr
            public = subnet.public or any(
                nic.public for nic in d.interfaces if nic.subnet == subnet.ref
            )
            node = _node(None, name=name, cidr=str(cidr))
            table = path.table_of.get(subnet.ref, path.main)
            if table:  # its route table decides, not its default for public addresses
                node["route_table"] = table
                public = table in path.online_tables
            elif path.keys.get("route_tables") is not None:
                public = False  # the VPC's main table: the local routes only
            else:
                node["public"] = public
            if subnet.ref in path.acl_of:
                node["network_acl"] = path.acl_of[subnet.ref]
            if public:
                self.online.add(name)
                self.public_subnet.setdefault(vpc_name, name)
            result.append(node)
        for nat, ref in path.nat_subnets.items():
            if ref not in self.subnet_names:
                raise refuse(
                    Origin(ref), f"NAT gateway {nat}: its subnet {ref} is not in the input"
                )
        for spec in path.keys.get("nat_gateways", []):
            spec["subnet"] = self.subnet_names[path.nat_subnets[spec["name"]]]
        explicit = "route_tables" in path.keys
        if vpc_name not in self.public_subnet and explicit and result:
            # the input gives the VPC's routes: no subnet is made up to route it elsewhere;
            # what the input places nowhere goes into its first subnet, with no public address
            self.public_subnet[vpc_name] = result[0]["name"]
        elif vpc_name not in self.public_subnet:
            name = safe_name(f"{vpc_name}-public", self.names)
            cidr = next(
                net
                for net in vpc_cidr.subnets(new_prefix=min(max(vpc_cidr.prefixlen, 24), 28))
                if not any(net.overlaps(other) for other in used)
            )
            self.subnet_cidrs[name] = cidr
            self.public_subnet[vpc_name] = name
            if explicit:  # a subnet of its own, on the VPC's main table
                result.append(_node(None, name=name, cidr=str(cidr)))
            else:
                self.online.add(name)
                result.append(_node(None, name=name, cidr=str(cidr), public=True))
        return result

    def _subnet_cidr(
        self, subnet: ImportedSubnet, vpc_cidr: IPv4Network, used: list[IPv4Network]
    ) -> IPv4Network:
        if subnet.cidr is not None:
            try:
                cidr = ip_network(subnet.cidr, strict=False)
            except ValueError:
                cidr = None
            if (
                isinstance(cidr, IPv4Network)
                and cidr.subnet_of(vpc_cidr)
                and cidr.prefixlen <= 28
                and not any(cidr.overlaps(other) for other in used)
            ):
                return cidr
        addresses = [
            IPv4Address(nic.private_ip)
            for nic in self.deployment.interfaces
            if nic.subnet == subnet.ref and nic.private_ip and ":" not in nic.private_ip
        ]
        for address in addresses:
            around = IPv4Network(f"{address}/24", strict=False)
            if around.subnet_of(vpc_cidr) and not any(around.overlaps(o) for o in used):
                return around
        for net in vpc_cidr.subnets(new_prefix=min(max(vpc_cidr.prefixlen, 24), 28)):
            if not any(net.overlaps(other) for other in used):
                if subnet.cidr is None:
                    self.notes.append(
                        f"subnet {subnet.ref}: no CIDR in the input; the lab uses {net}"
                    )
                return net
        raise refuse(Origin(subnet.ref), f"no room for subnet {subnet.ref} in {vpc_cidr}")

    def _prefix_lists(self) -> LineList:
        result = LineList()
        taken: set[str] = set()
        for ref, plist in self.deployment.prefix_lists.items():
            name = safe_name(plist.name, taken)
            self.plist_names[ref] = name
            result.append(_node(None, name=name, cidrs=list(plist.cidrs)))
        return result

    # -- groups and rules ------------------------------------------------------------------

    def _vpc_name(self, ref: str | None) -> str:
        return self.vpc_names[ref or ""]

    def _groups(self) -> LineList:
        d = self.deployment
        taken: set[tuple[str, str, str]] = set()
        for group in d.groups.values():
            vpc = self._vpc_name(group.vpc)
            account = group.account or d.account
            base = "default" if group.is_default else group_name(group.name)
            name, number = base, 2
            while (vpc, account, name) in taken:
                name = f"{base}-{number}"
                number += 1
            taken.add((vpc, account, name))
            self.group_names[group.ref] = (vpc, name)
        result = LineList()
        for group in d.groups.values():
            vpc, name = self.group_names[group.ref]
            item = _node(group.origin, name=name, vpc=vpc)
            if group.account is not None and group.account != d.account:
                item["account"] = group.account
            if group.is_default:
                item["default_rules"] = False
            else:
                item["description"] = (group.description or name)[:255]
            ingress = self._distinct(group.ingress, "ingress")
            item["ingress"] = LineList(self._rule(group, r, "source") for r in ingress)
            if not group.default_egress or group.egress:
                egress = self._distinct([*self._default_egress(group), *group.egress], "egress")
                item["egress"] = LineList(self._rule(group, r, "destination") for r in egress)
            result.append(item)
        return result

    def _distinct(self, rules: list[ImportedRule], direction: str) -> list[ImportedRule]:
        """A group's rules of one direction, each once: a rule that repeats an earlier one
        once normalised as AWS normalises it (``10.0.0.0/0`` is ``0.0.0.0/0``; every port of
        all traffic is all traffic) is one rule in AWS, so it is dropped, with a note."""
        first: dict[tuple[object, ...], ImportedRule] = {}
        kept: list[ImportedRule] = []
        for rule in rules:
            key = _normalised(rule)
            earlier = first.get(key)
            if earlier is None:
                first[key] = rule
                kept.append(rule)
                continue
            self.deployment.normalise(
                rule.origin,
                f"this {direction} rule repeats the one at {earlier.origin} once normalised, "
                "and AWS keeps one rule: it is not imported twice",
            )
        return kept

    def _default_egress(self, group: ImportedGroup) -> list[ImportedRule]:
        """The allow-all rule a format adds that the document must then spell out (the group
        also has egress rules of its own, which would otherwise replace it)."""
        if not group.default_egress or not group.egress:
            return []
        return [ImportedRule("-1", None, None, Peer(cidr="0.0.0.0/0"), group.origin)]

    def _rule(self, group: ImportedGroup, rule: ImportedRule, key: str) -> LineDict:
        item = _node(rule.origin)
        item["protocol"] = rule.protocol
        if rule.protocol in ("icmp", "icmpv6"):
            item["icmp"] = f"{_int(rule.from_port)}:{_int(rule.to_port)}"
        elif rule.protocol in ("tcp", "udp"):
            low, high = rule.from_port, rule.to_port
            if low is None or high is None:
                raise refuse(rule.origin, f"a {rule.protocol} rule needs from and to ports")
            item["ports"] = str(low) if low == high else f"{low}-{high}"
        peer = rule.peer
        if peer.cidr is not None:
            item[key] = peer.cidr
        elif peer.prefix_list is not None:
            item[key] = f"pl:{self.plist_names[peer.prefix_list]}"
        else:
            assert peer.group is not None
            vpc, name = self.group_names[peer.group]
            own_vpc, _ = self.group_names[group.ref]
            if vpc != own_vpc:
                raise refuse(
                    rule.origin,
                    f"group {peer.group} is in another VPC ({vpc}) than the rule's group "
                    f"({own_vpc}): references across peered VPCs are not modelled",
                )
            target = self.deployment.groups[peer.group]
            account = target.account or self.deployment.account
            item[key] = name if account == self.deployment.account else f"{account}/{name}"
        if rule.description:
            item["description"] = rule.description[:255]
        return item

    # -- instances -------------------------------------------------------------------------

    def _instances(self) -> tuple[LineList, list[str]]:
        d = self.deployment
        result = LineList()
        if d.interfaces:
            by_instance: dict[str, list[ImportedInterface]] = {}
            for nic in d.interfaces:
                by_instance.setdefault(nic.instance or nic.name, []).append(nic)
            for owner, nics in by_instance.items():
                nics.sort(key=lambda nic: nic.device)
                name = safe_name(owner, self.names)
                result.append(self._member(name, nics))
            return result, []
        sets: list[Attachment] = []
        seen: set[tuple[object, ...]] = set()
        for attachment in d.attachments:
            groups = tuple(dict.fromkeys(g for g in attachment.groups if g in d.groups))
            key = (groups, attachment.subnets[:1], attachment.public)
            if groups and key not in seen:
                seen.add(key)
                sets.append(replace(attachment, groups=groups))
        attached = {g for attachment in sets for g in attachment.groups}
        for group in d.groups.values():
            if group.ref not in attached and not (
                group.outside and not group.ingress and not group.egress
            ):
                sets.append(Attachment((group.ref,), group.origin))
        representatives: list[str] = []
        for attachment in sets:
            groups, origin = attachment.groups, attachment.origin
            vpcs = {self._vpc_name(d.groups[g].vpc) for g in groups}
            if len(vpcs) > 1:
                raise refuse(origin, f"one attachment joins groups of several VPCs {sorted(vpcs)}")
            vpc = vpcs.pop()
            names = [self.group_names[g][1] for g in groups]
            name = safe_name("-".join(names), self.names, prefix="rep-")
            listen = self._listen(groups)
            subnet, public, why = self._place(attachment, vpc)
            item = _node(origin, name=name, subnet=subnet, groups=names)
            if public:
                item["public_ip"] = True
            if listen:
                item["listen"] = listen
            result.append(item)
            representatives.append(name)
            address = "public address" if public else "no public address"
            self.notes.append(
                f"representative {name} stands for every member of {', '.join(names)} "
                f"({origin}); in {subnet} with {address} ({why}), listening on "
                f"{', '.join(listen) or 'nothing'}"
            )
        return result, representatives

    def _place(self, attachment: Attachment, vpc: str) -> tuple[str, bool, str]:
        """Where a representative goes: the subnet the input places its members in, with the
        public address they get (said by the input, else their subnet's default); the
        VPC's public subnet with a public address when the input places nothing."""
        d = self.deployment
        for ref in attachment.subnets:
            subnet = d.subnets.get(ref)
            name = self.subnet_names.get(ref)
            if subnet is None or name is None:
                continue
            if name not in self.online:
                return name, False, f"its subnet {ref}, which has no route to an internet gateway"
            if attachment.public is not None:
                return name, attachment.public, f"its subnet {ref}, its address as the input says"
            return name, subnet.public, f"its subnet {ref}, and that subnet's default address"
        if attachment.subnets:
            why = f"its subnet {', '.join(attachment.subnets)} is not in the input"
        elif attachment in d.attachments:
            why = "the input does not say where its members are"
        else:
            why = "no member in the input: every path to it is tested"
        public = attachment.public if attachment.public is not None else True
        chosen = self.public_subnet[vpc]
        return chosen, public and chosen in self.online, why

    def _member(self, name: str, nics: list[ImportedInterface]) -> LineDict:
        d = self.deployment
        specs = LineList()
        for nic in nics:
            vpc = self._vpc_name(nic.vpc or self._subnet_vpc(nic.subnet))
            subnet = self.subnet_names.get(nic.subnet or "") or self.public_subnet[vpc]
            groups = [self.group_names[g][1] for g in nic.groups if g in d.groups]
            spec = _node(nic.origin, subnet=subnet, groups=groups)
            if nic.public and subnet in self.online:
                spec["public_ip"] = True
            elif nic.public:
                self.notes.append(
                    f"{nic.origin}: {name}'s public address is left out: its subnet {subnet} "
                    "has no route to an internet gateway, so it would not be reachable there"
                )
            specs.append(spec)
        item = _node(nics[0].origin, name=name)
        if len(specs) == 1:
            item.update(specs[0])
            address = nics[0].private_ip
            if address:
                item["address"] = str(self._usable(address, item["subnet"], nics[0].origin))
        else:
            item["interfaces"] = specs
        listen = self._listen(tuple(g for nic in nics for g in nic.groups if g in d.groups))
        if listen:
            item["listen"] = listen
        return item

    def _usable(self, text: str, subnet: str, origin: Origin | None) -> IPv4Address:
        """An interface's address as the input gives it, or, when the lab cannot use it (a
        subnet's four reserved addresses or its broadcast, or outside the subnet, as test
        fixtures have), the subnet's highest free address, with a note naming both."""
        cidr = self.subnet_cidrs[subnet]
        address = IPv4Address(text)
        offset = int(address) - int(cidr.network_address)
        if address not in cidr:
            why = f"outside its subnet {subnet} ({cidr})"
        elif offset < 4 or address == cidr.broadcast_address:
            why = f"one of the addresses AWS reserves in {cidr}"
        else:
            self.addresses.add(address)
            return address
        taken = self.addresses | {
            IPv4Address(n.private_ip) for n in self.deployment.interfaces if n.private_ip
        }
        for value in range(int(cidr.broadcast_address) - 1, int(cidr.network_address) + 3, -1):
            if IPv4Address(value) not in taken:
                placed = IPv4Address(value)
                break
        else:
            raise refuse(origin or Origin(""), f"subnet {cidr} has no address left for {text}")
        self.addresses.add(placed)
        self.notes.append(
            f"{origin}: interface address {address} is {why}: the lab places it at {placed}"
        )
        return placed

    def _listen(self, groups: tuple[str, ...]) -> list[str]:
        ports: list[str] = []
        for ref in groups:
            for rule in self.deployment.groups[ref].ingress:
                if rule.protocol not in ("tcp", "udp") or rule.from_port is None:
                    continue
                for port in (rule.from_port, rule.to_port):
                    if port is not None and 1 <= port <= 65535:
                        ports.append(f"{rule.protocol}/{port}")
        return list(dict.fromkeys(ports))[:MAX_LISTEN]

    # -- outside hosts ---------------------------------------------------------------------

    def _hosts(self) -> LineList:
        cidrs4: list[IPv4Network] = []
        has6 = False
        for cidr in self._named_cidrs():
            if isinstance(cidr, IPv4Network):
                cidrs4.append(cidr)
            else:
                has6 = True
        blocked = [*self.vpc_cidrs.values(), *RESERVED]
        named = sorted(
            {c for c in cidrs4 if c.prefixlen}, key=lambda n: (-n.prefixlen, int(n.network_address))
        )
        candidates: list[tuple[IPv4Address, str, IPv4Network | None]] = [
            (IPv4Address(text), "internet", None) for text in INTERNET_CANDIDATES
        ]
        for cidr in named:
            candidates.extend((address, "in", cidr) for address in _inside(cidr))
            candidates.extend((address, "out", cidr) for address in _outside(cidr))
        signatures: dict[tuple[object, ...], tuple[IPv4Address, str]] = {}
        for address, role, around in candidates:
            if any(address in net for net in blocked) or address.packed[3] in (0, 1, 254, 255):
                continue
            inside = [cidr for cidr in named if address in cidr]
            if role == "internet" and inside:
                continue  # the internet is where no named CIDR reaches
            key = (role == "out", *(address in cidr for cidr in named))
            if key in signatures or any(address == a for a, _ in signatures.values()):
                continue  # a class has its host; an address serves one class
            if role == "internet":
                label = "internet"
            elif role == "in":  # named by the narrowest CIDR that holds it
                label = "in-" + str(inside[0]).replace("/", "_")
            else:  # just outside the CIDR it was made for
                label = "out-" + str(around).replace("/", "_")
            signatures[key] = (address, label)
        hosts = LineList()
        taken: set[str] = set()
        for index, (address, label) in enumerate(signatures.values()):
            if index >= MAX_HOSTS:
                self.notes.append(
                    f"{len(signatures) - MAX_HOSTS} more address classes are not given hosts "
                    f"(at most {MAX_HOSTS})"
                )
                break
            name = safe_name(label, taken)
            host = _node(None, name=name, address=str(address))
            if label == "internet" and has6:
                host["address6"] = str(INTERNET6)
            hosts.append(host)
        if hosts:
            self.notes.append(
                "outside hosts: "
                + ", ".join(f"{h['name']} ({h['address']})" for h in hosts)
                + " stand for the address classes the rules distinguish"
            )
        return hosts

    def _named_cidrs(self) -> list[IPv4Network | IPv6Network]:
        result: list[IPv4Network | IPv6Network] = []
        d = self.deployment
        for group in d.groups.values():
            for rule in group.ingress:
                if rule.peer.cidr is not None:
                    try:
                        result.append(ip_network(rule.peer.cidr, strict=False))
                    except ValueError:
                        continue
                elif rule.peer.prefix_list in d.prefix_lists:
                    for text in d.prefix_lists[rule.peer.prefix_list].cidrs:
                        try:
                            result.append(ip_network(text, strict=False))
                        except ValueError:
                            continue
        return result


def _normalised(rule: ImportedRule) -> tuple[object, ...]:
    """What AWS keeps of a rule: its protocol, its ports where they count, its peer (a CIDR
    by its network, host bits cleared)."""
    ports = (rule.from_port, rule.to_port) if rule.protocol != "-1" else None
    peer = rule.peer
    cidr: object = peer.cidr
    if peer.cidr is not None:
        try:
            cidr = ip_network(peer.cidr.strip(), strict=False)
        except ValueError:
            cidr = peer.cidr  # malformed: the topology reader refuses it, with its line
    return (rule.protocol, ports, cidr, peer.prefix_list, peer.group, peer.account)


def _int(value: int | None) -> int:
    return -1 if value is None else value


def _inside(cidr: IPv4Network) -> list[IPv4Address]:
    first = int(cidr.network_address)
    size = cidr.num_addresses
    offsets = [10, size // 2 + 10, 2] if size > 16 else list(range(size))
    return [IPv4Address(first + o) for o in offsets if o < size]


def _outside(cidr: IPv4Network) -> list[IPv4Address]:
    result = []
    after = int(cidr.broadcast_address) + 1
    before = int(cidr.network_address) - 1
    for base, step in ((after, 1), (before, -1)):
        for offset in (10, 2) if cidr.num_addresses > 16 else (0, 2):
            value = base + step * offset
            if 0 <= value <= 0xFFFFFFFF:
                result.append(IPv4Address(value))
    return result


def document(deployment: Deployment) -> Imported:
    """The topology document of a deployment (see the module's docstring for the choices)."""
    return _Builder(deployment).build()
