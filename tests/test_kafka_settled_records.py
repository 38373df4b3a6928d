"""Kafka's settled records (memory, sim/brokers/kafka/log.py `SettledRecord`): a record held
in its usual state is kept as its bare message, its offset its place in the segment and its
one group's copy a byte, and read back through a view. `PartitionLog.settles = False` keeps
every Record (the general path). Each run with settling and without must give the same
outputs, bit for bit, and each log operation the same records."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

import sim
import sim.brokers.kafka.consumer as kafka_consumer
import sim.brokers.kafka.log as kafka_log
from sim.brokers.kafka.log import (
    MSG_ONLY,
    SETTLE_LAG,
    PartitionLog,
    Record,
    SettledRecord,
    record_size,
)
from sim.message import BareMessage
from sim.scenario import Scenario
from tests.helpers import run_outputs

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
import workloads

ROOT = Path(__file__).resolve().parent.parent


def _counted(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Count the views read (`read`, `read_one`) and made elsewhere, the views made Records
    again, the logs unsettled and the group's claims made in the log."""
    counts = {"views": 0, "records": 0, "unsettled": 0, "claims": 0}
    view, record, unsettle = kafka_log.settled_view, SettledRecord.record, PartitionLog.unsettle
    claim = PartitionLog.claim

    def counted_claim(self: PartitionLog, start: int, stop: int) -> None:
        counts["claims"] += 1
        claim(self, start, stop)

    read, read_one = PartitionLog.read, PartitionLog.read_one

    def counted_read(self: PartitionLog, *args: Any) -> tuple[list[Any], int]:
        found, position = read(self, *args)
        counts["views"] += sum(r.__class__ is SettledRecord for r in found)
        return found, position

    def counted_read_one(self: PartitionLog, *args: Any) -> tuple[Any, int]:
        found, position = read_one(self, *args)
        counts["views"] += found.__class__ is SettledRecord
        return found, position

    def counted_view(*args: Any) -> Any:
        counts["views"] += 1
        return view(*args)

    def counted_record(self: SettledRecord) -> Record:
        counts["records"] += 1
        return record(self)

    def counted_unsettle(self: PartitionLog) -> None:
        counts["unsettled"] += 1
        unsettle(self)

    monkeypatch.setattr(kafka_log, "settled_view", counted_view)
    # The consumer's fused one-record poll makes its views too (consumer.py `_poll_alone`).
    monkeypatch.setattr(kafka_consumer, "settled_view", counted_view)
    monkeypatch.setattr(SettledRecord, "record", counted_record)
    monkeypatch.setattr(PartitionLog, "unsettle", counted_unsettle)
    monkeypatch.setattr(PartitionLog, "claim", counted_claim)
    monkeypatch.setattr(PartitionLog, "read", counted_read)
    monkeypatch.setattr(PartitionLog, "read_one", counted_read_one)
    return counts


def _topic(data: dict[str, Any], **settings: Any) -> dict[str, Any]:
    data["broker"]["topics"][0].update(settings)
    return data


def _keyed(data: dict[str, Any]) -> dict[str, Any]:
    data["producers"][0]["keys"] = 20
    return data


def _compacted(data: dict[str, Any]) -> dict[str, Any]:
    # Keys on a compacted topic of small segments, drained slowly: the cleaner rewrites
    # closed segments of settled records (kept ones get their Record back).
    _keyed(data)
    data["consumers"][0]["service_time"] = "5ms"
    data["duration"] = 20.0
    return _topic(data, **{"cleanup.policy": "compact", "segment.bytes": 20_000})


def _two_groups(data: dict[str, Any]) -> dict[str, Any]:
    # A second group joins a backlog the first has claimed: every record a Record again.
    second = dict(data["consumers"][0], name="audit", **{"group.id": "audit"})
    data["consumers"].append(second)
    return data


