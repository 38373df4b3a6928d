"""Static membership (KIP-345, `group.instance.id`) in the running classic group: a static
member closes or crashes without LeaveGroup, comes back with its instance id and takes its old
assignment without a rebalance, unless its session timed out meanwhile; static members come
first in the assignors' order; a static member over max.poll.interval.ms stops heartbeating
instead of leaving."""

from __future__ import annotations

from typing import Any

import simpy

from sim.brokers.kafka.cluster import KafkaCluster
from sim.brokers.kafka.consumer import KafkaConsumer
from sim.brokers.kafka.group import ConsumerGroup, ModernConsumerGroup


def _cluster(partitions: int = 4) -> tuple[simpy.Environment, KafkaCluster]:
    env = simpy.Environment()
    cluster = KafkaCluster(env, initial_rebalance_delay=0.0)
    cluster.create_topic("t", partitions=partitions)
    return env, cluster


def _member(cluster: KafkaCluster, name: str, **config: Any) -> KafkaConsumer:
    settings = {"group.id": "g", "client.id": name, "session.timeout.ms": 10_000, **config}
    consumer = KafkaConsumer(cluster, settings)
    consumer.subscribe(["t"])
    return consumer


def _settle(env: simpy.Environment, consumers: list[KafkaConsumer], until: float) -> None:
    """Let time pass with every live member polling (rejoining rebalances)."""
    while env.now < until:
        for consumer in consumers:
            if not consumer.crashed and not consumer._closed:
                consumer.poll()
        env.run(until=min(until, env.now + 0.1))


def _group(cluster: KafkaCluster) -> ConsumerGroup:
    group = cluster.coordinator.groups["g"]
    assert isinstance(group, ConsumerGroup)
    return group


def test_a_static_member_back_within_its_session_keeps_its_partitions_without_a_rebalance() -> None:
    env, cluster = _cluster()
    a = _member(cluster, "a", **{"group.instance.id": "a"})
    b = _member(cluster, "b", **{"group.instance.id": "b"})
    _settle(env, [a, b], 1.0)
    group = _group(cluster)
    before, generation = a.assignment(), group.generation
    assert before and b.assignment() and not before & b.assignment()
    a.close()  # no LeaveGroup: the coordinator keeps a's place
    _settle(env, [b], 6.0)
    assert group.generation == generation and b.assignment() | before == {
        ("t", p) for p in range(4)
    }
    again = _member(cluster, "a-restarted", **{"group.instance.id": "a"})
    _settle(env, [again, b], 7.0)
    assert again.assignment() == before
    assert group.generation == generation  # nobody rebalanced
    assert cluster.recorder.counters["kafka.static_rejoins"] == 1
    rows = cluster.coordinator.member_rows
    assert [r[5] for r in rows if r[1] == "a"] == ["replaced (static member rejoined)"]


def test_a_dynamic_member_restarting_costs_two_rebalances() -> None:
    env, cluster = _cluster()
    a, b = _member(cluster, "a"), _member(cluster, "b")
    _settle(env, [a, b], 1.0)
    generation = _group(cluster).generation
    a.close()  # LeaveGroup: b takes everything at once
    _settle(env, [b], 2.0)
    assert b.assignment() == {("t", p) for p in range(4)}
    again = _member(cluster, "a2")
    _settle(env, [again, b], 3.0)
    assert _group(cluster).generation == generation + 2
    assert again.assignment() and "kafka.static_rejoins" not in cluster.recorder.counters


def test_a_static_member_away_longer_than_its_session_timeout_is_removed() -> None:
    env, cluster = _cluster()
    a = _member(cluster, "a", **{"group.instance.id": "a"})
    b = _member(cluster, "b", **{"group.instance.id": "b"})
    _settle(env, [a, b], 1.0)
    generation = _group(cluster).generation
    a.close()
    _settle(env, [b], 10.9)
    assert b.assignment() != {("t", p) for p in range(4)}  # still waiting for a
    _settle(env, [b], 11.5)  # session.timeout.ms (10 s) after the close at 1 s
    assert b.assignment() == {("t", p) for p in range(4)}
    assert _group(cluster).generation == generation + 1
    assert [r[5] for r in cluster.coordinator.member_rows if r[1] == "a"] == ["session timeout"]


def test_a_rejoin_with_a_new_subscription_rebalances() -> None:
    env, cluster = _cluster()
    cluster.create_topic("u", partitions=2)
    a = _member(cluster, "a", **{"group.instance.id": "a"})
    b = _member(cluster, "b", **{"group.instance.id": "b"})
    _settle(env, [a, b], 1.0)
    generation = _group(cluster).generation
    a.close()
    again = KafkaConsumer(cluster, {"group.id": "g", "client.id": "a2", "group.instance.id": "a"})
    again.subscribe(["t", "u"])
    _settle(env, [again, b], 2.0)
    assert _group(cluster).generation == generation + 1
    assert ("u", 0) in again.assignment() | b.assignment()


def test_static_members_come_first_by_instance_id_in_the_range_assignment() -> None:
    env, cluster = _cluster(partitions=3)
    # Member ids sort dynamic "a-..." before static "z-...": the instance id puts z first.
    dynamic = _member(cluster, "a")
    static = _member(cluster, "zz", **{"group.instance.id": "z"})
    _settle(env, [dynamic, static], 1.0)
    assert static.assignment() == {("t", 0), ("t", 1)}  # range: the first member gets 2 of 3
    assert dynamic.assignment() == {("t", 2)}


