"""Pulsar's subscription types on the running model (Pulsar 4.0.0; each test names the class
whose rule it checks): every subscription gets every message; inside one, exclusive refuses a
second consumer, failover has one active consumer by priority and name, shared dispatches
round-robin in batches, key_shared routes by the sticky key hash."""

from __future__ import annotations

import pytest

from sim.brokers.pulsar import (
    ConsumerBusyException,
    InvalidConfigurationException,
    sticky_key_hash,
)
from sim.brokers.pulsar.selectors import ConsistentHashingSelector
from sim.brokers.pulsar.subscription import failover_ring_index
from sim.scenario import Scenario, ScenarioError
from tests.pulsar_helpers import Pulsar, drain, scenario


def test_every_subscription_gets_every_message_and_acks_on_its_own() -> None:
    p = Pulsar()
    a = p.client.subscribe("t", "a")
    b = p.client.subscribe("t", "b", consumer_type="Shared")
    p.send(*range(5))
    assert [m.data() for m in drain(a)] == list(range(5))
    assert [m.data() for m in drain(b, ack=False)] == list(range(5))
    assert p.sub("a").backlog_messages == 0  # a acked everything
    assert p.sub("b").backlog_messages == 5  # b acked nothing: its backlog is its own
    assert p.topic().storage.stored_count == 5  # stored while any subscription needs it


def test_exclusive_refuses_a_second_consumer_with_consumer_busy() -> None:
    # AbstractDispatcherSingleActiveConsumer.internalAddConsumer
    p = Pulsar()
    p.client.subscribe("t", "s")
    with pytest.raises(ConsumerBusyException, match="Exclusive consumer is already connected"):
        p.client.subscribe("t", "s")
    p.client.subscribe("t", "other")  # another subscription is another matter


def test_a_consumer_of_another_type_is_refused() -> None:
    p = Pulsar()
    p.client.subscribe("t", "s", consumer_type="Shared")
    with pytest.raises(ConsumerBusyException, match="different type"):
        p.client.subscribe("t", "s", consumer_type="Failover")


def _exclusive(**consumer: object) -> dict:
    return scenario(
        {"topics": [{"name": "t"}]},
        [{"name": "p", "to": "t", "rate": 1}],
        [{"name": "c", "from": "t", **consumer}],
    )


def test_more_than_one_replica_on_an_exclusive_subscription_is_refused_at_validation() -> None:
    with pytest.raises(ScenarioError) as caught:
        Scenario.from_dict(_exclusive(replicas=2), "x.yaml")
    message = str(caught.value)
    assert message.count("\n") == 0  # one line
    assert "consumers[0].replicas" in message and "ConsumerBusyException" in message
    assert "failover" in message
    Scenario.from_dict(_exclusive(replicas=2, subscription_type="failover"))
    Scenario.from_dict(_exclusive(replicas=1))


def test_two_exclusive_consumers_on_one_subscription_are_refused_too() -> None:
    data = _exclusive()
    data["consumers"].append({"name": "d", "from": "t", "subscription": "c"})
    with pytest.raises(ScenarioError, match="exclusive"):
        Scenario.from_dict(data)


def test_cumulative_acks_are_refused_on_shared_and_key_shared() -> None:
    # ConsumerBase.acknowledgeCumulativeAsync
    p = Pulsar()
    for kind in ("Shared", "KeyShared"):
        consumer = p.client.subscribe("t", kind, consumer_type=kind)
        p.send("m")
        msg = consumer.receive(timeout_millis=10)
        with pytest.raises(InvalidConfigurationException, match="non-exclusive/non-failover"):
            consumer.acknowledge_cumulative(msg)
    with pytest.raises(ScenarioError, match="cumulative"):
        Scenario.from_dict(
            _exclusive(subscription_type="shared", acknowledgment="cumulative", replicas=2)
        )


# ----- failover -----
def test_failover_picks_the_highest_priority_consumer_whatever_the_join_order() -> None:
    p = Pulsar()
    low = p.client.subscribe("t", "s", "Failover", "a", priority_level=1)
    high = p.client.subscribe("t", "s", "Failover", "z", priority_level=0)
    p.sleep(2.0)  # activeConsumerFailoverDelayTimeMillis after the switch to `high`
    p.send(*range(3))
    assert [m.data() for m in drain(high)] == [0, 1, 2]
    assert drain(low) == []


