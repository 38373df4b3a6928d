"""A client channel in simulated time, with pika's verb names.

A teaching script drives the broker as a pika script drives RabbitMQ: declare, bind, qos,
publish, consume with a callback, ack / nack / reject, recover, cancel, close. Calls act at the
current simulated time; deliveries reach the callback after the channel's network delay (at once
without one). The callback gets pika's four arguments, `(channel, method, properties, body)`,
where `properties` is the message itself: it has pika's `headers` and `priority`.

Where pika raises, so does the channel: on a channel in confirm mode a refused publish raises
NackError and a returned mandatory one UnroutableError; an unknown delivery tag raises
PreconditionFailed and, as on the broker, closes the channel.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

from sim.brokers.rabbitmq.broker import Confirm, RabbitMQBroker
from sim.brokers.rabbitmq.errors import (
    ChannelClosed,
    NackError,
    PreconditionFailed,
    UnroutableError,
)
from sim.brokers.rabbitmq.queue import NO_PRIORITY, ClassicQueue, ConsumerSlot, Entry
from sim.brokers.rabbitmq.stream import StreamQueue
from sim.message import Message
from sim.network import Link

__all__ = [
    "BasicProperties",
    "Channel",
    "ChannelClosed",
    "Deliver",
    "GetOk",
    "NackError",
    "PreconditionFailed",
    "QueueDeclareOk",
    "UnroutableError",
]

OnMessage = Callable[["Channel", "Deliver", Message, Any], None]
OnReturn = Callable[["Channel", "Deliver", Message, Any], None]


@dataclass(frozen=True, slots=True)
class BasicProperties:
    """The AMQP properties a script may set (pika.BasicProperties' names)."""

    headers: dict[str, Any] | None = None
    priority: int | None = None
    expiration: str | None = None  # per-message TTL in milliseconds, a string as in AMQP
    message_id: str | None = None
    delivery_mode: int | None = None  # 2: persistent (survives a broker restart in a durable queue)


class Deliver(NamedTuple):
    """basic.deliver's method frame (pika's `method`): a tuple, cheap to make per delivery."""

    consumer_tag: str
    delivery_tag: int
    redelivered: bool
    exchange: str
    routing_key: str


@dataclass(frozen=True, slots=True)
class GetOk:
    """basic.get-ok: what basic_get returns beside the message."""

    delivery_tag: int
    redelivered: bool
    exchange: str
    routing_key: str
    message_count: int


@dataclass(frozen=True, slots=True)
class QueueDeclareOk:
    """queue.declare-ok; `.method` is itself, so pika's `result.method.message_count` works."""

    queue: str
    message_count: int
    consumer_count: int

    @property
    def method(self) -> QueueDeclareOk:
        return self


class Channel:
    """One AMQP channel on a broker. `link` delays deliveries to this client (default: none)."""

    def __init__(self, broker: RabbitMQBroker, name: str = "channel", link: Link | None = None):
        self.broker = broker
        self.env = broker.env
        self.name = name
        self.link = link
        self.prefetch_count = 0
        # Stream deliveries carry their offset in the x-stream-offset header; a client that
        # reads it from `Message.seq` instead may switch the header off (no dict per delivery).
        self.stream_offset_headers = True
        self.confirming = False
        self.is_open = True
        self.consumers: dict[str, ConsumerSlot] = {}
        # delivery tag -> (consumer or None for basic.get, queue, message), in tag order
        self._unacked: dict[int, tuple[ConsumerSlot | None, ClassicQueue, Message]] = {}
        self._tags = itertools.count(1)
        self._consumer_tags = itertools.count(1)
        self._on_return: list[OnReturn] = []
        if not broker.up:
            raise ChannelClosed("the broker is down: connection refused")
        broker.channels.append(self)

    def _check_open(self) -> None:
        if not self.is_open:
            raise ChannelClosed(f"channel {self.name!r} is closed")

    # ----- declarations -----
    def exchange_declare(self, exchange: str, exchange_type: str = "direct", **_: Any) -> None:
        self._check_open()
        self.broker.exchange_declare(exchange, exchange_type)

    def queue_declare(
        self,
        queue: str,
        passive: bool = False,
        durable: bool = False,
        arguments: dict[str, Any] | None = None,
        **_: Any,
    ) -> QueueDeclareOk:
        """Declare (or, with `passive`, look up) a queue: its ready and consumer counts."""
        self._check_open()
        if passive:
            declared = self.broker.queues.get(queue)
            if declared is None:
                raise KeyError(f"no queue {queue!r}")  # the broker's 404 NOT_FOUND
        else:
            declared = self.broker.queue_declare(queue, arguments, durable=durable)
        return QueueDeclareOk(queue, declared.ready_count, declared.consumer_count)

    def queue_bind(
        self,
        queue: str,
        exchange: str,
        routing_key: str | None = None,
        arguments: dict[str, Any] | None = None,
    ) -> None:
        self._check_open()
        self.broker.queue_bind(queue, exchange, routing_key or "", arguments)

    # ----- publishing -----
    def basic_qos(
        self, prefetch_size: int = 0, prefetch_count: int = 0, global_qos: bool = False
    ) -> None:
        """Prefetch for consumers started on this channel from now on (0: unlimited), as
        RabbitMQ reads basic.qos with global=false. A channel-wide limit is not modelled."""
        if global_qos:
            raise NotImplementedError("basic.qos with global=true is not modelled")
        self.prefetch_count = prefetch_count

    def confirm_delivery(self) -> None:
        """Publisher confirms: from now on a nacked publish raises NackError and a returned
        mandatory one UnroutableError, as pika's BlockingChannel does."""
        self.confirming = True

    def add_on_return_callback(self, callback: OnReturn) -> None:
        """Called with (channel, method, properties, body) for each returned mandatory message
        (outside confirm mode; in confirm mode the publish raises UnroutableError instead)."""
        self._on_return.append(callback)

    def basic_publish(
        self,
        exchange: str,
        routing_key: str,
        body: Any = b"",
        properties: BasicProperties | None = None,
        mandatory: bool = False,
    ) -> bool | None:
        """Publish now and return the broker's confirm: True for ack, False for nack (a real
        client sees it only in confirm mode, where a nack raises NackError instead). None while
        the confirm is pending (the cost model is on)."""
        self._check_open()
        props = properties or BasicProperties()
        size = len(body) if isinstance(body, bytes | str) else 0
        msg = Message(
            next(self.broker.message_ids),
            self.env.now,
            size=size,
            routing_key=routing_key,
            headers=None if props.headers is None else dict(props.headers),
            priority=NO_PRIORITY if props.priority is None else props.priority,
            body=body,
        )
        if props.expiration is not None:
            msg.ttl = float(props.expiration) / 1000.0
        msg.persistent = props.delivery_mode == 2
        self.broker.recorder.produced_message(msg, self.name)
        confirm = self.broker.publish(msg, exchange, routing_key, mandatory)
        if confirm is Confirm.RETURNED:
            if self.confirming:
                raise UnroutableError(f"message to {exchange!r} with key {routing_key!r} returned")
            method = Deliver("", 0, False, exchange, routing_key)
            for callback in self._on_return:
                callback(self, method, msg, body)
            return True
        if self.confirming and confirm is not Confirm.PENDING:
            self.broker.confirm_waited()  # a blocking client waited for this confirm
        if confirm is Confirm.NACK and self.confirming:
            raise NackError(f"message to {exchange!r} with key {routing_key!r} was nacked")
        return None if confirm is Confirm.PENDING else confirm is Confirm.ACK

    # ----- consuming -----
    def basic_consume(
        self,
        queue: str,
        on_message_callback: OnMessage,
        auto_ack: bool = False,
        exclusive: bool = False,
        consumer_tag: str | None = None,
        arguments: dict[str, Any] | None = None,
    ) -> str:
        """Consume from `queue`. On a stream, `arguments` may hold `x-stream-offset` (where to
        start: first, last, next, an offset, ("timestamp", seconds) or an interval such as
        "10m"); the reader is named by this channel's name and the consumer tag, so consuming
        again under both is the same reader (sim/brokers/rabbitmq/stream.py)."""
        self._check_open()
        tag = consumer_tag or f"ctag{next(self._consumer_tags)}"
        target = self.broker.queues[queue]
        slot = ConsumerSlot(self, target, tag, self.prefetch_count, auto_ack, on_message_callback)
        if isinstance(target, StreamQueue):
            offset = (arguments or {}).get("x-stream-offset")
            target.subscribe(slot, offset, f"{self.name}/{tag}")
        else:
            target.add_consumer(slot)
        self.consumers[tag] = slot
        return tag

    def basic_cancel(self, consumer_tag: str) -> None:
        """Stop deliveries to this consumer; what it holds stays unacked until acked or closed."""
        slot = self.consumers.pop(consumer_tag)
        slot.queue.remove_consumer(slot)

    def basic_get(
        self, queue: str, auto_ack: bool = False
    ) -> tuple[GetOk | None, Message | None, Any]:
        """(method, properties, body) of one message, as pika returns them; (None, None, None)
        if the queue has none ready. The Message itself stands for pika's properties."""
        self._check_open()
        target = self.broker.queues[queue]
        msg = target.basic_get()
        if msg is None:
            return None, None, None
        tag = self._hand_out(None, target, msg, auto_ack)
        ok = GetOk(tag, msg.deliveries > 1, msg.exchange, msg.routing_key, target.ready_count)
        return ok, msg, msg.body

    def deliver(self, slot: ConsumerSlot, msg: Message) -> None:
        """Called by the queue: hand `msg` to the consumer behind `slot`."""
        queue = slot.queue
        tag = self._hand_out(slot, queue, msg, slot.auto_ack)
        redelivered = msg.deliveries > 1 and queue.marks_redelivered
        method = Deliver(slot.tag, tag, redelivered, msg.exchange, msg.routing_key)
        if self.link is None:
            slot.callback(self, method, msg, msg.body)
        else:
            self.link.send(self._arrive, slot, method, msg)

    def _arrive(self, slot: ConsumerSlot, method: Deliver, msg: Message) -> None:
        if self.is_open:
            slot.callback(self, method, msg, msg.body)
        elif slot.auto_ack:
            # In flight when the channel closed: it never arrives. An acknowledged delivery is
            # gone for good; an unacknowledged one was requeued when the channel closed.
            self.broker.recorder.lost(msg, self.name)

    def _hand_out(
        self, slot: ConsumerSlot | None, queue: ClassicQueue, msg: Message, auto_ack: bool
    ) -> int:
        tag = next(self._tags)
        msg.deliveries += 1
        msg.redelivered = msg.deliveries > 1 and queue.marks_redelivered
        if not auto_ack:
            if slot is None:  # basic.get: no consumer slot counted it as unacked
                queue.unacked += 1
            self._unacked[tag] = (slot, queue, msg)
        self.broker.recorder.delivered_message(msg, queue.name)
        return tag

    # ----- settling -----
    def _settle(self, delivery_tag: int, multiple: bool) -> list[tuple[ClassicQueue, list[Entry]]]:
        """Take the deliveries one ack/nack/reject names off the channel, grouped by queue in
        tag order: the broker settles each queue's share in one go."""
        self._check_open()
        unacked = self._unacked
        if delivery_tag not in unacked and not (multiple and delivery_tag == 0):
            self.close()  # the broker closes the channel: PRECONDITION_FAILED
            raise PreconditionFailed(f"unknown delivery tag {delivery_tag}")
        if multiple:
            tags = [t for t in unacked if t <= delivery_tag or delivery_tag == 0]
        else:
            tags = [delivery_tag]
        return _by_queue(unacked.pop(t) for t in tags)

    def basic_ack(self, delivery_tag: int = 0, multiple: bool = False) -> None:
        if not multiple and self.is_open:  # the common case, without grouping
            entry = self._unacked.pop(delivery_tag, None)
            if entry is not None:
                entry[1].ack_one(entry[0], entry[2])
                return
        for queue, entries in self._settle(delivery_tag, multiple):
            queue.ack(entries)

    def basic_nack(
        self, delivery_tag: int = 0, multiple: bool = False, requeue: bool = True
    ) -> None:
        # RabbitMQ 4.3 maps a nack with requeue to a plain return, which does not count toward
        # a quorum queue's delivery limit (rabbit_channel.erl handle_method basic.nack: op
        # `requeue`); earlier versions count every return.
        self._reject(delivery_tag, multiple, requeue, failed=False)

    def basic_reject(self, delivery_tag: int, requeue: bool = True) -> None:
        # 4.3: `settle(DeliveryFailed = true, UndeliverableHere = false)`, a failed delivery
        # (rabbit_channel.erl handle_method basic.reject), which counts toward the limit.
        self._reject(delivery_tag, False, requeue, failed=True)

    def _reject(self, delivery_tag: int, multiple: bool, requeue: bool, failed: bool) -> None:
        for queue, entries in self._settle(delivery_tag, multiple):
            if requeue:
                queue.requeue(entries, failed=failed)
            else:
                queue.discard(entries)

    def basic_recover(self, requeue: bool = True) -> None:
        """Return every unacked message of this channel to its queue, redelivered from there."""
        self._check_open()
        if not requeue:
            raise NotImplementedError("RabbitMQ does not implement basic.recover(requeue=False)")
        held = _by_queue(self._unacked.values())
        self._unacked.clear()
        for queue, entries in held:
            queue.requeue(entries, failed=False)  # 4.3: op `requeue`, a plain return

    def close(self) -> None:
        """Closing (or losing) the channel cancels its consumers and requeues what it held."""
        if not self.is_open:
            return
        for tag in list(self.consumers):
            self.basic_cancel(tag)
        held = _by_queue(self._unacked.values())
        self._unacked.clear()
        self.is_open = False
        for queue, entries in held:
            queue.requeue(entries, closing=True)

    @property
    def unacked_count(self) -> int:
        return len(self._unacked)


def _by_queue(
    held: Any,
) -> list[tuple[ClassicQueue, list[Entry]]]:
    """(queue, [(consumer, message)...]) in order of first appearance, tag order within."""
    groups: dict[int, tuple[ClassicQueue, list[Entry]]] = {}
    for slot, queue, msg in held:
        key = id(queue)
        if key not in groups:
            groups[key] = (queue, [])
        groups[key][1].append((slot, msg))
    return list(groups.values())