def test_a_static_member_over_the_poll_interval_stops_heartbeating_instead_of_leaving() -> None:
    env, cluster = _cluster()
    config = {"group.instance.id": "a", "max.poll.interval.ms": 2_000}
    a = _member(cluster, "a", **config)
    b = _member(cluster, "b", **{"group.instance.id": "b", "max.poll.interval.ms": 60_000})
    _settle(env, [a, b], 1.0)
    group, mine = _group(cluster), a.assignment()
    generation = group.generation
    _settle(env, [b], 5.0)  # a stops polling: after 2 s it is out, but still a member
    assert cluster.recorder.counters["kafka.poll_timeouts"] == 1
    assert group.generation == generation and len(group.members) == 2
    a.poll()  # back: it rejoins with its instance id and gets its partitions again
    _settle(env, [a, b], 6.0)
    assert a.assignment() == mine and group.generation == generation


# ----- static members on the consumer protocol (KIP-848) -----


def _modern(cluster: KafkaCluster, name: str, instance: str | None) -> KafkaConsumer:
    settings: dict[str, Any] = {"group.id": "m", "client.id": name, "group.protocol": "consumer"}
    if instance is not None:
        settings["group.instance.id"] = instance
    consumer = KafkaConsumer(cluster, settings)
    consumer.subscribe(["t"])
    return consumer


def _modern_group(cluster: KafkaCluster) -> ModernConsumerGroup:
    group = cluster.coordinator.groups["m"]
    assert isinstance(group, ModernConsumerGroup)
    return group


def test_consumer_protocol_static_member_back_within_its_session_keeps_its_partitions() -> None:
    """A static member closes with a heartbeat of epoch -2 and comes back under a new member
    id: it gets its assignment again and the group epoch does not move, so nobody else
    revokes or receives anything (GroupMetadataManager consumerGroupStaticMemberGroupLeave,
    getOrMaybeSubscribeStaticConsumerGroupMember, replaceMember)."""
    env, cluster = _cluster()
    a, b = _modern(cluster, "a", "a"), _modern(cluster, "b", "b")
    _settle(env, [a, b], 12.0)
    group = _modern_group(cluster)
    mine, theirs, epoch = a.assignment(), b.assignment(), group.group_epoch
    assert mine and theirs and not mine & theirs
    a.close()
    _settle(env, [b], 30.0)  # within the broker's 45 s session timeout
    assert group.group_epoch == epoch and b.assignment() == theirs  # b does not take a's
    again = _modern(cluster, "a-restarted", "a")
    _settle(env, [again, b], 40.0)
    assert again.assignment() == mine and b.assignment() == theirs
    assert group.group_epoch == epoch  # no rebalance at all
    assert cluster.recorder.counters["kafka.static_rejoins"] == 1
    rows = cluster.coordinator.member_rows
    assert [r[5] for r in rows if r[1] == "a"] == ["replaced (static member rejoined)"]


def test_consumer_protocol_dynamic_member_restarting_moves_partitions_twice() -> None:
    env, cluster = _cluster()
    a, b = _modern(cluster, "a", None), _modern(cluster, "b", None)
    _settle(env, [a, b], 12.0)
    epoch = _modern_group(cluster).group_epoch
    a.close()  # epoch -1: a leaves at once and b is given everything
    _settle(env, [b], 30.0)
    assert b.assignment() == {("t", p) for p in range(4)}
    again = _modern(cluster, "a2", None)
    _settle(env, [again, b], 45.0)
    assert _modern_group(cluster).group_epoch == epoch + 2
    assert again.assignment() and b.assignment() != {("t", p) for p in range(4)}


def test_consumer_protocol_static_member_away_past_its_session_is_removed() -> None:
    env, cluster = _cluster()
    a, b = _modern(cluster, "a", "a"), _modern(cluster, "b", "b")
    _settle(env, [a, b], 12.0)
    epoch = _modern_group(cluster).group_epoch
    a.close()
    _settle(env, [b], 70.0)  # past group.consumer.session.timeout.ms (45 s)
    group = _modern_group(cluster)
    assert group.group_epoch == epoch + 1 and "a" not in group.static
    assert b.assignment() == {("t", p) for p in range(4)}
    rows = cluster.coordinator.member_rows
    assert [r[5] for r in rows if r[1] == "a"] == ["session timeout"]


def test_consumer_protocol_crashed_static_member_cannot_come_back_until_its_session_ends() -> None:
    """A crash sends no leave heartbeat: the instance id is still owned, so the restarted
    member is refused (UNRELEASED_INSTANCE_ID) until the old member's session expires; then it
    joins as a new member and the group rebalances."""
    env, cluster = _cluster()
    a, b = _modern(cluster, "a", "a"), _modern(cluster, "b", "b")
    _settle(env, [a, b], 12.0)
    epoch = _modern_group(cluster).group_epoch
    a.crash()
    again = _modern(cluster, "a-restarted", "a")
    _settle(env, [again, b], 30.0)
    assert again.assignment() == set()
    assert cluster.recorder.counters["kafka.unreleased_instance_id"] >= 1
    _settle(env, [again, b], 90.0)
    group = _modern_group(cluster)
    assert again.assignment() and group.group_epoch == epoch + 2  # removed, then joined
    assert "kafka.static_rejoins" not in cluster.recorder.counters
