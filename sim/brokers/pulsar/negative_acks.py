"""The consumer's negative-ack tracker: when nacked messages are sent back for redelivery.

A port of the timing of ``NegativeAcksTracker`` (``pulsar-client/src/main/java/org/apache/pulsar/
client/impl/NegativeAcksTracker.java``, Pulsar 4.0.0), without a clock of its own: the caller
passes the time in seconds and schedules the ticks this class asks for.

- ``negativeAcknowledge`` records the message with the time it becomes due, now plus the delay
  (``negativeAckRedeliveryDelay``, 1 minute by default in ``ConsumerConfigurationData``; at
  least 100 ms, ``MIN_NACK_DELAY_NANOS``), or plus ``negativeAckRedeliveryBackoff.next(
  redeliveryCount)`` when a backoff is configured (pass ``delay`` explicitly for that).
- Redelivery happens on a timer, not at the due time: the first nack starts a timer of
  ``timerIntervalNanos = delay / 3``; each tick sends every message already due (``timestamp <
  now``) in one ``redeliverUnacknowledgedMessages`` request and re-arms the timer; a tick that
  finds nothing left stops it. So a nacked message comes back between ``delay`` and about
  ``delay * 4 / 3`` later, grouped with the others due by then.
"""

from __future__ import annotations

from typing import Final, Generic, TypeVar

__all__ = ["DEFAULT_NEGATIVE_ACK_REDELIVERY_DELAY", "MIN_NACK_DELAY", "NegativeAcksTracker"]

DEFAULT_NEGATIVE_ACK_REDELIVERY_DELAY: Final = 60.0  # seconds, negativeAckRedeliveryDelay (1 min)
MIN_NACK_DELAY: Final = 0.1  # seconds, MIN_NACK_DELAY_NANOS (100 ms)

MessageId = TypeVar("MessageId")


class NegativeAcksTracker(Generic[MessageId]):
    """Nacked message ids with their due times, and the tracker's redelivery timer."""

    def __init__(self, delay: float = DEFAULT_NEGATIVE_ACK_REDELIVERY_DELAY) -> None:
        self.delay = max(delay, MIN_NACK_DELAY)  # nackDelayNanos
        self.timer_interval = self.delay / 3  # timerIntervalNanos
        self._due: dict[MessageId, float] = {}  # nackedMessages
        # The same dict, for a caller to see at no cost whether anything is nacked at all.
        self.pending: dict[MessageId, float] = self._due
        self.next_tick: float | None = None  # the pending timeout, if any

    def __len__(self) -> int:
        return len(self._due)

    def add(self, message_id: MessageId, now: float, delay: float | None = None) -> float | None:
        """Record a negative ack at ``now``; ``delay`` overrides the tracker's (a backoff's value).

        Returns the time of a newly armed tick the caller must schedule, or ``None`` when a tick
        is already pending (nacks that follow share it).
        """
        self._due[message_id] = now + (self.delay if delay is None else max(delay, 0.0))
        if self.next_tick is None:
            self.next_tick = now + self.timer_interval
            return self.next_tick
        return None

    def remove(self, message_id: MessageId) -> None:
        """Forget a nacked message (e.g. it was acked after all, or the consumer closed)."""
        self._due.pop(message_id, None)

    def tick(self, now: float) -> tuple[list[MessageId], float | None]:
        """``triggerRedelivery`` at ``now``: the messages to redeliver (due strictly before
        ``now``) and the time of the next tick, or ``None`` when the timer stops."""
        if not self._due:
            self.next_tick = None
            return [], None
        due = [message_id for message_id, at in self._due.items() if at < now]
        for message_id in due:
            del self._due[message_id]
        self.next_tick = now + self.timer_interval
        return due, self.next_tick
