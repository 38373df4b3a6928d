"""Pulsar's settled entries (memory, sim/brokers/pulsar/storage.py `TopicStorage._settle`): a
one-message entry held in its usual state is kept in the topic's storage as its bare message,
its Entry's other slots following from its place, its block's running counts and the topic,
and `TopicStorage.get` (and the reads that tell a message by its class) gives it its Entry
back. `TopicStorage.settles = False` keeps every Entry (the general path). Each run with
settling and without must give the same outputs, bit for bit, and the storage the same
entries, counts and totals."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

import sim
from sim.brokers.pulsar.ledgers import LedgerConfig
from sim.brokers.pulsar.policies import RetentionPolicies
from sim.brokers.pulsar.storage import NO_TAKER, NO_TAKER_YET, SETTLE_EVERY, Entry, TopicStorage
from sim.message import BareMessage
from sim.scenario import Scenario
from tests.helpers import run_outputs

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
import workloads

ROOT = Path(__file__).resolve().parent.parent


def _counted(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Count the entries settled by the scans and the Entries given back."""
    counts = {"settled": 0, "unsettled": 0}
    settle, unsettle = TopicStorage._settle, TopicStorage.unsettle

    def counted_settle(self: TopicStorage, index: int) -> None:
        before = self.settled()
        settle(self, index)
        counts["settled"] += self.settled() - before

    def counted_unsettle(self: TopicStorage, offset: int) -> Entry:
        counts["unsettled"] += 1
        return unsettle(self, offset)

    monkeypatch.setattr(TopicStorage, "_settle", counted_settle)
    monkeypatch.setattr(TopicStorage, "unsettle", counted_unsettle)
    return counts


def _drain(messages: int, **consumer: Any) -> dict[str, Any]:
    return workloads.drain("pulsar", messages, consumer=consumer or None)


def _batched() -> dict[str, Any]:
    # A second producer batches three messages an entry, among the first's one-message
    # entries: a block's running-count shift changes at each batch (the entries before it
    # in its block do not settle). The consumer's receiver queue prefetches: entries are read
    # before they settle and acked after (the ack gives them back), the rest read settled.
    data = _drain(3000)
    first = data["producers"][0]
    batcher = dict(first, name="batcher", rate=first["rate"] / 100)
    batcher.update(batchingEnabled=True, batchingMaxMessages=3)
    data["producers"].append(batcher)
    del data["consumers"][0]["receiverQueueSize"]
    return data


def _key_shared() -> dict[str, Any]:
    # Keys on a Key_Shared subscription of two consumers: a hash is cached on an entry when
    # it is dispatched (a settled entry's Entry, given back, gets it).
    data = _drain(3000, subscription_type="key_shared", replicas=2)
    data["producers"][0]["keys"] = 20
    return data


def _delayed_mix() -> dict[str, Any]:
    # A second producer's messages are delayed (deliver_at set: they never settle).
    data = _drain(3000)
    delayed = dict(data["producers"][0], name="later", deliverAfter="2ms")
    data["producers"].append(delayed)
    return data


def _late_earliest() -> dict[str, Any]:
    # A second subscription subscribes at the earliest position once the backlog settled:
    # its copies are made on the Entries `get` gives back.
    data = _drain(3000)
    audit = dict(
        data["consumers"][0],
        name="audit",
        subscriptionInitialPosition="Earliest",
        subscribe_at=data["duration"] / 3,
    )
    data["consumers"].append(audit)
    return data


def _small_ledgers(data: dict[str, Any], **topic: Any) -> dict[str, Any]:
    # Ledgers of 300 entries, rolled at once: retention deletes them under the scan, inside
    # its blocks (300 is no multiple of SETTLE_EVERY).
    data["broker"]["managedLedgerMaxEntriesPerLedger"] = 300
    data["broker"]["managedLedgerMinLedgerRolloverTimeMinutes"] = 0
    data["broker"]["topics"][0].update(topic)
    return data


def _ttl() -> dict[str, Any]:
    data = _small_ledgers(_drain(3000), message_ttl_in_seconds=1)
    data["duration"] = 5.0
    data["consumers"][0]["service_time"] = "2ms"
    return data


