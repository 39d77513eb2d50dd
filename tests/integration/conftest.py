"""Integration tests need a real Docker engine and root: their absence is a failure, not a skip.

(``make test`` runs ``make setup`` first, which installs and starts what they need.)
"""

from __future__ import annotations

import pytest

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
