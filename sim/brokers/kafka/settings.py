"""Kafka's settings by their own names, with Kafka's defaults, read into seconds and bytes: the one
description of each setting, used by scenario files and by the clients alike.

Scenario files and client configs use Kafka's setting names (`linger.ms`, `acks`,
`session.timeout.ms`...). A setting ending in `.ms` takes a bare number as milliseconds, as Kafka
does; a string with a unit (`45s`, `5min`) works too. Everything is stored in seconds, under an
attribute named for what it holds (`linger`, `session_timeout`).

Defaults are Kafka 3.x's (producer, consumer and topic configuration reference,
kafka.apache.org/documentation/#configuration): acks=all and enable.idempotence=true since 3.0
(KIP-679), session.timeout.ms=45000 since 3.0 (KIP-735). The group coordinator's settings for
the new consumer group protocol (KIP-848) and share groups (KIP-932) are Kafka 4.x's
(``GroupCoordinatorConfig``, ``ShareGroupConfig``; broker and group configuration reference,
kafka.apache.org/42/configuration).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Annotated, Any, Literal, TypeVar

from pydantic import Field, PlainSerializer, PlainValidator, ValidationError, model_validator

from sim.fieldtypes import StrictModel
from sim.units import parse_duration, parse_size

__all__ = [
    "AcknowledgementMode",
    "Acks",
    "ConsumerSettings",
    "CostSettings",
    "GroupCoordinatorSettings",
    "GroupProtocol",
    "LimitBytes",
    "LimitMillis",
    "Millis",
    "ProducerSettings",
    "ServerAssignor",
    "ShareConsumerSettings",
    "ShareGroupSettings",
    "Strategy",
    "TopicSettings",
    "parse_acks",
    "parse_limit_bytes",
    "parse_limit_ms",
    "parse_ms",
    "settings_from",
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


def _plain(parse: Any) -> PlainValidator:
    return PlainValidator(parse, json_schema_input_type=str | float)


Millis = Annotated[float, _plain(parse_ms)]  # a `.ms` setting, stored in seconds
LimitMillis = Annotated[float, _plain(parse_limit_ms), PlainSerializer(lambda v: v)]  # -1: none
LimitBytes = Annotated[float, _plain(parse_limit_bytes)]  # a size; -1: no limit
Acks = Annotated[int, _plain(parse_acks)]  # 0, 1, or all (-1)
Size = Annotated[int, _plain(parse_size)]
Strategy = Literal["range", "roundrobin", "sticky", "cooperative-sticky"]  # assignors.STRATEGIES
GroupProtocol = Literal["classic", "consumer"]  # group.protocol (KIP-848)
ServerAssignor = Literal["uniform", "range"]  # assignors.SERVER_ASSIGNORS
AcknowledgementMode = Literal["implicit", "explicit"]  # share.acknowledgement.mode


class TopicSettings(StrictModel):
    """A topic's configuration (topic-level names; broker defaults from Kafka 3.x)."""

    partitions: int = Field(default=1, ge=1)
    replication_factor: int = Field(default=1, ge=1, alias="replication.factor")
    min_insync_replicas: int = Field(default=1, ge=1, alias="min.insync.replicas")
    # log.retention.hours=168
    retention: LimitMillis = Field(default=7 * DAY, alias="retention.ms")
    retention_bytes: LimitBytes = Field(default=math.inf, alias="retention.bytes")
    segment_bytes: LimitBytes = Field(default=float(1024**3), alias="segment.bytes")
    segment_age: Millis = Field(default=7 * DAY, alias="segment.ms")
    cleanup_policy: Literal["delete", "compact", "compact,delete", "delete,compact"] = Field(
        default="delete", alias="cleanup.policy"
    )
    # delete.retention.ms: how long tombstones stay
    delete_retention: Millis = Field(default=DAY, alias="delete.retention.ms")
    unclean_leader_election_enable: bool = Field(
        default=False, alias="unclean.leader.election.enable"
    )
    # flush.messages: fsync the log once this many messages are unflushed (UnifiedLog.append:
    # `if (unflushedMessages >= config.flushInterval) flush()`, in the request handler thread;
    # Kafka 2.6 Log.scala line 1227). Kafka's default, Long.MAX_VALUE, never forces one: the
    # page cache and replication stand for durability. Costs time only with a cost model
    # (CostSettings.fsync).
    flush_messages: LimitBytes = Field(default=math.inf, alias="flush.messages")

    @model_validator(mode="after")
    def _positive(self) -> TopicSettings:
        if self.segment_bytes <= 0 or self.segment_age <= 0:
            raise ValueError("segment.bytes and segment.ms must be positive")
        if self.flush_messages < 1:
            raise ValueError("flush.messages must be at least 1")
        return self

    @property
    def deletes(self) -> bool:
        return "delete" in self.cleanup_policy.split(",")

    @property
    def compacts(self) -> bool:
        return "compact" in self.cleanup_policy.split(",")

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> TopicSettings:
        """From Kafka's names (`retention.ms`, `cleanup.policy`...), as kafka-topics takes them."""
        return settings_from(cls, config, "topic")


