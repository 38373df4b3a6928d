"""BookKeeper under the Pulsar model and stateless brokers (Pulsar 4.0.0 with BookKeeper 4.17):
ensembles, write and ack quorums, ensemble changes when a bookie fails, writes failing with too
few bookies, and a broker's bundles moving after its session expires."""

from __future__ import annotations

import numpy as np
import pytest

from sim.brokers.pulsar import TimeoutException
from sim.scenario import Scenario, ScenarioError
from tests.pulsar_helpers import Pulsar, drain, run, scenario


def _writer(p: Pulsar):
    writer = p.topic().writer
    assert writer is not None
    return writer


def test_the_default_quorums_are_two_two_two() -> None:
    # ServiceConfiguration: managedLedgerDefaultEnsembleSize, ...WriteQuorum, ...AckQuorum.
    p = Pulsar()
    bk = p.service.clusters[0].bookkeeper
    assert (bk.ensemble_size, bk.write_quorum, bk.ack_quorum) == (2, 2, 2)
    assert len(_writer(p).ensemble) == 2


def test_a_ledger_gets_an_ensemble_of_e_distinct_bookies() -> None:
    for seed_topic in range(20):
        p = Pulsar(
            bookies=6,
            managedLedgerDefaultEnsembleSize=4,
            managedLedgerDefaultWriteQuorum=3,
            managedLedgerDefaultAckQuorum=2,
            topics=[{"name": f"t{seed_topic}"}],
        )
        ensemble = p.topic(f"t{seed_topic}").writer.ensemble
        assert len(ensemble) == len(set(ensemble)) == 4
        assert set(ensemble) <= set(range(6))


def test_the_quorums_must_nest() -> None:
    data = scenario(
        {"topics": [{"name": "t"}], "managedLedgerDefaultAckQuorum": 3},
        [{"name": "p", "to": "t", "rate": 1}],
        [{"name": "c", "from": "t"}],
    )
    with pytest.raises(ScenarioError, match="AckQuorum <= "):
        Scenario.from_dict(data)


@pytest.mark.parametrize(
    ("ack_quorum", "expected_ms"),
    [(1, 5 / 3), (2, 5 * (1 / 3 + 1 / 2)), (3, 5 * (1 / 3 + 1 / 2 + 1))],
)
def test_a_write_is_confirmed_when_qa_of_the_qw_bookies_have_it(
    ack_quorum: int, expected_ms: float
) -> None:
    # PendingAddOp: the add completes at the ackQuorum-th bookie response. With exponential
    # journal latencies (mean 5 ms), the k-th fastest of 3 has mean 5 (1/3 + ... + 1/(4-k)).
    p = Pulsar(
        bookies=3,
        managedLedgerDefaultEnsembleSize=3,
        managedLedgerDefaultWriteQuorum=3,
        managedLedgerDefaultAckQuorum=ack_quorum,
        bookie_write_latency="exp(5ms)",
    )
    producer = p.client.create_producer("t")
    waits = []
    for i in range(3000):
        start = p.env.now
        producer.send(i)  # one at a time: no confirmation waits for an earlier one
        waits.append(p.env.now - start)
    assert np.mean(waits) * 1000 == pytest.approx(expected_ms, rel=0.06)


def test_confirmations_come_in_entry_order() -> None:
    # LedgerHandle.sendAddSuccessCallbacks: an entry is confirmed no earlier than the one
    # before it.
    p = Pulsar(bookie_write_latency="exp(5ms)")
    producer = p.client.create_producer("t")
    confirmed: list[tuple[float, int]] = []
    for i in range(500):
        producer.send_async(i, lambda error, entry: confirmed.append((p.env.now, entry.index)))
        p.sleep(0.001)
    p.sleep(1.0)
    times = [t for t, _ in confirmed]
    assert [i for _, i in confirmed] == list(range(500))
    assert times == sorted(times)


