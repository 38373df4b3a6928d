"""The new consumer group protocol (KIP-848, `group.protocol: consumer`) and
`max.poll.interval.ms`, driven step by step in simulated time: heartbeats carry the assignment,
members revoke only what moves and nobody stops, the coordinator's session and rebalance
timeouts, and members that stop polling leave the group on both protocols. The reconciliation
engine is checked against apache/kafka's CurrentAssignmentBuilderTest (commit 1eb7644)."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pytest
import simpy

from sim.brokers.kafka.assignors import range_server_assign
from sim.brokers.kafka.cluster import KafkaCluster, KafkaError
from sim.brokers.kafka.consumer import KafkaConsumer
from sim.brokers.kafka.group import MemberState, ModernConsumerGroup, next_member_assignment
from sim.brokers.kafka.producer import KafkaProducer
from sim.brokers.kafka.settings import ConsumerSettings

STABLE = MemberState.STABLE
UNREVOKED = MemberState.UNREVOKED_PARTITIONS
UNRELEASED = MemberState.UNRELEASED_PARTITIONS


def _tps(t1: tuple[int, ...] = (), t2: tuple[int, ...] = ()) -> set[tuple[str, int]]:
    return {("t1", p) for p in t1} | {("t2", p) for p in t2}


# ----- CurrentAssignmentBuilder (CurrentAssignmentBuilderTest) -----
# (name, state, epoch, assigned, pending, target epoch, target, owned, partition epoch,
#  expected state, expected epoch, expected assigned, expected pending)
RECONCILIATION_CASES: list[tuple[Any, ...]] = [
    ("testStableToStable", STABLE, 10, _tps((1, 2, 3), (4, 5, 6)), set(), 11,
     _tps((1, 2, 3), (4, 5, 6)), None, lambda tp: 10,
     STABLE, 11, _tps((1, 2, 3), (4, 5, 6)), set()),
    ("testStableToStableWithNewPartitions", STABLE, 10, _tps((1, 2, 3), (4, 5, 6)), set(), 11,
     _tps((1, 2, 3, 4), (4, 5, 6, 7)), None, lambda tp: -1,
     STABLE, 11, _tps((1, 2, 3, 4), (4, 5, 6, 7)), set()),
    ("testStableToUnrevokedPartitions", STABLE, 10, _tps((1, 2, 3), (4, 5, 6)), set(), 11,
     _tps((2, 3, 4), (5, 6, 7)), None, lambda tp: -1,
     UNREVOKED, 10, _tps((2, 3), (5, 6)), _tps((1,), (4,))),
    ("testStableToUnreleasedPartitions", STABLE, 10, _tps((1, 2, 3), (4, 5, 6)), set(), 11,
     _tps((1, 2, 3, 4), (4, 5, 6, 7)), None, lambda tp: 10,
     UNRELEASED, 11, _tps((1, 2, 3), (4, 5, 6)), set()),
    ("testStableToUnreleasedPartitionsWithOwnedPartitionsNotHavingRevokedPartitions",
     STABLE, 10, _tps((1, 2, 3), (4, 5, 6)), set(), 11,
     _tps((1, 2, 3), (4, 5, 7)), set(), lambda tp: 10 if tp[0] == "t2" else -1,
     UNRELEASED, 11, _tps((1, 2, 3), (4, 5)), set()),
    ("testUnrevokedPartitionsToStable", UNREVOKED, 10, _tps((2, 3), (5, 6)), _tps((1,), (4,)),
     11, _tps((2, 3), (5, 6)), _tps((2, 3), (5, 6)), lambda tp: -1,
     STABLE, 11, _tps((2, 3), (5, 6)), set()),
    ("testRemainsInUnrevokedPartitions (owned not sent)", UNREVOKED, 10, _tps((2, 3), (5, 6)),
     _tps((1,), (4,)), 12, _tps((3,), (6,)), None, lambda tp: -1,
     UNREVOKED, 10, _tps((2, 3), (5, 6)), _tps((1,), (4,))),
    ("testRemainsInUnrevokedPartitions (still owns 1)", UNREVOKED, 10, _tps((2, 3), (5, 6)),
     _tps((1,), (4,)), 12, _tps((3,), (6,)), _tps((1, 2, 3), (5, 6)), lambda tp: -1,
     UNREVOKED, 10, _tps((2, 3), (5, 6)), _tps((1,), (4,))),
    ("testRemainsInUnrevokedPartitions (still owns 4)", UNREVOKED, 10, _tps((2, 3), (5, 6)),
     _tps((1,), (4,)), 12, _tps((3,), (6,)), _tps((2, 3), (4, 5, 6)), lambda tp: -1,
     UNREVOKED, 10, _tps((2, 3), (5, 6)), _tps((1,), (4,))),
    ("testUnrevokedPartitionsToUnrevokedPartitions", UNREVOKED, 10, _tps((2, 3), (5, 6)),
     _tps((1,), (4,)), 12, _tps((3,), (6,)), _tps((2, 3), (5, 6)), lambda tp: -1,
     UNREVOKED, 11, _tps((3,), (6,)), _tps((2,), (5,))),
    ("testUnrevokedPartitionsToUnreleasedPartitions", UNREVOKED, 11, _tps((2, 3), (5, 6)),
     set(), 11, _tps((2, 3, 4), (5, 6, 7)), _tps((2, 3), (5, 6)), lambda tp: 10,
     UNRELEASED, 11, _tps((2, 3), (5, 6)), set()),
    ("testUnreleasedPartitionsToStable", UNRELEASED, 11, _tps((2, 3), (5, 6)), set(), 12,
     _tps((2, 3), (5, 6)), None, lambda tp: 10,
     STABLE, 12, _tps((2, 3), (5, 6)), set()),
    ("testUnreleasedPartitionsToStableWithNewPartitions", UNRELEASED, 11, _tps((2, 3), (5, 6)),
     set(), 11, _tps((2, 3, 4), (5, 6, 7)), None, lambda tp: -1,
     STABLE, 11, _tps((2, 3, 4), (5, 6, 7)), set()),
    ("testUnreleasedPartitionsToUnreleasedPartitions", UNRELEASED, 11, _tps((2, 3), (5, 6)),
     set(), 11, _tps((2, 3, 4), (5, 6, 7)), None, lambda tp: 10,
     UNRELEASED, 11, _tps((2, 3), (5, 6)), set()),
    ("testUnreleasedPartitionsToUnrevokedPartitions", UNRELEASED, 11, _tps((2, 3), (5, 6)),
     set(), 12, _tps((3,), (6,)), None, lambda tp: 10,
     UNREVOKED, 11, _tps((3,), (6,)), _tps((2,), (5,))),
]  # fmt: skip


@pytest.mark.parametrize("case", RECONCILIATION_CASES, ids=[c[0] for c in RECONCILIATION_CASES])
def test_reconciliation_matches_kafkas_current_assignment_builder(case: tuple[Any, ...]) -> None:
    (_, state, epoch, assigned, pending, target_epoch, target, owned, partition_epoch) = case[:9]
    want_state, want_epoch, want_assigned, want_pending = case[9:]
    result = next_member_assignment(
        state, epoch, assigned, pending, target_epoch, target, owned, partition_epoch
    )
    assert (result.state, result.epoch) == (want_state, want_epoch)
    assert result.assigned == want_assigned
    assert result.pending_revocation == want_pending


def test_an_unknown_member_state_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown member state"):
        next_member_assignment("UNKNOWN", 1, set(), set(), 2, set(), set(), lambda tp: -1)


# ----- settings -----
@pytest.mark.parametrize("setting", ["session.timeout.ms", "partition.assignment.strategy"])
def test_the_consumer_protocol_refuses_the_classic_protocols_settings(setting: str) -> None:
    value = 10_000 if setting == "session.timeout.ms" else "range"
    with pytest.raises(ValueError, match=r"cannot be set when group\.protocol=consumer"):
        ConsumerSettings.from_config({"group.protocol": "consumer", setting: value})


def test_the_classic_protocol_refuses_a_remote_assignor() -> None:
    with pytest.raises(ValueError, match=r"cannot be set when group\.protocol=classic"):
        ConsumerSettings.from_config({"group.remote.assignor": "range"})
    assert ConsumerSettings().group_protocol == "classic"  # still Kafka 4.x's default


# ----- the protocol in simulated time -----
def _cluster(partitions: int = 6, **broker: Any) -> tuple[simpy.Environment, KafkaCluster]:
    env = simpy.Environment()
    cluster = KafkaCluster(env, initial_rebalance_delay=0.0, group_settings=broker)
    cluster.create_topic("t", partitions=partitions)
    return env, cluster


def _steady_producer(env: simpy.Environment, cluster: KafkaCluster, rate: float = 200.0) -> None:
    producer = KafkaProducer(cluster)

    def run() -> Generator[Any, Any, None]:
        i = 0
        while True:
            producer.send("t", value=b"x", key=str(i).encode())
            i += 1
            yield env.timeout(1.0 / rate)

    env.process(run())


def _app(
    env: simpy.Environment,
    cluster: KafkaCluster,
    name: str,
    start: float = 0.0,
    service: float = 0.001,
    listener: Any = None,
    **config: Any,
) -> dict[str, KafkaConsumer]:
    """A consumer application (poll, process; auto-commit unless configured) from `start`."""
    holder: dict[str, KafkaConsumer] = {}

    def run() -> Generator[Any, Any, None]:
        if start:
            yield env.timeout(start)
        settings = {"group.id": "g", "client.id": name, "auto.offset.reset": "earliest"}
        consumer = KafkaConsumer(cluster, {**settings, **config})
        holder["consumer"] = consumer
        consumer.subscribe(["t"], listener(consumer) if listener else None)
        while not consumer.crashed:
            records = consumer.poll()
            if not records:
                yield consumer.wait()
                continue
            for record in records:
                yield env.timeout(service)
                if consumer.crashed:
                    return
                consumer.processed(record)
            if not consumer.settings.enable_auto_commit:
                consumer.commit()

    env.process(run())
    return holder


CONSUMER = {"group.protocol": "consumer"}


def _owned(app: dict[str, KafkaConsumer]) -> list[int]:
    return sorted(p for _, p in app["consumer"].assignment())


def test_members_learn_their_assignment_from_heartbeats_every_five_seconds() -> None:
    env, cluster = _cluster()
    a = _app(env, cluster, "a", **CONSUMER)  # heartbeats at 0, 5, 10...
    b = _app(env, cluster, "b", start=2.0, **CONSUMER)  # heartbeats at 2, 7, 12...
    env.run(until=4.9)
    assert _owned(a) == list(range(6)) and _owned(b) == []  # b waits for a's next heartbeat
    group = cluster.coordinator.groups["g"]
    assert isinstance(group, ModernConsumerGroup)
    [member_b] = [m for m in group.members.values() if m.name == "b"]
    assert member_b.state == UNRELEASED  # its target partitions are still a's
    env.run(until=5.1)
    assert len(_owned(a)) == 3 and _owned(b) == []  # a revoked at 5 s, b hears of it at 7 s
    env.run(until=7.1)
    assert sorted(_owned(a) + _owned(b)) == list(range(6)) and len(_owned(b)) == 3
    assert member_b.state == STABLE and member_b.epoch == group.group_epoch


def test_the_heartbeat_interval_is_the_brokers_setting() -> None:
    env, cluster = _cluster(**{"group.consumer.heartbeat.interval.ms": 1000})
    a = _app(env, cluster, "a", **CONSUMER)
    b = _app(env, cluster, "b", start=0.5, **CONSUMER)
    env.run(until=1.6)  # a revokes at 1 s, b takes over at 1.5 s
    assert len(_owned(a)) == 3 and len(_owned(b)) == 3


def _processed_during(protocol: dict[str, Any], window: tuple[float, float]) -> dict[str, int]:
    env, cluster = _cluster()
    cluster.coordinator.rebalance_time = 2.0  # the classic protocol's round trips
    _steady_producer(env, cluster)
    _app(env, cluster, "a", **protocol)
    _app(env, cluster, "b", **protocol)
    _app(env, cluster, "c", start=10.0, **protocol)
    env.run(until=window[0])
    before = dict(cluster.recorder.processed_by)
    env.run(until=window[1])
    after = cluster.recorder.processed_by
    return {name: after[name] - before.get(name, 0) for name in ("a", "b")}


def test_a_join_does_not_stop_the_group_under_the_consumer_protocol() -> None:
    # The same join stops an eager classic group for the whole rebalance (test_kafka_groups).
    assert _processed_during({"partition.assignment.strategy": "range"}, (10.5, 11.9)) == {
        "a": 0,
        "b": 0,
    }
    done = _processed_during(CONSUMER, (10.0, 20.0))
    assert done["a"] > 600 and done["b"] > 600  # ~200 records/s, a and b never stopped


def test_a_member_revokes_only_what_moves_and_no_partition_has_two_owners() -> None:
    env, cluster = _cluster()
    _steady_producer(env, cluster)
    a, b = _app(env, cluster, "a", **CONSUMER), _app(env, cluster, "b", **CONSUMER)
    env.run(until=9.0)
    before = {"a": set(_owned(a)), "b": set(_owned(b))}
    assert sorted(len(v) for v in before.values()) == [3, 3]
    c = _app(env, cluster, "c", start=1.0, **CONSUMER)  # joins at 10 s
    env.run(until=30.0)
    after = {"a": set(_owned(a)), "b": set(_owned(b)), "c": set(_owned(c))}
    assert after["a"] <= before["a"] and after["b"] <= before["b"]
    assert sorted(len(v) for v in after.values()) == [2, 2, 2]
    cluster.coordinator.finish()
    spans: dict[int, list[tuple[float, float]]] = {}
    for _group, _topic, p, _member, start, end in cluster.coordinator.assignment_rows:
        spans.setdefault(p, []).append((start, end))
    for intervals in spans.values():
        intervals.sort()
        assert all(intervals[i][1] <= intervals[i + 1][0] for i in range(len(intervals) - 1))
    moved = [p for p, intervals in spans.items() if any(start > 9.0 for start, _ in intervals)]
    assert len(moved) == 2  # since c joined, only the two partitions c took changed hands


def test_the_group_uses_the_assignor_the_members_ask_for() -> None:
    env, cluster = _cluster(partitions=7)
    apps = [_app(env, cluster, n, **CONSUMER, **{"group.remote.assignor": "range"}) for n in "abc"]
    env.run(until=30.0)
    group = cluster.coordinator.groups["g"]
    members = {m.member_id: m for m in group.members.values()}
    expected = range_server_assign({mid: ["t"] for mid in members}, {"t": 7})
    for mid, member in members.items():
        assert sorted(p for _, p in member.consumer.assignment()) == expected[mid].get("t", [])
    assert sorted(p for app in apps for p in _owned(app)) == list(range(7))
    assert cluster.coordinator.rebalance_rows[-1][5] == "consumer/range"


def test_an_assignor_the_broker_does_not_offer_is_refused() -> None:
    _env, cluster = _cluster(**{"group.consumer.assignors": ["uniform"]})
    consumer = KafkaConsumer(
        cluster, {"group.id": "g", "group.protocol": "consumer", "group.remote.assignor": "range"}
    )
    with pytest.raises(ValueError, match="UNSUPPORTED_ASSIGNOR"):
        consumer.subscribe(["t"])


def test_the_protocols_cannot_be_mixed_in_one_group() -> None:
    _env, cluster = _cluster()
    KafkaConsumer(cluster, {"group.id": "g", "client.id": "a", **CONSUMER}).subscribe(["t"])
    classic = KafkaConsumer(cluster, {"group.id": "g", "client.id": "b"})
    with pytest.raises(KafkaError, match="INCONSISTENT_GROUP_PROTOCOL"):
        classic.subscribe(["t"])


def test_a_crashed_member_is_removed_after_the_brokers_session_timeout() -> None:
    env, cluster = _cluster()
    _steady_producer(env, cluster)
    a = _app(env, cluster, "a", **CONSUMER)
    b = _app(env, cluster, "b", **CONSUMER)
    env.run(until=12.0)  # b's last heartbeat: 10 s
    assert len(_owned(a)) == 3
    b["consumer"].crash()
    group = cluster.coordinator.groups["g"]
    env.run(until=54.9)
    assert len(group.members) == 2 and len(_owned(a)) == 3  # nobody reads b's partitions
    env.run(until=55.1)  # 45 s after the last heartbeat (group.consumer.session.timeout.ms)
    assert len(group.members) == 1
    env.run(until=60.1)  # a's next heartbeat
    assert _owned(a) == list(range(6))
    assert cluster.coordinator.member_rows[1][5] == "crashed"


def test_a_member_that_never_revokes_is_fenced_after_its_rebalance_timeout() -> None:
    env, cluster = _cluster(partitions=2)
    group = cluster.coordinator.group("g", protocol="consumer")
    assert isinstance(group, ModernConsumerGroup)

    class Client:  # only what the coordinator reads of a member's client
        def __init__(self, client_id: str) -> None:
            self.client_id = client_id

    stubborn = group.join(Client("a"), ["t"], None, rebalance_timeout=30.0)  # type: ignore[arg-type]
    owned = group.heartbeat(stubborn, set())
    assert owned == {("t", 0), ("t", 1)}
    other = group.join(Client("b"), ["t"], None, rebalance_timeout=30.0)  # type: ignore[arg-type]
    group.heartbeat(other, set())
    group.heartbeat(stubborn, owned)  # told to give one partition up
    assert stubborn.state == UNREVOKED
    env.run(until=29.9)
    assert group.heartbeat(stubborn, owned) is not None  # still owns it, still a member
    env.run(until=30.1)
    assert group.heartbeat(stubborn, owned) is None  # fenced: FENCED_MEMBER_EPOCH
    assert group.heartbeat(other, set()) == {("t", 0), ("t", 1)}
    assert cluster.recorder.counters["kafka.members_fenced"] == 1


def test_with_a_listener_the_callbacks_wait_for_the_applications_poll(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class CommitOnRevoke:
        def __init__(self, consumer: KafkaConsumer) -> None:
            self.consumer = consumer
            self.revoked: list[tuple[float, set[tuple[str, int]]]] = []

        def on_partitions_revoked(self, revoked: set[tuple[str, int]]) -> None:
            self.revoked.append((self.consumer.env.now, revoked))
            self.consumer.commit()

        def on_partitions_assigned(self, assigned: set[tuple[str, int]]) -> None:
            pass

    env, cluster = _cluster()
    _steady_producer(env, cluster)
    listeners: list[CommitOnRevoke] = []

    polls: list[float] = []
    watched: list[KafkaConsumer] = []
    poll = KafkaConsumer.poll

    # The class's poll, timed for the watched consumers (a KafkaConsumer has slots: no
    # method of its own can be set on one).
    def timed_poll(self: KafkaConsumer, max_records: int | None = None) -> Any:
        if any(self is consumer for consumer in watched):
            polls.append(env.now)
        return poll(self, max_records)

    monkeypatch.setattr(KafkaConsumer, "poll", timed_poll)

    def make(consumer: KafkaConsumer) -> CommitOnRevoke:
        listeners.append(CommitOnRevoke(consumer))
        watched.append(consumer)
        return listeners[-1]

    # a works in batches of 4 s (20 records of 0.2 s): its heartbeat at 10 s asks it to revoke,
    # the callback runs when it next polls.
    slow = {"max.poll.records": 20, "enable.auto.commit": False, **CONSUMER}
    a = _app(env, cluster, "a", service=0.2, listener=make, **slow)
    env.run(until=8.0)
    _app(env, cluster, "b", start=1.5, **CONSUMER)  # joins at 9.5
    env.run(until=25.0)
    [(when, revoked)] = listeners[0].revoked
    assert len(revoked) == 3
    assert when in polls and when > 10.0  # in a poll, after the heartbeat at 10 s asked
    assert len(_owned(a)) == 3
    assert (
        cluster.recorder.counters["kafka.commits"] > 0
        and not cluster.recorder.counters["kafka.commits_failed"]
    )
    assert len(_owned(a)) == 3


# ----- max.poll.interval.ms -----
@pytest.mark.parametrize("protocol", [{}, CONSUMER], ids=["classic", "consumer"])
def test_a_batch_longer_than_max_poll_interval_puts_the_member_out_of_the_group(
    protocol: dict[str, Any],
) -> None:
    env, cluster = _cluster(partitions=2)
    producer = KafkaProducer(cluster)
    for i in range(200):
        producer.send("t", value=b"x", key=str(i).encode())
    env.run(until=producer.flush())
    slow = {"max.poll.interval.ms": 10_000, "max.poll.records": 30, "enable.auto.commit": False}
    # a's first poll returns 30 records at 1 s each: 30 s without a poll.
    a = _app(env, cluster, "a", service=1.0, **slow, **protocol)
    b = _app(env, cluster, "b", service=0.01, **{"enable.auto.commit": False, **protocol})
    env.run(until=9.9)
    assert len(_owned(a)) == 1 and len(_owned(b)) == 1
    recorder = cluster.recorder
    assert recorder.counters["kafka.poll_timeouts"] == 0
    env.run(until=10.1)  # 10 s after its last poll, a leaves on its own
    assert recorder.counters["kafka.poll_timeouts"] == 1
    assert [e[2] for e in recorder.events if e[1] == "a"] == [  # named as its fault target
        "left the group (max.poll.interval.ms)"
    ]
    env.run(until=20.0)
    assert _owned(b) == [0, 1]  # its partition moved to b, which read it from the start
    env.run(until=45.0)
    assert recorder.counters["kafka.commits_failed"] >= 1  # a's commit after its batch at 30 s
    rows = [row for row in cluster.coordinator.member_rows if row[1] == "a"]
    assert rows[0][5] == "left (max.poll.interval.ms)" and rows[0][4] == pytest.approx(10.0)
    assert len(rows) == 2 and rows[1][3] == pytest.approx(30.0)  # rejoined at its next poll
    # What a processed and could not commit, b processed again: duplicates.
    assert recorder.processed_total > recorder.processed_unique


def test_waiting_for_records_counts_as_polling() -> None:
    env, cluster = _cluster(partitions=2)  # no producer: everyone waits in poll
    _app(env, cluster, "a", **{"max.poll.interval.ms": 5000, **CONSUMER})
    _app(env, cluster, "b", **{"max.poll.interval.ms": 5000, "group.id": "h"})
    env.run(until=60.0)
    assert cluster.recorder.counters["kafka.poll_timeouts"] == 0
    assert all(row[5] == "active" for row in cluster.coordinator.member_rows)


def test_max_poll_interval_defaults_to_five_minutes() -> None:
    env, cluster = _cluster(partitions=1)
    _steady_producer(env, cluster, rate=5.0)
    # One batch of 10 records at 29 s each: 290 s without a poll is fine, 310 s is not.
    _app(env, cluster, "a", service=29.0, **{"max.poll.records": 10})
    env.run(until=295.0)
    assert cluster.recorder.counters["kafka.poll_timeouts"] == 0
    env.run(until=600.0)
    _app(env, cluster, "b", service=31.0, **{"max.poll.records": 10, "group.id": "h"})
    env.run(until=1000.0)
    assert cluster.recorder.counters["kafka.poll_timeouts"] == 1
