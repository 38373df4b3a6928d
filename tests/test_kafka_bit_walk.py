"""The Kafka consumer's candidates as a bit mask (speed: `KafkaConsumer._bits`, the partitions
that may have records, bit i for `sorted(assignment)[i]`) and the walks that read it by
arithmetic (`KafkaConsumer.bit_walk`: one candidate's bit, the least set bit at or after the
turn's start, the set bits in turn order) against the reference walk, which visits every
partition of the turn order and tests its bit.

Each workload and scenario runs both ways and must give the same outputs, bit for bit: the
summary (with every counter), the time series, the latency CDF, the events and every table."""

from __future__ import annotations

import random
import sys
from pathlib import Path
from typing import Any

import pytest
import simpy

import sim
from sim.brokers.kafka import consumer as consumer_module
from sim.brokers.kafka.cluster import KafkaCluster
from sim.brokers.kafka.consumer import KafkaConsumer, _turn_bits
from sim.message import Message
from sim.scenario import Scenario
from tests.helpers import kafka_second_group, run_outputs, variant_outputs

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
import workloads

WORKLOADS = {
    "partitions": lambda: workloads.mm1("kafka", 3000, partitions=100),
    "consumers": lambda: workloads.mm1("kafka", 3000, partitions=20, consumers=3),
    "two-groups": lambda: kafka_second_group(workloads.mm1("kafka", 2000, partitions=30)),
    "batched-poll": lambda: workloads.mm1(
        "kafka", 3000, partitions=40, consumer={"max.poll.records": 5}
    ),
    "large-polls": lambda: workloads.mm1(
        "kafka", 3000, partitions=12, consumer={"max.poll.records": 500}
    ),
    "one-partition": lambda: workloads.mm1("kafka", 2000),
}

SCENARIOS = [
    "kafka_broker_failure.yaml",
    "kafka_consumer_crash.yaml",
    "kafka_consumer_groups.yaml",
    "kafka_rebalance_storm.yaml",
    "kafka_replay.yaml",
    "kafka_retention.yaml",
    "kafka_scaling.yaml",
]


def _counted(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Count the polls that found two candidates or more (the walks that differ), and the
    reference walks taken (`itertools.chain` over the whole turn order)."""
    seen = {"several": 0, "reference": 0}
    poll = KafkaConsumer.poll
    chain = consumer_module.itertools.chain

    def counted(self: KafkaConsumer, max_records: int | None = None) -> list[Any]:
        bits = self._bits
        if bits & (bits - 1) and self.cluster.epoch == self._epoch:
            seen["several"] += 1
        return poll(self, max_records)

    class Counting:
        @staticmethod
        def chain(*ranges: Any) -> Any:
            seen["reference"] += 1
            return chain(*ranges)

    monkeypatch.setattr(KafkaConsumer, "poll", counted)
    monkeypatch.setattr(consumer_module, "itertools", Counting)
    return seen


@pytest.mark.parametrize("name", sorted(WORKLOADS))
def test_the_bit_walk_gives_what_the_reference_walk_gives(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = _counted(monkeypatch)
    fast = run_outputs(sim.run(Scenario.from_dict(WORKLOADS[name]())))
    assert seen["reference"] == 0
    if name != "one-partition":
        assert seen["several"] > 0  # polls with several candidates were taken
    monkeypatch.setattr(KafkaConsumer, "bit_walk", False)
    reference = run_outputs(sim.run(Scenario.from_dict(WORKLOADS[name]())))
    assert seen["reference"] > 0
    assert fast == reference


@pytest.mark.parametrize("path", SCENARIOS)
def test_the_bit_walk_gives_the_same_scenarios(path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every variant of the Kafka scenarios (failures, crashes, rebalances, retention),
    traced as they are, both ways."""
    fast = variant_outputs(path)
    monkeypatch.setattr(KafkaConsumer, "bit_walk", False)
    reference = variant_outputs(path)
    assert fast == reference


def test_turn_bits_lists_the_set_bits_from_the_start_then_wrapped() -> None:
    rng = random.Random(7)
    for _ in range(500):
        size = rng.randint(1, 200)
        bits = rng.getrandbits(size) & rng.getrandbits(size)
        start = rng.randrange(size)
        expected = [i for i in range(start, size) if bits >> i & 1]
        expected += [i for i in range(start) if bits >> i & 1]
        assert list(_turn_bits(bits, start)) == expected


def _bare_polls(bit_walk: bool, budget: int) -> list[tuple[int, int]]:
    """A bare cluster: one consumer assigned 70 partitions, records on random partitions
    between polls of `budget` records: the (partition, offset) of every record polled."""
    KafkaConsumer.bit_walk = bit_walk
    try:
        env = simpy.Environment()
        cluster = KafkaCluster(env, initial_rebalance_delay=0)
        cluster.create_topic("t", partitions=70)
        consumer = KafkaConsumer(
            cluster,
            {"group.id": "g", "max.poll.records": budget, "auto.offset.reset": "earliest"},
        )
        consumer.assign(("t", p) for p in range(70))
        rng = random.Random(3)
        polled: list[tuple[int, int]] = []
        for step in range(400):
            for _ in range(rng.randint(0, 6)):
                msg = Message(next(cluster.message_ids), env.now, 10)
                partition = cluster.partition("t", rng.randrange(70))
                partition.append_alone(msg, None, 18, False, 1, step, 1)
            polled += [(r.partition, r.offset) for r in consumer.poll()]
        return polled
    finally:
        KafkaConsumer.bit_walk = True


@pytest.mark.parametrize("budget", [1, 3, 500])
def test_a_bare_consumer_polls_the_same_records_in_the_same_order_both_ways(budget: int) -> None:
    fast, reference = _bare_polls(True, budget), _bare_polls(False, budget)
    assert len(fast) >= min(400 * budget, 1000)
    assert fast == reference
    # Each partition's records in offset order, each once.
    for p in range(70):
        offsets = [offset for partition, offset in fast if partition == p]
        assert offsets == list(range(len(offsets)))
