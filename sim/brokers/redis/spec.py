"""The Redis Streams model's declaration for the registry (sim/brokers/base.py: BrokerSpec)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sim.brokers.base import BrokerSpec
from sim.brokers.redis.config import RedisConfig, RedisConsumerConfig, RedisProducerConfig

if TYPE_CHECKING:
    from sim.brokers.base import BrokerRuntime
    from sim.context import RunContext

__all__ = ["SPEC"]


def _build(ctx: RunContext) -> BrokerRuntime:
    from sim.brokers.redis.runtime import build

    return build(ctx)


def _client_errors(section: Any, producers: list[Any], consumers: list[Any]) -> Any:
    return section.client_errors(producers, consumers)


SPEC = BrokerSpec(
    type="redis",
    title="Redis Streams",
    section=RedisConfig,
    producer=RedisProducerConfig,
    consumer=RedisConsumerConfig,
    build=_build,
    reads=frozenset({"prefetch", "ack"}),
    instead={
        "max_messages": "it reads prefetch",
        "max.poll.records": "it reads prefetch",
        "group.id": "it reads group",
        "keys": "no keys: one stream per key range instead",
        "routing_key": "no routing: one stream per destination instead",
    },
    client_errors=_client_errors,
)
