"""A RabbitMQ queue: ready messages, its consumers with their prefetch credit, and dispatch.

Classic queues are the base class; quorum queues override the hooks where RabbitMQ's two queue
types differ (where a returned message goes, how max-length rejects). Semantics follow the
recordings in shared/conformance/rabbitmq (see its README) and RabbitMQ's documentation.
"""

from __future__ import annotations

import heapq
from collections import deque
from typing import TYPE_CHECKING, Any

from sim.message import Message

if TYPE_CHECKING:
    from sim.brokers.rabbitmq.broker import RabbitMQBroker
    from sim.brokers.rabbitmq.channel import Channel

__all__ = ["ClassicQueue", "ConsumerSlot", "QuorumQueue", "make_queue"]

INF = float("inf")


class ConsumerSlot:
    """The broker's view of one basic.consume: its channel, tag and prefetch credit."""

    __slots__ = (
        "auto_ack",
        "callback",
        "channel",
        "in_active",
        "prefetch",
        "queue",
        "tag",
        "unacked",
    )

    def __init__(
        self,
        channel: Channel,
        queue: ClassicQueue,
        tag: str,
        prefetch: int,
        auto_ack: bool,
        callback: Any,
    ) -> None:
        self.channel = channel
        self.queue = queue
        self.tag = tag
        self.prefetch = prefetch  # 0: unlimited, as in basic.qos
        self.auto_ack = auto_ack
        self.callback = callback
        self.unacked = 0
        self.in_active = False

    def has_credit(self) -> bool:
        return self.auto_ack or self.prefetch == 0 or self.unacked < self.prefetch


class ClassicQueue:
    """FIFO with RabbitMQ's classic-queue rules.

    Fresh messages wait in a deque; a requeued message goes back to its original position
    (a heap keyed by arrival number), so redelivery follows queue order, as the broker does.
    Consumers with free credit take turns (round-robin); one that runs out of credit leaves the
    turn and rejoins at the back when an ack frees a slot, as rabbit_queue_consumers does.
    """

    kind = "classic"

    def __init__(self, broker: RabbitMQBroker, name: str, arguments: dict[str, Any] | None) -> None:
        args = dict(arguments or {})
        self.broker = broker
        self.env = broker.env
        self.recorder = broker.recorder
        self.name = name
        self.arguments = args
        self.max_length: int | None = args.get("x-max-length")
        self.max_length_bytes: int | None = args.get("x-max-length-bytes")
        self.overflow: str = args.get("x-overflow", "drop-head")
        ttl = args.get("x-message-ttl")
        self.message_ttl = INF if ttl is None else float(ttl) / 1000.0  # arguments are in ms
        self.dead_letter_exchange: str | None = args.get("x-dead-letter-exchange")
        self.dead_letter_routing_key: str | None = args.get("x-dead-letter-routing-key")
        self.consumers: list[ConsumerSlot] = []
        self.unacked = 0
        self.ready_bytes = 0
        self._fresh: deque[Message] = deque()
        self._returned: list[tuple[int, Message]] = []  # heap by original arrival number
        self._active: deque[ConsumerSlot] = deque()
        self._arrivals = 0
        self._expiry_at = INF

    # ----- the ready list (hooks a subclass may replace) -----
    @property
    def ready_count(self) -> int:
        return len(self._fresh) + len(self._returned)

    def _push(self, msg: Message) -> None:
        self._fresh.append(msg)

    def _push_returned(self, msg: Message, closing: bool) -> None:
        heapq.heappush(self._returned, (msg.seq, msg))

    def _peek(self) -> Message | None:
        fresh, returned = self._fresh, self._returned
        if returned and (not fresh or returned[0][0] < fresh[0].seq):
            return returned[0][1]
        return fresh[0] if fresh else None

    def _pop(self) -> Message:
        fresh, returned = self._fresh, self._returned
        if returned and (not fresh or returned[0][0] < fresh[0].seq):
            return heapq.heappop(returned)[1]
        return fresh.popleft()

    def _take(self) -> Message:
        msg = self._pop()
        self.ready_bytes -= msg.size
        return msg

    # ----- publishing -----
    def _over_limit(self, extra_count: int = 0, extra_bytes: int = 0) -> bool:
        if self.max_length is not None and self.ready_count + extra_count > self.max_length:
            return True
        limit = self.max_length_bytes
        return limit is not None and self.ready_bytes + extra_bytes > limit

    def _refuses(self, msg: Message) -> bool:
        """reject-publish: would this message take the queue over its limit?"""
        return self._over_limit(1, msg.size)

    def offer(self, msg: Message) -> bool:
        """A routed message arrives. False: refused (the publisher's confirm is a nack)."""
        if self.overflow != "drop-head" and self._refuses(msg):
            if self.overflow == "reject-publish-dlx" and self.dead_letter_exchange is not None:
                self.dead_letter(msg, "maxlen")
            else:
                self.recorder.rejected(msg, self.name)
            return False
        msg.seq = self._arrivals
        self._arrivals += 1
        now = self.env.now
        expires_at = now + self.message_ttl
        if msg.ttl is not None:
            expires_at = min(expires_at, now + msg.ttl)
        msg.expires_at = expires_at
        self._push(msg)
        self.ready_bytes += msg.size
        if self.overflow == "drop-head":
            while self.ready_count and self._over_limit():
                head = self._take()
                if self.dead_letter_exchange is not None:
                    self.dead_letter(head, "maxlen")
                else:
                    self.recorder.dropped(head, self.name)
        # Reported after drop-head trimming, so the peak depth never exceeds the limit.
        self.recorder.enqueued(msg, self.name, self.ready_count)
        self.dispatch()
        self._schedule_expiry()
        return True

    # ----- expiry (only at the head, as RabbitMQ does) -----
    def _expire_head(self) -> None:
        now = self.env.now
        head = self._peek()
        while head is not None and head.expires_at <= now:
            self._take()
            self._expire(head)
            head = self._peek()

    def _expire(self, msg: Message) -> None:
        if self.dead_letter_exchange is not None:
            self.dead_letter(msg, "expired")
        else:
            self.recorder.expired(msg, self.name)

    def _schedule_expiry(self) -> None:
        head = self._peek()
        if head is None or head.expires_at >= self._expiry_at:
            return
        self._expiry_at = head.expires_at
        timer = self.env.timeout(max(0.0, head.expires_at - self.env.now))
        timer.callbacks.append(self._on_expiry_timer)

    def _on_expiry_timer(self, _event: Any) -> None:
        self._expiry_at = INF
        self._expire_head()
        self._schedule_expiry()

    # ----- consumers and dispatch -----
    def add_consumer(self, slot: ConsumerSlot) -> None:
        self.consumers.append(slot)
        self._activate(slot)
        self.dispatch()

    def remove_consumer(self, slot: ConsumerSlot) -> None:
        self.consumers.remove(slot)
        if slot.in_active:
            self._active.remove(slot)
            slot.in_active = False

    def _activate(self, slot: ConsumerSlot) -> None:
        if not slot.in_active and slot.has_credit() and slot in self.consumers:
            self._active.append(slot)
            slot.in_active = True

    def dispatch(self) -> None:
        """Hand ready messages to consumers with credit, taking turns."""
        active = self._active
        while active and self.ready_count:
            self._expire_head()
            if not self.ready_count:
                break
            slot = active.popleft()
            msg = self._take()
            if not slot.auto_ack:
                slot.unacked += 1
                self.unacked += 1
            slot.channel.deliver(slot, msg)
            if slot.has_credit():
                active.append(slot)
            else:
                slot.in_active = False
        self._schedule_expiry()

    def basic_get(self) -> Message | None:
        self._expire_head()
        if not self.ready_count:
            return None
        msg = self._take()
        self._schedule_expiry()
        return msg

    # ----- settling deliveries -----
    def _release(self, slot: ConsumerSlot | None) -> None:
        self.unacked -= 1
        if slot is not None:
            slot.unacked -= 1
            self._activate(slot)

    def ack(self, slot: ConsumerSlot | None, msg: Message) -> None:
        self._release(slot)
        self.recorder.acked_message(msg, self.name)
        self.dispatch()

    def discard(self, slot: ConsumerSlot | None, msg: Message) -> None:
        """nack/reject without requeue: dead-letter it if the queue can, else drop it."""
        self._release(slot)
        if self.dead_letter_exchange is not None:
            self.dead_letter(msg, "rejected")
        else:
            self.recorder.dropped(msg, self.name)
        self.dispatch()

    def requeue(self, slot: ConsumerSlot | None, msg: Message, closing: bool = False) -> None:
        """nack/reject with requeue (closing=False) or a return by channel close or recover."""
        self._release(slot)
        self.recorder.requeued_message(msg, self.name)
        self._return(msg, closing)
        self.dispatch()

    def _return(self, msg: Message, closing: bool) -> None:
        self._push_returned(msg, closing)
        self.ready_bytes += msg.size

    # ----- dead-lettering -----
    def dead_letter(self, msg: Message, reason: str) -> None:
        self.broker.dead_letter(self, msg, reason)


