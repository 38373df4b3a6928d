"""A client channel in simulated time, with pika's verb names.

A teaching script drives the broker as a pika script drives RabbitMQ: declare, bind, qos,
publish, consume with a callback, ack / nack / reject, recover, cancel, close. Calls act at the
current simulated time; deliveries reach the callback after the channel's network delay.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

from sim.brokers.rabbitmq.broker import RabbitMQBroker
from sim.brokers.rabbitmq.queue import ClassicQueue, ConsumerSlot
from sim.message import Message
from sim.network import Link

__all__ = ["BasicProperties", "Channel", "Deliver", "GetOk", "QueueDeclareOk"]

OnMessage = Callable[["Channel", "Deliver", Message, Any], None]
_message_ids = itertools.count(1)


@dataclass(frozen=True, slots=True)
class BasicProperties:
    """The AMQP properties a script may set (pika.BasicProperties' names)."""

    headers: dict[str, Any] | None = None
    priority: int | None = None
    expiration: str | None = None  # per-message TTL in milliseconds, a string as in AMQP
    message_id: str | None = None


class Deliver(NamedTuple):
    """basic.deliver's method frame (pika's `method`): a tuple, cheap to make per delivery."""

    consumer_tag: str
    delivery_tag: int
    redelivered: bool
    exchange: str
    routing_key: str


@dataclass(frozen=True, slots=True)
class GetOk:
    delivery_tag: int
    redelivered: bool
    exchange: str
    routing_key: str
    message_count: int


@dataclass(frozen=True, slots=True)
class QueueDeclareOk:
    queue: str
    message_count: int
    consumer_count: int


class Channel:
    """One AMQP channel on a broker. `link` delays deliveries to this client (default: none)."""

    def __init__(self, broker: RabbitMQBroker, name: str = "channel", link: Link | None = None):
        self.broker = broker
        self.env = broker.env
        self.name = name
        self.link = link
        self.prefetch_count = 0
        self.confirming = False
        self.is_open = True
        self.consumers: dict[str, ConsumerSlot] = {}
        # delivery tag -> (consumer or None for basic.get, queue, message), in tag order
        self._unacked: dict[int, tuple[ConsumerSlot | None, ClassicQueue, Message]] = {}
        self._tags = itertools.count(1)
        self._consumer_tags = itertools.count(1)

    # ----- declarations -----
    def exchange_declare(self, exchange: str, exchange_type: str = "direct", **_: Any) -> None:
        self.broker.exchange_declare(exchange, exchange_type)

    def queue_declare(
        self, queue: str, durable: bool = False, arguments: dict[str, Any] | None = None, **_: Any
    ) -> QueueDeclareOk:
        declared = self.broker.queue_declare(queue, arguments)
        return QueueDeclareOk(queue, declared.ready_count, len(declared.consumers))

    def queue_bind(
        self,
        queue: str,
        exchange: str,
        routing_key: str | None = None,
        arguments: dict[str, Any] | None = None,
    ) -> None:
        self.broker.queue_bind(queue, exchange, routing_key or "", arguments)

    # ----- publishing -----
    def basic_qos(self, prefetch_count: int = 0, global_qos: bool = False) -> None:
        """Prefetch for consumers started on this channel from now on (0: unlimited)."""
        self.prefetch_count = prefetch_count

    def confirm_delivery(self) -> None:
        self.confirming = True

    def basic_publish(
        self,
        exchange: str,
        routing_key: str,
        body: Any = b"",
        properties: BasicProperties | None = None,
        mandatory: bool = False,
    ) -> bool:
        """Publish now. Returns the broker's confirm (True: ack, False: nack); without
        confirm_delivery() the answer is still computed but a real client would not see it.
        With `mandatory`, an unroutable message raises UnroutableError as pika does."""
        props = properties or BasicProperties()
        size = len(body) if isinstance(body, bytes | str) else 0
        msg = Message(
            next(_message_ids),
            self.env.now,
            size=size,
            routing_key=routing_key,
            headers=None if props.headers is None else dict(props.headers),
            priority=props.priority or 0,
            body=body,
        )
        if props.expiration is not None:
            msg.ttl = float(props.expiration) / 1000.0
        self.broker.recorder.produced_message(msg, self.name)
        if mandatory and not self.broker.destinations(exchange, routing_key, msg.headers):
            self.broker.recorder.dropped(msg, exchange or "(default)")
            raise UnroutableError(f"message to {exchange!r} with key {routing_key!r} was returned")
        return self.broker.publish(msg, exchange, routing_key)

    # ----- consuming -----
    def basic_consume(
        self,
        queue: str,
        on_message_callback: OnMessage,
        auto_ack: bool = False,
        consumer_tag: str | None = None,
    ) -> str:
        tag = consumer_tag or f"ctag{next(self._consumer_tags)}"
        target = self.broker.queues[queue]
        slot = ConsumerSlot(self, target, tag, self.prefetch_count, auto_ack, on_message_callback)
        self.consumers[tag] = slot
        target.add_consumer(slot)
        return tag

    def basic_cancel(self, consumer_tag: str) -> None:
        """Stop deliveries to this consumer; what it holds stays unacked until acked or closed."""
        slot = self.consumers.pop(consumer_tag)
        slot.queue.remove_consumer(slot)

    def basic_get(self, queue: str, auto_ack: bool = False) -> tuple[GetOk | None, Message | None]:
        target = self.broker.queues[queue]
        msg = target.basic_get()
        if msg is None:
            return None, None
        tag = self._hand_out(None, target, msg, auto_ack)
        ok = GetOk(tag, msg.deliveries > 1, msg.exchange, msg.routing_key, target.ready_count)
        return ok, msg

    def deliver(self, slot: ConsumerSlot, msg: Message) -> None:
        """Called by the queue: hand `msg` to the consumer behind `slot`."""
        tag = self._hand_out(slot, slot.queue, msg, slot.auto_ack)
        method = Deliver(slot.tag, tag, msg.deliveries > 1, msg.exchange, msg.routing_key)
        if self.link is None:
            slot.callback(self, method, msg, msg.body)
        else:
            self.link.send(slot.callback, self, method, msg, msg.body)

    def _hand_out(
        self, slot: ConsumerSlot | None, queue: ClassicQueue, msg: Message, auto_ack: bool
    ) -> int:
        tag = next(self._tags)
        msg.deliveries += 1
        if not auto_ack:
            if slot is None:  # basic.get: no consumer slot counted it as unacked
                queue.unacked += 1
            self._unacked[tag] = (slot, queue, msg)
        self.broker.recorder.delivered_message(msg, queue.name)
        return tag

    # ----- settling -----
    def _settle(self, delivery_tag: int, multiple: bool) -> list[tuple[Any, ClassicQueue, Message]]:
        if multiple:
            tags = [t for t in self._unacked if t <= delivery_tag or delivery_tag == 0]
        else:
            if delivery_tag not in self._unacked:
                raise PreconditionFailed(f"unknown delivery tag {delivery_tag}")
            tags = [delivery_tag]
        return [self._unacked.pop(t) for t in tags]

    def basic_ack(self, delivery_tag: int = 0, multiple: bool = False) -> None:
        for slot, queue, msg in self._settle(delivery_tag, multiple):
            queue.ack(slot, msg)

    def basic_nack(self, delivery_tag: int = 0, multiple: bool = False, requeue: bool = True):
        for slot, queue, msg in self._settle(delivery_tag, multiple):
            if requeue:
                queue.requeue(slot, msg)
            else:
                queue.discard(slot, msg)

    def basic_reject(self, delivery_tag: int, requeue: bool = True) -> None:
        self.basic_nack(delivery_tag, multiple=False, requeue=requeue)

    def basic_recover(self, requeue: bool = True) -> None:
        """Return every unacked message of this channel to its queue."""
        self._return_all()

    def close(self) -> None:
        """Closing (or losing) the channel cancels its consumers and requeues what it held."""
        if not self.is_open:
            return
        for tag in list(self.consumers):
            self.basic_cancel(tag)
        self._return_all()
        self.is_open = False

    def _return_all(self) -> None:
        held = list(self._unacked.values())
        self._unacked.clear()
        for slot, queue, msg in held:
            queue.requeue(slot, msg, closing=True)

    @property
    def unacked_count(self) -> int:
        return len(self._unacked)


class UnroutableError(Exception):
    """A mandatory message that no queue took (pika.exceptions.UnroutableError)."""


class PreconditionFailed(Exception):
    """The broker would close the channel with PRECONDITION_FAILED (e.g. an unknown tag)."""