class ProducerSettings(StrictModel):
    """The producer client's settings (ProducerConfig's names and defaults)."""

    acks: Acks = -1  # all, since Kafka 3.0
    linger: Millis = Field(default=0.0, alias="linger.ms")
    batch_size: Size = Field(default=16384, alias="batch.size")
    max_in_flight: int = Field(default=5, ge=1, alias="max.in.flight.requests.per.connection")
    delivery_timeout: Millis = Field(default=120.0, alias="delivery.timeout.ms")
    retry_backoff: Millis = Field(default=0.1, alias="retry.backoff.ms")

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> ProducerSettings:
        return settings_from(cls, config, "producer")


class ConsumerSettings(StrictModel):
    """The consumer client's settings (ConsumerConfig's names and defaults)."""

    group_id: str | None = Field(default=None, alias="group.id")
    enable_auto_commit: bool = Field(default=True, alias="enable.auto.commit")
    auto_commit_interval: Millis = Field(default=5.0, alias="auto.commit.interval.ms")
    auto_offset_reset: Literal["earliest", "latest", "none"] = Field(
        default="latest", alias="auto.offset.reset"
    )
    max_poll_records: int = Field(default=500, ge=1, alias="max.poll.records")
    # Kafka 3.x's default list is [range, cooperative-sticky]: range is used until every member
    # has been upgraded, so range here.
    partition_assignment_strategy: Strategy = Field(
        default="range", alias="partition.assignment.strategy"
    )
    session_timeout: Millis = Field(default=45.0, alias="session.timeout.ms")
    client_id: str = Field(default="consumer", alias="client.id")
    # KIP-848: "classic" (JoinGroup/SyncGroup, the default in Kafka 4.x) or "consumer" (the
    # broker assigns; heartbeats and session timeout are the broker's group.consumer.*).
    group_protocol: GroupProtocol = Field(default="classic", alias="group.protocol")
    # The broker-side assignor a consumer-protocol member asks for (null: the broker's first
    # group.consumer.assignors entry, uniform).
    group_remote_assignor: ServerAssignor | None = Field(
        default=None, alias="group.remote.assignor"
    )
    # The longest a member may go between polls before it leaves the group (5 minutes).
    max_poll_interval: Millis = Field(default=300.0, alias="max.poll.interval.ms")
    # Static membership (KIP-345): a member with an instance id keeps its place in the group
    # across restarts; closing or crashing sends no LeaveGroup, and rejoining within
    # session.timeout.ms with the same subscription gets its assignment back, no rebalance.
    group_instance_id: str | None = Field(default=None, alias="group.instance.id", min_length=1)

    @model_validator(mode="after")
    def _protocol_settings(self) -> ConsumerSettings:
        # ConsumerConfig.checkUnsupportedConfigs: each protocol rejects the other's settings
        # (CLASSIC_PROTOCOL_UNSUPPORTED_CONFIGS, CONSUMER_PROTOCOL_UNSUPPORTED_CONFIGS).
        if self.group_protocol == "consumer":
            unsupported = ("partition_assignment_strategy", "session_timeout")
        else:
            unsupported = ("group_remote_assignor",)
        named = [type(self).model_fields[k].alias or k for k in unsupported]
        given = [n for k, n in zip(unsupported, named, strict=True) if k in self.model_fields_set]
        if given:
            raise ValueError(
                f"{', '.join(given)} cannot be set when group.protocol={self.group_protocol}"
            )
        if self.max_poll_interval <= 0:
            raise ValueError("max.poll.interval.ms must be positive")
        return self

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> ConsumerSettings:
        return settings_from(cls, config, "consumer")


