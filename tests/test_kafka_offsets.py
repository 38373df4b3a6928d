"""Offsets: commit strategies and what a crash costs under each, auto.offset.reset, seek and
replay by offset or timestamp, and several groups each reading every message."""

from __future__ import annotations

import pytest
import simpy

from sim.brokers.kafka.cluster import KafkaCluster, KafkaError
from sim.brokers.kafka.consumer import KafkaConsumer
from sim.brokers.kafka.producer import KafkaProducer
from sim.message import State


def _topic_with(n: int, gap: float = 0.0) -> tuple[simpy.Environment, KafkaCluster]:
    """One partition holding `n` records, produced `gap` seconds apart from t=0."""
    env = simpy.Environment()
    cluster = KafkaCluster(env, initial_rebalance_delay=0)
    cluster.create_topic("t", partitions=1)
    producer = KafkaProducer(cluster)

    def run():  # type: ignore[no-untyped-def]
        for i in range(n):
            producer.send("t", value=f"m{i}".encode())
            if gap:
                yield env.timeout(gap)
        yield env.timeout(0)

    env.process(run())
    env.run(until=0.001 if not gap else n * gap + 0.001)
    return env, cluster


def _consumer(cluster: KafkaCluster, name: str, **config: object) -> KafkaConsumer:
    settings = {
        "group.id": "g",
        "client.id": name,
        "auto.offset.reset": "earliest",
        "max.poll.records": 10,
        "session.timeout.ms": 1000,
        **config,
    }
    consumer = KafkaConsumer(cluster, settings)
    consumer.subscribe(["t"])
    consumer.poll()  # join; with no initial delay the assignment comes in the same instant
    return consumer


def _advance(env: simpy.Environment, seconds: float) -> None:
    env.run(until=env.now + seconds)


def _take_over(env: simpy.Environment, cluster: KafkaCluster) -> KafkaConsumer:
    """After a crash: a new member joins once the dead one's session expired, and reads all."""
    _advance(env, 1.5)
    survivor = _consumer(cluster, "b", **{"max.poll.records": 1000})
    _advance(env, 0.1)
    for record in survivor.poll():
        survivor.processed(record)
    return survivor


def _summary(cluster: KafkaCluster) -> tuple[int, int, int]:
    recorder = cluster.recorder
    processed = recorder.states[State.PROCESSED]
    return processed, recorder.processed_total - processed, recorder.states[State.LOST]


def test_auto_commit_replays_what_was_processed_since_the_last_commit() -> None:
    env, cluster = _topic_with(100)
    a = _consumer(cluster, "a", **{"auto.commit.interval.ms": 5000})
    _advance(env, 0.1)
    for record in a.poll():  # offsets 0-9; no commit yet (the interval has not passed)
        a.processed(record)
    _advance(env, 6.0)
    batch = a.poll()  # this poll auto-commits position 10, then returns offsets 10-19
    assert [r.offset for r in batch] == list(range(10, 20))
    assert a.committed(("t", 0)) == 10
    for record in batch:
        a.processed(record)
    a.crash()  # before the next auto-commit
    _take_over(env, cluster)
    assert _summary(cluster) == (100, 10, 0)  # offsets 10-19 processed twice, nothing lost


def test_commit_before_processing_loses_the_rest_of_the_batch() -> None:
    env, cluster = _topic_with(100)
    a = _consumer(cluster, "a", **{"enable.auto.commit": False})
    _advance(env, 0.1)
    batch = a.poll()
    a.commit()  # position 10, before processing anything
    for record in batch[:4]:
        a.processed(record)
    a.crash()
    _take_over(env, cluster)
    assert _summary(cluster) == (94, 0, 6)  # offsets 4-9 will never be read by the group


def test_commit_after_processing_replays_the_unfinished_batch() -> None:
    env, cluster = _topic_with(100)
    a = _consumer(cluster, "a", **{"enable.auto.commit": False})
    _advance(env, 0.1)
    for record in a.poll():
        a.processed(record)
    a.commit()  # 10
    batch = a.poll()
    for record in batch[:4]:
        a.processed(record)
    a.crash()  # 10-13 were processed but not committed
    _take_over(env, cluster)
    assert _summary(cluster) == (100, 4, 0)


