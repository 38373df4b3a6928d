"""SQS's per-queue quotas that the API layer enforces: messages in flight and FIFO request rates.

In-flight messages (Developer Guide, quotas-queues.html and quotas-fifo.html): about 120,000 per
standard queue, 120,000 per FIFO queue (20,000 in older versions of the same pages). A standard
queue at the quota answers a short-polling ReceiveMessage with `OverLimit` and a long-polling one
with no error; a FIFO queue at the quota returns no error either way.

FIFO request rates (Developer Guide, quotas-messages.html, "Message throughput"): 300
transactions per second per API action (SendMessage, ReceiveMessage, DeleteMessage) for a queue
in normal mode, a batch call being one transaction ("3,000 messages per second represent 300 API
calls, each with a batch of 10 messages"). With high throughput (`FifoThroughputLimit:
perMessageGroupId`, API Reference, CreateQueue: "the FIFO queue throughput quota applies ... per
message group") AWS spreads message groups over partitions it sizes itself and publishes a
regional ceiling per queue instead: 70,000 non-batched transactions per second per API action in
US East (N. Virginia), the model's region. A simulation cannot see AWS's partitions, so the model
applies the 300 per message group (a call touching several groups counts once in each) under the
regional ceiling for the queue. A call over a quota is refused with `RequestThrottled` (HTTP 403;
the Developer Guide's FIFO throttling page calls it a ThrottlingException). Calls are counted per
whole second of simulated time. Both numbers are settings (`Quotas`): AWS raises them on request
and changes them by region. ChangeMessageVisibility is not throttled: the quota pages name only
the three actions above. Standard queues have "a nearly unlimited number of API calls per second".
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

from sim.brokers.sqs.queue import MAX_INFLIGHT

__all__ = ["Quotas", "RequestCounter"]


@dataclass(frozen=True)
class Quotas:
    """The quotas an SQSService applies to the queues it creates (None: no quota)."""

    max_inflight_standard: int = MAX_INFLIGHT
    max_inflight_fifo: int = MAX_INFLIGHT
    fifo_transactions_per_second: int | None = 300
    high_throughput_transactions_per_second: int | None = 70_000

    def max_inflight(self, fifo: bool) -> int:
        return self.max_inflight_fifo if fifo else self.max_inflight_standard


class RequestCounter:
    """Calls per key in the current whole second of simulated time."""

    def __init__(self) -> None:
        self._second: int | None = None
        self._calls: Counter[Hashable] = Counter()

    def admit(self, now: float, charges: Sequence[tuple[Hashable, int | None]]) -> bool:
        """Count one call against each (key, limit) and say yes, or, if any key has reached
        its limit this second, count nothing and say no."""
        second = math.floor(now)
        if second != self._second:
            self._second = second
            self._calls.clear()
        calls = self._calls
        if any(limit is not None and calls[key] >= limit for key, limit in charges):
            return False
        for key, _ in charges:
            calls[key] += 1
        return True
