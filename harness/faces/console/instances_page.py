"""The Instances page: the account's instances, and Launch."""

from __future__ import annotations

from typing import Any, TypeVar

from flask import Flask, flash, redirect, request
from werkzeug.wrappers import Response as BaseResponse

from harness.core.ec2 import plane as ec2
from harness.errors import Ec2Error, HarnessError
from harness.faces.console import rules
from harness.faces.console.context import Console, Page

T = TypeVar("T")
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


def register(app: Flask, console: Console, page: Page) -> None:
    account = console.account

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
