"""Synchronous services publish to and consume from any broker: the coupling and resilience
experiments with Kafka, SQS or Redis Streams in the middle instead of RabbitMQ.

The async variant of each (A publishes to a source that B consumes) is moved onto every
registered broker with `Scenario.on_broker`, keeping the same clients, services and faults.
"""

from __future__ import annotations

import pandas as pd
import pytest

import sim
from tests.helpers import ROOT

SCENARIOS = ROOT / "scenarios"


def section(broker_type: str, source: str) -> dict:
    """One source named `source` that service B consumes, on `broker_type`."""
    return {
        "rabbitmq": {"type": "rabbitmq", "queues": [{"name": source, "durable": True}]},
        "kafka": {"type": "kafka", "topics": [{"name": source, "partitions": 4}]},
        "sqs": {"type": "sqs", "queues": [{"name": source}]},
        "redis": {
            "type": "redis",
            "streams": [{"name": source}],
            "groups": [{"stream": source, "name": "B", "start": "0"}],
        },
        "pulsar": {"type": "pulsar", "topics": [{"name": source, "partitions": 0}]},
    }[broker_type]


def window(results: sim.Results, column: str, start: float, end: float) -> pd.Series:
    frame = results.timeseries
    return frame.loc[(frame["time"] >= start) & (frame["time"] < end), column]


@pytest.mark.parametrize("broker_type", sim.broker_types())
def test_async_coupling_on_any_broker_shields_the_callers(broker_type: str) -> None:
    base = sim.load_scenario(SCENARIOS / "coupling.yaml").variant_scenarios()["async"]
    scenario = base.on_broker(section(broker_type, "jobs"))
    results = sim.run(scenario)
    down = next(f for f in scenario.faults if f.kind == "down")
    # A answers its callers whatever B does: B's queue takes the work.
    assert window(results, "success_rate.A", down.first, down.last).min() == 1.0
    backlog = window(results, "waiting.B", down.first, down.last)
    assert backlog.max() > 0.8 * scenario.clients[0].rate * (down.last - down.first)
    s = results.summary
    assert results.conservation_gap() == 0
    assert s["lost"] == s["rejected"] == s["expired"] == 0
    assert set(s["processed_by"]) <= {"B", "B.0", "B.1", "B.2", "B.3"}  # Redis: one name each
    assert sum(s["processed_by"].values()) == s["processed_total"]
    assert s["backlog_at_end"] < 0.02 * s["produced"], broker_type


@pytest.mark.parametrize("broker_type", sim.broker_types())
def test_a_crashed_consumer_service_loses_nothing_with_manual_acks(broker_type: str) -> None:
    base = sim.load_scenario(SCENARIOS / "resilience.yaml").variant_scenarios()["async"]
    source = base.services[1].consumes
    scenario = base.on_broker(section(broker_type, source))
    results = sim.run(scenario)
    s = results.summary
    assert results.conservation_gap() == 0
    assert s["lost"] == s["rejected"] == s["expired"] == 0
    assert s["processed"] == s["produced"] - s["backlog_at_end"]
    assert s["backlog_at_end"] < 0.02 * s["produced"], broker_type


def test_a_redis_service_needs_its_consumer_group() -> None:
    base = sim.load_scenario(SCENARIOS / "coupling.yaml").variant_scenarios()["async"]
    broker = {"type": "redis", "streams": [{"name": "jobs"}]}
    with pytest.raises(sim.ScenarioError, match=r"services\[1\]\.consumes: stream 'jobs' has"):
        base.on_broker(broker)
