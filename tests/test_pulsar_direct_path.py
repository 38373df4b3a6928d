"""The Pulsar producer's fused ideal path (`PartitionProducer.add_direct` and
`PersistentTopic.store_at_once`, speed) must give exactly what the general path gives (`add`,
an `Op`, `_arrive`, `write`, `_persisted`): the same summary, time series, latency CDF, tables
and trace, bit for bit."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

import sim
from sim.brokers.pulsar.client import PartitionProducer
from sim.scenario import Scenario

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
import workloads

ROOT = Path(__file__).resolve().parent.parent


def _digest(frame: pd.DataFrame | None) -> str:
    if frame is None:
        return "-"
    return hashlib.sha256(frame.to_csv(index=False).encode()).hexdigest()


def _outputs(results: Any) -> dict[str, Any]:
    return {
        "summary": results.summary,
        "timeseries": _digest(results.timeseries),
        "latency": _digest(results.latency),
        "trace": _digest(results.trace),
        "events": _digest(results.events),
        "tables": {name: _digest(table) for name, table in sorted(results.tables.items())},
    }


def _count_general(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count the publishes that reach the broker by the general `_arrive` (the fused path
    makes none)."""
    calls = [0]
    general = PartitionProducer._arrive

    def counted(self: PartitionProducer, op: Any, epoch: int) -> None:
        calls[0] += 1
        general(self, op, epoch)

    monkeypatch.setattr(PartitionProducer, "_arrive", counted)
    return calls


@pytest.mark.parametrize(
    "args",
    [
        {"messages": 3000},
        {"messages": 3000, "consumers": 3},
        {"messages": 1500, "sources": 3},
        {"messages": 2000, "bounded": True},
    ],
)
def test_direct_path_gives_what_the_general_path_gives(
    args: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _count_general(monkeypatch)
    direct = _outputs(sim.run(Scenario.from_dict(workloads.mm1("pulsar", **args))))
    assert calls[0] == 0  # every publish took the fused path
    monkeypatch.setattr(PartitionProducer, "direct", False)
    general = _outputs(sim.run(Scenario.from_dict(workloads.mm1("pulsar", **args))))
    assert calls[0] == general["summary"]["produced"]  # no batching: an Op a message
    assert direct == general


@pytest.mark.parametrize(
    "name",
    [
        "pulsar_subscription_types.yaml",
        "pulsar_geo_replication.yaml",
        "pulsar_dlq.yaml",
        "pulsar_key_shared_join.yaml",
        "pulsar_backlog_quota.yaml",
    ],
)
def test_scenarios_give_the_same_both_ways_traced(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whole scenarios (subscription types, geo replication, dead letters, key_shared joins,
    backlog quotas), traced (the copies are then made by `make_copy`), their producers not
    batching so that the fused path is taken: the same with it on and off."""
    data = yaml.safe_load((ROOT / "scenarios" / name).read_text())
    for producer in data["producers"]:
        producer["batchingEnabled"] = False
    data["duration"] = "120s"
    scenario = Scenario.from_dict(data)
    calls = _count_general(monkeypatch)

    def run() -> dict[str, dict[str, Any]]:
        variants = sim.run_variants(scenario, trace=True)
        return {variant: _outputs(results) for variant, results in variants.items()}

    direct = run()
    fused = sum(v["summary"]["produced"] for v in direct.values()) - calls[0]
    assert fused > 0  # some publishes took the fused path
    monkeypatch.setattr(PartitionProducer, "direct", False)
    assert run() == direct


def test_direct_path_is_not_taken_with_a_delay_or_costs(monkeypatch: pytest.MonkeyPatch) -> None:
    """A hop with a delay, or bookies that take time, keep the general path (the fused one
    assumes an instant hop and an add confirmed at once)."""
    calls = _count_general(monkeypatch)
    data = workloads.mm1("pulsar", 500)
    data["network"] = {"producer_to_broker": "1ms"}
    results = sim.run(Scenario.from_dict(data))
    assert calls[0] == results.summary["produced"] > 0
    calls[0] = 0
    data = workloads.mm1("pulsar", 500)
    data["broker"]["bookie_write_latency"] = "2ms"
    results = sim.run(Scenario.from_dict(data))
    assert calls[0] == results.summary["produced"] > 0
