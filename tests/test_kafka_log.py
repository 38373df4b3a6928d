"""The partition log: offsets, segments, retention by time and bytes, compaction, truncation."""

from __future__ import annotations

import simpy

from sim.brokers.kafka.cluster import KafkaCluster
from sim.brokers.kafka.consumer import KafkaConsumer
from sim.brokers.kafka.log import PartitionLog, record_size
from sim.brokers.kafka.producer import KafkaProducer
from sim.message import Message, State


def _items(n: int, start_id: int = 0, size: int = 100, t: float = 0.0, key: bytes | None = None):
    return [(Message(start_id + i, t, size), key, record_size(size, key), False) for i in range(n)]


def test_offsets_are_consecutive_and_segments_roll_before_exceeding_segment_bytes() -> None:
    size = record_size(100, None)
    log = PartitionLog(segment_bytes=10 * size - 1, segment_seconds=1e9)
    offsets = []
    for i in range(35):
        offsets.extend(r.offset for r in log.append(_items(1, i), now=float(i)))
    assert offsets == list(range(35))
    assert log.log_end_offset == 35
    # A segment holds as many records as fit under segment.bytes: 9 here, never 10.
    assert [len(s) for s in log.segments] == [9, 9, 9, 8]
    assert [s.base_offset for s in log.segments] == [0, 9, 18, 27]
    assert all(s.size <= log.segment_bytes for s in log.segments)


def test_a_batch_is_never_split_across_segments() -> None:
    size = record_size(100, None)
    log = PartitionLog(segment_bytes=10 * size, segment_seconds=1e9)
    log.append(_items(7), now=0.0)
    log.append(_items(7, 7), now=1.0)  # would straddle the limit: goes whole to a new segment
    assert [len(s) for s in log.segments] == [7, 7]


def test_segments_roll_by_age() -> None:
    log = PartitionLog(segment_bytes=1e12, segment_seconds=10.0)
    for t in range(0, 35, 5):
        log.append(_items(1, t), now=float(t))
    assert [s.base_offset for s in log.segments] == [0, 2, 4, 6]  # 0,5 | 10,15 | 20,25 | 30


def test_read_and_offset_for_timestamp() -> None:
    log = PartitionLog(segment_bytes=5 * record_size(100, None), segment_seconds=1e9)
    for t in range(20):
        log.append(_items(1, t, t=float(t)), now=float(t))
    records, position = log.read(7, max_records=5, upper=20)
    assert [r.offset for r in records] == [7, 8, 9, 10, 11] and position == 12
    records, position = log.read(17, max_records=10, upper=19)  # stops at the high watermark
    assert [r.offset for r in records] == [17, 18] and position == 19
    assert log.offset_for_timestamp(12.5) == 13
    assert log.offset_for_timestamp(0.0) == 0
    assert log.offset_for_timestamp(99.0) is None


def test_truncate_removes_the_tail_only() -> None:
    log = PartitionLog(segment_bytes=5 * record_size(100, None), segment_seconds=1e9)
    for i in range(12):
        log.append(_items(1, i), now=0.0)
    removed = log.truncate_to(7)
    assert [r.offset for r in removed] == [7, 8, 9, 10, 11]
    assert log.log_end_offset == 7 and log.count == 7
    assert [r.offset for r in log.append(_items(1, 99), now=1.0)] == [7]  # offsets continue


def _cluster_with_topic(config: dict, check: float = 1.0) -> tuple[simpy.Environment, KafkaCluster]:
    env = simpy.Environment()
    cluster = KafkaCluster(
        env, retention_check_interval=check, cleaner_backoff=check, initial_rebalance_delay=0
    )
    cluster.create_topic("t", partitions=1, config=config)
    return env, cluster


def _produce_every(env: simpy.Environment, producer: KafkaProducer, gap: float, n: int, **kw):
    def run():  # type: ignore[no-untyped-def]
        for i in range(n):
            producer.send("t", value=b"x" * 100, **{k: v(i) for k, v in kw.items()})
            yield env.timeout(gap)

    env.process(run())


def test_retention_by_time_deletes_whole_segments_and_expires_unread_records() -> None:
    env, cluster = _cluster_with_topic({"retention.ms": 10_000, "segment.ms": 2_000})
    _produce_every(env, KafkaProducer(cluster), gap=0.5, n=80)  # 40 s of records
    env.run(until=41.0)
    partition = cluster.partition("t", 0)
    log = partition.log
    now = env.now
    # Nothing older than the retention survives as a whole segment; deletion is by segment.
    assert log.log_start_offset == log.segments[0].base_offset > 0
    assert log.segments[0].max_timestamp >= now - 10.0
    # The deleted segment just before: its newest record was older than the retention.
    deleted_newest = log.log_start_offset - 1
    assert deleted_newest * 0.5 < now - 10.0
    # No group ever read: every deleted record expired, the rest is backlog.
    recorder = cluster.recorder
    assert recorder.states[State.EXPIRED] == log.log_start_offset
    assert recorder.states[State.LIVE] == 80 - log.log_start_offset


