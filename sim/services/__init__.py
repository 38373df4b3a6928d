"""Synchronous services (worker pools calling each other) and the clients that load them."""

from sim.services.build import build
from sim.services.calls import Breaker, Call, CallerView, Outcome
from sim.services.client import Client
from sim.services.config import (
    BreakerConfig,
    ClientConfig,
    RetryConfig,
    ServiceConfig,
)
from sim.services.service import Service

__all__ = [
    "Breaker",
    "BreakerConfig",
    "Call",
    "CallerView",
    "Client",
    "ClientConfig",
    "Outcome",
    "RetryConfig",
    "Service",
    "ServiceConfig",
    "build",
]
