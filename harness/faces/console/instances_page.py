"""The Instances page: the account's instances, and Launch."""

from __future__ import annotations

from typing import Any

from flask import Flask, flash, redirect, request
from werkzeug.wrappers import Response as BaseResponse

from harness.core.ec2.actions import Answer
from harness.core.ec2.actions.images import serves
from harness.errors import Ec2Error, HarnessError
from harness.faces.console import rules
from harness.faces.console.context import PLATFORMS, Console, Page, platform_of


def _row(instance: Answer, roles: dict[str, str]) -> dict[str, Any]:
    public = [
        n["Association"]["PublicIp"]
        for n in instance.get("NetworkInterfaces", [])
        if "Association" in n
    ]
    return {
        "id": instance["InstanceId"],
        "image": instance["ImageId"],
        "role": roles.get(instance["ImageId"], ""),
        "state": instance["State"]["Name"],
        "groups": [g["GroupName"] for g in instance["SecurityGroups"]],
        "private": instance.get("PrivateIpAddress", ""),
        "public": ", ".join(public),
    }


def _image(image: Answer) -> dict[str, str]:
    """An image as the launch list offers it: its id, name and what it serves."""
    listen = ", ".join(serves(image).split())
    return {"image_id": image["ImageId"], "name": image["Name"], "serves": listen}


def register(app: Flask, console: Console, page: Page) -> None:
    # -- Instances ------------------------------------------------------------------------

    def instances_page(status: int = 200, **values: Any) -> tuple[str, int]:
        platforms, described, images, groups = console.describe(
            PLATFORMS,
            ("DescribeInstances", {}),
            ("DescribeImages", {}),
            ("DescribeSecurityGroups", {}),
        )
        roles = {i["ImageId"]: i["Name"] for i in images["Images"]}
        rows = [_row(i, roles) for r in described["Reservations"] for i in r["Instances"]]
        return (
            page(
                "instances.html.j2",
                "Instances",
                platform_of(platforms),
                instances=rows,
                amis=[_image(i) for i in images["Images"]],
                groups=[
                    {"group_id": g["GroupId"], "name": g["GroupName"], "vpc": g.get("VpcId")}
                    for g in groups["SecurityGroups"]
                ],
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