# Each must read settled records (views made), claim them (`claims`: the group attaching
# to the backlog), make a view a Record again (`records`) or unsettle a log.
VARIANTS: dict[str, tuple[Any, str]] = {
    "backlog": (lambda: workloads.backlog("kafka", 3000), "claims"),
    "drain": (lambda: workloads.drain("kafka", 3000), "views"),
    "drain-batched": (
        lambda: workloads.drain("kafka", 3000, consumer={"max.poll.records": 50}),
        "views",
    ),
    "drain-keyed": (lambda: _keyed(workloads.drain("kafka", 3000)), "views"),
    "drain-segments": (
        lambda: _topic(workloads.drain("kafka", 3000), **{"segment.bytes": 5_000}),
        "views",
    ),
    "drain-compacted": (lambda: _compacted(workloads.drain("kafka", 3000)), "records"),
    "two-groups": (lambda: _two_groups(workloads.drain("kafka", 2000)), "unsettled"),
    "mm1-partitions": (lambda: workloads.mm1("kafka", 3000, partitions=20), ""),
}


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_settled_records_give_what_records_give(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    make, taken = VARIANTS[name]
    counts = _counted(monkeypatch)
    settled = run_outputs(sim.run(Scenario.from_dict(make()), trace=True))
    if taken:
        assert counts[taken] > 0, counts  # the settled path was taken
    monkeypatch.setattr(PartitionLog, "settles", False)
    before = dict(counts)
    general = run_outputs(sim.run(Scenario.from_dict(make()), trace=True))
    assert counts == before  # and the general run never settled a record
    assert json.loads(settled["summary"])["max_backlog"] != 0
    assert settled == general


@pytest.mark.parametrize(
    ("name", "duration"),
    [
        ("kafka_broker_failure", "45s"),
        ("kafka_consumer_crash", None),
        ("kafka_consumer_groups", None),
        ("kafka_rebalance_storm", None),
        ("kafka_replay", "2.5h"),
        ("kafka_retention", "45min"),
        ("kafka_scaling", None),
        ("kafka_share_groups", None),
    ],
)
def test_scenario_files_give_the_same_with_and_without_settling(
    name: str, duration: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A broker failure (a new leader truncates), consumer crashes and rebalances, a replay
    (seeking back into settled records), retention's segment deletion, share groups."""
    scenario = sim.load_scenario(ROOT / "scenarios" / f"{name}.yaml")
    variants = scenario.variant_scenarios() or {"": scenario}
    kwargs = {} if duration is None else {"duration": duration}
    settled = {v: run_outputs(sim.run(s, trace=True, **kwargs)) for v, s in variants.items()}
    monkeypatch.setattr(PartitionLog, "settles", False)
    general = {v: run_outputs(sim.run(s, trace=True, **kwargs)) for v, s in variants.items()}
    assert settled == general


class _Batch:
    def __init__(self, acknowledged: bool, done: bool) -> None:
        self.acknowledged, self.done = acknowledged, done


def _fields(record: Any) -> tuple[Any, ...]:
    batch = record.batch
    return (
        record.offset,
        record.base_offset,
        record.msg.id,
        record.key,
        record.size,
        record.tombstone,
        # What a record's batch tells (Cluster.records_gone): still pending or not. A
        # settled record's answered batch is None, as the one-record append makes it.
        batch is not None and not (batch.acknowledged or batch.done),
        record.copies,
        record.timestamp,
        record.copy_in(0) is record.msg,
        record.copy_in(1),
    )


def _state(log: PartitionLog) -> list[Any]:
    return [
        log.log_start_offset,
        log.log_end_offset,
        log.size,
        log.count,
        [(s.base_offset, s.size, s.max_timestamp, s.contiguous) for s in log.segments],
        [_fields(r) for r in log.records_from(0)],
    ]


def _filled(settles: bool, count: int = 3000) -> PartitionLog:
    """A log of records in every state: claimed or not, keyed (the message's key or
    another), tombstones, batches pending or answered, batches of several records, sizes
    that are not `record_size` of the message's."""
    log = PartitionLog(30_000.0, 1e9)
    log.settling = settles
    pending, answered = _Batch(False, False), _Batch(True, False)
    offset = 0
    while offset < count:
        i = offset
        key = None if i % 3 else f"k{i % 7}".encode()
        msg = BareMessage(i, float(i) - (i % 5) * 1.5, 40 + i % 50, key)
        other_key = b"other" if i % 29 == 0 else key
        size = record_size(msg.size, other_key) + (1 if i % 31 == 0 else 0)
        batch = pending if i % 37 == 0 else answered if i % 2 else None
        item = (msg, other_key, size, i % 23 == 0)
        if i % 41 == 0:  # a batch of three: the last two do not open it
            items = [item] + [
                (BareMessage(i + j, float(i), 40), None, record_size(40, None), False)
                for j in (1, 2)
            ]
            records = log.append(items, float(i), batch)
        else:
            records = [log.append_one(item, float(i), batch)]
        for record in records:
            if record.offset % 4:  # claimed at once (the usual case); the rest left None
                record.copies = MSG_ONLY
        offset = log.log_end_offset
    return log


def test_a_settled_log_reads_as_the_log_of_records() -> None:
    settled, general = _filled(True), _filled(False)
    assert len(settled.segments) > 2
    entries = [e for s in settled.segments for e in s.records]
    kept = sum(e.__class__ is not Record for e in entries)
    assert kept > len(entries) // 3  # many settled (as messages) ...
    assert all(e.__class__ is Record for e in entries[-SETTLE_LAG:])  # ... none recent
    assert all(e.__class__ is Record for s in general.segments for e in s.records)
    assert _state(settled) == _state(general)
    end = general.log_end_offset
    for start, many in [(0, 500), (17, 3), (1000, 2000), (end - 300, 1000), (end - 2, 5)]:
        for upper in (end, end - 1, start + 2):
            got, position = settled.read(start, many, upper)
            want, expected = general.read(start, many, upper)
            assert ([_fields(r) for r in got], position) == ([_fields(r) for r in want], expected)
            one, after = settled.read_one(start, upper)
            reference, then = general.read_one(start, upper)
            assert after == then and (one is None) == (reference is None)
            assert one is None or _fields(one) == _fields(reference)
        between = settled.records_between(start, start + many)
        assert [_fields(r) for r in between] == [
            _fields(r) for r in general.records_between(start, start + many)
        ]
    for when in (-1.0, 10.5, 2000.0, 1e9):
        assert settled.offset_for_timestamp(when) == general.offset_for_timestamp(when)


def test_a_settled_record_takes_its_group_claim_and_loses_nothing_when_cut() -> None:
    settled, general = _filled(True), _filled(False)
    unclaimed = next(
        r for r in settled.records_from(1500) if r.__class__ is SettledRecord and r.copies is None
    )
    assert unclaimed.copy_in(0) is None
    ranges = [(0, 1000), (1500, 2600), (2900, 10**9)]
    for start, stop in ranges:  # the one group claims what it had not, through the log
        settled.claim(start, stop)
    for record in general.records_from(0):  # `Partition._claim(record, 0)`, one by one
        if record.copies is None and any(a <= record.offset < b for a, b in ranges):
            record.copies = MSG_ONLY
    assert _state(settled) == _state(general)
    # A view read before the claim still reads its copy from the log (`_copy_for`).
    assert unclaimed.copy_in(0) is unclaimed.msg and unclaimed.copy_in(1) is None
    with pytest.raises(AttributeError):
        unclaimed.batch = object()  # nothing else of a settled record changes
    # A new leader truncates (views of the cut records become Records), the cleaner drops
    # every third record of the closed segments, retention deletes the oldest segment.
    cut = settled.log_end_offset - SETTLE_LAG - 100
    assert [_fields(r) for r in settled.truncate_to(cut)] == [
        _fields(r) for r in general.truncate_to(cut)
    ]
    assert _state(settled) == _state(general)
    for log in (settled, general):  # appends after the cut settle again
        for i in range(2 * SETTLE_LAG):
            msg = BareMessage(10_000 + i, 9e3, 40)
            log.append_one((msg, None, record_size(40, None), False), 9e3).copies = MSG_ONLY
    assert _state(settled) == _state(general)
    removed = settled.compact(lambda r: r.offset % 3 != 0)
    assert all(r.__class__ is Record for r in removed)
    assert [_fields(r) for r in removed] == [
        _fields(r) for r in general.compact(lambda r: r.offset % 3 != 0)
    ]
    assert _state(settled) == _state(general)
    deleted = settled.delete_oldest_segment(1e4)
    assert [_fields(r) for r in deleted] == [_fields(r) for r in general.delete_oldest_segment(1e4)]
    assert _state(settled) == _state(general)
    settled.unsettle()  # a second group: every record a Record again, nothing settles more
    assert all(e.__class__ is Record for s in settled.segments for e in s.records)
    assert _state(settled) == _state(general)
    for log in (settled, general):
        for i in range(2 * SETTLE_LAG):
            msg = BareMessage(20_000 + i, 9e3, 40)
            log.append_one((msg, None, record_size(40, None), False), 9e3).copies = MSG_ONLY
    assert all(e.__class__ is Record for s in settled.segments for e in s.records)
    assert _state(settled) == _state(general)
