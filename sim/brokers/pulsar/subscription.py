"""Subscriptions and their dispatchers: who gets which entry, acknowledgements and redelivery.

One :class:`Subscription` is a durable cursor on one topic instance (``PersistentSubscription``)
with the dispatcher its type implies (Pulsar 4.0.0, ``pulsar-broker/.../service/persistent/``):

- exclusive and failover: ``PersistentDispatcherSingleActiveConsumer``
  (:class:`SingleActiveSubscription`): one active consumer reads the topic in order;
- shared: ``PersistentDispatcherMultipleConsumers`` (:class:`SharedSubscription`): round-robin in
  batches of ``dispatcherMaxRoundRobinBatchSize`` among consumers with permits, highest priority
  level first;
- key_shared: ``PersistentStickyKeyDispatcherMultipleConsumers`` (:class:`KeySharedSubscription`):
  the sticky key hash picks the consumer through the selector, and hashes that move are drained.

Every subscription of a topic gets every entry (each its own copy of the messages, `copies[g]`):
that is the stream side; inside one subscription the type decides the queue side.

Flow control is Pulsar's: a consumer has *permits* (``Consumer.getAvailablePermits``), granted
by the client's Flow commands; an entry of n messages takes n. Individual-ack types (shared,
key_shared) keep each consumer's *pending acks* (``PendingAcksMap``) and block a consumer at
``maxUnackedMessagesPerConsumer`` unacked messages (``Consumer.incrementUnackedMessages``) until
acks bring it down to half (``Consumer.removePendingAcks``), and the whole subscription at
``maxUnackedMessagesPerSubscription`` (``addUnAckedMessages``), likewise.

Measures: `ready` counts messages stored and deliverable and not delivered (unread, waiting for
redelivery, held by key_shared ordering); `in_flight` those delivered and neither processed nor
returned. Both are kept by deltas, never by scanning the backlog.
"""

from __future__ import annotations

import heapq
from bisect import bisect_right
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from sim.brokers.pulsar.cursor import _NO_RANGES, _NO_REPLAY, Cursor
from sim.brokers.pulsar.hash_assignments import removed_hash_ranges
from sim.brokers.pulsar.hashing import AUTO_SPLIT, NONE_KEY, murmur3_32_hash
from sim.brokers.pulsar.selectors import ConsistentHashingSelector, HashRangeAutoSplitSelector
from sim.brokers.pulsar.storage import Entry
from sim.message import Message, State

if TYPE_CHECKING:
    from sim.brokers.pulsar.topic import PersistentTopic

__all__ = [
    "BatchItem",
    "BrokerConsumer",
    "Delivery",
    "KeySharedSubscription",
    "SharedSubscription",
    "SingleActiveSubscription",
    "SourceAccount",
    "Subscription",
    "failover_ring_index",
    "make_subscription",
]

# Speed: a module-level name, not an enum class lookup (read a delivery).
_DEAD_LETTERED = State.DEAD_LETTERED
_new = object.__new__


class SourceAccount:
    """What the measures of one source `<topic>/<subscription>` add up over its partitions and
    clusters: the recorder's ready slot, and the in-flight count."""

    __slots__ = ("in_flight", "name", "recorder", "slot")

    def __init__(self, recorder: Any, name: str) -> None:
        self.recorder = recorder
        self.name = name
        self.slot = recorder.source(name)
        self.in_flight = 0


class Delivery:
    """An entry sent to one consumer: the group's copy of its messages, and what became of it."""

    __slots__ = (
        "acked",
        "done",
        "entry",
        "epoch",
        "handle",
        "index",
        "msgs",
        "redelivery_count",
        "released",
        "returned",
        "sub",
    )

    def __init__(
        self, entry: Entry, msgs: tuple[Message, ...], sub: Subscription, handle: BrokerConsumer
    ) -> None:
        self.released = False  # the application is done with it (one-message entries)
        self.entry = entry
        self.msgs = msgs
        self.sub = sub
        self.handle = handle
        self.index = entry.index
        self.done = 0  # messages processed
        self.acked = 0  # messages the application acknowledged (a batch is acked when all are)
        self.returned = False  # sent back for redelivery (or its consumer left)
        self.redelivery_count = 0
        self.epoch = 0  # the client connection it was sent on

    # The application's view of a one-message entry is the delivery itself.
    @property
    def delivery(self) -> Delivery:
        return self

    @property
    def msg(self) -> Message:
        return self.msgs[0]

    i = 0

    def finish_one(self) -> None:
        """One of its messages is done with (processed, acked, moved to a retry or dead
        letter topic): no longer in flight (unless already returned)."""
        if self.done >= len(self.msgs):
            return
        self.done += 1
        if not self.returned:
            self.sub.account.in_flight -= 1

    def release(self) -> None:
        """The application is done with this message, whichever way, once."""
        if not self.released:
            self.released = True
            # Speed: `finish_one` inlined (a release a message).
            if self.done < len(self.msgs):
                self.done += 1
                if not self.returned:
                    self.sub.account.in_flight -= 1


class BatchItem:
    """Message `i` of a batch delivery, as the application receives it."""

    __slots__ = ("delivery", "i", "msg", "released")

    def __init__(self, delivery: Delivery, i: int) -> None:
        self.delivery = delivery
        self.i = i
        self.msg = delivery.msgs[i]
        self.released = False

    def release(self) -> None:
        if not self.released:
            self.released = True
            self.delivery.finish_one()


class BrokerConsumer:
    """The broker's view of one connected consumer (``broker.service.Consumer``)."""

    __slots__ = (
        "avail",
        "blocked",
        "blocked_permits",
        "client",
        "name",
        "pending",
        "permits",
        "place",
        "priority",
        "send",
        "sub",
        "unacked",
    )

    def __init__(
        self, client: Any, name: str, priority: int, send: Callable[[Delivery], None]
    ) -> None:
        self.client = client
        self.name = name
        self.priority = priority  # priorityLevel: 0 is the highest
        self.send = send  # puts a delivery on the broker->consumer hop
        self.permits = 0
        self.blocked_permits = 0  # PERMITS_RECEIVED_WHILE_CONSUMER_BLOCKED
        # Entry index -> delivery, in the order sent. Speed: a dict, not an OrderedDict (its
        # insertion order is the same, and nothing moves an entry: setting and popping one,
        # a delivery and an ack a message, cost about a quarter less).
        self.pending: dict[int, Delivery] = {}
        self.unacked = 0  # messages (individual-ack types only)
        self.blocked = False  # blockedConsumerOnUnackedMsgs
        self.avail = False  # has permits and is not blocked (isConsumerAvailable)
        self.sub: Subscription | None = None
        # Its index in its subscription's `handles` (-1: in none), kept by `_number_handles`
        # wherever the list changes (see `SharedSubscription.placed`).
        self.place = -1

    def __repr__(self) -> str:
        return f"BrokerConsumer({self.name!r}, permits={self.permits})"


def failover_ring_index(topic_name: str, names: list[str]) -> int:
    """The active consumer of a non-partitioned topic's failover subscription.

    ``AbstractDispatcherSingleActiveConsumer.peekConsumerIndexFromHashRing``: each of the
    `names` (sorted as the dispatcher sorts them) puts 100 points on a ring at
    ``Murmur3_32Hash.makeHash((name + j).getBytes())`` (a later consumer overwrites a taken
    point); the topic name's ``Murmur3Hash32`` hash picks the first point at or after it,
    wrapping round.
    """
    ring: dict[int, int] = {}
    for i, name in enumerate(names):
        for j in range(100):  # CONSUMER_CONSISTENT_HASH_REPLICAS
            ring[murmur3_32_hash(f"{name}{j}")] = i
    points = sorted(ring)
    target = murmur3_32_hash(topic_name)
    position = bisect_right(points, target - 1)  # ceilingEntry(hash)
    return ring[points[position if position < len(points) else 0]]


