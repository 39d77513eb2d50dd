"""The Security Groups page: groups, their rules by tab, staged rule changes and Apply Rule
Changes."""

from __future__ import annotations

from typing import Any, TypeVar

from flask import Flask, abort, flash, redirect, request, session
from werkzeug.wrappers import Response as BaseResponse

from harness.core.ec2 import plane as ec2
from harness.core.model import Group
from harness.errors import InvalidInput
from harness.faces.console import rules
from harness.faces.console.context import Console, Page

T = TypeVar("T")
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


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


def _rules_of(group: Group, account: str, egress: bool) -> list[dict[str, str]]:
    word = "to" if egress else "from"
    return [
        {"id": ec2.rule_id(group, rule, egress), "text": rule.describe(account, word)}
        for rule in group.side(egress)
    ]


def register(app: Flask, console: Console, page: Page) -> None:
    account = console.account

    # -- Security Groups ------------------------------------------------------------------

    def groups_page(status: int = 200, **values: Any) -> tuple[str, int]:
        cloud_groups, cloud = console.read(lambda c: ec2.describe_groups(c, account))
        chosen_id = values.pop("group_id", None) or request.args.get("group", "")
        chosen = next((g for g in cloud_groups if g.group_id == chosen_id), None)
        tab = values.pop("tab", None) or request.args.get("tab", "inbound")
        if chosen is None or chosen.vpc is None:
            tab = "inbound"
        staged = _staged(chosen.group_id) if chosen is not None else []
        vpcs = [v.vpc_id for v in cloud.vpcs if v.owner == account]
        detail: dict[str, Any] | None = None
        if chosen is not None:
            egress = tab == "outbound"
            members = [
                r.instance_id for r in cloud.active_instances() if chosen.key in r.groups
            ] + [n.eni_id for n in cloud.nics if chosen.key in n.groups and not n.instance_id]
            detail = {
                "group": chosen,
                "egress": egress,
                "rules": _rules_of(chosen, account, egress),
                "staged": [rules.describe(c) for c in staged if c["egress"] is egress],
                "deleting": {c["rule_id"] for c in staged if c["op"] == "delete"},
                "inbound_star": any(not c["egress"] for c in staged),
                "outbound_star": any(c["egress"] for c in staged),
                "presets": rules.presets_for(chosen),
                "members": members,
            }
        return (
            page(
                "groups.html.j2",
                "Security Groups",
                cloud,
                groups=cloud_groups,
                chosen=detail,
                tab=tab,
                vpcs=vpcs,
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
            name = ec2.find_group(console.cloud(), account, group_id).name
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
            group = ec2.find_group(console.cloud(), account, group_id)
            console.call_all(rules.requests(group, account, staged))
        except InvalidInput as err:
            return groups_page(400, group_id=group_id, tab=tab, error=str(err))
        _stage(group_id, [])
        flash(f"Applied {len(staged)} rule change{'s' if len(staged) != 1 else ''}")
        return redirect(f"/groups?group={group_id}&tab={tab}")
