"""The console's pages: Security Groups, Instances, Reachability (a Flask app over one
persistent lab, acting as one account).

Every page is drawn from the action layer's Describe answers and every change is one of its
actions, run under the lab's lock and enforced before the page answers, as for the ``ec2-*``
tools and the Query API; EC2's
refusals are shown in EC2's words. Pages are rendered by Jinja2 with autoescaping everywhere
(a description is text, never markup), forms carry Flask-WTF's CSRF token, the session
cookie (which holds only the staged rule changes) is signed with a key made at start, the
Host header must be the address served, and a Content-Security-Policy allows this origin's
own script only.
"""

from __future__ import annotations

import hmac
import secrets
from importlib import resources
from typing import Any

from flask import Flask, Response, redirect, render_template, request
from flask_wtf.csrf import CSRFError, CSRFProtect
from jinja2 import ChoiceLoader, PackageLoader, StrictUndefined
from werkzeug.wrappers import Response as BaseResponse

from harness.faces.console import groups_page, instances_page, reachability_page, subnets_page
from harness.faces.console.context import Console
from harness.faces.serving import is_loopback

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


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

    def page(template: str, title: str, platform: str | None = None, **values: Any) -> str:
        """A page; ``platform`` when the caller has described it already."""
        return render_template(
            template,
            title=title,
            lab=console.lab.name,
            account=account,
            platform=platform or console.platform(),
            **{"error": "", **values},
        )

    @app.get("/")
    def home() -> BaseResponse:
        return redirect("/groups")

    @app.get("/static/report.js")
    def report_js() -> Response:
        text = resources.files("harness.formats").joinpath("templates/report.js").read_text()
        return Response(text, mimetype="text/javascript")

    groups_page.register(app, console, page)
    instances_page.register(app, console, page)
    reachability_page.register(app, console, page)
    subnets_page.register(app, console, page)
    return app
