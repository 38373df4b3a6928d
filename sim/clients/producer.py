"""An open-loop producer: it creates messages on its own schedule, whatever the broker does."""

from __future__ import annotations

from collections.abc import Callable
from heapq import heappush
from typing import TYPE_CHECKING, Any

import numpy as np
from simpy.events import NORMAL

from sim.clients.load import LoadSchedule
from sim.distributions import Distribution, Sampler
from sim.message import BareMessage, Message, MessageCore, new_bare_message
from sim.network import Link
from sim.timer import Timer

if TYPE_CHECKING:
    from sim.clients.config import ProducerBase
    from sim.context import RunContext

__all__ = ["Producer", "key_chooser"]

_NO_DELAY = Distribution.constant(0.0)


class Producer:
    """Sends messages through `send` at the configured rate (Poisson or evenly spaced).

    `send(msg)` is given by the broker model; it is called after the producer->broker delay,
    unless `send` makes that hop itself (`owns_network_hop`: a client that batches records
    sends requests over it). `stamp(msg)`, when given, sets the broker's own message properties
    as the message is made, so a copy published again carries the same ones. A message gets a
    key when the producer has `keys`; it is a `message` (the class the broker's Sender names).
    """

    def __init__(
        self,
        ctx: RunContext,
        config: ProducerBase,
        send: Callable[[Message], Any],
        owns_network_hop: bool = False,
        stamp: Callable[[Message], None] | None = None,
        message: type[MessageCore] = Message,
    ):
        self.ctx = ctx
        self.config = config
        self.name = config.name
        self._send = send
        self._stamp = stamp
        self._message = message
        owner = f"producer:{config.name}"
        if owns_network_hop:  # the client sends its requests over the real hop
            self._link = Link(ctx.env, _NO_DELAY, Sampler.of(_NO_DELAY, None))
        else:
            self._link = ctx.link(owner, "producer_to_broker", config.network)
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
        self._keys = key_chooser(config, ctx)
        self._start()

    def _start(self) -> None:
        """Start producing once the run starts.

        Speed: the producer is a chain of timer callbacks, not a SimPy process: no generator
        to resume per message (Process._resume and generator.send), and one event object
        re-armed for every arrival (sim/timer.py; no Timeout made and scheduled by two calls).
        The events are the ones the process made, in the same places of the event queue: an
        urgent event now (the process's Initialize), then one timer per arrival, set after
        the previous message was sent (where the process's `yield timeout(gap)` came)."""
        env, config = self.ctx.env, self.config
        recorder, ids, link, send = self.ctx.recorder, self.ctx.message_ids, self._link, self._send
        next_gap, next_key, size, name, stamp = (
            self.interarrival,
            self._keys,
            config.message_size,
            self.name,
            self._stamp,
        )
        make: Callable[..., MessageCore] = self._message
        if make is BareMessage:
            make = new_bare_message  # speed: the same message, without the class call
        stop = config.stop if config.stop is not None else np.inf
        instant = link.instant  # speed: an ideal hop calls `send` directly (what Link does)

        def arrive(_event: Any) -> None:
            now = env._now  # speed: SimPy's field, not its `now` property; read once a message
            if now >= stop:
                return  # where the process returned: nothing more is scheduled
            msg = make(next(ids), now, size, None if next_key is None else next_key())
            if stamp is not None:
                stamp(msg)
            recorder.produced_message(msg, name)
            if instant:
                send(msg)
            else:
                link.send(send, msg)
            # Speed: `timer.set(next_gap())` inlined (its call a message): the same entry.
            event.callbacks = callbacks
            heappush(queue, (env._now + next_gap(), NORMAL, next(eid), event))

        def first(_event: Any) -> None:
            timer.retarget(arrive)
            timer.set(next_gap())

        def begin(_event: Any) -> None:
            if config.start > 0:
                timer.retarget(first)
                timer.set(config.start)
            else:
                first(_event)

        timer = Timer(env, begin)
        event, callbacks = timer.event, timer.callbacks
        queue, eid = env._queue, env._eid
        timer.urgent()


def key_chooser(config: ProducerBase, ctx: RunContext) -> Callable[[], str] | None:
    """The producer's keys ("key-0".."key-N-1" for an int, else the given list), drawn
    uniformly or by Zipf's law (the k-th most frequent key has weight 1/k: a few hot keys)
    from the stream `producer:<name>/keys`; None without keys."""
    keys = config.keys
    if keys is None:
        return None
    names = [f"key-{i}" for i in range(keys)] if isinstance(keys, int) else list(keys)
    rng = ctx.streams.generator(f"producer:{config.name}/keys")
    if config.key_distribution == "zipf":
        weights = 1.0 / np.arange(1, len(names) + 1)
        p = weights / weights.sum()
        return Sampler(lambda n: [names[i] for i in rng.choice(len(names), n, p=p)])
    return Sampler.choice(names, rng)
