"""The Redis Streams model's declaration for the registry (sim/brokers/base.py: BrokerSpec)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sim.brokers.base import BrokerSpec, IdealQueue, OMBDriver
from sim.brokers.redis.config import RedisConfig, RedisConsumerConfig, RedisProducerConfig
from sim.brokers.redis.cost import COSTS
from sim.brokers.redis.features import FEATURES

if TYPE_CHECKING:
    from sim.brokers.base import BrokerRuntime
    from sim.context import RunContext

__all__ = ["SPEC"]


def _omb_sections(layout: Any) -> dict[str, Any]:
    from sim.brokers.redis.omb import sections

    return sections(layout)


def _build(ctx: RunContext) -> BrokerRuntime:
    from sim.brokers.redis.runtime import build

    return build(ctx)


def _unbounded(section: RedisConfig, source: str) -> bool:
    stream = next((s for s in section.streams if s.name == source), None)
    return stream is not None and stream.maxlen is None


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
    strategies=frozenset({"at-most-once", "at-least-once", "idempotent", "transactional"}),
    client_errors=_client_errors,
    unbounded=_unbounded,
    # A service reads in a consumer group of its own name (declared in broker.groups).
    service_fields=lambda service: {"group": service.name},
    ideal=IdealQueue(
        section=lambda source, consumers: {
            "type": "redis",
            "streams": [{"name": source}],
            "groups": [{"stream": source, "name": "g", "start": "0"}],
        },
        consumer={"group": "g", "prefetch": 1},  # blocking XREADGROUP COUNT 1
    ),
    cannot={
        "node crash": "the model is one redis-server without persistence settings: a crash "
        "and restart of the server is not modelled",
    },
    features=FEATURES,
    costs=COSTS,  # its cost model in closed form (cost.py)
    # Only mqperf measured Redis Streams (docs/calibration.md).
    omb=OMBDriver("Redis", "ignored", build=_omb_sections, default_preset="mqperf-2021"),
)