def _quota() -> dict[str, Any]:
    # The size quota's eviction skips the slowest cursor's oldest entries (bytes_through
    # over settled entries, then the skip reads them).
    data = _small_ledgers(
        workloads.backlog("pulsar", 3000),
        backlog_quota_map={
            "destination_storage": {"limitSize": "1MB", "policy": "consumer_backlog_eviction"}
        },
    )
    data["producers"][0]["message_size"] = "1KiB"
    data["duration"] = 130.0  # two quota checks
    return data


# Each must settle entries (`settled`) and, but for the backlog held, give Entries back.
VARIANTS: dict[str, tuple[Any, str]] = {
    "backlog": (lambda: workloads.backlog("pulsar", 3000), "settled"),
    "drain": (lambda: _drain(3000), "unsettled"),
    "drain-competing": (lambda: _drain(3000, replicas=3), "unsettled"),
    "drain-batched": (_batched, "unsettled"),
    "key-shared": (_key_shared, "unsettled"),
    "delayed-mix": (_delayed_mix, "unsettled"),
    "late-earliest": (_late_earliest, "unsettled"),
    "ttl": (_ttl, "unsettled"),
    "quota": (_quota, "unsettled"),
    "mm1-consumers": (lambda: workloads.mm1("pulsar", 3000, consumers=3), "settled"),
}


