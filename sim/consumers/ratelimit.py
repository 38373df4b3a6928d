"""A consumer's rate limit: a token bucket shared by its replicas, as a provider's quota is (an
SMS gateway's messages per second, an e-mail API's calls).

`rate_limit: 100/s` with `burst: 20`: the bucket holds at most `burst` tokens and refills at
`rate_limit`; each processing takes one, and a processing that finds none waits until its
token is due. Tokens are reserved in arrival order (the next caller waits behind the ones
already waiting), so over any window of length t the consumer starts at most
rate x t + burst processings: the token bucket of RFC 2697 / 4115's committed burst, and
the reservation scheme of Guava's RateLimiter. It costs no event unless a caller must wait.
"""

from __future__ import annotations

__all__ = ["TokenBucket"]


class TokenBucket:
    __slots__ = ("_at", "_tokens", "burst", "rate")

    def __init__(self, rate: float, burst: int) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("a rate limit needs a positive rate and a burst of at least 1")
        self.rate = rate
        self.burst = burst
        self._tokens = float(burst)  # may go negative: tokens already promised to waiters
        self._at = 0.0

    def reserve(self, now: float) -> float:
        """Take a token for a processing asked for at `now`; how long it must wait for it."""
        tokens = self._tokens
        if now > self._at:
            tokens = min(self.burst, tokens + (now - self._at) * self.rate)
            self._at = now
        tokens -= 1.0
        self._tokens = tokens
        return 0.0 if tokens >= 0 else -tokens / self.rate
