"""The Pulsar model's speed tricks keep its behaviour: lazy cursor containers, the running
stored count, the rollover jitter drawn when first needed, cursor persistence only when a broker
can die, and the one-ack path without the grouping flush."""

from __future__ import annotations

from typing import Any

import simpy

import sim
from sim.brokers.pulsar.cursor import Cursor
from sim.brokers.pulsar.ledgers import LedgerConfig, ManagedLedger
from sim.brokers.pulsar.policies import RetentionPolicies
from sim.brokers.pulsar.runtime import _brokers_can_die
from sim.brokers.pulsar.service import PulsarService
from sim.brokers.pulsar.storage import Entry, TopicStorage
from sim.context import RunContext
from sim.message import Message
from sim.metrics import Recorder
from sim.randomness import RandomStreams
from sim.scenario import Scenario
from tests.pulsar_helpers import Pulsar, drain


def test_cursors_that_hold_nothing_share_nothing() -> None:
    """Every cursor starts on shared empty containers; what one cursor keeps (an acked range,
    a redelivery count, a replay) must never show in another."""
    busy, idle = Cursor(), Cursor()
    assert busy.ack(3)  # out of order: an acked range above mark-delete
    assert busy.redeliver([1]) == [1]
    busy.redeliver_uncounted([2])
    assert busy.individually_acked_ranges() == [(3, 3)]
    assert busy.redelivery_count(1) == 1 and busy.has_replay()
    assert idle.individually_acked_ranges() == []
    assert idle.redelivery_count(1) == 0 and not idle.has_replay()
    assert not idle.is_acked(3)
    fresh = Cursor.restore(0, [(2, 4)])
    assert fresh.individually_acked_ranges() == [(2, 4)]
    assert Cursor().individually_acked_ranges() == []


def _entry(size: int = 10, count: int = 1) -> Entry:
    msgs = tuple(Message(i, 0.0, size) for i in range(count))
    return Entry(msgs, size * count, None, 0.0, 0)


def test_the_stored_count_is_the_messages_of_the_ledgers_kept() -> None:
    """`stored_count` is kept as entries are stored and ledgers deleted: always the sum of the
    messages in the ledgers not deleted, as ledger by ledger."""
    config = LedgerConfig(2, 0, 240, 2048)  # two entries a ledger, no minimum age
    storage = TopicStorage(config, 0.0, 0.0)
    retention = RetentionPolicies(0, 0)  # consumed ledgers go at once
    for i in range(7):
        storage.append(_entry(count=1 + i % 3), float(i))
        assert storage.stored_count == sum(storage.ledger_counts.values())
    assert storage.stored_count == 1 + 2 + 3 + 1 + 2 + 3 + 1
    storage.trim(3, retention, 10.0)  # entries 0..3 acked: ledgers 0 and 1 go
    assert storage.stored_count == sum(storage.ledger_counts.values()) == 3 + 1 + 2 - 2 + 2
    storage.trim(6, retention, 11.0)
    assert storage.stored_count == sum(storage.ledger_counts.values())


def test_a_rollover_jitter_drawn_late_rolls_as_one_drawn_at_once() -> None:
    config = LedgerConfig(50_000, 0, 100, 2048)  # 100 min, up to 105 with the jitter
    draws: list[float] = []

    def draw() -> float:
        draws.append(0.6)
        return 0.6

    eager = ManagedLedger(config, 0.0, 0.6)
    lazy = ManagedLedger(config, 0.0, draw)
    for age in (10.0, 5999.0, 6000.0, 6100.0, 6179.9, 6180.0, 6300.0):
        if age < 6000.0:
            assert lazy.is_full(age) is eager.is_full(age) is False
            assert draws == []  # not old enough whatever the draw: none made yet
        else:
            assert lazy.is_full(age) is eager.is_full(age)
    assert draws == [0.6]  # drawn once
    assert lazy.max_rollover_seconds == eager.max_rollover_seconds == 6000.0 * 1.03


def _scenario(faults: list[dict[str, Any]]) -> Any:
    return Scenario.from_dict(
        {
            "name": "persist",
            "duration": 10,
            "broker": {"type": "pulsar", "brokers": 2, "topics": [{"name": "t"}]},
            "producers": [{"name": "p", "to": "t", "rate": 1}],
            "consumers": [{"name": "c", "from": "t", "subscription_type": "shared"}],
            "faults": faults,
        }
    )