class Subscription:
    """A durable subscription on one topic instance; subclasses are its dispatcher."""

    kind = ""
    individual_ack = False  # Subscription.isIndividualAckMode: Shared and Key_Shared
    delays = False  # delayed delivery: only the multiple-consumers dispatchers track it
    # Whether `dispatch_new` does nothing while the dispatcher is blocked or no consumer is
    # available (then `entry_added` need not call it).
    new_waits_for_available = False
    # Whether `_pending_removed` is the base one of an individual-ack type (then `ack` does
    # it inline); key_shared adds its draining hashes to it.
    plain_removal = False
    # Whether `ack` makes the cursor's out-of-order ack itself (see there); False (tests
    # only) calls `Cursor.ack` for it.
    fused_ack = True

    def __init__(
        self,
        topic: PersistentTopic,
        name: str,
        group: int,
        account: SourceAccount,
        start_after: int,
    ) -> None:
        self.topic = topic
        self.name = name
        self.group = group
        self.account = account
        self.recorder = topic.service.recorder
        self.env = topic.service.env
        self.cursor = Cursor(start_after)
        self.handles: list[BrokerConsumer] = []
        self.counted = True  # reports its ready count (see SourceAccount)
        self.ready = 0  # messages ready in this instance
        self.backlog_messages = 0  # messages stored and not acked (msgBacklog)
        self.delayed: list[tuple[float, int]] = []  # (deliver at, index): InMemoryDelayedDelivery
        self.delayed_set: set[int] = set()
        self._delay_timer = False
        self._last_tick = -1e18
        self.persisted: tuple[int, list[tuple[int, int]]] = (start_after, [])
        self._persist_due = False
        self.replicated = False  # replicateSubscriptionState
        self.snapshots: list[tuple[int, dict[int, int]]] = []  # (local index, remote indexes)
        self.md_ledger = -1  # the ledger holding mark-delete when it last moved
        settings = topic.service.settings
        self.max_unacked_consumer = settings.max_unacked_per_consumer
        self.max_unacked_subscription = settings.max_unacked_per_subscription
        self.unacked = 0  # messages, over all consumers (individual-ack types)
        self.blocked = False  # blockedDispatcherOnUnackedMsgs
        self.available = 0  # consumers with permits that are not blocked
        self._read_scheduled = False
        self.read_now = False  # dispatch_later reads at once (ClientConsumer.read_at_once)
        charges = topic.cluster.charges
        # The cost model's IO-thread time per entry sent (None: the ideal broker). A send
        # takes its turn on the threads even at 0 s, behind the acks they handle.
        self.dispatch_cost = None if charges is None else charges.dispatch
        topic.service.subscription_created(self)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.topic.name}/{self.name})"

    # ----- accounting -----
    def refresh(self, handle: BrokerConsumer) -> None:
        """Keep the count of available consumers (permits, not blocked) up to date."""
        now = handle.permits > 0 and not handle.blocked
        if now is not handle.avail:
            handle.avail = now
            self.available += 1 if now else -1

    def add_ready(self, delta: int) -> None:
        self.ready += delta
        if self.counted:
            self.recorder.ready_add(self.account.slot, delta)

    def set_counted(self, counted: bool) -> None:
        """Start or stop reporting this instance's ready count (a replicated subscription counts
        in the cluster its consumers use)."""
        if counted != self.counted:
            self.counted = counted
            self.recorder.ready_add(self.account.slot, self.ready if counted else -self.ready)

    def copy_of(self, entry: Entry) -> tuple[Message, ...]:
        """This group's copy of `entry`'s messages (made now if the group had none)."""
        msgs = entry.copy_in(self.group)
        if msgs is not None:
            return msgs
        return self.topic.service.make_copy(entry, self.group, self.topic.name)

    def _return(self, delivery: Delivery) -> None:
        """A delivery goes back for redelivery: its messages are ready again."""
        if delivery.returned:
            return
        delivery.returned = True
        count = len(delivery.msgs)
        self.account.in_flight -= count - delivery.done
        self.add_ready(count)

    # ----- entries -----
    def entry_added(self, entry: Entry) -> None:
        """A new entry in the topic (published or replicated in)."""
        count = entry.count
        self.backlog_messages += count
        if (
            self.delays
            # Speed: SimPy's field, not its `now` property (an entry a message).
            and entry.deliver_at > self.env._now + self.topic.service.settings.delayed_delivery_tick
        ):
            self._track_delayed(entry)
        else:
            self.ready += count  # Speed: `add_ready` inlined (per entry)
            if self.counted:
                self.recorder.ready_add(self.account.slot, count)
        if self.new_waits_for_available and (self.blocked or not self.available):
            # Speed: the shared dispatcher's `dispatch_new` would return at once (no consumer
            # can take it: the usual case under load), told without its call (an entry each).
            return
        self.dispatch_new()

    def dispatch_new(self) -> None:
        """Dispatch after a new entry (default: a full dispatch)."""
        self.dispatch()

    def _track_delayed(self, entry: Entry) -> None:
        # InMemoryDelayedDeliveryTracker.addMessage: a message due within one tick is delivered
        # at once (isDelayedDeliveryDeliverAtTimeStrict=false); others wait in the tracker.
        heapq.heappush(self.delayed, (entry.deliver_at, entry.index))
        self.delayed_set.add(entry.index)
        self._arm_delay_timer()

    def _arm_delay_timer(self) -> None:
        # AbstractDelayedDeliveryTracker.updateTimer: run at the next delivery time, but not
        # sooner than one tick after the last run.
        if self._delay_timer or not self.delayed:
            return
        now = self.env.now
        tick = self.topic.service.settings.delayed_delivery_tick
        delay = max(self.delayed[0][0] - now, self._last_tick + tick - now, 0.0)
        self._delay_timer = True
        self.env.timeout(delay).callbacks.append(self._delay_tick)

    def _delay_tick(self, _event: Any) -> None:
        self._delay_timer = False
        now = self.env.now
        self._last_tick = now
        cutoff = (
            now + self.topic.service.settings.delayed_delivery_tick
        )  # getCutoffTime, not strict
        released: list[int] = []
        while self.delayed and self.delayed[0][0] <= cutoff:
            _at, index = heapq.heappop(self.delayed)
            if index in self.delayed_set:
                self.delayed_set.discard(index)
                if not self.cursor.is_acked(index):
                    released.append(index)
        storage = self.topic.storage
        for index in released:
            entry = storage.get(index)
            if entry is None:
                continue
            self.add_ready(entry.count)
            if index < self.cursor.read_position:
                self._requeue([entry], count=False)
        self._arm_delay_timer()
        self.dispatch()

    def next_index(self) -> int | None:
        """The next entry to dispatch from the cursor (replays first), skipping delayed ones."""
        cursor, last = self.cursor, self.topic.storage.last_index
        delayed = self.delayed_set
        while True:
            index = cursor.next_entry(last)
            if index is None or index not in delayed:
                return index

    def _requeue(self, entries: Iterable[Entry], count: bool) -> None:
        """Entries to dispatch again; `count` raises their redelivery counts (a nack or an ack
        timeout: ``InMemoryRedeliveryTracker.incrementAndGetRedeliveryCount``), a consumer
        that left does not (``removeConsumer`` only adds them to the replay set)."""
        indexes = [e.index for e in entries]
        if count:
            self.cursor.redeliver(indexes)
        else:
            self.cursor.redeliver_uncounted(indexes)

    # ----- sending -----
    def send(self, handle: BrokerConsumer, entry: Entry) -> None:
        record = entry.record or entry  # Speed: `copy_of`'s usual case inlined
        msgs = record.msgs if record.taker == self.group else self.copy_of(entry)
        count = entry.count  # Speed: the copy's length, without a len() call (per delivery)
        delivery = Delivery(entry, msgs, self, handle)
        if self.individual_ack:
            # Speed: `cursor.redelivery_count` inlined for the usual cursor that tracks no
            # redelivery (an empty map: the count is 0, as the Delivery starts).
            if self.cursor._redelivery:
                delivery.redelivery_count = self.cursor.redelivery_count(entry.index)
            handle.unacked += count
            self.unacked += count
            if self.max_unacked_consumer and handle.unacked >= self.max_unacked_consumer:
                handle.blocked = True
            if self.max_unacked_subscription and self.unacked >= self.max_unacked_subscription:
                self.blocked = True
        handle.pending[entry.index] = delivery
        handle.permits -= count
        if handle.avail and (handle.permits <= 0 or handle.blocked):
            handle.avail = False
            self.available -= 1
        account, recorder = self.account, self.recorder
        account.in_flight += count
        self.ready -= count  # Speed: `add_ready` inlined (per delivery)
        if self.counted:
            # Speed: the recorder's `ready_add` inlined (a delivery a message), its maximum
            # test kept as it is.
            recorder.ready_values[account.slot] -= count
            total = recorder.ready_total - count
            recorder.ready_total = total
            if total > recorder.max_queue_depth:
                recorder.max_queue_depth = total
        if count == 1 and recorder.trace is None:
            # Speed: `delivered_message` inlined for one message untraced, in its usual case
            # (a first delivery of a copy that is not dead-lettered): a delivery a message.
            msg = msgs[0]
            deliveries = msg.deliveries = msg.deliveries + 1
            if deliveries > 1 or msg.state is _DEAD_LETTERED:
                recorder.delivered_message(msg, account.name)
            else:
                recorder.delivered += 1
        else:
            source = account.name
            for msg in msgs:
                msg.deliveries += 1
                recorder.delivered_message(msg, source)
        dispatch = self.dispatch_cost
        if dispatch is not None:  # the cost model: the owning broker's IO threads send it
            now = self.env.now
            at = self.topic.cluster.io_finish(self.topic, dispatch)
            if at > now:
                self.env.timeout(at - now).callbacks.append(
                    lambda _event: self._dispatched(handle, delivery)
                )
                return
        handle.send(delivery)

    def _dispatched(self, handle: BrokerConsumer, delivery: Delivery) -> None:
        """A delivery an IO thread has sent, unless it was taken back meanwhile."""
        if handle.sub is self and handle.pending.get(delivery.index) is delivery:
            handle.send(delivery)

    # ----- consumers -----
    def add_consumer(self, handle: BrokerConsumer) -> None:
        handle.sub = self
        self.handles.append(handle)
        self.consumers_changed(added=handle)
        self._number_handles()  # after the sort a dispatcher may make (consumers_changed)
        self.dispatch_later()  # its Flow comes next: a read serves them together

    def remove_consumer(self, handle: BrokerConsumer) -> None:
        """A consumer closed or its connection broke: its unacked entries go back."""
        if handle not in self.handles:
            return
        self.handles.remove(handle)
        handle.place = -1
        self._number_handles()
        if handle.avail:
            handle.avail = False
            self.available -= 1
        returned = list(handle.pending.values())
        handle.pending.clear()
        if self.individual_ack:
            self.unacked -= handle.unacked
            handle.unacked = 0
            self._maybe_unblock_subscription()
        for delivery in returned:
            self._return(delivery)
        handle.sub = None
        self.consumer_left(handle, [d.entry for d in returned if not self.cursor.is_acked(d.index)])
        self.dispatch()

    def _number_handles(self) -> None:
        """Each consumer's `place`: its index in `handles`, set again after every change of
        the list (a consumer added, removed, the list sorted; `unload` clears it, and its
        consumers leave with their `sub`)."""
        for place, handle in enumerate(self.handles):
            handle.place = place

    def flow(self, handle: BrokerConsumer, permits: int) -> None:
        """A Flow command (``Consumer.flowPermits``)."""
        if handle.sub is not self:
            return
        if (
            self.individual_ack
            and self.max_unacked_consumer
            and handle.unacked >= self.max_unacked_consumer
        ):
            handle.blocked = True
        if handle.blocked:
            handle.blocked_permits += permits
            self.refresh(handle)
            return
        handle.permits += permits
        # Speed: `refresh` inlined (a zero-queue consumer sends a Flow a message).
        now = handle.permits > 0 and not handle.blocked
        if now is not handle.avail:
            handle.avail = now
            self.available += 1 if now else -1
        if self.read_now and not self._read_scheduled:
            # Speed: read_at_once's Flow: every dispatcher's `dispatch_for` comes to a
            # dispatch now then (at once, or through `dispatch_later`, which reads at once
            # under `read_now`), made here without that call (a Flow a message).
            self.dispatch()
            return
        self.dispatch_for(handle)

    def dispatch_for(self, handle: BrokerConsumer) -> None:
        """Dispatch after `handle` got permits (default: a full dispatch)."""
        self.dispatch()

    # ----- acknowledgements -----
    def _owner(self, handle: BrokerConsumer | None, index: int) -> Delivery | None:
        """``Consumer.getAckOwnerConsumer``: the pending ack, on this consumer or another."""
        if handle is not None:
            delivery = handle.pending.pop(index, None)
            if delivery is not None:
                return delivery
        for other in self.handles:
            if other is not handle:
                delivery = other.pending.pop(index, None)
                if delivery is not None:
                    return delivery
        return None

    def ack(self, handle: BrokerConsumer | None, index: int) -> None:
        """An individual ack (``Consumer.individualAckNormal`` -> ``cursor.asyncDelete``)."""
        # Speed: the acking consumer's own pending ack, the usual owner, looked up here.
        delivery = None if handle is None else handle.pending.pop(index, None)
        if delivery is None:
            delivery = self._owner(handle, index)
        if delivery is not None:
            if self.plain_removal:
                # Speed: `_pending_removed` inlined up to what unblocks (an ack a message).
                owner = delivery.handle
                count = delivery.entry.count  # (the copy's length, without a len() call)
                owner.unacked -= count
                self.unacked -= count
                if (
                    owner.blocked and owner.unacked <= self.max_unacked_consumer // 2
                ) or self.blocked:
                    self._unblock_after_removal(owner)
            else:
                self._pending_removed(delivery)
        cursor = self.cursor
        before = cursor.mark_delete
        if index == before + 1 and not cursor._acked and not cursor._redelivery:
            # Speed: `cursor.ack`'s in-order case inlined (an ack a message): mark-delete
            # moves by one, the read position with it, the entry leaves the replay set.
            cursor.mark_delete = index
            if cursor.read_position <= index:
                cursor.read_position = index + 1
            replay = cursor._replay
            if replay is not _NO_REPLAY and replay:
                replay.discard(index)
        elif (
            index > before
            and cursor._acked is not _NO_RANGES
            and not cursor._redelivery
            and cursor._replay is _NO_REPLAY
            and Subscription.fused_ack
        ):
            # Speed: `cursor.ack`'s out-of-order case inlined, with no redelivery count or
            # replay to forget the entry from and the cursor's own range map (with competing
            # consumers acks come out of order: every ack). Its steps as they are there (see
            # `Cursor.ack`): a range of its own above every range, else the one bisect that
            # tells whether the entry is acked and joins it to the ranges next to it.
            acked = cursor._acked
            starts = cursor._starts
            start = end = index
            bound = cursor._acked_end
            if index > bound + 1:
                cursor._acked_end = index
                starts.append(index)
            else:
                i = bisect_right(starts, index)
                joined = False
                if i:
                    below_start = starts[i - 1]
                    below_end = acked[below_start]
                    if below_end >= index:
                        return  # already acked: `cursor.ack` answers False
                    if below_end == index - 1:
                        start = below_start
                        joined = True
                if index + 1 in acked:
                    end = acked.pop(index + 1)
                    if joined:
                        del starts[i]
                    else:
                        starts[i] = index
                else:
                    if not joined:
                        starts.insert(i, index)
                    if index > bound:
                        cursor._acked_end = index
            acked[start] = end
            cursor._acked_above += 1
            if start == before + 1:
                cursor._absorb_first_range()
        elif not cursor.ack(index):
            return
        storage = self.topic.storage
        offset = index - storage.first  # Speed: `storage.get` inlined (an ack a message)
        entries = storage.entries
        if 0 <= offset < len(entries):
            entry = entries[offset]
            if entry.__class__ is not Entry:
                entry = storage.unsettle(offset)  # a settled entry: its Entry back (`get`)
            if delivery is None:
                self._acked_entry(entry, delivery)
            else:
                # Speed: `_acked_entry` inlined for an entry that was delivered (an ack a
                # message): the group's copy is there, its messages end acked.
                self.backlog_messages -= entry.count
                record = entry.record or entry  # (`copy_in`'s usual case inlined)
                group = self.group
                msgs = record.msgs if record.taker == group else entry.copy_in(group)
                if msgs is not None:
                    recorder = self.recorder
                    if recorder.trace is None:
                        # Speed: `acked_message` untraced inlined (an ack a message): the
                        # copy has the entry's count of messages.
                        recorder.acked += entry.count
                    else:
                        source = self.account.name
                        for msg in msgs:
                            recorder.acked_message(msg, source)
            if index < storage.scanned_end:
                # Memory and speed: an entry of a scanned block, given back for its read,
                # settles again now that it is acked (`TopicStorage.settle_again`).
                storage.settle_again(offset)
        if cursor.mark_delete != before:
            self._persist_due = True  # Speed: `mark_delete_moved` inlined
            topic = self.topic
            # Speed: the topic's `mark_delete_moved` does nothing with one ledger and no
            # replicated subscription (what it tests first): no call then (an ack a message).
            if self.replicated or len(topic.storage.ledger.ledgers) > 1:
                topic.mark_delete_moved(self)

    def ack_cumulative(self, handle: BrokerConsumer | None, index: int) -> None:
        """A cumulative ack (``cursor.asyncMarkDelete``): everything up to `index`."""
        cursor = self.cursor
        before = cursor.mark_delete
        if index <= before:
            return
        storage = self.topic.storage
        pending_of = [h.pending for h in self.handles]
        for i in range(max(before + 1, storage.first), index + 1):
            if cursor.is_acked(i):
                continue
            delivery = None
            for pending in pending_of:
                delivery = pending.pop(i, None)
                if delivery is not None:
                    self._pending_removed(delivery)
                    break
            entry = storage.get(i)
            if entry is not None:
                self._acked_entry(entry, delivery)
        cursor.ack_cumulative(index)
        self.mark_delete_moved()

    def _acked_entry(self, entry: Entry, delivery: Delivery | None) -> None:
        index = entry.index
        self.backlog_messages -= entry.count
        if delivery is None:
            if index in self.delayed_set:
                self.delayed_set.discard(index)
            else:
                self.add_ready(-entry.count)  # acked before it was delivered: no longer ready
        msgs = entry.copy_in(self.group)
        if msgs is not None:
            recorder, source = self.recorder, self.account.name
            for msg in msgs:
                recorder.acked_message(msg, source)

    def _pending_removed(self, delivery: Delivery) -> None:
        """A pending ack left a consumer (acked, or sent back): unblock what it held back."""
        if not self.individual_ack:
            return
        handle = delivery.handle
        count = len(delivery.msgs)
        handle.unacked -= count
        self.unacked -= count
        if (handle.blocked and handle.unacked <= self.max_unacked_consumer // 2) or self.blocked:
            self._unblock_after_removal(handle)

    def _unblock_after_removal(self, handle: BrokerConsumer) -> None:
        """What `_pending_removed` does once the unacked counts are down: unblock the
        consumer (at half its limit) and the subscription, if they were blocked."""
        if handle.blocked and handle.unacked <= self.max_unacked_consumer // 2:
            # Consumer.removePendingAcks -> flowConsumerBlockedPermits
            handle.blocked = False
            handle.permits += handle.blocked_permits
            handle.blocked_permits = 0
            self.refresh(handle)
            self.dispatch_later()
        if self.blocked:  # Speed: `_maybe_unblock_subscription`'s test first (per ack)
            self._maybe_unblock_subscription()

    def _maybe_unblock_subscription(self) -> None:
        if self.blocked and self.unacked < self.max_unacked_subscription // 2:
            self.blocked = False
            self.dispatch_later()

    def mark_delete_moved(self) -> None:
        self._persist_due = True
        self.topic.mark_delete_moved(self)

    # ----- redelivery -----
    def redeliver(self, handle: BrokerConsumer, indexes: Iterable[int]) -> None:
        """``redeliverUnacknowledgedMessages(consumer, positions)``: a nack or an ack timeout."""
        entries = []
        for index in indexes:
            delivery = handle.pending.pop(index, None)
            if delivery is None or self.cursor.is_acked(index):
                continue
            self._pending_removed(delivery)
            self._return(delivery)
            entries.append(delivery.entry)
        if entries:
            self.redelivered(handle, entries)
        self.dispatch()

    def redeliver_all(self, handle: BrokerConsumer) -> None:
        """``redeliverUnacknowledgedMessages(consumer)``: every entry pending on the consumer."""
        self.redeliver(handle, list(handle.pending))

    # ----- hooks for the dispatchers -----
    def consumers_changed(self, added: BrokerConsumer | None = None) -> None:
        """The consumer set changed (a consumer was added)."""

    def consumer_left(self, handle: BrokerConsumer, entries: list[Entry]) -> None:
        """`handle` left; `entries` were pending on it and are not acked."""
        self._requeue(entries, count=False)

    def redelivered(self, handle: BrokerConsumer, entries: list[Entry]) -> None:
        """Entries a consumer asked to redeliver (counted)."""
        self._requeue(entries, count=True)

    def dispatch(self) -> None:
        raise NotImplementedError

    def dispatch_later(self) -> None:
        """Dispatch at the end of the current instant (after the caller's bookkeeping, and
        after every other Flow of this instant): one read for all of them, as the
        dispatcher's asynchronous ``readMoreEntries`` serves the permits that arrived while
        it was reading."""
        if self._read_scheduled:
            return
        if self.read_now:
            # Speed: the consumer's own Flow, made where the read it schedules would be the
            # next event anyway (ClientConsumer.read_at_once): the read is made now.
            self.dispatch()
            return
        self._read_scheduled = True
        # Speed: a bound method, not a closure made per Flow (a zero-queue consumer sends
        # one Flow a message).
        self.env.timeout(0).callbacks.append(self._read)

    def _read(self, _event: Any) -> None:
        self._read_scheduled = False
        self.dispatch()

    # ----- storage-side moves of the mark-delete position -----
    def state_of(self, index: int) -> str:
        """ "acked", "delayed", "out" (delivered, pending) or "ready"."""
        if self.cursor.is_acked(index):
            return "acked"
        if index in self.delayed_set:
            return "delayed"
        for handle in self.handles:
            if index in handle.pending:
                return "out"
        return "ready"

    def skip_through(self, index: int, reason: str) -> int:
        """Move mark-delete to `index` without consumers (message TTL: ``expired``; backlog
        eviction: ``dropped``); returns the messages skipped."""
        cursor = self.cursor
        if index <= cursor.mark_delete:
            return 0
        storage = self.topic.storage
        recorder, component = self.recorder, self.account.name
        # "replicated": a replicated subscription's snapshot moved it (the messages were
        # acked in the other cluster: nothing happens to them here).
        final = {"expired": recorder.expired, "dropped": recorder.dropped}.get(reason)
        skipped = 0
        for i in range(max(cursor.mark_delete + 1, storage.first), index + 1):
            state = self.state_of(i)
            if state == "acked":
                continue
            entry = storage.get(i)
            if entry is None:
                continue
            if state == "ready":
                self.add_ready(-entry.count)
            elif state == "delayed":
                self.delayed_set.discard(i)
            if final is not None:
                for msg in self.copy_of(entry):
                    final(msg, component)
            skipped += entry.count
        cursor.ack_cumulative(index)
        self.backlog_messages -= skipped
        self.entries_skipped()
        self.mark_delete_moved()
        return skipped

    def entries_skipped(self) -> None:
        """Entries below the mark-delete position were skipped (drop them from queues)."""

    def recount_ready(self) -> None:
        """Recompute the ready count from the cursor (after a cursor restore or reset)."""
        storage, cursor = self.topic.storage, self.cursor
        last = storage.last_index
        md = max(cursor.mark_delete, storage.first - 1)
        ready = storage.count_through(last) - storage.count_through(md)
        for start, end in cursor.individually_acked_ranges():
            ready -= storage.count_through(end) - storage.count_through(start - 1)
        self.backlog_messages = ready
        for index in self.delayed_set:
            entry = storage.get(index)
            if entry is not None:
                ready -= entry.count
        for handle in self.handles:
            for delivery in handle.pending.values():
                if not delivery.returned:
                    ready -= len(delivery.msgs)
        self.add_ready(ready - self.ready)

    # ----- the cursor's persistence, for a broker failover -----
    def persist(self) -> None:
        """``ManagedCursorImpl`` persists mark-delete and the acked ranges, at most
        ``managedLedgerDefaultMarkDeleteRateLimit`` times a second."""
        if self._persist_due:
            self._persist_due = False
            cursor = self.cursor
            self.persisted = (cursor.mark_delete, cursor.individually_acked_ranges())

    def unload(self) -> None:
        """The owning broker died: consumers are gone, in-memory state is lost, the cursor
        comes back from its last persisted state (acks after it are lost: redelivered)."""
        for handle in list(self.handles):
            for delivery in handle.pending.values():
                self._return(delivery)
            handle.pending.clear()
            handle.sub = None
        self.handles.clear()
        self.unacked = 0
        self.blocked = False
        md, ranges = self.persisted
        self.cursor = Cursor.restore(md, ranges)
        self.available = 0
        self.reset_dispatcher()
        self.recount_ready()

    def reset_dispatcher(self) -> None:
        """Forget dispatcher state (a new broker loads the topic)."""

    # ----- seek -----
    def reset_cursor(self, index: int) -> None:
        """``PersistentSubscription.resetCursor`` (a consumer's ``seek``): every consumer is
        disconnected (``disconnectAllConsumers``; they reconnect by themselves), then entry
        `index` becomes the next to read and every ack above it is forgotten
        (``ManagedCursorImpl.internalResetCursor``): a seek back replays what was acked. A
        seek forward skips what lies before `index` (those copies end `dropped`)."""
        for handle in list(self.handles):
            handle.client.disconnect("subscription reset")
        storage = self.topic.storage
        index = max(index, storage.first)
        index = min(index, storage.last_index + 1)
        if index - 1 > self.cursor.mark_delete:
            self.skip_through(index - 1, "dropped")
        for handle in list(self.handles):  # a consumer whose connection did not break
            self.remove_consumer(handle)
        self.cursor.reset(index)
        self.delayed_set = {i for i in self.delayed_set if i >= index}
        self.reset_dispatcher()
        self.recount_ready()
        self.mark_delete_moved()


class SingleActiveSubscription(Subscription):
    """Exclusive and failover (``PersistentDispatcherSingleActiveConsumer``).

    The active consumer reads the topic in order. Consumers are sorted by priority level, then
    name; on a partitioned topic partition i goes to consumer i mod N of the highest priority
    level, on a non-partitioned one the topic name's hash on a ring of the consumers picks it
    (``pickAndScheduleActiveConsumer``). When the active consumer changes, the cursor is rewound
    to its mark-delete position and reading resumes for the new one; on a failover subscription
    that waits ``activeConsumerFailoverDelayTimeMillis`` (``scheduleReadOnActiveConsumer``), so
    the old consumer can still ack what it has. Redelivery is always of everything unacked
    (the cursor rewinds: "We cannot redeliver single messages to single consumers to preserve
    ordering"), and the redelivery tracker is disabled (``RedeliveryTrackerDisabled``): the
    redelivery count stays 0, so a dead letter policy never fires here.
    """

    def __init__(self, *args: Any, kind: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.kind = kind
        self.active: BrokerConsumer | None = None
        self._switch_pending = False

    def consumers_changed(self, added: BrokerConsumer | None = None) -> None:
        self._pick_active()

    def consumer_left(self, handle: BrokerConsumer, entries: list[Entry]) -> None:
        if self.active is handle:
            self.active = None
        if self.handles:
            self._pick_active()
        else:
            self.cursor.rewind()

    def _pick_active(self) -> None:
        handles = self.handles
        if not handles:
            self.active = None
            return
        handles.sort(key=lambda h: (h.priority, h.name))
        self._number_handles()
        top = handles[0].priority
        size = sum(1 for h in handles if h.priority == top)
        partition = self.topic.partition_index
        if partition >= 0:
            index = partition % size
        else:
            index = failover_ring_index(self.topic.name, [h.name for h in handles[:size]])
        chosen = handles[index]
        if chosen is self.active:
            return
        self.active = chosen
        self._schedule_read()

    def _schedule_read(self) -> None:
        delay = self.topic.service.settings.active_consumer_failover_delay
        if self.kind != "failover" or delay <= 0:
            self._rewind()
            return
        if self._switch_pending:
            return
        self._switch_pending = True

        def resume(_event: Any) -> None:
            self._switch_pending = False
            self._rewind()
            self.dispatch()

        self.env.timeout(delay).callbacks.append(resume)

    def _rewind(self) -> None:
        """``cursor.rewind()``: every unacked entry is read again, for the active consumer."""
        for handle in self.handles:
            for delivery in handle.pending.values():
                self._return(delivery)
            handle.pending.clear()
        self.cursor.rewind()

    def redeliver(self, handle: BrokerConsumer, indexes: Iterable[int]) -> None:
        self.redeliver_all(handle)

    def redeliver_all(self, handle: BrokerConsumer) -> None:
        if handle is not self.active or self._switch_pending:
            return
        self._rewind()
        self.dispatch()

    def dispatch(self) -> None:
        active = self.active
        if active is None or self._switch_pending:
            return
        storage = self.topic.storage
        while active.permits > 0:
            index = self.next_index()
            if index is None:
                return
            entry = storage.get(index)
            if entry is not None:
                self.send(active, entry)

    def reset_dispatcher(self) -> None:
        self.active = None
        self._switch_pending = False


class SharedSubscription(Subscription):
    """Shared (``PersistentDispatcherMultipleConsumers``): round-robin in batches."""

    kind = "shared"
    individual_ack = True
    delays = True
    new_waits_for_available = True  # see dispatch_new
    plain_removal = True  # see Subscription.plain_removal
    # Whether `next_consumer` walks one priority level by its slices (see there); False
    # (tests only) keeps the general walk.
    one_level_walk = True
    # Whether `dispatch_new` sends a new entry to a consumer with room for one by itself
    # (see there); False (tests only) keeps the general dispatch.
    fused_send = True
    # Whether the one-level walk and the client's fused read take a picked consumer's index
    # in `handles` from its `place` (kept by `_number_handles` at every change of the list);
    # False (tests only) finds it by `handles.index`, a scan of the list.
    placed = True
    # Whether `dispatch_new` walks one priority level itself, not by `next_consumer`'s call
    # (see there); False (tests only) calls it.
    fused_pick = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.round_robin = 0  # currentConsumerRoundRobinIndex
        self.batch = self.topic.service.settings.round_robin_batch_size

    def consumers_changed(self, added: BrokerConsumer | None = None) -> None:
        # consumerList is kept sorted by priority level (max priority first), in join order.
        self.handles.sort(key=lambda h: h.priority)

    def _available(self, handle: BrokerConsumer) -> bool:
        return handle.permits > 0 and not handle.blocked

    def dispatch_for(self, handle: BrokerConsumer) -> None:
        self.dispatch_later()

    def dispatch_new(self) -> None:
        # Speed: `dispatch`'s first test made here: a new entry while every consumer is busy
        # (the usual case under load) costs no call.
        if self.blocked or not self.available:
            return
        cursor = self.cursor
        recorder = self.recorder
        if (
            not SharedSubscription.fused_send
            or self.delayed_set
            or cursor._replay is not _NO_REPLAY
            or self.dispatch_cost is not None
            or recorder.trace is not None
        ):
            self.dispatch()
            return
        # Speed: `dispatch` for a new entry that is the only one to read, one message of the
        # group's own copy, sent to a consumer with room for one (a zero-queue consumer's one
        # permit): the pick, the read and the send in one call, without the dispatch's loop,
        # `send`'s call and tests, or Delivery's `__init__` (with competing consumers, every
        # entry that finds a consumer idle). Anything else is the general dispatch's.
        position = cursor.read_position
        if position <= cursor.mark_delete:
            position = cursor.mark_delete + 1
        storage = self.topic.storage
        if position != storage.ledger.next_entry - 1 or (
            cursor._acked and position <= cursor._acked_end
        ):
            self.dispatch()
            return
        offset = position - storage.first
        entries = storage.entries
        if not 0 <= offset < len(entries):
            self.dispatch()
            return
        # (The newest entry: never settled, as settling keeps a block behind the end; see
        # TopicStorage._settle.)
        entry = entries[offset]
        record = entry.record or entry
        if entry.count != 1 or record.taker != self.group:
            self.dispatch()
            return
        picked = self.round_robin
        handles = self.handles
        if (
            handles[0] is not handles[-1]  # (several: `available` > 0 holds a consumer)
            and handles[0].priority == handles[-1].priority
            and SharedSubscription.fused_pick
            and SharedSubscription.one_level_walk
            and SharedSubscription.placed
        ):
            # Speed: `next_consumer`'s one-level walk made here (with competing consumers,
            # every entry that finds a consumer idle): the first available at or after the
            # round-robin index, wrapping round. An index past the end leaves the first slice
            # empty and the second the whole list, the walk from 0 `next_consumer` makes.
            for handle in handles[picked:]:
                if handle.avail:
                    break
            else:
                for handle in handles[:picked]:
                    if handle.avail:
                        break
                else:
                    return
            self.round_robin = handle.place + 1
        else:
            # `dispatch` with one consumer makes `next_consumer`'s one-consumer case inline:
            # the same test and index.
            handle = self.next_consumer()
            if handle is None:
                return
        # The room `dispatch` gives the pick (see there): one, or the general dispatch, from
        # the same state (the pick is a function of it: the round-robin index put back, it
        # picks the same consumer again).
        limit = self.max_unacked_consumer
        if handle.permits != 1 or (limit and limit - handle.unacked < 1) or self.batch < 1:
            room = handle.permits
            if limit:
                free = limit - handle.unacked
                if free < room:
                    room = free if free > 0 else 0
            if room > self.batch:
                room = self.batch
            if room != 1 and room >= 1:
                self.round_robin = picked
                self.dispatch()
                return
        cursor.read_position = position + 1
        # `send`, for one message of the group's own copy on the ideal broker, untraced; the
        # Delivery made by setting its slots, as `Delivery(entry, msgs, self, handle)` does.
        msgs = record.msgs
        delivery = _new(Delivery)
        delivery.released = False
        delivery.entry = entry
        delivery.msgs = msgs
        delivery.sub = self
        delivery.handle = handle
        delivery.index = index = entry.index
        delivery.done = 0
        delivery.acked = 0
        delivery.returned = False
        delivery.redelivery_count = cursor.redelivery_count(index) if cursor._redelivery else 0
        handle.unacked += 1
        self.unacked += 1
        if limit and handle.unacked >= limit:
            handle.blocked = True
        if self.max_unacked_subscription and self.unacked >= self.max_unacked_subscription:
            self.blocked = True
        handle.pending[index] = delivery
        handle.permits -= 1
        if handle.avail and (handle.permits <= 0 or handle.blocked):
            handle.avail = False
            self.available -= 1
        account = self.account
        account.in_flight += 1
        self.ready -= 1
        if self.counted:
            recorder.ready_values[account.slot] -= 1
            total = recorder.ready_total - 1
            recorder.ready_total = total
            if total > recorder.max_queue_depth:
                recorder.max_queue_depth = total
        msg = msgs[0]
        deliveries = msg.deliveries = msg.deliveries + 1
        if deliveries > 1 or msg.state is _DEAD_LETTERED:
            recorder.delivered_message(msg, account.name)
        else:
            recorder.delivered += 1
        delivery.epoch = 0
        handle.send(delivery)
        # What `dispatch` does next: its room used, it ends if blocked or no consumer is
        # available; else it goes round again (a dispatch of its own, from the same state),
        # where with several consumers it first tells that nothing is left to read.
        if self.blocked or not self.available:
            return
        handles = self.handles
        # Speed: several consumers told by the first and the last (`available` > 0: some
        # consumer is there), no len() call (with competing consumers, every new entry sent).
        if handles[0] is not handles[-1] and not self.delayed_set and cursor._replay is _NO_REPLAY:
            position = cursor.read_position
            if position <= cursor.mark_delete:
                position = cursor.mark_delete + 1
            if position > storage.ledger.next_entry - 1 and (
                not cursor._acked or position > cursor._acked_end
            ):
                cursor.read_position = position
                return
        self.dispatch()

    def next_consumer(self) -> BrokerConsumer | None:
        """``getNextConsumer``: the highest priority level with an available consumer, and in
        it the first available at or after the round-robin index (wrapping round)."""
        handles = self.handles
        count = len(handles)
        if not count or not self.available:
            return None
        if count == 1:
            # Speed: one consumer, what the walk below comes to (per dispatch).
            handle = handles[0]
            if handle.permits > 0 and not handle.blocked:
                self.round_robin = 1
                return handle
            return None
        start = self.round_robin if self.round_robin < count else 0
        if handles[0].priority == handles[-1].priority and SharedSubscription.one_level_walk:
            # Speed: one priority level (the consumers are sorted by it, so the first and the
            # last tell), where the walk below comes to the first available consumer at or
            # after the index, wrapping round: a loop over the list's two slices with the
            # availability test alone, its place then found by `index` (C-level). With 50
            # competing consumers, a pick from an entry that finds some idle walks about 10.
            # The test is the consumer's `avail` flag, kept as `permits > 0 and not blocked`
            # wherever either changes (`refresh` and its inlined copies; checked at every
            # pick by tests/test_pulsar_shared_reads.py): one attribute a step, not two and
            # a comparison. The picked consumer's index is its `place` (no `index` call, a
            # pick each; see `placed`).
            placed = SharedSubscription.placed
            for handle in handles[start:]:
                if handle.avail:
                    self.round_robin = (
                        handle.place if placed else handles.index(handle, start)
                    ) + 1
                    return handle
            for handle in handles[:start]:
                if handle.avail:
                    self.round_robin = (handle.place if placed else handles.index(handle)) + 1
                    return handle
            return None
        best: int | None = None
        for offset in range(count):
            i = (start + offset) % count
            handle = handles[i]
            available = handle.permits > 0 and not handle.blocked
            if available and (best is None or handle.priority < handles[best].priority):
                best = i
                if handle.priority == handles[0].priority:
                    break
        if best is None:
            return None
        self.round_robin = best + 1
        return handles[best]

    def dispatch(self) -> None:
        if self.blocked or not self.available:
            # Speed: no consumer can take anything (what next_consumer would find): every new
            # entry while the consumers are busy asks.
            return
        storage = self.topic.storage
        batch = self.batch
        limit = self.max_unacked_consumer
        while not self.blocked:
            round_robin = self.round_robin
            handles = self.handles
            if len(handles) == 1:
                # Speed: `next_consumer`'s one-consumer case inlined (a dispatch a message):
                # `available` holds here (tested above, and at the end of every round).
                handle = handles[0]
                if handle.permits <= 0 or handle.blocked:
                    return
                self.round_robin = 1
            else:
                cursor = self.cursor
                if not self.delayed_set and cursor._replay is _NO_REPLAY:
                    # Speed: nothing to read (the read is past the last entry and every
                    # acked range): the pick would find a consumer, read nothing and put the
                    # round-robin index back, so the walk over the consumers is not made
                    # (with competing consumers, the round after every send, and every Flow
                    # of an idle consumer). What `next_entry` leaves is left: the read
                    # position at least past mark-delete.
                    position = cursor.read_position
                    if position <= cursor.mark_delete:
                        position = cursor.mark_delete + 1
                    if position > storage.ledger.next_entry - 1 and (
                        not cursor._acked or position > cursor._acked_end
                    ):
                        cursor.read_position = position
                        return
                handle = self.next_consumer()
                if handle is None:
                    return
            # Speed: max(1, min(permits, max(limit - unacked, 0), batch)) by comparisons,
            # not four builtin calls (a dispatch a message); anything below 1 becomes 1.
            room = handle.permits
            if limit:
                free = limit - handle.unacked
                if free < room:
                    room = free if free > 0 else 0
            if room > batch:
                room = batch
            if room < 1:
                room = 1
            sent = 0
            while sent < room and handle.permits > 0 and not handle.blocked:
                cursor = self.cursor
                # Speed: `next_index` inlined while nothing is delayed (its loop then ends at
                # once), and `storage.get` too (per dispatch).
                if self.delayed_set:
                    index = self.next_index()
                elif cursor._replay is _NO_REPLAY:
                    # Speed: `cursor.next_entry` inlined when nothing waits for redelivery and
                    # the read is past every acked range (see `Cursor._acked_end`), with
                    # `ledger.last_entry` (a read a message); else it is asked.
                    position = cursor.read_position
                    if position <= cursor.mark_delete:
                        position = cursor.mark_delete + 1
                    last = storage.ledger.next_entry - 1
                    if cursor._acked and position <= cursor._acked_end:
                        index = cursor.next_entry(last)
                    elif position > last:
                        cursor.read_position = position
                        index = None
                    else:
                        cursor.read_position = position + 1
                        index = position
                else:
                    # Speed: `ledger.last_entry` inlined (the property's one line).
                    index = cursor.next_entry(storage.ledger.next_entry - 1)
                if index is None:
                    if not sent:
                        # trySendMessagesToConsumers calls getNextConsumer only with entries
                        # read: a pick that found nothing to send does not move the index.
                        self.round_robin = round_robin
                    return
                offset = index - storage.first
                entries = storage.entries
                if not 0 <= offset < len(entries):
                    continue
                entry = entries[offset]
                if entry.__class__ is not Entry:
                    entry = storage.unsettle(offset)  # a settled entry: its Entry back (`get`)
                self.send(handle, entry)
                sent += entry.count
                if self.blocked:
                    return
            if not self.available:
                # Speed: what `next_consumer` would find first (no consumer has permits):
                # the dispatch ends without the call (every dispatch, once its consumer's
                # permits are used up).
                return


class KeySharedSubscription(Subscription):
    """Key_Shared (``PersistentStickyKeyDispatcherMultipleConsumers``, PIP-379 in Pulsar 4.0).

    The selector maps an entry's sticky key hash to a consumer. An entry waits (in its owner's
    queue, in entry order, or blocked with its hash) when the owner has no permits or the hash
    is *draining*: when a consumer joins or leaves, every hash that moves away from a consumer
    still holding unacked messages of it is blocked for everyone else until that consumer has
    acked them all (``DrainingHashesTracker``; ``registerDrainingHashes`` on the impacted
    consumers' pending acks). If the hash comes back to the consumer draining it, the block
    goes (``shouldBlockStickyKeyHash``). With ``allowOutOfOrderDelivery`` there is no draining.
    While the entries held back reach ``min(keySharedLookAheadMsgInReplayThresholdPerConsumer *
    consumers, ...PerSubscription)`` the dispatcher reads no further (``isReplayQueueSizeBelow
    Limit``), so one stuck hash can stall every consumer.
    """

    kind = "key_shared"
    individual_ack = True
    delays = True

    def __init__(
        self, *args: Any, mode: str, allow_out_of_order: bool, points: int, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.mode = mode
        self.selector: HashRangeAutoSplitSelector | ConsistentHashingSelector = (
            HashRangeAutoSplitSelector()
            if mode == AUTO_SPLIT
            else ConsistentHashingSelector(points)
        )
        self.allow_out_of_order = allow_out_of_order
        self.by_name: dict[str, BrokerConsumer] = {}
        self.queued: dict[BrokerConsumer, list[tuple[int, Entry]]] = {}  # owner -> heap
        self.blocked_hashes: dict[int, list[tuple[int, Entry]]] = {}  # draining hash -> heap
        self.blocked_count = 0  # messages in blocked_hashes
        self.unowned: list[tuple[int, Entry]] = []  # held while no consumer is connected
        self.draining: dict[int, list[Any]] = {}  # hash -> [consumer draining it, refcount]
        self.held = 0  # entries waiting in queued/blocked/unowned (the replay queue's size)
        settings = self.topic.service.settings
        self.lookahead_per_consumer = settings.lookahead_per_consumer
        self.lookahead_per_subscription = settings.lookahead_per_subscription
        # Observers (hash-range charts, the stall): told of every assignment change.
        self.on_assignment: Callable[[KeySharedSubscription], None] | None = None

    # ----- hashes -----
    def sticky_hash(self, entry: Entry) -> int:
        """``getStickyKeyHash``, cached on the entry per selector kind."""
        if self.mode == AUTO_SPLIT:
            value = entry.hash_as
            if not value:
                value = entry.hash_as = self.selector.make_sticky_key_hash(_sticky_key(entry))
            return value
        value = entry.hash_ch
        if not value:
            value = entry.hash_ch = self.selector.make_sticky_key_hash(_sticky_key(entry))
        return value

    def lookahead_limit(self) -> int:
        """``getEffectiveLookAheadLimit``."""
        per_consumer, per_sub = self.lookahead_per_consumer, self.lookahead_per_subscription
        if per_consumer <= 0:
            limit = per_sub
        else:
            limit = per_consumer * len(self.handles)
            if 0 < per_sub < limit:
                limit = per_sub
        if limit <= 0:
            sub_limit = self.max_unacked_subscription or 2**31 - 1
            by_consumers = len(self.handles) * self.max_unacked_consumer or 2**31 - 1
            limit = min(sub_limit, by_consumers)
        return limit

    # ----- membership -----
    def consumers_changed(self, added: BrokerConsumer | None = None) -> None:
        assert added is not None
        if added.name in self.by_name:
            raise ValueError(f"consumer name {added.name!r} is already in the subscription")
        before = self.selector.assignments()
        self.selector.add_consumer(added.name)
        self.by_name[added.name] = added
        self.queued[added] = []
        self._membership_changed(before, skip=added)

    def consumer_left(self, handle: BrokerConsumer, entries: list[Entry]) -> None:
        before = self.selector.assignments()
        self.selector.remove_consumer(handle.name)
        self.by_name.pop(handle.name, None)
        waiting = self.queued.pop(handle, [])
        # Its draining entries go: a closing consumer's pending acks no longer block.
        for hash_, (owner, _count) in list(self.draining.items()):
            if owner is handle:
                del self.draining[hash_]
                self._unblock(hash_)
        self.held -= len(waiting)
        self._membership_changed(before, skip=handle)
        for _index, entry in waiting:
            self._hold_or_send(entry, send=False)
        for entry in entries:
            self._hold_or_send(entry, send=False)
        if not self.handles:
            self.draining.clear()

    def _membership_changed(self, before: list[Any], skip: BrokerConsumer) -> None:
        """Register draining hashes for the consumers that lost ranges, and route again what
        waits for an owner that changed."""
        after = self.selector.assignments()
        if not self.allow_out_of_order:
            for name, ranges in removed_hash_ranges(before, after).items():
                handle = self.by_name.get(name)
                if handle is None or handle is skip:
                    continue
                starts = [r[0] for r in ranges]
                for delivery in handle.pending.values():
                    h = self.sticky_hash(delivery.entry)
                    i = bisect_right(starts, h) - 1
                    if i >= 0 and ranges[i][0] <= h <= ranges[i][1]:
                        self._add_draining(h, handle)
        # What waited for its owner may belong to someone else now: route it again.
        waiting: list[tuple[int, Entry]] = []
        for owner, heap in self.queued.items():
            keep = []
            for item in heap:
                name = self.selector.select(self.sticky_hash(item[1]))
                if name == owner.name:
                    keep.append(item)
                else:
                    waiting.append(item)
            if len(keep) != len(heap):
                heapq.heapify(keep)
                self.queued[owner] = keep
        waiting.extend(self.unowned)
        self.unowned = []
        self.held -= len(waiting)
        waiting.sort(key=lambda item: item[0])
        for _index, entry in waiting:
            self._hold_or_send(entry, send=False)
        if self.on_assignment is not None:
            self.on_assignment(self)

    def _add_draining(self, hash_: int, handle: BrokerConsumer) -> None:
        current = self.draining.get(hash_)
        if current is None:
            self.draining[hash_] = [handle, 1]
        elif current[0] is handle:
            current[1] += 1

    def _pending_removed(self, delivery: Delivery) -> None:
        super()._pending_removed(delivery)
        if not self.draining:
            return
        h = self.sticky_hash(delivery.entry)
        current = self.draining.get(h)
        if current is not None and current[0] is delivery.handle:
            current[1] -= 1
            if current[1] <= 0:
                # reduceRefCount: the hash is unblocked; keySharedUnblockingIntervalMs (10 ms)
                # later the dispatcher tries again.
                del self.draining[h]
                self._unblock(h)

    def _unblock(self, hash_: int) -> None:
        heap = self.blocked_hashes.pop(hash_, None)
        if heap:
            self.held -= len(heap)
            self.blocked_count -= sum(entry.count for _i, entry in heap)
            for _index, entry in sorted(heap, key=lambda item: item[0]):
                self._hold_or_send(entry, send=False)
            self.env.timeout(0.01).callbacks.append(lambda _e: self.dispatch())

    # ----- routing -----
    def _hold_or_send(self, entry: Entry, send: bool = True) -> None:
        """Route `entry` to its owner now, or hold it (owner busy, hash draining, no owner)."""
        if self.cursor.is_acked(entry.index):
            return
        h = self.sticky_hash(entry)
        name = self.selector.select(h)
        if name is None:
            heapq.heappush(self.unowned, (entry.index, entry))
            self.held += 1
            return
        owner = self.by_name[name]
        draining = self.draining.get(h)
        if draining is not None:
            if draining[0] is owner:
                del self.draining[h]  # the hash came back to the consumer draining it
            else:
                heap = self.blocked_hashes.setdefault(h, [])
                heapq.heappush(heap, (entry.index, entry))
                self.held += 1
                self.blocked_count += entry.count
                return
        heap = self.queued[owner]
        if send and not heap and owner.permits > 0 and not owner.blocked and not self.blocked:
            self.send(owner, entry)
            return
        heapq.heappush(heap, (entry.index, entry))
        self.held += 1

    def redelivered(self, handle: BrokerConsumer, entries: list[Entry]) -> None:
        self.cursor.redeliver([e.index for e in entries])
        # The cursor's replay set only keeps the redelivery counts here; the entries wait in
        # their owners' queues, in entry order.
        self.cursor.clear_replay([e.index for e in entries])
        for entry in sorted(entries, key=lambda e: e.index):
            self._hold_or_send(entry, send=False)

    def dispatch(self) -> None:
        if self.blocked:
            return
        # Owners' queues first (the replay read), oldest first.
        for owner, heap in self.queued.items():
            if heap and owner.avail:
                self._drain(owner, heap)
                if self.blocked:
                    return
        self.dispatch_new()

    def dispatch_for(self, handle: BrokerConsumer) -> None:
        self.dispatch_later()

    def dispatch_new(self) -> None:
        """Read new entries while some consumer has permits and the held-back ones stay under
        the look-ahead limit (``readMoreEntries``)."""
        if not self.handles or self.blocked:
            return
        storage = self.topic.storage
        limit = self.lookahead_limit()
        while self.available and self.held < limit and not self.blocked:
            index = self.next_index()
            if index is None:
                return
            entry = storage.get(index)
            if entry is not None:
                self._hold_or_send(entry)

    def _drain(self, owner: BrokerConsumer, heap: list[tuple[int, Entry]]) -> None:
        cursor = self.cursor
        while heap and owner.permits > 0 and not owner.blocked and not self.blocked:
            _index, entry = heapq.heappop(heap)
            self.held -= 1
            if cursor.is_acked(entry.index):
                continue
            self.send(owner, entry)

    def entries_skipped(self) -> None:
        is_acked = self.cursor.is_acked
        for owner, heap in list(self.queued.items()):
            keep = [item for item in heap if not is_acked(item[0])]
            self.held -= len(heap) - len(keep)
            heapq.heapify(keep)
            self.queued[owner] = keep
        for hash_, heap in list(self.blocked_hashes.items()):
            keep = [item for item in heap if not is_acked(item[0])]
            self.held -= len(heap) - len(keep)
            self.blocked_count -= sum(e.count for i, e in heap if is_acked(i))
            if keep:
                heapq.heapify(keep)
                self.blocked_hashes[hash_] = keep
            else:
                del self.blocked_hashes[hash_]

    def reset_dispatcher(self) -> None:
        for name in list(self.by_name):
            self.selector.remove_consumer(name)
        self.by_name.clear()
        self.queued.clear()
        self.blocked_hashes.clear()
        self.blocked_count = 0
        self.unowned = []
        self.draining.clear()
        self.held = 0

    def blocked_messages(self) -> int:
        """Messages held back because their hash is draining (the stall)."""
        return self.blocked_count


def _sticky_key(entry: Entry) -> bytes:
    """``Commands.peekStickyKey``: the key's UTF-8 bytes, else ``NONE_KEY``."""
    key = entry.key
    if key is None:
        return NONE_KEY
    return key.encode("utf-8", errors="replace") if isinstance(key, str) else bytes(key)


def make_subscription(
    topic: PersistentTopic,
    name: str,
    kind: str,
    group: int,
    account: SourceAccount,
    start_after: int,
    key_shared_mode: str = "consistent_hashing",
    allow_out_of_order: bool = False,
) -> Subscription:
    """The subscription with the dispatcher of its type."""
    if kind in ("exclusive", "failover"):
        return SingleActiveSubscription(topic, name, group, account, start_after, kind=kind)
    if kind == "shared":
        return SharedSubscription(topic, name, group, account, start_after)
    if kind == "key_shared":
        return KeySharedSubscription(
            topic,
            name,
            group,
            account,
            start_after,
            mode=key_shared_mode,
            allow_out_of_order=allow_out_of_order,
            points=topic.service.settings.consistent_hashing_points,
        )
    raise ValueError(f"unknown subscription type {kind!r}")
