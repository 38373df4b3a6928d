"""An open-loop producer: it creates messages on its own schedule, whatever the broker does."""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any

import numpy as np

from sim.clients.load import LoadSchedule
from sim.distributions import Distribution, Sampler
from sim.message import Message

if TYPE_CHECKING:
    from sim.kernel import RunContext
    from sim.scenario.schema import ProducerConfig

__all__ = ["Producer"]


class Producer:
    """Sends messages through `send` at the configured rate (Poisson or evenly spaced).

    `send(msg)` is given by the broker model; it is called after the producer->broker delay.
    """

    def __init__(self, ctx: RunContext, config: ProducerConfig, send: Callable[[Message], Any]):
        self.ctx = ctx
        self.config = config
        self.name = config.name
        self._send = send
        self._link = ctx.link(f"producer:{config.name}", "producer_to_broker", config.network)
        rate = config.rate
        gap = Distribution.constant(np.inf if rate == 0 else 1.0 / rate)
        if config.arrivals == "poisson" and rate > 0:
            gap = Distribution("exp", (1.0 / rate,))
        self.interarrival = gap.sampler(ctx.streams.generator(f"producer:{config.name}/arrivals"))
        if config.schedule or config.spikes:  # a varying rate: see sim/clients/load.py
            poisson = config.arrivals == "poisson"
            unit = Distribution("exp", (1.0,)) if poisson else Distribution.constant(1.0)
            profile = LoadSchedule.of(rate, config.schedule, config.spikes)
            arrivals = ctx.streams.generator(f"producer:{config.name}/arrivals")
            self.interarrival = profile.gaps(unit.sampler(arrivals), config.start)
        self._keys = _key_chooser(config.routing_key, ctx, config.name)
        ctx.env.process(self.run())

    def run(self) -> Generator[Any, Any, None]:
        env, config = self.ctx.env, self.config
        recorder, ids, link, send = self.ctx.recorder, self.ctx.message_ids, self._link, self._send
        next_gap, next_key, size, name = (
            self.interarrival,
            self._keys,
            config.message_size,
            self.name,
        )
        stop = config.stop if config.stop is not None else np.inf
        if config.start > 0:
            yield env.timeout(config.start)
        timeout = env.timeout
        while True:
            yield timeout(next_gap())
            if env.now >= stop:
                return
            msg = Message(next(ids), env.now, size, None, next_key())
            recorder.produced_message(msg, name)
            link.send(send, msg)


def _key_chooser(keys: str | list[str] | None, ctx: RunContext, name: str) -> Callable[[], str]:
    if keys is None or isinstance(keys, str):
        fixed = keys or ""
        return lambda: fixed
    return Sampler.choice(list(keys), ctx.streams.generator(f"producer:{name}/keys"))
