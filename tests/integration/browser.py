"""What the browser tests share: a page watched for requests and script errors."""

from __future__ import annotations

from dataclasses import dataclass, field

from playwright.sync_api import Page


@dataclass
class Watched:
    """A page, with every request it made and every script error it met."""

    page: Page
    requests: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
