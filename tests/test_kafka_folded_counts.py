"""The fused record's four counters kept as one count (`KafkaProducer.folds_counts`, speed)
against the four counted in place: every Kafka workload and scenario gives the same outputs
both ways, bit for bit (the summary holds every counter), and a read of the counters in the
middle of a run sees the same counts both ways (`Recorder.counters` folds them in)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
import simpy

import sim
from sim.brokers.kafka.cluster import KafkaCluster
from sim.brokers.kafka.producer import KafkaProducer
from sim.message import Message
from sim.scenario import Scenario
from tests.helpers import kafka_acks_1, kafka_second_group, run_outputs, variant_outputs

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
import workloads

FOUR = ("kafka.requests", "kafka.batches", "kafka.produce_requests", "kafka.batches_appended")

WORKLOADS = {
    "mm1": lambda: workloads.mm1("kafka", 3000),
    "partitions": lambda: workloads.mm1("kafka", 3000, partitions=20),
    "sources": lambda: workloads.mm1("kafka", 1500, sources=3, consumers=2),
    "acks-1": lambda: kafka_acks_1(workloads.mm1("kafka", 3000)),
    "two-groups": lambda: kafka_second_group(workloads.mm1("kafka", 2000)),
    "drain": lambda: workloads.drain("kafka", 2000),
    "backlog": lambda: workloads.backlog("kafka", 2000),
}

SCENARIOS = [
    "kafka_broker_failure.yaml",
    "kafka_consumer_crash.yaml",
    "kafka_consumer_groups.yaml",
    "kafka_rebalance_storm.yaml",
    "kafka_retention.yaml",
    "exactly_once_kafka.yaml",
]


def _folded(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Count the records whose counts were folded in later (the shortcut taken)."""
    taken = {"folded": 0}
    fold = KafkaProducer._fold_counts

    def counted(self: KafkaProducer) -> None:
        taken["folded"] += self._fused_records
        fold(self)

    monkeypatch.setattr(KafkaProducer, "_fold_counts", counted)
    return taken


@pytest.mark.parametrize("name", sorted(WORKLOADS))
def test_folded_counts_give_what_counts_in_place_give(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    taken = _folded(monkeypatch)
    folded = run_outputs(sim.run(Scenario.from_dict(WORKLOADS[name]())))
    assert taken["folded"] > 0  # the shortcut was taken
    assert '"kafka.batches_appended"' in folded["summary"]
    monkeypatch.setattr(KafkaProducer, "folds_counts", False)
    before = dict(taken)
    in_place = run_outputs(sim.run(Scenario.from_dict(WORKLOADS[name]())))
    assert taken == before  # nothing was folded in the reference run
    assert folded == in_place


@pytest.mark.parametrize("path", SCENARIOS)
def test_folded_counts_give_the_same_scenarios(path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    folded = variant_outputs(path)
    monkeypatch.setattr(KafkaProducer, "folds_counts", False)
    in_place = variant_outputs(path)
    assert folded == in_place


def _client_run(folds: bool, monkeypatch: pytest.MonkeyPatch) -> list[list[tuple[str, int]]]:
    """A bare cluster of two producers: the counters as read after every send, some of them
    fused (no future), some in batches (a future), with flushes between."""
    monkeypatch.setattr(KafkaProducer, "folds_counts", folds)
    env = simpy.Environment()
    cluster = KafkaCluster(env, initial_rebalance_delay=0)
    cluster.create_topic("t", partitions=3)
    producers = [KafkaProducer(cluster, {"linger.ms": 0}, name=f"p{i}") for i in range(2)]
    reads: list[list[tuple[str, int]]] = []

    def sends() -> Any:
        for i in range(40):
            producer = producers[i % 2]
            producer.send_message("t", Message(next(cluster.message_ids), env.now, 10))
            reads.append(sorted(cluster.recorder.counters.items()))
            if i % 7 == 0:
                producer.send("t", value=b"x" * 10)
            if i % 11 == 0:
                producer.flush()
            yield env.timeout(0.01)

    env.process(sends())
    env.run(until=2.0)
    reads.append(sorted(cluster.recorder.counters.items()))
    return reads


def test_a_read_in_the_middle_of_a_run_sees_every_count(monkeypatch: pytest.MonkeyPatch) -> None:
    taken = _folded(monkeypatch)
    folded = _client_run(True, monkeypatch)
    assert taken["folded"] == 40  # every keyless record without a future was fused
    in_place = _client_run(False, monkeypatch)
    assert folded == in_place
    last = dict(folded[-1])
    assert all(last[name] >= 40 for name in FOUR)
    # After the first send: one record, counted once in each of the four.
    assert [dict(folded[0])[name] for name in FOUR] == [1, 1, 1, 1]
