"""OMB workloads run on every driver: OMB's result shape, its rates and latencies against
what the runs did, backlog mode and the search for the maximum sustainable rate."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sim.omb import (
    DRIVERS,
    PRESETS,
    Preset,
    ProbeSettings,
    RunOptions,
    dumps,
    load_workload,
    run_workload,
)
from sim.omb.mapping import driver_of, shape
from sim.omb.result import FIELDS, Events
from sim.omb.workload import Workload, validate_workload
from sim.presets import cost_preset
from tests.test_omb_workload import OMB, WORKLOADS

EXAMPLE = OMB / "results" / "upstream-pr407-kafka-1-topic-1-partition-1kb.json"
# Short runs for the whole set: about 200 simulated messages each.
MESSAGES = 200
QUICK_PROBE = ProbeSettings(max_rate=20_000, step_messages=100)


def _kind(value: Any) -> Any:
    """The JSON type of a field as OMB writes it: lists and maps by their elements' type."""
    if isinstance(value, list):
        return ("list", _kind(value[0]) if value else None)
    if isinstance(value, dict):
        return ("map", _kind(next(iter(value.values()))) if value else None)
    return type(value).__name__


def example_kinds() -> dict[str, Any]:
    return {k: _kind(v) for k, v in json.loads(EXAMPLE.read_text(encoding="utf-8")).items()}


def quick_options(wl: Workload, driver: str) -> RunOptions:
    """A run of about MESSAGES messages: one sample, no warm-up, a backlog of MESSAGES."""
    rate = wl.producer_rate or QUICK_PROBE.start_rate
    window = MESSAGES / (rate / shape(wl, driver_of(driver), 2).scale)
    return RunOptions(
        driver=driver,
        sample=2,
        duration=window,
        period=window,
        warmup=0.0,
        backlog=MESSAGES * wl.message_size if wl.consumer_backlog_size_gb else None,
        probe=QUICK_PROBE,
    )


def first_publish(driver: str) -> float:
    """How long a driver's first message takes to be published, at most: Kafka's linger.ms=1
    (Pulsar's batchingMaxPublishDelay), and the waits of the driver's default preset (SQS's
    send_latency; Pulsar's journal group wait and fsync)."""
    chosen = driver_of(driver)
    cost = cost_preset(chosen.default_preset, chosen.broker).cost
    waits = ("send_latency", "journal_group_wait", "journal_fsync")
    return 1e-3 + sum(float(cost.get(name, 0.0)) for name in waits)


def check_shape(result: dict[str, Any], wl: Workload, samples: int) -> None:
    """Every field of OMB's TestResult, in its order, with the example file's JSON types."""
    assert list(result) == list(FIELDS)
    text = json.loads(dumps(result))
    kinds = example_kinds()
    for key, value in text.items():
        got, want = _kind(value), kinds[key]
        empty_map = got == ("map", None) and want[0] == "map"
        assert got == want or empty_map, (key, got, want)
    assert (text["topics"], text["partitions"], text["messageSize"]) == (
        wl.topics,
        wl.partitions_per_topic,
        wl.message_size,
    )
    assert (text["producersPerTopic"], text["consumersPerTopic"]) == (
        wl.producers_per_topic,
        wl.consumer_per_subscription,
    )
    for key in FIELDS[7:]:
        if isinstance(text[key], list):
            assert len(text[key]) == samples, key
    assert all(b >= 0 for b in text["backlog"])


def test_the_example_result_has_every_field() -> None:
    assert list(example_kinds()) == list(FIELDS)


@pytest.mark.parametrize("driver", list(DRIVERS))
@pytest.mark.parametrize("path", WORKLOADS, ids=lambda p: p.stem)
def test_every_shared_workload_runs_on_every_driver(path: Path, driver: str) -> None:
    wl = load_workload(path)
    run = run_workload(wl, quick_options(wl, driver))
    result = run.test_result()
    check_shape(result, wl, run.timeline.samples)
    # The producers sent the workload's rate (or the rate found) for the whole window.
    made = Events(run.results).made_at
    timeline = run.timeline
    sent = np.count_nonzero((made >= timeline.start - 1e-12) & (made < timeline.end - 1e-12))
    span = timeline.end - timeline.start
    assert sent == pytest.approx(run.rate / run.shape.scale * span, abs=2)
    if timeline.period > first_publish(driver):  # long enough for something to be published
        assert sum(result["publishRate"]) > 0


