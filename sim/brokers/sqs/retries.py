"""Retry policies on SQS: a failed message's visibility timeout is its backoff, and the queue's
redrive policy dead-letters it once its tries are spent.

- A failed try calls ChangeMessageVisibility with the backoff as the new timeout: the message
  stays in the queue, invisible, and is received again once it runs out ("Amazon SQS
  visibility timeout", Developer Guide; ChangeMessageVisibility, API Reference: from 0 s to
  12 hours).
- Which try a receive is: its ApproximateReceiveCount (every receive counts, a visibility
  timeout that ran out while a consumer was slow included).
- The last try's failure makes the message visible at once (visibility 0); the next receive
  finds its receive count at the redrive policy's `maxReceiveCount` and moves it to the
  dead-letter queue ("Using dead-letter queues in Amazon SQS", Developer Guide). A queue read
  by a consumer with a retry policy and no redrive policy of its own gets one, to
  `<queue>-dlq` (`<queue>-dlq.fifo` for a FIFO queue), with `maxReceiveCount` = attempts;
  a queue with its own redrive policy must have `max_receive_count` = attempts.

In-place retries (`retry.blocking`) cannot end on SQS: the redrive policy counts receives, and a
try made in place is not a receive; SQS has no call that dead-letters one message.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = ["dead_letter_queue", "retry_redrives"]


def dead_letter_queue(queue: Any) -> str:
    """The name of the dead-letter queue made for `queue` (a QueueConfig)."""
    if queue.fifo:
        return f"{queue.name.removesuffix('.fifo')}-dlq.fifo"
    return f"{queue.name}-dlq"


def retry_redrives(queues: Iterable[Any], consumers: Iterable[Any]) -> dict[str, tuple[str, int]]:
    """Queue name -> (the dead-letter queue to make for it, maxReceiveCount), for queues read by
    a consumer with a retry policy that have no redrive policy of their own."""
    declared = {q.name: q for q in queues}
    found: dict[str, tuple[str, int]] = {}
    for consumer in consumers:
        queue = declared.get(consumer.from_)
        if consumer.retry is None or queue is None or queue.redrive is not None:
            continue
        attempts = consumer.retry.attempts
        _, known = found.get(queue.name, ("", 0))
        found[queue.name] = (dead_letter_queue(queue), max(attempts, known))
    return found
