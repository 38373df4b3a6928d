"""The RabbitMQ model's declaration for the registry (sim/brokers/base.py: BrokerSpec)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sim.brokers.base import BrokerSpec, IdealQueue, OMBDriver
from sim.brokers.rabbitmq.config import (
    RabbitMQConfig,
    RabbitMQConsumerConfig,
    RabbitMQProducerConfig,
)
from sim.brokers.rabbitmq.cost import COSTS
from sim.brokers.rabbitmq.features import FEATURES
from sim.brokers.rabbitmq.retries import retry_queue

if TYPE_CHECKING:
    from sim.brokers.base import BrokerRuntime
    from sim.context import RunContext

__all__ = ["SPEC"]


def _omb_sections(layout: Any) -> dict[str, Any]:
    from sim.brokers.rabbitmq.omb import sections

    return sections(layout)


def _build(ctx: RunContext) -> BrokerRuntime:
    from sim.brokers.rabbitmq.runtime import build

    return build(ctx)


def _routes(section: RabbitMQConfig, producer: Any) -> dict[str, float]:
    """Where a producer's messages go: its queue, or the queues its exchange routes its
    routing keys to (headers exchanges: every bound queue, an upper bound)."""
    from sim.brokers.rabbitmq.routing import route

    exchanges = {e.name: e.type for e in section.exchanges}
    if producer.to not in exchanges:
        return {producer.to: 1.0}
    kind = exchanges[producer.to]
    bindings = [
        (b.queue, b.routing_key, b.arguments) for b in section.bindings if b.exchange == producer.to
    ]
    keys = producer.routing_key
    keys = keys if isinstance(keys, list) else [keys or ""]
    shares: dict[str, float] = {}
    for key in keys:
        queues = [b[0] for b in bindings] if kind == "headers" else route(kind, bindings, key, None)
        for queue in dict.fromkeys(queues):
            shares[queue] = shares.get(queue, 0.0) + 1.0 / len(keys)
    return shares


def _unbounded(section: RabbitMQConfig, source: str) -> bool:
    queue = next((q for q in section.queues if q.name == source), None)
    if queue is not None and queue.type == "stream":
        # Retention bounds what a stream keeps, not what its readers have left to read: a
        # slow reader falls behind without a bound (its unread entries are then deleted).
        return True
    return queue is not None and queue.max_length is None and queue.max_length_bytes is None


def _client_errors(section: Any, producers: list[Any], consumers: list[Any]) -> Any:
    yield from section.client_errors(producers, consumers)
    yield from _retry_errors(section, consumers)


def _retry_errors(section: RabbitMQConfig, consumers: list[Any]) -> Any:
    """A retry policy needs a queue that can dead-letter (not a stream), and its retry queues
    must not be queues the scenario declares (sim/brokers/rabbitmq/retries.py)."""
    declared = {q.name: q for q in section.queues}
    for i, consumer in enumerate(consumers):
        retry = consumer.retry
        if retry is None:
            continue
        queue = declared.get(consumer.from_)
        if queue is not None and queue.type == "stream":
            yield (
                ("consumers", i, "retry"),
                f"queue {queue.name!r} is a stream: it neither nacks nor dead-letters, so it "
                "cannot retry through retry queues",
            )
            continue
        if retry.blocking:
            continue
        for k in range(1, retry.attempts):
            if retry_queue(consumer.from_, k) in declared:
                yield (
                    ("consumers", i, "retry"),
                    f"the retry policy declares the queue {retry_queue(consumer.from_, k)!r}, "
                    "which the scenario declares too",
                )
                break


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
    client_errors=_client_errors,
    routes=_routes,
    unbounded=_unbounded,
    ideal=IdealQueue(
        section=lambda source, consumers: {
            "type": "rabbitmq",
            "queues": [{"name": source, "durable": True}],  # 4.3 refuses transient queues
        },
        consumer={"prefetch": 1},  # a replica holds one message: the next goes to a free one
    ),
    features=FEATURES,
    costs=COSTS,  # its cost model in closed form (cost.py)
    # OMB declares quorum queues, which only mqperf measured (Confluent ran classic ones).
    omb=OMBDriver("RabbitMQ", "queues", build=_omb_sections, default_preset="mqperf-2021"),
)
