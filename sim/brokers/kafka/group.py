"""The group coordinator: consumer group membership, rebalances, and committed offsets.

The classic group protocol (JoinGroup / SyncGroup, KIP-62, KIP-429), as the broker's
`GroupCoordinator` and the client's `ConsumerCoordinator` run it:

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

Simplifications: heartbeats always arrive from live members (so `max.poll.interval.ms` never
expires), a dead member is removed exactly `session.timeout.ms` after it crashed (Kafka: within
one `heartbeat.interval.ms` of that), the coordinator itself never fails, and members are
dynamic (no `group.instance.id`).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sim.brokers.kafka.assignors import (
    assign,
    cooperative_assignment,
    cooperative_revocations,
)

if TYPE_CHECKING:
    from sim.brokers.kafka.cluster import KafkaCluster
    from sim.brokers.kafka.consumer import KafkaConsumer

__all__ = ["ConsumerGroup", "GroupCoordinator", "Member", "TopicPartition"]

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

    @property
    def name(self) -> str:
        return self.consumer.client_id


class ConsumerGroup:
    """One consumer group: members, generation, protocol state and committed offsets."""

    def __init__(self, coordinator: GroupCoordinator, group_id: str, strategy: str) -> None:
        self.coordinator = coordinator
        self.cluster = coordinator.cluster
        self.env = coordinator.cluster.env
        self.group_id = group_id
        self.strategy = strategy
        self.members: dict[str, Member] = {}
        self.generation = 0
        self.state = "Empty"  # Empty, PreparingRebalance, CompletingRebalance, Stable
        self.committed: dict[TopicPartition, int] = {}
        self._token = 0  # bumps when a pending SyncGroup is abandoned
        self._delay_until = -math.inf
        self._started_at = 0.0
        self._reason = ""
        self._since: dict[TopicPartition, tuple[str, float]] = {}  # open ownership intervals

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
        member_id = f"{consumer.client_id}-{next(self.coordinator.member_ids)}"
        member = Member(member_id, consumer, list(topics))
        self.members[member_id] = member
        self.coordinator.member_rows.append(
            [self.group_id, member.name, member_id, self.env.now, math.nan, "active"]
        )
        self.request_rebalance(f"{member.name} joined")
        return member

    def remove(self, member: Member, how: str) -> None:
        """A member leaves (LeaveGroup) or is expired after its session timeout."""
        if self.members.get(member.member_id) is not member:
            return
        del self.members[member.member_id]
        self.release(member, set(member.owned))
        for row in reversed(self.coordinator.member_rows):
            if row[2] == member.member_id:
                row[4], row[5] = self.env.now, how
                break
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
        if self.cooperative:
            # CooperativeStickyAssignor withholds what another member still owns; each member
            # revokes what it owns and was not handed (ConsumerCoordinator.onJoinComplete).
            owned = {m.member_id: _by_topic(m.owned) for m in ordered}
            granted = cooperative_assignment(subscriptions, counts, previous, generations)
            revoked = cooperative_revocations(owned, granted)
        else:
            granted = assign(self.strategy, subscriptions, counts, previous, None, generations)
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

    # ----- ownership (what the charts' assignment table shows) -----
    def acquire(self, member: Member, partitions: set[TopicPartition]) -> None:
        now = self.env.now
        for tp in sorted(partitions - member.owned):
            self._since[tp] = (member.name, now)
        member.owned |= partitions

    def release(
        self, member: Member, partitions: set[TopicPartition], keep_owned: bool = False
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

    def close_intervals(self, now: float) -> None:
        rows = self.coordinator.assignment_rows
        for tp, (name, start) in sorted(self._since.items()):
            rows.append([self.group_id, tp[0], tp[1], name, start, now])
        self._since.clear()


class GroupCoordinator:
    """Every consumer group of the cluster, plus the history tables the charts draw."""

    def __init__(
        self, cluster: KafkaCluster, initial_rebalance_delay: float, rebalance_time: float
    ) -> None:
        self.cluster = cluster
        self.initial_rebalance_delay = initial_rebalance_delay
        self.rebalance_time = rebalance_time
        self.groups: dict[str, ConsumerGroup] = {}
        self.member_ids = itertools.count(1)
        # History for Results.tables (plain rows; pandas only at the end of a run).
        self.assignment_rows: list[list[Any]] = []
        self.member_rows: list[list[Any]] = []
        self.rebalance_rows: list[list[Any]] = []

    def group(self, group_id: str, strategy: str = "range") -> ConsumerGroup:
        found = self.groups.get(group_id)
        if found is None:
            found = self.groups[group_id] = ConsumerGroup(self, group_id, strategy)
        return found

    def committed(self, group_id: str, tp: TopicPartition) -> int | None:
        group = self.groups.get(group_id)
        return None if group is None else group.committed.get(tp)

    def finish(self) -> None:
        """Close the ownership intervals still open at the end of a run."""
        now = self.cluster.env.now
        for group in self.groups.values():
            group.close_intervals(now)


def _by_topic(partitions: set[TopicPartition]) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for topic, p in sorted(partitions):
        out.setdefault(topic, []).append(p)
    return out


def _flatten(assignment: dict[str, list[int]]) -> set[TopicPartition]:
    return {(topic, p) for topic, parts in assignment.items() for p in parts}
