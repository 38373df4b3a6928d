"""Kafka's settings by their own names, with Kafka's defaults, read into seconds and bytes.

Scenario files and client configs use Kafka's setting names (`linger.ms`, `acks`,
`session.timeout.ms`...). A setting ending in `.ms` takes a bare number as milliseconds, as Kafka
does; a string with a unit (`45s`, `5min`) works too. Everything is stored in seconds.

Defaults are Kafka 3.x's (producer, consumer and topic configuration reference,
kafka.apache.org/documentation/#configuration): acks=all and enable.idempotence=true since 3.0
(KIP-679), session.timeout.ms=45000 since 3.0 (KIP-735).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sim.units import parse_duration, parse_size

__all__ = [
    "ConsumerSettings",
    "CostSettings",
    "ProducerSettings",
    "TopicSettings",
    "parse_acks",
    "parse_limit_bytes",
    "parse_limit_ms",
    "parse_ms",
]

MS = 1e-3
DAY = 86400.0


def parse_ms(value: Any) -> float:
    """A Kafka `.ms` setting: a bare number is milliseconds; `45s`, `5min` also work. Seconds."""
    if isinstance(value, bool):
        raise ValueError(f"expected milliseconds or a duration such as '5s', got {value!r}")
    if isinstance(value, int | float):
        return parse_duration(float(value) * MS)
    return parse_duration(value)


def _unlimited(value: Any) -> bool:
    return value is None or (not isinstance(value, bool) and value in (-1, "-1"))


def parse_limit_ms(value: Any) -> float:
    """Like `parse_ms`, with Kafka's -1 meaning no limit (infinity)."""
    return math.inf if _unlimited(value) else parse_ms(value)


def parse_limit_bytes(value: Any) -> float:
    """A size, with Kafka's -1 meaning no limit (infinity)."""
    return math.inf if _unlimited(value) else float(parse_size(value))


def parse_acks(value: Any) -> int:
    """`acks`: 0, 1, or all (also written -1). Returns 0, 1 or -1."""
    if value in ("all", -1, "-1"):
        return -1
    if value in (0, 1, "0", "1") and not isinstance(value, bool):
        return int(value)
    raise ValueError(f"acks must be 0, 1 or all, got {value!r}")


@dataclass(frozen=True)
class TopicSettings:
    """A topic's configuration (topic-level names; broker defaults from Kafka 3.x)."""

    partitions: int = 1
    replication_factor: int = 1
    min_insync_replicas: int = 1
    retention: float = 7 * DAY  # retention.ms (log.retention.hours=168), seconds
    retention_bytes: float = math.inf  # retention.bytes=-1
    segment_bytes: float = 1024**3  # segment.bytes=1GiB
    segment_age: float = 7 * DAY  # segment.ms, seconds
    cleanup_policy: str = "delete"  # delete, compact or "compact,delete"
    delete_retention: float = DAY  # delete.retention.ms: how long tombstones stay, seconds
    unclean_leader_election_enable: bool = False

    @property
    def deletes(self) -> bool:
        return "delete" in self.cleanup_policy.split(",")

    @property
    def compacts(self) -> bool:
        return "compact" in self.cleanup_policy.split(",")

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> TopicSettings:
        """From Kafka's names (`retention.ms`, `cleanup.policy`...), as kafka-topics takes them."""
        readers = {
            "partitions": ("partitions", int),
            "replication.factor": ("replication_factor", int),
            "min.insync.replicas": ("min_insync_replicas", int),
            "retention.ms": ("retention", parse_limit_ms),
            "retention.bytes": ("retention_bytes", parse_limit_bytes),
            "segment.bytes": ("segment_bytes", lambda v: float(parse_size(v))),
            "segment.ms": ("segment_age", parse_ms),
            "cleanup.policy": ("cleanup_policy", _cleanup_policy),
            "delete.retention.ms": ("delete_retention", parse_ms),
            "unclean.leader.election.enable": ("unclean_leader_election_enable", bool),
        }
        return cls(**_read(config, readers, "topic"))


def _cleanup_policy(value: Any) -> str:
    parts = sorted(p.strip() for p in str(value).split(","))
    if not parts or any(p not in ("compact", "delete") for p in parts):
        raise ValueError(f"cleanup.policy must be delete, compact or compact,delete; got {value!r}")
    return ",".join(parts)


