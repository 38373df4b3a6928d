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

- The quorum queue's fsync (`fsync`, 0 by default). A quorum queue's Raft log is written
  through the node's write-ahead log (Ra's WAL), which fsyncs before an entry counts as
  written, batching the entries of every queue into one fsync (RabbitMQ docs, "Quorum Queues",
  "Performance Characteristics"; Ra's `ra_log_wal`). So the fsync does not occupy the queue
  process, but the message is confirmed and deliverable only `fsync` after the queue process
  handled it.
- The node's cores (opt-in, `schedulers`). Every Erlang process of the node (channels, queue
  processes, the message store, mirrors' processes) runs on the VM's schedulers, one per core
  (`+S`, erl(1)), so a cluster's messages also compete for `schedulers` servers: each copy of
  a message routed to a queue costs `core_time` of scheduler time, and `mirroring` more for
  each mirror of a mirrored classic queue (RabbitMQ 3.x `ha-mode: exactly`, the queue's
  `mirrors`; the mirror's own queue process, the guaranteed-multicast ring that carries the
  message, and its write). Without `schedulers` there is no such stage (the default: the
  published defaults above are per-queue ceilings). Calibrated presets set all three
  (sim/presets/, docs/calibration.md). The pool stands for the whole cluster's cores, spread
  evenly: which node a queue's leader lives on is not modelled.

- The queue process's garbage collections (opt-in, `gc_pause` and `gc_rate`; 0 by default).
  "Each Erlang process has its own heap", collected on its own while the process runs
  (Erlang/OTP documentation, ERTS User's Guide, "Erlang Garbage Collector",
  https://www.erlang.org/doc/apps/erts/garbagecollection.html): a collection pauses that one
  queue, nothing else, and a message that reaches it meanwhile waits for its end
  (sim/brokers/pauses.py). Calibrated presets fit both on published tail percentiles.

- A stream's writer (``osiris_writer``, one Erlang process per stream; a stream has no queue
  process: the channel casts each publish to it, rabbit_stream_queue:deliver0/4). It takes
  `1 / queue_rate` per message, as a queue process does: in one benchmark streams and classic
  queues fed over AMQP 0-9-1 went as fast (RabbitMQ blog, "AMQP 1.0 Benchmarks", 2024: about
  89,000 msg/s each on one node, RabbitMQ 4.0; ../shared/calibration r0713), and
  `stream_chunk` more per batch it writes as one chunk (0 by default: no published figure
  separates it). Publishes that reach it while it is busy wait and share the next chunk
  (sim/brokers/rabbitmq/stream_writer.py). The closed form (`account`) charges the per-message
  time only: under load a chunk holds up to 8192 messages, so the per-chunk time spread over
  them is small. The writer's garbage collections are not drawn (osiris collects after every
  batch, part of its per-batch time).

Not modelled: credit-based flow control that slows publishers when a queue process falls behind
(its mailbox here simply grows), and disk paging of long classic queues.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import simpy

from sim.brokers.costs import Account, CostModelSpec, Load, Stage
from sim.brokers.pauses import PauseSchedule, paused_share

if TYPE_CHECKING:
    from sim.brokers.rabbitmq.config import RabbitMQConfig

__all__ = [
    "CLASSIC_QUEUE_RATE",
    "COSTS",
    "QUORUM_PERSISTENCE",
    "CostModel",
    "PoolStage",
    "SerialStage",
    "account",
    "calibration_section",
]

CLASSIC_QUEUE_RATE = 50_000.0  # msg/s, CloudAMQP (see the module docstring)
QUORUM_PERSISTENCE = 1 / 27_000.0 - 1 / CLASSIC_QUEUE_RATE  # s, Lazu 2021 minus the above


@dataclass(frozen=True, slots=True)
class CostModel:
    """Per-message service times of the broker's processes, in seconds."""

    routing: float = 0.0
    queue_rate: float = CLASSIC_QUEUE_RATE
    persistence: float = QUORUM_PERSISTENCE
    schedulers: int | None = None
    core_time: float = 0.0
    mirroring: float = 0.0
    fsync: float = 0.0
    gc_pause: float = 0.0
    gc_rate: float = 0.0
    stream_chunk: float = 0.0

    def queue_time(self, queue_kind: str) -> float:
        """How long one message occupies a queue process of this kind."""
        base = 1.0 / self.queue_rate
        return base + self.persistence if queue_kind == "quorum" else base

    def core_work(self, mirrors: int) -> float:
        """Scheduler time of one copy routed to a queue with `mirrors` mirrors."""
        return self.core_time + self.mirroring * mirrors


