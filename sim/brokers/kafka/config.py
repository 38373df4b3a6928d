"""The `broker:` section of a scenario for the Kafka model (type: kafka), and the field types of
the Kafka settings producers and consumers may carry.

Kafka's own setting names are used wherever Kafka has one (`partitions`, `replication.factor`,
`retention.ms`, `linger.ms`, `enable.auto.commit`...); `.ms` settings take a bare number as
milliseconds, as Kafka does, or a duration with a unit (`45s`). Model parameters Kafka has no
name for are in snake_case (`replication_delay`, `rebalance_time`, `failures`, `cost`).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import Field, PlainSerializer, PlainValidator, model_validator

from sim.brokers.fields import (
    GENERIC_CONSUMER_FIELDS,
    GENERIC_PRODUCER_FIELDS,
    foreign_fields,
)
from sim.brokers.kafka.settings import (
    CostSettings,
    TopicSettings,
    parse_acks,
    parse_limit_bytes,
    parse_limit_ms,
    parse_ms,
)
from sim.distributions import Distribution
from sim.fieldtypes import Dist, Duration, StrictModel

if TYPE_CHECKING:
    from sim.scenario.schema import Scenario

__all__ = [
    "KAFKA_ONLY",
    "Acks",
    "BrokerFailure",
    "ConsumerCrash",
    "CostConfig",
    "KafkaConfig",
    "LimitBytes",
    "LimitMillis",
    "Millis",
    "Replay",
    "Strategy",
    "TopicConfig",
]

Loc = tuple[str | int, ...]

# Marks producer/consumer fields that only the Kafka model reads (checked in scenario loading).
KAFKA_ONLY = {"broker": "kafka"}


def _plain(parse: Any) -> PlainValidator:
    return PlainValidator(parse, json_schema_input_type=str | float)


Millis = Annotated[float, _plain(parse_ms)]  # a `.ms` setting, stored in seconds
LimitMillis = Annotated[float, _plain(parse_limit_ms), PlainSerializer(lambda v: v)]  # -1: none
LimitBytes = Annotated[float, _plain(parse_limit_bytes)]  # a size; -1: no limit
Acks = Annotated[int, _plain(parse_acks)]  # 0, 1, or all (-1)
Strategy = Literal["range", "roundrobin", "sticky", "cooperative-sticky"]  # assignors.STRATEGIES


class TopicConfig(StrictModel):
    """A topic, with Kafka's topic-level setting names and defaults."""

    name: str = Field(min_length=1)
    partitions: int = Field(default=1, ge=1)
    replication_factor: int = Field(default=1, ge=1, alias="replication.factor")
    min_insync_replicas: int = Field(default=1, ge=1, alias="min.insync.replicas")
    retention_ms: LimitMillis = Field(default=7 * 86400.0, alias="retention.ms")
    retention_bytes: LimitBytes = Field(default=math.inf, alias="retention.bytes")
    segment_bytes: LimitBytes = Field(default=float(1024**3), alias="segment.bytes")
    segment_ms: Millis = Field(default=7 * 86400.0, alias="segment.ms")
    cleanup_policy: Literal["delete", "compact", "compact,delete", "delete,compact"] = Field(
        default="delete", alias="cleanup.policy"
    )
    delete_retention_ms: Millis = Field(default=86400.0, alias="delete.retention.ms")
    unclean_leader_election_enable: bool = Field(
        default=False, alias="unclean.leader.election.enable"
    )

    @model_validator(mode="after")
    def _positive(self) -> TopicConfig:
        if self.segment_bytes <= 0 or self.segment_ms <= 0:
            raise ValueError("segment.bytes and segment.ms must be positive")
        return self

    def settings(self) -> TopicSettings:
        return TopicSettings(
            partitions=self.partitions,
            replication_factor=self.replication_factor,
            min_insync_replicas=self.min_insync_replicas,
            retention=self.retention_ms,
            retention_bytes=self.retention_bytes,
            segment_bytes=self.segment_bytes,
            segment_age=self.segment_ms,
            cleanup_policy=",".join(sorted(self.cleanup_policy.split(","))),
            delete_retention=self.delete_retention_ms,
            unclean_leader_election_enable=self.unclean_leader_election_enable,
        )


class BrokerFailure(StrictModel):
    """A broker process crash at `at`, restarted `restart_after` later (or never).

    A stand-in until the scenario-wide `faults:` section covers Kafka brokers.
    """

    broker: int = Field(ge=0)
    at: Duration
    restart_after: Duration | None = None


class CostConfig(StrictModel):
    """Broker time per produce request; defaults and their sources: `CostSettings`."""

    per_request: Duration = CostSettings.per_request
    per_batch: Duration = CostSettings.per_batch
    per_byte: Duration = CostSettings.per_byte

    def settings(self) -> CostSettings:
        return CostSettings(self.per_request, self.per_batch, self.per_byte)


class ConsumerCrash(StrictModel):
    """Crash one replica of a Kafka consumer at each time in `at` (no commit, no LeaveGroup);
    it restarts as a new member `restart_after` later, or never.

    A stand-in until the scenario-wide `faults:` section covers Kafka consumers.
    """

    at: list[Duration] = Field(min_length=1)
    replica: int = Field(default=0, ge=0)
    restart_after: Duration | None = None


class Replay(StrictModel):
    """At `at`, the group's consumers seek back to the first record newer than `by_duration`
    ago (like `kafka-consumer-groups --reset-offsets --by-duration`), e.g. after a bug fix."""

    at: Duration
    by_duration: Duration


