"""Docker Compose files as topologies.

A Compose project describes the lab in Compose's own terms, and ``docker-compose config``
accepts it:

- each service is an instance (``web`` with ``deploy.replicas: 7``, or ``scale: 7``, is
  ``web-1`` ... ``web-7``), member of the groups in its label ``sg-harness.groups`` (comma
  separated; none means ``default``), listening on the ports of its ``expose:`` list (``"80"``
  or ``"80/tcp"`` is tcp, ``"53/udp"`` udp, ``"8000-8010"`` a range);
- a service with the label ``sg-harness.address`` is an outside host at that address;
- the extension field ``x-security-groups`` holds the groups and rules, with the shape of a
  topology's ``groups:``; ``x-sg-harness`` may give the lab's ``name``, ``account``,
  ``subnet`` and ``probes`` (the name defaults to the file's directory).

A service's ``image`` is the instance's image unless it is the harness's own ``sgh-instance``;
its ``command`` is passed on with it. Everything else in the file is Compose's business.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, NoReturn

from harness.formats.yaml_lines import LineDict, LineList

GROUPS_LABEL = "sg-harness.groups"
ADDRESS_LABEL = "sg-harness.address"
DEFAULT_IMAGE = "sgh-instance"


def is_compose(data: object) -> bool:
    return isinstance(data, dict) and "services" in data and "instances" not in data


def _with_line(value: LineDict, line: int | None) -> LineDict:
    value.line = line
    return value


def translate(
    data: LineDict, default_name: str, fail: Callable[[str, int | None], NoReturn]
) -> LineDict:
    """The topology mapping a Compose document describes."""
    settings = data.get("x-sg-harness") or LineDict()
    if not isinstance(settings, dict):
        fail("x-sg-harness must be a mapping", data.line)
    topology = _with_line(LineDict(), data.line)
    topology["name"] = settings.get("name", default_name)
    for key in ("account", "subnet", "probes", "description"):
        if key in settings:
            topology[key] = settings[key]
    groups = data.get("x-security-groups")
    if groups is not None:
        topology["groups"] = groups
    services = data.get("services")
    if not isinstance(services, dict):
        fail("services must be a mapping", data.line)
    instances = LineList()
    hosts = LineList()
    for name, service in services.items():
        line = getattr(service, "line", data.line)
        if not isinstance(service, dict):
            fail(f"service '{name}' must be a mapping", line)
        labels = _labels(service.get("labels"), name, line, fail)
        if ADDRESS_LABEL in labels:
            hosts.append(_with_line(LineDict(name=name, address=labels[ADDRESS_LABEL]), line))
            continue
        spec = _with_line(LineDict(name=name), line)
        count = _count(service, name, line, fail)
        if count != 1:
            spec["count"] = count
        groups_text = labels.get(GROUPS_LABEL, "")
        names = [part.strip() for part in str(groups_text).split(",") if part.strip()]
        if names:
            spec["groups"] = names
        listen = [
            item
            for entry in service.get("expose") or []
            for item in _expose(entry, name, line, fail)
        ]
        if listen:
            spec["listen"] = listen
        image = service.get("image")
        if image is not None and str(image).split(":")[0] != DEFAULT_IMAGE:
            spec["image"] = str(image)
            command = service.get("command")
            if isinstance(command, str):
                spec["command"] = command.split()
            elif isinstance(command, list):
                spec["command"] = command
        instances.append(spec)
    topology["instances"] = instances
    if hosts:
        topology["hosts"] = hosts
    return topology


def _labels(
    value: object, service: str, line: int | None, fail: Callable[[str, int | None], NoReturn]
) -> dict[str, str]:
    if value is None:
        return {}
    if isinstance(value, dict):
        return {str(k): str(v) for k, v in value.items()}
    if isinstance(value, list):
        result = {}
        for item in value:
            key, _, text = str(item).partition("=")
            result[key] = text
        return result
    fail(f"service '{service}': labels must be a mapping or a list of KEY=VALUE", line)


def _count(
    service: dict[str, Any],
    name: str,
    line: int | None,
    fail: Callable[[str, int | None], NoReturn],
) -> int:
    deploy = service.get("deploy") or {}
    value = deploy.get("replicas", service.get("scale", 1)) if isinstance(deploy, dict) else 1
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        fail(
            f"service '{name}': replicas must be a whole number of at least 1, not {value!r}", line
        )
    return value


def _expose(
    entry: object, service: str, line: int | None, fail: Callable[[str, int | None], NoReturn]
) -> list[str]:
    text = str(entry).strip().lower()
    match = re.fullmatch(r"(\d+)(?:-(\d+))?(?:/(tcp|udp))?", text)
    if match is None:
        fail(
            f"service '{service}': expose entry '{entry}' must look like 80, 53/udp or 8000-8010",
            line,
        )
    low = int(match.group(1))
    high = int(match.group(2) or low)
    protocol = match.group(3) or "tcp"
    if high < low or high - low > 1024:
        fail(
            f"service '{service}': expose range '{entry}' is reversed or wider than 1024 ports",
            line,
        )
    return [f"{protocol}/{port}" for port in range(low, high + 1)]
