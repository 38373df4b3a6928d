"""The group coordinator: consumer group membership, rebalances, and committed offsets.

Two protocols, chosen per group by its members' `group.protocol` (KIP-848). The classic group
protocol (JoinGroup / SyncGroup, KIP-62, KIP-429), as the broker's `GroupCoordinator` and the
client's `ConsumerCoordinator` run it:

- A rebalance starts when a member joins, leaves (LeaveGroup), or is found dead because no
  heartbeat came for `session.timeout.ms`. The group goes to PreparingRebalance and every member
  must rejoin; a member notices during its next `poll()` (heartbeats tell it), so a member busy
  processing a batch rejoins only when it polls again. The first rebalance of an empty group
  waits `group.initial.rebalance.delay.ms` (3 s by default) for more members.
- Once every member has rejoined, the leader runs the assignor (`sim.brokers.kafka.assign`, the
  Java client's algorithms: `assignors.DEFAULT_CLIENT`) and SyncGroup hands out the result;
  `rebalance_time` models the protocol's own round trips.
- Eager protocol (range, roundrobin, sticky): each member revokes *all* its partitions when it
  rejoins (committing first), so the whole group stops until SyncGroup. Cooperative protocol
  (cooperative-sticky): members keep consuming what they own; SyncGroup withholds partitions
  still owned by another member, the owners revoke only those, and a second rebalance hands
  them over (`cooperative_assignment`, `cooperative_revocations`).
- Offsets are committed per (group, partition); the coordinator keeps the latest.

Static membership (KIP-345, `group.instance.id`; `GroupCoordinator.handleJoinGroup` and
`updateStaticMemberAndRebalance`, `AbstractCoordinator.maybeLeaveGroup`): a static member sends no
LeaveGroup when it closes, crashes or misses `max.poll.interval.ms`; the coordinator keeps it
until `session.timeout.ms` passes without it. A new member with the same instance id replaces it
(the old member id is fenced); when the group is Stable and the subscription is the same, the
replacement gets the old member's assignment back in SyncGroup and nobody else rebalances.
Otherwise (a rebalance already running, a new subscription) it joins the rebalance as any member.
The assignors order static members first, by instance id (`assignors.assign`).

Classic simplifications: heartbeats always arrive from live members, a dead member is removed
exactly `session.timeout.ms` after it crashed (Kafka: within one `heartbeat.interval.ms` of that),
and the coordinator itself never fails. A dynamic member that goes longer than
`max.poll.interval.ms` between polls leaves the group (its heartbeat thread sends LeaveGroup,
`AbstractCoordinator.maybeLeaveGroup("consumer poll timeout has expired")`) and rejoins as a new
member when it polls again: the consumer client decides that.

The consumer protocol (`group.protocol=consumer`, KIP-848; `GroupMetadataManager.
consumerGroupHeartbeat`, `CurrentAssignmentBuilder` at apache/kafka 1eb7644) is
`ModernConsumerGroup`: there is no JoinGroup/SyncGroup and no group-wide barrier. Each member
heartbeats every `group.consumer.heartbeat.interval.ms` (5 s), sending what it owns. A change of
membership or subscription bumps the group epoch; the next heartbeat after it computes a new
target assignment with a broker-side assignor (`group.consumer.assignors`: uniform, range), and
each member's heartbeat reconciles that member alone (`next_member_assignment`): it first revokes
the partitions it must give up (the others keep consuming), and a partition is handed to its new
owner only once its old owner has reported it revoked. A member that does not revoke within its
rebalance timeout (its `max.poll.interval.ms`) is fenced, and one that sends no heartbeat for
`group.consumer.session.timeout.ms` (45 s) is removed. Heartbeats and their answers take no time
here (the classic protocol's `rebalance_time` does not apply), and the target assignment is
computed at the first heartbeat after the epoch changed, as `consumerGroupHeartbeat` does
(Kafka 4.x's optional `consumer.assignment.interval.ms` batching is not modelled).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sim.brokers.kafka.assignors import (
    assign,
    cooperative_assignment,
    cooperative_revocations,
    java_hash_map_order,
    server_assign,
)
from sim.brokers.kafka.settings import GroupCoordinatorSettings

if TYPE_CHECKING:
    from sim.brokers.kafka.cluster import KafkaCluster
    from sim.brokers.kafka.consumer import KafkaConsumer

__all__ = [
    "ConsumerGroup",
    "GroupCoordinator",
    "Member",
    "MemberState",
    "ModernConsumerGroup",
    "ModernMember",
    "Reconciled",
    "TopicPartition",
    "next_member_assignment",
]

TopicPartition = tuple[str, int]
COOPERATIVE = frozenset({"cooperative-sticky"})


@dataclass(eq=False)
class Member:
    """The coordinator's view of one group member."""

    member_id: str
    consumer: KafkaConsumer
    topics: list[str]
    alive: bool = True
    joined: bool = False  # has rejoined the rebalance in progress
    owned: set[TopicPartition] = field(default_factory=set)  # what it consumes now
    previous: set[TopicPartition] = field(default_factory=set)  # last generation's assignment
    generation: int = -1
    instance_id: str | None = None  # group.instance.id: a static member (KIP-345)

    @property
    def name(self) -> str:
        return self.consumer.client_id


