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

from sim.brokers.base import NamedTopics
from sim.brokers.kafka.settings import (
    ConsumerSettings,
    CostSettings,
    GroupCoordinatorSettings,
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
    "RollingRestart",
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


class RollingRestart(StrictModel):
    """A deploy: replica i of the consumer shuts down cleanly at `start + i * every` (it
    finishes its batch, commits, closes: LeaveGroup unless it is a static member) and starts
    again as a new process `down_for` later. A model parameter: a stand-in for a deploy tool."""

    start: Duration
    every: Duration
    down_for: Duration

    @model_validator(mode="after")
    def _positive(self) -> RollingRestart:
        if self.every <= 0 or self.down_for <= 0:
            raise ValueError("every and down_for must be positive")
        return self


class KafkaProducerConfig(ProducerBase, ProducerSettings):
    """A scenario producer feeding a KafkaProducer client with these settings, records keyed by
    the shared `keys`, or sent to an explicit `partition`."""

    partition: int | None = Field(default=None, ge=0)


#: The settings of a consumer in a consumer group (classic or consumer protocol) that a share
#: consumer does not have (ShareConsumerConfig has none of them; a share group is not committed
#: to, has no assignor to choose, no static members and no poll interval).
CONSUMER_GROUP_ONLY = (
    "group_id",
    "enable_auto_commit",
    "auto_commit_interval",
    "auto_offset_reset",
    "partition_assignment_strategy",
    "session_timeout",
    "group_protocol",
    "group_remote_assignor",
    "max_poll_interval",
    "group_instance_id",
    "commit",
    "replay",
    "rolling_restart",
)


class KafkaConsumerConfig(ConsumerBase, ConsumerSettings):
    """A consumer application around a KafkaConsumer with these settings (`group.id` defaults to
    the consumer's name), the application's commit strategy when auto-commit is off, and a
    crash schedule and a replay (stand-ins for `faults:`).

    With `share_group: NAME` instead of `group.id` the replicas are the members of that share
    group (KIP-932), each a KafkaShareConsumer acknowledging every record: ACCEPT when processed,
    and `on_failure` (RELEASE: deliver it again; REJECT: archive it) when processing fails.
    `share.auto.offset.reset` is the share group's setting of where its share-partitions start
    (Kafka's default: latest). A record whose key is `poison_key` always fails processing."""

    commit: Literal["after-processing", "before-processing"] | None = None
    crash: ConsumerCrash | None = None
    replay: Replay | None = None
    rolling_restart: RollingRestart | None = None
    share_group: str | None = Field(default=None, min_length=1)
    share_auto_offset_reset: Literal["latest", "earliest"] | None = Field(
        default=None, alias="share.auto.offset.reset"
    )
    on_failure: Literal["release", "reject"] | None = None
    poison_key: str | None = None
    # With a retry policy: how many consumers each retry topic gets (Spring Kafka's
    # RetryableTopic `concurrency`: "if not specified, the main container concurrency is used").
    retry_concurrency: int | None = Field(default=None, ge=1)

    @property
    def kafka_group(self) -> str:
        """The consumer group or share group its replicas are members of."""
        return self.share_group or self.group_id or self.name


class KafkaConfig(NamedTopics, GroupCoordinatorSettings):
    """The cluster: brokers, topics, and the broker settings of the group coordinator for
    consumer-protocol groups (`group.consumer.*`, KIP-848) and share groups (`group.share.*`,
    KIP-932), by their broker configuration names (GroupCoordinatorSettings)."""

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
        protocols: dict[str, tuple[str, int]] = {}
        resets: dict[str, tuple[str | None, int]] = {}
        for i, consumer in enumerate(consumers):
            group = consumer.kafka_group
            # One group, one protocol: classic, consumer (KIP-848) or share (KIP-932); the
            # coordinator refuses a member asking for another (INCONSISTENT_GROUP_PROTOCOL).
            protocol = "share" if consumer.share_group is not None else consumer.group_protocol
            first_protocol = protocols.setdefault(group, (protocol, i))
            if first_protocol[0] != protocol:
                where = "share_group" if protocol == "share" else "group.protocol"
                yield (
                    ("consumers", i, where),
                    f"group {group!r} is a {first_protocol[0]} group (consumers"
                    f"[{first_protocol[1]}]); one group cannot mix protocols "
                    "(INCONSISTENT_GROUP_PROTOCOL)",
                )
                continue
            if consumer.share_group is not None:
                yield from self._share_errors(i, consumer, resets)
                if consumer.retry is not None:
                    yield (
                        ("consumers", i, "retry"),
                        "a share group retries by itself: a released record is delivered "
                        "again, up to group.share.delivery.count.limit (use on_failure)",
                    )
                continue
            for key in ("share_auto_offset_reset", "on_failure"):
                if getattr(consumer, key) is not None:
                    name = type(consumer).model_fields[key].alias or key
                    yield (("consumers", i, name), "applies only to a share_group consumer")
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
            retry = consumer.retry
            if consumer.retry_concurrency is not None and (retry is None or retry.blocking):
                yield (
                    ("consumers", i, "retry_concurrency"),
                    "applies only with a non-blocking retry policy (its retry topics' consumers)",
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
            if consumer.group_protocol == "consumer":
                continue  # the broker assigns: partition.assignment.strategy is not read
            strategy = consumer.partition_assignment_strategy
            first = strategies.setdefault(group, (strategy, i))
            if first[0] != strategy:
                yield (
                    ("consumers", i, "partition.assignment.strategy"),
                    f"group {group!r} already uses {first[0]!r} (consumers[{first[1]}]); "
                    "the members of a group must agree",
                )

    def _share_errors(
        self, i: int, consumer: KafkaConsumerConfig, resets: dict[str, tuple[str | None, int]]
    ) -> Iterator[tuple[Loc, str]]:
        """A share consumer has none of a group consumer's settings; the members of one share
        group agree on its share.auto.offset.reset (a setting of the group, not the client)."""
        fields = type(consumer).model_fields
        for key in CONSUMER_GROUP_ONLY:
            if key in consumer.model_fields_set:
                yield (
                    ("consumers", i, fields[key].alias or key),
                    "not a setting of a share consumer (share_group)",
                )
        guarantee = consumer.guarantee
        if guarantee is not None and guarantee.strategy == "kafka-transactions":
            yield (
                ("consumers", i, "guarantee", "strategy"),
                "share groups have no transactional reads (KIP-932: no exactly-once)",
            )
        if guarantee is not None and guarantee.ack_loss_probability > 0:
            yield (
                ("consumers", i, "guarantee", "ack_loss_probability"),
                "a share consumer's acknowledgements travel in its requests, not one by one",
            )
        group = consumer.share_group
        assert group is not None
        reset = consumer.share_auto_offset_reset
        first = resets.setdefault(group, (reset, i))
        if reset is not None and first[0] is None:
            resets[group] = (reset, i)
        elif reset is not None and first[0] != reset:
            yield (
                ("consumers", i, "share.auto.offset.reset"),
                f"share group {group!r} already starts at {first[0]!r} (consumers[{first[1]}])",
            )

    def add_to_graph(self, graph: Any) -> None:
        """Topics as nodes (a topic is the stream's 'queue'), labelled with their partitions."""
        for topic in self.topics:
            label = f"{topic.name}\n({topic.partitions} partitions)"
            graph.add_node(topic.name, kind="topic", label=label)