def test_failover_on_a_partitioned_topic_gives_partition_i_to_consumer_i_mod_n() -> None:
    # pickAndScheduleActiveConsumer: consumers sorted by priority, then name; partition i goes
    # to consumer i % N.
    p = Pulsar(topics=[{"name": "t", "partitions": 5}])
    for name in ("c", "a", "b"):  # joined out of order
        p.client.subscribe("t", "s", "Failover", name)
    p.sleep(2.0)
    active = [p.sub("s", partition=i).active.name for i in range(5)]
    assert active == ["a", "b", "c", "a", "b"]


def test_failover_on_a_non_partitioned_topic_picks_by_the_hash_ring() -> None:
    p = Pulsar()
    names = ["x", "y", "z"]
    for name in names:
        p.client.subscribe("t", "s", "Failover", name)
    topic = p.topic()
    chosen = p.sub("s").active.name
    assert chosen == names[failover_ring_index(topic.name, names)]
    # The ring is Murmur3 of (name + i), i < 100: a consumer owns about a third of it, so the
    # topic's hash decides; a different topic name may get a different consumer.
    others = {
        names[failover_ring_index(f"persistent://public/default/t{i}", names)] for i in range(30)
    }
    assert others == set(names)


def test_failover_switch_waits_the_failover_delay_and_replays_unacked() -> None:
    # scheduleReadOnActiveConsumer: the new active consumer reads after
    # activeConsumerFailoverDelayTimeMillis, from the mark-delete position (cursor.rewind).
    p = Pulsar(activeConsumerFailoverDelayTimeMillis=1000)
    first = p.client.subscribe("t", "s", "Failover", "a")
    p.sleep(1.0)  # the first active consumer waits the delay too
    p.send(*range(4))
    got = drain(first, ack=False)
    first.acknowledge(got[0])
    first.close()
    second = p.client.subscribe("t", "s", "Failover", "b")
    p.sleep(0.999)
    assert drain(second, wait_ms=0) == []  # nothing before the delay
    p.sleep(0.002)
    assert [m.data() for m in drain(second)] == [1, 2, 3]  # the unacked ones, in order


# ----- shared -----
def test_shared_dispatches_round_robin_in_batches_of_the_round_robin_batch_size() -> None:
    # PersistentDispatcherMultipleConsumers.sendMessagesToConsumers: up to
    # dispatcherMaxRoundRobinBatchSize (20) entries to one consumer, then the next one.
    p = Pulsar()
    p.client.subscribe("t", "s", "Shared", "first").close()  # the subscription exists
    p.send(*range(60))  # a backlog, with no consumer connected
    a = p.client.subscribe("t", "s", "Shared", "a")
    b = p.client.subscribe("t", "s", "Shared", "b")  # its Flow lands before the read
    assert [m.data() for m in drain(a)] == [*range(20), *range(40, 60)]
    assert [m.data() for m in drain(b)] == list(range(20, 40))


def test_a_batch_is_one_entry_and_goes_whole_to_one_consumer() -> None:
    p = Pulsar()
    a = p.client.subscribe("t", "s", "Shared", "a")
    b = p.client.subscribe("t", "s", "Shared", "b")
    producer = p.client.create_producer("t", batching_enabled=True)
    for i in range(60):
        producer.send_async(i)
    producer.flush()
    p.sleep(0.01)
    sizes = sorted([len(drain(a)), len(drain(b))])
    assert sizes == [0, 60]


def test_shared_keeps_no_order_across_redeliveries() -> None:
    p = Pulsar()
    c = p.client.subscribe(
        "t", "s", "Shared", "c", receiver_queue_size=1, negative_ack_redelivery_delay_ms=100
    )
    p.send(0, 1, 2)
    first = c.receive(10)
    c.negative_acknowledge(first)
    rest = drain(c, wait_ms=1000)
    assert [m.data() for m in rest] == [1, 2, 0]  # the nacked one comes back after the others
    assert [m.redelivery_count() for m in rest] == [0, 0, 1]


