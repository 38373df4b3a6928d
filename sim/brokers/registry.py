"""Which broker model serves which `broker.type`, and the union of their scenario sections."""

from __future__ import annotations

from typing import Any

from sim.brokers.rabbitmq.config import RabbitMQConfig

__all__ = ["BROKER_CONFIGS", "BrokerConfig", "broker_module"]

# broker.type -> its scenario section; the model module is imported only when a run needs it.
BROKER_CONFIGS: dict[str, type] = {"rabbitmq": RabbitMQConfig}
_MODULES = {"rabbitmq": "sim.brokers.rabbitmq.runtime"}

# With one model the section is that model; with several it is a union picked by `type`.
BrokerConfig = RabbitMQConfig


def broker_module(broker_type: str) -> Any:
    """The module that builds a running broker for `broker_type` (it has a `build` function)."""
    import importlib

    return importlib.import_module(_MODULES[broker_type])