@pytest.mark.parametrize(
    ("reset", "first"),
    [("earliest", 0), ("latest", 50)],
)
def test_auto_offset_reset_picks_where_a_new_group_starts(reset: str, first: int) -> None:
    env, cluster = _topic_with(50)
    consumer = _consumer(cluster, "a", **{"auto.offset.reset": reset, "max.poll.records": 500})
    _advance(env, 0.1)
    consumer.position(("t", 0))  # the reset happens when the position is first needed
    KafkaProducer(cluster).send("t", value=b"new")
    _advance(env, 0.1)
    records = consumer.poll()
    assert records[0].offset == first
    assert records[-1].value == b"new"


def test_auto_offset_reset_none_refuses_to_guess() -> None:
    env, cluster = _topic_with(5)
    consumer = _consumer(cluster, "a", **{"auto.offset.reset": "none"})
    _advance(env, 0.1)
    with pytest.raises(KafkaError, match="NO_OFFSET_FOR_PARTITION"):
        consumer.poll()


def test_a_committed_offset_wins_over_the_reset_policy() -> None:
    env, cluster = _topic_with(30)
    a = _consumer(cluster, "a", **{"enable.auto.commit": False})
    _advance(env, 0.1)
    a.commit({("t", 0): 17})
    a.close()
    _advance(env, 0.1)
    b = _consumer(cluster, "b", **{"auto.offset.reset": "latest"})
    _advance(env, 0.1)
    assert b.position(("t", 0)) == 17 and b.committed(("t", 0)) == 17
    assert b.poll()[0].offset == 17


def test_seek_replays_records_and_counts_them_as_duplicates() -> None:
    env, cluster = _topic_with(20)
    a = _consumer(cluster, "a", **{"max.poll.records": 100})
    _advance(env, 0.1)
    for record in a.poll():
        a.processed(record)
    assert a.position(("t", 0)) == 20
    a.seek(("t", 0), 5)
    replayed = a.poll()
    assert [r.offset for r in replayed] == list(range(5, 20))
    assert replayed[0].message.deliveries == 2  # the group's same copy, delivered again
    for record in replayed:
        a.processed(record)
    assert _summary(cluster) == (20, 15, 0)
    with pytest.raises(KafkaError, match="no current assignment"):
        a.seek(("t", 1), 0)


def test_seek_to_a_timestamp_replays_the_last_stretch_of_time() -> None:
    env, cluster = _topic_with(100, gap=1.0)  # one record per second, t = 0..99
    a = _consumer(cluster, "a", **{"max.poll.records": 1000})
    _advance(env, 0.1)
    for record in a.poll():
        a.processed(record)
    since = env.now - 30.0  # "the last 30 seconds"
    offsets = a.offsets_for_times({("t", 0): since})
    a.seek(("t", 0), offsets[("t", 0)])
    replayed = a.poll()
    assert replayed and all(r.timestamp >= since for r in replayed)
    assert len(replayed) == sum(1 for t in range(100) if t >= since)
    assert a.offsets_for_times({("t", 0): 1e9}) == {("t", 0): None}


def test_several_groups_each_get_every_message() -> None:
    env, cluster = _topic_with(50)
    groups = ["analytics", "billing", "audit"]
    readers = [_consumer(cluster, g, **{"group.id": g, "max.poll.records": 500}) for g in groups]
    _advance(env, 0.1)
    for reader in readers:
        records = reader.poll()
        assert [r.value for r in records] == [f"m{i}".encode() for i in range(50)]
        for record in records:
            reader.processed(record)
    recorder = cluster.recorder
    assert recorder.copies == 100  # a second and third copy of each of the 50 messages
    assert recorder.states[State.PROCESSED] == 150
    assert recorder.processed_total == 150  # no duplicates: three groups, three copies
    assert cluster.partition("t", 0).log.count == 50  # one log, read three times


def test_a_group_without_an_id_cannot_commit_or_subscribe() -> None:
    _env, cluster = _topic_with(3)
    consumer = KafkaConsumer(cluster, {"auto.offset.reset": "earliest"})
    with pytest.raises(KafkaError, match="INVALID_GROUP_ID"):
        consumer.subscribe(["t"])
    consumer.assign([("t", 0)])
    assert len(consumer.poll()) == 3
    with pytest.raises(KafkaError, match="INVALID_GROUP_ID"):
        consumer.commit()