# Fields of ProducerConfig / ConsumerConfig the Kafka model reads; any other explicitly set
# field belongs to another broker model and is an error under type: kafka.
PRODUCER_FIELDS = GENERIC_PRODUCER_FIELDS
CONSUMER_FIELDS = GENERIC_CONSUMER_FIELDS | {"guarantee"}  # sim/guarantees/


class KafkaConfig(StrictModel):
    type: Literal["kafka"]
    brokers: int = Field(default=1, ge=1)
    topics: list[TopicConfig] = Field(min_length=1)
    # Time a follower takes to copy a batch from the leader (its fetch round trip). It delays
    # the high watermark, so acks=all answers and consumers see records that much later, and
    # it is the window of acks=1 writes a leader crash loses.
    replication_delay: Dist = Distribution.constant(0.0)
    # The JoinGroup/SyncGroup round trips once every member has rejoined (the ideal broker: 0).
    rebalance_time: Duration = 0.0
    group_initial_rebalance_delay_ms: Millis = Field(
        default=3.0, alias="group.initial.rebalance.delay.ms"
    )
    broker_session_timeout_ms: Millis = Field(default=9.0, alias="broker.session.timeout.ms")
    log_retention_check_interval_ms: Millis = Field(
        default=300.0, alias="log.retention.check.interval.ms"
    )
    log_cleaner_backoff_ms: Millis = Field(default=15.0, alias="log.cleaner.backoff.ms")
    failures: list[BrokerFailure] = []
    cost: CostConfig | None = None

    @model_validator(mode="after")
    def _check(self) -> KafkaConfig:
        seen: set[str] = set()
        for topic in self.topics:
            if topic.name in seen:
                raise ValueError(f"topics: the name {topic.name!r} is used twice")
            seen.add(topic.name)
            if topic.replication_factor > self.brokers:
                raise ValueError(
                    f"topic {topic.name!r}: replication.factor {topic.replication_factor} is "
                    f"more than the {self.brokers} broker(s)"
                )
        for failure in self.failures:
            if failure.broker >= self.brokers:
                raise ValueError(
                    f"failures: no broker {failure.broker} (brokers are 0..{self.brokers - 1})"
                )
        if self.log_retention_check_interval_ms <= 0 or self.log_cleaner_backoff_ms <= 0:
            raise ValueError("log.retention.check.interval.ms and log.cleaner.backoff.ms > 0")
        return self

    def topic(self, name: str) -> TopicConfig:
        return next(t for t in self.topics if t.name == name)

    def destinations(self) -> set[str]:
        """Names a producer may send `to`: topics."""
        return {t.name for t in self.topics}

    def sources(self) -> set[str]:
        """Names a consumer may read `from`: topics."""
        return {t.name for t in self.topics}

    def reference_errors(self) -> Iterator[tuple[Loc, str]]:
        return iter(())

    def client_errors(self, scenario: Scenario) -> Iterator[tuple[Loc, str]]:
        """Producer and consumer settings that do not fit this cluster or each other."""
        topics = {t.name: t for t in self.topics}
        for i, producer in enumerate(scenario.producers):
            yield from foreign_fields("kafka", ("producers", i), producer, PRODUCER_FIELDS)
            topic = topics.get(producer.to)
            if topic is None:
                continue
            if producer.partition is not None and producer.partition >= topic.partitions:
                yield (
                    ("producers", i, "partition"),
                    f"topic {topic.name!r} has partitions 0..{topic.partitions - 1}",
                )
            if "compact" in topic.cleanup_policy and producer.keys is None:
                yield (
                    ("producers", i, "keys"),
                    f"topic {topic.name!r} is compacted: records need keys (set keys)",
                )
            if producer.key_distribution is not None and producer.keys is None:
                yield (("producers", i, "key_distribution"), "needs keys")
        strategies: dict[str, tuple[str, int]] = {}
        for i, consumer in enumerate(scenario.consumers):
            yield from foreign_fields("kafka", ("consumers", i), consumer, CONSUMER_FIELDS)
            auto = consumer.enable_auto_commit
            if consumer.commit is not None and auto is not False:
                yield (
                    ("consumers", i, "commit"),
                    "a commit strategy needs enable.auto.commit: false "
                    "(with auto-commit the consumer commits by itself)",
                )
            if consumer.auto_commit_interval_ms is not None and auto is False:
                yield (
                    ("consumers", i, "auto.commit.interval.ms"),
                    "applies only with enable.auto.commit: true",
                )
            crash = consumer.crash
            if crash is not None and crash.replica >= consumer.replicas:
                yield (
                    ("consumers", i, "crash", "replica"),
                    f"consumer {consumer.name!r} has replicas 0..{consumer.replicas - 1}",
                )
            group = consumer.group_id or consumer.name
            strategy = consumer.partition_assignment_strategy or "range"
            first = strategies.setdefault(group, (strategy, i))
            if first[0] != strategy:
                yield (
                    ("consumers", i, "partition.assignment.strategy"),
                    f"group {group!r} already uses {first[0]!r} (consumers[{first[1]}]); "
                    "the members of a group must agree",
                )

    def add_to_graph(self, graph: Any) -> None:
        """Topics as nodes (a topic is the stream's 'queue'), labelled with their partitions."""
        for topic in self.topics:
            label = f"{topic.name}\n({topic.partitions} partitions)"
            graph.add_node(topic.name, kind="topic", label=label)
