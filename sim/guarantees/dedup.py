"""The dedup store of an idempotent consumer: the ids it has processed, each kept for a
retention window.

Real stores are bounded the same way: a Redis key with a TTL (`SET id 1 EX <window>`), or a
processed-messages table pruned of rows older than the window (the Idempotent Consumer
pattern, Hohpe & Woolf, "Enterprise Integration Patterns", 2003; Richardson,
microservices.io/patterns/communication-style/idempotent-consumer.html). A duplicate that
arrives after its id has been forgotten is processed as new: the window is a promise about how
late duplicates may come.

Ids are recorded in time order with the same window, so they also expire in that order: a
deque of (expiry, id) evicts from the front, and memory stays at the ids of one window.
"""

from __future__ import annotations

from collections import deque

__all__ = ["DedupStore"]


class DedupStore:
    """Processed ids with their expiry times; `seen` and `record` act at time `now`."""

    def __init__(self, window: float) -> None:
        self.window = window
        self._expires: dict[int, float] = {}
        self._order: deque[tuple[float, int]] = deque()
        self.forgotten = 0  # ids evicted after their window

    def _evict(self, now: float) -> None:
        order, expires = self._order, self._expires
        while order and order[0][0] <= now:
            expiry, message_id = order.popleft()
            if expires.get(message_id) == expiry:  # not recorded again since
                del expires[message_id]
                self.forgotten += 1

    def seen(self, message_id: int, now: float) -> bool:
        """Was `message_id` recorded less than a window ago?"""
        self._evict(now)
        return message_id in self._expires

    def record(self, message_id: int, now: float) -> None:
        expiry = now + self.window
        self._expires[message_id] = expiry
        self._order.append((expiry, message_id))

    def __len__(self) -> int:
        return len(self._expires)
