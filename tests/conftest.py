"""Fixtures shared by the tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import CONFORMANCE


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
