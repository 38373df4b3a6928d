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
