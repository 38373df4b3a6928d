"""The Kafka model's declaration for the registry (sim/brokers/base.py: BrokerSpec)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sim.brokers.base import BrokerSpec, IdealQueue, OMBDriver
from sim.brokers.kafka.config import KafkaConfig, KafkaConsumerConfig, KafkaProducerConfig
from sim.brokers.kafka.cost import COSTS
from sim.brokers.kafka.features import FEATURES

if TYPE_CHECKING:
    from sim.brokers.base import BrokerRuntime
    from sim.context import RunContext

__all__ = ["SPEC"]


def _omb_sections(layout: Any) -> dict[str, Any]:
    from sim.brokers.kafka.omb import sections

    return sections(layout)


def _build(ctx: RunContext) -> BrokerRuntime:
    from sim.brokers.kafka.runtime import build

    return build(ctx)


def _nodes(section: KafkaConfig) -> list[str]:
    return [f"broker.{i}" for i in range(section.brokers)]  # crash faults only


def _servers(section: KafkaConfig, consumer: Any) -> int:
    """A partition is read by one member of a group: more members than partitions idle."""
    topic = next((t for t in section.topics if t.name == consumer.from_), None)
    return consumer.replicas if topic is None else min(consumer.replicas, topic.partitions)


def _unbounded(section: KafkaConfig, source: str) -> bool:
    topic = next((t for t in section.topics if t.name == source), None)
    return topic is not None and topic.retention_bytes == float("inf")


def _client_errors(section: Any, producers: list[Any], consumers: list[Any]) -> Any:
    return section.client_errors(producers, consumers)


SPEC = BrokerSpec(
    type="kafka",
    title="Apache Kafka",
    section=KafkaConfig,
    producer=KafkaProducerConfig,
    consumer=KafkaConsumerConfig,
    build=_build,
    reads=frozenset({"keys", "key_distribution"}),
    instead={
        "prefetch": "it reads max.poll.records",
        "max_messages": "it reads max.poll.records",
        "ack": "it reads enable.auto.commit",
        "routing_key": "it reads keys",
        "message_group": "it reads keys",
        "group": "it reads group.id (or share_group)",
    },
    strategies=frozenset(
        {"at-most-once", "at-least-once", "idempotent", "transactional", "kafka-transactions"}
    ),
    nodes=_nodes,
    servers=_servers,
    unbounded=_unbounded,
    client_errors=_client_errors,
    # A service reads its topic from the start, as an application that must not miss work.
    service_fields=lambda service: {"auto.offset.reset": "earliest"},
    ideal=IdealQueue(
        # One partition per consumer: a partition is one FIFO queue read by one member.
        section=lambda source, consumers: {
            "type": "kafka",
            "topics": [{"name": source, "partitions": consumers}],
        },
        consumer={
            "auto.offset.reset": "earliest",  # what came before the first assignment
            # The ideal group notices a crashed member within a second (the default 45 s
            # would leave its partitions unread after every crash).
            "session.timeout.ms": 1000,
            # One record per poll: a commit then acknowledges one record, as an ack does on
            # the queues (500 records a poll, a crash replays a whole batch).
            "max.poll.records": 1,
        },
        warmup=3.0,  # group.initial.rebalance.delay.ms (KafkaConfig's default)
    ),
    cannot={
        "mmc": "a partition is read by one member of a group: c consumers on c partitions are "
        "c separate M/M/1 queues, not one M/M/c queue",
    },
    features=FEATURES,
    costs=COSTS,  # its cost model in closed form (cost.py)
    # OMB is what Confluent ran Kafka with: its study is the default preset (docs/calibration.md).
    omb=OMBDriver("Kafka", "native", build=_omb_sections, default_preset="confluent-2020"),
)