class SerialStage:
    """One Erlang process seen from outside: calls `fn(*args)` after `service` seconds of work,
    one call at a time, first come first served.

    No SimPy process and no queue object: each call is one timeout event that fires when the
    stage would finish it (a FIFO single server's departure time, max(arrival, last) + service).
    `pauses` are the process's own garbage collections (sim/brokers/pauses.py): the work they
    meet waits for their end.
    """

    __slots__ = ("_last", "_pauses", "env", "service")

    def __init__(
        self, env: simpy.Environment, service: float, pauses: PauseSchedule | None = None
    ) -> None:
        self.env = env
        self.service = service
        self._last = 0.0
        self._pauses = pauses

    def send(self, fn: Callable[..., Any], *args: Any) -> None:
        now = self.env.now
        start = max(now, self._last)
        done = (
            start + self.service
            if self._pauses is None
            else self._pauses.finish(start, self.service)
        )
        self._last = done
        event = self.env.timeout(done - now)
        event.callbacks.append(lambda _event: fn(*args))


class PoolStage:
    """`servers` identical servers and one first-come-first-served queue, seen from outside:
    calls `fn(*args)` once a server has worked `service` seconds on it. Like SerialStage, no
    SimPy process: a heap of the times each server is next free (arrivals come in time order,
    so the earliest-free server takes the next call, as a FIFO queue would give it)."""

    __slots__ = ("_free", "env")

    def __init__(self, env: simpy.Environment, servers: int) -> None:
        self.env = env
        self._free = [0.0] * servers

    def send(self, service: float, fn: Callable[..., Any], *args: Any) -> None:
        now = self.env.now
        done = max(now, self._free[0]) + service
        heapq.heapreplace(self._free, done)
        event = self.env.timeout(done - now)
        event.callbacks.append(lambda _event: fn(*args))


def account(config: RabbitMQConfig, load: Load, queue: str | None = None) -> Account:
    """The stages of `load` spread over `load.partitions` queues like `queue` (the section's
    first queue by default), each message routed to `load.subscriptions` of them, published
    on `load.producers` channels."""
    if config.cost is None:
        return Account(notes=("the ideal broker: no costs",))
    cost = config.cost.model()
    kind = config.queues[0] if queue is None else next(q for q in config.queues if q.name == queue)
    queue_time = cost.queue_time(kind.type)
    # The queue process's garbage collections leave it the unpaused share of the time.
    available = 1.0 - paused_share(cost.gc_pause, cost.gc_rate)
    stages = [Stage("queue process", 1, queue_time / load.partitions / available)]
    if cost.routing > 0:
        stages.append(Stage("publishing channel", 1, cost.routing / load.producers))
    core = cost.core_work(kind.mirrors)
    if cost.schedulers is not None:
        stages.append(Stage("Erlang schedulers", cost.schedulers, load.subscriptions * core))
    latency = cost.routing + queue_time + (core if cost.schedulers is not None else 0.0)
    if kind.type == "quorum":
        latency += cost.fsync
    return Account(tuple(stages), latency)


def calibration_section(part: Mapping[str, Mapping[str, Any]], setup: Mapping[str, Any]) -> dict:
    """One queue `q`: setup keys `queue_type` (classic, quorum) and `mirrors`."""
    # Durable: 4.3 refuses transient classic queues; without a broker crash it changes nothing.
    queue: dict[str, Any] = {
        "name": "q",
        "type": setup.get("queue_type", "classic"),
        "durable": True,
    }
    if setup.get("mirrors"):
        queue["mirrors"] = setup["mirrors"]
    broker = dict(part.get("broker", {}))
    return {"type": "rabbitmq", **broker, "queues": [queue], "cost": dict(part["cost"])}


COSTS = CostModelSpec(
    published="rabbitmq",
    section=calibration_section,
    account=lambda config, part, load, setup: account(config, load),
)
