"""The network around the broker: the scenario's one-way delays, and links, the hops that
deliver a call after a sampled delay, without a process."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

import simpy

from sim.distributions import Distribution, Sampler
from sim.fieldtypes import Dist, StrictModel

__all__ = ["Link", "LinkConfig", "LinkOverride"]


class LinkConfig(StrictModel):
    """One-way network delays of the hops around the broker (zero: the ideal network)."""

    producer_to_broker: Dist = Distribution.constant(0.0)
    broker_to_consumer: Dist = Distribution.constant(0.0)
    consumer_to_broker: Dist = Distribution.constant(0.0)


class LinkOverride(StrictModel):
    """Per-producer or per-consumer delays that replace the scenario-wide ones."""

    producer_to_broker: Dist | None = None
    broker_to_consumer: Dist | None = None
    consumer_to_broker: Dist | None = None


class Link:
    """Calls `fn(*args)` after a delay drawn from the hop's distribution, in sending order.

    A zero-delay link calls at once (the ideal network costs no event at all). Otherwise calls
    wait in a deque and one timer at a time delivers the oldest: a hop is one TCP connection,
    so nothing overtakes what was sent before it, and a message in flight is passive data.
    """

    __slots__ = ("_delay", "_in_flight", "_last", "env", "instant")

    def __init__(self, env: simpy.Environment, delay: Distribution, sampler: Sampler) -> None:
        self.env = env
        self.instant = delay.kind == "constant" and delay.params[0] == 0.0
        self._delay = sampler
        self._last = 0.0
        self._in_flight: deque[tuple[float, Callable[..., Any], tuple[Any, ...]]] = deque()

    def send(self, fn: Callable[..., Any], *args: Any) -> None:
        if self.instant:
            fn(*args)
            return
        arrival = max(self.env.now + self._delay(), self._last)
        self._last = arrival
        self._in_flight.append((arrival, fn, args))
        if len(self._in_flight) == 1:
            self._arm()

    def _arm(self) -> None:
        arrival = self._in_flight[0][0]
        timer = self.env.timeout(max(0.0, arrival - self.env.now))
        timer.callbacks.append(self._deliver)

    def _deliver(self, _event: Any) -> None:
        _, fn, args = self._in_flight.popleft()
        if self._in_flight:
            self._arm()
        fn(*args)
