"""Replication: the ISR, min.insync.replicas, leader failover, and the data loss that acks=1 and
unclean leader election allow (and that acks=all with clean elections does not)."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pytest
import simpy

from sim.brokers.kafka.cluster import KafkaCluster
from sim.brokers.kafka.producer import FutureRecordMetadata, KafkaProducer
from sim.message import State


def _cluster(brokers: int, rf: int, **topic: Any) -> tuple[simpy.Environment, KafkaCluster]:
    env = simpy.Environment()
    cluster = KafkaCluster(
        env,
        brokers=brokers,
        replication_delay=0.1,
        broker_session_timeout=1.0,
        initial_rebalance_delay=0,
    )
    cluster.create_topic("t", partitions=1, replication_factor=rf, config=topic)
    return env, cluster


def _stream(
    env: simpy.Environment, producer: KafkaProducer, until: float, gap: float = 0.01
) -> list[tuple[float, FutureRecordMetadata]]:
    """Send one record every `gap` seconds until `until`; (send time, future) per record."""
    sent: list[tuple[float, FutureRecordMetadata]] = []

    def run() -> Generator[Any, Any, None]:
        while env.now < until - 1e-9:
            sent.append((env.now, producer.send("t", value=b"x" * 10)))
            yield env.timeout(gap)

    env.process(run())
    return sent


def _ids_in_log(cluster: KafkaCluster) -> list[int]:
    return [r.msg.id for r in cluster.partition("t", 0).log.records_from(0)]


def test_a_dead_follower_leaves_the_isr_when_fenced_and_returns_after_catching_up() -> None:
    env, cluster = _cluster(3, 3)
    partition = cluster.partition("t", 0)
    assert partition.replicas == [0, 1, 2] and partition.leader == 0
    _stream(env, KafkaProducer(cluster), until=10.0)
    env.run(until=1.0)
    cluster.crash_broker(2)
    env.run(until=1.99)
    assert sorted(partition.isr) == [0, 1, 2]  # the controller has not given up on it yet
    env.run(until=2.01)
    assert sorted(partition.isr) == [0, 1]
    cluster.restart_broker(2)
    env.run(until=2.2)  # one fetch round trip to catch up
    assert sorted(partition.isr) == [0, 1, 2]
    assert partition.leo[2] >= partition.hw  # it holds everything committed


def test_acks_all_waits_for_a_dead_follower_until_it_leaves_the_isr() -> None:
    env, cluster = _cluster(3, 3)
    cluster.crash_broker(2)
    producer = KafkaProducer(cluster, {"acks": "all"})
    future = producer.send("t", value=b"x")
    answered: list[float] = []
    future.add_callback(lambda f: answered.append(env.now))
    env.run(until=5.0)
    # Broker 1 copied it at 0.1 s; broker 2 never will: the HW moves once 2 is fenced at 1 s.
    assert answered == [pytest.approx(1.0)]


def test_min_insync_replicas_refuses_acks_all_writes_but_not_acks_1() -> None:
    env, cluster = _cluster(3, 3, **{"min.insync.replicas": 2})
    cluster.crash_broker(1)
    cluster.crash_broker(2)
    env.run(until=2.0)  # both fenced: the ISR is the leader alone
    assert cluster.partition("t", 0).isr == [0]
    strict = KafkaProducer(cluster, {"acks": "all", "delivery.timeout.ms": 3000}, name="strict")
    loose = KafkaProducer(cluster, {"acks": 1}, name="loose")
    refused, accepted = strict.send("t", value=b"x"), loose.send("t", value=b"y")
    env.run(until=4.0)
    assert not refused.is_done  # NOT_ENOUGH_REPLICAS is retriable: the producer keeps trying
    assert accepted.succeeded()
    env.run(until=6.0)
    assert refused.failed()  # delivery.timeout.ms ran out while it was being refused
    assert cluster.recorder.counters["kafka.not_enough_replicas"] > 1
    assert cluster.recorder.states[State.REJECTED] == 1
    assert _ids_in_log(cluster) == [2]  # only the acks=1 record was written


@pytest.mark.parametrize("acks", ["1", "all"])
def test_leader_failover_loses_acknowledged_writes_only_with_acks_1(acks: str) -> None:
    env, cluster = _cluster(2, 2)
    producer = KafkaProducer(cluster, {"acks": acks})
    sent = _stream(env, producer, until=3.0)
    crash_at = 1.005
    env.run(until=crash_at)
    cluster.crash_broker(0)
    env.run(until=10.0)
    partition = cluster.partition("t", 0)
    assert partition.leader == 1
    in_log = set(_ids_in_log(cluster))
    lost = cluster.recorder.states[State.LOST]
    # Records the leader appended within one replication delay (0.1 s) of its crash had not
    # reached the follower; their send times are 0.91 .. 1.00.
    unreplicated = [f for t, f in sent if crash_at - 0.1 < t < crash_at]
    unreplicated_ids = {i + 1 for i, (t, _) in enumerate(sent) if crash_at - 0.1 < t < crash_at}
    assert len(unreplicated) == 10
    if acks == "1":
        assert all(f.succeeded() for f in unreplicated)  # the producer was told: written
        assert lost == 10
        assert not unreplicated_ids & in_log  # gone from the new leader's log
        assert len(in_log) == len(sent) - 10
    else:
        assert lost == 0
        assert all(f.succeeded() for _, f in sent)  # retried after failover, in order
        # Idempotence: every record exactly once in the new leader's log.
        log_ids = _ids_in_log(cluster)
        assert len(log_ids) == len(set(log_ids)) == len(sent)


@pytest.mark.parametrize("unclean", [False, True])
def test_unclean_election_trades_committed_data_for_availability(unclean: bool) -> None:
    env, cluster = _cluster(2, 2, **{"unclean.leader.election.enable": unclean})
    producer = KafkaProducer(cluster, {"acks": "all"})
    sent = _stream(env, producer, until=4.9)
    env.run(until=1.0)
    cluster.crash_broker(1)  # the follower: fenced at 2.0, then the leader writes alone
    env.run(until=5.0)
    acked_alone = [f for t, f in sent if t > 2.0 and f.succeeded()]
    assert len(acked_alone) > 250  # acks=all was satisfied by an ISR of one
    cluster.crash_broker(0)  # fenced at 6.0: no replica left in the ISR
    env.run(until=6.5)
    cluster.restart_broker(1)  # out of date, and not in the ISR
    env.run(until=7.0)
    partition = cluster.partition("t", 0)
    lost = cluster.recorder.states[State.LOST]
    if unclean:
        assert partition.leader == 1 and partition.isr == [1]
        assert lost >= len(acked_alone)  # acknowledged, committed writes are gone
    else:
        assert partition.leader is None  # offline until broker 0 returns
        assert lost == 0
        cluster.restart_broker(0)
        env.run(until=8.0)
        assert partition.leader == 0
        assert cluster.recorder.states[State.LOST] == 0