class ShareConsumerSettings(StrictModel):
    """The share consumer client's settings (``KafkaShareConsumer``; ``ShareConsumerConfig``'s
    names and defaults)."""

    group_id: str | None = Field(default=None, alias="group.id")
    client_id: str = Field(default="share-consumer", alias="client.id")
    max_poll_records: int = Field(default=500, ge=1, alias="max.poll.records")
    # implicit: the next poll (or commitSync) accepts everything the previous poll returned;
    # explicit: the application acknowledges every record (Kafka 4.1+).
    share_acknowledgement_mode: AcknowledgementMode = Field(
        default="implicit", alias="share.acknowledgement.mode"
    )

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> ShareConsumerSettings:
        return settings_from(cls, config, "share consumer")


class GroupCoordinatorSettings(StrictModel):
    """The broker's settings for consumer-protocol groups (KIP-848) and share groups (KIP-932),
    by their broker configuration names (``GroupCoordinatorConfig``, ``ShareGroupConfig``)."""

    # Heartbeat interval and session timeout the coordinator gives consumer-protocol members.
    consumer_heartbeat_interval: Millis = Field(
        default=5.0, alias="group.consumer.heartbeat.interval.ms"
    )
    consumer_session_timeout: Millis = Field(
        default=45.0, alias="group.consumer.session.timeout.ms"
    )
    # The assignors the coordinator offers; the first is the default.
    consumer_assignors: list[ServerAssignor] = Field(
        default_factory=lambda: ["uniform", "range"],
        min_length=1,
        alias="group.consumer.assignors",
    )
    share_heartbeat_interval: Millis = Field(default=5.0, alias="group.share.heartbeat.interval.ms")
    share_session_timeout: Millis = Field(default=45.0, alias="group.share.session.timeout.ms")
    # How long a share consumer holds a record it acquired before it is available again.
    share_record_lock_duration: Millis = Field(
        default=30.0, alias="group.share.record.lock.duration.ms"
    )
    # Deliveries of a record before it is archived instead of made available again.
    share_delivery_count_limit: int = Field(
        default=5, ge=2, le=10, alias="group.share.delivery.count.limit"
    )
    # Records in flight (from the share-partition start to its end offset) per share-partition;
    # 2000 since Kafka 4.1 (200 in 4.0, ShareGroupConfig at apache/kafka 1eb7644).
    share_partition_max_record_locks: int = Field(
        default=2000, ge=100, le=10000, alias="group.share.partition.max.record.locks"
    )

    @model_validator(mode="after")
    def _ranges(self) -> GroupCoordinatorSettings:
        # ShareGroupConfig: group.share.record.lock.duration.ms in [1000, 3600000].
        if not 1.0 <= self.share_record_lock_duration <= 3600.0:
            raise ValueError("group.share.record.lock.duration.ms must be in [1000, 3600000]")
        for name, value in (
            ("group.consumer.heartbeat.interval.ms", self.consumer_heartbeat_interval),
            ("group.consumer.session.timeout.ms", self.consumer_session_timeout),
            ("group.share.heartbeat.interval.ms", self.share_heartbeat_interval),
            ("group.share.session.timeout.ms", self.share_session_timeout),
        ):
            if value <= 0:
                raise ValueError(f"{name} must be positive")
        return self

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> GroupCoordinatorSettings:
        return settings_from(cls, config, "broker")


