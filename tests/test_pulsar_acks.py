"""Acknowledgements and redelivery on the running Pulsar model (Pulsar 4.0.0): individual and
cumulative acks, negative acks on the tracker's tick, the ack timeout, the receiver queue and
its flow permits, the unacked-message limits, redelivery counts, dead letter and retry letter
topics. Each test names the class whose rule it checks."""

from __future__ import annotations

import itertools

import pytest

from sim.brokers.pulsar import TimeoutException
from sim.scenario import Scenario, ScenarioError
from tests.pulsar_helpers import Pulsar, drain, run, scenario


def test_individual_acks_out_of_order_keep_mark_delete_at_the_first_gap() -> None:
    # ManagedCursorImpl.asyncDelete: individually deleted ranges above mark-delete.
    p = Pulsar()
    c = p.client.subscribe("t", "s", "Shared")
    p.send(*range(5))
    got = drain(c, ack=False)
    for i in (1, 3, 4):
        c.acknowledge(got[i])
    sub = p.sub("s")
    assert sub.cursor.mark_delete == -1
    assert sub.backlog_messages == 2
    c.acknowledge(got[0])
    assert sub.cursor.mark_delete == 1  # 0 and 1 acked: it moves past both
    c.acknowledge(got[2])
    assert sub.cursor.mark_delete == 4 and sub.backlog_messages == 0


def test_a_cumulative_ack_acks_everything_up_to_the_message() -> None:
    p = Pulsar()
    c = p.client.subscribe("t", "s")  # exclusive
    p.sleep(0.01)
    p.send(*range(5))
    got = drain(c, ack=False)
    c.acknowledge_cumulative(got[3])
    sub = p.sub("s")
    assert sub.cursor.mark_delete == 3 and sub.backlog_messages == 1


def test_acks_are_grouped_for_the_ack_group_time() -> None:
    # PersistentAcknowledgmentsGroupingTracker: acks leave every acknowledgementsGroupTime.
    p = Pulsar()
    c = p.client.subscribe("t", "s", "Shared", acknowledgment_group_time_ms=100)
    p.send(0)
    c.acknowledge(c.receive(10))
    sub = p.sub("s")
    assert sub.backlog_messages == 1  # still in the client's group
    p.sleep(0.0999)
    assert sub.backlog_messages == 1
    p.sleep(0.0002)
    assert sub.backlog_messages == 0


def test_a_negative_ack_comes_back_after_the_delay_on_the_trackers_tick() -> None:
    # NegativeAcksTracker: due at nack time + negativeAckRedeliveryDelay, sent on a timer of
    # delay / 3: between delay and 4/3 delay later.
    p = Pulsar()
    c = p.client.subscribe("t", "s", "Shared", negative_ack_redelivery_delay_ms=3000)
    p.send("m")
    msg = c.receive(10)
    nacked_at = p.env.now
    c.negative_acknowledge(msg)
    with pytest.raises(TimeoutException):
        c.receive(timeout_millis=2999)
    again = c.receive(timeout_millis=2000)
    waited = p.env.now - nacked_at
    assert 3.0 <= waited <= 4.0
    assert again.data() == "m" and again.redelivery_count() == 1


def test_the_negative_ack_delay_defaults_to_one_minute_in_a_scenario() -> None:
    data = scenario(
        {"topics": [{"name": "t"}]},
        [{"name": "p", "to": "t", "rate": 1, "stop": 1.5, "properties": {"poison": "1"}}],
        [
            {
                "name": "c",
                "from": "t",
                "subscription_type": "shared",
                "poison_property": "poison",
            }
        ],
        duration=100.0,
    )
    results = run(data)
    trace = results.trace
    first = trace[(trace.event == "delivered")].groupby("message_id")["time"].apply(list)
    for times in first:
        gaps = [b - a for a, b in itertools.pairwise(times)]
        assert gaps and all(60.0 <= g <= 80.0 + 1e-9 for g in gaps)


def test_redelivery_counts_rise_with_each_negative_ack() -> None:
    p = Pulsar()
    c = p.client.subscribe("t", "s", "Shared", negative_ack_redelivery_delay_ms=100)
    p.send("m")
    counts = []
    for _ in range(4):
        msg = c.receive(timeout_millis=1000)
        counts.append(msg.redelivery_count())
        c.negative_acknowledge(msg)
    assert counts == [0, 1, 2, 3]


