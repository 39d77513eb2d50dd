"""Integration tests need a real Docker engine and root: their absence is a failure, not a skip.

(``make test`` runs ``make setup`` first, which installs and starts what they need.)
"""

from __future__ import annotations

import pytest

from harness.errors import PrerequisiteError
from harness.pytest_plugin import ACTIVE_LABS
from harness.runtime.docker import DockerRuntime


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
    for container in runtime.leftovers():
        lab = container.labels.get("sg-harness.lab", "")
        if lab not in ACTIVE_LABS:
            runtime.clean(lab)
