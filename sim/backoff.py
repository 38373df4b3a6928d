"""Backoff before a retry: exponential or fixed, capped, with jitter (a leaf: services and the
consumer cycle's retry policies both use it).

The wait before retry k (k = 1 for the first retry) is d = min(max_delay, initial x
multiplier^(k-1)) for exponential backoff, d = initial for fixed backoff; `full` jitter waits
uniform(0, d), `equal` jitter waits d/2 + uniform(0, d/2), `none` waits d (AWS Architecture
Blog, M. Brooker, "Exponential Backoff And Jitter", 2015: full jitter spreads the retries of
clients that failed together, so they do not all come back at the same instant).
"""

from __future__ import annotations

from typing import Literal

__all__ = ["Jitter", "backoff_delay"]

Jitter = Literal["none", "full", "equal"]


def backoff_delay(
    retry: int,
    initial: float,
    multiplier: float,
    max_delay: float,
    jitter: Jitter,
    uniform: float,
    exponential: bool = True,
) -> float:
    """The wait before retry `retry` (1, 2, ...); `uniform` is a draw from [0, 1)."""
    if exponential:
        delay = min(max_delay, initial * multiplier ** (retry - 1))
    else:
        delay = min(max_delay, initial)
    if jitter == "full":
        return delay * uniform
    if jitter == "equal":
        return delay / 2 + delay / 2 * uniform
    return delay