def test_exclusive_redelivers_everything_unacked_in_order_with_no_redelivery_count() -> None:
    # ConsumerImpl.redeliverUnacknowledgedMessages: not Shared -> all of them (the broker
    # rewinds the cursor); PersistentDispatcherSingleActiveConsumer tracks no redeliveries.
    p = Pulsar()
    c = p.client.subscribe("t", "s", negative_ack_redelivery_delay_ms=100)
    p.sleep(0.01)
    p.send(0, 1, 2)
    got = drain(c, ack=False)
    c.acknowledge(got[0])
    c.negative_acknowledge(got[2])
    again = drain(c, ack=False, wait_ms=1000)
    assert [m.data() for m in again] == [1, 2]
    assert [m.redelivery_count() for m in again] == [0, 0]


def test_the_ack_timeout_is_off_by_default() -> None:
    p = Pulsar()
    c = p.client.subscribe("t", "s", "Shared")
    p.send("m")
    c.receive(10)
    with pytest.raises(TimeoutException):
        c.receive(timeout_millis=600_000)


def test_the_ack_timeout_redelivers_between_the_timeout_and_one_tick_later() -> None:
    # UnAckedMessageTracker: ceil(timeout / tick) + 1 partitions, one taken off every tick.
    p = Pulsar()
    c = p.client.subscribe("t", "s", "Shared", unacked_messages_timeout_ms=2000)
    p.sleep(0.5)  # the tracker's ticks run from the consumer's creation
    p.send("m")
    c.receive(10)
    received_at = p.env.now
    again = c.receive(timeout_millis=5000)
    assert 2.0 <= p.env.now - received_at <= 3.0
    assert again.redelivery_count() == 1


def test_the_ack_timeout_is_at_least_one_second() -> None:
    # ConsumerBuilderImpl.ackTimeout: "Ack timeout should be greater than 1000 ms".
    data = scenario(
        {"topics": [{"name": "t"}]},
        [{"name": "p", "to": "t", "rate": 1}],
        [{"name": "c", "from": "t", "ackTimeoutMillis": 500}],
    )
    with pytest.raises(ScenarioError, match="greater than 1000 ms"):
        Scenario.from_dict(data)
    data["consumers"][0]["ackTimeoutMillis"] = 1000
    Scenario.from_dict(data)


def test_the_receiver_queue_prefetches_and_flows_permits_back_at_half() -> None:
    # ConsumerImpl: receiverQueueSize permits at subscribe; increaseAvailablePermits sends a
    # Flow once half the queue is free.
    p = Pulsar()
    a = p.client.subscribe("t", "s", "Shared", "a", receiver_queue_size=10)
    b = p.client.subscribe("t", "s", "Shared", "b", receiver_queue_size=10)
    p.send(*range(30))
    assert len(a.impl.incoming) == 10 and len(b.impl.incoming) == 10
    assert p.sub("s").ready == 10  # the rest waits at the broker
    for _ in range(4):
        a.acknowledge(a.receive(10))
    assert p.sub("s").ready == 10  # 4 free slots: no Flow yet
    a.acknowledge(a.receive(10))
    p.sleep(0.001)
    assert p.sub("s").ready == 5 and len(a.impl.incoming) == 10


def test_max_unacked_per_consumer_blocks_dispatch_until_half_are_acked() -> None:
    # Consumer.addAndGetUnAckedMsgs: blocked at maxUnackedMessagesPerConsumer;
    # removePendingAcks unblocks at half.
    p = Pulsar(maxUnackedMessagesPerConsumer=4)
    c = p.client.subscribe("t", "s", "Shared")
    p.send(*range(10))
    held = drain(c, ack=False)
    assert len(held) == 4
    c.acknowledge(held[0])
    assert drain(c, ack=False) == []  # 3 unacked: still over half
    c.acknowledge(held[1])
    p.sleep(0.001)
    assert [m.data() for m in drain(c, ack=False)] == [4, 5]  # 2 unacked -> room for 2


