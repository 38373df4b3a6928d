"""Workloads as scenarios: each driver's parts, keys, rates and the sampling of large
workloads (sim/omb/mapping.py)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import sim
from sim.omb import DRIVERS, preset_of
from sim.omb.mapping import OMB_KEYS, Phases, scenario_data, shape
from sim.omb.workload import Workload, validate_workload
from sim.presets import cost_preset


def workload(**changes: Any) -> Workload:
    data: dict[str, Any] = {
        "name": "w",
        "topics": 2,
        "partitionsPerTopic": 3,
        "messageSize": 1024,
        "useRandomizedPayloads": True,
        "randomizedPayloadPoolSize": 10,
        "subscriptionsPerTopic": 2,
        "producersPerTopic": 2,
        "consumerPerSubscription": 5,
        "producerRate": 12000,
        "testDurationMinutes": 1,
    }
    data.update(changes)
    return validate_workload(data)


def mapped(driver: str, wl: Workload, rate: float | None = None, sample: int = 100) -> Any:
    """The scenario of `wl` on `driver` with the load starting at 1 s (validated)."""
    chosen = DRIVERS[driver]
    run_shape = shape(wl, chosen, sample)
    phases = Phases(2.0, load_start=1.0, sample_interval=1.0)
    rate = float(wl.producer_rate) if rate is None else rate
    data = scenario_data(wl, chosen, preset_of("ideal"), rate, run_shape, phases)
    return sim.Scenario.from_dict(data), run_shape


def load_producers(scenario: Any) -> list[Any]:
    return [p for p in scenario.producers if not p.name.endswith(".probe")]


def test_kafka_topics_partitions_groups_and_the_throughput_driver_settings() -> None:
    scenario, _ = mapped("kafka", workload())
    broker = scenario.broker
    assert [(t.name, t.partitions) for t in broker.topics] == [("topic-0", 3), ("topic-1", 3)]
    assert broker.brokers == 3
    assert {(t.replication_factor, t.min_insync_replicas) for t in broker.topics} == {(3, 2)}
    producers = load_producers(scenario)
    assert len(producers) == 4  # 2 topics x 2 producers
    assert {(p.acks, p.linger, p.batch_size) for p in producers} == {(-1, 0.001, 1048576)}
    groups = [(c.from_, c.group_id, c.replicas) for c in scenario.consumers]
    assert groups == [
        ("topic-0", "topic-0.sub-000", 5),
        ("topic-0", "topic-0.sub-001", 5),
        ("topic-1", "topic-1.sub-000", 5),
        ("topic-1", "topic-1.sub-001", 5),
    ]
    assert all(
        not c.enable_auto_commit and c.commit == "after-processing" for c in scenario.consumers
    )


def test_pulsar_partitioned_topics_failover_subscriptions_and_the_drivers_settings() -> None:
    """driver-pulsar/pulsar.yaml: partitions > 1 make a partitioned topic, one a
    non-partitioned one; a Failover subscription per OMB subscription with receiverQueueSize
    10000; producers batch for 1 ms and block when their queue is full; ledgers on
    ensemble 3, write quorum 3, ack quorum 2."""
    scenario, _ = mapped("pulsar", workload(keyDistributor="KEY_ROUND_ROBIN"))
    broker = scenario.broker
    assert [(t.name, t.partitions) for t in broker.topics] == [("topic-0", 3), ("topic-1", 3)]
    assert (broker.ensemble_size, broker.write_quorum, broker.ack_quorum) == (3, 3, 2)
    assert broker.cost is None  # the ideal preset
    producers = load_producers(scenario)
    assert len(producers) == 4
    assert {
        (p.batching_enabled, p.batching_max_publish_delay, p.batching_max_bytes) for p in producers
    } == {(True, 0.001, 131072)}
    assert {(p.block_if_queue_full, p.max_pending_messages, p.keys) for p in producers} == {
        (True, 0, OMB_KEYS)
    }
    subs = [(c.from_, c.subscription, c.subscription_type, c.replicas) for c in scenario.consumers]
    assert subs[:2] == [
        ("topic-0", "sub-000", "failover", 5),
        ("topic-0", "sub-001", "failover", 5),
    ]
    assert {c.receiver_queue_size for c in scenario.consumers} == {10000}
    single, _ = mapped("pulsar", workload(partitionsPerTopic=1))
    assert {t.partitions for t in single.broker.topics} == {0}


def test_a_calibrated_preset_sets_pulsars_cluster_and_costs() -> None:
    """confluent-2020's Pulsar setup: 3 brokers with 3 bookies, and its cost figures."""
    wl = workload()
    chosen = DRIVERS["pulsar"]
    assert chosen.default_preset == "confluent-2020"
    data = scenario_data(
        wl, chosen, preset_of("confluent-2020"), 1000.0, shape(wl, chosen, 100), Phases(1.0)
    )
    broker = sim.Scenario.from_dict(data).broker
    assert (broker.brokers, broker.bookies) == (3, 3)
    assert broker.cost is not None and broker.cost.journal_fsync > 0
    assert broker.cost.per_byte == cost_preset("confluent-2020", "pulsar").cost["per_byte"]


