"""The `broker:` section of a scenario for the Kafka model (type: kafka), and the field types of
the Kafka settings producers and consumers may carry.

Kafka's own setting names are used wherever Kafka has one (`partitions`, `replication.factor`,
`retention.ms`, `linger.ms`, `enable.auto.commit`...); `.ms` settings take a bare number as
milliseconds, as Kafka does, or a duration with a unit (`45s`). Model parameters Kafka has no
name for are in snake_case (`replication_delay`, `rebalance_time`, `failures`, `cost`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar, Literal

from pydantic import Field, model_validator

from sim.brokers.kafka.settings import (
    ConsumerSettings,
    CostSettings,
    Millis,
    ProducerSettings,
    TopicSettings,
)
from sim.clients.config import ConsumerBase, ProducerBase
from sim.distributions import Distribution
from sim.fieldtypes import Dist, Duration, StrictModel
from sim.presets import PresetCost

__all__ = [
    "BrokerFailure",
    "ConsumerCrash",
    "CostConfig",
    "KafkaConfig",
    "KafkaConsumerConfig",
    "KafkaProducerConfig",
    "Replay",
    "TopicConfig",
]

Loc = tuple[str | int, ...]


class TopicConfig(TopicSettings):
    """A topic: its name and its settings, with Kafka's topic-level names and defaults."""

    name: str = Field(min_length=1)


class BrokerFailure(StrictModel):
    """A broker process crash at `at`, restarted `restart_after` later (or never).

    A stand-in until the scenario-wide `faults:` section covers Kafka brokers.
    """

    broker: int = Field(ge=0)
    at: Duration
    restart_after: Duration | None = None


class CostConfig(PresetCost, CostSettings):
    """Broker time per produce request; defaults and their sources: `CostSettings`; `preset`
    starts from a calibrated preset (sim/presets/, docs/calibration.md)."""

    SYSTEM: ClassVar[str] = "kafka"


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


class KafkaProducerConfig(ProducerBase, ProducerSettings):
    """A scenario producer feeding a KafkaProducer client with these settings, records keyed by
    the shared `keys`, or sent to an explicit `partition`."""

    partition: int | None = Field(default=None, ge=0)


class KafkaConsumerConfig(ConsumerBase, ConsumerSettings):
    """A consumer application around a KafkaConsumer with these settings (`group.id` defaults to
    the consumer's name), the application's commit strategy when auto-commit is off, and a
    crash schedule and a replay (stand-ins for `faults:`)."""

    commit: Literal["after-processing", "before-processing"] | None = None
    crash: ConsumerCrash | None = None
    replay: Replay | None = None


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

    def client_errors(
        self, producers: list[KafkaProducerConfig], consumers: list[KafkaConsumerConfig]
    ) -> Iterator[tuple[Loc, str]]:
        """Producer and consumer settings that do not fit this cluster or each other."""
        topics = {t.name: t for t in self.topics}
        for i, producer in enumerate(producers):
            topic = topics.get(producer.to)
            if topic is None:
                continue
            if producer.partition is not None and producer.partition >= topic.partitions:
                yield (
                    ("producers", i, "partition"),
                    f"topic {topic.name!r} has partitions 0..{topic.partitions - 1}",
                )
            if topic.compacts and producer.keys is None:
                yield (
                    ("producers", i, "keys"),
                    f"topic {topic.name!r} is compacted: records need keys (set keys)",
                )
        strategies: dict[str, tuple[str, int]] = {}
        for i, consumer in enumerate(consumers):
            auto = consumer.enable_auto_commit
            if consumer.commit is not None and auto:
                yield (
                    ("consumers", i, "commit"),
                    "a commit strategy needs enable.auto.commit: false "
                    "(with auto-commit the consumer commits by itself)",
                )
            if "auto_commit_interval" in consumer.model_fields_set and not auto:
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
            if consumer.guarantee is not None:
                for key in ("enable_auto_commit", "auto_commit_interval", "commit"):
                    if key in consumer.model_fields_set:
                        name = type(consumer).model_fields[key].alias or key
                        yield (
                            ("consumers", i, name),
                            "the guarantee's strategy decides when offsets are committed",
                        )
                if consumer.guarantee.ack_loss_probability > 0:
                    yield (
                        ("consumers", i, "guarantee", "ack_loss_probability"),
                        "a Kafka consumer commits offsets rather than acking each message",
                    )
            group = consumer.group_id or consumer.name
            strategy = consumer.partition_assignment_strategy
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
