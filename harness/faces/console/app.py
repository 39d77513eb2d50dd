"""The console's pages: Security Groups, Instances, Reachability (a Flask app over one
persistent lab, acting as one account).

Every change goes through the control plane's own functions under the lab's lock and is
enforced before the page answers, as for the ``ec2-*`` tools and the Query API; EC2's
refusals are shown in EC2's words. Pages are rendered by Jinja2 with autoescaping everywhere
(a description is text, never markup), forms carry Flask-WTF's CSRF token, the session
cookie (which holds only the staged rule changes) is signed with a key made at start, the
Host header must be the address served, and a Content-Security-Policy allows this origin's
own script only.
"""

from __future__ import annotations

import hmac
import secrets
import threading
from collections.abc import Callable, Sequence
from importlib import resources
from typing import Any, TypeVar

from flask import Flask, Response, abort, flash, redirect, render_template, request, session
from flask_wtf.csrf import CSRFError, CSRFProtect
from jinja2 import ChoiceLoader, PackageLoader, StrictUndefined
from werkzeug.wrappers import Response as BaseResponse

from harness.core.ec2 import plane as ec2
from harness.core.ec2.actions import Answer, Request
from harness.core.ec2.plane import Cloud
from harness.core.model import Group
from harness.errors import Ec2Error, HarnessError, InvalidInput
from harness.faces.console import rules
from harness.faces.console.live import LiveMap
from harness.faces.serving import is_loopback
from harness.formats.html_report import LEGEND, heatmap, is_bad, subtitle
from harness.lab.persistent import PersistentLab

T = TypeVar("T")
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


class Console:
    """The lab, the account the console acts as, and the live map."""

    def __init__(self, lab: PersistentLab, account: str, live: LiveMap) -> None:
        self.lab = lab
        self.account = account
        self.live = live
        self.guard = threading.Lock()  # one request at a time touches the lab's connection

    def read(self, action: Callable[[Cloud], tuple[Cloud, T]]) -> tuple[T, Cloud]:
        """A describe action's result, and the account's view of the state it read (one
        load of the state for the whole page)."""

        def both(cloud: Cloud) -> tuple[Cloud, tuple[T, Cloud]]:
            cloud, result = action(cloud)
            return cloud, (result, ec2.with_account(cloud, self.account))

        with self.guard:
            return self.lab.read(both)

    def call(self, name: str, request: Request) -> Answer:
        """An action of the action layer (the one every door calls), as the console's
        account; enforced before it returns."""
        return self.call_all([(name, request)])[0]

    def call_all(self, calls: Sequence[tuple[str, Request]]) -> list[Answer]:
        """Several actions as one change (Apply Rule Changes): all, or none."""
        with self.guard:
            answers = self.lab.call_all(self.account, calls)
        self.live.changed()
        return answers

    def cloud(self) -> Cloud:
        with self.guard:
            return ec2.with_account(self.lab.cloud(), self.account)


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


