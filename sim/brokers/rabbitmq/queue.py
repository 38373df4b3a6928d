"""A RabbitMQ queue: ready messages, its consumers with their prefetch credit, and dispatch.

Classic queues are the base class; priority queues (`x-max-priority`) and quorum queues override
the hooks where they differ (where a returned message goes, how max-length rejects, what counts
as a consumer). Every rule here is checked against recordings of a real RabbitMQ 3.10.8
(shared/conformance/rabbitmq/delivery_traces.json, replayed by
tests/conformance/test_rabbitmq_delivery.py); where the recordings are silent the comment names
the broker source the rule follows (rabbit_amqqueue_process.erl, rabbit_fifo.erl).
"""

from __future__ import annotations

import heapq
import itertools
from collections import deque
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from sim.brokers.rabbitmq.errors import PreconditionFailed
from sim.message import Message

if TYPE_CHECKING:
    from sim.brokers.rabbitmq.broker import RabbitMQBroker
    from sim.brokers.rabbitmq.channel import Channel
    from sim.brokers.rabbitmq.cost import SerialStage
    from sim.brokers.rabbitmq.versions import Version

__all__ = [
    "NO_PRIORITY",
    "ClassicQueue",
    "ConsumerSlot",
    "Entry",
    "PriorityQueue",
    "QuorumQueue",
    "make_queue",
]

INF = float("inf")
#: `Message.priority` of a message published without the AMQP priority property. A classic
#: priority queue treats it as 0 ("Priority Queue Support"); a 4.3 quorum queue as 4.
NO_PRIORITY = -1
OVERFLOWS = ("drop-head", "reject-publish", "reject-publish-dlx")


