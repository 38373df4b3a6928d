"""Which broker model serves which `broker.type`, and the union of their scenario sections."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from sim.brokers.kafka.config import KafkaConfig
from sim.brokers.rabbitmq.config import RabbitMQConfig
from sim.brokers.redis.config import RedisConfig
from sim.brokers.sqs.config import SQSConfig

__all__ = ["BROKER_CONFIGS", "BrokerConfig", "broker_module"]

# broker.type -> its scenario section; the model module is imported only when a run needs it.
BROKER_CONFIGS: dict[str, type] = {"rabbitmq": RabbitMQConfig, "kafka": KafkaConfig}
_MODULES = {"rabbitmq": "sim.brokers.rabbitmq.runtime", "kafka": "sim.brokers.kafka.runtime"}
BROKER_CONFIGS["sqs"] = SQSConfig
_MODULES["sqs"] = "sim.brokers.sqs.runtime"
BROKER_CONFIGS["redis"] = RedisConfig
_MODULES["redis"] = "sim.brokers.redis.runtime"

# The section is a union picked by `type` (pydantic's discriminated union).
BrokerConfig = Annotated[
    RabbitMQConfig | KafkaConfig | SQSConfig | RedisConfig, Field(discriminator="type")
]


def broker_module(broker_type: str) -> Any:
    """The module that builds a running broker for `broker_type` (it has a `build` function)."""
    import importlib

    return importlib.import_module(_MODULES[broker_type])