@pytest.mark.parametrize(
    ("distributor", "keys"),
    [("NO_KEY", None), ("KEY_ROUND_ROBIN", OMB_KEYS), ("RANDOM_NANO", OMB_KEYS)],
)
def test_key_distributors_become_keys_where_the_broker_reads_them(
    distributor: str, keys: int | None
) -> None:
    scenario, _ = mapped("kafka", workload(keyDistributor=distributor))
    assert {p.keys for p in load_producers(scenario)} == {keys}
    redis, _ = mapped("redis", workload(keyDistributor=distributor))
    assert {p.keys for p in load_producers(redis)} == {None}  # Redis Streams reads no keys


def test_rabbitmq_partitions_become_queues_spread_by_routing_key() -> None:
    scenario, _ = mapped("rabbitmq", workload())
    broker = scenario.broker
    assert [(e.name, e.type) for e in broker.exchanges] == [
        ("topic-0", "direct"),
        ("topic-1", "direct"),
    ]
    queues = [q.name for q in broker.queues]
    assert len(queues) == 2 * 2 * 3 and {q.type for q in broker.queues} == {"quorum"}
    bound = {(b.exchange, b.queue, b.routing_key) for b in broker.bindings}
    assert ("topic-1", "topic-1.sub-001.p2", "p2") in bound and len(bound) == 12
    assert {tuple(p.routing_key) for p in load_producers(scenario)} == {("p0", "p1", "p2")}
    # 5 consumers a subscription over 3 partition queues: 2, 2, 1, auto-ack as OMB's driver.
    spread = [c.replicas for c in scenario.consumers if c.from_.startswith("topic-0.sub-000.")]
    assert spread == [2, 2, 1]
    assert {(c.ack, c.prefetch) for c in scenario.consumers} == {("auto", 0)}


def test_rabbitmq_one_partition_is_omb_drivers_fanout_exchange() -> None:
    scenario, _ = mapped("rabbitmq", workload(partitionsPerTopic=1))
    assert {e.type for e in scenario.broker.exchanges} == {"fanout"}
    assert sorted(q.name for q in scenario.broker.queues)[:2] == [
        "topic-0.sub-000",
        "topic-0.sub-001",
    ]
    assert {c.replicas for c in scenario.consumers} == {5}


def test_every_partition_queue_gets_a_consumer_when_there_are_fewer_consumers() -> None:
    scenario, _ = mapped("rabbitmq", workload(partitionsPerTopic=8, consumerPerSubscription=3))
    assert [c.replicas for c in scenario.consumers][:8] == [1] * 8


def test_sqs_a_queue_per_subscription_and_partition_fed_by_the_producers() -> None:
    wl = workload()
    scenario, _ = mapped("sqs", wl)
    assert len(scenario.broker.queues) == 12
    producers = load_producers(scenario)
    assert len(producers) == 12  # one stream per queue: the producers copy to each subscription
    # Each subscription's queues together get the whole rate: 12,000 msg/s over 2 topics.
    per_subscription: dict[str, float] = {}
    for p in producers:
        key = p.to.rsplit("-p", 1)[0]
        per_subscription[key] = per_subscription.get(key, 0.0) + p.rate
    assert per_subscription == pytest.approx(
        {f"topic-{t}-sub-00{s}": 6000.0 for t in (0, 1) for s in (0, 1)}
    )
    assert {c.max_messages for c in scenario.consumers} == {10}


