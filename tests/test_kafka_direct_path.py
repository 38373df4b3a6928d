"""The Kafka producer's direct path on an ideal hop (`KafkaProducer._send_alone`, speed) and
the lag gauges read as one block per group must give exactly what the general path gives:
the same summary, time series, latency CDF and tables, bit for bit."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

import sim
from sim.brokers.kafka import producer as producer_module
from sim.brokers.kafka.producer import KafkaProducer
from sim.scenario import Scenario
from tests.helpers import outputs_of

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
import workloads


def _count_requests(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count the calls to the general `_send_request` (the direct path makes none)."""
    calls = [0]
    general = KafkaProducer._send_request

    def counted(self: KafkaProducer, node: int, batches: list[Any]) -> None:
        calls[0] += 1
        general(self, node, batches)

    monkeypatch.setattr(KafkaProducer, "_send_request", counted)
    return calls


@pytest.mark.parametrize(
    "args",
    [
        {"broker": "kafka", "messages": 3000},
        {"broker": "kafka", "messages": 3000, "partitions": 20},
        {"broker": "kafka", "messages": 3000, "consumers": 3},
        {"broker": "kafka", "messages": 1500, "sources": 3},
    ],
)
def test_direct_path_gives_what_the_general_path_gives(
    args: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _count_requests(monkeypatch)
    direct = outputs_of(workloads.mm1(**args))
    assert calls[0] == 0  # every batch took the direct path
    monkeypatch.setattr(producer_module.KafkaProducer, "direct", False)
    general = outputs_of(workloads.mm1(**args))
    assert calls[0] == json.loads(general["summary"])["produced"]  # linger.ms 0: a request a record
    assert direct == general


def test_direct_path_is_not_taken_with_a_delay_or_costs(monkeypatch: pytest.MonkeyPatch) -> None:
    """A hop with a delay, or a cost model, keeps the general path (the direct one assumes
    an instant hop and a broker that takes no time)."""
    calls = _count_requests(monkeypatch)
    data = workloads.mm1("kafka", 500)
    data["network"] = {"producer_to_broker": "1ms"}
    results = sim.run(Scenario.from_dict(data))
    assert calls[0] == results.summary["produced"]


def test_lag_columns_are_one_per_partition_in_order() -> None:
    """The lag block keeps the per-partition columns, in partition order, each the committed
    offset's distance from the high watermark (never negative)."""
    data = workloads.mm1("kafka", 2000, partitions=5)
    results = sim.run(Scenario.from_dict(data))
    series = results.timeseries
    names = [c for c in series.columns if c.startswith("kafka.lag.")]
    assert names == [f"kafka.lag.c0.jobs-{p}" for p in range(5)]
    lags = series[names]
    assert (lags >= 0).all().all()
    assert lags.to_numpy().sum() > 0  # records wait at rho 0.9: the lag is not always 0
