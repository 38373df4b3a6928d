"""A client channel in simulated time, with pika's verb names.

A teaching script drives the broker as a pika script drives RabbitMQ: declare, bind, qos,
publish, consume with a callback, ack / nack / reject, recover, cancel, close. Calls act at the
current simulated time; deliveries reach the callback after the channel's network delay (at once
without one). The callback gets pika's four arguments, `(channel, method, properties, body)`,
where `properties` is the message itself: it has pika's `headers` and `priority`.

Where pika raises, so does the channel: on a channel in confirm mode a refused publish raises
NackError and a returned mandatory one UnroutableError; an unknown delivery tag raises
PreconditionFailed and, as on the broker, closes the channel.

Consumer timeouts (rabbitmq.conf `consumer_timeout`, sim/brokers/rabbitmq/versions.py): up to
4.2 the channel enforces them, for every queue type: every `channel_tick_interval` (60 s:
deps/rabbit/Makefile) it looks at its oldest unacknowledged delivery and, if that is older than
the timeout, closes itself with 406 PRECONDITION_FAILED (rabbit_channel.erl
evaluate_consumer_timeout/1), which returns everything it held. From 4.3 a quorum queue takes
back just the timed-out deliveries and the channel sends the consumer basic.cancel
(handle_queue_actions `{released, ..., timeout}`); the channel stays open. Callbacks added with
`add_on_close_callback` and `add_on_cancel_callback` hear of both, as in pika.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple

from sim.brokers.rabbitmq.broker import Confirm, RabbitMQBroker
from sim.brokers.rabbitmq.errors import (
    ChannelClosed,
    ConnectionClosedByBroker,
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
    "ConnectionClosedByBroker",
    "Deliver",
    "GetOk",
    "NackError",
    "PreconditionFailed",
    "QueueDeclareOk",
    "UnroutableError",
]

OnMessage = Callable[["Channel", "Deliver", Message, Any], None]
OnReturn = Callable[["Channel", "Deliver", Message, Any], None]
OnClose = Callable[["Channel", Exception | None], None]
OnCancel = Callable[[str], None]

#: rabbit_channel.erl's tick (`channel_tick_interval`, 60000 ms: deps/rabbit/Makefile), when a
#: 3.10-4.2 channel checks its oldest unacknowledged delivery against the consumer timeout.
CHANNEL_TICK = 60.0


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


_new_deliver = tuple.__new__  # Deliver's fields as one tuple, without the Python `__new__`


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
        # delivery tag -> (consumer or None for basic.get, queue, message, delivered at), in
        # tag order; "delivered at" is None once a 4.3 quorum queue took the delivery back
        # (consumer timeout): the tag stays valid, but settling it settles nothing.
        self._unacked: dict[int, tuple[ConsumerSlot | None, ClassicQueue, Message, float | None]]
        self._unacked = {}
        self._on_close: list[OnClose] = []
        self._on_cancel: list[OnCancel] = []
        version = broker.version
        self._channel_timeout = version.consumer_timeout_by == "channel"
        self._queue_timeouts = version.name != "3.10"  # 3.10: the broker's timeout only
        self._opened_at = self.env.now
        self._tick_pending = False
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
        exclusive: bool = False,
        arguments: dict[str, Any] | None = None,
        **_: Any,
    ) -> QueueDeclareOk:
        """Declare (or, with `passive`, look up) a queue: its ready and consumer counts.

        On 4.3 a transient classic queue (not durable, not exclusive) is refused: the broker
        closes the connection, so this channel closes and ConnectionClosedByBroker (541) is
        raised, as pika raises it (RabbitMQBroker.queue_declare has the source)."""
        self._check_open()
        if passive:
            declared = self.broker.queues.get(queue)
            if declared is None:
                raise KeyError(f"no queue {queue!r}")  # the broker's 404 NOT_FOUND
        else:
            try:
                declared = self.broker.queue_declare(
                    queue, arguments, durable=durable, exclusive=exclusive
                )
            except ConnectionClosedByBroker as error:
                self.close(error)  # the connection goes, and its channels with it
                raise
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
        # Speed: `_hand_out(slot, queue, msg, slot.auto_ack)` inlined (a call a delivery):
        # the same steps, a consumer's slot being there.
        tag = next(self._tags)
        deliveries = msg.deliveries + 1
        msg.deliveries = deliveries
        redelivered = msg.redelivered = deliveries > 1 and queue.marks_redelivered
        if not slot.auto_ack:
            self._unacked[tag] = (slot, queue, msg, self.env._now)
            if self._channel_timeout and not self._tick_pending:
                self._arm_tick()
        self.broker.recorder.delivered_message(msg, queue.name)
        # Speed: the tuple made directly (a NamedTuple's `__new__` is a Python lambda).
        method = _new_deliver(Deliver, (slot.tag, tag, redelivered, msg.exchange, msg.routing_key))
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
            # speed: SimPy's `_now` field, not its `now` property (a Python call)
            self._unacked[tag] = (slot, queue, msg, self.env._now)
            if self._channel_timeout and not self._tick_pending:
                self._arm_tick()
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
                if entry[3] is not None:  # else taken back by the queue: nothing to settle
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

    def close(self, reason: Exception | None = None) -> None:
        """Closing (or losing) the channel cancels its consumers and requeues what it held.
        `reason` is the broker's error when the broker closes it (None: the client did)."""
        if not self.is_open:
            return
        for tag in list(self.consumers):
            self.basic_cancel(tag)
        held = _by_queue(self._unacked.values())
        self._unacked.clear()
        self.is_open = False
        for queue, entries in held:
            queue.requeue(entries, closing=True)
        for callback in self._on_close:
            callback(self, reason)

    def add_on_close_callback(self, callback: OnClose) -> None:
        """Called with (channel, reason) when the channel closes; reason is the broker's
        error (PreconditionFailed for a consumer timeout), None when the client closed it."""
        self._on_close.append(callback)

    def add_on_cancel_callback(self, callback: OnCancel) -> None:
        """Called with the consumer tag when the broker cancels a consumer (basic.cancel from
        the server: a 4.3 quorum queue's consumer timeout)."""
        self._on_cancel.append(callback)

    # ----- consumer timeouts -----
    def outstanding(
        self, queue: ClassicQueue
    ) -> Iterator[tuple[int, ConsumerSlot | None, Message, float]]:
        """(tag, consumer, message, delivered at) of every delivery from `queue` this channel
        holds unacknowledged."""
        for tag, (slot, source, msg, at) in self._unacked.items():
            if source is queue and at is not None:
                yield tag, slot, msg, at

    def release(self, tag: int) -> None:
        """The queue took delivery `tag` back (a 4.3 consumer timeout): the tag stays valid
        for the client, but settling it settles nothing."""
        slot, queue, msg, _at = self._unacked[tag]
        self._unacked[tag] = (slot, queue, msg, None)

    def server_cancel(self, slot: ConsumerSlot) -> None:
        """basic.cancel from the broker (rabbit_channel.erl handle_queue_actions `{released,
        QRef, CTag, MsgSeqNos, timeout}` when the client has consumer_cancel_notify, as pika
        does). RabbitMQ keeps the consumer registered in a timeout state and delivers to it
        again once the client has settled the timed-out deliveries; the model ends it here, as
        a client that honours the cancel stops using the tag."""
        if self.consumers.get(slot.tag) is not slot:
            return
        self.basic_cancel(slot.tag)
        for callback in self._on_cancel:
            callback(slot.tag)

    def _timeout_of(self, queue: ClassicQueue) -> float:
        """get_queue_consumer_timeout/2 (4.0-4.2): the queue's own, else the broker's."""
        own = queue.consumer_timeout if self._queue_timeouts else None
        return self.broker.consumer_timeout if own is None else own

    def _oldest(self) -> tuple[ClassicQueue, float] | None:
        for _slot, queue, _msg, at in self._unacked.values():
            if at is not None:
                return queue, at
        return None

    def _arm_tick(self) -> None:
        """Sleep until the first tick at which the oldest delivery could have timed out
        (`Time < Now - Timeout`), instead of waking every tick for nothing."""
        oldest = self._oldest()
        if oldest is None:
            return
        queue, at = oldest
        due = at + self._timeout_of(queue)
        ticks = math.floor((due - self._opened_at) / CHANNEL_TICK) + 1
        self._tick_pending = True
        wait = max(0.0, self._opened_at + ticks * CHANNEL_TICK - self.env.now)
        self.env.timeout(wait).callbacks.append(self._tick)

    def _tick(self, _event: Any) -> None:
        self._tick_pending = False
        if not self.is_open:
            return
        oldest = self._oldest()
        if oldest is None:
            return
        queue, at = oldest
        timeout = self._timeout_of(queue)
        if at < self.env.now - timeout:
            self.close(
                PreconditionFailed(
                    f"delivery acknowledgement on channel {self.name!r} timed out. "
                    f"Timeout value used: {timeout * 1000:.0f} ms"
                )
            )
            return
        self._arm_tick()

    @property
    def unacked_count(self) -> int:
        return len(self._unacked)

    def unacked_messages(self) -> list[Message]:
        """The messages this channel holds unacknowledged, in delivery-tag order."""
        return [entry[2] for entry in self._unacked.values()]


def _by_queue(
    held: Any,
) -> list[tuple[ClassicQueue, list[Entry]]]:
    """(queue, [(consumer, message)...]) in order of first appearance, tag order within."""
    groups: dict[int, tuple[ClassicQueue, list[Entry]]] = {}
    for slot, queue, msg, at in held:
        if at is None:  # taken back by the queue (a 4.3 consumer timeout): nothing to settle
            continue
        key = id(queue)
        if key not in groups:
            groups[key] = (queue, [])
        groups[key][1].append((slot, msg))
    return list(groups.values())