class _Group:
    """What every consumer group keeps, whatever its protocol: committed offsets and who
    consumed which partition when (the intervals the charts' assignment table shows)."""

    protocol = "classic"

    def __init__(self, coordinator: GroupCoordinator, group_id: str) -> None:
        self.coordinator = coordinator
        self.cluster = coordinator.cluster
        self.env = coordinator.cluster.env
        self.group_id = group_id
        self.committed: dict[TopicPartition, int] = {}
        # Speed: bumped by every commit, whoever makes it, so that a consumer can tell that
        # nobody else wrote offsets since its own last commit (KafkaConsumer.commit).
        self.commit_count = 0
        self._since: dict[TopicPartition, tuple[str, float]] = {}  # open ownership intervals

    # ----- ownership (what the charts' assignment table shows) -----
    def acquire(self, member: Any, partitions: set[TopicPartition]) -> None:
        now = self.env.now
        for tp in sorted(partitions - member.owned):
            self._since[tp] = (member.name, now)
        member.owned |= partitions

    def release(
        self, member: Any, partitions: set[TopicPartition], keep_owned: bool = False
    ) -> None:
        now = self.env.now
        rows = self.coordinator.assignment_rows
        for tp in sorted(partitions & member.owned):
            opened = self._since.pop(tp, None)
            if opened is not None and opened[0] == member.name:
                rows.append([self.group_id, tp[0], tp[1], member.name, opened[1], now])
        if not keep_owned:
            member.owned -= partitions

    # ----- offsets -----
    def commit(self, offsets: dict[TopicPartition, int]) -> None:
        self.committed.update(offsets)
        self.commit_count += 1

    def close_intervals(self, now: float) -> None:
        rows = self.coordinator.assignment_rows
        for tp, (name, start) in sorted(self._since.items()):
            rows.append([self.group_id, tp[0], tp[1], name, start, now])
        self._since.clear()

    def _member_left(self, member_id: str, how: str) -> None:
        """Close the member's row of the members table."""
        for row in reversed(self.coordinator.member_rows):
            if row[2] == member_id:
                row[4], row[5] = self.env.now, how
                break


