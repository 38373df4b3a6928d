"""The Kafka consumer client in simulated time: subscribe or assign, poll, commit, seek.

A consumer tracks a *position* per assigned partition (the next offset `poll` returns) and
commits offsets to its group's coordinator; nothing is removed from the log when it reads.
`poll()` first does the group's business (rejoin a rebalance, revoking partitions as the
protocol says; auto-commit when `auto.commit.interval.ms` has passed, committing the positions
reached by the previous polls), then returns up to `max.poll.records` committed records from its
partitions, taking partitions in turn. A partition without a usable position starts from the
group's committed offset, else from `auto.offset.reset` (earliest: log start; latest: the high
watermark; none: an error), as does a position that retention has deleted from under it.

Group membership follows `group.protocol`: classic (the coordinator's JoinGroup/SyncGroup
rounds, `sim.brokers.kafka.group.ConsumerGroup`) or consumer (KIP-848: the client heartbeats
every `group.consumer.heartbeat.interval.ms` and reconciles what each heartbeat answers; it
revokes what it must give up, committing first with auto-commit, then takes what it was given,
and heartbeats again at once; with a rebalance listener the callbacks run in the application's
next `poll()`, as `AsyncKafkaConsumer` runs them on the application thread). Either way a
member whose application does not call `poll()` for `max.poll.interval.ms` leaves the group
(blocking in `wait()` counts as polling, as a blocking `poll(timeout)` does): its partitions
move, its commits fail (CommitFailedException; counted in `kafka.commits_failed`) and it rejoins
as a new member with nothing when it polls again, its partitions lost (`onPartitionsLost`,
whose default calls `onPartitionsRevoked`). A static member (`group.instance.id`, KIP-345)
sends no LeaveGroup when it closes or misses the poll interval: the coordinator keeps it for
`session.timeout.ms`, and when it comes back with the same instance id it takes its old place.
On the consumer protocol a static member leaves with member epoch -2 instead and the
coordinator keeps its assignment for the broker's session timeout (KIP-848; group.py
`ModernConsumerGroup.static_leave`).

Calls act at the current simulated time and never block: a test script advances the
environment between calls; a simulated application yields `wait()` until there is something
to poll. `processed(record)` tells the Recorder the application finished a record, and
`crash()` kills the consumer without a commit or a LeaveGroup: what it had polled but not
processed is redelivered to the next owner if its offset was not committed, and lost if it was.

Sources: `org.apache.kafka.clients.consumer.KafkaConsumer` javadoc ("Offsets and Consumer
Position", "Manual Offset Control", "Controlling The Consumer's Position", "Detecting Consumer
Failures"), `Fetcher`, `ConsumerCoordinator` (onJoinPrepare, maybeAutoCommitOffsetsAsync),
`AbstractCoordinator.HeartbeatThread` (the poll timeout), and for the consumer protocol
`ConsumerMembershipManager` / `AbstractMembershipManager` (reconciliation, leaving on poll
timeout) at apache/kafka 1eb7644.
"""

from __future__ import annotations

import contextlib
import itertools
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from functools import partial
from typing import Any, NamedTuple, Protocol

import simpy

from sim.brokers.kafka.cluster import KafkaCluster, KafkaError
from sim.brokers.kafka.group import (
    ConsumerGroup,
    Member,
    ModernConsumerGroup,
    ModernMember,
    TopicPartition,
)
from sim.brokers.kafka.log import MSG_ONLY, Record, settled_view
from sim.brokers.kafka.settings import ConsumerSettings
from sim.message import Message, State
from sim.network import Link

__all__ = ["ConsumerRebalanceListener", "ConsumerRecord", "KafkaConsumer"]


# Speed: the state `_fetch` tests per record, as a plain name (the same member: `is` holds).
_DEAD_LETTERED = State.DEAD_LETTERED


class ConsumerRecord(NamedTuple):
    topic: str
    partition: int
    offset: int
    timestamp: float  # simulated seconds (Kafka's CreateTime, in seconds)
    key: bytes | None
    value: Any  # None for a tombstone (and for simulated payloads, which are only a size)
    message: Message  # this group's copy: what the Recorder counts


_new_record = tuple.__new__  # speed: see KafkaConsumer._fetch


def _turn_bits(bits: int, start: int) -> Iterator[int]:
    """The indices of the set bits of `bits`: from `start` up, then from 0 up to `start`
    (a poll's turn order over its candidates, `KafkaConsumer._bits`)."""
    high = bits >> start << start
    for part in (high, bits ^ high):
        while part:
            low = part & -part
            yield low.bit_length() - 1
            part ^= low


class ConsumerRebalanceListener(Protocol):
    """Kafka's ConsumerRebalanceListener. A listener may also define
    `on_partitions_lost(lost)`; without it, lost partitions go to `on_partitions_revoked`, as
    the Java interface's default method does."""

    def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None: ...
    def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None: ...


