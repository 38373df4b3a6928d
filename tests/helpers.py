"""Test helpers: where the golden data lives, and a small scenario builder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sim.scenario import Scenario

ROOT = Path(__file__).resolve().parents[1]
CONFORMANCE = ROOT.parent / "shared" / "conformance"


def scenario_from(**overrides: Any) -> Scenario:
    """A one-queue, one-producer, one-consumer scenario with fields replaced by `overrides`."""
    data: dict[str, Any] = {
        "name": "test",
        "seed": 1,
        "duration": 100.0,
        "broker": {"type": "rabbitmq", "queues": [{"name": "q"}]},
        "producers": [{"name": "p", "to": "q", "rate": 1.0}],
        "consumers": [{"name": "c", "from": "q", "service_time": "exp(0.5s)"}],
    }
    data.update(overrides)
    return Scenario.from_dict(data)
