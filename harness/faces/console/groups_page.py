"""The Security Groups page: groups, their rules by tab, staged rule changes and Apply Rule
Changes."""

from __future__ import annotations

from typing import Any

from flask import Flask, abort, flash, redirect, request, session
from werkzeug.wrappers import Response as BaseResponse

from harness.core.ec2.actions import Answer
from harness.errors import InvalidInput
from harness.faces.console import rules
from harness.faces.console.context import PLATFORMS, Console, Page, group_filter, platform_of

TERMINATED = "terminated"


def _staged(group_id: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = session.get("staged", {}).get(group_id, [])
    return found


def _stage(group_id: str, changes: list[dict[str, Any]]) -> None:
    staged = dict(session.get("staged", {}))
    if changes:
        staged[group_id] = changes
    else:
        staged.pop(group_id, None)
    session["staged"] = staged


def _view(group: Answer) -> dict[str, Any]:
    """A group of DescribeSecurityGroups as the page shows it."""
    return {
        "group_id": group["GroupId"],
        "name": group["GroupName"],
        "description": group["Description"],
        "vpc": group.get("VpcId"),
    }


def register(app: Flask, console: Console, page: Page) -> None:
    account = console.account

    def group_of(group_id: str) -> dict[str, Any]:
        answer = console.describe(("DescribeSecurityGroups", {"GroupIds": [group_id]}))[0]
        return _view(answer["SecurityGroups"][0])

    def with_rules(group_id: str) -> tuple[dict[str, Any], list[Answer]]:
        """A group and its rules (each with its ``sgr-`` id), from one load of the state."""
        groups, found = console.describe(
            ("DescribeSecurityGroups", {"GroupIds": [group_id]}),
            ("DescribeSecurityGroupRules", group_filter("group-id", group_id)),
        )
        rules: list[Answer] = found["SecurityGroupRules"]
        return _view(groups["SecurityGroups"][0]), rules

    def detail(chosen: dict[str, Any], tab: str, names: dict[str, str]) -> dict[str, Any]:
        group_id = chosen["group_id"]
        found, instances, nics = console.describe(
            ("DescribeSecurityGroupRules", group_filter("group-id", group_id)),
            ("DescribeInstances", group_filter("instance.group-id", group_id)),
            ("DescribeNetworkInterfaces", group_filter("group-id", group_id)),
        )
        egress = tab == "outbound"
        staged = _staged(group_id)
        members = [
            i["InstanceId"]
            for r in instances["Reservations"]
            for i in r["Instances"]
            if i["State"]["Name"] != TERMINATED
        ] + [n["NetworkInterfaceId"] for n in nics["NetworkInterfaces"] if "Attachment" not in n]
        return {
            "group": chosen,
            "egress": egress,
            "rules": [
                {"id": r["SecurityGroupRuleId"], "text": rules.rule_text(r, names, account)}
                for r in found["SecurityGroupRules"]
                if r["IsEgress"] is egress
            ],
            "staged": [rules.describe(c) for c in staged if c["egress"] is egress],
            "deleting": {c["rule_id"] for c in staged if c["op"] == "delete"},
            "inbound_star": any(not c["egress"] for c in staged),
            "outbound_star": any(c["egress"] for c in staged),
            "presets": rules.presets_for(chosen["vpc"]),
            "members": members,
        }

    # -- Security Groups ------------------------------------------------------------------

    def groups_page(status: int = 200, **values: Any) -> tuple[str, int]:
        platforms, described, vpcs = console.describe(
            PLATFORMS, ("DescribeSecurityGroups", {}), ("DescribeVpcs", {})
        )
        groups = [_view(g) for g in described["SecurityGroups"]]
        names = {g["group_id"]: g["name"] for g in groups}
        chosen_id = values.pop("group_id", None) or request.args.get("group", "")
        chosen = next((g for g in groups if g["group_id"] == chosen_id), None)
        tab = values.pop("tab", None) or request.args.get("tab", "inbound")
        if chosen is None or chosen["vpc"] is None:
            tab = "inbound"
        return (
            page(
                "groups.html.j2",
                "Security Groups",
                platform_of(platforms),
                groups=groups,
                chosen=detail(chosen, tab, names) if chosen is not None else None,
                tab=tab,
                vpcs=[v["VpcId"] for v in vpcs["Vpcs"]],
                dialog=values.pop("dialog", None) or request.args.get("dialog", ""),
                form=values.pop("form", {}),
                **values,
            ),
            status,
        )

    @app.get("/groups")
    def groups() -> tuple[str, int]:
        return groups_page()

    @app.post("/groups")
    def create_group() -> BaseResponse | tuple[str, int]:
        name = request.form.get("name", "").strip()
        description = request.form.get("description", "")
        vpc = request.form.get("vpc", "") or None
        try:
            asked = {"GroupName": name, "Description": description}
            group_id = console.call(
                "CreateSecurityGroup", {**asked, **({"VpcId": vpc} if vpc else {})}
            )["GroupId"]
        except InvalidInput as err:
            return groups_page(400, dialog="create", error=str(err), form=dict(request.form))
        flash(f"Created security group {name} ({group_id})")
        return redirect(f"/groups?group={group_id}")

    @app.post("/groups/<group_id>/delete")
    def delete_group(group_id: str) -> BaseResponse | tuple[str, int]:
        try:
            name = group_of(group_id)["name"]
            console.call("DeleteSecurityGroup", {"GroupId": group_id})
        except InvalidInput as err:
            return groups_page(400, group_id=group_id, error=str(err))
        _stage(group_id, [])
        flash(f"Deleted security group {name} ({group_id})")
        return redirect("/groups")

    def _tab() -> tuple[str, bool]:
        tab = request.form.get("tab", "inbound")
        if tab not in ("inbound", "outbound"):
            abort(400)
        return tab, tab == "outbound"

    @app.post("/groups/<group_id>/rules")
    def add_rule(group_id: str) -> BaseResponse | tuple[str, int]:
        tab, egress = _tab()
        try:
            change = rules.staged_rule(
                request.form.get("preset", ""),
                request.form.get("port_range", ""),
                request.form.get("source", ""),
                egress,
            )
        except InvalidInput as err:
            return groups_page(
                400, group_id=group_id, tab=tab, error=str(err), form=dict(request.form)
            )
        _stage(group_id, [*_staged(group_id), change])
        return redirect(f"/groups?group={group_id}&tab={tab}")

    @app.post("/groups/<group_id>/rules/delete")
    def delete_rule(group_id: str) -> BaseResponse:
        tab, egress = _tab()
        change = rules.staged_delete(
            request.form.get("rule_id", ""), request.form.get("text", ""), egress
        )
        staged = _staged(group_id)
        if change not in staged:
            _stage(group_id, [*staged, change])
        return redirect(f"/groups?group={group_id}&tab={tab}")

    @app.post("/groups/<group_id>/discard")
    def discard(group_id: str) -> BaseResponse:
        _stage(group_id, [])
        return redirect(f"/groups?group={group_id}&tab={request.form.get('tab', 'inbound')}")

    @app.post("/groups/<group_id>/apply")
    def apply(group_id: str) -> BaseResponse | tuple[str, int]:
        tab = request.form.get("tab", "inbound")
        staged = _staged(group_id)
        try:
            group, found = with_rules(group_id)
            by_id = {r["SecurityGroupRuleId"]: r for r in found}
            console.call_all(rules.requests(group_id, group["vpc"], by_id, staged))
        except InvalidInput as err:
            return groups_page(400, group_id=group_id, tab=tab, error=str(err))
        _stage(group_id, [])
        flash(f"Applied {len(staged)} rule change{'s' if len(staged) != 1 else ''}")
        return redirect(f"/groups?group={group_id}&tab={tab}")
