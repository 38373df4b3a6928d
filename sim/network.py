"""Links: one-way network hops that deliver a call after a sampled delay, without a process."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import simpy

from sim.distributions import Distribution, Sampler

__all__ = ["Link"]


class Link:
    """Calls `fn(*args)` after a delay drawn from the hop's distribution, in sending order.

    A zero-delay link calls at once (the ideal network costs no event at all); otherwise one
    timeout event carries the call, so a message in flight is passive data, never a process.
    """

    __slots__ = ("_delay", "_last", "env", "instant")

    def __init__(self, env: simpy.Environment, delay: Distribution, sampler: Sampler) -> None:
        self.env = env
        self.instant = delay.kind == "constant" and delay.params[0] == 0.0
        self._delay = sampler
        self._last = 0.0

    def send(self, fn: Callable[..., Any], *args: Any) -> None:
        if self.instant:
            fn(*args)
            return
        # A hop is one TCP connection: nothing overtakes what was sent before it.
        now = self.env.now
        arrival = max(now + self._delay(), self._last)
        self._last = arrival
        event = self.env.timeout(arrival - now)
        event.callbacks.append(lambda _event: fn(*args))