def test_cursors_are_persisted_only_when_a_fault_can_kill_a_broker() -> None:
    crash = {"kind": "crash", "start": 5, "end": 6}
    for faults, can_die in (
        ([], False),
        ([{**crash, "target": "c"}], False),
        ([{**crash, "target": "broker.1"}], True),
    ):
        scenario = _scenario(faults)
        env = simpy.Environment()
        ctx = RunContext(env, scenario, Recorder(env), RandomStreams(1))
        service = PulsarService(env, scenario.broker, ctx.recorder, ctx.streams)
        assert _brokers_can_die(ctx, service) is can_die, faults


def test_a_run_whose_broker_dies_recovers_cursors_from_their_last_persisted_position() -> None:
    """The broker dies at 20.5 s and its topic is loaded again 1 s later: only the acks of the
    last half second (after the persistence of 20 s) are lost, so about one message of the 2 a
    second is redelivered, not the 40 acked before (the cursor as it was created)."""
    scenario = Scenario.from_dict(
        {
            "name": "persist",
            "seed": 3,
            "duration": 60,
            "broker": {
                "type": "pulsar",
                "brokers": 1,
                "metadataStoreSessionTimeoutMillis": 1000,
                "topics": [{"name": "t"}],
            },
            "producers": [{"name": "p", "to": "t", "rate": 2}],
            "consumers": [
                {"name": "c", "from": "t", "subscription_type": "shared", "service_time": 0.01}
            ],
            "faults": [{"kind": "crash", "target": "broker.0", "start": 20.5, "end": 21}],
        }
    )
    summary = sim.run(scenario).summary
    assert summary["lost"] == 0 and summary["processed"] == summary["produced"]
    assert 1 <= summary["redelivered"] <= 3


def test_an_ungrouped_ack_lands_at_once_and_a_grouped_one_waits() -> None:
    """acknowledgmentGroupTime 0 sends each ack as it is made; 100 ms groups them."""
    for group_ms, landed_at_once in ((0, True), (100, False)):
        p = Pulsar()
        consumer = p.client.subscribe("t", "s", "Shared", acknowledgment_group_time_ms=group_ms)
        p.send("a")
        (msg,) = drain(consumer, ack=False)
        consumer.acknowledge(msg)
        assert (p.sub("s").cursor.mark_delete == 0) is landed_at_once
        p.sleep(0.2)
        assert p.sub("s").cursor.mark_delete == 0


def _tied(rate: float, service: float, consumers: int, **consumer: Any) -> Scenario:
    """Constant arrivals and service times: events of many instants tie (an arrival with a
    service's end, with a sample), where reading at once would reorder them if it could."""
    return Scenario.from_dict(
        {
            "name": "ties",
            "seed": 1,
            "duration": 120,
            "broker": {"type": "pulsar", "topics": [{"name": "t", "partitions": 0}]},
            "producers": [
                {
                    "name": "p",
                    "to": "t",
                    "rate": rate,
                    "arrivals": "constant",
                    "batchingEnabled": False,
                },
            ],
            "consumers": [
                {
                    "name": "c",
                    "from": "t",
                    "replicas": consumers,
                    "service_time": service,
                    "subscription_type": "shared",
                    "receiverQueueSize": 0,
                    "acknowledgmentGroupTime": 0,
                    **consumer,
                }
            ],
        }
    )


def _fingerprint(results: sim.Results) -> tuple[str, ...]:
    assert results.trace is not None
    return (
        results.summary_json(),
        results.timeseries.to_csv(),
        results.latency.to_csv(),
        results.trace.to_csv(),
    )


def test_a_zero_queue_consumer_reads_at_once_only_where_no_order_changes(
    monkeypatch: Any,
) -> None:
    """`ClientConsumer.read_at_once` (the Flow's read made now, not at the end of the instant)
    gives the run the deferred read gives, event for event, where events tie and where they do
    not; it is taken where nothing else is due (an exponential M/M/1) and declined where
    something is (tied instants)."""
    from sim.brokers.pulsar import client

    original = client.ClientConsumer.read_at_once
    taken: list[bool] = []

    def counted(self: client.ClientConsumer) -> Any:
        got = original(self)
        taken.append(got is not None)
        return got

    cases = [
        _tied(2.0, 1.0, 1),
        _tied(1.0, 1.0, 1),
        _tied(2.0, 1.0, 2, subscription_type="key_shared"),
        _tied(1.0, 0.5, 3),
        _tied(0.9, 1.0, 1, service_time="exp(1s)"),
    ]
    for scenario in cases:
        monkeypatch.setattr(client.ClientConsumer, "read_at_once", counted)
        taken.clear()
        fast = _fingerprint(sim.run(scenario, trace=True))
        monkeypatch.setattr(client.ClientConsumer, "read_at_once", lambda self: None)
        slow = _fingerprint(sim.run(scenario, trace=True))
        assert fast == slow
    assert any(taken) and not all(taken)


