"""Storage on the running Pulsar model (Pulsar 4.0.0): the backlog holds messages while any
subscription needs them, deletion goes by whole ledgers, retention keeps acked data for
readers, message TTL acks expired messages, the backlog quota's three policies, delayed
delivery, readers and seek. Each test names the class whose rule it checks."""

from __future__ import annotations

from typing import Any

import pytest

from sim.brokers.pulsar import TimeoutException
from sim.brokers.pulsar.api import MessageId
from sim.message import State
from tests.pulsar_helpers import Pulsar, drain, run, scenario

SMALL_LEDGERS: dict[str, Any] = {
    "managedLedgerMaxEntriesPerLedger": 10,
    "managedLedgerMinLedgerRolloverTimeMinutes": 0,
}


def test_a_message_stays_while_any_subscription_has_not_acked_it() -> None:
    p = Pulsar(**SMALL_LEDGERS)
    fast = p.client.subscribe("t", "fast", "Shared")
    slow = p.client.subscribe("t", "slow", "Shared")
    p.send(*range(35))
    drain(fast)
    storage = p.topic().storage
    assert storage.stored_count == 35  # the slow subscription has acked nothing
    drain(slow)
    assert storage.stored_count == 5  # every full ledger consumed by both: deleted


def test_storage_falls_in_whole_ledgers() -> None:
    # ManagedLedgerImpl.internalTrimLedgers: only whole ledgers before the slowest cursor go,
    # never the current one.
    p = Pulsar(**SMALL_LEDGERS)
    c = p.client.subscribe("t", "s", "Shared")
    p.send(*range(25))
    got = drain(c, ack=False)
    storage = p.topic().storage
    steps = []
    for msg in got:
        c.acknowledge(msg)
        steps.append(storage.stored_count)
    # A trim runs when the slowest cursor's mark-delete moves to another ledger
    # (ManagedLedgerImpl.updateCursor): acking entry 10 lets ledger 0 (entries 0-9) go.
    assert steps[:10] == [25] * 10
    assert steps[10] == 15
    assert steps[11:20] == [15] * 9 and steps[20] == 5
    assert steps[21:] == [5] * 4  # the current ledger stays, consumed or not


def test_retention_keeps_acked_messages_for_readers_and_then_lets_them_go() -> None:
    p = Pulsar(
        **SMALL_LEDGERS,
        topics=[
            {
                "name": "t",
                "retention_policies": {"retentionTimeInMinutes": 10, "retentionSizeInMB": -1},
            }
        ],
    )
    c = p.client.subscribe("t", "s", "Shared")
    p.send(*range(25))
    drain(c)
    storage = p.topic().storage
    assert storage.stored_count == 25 and p.sub("s").backlog_messages == 0
    reader = p.client.create_reader("t", MessageId.earliest)
    assert [reader.read_next(10).data() for _ in range(25)] == list(range(25))
    # The retention check (every retentionCheckIntervalInSeconds, 120 s) deletes ledgers
    # closed more than 10 minutes ago.
    p.sleep(10 * 60 + 120)
    assert storage.stored_count == 5
    late = p.client.create_reader("t", MessageId.earliest)
    assert late.read_next(10).data() == 20  # what retention let go is gone for readers too


def test_message_ttl_expires_what_no_consumer_acked() -> None:
    # PersistentMessageExpiryMonitor, every messageExpiryCheckIntervalInMinutes (5).
    p = Pulsar(topics=[{"name": "t", "message_ttl_in_seconds": 60}])
    p.client.subscribe("t", "s", "Shared", receiver_queue_size=0)  # nobody takes anything
    p.send(*range(3))
    sub = p.sub("s")
    p.sleep(299)
    assert sub.backlog_messages == 3  # the TTL passed, the check has not run yet
    p.sleep(2)
    assert sub.backlog_messages == 0
    copies = [m for entry in p.topic().storage.entries for m in entry.copy_in(sub.group) or ()]
    assert {m.state for m in copies} == {State.EXPIRED}


def _quota(policy: str, **more: Any) -> dict[str, Any]:
    """A producer at 20 msg/s of 1 KB; a consumer that takes 5 msg/s; a 100 KB quota."""
    return scenario(
        {
            "topics": [
                {
                    "name": "t",
                    "backlog_quota_map": {
                        "destination_storage": {"limitSize": "100KB", "policy": policy}
                    },
                }
            ],
            **more,
        },
        [{"name": "p", "to": "t", "rate": 20, "message_size": "1KB", "arrivals": "constant"}],
        [
            {
                "name": "c",
                "from": "t",
                "subscription_type": "shared",
                "service_time": "200ms",
                "receiverQueueSize": 10,
            }
        ],
        duration=300.0,
    )


