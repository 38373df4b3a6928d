"""Builds a scenario's services and their clients on a run, after the broker."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sim.services.client import Client
from sim.services.service import Service

if TYPE_CHECKING:
    from sim.context import RunContext

__all__ = ["build"]


def build(ctx: RunContext, broker: Any) -> dict[str, Service]:
    """Services by name (each registered as a fault target), with their clients started.
    `broker` is the run's broker runtime: the services' port to it (sim/services/ports.py)."""
    scenario = ctx.scenario
    if not scenario.services:
        return {}
    port = broker if any(s.publishes_to or s.consumes for s in scenario.services) else None
    services = {config.name: Service(ctx, config, port) for config in scenario.services}
    for service in services.values():
        service.connect(services)
        ctx.register_part(service, service.name)
    for client in scenario.clients:
        Client(ctx, client, services[client.to])
    return services