@pytest.fixture
def capped() -> Iterator[Preset]:
    """A preset whose RabbitMQ queue handles 20,000 msg/s: one Erlang process per queue at
    queue_rate, no persistence cost (sim/brokers/rabbitmq/cost.py)."""
    preset = Preset(
        "test-capped",
        "a 20,000 msg/s queue",
        {"rabbitmq": {"cost": {"queue_rate": 20000, "persistence": 0}}},
    )
    PRESETS[preset.name] = preset
    yield preset
    del PRESETS[preset.name]


def one_queue(**changes: Any) -> Workload:
    data: dict[str, Any] = {
        "name": "one queue",
        "topics": 1,
        "partitionsPerTopic": 1,
        "messageSize": 100,
        "useRandomizedPayloads": True,
        "randomizedPayloadPoolSize": 1,
        "subscriptionsPerTopic": 1,
        "producersPerTopic": 2,
        "consumerPerSubscription": 1,
        "producerRate": 10000,
        "testDurationMinutes": 1,
    }
    data.update(changes)
    return validate_workload(data)


@pytest.mark.parametrize("driver", list(DRIVERS))
def test_rates_per_sample_are_the_workloads(driver: str) -> None:
    wl = load_workload(OMB / "workloads" / "1-topic-1-partition-1kb.yaml")  # 50,000 msg/s
    options = RunOptions(driver=driver, preset="ideal", duration=0.3, warmup=0.1, period=0.1)
    run = run_workload(wl, options)
    result = run.test_result()
    assert run.timeline.samples == 3 and run.timeline.start == pytest.approx(
        run.timeline.ready + 0.1
    )
    assert result["publishRate"] == pytest.approx([50_000.0] * 3, rel=0.005)
    assert result["consumeRate"] == pytest.approx([50_000.0] * 3, rel=0.005)
    assert result["publishErrorRate"] == [0.0] * 3
    assert max(result["backlog"]) < 50_000 * 0.1 * 0.01


def test_a_sampled_workload_reports_the_whole_workloads_rate() -> None:
    wl = load_workload(OMB / "workloads" / "10k-topic-1kb-4p-4c-100k.yaml")  # 10 msg/s a topic
    run = run_workload(
        wl, RunOptions(driver="redis", sample=20, duration=2.0, warmup=0.0, period=1.0)
    )
    assert run.shape.topics == 20 and run.shape.scale == 500.0
    assert run.results.summary["produced"] < 500  # 20 topics x 10 msg/s x 2 s, and probes
    result = run.test_result()
    assert result["publishRate"] == pytest.approx([100_000.0] * 2, rel=0.01)
    assert any("simulating 20 of 10000 topics" in note for note in run.notes)
    assert any("preset 'mqperf-2021' serves only the sample" in note for note in run.notes)


def test_latencies_are_the_runs_in_omb_s_units() -> None:
    """Kafka's producers linger linger.ms=1 (driver-kafka/kafka-throughput.yaml): on the ideal
    broker a batch leaves 1 ms after its first record, so with a record every 0.2 ms per
    producer (2 producers, 10,000 msg/s) records wait 1.0, 0.8, 0.6, 0.4 and 0.2 ms to be
    published; the end-to-end figures agree with mqsim's own histogram of the same run."""
    wl = one_queue()
    options = RunOptions(driver="kafka", preset="ideal", duration=0.4, warmup=0.1, period=0.2)
    run = run_workload(wl, options)
    result = run.test_result()
    gap = wl.producers_per_topic / wl.producer_rate
    waits = [1e-3 - k * gap for k in range(round(1e-3 / gap))]
    assert result["aggregatedPublishLatencyMax"] == pytest.approx(1000 * max(waits), abs=0.002)
    assert result["aggregatedPublishLatencyAvg"] == pytest.approx(1000 * np.mean(waits), abs=0.002)
    assert result["aggregatedPublishLatency50pct"] == pytest.approx(
        1000 * np.median(waits), abs=0.002
    )
    summary = run.results.summary
    assert result["aggregatedEndToEndLatency50pct"] == pytest.approx(
        1000 * summary["latency_p50"], rel=0.03
    )
    assert result["aggregatedEndToEndLatency99pct"] == pytest.approx(
        1000 * summary["latency_p99"], rel=0.03
    )
    assert result["aggregatedPublishDelayLatencyMax"] == 0  # open-loop producers are never late
    assert (
        result["aggregatedEndToEndLatencyQuantiles"][100.0]
        == result["aggregatedEndToEndLatencyMax"]
    )