@dataclass(frozen=True)
class ProducerSettings:
    acks: int = -1  # all, since Kafka 3.0
    linger: float = 0.0  # linger.ms, seconds
    batch_size: int = 16384
    max_in_flight: int = 5  # max.in.flight.requests.per.connection
    delivery_timeout: float = 120.0  # delivery.timeout.ms, seconds
    retry_backoff: float = 0.1  # retry.backoff.ms, seconds

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> ProducerSettings:
        readers = {
            "acks": ("acks", parse_acks),
            "linger.ms": ("linger", parse_ms),
            "batch.size": ("batch_size", parse_size),
            "max.in.flight.requests.per.connection": ("max_in_flight", _positive_int),
            "delivery.timeout.ms": ("delivery_timeout", parse_ms),
            "retry.backoff.ms": ("retry_backoff", parse_ms),
        }
        return cls(**_read(config, readers, "producer"))


@dataclass(frozen=True)
class ConsumerSettings:
    group_id: str | None = None
    enable_auto_commit: bool = True
    auto_commit_interval: float = 5.0  # auto.commit.interval.ms, seconds
    auto_offset_reset: str = "latest"
    max_poll_records: int = 500
    # Kafka 3.x's default list is [range, cooperative-sticky]: range is used until every member
    # has been upgraded, so range here.
    partition_assignment_strategy: str = "range"
    session_timeout: float = 45.0  # session.timeout.ms, seconds
    client_id: str = "consumer"

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> ConsumerSettings:
        readers = {
            "group.id": ("group_id", lambda v: None if v is None else str(v)),
            "enable.auto.commit": ("enable_auto_commit", bool),
            "auto.commit.interval.ms": ("auto_commit_interval", parse_ms),
            "auto.offset.reset": ("auto_offset_reset", _offset_reset),
            "max.poll.records": ("max_poll_records", _positive_int),
            "partition.assignment.strategy": ("partition_assignment_strategy", _strategy),
            "session.timeout.ms": ("session_timeout", parse_ms),
            "client.id": ("client_id", str),
        }
        return cls(**_read(config, readers, "consumer"))


def _offset_reset(value: Any) -> str:
    if value not in ("earliest", "latest", "none"):
        raise ValueError(f"auto.offset.reset must be earliest, latest or none; got {value!r}")
    return str(value)


@dataclass(frozen=True)
class CostSettings:
    """Broker-side time to handle a produce request: per request, per batch, per byte (seconds).

    Defaults from Kreps, Narkhede & Rao, "Kafka: a Distributed Messaging System for Log
    Processing" (NetDB 2011), section 5: one producer sent 200-byte messages at 50,000/s in
    batches of 1 and at 400,000/s in batches of 50. A straight line through the two points
    gives a fixed cost of 17.9 us per request (that experiment sent one batch per request) and
    2.14 us per 200-byte message, i.e. 10.7 ns per byte. The paper does not separate a request's
    cost from its batch's; we split the 17.9 us evenly between `per_request` and `per_batch`, an
    assumption (override both to change it). Bytes cost the same wherever they go because the
    log is only ever appended to: Kafka's design notes measured sequential writes at ~600 MB/s
    against ~100 KB/s for random ones on the same disks (documentation, "Don't fear the
    filesystem"), which is why the model has no per-seek term.
    """

    per_request: float = 8.95e-6
    per_batch: float = 8.95e-6
    per_byte: float = 10.7e-9

    def request_time(self, batches: int, size: int) -> float:
        return self.per_request + self.per_batch * batches + self.per_byte * size


def _positive_int(value: Any) -> int:
    if isinstance(value, bool) or int(value) != value or int(value) < 1:
        raise ValueError(f"expected a positive whole number, got {value!r}")
    return int(value)


def _strategy(value: Any) -> str:
    from sim.brokers.kafka.assignors import STRATEGIES

    if value not in STRATEGIES:
        raise ValueError(f"unknown assignment strategy {value!r} (known: {', '.join(STRATEGIES)})")
    return str(value)


def _read(
    config: Mapping[str, Any], readers: dict[str, tuple[str, Any]], what: str
) -> dict[str, Any]:
    """Kafka-named settings -> dataclass fields, each read by its parser."""
    values: dict[str, Any] = {}
    for key, value in config.items():
        if key not in readers:
            known = ", ".join(sorted(readers))
            raise ValueError(f"unknown {what} setting {key!r} (known: {known})")
        name, reader = readers[key]
        values[name] = reader(value)
    return values
