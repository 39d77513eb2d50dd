"""The Query API's form, read through botocore's model of EC2: every member an action says it
models is one EC2 has, botocore's own serializer's output reads back as the request it wrote,
and what EC2 does not have (or the lab does not model) is refused, naming the key."""

from __future__ import annotations

from typing import Any, cast

import botocore.serialize
import pytest
from botocore.model import ListShape, Shape, StructureShape
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.core.ec2 import actions
from harness.core.ec2.actions import ACTIONS
from harness.errors import Ec2Error
from harness.faces.query_api import wire


def _member(shape: StructureShape, name: str) -> Shape:
    assert name in shape.members, f"{shape.name} has no member {name}"
    return shape.members[name]


def _resolve(shape: Shape, path: str) -> Shape:
    """The shape at a path of member names (list items stepped through)."""
    for name in path.split("."):
        while shape.type_name == "list":
            shape = cast(ListShape, shape).member
        assert shape.type_name == "structure", f"{path}: {shape.name} is not a structure"
        shape = _member(cast(StructureShape, shape), name)
    return shape


@pytest.mark.parametrize("action", sorted(ACTIONS))
def test_every_modelled_member_is_one_ec2_has(action: str) -> None:
    shape = wire.operation(action).input_shape
    assert shape is not None
    for path in ACTIONS[action].supported:
        _resolve(shape, path)


def test_the_egress_group_name_ec2_has_not_is_refused() -> None:
    assert "GroupName" not in ACTIONS["AuthorizeSecurityGroupEgress"].supported
    with pytest.raises(Ec2Error) as err:
        wire.parse("AuthorizeSecurityGroupEgress", {"GroupName": "web", "GroupId": "sg-12345678"})
    assert (err.value.code, err.value.message) == (
        "UnknownParameter",
        "The parameter GroupName is not recognized",
    )


@pytest.mark.parametrize(
    ("form", "code", "named"),
    [
        (
            {"GroupId": "sg-1", "IpPermissions.1.IpRanges.1.Colour": "red"},
            "UnknownParameter",
            "IpPermissions.1.IpRanges.1.Colour",
        ),
        (
            {"GroupId": "sg-1", "IpPermissions.x.IpProtocol": "tcp"},
            "UnknownParameter",
            "IpPermissions.x.IpProtocol",
        ),
        ({"GroupId": "sg-1", "GroupId.1": "sg-2"}, "UnknownParameter", "GroupId.1"),
        (
            {"GroupId": "sg-1", "IpPermissions.1.FromPort": "eighty"},
            "InvalidParameterValue",
            "IpPermissions.1.FromPort",
        ),
        ({"GroupId": "sg-1", "DryRun": "maybe"}, "InvalidParameterValue", "DryRun"),
    ],
)
def test_what_ec2_refuses_is_refused_naming_the_key(
    form: dict[str, str], code: str, named: str
) -> None:
    with pytest.raises(Ec2Error) as err:
        wire.parse("AuthorizeSecurityGroupIngress", form)
    assert err.value.code == code
    assert named in err.value.message


def test_a_required_member_left_out_is_named() -> None:
    with pytest.raises(Ec2Error) as err:
        wire.parse(
            "ModifyManagedPrefixList", {"PrefixListId": "pl-1", "AddEntry.1.Description": "x"}
        )
    assert err.value.code == "MissingParameter"
    assert "AddEntry.1.Cidr" in err.value.message
    with pytest.raises(Ec2Error) as err:
        wire.parse("TerminateInstances", {})
    assert err.value.message == "The request must contain the parameter InstanceId"


def test_lists_are_read_in_index_order_with_nested_structures() -> None:
    request = wire.parse(
        "DescribeSecurityGroups",
        {
            "Filter.2.Name": "group-name",
            "Filter.2.Value.1": "b",
            "Filter.1.Name": "vpc-id",
            "Filter.1.Value.2": "vpc-2",
            "Filter.1.Value.1": "vpc-1",
            "GroupId.1": "sg-1",
            "MaxResults": "10",
            "DryRun": "true",
        },
    )
    assert request == {
        "Filters": [
            {"Name": "vpc-id", "Values": ["vpc-1", "vpc-2"]},
            {"Name": "group-name", "Values": ["b"]},
        ],
        "GroupIds": ["sg-1"],
        "MaxResults": 10,
        "DryRun": True,
    }


# -- botocore's own serializer, read back ----------------------------------------------------

PRINTABLE = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=0, max_size=6
)


