"""One SQS queue: visible, delayed and in-flight messages, visibility timeouts, retention,
redrive to a dead-letter queue, FIFO message groups and deduplication.

Semantics follow the Amazon SQS Developer Guide and API Reference:
- Standard queues are at-least-once with best-effort ordering. The model hands out visible
  messages oldest first (by send order), a message returning from a visibility timeout
  included: "FIFO-ish", which is one of the orders AWS may produce.
- A received message is invisible for VisibilityTimeout seconds (queue default, or the
  ReceiveMessage / ChangeMessageVisibility value), then visible again; every receive increments
  ApproximateReceiveCount and issues a new receipt handle. DeleteMessage needs the most recent
  handle: with an older one "the request succeeds, but the message might not be deleted" (API
  Reference, DeleteMessage); the model does not delete it.
- Redrive: when a receive would hand out a message whose receive count already reached
  maxReceiveCount, the message moves to the dead-letter queue instead (moved lazily, at the
  receive, as SQS does). Its receive count and, on a standard queue, its enqueue timestamp
  carry over ("the expiration of a message is always based on its original enqueue timestamp",
  Developer Guide, dead-letter queues); a FIFO DLQ restarts the retention clock.
- Retention: a message older than MessageRetentionPeriod is deleted, in flight or not.
- DelaySeconds: a new message stays invisible (delayed) that long.
- In-flight quota: at most `max_inflight` received and not yet deleted messages; a receive
  beyond it takes fewer or none (the API layer decides whether that is an OverLimit error).
- ReceiveRequestAttemptId (FIFO): a receive remembered under an attempt id can be retried for
  5 minutes and returns the same messages and receipt handles while none of them was deleted,
  made visible or had its visibility changed; the retry restarts their visibility timeouts
  (API Reference, ReceiveMessage, ReceiveRequestAttemptId).
- FIFO: messages of one MessageGroupId are delivered in strict order; a group with a message
  in flight is blocked. A receive "first attempts to return as many messages with the same
  message group ID as possible" (Developer Guide, FIFO delivery logic): groups are served in the
  order of their oldest message, each as far as its messages are visible. A send whose
  deduplication id (MessageDeduplicationId, or SHA-256 of the body with
  ContentBasedDeduplication) was seen in the last 5 minutes is accepted but not enqueued. With
  DeduplicationScope messageGroup (high throughput) a deduplication id counts within its
  message group only (API Reference, CreateQueue, DeduplicationScope).

Messages are passive data; one clock process per queue wakes at the next deadline (a heap
of timers), so no SimPy process exists per message.
"""

from __future__ import annotations

import heapq
import uuid
from collections import deque
from collections.abc import Callable, Generator
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

import simpy
from simpy.events import PENDING

from sim.message import Message
from sim.metrics import Recorder
from sim.timer import succeed_now

__all__ = [
    "DEDUP_INTERVAL",
    "MAX_INFLIGHT",
    "RECEIVE_ATTEMPT_INTERVAL",
    "Entry",
    "EntryState",
    "QueueSettings",
    "SQSQueue",
    "StaleReceiveAttempt",
]

DEDUP_INTERVAL = 300.0  # seconds: "the 5-minute deduplication interval" (Developer Guide)
# "You can use ReceiveRequestAttemptId only for 5 minutes after a ReceiveMessage action"
# (API Reference, ReceiveMessage).
RECEIVE_ATTEMPT_INTERVAL = 300.0
# Messages in flight per queue: "approximately 120,000" for standard queues (Developer Guide,
# https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/quotas-queues.html)
# and 120,000 for FIFO queues (.../quotas-fifo.html; it was 20,000 until AWS raised it, and
# the API Reference's ChangeMessageVisibility page now says 120,000 as well).
MAX_INFLIGHT = 120_000


class EntryState(IntEnum):
    DELAYED = 0
    VISIBLE = 1
    INFLIGHT = 2
    GONE = 3  # deleted, expired, moved to the DLQ or purged


# Speed: the states as plain names (the same members, so `is` holds): `EntryState.VISIBLE` is
# an attribute lookup on the enum class, several times the cost of a global name, and a
# message meets about ten of them.
_DELAYED, _VISIBLE, _INFLIGHT, _GONE = (
    EntryState.DELAYED,
    EntryState.VISIBLE,
    EntryState.INFLIGHT,
    EntryState.GONE,
)


@dataclass(frozen=True)
class QueueSettings:
    """A queue's attributes, in seconds (AWS defaults: Developer Guide, queue attributes)."""

    fifo: bool = False
    visibility_timeout: float = 30.0
    message_retention: float = 345600.0  # 4 days
    delay: float = 0.0
    receive_wait_time: float = 0.0
    content_based_deduplication: bool = False
    max_receive_count: int | None = None  # redrive policy, with `dead_letter_queue`
    dead_letter_queue: str | None = None
    max_inflight: int = MAX_INFLIGHT
    # High throughput for FIFO queues (API Reference, CreateQueue): "queue" or "messageGroup",
    # and "perQueue" or "perMessageGroupId" (the throughput quota; the API layer applies it).
    deduplication_scope: str = "queue"
    fifo_throughput_limit: str = "perQueue"