class QuorumQueue(ClassicQueue):
    """Quorum-queue differences, as recorded from RabbitMQ 3.10.

    Without a delivery limit a nacked message goes to the back, while a channel close returns
    messages to the front; with a delivery limit, returns go to the front in return order, and a
    message delivered more than limit + 1 times is dead-lettered (reason delivery_limit).
    reject-publish refuses only once the queue is already over its limit.
    """

    kind = "quorum"

    def __init__(self, broker: RabbitMQBroker, name: str, arguments: dict[str, Any] | None) -> None:
        super().__init__(broker, name, arguments)
        self.delivery_limit: int | None = self.arguments.get("x-delivery-limit")
        self._front: deque[Message] = deque()  # returned to the front, oldest return first

    @property
    def ready_count(self) -> int:
        return len(self._front) + len(self._fresh)

    def _push_returned(self, msg: Message, closing: bool) -> None:
        if closing or self.delivery_limit is not None:
            self._front.append(msg)
        else:
            self._fresh.append(msg)

    def _peek(self) -> Message | None:
        if self._front:
            return self._front[0]
        return self._fresh[0] if self._fresh else None

    def _pop(self) -> Message:
        return self._front.popleft() if self._front else self._fresh.popleft()

    def _refuses(self, msg: Message) -> bool:
        return self._over_limit()

    def _return(self, msg: Message, closing: bool) -> None:
        returns = (msg.headers or {}).get("x-delivery-count", 0) + 1
        msg.headers = {**(msg.headers or {}), "x-delivery-count": returns}
        if self.delivery_limit is not None and returns > self.delivery_limit:
            self.dead_letter(msg, "delivery_limit")
            return
        super()._return(msg, closing)


def make_queue(broker: RabbitMQBroker, name: str, arguments: dict[str, Any] | None) -> ClassicQueue:
    kind = (arguments or {}).get("x-queue-type", "classic")
    if kind == "quorum":
        return QuorumQueue(broker, name, arguments)
    if kind != "classic":
        raise ValueError(f"unknown x-queue-type {kind!r} (known: classic, quorum)")
    return ClassicQueue(broker, name, arguments)
