"""`faults:` reach Kafka consumers too: the same four kinds as for services and RabbitMQ."""

from __future__ import annotations

from typing import Any

import pytest

import sim
from sim.scenario import load_scenario
from tests.helpers import ROOT
from tests.scenario_runs import scenario_runs

SCENARIO = load_scenario(ROOT / "scenarios" / "kafka_consumer_groups.yaml")


def run_with(*faults: dict[str, Any]) -> sim.Results:
    results = sim.run(SCENARIO.override({"faults": list(faults), "duration": "120s"}))
    assert results.conservation_gap() == 0
    return results


def group_lag(results: sim.Results, at: float) -> float:
    frame = results.timeseries
    row = frame.iloc[(frame["time"] - at).abs().argmin()]
    return sum(row[c] for c in frame.columns if c.startswith("kafka.lag.billing."))


@pytest.fixture(scope="module")
def base() -> sim.Results:
    return run_with()


def test_a_down_consumer_stops_polling_and_catches_up_after(base: sim.Results) -> None:
    down = run_with({"target": "billing", "kind": "down", "start": 30, "end": 60})
    assert group_lag(down, 59) > 10 * max(group_lag(base, 59), 1)
    assert group_lag(down, 110) < group_lag(down, 59) / 10  # caught up
    assert down.summary["duplicates"] == 0


def test_a_crash_without_commit_redelivers_after_the_restart(base: sim.Results) -> None:
    # audit is behind, so it holds a big batch when it dies: committed only after processing,
    # the batch's processed part is read again by the member that takes its partitions over.
    crashed = run_with({"target": "audit", "kind": "crash", "start": 30, "end": 40})
    assert crashed.summary["duplicates"] > 0 and crashed.summary["lost"] == 0
    assert base.summary["duplicates"] == 0
    assert crashed.summary["kafka.consumer_crashes"] == 1
    assert crashed.summary["kafka.rebalances"] > base.summary["kafka.rebalances"]
    events = crashed.events
    assert list(events[events.component == "audit"].event) == ["crash start", "crash end"]


def test_slow_and_error_faults_cost_time_not_messages(base: sim.Results) -> None:
    slow = run_with({"target": "billing", "kind": "slow", "factor": 4, "start": 30, "end": 60})
    assert group_lag(slow, 59) > group_lag(base, 59)
    failing = run_with({"target": "billing", "kind": "error", "probability": 0.3})
    assert failing.summary["consumer_failures"] > 0
    assert failing.summary["lost"] == 0 and failing.summary["duplicates"] == 0


def test_a_broker_crash_fault_is_the_same_as_a_broker_failure() -> None:
    """`faults: [{target: broker.0, kind: crash}]` and `broker.failures` describe one event."""
    scenario = load_scenario(ROOT / "scenarios" / "kafka_broker_failure.yaml")
    variants = scenario.variant_scenarios() or {"": scenario}
    for name, variant in variants.items():
        as_failure = scenario_runs("kafka_broker_failure")[name]  # sim.run(variant), once
        raw = variant.raw
        raw["broker"]["failures"] = []
        raw["faults"] = [{"target": "broker.0", "kind": "crash", "start": "30s", "end": "90s"}]
        as_fault = sim.run(variant.from_dict(raw))
        assert as_fault.summary == as_failure.summary
        assert as_fault.summary["kafka.broker_crashes"] == 1
    with pytest.raises(sim.ScenarioError, match=r"faults\[0\].target: unknown target 'broker.7'"):
        scenario.override({"faults": [{"target": "broker.7", "kind": "crash", "start": 1}]})