class StaleReceiveAttempt(Exception):
    """A ReceiveRequestAttemptId whose messages changed since: the receive is not retryable."""


class Entry:
    """A message stored in a queue: the simulated Message plus SQS's bookkeeping.

    This is what a standard queue stores for the model's producers (no body, group,
    deduplication id or sequence number); `FullEntry` has those.
    """

    # Memory: 12 slots, not 16 (32 bytes a held message): the fields only a FIFO queue or the
    # API sets are class-level values here, slots in FullEntry (never written on an Entry).
    __slots__ = (
        "first_receive_at",
        "message_number",
        "msg",
        "queue_name",
        "receipt",
        "receive_count",
        "received_at",
        "retain_from",
        "sent_at",
        "seq",
        "state",
        "version",
    )
    body: str = ""
    group: str | None = None
    dedup_id: str | None = None
    sequence_number: str | None = None

    def __init__(
        self, msg: Message, seq: int, message_number: int, sent_at: float, queue: str
    ) -> None:
        self.msg = msg
        self.seq = seq
        self.queue_name = queue
        # Speed: the MessageId and the receipt handle are strings only when asked (the API's
        # replies); the model keeps their numbers, so a message costs no UUID and a receive
        # no formatting.
        self.message_number = message_number
        self.sent_at = sent_at
        self.retain_from = sent_at
        self.first_receive_at: float | None = None
        self.received_at = 0.0  # the receive that made it in flight (the 12-hour cap counts)
        self.receive_count = 0
        self.receipt = 0  # the receive count at the latest receive: names its receipt handle
        self.state = _DELAYED
        self.version = 0  # bumped when its visibility timer changes: older timers are stale

    @property
    def message_id(self) -> str:
        """A UUID like AWS's MessageId, from the service's counter: the same in every run."""
        return message_id_of(self.message_number)

    @property
    def handle(self) -> str:
        """The latest receipt handle ("" before the first receive)."""
        if not self.receipt:
            return ""
        return f"{self.queue_name}#{self.seq}#{self.receipt}"


class FullEntry(Entry):
    """An Entry with a body, and a FIFO queue's group, deduplication id and sequence number."""

    __slots__ = ("body", "dedup_id", "group", "sequence_number")

    def __init__(
        self, msg: Message, seq: int, message_number: int, body: str, sent_at: float, queue: str
    ) -> None:
        super().__init__(msg, seq, message_number, sent_at, queue)
        self.body = body
        self.group: str | None = None
        self.dedup_id: str | None = None
        self.sequence_number: str | None = None


def message_id_of(number: int) -> str:
    """The MessageId of the service's `number`-th message."""
    return str(uuid.UUID(int=number, version=4))


