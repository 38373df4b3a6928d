"""Share groups (KIP-932, "queues for Kafka"): the broker side.

A share group reads a topic the way a queue is read: its members share partitions (the
``simple`` assignor, `assignors.simple_share_assign`, gives a partition to several members once
there are more members than partitions), and every record is handed to one member at a time,
acknowledged one by one, and redelivered when it is not. The share-partition leader keeps, per
(group, topic-partition), a `SharePartition`:

- Records between the share-partition start offset (SPSO) and end offset (SPEO) are *in flight*,
  each in one state: AVAILABLE, ACQUIRED (by one member, under an acquisition lock),
  ACKNOWLEDGED or ARCHIVED. Records past the SPEO are available and not yet fetched; records
  before the SPSO are done. (Kafka's ``endOffset`` is the last fetched offset; `end_offset` here
  is the offset after it, so the in-flight window is ``end_offset - start_offset``.)
- A fetch acquires the lowest AVAILABLE records first, then new ones from the SPEO on, each
  acquisition adding one delivery. The acquisition lock (``group.share.record.lock.duration.ms``,
  30 s) expires into AVAILABLE again; a record whose delivery count has reached
  ``group.share.delivery.count.limit`` (5) is ARCHIVED instead, when its lock expires or when it
  is released. RELEASE makes a record AVAILABLE (same rule), REJECT archives it, ACCEPT
  acknowledges it. Only the member that holds a record may acknowledge it.
- The window from the SPSO to the SPEO holds at most ``group.share.partition.max.record.locks``
  (2000) offsets: at the cap, a fetch can take only AVAILABLE records again, so one stuck record
  at the SPSO can stop a share-partition from taking new records. Kafka checks the cap before a
  fetch and may overshoot it to the end of the last batch it reads; with records acquired one by
  one here the cap is exact.
- The SPSO moves past the lowest records once they are ACKNOWLEDGED or ARCHIVED. A new
  share-partition starts where ``share.auto.offset.reset`` says (latest, the high watermark, by
  default; or earliest, the log start offset). When retention moves the log start past the SPSO,
  the SPSO follows it and AVAILABLE records below it are archived (``updateCacheAndOffsets``).

Sources: KIP-932 (cwiki.apache.org/confluence/display/KAFKA/KIP-932); apache/kafka
``core/src/main/java/kafka/server/share/SharePartition.java`` (``acquire``, ``acknowledge``,
``releaseAcquiredRecords``, ``releaseAcquisitionLockOnTimeout``, ``InFlightState.tryUpdateState``,
``maybeUpdateCachedStateAndOffsets``, ``canAcquireRecords``) and ``ShareGroupConfig`` at commit
1eb7644; the group side (``ShareGroupHeartbeat``, ``group.share.heartbeat.interval.ms`` 5 s,
``group.share.session.timeout.ms`` 45 s) from ``GroupMetadataManager.shareGroupHeartbeat``.

Accounting. A share group is one reader of each partition it reads (`Partition.attach`), so each
record is one copy for the group, whichever member gets it. Every acquisition is a delivery
(``Recorder.delivered_message``); the application's ``processed`` call is the processing. An
archived record that was never processed ends *dropped*: Kafka 4.2 keeps it in the log and only
stops delivering it to this group, so nothing moves it to another queue, which is what
``dead_lettered`` means here. (A share-group dead-letter topic, the group configuration
``errors.deadletterqueue.topic.name``, appears in the Kafka 4.4 documentation; with it, archiving
would be dead-lettering.) Records retention deletes
end expired, as they do for a consumer group.

Simplifications: records are tracked one by one (Kafka tracks whole batches until their records'
states diverge), the share-partition state is not persisted (no share coordinator, no leader
failover of the share state), and acknowledgements never fail for a reason other than the
record's state.
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import IntEnum
from typing import TYPE_CHECKING, Any

from sim.brokers.kafka.assignors import java_hash_map_order, simple_share_assign
from sim.brokers.kafka.cluster import KafkaError
from sim.brokers.kafka.settings import ShareGroupSettings
from sim.message import Message, State

if TYPE_CHECKING:
    from sim.brokers.kafka.cluster import KafkaCluster, Partition
    from sim.brokers.kafka.log import Record
    from sim.brokers.kafka.share_consumer import KafkaShareConsumer

__all__ = [
    "ACKNOWLEDGED",
    "ACQUIRED",
    "ARCHIVED",
    "AVAILABLE",
    "INVALID_RECORD_STATE",
    "STATE_NAMES",
    "AcknowledgeType",
    "InFlightRecord",
    "ShareCoordinator",
    "ShareGroup",
    "ShareMember",
    "SharePartition",
]

TopicPartition = tuple[str, int]

# SharePartition.RecordState, with Kafka's ids.
AVAILABLE = 0
ACQUIRED = 1
ACKNOWLEDGED = 2
ARCHIVED = 4
STATE_NAMES = {AVAILABLE: "AVAILABLE", ACQUIRED: "ACQUIRED", ACKNOWLEDGED: "ACKNOWLEDGED"}
STATE_NAMES[ARCHIVED] = "ARCHIVED"
INVALID_RECORD_STATE = "INVALID_RECORD_STATE"  # Errors.INVALID_RECORD_STATE


class AcknowledgeType(IntEnum):
    """``org.apache.kafka.clients.consumer.AcknowledgeType`` (ids as on the wire)."""

    ACCEPT = 1  # processed: the record is done
    RELEASE = 2  # give it back for another delivery attempt
    REJECT = 3  # unprocessable: archive it, no further attempts


class InFlightRecord:
    """One in-flight record of a share-partition (``InFlightState``)."""

    __slots__ = ("copy", "delivery_count", "lock", "member", "offset", "record", "state")

    def __init__(self, record: Record, copy: Message, member: str) -> None:
        self.offset = record.offset
        self.record = record
        self.copy = copy  # the group's copy of the message: what the Recorder counts
        self.state = ACQUIRED
        self.delivery_count = 1
        self.member: str | None = member
        self.lock = 0  # the acquisition it is locked under (0: none)

    def __repr__(self) -> str:
        return (
            f"InFlightRecord(offset={self.offset}, {STATE_NAMES[self.state]}, "
            f"deliveries={self.delivery_count}, member={self.member!r})"
        )


class SharePartition:
    """One share-partition: the in-flight records of one group on one topic-partition.

    Per-record work is O(log n): AVAILABLE offsets wait in a heap (stale entries are skipped
    when popped), in-flight offsets in a deque ordered by offset (the SPSO pops from its front),
    and each record's lock is one timer per acquisition, not per record.
    """

    def __init__(self, group: ShareGroup, partition: Partition, start: int) -> None:
        self.group = group
        self.partition = partition
        self.env = partition.cluster.env
        self.recorder = partition.cluster.recorder
        self.name = partition.name
        self.start = start  # SPSO
        self.end = start  # SPEO (exclusive)
        self._entries: dict[int, InFlightRecord] = {}
        self._order: deque[int] = deque()  # in-flight offsets, ascending
        self._available: list[int] = []  # heap of AVAILABLE offsets (may hold stale ones)
        self._available_count = 0
        self._acquired_count = 0
        self._locks = itertools.count(1)
        self.slot = partition.attach(group.group_id, start)
        self._source = self.recorder.source(f"{partition.topic.name}/{group.group_id}")
        self._ready = 0
        self.waiters: list[Callable[[], None]] = []  # members waiting for records
        partition.range_listeners.append(self._range_changed)
        self._refresh()

    # ----- what the model and the tests look at -----
    @property
    def start_offset(self) -> int:
        """The share-partition start offset (SPSO)."""
        return self.start

    @property
    def end_offset(self) -> int:
        """The offset after the last record fetched into the window (Kafka's SPEO + 1)."""
        return self.end

    @property
    def acquired(self) -> int:
        """Records acquired now (locked by a member)."""
        return self._acquired_count

    @property
    def available(self) -> int:
        """In-flight records AVAILABLE for another delivery."""
        return self._available_count

    def ready(self) -> int:
        """Records a member could be handed: AVAILABLE in flight, plus those past the SPEO."""
        return self._ready

    def state_of(self, offset: int) -> tuple[str, int] | None:
        """(state, delivery count) of an in-flight offset; None outside the window."""
        entry = self._entries.get(offset)
        if entry is None:
            return None
        return STATE_NAMES[entry.state], entry.delivery_count

    @property
    def max_locks(self) -> int:
        return self.group.max_record_locks

    # ----- acquiring -----
    def acquire(self, member: str, budget: int) -> list[InFlightRecord]:
        """A ShareFetch from `member`: at most `budget` records, AVAILABLE ones first (lowest
        offsets), then new ones from the SPEO, all locked to it for the lock duration."""
        partition = self.partition
        if budget <= 0 or not partition.available:
            return []
        self._follow_log_start()
        got: list[InFlightRecord] = []
        heap, entries = self._available, self._entries
        while heap and len(got) < budget:
            entry = entries.get(heapq.heappop(heap))
            if entry is None or entry.state != AVAILABLE:
                continue  # a stale heap entry
            entry.state = ACQUIRED
            entry.delivery_count += 1
            entry.member = member
            self._available_count -= 1
            got.append(entry)
        room = self.max_locks - (self.end - self.start)
        want = min(budget - len(got), room)
        hw = partition.hw
        if want > 0 and self.end < hw:
            records, position = partition.log.read(self.end, want, hw)
            for record in records:
                entry = InFlightRecord(record, self._copy_of(record), member)
                entries[record.offset] = entry
                self._order.append(record.offset)
                got.append(entry)
            self.end = position
            if not self._order:
                self.start = self.end  # only compaction gaps were read
        if not got:
            return got
        lock = next(self._locks)
        deliver, name = self.recorder.delivered_message, self.name
        for entry in got:
            entry.lock = lock
            copy = entry.copy
            copy.deliveries += 1
            deliver(copy, name)
        self._acquired_count += len(got)
        batch = list(got)
        timer = self.env.timeout(self.group.lock_duration)
        timer.callbacks.append(lambda _e: self._lock_expired(batch, lock))
        self._refresh()
        return got

    def _copy_of(self, record: Record) -> Message:
        copy = record.copy_in(self.slot)
        if copy is None:
            self.partition.attach(self.group.group_id, record.offset)
            copy = record.copy_in(self.slot)
        assert copy is not None
        return copy

    def can_acquire(self) -> bool:
        """``canAcquireRecords`` (and there is something to take): AVAILABLE records in the
        window, or new records and room in the window for them."""
        if self._available_count > 0:
            return True
        untouched = self.partition.hw - max(self.end, self.partition.log_start_offset)
        return untouched > 0 and self.end - self.start < self.max_locks

    # ----- acknowledging, releasing, expiring -----
    def acknowledge(self, member: str, entry: InFlightRecord, kind: AcknowledgeType) -> str | None:
        """One acknowledgement from `member`: None, or INVALID_RECORD_STATE when the record is
        not acquired by it any more (its lock expired, say)."""
        if (
            self._entries.get(entry.offset) is not entry
            or entry.state != ACQUIRED
            or entry.member != member
        ):
            self.recorder.count("kafka.share.invalid_acknowledgements")
            return INVALID_RECORD_STATE
        self._acquired_count -= 1
        entry.lock = 0
        if kind == AcknowledgeType.ACCEPT:
            entry.state = ACKNOWLEDGED
            entry.member = None
            self.group.finished[(ACKNOWLEDGED, entry.delivery_count)] += 1
            self._done(entry)
        elif kind == AcknowledgeType.RELEASE:
            self._make_available(entry)
        else:
            self._archive(entry)
        self._settle()
        return None

    def _lock_expired(self, batch: list[InFlightRecord], lock: int) -> None:
        """The acquisition lock of one fetch ran out: what is still acquired under it goes
        back (``releaseAcquisitionLockOnTimeout``)."""
        entries, expired = self._entries, 0
        for entry in batch:
            if (
                entry.lock == lock
                and entry.state == ACQUIRED
                and entries.get(entry.offset) is entry
            ):
                expired += 1
                self._acquired_count -= 1
                entry.lock = 0
                self._make_available(entry)
        if expired:
            self.recorder.count("kafka.share.lock_timeouts", expired)
            self._settle()

    def _make_available(self, entry: InFlightRecord) -> None:
        """``tryUpdateState(AVAILABLE)``: at the delivery count limit, or below the SPSO, the
        record is archived instead."""
        if entry.delivery_count >= self.group.delivery_count_limit or entry.offset < self.start:
            self._archive(entry)
            return
        entry.state = AVAILABLE
        entry.member = None
        self._available_count += 1
        heapq.heappush(self._available, entry.offset)

    def _archive(self, entry: InFlightRecord) -> None:
        entry.state = ARCHIVED
        entry.member = None
        self.recorder.count("kafka.share.archived")
        self.group.finished[(ARCHIVED, entry.delivery_count)] += 1
        copy = entry.copy
        if copy.state is State.LIVE:
            self.recorder.dropped(copy, self.name)
        self._done(entry)

    def _done(self, entry: InFlightRecord) -> None:
        """A record reached ACKNOWLEDGED or ARCHIVED; one below the SPSO leaves the window."""
        if entry.offset < self.start:
            self._entries.pop(entry.offset, None)

    def _settle(self) -> None:
        """``maybeUpdateCachedStateAndOffsets``: move the SPSO past finished records, then
        refresh the counts and wake members that may now get records."""
        order, entries = self._order, self._entries
        while order:
            entry = entries[order[0]]
            if entry.state != ACKNOWLEDGED and entry.state != ARCHIVED:
                break
            order.popleft()
            del entries[entry.offset]
        self.start = order[0] if order else self.end
        self._refresh()
        if self.waiters and self.can_acquire():
            self.wake_waiters()

    def release_all(self, member: str, entries: Iterable[InFlightRecord]) -> None:
        """``releaseAcquiredRecords`` on share session close: what `member` still holds goes
        back, without another delivery counted (at the limit it is archived)."""
        released = False
        for entry in entries:
            held = self._entries.get(entry.offset) is entry and entry.state == ACQUIRED
            if held and entry.member == member:
                self._acquired_count -= 1
                entry.lock = 0
                self._make_available(entry)
                released = True
        if released:
            self._settle()

    # ----- the log moving under it -----
    def _range_changed(self) -> None:
        """The high watermark, the log start or the log end moved."""
        self._follow_truncation()
        self._follow_log_start()
        self._refresh()

    def _follow_log_start(self) -> None:
        """Retention moved the log start past the SPSO: the SPSO follows; AVAILABLE records
        below it are archived (their copies already ended expired); ACQUIRED ones stay with
        their members until acknowledged or expired (``updateCacheAndOffsets``)."""
        log_start = self.partition.log_start_offset
        if log_start <= self.start:
            return
        order, entries = self._order, self._entries
        while order and order[0] < log_start:
            entry = entries[order.popleft()]
            if entry.state == AVAILABLE:
                entry.state = ARCHIVED
                self._available_count -= 1
                del entries[entry.offset]
            elif entry.state != ACQUIRED:
                del entries[entry.offset]
        self.end = max(self.end, log_start)
        self.start = order[0] if order else self.end

    def _follow_truncation(self) -> None:
        """A new leader's log ends before the SPEO (an unclean election): in-flight records
        past its end are gone (their copies ended lost with the log)."""
        cut = self.partition.log_end_offset
        if self.end <= cut:
            return
        order, entries = self._order, self._entries
        while order and order[-1] >= cut:
            entry = entries.pop(order.pop())
            if entry.state == AVAILABLE:
                self._available_count -= 1
            elif entry.state == ACQUIRED:
                self._acquired_count -= 1
            entry.state = ARCHIVED
        self.end = cut
        self.start = min(self.start, cut) if order else cut

    def _refresh(self) -> None:
        partition = self.partition
        untouched = partition.hw - max(self.end, partition.log_start_offset)
        ready = self._available_count + (untouched if untouched > 0 else 0)
        delta = ready - self._ready
        if delta:
            self._ready = ready
            self.recorder.ready_add(self._source, delta)

    def wake_waiters(self) -> None:
        if self.waiters:
            waiters, self.waiters = self.waiters, []
            for wake in waiters:
                wake()


@dataclass(eq=False)
class ShareMember:
    """The coordinator's view of one share-group member (``ShareGroupMember``)."""

    member_id: str
    consumer: KafkaShareConsumer
    topics: list[str]
    epoch: int = 0
    assignment: frozenset[TopicPartition] = frozenset()
    alive: bool = True
    last_heartbeat: float = -math.inf
    session_token: int = 0
    owned: set[TopicPartition] = field(default_factory=set)

    @property
    def name(self) -> str:
        return self.consumer.client_id


class ShareGroup:
    """One share group: members, its group epoch and target assignment (the simple assignor),
    and its share-partitions. Members learn their assignment from their heartbeats; a share
    group has nothing to revoke, since a partition may have several members."""

    def __init__(
        self, coordinator: ShareCoordinator, group_id: str, settings: ShareGroupSettings
    ) -> None:
        self.coordinator = coordinator
        self.cluster = coordinator.cluster
        self.env = coordinator.cluster.env
        self.group_id = group_id
        self.settings = settings
        self.members: dict[str, ShareMember] = {}
        self.group_epoch = 0
        self.assignment_epoch = 0
        self.target: dict[str, frozenset[TopicPartition]] = {}
        self.partitions: dict[TopicPartition, SharePartition] = {}
        # (ACKNOWLEDGED or ARCHIVED, delivery count) -> records that ended so: how many
        # deliveries records took, and which the delivery count limit archived.
        self.finished: Counter[tuple[int, int]] = Counter()

    # ----- settings: the group's own, else the broker's -----
    @property
    def lock_duration(self) -> float:
        own = self.settings.share_record_lock_duration
        return own if own is not None else self.cluster.group_settings.share_record_lock_duration

    @property
    def delivery_count_limit(self) -> int:
        own = self.settings.share_delivery_count_limit
        return own if own is not None else self.cluster.group_settings.share_delivery_count_limit

    @property
    def max_record_locks(self) -> int:
        own = self.settings.share_partition_max_record_locks
        broker = self.cluster.group_settings.share_partition_max_record_locks
        return own if own is not None else broker

    # ----- membership -----
    def join(self, consumer: KafkaShareConsumer, topics: list[str]) -> ShareMember:
        member_id = f"{consumer.client_id}-{next(self.coordinator.member_ids)}"
        member = ShareMember(member_id, consumer, list(topics))
        self.members[member_id] = member
        self.cluster.coordinator.member_rows.append(
            [self.group_id, member.name, member_id, self.env.now, math.nan, "active"]
        )
        self.group_epoch += 1
        return member

    def has(self, member: ShareMember) -> bool:
        return self.members.get(member.member_id) is member

    def resubscribe(self, member: ShareMember, topics: list[str]) -> None:
        if member.topics != topics:
            member.topics = list(topics)
            self.group_epoch += 1

    def leave(self, member: ShareMember, how: str = "left") -> None:
        if not self.has(member):
            return
        del self.members[member.member_id]
        self.target.pop(member.member_id, None)
        member.session_token += 1
        for row in reversed(self.cluster.coordinator.member_rows):
            if row[2] == member.member_id:
                row[4], row[5] = self.env.now, how
                break
        self.group_epoch += 1

    def member_crashed(self, member: ShareMember) -> None:
        member.alive = False

    def heartbeat(self, member: ShareMember) -> frozenset[TopicPartition] | None:
        """One ShareGroupHeartbeat: the member's assignment now, or None when it is no longer
        a member (it must rejoin)."""
        if not self.has(member):
            return None
        member.last_heartbeat = self.env.now
        member.session_token += 1
        token = member.session_token
        timer = self.env.timeout(self.cluster.group_settings.share_session_timeout)
        timer.callbacks.append(lambda _e: self._session_expired(member, token))
        if self.group_epoch > self.assignment_epoch:
            self._compute_target()
        member.assignment = self.target.get(member.member_id, frozenset())
        member.epoch = self.assignment_epoch
        return member.assignment

    def _session_expired(self, member: ShareMember, token: int) -> None:
        if member.session_token == token and self.has(member):
            self.leave(member, "crashed" if not member.alive else "session timeout")

    def _compute_target(self) -> None:
        ordered = java_hash_map_order(self.members)  # the HashMap of TargetAssignmentBuilder
        subscriptions = {mid: self.members[mid].topics for mid in ordered}
        topics = self.cluster.topics
        counts: dict[str, int | None] = {
            t: (len(topics[t].partitions) if t in topics else None)
            for mid in ordered
            for t in subscriptions[mid]
        }
        current = {mid: _by_topic(self.target.get(mid, frozenset())) for mid in ordered}
        result = simple_share_assign(subscriptions, counts, current)
        self.target = {
            mid: frozenset((t, p) for t, parts in result.get(mid, {}).items() for p in parts)
            for mid in ordered
        }
        self.assignment_epoch = self.group_epoch
        for tps in self.target.values():
            for tp in tps:
                if tp not in self.partitions:
                    self._initialize(tp)

    def _initialize(self, tp: TopicPartition) -> None:
        """The first assignment of a partition starts its share-partition where
        ``share.auto.offset.reset`` says (InitializeShareGroupState)."""
        partition = self.cluster.partition(*tp)
        if self.settings.share_auto_offset_reset == "earliest":
            start = partition.log_start_offset
        else:
            start = partition.hw
        self.partitions[tp] = SharePartition(self, partition, start)

    def share_partition(self, tp: TopicPartition) -> SharePartition:
        found = self.partitions.get(tp)
        if found is None:
            self._initialize(tp)
            found = self.partitions[tp]
        return found

    def ready(self, topic: str) -> int:
        """Records of `topic` the group could hand out now (summed over its partitions)."""
        return sum(sp.ready() for (t, _), sp in self.partitions.items() if t == topic)

    def acquired(self, topic: str) -> int:
        """Records of `topic` locked by members now."""
        return sum(sp.acquired for (t, _), sp in self.partitions.items() if t == topic)


class ShareCoordinator:
    """The share groups of a cluster, and their group configurations."""

    def __init__(self, cluster: KafkaCluster) -> None:
        self.cluster = cluster
        self.groups: dict[str, ShareGroup] = {}
        self.member_ids = itertools.count(1)
        self._configs: dict[str, ShareGroupSettings] = {}

    def configure(self, group_id: str, config: dict[str, Any] | ShareGroupSettings) -> None:
        """Set a share group's configuration (``kafka-configs --alter --entity-type groups``),
        before its first member joins: its share-partitions start when first assigned."""
        settings = (
            config
            if isinstance(config, ShareGroupSettings)
            else ShareGroupSettings.from_config(config)
        )
        self._configs[group_id] = settings
        if group_id in self.groups:
            self.groups[group_id].settings = settings

    def group(self, group_id: str) -> ShareGroup:
        found = self.groups.get(group_id)
        if found is None:
            if group_id in self.cluster.coordinator.groups:
                raise KafkaError("INCONSISTENT_GROUP_PROTOCOL", f"{group_id!r} is a consumer group")
            settings = self._configs.get(group_id) or ShareGroupSettings()
            found = self.groups[group_id] = ShareGroup(self, group_id, settings)
        return found


def _by_topic(partitions: Iterable[TopicPartition]) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for topic, p in sorted(partitions):
        out.setdefault(topic, []).append(p)
    return out
