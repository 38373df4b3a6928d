"""The four "why message queues" experiments, each asserting its qualitative result from a run
of its scenario file (the same runs `make demo` charts and the notebook explains)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import sim
from sim.kernel import run_variants
from sim.viz import processing_rate, write_variant_charts
from tests.helpers import ROOT, scenario_from
from tests.scenario_runs import scenario_runs

SCENARIOS = ROOT / "scenarios"


def runs(name: str) -> dict[str, sim.Results]:
    return scenario_runs(name)  # the runs test_charts.py draws, simulated once


def window(results: sim.Results, column: str, start: float, end: float) -> pd.Series:
    frame = results.timeseries
    inside = (frame["time"] > start) & (frame["time"] <= end)
    return frame.loc[inside, column]


def faults_of(name: str) -> dict[str, tuple[float, float]]:
    scenario = sim.load_scenario(SCENARIOS / f"{name}.yaml")
    return {f.kind: (f.first, f.last) for f in scenario.faults}


@pytest.mark.parametrize("name", ["coupling", "resilience", "scalability", "load_leveling"])
def test_every_variant_conserves_requests(name: str) -> None:
    for variant, results in runs(name).items():
        assert results.conservation_gap() == 0, variant


def test_coupling_sync_fails_while_b_is_down_and_async_does_not_notice() -> None:
    down, slow = faults_of("coupling")["down"], faults_of("coupling")["slow"]
    sync, asynchronous = runs("coupling")["sync"], runs("coupling")["async"]
    before = (5.0, down[0])
    during = (down[0] + 3, down[1])  # a few seconds for the first timeouts to come back
    # Sync: A's clients succeed before, almost never while B is down; A's workers all wait on B.
    assert window(sync, "success_rate.A", *before).mean() > 0.95
    assert window(sync, "success_rate.A", *during).mean() < 0.05
    workers = sim.load_scenario(SCENARIOS / "coupling.yaml").services[0].workers
    assert window(sync, "busy.A", *during).min() == workers
    # Async: A's p99 while B is down or slow stays within twice its worst before the fault.
    calm = window(asynchronous, "latency_p99.A", *before).max()
    assert window(asynchronous, "latency_p99.A", down[0], slow[1]).max() < 2 * calm
    assert window(asynchronous, "success_rate.A", down[0], slow[1]).min() == 1.0
    # B's backlog grows through the fault and drains once B is back; nothing is lost.
    backlog = window(asynchronous, "waiting.B", down[0], slow[1])
    rate = sim.load_scenario(SCENARIOS / "coupling.yaml").clients[0].rate
    assert backlog.max() > 0.8 * rate * (down[1] - down[0])
    summary = asynchronous.summary
    assert summary["lost"] == summary["rejected"] == summary["expired"] == 0
    assert summary["backlog_at_end"] < 0.01 * summary["produced"]


def test_resilience_queue_keeps_messages_the_sync_chain_fails() -> None:
    start, end = faults_of("resilience")["crash"]
    sync, asynchronous = runs("resilience")["sync"], runs("resilience")["async"]
    rate = sim.load_scenario(SCENARIOS / "resilience.yaml").clients[0].rate
    expected = rate * (end - start)  # requests sent during the crash: Poisson, sd = sqrt(mean)
    failed = sync.summary["lost"] + sync.summary["rejected"] + sync.summary["expired"]
    assert abs(failed - expected) < 4 * expected**0.5
    summary = asynchronous.summary
    assert summary["lost"] == summary["rejected"] == summary["expired"] == 0
    assert summary["processed"] == summary["produced"] - summary["backlog_at_end"]
    assert summary["backlog_at_end"] < 0.01 * summary["produced"]
    # The messages waited: the queue held about a crash's worth of them at its peak.
    assert window(asynchronous, "waiting.B", start, end).max() > 0.8 * expected


def test_scalability_throughput_stops_rising_past_the_knee() -> None:
    scenario = sim.load_scenario(SCENARIOS / "scalability.yaml")
    offered = scenario.producers[0].rate
    per_consumer = 1 / scenario.consumers[0].service_time.mean
    measured = {int(name): processing_rate(r) for name, r in runs("scalability").items()}
    for consumers, rate in measured.items():
        # Theory: n consumers process min(n mu, lambda) a second.
        assert rate == pytest.approx(min(consumers * per_consumer, offered), rel=0.06), consumers
    knee = offered / per_consumer
    below = sorted(n for n in measured if n < knee)
    above = sorted(n for n in measured if n > knee)
    assert below and len(above) >= 2
    assert measured[below[-1]] > 1.5 * measured[below[0]]  # more consumers helped...
    assert measured[above[-1]] == pytest.approx(measured[above[0]], rel=0.02)  # ...then did not


def test_load_leveling_queue_drains_as_the_formula_says() -> None:
    scenario = sim.load_scenario(SCENARIOS / "load_leveling.yaml")
    client, consumer = scenario.clients[0], scenario.services[1]
    spike = client.spikes[0]
    spike_end = spike.at + spike.duration
    capacity = consumer.workers / consumer.service_time.mean
    asynchronous, sync = runs("load_leveling")["async"], runs("load_leveling")["sync"]
    frame = asynchronous.timeseries
    excess = frame.loc[frame["time"] >= spike_end, "waiting.B"].iloc[0]
    empty = frame[(frame["time"] > spike_end) & (frame["waiting.B"] == 0)]
    drain = empty["time"].iloc[0] - spike_end
    assert drain == pytest.approx(excess / (capacity - client.rate), rel=0.10)
    # Consumers worked flat out, not harder, the whole drain long.
    busy = window(asynchronous, "busy.B", spike.at + 1, spike_end + drain - 1)
    assert busy.min() == consumer.workers
    assert asynchronous.summary["lost"] == asynchronous.summary["rejected"] == 0
    # Sync: requests refused and timed out, and A's p99 explodes during the spike.
    assert sync.summary["rejected"] > 0
    assert sync.summary["timeouts.B"] > 0
    calm = window(sync, "latency_p99.A", 5, spike.at).median()
    assert window(sync, "latency_p99.A", spike.at, spike_end).max() > 4 * calm
    assert window(asynchronous, "latency_p99.A", spike.at, spike_end).max() < calm


@pytest.mark.parametrize(
    ("name", "charts"),
    [
        ("coupling", {"timeline", "outcomes"}),
        ("resilience", {"timeline", "outcomes"}),
        ("scalability", {"scaling"}),
        ("load_leveling", {"spike", "outcomes"}),
    ],
)
def test_each_experiment_gets_its_chart(name: str, charts: set[str], tmp_path: Path) -> None:
    written = {p.stem for p in write_variant_charts(runs(name), tmp_path)}
    assert charts <= written
    assert not ({"timeline", "outcomes", "spike", "scaling"} - charts) & written


def test_broker_only_variants_get_no_experiment_charts(tmp_path: Path) -> None:
    scenario = scenario_from(
        duration=50.0, variants={"one": {}, "two": {"consumers.0.replicas": 2}}
    )
    written = {p.stem for p in write_variant_charts(run_variants(scenario), tmp_path)}
    assert {"compare_queue_depth", "compare_latency_cdf"} <= written
    assert not {"timeline", "outcomes", "spike", "scaling"} & written
