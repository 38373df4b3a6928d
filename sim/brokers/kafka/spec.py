"""The Kafka model's declaration for the registry (sim/brokers/base.py: BrokerSpec)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sim.brokers.base import BrokerSpec, IdealQueue
from sim.brokers.kafka.config import KafkaConfig, KafkaConsumerConfig, KafkaProducerConfig

if TYPE_CHECKING:
    from sim.brokers.base import BrokerRuntime
    from sim.context import RunContext

__all__ = ["SPEC"]


def _build(ctx: RunContext) -> BrokerRuntime:
    from sim.brokers.kafka.runtime import build

    return build(ctx)


def _nodes(section: KafkaConfig) -> list[str]:
    return [f"broker.{i}" for i in range(section.brokers)]  # crash faults only


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
    client_errors=_client_errors,
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
)