class ShareGroupSettings(StrictModel):
    """One share group's own configuration (``kafka-configs --entity-type groups``; group
    configuration names): where its share-partitions start, and per-group overrides of the
    broker's ``group.share.*`` settings (None: the broker's value)."""

    # Where a share-partition starts when the group first reads it: latest (the high
    # watermark then) or earliest (the log start offset).
    share_auto_offset_reset: Literal["latest", "earliest"] = Field(
        default="latest", alias="share.auto.offset.reset"
    )
    share_record_lock_duration: Millis | None = Field(
        default=None, alias="share.record.lock.duration.ms"
    )
    share_delivery_count_limit: int | None = Field(
        default=None, ge=2, le=10, alias="share.delivery.count.limit"
    )
    share_partition_max_record_locks: int | None = Field(
        default=None, ge=100, le=10000, alias="share.partition.max.record.locks"
    )

    @model_validator(mode="after")
    def _lock_bounds(self) -> ShareGroupSettings:
        # A group's lock duration must lie within the broker's group.share.min/max.record.lock.
        # duration.ms (15 s and 60 s by default; ShareGroupConfig, GroupConfig validation).
        lock = self.share_record_lock_duration
        if lock is not None and not 15.0 <= lock <= 60.0:
            raise ValueError("share.record.lock.duration.ms must be in [15000, 60000]")
        return self

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> ShareGroupSettings:
        return settings_from(cls, config, "share group")


class CostSettings(StrictModel):
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

    per_request: Annotated[float, _plain(parse_duration)] = 8.95e-6
    per_batch: Annotated[float, _plain(parse_duration)] = 8.95e-6
    per_byte: Annotated[float, _plain(parse_duration)] = 10.7e-9
    # Request handler threads per broker, serving one queue of requests (KafkaRequestHandlerPool,
    # `num.io.threads`, 8 by default in KafkaConfig). The default here is 1: the figures above
    # come from one producer, whose requests a broker handles one at a time anyway (SocketServer
    # mutes a connection until its response is sent); a preset for many clients sets 8.
    io_threads: int = Field(default=1, ge=1)
    # One fsync of a partition's log, when a topic's flush.messages forces one (0 by default:
    # with Kafka's default flush policy nothing waits for the disk, the page cache takes it).
    fsync: Annotated[float, _plain(parse_duration)] = 0.0
    # Stop-the-world garbage collections of the broker's JVM (sim/brokers/pauses.py): `gc_rate`
    # pauses a second of `gc_pause` each, during which no request handler works. Kafka's
    # documentation (Operations, "Java Version", https://kafka.apache.org/25/operations/
    # java-version) runs G1 with MaxGCPauseMillis=20 (also kafka-run-class.sh's default) and
    # reports, for one of LinkedIn's busiest clusters at peak, "a 90% GC pause time of about
    # 21ms" and "less than 1 young GC per second". 0 by default: nothing pauses.
    gc_pause: Annotated[float, _plain(parse_duration)] = Field(default=0.0, ge=0)
    gc_rate: float = Field(default=0.0, ge=0)  # pauses per second

    def request_time(self, batches: int, size: int) -> float:
        return self.per_request + self.per_batch * batches + self.per_byte * size

    def replica_time(self, batches: int, size: int) -> float:
        """A follower's work to copy `batches` of `size` bytes: the same per-batch and per-byte
        work as the leader's append (ReplicaFetcherThread appends through the same log code);
        the fetch request's own cost is shared by every partition it carries."""
        return self.per_batch * batches + self.per_byte * size


T = TypeVar("T", bound=StrictModel)


def settings_from(model: type[T], config: Mapping[str, Any], what: str) -> T:
    """Kafka-named settings (a dict, as a Kafka client takes them) -> the validated model; an
    unknown or bad setting is one ValueError naming it."""
    known = {f.alias or name for name, f in model.model_fields.items()}
    for key in config:
        if key not in known:
            raise ValueError(f"unknown {what} setting {key!r} (known: {', '.join(sorted(known))})")
    try:
        return model.model_validate(dict(config))
    except ValidationError as error:
        detail = error.errors(include_url=False)[0]
        where = ".".join(str(p) for p in detail["loc"])
        message = str(detail["msg"]).removeprefix("Value error, ")
        if not where:  # a rule over several settings
            raise ValueError(f"{what} settings: {message}") from None
        raise ValueError(f"{what} setting {where!r}: {message}") from None
