"""Builds a scenario's services and their clients on a run, after the broker."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sim.services.client import Client
from sim.services.ports import BrokerPort, RabbitMQPort
from sim.services.service import Service

if TYPE_CHECKING:
    from sim.kernel import RunContext

__all__ = ["build"]


def build(ctx: RunContext, broker: Any) -> dict[str, Service]:
    """Services by name (each registered as a fault target), with their clients started."""
    scenario = ctx.scenario
    if not scenario.services:
        return {}
    port: BrokerPort | None = None
    if any(s.publishes_to or s.consumes for s in scenario.services):
        port = _port(scenario.broker.type, broker)
    services = {config.name: Service(ctx, config, port) for config in scenario.services}
    for service in services.values():
        service.connect(services)
        ctx.register_part(service, service.name)
    for client in scenario.clients:
        Client(ctx, client, services[client.to])
    return services


def _port(broker_type: str, broker: Any) -> BrokerPort:
    if broker_type == "rabbitmq":
        return RabbitMQPort(broker)
    from sim.scenario.errors import ScenarioError

    raise ScenarioError(
        f"services can publish to and consume from rabbitmq only, not {broker_type}",
        "broker.type",
    )
