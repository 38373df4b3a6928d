"""Kafka's one-record paths (speed) against the general paths they shortcut: the producer's
one-record direct send (`KafkaProducer.send_message` with `direct`), the partition's one-record
append (in `Partition.append`, switched by `Partition.one_record`) with the log's
`append_one`, and the consumer's one-record poll and read (`KafkaConsumer.one_record`).
Each run with the shortcuts and without them must give the same outputs, bit for bit."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

import sim
from sim.brokers.kafka.cluster import Partition
from sim.brokers.kafka.consumer import KafkaConsumer
from sim.brokers.kafka.log import PartitionLog, record_size
from sim.brokers.kafka.producer import KafkaProducer
from sim.message import Message
from sim.scenario import Scenario
from tests.helpers import kafka_acks_1, kafka_second_group, run_outputs

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
import workloads

ROOT = Path(__file__).resolve().parent.parent


def _general(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(KafkaProducer, "direct", False)
    monkeypatch.setattr(Partition, "one_record", False)
    monkeypatch.setattr(KafkaConsumer, "one_record", False)


def _count(monkeypatch: pytest.MonkeyPatch, cls: type, name: str) -> list[int]:
    calls = [0]
    original = getattr(cls, name)

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        return original(*args, **kwargs)

    monkeypatch.setattr(cls, name, counted)
    return calls


VARIANTS = {
    "mm1": lambda: workloads.mm1("kafka", 3000),
    "partitions": lambda: workloads.mm1("kafka", 3000, partitions=20),
    "consumers": lambda: workloads.mm1("kafka", 3000, consumers=3),
    "sources": lambda: workloads.mm1("kafka", 1500, sources=3),
    "acks-1": lambda: kafka_acks_1(workloads.mm1("kafka", 3000)),
    "two-groups": lambda: kafka_second_group(workloads.mm1("kafka", 2000)),
    "batched-poll": lambda: workloads.mm1("kafka", 3000, consumer={"max.poll.records": 5}),
}


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_one_record_paths_give_what_the_general_paths_give(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The one-record paths, not the fused ones that take their place where they can
    # (tests/test_kafka_fused_path.py compares those).
    monkeypatch.setattr(KafkaProducer, "fused", False)
    monkeypatch.setattr(KafkaConsumer, "fused", False)
    appended = _count(monkeypatch, PartitionLog, "append_one")
    fast = run_outputs(sim.run(Scenario.from_dict(VARIANTS[name]())))
    assert appended[0] > 0  # the shortcut was taken
    _general(monkeypatch)
    taken = appended[0]
    general = run_outputs(sim.run(Scenario.from_dict(VARIANTS[name]())))
    assert appended[0] == taken  # and the general run did not take it
    assert json.loads(fast["summary"])["processed"] > 0
    assert fast == general


@pytest.mark.parametrize(
    ("name", "duration"),
    [("kafka_broker_failure", "45s"), ("kafka_retention", "45min"), ("kafka_replay", "2.5h")],
)
def test_scenario_files_give_the_same_with_and_without_the_shortcuts(
    name: str, duration: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Replication (the shortcut is not taken), retention's segment deletion and a replay
    (a consumer seeking back: fetches far behind the log end) on every variant."""
    scenario = sim.load_scenario(ROOT / "scenarios" / f"{name}.yaml")
    variants = scenario.variant_scenarios() or {"": scenario}
    fast = {v: run_outputs(sim.run(s, duration=duration)) for v, s in variants.items()}
    _general(monkeypatch)
    general = {v: run_outputs(sim.run(s, duration=duration)) for v, s in variants.items()}
    assert fast == general


def _state(log: PartitionLog) -> list[Any]:
    return [
        log.log_start_offset,
        log.log_end_offset,
        log.size,
        log.count,
        [
            (
                s.base_offset,
                s.created_at,
                s.size,
                s.max_timestamp,
                [
                    (r.offset, r.base_offset, r.msg.id, r.key, r.size, r.tombstone, r.batch)
                    for r in s.records
                ],
            )
            for s in log.segments
        ],
    ]


@pytest.mark.parametrize(
    ("segment_bytes", "segment_seconds"), [(1e12, 1e9), (700, 1e9), (1e12, 7.0)]
)
def test_append_one_is_append_of_one_item(segment_bytes: float, segment_seconds: float) -> None:
    """Rolls by size and by age, timestamps out of order (CreateTime), keys and tombstones."""
    one = PartitionLog(segment_bytes, segment_seconds)
    many = PartitionLog(segment_bytes, segment_seconds)
    for i in range(200):
        key = None if i % 3 else f"k{i % 7}".encode()
        size = 50 + (i * 37) % 200
        produced = float(i) - (i % 5) * 1.5  # not in order
        item = (Message(i, produced, size), key, record_size(size, key), i % 11 == 0)
        now = float(i) * 0.9
        batch = object()
        record = one.append_one(item, now, batch)
        (reference,) = many.append([item], now, batch)
        assert (record.offset, record.base_offset) == (reference.offset, reference.base_offset)
    assert _state(one) == _state(many)
    assert len(one.segments) > 1 or (segment_bytes == 1e12 and segment_seconds == 1e9)


@pytest.mark.parametrize("offset", [0, 3, 17, 40, 59, 60, 75])
@pytest.mark.parametrize("upper", [0, 20, 45, 60])
def test_read_one_is_read_of_one_record(offset: int, upper: int) -> None:
    """From the active segment, an older one, at the end, past it, with retention having
    deleted the first segment."""
    log = PartitionLog(segment_bytes=20 * record_size(100, None), segment_seconds=1e9)
    for i in range(60):
        log.append([(Message(i, 0.0, 100), None, record_size(100, None), False)], now=float(i))
    for deleted in (False, True):
        if deleted:
            log.delete_oldest_segment(now=100.0)
        records, position = log.read(offset, 1, upper)
        record, after = log.read_one(offset, upper)
        assert ([record] if record is not None else []) == records
        assert after == position
