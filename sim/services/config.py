"""The `services:` and `clients:` sections of a scenario: synchronous services and their load.

A service is a worker pool. It is called synchronously by clients or other services (the caller
holds one of its own workers until the answer or its timeout), may call services downstream
(`calls`), may publish to the broker (`publishes_to`) and may consume from a queue (`consumes`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Literal

from pydantic import Field, model_validator

from sim.clients.load import Schedule, Spikes
from sim.distributions import Distribution
from sim.fieldtypes import Dist, Duration, Rate, Size, StrictModel

__all__ = [
    "BreakerConfig",
    "ClientConfig",
    "RetryConfig",
    "ServiceConfig",
    "reference_errors",
]

Loc = tuple[str | int, ...]


class RetryConfig(StrictModel):
    """Retries of a failed downstream call, with capped exponential backoff and jitter.

    The wait before retry k (k = 1, 2, ...) is d = min(max_backoff, backoff * multiplier^(k-1));
    `jitter: full` waits uniform(0, d), `equal` waits d/2 + uniform(0, d/2), `none` waits d
    (AWS Architecture Blog, M. Brooker, "Exponential Backoff And Jitter", 2015).
    """

    max: int = Field(default=0, ge=0)  # retries after the first attempt
    backoff: Duration = 0.1
    multiplier: float = Field(default=2.0, ge=1.0)
    max_backoff: Duration = 10.0
    jitter: Literal["full", "equal", "none"] = "full"


class BreakerConfig(StrictModel):
    """A count-based circuit breaker per (caller, callee), as resilience4j's CircuitBreaker.

    Closed: outcomes of the last `window` calls are kept; once at least `minimum_calls` are
    known and the failure rate reaches `failure_rate`, it opens. Open: calls fail at once for
    `open_for`, then it turns half-open and lets `half_open_calls` trial calls through; their
    failure rate decides between closed and open again. Defaults are resilience4j's
    (failureRateThreshold 50, slidingWindowSize 100, minimumNumberOfCalls 100,
    waitDurationInOpenState 60 s, permittedNumberOfCallsInHalfOpenState 10:
    https://resilience4j.readme.io/docs/circuitbreaker).
    """

    failure_rate: float = Field(default=0.5, gt=0.0, le=1.0)
    window: int = Field(default=100, ge=1)
    minimum_calls: int = Field(default=100, ge=1)
    open_for: Duration = 60.0
    half_open_calls: int = Field(default=10, ge=1)


class ServiceConfig(StrictModel):
    """One service: `workers` concurrent requests; more wait in a line of `queue_limit`."""

    name: str = Field(min_length=1)
    workers: int = Field(default=1, ge=1)
    service_time: Dist = Distribution.constant(0.0)
    queue_limit: int | None = Field(default=None, ge=0)  # waiting calls; None: unbounded
    calls: list[str] = []  # services called synchronously, in order, for every request
    timeout: Duration | None = None  # per downstream attempt; None waits for ever
    retries: RetryConfig = RetryConfig()
    circuit_breaker: BreakerConfig | None = None
    publishes_to: str | None = None  # a queue or exchange: hand the request to the broker
    routing_key: str = ""
    consumes: str | None = None  # a queue: work also comes as deliveries from it
    prefetch: int | None = Field(default=None, ge=0)  # basic.qos; default: `workers`
    ack: Literal["manual", "auto"] = "manual"

    @model_validator(mode="after")
    def _check(self) -> ServiceConfig:
        if self.name in self.calls:
            raise ValueError(f"service {self.name!r} cannot call itself")
        if self.consumes is not None and self.publishes_to is not None:
            raise ValueError("a service may consume from a queue or publish to one, not both")
        if self.timeout is not None and self.timeout <= 0:
            raise ValueError("timeout must be positive (leave it out to wait for ever)")
        return self


class ClientConfig(StrictModel):
    """Open-loop users of a service: requests keep coming whatever the service's state."""

    name: str = Field(min_length=1)
    to: str = Field(min_length=1)
    rate: Rate
    arrivals: Literal["poisson", "constant"] = "poisson"
    schedule: Schedule = []
    spikes: Spikes = []
    deadline: Duration | None = None  # the client gives up after this; None waits for ever
    message_size: Size = 0
    start: Duration = 0.0
    stop: Duration | None = None

    @model_validator(mode="after")
    def _check(self) -> ClientConfig:
        if self.deadline is not None and self.deadline <= 0:
            raise ValueError("deadline must be positive (leave it out to wait for ever)")
        return self


def reference_errors(scenario: Any) -> Iterator[tuple[Loc, str]]:
    """Services, queues and exchanges that clients and services name must exist. `scenario` is
    the validated Scenario (typed loosely: the scenario package imports this one)."""
    services = [s.name for s in scenario.services]
    known = ", ".join(sorted(services)) or "none"
    for i, client in enumerate(scenario.clients):
        if client.to not in services:
            yield ("clients", i, "to"), f"unknown service {client.to!r} (known: {known})"
    destinations = sorted(scenario.broker.destinations())
    sources = sorted(scenario.broker.sources())
    for i, service in enumerate(scenario.services):
        for j, callee in enumerate(service.calls):
            if callee not in services:
                yield ("services", i, "calls", j), f"unknown service {callee!r} (known: {known})"
        if service.publishes_to is not None and service.publishes_to not in destinations:
            yield (
                ("services", i, "publishes_to"),
                f"unknown destination {service.publishes_to!r} (known: {', '.join(destinations)})",
            )
        if service.consumes is not None and service.consumes not in sources:
            yield (
                ("services", i, "consumes"),
                f"unknown queue {service.consumes!r} (known: {', '.join(sources)})",
            )
    cycle = _call_cycle(scenario.services)
    if cycle:
        index = services.index(cycle[0])
        yield ("services", index, "calls"), "calls form a cycle: " + " -> ".join(cycle)


def _call_cycle(services: list[ServiceConfig]) -> list[str]:
    """A cycle of synchronous calls (it would deadlock real services), or []."""
    calls = {s.name: s.calls for s in services}
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(name: str) -> list[str]:
        state[name] = 1
        path.append(name)
        for callee in calls.get(name, []):
            if state.get(callee) == 1:
                return [*path[path.index(callee) :], callee]
            if callee in calls and callee not in state:
                found = visit(callee)
                if found:
                    return found
        state[name] = 2
        path.pop()
        return []

    for name in calls:
        if name not in state:
            found = visit(name)
            if found:
                return found
    return []