class KafkaConsumer:
    """A consumer client with Kafka's settings (`{"group.id": "billing", ...}`).

    `link_in` delays the wake-up when data arrives for an idle consumer (broker->consumer);
    `link_out` delays commits reaching the coordinator (consumer->broker). Both default to an
    ideal network.
    """

    # Speed: slots, not a dict (see `Partition`: more than 30 attributes outgrow CPython
    # 3.11's shared keys, and every method call and field then takes the generic lookup).
    __slots__ = (
        "_assignment",
        "_assignments",
        "_auto_commits",
        "_bit_of",
        "_bits",
        "_brokers",
        "_closed",
        "_commits_on_the_way",
        "_epoch",
        "_group",
        "_heartbeats",
        "_in_hand",
        "_landed",
        "_landed_count",
        "_landed_group",
        "_last_poll",
        "_listener",
        "_listening",
        "_max_poll_records",
        "_member",
        "_moved",
        "_next_auto_commit",
        "_order",
        "_out_of_group",
        "_partition_of",
        "_pending_target",
        "_poll_timer_armed",
        "_positions",
        "_sent_commits",
        "_subscription",
        "_turn",
        "_unwatched",
        "_waiter_of",
        "_waiting",
        "client_id",
        "cluster",
        "crashed",
        "env",
        "group_id",
        "link_in",
        "link_out",
        "protocol",
        "reader",
        "recorder",
        "settings",
        "strategy",
    )

    # Whether a poll for one record may take the one-record paths (`poll` with one
    # candidate, `PartitionLog.read_one` in `_fetch`); False polls the general way, the
    # reference tests/test_kafka_one_record.py compares them with.
    one_record = True
    # Whether such a poll with one candidate may take `_poll_alone` (the walk, the fetch and
    # the read in one call); False takes `_fetch`, the reference tests/test_kafka_fused_path.py
    # compares it with.
    fused = True
    # Whether a poll finds its candidates by arithmetic on the bit mask `_bits` (one
    # candidate: its one bit; the next in turn: the least set bit at or after the turn's
    # start; several: the set bits in turn order); False walks the whole turn order partition
    # by partition, testing each one's bit, the reference tests/test_kafka_bit_walk.py
    # compares with.
    bit_walk = True

    def __init__(
        self,
        cluster: KafkaCluster,
        config: dict[str, Any] | ConsumerSettings | None = None,
        *,
        link_in: Link | None = None,
        link_out: Link | None = None,
    ) -> None:
        from sim.distributions import Distribution, Sampler

        self.cluster = cluster
        self.env = cluster.env
        self.recorder = cluster.recorder
        self.settings = (
            config
            if isinstance(config, ConsumerSettings)
            else ConsumerSettings.from_config(config or {})
        )
        self.client_id = self.settings.client_id
        # Speed: the settings every poll reads, as plain fields: a pydantic model's attribute
        # goes through its `__getattr__` hook, several times the cost of an instance's own
        # (the settings are frozen and never replaced).
        self._auto_commits = self.settings.enable_auto_commit
        self._max_poll_records = self.settings.max_poll_records
        self.group_id = self.settings.group_id
        self.strategy = self.settings.partition_assignment_strategy
        self.protocol = self.settings.group_protocol
        instant = Distribution.constant(0.0)
        self.link_in = link_in or Link(self.env, instant, Sampler.of(instant, None))
        self.link_out = link_out or Link(self.env, instant, Sampler.of(instant, None))
        # Which reader slot (one per group) accounts for what this consumer reads.
        self.reader = self.group_id if self.group_id is not None else f"{self.client_id}"
        self._group: ConsumerGroup | ModernConsumerGroup | None = None
        self._member: Member | ModernMember | None = None
        self._subscription: list[str] | None = None
        self._listener: ConsumerRebalanceListener | None = None
        self._assignment: set[TopicPartition] = set()
        self._positions: dict[TopicPartition, int] = {}
        self._sent_commits: dict[TopicPartition, int] = {}
        # Speed: a commit of the positions sends only those that differ from what the group
        # already holds, so that auto-commit does not cost O(assigned partitions) each
        # interval. Committing an unchanged offset again changes nothing in the group, so the
        # group's offsets end the same as with Kafka's commit of every position
        # (`SubscriptionState.allConsumed`). It is safe only while the consumer knows what
        # the group holds: `_landed` are the offsets its commits landed with, valid while
        # none is on the way, the group has had no other commit since
        # (`_Group.commit_count` is `_landed_count`) and the assignment has not changed since
        # (-1: not known; the next commit sends every position). `_moved` are the partitions
        # whose position changed since the last commit of the positions.
        self._landed: dict[TopicPartition, int] = {}
        self._landed_group: Any = None
        self._landed_count = -1
        self._commits_on_the_way = 0
        self._moved: set[TopicPartition] = set()
        self._assignments = 0  # changes of the assignment so far
        self._in_hand: deque[ConsumerRecord] = deque()
        self._next_auto_commit = self.env.now + self.settings.auto_commit_interval
        self._turn = 0
        self._waiting: simpy.Event | None = None
        # Speed: what a poll must look at, so that its cost does not grow with the number of
        # assigned partitions (see _assignment_changed):
        # - `_order`, the assignment sorted once per change (a poll takes partitions in turn);
        # - `_bits`, the assigned partitions that may have something to poll, as a bit mask
        #   over `_order` (bit i: `_order[i]`, `_bit_of[tp]` its bit): a partition outside it
        #   has no record past the position, a usable position and no change of leader,
        #   broker, log start or log end since it was last found so (its high watermark
        #   moving sets its bit again: Partition.hw_listeners; anything else bumps
        #   KafkaCluster.epoch, and the next poll looks at every partition again). Speed: a
        #   set was this once, and a poll with several candidates took the next in turn by
        #   iterating it, comparing each with the turn's start: a set never shrinks, so with
        #   100 partitions each iteration scanned a table of 256 slots or more for the few
        #   candidates (3,400 instructions and 65 first-level cache misses a record), and
        #   each rise of a high watermark hashed the partition's tuple into it. An int's
        #   least set bit at or after the start is a few arithmetic operations whatever
        #   the partition count, and a rise is one `|=`;
        # - `_unwatched`, assigned partitions without a waiter of this consumer. Speed: the
        #   partitions with one are not kept in a set of their own (a set update at every
        #   wait and every wake-up, 1 call a record with 100 partitions): a change of the
        #   assignment looks for them in the partitions' waiters (`_has_waiter`).
        self._order: list[TopicPartition] = []
        self._bits = 0
        self._bit_of: dict[TopicPartition, int] = {}
        self._unwatched: set[TopicPartition] = set()
        self._listening: set[TopicPartition] = set()  # where hw_listeners has this consumer
        self._epoch = cluster.epoch
        # Speed: each partition's object by (topic, partition), found once (a topic's
        # partitions never change), and the brokers, for `Partition.available` inlined.
        self._partition_of: dict[TopicPartition, Any] = {}
        # Speed: each partition's object with this consumer's waiter for it, made once and
        # put back in the partition's waiters at every wait that watches it again (one call
        # and one `partial` fewer a partition watched again; the waiter is in one list at a
        # time, as a partition's list holds it only until it fires).
        self._waiter_of: dict[TopicPartition, tuple[Any, Callable[[], None]]] = {}
        self._brokers = cluster.brokers
        self._closed = False
        self.crashed = False
        # The group protocol, client side: the poll timer (max.poll.interval.ms), whether the
        # member was put out of the group (it rejoins at its next poll), the consumer
        # protocol's heartbeat loop and an assignment waiting for the callbacks to run in poll.
        self._last_poll = self.env.now
        self._poll_timer_armed = False
        self._out_of_group = False
        self._heartbeats = 0  # bumps to stop the heartbeat loop
        self._pending_target: frozenset[TopicPartition] | None = None

    # ----- subscribing -----
    def subscribe(
        self, topics: Iterable[str], listener: ConsumerRebalanceListener | None = None
    ) -> None:
        """Join `group.id`'s group for these topics; partitions come with the next rebalance."""
        self._check_open()
        if self.group_id is None:
            raise KafkaError("INVALID_GROUP_ID", "subscribe() needs a group.id")
        topics = list(topics)
        for topic in topics:
            self.cluster.partitions_for(topic)
        group = self.cluster.coordinator.group(self.group_id, self.strategy, self.protocol)
        if group.protocol != self.protocol:
            raise KafkaError(
                "INCONSISTENT_GROUP_PROTOCOL",
                f"group {self.group_id!r} uses group.protocol={group.protocol}; "
                f"{self.client_id} asks for {self.protocol}",
            )
        self._subscription = topics
        self._listener = listener
        self._group = group
        self._last_poll = self.env.now
        if self._member is not None:
            if isinstance(group, ModernConsumerGroup):
                assert isinstance(self._member, ModernMember)
                group.resubscribe(self._member, topics)
                self._heartbeat()
            else:
                self._member.topics = topics
                group.request_rebalance(f"{self.client_id} changed its subscription")
        else:
            self._join(group, topics)
        self._arm_poll_timer()

    def _join(self, group: ConsumerGroup | ModernConsumerGroup, topics: list[str]) -> None:
        """Become a member: JoinGroup (classic), or the first heartbeat, epoch 0 (consumer)."""
        if isinstance(group, ModernConsumerGroup):
            try:
                self._member = group.join(
                    self,
                    topics,
                    self.settings.group_remote_assignor,
                    self.settings.max_poll_interval,
                )
            except KafkaError as error:
                if error.code != "UNRELEASED_INSTANCE_ID":
                    raise
                self._unreleased_instance_id()
                return
            self._heartbeats += 1
            self._heartbeat()
            self._schedule_heartbeat(self._heartbeats)
        else:
            self._member = group.add(self, topics)

    def _unreleased_instance_id(self) -> None:
        """A static member restarted while its crashed predecessor still holds the instance id.
        The Java client fails for good (ConsumerHeartbeatRequestManager: UNRELEASED_INSTANCE_ID
        is fatal); the process here is restarted by its supervisor, so it tries again one
        heartbeat interval later, until the predecessor's session has expired."""
        self.recorder.count("kafka.unreleased_instance_id")
        self._member = None
        self._heartbeats += 1
        loop = self._heartbeats
        timer = self.env.timeout(self.cluster.group_settings.consumer_heartbeat_interval)

        def retry(_event: Any) -> None:
            group, topics = self._group, self._subscription
            if loop != self._heartbeats or self._closed or group is None or topics is None:
                return
            self._join(group, topics)

        timer.callbacks.append(retry)

    def unsubscribe(self) -> None:
        self._leave("left")
        self._subscription = None

    def assign(self, partitions: Iterable[TopicPartition]) -> None:
        """Manual assignment: read these partitions, outside any group membership."""
        self._check_open()
        if self._member is not None:
            raise KafkaError("ILLEGAL_STATE", "subscribe() and assign() cannot be mixed")
        wanted = {(str(t), int(p)) for t, p in partitions}
        for topic, p in wanted:
            self.cluster.partition(topic, p)
        for tp in self._assignment - wanted:
            self._positions.pop(tp, None)
        self._assignment = wanted
        self._assignment_changed()
        if self.group_id is not None:
            self._group = self.cluster.coordinator.group(
                self.group_id, self.strategy, self.protocol
            )

    def assignment(self) -> set[TopicPartition]:
        return set(self._assignment)

    def subscription(self) -> list[str] | None:
        return None if self._subscription is None else list(self._subscription)

    # ----- polling -----
    def poll(self, max_records: int | None = None) -> list[ConsumerRecord]:
        """Records from the assigned partitions (at most `max.poll.records`); [] if none now."""
        if self._closed:
            self._check_open()
        now = self.env._now  # speed: SimPy's field, not its `now` property (a call a poll)
        self._last_poll = now
        group = self._group
        # Speed: `_group_poll` is nothing for a classic group's member (not out of it) while
        # the group is not rebalancing: no call then.
        if (
            self._out_of_group
            or group.__class__ is not ConsumerGroup
            or group.state == "PreparingRebalance"
        ):
            self._group_poll()
        if self._auto_commits and now >= self._next_auto_commit:
            self._auto_commit()
        budget = self._max_poll_records if max_records is None else max_records
        if not self._assignment or budget <= 0:
            return []
        turn = self._turn
        self._turn = turn + 1
        found: list[ConsumerRecord] = []
        # Speed: `_check_epoch` inlined.
        bits = self._bits
        if self.cluster.epoch != self._epoch:
            bits = self._check_epoch()
        if not bits:
            return found
        # Partitions in turn from `start`, as sorted(assignment)[start:] + [:start], skipping
        # those outside `_bits`: a fetch from them would find nothing and change nothing.
        order = self._order
        if self.bit_walk and self.one_record:
            if not bits & (bits - 1):
                # Speed: one candidate (the usual case: records arrive one at a time): the
                # walk below for it alone, unrolled (`bits` is its bit; no loop, no lengths:
                # `found` is empty, so the fetch's budget is the poll's, and the walk ends
                # after it).
                tp = order[bits.bit_length() - 1]
                if budget == 1 and self.fused:
                    return self._poll_alone(tp, bits, found)
                if not self._fetch(tp, budget, found) or self._positions[tp] >= (
                    self._partition_of[tp].hw
                ):
                    self._bits &= ~bits  # as below: nothing there now, or read up to the HW
                return found
            if budget == 1:
                # Speed: a poll of one record (max.poll.records 1) from several candidates:
                # the walk below stops at the first candidate in turn order that has a
                # record, so it takes them one at a time, each the least set bit at or after
                # the turn's start (else the least: the turn wraps), found by arithmetic on
                # the mask, whatever the number of candidates or partitions. A fetch changes
                # no other candidate's bit, so the next one found is the walk's next.
                start = turn % len(order)
                fetch, positions, partition_of = self._fetch, self._positions, self._partition_of
                fused, poll_alone = self.fused, self._poll_alone
                while bits:
                    above = bits >> start
                    bit = (above & -above) << start if above else bits & -bits
                    tp = order[bit.bit_length() - 1]
                    if fused:
                        # Speed: `_poll_alone` fetches and clears the bit as the lines below
                        # (`found` is empty here, and gets the record if there is one).
                        poll_alone(tp, bit, found)
                        if found:
                            return found
                    elif fetch(tp, 1, found):
                        if positions[tp] >= partition_of[tp].hw:
                            self._bits &= ~bit  # read up to the high watermark, as below
                        return found
                    else:
                        self._bits &= ~bit  # nothing there now, as below
                    bits = self._bits
                return found
        count = len(order)
        start = turn % count
        fetch, positions = self._fetch, self._positions
        partition_of = self._partition_of
        # The candidates in turn order: with `bit_walk`, only the set bits (the others would
        # be passed over below); else every partition of the order, the reference.
        visit = (
            _turn_bits(bits, start)
            if self.bit_walk
            else itertools.chain(range(start, count), range(start))
        )
        # Speed: the budget is checked after each fetch, not at every partition of the walk
        # (the walk passes many non-candidates between two fetches). The same stop: `found`
        # only grows in a fetch, and it starts empty with a positive budget.
        for index in visit:
            bit = 1 << index
            if self._bits & bit:
                tp = order[index]
                if not fetch(tp, budget - len(found), found):
                    self._bits &= ~bit  # nothing there now: only a change brings it back
                elif positions[tp] >= partition_of[tp].hw:
                    # Read up to the high watermark: the next fetch would find nothing, so
                    # it leaves the candidates until the high watermark rises again (else
                    # every partition read once stayed a candidate, and a poll's cost grew
                    # with the partition count).
                    self._bits &= ~bit
                if len(found) >= budget:
                    break
        return found

    def _check_epoch(self) -> int:
        """`_bits`, first set for every assigned partition if the cluster changed since."""
        epoch = self.cluster.epoch
        if epoch != self._epoch:
            self._epoch = epoch
            self._bits = (1 << len(self._order)) - 1  # `_order` is the assignment, sorted
        return self._bits

    def _assignment_changed(self) -> None:
        """After every change of `_assignment`: the sorted order, the candidates, the
        partitions without a waiter, and the high watermark listeners follow it."""
        assignment = self._assignment
        self._landed_count = -1  # the next commit of the positions sends all of them
        self._assignments += 1
        old_order, old_bits = self._order, self._bits
        kept = {tp for index, tp in enumerate(old_order) if old_bits >> index & 1}
        order = self._order = sorted(assignment)
        added = assignment - self._listening
        # The candidates kept (still assigned) and the partitions added, as bits of the new
        # order (the bits move with the order: every assigned partition's is set again).
        bit_of = self._bit_of = {tp: 1 << index for index, tp in enumerate(order)}
        bits = 0
        for tp in order:
            if tp in kept or tp in added:
                bits |= bit_of[tp]
        self._bits = bits
        cluster = self.cluster
        self._unwatched = {tp for tp in assignment if not self._has_waiter(cluster.partition(*tp))}
        for tp in self._listening - assignment:
            cluster.partition(*tp).hw_listeners.pop(self, None)
        for tp in order:
            cluster.partition(*tp).hw_listeners[self] = bit_of[tp]
        self._listening = set(assignment)

    def _has_waiter(self, partition: Any) -> bool:
        """Whether this consumer's `_data_arrived` is among the partition's waiters (a wait
        put it there, and a wake-up, which empties the list, has not come since)."""
        for wake in partition.waiters:
            if getattr(getattr(wake, "func", None), "__self__", None) is self:
                return True
        return False

    def _stop_listening(self) -> None:
        """A closed or crashed consumer hears no more (and holds no partition's listeners)."""
        for tp in self._listening:
            self.cluster.partition(*tp).hw_listeners.pop(self, None)
        self._listening = set()

    def _fetch(self, tp: TopicPartition, budget: int, found: list[ConsumerRecord]) -> bool:
        """Fetch from `tp` into `found`; False if it had nothing."""
        partition = self._partition_of.get(tp) or self._find_partition(tp)
        leader = partition.leader
        if leader is None or not self._brokers[leader].alive:  # speed: `available` inlined
            return False
        position = self._positions.get(tp)
        log = partition.log
        # Speed: `in_range` inlined.
        if position is None or not log.log_start_offset <= position <= log.log_end_offset:
            position = self._reset_position(tp, out_of_range=position is not None)
        # Speed: `Partition.fetch` inlined; a fetch of one record (max.poll.records 1) takes
        # the log's one-record read: the same record and position, no list.
        if budget == 1 and self.one_record:
            record, fetched = log.read_one(position, partition.hw)
            records: Any = () if record is None else (record,)
        else:
            records, fetched = log.read(position, budget, partition.hw)
        self._positions[tp] = fetched
        if fetched != position:
            self._moved.add(tp)
        position = fetched
        if not records:
            return False
        # Speed: `Partition.set_position` inlined for a group that has its slot already.
        slot = partition._slots.get(self.reader)
        if slot is None:
            slot = partition.set_position(self.reader, position)
        else:
            partition.reader_position[slot] = position
            # Speed: `Partition._refresh_ready(slot)` inlined (the same arithmetic and
            # updates), once a record.
            start = log.log_start_offset
            ready = partition.hw - (position if position > start else start)
            if ready < 0:
                ready = 0
            delta = ready - partition._reader_ready[slot]
            if delta:
                partition._reader_ready[slot] = ready
                ready_recorder = partition._recorder
                ready_recorder.ready_values[partition._reader_source[slot]] += delta
                total = ready_recorder.ready_total + delta
                ready_recorder.ready_total = total
                if total > ready_recorder.max_queue_depth:
                    ready_recorder.max_queue_depth = total
        recorder = self.recorder
        delivered, name = recorder.delivered_message, partition.name
        # Speed: without a trace, `delivered_message` of a copy not dead-lettered only counts
        # (below, in place): one call fewer a record.
        counts_only = recorder.trace is None
        topic, index = tp
        in_hand = self._in_hand
        for record in records:
            # Speed: `_copy_for` inlined for a record that has this group's copy already.
            copies = record.copies
            if copies is MSG_ONLY and slot == 0:  # one group's copy: `msg` itself (log.py)
                msg = record.msg
            elif (
                copies is not None
                and copies is not MSG_ONLY
                and slot < len(copies)
                and copies[slot] is not None
            ):
                msg = copies[slot]
            else:
                msg = self._copy_for(partition, record, slot)
            deliveries = msg.deliveries = msg.deliveries + 1
            if counts_only and msg.state is not _DEAD_LETTERED:
                recorder.delivered += 1
                if deliveries > 1:
                    recorder.redelivered += 1
            else:
                delivered(msg, name)
            # Speed: the tuple made directly, not through the named tuple's keyword __new__.
            consumer_record = _new_record(
                ConsumerRecord,
                (
                    topic,
                    index,
                    record.offset,
                    record.msg.produced_at,  # the record's timestamp, without its property
                    record.key,
                    None if record.tombstone else record.msg.body,
                    msg,
                ),
            )
            found.append(consumer_record)
            in_hand.append(consumer_record)
        return True

    def _poll_alone(
        self, tp: TopicPartition, bit: int, found: list[ConsumerRecord]
    ) -> list[ConsumerRecord]:
        """`poll`'s one-candidate walk for a poll of one record: `_fetch(tp, 1, found)` with
        `PartitionLog.read_one`, then the candidate's discard, in one call.

        Speed: a poll of the ideal case (max.poll.records 1, records arriving one at a time)
        went `poll` -> `_fetch` -> `read_one`, made a one-record tuple to loop over and
        returned the read as a pair: here the same steps in the same order, the read from the
        active segment inline, the record delivered without the loop. Anything else (an
        inactive segment, a gap) reads through `PartitionLog.read` as `read_one` does.
        `fused = False` polls through `_fetch` (tests/test_kafka_fused_path.py compares)."""
        partition = self._partition_of.get(tp) or self._find_partition(tp)
        leader = partition.leader
        if leader is None or not self._brokers[leader].alive:  # speed: `available` inlined
            self._bits &= ~bit  # nothing there now
            return found
        positions = self._positions
        position = positions.get(tp)
        log = partition.log
        # Speed: `in_range` inlined.
        if position is None or not log.log_start_offset <= position <= log.log_end_offset:
            position = self._reset_position(tp, out_of_range=position is not None)
        # `read_one(position, hw)` inline.
        hw = partition.hw
        if position >= hw:
            positions[tp] = position
            self._bits &= ~bit  # nothing there now
            return found
        last = log.segments[-1]
        index = position - last.base_offset
        records = last.records
        if last.contiguous and index >= 0 and index < len(records):
            record = records[index]  # `hw` is past `position`: the record is below it
            if record.__class__ is not Record:
                # A settled record (log.py, SettledRecord): its view, as `read_one` makes.
                record = settled_view(record, last, index)
            fetched = position + 1
        else:
            read, fetched = log.read(position, 1, hw)
            record = read[0] if read else None
        positions[tp] = fetched
        if fetched != position:
            self._moved.add(tp)
        if record is None:
            self._bits &= ~bit  # nothing there now
            return found
        # `_fetch`'s delivery of its one record, the same steps.
        slot = partition._slots.get(self.reader)
        if slot is None:
            slot = partition.set_position(self.reader, fetched)
        else:
            partition.reader_position[slot] = fetched
            # `Partition._refresh_ready(slot)`, as `_fetch` inlines it.
            start = log.log_start_offset
            ready = partition.hw - (fetched if fetched > start else start)
            if ready < 0:
                ready = 0
            delta = ready - partition._reader_ready[slot]
            if delta:
                partition._reader_ready[slot] = ready
                ready_recorder = partition._recorder
                ready_recorder.ready_values[partition._reader_source[slot]] += delta
                total = ready_recorder.ready_total + delta
                ready_recorder.ready_total = total
                if total > ready_recorder.max_queue_depth:
                    ready_recorder.max_queue_depth = total
        copies = record.copies
        if copies is MSG_ONLY and slot == 0:  # one group's copy: `msg` itself (log.py)
            msg = record.msg
        elif (
            copies is not None
            and copies is not MSG_ONLY
            and slot < len(copies)
            and copies[slot] is not None
        ):
            msg = copies[slot]
        else:
            msg = self._copy_for(partition, record, slot)
        recorder = self.recorder
        deliveries = msg.deliveries = msg.deliveries + 1
        if recorder.trace is None and msg.state is not _DEAD_LETTERED:
            recorder.delivered += 1
            if deliveries > 1:
                recorder.redelivered += 1
        else:
            recorder.delivered_message(msg, partition.name)
        origin = record.msg
        consumer_record = _new_record(
            ConsumerRecord,
            (
                tp[0],
                tp[1],
                record.offset,
                origin.produced_at,  # the record's timestamp, without its property
                record.key,
                None if record.tombstone else origin.body,
                msg,
            ),
        )
        found.append(consumer_record)
        self._in_hand.append(consumer_record)
        # `poll`'s `self._positions[tp]`: `fetched`, as stored above (the delivery's steps
        # touch the partition and the recorder, never this consumer's positions).
        if fetched >= partition.hw:
            self._bits &= ~bit  # read up to the high watermark, as `poll` does
        return found

    def _find_partition(self, tp: TopicPartition) -> Any:
        partition = self._partition_of[tp] = self.cluster.partition(*tp)
        return partition

    def _copy_for(self, partition: Any, record: Record, slot: int | None) -> Message:
        msg = None if slot is None else record.copy_in(slot)
        if msg is None:
            slot = partition.attach(self.reader, record.offset)
            msg = record.copy_in(slot)
        assert msg is not None
        return msg

    def wait(self, timeout: float | None = None) -> simpy.Event:
        """An event that fires when `poll` may have something to do (data, a rebalance) or
        after `timeout` seconds. Only one wait at a time."""
        event = self.env.event()
        if self._closed:
            return event  # a dead consumer waits forever
        if self._has_work():
            event.succeed()
            return event
        self._waiting = event
        if self._unwatched:  # speed: the assigned partitions without a waiter, kept as they change
            # Speed: each partition and its waiter from `_waiter_of` (made once), not the
            # cluster's lookup and a new `partial`: one call fewer per partition watched again.
            waiter_of = self._waiter_of
            for tp in self._unwatched:
                try:
                    partition, wake = waiter_of[tp]
                except KeyError:
                    partition = self._partition_of.get(tp) or self._find_partition(tp)
                    wake = partial(self._data_arrived, tp)
                    waiter_of[tp] = partition, wake
                partition.waiters.append(wake)
            self._unwatched = set()
        if timeout is not None:
            timer = self.env.timeout(timeout)
            timer.callbacks.append(lambda _e, ev=event: self._wake(ev))
        return event

    def _has_work(self) -> bool:
        if self._out_of_group or self._pending_target is not None:
            return True
        group, member = self._group, self._member
        if (
            isinstance(group, ConsumerGroup)
            and isinstance(member, Member)
            and group.needs_join(member)
        ):
            return True
        order = self._order
        for index in _turn_bits(self._check_epoch(), 0):  # the others have nothing (`_bits`)
            tp = order[index]
            partition = self.cluster.partition(*tp)
            if partition.available:
                position = self._positions.get(tp)
                if position is None or position < partition.hw or not partition.in_range(position):
                    return True
            self._bits &= ~(1 << index)
        return False

    def _data_arrived(self, tp: TopicPartition) -> None:
        # The partition has just dropped this waiter (and `_has_waiter` no longer finds it).
        if tp in self._assignment:
            self._unwatched.add(tp)
        event = self._waiting
        if event is not None and not event.triggered:
            self.link_in.send(self._wake, event)

    def _wake(self, event: simpy.Event) -> None:
        if self._waiting is event:
            self._waiting = None
        if not event.triggered:
            event.succeed()

    def _group_needs_poll(self) -> None:
        """The coordinator wants this member to poll (a rebalance, a new assignment)."""
        self.wakeup()

    def wakeup(self) -> None:
        """End a `wait()` now (KafkaConsumer.wakeup interrupts a blocking poll)."""
        event = self._waiting
        if event is not None:
            self._wake(event)

    # ----- positions -----
    def _reset_position(self, tp: TopicPartition, out_of_range: bool = False) -> int:
        partition = self.cluster.partition(*tp)
        committed = None if out_of_range else self.committed(tp)
        if committed is not None and partition.in_range(committed):
            position = committed
        else:
            policy = self.settings.auto_offset_reset
            if policy == "earliest":
                position = partition.log_start_offset
            elif policy == "latest":
                position = partition.hw
            else:
                raise KafkaError(
                    "OFFSET_OUT_OF_RANGE" if out_of_range else "NO_OFFSET_FOR_PARTITION",
                    f"{partition.name} and auto.offset.reset=none",
                )
        self._set_position(tp, position)
        return position

    def _set_position(self, tp: TopicPartition, position: int) -> None:
        self._positions[tp] = position
        self._moved.add(tp)
        if tp in self._assignment:
            self._bits |= self._bit_of[tp]  # a new position may have records past it
        partition = self.cluster.partition(*tp)
        partition.attach(self.reader, position)
        partition.set_position(self.reader, position)

    def position(self, tp: TopicPartition) -> int:
        """The offset of the next record `poll` will return from `tp`."""
        tp = (tp[0], int(tp[1]))
        self._require_assigned(tp)
        position = self._positions.get(tp)
        if position is None:
            position = self._reset_position(tp)
        return position

    def seek(self, tp: TopicPartition, offset: int) -> None:
        """Make the next poll read `tp` from `offset` (replay when it is behind the position)."""
        tp = (tp[0], int(tp[1]))
        self._require_assigned(tp)
        if offset < 0:
            raise ValueError("offsets are non-negative")
        self._set_position(tp, offset)

    def seek_to_beginning(self, *partitions: TopicPartition) -> None:
        for tp in partitions or sorted(self._assignment):
            self.seek(tp, self.cluster.partition(*tp).log_start_offset)

    def seek_to_end(self, *partitions: TopicPartition) -> None:
        for tp in partitions or sorted(self._assignment):
            self.seek(tp, self.cluster.partition(*tp).hw)

    def offsets_for_times(
        self, timestamps: dict[TopicPartition, float]
    ) -> dict[TopicPartition, int | None]:
        """For each partition, the earliest offset whose timestamp (seconds) is >= the given one;
        None when every record is older."""
        return {
            tp: self.cluster.partition(*tp).offset_for_time(ts) for tp, ts in timestamps.items()
        }

    def beginning_offsets(self, partitions: Iterable[TopicPartition]) -> dict[TopicPartition, int]:
        return {tp: self.cluster.partition(*tp).log_start_offset for tp in partitions}

    def end_offsets(self, partitions: Iterable[TopicPartition]) -> dict[TopicPartition, int]:
        return {tp: self.cluster.partition(*tp).hw for tp in partitions}

    # ----- committing -----
    def commit(self, offsets: dict[TopicPartition, int] | None = None) -> None:
        """Commit `offsets` (default: the current positions) for the group. The commit reaches
        the coordinator after the consumer->broker hop."""
        self._check_open()
        if self._group is None:
            raise KafkaError("INVALID_GROUP_ID", "commit() needs a group.id")
        if self._subscription is not None and self._member is None:
            # Put out of the group (poll timeout, fenced): the coordinator refuses the commit
            # (CommitFailedException; ILLEGAL_GENERATION / UNKNOWN_MEMBER_ID).
            self.recorder.count("kafka.commits_failed")
            return
        group = self._group
        every = offsets is None  # the positions, all of them (else the offsets given)
        unchanged = False  # the positions, all of them already held by the group
        if every:
            changed = self._changed_positions(group)
            if changed is None:
                offsets = {tp: p for tp, p in self._positions.items() if tp in self._assignment}
            else:
                # As the full commit would: nothing to send when nothing assigned has a
                # position; else a commit (counted, and over the hop) of what changed.
                unchanged = not changed and self._any_position()
                offsets, every = changed, False
            self._moved = set()
        else:
            offsets = {(t, int(p)): int(o) for (t, p), o in offsets.items()}
            # What it commits may differ from the positions: the next commit of the
            # positions looks at these partitions again.
            self._moved.update(offsets)
        if not offsets and not unchanged:
            return
        self._sent_commits.update(offsets)
        self.recorder.count("kafka.commits")
        self._commits_on_the_way += 1
        self.link_out.send(self._commit_lands, group, offsets, every, self._assignments)

    def _changed_positions(self, group: Any) -> dict[TopicPartition, int] | None:
        """The positions that differ from the offsets the group holds, or None when the
        consumer does not know what it holds (then every position is committed)."""
        if (
            self._commits_on_the_way
            or group is not self._landed_group
            or group.commit_count != self._landed_count
        ):
            return None
        landed, positions, assignment = self._landed, self._positions, self._assignment
        changed: dict[TopicPartition, int] = {}
        for tp in self._moved:
            position = positions.get(tp)
            if position is None or tp not in assignment:
                continue  # the full commit leaves it out too
            before = landed.get(tp)
            if before is None:
                return None  # a new offset: the full commit adds it in the positions' order
            if before != position:
                changed[tp] = position
        return changed

    def _any_position(self) -> bool:
        assignment = self._assignment
        return any(tp in assignment for tp in self._positions)

    def _commit_lands(
        self, group: Any, offsets: dict[TopicPartition, int], every: bool, assignments: int
    ) -> None:
        """A commit reaches the coordinator (after the consumer->broker hop). The consumer
        then knows what the group holds if the commit had every position, or if it knew
        before; not if its assignment changed since it was sent."""
        known = assignments == self._assignments and (
            every or (group is self._landed_group and group.commit_count == self._landed_count)
        )
        group.commit(offsets)
        self._commits_on_the_way -= 1
        if known:
            if every:
                self._landed = offsets
            else:
                self._landed.update(offsets)
            self._landed_group = group
            self._landed_count = group.commit_count
        else:
            self._landed_count = -1

    def committed(self, tp: TopicPartition) -> int | None:
        """The group's last committed offset for `tp` (None: never committed)."""
        if self.group_id is None:
            return None
        return self.cluster.coordinator.committed(self.group_id, (tp[0], int(tp[1])))

    def _auto_commit(self) -> None:
        self._next_auto_commit = self.env.now + self.settings.auto_commit_interval
        if self._group is not None and self._positions:
            self.commit()

    # ----- the application's side -----
    def processed(self, record: ConsumerRecord) -> None:
        """The application finished `record` (not a Kafka call: the simulator counts it)."""
        self.recorder.processed(record.message, self.client_id)
        in_hand = self._in_hand
        if in_hand and in_hand[0] is record:  # speed: `_let_go`'s usual case, no call
            in_hand.popleft()
        else:
            self._let_go(record)

    def forwarded(self, record: ConsumerRecord) -> None:
        """The application is done with `record` without processing it: it forwarded it to a
        retry or dead-letter topic (not a Kafka call; its offset commits as a processed one's)."""
        self._let_go(record)

    def _let_go(self, record: ConsumerRecord) -> None:
        """`record` leaves the records in hand: records finish in poll order almost always, so
        the head is checked first and the linear remove is the rare case."""
        in_hand = self._in_hand
        if in_hand and in_hand[0] is record:
            in_hand.popleft()
        else:
            with contextlib.suppress(ValueError):
                in_hand.remove(record)

    def in_hand(self, topic: str) -> int:
        """Records of `topic` polled and not yet processed (not a Kafka call)."""
        in_hand = self._in_hand
        if not in_hand:
            return 0  # speed: every sample asks every consumer; most hold nothing
        return sum(1 for r in in_hand if r.topic == topic)

    def crash(self) -> None:
        """Die at once: no commit, no LeaveGroup. The coordinator notices after
        `session.timeout.ms`; until then nobody reads this consumer's partitions."""
        if self._closed:
            return
        self.crashed = True
        self._abandon_in_hand()
        self._closed = True
        self._stop_listening()
        self._waiting = None
        self._heartbeats += 1  # a dead client sends no heartbeat
        if self._member is not None and self._group is not None:
            self._group.member_crashed(self._member)  # type: ignore[arg-type]
            self.recorder.count("kafka.consumer_crashes")

    def close(self) -> None:
        """Commit (with auto-commit) and leave the group: a rebalance starts at once."""
        if self._closed:
            return
        if self._member is None and self.settings.enable_auto_commit and self._group is not None:
            self.commit()  # a member commits while revoking, in _leave
        self._leave("left")
        self._abandon_in_hand()
        self._closed = True
        self._stop_listening()
        self._waiting = None

    def _abandon_in_hand(self) -> None:
        """Records polled but never processed: redelivered later unless their offset is
        already committed, in which case the group will never read them again."""
        recorder = self.recorder
        for record in self._in_hand:
            tp = (record.topic, record.partition)
            committed = max(self.committed(tp) or 0, self._sent_commits.get(tp, 0))
            if record.offset < committed and record.message.state is State.LIVE:
                recorder.lost(record.message, f"{record.topic}-{record.partition}")
        self._in_hand.clear()

    def _leave(self, how: str) -> None:
        member, group = self._member, self._group
        self._out_of_group = False
        if member is None or group is None:
            return
        self._revoke(set(self._assignment))
        self._member = None
        self._heartbeats += 1
        self._pending_target = None
        if isinstance(group, ModernConsumerGroup):
            assert isinstance(member, ModernMember)
            if member.instance_id is not None and how == "left":
                group.static_leave(member)  # a heartbeat with member epoch -2
            else:
                group.leave(member, how)  # a heartbeat with member epoch -1
        else:
            assert isinstance(member, Member)
            if member.instance_id is not None and how == "left":
                group.static_departed(member)  # maybeLeaveGroup: no LeaveGroup when static
            else:
                group.remove(member, how)

    # ----- the group protocol, client side -----
    def _group_poll(self) -> None:
        if self._out_of_group:
            self._rejoin()
        group, member = self._group, self._member
        if group is None or member is None:
            return
        if isinstance(group, ModernConsumerGroup):
            if self._pending_target is not None:
                self._reconcile(self._pending_target)  # the callbacks run in poll
            return
        assert isinstance(member, Member)
        if not group.needs_join(member):
            return
        if not group.cooperative:
            self._revoke(set(self._assignment))  # eager: give everything up before rejoining
        group.join(member)

    # ----- leaving on a poll timeout, and coming back -----
    def _arm_poll_timer(self) -> None:
        if self._poll_timer_armed or self._closed:
            return
        self._poll_timer_armed = True
        due = self._last_poll + self.settings.max_poll_interval - self.env.now
        timer = self.env.timeout(max(due, 0.0))
        timer.callbacks.append(self._poll_timer_fired)

    def _poll_timer_fired(self, _event: Any) -> None:
        self._poll_timer_armed = False
        if self._closed or self._member is None or self._out_of_group:
            return
        now = self.env.now
        if self._waiting is not None:
            self._last_poll = now  # blocked in poll(), waiting for records: that is polling
        if now - self._last_poll >= self.settings.max_poll_interval - 1e-9:
            self._poll_timeout()
            return
        self._arm_poll_timer()

    def _poll_timeout(self) -> None:
        """max.poll.interval.ms passed without a poll: the client leaves the group on its own
        (classic: LeaveGroup from the heartbeat thread; consumer protocol: a leave heartbeat)."""
        member, group = self._member, self._group
        assert member is not None and group is not None
        self.recorder.count("kafka.poll_timeouts")
        self.recorder.event(self.client_id, "left the group (max.poll.interval.ms)")
        how = "left (max.poll.interval.ms)"
        if isinstance(group, ModernConsumerGroup):
            assert isinstance(member, ModernMember)
            if member.instance_id is not None:
                group.static_leave(member)  # leaveGroupEpoch(): -2 for a static member
            else:
                group.leave(member, how)
        else:
            assert isinstance(member, Member)
            if member.instance_id is not None:
                group.static_departed(member)  # no LeaveGroup; its heartbeats stop
            else:
                group.remove(member, how)
        self._put_out_of_group()

    def _put_out_of_group(self) -> None:
        self._member = None
        self._out_of_group = True
        self._heartbeats += 1
        self._pending_target = None
        self.wakeup()

    def _rejoin(self) -> None:
        """Back in poll after being put out: the partitions are lost (no commit can succeed
        for them), then the consumer joins again as a new member."""
        self._out_of_group = False
        lost = set(self._assignment)
        if lost:
            listener = self._listener
            if listener is not None:
                on_lost = getattr(listener, "on_partitions_lost", None)
                if on_lost is not None:
                    on_lost(set(lost))
                else:
                    listener.on_partitions_revoked(set(lost))
            for tp in lost:
                self._positions.pop(tp, None)
            self._assignment.clear()
            self._assignment_changed()
        group, topics = self._group, self._subscription
        if group is not None and topics is not None and not self._closed:
            self._last_poll = self.env.now
            self._join(group, topics)
            self._arm_poll_timer()

    # ----- the consumer protocol, client side (KIP-848) -----
    def _schedule_heartbeat(self, loop: int) -> None:
        timer = self.env.timeout(self.cluster.group_settings.consumer_heartbeat_interval)
        timer.callbacks.append(lambda _e: self._heartbeat_tick(loop))

    def _heartbeat_tick(self, loop: int) -> None:
        if loop != self._heartbeats or self._closed:
            return  # this loop was stopped (left, crashed, rejoined)
        self._heartbeat()
        if loop == self._heartbeats:
            self._schedule_heartbeat(loop)

    def _heartbeat(self) -> None:
        """One ConsumerGroupHeartbeat with what this consumer owns; reconcile the answer."""
        group, member = self._group, self._member
        if not isinstance(group, ModernConsumerGroup) or not isinstance(member, ModernMember):
            return
        assigned = group.heartbeat(member, self._assignment)
        if assigned is None:
            # FENCED_MEMBER_EPOCH / UNKNOWN_MEMBER_ID: no longer a member; rejoin from poll.
            self._put_out_of_group()
            return
        if assigned == self._assignment and self._pending_target is None:
            return
        if self._listener is not None:
            self._pending_target = assigned  # the callbacks wait for the application's poll
            self.wakeup()
            return
        self._reconcile(assigned)

    def _reconcile(self, assigned: frozenset[TopicPartition]) -> None:
        """Revoke what is no longer assigned (commit first, onPartitionsRevoked), take what was
        added (onPartitionsAssigned), and tell the coordinator at once."""
        self._pending_target = None
        revoked = self._assignment - assigned
        added = assigned - self._assignment
        if not revoked and not added:
            return
        if revoked:
            self._revoke(set(revoked))
        if added:
            self._assignment |= added
            self._assignment_changed()
            if self._member is not None and self._group is not None:
                self._group.acquire(self._member, set(added))
            if self._listener is not None:
                self._listener.on_partitions_assigned(set(added))
        self._group_needs_poll()
        self._heartbeat()  # acknowledge: the next step of the reconciliation needs it

    def _revoke(self, partitions: set[TopicPartition]) -> None:
        """ConsumerCoordinator.onJoinPrepare / revocation: commit, tell the listener, drop."""
        if not partitions:
            return
        if self.settings.enable_auto_commit and self._group is not None:
            offsets = {tp: p for tp, p in self._positions.items() if tp in partitions}
            if offsets:
                self.commit(offsets)
            self._next_auto_commit = self.env.now + self.settings.auto_commit_interval
        if self._listener is not None:
            self._listener.on_partitions_revoked(set(partitions))
        for tp in partitions:
            self._positions.pop(tp, None)
        self._assignment -= partitions
        self._assignment_changed()
        if self._member is not None and self._group is not None:
            self._group.release(self._member, partitions)

    def _assignment_received(
        self, granted: set[TopicPartition], revoked: set[TopicPartition]
    ) -> None:
        """SyncGroup answered: drop what must be revoked, start on what was added."""
        if self._closed:
            return
        self._revoke(revoked & self._assignment)
        added = granted - self._assignment
        self._assignment = set(granted)
        self._assignment_changed()
        for tp in list(self._positions):
            if tp not in self._assignment:
                self._positions.pop(tp)
        if self._member is not None and self._group is not None:
            self._group.acquire(self._member, set(granted))
        if added and self._listener is not None:
            self._listener.on_partitions_assigned(set(added))
        self._group_needs_poll()

    # ----- checks -----
    def _check_open(self) -> None:
        if self._closed:
            raise KafkaError("ILLEGAL_STATE", f"consumer {self.client_id} is closed")

    def _require_assigned(self, tp: TopicPartition) -> None:
        if tp not in self._assignment:
            raise KafkaError("ILLEGAL_STATE", f"no current assignment for partition {tp}")

    def __repr__(self) -> str:
        return f"KafkaConsumer({self.client_id!r}, group={self.group_id!r})"
