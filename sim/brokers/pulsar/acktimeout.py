"""The consumer's ack-timeout tracker (``UnAckedMessageTracker``, Java client, Pulsar 4.0.0).

With ``ackTimeoutMillis`` > 0 (off by default; at least 1 s, ``ConsumerBuilderImpl``) a
received message that is not acked in time is sent back for redelivery. The tracker keeps
``ceil(ackTimeout / tickDuration) + 1`` time partitions in a ring; a received message joins the
newest; every ``tickDurationMillis`` (1 s) the oldest partition is taken off and its messages are
redelivered in one request, and an empty partition is added. So a message is redelivered
between ackTimeout and ackTimeout + tick after it was received (``receive()`` tracks it, not
its arrival in the receiver queue). A batch is tracked as its entry ("do not add each item in
batch message into tracker").

The clock is the caller's: `tick(now)` at the times `next_tick` says.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Hashable
from typing import Generic, TypeVar

__all__ = ["UnAckedMessageTracker"]

Key = TypeVar("Key", bound=Hashable)


class UnAckedMessageTracker(Generic[Key]):
    """Tracked ids in time partitions; `tick()` returns the ones that timed out."""

    def __init__(self, ack_timeout: float, tick_duration: float, start: float = 0.0) -> None:
        if not (tick_duration > 0 and ack_timeout >= tick_duration):
            # Preconditions.checkArgument(tickDurationInMs > 0 && ackTimeoutMillis >= tick...)
            raise ValueError("needs tickDuration > 0 and ackTimeout >= tickDuration")
        self.ack_timeout = ack_timeout
        self.tick_duration = tick_duration
        blank = math.ceil(ack_timeout / tick_duration)
        self.partitions: deque[set[Key]] = deque(set() for _ in range(blank + 1))
        self._where: dict[Key, set[Key]] = {}
        self.next_tick = start + tick_duration  # the timer runs from the tracker's creation

    def __len__(self) -> int:
        return len(self._where)

    def add(self, key: Key) -> None:
        partition = self.partitions[-1]
        self._where[key] = partition
        partition.add(key)

    def remove(self, key: Key) -> None:
        partition = self._where.pop(key, None)
        if partition is not None:
            partition.discard(key)

    def clear(self) -> None:
        self._where.clear()
        for partition in self.partitions:
            partition.clear()

    def tick(self) -> list[Key]:
        """One timer run: the head partition's ids (timed out), and a new empty partition."""
        head = self.partitions.popleft()
        timed_out = list(head)
        for key in timed_out:
            self._where.pop(key, None)
        head.clear()
        self.partitions.append(head)
        self.next_tick += self.tick_duration
        return timed_out