class ConsumerGroup(_Group):
    """One classic consumer group: members, generation, protocol state and committed offsets."""

    def __init__(self, coordinator: GroupCoordinator, group_id: str, strategy: str) -> None:
        super().__init__(coordinator, group_id)
        self.strategy = strategy
        self.members: dict[str, Member] = {}
        self.static: dict[str, Member] = {}  # group.instance.id -> its current member
        self.generation = 0
        self.state = "Empty"  # Empty, PreparingRebalance, CompletingRebalance, Stable
        self._token = 0  # bumps when a pending SyncGroup is abandoned
        self._delay_until = -math.inf
        self._started_at = 0.0
        self._reason = ""

    @property
    def cooperative(self) -> bool:
        return self.strategy in COOPERATIVE

    @property
    def rebalancing(self) -> bool:
        return self.state in ("PreparingRebalance", "CompletingRebalance")

    # ----- membership -----
    def add(self, consumer: KafkaConsumer, topics: list[str]) -> Member:
        if consumer.strategy != self.strategy:
            if self.members:
                raise ValueError(
                    f"group {self.group_id!r} uses {self.strategy!r}; a member asking for "
                    f"{consumer.strategy!r} cannot join (INCONSISTENT_GROUP_PROTOCOL)"
                )
            self.strategy = consumer.strategy
        instance = _instance_id(consumer)
        old = self.static.get(instance) if instance is not None else None
        if old is not None and self.members.get(old.member_id) is old:
            return self._replace_static(old, consumer, list(topics))
        member_id = self._new_member_id(consumer)
        member = Member(member_id, consumer, list(topics), instance_id=instance)
        self.members[member_id] = member
        if instance is not None:
            self.static[instance] = member
        self.coordinator.member_rows.append(
            [self.group_id, member.name, member_id, self.env.now, math.nan, "active"]
        )
        self.request_rebalance(f"{member.name} joined")
        return member

    def _new_member_id(self, consumer: KafkaConsumer) -> str:
        # Kafka makes `<client.id>-<uuid>`, or `<group.instance.id>-<uuid>` for a static member.
        prefix = _instance_id(consumer) or consumer.client_id
        return f"{prefix}-{next(self.coordinator.member_ids)}"

    def _replace_static(self, old: Member, consumer: KafkaConsumer, topics: list[str]) -> Member:
        """A static member rejoins (``updateStaticMemberAndRebalance``): the new member id
        replaces the old one, which is fenced; in a Stable group with the same subscription it
        gets its previous assignment back and nobody else rebalances."""
        del self.members[old.member_id]
        self.release(old, set(old.owned))
        self._member_left(old.member_id, "replaced (static member rejoined)")
        member = Member(
            self._new_member_id(consumer),
            consumer,
            topics,
            previous=set(old.previous),
            generation=old.generation,
            instance_id=old.instance_id,
        )
        self.members[member.member_id] = member
        assert member.instance_id is not None
        self.static[member.instance_id] = member
        self.coordinator.member_rows.append(
            [self.group_id, member.name, member.member_id, self.env.now, math.nan, "active"]
        )
        self.cluster.recorder.count("kafka.static_rejoins")
        if self.state == "Stable" and topics == old.topics:
            member.joined = True
            generation = self.generation
            timer = self.env.timeout(self.coordinator.rebalance_time)  # JoinGroup, SyncGroup
            timer.callbacks.append(lambda _e: self._static_sync(member, generation))
        else:
            self.request_rebalance(f"{member.name} rejoined")
        return member

    def _static_sync(self, member: Member, generation: int) -> None:
        """SyncGroup answers the static member with the assignment its predecessor had."""
        if self.members.get(member.member_id) is not member or not member.alive:
            return
        if self.state != "Stable" or self.generation != generation:
            return  # a rebalance started meanwhile: the member takes part in it instead
        member.consumer._assignment_received(set(member.previous), set())

    def static_departed(self, member: Member) -> None:
        """A static member closed, or stopped heartbeating after a poll timeout, without a
        LeaveGroup: it stays in the group, its partitions unread, until it rejoins or its
        session times out."""
        if self.members.get(member.member_id) is not member:
            return
        member.alive = False
        self.release(member, set(member.owned), keep_owned=True)
        timer = self.env.timeout(member.consumer.settings.session_timeout)
        timer.callbacks.append(lambda _e: self.remove(member, "session timeout"))

    def remove(self, member: Member, how: str) -> None:
        """A member leaves (LeaveGroup) or is expired after its session timeout."""
        if self.members.get(member.member_id) is not member:
            return
        del self.members[member.member_id]
        if member.instance_id is not None and self.static.get(member.instance_id) is member:
            del self.static[member.instance_id]
        self.release(member, set(member.owned))
        self._member_left(member.member_id, how)
        if not self.members:
            self.state = "Empty"
            self._token += 1
            return
        self.request_rebalance(f"{member.name} {how}")

    def member_crashed(self, member: Member) -> None:
        """The member died: it stops consuming now; the coordinator notices later."""
        member.alive = False
        self.release(member, set(member.owned), keep_owned=True)
        timeout = member.consumer.settings.session_timeout
        timer = self.env.timeout(timeout)
        timer.callbacks.append(lambda _e: self.remove(member, "crashed"))

    # ----- the protocol -----
    def request_rebalance(self, reason: str) -> None:
        if self.state == "PreparingRebalance":
            self._maybe_complete_join()
            return
        initial = self.state == "Empty"
        if self.state == "CompletingRebalance":
            self._token += 1  # a member arrived before SyncGroup: start over
        self.state = "PreparingRebalance"
        self._started_at = self.env.now
        self._reason = reason
        self.cluster.recorder.count("kafka.rebalances")
        for member in self.members.values():
            member.joined = False
        if initial and self.coordinator.initial_rebalance_delay > 0:
            self._delay_until = self.env.now + self.coordinator.initial_rebalance_delay
            timer = self.env.timeout(self.coordinator.initial_rebalance_delay)
            timer.callbacks.append(lambda _e: self._maybe_complete_join())
        for member in list(self.members.values()):
            if member.alive:
                member.consumer._group_needs_poll()
        self._maybe_complete_join()

    def join(self, member: Member) -> None:
        """The member rejoins (from its poll). Eager members have revoked everything first."""
        if self.state != "PreparingRebalance" or member.joined:
            return
        member.joined = True
        self._maybe_complete_join()

    def needs_join(self, member: Member) -> bool:
        return self.state == "PreparingRebalance" and not member.joined

    def _maybe_complete_join(self) -> None:
        if self.state != "PreparingRebalance" or self.env.now < self._delay_until:
            return
        if not self.members or any(not m.joined for m in self.members.values()):
            return
        ordered = sorted(self.members.values(), key=lambda m: m.member_id)
        subscriptions = {m.member_id: m.topics for m in ordered}
        topics = sorted({t for m in ordered for t in m.topics})
        counts: dict[str, int | None] = {
            t: (len(self.cluster.topics[t].partitions) if t in self.cluster.topics else None)
            for t in topics
        }
        previous = {m.member_id: _by_topic(m.previous | m.owned) for m in ordered}
        generations = {m.member_id: m.generation for m in ordered}
        instances = {m.member_id: m.instance_id for m in ordered}
        if self.cooperative:
            # CooperativeStickyAssignor withholds what another member still owns; each member
            # revokes what it owns and was not handed (ConsumerCoordinator.onJoinComplete).
            owned = {m.member_id: _by_topic(m.owned) for m in ordered}
            granted = cooperative_assignment(subscriptions, counts, previous, generations)
            revoked = cooperative_revocations(owned, granted)
        else:
            granted = assign(self.strategy, subscriptions, counts, previous, instances, generations)
            revoked = {m.member_id: {} for m in ordered}
        self.state = "CompletingRebalance"
        self._token += 1
        token = self._token
        timer = self.env.timeout(self.coordinator.rebalance_time)
        timer.callbacks.append(lambda _e: self._sync(token, granted, revoked))

    def _sync(self, token: int, granted: dict[str, Any], revoked: dict[str, Any]) -> None:
        if token != self._token or self.state != "CompletingRebalance":
            return
        self.generation += 1
        self.state = "Stable"
        self.coordinator.rebalance_rows.append(
            [
                self.group_id,
                self.generation,
                self._started_at,
                self.env.now,
                len(self.members),
                self.strategy,
                self._reason,
            ]
        )
        more = False
        for member_id, member in list(self.members.items()):
            give = _flatten(granted.get(member_id, {}))
            take = _flatten(revoked.get(member_id, {}))
            member.generation = self.generation
            member.previous = set(give)
            if take:
                more = True
            if member.alive:
                member.consumer._assignment_received(give, take)
        if more:
            # Cooperative: the revoked partitions are handed over by a follow-up rebalance.
            self.request_rebalance("cooperative follow-up")


