"""The Query API's door into the action layer: a form in, EC2's XML out.

The form is read through botocore's model into the request as an SDK gives it
(:mod:`.wire`), the action layer (:mod:`harness.core.ec2.actions`) does the work on the lab, and
its answer is written back through the model. DryRun, the request's region and the lab's lock
are this door's; what an action means is the action layer's.
"""

from __future__ import annotations

import threading
from functools import cache
from xml.etree.ElementTree import Element

import botocore.session

from harness.core.ec2.actions import ACTIONS, find
from harness.errors import Ec2Error
from harness.faces.query_api import wire
from harness.lab.persistent import PersistentLab

__all__ = ["ACTIONS", "Api", "caller_identity"]


@cache
def regions() -> tuple[str, ...]:
    """Every region botocore knows for EC2."""
    return tuple(botocore.session.get_session().get_available_regions("ec2"))


class Api:
    """The actions, over one persistent lab. Calls are serialised (one lab lock anyway)."""

    def __init__(self, lab: PersistentLab) -> None:
        self.lab = lab
        self.guard = threading.Lock()

    def call(
        self, account: str, action: str, params: dict[str, str], region: str | None = None
    ) -> list[Element]:
        """One action, in the region the request was signed for (regions are separate: each
        has its own groups, VPCs and prefix lists; instances run in the lab's own only)."""
        find(action)
        request = wire.parse(action, params)
        where = None if self.lab.is_home(region) else region
        with self.guard:
            if request.get("DryRun"):
                self.lab.dry_run(action, account, request, where)
                raise Ec2Error(
                    "DryRunOperation", "Request would have succeeded, but DryRun flag is set."
                )
            answer = self.lab.call(action, account, request, region=where, regions=regions())
        return wire.output(action, answer)


def caller_identity(account: str, request_id: str) -> str:
    """sts:GetCallerIdentity's answer (STS's own namespace and result wrapper)."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
        "<GetCallerIdentityResult>"
        f"<Arn>arn:aws:iam::{account}:root</Arn><UserId>{account}</UserId>"
        f"<Account>{account}</Account>"
        "</GetCallerIdentityResult>"
        f"<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata>"
        "</GetCallerIdentityResponse>"
    )
