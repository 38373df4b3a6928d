"""Same scenario and seed: identical results. Named streams: common random numbers."""

from __future__ import annotations

import pandas as pd

import sim
from tests.helpers import scenario_from


def test_same_seed_same_results_bit_for_bit() -> None:
    scenario = scenario_from(duration=2000.0)
    a, b = sim.run(scenario, trace=True), sim.run(scenario, trace=True)
    assert a.summary == b.summary
    pd.testing.assert_frame_equal(a.timeseries, b.timeseries)
    pd.testing.assert_frame_equal(a.trace, b.trace)


def test_another_seed_gives_another_run() -> None:
    scenario = scenario_from(duration=2000.0)
    assert sim.run(scenario, seed=1).summary != sim.run(scenario, seed=2).summary


def produced_times(results: sim.Results) -> pd.Series:
    trace = results.trace
    return trace[trace.event == "produced"].set_index("message_id")["time"]


def test_adding_a_consumer_leaves_arrivals_unchanged() -> None:
    """Each random source has its own stream, so a variant changes only what it changes."""
    one = scenario_from(duration=500.0)
    two = one.override({"consumers.0.replicas": 2})
    extra = one.override({"consumers": [*one.raw["consumers"], {"name": "auditor", "from": "q"}]})
    base = produced_times(sim.run(one, trace=True))
    pd.testing.assert_series_equal(base, produced_times(sim.run(two, trace=True)))
    pd.testing.assert_series_equal(base, produced_times(sim.run(extra, trace=True)))


def test_replica_zero_keeps_its_service_times_when_replicas_are_added() -> None:
    one = sim.run(scenario_from(duration=300.0), trace=True)
    two = sim.run(scenario_from(duration=300.0).override({"consumers.0.replicas": 2}), trace=True)

    def first_service(results: sim.Results, component: str) -> float:
        t = results.trace
        mine = t[t.component == component]
        delivered = mine[mine.event == "processed"]
        first_id = delivered.message_id.iloc[0]
        start = t[(t.message_id == first_id) & (t.event == "delivered")].time.iloc[0]
        return delivered.time.iloc[0] - start

    assert first_service(one, "c") == first_service(two, "c.0")
