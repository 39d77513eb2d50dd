"""The Query API's actions over one persistent lab, and the registry of them."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any
from xml.etree.ElementTree import Element

from harness.core import control_plane
from harness.core.control_plane import STATE_CODES, Cloud
from harness.core.phases import QUIET
from harness.errors import Ec2Error
from harness.faces.query_api.params import (
    Params,
    _int,
    filters,
    group_ids,
    listed,
    permissions,
    target_group,
)
from harness.faces.query_api.responses import E, group_xml, items, reservation_xml
from harness.lab.persistent import PersistentLab, new_id, now


class Api:
    """The actions, over one persistent lab. Calls are serialised (one lab lock anyway)."""

    def __init__(self, lab: PersistentLab) -> None:
        self.lab = lab
        self.guard = threading.Lock()

    def call(self, account: str, action: str, params: Params) -> list[Element]:
        handler = ACTIONS.get(action)
        if handler is None:
            raise Ec2Error(
                "InvalidAction", f"The action {action} is not valid for this web service."
            )
        with self.guard:
            return handler(self, account, params)

    def _act(self, action: Callable[[Cloud], tuple[Cloud, Any]]) -> Any:
        return self.lab.act(action, QUIET)

    def _CreateSecurityGroup(self, account: str, params: Params) -> list[Element]:
        name = params.get("GroupName", "")
        description = params.get("GroupDescription", "")
        group = self._act(lambda c: control_plane.create_group(c, account, name, description))
        return [E("return", "true"), E("groupId", group.group_id)]

    def _DescribeSecurityGroups(self, account: str, params: Params) -> list[Element]:
        refs = listed(params, "GroupName") + group_ids(params, "GroupId")
        chosen = filters(params)
        groups = self.lab.read(lambda c: control_plane.describe_groups(c, account, refs, chosen))
        return [items("securityGroupInfo", (group_xml(g) for g in groups))]

    def _change(self, account: str, params: Params, revoke: bool) -> list[Element]:
        ref = target_group(params)
        wanted = permissions(params)
        change = control_plane.revoke if revoke else control_plane.authorize

        def action(c: Cloud) -> tuple[Cloud, None]:
            rules = control_plane.permission_rules(c, account, wanted)
            new, _, _ = change(c, account, ref, rules)
            return new, None

        self._act(action)
        return [E("return", "true")]

    def _AuthorizeSecurityGroupIngress(self, account: str, params: Params) -> list[Element]:
        return self._change(account, params, revoke=False)

    def _RevokeSecurityGroupIngress(self, account: str, params: Params) -> list[Element]:
        return self._change(account, params, revoke=True)

    def _DeleteSecurityGroup(self, account: str, params: Params) -> list[Element]:
        ref = target_group(params)
        self._act(lambda c: control_plane.delete_group(c, account, ref))
        return [E("return", "true")]

    def _RunInstances(self, account: str, params: Params) -> list[Element]:
        image = params.get("ImageId")
        if not image:
            raise Ec2Error("MissingParameter", "The request must contain the parameter ImageId")
        low = _int(params, "MinCount")
        high = _int(params, "MaxCount")
        if low is None or high is None:
            raise Ec2Error(
                "MissingParameter", "The request must contain the parameters MinCount and MaxCount"
            )
        if low < 1 or high < low:
            raise Ec2Error(
                "InvalidParameterValue",
                f"MinCount ({low}) must be at least 1 and at most MaxCount ({high})",
            )
        refs = listed(params, "SecurityGroup") + group_ids(params, "SecurityGroupId")
        kind = params.get("InstanceType") or control_plane.DEFAULT_TYPE
        records = self._act(
            lambda c: control_plane.run_instances(
                c, account, image, high, refs, now=now(), new_id=new_id, instance_type=kind
            )
        )
        return reservation_xml(records, state=control_plane.PENDING)

    def _DescribeInstances(self, account: str, params: Params) -> list[Element]:
        ids = listed(params, "InstanceId")
        chosen = filters(params)
        records = self.lab.read(lambda c: control_plane.describe_instances(c, account, ids, chosen))
        groups = control_plane.reservations(records)
        return [items("reservationSet", (reservation_xml(group) for group in groups))]

    def _TerminateInstances(self, account: str, params: Params) -> list[Element]:
        ids = listed(params, "InstanceId")
        changes = self._act(lambda c: control_plane.terminate_instances(c, account, ids))
        out = []
        for record, before in changes:
            current = control_plane.terminating(before)
            out.append(
                [
                    E("instanceId", record.instance_id),
                    E("currentState", E("code", STATE_CODES[current]), E("name", current)),
                    E("previousState", E("code", STATE_CODES[before]), E("name", before)),
                ]
            )
        return [items("instancesSet", out)]


ACTIONS: dict[str, Callable[[Api, str, Params], list[Element]]] = {
    "CreateSecurityGroup": Api._CreateSecurityGroup,
    "DescribeSecurityGroups": Api._DescribeSecurityGroups,
    "AuthorizeSecurityGroupIngress": Api._AuthorizeSecurityGroupIngress,
    "RevokeSecurityGroupIngress": Api._RevokeSecurityGroupIngress,
    "DeleteSecurityGroup": Api._DeleteSecurityGroup,
    "RunInstances": Api._RunInstances,
    "DescribeInstances": Api._DescribeInstances,
    "TerminateInstances": Api._TerminateInstances,
}
"""Every action the Query API serves."""
