"""The RabbitMQ broker model: exchanges, bindings, queues, routing and dead-lettering."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import simpy

from sim.brokers.rabbitmq.queue import ClassicQueue, make_queue
from sim.brokers.rabbitmq.routing import ExchangeType, route
from sim.message import Message
from sim.metrics import Recorder

__all__ = ["Exchange", "RabbitMQBroker"]


@dataclass
class Exchange:
    name: str
    type: str
    bindings: list[tuple[str, str, dict[str, Any] | None]] = field(default_factory=list)


class RabbitMQBroker:
    """One RabbitMQ node. Clients talk to it through `Channel`s with pika's verbs."""

    def __init__(self, env: simpy.Environment, recorder: Recorder | None = None) -> None:
        self.env = env
        self.recorder = recorder if recorder is not None else Recorder(env)
        self.exchanges: dict[str, Exchange] = {}
        self.queues: dict[str, ClassicQueue] = {}
        self.unroutable = 0

    # ----- declarations -----
    def exchange_declare(self, exchange: str, exchange_type: str = "direct") -> Exchange:
        kind = ExchangeType(exchange_type).value
        existing = self.exchanges.get(exchange)
        if existing is not None:
            if existing.type != kind:
                raise ValueError(f"exchange {exchange!r} exists with type {existing.type!r}")
            return existing
        self.exchanges[exchange] = created = Exchange(exchange, kind)
        return created

    def queue_declare(self, queue: str, arguments: dict[str, Any] | None = None) -> ClassicQueue:
        existing = self.queues.get(queue)
        if existing is not None:
            return existing
        self.queues[queue] = created = make_queue(self, queue, arguments)
        return created

    def queue_bind(
        self,
        queue: str,
        exchange: str,
        routing_key: str = "",
        arguments: dict[str, Any] | None = None,
    ) -> None:
        if queue not in self.queues:
            raise KeyError(f"no queue {queue!r}")
        self.exchanges[exchange].bindings.append((queue, routing_key, arguments))

    # ----- routing -----
    def destinations(self, exchange: str, routing_key: str, headers: Any) -> list[ClassicQueue]:
        if exchange == "":  # the default exchange: every queue is bound by its own name
            queue = self.queues.get(routing_key)
            return [] if queue is None else [queue]
        ex = self.exchanges[exchange]
        return [self.queues[name] for name in route(ex.type, ex.bindings, routing_key, headers)]

    def publish(self, msg: Message, exchange: str = "", routing_key: str = "") -> bool:
        """Route `msg` into every matching queue. Returns the publisher confirm: True for ack.

        A message no queue takes is dropped (and counted unroutable); RabbitMQ still acks it.
        A message refused by a queue (reject-publish) is nacked.
        """
        msg.routing_key = routing_key
        msg.exchange = exchange
        targets = self.destinations(exchange, routing_key, msg.headers)
        recorder = self.recorder
        recorder.published_message(msg, exchange or "(default)")
        if not targets:
            self.unroutable += 1
            recorder.count("unroutable")
            recorder.dropped(msg, exchange or "(default)")
            return True
        accepted = True
        for i, queue in enumerate(targets):
            copy = msg
            if i:
                copy = msg.copy()
                recorder.copied(copy)
            accepted = queue.offer(copy) and accepted
        return accepted

    # ----- dead-lettering -----
    def dead_letter(self, queue: ClassicQueue, msg: Message, reason: str) -> None:
        """Republish `msg` to the queue's dead-letter exchange with an `x-death` entry."""
        self.recorder.dead_lettered(msg, queue.name)
        exchange = queue.dead_letter_exchange
        if exchange is None or (exchange != "" and exchange not in self.exchanges):
            return
        original_key = msg.routing_key
        headers = dict(msg.headers or {})
        headers.pop("x-delivery-count", None)
        _add_x_death(headers, queue.name, reason, msg.exchange, original_key, self.env.now)
        msg.headers = headers
        # The dead-lettered copy starts a new life: not redelivered, no per-message TTL left.
        msg.deliveries = 0
        msg.ttl = None
        key = queue.dead_letter_routing_key
        targets = self.destinations(exchange, original_key if key is None else key, headers)
        for i, target in enumerate(targets):
            copy = msg
            if i:
                copy = msg.copy()
                self.recorder.copied(copy)
            target.offer(copy)
        if key is not None:
            msg.routing_key = key


def _add_x_death(
    headers: dict[str, Any], queue: str, reason: str, exchange: str, routing_key: str, now: float
) -> None:
    """RabbitMQ's x-death list: one entry per (queue, reason), most recent first, with a count."""
    deaths: list[dict[str, Any]] = [dict(d) for d in headers.get("x-death", [])]
    for entry in deaths:
        if entry["queue"] == queue and entry["reason"] == reason:
            entry["count"] += 1
            deaths.remove(entry)
            deaths.insert(0, entry)
            break
    else:
        deaths.insert(
            0,
            {
                "count": 1,
                "reason": reason,
                "queue": queue,
                "time": now,
                "exchange": exchange,
                "routing-keys": [routing_key],
            },
        )
    headers["x-death"] = deaths
    headers.setdefault("x-first-death-reason", reason)
    headers.setdefault("x-first-death-queue", queue)
    headers.setdefault("x-first-death-exchange", exchange)
