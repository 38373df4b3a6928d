"""Calls between services, what their callers see of them, and circuit breakers.

A Call is passive data: the work item a service's worker takes from its line. It is either a
synchronous call (a caller waits for `answer`) or a delivery from the service's queue (it carries
the channel and delivery tag to ack). Every hop of a request (client -> A, A -> B, ...) is its
own Call sharing the request's Message and its root (the client's call).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from enum import IntEnum
from typing import TYPE_CHECKING

import numpy as np

from sim.message import Message
from sim.metrics import LatencyHistogram

if TYPE_CHECKING:
    import simpy

    from sim.services.config import BreakerConfig

__all__ = ["Breaker", "Call", "CallerView", "Outcome"]


class Outcome(IntEnum):
    """How a call ended, as its caller sees it."""

    OK = 0
    ERROR = 1  # the callee answered with an error (its own failure, a downstream one, a crash)
    REFUSED = 2  # connection refused: the callee is crashed
    FULL = 3  # the callee's waiting line is full: refused at the door (HTTP 503)
    TIMEOUT = 4  # no answer before the caller's timeout or deadline
    OPEN = 5  # not sent: the caller's circuit breaker toward the callee is open
    THROTTLED = 6  # over the callee's quota: HTTP 429, with a Retry-After (`Call.retry_after`)


class Call:
    """One call to a service (or one delivery from its queue), waiting for or held by a worker."""

    __slots__ = (
        "_root",
        "answered",
        "caller_gave_up",
        "delivery",
        "event",
        "handed_off",
        "msg",
        "on_answer",
        "retry_after",
        "sent_at",
    )

    def __init__(
        self,
        msg: Message,
        sent_at: float,
        root: Call | None = None,
        on_answer: Callable[[Call, Outcome], None] | None = None,
    ) -> None:
        self.msg = msg
        self.sent_at = sent_at
        # Memory: a root call is its own root, but kept as None, not as a reference to
        # itself: a call that referred to itself was a reference cycle, which only the
        # cyclic collector frees (two objects a request, with its message, until the next
        # collection; the collector then walks every held object of the run to find them).
        self._root = root
        self.on_answer = on_answer
        self.answered = False
        self.caller_gave_up = False  # timed out, deadline passed, or the caller crashed
        self.handed_off = False  # (root only) the broker now owns the message's fate
        self.event: simpy.Event | None = None  # what a waiting worker yields on
        self.delivery = False  # a delivery from a source the service consumes
        self.retry_after = 0.0  # with a THROTTLED answer: how long the callee asks to wait

    @property
    def root(self) -> Call:
        """The client's call this hop serves (a client's own call is its own root)."""
        return self if self._root is None else self._root

    def answer(self, outcome: Outcome) -> None:
        """Send the answer; a caller that has stopped waiting never hears it."""
        if self.answered:
            return
        self.answered = True
        if not self.caller_gave_up and self.on_answer is not None:
            self.on_answer(self, outcome)


class CallerView:
    """Calls to one service as their callers saw them, per sampling interval: the fraction that
    succeeded and the response times (a timed-out call counts with the time its caller waited).
    Over the whole run too: every answer's response time in a streaming histogram, and how
    many answers were successes.

    Each sampling instant rolls the window once; the gauges then read the rolled values.
    """

    __slots__ = (
        "_latencies",
        "_ok",
        "_stamp",
        "_total",
        "answered",
        "mean",
        "p99",
        "response",
        "succeeded",
        "success_rate",
    )

    def __init__(self) -> None:
        self._ok = 0
        self._total = 0
        self._latencies: list[float] = []
        self._stamp = -math.inf
        self.success_rate = math.nan
        self.p99 = math.nan
        self.mean = math.nan
        self.response = LatencyHistogram(digits=2)
        self.answered = 0
        self.succeeded = 0

    def record(self, ok: bool, latency: float) -> None:
        self._total += 1
        self._ok += ok
        self._latencies.append(latency)
        self.answered += 1
        self.succeeded += ok
        self.response.record(latency)

    def roll(self, now: float) -> CallerView:
        if now != self._stamp:
            self._stamp = now
            total = self._total
            self.success_rate = self._ok / total if total else math.nan
            if self._latencies:
                values = np.asarray(self._latencies)
                self.p99 = float(np.percentile(values, 99))
                self.mean = float(values.mean())
            else:
                self.p99 = self.mean = math.nan
            self._ok = self._total = 0
            self._latencies.clear()
        return self


class Breaker:
    """A count-based circuit breaker (resilience4j's semantics, see BreakerConfig)."""

    CLOSED, HALF_OPEN, OPEN = 0.0, 0.5, 1.0  # also the gauge's values

    def __init__(self, config: BreakerConfig) -> None:
        self.config = config
        self.state = self.CLOSED
        self.window: deque[bool] = deque(maxlen=config.window)
        self.failures = 0
        self.opened_at = -math.inf
        self.trials_sent = 0
        self.trials_done = 0
        self.trial_failures = 0
        self.trips = 0

    def allow(self, now: float) -> bool:
        """May a call go through now? (Counts a half-open trial when it may.)"""
        if self.state == self.OPEN:
            if now - self.opened_at < self.config.open_for:
                return False
            self.state = self.HALF_OPEN
            self.trials_sent = self.trials_done = self.trial_failures = 0
        if self.state == self.HALF_OPEN:
            if self.trials_sent >= self.config.half_open_calls:
                return False
            self.trials_sent += 1
        return True

    def record(self, ok: bool, now: float) -> None:
        config = self.config
        if self.state == self.HALF_OPEN:
            self.trials_done += 1
            self.trial_failures += not ok
            if self.trials_done >= config.half_open_calls:
                if self.trial_failures / self.trials_done >= config.failure_rate:
                    self._open(now)
                else:
                    self.state = self.CLOSED
                    self.window.clear()
                    self.failures = 0
            return
        if self.state == self.OPEN:  # a call sent before it opened: no longer counted
            return
        window = self.window
        if len(window) == window.maxlen:
            self.failures -= not window[0]
        window.append(ok)
        self.failures += not ok
        enough = min(config.minimum_calls, config.window)  # as resilience4j caps it
        if len(window) >= enough and self.failures / len(window) >= config.failure_rate:
            self._open(now)

    def _open(self, now: float) -> None:
        self.state = self.OPEN
        self.opened_at = now
        self.trips += 1
        self.window.clear()
        self.failures = 0
