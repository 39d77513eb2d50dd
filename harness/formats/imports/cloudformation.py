"""CloudFormation templates, YAML (with the short-form tags ``!Ref``, ``!GetAtt``, ``!Sub``,
...) or JSON.

Read: ``AWS::EC2::SecurityGroup`` with its inline ``SecurityGroupIngress`` and
``SecurityGroupEgress``, the standalone ``AWS::EC2::SecurityGroupIngress`` and
``AWS::EC2::SecurityGroupEgress``, ``AWS::EC2::VPC``, ``AWS::EC2::Subnet``,
``AWS::EC2::PrefixList``, and every other resource's group attachments (``SecurityGroupIds``,
``SecurityGroups``, ``GroupSet``, ``VPCSecurityGroups``, ... anywhere in its properties), which
become representatives. Parameters take their ``Default`` or ``--parameter NAME=VALUE``.

Intrinsic functions resolved: ``Ref``, ``Fn::GetAtt`` (a group's ``GroupId``, a VPC's
``CidrBlock``), ``Fn::Sub``, ``Fn::Join``, ``Fn::Select``, ``Fn::Split``, ``Fn::If`` (with
``Conditions`` of ``Fn::Equals``, ``Fn::Not``, ``Fn::And``, ``Fn::Or``), ``Fn::FindInMap``;
``Fn::ImportValue`` of a group or VPC is another stack's: an outside group or VPC. Anything
else, where a rule needs a value, is refused with file, line and the function.

Egress is CloudFormation's default: a group that declares no ``SecurityGroupEgress`` keeps
the allow-all rule AWS adds; one that declares any has only those.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from harness.core.model import Origin
from harness.errors import TopologyError
from harness.formats import yaml_lines
from harness.formats.imports.deployment import (
    ROUTE_TARGETS,
    Deployment,
    ImportedAcl,
    ImportedAclEntry,
    ImportedGroup,
    ImportedPath,
    ImportedPrefixList,
    ImportedRoute,
    ImportedRouteTable,
    ImportedSubnet,
    ImportedVpc,
    Outside,
    Peer,
    attached,
    refuse,
)
from harness.formats.imports.values import make_rule, port_value, protocol_text
from harness.formats.yaml_lines import LineDict, construct_mapping, construct_sequence

SG = "AWS::EC2::SecurityGroup"
PATH_TYPES = frozenset(  # what the path's parts name, read first
    {
        "AWS::EC2::InternetGateway",
        "AWS::EC2::EgressOnlyInternetGateway",
        "AWS::EC2::NatGateway",
        "AWS::EC2::VPCPeeringConnection",
        "AWS::EC2::RouteTable",
        "AWS::EC2::NetworkAcl",
    }
)
PATH_PARTS = frozenset(
    {
        "AWS::EC2::VPCGatewayAttachment",
        "AWS::EC2::Route",
        "AWS::EC2::SubnetRouteTableAssociation",
        "AWS::EC2::SubnetNetworkAclAssociation",
        "AWS::EC2::NetworkAclEntry",
    }
)
SUBNET_KEYS = {"SubnetId", "Subnets", "VPCZoneIdentifier", "SubnetIds"}
PUBLIC_KEYS = {"AssociatePublicIpAddress", "AssignPublicIp"}
ATTACH_KEYS = {
    "SecurityGroupIds",
    "SecurityGroups",
    "GroupSet",
    "VPCSecurityGroups",
    "VpcSecurityGroupIds",
}
PSEUDO = {
    "AWS::Region": "us-east-1",
    "AWS::Partition": "aws",
    "AWS::StackName": "stack",
    "AWS::URLSuffix": "amazonaws.com",
    "AWS::NoValue": None,
}


class _Loader(yaml_lines.Loader):
    """The line-keeping loader that also reads CloudFormation's short-form tags: ``!Ref x``
    is ``{"Ref": x}``, ``!Condition x`` is ``{"Condition": x}``, every other ``!Name v`` is
    ``{"Fn::Name": v}``, and ``!GetAtt a.b`` is ``{"Fn::GetAtt": ["a", "b"]}``. A key
    written twice keeps its last value, as CloudFormation does (the import says so)."""

    last_wins = True


def _short_form(loader: _Loader, suffix: str, node: yaml.Node) -> LineDict:
    name = suffix if suffix in ("Ref", "Condition") else f"Fn::{suffix}"
    value: Any
    if name == "Fn::GetAtt" and isinstance(node, yaml.ScalarNode):
        value = str(node.value).split(".", 1)
    elif isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = construct_sequence(loader, node)
    elif isinstance(node, yaml.MappingNode):
        value = construct_mapping(loader, node)
    else:  # pragma: no cover - YAML has no other node
        raise ValueError(f"bad tag !{suffix}")
    found = LineDict({name: value})
    found.line = node.start_mark.line + 1
    return found


_Loader.add_multi_constructor("!", _short_form)


def parse(text: str, source: str) -> Any:
    """YAML or JSON with CloudFormation's short-form tags, every mapping knowing its line."""
    return yaml_lines.load(text, source, _Loader)


