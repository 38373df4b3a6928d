"""Test helpers: where the golden data lives, a small scenario builder, and the outputs of a
run as hashes, which the tests of the fast paths compare with the general paths'."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import pandas as pd
import pytest

import sim
from sim.results import Results
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


def digest(frame: pd.DataFrame | None) -> str:
    """A table's hash, its index included ("-" for no table, e.g. an untraced run's trace)."""
    if frame is None:
        return "-"
    return hashlib.sha256(frame.to_csv(index=True).encode()).hexdigest()


def run_outputs(results: Results) -> dict[str, Any]:
    """Every output of a run, the summary as JSON and the tables as hashes: two runs that must
    be bit-identical (a fast path against the general path it shortcuts) compare equal here
    only when they are. `json.loads(outputs["summary"])` reads the summary back."""
    return {
        # As JSON: NaN (no latency) equals NaN there.
        "summary": json.dumps(results.summary, sort_keys=True, default=repr),
        "timeseries": digest(results.timeseries),
        "latency": digest(results.latency),
        "events": digest(results.events),
        "trace": digest(results.trace),
        "series": json.dumps(results.series, sort_keys=True),
        "tables": {name: digest(table) for name, table in sorted(results.tables.items())},
        "latencies": {name: digest(table) for name, table in sorted(results.latencies.items())},
    }


def variant_outputs(path: str) -> dict[str, dict[str, Any]]:
    """`run_outputs` of every variant of `scenarios/PATH`, by variant name: the runs a fast
    path's test makes once with it and once with its switch off, then compares."""
    return {
        name: run_outputs(results)
        for name, results in sim.run_variants(ROOT / "scenarios" / path).items()
    }


def outputs_of(data: dict[str, Any]) -> dict[str, Any]:
    """`run_outputs` of a run of the scenario `data` (a dict, as benchmarks/workloads.py
    builds them), untraced, with its own seed."""
    import sim

    return run_outputs(sim.run(Scenario.from_dict(data)))


def kafka_acks_1(data: dict[str, Any]) -> dict[str, Any]:
    """A Kafka workload (benchmarks/workloads.py) whose producer sends with acks=1."""
    data["producers"][0]["acks"] = 1
    return data


def kafka_second_group(data: dict[str, Any]) -> dict[str, Any]:
    """A Kafka workload with a second consumer group on the same topic, so that every record
    gets two copies (`_copy_records`) and leaves the one-group paths."""
    second = dict(data["consumers"][0], name="audit", **{"group.id": "audit"})
    data["consumers"].append(second)
    return data