# ----------------------------------------------------------------------------------------------
# The consumer group protocol (group.protocol=consumer, KIP-848)


class MemberState:
    """``org.apache.kafka.coordinator.group.modern.MemberState`` of a consumer-protocol member."""

    STABLE = "STABLE"  # reconciled to the target epoch
    UNREVOKED_PARTITIONS = "UNREVOKED_PARTITIONS"  # must revoke some partitions first
    UNRELEASED_PARTITIONS = "UNRELEASED_PARTITIONS"  # waits for partitions others still own


@dataclass(frozen=True)
class Reconciled:
    """A member's next state, as ``CurrentAssignmentBuilder.build`` returns it."""

    state: str
    epoch: int
    assigned: frozenset[TopicPartition]
    pending_revocation: frozenset[TopicPartition]


def next_member_assignment(
    state: str,
    epoch: int,
    assigned: Iterable[TopicPartition],
    pending_revocation: Iterable[TopicPartition],
    target_epoch: int,
    target: Iterable[TopicPartition],
    owned: Iterable[TopicPartition] | None,
    partition_epoch: Callable[[TopicPartition], int],
) -> Reconciled:
    """The reconciliation engine of the consumer protocol: ``CurrentAssignmentBuilder``.

    A member moves towards its target one step per heartbeat. It keeps what is in both its
    assignment and the target; what it has and the target does not is *pending revocation*: while
    it still reports owning any of it (`owned`, from its heartbeat; None: not reported), it stays in
    its epoch in UNREVOKED_PARTITIONS. Then it moves to the target epoch and gets the target's
    other partitions, except those another member still holds (`partition_epoch` is not -1):
    those are *unreleased*, and it waits for them in UNRELEASED_PARTITIONS.
    """
    assigned = frozenset(assigned)
    pending = frozenset(pending_revocation)
    wanted = frozenset(target)
    reported = None if owned is None else frozenset(owned)

    def owns_any(partitions: frozenset[TopicPartition]) -> bool:
        return reported is None or not reported.isdisjoint(partitions)

    def compute(member_epoch: int) -> Reconciled:
        kept = assigned & wanted
        revoke = assigned - kept
        waiting = wanted - kept
        unreleased = frozenset(tp for tp in waiting if partition_epoch(tp) != -1)
        waiting -= unreleased
        if revoke and owns_any(revoke):
            return Reconciled(MemberState.UNREVOKED_PARTITIONS, member_epoch, kept, revoke)
        if waiting:
            state = MemberState.UNRELEASED_PARTITIONS if unreleased else MemberState.STABLE
            return Reconciled(state, target_epoch, kept | waiting, frozenset())
        if unreleased:
            return Reconciled(MemberState.UNRELEASED_PARTITIONS, target_epoch, kept, frozenset())
        return Reconciled(MemberState.STABLE, target_epoch, kept, frozenset())

    if state == MemberState.STABLE:
        if epoch != target_epoch:
            return compute(epoch)
        return Reconciled(state, epoch, assigned, pending)
    if state == MemberState.UNREVOKED_PARTITIONS:
        if owns_any(pending):
            return Reconciled(state, epoch, assigned, pending)
        return compute(epoch + 1)
    if state == MemberState.UNRELEASED_PARTITIONS:
        return compute(epoch)
    raise ValueError(f"unknown member state {state!r}")