# ----- key_shared -----
def test_key_shared_sends_every_message_of_a_key_to_the_selectors_consumer_in_order() -> None:
    p = Pulsar()
    consumers = {n: p.client.subscribe("t", "s", "KeyShared", n) for n in ("c1", "c2", "c3")}
    producer = p.client.create_producer("t")
    keys = [f"k{i}" for i in range(30)]
    for round_ in range(4):
        for key in keys:
            producer.send((key, round_), partition_key=key)
    selector = p.sub("s").selector
    seen: dict[str, list[int]] = {}
    for name, consumer in consumers.items():
        for msg in drain(consumer):
            key, round_ = msg.data()
            # The consumer is the selector's choice for the key's sticky hash (Murmur3 of the
            # key into [1, 65535]).
            assert selector.select(sticky_key_hash(key)) == name
            seen.setdefault(key, []).append(round_)
    assert all(rounds == [0, 1, 2, 3] for rounds in seen.values())  # per-key order
    assert len(seen) == 30


def test_key_shared_join_blocks_moved_hashes_until_the_old_owner_acks() -> None:
    # PIP-379 (Pulsar 4.0): a hash that moves to the new consumer is "draining" while the old
    # owner holds unacked messages of it; everyone else's keys keep flowing.
    p = Pulsar()
    old = p.client.subscribe("t", "s", "KeyShared", "c1")
    producer = p.client.create_producer("t")
    keys = [f"k{i}" for i in range(40)]
    for key in keys:
        producer.send((key, 0), partition_key=key)
    held = drain(old, ack=False)  # c1 holds one unacked message of every key
    assert len(held) == 40
    new = p.client.subscribe("t", "s", "KeyShared", "c2")
    selector = p.sub("s").selector
    moved = [k for k in keys if selector.select(sticky_key_hash(k)) == "c2"]
    assert moved  # some hashes moved to c2
    for key in keys:
        producer.send((key, 1), partition_key=key)
    got_new = drain(new)
    assert got_new == []  # every moved hash is draining: c2 gets nothing yet
    stayed = [m.data() for m in drain(old, ack=False)]
    assert sorted(k for k, _ in stayed) == sorted(set(keys) - set(moved))
    assert p.sub("s").blocked_messages() == len(moved)  # the stall, visible
    for msg in held:  # c1 acks the old messages: the moved hashes drain
        if msg.data()[0] in moved:
            old.acknowledge(msg)
    p.sleep(0.1)  # keySharedUnblockingIntervalMs
    assert sorted(m.data()[0] for m in drain(new)) == sorted(moved)
    assert p.sub("s").blocked_messages() == 0


def test_allow_out_of_order_delivery_does_not_drain() -> None:
    p = Pulsar()
    old = p.client.subscribe("t", "s", "KeyShared", "c1", allow_out_of_order_delivery=True)
    producer = p.client.create_producer("t")
    keys = [f"k{i}" for i in range(40)]
    for key in keys:
        producer.send(key, partition_key=key)
    drain(old, ack=False)
    new = p.client.subscribe("t", "s", "KeyShared", "c2", allow_out_of_order_delivery=True)
    for key in keys:
        producer.send(key, partition_key=key)
    selector = p.sub("s").selector
    moved = {k for k in keys if selector.select(sticky_key_hash(k)) == "c2"}
    assert {m.data() for m in drain(new)} == moved  # at once, while c1 still holds them


def test_key_shared_stall_one_stuck_hash_stops_every_consumer() -> None:
    # isReplayQueueSizeBelowLimit: once the entries held back reach the look-ahead limit
    # (keySharedLookAheadMsgInReplayThresholdPerConsumer x consumers), nothing more is read.
    probe = ConsistentHashingSelector()
    probe.add_consumer("c1")
    probe.add_consumer("c2")
    hot = next(f"hot{i}" for i in range(1000) if probe.select(sticky_key_hash(f"hot{i}")) == "c2")
    cold = next(
        f"cold{i}" for i in range(1000) if probe.select(sticky_key_hash(f"cold{i}")) == "c1"
    )
    p = Pulsar(keySharedLookAheadMsgInReplayThresholdPerConsumer=5)
    c1 = p.client.subscribe("t", "s", "KeyShared", "c1")
    p.send("first", key=hot)
    stuck = c1.receive(10)  # c1 holds the hot key's message and does not ack it yet
    c2 = p.client.subscribe("t", "s", "KeyShared", "c2")  # the hot hash moves: draining
    p.send(*range(10), key=hot)  # held back: 10 entries, the limit for 2 consumers
    p.send("later", key=cold)  # c1's own key, not draining: still not read
    assert drain(c2) == [] and drain(c1) == []
    assert p.sub("s").held == 10
    c1.acknowledge(stuck)
    p.sleep(0.1)
    assert [m.data() for m in drain(c2)] == list(range(10))
    assert [m.data() for m in drain(c1)] == ["later"]