def test_an_instant_broker_records_no_end_to_end_latency_as_omb_skips_zeros() -> None:
    result = run_workload(
        one_queue(), RunOptions(driver="redis", preset="ideal", duration=0.2, warmup=0, period=0.1)
    ).test_result()
    assert result["aggregatedEndToEndLatencyQuantiles"] == {}
    assert result["endToEndLatencyMax"] == [0.0, 0.0]


def test_backlog_mode_pauses_consumers_until_the_backlog_is_built_then_drains(
    capped: Preset,
) -> None:
    wl = one_queue(consumerBacklogSizeGB=1)
    backlog = 10_000 * wl.message_size  # 10,000 messages: 1 s of the 10,000 msg/s
    options = RunOptions(
        driver="rabbitmq", preset=capped.name, duration=0.5, warmup=0.2, period=0.1, backlog=backlog
    )
    run = run_workload(wl, options)
    timeline = run.timeline
    # OMB's 1 s poll (0.01 s at this period) first sees the backlog built 1 s after pausing.
    assert timeline.built == pytest.approx(timeline.start + 1.0, abs=0.011)
    assert timeline.drained is not None and timeline.drained >= timeline.built
    assert timeline.end >= timeline.drained + 0.5 - 1e-9
    result = run.test_result()
    building = round((timeline.built - timeline.start) / timeline.period)  # 10 samples
    assert result["consumeRate"][:building] == [0.0] * building
    # The backlog grows by 1,000 a sample while paused (9,000 at the last sample before the
    # poll at 1 s), then this broker's consumers empty it at once and it stays drained.
    assert result["backlog"][: building - 1] == pytest.approx(
        [1000.0 * (k + 1) for k in range(building - 1)], abs=10
    )
    assert max(result["backlog"][building - 1 :]) <= 1000
    assert result["publishRate"] == pytest.approx([10_000.0] * timeline.samples, rel=0.01)


def test_a_backlog_that_cannot_drain_ends_the_run_with_a_note(capped: Preset) -> None:
    wl = one_queue(producerRate=40_000, consumerBacklogSizeGB=1)
    options = RunOptions(
        driver="rabbitmq", preset=capped.name, duration=0.2, warmup=0.1, period=0.1, backlog=100_000
    )
    run = run_workload(wl, options)
    assert run.timeline.drained is None
    assert any("was not drained" in note for note in run.notes)
    backlog = run.test_result()["backlog"]
    assert backlog == sorted(backlog) and backlog[-1] > backlog[0]  # consumers at 20,000 of 40,000


def test_the_rate_search_finds_the_capacity_of_a_capped_queue(capped: Preset) -> None:
    """One queue process at 20,000 msg/s: the search doubles from OMB's 10,000, bisects, and
    the run at the rate found holds it."""
    wl = one_queue(producerRate=0)
    probe = ProbeSettings(step_messages=2000, resolution=0.02)
    options = RunOptions(
        driver="rabbitmq", preset=capped.name, duration=0.2, warmup=0, period=0.1, probe=probe
    )
    run = run_workload(wl, options)
    assert run.rate == pytest.approx(20_000, rel=0.05)
    assert run.probe_steps[0].rate == 10_000 and run.probe_steps[0].sustained
    assert not all(step.sustained for step in run.probe_steps)
    held = [s.rate for s in run.probe_steps if s.sustained]
    failed = [s.rate for s in run.probe_steps if not s.sustained]
    assert max(held) == run.rate and min(failed) > run.rate
    assert run.test_result()["publishRate"] == pytest.approx([run.rate] * 2, rel=0.01)