@dataclass(eq=False)
class ModernMember:
    """The coordinator's view of one consumer-protocol member (``ConsumerGroupMember``)."""

    member_id: str
    consumer: KafkaConsumer
    topics: list[str]
    assignor: str | None  # its group.remote.assignor
    rebalance_timeout: float  # its max.poll.interval.ms
    epoch: int = 0
    state: str = MemberState.STABLE
    assigned: frozenset[TopicPartition] = frozenset()
    pending_revocation: frozenset[TopicPartition] = frozenset()
    owned: set[TopicPartition] = field(default_factory=set)  # what it consumes (intervals)
    alive: bool = True
    last_heartbeat: float = -math.inf
    session_token: int = 0  # bumps with every heartbeat: a stale session timer does nothing
    revocation_token: int = 0  # bumps when it leaves UNREVOKED_PARTITIONS
    instance_id: str | None = None  # group.instance.id: a static member

    @property
    def name(self) -> str:
        return self.consumer.client_id

    @property
    def departed(self) -> bool:
        """A static member that left with epoch -2 and may come back within its session."""
        return self.epoch == LEAVE_GROUP_STATIC_MEMBER_EPOCH


#: ``ConsumerGroupHeartbeatRequest.LEAVE_GROUP_STATIC_MEMBER_EPOCH``: the epoch a static member
#: leaves with when it means to come back (KIP-848, "Static Membership").
LEAVE_GROUP_STATIC_MEMBER_EPOCH = -2