def _strategy(shape: Shape, depth: int = 0) -> st.SearchStrategy[Any]:
    kind = shape.type_name
    if kind == "structure":
        members = cast(StructureShape, shape).members
        return _fields(cast(StructureShape, shape), dict(members), depth)
    if kind == "list":
        return st.lists(_strategy(cast(ListShape, shape).member, depth + 1), max_size=2)
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    if kind in ("integer", "long"):
        return st.integers(-(2**31) if low is None else low, 2**31 - 1 if high is None else high)
    if kind == "boolean":
        return st.booleans()
    assert kind == "string", f"{shape.name}: {kind}"
    return PRINTABLE if not low else PRINTABLE.filter(lambda text: len(text) >= low)


def _fields(
    shape: StructureShape, members: dict[str, Shape], depth: int
) -> st.SearchStrategy[dict[str, Any]]:
    if depth > 6:
        return st.just({})
    required = {
        n: _strategy(m, depth + 1) for n, m in members.items() if n in shape.required_members
    }
    optional = {
        n: _strategy(m, depth + 1) for n, m in members.items() if n not in shape.required_members
    }
    return st.fixed_dictionaries(required, optional=optional)


def _supported_request(action: str) -> st.SearchStrategy[dict[str, Any]]:
    """Requests of the members the action models (all of a member's subtree when covered)."""
    shape = cast(StructureShape, wire.operation(action).input_shape)

    def within(shape: StructureShape, prefix: str, depth: int) -> st.SearchStrategy[Any]:
        supported = ACTIONS[action].supported | {"DryRun"}
        chosen: dict[str, st.SearchStrategy[Any]] = {}
        for name, member in shape.members.items():
            path = f"{prefix}{name}"
            if path in supported:
                chosen[name] = _strategy(member, depth + 1)
            elif any(p.startswith(path + ".") for p in supported):
                inner: Shape = member
                lists = 0
                while inner.type_name == "list":
                    inner = cast(ListShape, inner).member
                    lists += 1
                strategy = within(cast(StructureShape, inner), path + ".", depth + 1)
                for _ in range(lists):
                    strategy = st.lists(strategy, max_size=2)
                chosen[name] = strategy
        required = {n: s for n, s in chosen.items() if n in shape.required_members}
        optional = {n: s for n, s in chosen.items() if n not in shape.required_members}
        return st.fixed_dictionaries(required, optional=optional)

    return cast(st.SearchStrategy[dict[str, Any]], within(shape, "", 0))


def _sent(value: Any) -> Any:
    """What survives the wire: EC2's serializer writes nothing for an empty list or
    structure."""
    if isinstance(value, dict):
        kept = {k: _sent(v) for k, v in value.items()}
        return {k: v for k, v in kept.items() if v not in ([], {})}
    if isinstance(value, list):
        kept_items = [_sent(v) for v in value]
        return [v for v in kept_items if v not in ([], {})]
    return value


SERIALIZER = botocore.serialize.create_serializer("ec2")


@pytest.mark.parametrize("action", sorted(ACTIONS))
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_botocores_serializer_output_reads_back_as_the_request(
    action: str, data: st.DataObject
) -> None:
    request = data.draw(_supported_request(action))
    model = wire.operation(action)
    body = SERIALIZER.serialize_to_request(request, model)["body"]
    form = {k: str(v) for k, v in body.items() if k not in ("Action", "Version")}
    try:
        parsed = wire.parse(action, form)
    except Ec2Error as err:  # only a required member emptied on the wire may be missed
        assert err.code == "MissingParameter", err
        return
    assert parsed == _sent(request)
    actions.check(action, parsed)  # what the action models passes its check


def test_a_member_ec2_has_and_the_lab_does_not_model_is_refused_naming_it() -> None:
    request = wire.parse(
        "AuthorizeSecurityGroupIngress",
        {
            "GroupId": "sg-12345678",
            "IpPermissions.1.IpProtocol": "tcp",
            "IpPermissions.1.Groups.1.GroupId": "sg-87654321",
            "IpPermissions.1.Groups.1.PeeringStatus": "active",
        },
    )
    with pytest.raises(Ec2Error) as err:
        actions.check("AuthorizeSecurityGroupIngress", request)
    assert err.value.code == "Unsupported"
    assert "IpPermissions.1.UserIdGroupPairs.1.PeeringStatus" in err.value.message
    with pytest.raises(Ec2Error) as err:  # the same for a door that gives the SDK's shape
        actions.check("RunInstances", {"ImageId": "ami-12345678", "UserData": "x"})
    assert (err.value.code, "UserData" in err.value.message) == ("Unsupported", True)
    actions.check("RunInstances", {"ImageId": "ami-12345678", "Placement": {"Tenancy": "x"}})
