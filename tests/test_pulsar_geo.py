"""Geo-replication on the Pulsar model (Pulsar 4.0.0): replicators copy each message to the other
clusters after the replication delay, hold what they could not send and resend it; replicated
subscriptions snapshot their cursor and move the other clusters' subscriptions, so a consumer
that fails over re-reads what it acked after the last snapshot."""

from __future__ import annotations

from typing import Any

import pytest

from sim.brokers.pulsar import TimeoutException
from sim.brokers.pulsar.api import PulsarClient
from tests.pulsar_helpers import Pulsar, drain, run, scenario

GEO: dict[str, Any] = {
    "clusters": [{"name": "east"}, {"name": "west"}],
    "namespaces": [{"name": "public/default", "replication_clusters": ["east", "west"]}],
}


def _geo(**more: Any) -> Pulsar:
    return Pulsar(**GEO, **more)


def test_a_message_reaches_the_other_cluster_after_the_replication_delay() -> None:
    p = _geo(replication_delay="500ms")
    west = PulsarClient(p.service, "w", cluster="west")
    consumer = west.subscribe("t", "s", "Shared")
    p.client.create_producer("t").send("hello")  # the client's cluster: east
    sent = p.env.now
    with pytest.raises(TimeoutException):
        consumer.receive(timeout_millis=499)
    assert consumer.receive(timeout_millis=10).data() == "hello"
    assert p.env.now - sent == pytest.approx(0.5)


def test_a_replicated_message_is_not_replicated_back() -> None:
    # PersistentReplicator.readEntriesComplete discards what was replicated into this region.
    p = _geo(replication_delay="100ms")
    p.client.create_producer("t").send("once")
    p.sleep(5.0)
    east, west = p.topic(cluster=0), p.topic(cluster=1)
    assert east.storage.total_count == west.storage.total_count == 1
    assert all(r.backlog() == 0 for r in (*east.replicators, *west.replicators))


def test_the_replicator_holds_what_it_could_not_send_and_resends_it() -> None:
    p = _geo(replication_delay="100ms")
    west = PulsarClient(p.service, "w", cluster="west")
    consumer = west.subscribe("t", "s", "Shared")
    for broker in p.service.clusters[1].brokers:
        broker.crash()
    p.send(*range(5))
    east = p.topic(cluster=0)
    p.sleep(10.0)
    assert east.replicators[0].backlog() == 5  # its cursor keeps them in east's storage
    assert east.storage.stored_count == 5
    for broker in p.service.clusters[1].brokers:
        broker.restart()
    got = drain(consumer, wait_ms=120_000)
    assert [m.data() for m in got] == list(range(5))  # late, in order, none lost


def test_a_replicated_subscription_moves_the_other_clusters_subscription() -> None:
    # ReplicatedSubscriptionsController: snapshots every second; the update creates the
    # subscription at Earliest in the other cluster and acks it cumulatively.
    p = _geo(replication_delay="50ms")
    c = p.client.subscribe("t", "s", "Shared", replicate_subscription_state_enabled=True)
    p.send(*range(10))
    drain(c)
    p.sleep(0.5)
    assert "s" not in p.topic(cluster=1).subscriptions  # no snapshot has been taken yet
    p.sleep(3.0)
    remote = p.topic(cluster=1).subscriptions["s"]
    assert remote.cursor.mark_delete == 9 and remote.backlog_messages == 0
    assert remote.counted is False  # its consumers are in east: east reports the ready count


def test_no_snapshot_is_taken_while_a_replicator_is_disconnected() -> None:
    p = _geo(replication_delay="50ms")
    c = p.client.subscribe("t", "s", "Shared", replicate_subscription_state_enabled=True)
    geo = p.service.replication
    p.send(0)
    drain(c)
    p.sleep(3.0)
    taken = geo.snapshots_completed
    assert taken > 0
    for broker in p.service.clusters[1].brokers:
        broker.crash()
    for i in range(5):
        p.send(i)
        p.sleep(2.0)
    assert geo.snapshots_completed == taken


def _failover(frequency_ms: int, replicated: bool = True) -> dict[str, Any]:
    client = {
        "cluster": "east",
        "secondary": ["west"],
        "failoverDelay": "10s",
        "switchBackDelay": "10min",
        "checkInterval": "5s",
    }
    return scenario(
        {
            **GEO,
            "topics": [{"name": "orders"}],
            "replication_delay": "exp(50ms)",
            "replicatedSubscriptionsSnapshotFrequencyMillis": frequency_ms,
        },
        [{"name": "p", "to": "orders", "rate": 20, **client}],
        [
            {
                "name": "c",
                "from": "orders",
                "subscription_type": "shared",
                "replicas": 2,
                "service_time": "exp(20ms)",
                "replicateSubscriptionState": replicated,
                "subscriptionInitialPosition": "Earliest",
                **client,
            }
        ],
        duration=240.0,
        faults=[{"target": "cluster.east", "kind": "crash", "start": 100.0}],
    )


@pytest.fixture(scope="module")
def failovers() -> dict[str, Any]:
    return {
        "1s": run(_failover(1000), trace=False),
        "10s": run(_failover(10_000), trace=False),
        "off": run(_failover(1000, replicated=False), trace=False),
    }


def test_after_a_cluster_outage_the_clients_fail_over_and_keep_working(
    failovers: dict[str, Any],
) -> None:
    results = failovers["1s"]
    events = results.events
    switched = events[events["event"] == "fails over to west"]
    assert set(switched["component"]) == {"p", "c.0", "c.1"}
    assert (switched["time"] >= 110.0).all()  # failoverDelay after the first failed probe
    s = results.summary
    assert results.conservation_gap() == 0
    # What east stored and had not replicated waits in east: it is not lost, only late.
    assert s["lost"] == 0 and s["processed"] > 0.9 * s["produced"]


def test_duplicates_after_failover_grow_with_the_snapshot_interval(
    failovers: dict[str, Any],
) -> None:
    one, ten, off = (failovers[k].summary["duplicates"] for k in ("1s", "10s", "off"))
    assert 0 < one < ten
    # Without replicated subscriptions the west subscription starts at Earliest: it reads
    # everything east had already processed.
    assert off > 1500
