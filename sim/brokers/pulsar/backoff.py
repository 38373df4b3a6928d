"""The client's reconnection backoff (``org.apache.pulsar.common.util.Backoff``, Pulsar 4.0.0).

A producer or consumer that loses its connection (``ConnectionHandler.reconnectLater``) waits
``next()`` before the next attempt: the wait starts at ``initialBackoffIntervalNanos`` (100 ms),
doubles after each attempt up to ``maxBackoffIntervalNanos`` (60 s, ``ClientConfigurationData``),
and is shortened at random by up to 10 % so that clients do not retry together; it is never
below the initial value. A successful connection resets it (``resetBackoff``). So a client whose
broker is gone for 30 s tries at about 0.1, 0.3, 0.7, 1.5, 3.1, 6.3, 12.7, 25.5 and 51 s: it may
come back well after the broker does.
"""

from __future__ import annotations

from collections.abc import Callable

from sim.brokers.pulsar.settings import INITIAL_BACKOFF, MAX_BACKOFF

__all__ = ["Backoff"]


class Backoff:
    """Waits in seconds; `random_int(n)` draws uniformly from 0..n-1 (Java's nextInt(n))."""

    __slots__ = ("_next", "_random_int", "initial", "max")

    def __init__(
        self,
        random_int: Callable[[int], int],
        initial: float = INITIAL_BACKOFF,
        maximum: float = MAX_BACKOFF,
    ) -> None:
        if not 0 < initial <= maximum:
            raise ValueError("backoff needs 0 < initial <= max")
        self.initial = initial
        self.max = maximum
        self._next = initial
        self._random_int = random_int

    def next(self) -> float:
        """The next wait (``Backoff.next``), computed in whole milliseconds as Java does."""
        current = round(self._next * 1000)
        if self._next < self.max:
            self._next = min(self._next * 2, self.max)
        if current > 10:
            current -= self._random_int(current // 10)
        return max(round(self.initial * 1000), current) / 1000.0

    def reset(self) -> None:
        """``Backoff.reset``: the next wait is the initial one again."""
        self._next = self.initial