@pytest.mark.parametrize("trace", [False, True])
@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_settled_entries_give_what_entries_give(
    name: str, trace: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    make, taken = VARIANTS[name]
    counts = _counted(monkeypatch)
    settled = run_outputs(sim.run(Scenario.from_dict(make()), trace=trace))
    assert counts["settled"] > 0 and counts[taken] > 0, counts  # the settled path was taken
    monkeypatch.setattr(TopicStorage, "settles", False)
    before = dict(counts)
    general = run_outputs(sim.run(Scenario.from_dict(make()), trace=trace))
    assert counts == before  # and the general run never settled an entry
    assert json.loads(settled["summary"])["max_backlog"] != 0
    assert settled == general


@pytest.mark.parametrize(
    ("name", "settles"),
    [
        ("pulsar_subscription_types", True),
        ("pulsar_dlq", True),
        # A replicator on every topic (nothing settles), Key_Shared hashes cached as entries
        # come (none settles), two subscriptions with their copies (none settles).
        ("pulsar_geo_replication", False),
        ("pulsar_key_shared_join", False),
        ("pulsar_backlog_quota", False),
    ],
)
def test_scenario_files_give_the_same_with_and_without_settling(
    name: str, settles: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Subscription types, dead letters and redeliveries, geo replication, Key_Shared joins,
    backlog quotas with small ledgers: every variant as written (batching producers),
    untraced, and with one message an entry, traced."""
    data = yaml.safe_load((ROOT / "scenarios" / f"{name}.yaml").read_text())
    as_written = Scenario.from_dict(data)
    for producer in data["producers"]:
        producer["batchingEnabled"] = False
    unbatched = Scenario.from_dict(data)
    counts = _counted(monkeypatch)

    def run() -> dict[str, Any]:
        found = {}
        for scenario, trace in ((as_written, False), (unbatched, True)):
            for variant, results in sim.run_variants(scenario, trace=trace).items():
                found[variant, trace] = run_outputs(results)
        return found

    settled = run()
    assert (counts["settled"] > 0 and counts["unsettled"] > 0) == settles, counts
    monkeypatch.setattr(TopicStorage, "settles", False)
    assert run() == settled


# ----- the storage itself, entry by entry -----


def _entry(i: int, msgs: tuple[BareMessage, ...], origin: int = 0) -> Entry:
    """An entry in one of many states by `i`: the usual one (settles), a batch, a key or a
    size not its message's, delayed, a copy for a second group, another taker, a cached hash,
    another cluster's, a replica."""
    msg = msgs[0]
    size = sum(m.size for m in msgs) + (1 if i % 31 == 0 else 0)
    key = "other" if i % 29 == 0 else msg.key
    entry = Entry(msgs, size, key, 0.5 if i % 37 == 0 else 0.0, 1 if i % 43 == 0 else origin)
    entry.taker = NO_TAKER_YET if i % 10 == 5 else 4 if i % 10 == 0 and i else 3
    if i % 47 == 0:
        entry.copies = [None, None, None, None, msgs]
    if i % 53 == 0:
        entry.hash_ch = 17
    if i % 59 == 0:
        entry.hash_as = 23
    if i % 61 == 0:
        entry.taker = NO_TAKER
    return entry


def _filled(settles: bool, count: int = 4000) -> TopicStorage:
    """Entries in every state (see `_entry`), some batches of three, stored in ledgers of 500
    entries (retention trims them inside the scan's blocks)."""
    storage = TopicStorage(LedgerConfig(500, 0.0), 0.0, 0.0)
    storage.settling = settles
    for i in range(count):
        key = None if i % 3 else f"k{i % 7}"
        msg = BareMessage(i + 1, i * 0.25, 40 + i % 50, key)
        msgs = (msg,)
        if i % 300 == 7:  # a batch of three (the entries before it in its block do not settle)
            msgs = (msg, BareMessage(i + 10**6, i * 0.25, 40), BareMessage(i + 2 * 10**6, i, 9))
        entry = _entry(i, msgs)
        if i % 67 == 0:  # a replica of an entry first stored elsewhere
            entry = _entry(i + 1, msgs, 1).replica()
        storage.append(entry, i * 0.25)
    return storage


def _messages(msgs: tuple[BareMessage, ...] | None) -> Any:
    if msgs is None:
        return None
    return tuple((m.id, m.produced_at, m.size, m.key) for m in msgs)


def _slots(entry: Entry | None) -> tuple[Any, ...] | None:
    """Every slot of `entry`, its messages (two storages' are other objects) by their
    fields."""
    if entry is None:
        return None
    found: list[Any] = []
    for slot in Entry.__slots__:
        value = getattr(entry, slot)
        if slot == "msgs":
            value = _messages(value)
        elif slot == "copies" and value is not None:
            value = [_messages(msgs) for msgs in value]
        elif slot == "record":
            value = _slots(value)
        found.append((slot, value, type(value)))
    return tuple(found)


def _totals(storage: TopicStorage) -> list[Any]:
    """What a reader asks of the storage but its entries, for every index around it."""
    indexes = range(storage.first - 3, storage.last_index + 3)
    return [
        storage.first,
        storage.last_index,
        storage.total_count,
        storage.total_bytes,
        storage.stored_count,
        [storage.count_through(i) for i in indexes],
        [storage.bytes_through(i) for i in indexes],
        [storage.first_published_from(t) for t in (-1.0, 100.0, 333.3, 1e9)],
        [storage.last_published_before(t) for t in (-1.0, 100.0, 333.3, 1e9)],
    ]


def _entries(storage: TopicStorage) -> list[Any]:
    return [_slots(storage.get(i)) for i in range(storage.first - 3, storage.last_index + 3)]


def test_a_settled_storage_reads_as_the_storage_of_entries() -> None:
    settled, general = _filled(True), _filled(False)
    kept = settled.settled()
    assert kept > len(settled.entries) // 4  # many settled (as messages) ...
    assert all(e.__class__ is Entry for e in settled.entries[-SETTLE_EVERY:])  # ... none recent
    assert general.settled() == 0
    # The totals first, every settled entry a message still (its running bytes from its
    # block's end), then each entry read (its Entry given back, kept), then again.
    assert _totals(settled) == _totals(general)
    assert settled.settled() == kept
    some = range(settled.first + 5, settled.last_index, 7)  # a few given back in between
    assert [_slots(settled.get(i)) for i in some] == [_slots(general.get(i)) for i in some]
    assert 0 < settled.settled() < kept
    assert _totals(settled) == _totals(general)  # (bytes from an Entry neighbour too)
    assert _entries(settled) == _entries(general)
    assert settled.settled() == 0
    assert _totals(settled) == _totals(general)


def test_a_settled_storage_trims_and_settles_on_as_entries_do() -> None:
    settled, general = _filled(True), _filled(False)
    retention = RetentionPolicies(0, 0)
    for mark_delete in (250, 777, 1800):  # whole ledgers deleted, inside scanned blocks
        assert settled.trim(mark_delete, retention, 1e4) == general.trim(
            mark_delete, retention, 1e4
        )
        assert _totals(settled) == _totals(general)
    assert settled.first == general.first > 1000
    settled_before = settled.settled()
    assert settled_before > 0
    for storage in (settled, general):  # more appends: the scan goes on from where it was
        for i in range(4000, 5000):
            storage.append(_entry(i, (BareMessage(i + 1, 1e3, 40, None),)), 1e3 + i)
    assert settled.settled() > settled_before
    assert _totals(settled) == _totals(general)
    assert settled.trim(4200, retention, 1e4) == general.trim(4200, retention, 1e4)
    assert _totals(settled) == _totals(general)
    assert _entries(settled) == _entries(general)


def test_a_topic_with_a_replicator_or_a_listener_settles_no_more() -> None:
    for gate in (0, 1):
        storage = TopicStorage(LedgerConfig(), 0.0, 0.0)
        storage.gates = ([], [])
        for i in range(3 * SETTLE_EVERY):
            entry = _entry(1, (BareMessage(i + 1, 0.0, 40, None),))
            entry.taker = 0
            storage.append(entry, 0.0)
        assert storage.settled() == SETTLE_EVERY
        storage.gates[gate].append(object())
        for i in range(3 * SETTLE_EVERY, 6 * SETTLE_EVERY):
            entry = _entry(1, (BareMessage(i + 1, 0.0, 40, None),))
            entry.taker = 0
            storage.append(entry, 0.0)
        assert not storage.settling and storage.settled() == SETTLE_EVERY


def _is_entry(storage: TopicStorage, index: int) -> bool:
    return storage.entries[index - storage.first].__class__ is Entry


def test_an_entry_read_and_acked_in_order_settles_again() -> None:
    """A backlog read in order: each settled entry given back for its read settles again
    after its ack (`settle_again`) unless its state changed, and reads as before."""
    settled, general = _filled(True), _filled(False)
    kept = {i for i in range(settled.first, settled.scanned_end) if not _is_entry(settled, i)}
    changed = set()
    for i in range(settled.first, settled.scanned_end):
        entry = settled.get(i)
        assert _slots(entry) == _slots(general.get(i))
        assert entry is not None
        if i % 97 == 0 and entry.taker == settled.settled_group:
            # A copy for a second group made on the Entry read: it must stay an Entry.
            entry.copies = [None] * 5
            general_entry = general.get(i)
            assert general_entry is not None
            general_entry.copies = [None] * 5
            changed.add(i)
        settled.settle_again(i - settled.first)
    assert changed & kept
    # The settled ones settled again, but for those changed; no other one settled.
    now = {i for i in range(settled.first, settled.scanned_end) if not _is_entry(settled, i)}
    assert now == kept - changed
    assert _totals(settled) == _totals(general)
    assert _entries(settled) == _entries(general)


def test_settle_again_keeps_every_entry_with_a_replicator_or_a_listener() -> None:
    for gate in (0, 1):
        storage = _filled(True)
        storage.gates = ([], [])
        index = next(
            i
            for i in range(storage.first, storage.scanned_end)
            if storage.entries[i - storage.first].__class__ is not Entry
        )
        storage.get(index)
        storage.gates[gate].append(object())
        storage.settle_again(index - storage.first)
        assert storage.entries[index - storage.first].__class__ is Entry


def test_a_drain_settles_its_entries_again_after_their_acks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settled_again = [0]
    settle_again = TopicStorage.settle_again

    def counted(self: TopicStorage, offset: int) -> None:
        settle_again(self, offset)
        settled_again[0] += self.entries[offset].__class__ is not Entry

    monkeypatch.setattr(TopicStorage, "settle_again", counted)
    sim.run(Scenario.from_dict(_drain(3000)))
    # Every entry of a scanned block read and acked in order settles again (the drain's
    # backlog is all one group's one-message entries).
    assert settled_again[0] >= 3000 - 3 * SETTLE_EVERY
