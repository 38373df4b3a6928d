"""Pulsar rules and defaults checked against the sources named in docs/brokers/pulsar.md's
"Sources" section: the 4.0.x configuration reference generated from ``ServiceConfiguration``
and the client's configuration classes, the dispatcher's own worked example, and the reader's
unpacking of batch entries (``ReaderImpl`` reads through a ``ConsumerImpl``)."""

from __future__ import annotations

from typing import Any

import pytest

from sim.brokers.pulsar import MessageId, settings
from sim.brokers.pulsar.backoff import Backoff
from sim.brokers.pulsar.config import PulsarConfig, PulsarConsumerConfig, PulsarProducerConfig
from tests.pulsar_helpers import Pulsar, drain

# Defaults as the 4.0.x reference lists them (apache/pulsar-site
# static/reference/4.0.x/config/reference-configuration-broker.md and
# static/reference/4.0.x/client/client-configuration-{consumer,client}.md), in Pulsar's units;
# the model stores durations in seconds.
BROKER_DEFAULTS: dict[str, float] = {
    "managedLedgerDefaultEnsembleSize": 2,
    "managedLedgerDefaultWriteQuorum": 2,
    "managedLedgerDefaultAckQuorum": 2,
    "managedLedgerMaxEntriesPerLedger": 50_000,
    "managedLedgerMinLedgerRolloverTimeMinutes": 10 * 60,
    "managedLedgerMaxLedgerRolloverTimeMinutes": 240 * 60,
    "managedLedgerMaxSizePerLedgerMbytes": 2048,
    "managedLedgerDefaultMarkDeleteRateLimit": 1.0,
    "dispatcherMaxRoundRobinBatchSize": 20,
    "activeConsumerFailoverDelayTimeMillis": 1.0,
    "maxUnackedMessagesPerConsumer": 50_000,
    "maxUnackedMessagesPerSubscription": 200_000,
    "subscriptionKeySharedConsistentHashingReplicaPoints": 100,
    "keySharedLookAheadMsgInReplayThresholdPerConsumer": 2000,
    "keySharedLookAheadMsgInReplayThresholdPerSubscription": 20_000,
    "delayedDeliveryTickTimeMillis": 1.0,
    "retentionCheckIntervalInSeconds": 120,
    "messageExpiryCheckIntervalInMinutes": 5 * 60,
    "backlogQuotaCheckIntervalInSeconds": 60,
    "defaultRetentionTimeInMinutes": 0,
    "defaultRetentionSizeInMB": 0,
    "ttlDurationDefaultInSeconds": 0,
    "backlogQuotaDefaultLimitBytes": -1,
    "backlogQuotaDefaultLimitSecond": -1,
    "metadataStoreSessionTimeoutMillis": 30.0,
    "defaultNumberOfNamespaceBundles": 4,
    "replicatedSubscriptionsSnapshotFrequencyMillis": 1.0,
    "replicatedSubscriptionsSnapshotTimeoutSeconds": 30,
    "replicatedSubscriptionsSnapshotMaxCachedPerSubscription": 10,
}
CONSUMER_DEFAULTS: dict[str, Any] = {
    "receiverQueueSize": 1000,
    "maxTotalReceiverQueueSizeAcrossPartitions": 50_000,
    "ackTimeoutMillis": 0.0,
    "tickDurationMillis": 1.0,
    "negativeAckRedeliveryDelay": 60.0,  # negativeAckRedeliveryDelayMicros = 60000000
    "acknowledgmentGroupTime": 0.1,  # acknowledgementsGroupTimeMicros = 100000
    "priorityLevel": 0,
    "subscriptionInitialPosition": "Latest",
    "replicateSubscriptionState": False,
    "retryEnable": False,
}
# ProducerConfigurationData's field initialisers (no 4.0.x producer reference page is stored).
PRODUCER_DEFAULTS: dict[str, Any] = {
    "batchingEnabled": True,
    "batchingMaxPublishDelay": 0.001,  # batchingMaxPublishDelayMicros = 1 ms
    "batchingMaxMessages": 1000,  # DEFAULT_BATCHING_MAX_MESSAGES
    "batchingMaxBytes": 128 * 1024,
    "sendTimeout": 30.0,  # sendTimeoutMs = 30000
    "hashingScheme": "JavaStringHash",
    "maxPendingMessages": 0,  # DEFAULT_MAX_PENDING_MESSAGES
    "blockIfQueueFull": False,
    "memoryLimit": 64 * 1024 * 1024,  # ClientConfigurationData.memoryLimitBytes = 67108864
}


def _defaults(model: type) -> dict[str, Any]:
    return {
        (info.alias or name): info.default
        for name, info in model.model_fields.items()  # type: ignore[attr-defined]
    }


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        (PulsarConfig, BROKER_DEFAULTS),
        (PulsarConsumerConfig, CONSUMER_DEFAULTS),
        (PulsarProducerConfig, PRODUCER_DEFAULTS),
    ],
    ids=["ServiceConfiguration", "ConsumerConfigurationData", "ProducerConfigurationData"],
)
def test_defaults_are_pulsar_4_0s(model: type, expected: dict[str, Any]) -> None:
    defaults = _defaults(model)
    wrong = {
        k: (defaults.get(k, "missing"), v) for k, v in expected.items() if defaults.get(k) != v
    }
    assert not wrong, f"(model, Pulsar 4.0.x): {wrong}"


def test_client_backoff_defaults_are_client_configuration_datas() -> None:
    # initialBackoffIntervalNanos = 100000000, maxBackoffIntervalNanos = 60000000000.
    assert (settings.INITIAL_BACKOFF, settings.MAX_BACKOFF) == (0.1, 60.0)