def test_redis_one_stream_per_topic_and_a_group_per_subscription() -> None:
    scenario, _ = mapped("redis", workload())
    assert [s.name for s in scenario.broker.streams] == ["topic-0", "topic-1"]
    assert [(g.stream, g.name) for g in scenario.broker.groups][:2] == [
        ("topic-0", "sub-000"),
        ("topic-0", "sub-001"),
    ]
    assert {(c.replicas, c.ack, c.prefetch) for c in scenario.consumers} == {(5, "auto", 0)}


@pytest.mark.parametrize("driver", list(DRIVERS))
def test_the_producers_together_send_omb_s_one_comb_of_send_slots(driver: str) -> None:
    """OMB's rate limiter hands out slots 1/rate apart; the mapped producers, each evenly
    spaced, start staggered so that their sends interleave into that comb."""
    wl = workload(producerRate=6000)
    scenario, run_shape = mapped(driver, wl)
    producers = load_producers(scenario)
    copies = wl.subscriptions_per_topic if DRIVERS[driver].producers_fan_out else 1
    assert sum(p.rate for p in producers) == pytest.approx(6000 / run_shape.scale * copies)
    sends = np.unique(
        np.concatenate([p.start + np.arange(1, 40) / p.rate for p in producers]).round(12)
    )
    gaps = np.diff(sends[sends < 1.0 + 30 / 6000])
    assert gaps == pytest.approx(np.full(gaps.size, run_shape.scale / 6000), rel=1e-6)


def test_each_topic_gets_one_probe_message_for_readiness() -> None:
    scenario, _ = mapped("kafka", workload())
    probes = [p for p in scenario.producers if p.name.endswith(".probe")]
    assert [p.to for p in probes] == ["topic-0", "topic-1"]
    assert [(p.message_size, p.stop, p.keys) for p in probes] == [(10, 0.0015, ["key"])] * 2


@pytest.mark.parametrize(
    ("driver", "topics", "partitions", "scale"),
    [("kafka", 20, 1, 50_000.0), ("redis", 20, 1, 50_000.0), ("rabbitmq", 20, 1, 50_000.0)],
)
def test_a_million_topics_are_sampled_and_scaled_back(
    driver: str, topics: int, partitions: int, scale: float
) -> None:
    wl = workload(topics=1_000_000, partitionsPerTopic=1, subscriptionsPerTopic=1)
    run_shape = shape(wl, DRIVERS[driver], 20)
    assert (run_shape.topics, run_shape.partitions, run_shape.scale) == (topics, partitions, scale)
    scenario, _ = mapped(driver, wl, sample=20)
    per_topic = sum(p.rate for p in load_producers(scenario)) / run_shape.topics
    assert per_topic == pytest.approx(12000 / 1_000_000)  # each topic at its own rate


def test_queue_drivers_sample_partition_queues_and_log_drivers_keep_partitions() -> None:
    wl = workload(topics=1, partitionsPerTopic=10_000)
    assert shape(wl, DRIVERS["kafka"], 8) == shape(wl, DRIVERS["kafka"], 100)
    assert shape(wl, DRIVERS["kafka"], 8).partitions == 10_000
    sampled = shape(wl, DRIVERS["rabbitmq"], 8)
    assert (sampled.topics, sampled.partitions, sampled.scale) == (1, 8, 1250.0)
    assert shape(wl, DRIVERS["redis"], 8).partitions == 1  # OMB's Redis driver ignores them


def test_the_readiness_run_has_no_load_and_a_pause_stops_every_consumer() -> None:
    wl = workload()
    chosen = DRIVERS["redis"]
    idle = scenario_data(wl, chosen, preset_of("ideal"), 0.0, shape(wl, chosen, 100), Phases(5.0))
    assert all(p["name"].endswith(".probe") for p in idle["producers"])
    paused = Phases(5.0, load_start=1.0, pause=(2.0, 3.0))
    data = scenario_data(wl, chosen, preset_of("ideal"), 100.0, shape(wl, chosen, 100), paused)
    faults = {(f["target"], f["kind"], f["start"], f["end"]) for f in data["faults"]}
    assert faults == {(c["name"], "down", 2.0, 3.0) for c in data["consumers"]}