class SQSQueue:
    """The state of one queue; the API layer (sim/brokers/sqs/service.py) validates requests."""

    # Whether a fresh message sent while a long poll waits is handed to it in one step
    # (`_hand_over`); False (tests only) keeps the general path.
    fused_handover = True

    def __init__(
        self,
        env: simpy.Environment,
        recorder: Recorder,
        name: str,
        settings: QueueSettings,
        resolve: Callable[[str], SQSQueue],
    ) -> None:
        self.env = env
        self.recorder = recorder
        self.name = name
        self.settings = settings
        self._resolve = resolve  # queue name -> queue (the dead-letter target)
        self.entries: dict[int, Entry] = {}  # live entries by arrival number
        self.visible_count = 0  # kept in step with the recorder's exact ready count
        self._ready_slot = recorder.source(name)
        self.inflight_count = 0
        self.delayed_count = 0
        self._seq = 0
        # Standard: the visible entries' arrival numbers, a heap (the entry is `entries[seq]`).
        # Memory: the number alone, not a (seq, entry) tuple: 56 bytes less a held message.
        self._visible: list[int] = []
        self._groups: dict[str, deque[Entry]] = {}  # FIFO: a group's undeleted entries, in order
        self._group_inflight: dict[str, int] = {}
        # Delay and visibility deadlines, (due, seq, version, entry), earliest first: the
        # smaller head of two sorted parts. Speed: deadlines mostly come in increasing order
        # (a receive's is now + the queue's visibility timeout), and those queue in a deque,
        # O(1) each, deleted messages' stale ones included; only one earlier than the last
        # queued goes to the heap. The smaller head of the two is always the smallest
        # deadline, so they come due in the order one heap of them gives (ties in due, seq
        # and version are the same entry's same timer).
        self._timer_run: deque[tuple[float, int, int, Entry]] = deque()
        self._timers: list[tuple[float, int, int, Entry]] = []  # the heap part
        # Retention: oldest first. A fresh message (below) is here as its sent time (the
        # clock's own value, the float its Message's produced_at and `_fresh_sent` hold
        # too when the send took no time: no object of its own), which stands for the
        # first of `_promoted` then of `_fresh` (`_pop_arrival`); its retention starts then.
        self._arrivals: deque[Entry | float] = deque()
        # Memory: a fresh message (sent by the model's producers to a standard queue, no
        # delay, its arrival number its MessageId number and its id, never received yet)
        # has no Entry: its Message and its sent time wait here, oldest first, 16 bytes
        # besides its place in `_arrivals` (two deque slots), not an Entry (128), a
        # slot of `entries` (about 30) and one of the visible heap (8). Such a message is
        # visible, receivable in arrival order only (the oldest visible first, as the heap
        # hands them out: a receive takes the smaller of the heap's head and the first
        # fresh one) and has no receipt handle yet, so nothing else reaches it until a
        # receive (or retention, a purge, or a made-up handle naming it) makes its Entry
        # (`_promote`), the one `enqueue_standard` would have made: the same fields, equal
        # numbers, and for those made before they are received, the same heap push.
        self._fresh: deque[Message] = deque()
        self._fresh_sent: deque[float] = deque()  # the clock's values themselves: equal types
        # Fresh messages made Entries, in arrival order, while their sent time still stands
        # for them in `_arrivals` (fresh messages are promoted oldest first, so this order
        # and `_fresh`'s follow on).
        self._promoted: deque[Entry] = deque()
        self._group_dedup = settings.deduplication_scope == "messageGroup"
        self._dedup: dict[tuple[str | None, str], float] = {}
        self._dedup_order: deque[tuple[float, tuple[str | None, str]]] = deque()
        # ReceiveRequestAttemptId -> (when, entries, their handles and timer versions, timeout)
        self._attempts: dict[str, tuple[float, list[Entry], list[str], list[int], float]] = {}
        self._attempt_order: deque[tuple[float, str]] = deque()
        self._waiters: deque[tuple[simpy.Event, int, float | None]] = deque()
        # The queue's clock, for what falls due by itself (delays ending, visibility timeouts,
        # retention, long polls giving up). Speed: no process and no condition event: one
        # timeout armed for the next deadline only when no earlier one is pending (`_arm`),
        # and deadlines that no longer count (the visibility timer of a message deleted since,
        # a long poll served since) are dropped from the heads of their heaps, never woken
        # for: a message costs no clock event at all when it is deleted in time.
        self._pending: list[float] = []  # when the armed timeouts ring (a heap)
        self._poll_deadlines: list[tuple[float, int, simpy.Event]] = []  # (due, n, ready)
        self._polls = 0

    # ----- sending -----
    def _dedup_key(self, dedup_id: str, group: str | None) -> tuple[str | None, str]:
        return (group if self._group_dedup else None, dedup_id)

    def is_duplicate(self, dedup_id: str, group: str | None = None) -> bool:
        """FIFO: was `dedup_id` accepted in the last 5 minutes? (in the queue, or in `group`
        with DeduplicationScope messageGroup)"""
        now = self.env.now
        while self._dedup_order and self._dedup_order[0][0] + DEDUP_INTERVAL <= now:
            _, old = self._dedup_order.popleft()
            if self._dedup.get(old, -1.0) + DEDUP_INTERVAL <= now:
                self._dedup.pop(old, None)
        seen = self._dedup.get(self._dedup_key(dedup_id, group))
        return seen is not None and seen + DEDUP_INTERVAL > now

    def enqueue(
        self,
        msg: Message,
        message_number: int,
        body: str,
        delay: float,
        group: str | None = None,
        dedup_id: str | None = None,
    ) -> Entry:
        """Store a new message (the caller has checked deduplication)."""
        now = self.env.now
        self.advance(now)
        self._seq += 1
        entry = FullEntry(msg, self._seq, message_number, body, now, self.name)
        entry.group, entry.dedup_id = group, dedup_id
        if self.settings.fifo:
            entry.sequence_number = self._sequence_number()
            if dedup_id is not None:
                key = self._dedup_key(dedup_id, group)
                self._dedup[key] = now
                self._dedup_order.append((now, key))
        self._store(entry, delay)
        return entry

    def enqueue_standard(self, msg: Message, message_number: int) -> None:
        """`enqueue(msg, message_number, "", settings.delay)` on a standard queue (what the
        model's producers send: no body, no group, no deduplication id). Speed: `enqueue`,
        `_store` and `_make_visible` in one call, and `advance` called only when a deadline
        is due (advance's own first tests, inlined): four calls fewer a message, the same
        steps in the same order."""
        now = self.env.now
        run, heap, arrivals = self._timer_run, self._timers, self._arrivals
        if (
            (run and run[0][0] <= now)
            or (heap and heap[0][0] <= now)
            or (
                arrivals
                # Speed: `_retained_from()` inlined (no call a message).
                and (first.retain_from if isinstance(first := arrivals[0], Entry) else first)
                + self.settings.message_retention
                <= now
            )
        ):
            self.advance(now)
        seq = self._seq + 1
        if seq == message_number:
            # Memory: the arrival number is the MessageId's number (one queue's sends): the
            # same int object, not a second one a held message (32 bytes). Equal ints, so
            # every comparison and key is the same.
            seq = message_number
            if seq == msg.id and self.settings.delay <= 0:
                self._seq = seq
                if self._waiters and SQSQueue.fused_handover and self._hand_over(msg, now):
                    return
                # A fresh message (see `_fresh`): no Entry until it is received. The same
                # steps as below for a visible Entry, but the heap push.
                self._fresh.append(msg)
                self._fresh_sent.append(now)
                arrivals.append(now)
                if self.recorder.trace is not None:  # speed: `enqueued` only traces
                    self.recorder.enqueued(msg, self.name)
                self.visible_count += 1
                self.recorder.ready_add(self._ready_slot, 1)
                if self._waiters:
                    self._serve_waiters()
                if len(arrivals) == 1:  # `_wake_clock_for_retention`
                    self._arm()
                return
        self._seq = seq
        entry = Entry(msg, seq, message_number, now, self.name)
        self.entries[seq] = entry
        arrivals.append(entry)
        if self.recorder.trace is not None:  # speed: `enqueued` only traces
            self.recorder.enqueued(msg, self.name)
        delay = self.settings.delay
        if delay > 0:
            entry.state = _DELAYED
            self.delayed_count += 1
            self._timer(now + delay, entry)
        else:  # `_make_visible` (standard queue)
            entry.state = _VISIBLE
            self.visible_count += 1
            self.recorder.ready_add(self._ready_slot, 1)
            heapq.heappush(self._visible, seq)
            if self._waiters:
                self._serve_waiters()
        if len(arrivals) == 1:  # `_wake_clock_for_retention`
            self._arm()

    def _hand_over(self, msg: Message, now: float) -> bool:
        """A fresh message sent while a long poll waits and nothing else is visible: what
        `enqueue_standard` then does (the message made visible, `_serve_waiters`, whose
        `receive` takes it for the first pending poll, then a receive for the next poll that
        finds nothing) in one step, or False (nothing done) where it is not that case.

        Speed: with 50 competing consumers about 0.6 messages in 1 find a consumer waiting;
        this skips two `receive` calls (one of them taking nothing), the fresh message's
        round trip through `_fresh` and the ready count's +1 then -1. The same Entry, the
        same fields, timer, Recorder calls and event, in the same order; `fused_handover`
        (tests only) turns it off."""
        waiters, settings = self._waiters, self.settings
        while waiters and waiters[0][0]._value is not PENDING:
            waiters.popleft()  # answered by its deadline: `_serve_waiters` skips it too
        if (
            not waiters
            or self._visible  # it may hold older visible messages (or stale numbers)
            or self._fresh
            or self.inflight_count >= settings.max_inflight
            or settings.max_receive_count is not None
        ):
            return False
        ready, _count, timeout = waiters.popleft()
        seq = msg.id
        self._arrivals.append(now)
        recorder = self.recorder
        if recorder.trace is not None:  # speed: `enqueued` only traces
            recorder.enqueued(msg, self.name)
        # The ready count's +1 (made visible) and -1 (received): nothing but its peak.
        peak = recorder.ready_total + 1
        if peak > recorder.max_queue_depth:
            recorder.max_queue_depth = peak
        # `receive`'s take of the fresh message and its step for a received message.
        entry = Entry(msg, seq, seq, now, self.name)
        self.entries[seq] = entry
        self._promoted.append(entry)
        self.inflight_count += 1
        entry.state = _INFLIGHT
        entry.receive_count = entry.receipt = 1
        entry.first_receive_at = entry.received_at = now
        msg.deliveries += 1
        if timeout is None:
            timeout = settings.visibility_timeout
        self._timer(now + timeout, entry)
        recorder.delivered_message(msg, self.name)
        succeed_now(ready, [entry])  # as `_serve_waiters` succeeds it
        # The next poll's receive would take nothing (the only visible message is taken).
        if len(self._arrivals) == 1:  # `_wake_clock_for_retention`
            self._arm()
        return True

    def _promote(self) -> Entry:
        """The first fresh message's Entry (visible, in `entries`), as `enqueue_standard`
        would have made it; the caller puts it where it goes (`_promoted`, the heap)."""
        msg = self._fresh.popleft()
        seq = msg.id
        entry = Entry(msg, seq, seq, self._fresh_sent.popleft(), self.name)
        entry.state = _VISIBLE
        self.entries[seq] = entry
        return entry

    def _promote_through(self, seq: int) -> None:
        """Make the Entries of the fresh messages up to arrival number `seq`, oldest first,
        visible in the heap as `enqueue_standard` would have left them: a handle can name
        one, a purge removes them all (rare; a receive promotes just the one it takes)."""
        fresh = self._fresh
        while fresh and fresh[0].id <= seq:
            entry = self._promote()
            self._promoted.append(entry)
            heapq.heappush(self._visible, entry.seq)

    def _retained_from(self) -> float:
        """The retention start of the first of `_arrivals` (a fresh message's sent time is
        its retain_from: `Entry` starts it there)."""
        head = self._arrivals[0]
        return head.retain_from if isinstance(head, Entry) else head

    def _pop_arrival(self) -> Entry:
        """Take the first of `_arrivals`: the Entry it stands for (a fresh one promoted)."""
        head = self._arrivals.popleft()
        if isinstance(head, Entry):
            return head
        if self._promoted:
            return self._promoted.popleft()
        return self._promote()

    def held(self) -> list[Entry]:
        """Every live message's Entry in arrival order, a fresh one's as it would be (made
        for the asking, not kept): for inspection."""
        live = sorted(self.entries.values(), key=lambda e: e.seq)
        for msg, sent_at in zip(self._fresh, self._fresh_sent, strict=True):
            entry = Entry(msg, msg.id, msg.id, sent_at, self.name)
            entry.state = _VISIBLE
            live.append(entry)
        return sorted(live, key=lambda e: e.seq)

    def next_sequence_number(self) -> str:
        """A number for a send that stores nothing (a deduplicated FIFO send)."""
        self._seq += 1
        return self._sequence_number()

    def _sequence_number(self) -> str:
        # Large, increasing, non-consecutive, like AWS's 128-bit SequenceNumber.
        return str(18_000_000_000_000_000_000 + self._seq * 1_000_003)

    def _store(self, entry: Entry, delay: float) -> None:
        self.entries[entry.seq] = entry
        self._arrivals.append(entry)
        if entry.group is not None:
            self._groups.setdefault(entry.group, deque()).append(entry)
        if self.recorder.trace is not None:  # speed: `enqueued` only traces
            self.recorder.enqueued(entry.msg, self.name)
        if delay > 0:
            entry.state = _DELAYED
            self.delayed_count += 1
            self._timer(self.env.now + delay, entry)
        else:
            self._make_visible(entry)
        if len(self._arrivals) == 1:  # speed: `_wake_clock_for_retention` inlined
            self._arm()

    def accept_dead_letter(self, moved: Entry) -> None:
        """A message moved here by another queue's redrive policy (same MessageId, receive
        count and first-receive time). It gets an entry of its own: the source queue keeps
        its old entry, now GONE, wherever it still refers to it (its message group, its
        retention order), so the source can neither move nor expire the message again."""
        self._seq += 1
        entry = FullEntry(
            moved.msg, self._seq, moved.message_number, moved.body, moved.sent_at, self.name
        )
        entry.group, entry.dedup_id = moved.group, moved.dedup_id
        entry.sequence_number = moved.sequence_number
        entry.receive_count, entry.first_receive_at = moved.receive_count, moved.first_receive_at
        # Standard: "the expiration of a message is always based on its original enqueue
        # timestamp"; a FIFO DLQ restarts the retention clock (Developer Guide, dead-letter
        # queues).
        entry.retain_from = self.env.now if self.settings.fifo else moved.retain_from
        self._store(entry, 0.0)

    # ----- receiving -----
    def receive(self, max_messages: int, visibility_timeout: float | None) -> list[Entry]:
        """Hand out up to `max_messages` visible messages at once (short polling), fewer if the
        in-flight quota is nearly reached."""
        now = self.env.now
        settings = self.settings
        run, heap, arrivals = self._timer_run, self._timers, self._arrivals
        # Speed: `advance` only when a deadline is due (its own first tests, inlined).
        if (
            (run and run[0][0] <= now)
            or (heap and heap[0][0] <= now)
            or (
                arrivals
                # Speed: `_retained_from()` inlined (no call a receive).
                and (first.retain_from if isinstance(first := arrivals[0], Entry) else first)
                + settings.message_retention
                <= now
            )
        ):
            self.advance(now)
        room = settings.max_inflight - self.inflight_count
        if room < max_messages:
            if room <= 0:
                return []
            max_messages = room
        if settings.fifo:
            taken = self._take_fifo(max_messages)
        elif max_messages == 1 and settings.max_receive_count is None:
            # Speed: `_take(1)` inlined where no redrive policy can apply (`_redrive` would
            # answer False): the first entry of the heap still visible.
            # A fresh message when it is older than the heap's head (see `_fresh`).
            taken = []
            visible, entries, fresh = self._visible, self.entries, self._fresh
            while True:
                if visible and (not fresh or visible[0] < fresh[0].id):
                    entry = entries.get(heapq.heappop(visible))
                    if entry is not None and entry.state is _VISIBLE:
                        taken.append(entry)
                        break
                elif fresh:
                    # Speed: `_promote()` inlined (once a message), the same steps but the
                    # state, which the loop below sets to in flight at once.
                    msg = fresh.popleft()
                    seq = msg.id
                    entry = Entry(msg, seq, seq, self._fresh_sent.popleft(), self.name)
                    entries[seq] = entry
                    self._promoted.append(entry)
                    taken.append(entry)
                    break
                else:
                    break
        else:
            taken = self._take(max_messages)
        timeout = (
            self.settings.visibility_timeout if visibility_timeout is None else visibility_timeout
        )
        recorder, slot, name = self.recorder, self._ready_slot, self.name
        run, heap = self._timer_run, self._timers
        for entry in taken:
            self.visible_count -= 1
            recorder.ready_add(slot, -1)
            self.inflight_count += 1
            entry.state = _INFLIGHT
            entry.receive_count += 1
            if entry.first_receive_at is None:
                entry.first_receive_at = now
            entry.received_at = now
            entry.receipt = entry.receive_count
            if entry.group is not None:
                self._group_inflight[entry.group] = self._group_inflight.get(entry.group, 0) + 1
            entry.msg.deliveries += 1
            # Speed: `_timer(now + timeout, entry)` inlined (once a receive of a message).
            timer = (now + timeout, entry.seq, entry.version, entry)
            # The earliest deadline before it (`_first_timer`, inlined):
            head = (
                run[0] if run and (not heap or run[0] <= heap[0]) else (heap[0] if heap else None)
            )
            if not run or timer >= run[-1]:
                run.append(timer)
            else:
                heapq.heappush(heap, timer)
            if head is None or timer[0] < head[0]:
                self._arm()
            recorder.delivered_message(entry.msg, name)
        return taken

    def retry_attempt(self, attempt_id: str) -> list[Entry] | None:
        """The messages of the receive remembered under `attempt_id` in the last 5 minutes,
        their visibility timeouts restarted, or None if there is none. Raises
        StaleReceiveAttempt if one of them was deleted, returned or had its visibility changed
        since ("It is possible to retry ... if none of the messages have been modified")."""
        self.advance()
        now = self.env.now
        order = self._attempt_order
        while order and order[0][0] + RECEIVE_ATTEMPT_INTERVAL <= now:
            at, old = order.popleft()
            if self._attempts.get(old, (None,))[0] == at:
                del self._attempts[old]
        remembered = self._attempts.get(attempt_id)
        if remembered is None:
            return None
        at, entries, handles, versions, timeout = remembered
        for entry, handle, version in zip(entries, handles, versions, strict=True):
            if entry.state is not _INFLIGHT or entry.handle != handle:
                raise StaleReceiveAttempt(attempt_id)
            if entry.version != version:
                raise StaleReceiveAttempt(attempt_id)
        for entry in entries:  # "If a retry occurs within the deduplication interval, it
            entry.version += 1  # resets the visibility timeout."
            self._timer(now + timeout, entry)
        self._attempts[attempt_id] = (at, entries, handles, [e.version for e in entries], timeout)
        return list(entries)

    def remember_attempt(
        self, attempt_id: str, taken: list[Entry], visibility_timeout: float | None
    ) -> None:
        """Keep what a receive with `attempt_id` returned, for its retries (nothing returned:
        nothing to keep, a retry receives afresh)."""
        if not taken:
            return
        now = self.env.now
        timeout = (
            self.settings.visibility_timeout if visibility_timeout is None else visibility_timeout
        )
        handles = [entry.handle for entry in taken]
        self._attempts[attempt_id] = (now, taken, handles, [e.version for e in taken], timeout)
        self._attempt_order.append((now, attempt_id))

    def wait_receive(
        self,
        max_messages: int,
        visibility_timeout: float | None,
        wait: float,
        receive_first: bool = True,
    ) -> Generator[Any, Any, list[Entry]]:
        """Long polling: return as soon as a message is available, or after `wait` seconds
        (the clock then answers with nothing: `_ring`). `receive_first=False`: the caller has
        just received nothing at this instant (a receive would take nothing again)."""
        taken = self.receive(max_messages, visibility_timeout) if receive_first else []
        if taken or wait <= 0:
            return taken
        return (yield self.poll_event(max_messages, visibility_timeout, wait))

    def poll_event(
        self, max_messages: int, visibility_timeout: float | None, wait: float
    ) -> simpy.Event:
        """A long poll that waits (a receive at this instant took nothing): the event that
        succeeds with the messages, as soon as some are visible, or with nothing after `wait`
        seconds (`_ring`). `wait_receive`'s wait; a consumer may wait on it directly
        (`SQSConsumer.fetch_event`)."""
        ready = self.env.event()
        self._waiters.append((ready, max_messages, visibility_timeout))
        self._polls += 1
        due = self.env.now + wait
        deadlines = self._poll_deadlines
        first = not deadlines or due < deadlines[0][0]
        heapq.heappush(deadlines, (due, self._polls, ready))
        if first:
            self._arm()
        return ready

    def _serve_waiters(self) -> None:
        waiters = self._waiters
        while waiters:
            ready, count, timeout = waiters[0]
            # Speed: `ready.triggered` as the event's own test and `succeed` in one call
            # (sim/timer.py): a long poll that waits is served here, about 0.6 times a
            # message with 50 competing consumers.
            if ready._value is not PENDING:
                waiters.popleft()
                continue
            taken = self.receive(count, timeout)
            if not taken:
                return
            waiters.popleft()
            succeed_now(ready, taken)

    def _take(self, limit: int) -> list[Entry]:
        out: list[Entry] = []
        visible, entries, fresh = self._visible, self.entries, self._fresh
        while (visible or fresh) and len(out) < limit:
            if not visible or (fresh and fresh[0].id < visible[0]):
                # The first fresh message is older than the heap's head (see `_fresh`).
                entry = self._promote()
                self._promoted.append(entry)
            else:
                entry = entries.get(heapq.heappop(visible))  # type: ignore[assignment]
            if entry is None or entry.state is not _VISIBLE:
                continue  # expired or purged while visible (gone from `entries`)
            if self._redrive(entry):
                continue
            out.append(entry)
        return out

    def _take_fifo(self, limit: int) -> list[Entry]:
        out: list[Entry] = []
        blocked = {g for g, n in self._group_inflight.items() if n > 0}
        heads = []
        for group, members in list(self._groups.items()):
            while members and members[0].state is _GONE:
                members.popleft()
            if not members:
                del self._groups[group]
                self._group_inflight.pop(group, None)
            elif group not in blocked:
                heads.append((members[0].seq, group))
        for _, group in sorted(heads):
            for entry in list(self._groups.get(group, ())):
                if len(out) >= limit:
                    return out
                if entry.state is _GONE:
                    continue
                if entry.state is not _VISIBLE:
                    break  # strict order: nothing after a delayed or in-flight message
                if self._redrive(entry):
                    continue
                out.append(entry)
        return out

    def _redrive(self, entry: Entry) -> bool:
        """Move `entry` to the dead-letter queue if this receive would exceed maxReceiveCount."""
        limit = self.settings.max_receive_count
        if limit is None or entry.receive_count < limit or self.settings.dead_letter_queue is None:
            return False
        self._remove(entry)
        # A copy already processed stays processed in the Recorder: count moves separately.
        self.recorder.count(f"redriven.{self.name}")
        self.recorder.dead_lettered(entry.msg, self.name)
        self._resolve(self.settings.dead_letter_queue).accept_dead_letter(entry)
        return True

    # ----- settling -----
    def find(self, handle: str) -> tuple[Entry | None, bool]:
        """(the live entry a receipt handle names, whether it is the latest handle)."""
        try:
            queue, seq, count = handle.split("#")
            number = int(seq)
            if queue == self.name:
                self._promote_through(number)  # a fresh message is named too (see `_fresh`)
            entry = self.entries.get(number) if queue == self.name else None
            int(count)
        except ValueError:
            raise KeyError(handle) from None
        if entry is None:
            return None, False
        return entry, entry.handle == handle

    def delete(self, entry: Entry) -> None:
        if entry.state is not _INFLIGHT:
            self._remove(entry)
            self.recorder.acked_message(entry.msg, self.name)
            return
        # Speed: `_remove`'s in-flight case inlined (a delete after processing, once a
        # message), the same steps.
        self.inflight_count -= 1
        unblocks = self.inflight_count == self.settings.max_inflight - 1
        if entry.group is not None:
            self._group_inflight[entry.group] -= 1
            unblocks = unblocks or self.settings.fifo
        entry.state = _GONE
        entry.version += 1
        self.entries.pop(entry.seq, None)
        if unblocks:
            self._serve_waiters()  # its group may be unblocked now
        self.recorder.acked_message(entry.msg, self.name)

    def change_visibility(self, entry: Entry, timeout: float) -> None:
        """Restart an in-flight message's visibility timeout from now (0: visible at once)."""
        entry.version += 1
        if timeout <= 0:
            self._return(entry)
        else:
            self._timer(self.env.now + timeout, entry)

    def purge(self) -> int:
        self._promote_through(self._seq)  # every fresh message made an Entry (see `_fresh`)
        # In arrival order, as `entries` was filled (a promoted Entry was put in it later).
        gone = sorted(self.entries.values(), key=lambda e: e.seq)
        for entry in gone:
            self._remove(entry)
            self.recorder.dropped(entry.msg, self.name)
        return len(gone)

    def _remove(self, entry: Entry) -> None:
        state = entry.state
        unblocks = False
        if state is _VISIBLE:
            self.visible_count -= 1
            self.recorder.ready_add(self._ready_slot, -1)
        elif state is _INFLIGHT:
            self.inflight_count -= 1
            # Room again under the in-flight quota, or its group unblocked.
            unblocks = self.inflight_count == self.settings.max_inflight - 1
            if entry.group is not None:
                self._group_inflight[entry.group] -= 1
                unblocks = unblocks or self.settings.fifo
        elif state is _DELAYED:
            self.delayed_count -= 1
        entry.state = _GONE
        entry.version += 1
        self.entries.pop(entry.seq, None)
        if unblocks:
            self._serve_waiters()  # its group may be unblocked now

    # ----- time -----
    def _make_visible(self, entry: Entry) -> None:
        entry.state = _VISIBLE
        self.visible_count += 1
        self.recorder.ready_add(self._ready_slot, 1)
        if not self.settings.fifo:
            heapq.heappush(self._visible, entry.seq)
        if self._waiters:  # speed: no call when no long poll waits
            self._serve_waiters()

    def _return(self, entry: Entry) -> None:
        """An in-flight message becomes visible again (timeout expiry or visibility 0)."""
        self.inflight_count -= 1
        if entry.group is not None:
            self._group_inflight[entry.group] -= 1
        self.recorder.requeued_message(entry.msg, self.name)
        self._make_visible(entry)
        if entry.group is not None:
            self._serve_waiters()  # its group may be unblocked now

    def _timer(self, due: float, entry: Entry) -> None:
        head = self._first_timer()
        timer = (due, entry.seq, entry.version, entry)
        run = self._timer_run
        if not run or timer >= run[-1]:
            run.append(timer)
        else:
            heapq.heappush(self._timers, timer)
        if head is None or due < head[0]:
            self._arm()

    def _first_timer(self) -> tuple[float, int, int, Entry] | None:
        """The earliest deadline (stale or not), None when there is none."""
        run, heap = self._timer_run, self._timers
        if run and (not heap or run[0] <= heap[0]):
            return run[0]
        return heap[0] if heap else None

    def _pop_timer(self) -> tuple[float, int, int, Entry]:
        """Take the earliest deadline."""
        run, heap = self._timer_run, self._timers
        if run and (not heap or run[0] <= heap[0]):
            return run.popleft()
        return heapq.heappop(heap)

    def _wake_clock_for_retention(self) -> None:
        if len(self._arrivals) == 1:
            self._arm()

    def _next_due(self) -> float | None:
        """The next deadline that still counts, after dropping those that do not from the
        heads of the heaps (advance and _ring would skip them)."""
        arrivals, promoted = self._arrivals, self._promoted
        # Speed: the Entry an item stands for found inline, as `_pop_arrival` finds it
        # (about one deleted message a message is dropped here: no call for it).
        while arrivals:
            first = arrivals[0]
            if isinstance(first, Entry):
                if first.state is not _GONE:
                    break
                arrivals.popleft()
            elif promoted and promoted[0].state is _GONE:
                arrivals.popleft()
                promoted.popleft()
            else:  # a fresh message (never gone) or a promoted one still live
                break
        # Speed: `_retained_from()` inlined (no call a deadline asked for).
        due = (
            (first.retain_from if isinstance(first := arrivals[0], Entry) else first)
            + self.settings.message_retention
            if arrivals
            else None
        )
        # Speed: `_first_timer` and `_pop_timer` inlined: about one stale timer is dropped
        # here a message (its message deleted), two calls each.
        run, heap = self._timer_run, self._timers
        while True:
            if run and (not heap or run[0] <= heap[0]):
                timer = run[0]
                if timer[2] == timer[3].version:
                    break
                run.popleft()  # its message was deleted or its visibility changed since
            elif heap:
                timer = heap[0]
                if timer[2] == timer[3].version:
                    break
                heapq.heappop(heap)
            else:
                timer = None
                break
        if timer is not None and (due is None or timer[0] < due):
            due = timer[0]
        polls = self._poll_deadlines
        # Speed: `triggered` read as the event's own test (no property call).
        while polls and polls[0][2]._value is not PENDING:
            heapq.heappop(polls)  # served before its deadline
        if polls and (due is None or polls[0][0] < due):
            due = polls[0][0]
        return due

    def _arm(self) -> None:
        """Make sure a timeout rings at the next deadline (unless one rings before it)."""
        due = self._next_due()
        if due is None:
            return
        pending = self._pending
        if pending and pending[0] <= due:
            return
        heapq.heappush(pending, due)
        env = self.env
        env.timeout(max(0.0, due - env.now)).callbacks.append(self._ring)

    def _ring(self, _event: Any) -> None:
        """An armed timeout rang (timeouts ring in time order: it is the earliest pending):
        apply what is due, answer the long polls that waited long enough, arm the next."""
        heapq.heappop(self._pending)
        self.advance()
        polls, now = self._poll_deadlines, self.env.now
        while polls and polls[0][0] <= now:
            _, _, ready = heapq.heappop(polls)
            if not ready.triggered:
                ready.succeed([])  # marks the waiter as gone: _serve_waiters skips it
        self._arm()

    def advance(self, now: float | None = None) -> None:
        """Apply every deadline up to now: delays ending, visibility timeouts, retention.
        (`now`: the clock, when the caller has read it.)"""
        if now is None:
            now = self.env.now
        run, heap = self._timer_run, self._timers
        while run or heap:
            # Speed: `_first_timer` and `_pop_timer` inlined (advance runs twice a message).
            if run and (not heap or run[0] <= heap[0]):
                if run[0][0] > now:
                    break
                _, _, version, entry = run.popleft()
            else:
                if heap[0][0] > now:
                    break
                _, _, version, entry = heapq.heappop(heap)
            if version != entry.version:
                continue  # reset by a later receive or visibility change, or gone
            if entry.state is _DELAYED:
                self.delayed_count -= 1
                self._make_visible(entry)
            elif entry.state is _INFLIGHT:
                self._return(entry)
        retention, arrivals = self.settings.message_retention, self._arrivals
        while arrivals and self._retained_from() + retention <= now:
            entry = self._pop_arrival()
            if entry.state is not _GONE:
                self._remove(entry)
                self.recorder.expired(entry.msg, self.name)