def test_ack_timeout_below_one_second_is_refused() -> None:
    # ConsumerBuilderImpl.ackTimeout: MIN_ACK_TIMEOUT_MILLIS = 1000, 0 turns it off.
    with pytest.raises(ValueError, match="greater than 1000 ms"):
        PulsarConsumerConfig.model_validate({"name": "c", "from": "t", "ackTimeoutMillis": 999})
    off = PulsarConsumerConfig.model_validate({"name": "c", "from": "t", "ackTimeoutMillis": 0})
    assert off.ack_timeout == 0.0


def test_a_dead_letter_policy_does_not_turn_the_ack_timeout_on() -> None:
    # Before Pulsar 3.0, ConsumerBuilderImpl.deadLetterPolicy set ackTimeoutMillis to 30000
    # (DEFAULT_ACK_TIMEOUT_MILLIS_FOR_DEAD_LETTER) when it was 0; apache/pulsar#19486 removed
    # that, so on 4.0 an unacked message of a dead-lettering consumer is never redelivered.
    p = Pulsar()
    consumer = p.client.subscribe(
        "t", "s", "Shared", "c", dead_letter_policy={"maxRedeliverCount": 1}
    )
    p.send("a")
    assert [m.data() for m in drain(consumer, ack=False)] == ["a"]
    p.sleep(120.0)
    assert drain(consumer, ack=False) == []


def test_shared_dispatch_follows_the_dispatchers_own_example() -> None:
    # AbstractDispatcherMultipleConsumers.getNextConsumer's Javadoc: consumers (priority level,
    # permits) C1 (0, 2), C2 (0, 1), C3 (0, 1), C4 (1, 2), C5 (1, 1) are served
    # C1, C2, C3, C1, C4, C5, C4: round-robin inside the highest level with permits.
    p = Pulsar(dispatcherMaxRoundRobinBatchSize=1)  # one message per pick, as in the example
    spec = [("C1", 0, 2), ("C2", 0, 1), ("C3", 0, 1), ("C4", 1, 2), ("C5", 1, 1)]
    consumers = {
        name: p.client.subscribe(
            "t", "s", "Shared", name, priority_level=level, receiver_queue_size=permits
        )
        for name, level, permits in spec
    }
    p.sleep(0.1)  # every consumer has sent its permits, nothing to dispatch yet
    p.send(*range(7))
    p.sleep(0.1)
    served = {
        msg.data(): name
        for name, consumer in consumers.items()
        for msg in drain(consumer, ack=False, wait_ms=0)
    }
    assert [served[i] for i in range(7)] == ["C1", "C2", "C3", "C1", "C4", "C5", "C4"]


def _batched(p: Pulsar, bodies: list[str]) -> None:
    producer = p.client.create_producer(
        "t", batching_enabled=True, batching_max_publish_delay_ms=10
    )
    for body in bodies:
        producer.send_async(body)
    producer.flush()
    p.sleep(0.1)


def test_a_reader_unpacks_a_batch_entry_into_its_messages() -> None:
    p = Pulsar()
    _batched(p, ["a", "b", "c"])
    _batched(p, ["d", "e"])
    assert p.topic().storage.last_index == 1  # two entries, two batches
    reader = p.client.create_reader("t", MessageId.earliest)
    read = [reader.read_next(10) for _ in range(5)]
    assert [m.data() for m in read] == ["a", "b", "c", "d", "e"]
    ids = [m.message_id() for m in read]
    assert [(i.index, i.batch_index) for i in ids] == [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1)]
    assert len({(i.ledger_id, i.entry_id) for i in ids[:3]}) == 1  # one entry, three messages
    assert not reader.has_message_available()


def test_a_reader_starts_and_seeks_inside_a_batch() -> None:
    p = Pulsar()
    _batched(p, ["a", "b", "c"])
    _batched(p, ["d"])
    first = p.client.create_reader("t", MessageId.earliest)
    b = [first.read_next(10) for _ in range(2)][1]
    after_b = p.client.create_reader("t", b.message_id())  # exclusive: c is next
    assert [after_b.read_next(10).data() for _ in range(2)] == ["c", "d"]
    from_b = p.client.create_reader("t", b.message_id(), start_message_id_inclusive=True)
    assert from_b.read_next(10).data() == "b"
    from_b.seek(b.message_id())  # seek: that message is read next
    assert [from_b.read_next(10).data() for _ in range(3)] == ["b", "c", "d"]
    d = MessageId(-1, 0, 1, -1, 1)
    assert p.client.create_reader("t", d).has_message_available() is False


def _attempts(backoff: Backoff, count: int) -> list[float]:
    """When a client that never reconnects tries its first `count` times, the connection lost
    at 0 (no random cut)."""
    now, times = 0.0, []
    for _ in range(count):
        now = round(now + backoff.next(now), 3)
        times.append(now)
    return times


def test_producer_backoff_stops_once_at_the_send_timeout() -> None:
    # Backoff.next with ProducerImpl's setMandatoryStop(max(100, sendTimeoutMs - 100)): the wait
    # that would pass 29.9 s is cut to land on it; ConsumerImpl's stop is 0, which never cuts.
    doubling = [0.1, 0.3, 0.7, 1.5, 3.1, 6.3, 12.7, 25.5]
    consumer = Backoff(lambda n: 0)
    assert _attempts(consumer, 10) == [*doubling, 51.1, 102.3]
    producer = Backoff(lambda n: 0, mandatory_stop=29.9)
    assert _attempts(producer, 10) == [*doubling, 29.9, 81.1]
    producer.reset()  # a successful connection arms the stop again
    assert _attempts(producer, 10) == [*doubling, 29.9, 81.1]