def is_template(data: object) -> bool:
    return isinstance(data, dict) and (
        "AWSTemplateFormatVersion" in data
        or (isinstance(data.get("Resources"), dict) and "groups" not in data)
    )


@dataclass(frozen=True)
class GroupRef:
    """A value that denotes a group of the template (``!Ref Sg``, ``!GetAtt Sg.GroupId``)."""

    logical_id: str


@dataclass
class _Template:
    source: str
    data: dict[str, Any]
    parameters: dict[str, str]
    deployment: Deployment
    conditions: dict[str, bool] = field(default_factory=dict)

    @property
    def resources(self) -> dict[str, Any]:
        value = self.data.get("Resources")
        if not isinstance(value, dict):
            raise refuse(Origin(self.source), "the template has no Resources mapping")
        return value

    def origin(self, node: object, construct: str) -> Origin:
        return Origin(self.source, getattr(node, "line", None) or 0, construct)

    # -- values ----------------------------------------------------------------------------

    def param(self, name: str, origin: Origin) -> object:
        if name in self.parameters:
            return self._typed(name, self.parameters[name])
        spec = (self.data.get("Parameters") or {}).get(name)
        if isinstance(spec, dict) and "Default" in spec:
            return self._typed(name, spec["Default"])
        if not isinstance(spec, dict):
            raise refuse(
                origin,
                f"Ref {name}: the template has no resource or parameter '{name}' (CloudFormation "
                "refuses it too: unresolved resource dependencies)",
            )
        kind = str(spec.get("Type", ""))
        if "SecurityGroup::Id" in kind or "VPC::Id" in kind:
            self.deployment.notes.append(
                f"{origin}: parameter '{name}' ({kind}) has no value: it stands for a "
                f"{'VPC' if 'VPC' in kind else 'group'} outside the template"
            )
            outside = Outside(f"param-{name}", declared=True)
            return [outside] if kind.startswith("List<") else outside
        raise refuse(origin, f"parameter '{name}' has no Default: give --parameter {name}=VALUE")

    def _typed(self, name: str, value: object) -> object:
        spec = (self.data.get("Parameters") or {}).get(name) or {}
        kind = str(spec.get("Type", "")) if isinstance(spec, dict) else ""
        if (kind.startswith("List<") or kind == "CommaDelimitedList") and isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    def value(self, node: object, origin: Origin) -> object:
        """A property's value with its intrinsic functions resolved."""
        if isinstance(node, list):
            return [self.value(item, origin) for item in node]
        if not isinstance(node, dict) or len(node) != 1:
            if isinstance(node, dict):
                return {key: self.value(item, origin) for key, item in node.items()}
            return node
        ((function, argument),) = node.items()
        if function == "Ref":
            return self._ref(str(argument), origin)
        if function == "Fn::GetAtt":
            return self._getatt(argument, origin)
        if function == "Fn::ImportValue":
            return Outside(f"import-{self.value(argument, origin)}")
        if function == "Fn::Sub":
            return self._sub(argument, origin)
        if function == "Fn::Join":
            separator, items = argument
            parts = self.value(items, origin)
            if not isinstance(parts, list):
                raise refuse(origin, "Fn::Join needs a list")
            return str(separator).join(str(part) for part in parts)
        if function == "Fn::Select":
            index, items = argument
            parts = self.value(items, origin)
            number = port_value(self.value(index, origin), origin, "Fn::Select index")
            if not isinstance(parts, list) or number is None or not 0 <= number < len(parts):
                raise refuse(origin, "Fn::Select index out of range")
            return parts[number]
        if function == "Fn::Split":
            separator, text = argument
            return str(self.value(text, origin)).split(str(separator))
        if function == "Fn::If":
            name, then, otherwise = argument
            return self.value(then if self.condition(str(name), origin) else otherwise, origin)
        if function == "Fn::FindInMap":
            keys = [str(self.value(part, origin)) for part in argument]
            found: object = self.data.get("Mappings") or {}
            for key in keys:
                if not isinstance(found, dict) or key not in found:
                    raise refuse(origin, f"Fn::FindInMap: no {'/'.join(keys)} in Mappings")
                found = found[key]
            return found
        if function.startswith("Fn::") or function == "Condition":
            raise refuse(origin, f"unsupported intrinsic function {function}")
        return {function: self.value(argument, origin)}

    def _ref(self, name: str, origin: Origin) -> object:
        if name in PSEUDO:
            return PSEUDO[name]
        if name == "AWS::AccountId":
            return self.deployment.account
        resource = self.resources.get(name)
        if isinstance(resource, dict):
            if resource.get("Type") == SG:
                return GroupRef(name)
            return name  # another resource: its logical id stands for its id
        return self.param(name, origin)

    def _getatt(self, argument: object, origin: Origin) -> object:
        if not isinstance(argument, list) or len(argument) != 2:
            raise refuse(origin, "Fn::GetAtt needs a resource and an attribute")
        name, attribute = str(argument[0]), str(argument[1])
        resource = self.resources.get(name)
        if not isinstance(resource, dict):
            raise refuse(origin, f"Fn::GetAtt {name}.{attribute}: no resource '{name}'")
        if resource.get("Type") == SG and attribute == "GroupId":
            return GroupRef(name)
        if resource.get("Type") == "AWS::EC2::PrefixList" and attribute == "PrefixListId":
            return name
        if resource.get("Type") == "AWS::EC2::VPC" and attribute == "CidrBlock":
            return self.value((resource.get("Properties") or {}).get("CidrBlock"), origin)
        if attribute in ("VpcId",):
            return self.value((resource.get("Properties") or {}).get("VpcId"), origin)
        return f"{name}.{attribute}"

    def _sub(self, argument: object, origin: Origin) -> str:
        if isinstance(argument, list):
            text, variables = str(argument[0]), dict(argument[1])
        else:
            text, variables = str(argument), {}
        result = []
        rest = text
        while "${" in rest:
            before, _, after = rest.partition("${")
            name, _, rest = after.partition("}")
            result.append(before)
            if name.startswith("!"):
                result.append("${" + name[1:] + "}")
                continue
            if name in variables:
                value = self.value(variables[name], origin)
            elif "." in name:
                value = self._getatt(name.split(".", 1), origin)
            else:
                value = self._ref(name, origin)
            result.append(str(value.logical_id if isinstance(value, GroupRef) else value))
        return "".join(result) + rest

    def condition(self, name: str, origin: Origin) -> bool:
        if name not in self.conditions:
            spec = (self.data.get("Conditions") or {}).get(name)
            if spec is None:
                raise refuse(origin, f"Fn::If: no condition '{name}'")
            self.conditions[name] = self._truth(spec, origin)
        return self.conditions[name]

    def _truth(self, node: object, origin: Origin) -> bool:
        if not isinstance(node, dict) or len(node) != 1:
            raise refuse(origin, "a condition must be one function")
        ((function, argument),) = node.items()
        if function == "Fn::Equals":
            left, right = (self.value(item, origin) for item in argument)
            return str(left) == str(right)
        if function == "Fn::Not":
            return not self._truth(argument[0], origin)
        if function == "Fn::And":
            return all(self._truth(item, origin) for item in argument)
        if function == "Fn::Or":
            return any(self._truth(item, origin) for item in argument)
        if function == "Condition":
            return self.condition(str(argument), origin)
        raise refuse(origin, f"unsupported condition function {function}")

    # -- resources -------------------------------------------------------------------------

    def read(self) -> None:
        d = self.deployment
        resources = self.resources
        for name, resource in resources.items():
            if not isinstance(resource, dict):
                continue
            kind = resource.get("Type")
            props = resource.get("Properties") or {}
            origin = self.origin(resource, f"{name} ({kind})")
            if "Condition" in resource and not self.condition(str(resource["Condition"]), origin):
                d.notes.append(f"{origin}: condition {resource['Condition']} is false: left out")
                continue
            if kind == SG:
                self._group(name, props, origin)
            elif kind == "AWS::EC2::VPC":
                cidr = self.value(props.get("CidrBlock"), origin)
                d.vpcs[name] = ImportedVpc(name, name, cidr if isinstance(cidr, str) else None)
            elif kind == "AWS::EC2::Subnet":
                vpc = self._vpc(props.get("VpcId"), origin)
                cidr = self.value(props.get("CidrBlock"), origin)
                public = self.value(props.get("MapPublicIpOnLaunch", False), origin)
                d.subnets[name] = ImportedSubnet(
                    name,
                    name,
                    vpc,
                    cidr if isinstance(cidr, str) else None,
                    str(public).lower() == "true",
                )
            elif kind in PATH_TYPES:
                self._path(kind, name, props, origin)
            elif kind == "AWS::EC2::PrefixList":
                entries = self.value(props.get("Entries") or [], origin)
                if not isinstance(entries, list):
                    raise refuse(origin, "Entries must be a list")
                cidrs = tuple(str(e.get("Cidr")) for e in entries if isinstance(e, dict))
                d.prefix_lists[name] = ImportedPrefixList(
                    name, str(self.value(props.get("PrefixListName", name), origin)), cidrs
                )
        for name, resource in resources.items():
            if not isinstance(resource, dict) or (
                "Condition" in resource
                and not self.condition(str(resource["Condition"]), Origin(self.source))
            ):
                continue
            kind = resource.get("Type")
            props = resource.get("Properties") or {}
            origin = self.origin(resource, f"{name} ({kind})")
            if kind in ("AWS::EC2::SecurityGroupIngress", "AWS::EC2::SecurityGroupEgress"):
                with self.deployment.rule():
                    self._standalone(props, origin, kind.endswith("Egress"))
            elif kind in PATH_PARTS:
                self._path_part(kind, name, props, origin)
            elif kind != SG and kind not in PATH_TYPES:
                self._attachments(props, origin)

    # -- the VPC path: gateways, NAT gateways, route tables, network ACLs, peerings ------------

    def _text(self, node: object, origin: Origin, what: str) -> str:
        found = self._ref_text(node, origin)
        if not found:
            raise refuse(origin, f"{what} is missing")
        return found

    def _path(self, kind: str, name: str, props: dict[str, Any], origin: Origin) -> None:
        """The resources the rest of the path names: gateways, NAT gateways, route tables,
        network ACLs, peerings."""
        d = self.deployment
        if kind == "AWS::EC2::InternetGateway":
            return  # attached by a VPCGatewayAttachment
        if kind == "AWS::EC2::EgressOnlyInternetGateway":
            d.path.append(ImportedPath("eigw", name, self._vpc(props.get("VpcId"), origin)))
        elif kind == "AWS::EC2::NatGateway":
            private = self.value(props.get("ConnectivityType", "public"), origin) == "private"
            subnet = self._text(props.get("SubnetId"), origin, "SubnetId")
            d.path.append(ImportedPath("nat", name, subnet=subnet, private=private, origin=origin))
        elif kind == "AWS::EC2::VPCPeeringConnection":
            one, other = (self._vpc(props.get(k), origin) for k in ("VpcId", "PeerVpcId"))
            d.path.append(ImportedPath("pcx", name, one, other=other, origin=origin))
        elif kind == "AWS::EC2::RouteTable":
            vpc = self._vpc(props.get("VpcId"), origin)
            d.route_tables[name] = ImportedRouteTable(name, name, vpc, origin)
        elif kind == "AWS::EC2::NetworkAcl":
            vpc = self._vpc(props.get("VpcId"), origin)
            d.acls[name] = ImportedAcl(name, name, vpc, origin)

    def _path_part(self, kind: str, name: str, props: dict[str, Any], origin: Origin) -> None:
        """Routes, ACL entries and associations (read once what they name is)."""
        d = self.deployment
        if kind == "AWS::EC2::VPCGatewayAttachment":
            if props.get("InternetGatewayId") is not None:
                gateway = self._text(props.get("InternetGatewayId"), origin, "InternetGatewayId")
                vpc = self._vpc(props.get("VpcId"), origin)
                d.path.append(ImportedPath("igw", gateway, vpc, origin=origin))
            else:
                d.notes.append(f"{origin}: a virtual private gateway is not modelled: left out")
        elif kind == "AWS::EC2::Route":
            table = self._text(props.get("RouteTableId"), origin, "RouteTableId")
            destination = self._ref_text(props.get("DestinationCidrBlock"), origin) or (
                self._ref_text(props.get("DestinationIpv6CidrBlock"), origin)
            )
            if props.get("DestinationPrefixListId") is not None:
                listed = self._text(props.get("DestinationPrefixListId"), origin, "prefix list")
                destination = f"pl:{listed}"
            found = None
            for key, target_kind in ROUTE_TARGETS.items():
                if props.get(key) is not None and destination:
                    if target_kind == "other":
                        d.notes.append(
                            f"{origin}: route {destination} -> {key}: a target the lab does not "
                            "model; left out (its destination has no route in the lab)"
                        )
                        return
                    target = self._text(props.get(key), origin, key)
                    found = ImportedRoute(destination, target_kind, target, origin)
                    break
            if found is None:
                d.notes.append(
                    f"{origin}: a route without a destination or target the lab knows: left out"
                )
                return
            if table not in d.route_tables:
                raise refuse(origin, f"RouteTableId {table} is not a route table of the template")
            d.route_tables[table].routes.append(found)
        elif kind == "AWS::EC2::SubnetRouteTableAssociation":
            table = self._text(props.get("RouteTableId"), origin, "RouteTableId")
            subnet = self._text(props.get("SubnetId"), origin, "SubnetId")
            d.path.append(ImportedPath("assoc", name, subnet=subnet, other=table, origin=origin))
        elif kind == "AWS::EC2::SubnetNetworkAclAssociation":
            acl = self._text(props.get("NetworkAclId"), origin, "NetworkAclId")
            subnet = self._text(props.get("SubnetId"), origin, "SubnetId")
            d.path.append(ImportedPath("acl", name, subnet=subnet, other=acl, origin=origin))
        elif kind == "AWS::EC2::NetworkAclEntry":
            acl = self._text(props.get("NetworkAclId"), origin, "NetworkAclId")
            if acl not in d.acls:
                raise refuse(origin, f"NetworkAclId {acl} is not a network ACL of the template")
            ports, icmp = (self.value(props.get(k) or {}, origin) for k in ("PortRange", "Icmp"))
            if not isinstance(ports, dict) or not isinstance(icmp, dict):
                raise refuse(origin, "PortRange and Icmp are mappings")
            protocol = str(self.value(props.get("Protocol"), origin))
            cidr = self._ref_text(props.get("CidrBlock"), origin) or self._ref_text(
                props.get("Ipv6CidrBlock"), origin
            )
            number = port_value(self.value(props.get("RuleNumber"), origin), origin, "RuleNumber")
            if number is None or not cidr:
                raise refuse(origin, "a network ACL entry needs RuleNumber and a CIDR")
            d.acls[acl].entries.append(
                ImportedAclEntry(
                    number,
                    str(self.value(props.get("Egress", False), origin)).lower() == "true",
                    "-1" if protocol == "-1" else protocol_text(protocol, origin),
                    str(self.value(props.get("RuleAction"), origin)).lower(),
                    cidr,
                    port_value(ports.get("From"), origin, "PortRange.From"),
                    port_value(ports.get("To"), origin, "PortRange.To"),
                    port_value(icmp.get("Type"), origin, "Icmp.Type"),
                    port_value(icmp.get("Code"), origin, "Icmp.Code"),
                    origin,
                )
            )

    def _ref_text(self, node: object, origin: Origin) -> str | None:
        if node is None:
            return None
        value = self.value(node, origin)
        if isinstance(value, Outside):
            return value.ref(self.deployment)
        return None if value is None else str(value)

    def _vpc(self, node: object, origin: Origin) -> str | None:
        """A group's VPC; a parameter without a value becomes a VPC named after it."""
        try:
            return self._ref_text(node, origin)
        except TopologyError:
            if isinstance(node, dict) and set(node) == {"Ref"}:
                name = str(node["Ref"])
                self.deployment.notes.append(
                    f"{origin}: VpcId parameter '{name}' has no value: a VPC of its own "
                    "stands for it"
                )
                return name
            raise

    def _group(self, name: str, props: dict[str, Any], origin: Origin) -> None:
        group_name = self.value(props.get("GroupName"), origin)
        group = ImportedGroup(
            name,
            str(group_name) if group_name else name,
            origin,
            description=str(self.value(props.get("GroupDescription", ""), origin) or ""),
            vpc=self._vpc(props.get("VpcId"), origin),
        )
        for key, egress in (("SecurityGroupIngress", False), ("SecurityGroupEgress", True)):
            nodes = props.get(key) or []
            if not isinstance(nodes, list):
                nodes = self.value(nodes, origin)  # a list made by a function (Fn::If, ...)
                if not isinstance(nodes, list):
                    raise refuse(origin, f"{key} must be a list")
            for index, node in enumerate(nodes):
                where = self.origin(node, f"{name} {key}[{index}]")
                if where.line == 0:
                    where = Origin(where.file, origin.line, where.construct)
                with self.deployment.rule():
                    rule = self._rule(self.value(node, where), where, egress)
                    (group.egress if egress else group.ingress).append(rule)
        group.default_egress = "SecurityGroupEgress" not in props
        self.deployment.groups[name] = group

    def _rule(self, item: object, origin: Origin, egress: bool) -> Any:
        if not isinstance(item, dict):
            raise refuse(origin, "a rule must be a mapping")
        protocol = protocol_text(item.get("IpProtocol"), origin)
        low = port_value(item.get("FromPort"), origin, "FromPort")
        high = port_value(item.get("ToPort"), origin, "ToPort")
        peers = []
        keys = (
            ("CidrIp", "CidrIpv6", "DestinationPrefixListId", "DestinationSecurityGroupId")
            if egress
            else ("CidrIp", "CidrIpv6", "SourcePrefixListId", "SourceSecurityGroupId")
        )
        for key in keys:
            value = item.get(key)
            if value is None:
                continue
            if key.startswith("Cidr"):
                peers.append(Peer(cidr=str(value)))
            elif "PrefixList" in key:
                peers.append(Peer(prefix_list=self._plist(value)))
            else:
                account = item.get("SourceSecurityGroupOwnerId")
                peers.append(Peer(group=self._group_ref(value), account=account))
        if not egress and item.get("SourceSecurityGroupName") is not None:
            peers.append(Peer(group=self._group_named(str(item["SourceSecurityGroupName"]))))
        if len(peers) != 1:
            what = "no source" if not peers else "more than one source"
            raise refuse(
                origin,
                f"a rule has {what} (CloudFormation refuses it too: a rule takes exactly one of "
                "CidrIp, CidrIpv6, SourcePrefixListId, a source or destination group)",
            )
        description = str(item.get("Description") or "")
        return make_rule(protocol, low, high, peers[0], origin, description)

    def _plist(self, value: object) -> str:
        if isinstance(value, Outside):
            return value.ref(self.deployment)
        return str(value)

    def _group_ref(self, value: object) -> str:
        if isinstance(value, GroupRef):
            return value.logical_id
        if isinstance(value, Outside):
            return value.ref(self.deployment)
        return str(value)

    def _group_named(self, name: str) -> str:
        for group in self.deployment.groups.values():
            if group.name == name:
                return group.ref
        return name

    def _standalone(self, props: dict[str, Any], origin: Origin, egress: bool) -> None:
        item = self.value(props, origin)
        assert isinstance(item, dict)
        if "GroupId" in item:
            ref = self._group_ref(item.pop("GroupId"))
        elif "GroupName" in item:
            ref = self._group_named(str(item.pop("GroupName")))
        else:
            raise refuse(origin, "needs GroupId (or GroupName)")
        if ref not in self.deployment.groups:
            self.deployment.outside_group(
                ref,
                origin,
                description=f"{ref}: rules added by the template, group not in it",
                holds="only these rules",
            )
        rule = self._rule(item, origin, egress)
        group = self.deployment.groups[ref]
        (group.egress if egress else group.ingress).append(rule)

    def _attachments(self, props: object, origin: Origin) -> None:
        subnets, public = self._placement(props, origin)
        for _, value in attached(props, ATTACH_KEYS):
            try:
                resolved = self.value(value, origin)
            except TopologyError:
                continue
            items = resolved if isinstance(resolved, list) else [resolved]
            self.deployment.attach(
                (self._group_ref(i) for i in items if isinstance(i, GroupRef | Outside | str)),
                origin,
                subnets,
                public,
            )

    def _placement(self, props: object, origin: Origin) -> tuple[list[str], bool | None]:
        """Where a resource puts what it attaches: its subnets (``SubnetId``, ``Subnets``,
        ``VPCZoneIdentifier``, ``SubnetIds``) and whether it gets a public address
        (``AssociatePublicIpAddress``; ``AssignPublicIp: ENABLED``), when the template says."""
        subnets: list[str] = []
        for _, value in attached(props, SUBNET_KEYS):
            try:
                resolved = self.value(value, origin)
            except TopologyError:
                continue
            for item in resolved if isinstance(resolved, list) else [resolved]:
                if isinstance(item, GroupRef | Outside) or (isinstance(item, str) and item):
                    subnets.append(self._group_ref(item))
        public: bool | None = None
        for _, value in attached(props, PUBLIC_KEYS):
            try:
                said = str(self.value(value, origin)).lower()
            except TopologyError:
                continue
            public = said in ("true", "enabled")
        return list(dict.fromkeys(subnets)), public


def read(
    source: str, data: dict[str, Any], parameters: dict[str, str], deployment: Deployment
) -> None:
    for key, first, kept in getattr(data, "duplicates", ()):
        deployment.notes.append(
            f"{source}:{kept}: key '{key}' is written twice in one mapping (lines {first} and "
            f"{kept}): CloudFormation keeps the last, and so does the import"
        )
    _Template(source, data, parameters, deployment).read()
    if not deployment.groups:
        raise refuse(Origin(source), "the template declares no AWS::EC2::SecurityGroup")
