"""The broker's own costs (opt-in): time to route a message and a per-queue throughput ceiling.

The ideal broker does everything instantly, so simple scenarios match queueing theory. With a
cost model, two things take time:

- Routing. A publishing channel (one Erlang process per channel, ``rabbit_channel``) routes its
  messages one after another; `routing` seconds each.
- The queue. Every queue is one Erlang process (``rabbit_amqqueue_process`` for classic queues,
  the Raft leader ``rabbit_fifo`` for quorum queues), so a queue handles one message at a time,
  whatever the number of cores. Each message occupies it for `1 / queue_rate` seconds, plus
  `persistence` for a quorum queue, which replicates and fsyncs every message before confirming
  it. We charge the whole per-message cost at enqueue; the published ceilings below are for the
  whole path (publish, deliver, ack), so the queue's ceiling comes out right.

Defaults, from published measurements:

- `queue_rate` = 50,000 msg/s: "Queues are single-threaded in RabbitMQ, and one queue can handle
  up to about 50 thousand messages" (CloudAMQP, "RabbitMQ Best Practice for High Performance",
  also in L. Johansson, *The Optimal RabbitMQ Guide*, CloudAMQP 2020).
- `persistence` = 1/27,000 s - 1/50,000 s = 17 us: one replicated, persisted RabbitMQ queue fed
  over AMQP 0-9-1 reached 0.027M msg/s (3 nodes, 3 replicas, 12 B payload, GCP c2-standard-16,
  RabbitMQ 3.8.10; G. Lazu, "RabbitMQ Streams" talk, 2021, slide "What made the biggest
  difference"). The difference from the classic ceiling is the cost of replication and fsync.
- `routing` = 0: we found no published measurement that separates routing from the rest of the
  publish path, so routing costs nothing unless a scenario sets it.

Not modelled: credit-based flow control that slows publishers when a queue process falls behind
(its mailbox here simply grows), and disk paging of long classic queues.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import simpy

__all__ = ["CLASSIC_QUEUE_RATE", "QUORUM_PERSISTENCE", "CostModel", "SerialStage"]

CLASSIC_QUEUE_RATE = 50_000.0  # msg/s, CloudAMQP (see the module docstring)
QUORUM_PERSISTENCE = 1 / 27_000.0 - 1 / CLASSIC_QUEUE_RATE  # s, Lazu 2021 minus the above


@dataclass(frozen=True, slots=True)
class CostModel:
    """Per-message service times of the broker's processes, in seconds."""

    routing: float = 0.0
    queue_rate: float = CLASSIC_QUEUE_RATE
    persistence: float = QUORUM_PERSISTENCE

    def queue_time(self, queue_kind: str) -> float:
        """How long one message occupies a queue process of this kind."""
        base = 1.0 / self.queue_rate
        return base + self.persistence if queue_kind == "quorum" else base


class SerialStage:
    """One Erlang process seen from outside: calls `fn(*args)` after `service` seconds of work,
    one call at a time, first come first served.

    No SimPy process and no queue object: each call is one timeout event that fires when the
    stage would finish it (a FIFO single server's departure time, max(arrival, last) + service).
    """

    __slots__ = ("_last", "env", "service")

    def __init__(self, env: simpy.Environment, service: float) -> None:
        self.env = env
        self.service = service
        self._last = 0.0

    def send(self, fn: Callable[..., Any], *args: Any) -> None:
        now = self.env.now
        done = max(now, self._last) + self.service
        self._last = done
        event = self.env.timeout(done - now)
        event.callbacks.append(lambda _event: fn(*args))