@pytest.fixture(scope="module")
def quota_runs() -> dict[str, Any]:
    policies = ("producer_request_hold", "producer_exception", "consumer_backlog_eviction")
    return {policy: run(_quota(policy), trace=False) for policy in policies}


def test_backlog_quota_producer_request_hold_makes_sends_wait_then_time_out(
    quota_runs: dict[str, Any],
) -> None:
    # BacklogQuotaManager disconnects the producers; ServerCnx.handleProducer refuses them
    # with ProducerBlockedQuotaExceededError; the client keeps the messages pending and they
    # fail after sendTimeout (30 s).
    s = quota_runs["producer_request_hold"].summary
    assert s["rejected"] > 0 and s["dropped"] == 0
    assert s["pulsar.failed_sends.TimeoutException"] == s["rejected"]
    assert s.get("pulsar.quota_exceptions", 0) == 0


def test_backlog_quota_producer_exception_fails_pending_sends_at_each_refused_reconnection(
    quota_runs: dict[str, Any],
) -> None:
    # ProducerImpl.connectionOpened: on ProducerBlockedQuotaExceededException,
    # failPendingMessages; the client reconnects later with its backoff.
    s = quota_runs["producer_exception"].summary
    assert s["rejected"] > 0 and s["dropped"] == 0
    failed = s["pulsar.failed_sends.ProducerBlockedQuotaExceededException"]
    # They fail with the quota's exception at the next refused reconnection; once the
    # reconnection backoff has grown past sendTimeout (30 s), some time out first.
    timed_out = s.get("pulsar.failed_sends.TimeoutException", 0)
    assert failed > 0 and timed_out > 0
    assert failed + timed_out == s["rejected"]


def test_backlog_quota_consumer_backlog_eviction_drops_the_oldest(
    quota_runs: dict[str, Any],
) -> None:
    s = quota_runs["consumer_backlog_eviction"].summary
    assert s["dropped"] > 0 and s["rejected"] == 0  # producers never notice
    # skipEntries skips what was delivered too: a consumer that still processes one of those
    # makes it processed, not dropped.
    assert s["pulsar.evicted"] >= s["dropped"] > 0.5 * s["pulsar.evicted"]


def test_every_quota_policy_conserves_messages(quota_runs: dict[str, Any]) -> None:
    for results in quota_runs.values():
        assert results.conservation_gap() == 0


def test_delayed_delivery_waits_on_shared_but_not_on_exclusive() -> None:
    # InMemoryDelayedDeliveryTracker (delayedDeliveryTickTimeMillis 1 s); only the
    # multiple-consumers dispatchers track delays.
    p = Pulsar()
    shared = p.client.subscribe("t", "shared", "Shared")
    exclusive = p.client.subscribe("t", "exclusive")
    p.sleep(0.5)
    p.client.create_producer("t").send("later", deliver_after=10.0)
    sent = p.env.now
    assert exclusive.receive(10).data() == "later"
    with pytest.raises(TimeoutException):
        shared.receive(timeout_millis=9000)
    shared.receive(timeout_millis=2500)
    assert 10.0 - 1.0 <= p.env.now - sent <= 11.0  # not strict: within a tick


def test_seek_to_a_message_id_replays_from_it() -> None:
    p = Pulsar()
    c = p.client.subscribe("t", "s", "Shared")
    p.send(*range(5))
    got = drain(c)
    c.seek(got[2].message_id())
    p.sleep(1.0)  # the consumer reconnects after the seek
    again = drain(c)
    assert [m.data() for m in again] == [2, 3, 4]
    assert again[0].msg.processed == 0 and again[0].msg is got[2].msg  # the same copy again


def test_seek_to_a_publish_time() -> None:
    p = Pulsar()
    c = p.client.subscribe("t", "s", "Shared")
    producer = p.client.create_producer("t")
    for i in range(5):
        producer.send(i)
        p.sleep(10.0)
    drain(c)
    c.seek(25.0)  # simulated seconds: messages 3 (t=30) and 4 (t=40)
    p.sleep(1.0)
    assert [m.data() for m in drain(c)] == [3, 4]


def test_a_reader_does_not_hold_data_back() -> None:
    p = Pulsar(**SMALL_LEDGERS)
    reader = p.client.create_reader("t", MessageId.earliest)
    c = p.client.subscribe("t", "s", "Shared")
    p.send(*range(25))
    drain(c)
    assert p.topic().storage.stored_count == 5  # the reader's position kept nothing
    assert reader.read_next(10).data() == 20