class ConsumerSlot:
    """The broker's view of one basic.consume: its channel, tag and prefetch credit."""

    __slots__ = (
        "auto_ack",
        "callback",
        "cancelled",
        "channel",
        "in_active",
        "prefetch",
        "queue",
        "reader",
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
        self.in_active = False  # waiting in the queue's round-robin turn
        self.cancelled = False
        self.reader: Any = None  # on a stream: its StreamReader (sim/brokers/rabbitmq/stream.py)

    def has_credit(self) -> bool:
        # An auto-ack consumer is never limited: prefetch counts unacknowledged deliveries only.
        return self.auto_ack or self.prefetch == 0 or self.unacked < self.prefetch


#: One outstanding delivery: the consumer it went to (None for basic.get) and the message.
Entry = tuple[ConsumerSlot | None, Message]


class ClassicQueue:
    """FIFO with RabbitMQ's classic-queue rules.

    Fresh messages wait in a deque; a requeued message goes back to its original position
    (a heap keyed by arrival number), so redelivery follows queue order, as the broker does.
    Consumers with free credit take turns (round-robin); one that runs out of credit leaves the
    turn and rejoins at the back when an ack frees a slot, so each freed slot goes to the
    consumer that freed it (rabbit_queue_consumers).
    """

    kind = "classic"
    #: Whether a delivery of a message handed out before carries the redelivered flag.
    marks_redelivered = True

    def __init__(self, broker: RabbitMQBroker, name: str, arguments: dict[str, Any] | None) -> None:
        args = _checked_arguments(name, arguments, self.kind, broker.version)
        self.broker = broker
        self.env = broker.env
        self.recorder = broker.recorder
        self.name = name
        self.durable = False  # set by the broker's queue_declare: survives a broker restart
        self.arguments = args
        self.max_length: int | None = args.get("x-max-length")
        self.max_length_bytes: int | None = args.get("x-max-length-bytes")
        self.overflow: str = args.get("x-overflow", "drop-head")
        ttl = args.get("x-message-ttl")
        self.message_ttl = INF if ttl is None else float(ttl) / 1000.0  # arguments are in ms
        self.dead_letter_exchange: str | None = args.get("x-dead-letter-exchange")
        self.dead_letter_routing_key: str | None = args.get("x-dead-letter-routing-key")
        # x-consumer-timeout (ms), in seconds: this queue's consumer timeout, else None (the
        # broker's). 4.0-4.2 channels read it (rabbit_channel.erl get_queue_consumer_timeout/2),
        # 4.3 quorum queues too (rabbit_queue_type.erl get_consumer_timeout/2).
        timeout = args.get("x-consumer-timeout")
        self.consumer_timeout: float | None = None if timeout is None else timeout / 1000.0
        self.consumers: list[ConsumerSlot] = []
        self.unacked = 0
        self.ready_bytes = 0
        self._ready_slot = self.recorder.source(name)  # the exact ready count (sim/metrics.py)
        self.stage: SerialStage | None = None  # the queue process, when the cost model is on
        self.mirrors = 0  # of a mirrored classic queue (cost model only: broker.queue_declare)
        self.fsync_wait = 0.0  # cost model, quorum queues: the WAL fsync a message waits for
        self._fresh: deque[Message] = deque()
        self._returned: list[tuple[int, Message]] = []  # heap by original arrival number
        self._active: deque[ConsumerSlot] = deque()
        self._last_arrival = -1  # the latest arrival number given (_arrival_number)
        self._expiry_at = INF
        self._may_expire = self.message_ttl < INF  # set by the first per-message TTL too
        self._dispatching = False
        # Speed: `ack_one` inlines `_release` where a subclass keeps this class's own.
        self._plain_release = type(self)._release is ClassicQueue._release
        # Speed: `accept` and `dispatch` read and change the ready list directly (no
        # `ready_count`, `_push`, `_take` and `_pop` calls: four a message) where the class
        # keeps this class's own ready list, the classic queue's.
        kind = type(self)
        # Speed: where `dispatch` is this class's own, a caller that knows it would find
        # nothing to do (no consumer waiting, or nothing ready) skips the call.
        self._plain_dispatch = kind.dispatch is ClassicQueue.dispatch
        self._plain_ready = all(
            getattr(kind, hook) is getattr(ClassicQueue, hook)
            for hook in ("ready_count", "_push", "_pop", "_take")
        )

    # ----- the ready list (hooks a subclass may replace) -----
    @property
    def ready_count(self) -> int:
        return len(self._fresh) + len(self._returned)

    @property
    def consumer_count(self) -> int:
        """What queue.declare-ok reports as consumer_count."""
        return len(self.consumers)

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
        self.recorder.ready_add(self._ready_slot, -1)
        return msg

    # ----- publishing -----
    def _over_limit(self, extra_count: int = 0, extra_bytes: int = 0) -> bool:
        """Max length counts ready messages only, never unacknowledged ones."""
        if self.max_length is not None and self.ready_count + extra_count > self.max_length:
            return True
        limit = self.max_length_bytes
        return limit is not None and self.ready_bytes + extra_bytes > limit

    def _refuses(self, msg: Message) -> bool:
        """reject-publish: would this message take the queue over its limit?"""
        return self._over_limit(1, msg.size)

    def offer(self, msg: Message, on_answer: Any = None) -> bool | None:
        """A routed message arrives: True when accepted, False when refused (the publisher's
        confirm is then a nack). With a cost model the queue process answers later, through
        `on_answer(accepted)`, and this returns None."""
        if self.stage is None:
            return self.accept(msg)
        self.stage.send(self._accept_later, msg, on_answer)
        return None

    def _accept_later(self, msg: Message, on_answer: Any) -> None:
        if self.fsync_wait > 0:  # a quorum queue's entry is written once its WAL fsync is done
            self.env.timeout(self.fsync_wait).callbacks.append(
                lambda _event: self._accept_now(msg, on_answer)
            )
            return
        self._accept_now(msg, on_answer)

    def _accept_now(self, msg: Message, on_answer: Any) -> None:
        accepted = self.accept(msg)
        if on_answer is not None:
            on_answer(accepted)

    def _arrival_number(self, msg: Message) -> int:
        """A number above every earlier arrival's: the queue only ever compares them (its
        returned-message heap, its lanes), so any increasing numbering orders it the same.
        Memory: the message's own id is taken whenever it is above the last number given
        (always, for a single producer's messages in order), so a held message costs no int
        object of its own (a counter's `+= 1` made a new 28-byte int a message)."""
        number = msg.id
        if number <= self._last_arrival:
            number = self._last_arrival + 1
        self._last_arrival = number
        return number

    def accept(self, msg: Message) -> bool:
        if self.overflow != "drop-head" and self._refuses(msg):
            if self.overflow == "reject-publish-dlx" and self.dead_letter_exchange is not None:
                self.dead_letter(msg, "maxlen")
            else:
                self.recorder.rejected(msg, self.name)
            return False
        # Speed: `_arrival_number` inlined (per message).
        number = msg.id
        if number <= self._last_arrival:
            number = self._last_arrival + 1
        msg.seq = self._last_arrival = number
        if msg.ttl is not None:
            self._may_expire = True
            msg.expires_at = self.env.now + min(self.message_ttl, msg.ttl)
        elif self.message_ttl == INF:
            # Memory: every message without a TTL shares one infinity (`now + inf` made a new
            # float a held message).
            msg.expires_at = INF
        else:
            msg.expires_at = self.env.now + self.message_ttl
        if self._plain_ready:
            self._fresh.append(msg)  # speed: `_push` inlined (see __init__)
        else:
            self._push(msg)
        self.ready_bytes += msg.size
        # Speed: `_over_limit()` only asked with a limit set (with neither it answers False,
        # a subclass's too): one call fewer a message on an unbounded queue.
        if (
            self.overflow == "drop-head"
            and (self.max_length is not None or self.max_length_bytes is not None)
            and self._over_limit()
        ):
            # An idle consumer takes the message before anything is dropped: the broker tries a
            # direct delivery first (deliver_or_enqueue, then maybe_drop_head).
            self.dispatch()
            self._drop_head()
        # Counted after drop-head trimming: the queue process trims in the same step, so the
        # ready count never exceeds the limit.
        self.recorder.ready_add(self._ready_slot, 1)
        if self.recorder.trace is not None:  # speed: `enqueued` only traces
            self.recorder.enqueued(msg, self.name)
        if self._active or not self._plain_dispatch:
            self.dispatch()
        elif self._may_expire:  # all `dispatch` does with no consumer waiting (speed)
            self._schedule_expiry()
        return True

    def _drop_head(self) -> None:
        while self.ready_count and self._over_limit():
            head = self._take()
            if self.dead_letter_exchange is not None:
                self.dead_letter(head, "maxlen")
            else:
                self.recorder.dropped(head, self.name)

    # ----- expiry (only at the head, as RabbitMQ does) -----
    def _expire_head(self, inclusive: bool) -> None:
        """Expire messages at the head whose time is up. Dispatch passes inclusive=False, so a
        message with TTL 0 still goes to a consumer that can take it at once, as documented."""
        now = self.env.now
        head = self._peek()
        while head is not None and (head.expires_at <= now if inclusive else head.expires_at < now):
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
        self._expire_head(inclusive=True)
        self._schedule_expiry()

    # ----- a broker crash -----
    def lose_volatile(self) -> None:
        """After a broker crash: keep only what was on disk, in queue order. A non-durable
        queue loses everything; a durable one its transient messages (quorum queues persist
        every message, whatever its delivery mode)."""
        survivors = []
        while self.ready_count:
            msg = self._take()
            if self.durable and (msg.persistent or self.kind == "quorum"):
                survivors.append(msg)
            else:
                self.recorder.lost(msg, self.name)
        for msg in survivors:
            self._push(msg)
            self.ready_bytes += msg.size
        self.recorder.ready_add(self._ready_slot, len(survivors))
        self._schedule_expiry()

    # ----- consumers and dispatch -----
    def add_consumer(self, slot: ConsumerSlot) -> None:
        self.consumers.append(slot)
        self._activate(slot)
        self.dispatch()

    def remove_consumer(self, slot: ConsumerSlot) -> None:
        """basic.cancel: no more deliveries; what the consumer holds stays unacknowledged."""
        self.consumers.remove(slot)
        slot.cancelled = True
        if slot.in_active:
            self._active.remove(slot)
            slot.in_active = False

    def _activate(self, slot: ConsumerSlot) -> None:
        # Speed: `slot.has_credit()` inlined (twice a message: after a delivery, after an ack).
        if (
            not slot.in_active
            and not slot.cancelled
            and (slot.auto_ack or slot.prefetch == 0 or slot.unacked < slot.prefetch)
        ):
            self._active.append(slot)
            slot.in_active = True

    def dispatch(self) -> None:
        """Hand ready messages to consumers with credit, taking turns.

        A consumer's callback may ack, nack or cancel at once; the dispatch already running then
        picks up the change instead of starting another one inside it.
        """
        active = self._active
        if active and not self._dispatching:
            self._dispatching = True
            try:
                if self._plain_ready:
                    # Speed: the loop below on the classic queue's own ready list, with
                    # `ready_count`, `_take` and `_pop` inlined: the same steps, three calls
                    # fewer a delivery (and one fewer when nothing is ready).
                    fresh, returned = self._fresh, self._returned
                    while active and (fresh or returned):
                        if self._may_expire:
                            self._expire_head(inclusive=False)
                            if not (fresh or returned):
                                break
                        slot = active.popleft()
                        slot.in_active = False
                        # `_take`: the older of the fresh head and the returned heap's top
                        if returned and (not fresh or returned[0][0] < fresh[0].seq):
                            msg = heapq.heappop(returned)[1]
                        else:
                            msg = fresh.popleft()
                        self.ready_bytes -= msg.size
                        self.recorder.ready_add(self._ready_slot, -1)
                        if not slot.auto_ack:
                            slot.unacked += 1
                            self.unacked += 1
                        slot.channel.deliver(slot, msg)
                        if (
                            not slot.in_active
                            and not slot.cancelled
                            and (
                                slot.auto_ack or slot.prefetch == 0 or slot.unacked < slot.prefetch
                            )
                        ):
                            active.append(slot)
                            slot.in_active = True
                else:
                    while active and self.ready_count:
                        if self._may_expire:
                            self._expire_head(inclusive=False)
                            if not self.ready_count:
                                break
                        slot = active.popleft()
                        slot.in_active = False
                        msg = self._take()
                        if not slot.auto_ack:
                            slot.unacked += 1
                            self.unacked += 1
                        slot.channel.deliver(slot, msg)
                        # Back of the turn if it still has credit (speed: `_activate` inlined).
                        if (
                            not slot.in_active
                            and not slot.cancelled
                            and (
                                slot.auto_ack or slot.prefetch == 0 or slot.unacked < slot.prefetch
                            )
                        ):
                            active.append(slot)
                            slot.in_active = True
            finally:
                self._dispatching = False
        if self._may_expire:
            self._schedule_expiry()

    def basic_get(self) -> Message | None:
        if self._may_expire:
            self._expire_head(inclusive=False)
        if not self.ready_count:
            return None
        msg = self._take()
        if self._may_expire:
            self._schedule_expiry()
        return msg

    # ----- settling deliveries (one call per ack/nack/reject/recover/close, as the channel
    # hands the queue all the tags of one command at once) -----
    def _release(self, slot: ConsumerSlot | None) -> None:
        self.unacked -= 1
        if slot is not None:
            slot.unacked -= 1
            self._activate(slot)

    def ack(self, entries: Iterable[Entry]) -> None:
        for slot, msg in entries:
            self._release(slot)
            self.recorder.acked_message(msg, self.name)
        self.dispatch()

    def ack_one(self, slot: ConsumerSlot | None, msg: Message) -> None:
        """`ack([(slot, msg)])` without building the list: the path every processed message
        takes."""
        if not self._plain_release:
            self._release(slot)
        else:  # speed: `_release` and its `_activate` inlined (two calls fewer a message)
            self.unacked -= 1
            if slot is not None:
                slot.unacked -= 1
                if (
                    not slot.in_active
                    and not slot.cancelled
                    and (slot.auto_ack or slot.prefetch == 0 or slot.unacked < slot.prefetch)
                ):
                    self._active.append(slot)
                    slot.in_active = True
        self.recorder.acked_message(msg, self.name)
        if self._fresh or self._returned or not (self._plain_dispatch and self._plain_ready):
            self.dispatch()
        elif self._may_expire:  # all `dispatch` does with nothing ready (speed)
            self._schedule_expiry()

    def discard(self, entries: Iterable[Entry]) -> None:
        """nack/reject without requeue: dead-lettered (reason rejected), else dropped."""
        for slot, msg in entries:
            self._release(slot)
            if self.dead_letter_exchange is not None:
                self.dead_letter(msg, "rejected")
            else:
                self.recorder.dropped(msg, self.name)
        self.dispatch()

    def requeue(self, entries: Iterable[Entry], closing: bool = False, failed: bool = True) -> None:
        """nack/reject with requeue, or basic.recover (closing=False); a channel that closed or
        died returns what it held (closing=True). All are put back before any is redelivered,
        then drop-head trims the queue back to its limit (rabbit_amqqueue_process:
        requeue_and_run); reject-publish queues may stay over it. `failed` says whether the
        client called the delivery failed (basic.reject) rather than just returned it
        (basic.nack, basic.recover): only a RabbitMQ 4.3 quorum queue tells them apart."""
        for slot, msg in entries:
            self._release(slot)
            self.recorder.requeued_message(msg, self.name)
            self._return(msg, closing, failed)
        if self.overflow == "drop-head":
            self._drop_head()
        self.dispatch()

    def _return(self, msg: Message, closing: bool, failed: bool = True) -> None:
        self._push_returned(msg, closing)
        self.ready_bytes += msg.size
        self.recorder.ready_add(self._ready_slot, 1)

    # ----- dead-lettering -----
    def dead_letter(self, msg: Message, reason: str) -> None:
        self.broker.dead_letter(self, msg, reason)


class _Lane:
    """One priority level of a priority queue: fresh messages and returned ones, as above."""

    __slots__ = ("fresh", "returned")

    def __init__(self) -> None:
        self.fresh: deque[Message] = deque()
        self.returned: list[tuple[int, Message]] = []

    def __len__(self) -> int:
        return len(self.fresh) + len(self.returned)

    def _returned_first(self) -> bool:
        fresh, returned = self.fresh, self.returned
        return bool(returned) and (not fresh or returned[0][0] < fresh[0].seq)

    def peek(self) -> Message:
        return self.returned[0][1] if self._returned_first() else self.fresh[0]

    def pop(self) -> Message:
        return heapq.heappop(self.returned)[1] if self._returned_first() else self.fresh.popleft()


class PriorityQueue(ClassicQueue):
    """A classic queue declared with `x-max-priority`: higher priorities are delivered first,
    FIFO within a priority. A message's priority is capped at the maximum; no priority is 0
    (RabbitMQ "Priority Queue Support"). Expiry and drop-head act on the next message to be
    delivered, the head of the highest non-empty priority."""

    def __init__(self, broker: RabbitMQBroker, name: str, arguments: dict[str, Any] | None) -> None:
        super().__init__(broker, name, arguments)
        self.max_priority = int(self.arguments["x-max-priority"])
        self._lanes = [_Lane() for _ in range(self.max_priority + 1)]
        self._count = 0

    @property
    def ready_count(self) -> int:
        return self._count

    def _lane(self, msg: Message) -> _Lane:
        return self._lanes[min(max(msg.priority, 0), self.max_priority)]

    def _push(self, msg: Message) -> None:
        self._lane(msg).fresh.append(msg)
        self._count += 1

    def _push_returned(self, msg: Message, closing: bool) -> None:
        heapq.heappush(self._lane(msg).returned, (msg.seq, msg))
        self._count += 1

    def _peek(self) -> Message | None:
        for lane in reversed(self._lanes):
            if lane:
                return lane.peek()
        return None

    def _pop(self) -> Message:
        for lane in reversed(self._lanes):
            if lane:
                self._count -= 1
                return lane.pop()
        raise IndexError("pop from an empty queue")


class _QuorumFifo(deque[Message]):
    """A RabbitMQ 3.10 quorum queue's messages: one FIFO, priorities ignored."""

    def peek(self) -> Message:
        return self[0]


#: rabbit_fifo.erl priority_tag/1 (4.0-4.2): a priority above this is high, the rest normal.
_NORMAL_UP_TO = 4
#: rabbit_fifo_q.erl `-define(WEIGHT, 2)`: every third out may go to the normal level.
_WEIGHT = 2


class _QuorumTwoLevels:
    """A 4.0-4.2 quorum queue's messages (rabbit_fifo_q.erl): a high and a normal FIFO.

    out/1 counts every message taken (`dequeue_counter`, 0, 1, 2, 0, ...). When both levels
    wait and the counter stands at WEIGHT, next/1 takes the older of the two heads (the lower
    Raft index: "always favour hi priority messages when it is safe to do so"); otherwise the
    high head when there is one. So with both levels waiting at least one message in three is
    normal, the rest high: 2:1, not strict (RabbitMQ docs, Quorum Queues, "Message
    Priorities": "for every 2 high priority message the queue will deliver 1 normal priority
    message"; "If a high priority message was published before a normal priority one, the
    high priority message will always be delivered first even if it is the normal priority's
    turn")."""

    __slots__ = ("counter", "high", "normal")

    def __init__(self) -> None:
        self.high: deque[Message] = deque()
        self.normal: deque[Message] = deque()
        self.counter = 0

    def __len__(self) -> int:
        return len(self.high) + len(self.normal)

    def append(self, msg: Message) -> None:
        (self.high if msg.priority > _NORMAL_UP_TO else self.normal).append(msg)

    def peek(self) -> Message:
        high, normal = self.high, self.normal
        if not high:
            return normal[0]
        if self.counter == _WEIGHT and normal and normal[0].seq < high[0].seq:
            return normal[0]
        return high[0]

    def popleft(self) -> Message:
        counter = self.counter
        self.counter = 0 if counter == _WEIGHT else counter + 1
        high, normal = self.high, self.normal
        if not high:  # the common case: no message with a high priority waits
            return normal.popleft()
        if counter == _WEIGHT and normal and normal[0].seq < high[0].seq:
            return normal.popleft()
        return high.popleft()


#: rabbit_fifo.erl (4.3) `-define(MAX_PRIORITY, 31)` and `-define(DEFAULT_PRIORITY, 4)`.
_STRICT_MAX = 31
_STRICT_DEFAULT = 4


class _QuorumStrict:
    """A 4.3 quorum queue's messages (rabbit_fifo_pq.erl): 32 FIFOs, 0-31, the highest
    non-empty one always first; a priority over 31 counts as 31, a message without one as 4
    (rabbit_fifo.erl msg_priority/1)."""

    __slots__ = ("count", "levels")

    def __init__(self) -> None:
        self.levels = [deque[Message]() for _ in range(_STRICT_MAX + 1)]
        self.count = 0

    def __len__(self) -> int:
        return self.count

    def append(self, msg: Message) -> None:
        priority = msg.priority
        if priority == NO_PRIORITY:
            priority = _STRICT_DEFAULT
        self.levels[min(priority, _STRICT_MAX)].append(msg)
        self.count += 1

    def _highest(self) -> deque[Message]:
        for level in reversed(self.levels):
            if level:
                return level
        raise IndexError("an empty quorum queue")

    def peek(self) -> Message:
        return self._highest()[0]

    def popleft(self) -> Message:
        self.count -= 1
        return self._highest().popleft()


class QuorumQueue(ClassicQueue):
    """Quorum-queue differences, as recorded from RabbitMQ 3.10 (rabbit_fifo), and what later
    versions changed (sim/brokers/rabbitmq/versions.py).

    - Where returns go: without a delivery limit a nacked or rejected message goes to the back;
      a message returned by a closed channel goes to the front. With a delivery limit, every
      return goes to the front, in return order. Returns go before any priority
      (rabbit_fifo.erl take_next_msg/1).
    - Returns count in the `x-delivery-count` header; a message whose count goes over
      `x-delivery-limit` is dead-lettered (reason delivery_limit) instead. Before 4.3 every
      return counts; from 4.3 only failed deliveries do (basic.reject, a closed channel), and
      every return counts in `x-acquired-count`.
    - Message priorities: none in 3.10, two levels at 2:1 in 4.0-4.2, strict in 4.3.
    - reject-publish refuses only once the queue is already over its limit (6 accepted for 5);
      reject-publish-dlx is not supported and falls back to drop-head
      (rabbit_quorum_queue:overflow/3 logs "Invalid overflow strategy" and uses the default).
    - A cancelled consumer still counts in consumer_count until it has settled all it holds.
    - basic.get on 3.10 always carries `x-delivery-count` (0 before any return); 4.x adds
      the header only after a return.
    - 4.3: consumer timeouts (the queue returns timed-out deliveries, uncounted) and delayed
      retry (x-delayed-retry-*).
    """

    kind = "quorum"

    def __init__(self, broker: RabbitMQBroker, name: str, arguments: dict[str, Any] | None) -> None:
        super().__init__(broker, name, arguments)
        version = broker.version
        # The limit in force: the argument, else the version's default (20 since RabbitMQ
        # 4.0, none before: sim/brokers/rabbitmq/versions.py); a negative one means none.
        limit = self.arguments.get("x-delivery-limit", version.quorum_default_delivery_limit)
        self.delivery_limit: int | None = None if limit is None or limit < 0 else limit
        self._only_failed_count = version.only_failed_returns_count
        if self.overflow == "reject-publish-dlx":
            self.overflow = "drop-head"
        self._front: deque[Message] = deque()  # returned to the front, oldest return first
        self._messages: _QuorumFifo | _QuorumTwoLevels | _QuorumStrict
        if version.quorum_priorities == "two_levels":
            self._messages = _QuorumTwoLevels()
        elif version.quorum_priorities == "strict":
            self._messages = _QuorumStrict()
        else:
            self._messages = _QuorumFifo()
        self._lingering: list[ConsumerSlot] = []  # cancelled, still holding messages
        self._get_counts_from_zero = version.get_counts_from_zero
        # 4.3: the queue evaluates consumer timeouts (rabbit_fifo.erl apply_/3
        # `{timeout, evaluate_consumer_timeout}`): its x-consumer-timeout, else the broker's.
        self._timeout: float | None = None
        if version.consumer_timeout_by == "quorum":
            self._timeout = self.consumer_timeout or broker.consumer_timeout
        self._timeout_at = INF  # when the pending evaluation runs (INF: none pending)
        # 4.3 delayed retry: (type, min, max) in seconds, or None (disabled).
        self._retry = _delayed_retry(self.arguments) if version.delayed_retry else None
        self._delayed: list[tuple[float, int, int, Message]] = []  # (ready at, seq, n, msg)
        self._delayed_n = itertools.count()
        self._delayed_bytes = 0
        self._delayed_at = INF  # when the pending promotion runs

    @property
    def ready_count(self) -> int:
        return len(self._front) + len(self._messages)

    @property
    def consumer_count(self) -> int:
        return len(self.consumers) + len(self._lingering)

    def _push(self, msg: Message) -> None:
        self._messages.append(msg)

    def _push_returned(self, msg: Message, closing: bool) -> None:
        if closing or self.delivery_limit is not None:
            self._front.append(msg)
        else:
            # Without a limit a nack is enqueued again as a new message (rabbit_fifo.erl
            # handle_aux #return{}, make_requeue): a new Raft index, at the back of its level.
            msg.seq = self._arrival_number(msg)
            self._messages.append(msg)

    def _peek(self) -> Message | None:
        if self._front:
            return self._front[0]
        return self._messages.peek() if self._messages else None

    def _pop(self) -> Message:
        return self._front.popleft() if self._front else self._messages.popleft()

    def _refuses(self, msg: Message) -> bool:
        return self._over_limit()

    def remove_consumer(self, slot: ConsumerSlot) -> None:
        super().remove_consumer(slot)
        if slot.unacked:
            self._lingering.append(slot)

    def _release(self, slot: ConsumerSlot | None) -> None:
        super()._release(slot)
        if slot is not None and slot.cancelled and not slot.unacked and slot in self._lingering:
            self._lingering.remove(slot)

    def _return(
        self, msg: Message, closing: bool, failed: bool = True, timed_out: bool = False
    ) -> None:
        headers = msg.headers or {}
        if self._only_failed_count:
            # 4.3: the limit is on the delivery-count, raised only by a failed delivery
            # (rabbit_fifo.erl incr_msg_headers/3); a channel that closes or dies counts as
            # one (maybe_return_all/6, DeliveryFailed = Reason == down); a consumer timeout
            # does not (return_multiple(..., false, ...) in evaluate_consumer_timeout).
            failed = (failed or closing) and not timed_out
            acquired = headers.get("x-acquired-count", 0) + 1
            counted = headers.get("x-delivery-count", 0) + (1 if failed else 0)
            new = {**headers, "x-acquired-count": acquired}
            if counted:
                new["x-delivery-count"] = counted
            msg.headers = new
        else:
            counted = headers.get("x-delivery-count", 0) + 1
            msg.headers = {**headers, "x-delivery-count": counted}
        if self.delivery_limit is not None and counted > self.delivery_limit:
            self.dead_letter(msg, "delivery_limit")
            return
        # To the returns queue (the front), unless this is a plain return without a limit,
        # which the leader enqueues again (handle_aux #return{}); from 4.3 basic.reject is a
        # #modify{} that always goes to the returns queue (rabbit_fifo.erl apply_/3), and so
        # is a timed-out delivery (return_one/8).
        front = closing or timed_out or (self._only_failed_count and failed)
        retry = self._retry
        if retry is not None and (front or self.delivery_limit is not None):
            # return_one/8 holds it back when should_delay0/4 says so: `all` every return,
            # `failed` failed deliveries only, `returned` the others.
            kind, low, high = retry
            if kind == "all" or (kind == "failed") == failed:
                # calculate_ready_at/4: min(Min * DeliveryCount, Max), a count below 1 as 1.
                delay = min(low * max(1, counted), high)
                self._hold(msg, self.env.now + delay)
                return
        super()._return(msg, front, failed)

    # ----- 4.3 delayed retry (rabbit_fifo.erl delayed_in/5, take_ready_delayed/2) -----
    @property
    def delayed_count(self) -> int:
        """Returned messages held back by delayed retry: neither ready nor unacked (the
        management UI's messages_delayed), but counted toward max-length
        (rabbit_fifo.erl messages_ready_plus_delayed/1)."""
        return len(self._delayed)

    def _hold(self, msg: Message, ready_at: float) -> None:
        heapq.heappush(self._delayed, (ready_at, msg.seq, next(self._delayed_n), msg))
        self._delayed_bytes += msg.size
        if ready_at < self._delayed_at:
            self._delayed_at = ready_at
            self.env.timeout(ready_at - self.env.now).callbacks.append(self._promote)

    def _promote(self, _event: Any) -> None:
        """The expire_msgs timer: every delayed message whose time has come goes to the
        returns queue, earliest first (expire_shallow/2), then dispatch."""
        now = self.env.now
        if self._delayed_at > now + 1e-9:
            return  # a later timer replaced this one
        delayed = self._delayed
        while delayed and delayed[0][0] <= now + 1e-9:
            msg = heapq.heappop(delayed)[3]
            self._delayed_bytes -= msg.size
            super()._return(msg, True, False)  # the front: the returns queue
        self._delayed_at = INF
        if delayed:
            self._delayed_at = delayed[0][0]
            self.env.timeout(self._delayed_at - now).callbacks.append(self._promote)
        self.dispatch()

    def _over_limit(self, extra_count: int = 0, extra_bytes: int = 0) -> bool:
        if self._delayed:
            extra_count += len(self._delayed)
            extra_bytes += self._delayed_bytes
        return super()._over_limit(extra_count, extra_bytes)

    # ----- 4.3 consumer timeouts (rabbit_fifo.erl apply_/3 evaluate_consumer_timeout) -----
    def _take(self) -> Message:
        msg = super()._take()
        if self._timeout is not None and self._timeout_at == INF:
            self._arm_timeout(self.env.now + self._timeout)
        return msg

    def _arm_timeout(self, at: float) -> None:
        self._timeout_at = at
        self.env.timeout(at - self.env.now).callbacks.append(self._evaluate_timeouts)

    def _evaluate_timeouts(self, _event: Any) -> None:
        """Every delivery held for `consumer_timeout` or longer goes back to the returns queue
        without counting as a failed delivery (the acquired-count goes up, the
        delivery-count does not, so it never reaches the delivery limit); a late ack of it
        settles nothing. Its consumer is told with basic.cancel (rabbit_channel.erl
        handle_queue_actions `{released, ..., timeout}`)."""
        self._timeout_at = INF
        now, limit = self.env.now, self._timeout
        assert limit is not None
        oldest = INF
        released: list[tuple[Any, int, ConsumerSlot | None, Message]] = []
        for channel in self.broker.channels:
            if not channel.is_open:
                continue
            for tag, slot, msg, at in channel.outstanding(self):
                if at + limit <= now + 1e-9:
                    released.append((channel, tag, slot, msg))
                elif at < oldest:
                    oldest = at
        cancelled: list[ConsumerSlot] = []
        for channel, tag, slot, msg in released:
            channel.release(tag)
            self._release(slot)
            self.recorder.requeued_message(msg, self.name)
            self._return(msg, False, False, timed_out=True)
            if slot is not None and slot not in cancelled:
                cancelled.append(slot)
        for slot in cancelled:
            slot.channel.server_cancel(slot)
        if oldest < INF:
            self._arm_timeout(oldest + limit)
        if released:
            self.dispatch()

    def basic_get(self) -> Message | None:
        msg = super().basic_get()
        if (
            self._get_counts_from_zero
            and msg is not None
            and "x-delivery-count" not in (msg.headers or {})
        ):
            # 3.10 (recorded): rabbit_fifo_client.erl dequeue/4 counts from 0; 4.x adds no
            # header to a message never returned (add_delivery_count_header/2, last clause).
            msg.headers = {**(msg.headers or {}), "x-delivery-count": 0}
        return msg


#: Queue arguments of classic and quorum queues that a stream refuses.
_NOT_FOR_STREAMS = (
    "x-max-length",
    "x-overflow",
    "x-message-ttl",
    "x-dead-letter-exchange",
    "x-dead-letter-routing-key",
    "x-delivery-limit",
    "x-max-priority",
    "x-expires",
    "x-single-active-consumer",
    "x-consumer-timeout",
)


def _checked_arguments(
    name: str, arguments: dict[str, Any] | None, kind: str, version: Version | None = None
) -> dict[str, Any]:
    """The queue arguments mqsim models, checked as queue.declare checks them
    (rabbit_amqqueue:declare_args); other `x-` arguments are accepted and ignored, as the
    broker ignores unknown ones."""
    args = dict(arguments or {})

    def fail(problem: str) -> None:
        raise PreconditionFailed(f"invalid arg for queue {name!r}: {problem}")

    if kind == "stream":
        # Arguments of other queue types are refused (rabbit_amqqueue:check_declare_arguments/3
        # against rabbit_stream_queue:capabilities/0, the same in 3.10 and 4.x).
        for key in _NOT_FOR_STREAMS:
            if key in args:
                fail(f"{key} is not supported by stream queues")
    for key in (
        "x-max-length",
        "x-max-length-bytes",
        "x-stream-max-segment-size-bytes",
        "x-consumer-timeout",  # rabbit_amqqueue.erl declare_args/0: check_non_neg_int_arg/2
    ):
        value = args.get(key)
        if value is not None and (not isinstance(value, int) or value < 0):
            fail(f"{key} must be a non-negative integer, got {value!r}")
    limit = args.get("x-delivery-limit")
    if limit is not None:
        negative_ok = version is not None and version.negative_delivery_limit_disables
        if not isinstance(limit, int) or (limit < 0 and not negative_ok):
            fail(f"x-delivery-limit must be a non-negative integer, got {limit!r}")
    ttl = args.get("x-message-ttl")
    if ttl is not None and (not isinstance(ttl, int | float) or ttl < 0):
        fail(f"x-message-ttl must be a non-negative number of milliseconds, got {ttl!r}")
    overflow = args.get("x-overflow", "drop-head")
    if overflow not in OVERFLOWS:
        fail(f"x-overflow must be one of {', '.join(OVERFLOWS)}, got {overflow!r}")
    if "x-dead-letter-routing-key" in args and "x-dead-letter-exchange" not in args:
        fail("x-dead-letter-routing-key needs x-dead-letter-exchange")
    priority = args.get("x-max-priority")
    if priority is not None:
        if kind == "quorum":
            # No version takes the argument (rabbit_quorum_queue:capabilities/0): from 4.0 a
            # quorum queue always orders by message priority, with its own levels.
            fail("x-max-priority is not supported by quorum queues")
        if not isinstance(priority, int) or not 0 <= priority <= 255:
            fail(f"x-max-priority must be an integer from 0 to 255, got {priority!r}")
    return args


def _delayed_retry(args: dict[str, Any]) -> tuple[str, float, float] | None:
    """x-delayed-retry-type / -min / -max as rabbit_quorum_queue.erl
    get_delayed_retry_config/1 reads them: off unless the type is all, failed or returned and
    the minimum a positive integer (ms); the maximum defaults to the minimum. In seconds."""
    kind = args.get("x-delayed-retry-type")
    low = args.get("x-delayed-retry-min")
    if kind not in ("all", "failed", "returned") or not isinstance(low, int) or low <= 0:
        return None
    high = args.get("x-delayed-retry-max")
    if not isinstance(high, int) or high <= 0:
        high = low
    return kind, low / 1000.0, high / 1000.0


def make_queue(broker: RabbitMQBroker, name: str, arguments: dict[str, Any] | None) -> ClassicQueue:
    kind = (arguments or {}).get("x-queue-type", "classic")
    if kind == "quorum":
        return QuorumQueue(broker, name, arguments)
    if kind == "stream":
        from sim.brokers.rabbitmq.stream import StreamQueue  # it builds on this module

        return StreamQueue(broker, name, arguments)
    if kind != "classic":
        raise PreconditionFailed(f"unknown x-queue-type {kind!r} (known: classic, quorum, stream)")
    if (arguments or {}).get("x-max-priority"):
        return PriorityQueue(broker, name, arguments)
    return ClassicQueue(broker, name, arguments)
