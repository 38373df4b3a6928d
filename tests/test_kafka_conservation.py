"""Conservation under everything at once: random Kafka scenarios with several groups, commit
strategies, consumer crashes, broker failures, retention and compaction. Every copy of every
record must end in exactly one state."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sim
from sim.message import State

COMMITS = st.sampled_from(["auto", "after-processing", "before-processing"])


@st.composite
def kafka_scenarios(draw: Any) -> dict[str, Any]:
    brokers = draw(st.integers(1, 3))
    rf = draw(st.integers(1, brokers))
    compacted = draw(st.booleans())
    topic: dict[str, Any] = {
        "name": "t",
        "partitions": draw(st.integers(1, 4)),
        "replication.factor": rf,
        "min.insync.replicas": draw(st.integers(1, rf)),
        "segment.ms": 2000,
        "retention.ms": draw(st.sampled_from([5000, 20_000, -1])),
        "unclean.leader.election.enable": draw(st.booleans()),
    }
    if compacted:
        topic["cleanup.policy"] = "compact,delete"
    consumers = []
    for g in range(draw(st.integers(1, 3))):
        commit = draw(COMMITS)
        consumer: dict[str, Any] = {
            "name": f"g{g}",
            "from": "t",
            "replicas": draw(st.integers(1, 3)),
            "service_time": draw(st.sampled_from(["1ms", "exp(20ms)", "exp(60ms)"])),
            "auto.offset.reset": draw(st.sampled_from(["earliest", "latest"])),
            "max.poll.records": draw(st.sampled_from([5, 50])),
            "session.timeout.ms": 2000,
            "partition.assignment.strategy": draw(
                st.sampled_from(["range", "roundrobin", "sticky", "cooperative-sticky"])
            ),
            "enable.auto.commit": commit == "auto",
        }
        if commit != "auto":
            consumer["commit"] = commit
        if draw(st.booleans()):
            consumer["crash"] = {"at": [draw(st.floats(2, 15))], "restart_after": 3}
        consumers.append(consumer)
    broker: dict[str, Any] = {
        "type": "kafka",
        "brokers": brokers,
        "topics": [topic],
        "replication_delay": draw(st.sampled_from(["0s", "20ms", "exp(50ms)"])),
        "rebalance_time": draw(st.sampled_from(["0s", "500ms"])),
        "group.initial.rebalance.delay.ms": draw(st.sampled_from([0, 1000])),
        "broker.session.timeout.ms": 2000,
        "log.retention.check.interval.ms": 1000,
        "log.cleaner.backoff.ms": 1000,
    }
    if draw(st.booleans()):
        restart = draw(st.sampled_from([None, 3.0]))
        broker["failures"] = [
            {"broker": draw(st.integers(0, brokers - 1)), "at": draw(st.floats(1, 12))}
            | ({"restart_after": restart} if restart else {})
        ]
    producer = {
        "name": "p",
        "to": "t",
        "rate": draw(st.sampled_from([10.0, 40.0])),
        "acks": draw(st.sampled_from([0, 1, "all"])),
        "linger.ms": draw(st.sampled_from([0, 10])),
        "delivery.timeout.ms": 4000,
    }
    if compacted or draw(st.booleans()):
        producer["keys"] = draw(st.integers(1, 30))
    return {
        "name": "prop",
        "seed": draw(st.integers(0, 10_000)),
        "duration": 15.0,
        "broker": broker,
        "producers": [producer],
        "consumers": consumers,
    }


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kafka_scenarios())
def test_every_copy_ends_in_exactly_one_state(data: dict[str, Any]) -> None:
    results = sim.run(sim.Scenario.from_dict(data))
    s = results.summary
    assert results.conservation_gap() == 0
    assert s["processed_total"] == s["processed"] + s["duplicates"]
    assert s["delivered"] >= s["processed_total"]
    for key in ("processed", "lost", "dropped", "expired", "rejected", "backlog_at_end"):
        assert s[key] >= 0, key


def test_a_record_no_group_reads_stays_backlog_until_retention_expires_it() -> None:
    data = {
        "name": "nobody",
        "duration": 30.0,
        "broker": {
            "type": "kafka",
            "log.retention.check.interval.ms": 1000,
            "topics": [{"name": "t", "retention.ms": 10_000, "segment.ms": 1000}],
        },
        "producers": [{"name": "p", "to": "t", "rate": 10.0}],
    }
    results = sim.run(sim.Scenario.from_dict(data))
    s = results.summary
    assert s["copies"] == 0 and s["processed"] == 0
    assert s["expired"] > 0 and s["backlog_at_end"] > 0
    assert s["expired"] + s["backlog_at_end"] == s["produced"]
    assert State.EXPIRED.value == 5  # the summary's `expired` is that state's count
