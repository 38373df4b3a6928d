"""Test helpers: where the golden data lives, and a small scenario builder."""

from __future__ import annotations

import importlib.util
import json
import os
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from sim.scenario import Scenario

ROOT = Path(__file__).resolve().parents[1]
CONFORMANCE = ROOT.parent / "shared" / "conformance"


def cli_env(**extra: str) -> dict[str, str]:
    """The environment for a `python -m sim.cli` subprocess: this checkout's `sim` first (the
    installed package may be another checkout), plus `extra` (e.g. COLUMNS)."""
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, "PYTHONPATH": path, **extra}


def scenario_from(**overrides: Any) -> Scenario:
    """A one-queue, one-producer, one-consumer scenario with fields replaced by `overrides`."""
    data: dict[str, Any] = {
        "name": "test",
        "seed": 1,
        "duration": 100.0,
        "broker": {"type": "rabbitmq", "queues": [{"name": "q", "durable": True}]},
        "producers": [{"name": "p", "to": "q", "rate": 1.0}],
        "consumers": [{"name": "c", "from": "q", "service_time": "exp(0.5s)"}],
    }
    data.update(overrides)
    return Scenario.from_dict(data)


@cache
def golden(relative: str) -> Any:
    """The golden data file `shared/conformance/<relative>`, or None when it is missing."""
    path = CONFORMANCE / relative
    if not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def require_golden(relative: str) -> Any:
    """The golden data, or a failing test (never a skip) naming where it was expected."""
    data = golden(relative)
    if data is None:
        pytest.fail(
            f"golden data not found at {CONFORMANCE / relative}: "
            "put a copy of shared/ beside the repository"
        )
    return data


@cache
def tool(name: str) -> ModuleType:
    """The script tools/<name>.py as a module (tools/ is not a package: its scripts run alone)."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
