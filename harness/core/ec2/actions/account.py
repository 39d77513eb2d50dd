"""What an account sees of EC2 itself: regions, zones and the account's attributes."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from harness.core.ec2 import plane as ec2
from harness.core.ec2.actions.requests import Answer, Caller, Request, filters
from harness.core.ec2.plane import EC2_CLASSIC, Cloud
from harness.errors import Ec2Error


def _field(item: dict[str, Any], name: str) -> list[str]:
    return [str(item[name])]


def _known(fields: dict[str, str]) -> dict[str, Callable[[dict[str, Any]], list[str]]]:
    return {key: partial(_field, name=name) for key, name in fields.items()}


def describe_regions(cloud: Cloud, caller: Caller, request: Request) -> tuple[Cloud, Answer]:
    """Every region the door knows (each a separate world in the lab; the lab's instances run
    in its own)."""
    names = sorted(
        {*caller.regions, cloud.region, *([caller.home_region] if caller.home_region else [])}
    )
    wanted = request.get("RegionNames") or []
    for name in wanted:
        if name not in names:
            raise Ec2Error("InvalidParameterValue", f"Invalid region: {name}")
    regions = [
        {
            "RegionName": n,
            "Endpoint": f"ec2.{n}.amazonaws.com",
            "OptInStatus": "opt-in-not-required",
        }
        for n in (wanted or names)
    ]
    known = _known(
        {"region-name": "RegionName", "endpoint": "Endpoint", "opt-in-status": "OptInStatus"}
    )
    found = ec2.select(cloud, regions, filters(request), known, lambda r: str(r["RegionName"]))
    return cloud, {"Regions": found}


def describe_availability_zones(
    cloud: Cloud, caller: Caller, request: Request
) -> tuple[Cloud, Answer]:
    """The lab's one zone in the request's region."""
    zone = {
        "ZoneName": ec2.zone_of(cloud.region),
        "ZoneId": ec2.zone_id_of(cloud.region),
        "RegionName": cloud.region,
        "State": "available",
        "OptInStatus": "opt-in-not-required",
        "Messages": [],
        "GroupName": cloud.region,
        "NetworkBorderGroup": cloud.region,
        "ZoneType": "availability-zone",
    }
    for name in request.get("ZoneNames") or []:
        if name != zone["ZoneName"]:
            raise Ec2Error(
                "InvalidParameterValue",
                f"The zone '{name}' does not exist in {cloud.region}: the lab has one zone "
                f"here, {zone['ZoneName']}",
            )
    for ident in request.get("ZoneIds") or []:
        if ident != zone["ZoneId"]:
            raise Ec2Error("InvalidParameterValue", f"The zone ID '{ident}' does not exist")
    known = _known(
        {
            "zone-name": "ZoneName",
            "zone-id": "ZoneId",
            "region-name": "RegionName",
            "state": "State",
            "zone-type": "ZoneType",
            "group-name": "GroupName",
        }
    )
    found = ec2.select(cloud, [zone], filters(request), known, lambda z: str(z["ZoneName"]))
    return cloud, {"AvailabilityZones": found}


def describe_account_attributes(
    cloud: Cloud, caller: Caller, request: Request
) -> tuple[Cloud, Answer]:
    cloud = ec2.with_account(cloud, caller.account)
    classic = cloud.platform == EC2_CLASSIC
    default = ec2.default_vpc_of(cloud, caller.account)
    values = {
        "supported-platforms": ["EC2", "VPC"] if classic else ["VPC"],
        "default-vpc": ["none" if default is None else default.vpc_id],
        "max-instances": [str(ec2.MAX_INSTANCES)],
        "vpc-max-security-groups-per-interface": ["5"],
        "max-elastic-ips": ["5"],
        "vpc-max-elastic-ips": ["5"],
    }
    wanted = request.get("AttributeNames") or list(values)
    for name in wanted:
        if name not in values:
            raise Ec2Error(
                "InvalidParameterValue", f"Value ({name}) for parameter attributeName is invalid"
            )
    return cloud, {
        "AccountAttributes": [
            {
                "AttributeName": name,
                "AttributeValues": [{"AttributeValue": v} for v in values[name]],
            }
            for name in wanted
        ]
    }
