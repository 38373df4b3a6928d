"""The `services:` and `clients:` sections of a scenario: synchronous services and their load.

A service is a worker pool. It is called synchronously by clients or other services (the caller
holds one of its own workers until the answer or its timeout), may call services downstream
(`calls`), may publish to the broker (`publishes_to`) and may consume from a queue (`consumes`).
A service with a `provider:` section is an external provider a notification goes out through
(an SMS gateway, an e-mail API, a push service): it has a quota above which it throttles, may
honour idempotency keys, and measures what it delivered (sim/services/provider.py).

`calls` and `publishes_to` may depend on what a request is: a mapping from the request's
`kind` (set by its client) to the services to call or the destinations to publish to.
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
    "ProviderConfig",
    "RetryConfig",
    "ServiceConfig",
    "by_kind",
    "reference_errors",
]

Loc = tuple[str | int, ...]

#: Services to call (or destinations to publish to): one list for every request, or a list by
#: the request's kind (a kind not listed: none).
ByKind = list[str] | dict[str, list[str]]


def by_kind(value: ByKind | str | None) -> dict[str | None, list[str]]:
    """`value` as {kind: names}, where the kind None stands for every request."""
    if value is None:
        return {}
    if isinstance(value, str):
        return {None: [value]}
    if isinstance(value, list):
        return {None: list(value)}
    return {kind: list(names) for kind, names in value.items()}


def _located(value: ByKind | str | None) -> Iterator[tuple[Loc, str]]:
    """Each name `value` mentions with its place in it: (j,) in a list, (kind, j) by kind."""
    if isinstance(value, str):
        yield (), value
    elif isinstance(value, list):
        for j, name in enumerate(value):
            yield (j,), name
    elif isinstance(value, dict):
        for kind, names in value.items():
            for j, name in enumerate(names):
                yield (kind, j), name


def _names(value: ByKind | str | None) -> list[str]:
    """Every name `value` mentions, once each, in order."""
    return list(dict.fromkeys(n for names in by_kind(value).values() for n in names))


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


class ProviderConfig(StrictModel):
    """What makes a service an external provider of a notification channel.

    - `quota` (calls/s) and `burst`: a token bucket at the provider's edge; a call that finds
      no token is answered at once (after `throttle_time`) with HTTP 429 Too Many Requests
      and a Retry-After (RFC 6585 section 4; RFC 9110 section 10.2.3: delay-seconds, a whole
      number): `retry_after` when set, else the seconds until a token is due, rounded up.
    - `idempotency`: calls carry an idempotency key (the message's id); a key the provider has
      already sent within `idempotency_window` is answered with success and not sent again, a
      key being sent right now is answered 409 Conflict (as Stripe does: "Idempotent
      requests", https://docs.stripe.com/api/idempotent_requests, which keeps keys for at
      least 24 hours, the window's default).
    - `sla`: how soon a notification on this channel should be delivered, for the measures
      (the share delivered within it).
    """

    quota: Rate | None = None
    burst: int = Field(default=1, ge=1)
    retry_after: Duration | None = None
    throttle_time: Duration = 0.0
    idempotency: bool = False
    idempotency_window: Duration = 86400.0
    sla: Duration | None = None

    @model_validator(mode="after")
    def _check(self) -> ProviderConfig:
        if self.quota is not None and self.quota <= 0:
            raise ValueError("quota must be positive (leave it out for no quota)")
        if self.sla is not None and self.sla <= 0:
            raise ValueError("sla must be positive")
        return self


class ServiceConfig(StrictModel):
    """One service: `workers` concurrent requests; more wait in a line of `queue_limit`."""

    name: str = Field(min_length=1)
    workers: int = Field(default=1, ge=1)
    service_time: Dist = Distribution.constant(0.0)
    queue_limit: int | None = Field(default=None, ge=0)  # waiting calls; None: unbounded
    calls: ByKind = []  # services called synchronously, in order (by the request's kind)
    timeout: Duration | None = None  # per downstream attempt; None waits for ever
    retries: RetryConfig = RetryConfig()
    circuit_breaker: BreakerConfig | None = None
    # A queue, topic or exchange to hand the request to (or several, by the request's kind:
    # one copy each); `routing_key` None publishes with the request's kind as its key.
    publishes_to: str | dict[str, list[str]] | None = None
    routing_key: str | None = ""
    consumes: str | None = None  # a queue: work also comes as deliveries from it
    prefetch: int | None = Field(default=None, ge=0)  # basic.qos; default: `workers`
    ack: Literal["manual", "auto"] = "manual"
    provider: ProviderConfig | None = None  # an external provider (sim/services/provider.py)

    @property
    def callees(self) -> list[str]:
        """Every service it may call, whatever the request's kind."""
        return _names(self.calls)

    @property
    def destinations(self) -> list[str]:
        """Every destination it may publish to."""
        return _names(self.publishes_to)

    @model_validator(mode="after")
    def _check(self) -> ServiceConfig:
        if self.name in self.callees:
            raise ValueError(f"service {self.name!r} cannot call itself")
        if self.provider is not None and (self.callees or self.destinations or self.consumes):
            raise ValueError("a provider is called; it neither calls, publishes nor consumes")
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
    # What its requests are (a notification type: `otp`, `order`...): services and consumers
    # may call and publish by kind. `priority` is stamped on each request (RabbitMQ's message
    # priority, for x-max-priority queues). `channels`: the providers each request must reach,
    # for the measures (a design that misses one shows it as undelivered).
    # `sla`: how soon its notifications should arrive, instead of their channels' SLAs.
    kind: str | None = Field(default=None, min_length=1)
    priority: int = Field(default=0, ge=0, le=255)
    channels: list[str] = []
    sla: Duration | None = None

    @model_validator(mode="after")
    def _check(self) -> ClientConfig:
        if self.deadline is not None and self.deadline <= 0:
            raise ValueError("deadline must be positive (leave it out to wait for ever)")
        if self.sla is not None and not self.channels:
            raise ValueError("sla: it is how soon its notifications arrive, and it has no channels")
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
    providers = sorted(s.name for s in scenario.services if s.provider is not None)
    for i, client in enumerate(scenario.clients):
        for j, channel in enumerate(client.channels):
            if channel not in providers:
                yield (
                    ("clients", i, "channels", j),
                    f"unknown provider {channel!r} (known: {', '.join(providers) or 'none'})",
                )
    for i, service in enumerate(scenario.services):
        for where, callee in _located(service.calls):
            if callee not in services:
                yield (
                    ("services", i, "calls", *where),
                    f"unknown service {callee!r} (known: {known})",
                )
        for where, destination in _located(service.publishes_to):
            if destination not in destinations:
                yield (
                    ("services", i, "publishes_to", *where),
                    f"unknown destination {destination!r} (known: {', '.join(destinations)})",
                )
        if service.consumes is not None and service.consumes not in sources:
            yield (
                ("services", i, "consumes"),
                f"unknown queue {service.consumes!r} (known: {', '.join(sources)})",
            )
    for i, consumer in enumerate(scenario.consumers):
        for where, callee in _located(consumer.calls):
            if callee not in services:
                yield (
                    ("consumers", i, "calls", *where),
                    f"unknown service {callee!r} (known: {known})",
                )
    cycle = _call_cycle(scenario.services)
    if cycle:
        index = services.index(cycle[0])
        yield ("services", index, "calls"), "calls form a cycle: " + " -> ".join(cycle)


def _call_cycle(services: list[ServiceConfig]) -> list[str]:
    """A cycle of synchronous calls (it would deadlock real services), or []."""
    calls = {s.name: s.callees for s in services}
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
