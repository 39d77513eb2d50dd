"""Integration tests need a real Docker engine and root: their absence is a failure, not a skip.

(``make test`` runs ``make setup`` first, which installs and starts what they need.)

Every test that builds a lab runs on **both runtimes** (``[docker]`` and ``[netns]``), so the
two cannot drift: the ``runtime`` fixture is parametrised, and ``$SGH_RUNTIME`` is set for the
test, so the ``sgh`` and ``ec2-*`` commands it runs and the pytest plugin use the same one.
Only tests about Docker itself (images, containers killed by hand, Compose) are marked
``docker_only`` and run on Docker alone; ``netns_only`` marks those about the netns runtime's
own records.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from browser import Watched
from playwright.sync_api import Browser

from harness.adapters import runtimes
from harness.core.phases import QUIET
from harness.core.runtime import LabRef, Runtime
from harness.errors import PrerequisiteError
from harness.faces.pytest_plugin import ACTIVE_LABS
from harness.lab.lifecycle import teardown


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "runtime" in metafunc.fixturenames:
        names = list(runtimes.NAMES)
        for name in runtimes.NAMES:
            if metafunc.definition.get_closest_marker(f"{name}_only") is not None:
                names = [name]
        metafunc.parametrize("runtime", names, indirect=True, scope="session")


@pytest.fixture(scope="session")
def runtime(request: pytest.FixtureRequest) -> Runtime:
    runtime = runtimes.make(str(request.param))
    try:
        runtime.check()
    except PrerequisiteError as err:
        pytest.fail(f"integration tests need the {runtime.name} runtime (root, tools): {err}")
    return runtime


@pytest.fixture(autouse=True)
def no_leftovers(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test starts with no sg-harness lab on either runtime, so a leftover is the fault
    of the test; the labs the sg-harness pytest plugin shares across this session are left
    alone. The test's commands run on its runtime."""
    monkeypatch.setenv("SGH_RUNTIME", runtime.name)
    for each in runtimes.every():
        for info in each.labs():
            if info.name not in ACTIVE_LABS:
                teardown(each, LabRef(info.name, info.kind), QUIET)


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