class ModernConsumerGroup(_Group):
    """One consumer group on the consumer protocol: group epoch, target assignment, and per
    member its own epoch and reconciliation state. No member ever waits for another to join."""

    protocol = "consumer"

    def __init__(self, coordinator: GroupCoordinator, group_id: str) -> None:
        super().__init__(coordinator, group_id)
        self.members: dict[str, ModernMember] = {}
        self.group_epoch = 0
        self.assignment_epoch = 0
        self.target: dict[str, frozenset[TopicPartition]] = {}
        # ConsumerGroup.currentPartitionEpoch: the epoch of the member that has a partition
        # assigned or pending revocation; a partition missing here is free.
        self.partition_epochs: dict[TopicPartition, int] = {}
        self._rebalance: tuple[float, str] | None = None  # (started, reason) of the open epoch
        self.static: dict[str, ModernMember] = {}  # ConsumerGroup.staticMembers: instance id

    @property
    def settings(self) -> GroupCoordinatorSettings:
        return self.coordinator.settings

    @property
    def assignor(self) -> str:
        """``computePreferredServerAssignor``: the assignor most members ask for, else the
        first of ``group.consumer.assignors``."""
        asked = [m.assignor for m in self.members.values() if m.assignor is not None]
        if not asked:
            return self.settings.consumer_assignors[0]
        return max(sorted(set(asked)), key=asked.count)

    # ----- membership -----
    def join(
        self,
        consumer: KafkaConsumer,
        topics: list[str],
        assignor: str | None,
        rebalance_timeout: float,
    ) -> ModernMember:
        """A member joins (its first heartbeat, epoch 0, follows from the client). Kafka 4.x
        clients make up their member id (KIP-1082); here it is the client id and a number."""
        if assignor is not None and assignor not in self.settings.consumer_assignors:
            raise ValueError(
                f"group.remote.assignor {assignor!r} is not one of the broker's "
                f"group.consumer.assignors ({', '.join(self.settings.consumer_assignors)}): "
                "UNSUPPORTED_ASSIGNOR"
            )
        instance = _instance_id(consumer)
        if instance is not None:
            old = self.static.get(instance)
            if old is not None and self.has(old):
                return self._replace_static(
                    old, consumer, list(topics), assignor, rebalance_timeout
                )
        member_id = f"{consumer.client_id}-{next(self.coordinator.member_ids)}"
        member = ModernMember(member_id, consumer, list(topics), assignor, rebalance_timeout)
        member.instance_id = instance
        self.members[member_id] = member
        if instance is not None:
            self.static[instance] = member
        self.coordinator.member_rows.append(
            [self.group_id, member.name, member_id, self.env.now, math.nan, "active"]
        )
        self._bump(f"{member.name} joined")
        return member

    def _replace_static(
        self,
        old: ModernMember,
        consumer: KafkaConsumer,
        topics: list[str],
        assignor: str | None,
        rebalance_timeout: float,
    ) -> ModernMember:
        """A static member comes back (GroupMetadataManager
        ``getOrMaybeSubscribeStaticConsumerGroupMember``). If its predecessor left with epoch -2,
        the new member is a copy of it under a new member id, epoch 0, with the same assignment
        and target (``replaceMember``): no new group epoch, so nobody else moves. If the
        predecessor did not leave (it crashed and its session has not expired), the instance id
        is still in use: UNRELEASED_INSTANCE_ID (``throwIfInstanceIdIsUnreleased``)."""
        if not old.departed:
            from sim.brokers.kafka.cluster import KafkaError

            raise KafkaError(
                "UNRELEASED_INSTANCE_ID",
                f"instance id {old.instance_id!r} is still owned by member {old.member_id}",
            )
        member_id = f"{consumer.client_id}-{next(self.coordinator.member_ids)}"
        member = ModernMember(member_id, consumer, list(topics), assignor, rebalance_timeout)
        member.instance_id = old.instance_id
        member.assigned = old.assigned
        old.session_token += 1  # the predecessor's session timer does nothing now
        old.revocation_token += 1
        self._drop_epochs(old)
        del self.members[old.member_id]
        self.members[member_id] = member
        assert member.instance_id is not None
        self.static[member.instance_id] = member
        epochs = self.partition_epochs
        for tp in member.assigned:
            epochs[tp] = member.epoch
        self.target[member_id] = self.target.pop(old.member_id, frozenset())
        self._member_left(old.member_id, "replaced (static member rejoined)")
        self.coordinator.member_rows.append(
            [self.group_id, member.name, member_id, self.env.now, math.nan, "active"]
        )
        self.cluster.recorder.count("kafka.static_rejoins")
        if member.topics != old.topics or member.assignor != old.assignor:
            self._bump(f"{member.name} rejoined with a new subscription")
        return member

    def static_leave(self, member: ModernMember) -> None:
        """A static member leaves meaning to come back: a heartbeat with member epoch -2
        (``ConsumerMembershipManager.leaveGroupEpoch``, on close and when the poll timer
        expires). The coordinator keeps it with its assignment (``consumerGroupStaticMember
        GroupLeave``): no new group epoch, its partitions unread, until it rejoins or its session
        times out (the session timer of its last heartbeat still runs)."""
        if not self.has(member):
            return
        self._drop_epochs(member)
        member.epoch = LEAVE_GROUP_STATIC_MEMBER_EPOCH
        member.state = MemberState.STABLE
        member.pending_revocation = frozenset()
        member.revocation_token += 1
        epochs = self.partition_epochs
        for tp in member.assigned:
            epochs[tp] = member.epoch
        member.alive = False
        self.release(member, set(member.owned))
        self._maybe_settled()

    def resubscribe(self, member: ModernMember, topics: list[str]) -> None:
        if member.topics != topics:
            member.topics = list(topics)
            self._bump(f"{member.name} changed its subscription")

    def leave(self, member: ModernMember, how: str = "left") -> None:
        """The member leaves (a heartbeat with epoch -1) or is fenced or expired."""
        if self.members.get(member.member_id) is not member:
            return
        del self.members[member.member_id]
        if member.instance_id is not None and self.static.get(member.instance_id) is member:
            del self.static[member.instance_id]
        self._drop_epochs(member)
        self.target.pop(member.member_id, None)
        member.session_token += 1
        member.revocation_token += 1
        self.release(member, set(member.owned), keep_owned=not member.alive)
        self._member_left(member.member_id, how)
        self._bump(f"{member.name} {how}")

    def member_crashed(self, member: ModernMember) -> None:
        """The member died: nobody reads its partitions until its session times out."""
        member.alive = False
        self.release(member, set(member.owned), keep_owned=True)

    def has(self, member: ModernMember) -> bool:
        return self.members.get(member.member_id) is member

    # ----- heartbeats -----
    def heartbeat(
        self, member: ModernMember, owned: Iterable[TopicPartition]
    ) -> frozenset[TopicPartition] | None:
        """One ConsumerGroupHeartbeat with the partitions the member owns now. Answers the
        partitions it is assigned now, or None when it is no longer a member (fenced:
        FENCED_MEMBER_EPOCH / UNKNOWN_MEMBER_ID, so it must rejoin)."""
        if not self.has(member):
            return None
        member.last_heartbeat = self.env.now
        member.session_token += 1
        token = member.session_token
        timer = self.env.timeout(self.settings.consumer_session_timeout)
        timer.callbacks.append(lambda _e: self._session_expired(member, token))
        if self.group_epoch > self.assignment_epoch:
            self._compute_target()
        self._reconcile(member, set(owned))
        return member.assigned

    def _session_expired(self, member: ModernMember, token: int) -> None:
        if member.session_token == token and self.has(member):
            crashed = not member.alive and not member.departed
            self.leave(member, "crashed" if crashed else "session timeout")

    def _reconcile(self, member: ModernMember, owned: set[TopicPartition]) -> None:
        """``maybeReconcile``: one step of `next_member_assignment` for this member."""
        if member.state == MemberState.STABLE and member.epoch == self.assignment_epoch:
            return
        epochs = self.partition_epochs
        result = next_member_assignment(
            member.state,
            member.epoch,
            member.assigned,
            member.pending_revocation,
            self.assignment_epoch,
            self.target.get(member.member_id, frozenset()),
            owned,
            lambda tp: epochs.get(tp, -1),
        )
        was_unrevoked = member.state == MemberState.UNREVOKED_PARTITIONS
        self._drop_epochs(member)
        member.state, member.epoch = result.state, result.epoch
        member.assigned, member.pending_revocation = result.assigned, result.pending_revocation
        for tp in member.assigned | member.pending_revocation:
            epochs[tp] = member.epoch
        if member.state == MemberState.UNREVOKED_PARTITIONS and not was_unrevoked:
            # scheduleConsumerGroupRebalanceTimeout: revoke within the rebalance timeout (the
            # member's max.poll.interval.ms) or be fenced.
            member.revocation_token += 1
            token, epoch = member.revocation_token, member.epoch
            timer = self.env.timeout(member.rebalance_timeout)
            timer.callbacks.append(lambda _e: self._revocation_expired(member, token, epoch))
        elif member.state != MemberState.UNREVOKED_PARTITIONS:
            member.revocation_token += 1
        self._maybe_settled()

    def _revocation_expired(self, member: ModernMember, token: int, epoch: int) -> None:
        if member.revocation_token == token and member.epoch == epoch and self.has(member):
            self.coordinator.cluster.recorder.count("kafka.members_fenced")
            self.leave(member, "fenced (rebalance timeout)")

    def _drop_epochs(self, member: ModernMember) -> None:
        epochs = self.partition_epochs
        for tp in member.assigned | member.pending_revocation:
            if epochs.get(tp) == member.epoch:
                del epochs[tp]

    # ----- epochs and the target assignment -----
    def _bump(self, reason: str) -> None:
        """A membership or subscription change: a new group epoch, a new target to come."""
        self.group_epoch += 1
        self.cluster.recorder.count("kafka.rebalances")
        if self._rebalance is None:
            self._rebalance = (self.env.now, reason)

    def _compute_target(self) -> None:
        """``updateTargetAssignment``: the broker-side assignor over the members, in the order
        of the ``HashMap`` the coordinator hands it, each with its previous target."""
        ordered = java_hash_map_order(self.members)
        subscriptions = {mid: self.members[mid].topics for mid in ordered}
        topics = self.cluster.topics
        counts: dict[str, int | None] = {
            t: (len(topics[t].partitions) if t in topics else None)
            for mid in ordered
            for t in subscriptions[mid]
        }
        current = {mid: _by_topic(set(self.target.get(mid, frozenset()))) for mid in ordered}
        result = server_assign(self.assignor, subscriptions, counts, current)
        self.target = {mid: frozenset(_flatten(result.get(mid, {}))) for mid in ordered}
        self.assignment_epoch = self.group_epoch

    def _maybe_settled(self) -> None:
        """The rebalance ends when every member is stable at the current epoch."""
        if self._rebalance is None or self.assignment_epoch != self.group_epoch:
            return
        for m in self.members.values():
            if m.departed:
                continue  # away: it reconciles when it comes back
            if m.state != MemberState.STABLE or m.epoch != self.group_epoch:
                return
        started, reason = self._rebalance
        self._rebalance = None
        self.coordinator.rebalance_rows.append(
            [
                self.group_id,
                self.group_epoch,
                started,
                self.env.now,
                len(self.members),
                f"consumer/{self.assignor}",
                reason,
            ]
        )


