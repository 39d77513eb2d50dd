"""The one shape of a Describe action: the resources named by id (each must exist) or every
one the account owns, narrowed by filters (the resource's fields and tags), in pages."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from harness.core.ec2 import plane as ec2
from harness.core.ec2.actions.requests import Answer, Caller, Request, filters, page
from harness.core.ec2.plane import Cloud

R = TypeVar("R")


def describe(
    cloud: Cloud,
    caller: Caller,
    request: Request,
    *,
    key: str,
    id_member: str,
    find: Callable[[Cloud, str, str], R],
    owned: Callable[[Cloud, str], Sequence[R]],
    fields: Callable[[Cloud], dict[str, Callable[[R], list[str]]]],
    ident: Callable[[R], str],
    answer: Callable[[Cloud, R], Answer],
    least: int = 5,
) -> tuple[Cloud, Answer]:
    account = caller.account
    cloud = ec2.with_account(cloud, account)
    ids = request.get(id_member) or []
    items = [find(cloud, account, i) for i in ids] or list(owned(cloud, account))
    found = ec2.select(cloud, items, filters(request), fields(cloud), ident)
    chosen, token = page([answer(cloud, item) for item in found], request, least=least)
    return cloud, {key: chosen, "NextToken": token}
