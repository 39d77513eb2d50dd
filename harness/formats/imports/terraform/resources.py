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
    ImportedGroup,
    ImportedPrefixList,
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
