"""Kafka's fused paths (speed) against the paths they fuse: the producer's record handed to
`Partition.append_alone` without a batch (`KafkaProducer.fused`), and the consumer's poll of
one record from one candidate in `KafkaConsumer._poll_alone` (`KafkaConsumer.fused`).

Both paths are taken only without a trace, so each scenario here runs untraced, with the
fused paths and without them, and must give the same outputs, bit for bit: the summary (with
every counter), the time series, the latency CDF, the events and every table."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

import sim
from sim.brokers.kafka.cluster import Partition
from sim.brokers.kafka.consumer import KafkaConsumer
from sim.brokers.kafka.producer import KafkaProducer
from sim.scenario import Scenario
from tests.helpers import digest, kafka_acks_1, kafka_second_group, run_outputs, variant_outputs

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
import workloads


def _counted(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Count the records the fused paths took: appends `append_alone` made (it answered
    True) and polls `_poll_alone` answered with a record."""
    taken = {"append": 0, "poll": 0}
    append_alone, poll_alone = Partition.append_alone, KafkaConsumer._poll_alone

    def appended(self: Partition, *args: Any) -> bool:
        done = append_alone(self, *args)
        taken["append"] += done
        return done

    def polled(self: KafkaConsumer, tp: Any, maybe: Any, found: list[Any]) -> list[Any]:
        result = poll_alone(self, tp, maybe, found)
        taken["poll"] += len(found)
        return result

    monkeypatch.setattr(Partition, "append_alone", appended)
    monkeypatch.setattr(KafkaConsumer, "_poll_alone", polled)
    return taken


def _min_insync_2(data: dict[str, Any]) -> dict[str, Any]:
    # acks=all with min.insync.replicas 2 on one replica: every append is refused
    # (NOT_ENOUGH_REPLICAS), which the fused path leaves to `append`.
    data["broker"]["topics"][0]["min.insync.replicas"] = 2
    return data


WORKLOADS = {
    "mm1": lambda: workloads.mm1("kafka", 3000),
    "partitions": lambda: workloads.mm1("kafka", 3000, partitions=20),
    "consumers": lambda: workloads.mm1("kafka", 3000, partitions=6, consumers=6),
    "sources": lambda: workloads.mm1("kafka", 1500, sources=3, consumers=2),
    "acks-1": lambda: kafka_acks_1(workloads.mm1("kafka", 3000)),
    "two-groups": lambda: kafka_second_group(workloads.mm1("kafka", 2000)),
    "batched-poll": lambda: workloads.mm1("kafka", 3000, consumer={"max.poll.records": 5}),
    "bounded": lambda: workloads.mm1("kafka", 3000, bounded=True),
    "drain": lambda: workloads.drain("kafka", 2000),
    "backlog": lambda: workloads.backlog("kafka", 2000),
    "min-insync-2": lambda: _min_insync_2(workloads.mm1("kafka", 500)),
}

SCENARIOS = [
    "kafka_broker_failure.yaml",
    "kafka_consumer_crash.yaml",
    "kafka_consumer_groups.yaml",
    "kafka_rebalance_storm.yaml",
    "kafka_replay.yaml",
    "kafka_retention.yaml",
    "kafka_scaling.yaml",
    "kafka_share_groups.yaml",
    "exactly_once_kafka.yaml",
]


def _general(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(KafkaProducer, "fused", False)
    monkeypatch.setattr(KafkaConsumer, "fused", False)


@pytest.mark.parametrize("name", sorted(WORKLOADS))
def test_fused_paths_give_what_the_paths_they_fuse_give(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    taken = _counted(monkeypatch)
    fused = run_outputs(sim.run(Scenario.from_dict(WORKLOADS[name]())))
    if name == "min-insync-2":
        assert taken["append"] == 0  # refused appends are `append`'s
        assert '"kafka.not_enough_replicas"' in fused["summary"]
    else:
        assert taken["append"] > 0  # the shortcuts were taken
        # (the backlog's one consumer holds its first record: nothing is processed)
        assert name == "backlog" or '"processed": 0,' not in fused["summary"]
    if name not in ("batched-poll", "min-insync-2", "backlog"):
        assert taken["poll"] > 0
    _general(monkeypatch)
    before = dict(taken)
    general = run_outputs(sim.run(Scenario.from_dict(WORKLOADS[name]())))
    assert taken == before  # the general runs did not take them
    assert fused == general


@pytest.mark.parametrize("path", SCENARIOS)
def test_fused_paths_give_the_same_scenarios(path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every variant of the Kafka scenarios (failures, crashes, rebalances, retention, share
    groups, transactions), untraced, both ways."""
    fused = variant_outputs(path)
    _general(monkeypatch)
    general = variant_outputs(path)
    assert fused == general


def test_a_traced_run_polls_the_fused_way_and_appends_the_general_way(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With a trace every append is logged by `append` (the fused append is not taken); the
    fused poll logs its delivery as `_fetch` does. Both ways give the same trace."""
    taken = _counted(monkeypatch)
    data = workloads.mm1("kafka", 300)
    results = sim.run(Scenario.from_dict(data), trace=True)
    assert taken["append"] == 0 and taken["poll"] > 0
    fused = {**run_outputs(results), "trace": digest(results.trace)}
    _general(monkeypatch)
    results = sim.run(Scenario.from_dict(data), trace=True)
    assert fused == {**run_outputs(results), "trace": digest(results.trace)}


def _client_run(fused: bool) -> tuple[Any, ...]:
    """A bare cluster: keyless records sent by `send_message` (no future: fused), some with
    a future through `send` (a batch, answered with its offset), and flushes between."""
    import simpy

    from sim.brokers.kafka.cluster import KafkaCluster
    from sim.message import Message

    KafkaProducer.fused = fused
    try:
        env = simpy.Environment()
        cluster = KafkaCluster(env, initial_rebalance_delay=0)
        cluster.create_topic("t", partitions=3)
        producer = KafkaProducer(cluster, {"linger.ms": 0})
        futures = []

        def sends() -> Any:
            for i in range(60):
                msg = Message(next(cluster.message_ids), env.now, 10)
                producer.send_message("t", msg)
                if i % 7 == 0:
                    futures.append(producer.send("t", value=b"x" * 10))
                if i % 11 == 0:
                    producer.flush()
                yield env.timeout(0.01)

        env.process(sends())
        env.run(until=2.0)
        logs = [
            [
                (r.offset, r.base_offset, r.msg.id, r.size, r.batch, r.copies)
                for r in p.log.records_from(0)
            ]
            for p in cluster.all_partitions()
        ]
        answers = [(f.get().partition, f.get().offset) for f in futures]
        return logs, answers, sorted(cluster.recorder.counters.items()), producer._incomplete
    finally:
        KafkaProducer.fused = True


def test_a_bare_cluster_gets_the_same_logs_and_answers_both_ways(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    taken = _counted(monkeypatch)
    fused = _client_run(True)
    assert taken["append"] > 0
    appended = taken["append"]
    assert appended == 60  # the 9 records with a future (`send`) went in batches
    general = _client_run(False)
    assert taken["append"] == appended
    assert fused == general
    assert fused[3] == 0  # every record answered
