"""Garbage-collection pauses of a broker's process: windows in which it does no work.

The far tail of a broker's latency (p99.9) comes from rare stalls, not from the steady cost of
each message: "garbage collection" heads Dean and Barroso's list of the sources of latency
variability in a server ("The Tail at Scale", CACM 56(2), 2013). A collection stops the
collected heap's mutators for a while; a message that arrives during the stop waits for its
end, one that arrives otherwise does not notice it. So the excess latency is zero for most
messages and, for the share of the time spent paused, uniform between zero and the pause.

The cost models that use this (sim/brokers/kafka/cluster.py: a Kafka broker's JVM stops all
its request handlers; sim/brokers/rabbitmq/cost.py: a RabbitMQ queue's Erlang process collects
its own heap alone) take two figures: `gc_pause`, the length of one pause, and `gc_rate`,
pauses per second. Pauses start as a Poisson process in the time the process is not paused
(each gap drawn from the run's random stream named by the caller, so runs are reproducible):
real collections are triggered by allocation, hence by the load, so the rate is the one at
the load the preset was fitted on. Without them (the default, 0) nothing pauses and no random
draw is made.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from sim.distributions import Distribution, Sampler

__all__ = ["PauseSchedule", "paused_share", "residual_quantile"]


def paused_share(pause: float, rate: float) -> float:
    """The share of the time a process with `rate` pauses a second of `pause` each is paused
    (the gaps are counted in unpaused time, so it is below 1 however large the rate)."""
    if pause <= 0 or rate <= 0:
        return 0.0
    return pause * rate / (1.0 + pause * rate)


def residual_quantile(pause: float, rate: float, q: float, exposure: float = 1.0) -> float:
    """The `q`-quantile (0 < q < 1) of the wait a message has because of the pauses: 0 with
    probability 1 - share, else uniform on [0, pause], where share is the paused share of the
    time times `exposure`. P(wait > w) = share * (1 - w / pause), so the quantile is
    pause * (1 - (1 - q) / share) when the share exceeds 1 - q, and 0 otherwise.

    `exposure` says how many times its share of the messages a pause catches. A server busy a
    share `u` of the time still owes the work that arrived during a pause when it ends, and
    drains it at 1 - u: the wait falls from the pause's length to 0 over pause / (1 - u), so
    the caught share is 1 / (1 - u) times the paused one, with the same uniform wait (the
    fluid picture of a queue behind a server's vacation). Senders that pile onto the paused
    server multiply it further (Kafka's sticky partitioner: sim/calibration/studies.py)."""
    share = min(1.0, exposure * paused_share(pause, rate))
    if share <= 1.0 - q:
        return 0.0
    return pause * (1.0 - (1.0 - q) / share)


class PauseSchedule:
    """The pauses of one process: `finish(start, work)` is when `work` seconds of its work
    begun at `start` are done, the pauses that fall in between (or that `start` is inside)
    added. Several threads of one process (a Kafka broker's request handlers) share its
    schedule: every call's `start` is the simulated clock's now or later, never earlier than
    an earlier call's, so windows that ended before it are forgotten and later ones are drawn
    as far as a call needs them."""

    __slots__ = ("_gap", "_pause", "_starts")

    def __init__(self, pause: float, rate: float, rng: np.random.Generator) -> None:
        if pause <= 0 or rate <= 0:
            raise ValueError("a pause schedule needs a positive pause and rate")
        self._pause = pause
        self._gap: Sampler = Distribution("exp", (1.0 / rate,)).sampler(rng)
        self._starts: deque[float] = deque([self._gap()])  # drawn pauses, in time order

    @classmethod
    def of(cls, pause: float, rate: float, rng: np.random.Generator | None) -> PauseSchedule | None:
        """A schedule, or None when the process never pauses (no generator is needed then)."""
        if pause <= 0 or rate <= 0 or rng is None:
            return None
        return cls(pause, rate, rng)

    def finish(self, start: float, work: float) -> float:
        starts, pause = self._starts, self._pause
        while starts[0] + pause <= start:  # pauses that ended before this call
            ended = starts.popleft() + pause
            if not starts:
                starts.append(ended + self._gap())
        t, left, i = start, work, 0
        while True:
            if i == len(starts):
                starts.append(starts[-1] + pause + self._gap())
            begins = starts[i]
            if begins <= t:  # inside a pause: nothing happens until it ends
                t = max(t, begins + pause)
            elif t + left <= begins:
                return t + left
            else:  # the pause interrupts the work
                left -= begins - t
                t = begins + pause
            i += 1

    @property
    def next_start(self) -> float:
        """When the earliest pause not yet forgotten starts: for tests."""
        return self._starts[0]