class GroupCoordinator:
    """Every consumer group of the cluster, plus the history tables the charts draw."""

    def __init__(
        self,
        cluster: KafkaCluster,
        initial_rebalance_delay: float,
        rebalance_time: float,
        settings: GroupCoordinatorSettings | None = None,
    ) -> None:
        self.cluster = cluster
        self.initial_rebalance_delay = initial_rebalance_delay
        self.rebalance_time = rebalance_time
        self.settings = settings if settings is not None else GroupCoordinatorSettings()
        self.groups: dict[str, ConsumerGroup | ModernConsumerGroup] = {}
        self.member_ids = itertools.count(1)
        # History for Results.tables (plain rows; pandas only at the end of a run).
        self.assignment_rows: list[list[Any]] = []
        self.member_rows: list[list[Any]] = []
        self.rebalance_rows: list[list[Any]] = []

    def group(
        self, group_id: str, strategy: str = "range", protocol: str = "classic"
    ) -> ConsumerGroup | ModernConsumerGroup:
        """The group `group_id`, created on first use with the protocol of its first member."""
        found = self.groups.get(group_id)
        if found is None:
            shares = self.cluster._share_coordinator
            if shares is not None and group_id in shares.groups:
                from sim.brokers.kafka.cluster import KafkaError

                raise KafkaError("INCONSISTENT_GROUP_PROTOCOL", f"{group_id!r} is a share group")
            if protocol == "consumer":
                found = ModernConsumerGroup(self, group_id)
            else:
                found = ConsumerGroup(self, group_id, strategy)
            self.groups[group_id] = found
        return found

    def committed(self, group_id: str, tp: TopicPartition) -> int | None:
        group = self.groups.get(group_id)
        return None if group is None else group.committed.get(tp)

    def finish(self) -> None:
        """Close the ownership intervals still open at the end of a run."""
        now = self.cluster.env.now
        for group in self.groups.values():
            group.close_intervals(now)


def _instance_id(consumer: Any) -> str | None:
    """The member's group.instance.id (None: a dynamic member)."""
    settings = getattr(consumer, "settings", None)
    return getattr(settings, "group_instance_id", None)


def _by_topic(partitions: set[TopicPartition]) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for topic, p in sorted(partitions):
        out.setdefault(topic, []).append(p)
    return out


def _flatten(assignment: dict[str, list[int]]) -> set[TopicPartition]:
    return {(topic, p) for topic, parts in assignment.items() for p in parts}