def test_max_unacked_per_subscription_blocks_every_consumer() -> None:
    p = Pulsar(maxUnackedMessagesPerSubscription=4, maxUnackedMessagesPerConsumer=0)
    a = p.client.subscribe("t", "s", "Shared", "a")
    b = p.client.subscribe("t", "s", "Shared", "b")
    p.send(*range(10))
    held = [(a, m) for m in drain(a, ack=False)] + [(b, m) for m in drain(b, ack=False)]
    assert len(held) == 4
    for consumer, msg in held[:2]:
        consumer.acknowledge(msg)
    p.sleep(0.001)
    assert len(drain(a, ack=False) + drain(b, ack=False)) == 0  # 2 unacked: not below half
    consumer, msg = held[2]
    consumer.acknowledge(msg)
    p.sleep(0.001)
    assert len(drain(a, ack=False) + drain(b, ack=False)) > 0


# ----- dead letter and retry letter topics -----
def test_after_max_redeliver_count_the_message_goes_to_the_dead_letter_topic() -> None:
    # ConsumerImpl.processPossibleToDLQ: a message redelivered maxRedeliverCount times goes to
    # <topic>-<subscription>-DLQ when nacked again, and is acked on the original topic.
    p = Pulsar()
    dlq = p.client.subscribe("persistent://public/default/t-s-DLQ", "audit", "Shared")
    c = p.client.subscribe(
        "t",
        "s",
        "Shared",
        negative_ack_redelivery_delay_ms=100,
        dead_letter_policy={"maxRedeliverCount": 2},
    )
    p.send("poison")
    counts = []
    for _ in range(3):
        msg = c.receive(timeout_millis=1000)
        counts.append(msg.redelivery_count())
        c.negative_acknowledge(msg)
    assert counts == [0, 1, 2]  # maxRedeliverCount redeliveries
    dead = dlq.receive(timeout_millis=1000)
    assert dead.data() == "poison"
    with pytest.raises(TimeoutException):
        c.receive(timeout_millis=1000)
    assert p.sub("s").backlog_messages == 0  # acked where it came from


def test_reconsume_later_goes_through_the_retry_topic_with_its_delay_then_to_the_dlq() -> None:
    # RetryMessageUtil / ConsumerImpl.reconsumeLater: RECONSUMETIMES + 1, delivered from
    # <topic>-<subscription>-RETRY after the delay; past maxRedeliverCount to the DLQ.
    p = Pulsar()
    dlq = p.client.subscribe("persistent://public/default/t-s-DLQ", "audit", "Shared")
    c = p.client.subscribe(
        "t", "s", "Shared", retry_enable=True, dead_letter_policy={"maxRedeliverCount": 2}
    )
    p.send("m")
    msg = c.receive(10)
    seen = []
    for _ in range(2):
        at = p.env.now
        c.reconsume_later(msg, 5.0)
        msg = c.receive(timeout_millis=10_000)
        seen.append((round(p.env.now - at), msg.properties()["RECONSUMETIMES"]))
    assert seen[0][1] == "1" and seen[1][1] == "2"
    assert all(5 <= waited <= 6 for waited, _ in seen)  # delayed delivery's 1 s tick
    assert msg.topic_name().endswith("t-s-RETRY")
    c.reconsume_later(msg, 5.0)
    assert dlq.receive(timeout_millis=1000).data() == "m"


def test_a_poison_message_in_a_scenario_ends_dead_lettered() -> None:
    data = scenario(
        {"topics": [{"name": "t"}, {"name": "t-c-DLQ"}]},
        [{"name": "p", "to": "t", "rate": 2, "stop": 10, "properties": {"poison": "1"}}],
        [
            {
                "name": "c",
                "from": "t",
                "subscription_type": "shared",
                "poison_property": "poison",
                "negativeAckRedeliveryDelay": 1000,
                "deadLetterPolicy": {"maxRedeliverCount": 3, "initialSubscriptionName": "dlq"},
            }
        ],
        duration=60.0,
    )
    results = run(data)
    s = results.summary
    assert s["dead_lettered"] == s["produced"] > 0
    assert results.conservation_gap() == 0
    trace = results.trace
    deliveries = trace[trace.event == "delivered"].groupby("message_id").size()
    assert (deliveries == 4).all()  # the first delivery and maxRedeliverCount redeliveries
