"""The Kafka model's declaration for the registry (sim/brokers/base.py: BrokerSpec)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sim.brokers.base import BrokerSpec
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
        "group": "it reads group.id",
    },
    strategies=frozenset(
        {"at-most-once", "at-least-once", "idempotent", "transactional", "kafka-transactions"}
    ),
    nodes=_nodes,
    client_errors=_client_errors,
)
