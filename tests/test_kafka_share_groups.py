"""Share groups (KIP-932) driven step by step in simulated time: acquisition and its lock, the
delivery count limit, the record locks cap, the share-partition start offset, implicit and
explicit acknowledgement, RELEASE and REJECT, scaling past the partition count, per-key order,
and where every copy ends."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pytest
import simpy

from sim.brokers.kafka.cluster import KafkaCluster, KafkaError
from sim.brokers.kafka.consumer import KafkaConsumer
from sim.brokers.kafka.producer import KafkaProducer
from sim.brokers.kafka.share import INVALID_RECORD_STATE
from sim.brokers.kafka.share_consumer import (
    AcknowledgeType,
    KafkaShareConsumer,
    ShareConsumerRecord,
)
from sim.message import State

ACCEPT, RELEASE, REJECT = AcknowledgeType.ACCEPT, AcknowledgeType.RELEASE, AcknowledgeType.REJECT


def _cluster(partitions: int = 1, **broker: Any) -> tuple[simpy.Environment, KafkaCluster]:
    env = simpy.Environment()
    cluster = KafkaCluster(env, group_settings=broker)
    cluster.create_topic("t", partitions=partitions)
    return env, cluster


def _produce(env: simpy.Environment, cluster: KafkaCluster, n: int, partition: int = 0) -> None:
    """n records to one partition, committed (below the high watermark) when this returns."""
    producer = KafkaProducer(cluster)
    for i in range(n):
        producer.send("t", value=b"x", key=f"k{i}".encode(), partition=partition)
    env.run(until=producer.flush())


def _consumer(cluster: KafkaCluster, name: str, **config: Any) -> KafkaShareConsumer:
    consumer = KafkaShareConsumer(cluster, {"group.id": "s", "client.id": name, **config})
    consumer.subscribe(["t"])
    return consumer


def _share_partition(cluster: KafkaCluster, p: int = 0) -> Any:
    return cluster.share_coordinator.groups["s"].partitions[("t", p)]


def _offsets(records: list[ShareConsumerRecord]) -> list[int]:
    return [r.offset for r in records]


# ----- acquisition and the acquisition lock -----
def test_a_record_is_acquired_by_one_member_at_a_time_and_each_acquisition_is_a_delivery() -> None:
    env, cluster = _cluster()
    a, b = _consumer(cluster, "a"), _consumer(cluster, "b")
    _produce(env, cluster, 10)
    first = a.poll(max_records=4)
    second = b.poll()
    assert _offsets(first) == [0, 1, 2, 3]
    assert _offsets(second) == [4, 5, 6, 7, 8, 9]  # b never gets what a holds
    assert {r.delivery_count for r in first + second} == {1}
    sp = _share_partition(cluster)
    assert sp.state_of(0) == ("ACQUIRED", 1) and sp.acquired == 10
    assert cluster.recorder.delivered == 10
    assert a.poll(max_records=1) == []  # a's poll accepted its four; nothing is left


def test_an_expired_lock_makes_the_record_available_again_with_one_more_delivery() -> None:
    env, cluster = _cluster(**{"group.share.record.lock.duration.ms": 2000})
    a, b = _consumer(cluster, "a"), _consumer(cluster, "b")
    _produce(env, cluster, 3)
    t0 = env.now
    assert _offsets(a.poll()) == [0, 1, 2]  # a holds them and never acknowledges
    env.run(until=t0 + 1.99)
    assert b.poll() == []
    env.run(until=t0 + 2.01)
    sp = _share_partition(cluster)
    assert [sp.state_of(o) for o in range(3)] == [("AVAILABLE", 1)] * 3
    assert cluster.recorder.counters["kafka.share.lock_timeouts"] == 3
    again = b.poll()
    assert _offsets(again) == [0, 1, 2] and {r.delivery_count for r in again} == {2}
    assert cluster.recorder.redelivered == 3


def test_a_late_acknowledgement_after_the_lock_expired_is_refused() -> None:
    env, cluster = _cluster(**{"group.share.record.lock.duration.ms": 1000})
    a = _consumer(cluster, "a", **{"share.acknowledgement.mode": "explicit"})
    b = _consumer(cluster, "b")
    _produce(env, cluster, 1)
    [record] = a.poll()
    env.run(until=env.now + 1.5)
    assert _offsets(b.poll()) == [0]  # b took it over
    a.acknowledge(record, ACCEPT)
    result = a.commit_sync()
    assert result.value == {("t", 0): INVALID_RECORD_STATE}
    assert _share_partition(cluster).state_of(0) == ("ACQUIRED", 2)  # still b's


def test_a_crashed_members_records_come_back_when_their_locks_expire() -> None:
    env, cluster = _cluster(**{"group.share.record.lock.duration.ms": 5000})
    a, b = _consumer(cluster, "a"), _consumer(cluster, "b")
    _produce(env, cluster, 5)
    t0 = env.now
    held = a.poll()
    a.crash()
    env.run(until=t0 + 4.9)
    assert b.poll() == []
    env.run(until=t0 + 5.1)
    got = b.poll()
    assert _offsets(got) == _offsets(held)
    for record in got:
        b.processed(record)
    b.poll()  # accepts them
    recorder = cluster.recorder
    assert recorder.processed_total == 5 and recorder.states[State.PROCESSED] == 5
    assert _share_partition(cluster).start_offset == 5


# ----- the delivery count limit -----
def test_a_poison_record_is_archived_after_the_default_five_deliveries() -> None:
    env, cluster = _cluster()
    a = _consumer(cluster, "a", **{"share.acknowledgement.mode": "explicit"})
    _produce(env, cluster, 2)
    counts = []
    while records := a.poll():
        for record in records:
            if record.offset == 0:
                counts.append(record.delivery_count)
                a.acknowledge(record, RELEASE)  # the application keeps failing on it
            else:
                a.acknowledge(record, ACCEPT)
    assert counts == [1, 2, 3, 4, 5]
    sp = _share_partition(cluster)
    assert sp.start_offset == 2 and sp.state_of(0) is None  # archived and behind the SPSO
    assert cluster.recorder.counters["kafka.share.archived"] == 1
    assert cluster.recorder.states[State.DROPPED] == 1  # never processed: dropped


def test_the_delivery_count_limit_also_archives_on_lock_expiry() -> None:
    env, cluster = _cluster(
        **{"group.share.delivery.count.limit": 2, "group.share.record.lock.duration.ms": 1000}
    )
    a = _consumer(cluster, "a")
    _produce(env, cluster, 1)
    sp = _share_partition(cluster)
    assert [r.delivery_count for r in a.poll()] == [1]
    env.run(until=env.now + 1.1)
    assert sp.state_of(0) == ("AVAILABLE", 1)
    a2 = _consumer(cluster, "a2")
    assert [r.delivery_count for r in a2.poll()] == [2]
    env.run(until=env.now + 1.1)  # the second lock expires: at the limit, archived
    assert sp.state_of(0) is None and sp.start_offset == 1
    assert a2.poll() == [] and cluster.recorder.states[State.DROPPED] == 1


@pytest.mark.parametrize("limit", [1, 11])
def test_the_delivery_count_limit_is_between_2_and_10(limit: int) -> None:
    with pytest.raises(ValueError, match=r"group\.share\.delivery\.count\.limit"):
        _cluster(**{"group.share.delivery.count.limit": limit})


# ----- RELEASE and REJECT -----
def test_release_gives_a_record_back_at_once_and_reject_archives_it() -> None:
    env, cluster = _cluster()
    a = _consumer(cluster, "a", **{"share.acknowledgement.mode": "explicit"})
    b = _consumer(cluster, "b", **{"share.acknowledgement.mode": "explicit"})
    _produce(env, cluster, 2)
    r0, r1 = a.poll()
    a.acknowledge(r0, RELEASE)
    a.acknowledge(r1, REJECT)
    a.commit_sync()
    sp = _share_partition(cluster)
    assert sp.state_of(0) == ("AVAILABLE", 1)
    assert sp.state_of(1) == ("ARCHIVED", 1)
    again = b.poll()
    assert _offsets(again) == [0] and again[0].delivery_count == 2  # the rejected one is gone
    assert cluster.recorder.states[State.DROPPED] == 1


# ----- implicit and explicit acknowledgement -----
def test_implicit_mode_accepts_the_previous_batch_on_the_next_poll() -> None:
    env, cluster = _cluster()
    a = _consumer(cluster, "a", **{"max.poll.records": 3})
    _produce(env, cluster, 6)
    sp = _share_partition(cluster)
    first = a.poll()
    assert _offsets(first) == [0, 1, 2]
    assert sp.start_offset == 0
    with pytest.raises(KafkaError, match="Implicit acknowledgement"):
        a.acknowledge(first[0])
    assert _offsets(a.poll()) == [3, 4, 5]  # ...and accepted 0-2
    assert [sp.state_of(o) for o in range(3)] == [None] * 3 and sp.start_offset == 3
    a.commit_sync()  # commitSync accepts the batch too
    assert sp.start_offset == 6 and sp.acquired == 0


def test_explicit_mode_needs_every_record_acknowledged_before_the_next_poll() -> None:
    env, cluster = _cluster()
    a = _consumer(cluster, "a", **{"share.acknowledgement.mode": "explicit"})
    _produce(env, cluster, 3)
    r0, r1, r2 = a.poll()
    a.acknowledge(r0, ACCEPT)
    with pytest.raises(KafkaError, match="All records must be acknowledged"):
        a.poll()
    with pytest.raises(KafkaError, match="cannot be acknowledged"):
        a.acknowledge(r0, ACCEPT)  # twice
    a.acknowledge(r1, ACCEPT)
    a.acknowledge(r2, RELEASE)
    sp = _share_partition(cluster)
    assert sp.state_of(0) == ("ACQUIRED", 1)  # acknowledgements stay local until sent
    again = a.poll()  # sends them, then fetches: the released one comes back
    assert _offsets(again) == [2] and again[0].delivery_count == 2
    assert sp.start_offset == 2
    with pytest.raises(KafkaError, match="cannot be acknowledged"):
        a.acknowledge(r1, ACCEPT)  # a record of an earlier poll


def test_acknowledgements_reach_the_broker_after_the_network_hop() -> None:
    from sim.distributions import Distribution, Sampler
    from sim.network import Link

    env, cluster = _cluster()
    delay = Distribution.constant(0.5)
    consumer = KafkaShareConsumer(
        cluster,
        {"group.id": "s", "client.id": "a"},
        link_out=Link(env, delay, Sampler.of(delay, None)),
    )
    consumer.subscribe(["t"])
    _produce(env, cluster, 2)
    consumer.poll()
    done = consumer.commit_sync()
    sp = _share_partition(cluster)
    assert not done.triggered and sp.start_offset == 0
    env.run(until=done)
    assert done.value == {("t", 0): None} and sp.start_offset == 2


def test_close_sends_acknowledgements_and_releases_the_rest() -> None:
    env, cluster = _cluster()
    a = _consumer(cluster, "a", **{"share.acknowledgement.mode": "explicit"})
    b = _consumer(cluster, "b")
    _produce(env, cluster, 4)
    records = a.poll()
    a.processed(records[0])
    a.acknowledge(records[0], ACCEPT)
    a.close()  # the other three are released at once, no lock to wait for
    sp = _share_partition(cluster)
    assert sp.start_offset == 1 and sp.available == 3
    again = b.poll()
    assert _offsets(again) == [1, 2, 3] and {r.delivery_count for r in again} == {2}


def test_an_accepted_record_never_finished_is_lost_when_its_consumer_dies() -> None:
    env, cluster = _cluster()
    a = _consumer(cluster, "a", **{"share.acknowledgement.mode": "explicit"})
    _produce(env, cluster, 2)
    r0, r1 = a.poll()
    a.acknowledge(r0, ACCEPT)  # accepted before processing (at most once)
    a.acknowledge(r1, ACCEPT)
    a.commit_sync()
    a.processed(r1)
    a.crash()
    recorder = cluster.recorder
    assert recorder.states[State.LOST] == 1 and recorder.states[State.PROCESSED] == 1
    assert _share_partition(cluster).start_offset == 2  # the group will not deliver r0 again


# ----- the record locks cap and the share-partition start offset -----
def test_the_record_locks_cap_limits_the_in_flight_window() -> None:
    env, cluster = _cluster(**{"group.share.partition.max.record.locks": 100})
    a = _consumer(
        cluster, "a", **{"share.acknowledgement.mode": "explicit", "max.poll.records": 500}
    )
    b = _consumer(cluster, "b", **{"max.poll.records": 500})
    _produce(env, cluster, 150)
    held = a.poll()
    sp = _share_partition(cluster)
    assert len(held) == 100 and sp.end_offset - sp.start_offset == 100
    assert b.poll() == []  # 50 records wait in the log: the window is full
    for record in held[1:]:
        a.acknowledge(record, ACCEPT)
    a.commit_sync()
    assert sp.start_offset == 0  # offset 0 is still acquired: the window cannot move
    assert b.poll() == []
    a.acknowledge(held[0], ACCEPT)
    a.commit_sync()
    assert sp.start_offset == 100
    assert _offsets(b.poll()) == list(range(100, 150))


def test_the_default_record_locks_cap_is_2000() -> None:
    env, cluster = _cluster()
    a = _consumer(cluster, "a", **{"max.poll.records": 5000})
    _produce(env, cluster, 2500)
    assert len(a.poll()) == 2000


def test_the_start_offset_moves_past_the_lowest_finished_records() -> None:
    env, cluster = _cluster()
    a = _consumer(cluster, "a", **{"share.acknowledgement.mode": "explicit"})
    _produce(env, cluster, 6)
    records = a.poll()
    sp = _share_partition(cluster)
    steps = []
    for offset, kind in [(2, ACCEPT), (3, REJECT), (0, ACCEPT), (1, RELEASE), (5, ACCEPT)]:
        a.acknowledge(records[offset], kind)
        a.commit_sync()
        steps.append(sp.start_offset)
    # 2 and 3 wait for 0; 0 moves it to 1; 1 is released (available, not done); 5 waits for 4.
    assert steps == [0, 0, 1, 1, 1]
    assert sp.end_offset == 6


@pytest.mark.parametrize(("reset", "first"), [("latest", 5), ("earliest", 0)])
def test_share_auto_offset_reset_decides_where_a_new_share_partition_starts(
    reset: str, first: int
) -> None:
    env, cluster = _cluster()
    _produce(env, cluster, 5)  # before the group exists
    cluster.share_coordinator.configure("s", {"share.auto.offset.reset": reset})
    a = _consumer(cluster, "a")
    _produce(env, cluster, 2)
    assert _offsets(a.poll())[0] == first
    # Records before a "latest" start are no copy of the group's: nothing to account for.
    sp = _share_partition(cluster)
    assert sp.partition.reader_start[sp.slot] == first


def test_a_share_group_and_a_consumer_group_cannot_share_a_name() -> None:
    _env, cluster = _cluster()
    _consumer(cluster, "a")
    with pytest.raises(KafkaError, match="INCONSISTENT_GROUP_PROTOCOL"):
        KafkaConsumer(cluster, {"group.id": "s"}).subscribe(["t"])


# ----- membership and assignment -----
def test_members_share_partitions_and_learn_their_assignment_from_heartbeats() -> None:
    env, cluster = _cluster(partitions=2)
    members = [_consumer(cluster, f"c{i:02d}") for i in range(12)]
    env.run(until=5.5)  # everyone has heartbeated since the last joined
    by_partition = {0: 0, 1: 0}
    for member in members:
        [(_, p)] = member.assignment()
        by_partition[p] += 1
    assert by_partition == {0: 6, 1: 6}  # 12 members on 2 partitions: 6 each


def test_a_crashed_member_leaves_the_share_group_after_the_session_timeout() -> None:
    env, cluster = _cluster(partitions=2)
    a, b = _consumer(cluster, "a"), _consumer(cluster, "b")
    env.run(until=5.5)
    assert len(a.assignment()) == 1 and len(b.assignment()) == 1
    b.crash()
    t0 = env.now
    group = cluster.share_coordinator.groups["s"]
    env.run(until=t0 + 39)  # b's last heartbeat was at 5 s: 45 s of silence not reached
    assert len(group.members) == 2
    env.run(until=t0 + 45)
    assert len(group.members) == 1
    assert len(a.assignment()) == 2  # a's next heartbeat gives it both partitions


# ----- what share groups are for -----
def _throughput(share_consumers: int, partitions: int = 2, service: float = 0.05) -> int:
    """Records processed in 20 s by a share group of `share_consumers` (0: a consumer group
    of 12 members) on a topic of `partitions` partitions fed faster than anyone can read."""
    env, cluster = _cluster(partitions=partitions)
    producer = KafkaProducer(cluster)

    def produce() -> Generator[Any, Any, None]:
        i = 0
        while True:
            producer.send("t", value=b"x", key=str(i).encode())
            i += 1
            yield env.timeout(0.0025)  # 400 records/s: more than 12 consumers can take

    def app(consumer: Any) -> Generator[Any, Any, None]:
        while True:
            records = consumer.poll()
            if not records:
                yield consumer.wait()
                continue
            for record in records:
                yield env.timeout(service)
                consumer.processed(record)

    env.process(produce())
    if share_consumers:
        for i in range(share_consumers):
            env.process(app(_consumer(cluster, f"c{i}", **{"max.poll.records": 10})))
    else:
        cluster.coordinator.initial_rebalance_delay = 0.0
        for i in range(12):
            consumer = KafkaConsumer(
                cluster, {"group.id": "g", "client.id": f"g{i}", "max.poll.records": 10}
            )
            consumer.subscribe(["t"])
            env.process(app(consumer))
    env.run(until=20)
    return cluster.recorder.processed_total


def test_throughput_keeps_scaling_past_the_partition_count() -> None:
    done = {n: _throughput(n) for n in (1, 2, 6, 12)}
    classic = _throughput(0)  # 12 members of a consumer group: only 2 can work
    per_consumer = 20 / 0.05
    assert done[1] == pytest.approx(per_consumer, rel=0.05)
    assert done[2] == pytest.approx(2 * per_consumer, rel=0.05)
    assert done[6] == pytest.approx(6 * per_consumer, rel=0.05)
    assert done[12] == pytest.approx(12 * per_consumer, rel=0.05)
    assert classic == pytest.approx(2 * per_consumer, rel=0.05)


def test_per_key_order_is_not_kept_within_a_partition() -> None:
    env, cluster = _cluster()
    producer = KafkaProducer(cluster)
    for i in range(40):
        producer.send("t", value=str(i).encode(), key=f"k{i % 4}".encode(), partition=0)
    env.run(until=producer.flush())
    finished: list[tuple[bytes, int]] = []

    def app(consumer: KafkaShareConsumer, service: float) -> Generator[Any, Any, None]:
        while True:
            records = consumer.poll()
            if not records:
                yield consumer.wait()
                continue
            for record in records:
                yield env.timeout(service)
                consumer.processed(record)
                assert record.key is not None
                finished.append((record.key, record.offset))

    cluster.share_coordinator.configure("s", {"share.auto.offset.reset": "earliest"})
    env.process(app(_consumer(cluster, "fast", **{"max.poll.records": 2}), 0.001))
    env.process(app(_consumer(cluster, "slow", **{"max.poll.records": 2}), 0.05))
    env.run(until=10)
    assert len(finished) == 40
    by_key: dict[bytes, list[int]] = {}
    for key, offset in finished:
        by_key.setdefault(key, []).append(offset)
    out_of_order = [k for k, offsets in by_key.items() if offsets != sorted(offsets)]
    assert out_of_order  # a later record of a key finished before an earlier one


# ----- accounting -----
def test_every_copy_ends_in_one_final_state_through_crashes_and_poison() -> None:
    env, cluster = _cluster(
        partitions=2,
        **{"group.share.record.lock.duration.ms": 1000, "group.share.delivery.count.limit": 3},
    )
    producer = KafkaProducer(cluster)
    for i in range(300):
        producer.send("t", value=b"x", key=str(i).encode())
    env.run(until=producer.flush())
    cluster.share_coordinator.configure("s", {"share.auto.offset.reset": "earliest"})
    poison = {("t", 0, 7), ("t", 1, 11)}

    def app(name: str, crash_at: float | None) -> Generator[Any, Any, None]:
        consumer = _consumer(cluster, name, **{"share.acknowledgement.mode": "explicit"})
        while env.now < 30:
            if crash_at is not None and env.now >= crash_at:
                consumer.crash()
                return
            records = consumer.poll(max_records=5)
            if not records:
                yield consumer.wait(timeout=0.5)
                continue
            for record in records:
                yield env.timeout(0.01)
                if (record.topic, record.partition, record.offset) in poison:
                    consumer.acknowledge(record, RELEASE)  # fails every time
                else:
                    consumer.processed(record)
                    consumer.acknowledge(record, ACCEPT)
        consumer.close()

    env.process(app("a", None))
    env.process(app("b", 0.55))  # dies holding records: their locks expire
    env.process(app("c", None))
    env.run(until=40)
    recorder = cluster.recorder
    states = recorder.states
    assert recorder.produced + recorder.copies == sum(states)
    assert states[State.LIVE] == 0
    assert states[State.DROPPED] == 2  # the poison records, after 3 deliveries each
    assert states[State.PROCESSED] == 298
    assert recorder.processed_unique == 298
    # b processed records whose acknowledgements died with it: delivered again, processed
    # twice (at least once, not exactly once).
    assert recorder.processed_total > recorder.processed_unique


def test_the_recorder_sees_ready_records_as_the_share_partition_counts_them() -> None:
    env, cluster = _cluster()
    a = _consumer(cluster, "a", **{"share.acknowledgement.mode": "explicit"})
    _produce(env, cluster, 10)
    recorder = cluster.recorder
    slot = recorder.source("t/s")
    assert recorder.ready_values[slot] == 10  # all past the SPEO, ready to be fetched
    records = a.poll(max_records=4)
    assert recorder.ready_values[slot] == 6
    a.acknowledge(records[0], RELEASE)  # one in flight becomes available again
    for record in records[1:]:
        a.acknowledge(record, ACCEPT)
    a.commit_sync()
    assert recorder.ready_values[slot] == 7 == _share_partition(cluster).ready()
    assert recorder.max_queue_depth == 10


def test_retention_moves_the_start_offset_and_what_it_deleted_ends_expired() -> None:
    env = simpy.Environment()
    cluster = KafkaCluster(env, retention_check_interval=1.0)
    cluster.create_topic("t", config={"retention.ms": 2000, "segment.ms": 500})
    cluster.share_coordinator.configure("s", {"share.auto.offset.reset": "earliest"})
    a = _consumer(cluster, "a")
    _produce(env, cluster, 5)
    held = a.poll(max_records=2)  # 0 and 1 acquired; 2-4 never fetched
    env.run(until=1.0)
    _produce(env, cluster, 3)  # a later segment that retention keeps for now
    env.run(until=3.5)
    sp = _share_partition(cluster)
    assert sp.partition.log_start_offset == 5
    assert a.poll() and sp.start_offset >= 5  # it followed the log start
    recorder = cluster.recorder
    assert recorder.states[State.EXPIRED] == 5  # 0-4, fetched or not
    for record in held:
        a.processed(record)  # a finishes what it held: those end processed after all
    assert recorder.states[State.EXPIRED] == 3 and recorder.states[State.PROCESSED] == 2


def test_a_groups_own_lock_duration_overrides_the_brokers_within_its_bounds() -> None:
    env, cluster = _cluster()
    cluster.share_coordinator.configure("s", {"share.record.lock.duration.ms": 15_000})
    a = _consumer(cluster, "a")
    _produce(env, cluster, 1)
    t0 = env.now
    a.poll()
    sp = _share_partition(cluster)
    env.run(until=t0 + 14.9)
    assert sp.state_of(0) == ("ACQUIRED", 1)  # not the broker's 30 s...
    env.run(until=t0 + 15.1)
    assert sp.state_of(0) == ("AVAILABLE", 1)  # ...the group's 15 s
    with pytest.raises(ValueError, match="15000, 60000"):
        cluster.share_coordinator.configure("s", {"share.record.lock.duration.ms": 5000})