def test_a_wake_up_not_first_in_the_heap_is_made_with_the_id_it_would_have_had(
    monkeypatch: Any,
) -> None:
    """read_at_once makes no wake-up event when the delivery it brings would be taken at once;
    when another event of the same instant comes first (here an urgent one scheduled as the
    broker sends the delivery, before the delivery wakes the consumer), it makes the event
    with the id `succeed` would have given it, and the run is the deferred read's, event for
    event."""
    from simpy.events import URGENT

    from sim.brokers.pulsar import client

    from_broker = client.PartitionConsumer._from_broker
    made: list[int] = []

    def delivery_with_an_urgent_event(self: Any, delivery: Any) -> None:
        event = simpy.Event(self.core.env)
        event._ok = True
        event._value = None
        self.core.env.schedule(event, URGENT)  # due now, before any wake-up of this instant
        from_broker(self, delivery)

    original = client.ClientConsumer.read_at_once

    def counted(self: client.ClientConsumer) -> Any:
        got = original(self)
        if self._prepared is not None and self._prepared.triggered:
            made.append(1)  # the fallback: a triggered wake-up made after the Flow
        return got

    # The general read (the fused one, which makes no `_from_broker` call, has its own test
    # in tests/test_pulsar_direct_path.py).
    monkeypatch.setattr(client.ClientConsumer, "fused_read", False)
    monkeypatch.setattr(client.PartitionConsumer, "_from_broker", delivery_with_an_urgent_event)
    scenario = _tied(0.9, 1.0, 1, service_time="exp(1s)")
    monkeypatch.setattr(client.ClientConsumer, "read_at_once", counted)
    fast = _fingerprint(sim.run(scenario, trace=True))
    assert made
    monkeypatch.setattr(client.ClientConsumer, "read_at_once", lambda self: None)
    slow = _fingerprint(sim.run(scenario, trace=True))
    assert fast == slow


def test_the_backlog_and_storage_columns_read_in_blocks_are_each_their_own_sources() -> None:
    """The backlog columns of consecutive sources (and the storage columns of consecutive
    topics) are read by one call a sample: each column still holds its own source's count
    (a source's backlog is its ready plus in-flight messages here: every ack lands at once),
    in the order one gauge a column gave, a Key_Shared source's draining column after its
    backlog column."""
    topics = ["a", "b", "c"]
    kinds = {"a": "shared", "b": "key_shared", "c": "shared"}
    rates = {"a": 0.5, "b": 1.5, "c": 3.0}
    scenario = Scenario.from_dict(
        {
            "name": "blocks",
            "seed": 3,
            "duration": 60,
            "broker": {"type": "pulsar", "topics": [{"name": t, "partitions": 0} for t in topics]},
            "producers": [
                {"name": f"p{t}", "to": t, "rate": rates[t], "keys": 5, "batchingEnabled": False}
                for t in topics
            ],
            "consumers": [
                {
                    "name": f"c{t}",
                    "from": t,
                    "service_time": "exp(1s)",
                    "subscription_type": kinds[t],
                    "receiverQueueSize": 0,
                    "acknowledgmentGroupTime": 0,
                }
                for t in topics
            ],
        }
    )
    series = sim.run(scenario).timeseries
    columns = [c for c in series.columns if c.startswith("pulsar.")]
    assert columns == [
        "pulsar.backlog.a/ca",
        "pulsar.backlog.b/cb",
        "pulsar.draining.b/cb",
        "pulsar.backlog.c/cc",
        *[f"pulsar.storage_{k}.{t}" for t in topics for k in ("backlog", "acked")],
    ]
    finals = []
    for t in topics:
        source = f"{t}/c{t}"
        backlog = series[f"pulsar.backlog.{source}"]
        assert (backlog == series[f"ready.{source}"] + series[f"in_flight.{source}"]).all()
        assert (series[f"pulsar.storage_backlog.{t}"] == backlog).all()
        finals.append(int(backlog.iloc[-1]))
    assert finals[2] > finals[0]  # the loaded source's column is its own, not another's
