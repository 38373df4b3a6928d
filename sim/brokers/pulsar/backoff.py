"""The client's reconnection backoff (``org.apache.pulsar.common.util.Backoff``, Pulsar 4.0.0).

A producer or consumer that loses its connection (``ConnectionHandler.reconnectLater``) waits
``next()`` before the next attempt: the wait starts at ``initialBackoffIntervalNanos`` (100 ms),
doubles after each attempt up to ``maxBackoffIntervalNanos`` (60 s, ``ClientConfigurationData``),
and is shortened at random by up to 10 % so that clients do not retry together; it is never
below the initial value. A successful connection resets it (``resetBackoff``).

A *mandatory stop* cuts the one wait that would carry the attempts past it, counted from the
first wait: the attempt then comes exactly at the stop, and the doubling resumes after it. The
producer's is ``max(100 ms, sendTimeoutMs - 100 ms)`` (``ProducerImpl``'s ``BackoffBuilder``,
29.9 s by default), so it tries once more just before its pending messages time out; the
consumer's is 0 (no effect). So a consumer whose broker is gone for 30 s tries at about 0.1, 0.3,
0.7, 1.5, 3.1, 6.3, 12.7, 25.5 and 51 s, a producer at the same times up to 25.5 s, then at
29.9 s and about 81 s.
"""

from __future__ import annotations

from collections.abc import Callable

from sim.brokers.pulsar.settings import INITIAL_BACKOFF, MAX_BACKOFF

__all__ = ["Backoff"]


class Backoff:
    """Waits in seconds; `random_int(n)` draws uniformly from 0..n-1 (Java's nextInt(n))."""

    __slots__ = (
        "_first_at",
        "_next",
        "_random_int",
        "_stop_made",
        "initial",
        "mandatory_stop",
        "max",
    )

    def __init__(
        self,
        random_int: Callable[[int], int],
        initial: float = INITIAL_BACKOFF,
        maximum: float = MAX_BACKOFF,
        mandatory_stop: float = 0.0,
    ) -> None:
        if not 0 < initial <= maximum:
            raise ValueError("backoff needs 0 < initial <= max")
        self.initial = initial
        self.max = maximum
        self.mandatory_stop = mandatory_stop
        self._next = initial
        self._random_int = random_int
        self._first_at = 0  # firstBackoffTimeInMillis
        self._stop_made = False  # mandatoryStopMade

    def next(self, now: float = 0.0) -> float:
        """The next wait (``Backoff.next``) at time `now` (seconds), computed in whole
        milliseconds as Java does."""
        current = round(self._next * 1000)
        initial = round(self.initial * 1000)
        if self._next < self.max:
            self._next = min(self._next * 2, self.max)
        if not self._stop_made:
            now_ms = round(now * 1000)
            elapsed = 0
            if current == initial:
                self._first_at = now_ms
            else:
                elapsed = now_ms - self._first_at
            stop = round(self.mandatory_stop * 1000)
            if elapsed + current > stop:
                current = max(initial, stop - elapsed)
                self._stop_made = True
        if current > 10:
            current -= self._random_int(current // 10)
        return max(initial, current) / 1000.0

    def reset(self) -> None:
        """``Backoff.reset``: the next wait is the initial one again, the stop armed again."""
        self._next = self.initial
        self._stop_made = False
