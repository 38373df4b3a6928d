"""Fixtures shared by the tests."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from tests.helpers import CONFORMANCE
from tests.scenario_runs import RUNS_FOLDER


@pytest.fixture
def conformance() -> Path:
    if not CONFORMANCE.is_dir():
        pytest.fail(f"golden data missing: expected {CONFORMANCE} (shared/ beside the repo)")
    return CONFORMANCE


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The notebooks (`make test` runs them with nbmake) first: each takes tens of seconds, and
    under `-n 2 --dist worksteal` the last tests of a worker's queue are the ones no other
    worker can take over, so long ones there would leave a core idle at the end of the run.
    Everything else keeps its order (a module's tests stay together, so tests that share a
    module's cached runs mostly run in one worker)."""
    items.sort(key=lambda item: item.path.suffix != ".ipynb")


_OWN_FOLDER = pytest.StashKey[str]()  # the folder this process made, removed at the end


def pytest_configure(config: pytest.Config) -> None:
    """Under xdist, a folder where the workers leave the scenario runs they share
    (tests/scenario_runs.py); made by the controller before it starts the workers, which
    inherit its environment."""
    if hasattr(config, "workerinput") or RUNS_FOLDER in os.environ:
        return
    if config.getoption("numprocesses", None):
        folder = tempfile.mkdtemp(prefix="mqsim-test-runs-")
        os.environ[RUNS_FOLDER] = folder
        config.stash[_OWN_FOLDER] = folder


def pytest_unconfigure(config: pytest.Config) -> None:
    folder = config.stash.get(_OWN_FOLDER, None)
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)
        os.environ.pop(RUNS_FOLDER, None)
