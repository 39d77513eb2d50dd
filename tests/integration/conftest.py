"""Integration tests need a real Docker engine and root: their absence is a failure, not a skip.

(``make test`` runs ``make setup`` first, which installs and starts what they need.)
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from browser import Watched
from playwright.sync_api import Browser

from harness.adapters.docker_runtime import DockerRuntime
from harness.core.phases import QUIET
from harness.core.runtime import LabRef
from harness.errors import PrerequisiteError
from harness.faces.pytest_plugin import ACTIVE_LABS
from harness.lab.lifecycle import teardown


@pytest.fixture(scope="session")
def runtime() -> DockerRuntime:
    runtime = DockerRuntime()
    try:
        runtime.check()
    except PrerequisiteError as err:
        pytest.fail(f"integration tests need a Docker engine, root and the images: {err}")
    return runtime


@pytest.fixture(autouse=True)
def no_leftovers(runtime: DockerRuntime) -> None:
    """Every test starts with no sg-harness lab, so a leftover is the fault of the test; the
    labs the sg-harness pytest plugin shares across this session are left alone."""
    for info in runtime.labs():
        if info.name not in ACTIVE_LABS:
            teardown(runtime, LabRef(info.name, info.kind), QUIET)


CHROMIUM = "/usr/bin/chromium"  # Debian's package, installed by make setup: no browser download


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Headless Chromium from Debian, driven by Playwright; missing, it is a failure."""
    from playwright.sync_api import Error, sync_playwright

    with sync_playwright() as playwright:
        try:
            launched = playwright.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=["--no-sandbox"]
            )
        except Error as err:
            pytest.fail(f"browser tests need Debian's chromium at {CHROMIUM}: {err}")
        yield launched
        launched.close()


@pytest.fixture
def watched(browser: Browser) -> Iterator[Watched]:
    """A fresh page in its own context, watched."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    result = Watched(context.new_page())
    result.page.on("request", lambda request: result.requests.append(request.url))
    result.page.on("pageerror", lambda error: result.errors.append(str(error)))
    yield result
    context.close()
