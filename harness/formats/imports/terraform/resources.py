"""Terraform's resources, read one way for ``.tf`` files and plan or state JSON: groups,
their rules in the four ways Terraform writes them, prefix lists, VPCs, subnets, and the
group attachments of other resources."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from harness.core.model import Origin
from harness.errors import TopologyError
from harness.formats.imports.deployment import (
    Deployment,
    ImportedAcl,
    ImportedAclEntry,
    ImportedGroup,
    ImportedPath,
    ImportedPrefixList,
    ImportedRoute,
    ImportedRouteTable,
    ImportedRule,
    ImportedSubnet,
    ImportedVpc,
    Outside,
    Peer,
    attached,
    refuse,
)
from harness.formats.imports.values import make_rule, port_value, protocol_text

GROUP_TYPES = ("aws_security_group", "aws_default_security_group")
PATH_TYPES = frozenset(
    {
        "aws_internet_gateway",
        "aws_internet_gateway_attachment",
        "aws_egress_only_internet_gateway",
        "aws_nat_gateway",
        "aws_route_table",
        "aws_default_route_table",
        "aws_route",
        "aws_route_table_association",
        "aws_main_route_table_association",
        "aws_network_acl",
        "aws_default_network_acl",
        "aws_network_acl_rule",
        "aws_network_acl_association",
        "aws_vpc_peering_connection",
    }
)
# A route's target keys, and the kind of target each names (the AWS provider's schema).
ROUTE_TARGETS = {
    "gateway_id": "igw",
    "egress_only_gateway_id": "eigw",
    "nat_gateway_id": "nat",
    "vpc_peering_connection_id": "pcx",
    "transit_gateway_id": "other",
    "network_interface_id": "other",
    "vpc_endpoint_id": "other",
    "carrier_gateway_id": "other",
    "local_gateway_id": "other",
    "core_network_arn": "other",
}
VPC_DEFAULTS = ("default_route_table_id", "default_network_acl_id", "main_route_table_id")
ATTACH_KEYS = ("vpc_security_group_ids", "security_groups", "security_group_ids")
SUBNET_KEYS = ("subnet_id", "subnets", "vpc_zone_identifier", "subnet_ids")
PUBLIC_KEYS = ("associate_public_ip_address", "assign_public_ip")


@dataclass(frozen=True)
class Ref:
    """A value that denotes a resource of the input, by its address."""

    address: str


@dataclass(frozen=True)
class Unknown:
    """A value the import cannot know (an expression it does not evaluate)."""

    expression: str


# What an inline ingress/egress block of aws_security_group takes (the provider's schema):
# anything else is refused, as Terraform refuses it (a typo such as cidr_block).
INLINE_ARGUMENTS = frozenset(
    {
        "cidr_blocks",
        "description",
        "from_port",
        "ipv6_cidr_blocks",
        "prefix_list_ids",
        "protocol",
        "security_groups",
        "self",
        "to_port",
    }
)


@dataclass(frozen=True)
class Undeclared:
    """A reference to a resource the module does not declare (``aws_security_group.webb``):
    Terraform refuses it ("Reference to undeclared resource"), so the import does too."""

    address: str

    def refused(self, origin: Origin, what: str) -> TopologyError:
        return refuse(
            origin,
            f"{what} names {self.address}, which is not declared: Reference to undeclared "
            "resource (Terraform refuses it too; if another file declares it, give the "
            "module's directory)",
        )


def is_terraform_json(data: object) -> bool:
    return (
        isinstance(data, dict)
        and "format_version" in data
        and ("planned_values" in data or "values" in data or "prior_state" in data)
    )


# -- the one reader of resources, for .tf files and JSON --------------------------------------


@dataclass
class Resources:
    deployment: Deployment
    ids: dict[str, str] = field(default_factory=dict)  # a real sg-/vpc- id -> its address

    def ref(self, value: object, origin: Origin, what: str) -> str:
        """The reference a group, VPC or prefix list value stands for."""
        if isinstance(value, Ref):
            return value.address
        if isinstance(value, Outside):
            return value.ref(self.deployment)
        if isinstance(value, Undeclared):
            raise value.refused(origin, what)
        if isinstance(value, Unknown):
            raise refuse(origin, f"{what} is not known: {value.expression}")
        if isinstance(value, str) and value:
            return self.ids.get(value, value)
        raise refuse(origin, f"{what} {value!r} is not a reference")

    def vpc(self, value: object, origin: Origin) -> str | None:
        """A VPC reference; one the input cannot know becomes a VPC named after it."""
        if value in (None, ""):
            return None
        if isinstance(value, Undeclared):
            refused = value.refused(origin, "vpc_id")
            if self.deployment.dropped is None:
                raise refused
            self.deployment.dropped.append(refused)  # lint: a finding; a VPC stands for it
            return value.address
        if isinstance(value, Unknown):
            self.deployment.notes.append(
                f"{origin}: vpc_id {value.expression} is not known: a VPC of its own stands for it"
            )
            return value.expression
        return self.ref(value, origin, "vpc_id")

    def add(self, kind: str, address: str, values: dict[str, Any], origin: Origin) -> None:
        d = self.deployment
        if kind in GROUP_TYPES:
            self._group(kind, address, values, origin)
        elif kind == "aws_security_group_rule":
            with d.rule():
                self._legacy_rule(values, origin)
        elif kind in ("aws_vpc_security_group_ingress_rule", "aws_vpc_security_group_egress_rule"):
            with d.rule():
                self._vpc_rule(kind.endswith("egress_rule"), values, origin)
        elif kind == "aws_vpc":
            cidr = values.get("cidr_block")
            ipv6 = values.get("assign_generated_ipv6_cidr_block") is True
            d.vpcs[address] = ImportedVpc(
                address,
                address.rsplit(".", maxsplit=1)[-1],
                cidr if isinstance(cidr, str) else None,
                ipv6,
            )
        elif kind == "aws_subnet":
            vpc = values.get("vpc_id")
            cidr = values.get("cidr_block")
            d.subnets[address] = ImportedSubnet(
                address,
                address.rsplit(".", maxsplit=1)[-1],
                self.vpc(vpc, origin),
                cidr if isinstance(cidr, str) else None,
                values.get("map_public_ip_on_launch") is True,
            )
        elif kind in PATH_TYPES:
            self._path(kind, address, values, origin)
        elif kind == "aws_ec2_managed_prefix_list":
            entries = values.get("entry") or []
            cidrs = tuple(str(e.get("cidr")) for e in entries if isinstance(e, dict))
            name = values.get("name")
            d.prefix_lists[address] = ImportedPrefixList(
                address, name if isinstance(name, str) else address, cidrs
            )
        else:
            self._attachments(values, origin)

    def _group(self, kind: str, address: str, values: dict[str, Any], origin: Origin) -> None:
        name = values.get("name")
        if not isinstance(name, str) or not name:
            prefix = values.get("name_prefix")
            short = address.rsplit(".", maxsplit=1)[-1]
            name = prefix if isinstance(prefix, str) and prefix else short
        group = ImportedGroup(
            address,
            name,
            origin,
            description=str(values.get("description") or "Managed by Terraform"),
            vpc=self.vpc(values.get("vpc_id"), origin),
            is_default=kind == "aws_default_security_group",
        )
        if isinstance(values.get("id"), str):
            self.ids[values["id"]] = address
        self.deployment.groups[address] = group
        for direction in ("ingress", "egress"):
            blocks = values.get(direction) or []
            if isinstance(blocks, Unknown):
                raise refuse(origin, f"{direction} is not known: {blocks.expression}")
            for index, block in enumerate(blocks):
                line = block.pop("__line__", 0) if isinstance(block, dict) else 0
                where = Origin(origin.file, line or origin.line, f"{address} {direction}[{index}]")
                with self.deployment.rule():
                    rules = self._inline(block, direction, address, where)
                    (group.egress if direction == "egress" else group.ingress).extend(rules)

    def _inline(
        self, block: object, direction: str, address: str, where: Origin
    ) -> list[ImportedRule]:
        if not isinstance(block, dict):
            raise refuse(where, f"an {direction} block must be a block")
        unknown = sorted(set(block) - INLINE_ARGUMENTS)
        if unknown:
            raise refuse(
                where,
                f"Terraform knows no argument '{unknown[0]}' in an {direction} block "
                f"(it takes {', '.join(sorted(INLINE_ARGUMENTS))})",
            )
        return self._rules(block, address, where, "security_groups")

    def _rules(
        self, block: dict[str, Any], group: str, origin: Origin, groups_key: str
    ) -> list[ImportedRule]:
        protocol = protocol_text(self._known(block.get("protocol"), origin, "protocol"), origin)
        low = port_value(
            self._known(block.get("from_port"), origin, "from_port"), origin, "from_port"
        )
        high = port_value(self._known(block.get("to_port"), origin, "to_port"), origin, "to_port")
        description = block.get("description")
        text = description if isinstance(description, str) else ""
        peers: list[Peer] = []
        for key in ("cidr_blocks", "ipv6_cidr_blocks"):
            for cidr in self._list(block.get(key), origin, key):
                peers.extend(Peer(cidr=part.strip()) for part in str(cidr).split(","))
        for plist in self._list(block.get("prefix_list_ids"), origin, "prefix_list_ids"):
            peers.append(Peer(prefix_list=self.ref(plist, origin, "prefix list")))
        for item in self._list(block.get(groups_key), origin, groups_key):
            peers.append(Peer(group=self.ref(item, origin, "security group")))
        source = block.get("source_security_group_id")
        if source is not None:
            peers.append(Peer(group=self.ref(source, origin, "source_security_group_id")))
        if self._known(block.get("self"), origin, "self") in (True, "true"):
            peers.append(Peer(group=group))
        if not peers:
            self.deployment.normalise(
                origin,
                "a rule with no peer (no cidr_blocks, ipv6_cidr_blocks, prefix_list_ids, "
                "security groups or self) allows nothing: nothing is imported for it",
            )
            return []
        return [make_rule(protocol, low, high, peer, origin, text) for peer in peers]

    def _known(self, value: object, origin: Origin, what: str) -> object:
        if isinstance(value, Undeclared):
            raise value.refused(origin, what)
        if isinstance(value, Unknown):
            raise refuse(origin, f"{what} is not known: {value.expression}")
        if isinstance(value, Ref | Outside):
            raise refuse(origin, f"{what} is a reference, not a value")
        return value

    def _list(self, value: object, origin: Origin, what: str) -> list[object]:
        if isinstance(value, Ref | Outside | Undeclared):
            return [value]
        value = self._known(value, origin, what) if not isinstance(value, list) else value
        if value is None:
            return []
        if isinstance(value, str):
            return [value]
        if not isinstance(value, list):
            raise refuse(origin, f"{what} must be a list")
        for item in value:
            if isinstance(item, Undeclared):
                raise item.refused(origin, what)
            if isinstance(item, Unknown):
                raise refuse(origin, f"{what} is not known: {item.expression}")
        return value

    def _owner(self, values: dict[str, Any], origin: Origin) -> ImportedGroup:
        ref = self.ref(values.get("security_group_id"), origin, "security_group_id")
        d = self.deployment
        if ref not in d.groups:
            d.outside_group(
                ref,
                origin,
                description=f"{ref}: rules added, group not in the input",
                holds="only the rules the input adds",
            )
        return d.groups[ref]

    def _legacy_rule(self, values: dict[str, Any], origin: Origin) -> None:
        group = self._owner(values, origin)
        egress = values.get("type") == "egress"
        rules = self._rules(values, group.ref, origin, "")
        (group.egress if egress else group.ingress).extend(rules)

    def _vpc_rule(self, egress: bool, values: dict[str, Any], origin: Origin) -> None:
        group = self._owner(values, origin)
        protocol = protocol_text(
            self._known(values.get("ip_protocol"), origin, "ip_protocol"), origin
        )
        low = port_value(
            self._known(values.get("from_port"), origin, "from_port"), origin, "from_port"
        )
        high = port_value(self._known(values.get("to_port"), origin, "to_port"), origin, "to_port")
        peers = []
        for key in ("cidr_ipv4", "cidr_ipv6"):
            if values.get(key) is not None:
                peers.append(Peer(cidr=str(self._known(values[key], origin, key))))
        if values.get("prefix_list_id") is not None:
            peers.append(
                Peer(prefix_list=self.ref(values["prefix_list_id"], origin, "prefix list"))
            )
        if values.get("referenced_security_group_id") is not None:
            ref = self.ref(values["referenced_security_group_id"], origin, "referenced group")
            peers.append(Peer(group=ref))
        if len(peers) != 1:
            raise refuse(
                origin,
                "needs exactly one of cidr_ipv4, cidr_ipv6, prefix_list_id, "
                "referenced_security_group_id",
            )
        description = values.get("description")
        text = description if isinstance(description, str) else ""
        rule = make_rule(protocol, low, high, peers[0], origin, text)
        (group.egress if egress else group.ingress).append(rule)

    def _attachments(self, values: object, origin: Origin) -> None:
        subnets = self._placement(values, origin)
        public = next(
            (v for _, v in attached(values, PUBLIC_KEYS, lambda v: isinstance(v, bool))), None
        )
        for key, value in attached(values, ATTACH_KEYS, lambda found: isinstance(found, list)):
            assert isinstance(value, list)
            items = [item for item in value if isinstance(item, Ref | Outside | Undeclared | str)]
            refs = (self.ref(item, origin, key) for item in items)
            self.deployment.attach(
                refs, origin, subnets, public if isinstance(public, bool) else None
            )

    def _placement(self, values: object, origin: Origin) -> list[str]:
        """The subnets a resource says it is in (an instance's subnet_id, an autoscaling
        group's vpc_zone_identifier, a service's or a load balancer's subnets), those the
        input declares or names."""
        found: list[str] = []
        for key, value in attached(values, SUBNET_KEYS):
            for item in value if isinstance(value, list) else [value]:
                if isinstance(item, Ref | Undeclared) or (isinstance(item, str) and item):
                    found.append(self.ref(item, origin, key))
        return list(dict.fromkeys(found))

    # -- the VPC path: gateways, NAT gateways, route tables, network ACLs, peerings ------------

    def _vpc_of_default(self, value: object, origin: Origin, what: str) -> str | None:
        """The VPC whose default route table or network ACL a value names
        (``aws_vpc.main.default_route_table_id``)."""
        if isinstance(value, Ref):
            return value.address.split(":", 1)[0]
        return self.vpc(value, origin)

    def _path(self, kind: str, address: str, values: dict[str, Any], origin: Origin) -> None:
        d = self.deployment
        short = address.rsplit(".", maxsplit=1)[-1]
        if kind == "aws_internet_gateway":
            d.path.append(ImportedPath("igw", address, self.vpc(values.get("vpc_id"), origin)))
        elif kind == "aws_internet_gateway_attachment":
            gateway = self.ref(values.get("internet_gateway_id"), origin, "internet_gateway_id")
            vpc = self.vpc(values.get("vpc_id"), origin)
            d.path.append(ImportedPath("igw", gateway, vpc, origin=origin))
        elif kind == "aws_egress_only_internet_gateway":
            d.path.append(ImportedPath("eigw", address, self.vpc(values.get("vpc_id"), origin)))
        elif kind == "aws_nat_gateway":
            subnet = self.ref(values.get("subnet_id"), origin, "subnet_id")
            private = values.get("connectivity_type") == "private"
            d.path.append(
                ImportedPath("nat", address, subnet=subnet, private=private, origin=origin)
            )
        elif kind == "aws_vpc_peering_connection":
            one = self.vpc(values.get("vpc_id"), origin)
            other = self.vpc(values.get("peer_vpc_id"), origin)
            d.path.append(ImportedPath("pcx", address, one, other=other, origin=origin))
        elif kind in ("aws_route_table", "aws_default_route_table"):
            if kind == "aws_default_route_table":
                vpc = self._vpc_of_default(
                    values.get("default_route_table_id"), origin, "default_route_table_id"
                )
                d.path.append(ImportedPath("main", address, vpc, other=address, origin=origin))
            else:
                vpc = self.vpc(values.get("vpc_id"), origin)
            table = d.route_tables.setdefault(
                address, ImportedRouteTable(address, short, vpc, origin)
            )
            table.vpc, table.name, table.origin = vpc, short, origin  # routes may come first
            for route in self._list(values.get("route"), origin, "route"):
                if isinstance(route, dict):
                    found = self._route(route, origin, "cidr_block", "ipv6_cidr_block")
                    if found is not None:
                        table.routes.append(found)
        elif kind == "aws_route":
            table_ref = self.ref(values.get("route_table_id"), origin, "route_table_id")
            held = d.route_tables.get(table_ref)
            if held is None:
                vpc = table_ref.split(":", 1)[0] if ":" in table_ref else None
                held = d.route_tables.setdefault(
                    table_ref,
                    ImportedRouteTable(table_ref, table_ref.rsplit(".", 1)[-1], vpc, origin),
                )
                if vpc is not None:
                    d.path.append(
                        ImportedPath("main", table_ref, vpc, other=table_ref, origin=origin)
                    )
            found = self._route(
                values, origin, "destination_cidr_block", "destination_ipv6_cidr_block"
            )
            if found is not None:
                held.routes.append(found)
        elif kind == "aws_route_table_association":
            if values.get("gateway_id") is not None:
                d.notes.append(f"{origin}: an edge association (ingress routing) is not modelled")
                return
            table_ref = self.ref(values.get("route_table_id"), origin, "route_table_id")
            subnet = self.ref(values.get("subnet_id"), origin, "subnet_id")
            d.path.append(
                ImportedPath("assoc", address, subnet=subnet, other=table_ref, origin=origin)
            )
        elif kind == "aws_main_route_table_association":
            table_ref = self.ref(values.get("route_table_id"), origin, "route_table_id")
            vpc = self.vpc(values.get("vpc_id"), origin)
            d.path.append(ImportedPath("main", address, vpc, other=table_ref, origin=origin))
        elif kind in ("aws_network_acl", "aws_default_network_acl"):
            if kind == "aws_default_network_acl":
                vpc = self._vpc_of_default(
                    values.get("default_network_acl_id"), origin, "default_network_acl_id"
                )
            else:
                vpc = self.vpc(values.get("vpc_id"), origin)
            acl = d.acls.setdefault(address, ImportedAcl(address, short, vpc, origin))
            acl.vpc, acl.name, acl.origin = vpc, short, origin  # its rules may come first
            for key, egress in (("ingress", False), ("egress", True)):
                for entry in self._list(values.get(key), origin, key):
                    if isinstance(entry, dict):
                        acl.entries.append(self._acl_entry(entry, egress, origin, "rule_no"))
            for item in self._list(values.get("subnet_ids"), origin, "subnet_ids"):
                acl.subnets.append(self.ref(item, origin, "subnet_ids"))
        elif kind == "aws_network_acl_rule":
            acl_ref = self.ref(values.get("network_acl_id"), origin, "network_acl_id")
            acl = d.acls.setdefault(
                acl_ref, ImportedAcl(acl_ref, acl_ref.rsplit(".", 1)[-1], None, origin)
            )
            egress = values.get("egress") is True
            acl.entries.append(self._acl_entry(values, egress, origin, "rule_number"))
        elif kind == "aws_network_acl_association":
            acl_ref = self.ref(values.get("network_acl_id"), origin, "network_acl_id")
            subnet = self.ref(values.get("subnet_id"), origin, "subnet_id")
            d.path.append(ImportedPath("acl", address, subnet=subnet, other=acl_ref, origin=origin))

    def _route(
        self, values: dict[str, Any], origin: Origin, key: str, key6: str
    ) -> ImportedRoute | None:
        d = self.deployment
        destination = values.get(key) or values.get(key6)
        listed = values.get("destination_prefix_list_id")
        if listed:
            destination = "pl:" + self.ref(listed, origin, "destination_prefix_list_id")
        if not isinstance(destination, str) or not destination:
            d.notes.append(f"{origin}: a route without a destination the lab knows: left out")
            return None
        for target_key, kind in ROUTE_TARGETS.items():
            value = values.get(target_key)
            if value in (None, ""):
                continue
            if kind == "other" or (isinstance(value, str) and value.startswith("vgw-")):
                d.notes.append(
                    f"{origin}: route {destination} -> {target_key}: a target the lab does not "
                    "model; left out (its destination has no route in the lab)"
                )
                return None
            return ImportedRoute(destination, kind, self.ref(value, origin, target_key), origin)
        d.notes.append(f"{origin}: route {destination} has no target the lab knows: left out")
        return None

    def _acl_entry(
        self, values: dict[str, Any], egress: bool, origin: Origin, number_key: str
    ) -> ImportedAclEntry:
        protocol = self._known(values.get("protocol"), origin, "protocol")
        text = "-1" if str(protocol).lower() in ("all", "-1") else protocol_text(protocol, origin)
        number = port_value(
            self._known(values.get(number_key), origin, number_key), origin, number_key
        )
        action = str(self._known(values.get("action", values.get("rule_action")), origin, "action"))
        cidr = values.get("cidr_block") or values.get("ipv6_cidr_block")
        if number is None or not isinstance(cidr, str):
            raise refuse(origin, f"a network ACL entry needs {number_key} and a CIDR")

        def port(key: str) -> int | None:
            return port_value(self._known(values.get(key), origin, key), origin, key)

        return ImportedAclEntry(
            number,
            egress,
            text,
            action.lower(),
            cidr,
            port("from_port"),
            port("to_port"),
            port("icmp_type"),
            port("icmp_code"),
            origin,
        )
