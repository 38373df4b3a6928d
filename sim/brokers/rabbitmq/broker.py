"""The RabbitMQ broker model: exchanges, bindings, queues, routing and dead-lettering."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import simpy

from sim.brokers.pauses import PauseSchedule
from sim.brokers.rabbitmq.cost import CostModel, PoolStage, SerialStage
from sim.brokers.rabbitmq.errors import ConnectionClosedByBroker, PreconditionFailed
from sim.brokers.rabbitmq.queue import ClassicQueue, make_queue
from sim.brokers.rabbitmq.routing import ExchangeType, route
from sim.brokers.rabbitmq.versions import DEFAULT_VERSION, behaviour
from sim.message import Message
from sim.metrics import Recorder
from sim.randomness import RandomStreams

if TYPE_CHECKING:
    from sim.brokers.rabbitmq.stream import StreamQueue

__all__ = ["Confirm", "Exchange", "RabbitMQBroker"]


@dataclass
class Exchange:
    name: str
    type: str
    bindings: list[tuple[str, str, dict[str, Any] | None]] = field(default_factory=list)


class Confirm(StrEnum):
    """What the broker answers a publish (publisher confirms)."""

    ACK = "ack"  # every queue took it, or no queue did and it was not mandatory
    NACK = "nack"  # a queue refused it (reject-publish)
    RETURNED = "returned"  # mandatory and unroutable: basic.return, then basic.ack
    PENDING = "pending"  # the cost model is on: queue processes answer later


class _PendingConfirm:
    """Gathers the answers of the queues a message went to (cost model only): ack only if all
    took it, as the broker confirms a message once every queue has."""

    __slots__ = ("accepted", "broker", "on_confirm", "waiting")

    def __init__(self, broker: RabbitMQBroker, waiting: int, on_confirm: Any) -> None:
        self.broker = broker
        self.waiting = waiting
        self.accepted = True
        self.on_confirm = on_confirm

    def answer(self, accepted: bool) -> None:
        self.accepted = self.accepted and accepted
        self.waiting -= 1
        if not self.waiting:
            self.broker._confirmed(Confirm.ACK if self.accepted else Confirm.NACK, self.on_confirm)


OnConfirm = Callable[[Confirm], Any]


class RabbitMQBroker:
    """One RabbitMQ node. Clients talk to it through `Channel`s with pika's verbs.

    `cost` (a CostModel) makes routing and each queue process take time; without it the broker
    is ideal and instant. `version` is the RabbitMQ version whose defaults it follows
    (sim/brokers/rabbitmq/versions.py; "3.10" for the recorded traces). `consumer_timeout` is
    rabbitmq.conf's, in milliseconds. `permit_transient_queues` permits the deprecated feature
    `transient_nonexcl_queues`, which 4.3 refuses by default (4.3.0 release notes).
    """

    def __init__(
        self,
        env: simpy.Environment,
        recorder: Recorder | None = None,
        cost: CostModel | None = None,
        message_ids: Iterator[int] | None = None,
        version: str = DEFAULT_VERSION,
        streams: RandomStreams | None = None,
        consumer_timeout: int = 1_800_000,
        permit_transient_queues: bool = False,
    ) -> None:
        self.env = env
        self.permit_transient_queues = permit_transient_queues
        # rabbitmq.conf `consumer_timeout` in ms (default 1800000: deps/rabbit/Makefile), in
        # seconds: the channel (3.10-4.2) or the quorum queue (4.3) enforces it.
        self.consumer_timeout = consumer_timeout / 1000.0
        # The random streams of the run: each queue process's garbage collections draw from
        # their own (cost model with pauses only).
        self.streams = streams if streams is not None else RandomStreams(0)
        self.version = behaviour(version)  # what changed between versions (versions.py)
        self.recorder = recorder if recorder is not None else Recorder(env)
        self.cost = cost
        # The Erlang schedulers every copy's work shares (cost model with `schedulers` only).
        self.cores = (
            PoolStage(env, cost.schedulers)
            if cost is not None and cost.schedulers is not None
            else None
        )
        self.message_ids = message_ids if message_ids is not None else itertools.count(1)
        self.exchanges: dict[str, Exchange] = {}
        self.queues: dict[str, ClassicQueue] = {}
        self.unroutable = 0
        self.up = True
        self.channels: list[Any] = []  # every channel opened; a crash closes the open ones
        # Scenario clients (consumers) that a crash kills and a restart lets reconnect.
        self.connections: list[Any] = []
        # Streams whose writer's chunk of this instant is still open (ideal broker only,
        # stream_writer.py): a client that waits for a confirm ends them.
        self.open_stream_chunks: list[StreamQueue] = []

    # ----- declarations -----
    def exchange_declare(self, exchange: str, exchange_type: str = "direct") -> Exchange:
        if exchange == "":
            raise PreconditionFailed("the default exchange cannot be declared")
        kind = ExchangeType(exchange_type).value
        existing = self.exchanges.get(exchange)
        if existing is not None:
            if existing.type != kind:
                raise PreconditionFailed(
                    f"exchange {exchange!r} exists with type {existing.type!r}, not {kind!r}"
                )
            return existing
        self.exchanges[exchange] = created = Exchange(exchange, kind)
        return created

    def queue_declare(
        self,
        queue: str,
        arguments: dict[str, Any] | None = None,
        durable: bool = False,
        mirrors: int = 0,
        exclusive: bool = False,
    ) -> ClassicQueue:
        """Declare a queue, or return the existing one if declared with the same arguments.

        A quorum queue is always durable, whatever `durable` says (RabbitMQ refuses a
        non-durable one; here the flag is simply implied). `mirrors` is the number of mirrors
        an `ha-mode: exactly` policy gives a classic queue: only the cost model reads it.

        From 4.3 a classic queue that is neither durable nor exclusive is refused unless
        `permit_transient_queues`: rabbit_amqqueue.erl declare/7 (v4.3.5) answers
        `{protocol_error, internal_error, ...}` when is_queue_args_combination_permitted/2
        finds the deprecated feature `transient_nonexcl_queues` not permitted, and a
        protocol error of that kind closes the connection with 541 INTERNAL_ERROR.
        Exclusive queues are otherwise not modelled: `exclusive` only exempts the queue."""
        if (
            not durable
            and not exclusive
            and self.version.refuses_transient_queues
            and not self.permit_transient_queues
            and (arguments or {}).get("x-queue-type", "classic") == "classic"
        ):
            raise ConnectionClosedByBroker(
                541,
                f"INTERNAL_ERROR - queue {queue!r}: transient non-exclusive queues are a "
                f"deprecated feature that RabbitMQ {self.version.name} does not permit; "
                "declare it durable=True",
            )
        existing = self.queues.get(queue)
        if existing is not None:
            if dict(arguments or {}) != existing.arguments:
                raise PreconditionFailed(
                    f"queue {queue!r} exists with arguments {existing.arguments}, not {arguments}"
                )
            return existing
        self.queues[queue] = created = make_queue(self, queue, arguments)
        created.durable = durable or created.kind in ("quorum", "stream")
        created.mirrors = mirrors
        if self.cost is not None:
            pauses = None
            if self.cost.gc_pause > 0 and self.cost.gc_rate > 0:
                rng = self.streams.generator(f"rabbitmq:{queue}/gc")
                pauses = PauseSchedule(self.cost.gc_pause, self.cost.gc_rate, rng)
            created.stage = SerialStage(self.env, self.cost.queue_time(created.kind), pauses)
            created.fsync_wait = self.cost.fsync if created.kind == "quorum" else 0.0
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
        if exchange not in self.exchanges:
            raise KeyError(f"no exchange {exchange!r}")
        binding = (queue, routing_key, arguments)
        bindings = self.exchanges[exchange].bindings
        if binding not in bindings:  # binding twice is a no-op, as in the broker
            bindings.append(binding)

    # ----- routing -----
    def destinations(self, exchange: str, routing_key: str, headers: Any) -> list[ClassicQueue]:
        if exchange == "":  # the default exchange: every queue is bound by its own name
            queue = self.queues.get(routing_key)
            return [] if queue is None else [queue]
        ex = self.exchanges.get(exchange)
        if ex is None:
            raise KeyError(f"no exchange {exchange!r}")  # the broker's 404 NOT_FOUND
        return [self.queues[name] for name in route(ex.type, ex.bindings, routing_key, headers)]

    def default_exchange_publisher(
        self, routing_key: str, mandatory: bool
    ) -> Callable[[Message], Confirm]:
        """`publish(msg, "", routing_key, mandatory)` as one call: a producer's publish to a
        queue by name. Speed: publish's common case (the broker up, no cost model, the queue
        there) without the lambda and the call to `publish` around it, the same steps in the
        same order; anything else goes to `publish`."""
        publish, recorder, queues = self.publish, self.recorder, self.queues
        ack, nack = Confirm.ACK, Confirm.NACK

        def publish_to_queue(msg: Message) -> Confirm:
            if self.up and self.cost is None:
                queue = queues.get(routing_key)
                if queue is not None:
                    msg.routing_key = routing_key
                    msg.exchange = ""
                    recorder.published_message(msg, "(default)")
                    if queue.accept(msg):
                        return ack
                    recorder.count("nacked")
                    return nack
            return publish(msg, "", routing_key, mandatory)

        return publish_to_queue

    def publish(
        self,
        msg: Message,
        exchange: str = "",
        routing_key: str = "",
        mandatory: bool = False,
        on_confirm: OnConfirm | None = None,
    ) -> Confirm:
        """Route `msg` into every matching queue and return the publisher confirm.

        A message no queue takes is dropped and counted `unroutable` (RabbitMQ still acks it),
        or, when `mandatory`, returned to the publisher (counted `returned`). A message a queue
        refuses (reject-publish) is nacked, and counted `nacked`. `on_confirm(confirm)` is
        called with the final answer, at once on the ideal broker, later with a cost model.
        """
        msg.routing_key = routing_key
        msg.exchange = exchange
        recorder = self.recorder
        where = exchange or "(default)"
        if not self.up:  # the connection is refused: the publisher learns it was not taken
            recorder.published_message(msg, where)
            recorder.rejected(msg, "broker down")
            return self._confirmed(Confirm.NACK, on_confirm)
        if exchange == "" and on_confirm is None and self.cost is None:
            # The common case, kept short: one queue (or none) by name, an instant answer.
            queue = self.queues.get(routing_key)
            if queue is not None:
                recorder.published_message(msg, where)
                accepted = queue.accept(msg)
                if not accepted:
                    recorder.count("nacked")
                return Confirm.ACK if accepted else Confirm.NACK
        targets = self.destinations(exchange, routing_key, msg.headers)
        recorder.published_message(msg, where)
        if not targets:
            if mandatory:
                recorder.count("returned")
                recorder.rejected(msg, where)
                return self._confirmed(Confirm.RETURNED, on_confirm)
            self.unroutable += 1
            recorder.count("unroutable")
            recorder.dropped(msg, where)
            return self._confirmed(Confirm.ACK, on_confirm)
        copies = [msg]
        for _ in targets[1:]:
            twin = msg.copy()
            recorder.copied(twin)
            copies.append(twin)
        if self.cost is not None:
            pending = _PendingConfirm(self, len(targets), on_confirm)
            if self.cost.routing > 0:
                # The publishing channel routes before any queue sees the message.
                self.env.timeout(self.cost.routing).callbacks.append(
                    lambda _e: self._offer_all(targets, copies, pending.answer)
                )
            else:
                self._offer_all(targets, copies, pending.answer)
            return Confirm.PENDING
        accepted = True
        for queue, copy in zip(targets, copies, strict=True):
            accepted = bool(queue.offer(copy)) and accepted
        return self._confirmed(Confirm.ACK if accepted else Confirm.NACK, on_confirm)

    def _offer_all(self, targets: list[ClassicQueue], copies: list[Message], answer: Any) -> None:
        cores, cost = self.cores, self.cost
        for queue, copy in zip(targets, copies, strict=True):
            if cores is None or cost is None:
                queue.offer(copy, answer)
            else:  # the copy's scheduler time first, then its queue process
                cores.send(cost.core_work(queue.mirrors), queue.offer, copy, answer)

    def confirm_waited(self) -> None:
        """A client waited for a publisher confirm (ideal broker): a stream confirms once the
        message's chunk is written, so every stream writer has handled what it held and the
        next publish starts a new chunk (sim/brokers/rabbitmq/stream_writer.py)."""
        streams = self.open_stream_chunks
        if streams:
            for stream in streams:
                stream.seal()
                stream.listed_open = False
            streams.clear()

    def _confirmed(self, confirm: Confirm, on_confirm: OnConfirm | None) -> Confirm:
        if confirm is Confirm.NACK:
            self.recorder.count("nacked")
        if on_confirm is not None:
            on_confirm(confirm)
        return confirm

    # ----- a node crash -----
    def crash(self) -> None:
        """The node dies. Every connection drops, so unacked messages go back to their queues
        (rabbit_amqqueue requeues them on channel close); then what does not survive a restart
        is gone: non-durable queues lose everything, durable queues their transient messages
        (only persistent messages in durable queues are on disk)."""
        if not self.up:
            return
        self.up = False
        for client in self.connections:
            client.crash()
        for channel in self.channels:  # scripts' channels: the connection is gone
            channel.close()
        self.channels.clear()
        for queue in self.queues.values():
            queue.lose_volatile()

    def restart(self) -> None:
        """The node is back: clients reconnect and consume again."""
        if self.up:
            return
        self.up = True
        for client in self.connections:
            client.restart()

    # ----- dead-lettering -----
    def dead_letter(self, queue: ClassicQueue, msg: Message, reason: str) -> None:
        """Republish `msg` to the queue's dead-letter exchange (rabbit_dead_letter).

        The copy gets an `x-death` entry (and `original-expiration` if it had a per-message
        TTL, which it loses), is published by the dead-letter exchange with the queue's
        dead-letter routing key or its own, starts unredelivered, and loses quorum queues'
        `x-delivery-count`. A dead-letter exchange that does not exist drops it; so does a
        cycle back to a queue it died in, unless a consumer rejected it on the way.
        """
        self.recorder.dead_lettered(msg, queue.name)
        exchange = queue.dead_letter_exchange
        if exchange is None or (exchange != "" and exchange not in self.exchanges):
            return
        headers = dict(msg.headers or {})
        headers.pop("x-delivery-count", None)
        death: dict[str, Any] = {
            "count": 1,
            "reason": reason,
            "queue": queue.name,
            "time": self.env.now,
            "exchange": msg.exchange,
            "routing-keys": [msg.routing_key],
        }
        if msg.ttl is not None:
            death["original-expiration"] = expiration_text(msg.ttl)
            # Memory: written only when set: a LeanAmqpMessage has no `ttl` slot (sim/message.py).
            msg.ttl = None
        _add_x_death(headers, death)
        key = queue.dead_letter_routing_key
        msg.headers = headers
        msg.deliveries = 0
        msg.expires_at = float("inf")
        msg.exchange = exchange
        if key is not None:
            msg.routing_key = key
        targets = self.destinations(exchange, msg.routing_key, headers)
        if reason != "rejected":
            targets = [t for t in targets if not _is_cycle(t.name, headers["x-death"])]
        for i, target in enumerate(targets):
            copy = msg
            if i:
                copy = msg.copy()
                self.recorder.copied(copy)
            target.offer(copy)


def expiration_text(ttl: float) -> str:
    """The AMQP `expiration` property: milliseconds as a decimal string."""
    return str(round(ttl * 1000))


def _add_x_death(headers: dict[str, Any], death: dict[str, Any]) -> None:
    """RabbitMQ's x-death list: one entry per (queue, reason), most recent first. Dying again
    the same way moves the old entry to the front with its count plus one, keeping its other
    fields (rabbit_dead_letter:update_x_death_header)."""
    deaths: list[dict[str, Any]] = [dict(d) for d in headers.get("x-death", [])]
    for entry in deaths:
        if entry["queue"] == death["queue"] and entry["reason"] == death["reason"]:
            entry["count"] += 1
            deaths.remove(entry)
            deaths.insert(0, entry)
            break
    else:
        deaths.insert(0, death)
    headers["x-death"] = deaths
    headers.setdefault("x-first-death-reason", death["reason"])
    headers.setdefault("x-first-death-queue", death["queue"])
    headers.setdefault("x-first-death-exchange", death["exchange"])


def _is_cycle(queue: str, deaths: list[dict[str, Any]]) -> bool:
    """Would dead-lettering into `queue` close a loop with no consumer rejection in it?
    (rabbit_dead_letter:is_cycle: such a message is dropped rather than looping forever.)"""
    for i, entry in enumerate(deaths):
        if entry["queue"] == queue:
            return all(d["reason"] != "rejected" for d in deaths[: i + 1])
    return False