def test_a_bookie_failure_in_the_ensemble_replaces_it_from_the_next_entry_it_would_take() -> None:
    # LedgerHandle.handleBookieFailure -> ensembleChangeLoop: the failed bookie is replaced by
    # one outside the ensemble; a new fragment starts at the entry that met the failure.
    # RoundRobinDistributionSchedule: entry e goes to positions e .. e+Qw-1 (mod E).
    p = Pulsar(
        bookies=5,
        managedLedgerDefaultEnsembleSize=3,
        managedLedgerDefaultWriteQuorum=2,
        managedLedgerDefaultAckQuorum=2,
    )
    producer = p.client.create_producer("t")
    producer.send(0)  # entry 0: positions 0 and 1
    writer = _writer(p)
    before = list(writer.ensemble)
    bookies = p.service.clusters[0].bookkeeper.bookies
    bookies[before[2]].crash()  # position 2: not in entry 1's write set... (1, 2): it is
    producer.send(1)
    assert len(writer.fragments) == 2
    first, ensemble = writer.fragments[1]
    assert first == 1
    assert ensemble[:2] == before[:2] and ensemble[2] not in before
    producer.send(2)  # nothing more to change
    assert len(writer.fragments) == 2


def test_a_bookie_outside_the_write_set_is_not_replaced_yet() -> None:
    p = Pulsar(
        bookies=5,
        managedLedgerDefaultEnsembleSize=3,
        managedLedgerDefaultWriteQuorum=2,
        managedLedgerDefaultAckQuorum=2,
    )
    producer = p.client.create_producer("t")
    writer = _writer(p)
    bookies = p.service.clusters[0].bookkeeper.bookies
    bookies[writer.ensemble[2]].crash()
    producer.send(0)  # entry 0: positions 0 and 1 only
    assert len(writer.fragments) == 1


def test_with_too_few_bookies_writes_fail_and_sends_time_out_until_one_comes_back() -> None:
    # BKNotEnoughBookiesException: the add fails; the broker answers PersistenceError; the
    # client reconnects and resends; its messages fail after sendTimeout.
    p = Pulsar(bookies=2)
    consumer = p.client.subscribe("t", "s", "Shared")
    producer = p.client.create_producer("t", send_timeout_millis=5000)
    bookies = p.service.clusters[0].bookkeeper.bookies
    bookies[0].crash()
    with pytest.raises(TimeoutException):
        producer.send("lost")
    assert p.service.recorder.counters["pulsar.persistence_errors"] > 0
    bookies[0].restart()
    producer.send("kept")
    assert [m.data() for m in drain(consumer, wait_ms=1000)] == ["kept"]


def test_a_dead_brokers_bundles_move_after_the_session_timeout_and_nothing_is_lost() -> None:
    # The bundle's ownership is an ephemeral lock: it goes when the broker's metadata session
    # expires (metadataStoreSessionTimeoutMillis, 30 s); another broker loads the topic.
    p = Pulsar(brokers=2)
    consumer = p.client.subscribe("t", "s", "Shared")
    producer = p.client.create_producer("t", send_timeout_millis=120_000)
    producer.send(0)
    cluster = p.service.clusters[0]
    owner = cluster.broker_of(p.topic())
    cluster.brokers[owner].crash()
    assert not p.topic().available
    crashed_at = p.env.now
    producer.send(1)  # waits: pending in the client while it reconnects
    assert p.env.now - crashed_at >= 30.0
    assert cluster.broker_of(p.topic()) == 1 - owner
    assert sorted(m.data() for m in drain(consumer, wait_ms=120_000)) == [0, 1]


def test_a_broker_crash_in_a_scenario_conserves_messages_and_delays_them() -> None:
    data = scenario(
        {"topics": [{"name": "t"}], "brokers": 2},
        [{"name": "p", "to": "t", "rate": 10, "sendTimeout": "120s"}],
        [{"name": "c", "from": "t", "subscription_type": "shared", "replicas": 2}],
        duration=120.0,
        faults=[{"target": "broker.0", "kind": "crash", "start": 20.0}],
    )
    results = run(data, trace=False)
    s = results.summary
    assert results.conservation_gap() == 0
    assert s["lost"] == 0 and s["rejected"] == 0
    assert s["latency_max"] > 30.0  # messages sent in the outage waited for the new owner
