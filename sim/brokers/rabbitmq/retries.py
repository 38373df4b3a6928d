"""Retry policies on RabbitMQ: delayed retry queues with a per-message TTL that dead-letter back
to the work queue, and a dead-letter queue for messages whose tries are spent.

For a work queue `q` read by a consumer with a retry policy of n attempts, the runtime declares
(as retry frameworks on RabbitMQ do; there is no delayed delivery in the broker itself):

- `q.retry.1` .. `q.retry.<n-1>`, one queue per retry: a consumer whose try k failed
  publishes the message to `q.retry.k` with `expiration` = the backoff (per-message TTL), then
  acks it; the retry queue's `x-dead-letter-exchange` is the default exchange with
  `x-dead-letter-routing-key` q, so an expired message goes back to q ("Time-To-Live and
  Expiration" and "Dead Letter Exchanges", https://www.rabbitmq.com/docs/ttl,
  https://www.rabbitmq.com/docs/dlx). Per-message TTL expires only at the head of a queue, so
  a short delay behind a longer one waits for it (the docs' caveat; one queue per retry keeps
  the delays in one queue alike).
- `q.dlq`, when q has no dead-letter exchange of its own: q is declared with
  `x-dead-letter-exchange` "" and `x-dead-letter-routing-key` q.dlq, so a consumer whose last
  try failed rejects the message (basic.nack, requeue false) and the broker dead-letters it
  there (reason `rejected`).

Which try a delivery is comes from its `x-death` header: one entry per retry queue it expired
in (rabbit_dead_letter), so the try is 1 + the number of those entries' deaths.

With `retry.blocking` the consumer retries in place, holding the unacked message: only the
dead-letter queue is declared.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["RetryTopology", "dead_letter_queue", "retry_queue", "retry_topology"]


def retry_queue(queue: str, retry: int) -> str:
    """The queue a message waits in before retry `retry` (1, 2, ...) of `queue`'s consumers."""
    return f"{queue}.retry.{retry}"


def dead_letter_queue(queue: str) -> str:
    return f"{queue}.dlq"


@dataclass
class RetryTopology:
    """The queues to declare (name -> (the work queue they serve, their arguments)), and the
    arguments each work queue gets beyond its own (its dead-letter exchange and key)."""

    queues: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)
    work_arguments: dict[str, dict[str, Any]] = field(default_factory=dict)


def retry_topology(queues: Iterable[Any], consumers: Iterable[Any]) -> RetryTopology:
    """What the consumers' retry policies need; `queues` are the section's QueueConfigs."""
    declared = {q.name: q for q in queues}
    needs: dict[str, int] = {}  # work queue -> retry queues it needs
    for consumer in consumers:
        retry = consumer.retry
        if retry is None:
            continue
        retries = 0 if retry.blocking else retry.attempts - 1
        needs[consumer.from_] = max(needs.get(consumer.from_, 0), retries)
    topology = RetryTopology()
    for queue, retries in needs.items():
        for k in range(1, retries + 1):
            topology.queues[retry_queue(queue, k)] = (
                queue,
                {"x-dead-letter-exchange": "", "x-dead-letter-routing-key": queue},
            )
        if declared[queue].dead_letter_exchange is None:
            topology.queues[dead_letter_queue(queue)] = (queue, {})
            topology.work_arguments[queue] = {
                "x-dead-letter-exchange": "",
                "x-dead-letter-routing-key": dead_letter_queue(queue),
            }
    return topology
