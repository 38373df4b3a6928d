"""Builds a scenario's services and their clients on a run, after the broker."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

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
    ctx.services.update(services)
    for service in services.values():
        service.connect(services)
        ctx.register_part(service, service.name)
    for client in scenario.clients:
        Client(ctx, client, services[client.to])
    ctx.tables["services"] = lambda: _responses(services)
    return services


def _responses(services: dict[str, Service]) -> pd.DataFrame:
    """Each service as its callers saw it over the run: answers, the share that succeeded,
    and response-time percentiles (seconds; a timed-out call counts with the time waited)."""
    rows = []
    for name, service in services.items():
        view = service.view
        stats = view.response.stats()
        rows.append(
            {
                "service": name,
                "answered": view.answered,
                "success_rate": view.succeeded / view.answered if view.answered else float("nan"),
                "p50": stats["p50"],
                "p99": stats["p99"],
                "max": stats["max"],
            }
        )
    return pd.DataFrame(rows)
