"""A commit of the positions (`commit()` with no offsets, and auto-commit) sends only the
positions the group does not already hold, and ends with the group holding what Kafka's commit
of every position (`SubscriptionState.allConsumed`) would leave: the speed trick of
`KafkaConsumer.commit` must never change what is committed."""

from __future__ import annotations

from typing import Any

import simpy

from sim.brokers.kafka.cluster import KafkaCluster
from sim.brokers.kafka.consumer import KafkaConsumer
from sim.brokers.kafka.producer import KafkaProducer

PARTITIONS = 3


def _setup() -> tuple[simpy.Environment, KafkaCluster, KafkaProducer, KafkaConsumer]:
    env = simpy.Environment()
    cluster = KafkaCluster(env, initial_rebalance_delay=0)
    cluster.create_topic("t", partitions=PARTITIONS)
    producer = KafkaProducer(cluster)
    consumer = KafkaConsumer(
        cluster,
        {
            "group.id": "g",
            "client.id": "a",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "max.poll.records": 100,
        },
    )
    consumer.subscribe(["t"])
    consumer.poll()  # joins; with no initial delay the assignment comes at once
    return env, cluster, producer, consumer


def _produce(env: simpy.Environment, producer: KafkaProducer, partition: int, n: int) -> None:
    for i in range(n):
        producer.send("t", value=f"m{i}".encode(), partition=partition)
    env.run(until=env.now + 0.01)


def _read_all(consumer: KafkaConsumer) -> None:
    for record in consumer.poll():
        consumer.processed(record)


def _spy(cluster: KafkaCluster) -> list[dict[Any, int]]:
    """What each commit brings to the group, in order."""
    group = cluster.coordinator.groups["g"]
    sent: list[dict[Any, int]] = []
    commit = group.commit

    def spying(offsets: dict[Any, int]) -> None:
        sent.append(dict(offsets))
        commit(offsets)

    group.commit = spying  # type: ignore[method-assign]
    return sent


def test_only_the_positions_that_moved_are_sent_again() -> None:
    env, cluster, producer, consumer = _setup()
    sent = _spy(cluster)
    for p in range(PARTITIONS):
        _produce(env, producer, p, 2)
    _read_all(consumer)
    consumer.commit()
    assert sent[-1] == {("t", p): 2 for p in range(PARTITIONS)}  # the first: every position
    _produce(env, producer, 1, 3)
    _read_all(consumer)
    consumer.commit()
    assert sent[-1] == {("t", 1): 5}
    group = cluster.coordinator.groups["g"]
    assert group.committed == {("t", 0): 2, ("t", 1): 5, ("t", 2): 2}


def test_a_commit_with_nothing_moved_is_still_a_commit() -> None:
    env, cluster, producer, consumer = _setup()
    _produce(env, producer, 0, 2)
    _read_all(consumer)
    consumer.commit()
    consumer.commit()
    assert cluster.recorder.counters["kafka.commits"] == 2


def test_an_offset_someone_else_committed_is_overwritten_as_by_a_full_commit() -> None:
    env, cluster, producer, consumer = _setup()
    for p in range(PARTITIONS):
        _produce(env, producer, p, 2)
    _read_all(consumer)
    consumer.commit()
    group = cluster.coordinator.groups["g"]
    group.commit({("t", 0): 0})  # another writer (a transaction, a late member's commit)
    consumer.commit()  # no position moved, but the group no longer holds them all
    assert group.committed == {("t", p): 2 for p in range(PARTITIONS)}


def test_explicit_offsets_are_overwritten_by_the_next_commit_of_the_positions() -> None:
    env, cluster, producer, consumer = _setup()
    _produce(env, producer, 2, 4)
    _read_all(consumer)
    consumer.commit()
    consumer.commit({("t", 2): 1})
    consumer.commit()
    assert cluster.coordinator.groups["g"].committed[("t", 2)] == 4


def test_a_commit_on_the_way_is_not_taken_for_what_the_group_holds() -> None:
    """With a slow consumer->broker hop, a commit sent but not landed is no proof of what the
    group holds: the next commit sends every position again."""
    from sim.distributions import Distribution, Sampler
    from sim.network import Link

    env = simpy.Environment()
    cluster = KafkaCluster(env, initial_rebalance_delay=0)
    cluster.create_topic("t", partitions=2)
    producer = KafkaProducer(cluster)
    delay = Distribution.constant(1.0)
    consumer = KafkaConsumer(
        cluster,
        {"group.id": "g", "auto.offset.reset": "earliest", "enable.auto.commit": False},
        link_out=Link(env, delay, Sampler.of(delay, None)),
    )
    consumer.subscribe(["t"])
    consumer.poll()
    sent = _spy(cluster)
    for p in range(2):
        _produce(env, producer, p, 3)
    _read_all(consumer)
    consumer.commit()
    consumer.commit()  # the first has not landed yet
    env.run(until=env.now + 3)
    assert sent == [{("t", 0): 3, ("t", 1): 3}] * 2