def test_retention_by_bytes_keeps_the_log_just_above_the_limit() -> None:
    size = record_size(100, None)
    env, cluster = _cluster_with_topic(
        {"retention.bytes": 20 * size, "segment.bytes": 6 * size}, check=5.0
    )
    _produce_every(env, KafkaProducer(cluster), gap=0.1, n=100)
    env.run(until=12.0)
    log = cluster.partition("t", 0).log
    limit = 20 * size
    # UnifiedLog: delete the oldest segment while the rest would still be >= retention.bytes.
    assert log.size - log.segments[0].size < limit <= log.size + 6 * size
    assert log.log_start_offset == log.segments[0].base_offset
    assert log.log_start_offset % 6 == 0  # whole segments of 6 records went
    assert log.count + log.log_start_offset == 100


def test_a_consumer_behind_retention_jumps_to_the_log_start_and_its_copies_expire() -> None:
    env, cluster = _cluster_with_topic({"retention.ms": 5_000, "segment.ms": 1_000})
    _produce_every(env, KafkaProducer(cluster), gap=0.1, n=200)
    consumer = KafkaConsumer(cluster, {"group.id": "slow", "auto.offset.reset": "earliest"})
    consumer.subscribe(["t"])
    consumer.poll()  # joins; the group is assigned at once (no initial delay)
    env.run(until=0.5)
    first = consumer.poll(max_records=1)
    assert first[0].offset == 0
    consumer.processed(first[0])
    env.run(until=21.0)  # the group sleeps while retention deletes what it had not read
    log = cluster.partition("t", 0).log
    records = consumer.poll(max_records=5)
    assert records[0].offset == log.log_start_offset > 1
    expired = cluster.recorder.states[State.EXPIRED]
    assert expired == log.log_start_offset - 1  # all deleted records except the one processed


def _compacted(env_until: float, delete_retention_ms: float):
    env, cluster = _cluster_with_topic(
        {
            "cleanup.policy": "compact",
            "segment.bytes": 4 * record_size(100, b"k0"),
            "delete.retention.ms": delete_retention_ms,
        }
    )
    producer = KafkaProducer(cluster)
    # keys k0..k3 written round-robin, 5 versions each; then a tombstone for k0.
    for version in range(5):
        for k in range(4):
            producer.send("t", value=f"v{version}".encode() * 50, key=f"k{k}".encode())
    producer.send("t", value=None, key=b"k0")
    for k in range(1, 4):  # fill the segment so the tombstone's segment closes
        producer.send("t", value=b"v9" * 50, key=f"k{k}".encode())
    producer.send("t", value=b"last" * 25, key=b"k1")
    env.run(until=env_until)
    return env, cluster


def test_compaction_keeps_the_latest_value_per_key_and_keeps_offsets() -> None:
    _env, cluster = _compacted(1.5, delete_retention_ms=60_000)
    log = cluster.partition("t", 0).log
    closed = list(log.closed_records())
    keys = [r.key for r in closed]
    assert len(keys) == len(set(keys))  # at most one record per key in the cleaned segments
    # Each survivor is the latest record of its key among the closed segments.
    assert {r.key: r.offset for r in closed} == {b"k0": 20, b"k1": 21, b"k2": 22, b"k3": 23}
    assert closed[0].tombstone  # the tombstone stays for delete.retention.ms
    assert [r.offset for r in log.segments[-1].records] == [24]  # the active segment untouched
    # Superseded records nobody read were dropped by the cleaner.
    assert cluster.recorder.counters["kafka.compacted"] == 20
    assert cluster.recorder.states[State.DROPPED] == 20
    # A consumer reading from the start sees each key's latest value, offsets with gaps.
    consumer = KafkaConsumer(cluster, {"group.id": "g", "auto.offset.reset": "earliest"})
    consumer.assign([("t", 0)])
    seen = consumer.poll()
    assert [r.offset for r in seen] == [20, 21, 22, 23, 24]
    assert seen[0].value is None and seen[-1].value == b"last" * 25


def test_tombstones_go_after_delete_retention() -> None:
    _env, cluster = _compacted(30.0, delete_retention_ms=10_000)
    keys = [r.key for r in cluster.partition("t", 0).log.closed_records()]
    assert b"k0" not in keys and sorted(keys) == [b"k1", b"k2", b"k3"]


def test_a_null_key_on_a_compacted_topic_is_refused() -> None:
    env, cluster = _cluster_with_topic({"cleanup.policy": "compact"})
    future = KafkaProducer(cluster).send("t", value=b"x")
    env.run(until=1.0)
    assert future.failed() and future.exception.code == "INVALID_RECORD"
    assert cluster.recorder.states[State.REJECTED] == 1


def test_a_record_compacted_while_a_consumer_holds_it_is_processed_not_dropped() -> None:
    env, cluster = _cluster_with_topic(
        {"cleanup.policy": "compact", "segment.bytes": 2 * record_size(1, b"k")}
    )
    producer = KafkaProducer(cluster)
    for value in (b"a", b"b", b"c"):  # one key; segments [a, b] [c]: a is superseded by b
        producer.send("t", value=value, key=b"k")
    consumer = KafkaConsumer(cluster, {"group.id": "g", "auto.offset.reset": "earliest"})
    consumer.assign([("t", 0)])
    held = consumer.poll(max_records=1)[0]
    env.run(until=1.5)  # the cleaner runs: the held record is dropped from the log
    states = cluster.recorder.states
    assert held.message.state is State.DROPPED and states[State.DROPPED] == 1
    consumer.processed(held)  # the consumer had it already: its effect happened
    assert states[State.PROCESSED] == 1 and states[State.DROPPED] == 0
    assert states[State.LIVE] == 2  # b and c, still unread
