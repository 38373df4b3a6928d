"""The Amazon SQS model's declaration for the registry (sim/brokers/base.py: BrokerSpec)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sim.brokers.base import BrokerSpec, IdealQueue, OMBDriver
from sim.brokers.sqs.config import SQSConfig, SQSConsumerConfig, SQSProducerConfig
from sim.brokers.sqs.cost import COSTS
from sim.brokers.sqs.features import FEATURES

if TYPE_CHECKING:
    from sim.brokers.base import BrokerRuntime
    from sim.context import RunContext

__all__ = ["SPEC"]


def _omb_sections(layout: Any) -> dict[str, Any]:
    from sim.brokers.sqs.omb import sections

    return sections(layout)


def _build(ctx: RunContext) -> BrokerRuntime:
    from sim.brokers.sqs.runtime import build

    return build(ctx)


def _client_errors(section: Any, producers: list[Any], consumers: list[Any]) -> Any:
    return section.client_errors(producers, consumers)


SPEC = BrokerSpec(
    type="sqs",
    title="Amazon SQS",
    section=SQSConfig,
    producer=SQSProducerConfig,
    consumer=SQSConsumerConfig,
    build=_build,
    reads=frozenset({"ack"}),
    instead={
        "prefetch": "it reads max_messages",
        "max.poll.records": "it reads max_messages",
        "keys": "it reads message_group",
        "key_distribution": "it reads message_group",
        "routing_key": "no routing: one queue per destination instead",
        "group": "each group reads a queue of its own",
        "group.id": "each group reads a queue of its own",
    },
    strategies=frozenset({"at-most-once", "at-least-once", "idempotent", "transactional"}),
    client_errors=_client_errors,
    ideal=IdealQueue(
        section=lambda source, consumers: {"type": "sqs", "queues": [{"name": source}]},
        consumer={"wait_time": 20.0, "max_messages": 1},  # long polling, one message a call
    ),
    cannot={
        "node crash": "SQS is a managed service: the model has no broker nodes to crash",
    },
    features=FEATURES,
    costs=COSTS,  # its cost model in closed form (cost.py)
    # Only mqperf measured SQS (docs/calibration.md).
    omb=OMBDriver(
        "SQS", "queues", producers_fan_out=True, build=_omb_sections, default_preset="mqperf-2021"
    ),
)
