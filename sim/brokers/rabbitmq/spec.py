"""The RabbitMQ model's declaration for the registry (sim/brokers/base.py: BrokerSpec)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sim.brokers.base import BrokerSpec, IdealQueue
from sim.brokers.rabbitmq.config import (
    RabbitMQConfig,
    RabbitMQConsumerConfig,
    RabbitMQProducerConfig,
)

if TYPE_CHECKING:
    from sim.brokers.base import BrokerRuntime
    from sim.context import RunContext

__all__ = ["SPEC"]


def _build(ctx: RunContext) -> BrokerRuntime:
    from sim.brokers.rabbitmq.runtime import build

    return build(ctx)


def _nodes(section: Any) -> list[str]:
    return ["broker"]  # the one node: crash faults only


SPEC = BrokerSpec(
    type="rabbitmq",
    title="RabbitMQ",
    section=RabbitMQConfig,
    producer=RabbitMQProducerConfig,
    consumer=RabbitMQConsumerConfig,
    build=_build,
    reads=frozenset({"prefetch", "ack"}),
    instead={
        "keys": "it reads routing_key",
        "key_distribution": "it reads routing_key",
        "max_messages": "it reads prefetch",
        "max.poll.records": "it reads prefetch",
        "group": "each group reads a queue of its own, bound to the exchange",
        "group.id": "each group reads a queue of its own, bound to the exchange",
    },
    strategies=frozenset({"at-most-once", "at-least-once", "idempotent", "transactional"}),
    nodes=_nodes,
    ideal=IdealQueue(
        section=lambda source, consumers: {"type": "rabbitmq", "queues": [{"name": source}]},
        consumer={"prefetch": 1},  # a replica holds one message: the next goes to a free one
    ),
)