def make_app(console: Console, host: str) -> Flask:
    """The console's app, served on ``host``. On loopback the Host header must name it (no
    DNS rebinding); beyond loopback every request needs an access key of the console's
    account made by ``sgh key add`` (HTTP Basic: key id and secret), as the Query API does."""
    keys = None if is_loopback(host) else console.lab.home.key
    app = Flask(__name__, static_folder=None)
    app.jinja_options = {**app.jinja_options, "autoescape": True, "undefined": StrictUndefined}
    app.jinja_loader = ChoiceLoader(
        [
            PackageLoader("harness.faces.console", "templates"),
            PackageLoader("harness.formats", "templates"),
        ]
    )
    app.config.update(
        SECRET_KEY=secrets.token_bytes(32),
        SESSION_COOKIE_SAMESITE="Strict",
        SESSION_COOKIE_NAME="sgh_console",
        WTF_CSRF_TIME_LIMIT=None,
        MAX_CONTENT_LENGTH=1 << 20,
        TRUSTED_HOSTS=["127.0.0.1", "localhost", host] if keys is None else None,
    )
    CSRFProtect(app)
    account = console.account

    @app.before_request
    def authenticate() -> BaseResponse | None:
        if keys is None:
            return None
        auth = request.authorization
        found = keys(auth.username or "") if auth is not None and auth.type == "basic" else None
        if (
            auth is None
            or found is None
            or not hmac.compare_digest(found[0], auth.password or "")
            or found[1] != account
        ):
            return Response(
                f"Sign in with an access key of account {account} made by 'sgh key add' "
                "(key id as user name, secret as password).\n",
                401,
                {"WWW-Authenticate": 'Basic realm="sgh console", charset="UTF-8"'},
                mimetype="text/plain",
            )
        return None

    @app.after_request
    def headers(response: BaseResponse) -> BaseResponse:
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["Cache-Control"] = "no-store"
        return response

    @app.errorhandler(CSRFError)
    def csrf_refused(err: CSRFError) -> tuple[str, int]:
        return page("error.html.j2", "Refused", error=f"Refused: {err.description}"), 400

    def page(template: str, title: str, cloud: Cloud | None = None, **values: Any) -> str:
        """A page; ``cloud`` when the caller has loaded the state already."""
        return render_template(
            template,
            title=title,
            lab=console.lab.name,
            account=account,
            platform=(cloud or console.cloud()).platform,
            **{"error": "", **values},
        )

    @app.get("/")
    def home() -> BaseResponse:
        return redirect("/groups")

    @app.get("/static/report.js")
    def report_js() -> Response:
        text = resources.files("harness.formats").joinpath("templates/report.js").read_text()
        return Response(text, mimetype="text/javascript")

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

    # -- Instances ------------------------------------------------------------------------

    def instances_page(status: int = 200, **values: Any) -> tuple[str, int]:
        records, cloud = console.read(lambda c: ec2.describe_instances(c, account))
        names = {g.key: g.name for g in cloud.groups}
        rows = []
        for record in records:
            nics = ec2.nics_of(cloud, record.instance_id)
            public = [str(n.public) for n in nics if n.public is not None]
            rows.append(
                {
                    "id": record.instance_id,
                    "image": record.image_id,
                    "role": ec2.image_of(cloud, record.image_id).role,
                    "state": record.state,
                    "groups": [names.get(k, k.name) for k in record.groups],
                    "private": str(record.address),
                    "public": ", ".join(public),
                }
            )
        choices = list(cloud.groups_of(account))
        return (
            page(
                "instances.html.j2",
                "Instances",
                cloud,
                instances=rows,
                amis=[
                    *ec2.AMIS.values(),
                    *(ec2.image_of(cloud, i.image_id) for i in cloud.images if i.owner == account),
                ],
                groups=choices,
                form=values.pop("form", {}),
                **values,
            ),
            status,
        )

    @app.get("/instances")
    def instances() -> tuple[str, int]:
        return instances_page()

    @app.post("/instances")
    def launch() -> BaseResponse | tuple[str, int]:
        image = request.form.get("ami", "").strip()
        count_text = request.form.get("count", "1").strip()
        refs = request.form.getlist("groups")
        try:
            if not count_text.isdigit() or not 1 <= int(count_text) <= 20:
                raise Ec2Error(
                    "InvalidParameterValue",
                    f"Number of instances must be from 1 to 20, not {count_text!r}",
                )
            reservation = console.call(
                "RunInstances",
                {
                    "ImageId": image,
                    "MinCount": int(count_text),
                    "MaxCount": int(count_text),
                    **rules.group_refs(refs),
                },
            )
        except HarnessError as err:
            return instances_page(400, error=str(err), form=dict(request.form))
        flash(f"Launched {', '.join(i['InstanceId'] for i in reservation['Instances'])}")
        return redirect("/instances")

    # -- Reachability ---------------------------------------------------------------------

    @app.get("/reachability")
    def reachability() -> str:
        snap = console.live.snapshot()
        document = snap.document
        return page(
            "reachability.html.j2",
            "Reachability",
            fresh=snap.fresh,
            error=snap.error,
            summary=document["summary_line"] if document else "",
            bad=is_bad(document) if document else False,
            subtitle=subtitle(document) if document else "",
            legend=LEGEND,
            data=heatmap(document) if document else None,
        )

    return app