def test_the_rate_search_stops_at_the_ceiling_on_the_ideal_broker() -> None:
    wl = one_queue(producerRate=0)
    probe = ProbeSettings(max_rate=40_000, step_messages=200)
    run = run_workload(
        wl, RunOptions(driver="redis", duration=0.05, warmup=0, period=0.05, probe=probe)
    )
    assert [s.rate for s in run.probe_steps] == [10_000, 20_000, 40_000]
    assert run.rate == 40_000 and any("ceiling" in note for note in run.notes)


def test_a_new_driver_is_one_table_entry(monkeypatch: pytest.MonkeyPatch) -> None:
    """The mapping is table-driven: a driver under another name, with its own OMB name."""
    from dataclasses import replace

    twin = replace(DRIVERS["redis"], name="redis-twin", omb_name="Redis twin")
    monkeypatch.setitem(DRIVERS, "redis-twin", twin)
    run = run_workload(
        one_queue(), RunOptions(driver="redis-twin", duration=0.1, warmup=0, period=0.1)
    )
    assert run.test_result()["driver"] == "Redis twin"


def test_the_rate_search_finds_a_calibrated_presets_capacity() -> None:
    """RabbitMQ's default preset (mqperf-2021): the rate search finds, within 5%, the capacity
    its cost parameters give (the broker's own account, sim/brokers/rabbitmq/cost.py): one
    quorum queue's process, 1 / queue_rate + persistence a message."""
    from sim.brokers.costs import Load
    from sim.calibration.systems import account

    chosen = driver_of("rabbitmq")
    assert chosen.default_preset == "mqperf-2021"
    part = cost_preset(chosen.default_preset, chosen.broker)
    setup = {"queue_type": "quorum"}
    capacity = account("rabbitmq", {"cost": part.cost}, setup, Load(100)).capacity
    assert capacity == pytest.approx(1 / (1 / part.cost["queue_rate"] + part.cost["persistence"]))
    wl = one_queue(producerRate=0, messageSize=100)
    probe = ProbeSettings(step_messages=4000, resolution=0.01)
    options = RunOptions(driver="rabbitmq", duration=0.2, warmup=0, period=0.1, probe=probe)
    run = run_workload(wl, options)
    assert run.preset.name == "mqperf-2021"
    assert run.rate == pytest.approx(capacity, rel=0.05)
    assert run.test_result()["driver"] == chosen.omb_name  # the default: no preset suffix


def test_the_rate_search_finds_pulsars_preset_capacity() -> None:
    """Pulsar's default preset (confluent-2020): the rate search finds, within 5%, the capacity
    of its account (sim/brokers/pulsar/cost.py) on the driver's cluster. Every bookie of the
    ensemble of 3 journals every entry (write quorum 3) at `per_byte` a byte; 64 KiB messages
    make that the bottleneck at a rate a test can simulate (about 4,900 msg/s)."""
    from sim.brokers.costs import Load
    from sim.brokers.pulsar.config import PulsarConfig
    from sim.brokers.pulsar.cost import section_account

    chosen = driver_of("pulsar")
    assert chosen.default_preset == "confluent-2020"
    size = 65536
    wl = one_queue(producerRate=0, messageSize=size)
    preset = PRESETS[chosen.default_preset]
    section = {
        "type": "pulsar",
        "topics": [{"name": "t", "partitions": 0}],
        **preset.broker_fields("pulsar"),
    }
    config = PulsarConfig.model_validate(section)
    account = section_account(config, Load(size, batch=2))
    per_byte = cost_preset(chosen.default_preset, "pulsar").cost["per_byte"]
    assert account.capacity == pytest.approx(1 / (per_byte * size))
    probe = ProbeSettings(step_messages=4000, resolution=0.01)
    options = RunOptions(driver="pulsar", duration=0.2, warmup=0, period=0.1, probe=probe)
    run = run_workload(wl, options)
    assert run.preset.name == "confluent-2020"
    assert run.rate == pytest.approx(account.capacity, rel=0.05)
    assert run.test_result()["driver"] == chosen.omb_name
