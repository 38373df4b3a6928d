"""Kafka consumer-group partition assignors as pure functions.

The group leader runs an assignor over every member's subscription and the topics' partition
counts; the result decides which consumer reads which partition, so the simulator has to
reproduce it exactly, ties included. Implemented strategies:

``range``
    ``org.apache.kafka.clients.consumer.RangeAssignor`` (rack-unaware). Per topic, members that
    subscribe to it are sorted and each takes a contiguous range; the first ``n % m`` members get
    one extra partition.
``roundrobin``
    ``org.apache.kafka.clients.consumer.RoundRobinAssignor``. All partitions sorted by (topic,
    partition) are dealt to the sorted members in a circle, skipping members that do not
    subscribe to the partition's topic.
``sticky``
    ``org.apache.kafka.clients.consumer.StickyAssignor`` (KIP-54, KIP-341): balance first, then
    keep as many previously owned partitions as possible.
``cooperative-sticky``
    ``org.apache.kafka.clients.consumer.CooperativeStickyAssignor`` (KIP-429). Same target as
    ``sticky``; what differs is the protocol: partitions that change owner are first revoked
    and only handed to the new owner in a second rebalance (:func:`cooperative_assignment` is
    what the first round hands out, :func:`cooperative_revocations` what members give up).

Two implementations of the sticky algorithm, chosen with ``client`` (the leader's client
library decides which one runs, since the assignor runs in the leader):

``"java"`` (the default, :data:`DEFAULT_CLIENT`)
    ``AbstractStickyAssignor`` of the Java client, ported from apache/kafka at tag
    ``3.9.0-rc3`` (the newest release tag in the mirror we read; its ``AbstractStickyAssignor``,
    ``StickyAssignor`` and ``CooperativeStickyAssignor`` are unchanged on trunk at
    4.0.0-SNAPSHOT, commit 1eb7644). Two paths: when every member subscribes to the same
    topics, ``ConstrainedAssignmentBuilder`` (quotas, then round robin); otherwise
    ``GeneralAssignmentBuilder`` (greedy, then rebalancing moves). Rack-unaware: members have
    no ``client.rack``, so ``RackInfo`` is empty and every rack branch is skipped. See
    :func:`java_sticky_assign` for what Java's tests look at.
``"kafka-python"``
    kafka-python's ``StickyPartitionAssignor``, a port of the *general* algorithm of an older
    Java release, used for every input (it has no constrained path, so the two can differ).
    ``shared/conformance/kafka/assignors.json`` was recorded from it and is replayed against
    it by ``tests/conformance/test_kafka_assignors.py``. kafka-python has no cooperative
    assignor; its ``cooperative-sticky`` here is its sticky target with the KIP-429 rule of
    :func:`cooperative_first_assignment`.

The second half of this module holds the *broker-side* assignors, which the group coordinator
runs itself: ``uniform`` and ``range`` for ``group.protocol=consumer`` (KIP-848) and the share
groups' ``simple`` (KIP-932); see the comment above :data:`SERVER_ASSIGNORS`.

The simulated consumer group (``sim.brokers.kafka.group``) uses the Java algorithm: mqsim
models the Java client (its configuration names and defaults are the Java ``ConsumerConfig``'s)
and a Java leader runs ``AbstractStickyAssignor``; the kafka-python port stays for replaying
the recordings. ``range`` and ``roundrobin`` are the same in both clients.

Member order. Kafka sorts members with ``AbstractPartitionAssignor.MemberInfo.compareTo``
(KIP-345): static members (with a ``group.instance.id``) come first, ordered by instance id,
then dynamic members by member id. Ids compare as strings (``"C10" < "C2"``). ``range`` and
``roundrobin`` use that order; the sticky algorithms break their ties by member id only.
Java compares strings by UTF-16 code unit and Python by code point; they agree on every
string without characters above U+FFFF or in U+E000-U+FFFF (Kafka topic names are ASCII).

Determinism. Where Java iterates a ``HashMap`` (the members, in the constrained path's
"who keeps an extra partition" race) or takes the first element of a ``HashSet`` (which
partition moves back), the Java port reproduces OpenJDK's ``HashMap`` order from
``String.hashCode`` / ``TopicPartition.hashCode`` (:func:`java_hash_map_order`), so it answers
as a Java leader does. The kafka-python port takes the smallest (topic, partition) wherever
kafka-python takes "any" element of a set. Both are checked by
``tests/conformance/test_kafka_assignors.py`` and ``tests/test_kafka_java_sticky.py``.
"""

from __future__ import annotations

import copy
import math
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

__all__ = [
    "CLIENTS",
    "DEFAULT_CLIENT",
    "DEFAULT_GENERATION",
    "SERVER_ASSIGNORS",
    "STRATEGIES",
    "Assignment",
    "JavaStickyResult",
    "PartitionAssignorError",
    "TopicPartition",
    "assign",
    "cooperative_assignment",
    "cooperative_first_assignment",
    "cooperative_revocations",
    "java_hash_map_order",
    "java_sticky_assign",
    "java_string_hash",
    "java_topic_partition_hash",
    "java_uuid_hash",
    "kafka_uuid",
    "range_server_assign",
    "server_assign",
    "simple_share_assign",
    "uniform_assign",
]

#: Strategy names, as set in the consumer's ``partition.assignment.strategy`` (short form).
STRATEGIES: tuple[str, ...] = ("range", "roundrobin", "sticky", "cooperative-sticky")
#: Client libraries whose sticky algorithm is modelled (see the module docstring).
CLIENTS: tuple[str, ...] = ("java", "kafka-python")
#: The client the simulator's group leader runs: the Java client, the reference
#: implementation whose configuration mqsim models.
DEFAULT_CLIENT = "java"

#: ``(topic, partition)``; tuples sort like Kafka's ``TopicPartition`` comparators.
TopicPartition = tuple[str, int]
#: member id -> topic -> sorted partition numbers.
Assignment = dict[str, dict[str, list[int]]]


def assign(
    strategy: str,
    subscriptions: Mapping[str, Sequence[str]],
    partitions: Mapping[str, int | None],
    previous: Mapping[str, Mapping[str, Sequence[int]]] | None = None,
    instance_ids: Mapping[str, str | None] | None = None,
    generations: Mapping[str, int] | None = None,
    client: str = DEFAULT_CLIENT,
) -> Assignment:
    """Assign partitions to the members of one consumer group, as Kafka's assignor would.

    Args:
        strategy: one of :data:`STRATEGIES`.
        subscriptions: member id -> subscribed topics, in the order the leader receives the
            members and each member lists its topics (the sticky algorithms are sensitive to
            the member order, exactly as Kafka's are).
        partitions: topic -> partition count for every topic in the cluster metadata; ``None``
            (or a missing topic) means the topic does not exist and contributes no partitions.
            Topics nobody subscribes to may be listed: kafka-python's sticky algorithm takes
            them into account when deciding whether subscriptions are identical (Java's only
            sees subscribed topics).
        previous: member id -> topic -> partitions it owned before this rebalance (the
            ``StickyAssignorUserData`` / ``ownedPartitions`` each member sends). Only the
            sticky strategies use it; entries of members no longer in ``subscriptions`` are
            ignored because a departed member sends nothing.
        instance_ids: member id -> ``group.instance.id`` for static members (KIP-345); used by
            ``range`` and ``roundrobin`` to order static members first.
        generations: member id -> generation its ``previous`` assignment belongs to. When two
            members claim the same partition, the higher generation wins. Java: a member
            missing here reports no generation (-1), and two claims in one generation void
            the partition for both. kafka-python: defaults to one shared generation, where the
            first claimant wins, and the loser becomes the partition's "previous owner".
        client: whose sticky algorithm runs, one of :data:`CLIENTS`.

    Returns:
        member id -> topic -> sorted partitions, with every member present (possibly ``{}``),
        members and topics in sorted order, and topics without assigned partitions omitted.
        For ``cooperative-sticky`` this is the sticky *target*, before partitions that change
        owner are withheld (see :func:`cooperative_assignment`).

    Raises:
        ValueError: unknown strategy or client, or a negative partition count.
    """
    if strategy not in STRATEGIES:
        raise ValueError(
            f"unknown assignment strategy {strategy!r}; known strategies: {', '.join(STRATEGIES)}"
        )
    if client not in CLIENTS:
        raise ValueError(f"unknown client {client!r}; known clients: {', '.join(CLIENTS)}")
    counts = _partition_counts(partitions)
    subs = {member: _dedupe(topics) for member, topics in subscriptions.items()}
    if strategy == "range":
        raw = _range(subs, counts, instance_ids or {})
    elif strategy == "roundrobin":
        raw = _roundrobin(subs, counts, instance_ids or {})
    elif client == "java":
        raw = java_sticky_assign(subs, counts, previous, generations).target
    else:
        raw = _sticky(subs, counts, previous or {}, generations or {})
    return _to_assignment(subs, raw)


def cooperative_assignment(
    subscriptions: Mapping[str, Sequence[str]],
    partitions: Mapping[str, int | None],
    owned: Mapping[str, Mapping[str, Sequence[int]]] | None = None,
    generations: Mapping[str, int] | None = None,
    client: str = DEFAULT_CLIENT,
) -> Assignment:
    """What ``cooperative-sticky`` hands each member in one round of a cooperative rebalance.

    Java: ``CooperativeStickyAssignor.assignPartitions``, the sticky target minus every
    partition "transferring ownership" (``adjustAssignment``), which its new owner gets in the
    follow-up rebalance, once the old owner has revoked it. The constrained path lists those
    partitions as it assigns them (one some member owned and had to give up, or one claimed
    by two members in the same generation); the general path computes them afterwards
    (``computePartitionsTransferringOwnership``). kafka-python: :func:`cooperative_first_assignment`
    of its sticky target.

    Args are those of :func:`assign`; ``owned`` is each member's ``ownedPartitions``. Returns
    the grouped form of :func:`assign`. What members must revoke is
    :func:`cooperative_revocations` of ``owned`` and this result.
    """
    if client not in CLIENTS:
        raise ValueError(f"unknown client {client!r}; known clients: {', '.join(CLIENTS)}")
    subs = {member: _dedupe(topics) for member, topics in subscriptions.items()}
    if client == "kafka-python":
        target = assign("cooperative-sticky", subs, partitions, owned, None, generations, client)
        return cooperative_first_assignment(owned or {}, target)
    result = java_sticky_assign(subs, partitions, owned, generations, cooperative=True)
    return _to_assignment(subs, result.assignment)


def cooperative_revocations(
    previous: Mapping[str, Mapping[str, Sequence[int]]],
    target: Mapping[str, Mapping[str, Sequence[int]]],
) -> Assignment:
    """Partitions each member must revoke in the first round of a cooperative rebalance.

    Under the cooperative protocol (KIP-429) a member keeps consuming what it owns during a
    rebalance and gives up only the partitions it does not keep: those in its ``previous``
    assignment but not in its ``target`` assignment. The leader (``CooperativeStickyAssignor``)
    withholds those partitions from their new owners until they have been revoked, so a
    partition is never owned by two members at once; a second rebalance then hands them over.

    Only members present in ``target`` (the current group) are reported: a member that left has
    already given up everything. Returns member -> topic -> sorted revoked partitions, every
    member of ``target`` present.
    """
    result: Assignment = {}
    for member in sorted(target):
        owned = _flatten(previous.get(member, {}))
        kept = _flatten(target[member])
        result[member] = _group(sorted(owned - kept))
    return result


def cooperative_first_assignment(
    previous: Mapping[str, Mapping[str, Sequence[int]]],
    target: Mapping[str, Mapping[str, Sequence[int]]],
) -> Assignment:
    """What the first round of a cooperative rebalance hands each member: the KIP-429 rule.

    A partition is withheld from its new owner while a *current* member still owns it (the
    first member of ``target`` that lists it in ``previous``) and the target gives it to a
    different member. Partitions nobody owned, or owned by a member that has left the group,
    can be assigned at once. This is ``CooperativeStickyAssignor.adjustAssignment`` whenever no
    partition is claimed by two members; Java's own handling of double claims (by generation)
    is :func:`cooperative_assignment`. After this round every member holds exactly what is returned
    here (it revoked the rest, see :func:`cooperative_revocations`) and rejoins; the second
    rebalance, with these as the owned partitions, assigns the withheld ones.
    """
    owner: dict[TopicPartition, str] = {}
    for member in target:
        for tp in _flatten(previous.get(member, {})):
            owner.setdefault(tp, member)
    result: Assignment = {}
    for member in sorted(target):
        granted = [tp for tp in sorted(_flatten(target[member])) if owner.get(tp, member) == member]
        result[member] = _group(granted)
    return result


# ----------------------------------------------------------------------------------------------
# Shared helpers


def _partition_counts(partitions: Mapping[str, int | None]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for topic, count in partitions.items():
        if count is None:
            continue
        if count < 0:
            raise ValueError(f"topic {topic!r} has a negative partition count ({count})")
        counts[topic] = count
    return counts


def _dedupe(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _member_sort_key(member: str, instance_ids: Mapping[str, str | None]) -> tuple[int, str, str]:
    """Sort key of ``AbstractPartitionAssignor.MemberInfo.compareTo`` (KIP-345).

    Static members first, by ``group.instance.id``; then dynamic members by member id.
    """
    instance_id = instance_ids.get(member)
    if instance_id is not None:
        return (0, instance_id, member)
    return (1, "", member)


def _flatten(assignment: Mapping[str, Iterable[int]]) -> set[TopicPartition]:
    return {(topic, p) for topic, parts in assignment.items() for p in parts}


def _group(tps: Iterable[TopicPartition]) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for topic, p in sorted(tps):
        out.setdefault(topic, []).append(p)
    return out


def _to_assignment(
    subs: Mapping[str, Sequence[str]], raw: Mapping[str, Iterable[TopicPartition]]
) -> Assignment:
    return {member: _group(raw.get(member, ())) for member in sorted(subs)}


# ----------------------------------------------------------------------------------------------
# RangeAssignor


def _range(
    subs: Mapping[str, list[str]],
    counts: Mapping[str, int],
    instance_ids: Mapping[str, str | None],
) -> dict[str, list[TopicPartition]]:
    """``RangeAssignor.assign`` without rack awareness (every member's rack is unknown).

    For each topic, the members subscribed to it in ``MemberInfo`` order; each gets
    ``n // m`` consecutive partitions and the first ``n % m`` members one more. Topics are
    independent, so with many topics the first members are favoured over and over: the classic
    imbalance of the range strategy.
    """
    consumers_per_topic: dict[str, list[str]] = {}
    for member, topics in subs.items():
        for topic in topics:
            consumers_per_topic.setdefault(topic, []).append(member)

    result: dict[str, list[TopicPartition]] = {member: [] for member in subs}
    for topic, members in consumers_per_topic.items():
        num_partitions = counts.get(topic)
        if not num_partitions:
            continue
        ordered = sorted(members, key=lambda m: _member_sort_key(m, instance_ids))
        per_consumer, extra = divmod(num_partitions, len(ordered))
        for i, member in enumerate(ordered):
            start = per_consumer * i + min(i, extra)
            length = per_consumer + (1 if i < extra else 0)
            result[member].extend((topic, p) for p in range(start, start + length))
    return result


# ----------------------------------------------------------------------------------------------
# RoundRobinAssignor


def _roundrobin(
    subs: Mapping[str, list[str]],
    counts: Mapping[str, int],
    instance_ids: Mapping[str, str | None],
) -> dict[str, list[TopicPartition]]:
    """``RoundRobinAssignor.assign``: deal sorted partitions to members in a circle.

    Kafka walks a ``CircularIterator`` over the sorted members; for each partition (sorted by
    topic, then number) it skips members not subscribed to the topic, assigns the partition to
    the first that is, and moves one step on. Skipping does not reset the circle, which is why
    unequal subscriptions can leave the assignment badly unbalanced.
    """
    result: dict[str, list[TopicPartition]] = {member: [] for member in subs}
    members = sorted(subs, key=lambda m: _member_sort_key(m, instance_ids))
    if not members:
        return result
    subscribed = {member: set(topics) for member, topics in subs.items()}
    all_topics = sorted({topic for topics in subs.values() for topic in topics})
    position = 0
    for topic in all_topics:
        if topic not in counts:
            continue
        for p in range(counts[topic]):
            while topic not in subscribed[members[position]]:
                position = (position + 1) % len(members)
            result[members[position]].append((topic, p))
            position = (position + 1) % len(members)
    return result


# ----------------------------------------------------------------------------------------------
# StickyAssignor / AbstractStickyAssignor (general algorithm)


def _sticky(
    subs: Mapping[str, list[str]],
    counts: Mapping[str, int],
    previous: Mapping[str, Mapping[str, Sequence[int]]],
    generations: Mapping[str, int],
) -> dict[str, list[TopicPartition]]:
    executor = _StickyExecutor(subs, counts, previous, generations)
    executor.run()
    return executor.current


class _MovementLog:
    """``AbstractStickyAssignor.PartitionMovements``: where partitions moved in this rebalance.

    Records, per partition, its original owner and where it is now. When the algorithm wants to
    move a partition of topic T from consumer A to B while some partition of T already moved
    from B to A, it moves that one back instead, so partitions of one topic do not swap owners
    pointlessly (the "stickiness" of the result).
    """

    def __init__(self) -> None:
        # partition -> (original owner, current owner)
        self.moves: dict[TopicPartition, tuple[str, str]] = {}
        # topic -> (original owner, current owner) -> partitions
        self.by_topic: dict[str, dict[tuple[str, str], set[TopicPartition]]] = {}

    def partition_to_move(self, tp: TopicPartition, old: str, new: str) -> TopicPartition:
        """``PartitionMovements.getTheActualPartitionToBeMoved``."""
        topic = tp[0]
        if topic not in self.by_topic:
            return tp
        if tp in self.moves:
            # tp moved already: what matters is where it originally came from.
            old = self.moves[tp][0]
        reverse = (new, old)
        candidates = self.by_topic[topic].get(reverse)
        if not candidates:
            return tp
        # Kafka takes the first element of a HashSet; we take the smallest.
        return min(candidates)

    def record(self, tp: TopicPartition, old: str, new: str) -> None:
        """``PartitionMovements.movePartition``: collapse a chain of moves into one record."""
        if tp in self.moves:
            source, _ = self._forget(tp)
            if source != new:
                self._remember(tp, source, new)
        else:
            self._remember(tp, old, new)

    def _forget(self, tp: TopicPartition) -> tuple[str, str]:
        pair = self.moves.pop(tp)
        per_topic = self.by_topic[tp[0]]
        per_topic[pair].discard(tp)
        if not per_topic[pair]:
            del per_topic[pair]
        if not per_topic:
            del self.by_topic[tp[0]]
        return pair

    def _remember(self, tp: TopicPartition, source: str, destination: str) -> None:
        self.moves[tp] = (source, destination)
        self.by_topic.setdefault(tp[0], {}).setdefault((source, destination), set()).add(tp)


@dataclass
class _StickyExecutor:
    """One run of the sticky algorithm (kafka-python's ``StickyAssignmentExecutor``).

    The structure follows ``AbstractStickyAssignor.generalAssign`` step by step, because the
    result depends on the exact order in which partitions are visited and on how ties between
    equally loaded consumers are broken: (number of partitions, member id), ascending, in
    ``sortedCurrentSubscriptions``. Partition lists keep insertion order, as Kafka's
    ``ArrayList``s do.
    """

    subs: Mapping[str, list[str]]
    counts: Mapping[str, int]
    previous: Mapping[str, Mapping[str, Sequence[int]]]
    generations: Mapping[str, int]

    # consumer -> partitions it currently holds, in the order they were added
    current: dict[str, list[TopicPartition]] = field(default_factory=dict)
    # partition -> consumer holding it
    owner: dict[TopicPartition, str] = field(default_factory=dict)
    # partition -> (consumer, generation) that held it one generation before its current owner
    previous_owner: dict[TopicPartition, tuple[str, int]] = field(default_factory=dict)
    # every partition in the cluster metadata -> consumers that may take it (member order)
    potential_consumers: dict[TopicPartition, list[str]] = field(default_factory=dict)
    # consumer -> partitions it may take (its topics in subscription order)
    potential_partitions: dict[str, list[TopicPartition]] = field(default_factory=dict)
    potential_sets: dict[str, set[TopicPartition]] = field(default_factory=dict)
    sorted_partitions: list[TopicPartition] = field(default_factory=list)
    unassigned: list[TopicPartition] = field(default_factory=list)
    is_fresh: bool = False
    revocation_required: bool = False
    movements: _MovementLog = field(default_factory=_MovementLog)

    def run(self) -> None:
        self._initialize()
        self._populate_sorted_partitions()
        self._populate_partitions_to_reassign()
        self._balance()

    # -- setup -----------------------------------------------------------------------------

    def _initialize(self) -> None:
        self._init_current_assignment()
        # Every partition of every topic in the metadata, subscribed or not, as the reference
        # does (it walks cluster.topics()); unsubscribed ones end up with no potential consumer.
        for topic, count in self.counts.items():
            for p in range(count):
                self.potential_consumers[(topic, p)] = []
        for member, topics in self.subs.items():
            mine: list[TopicPartition] = []
            for topic in topics:
                for p in range(self.counts.get(topic, 0)):
                    mine.append((topic, p))
                    self.potential_consumers[(topic, p)].append(member)
            self.potential_partitions[member] = mine
            self.potential_sets[member] = set(mine)
            self.current.setdefault(member, [])

    def _init_current_assignment(self) -> None:
        """``AbstractStickyAssignor.prepopulateCurrentAssignments``.

        Each member reports what it owned and in which generation. For a partition claimed by
        several members the highest generation wins; the runner-up is remembered as the
        previous owner. Two claims in the *same* generation are an error in Kafka (logged and
        skipped), so the first claimant keeps it.
        """
        claims: dict[TopicPartition, dict[int, str]] = {}
        for member in self.subs:
            generation = self.generations.get(member, 0)
            owned = self.previous.get(member, {})
            for tp in sorted((topic, p) for topic, parts in owned.items() for p in set(parts)):
                by_generation = claims.setdefault(tp, {})
                by_generation.setdefault(generation, member)
        for tp, by_generation in claims.items():
            ranked = sorted(by_generation, reverse=True)
            self.current.setdefault(by_generation[ranked[0]], []).append(tp)
            if len(ranked) > 1:
                self.previous_owner[tp] = (by_generation[ranked[1]], ranked[1])
        self.is_fresh = not self.current
        for member, tps in self.current.items():
            for tp in tps:
                self.owner[tp] = member

    def _subscriptions_identical(self) -> bool:
        """``AbstractStickyAssignor.areSubscriptionsIdentical``: lists compared in order."""
        consumer_lists = list(self.potential_consumers.values())
        if any(lst != consumer_lists[0] for lst in consumer_lists[1:]):
            return False
        partition_lists = list(self.potential_partitions.values())
        return all(lst == partition_lists[0] for lst in partition_lists[1:])

    def _populate_sorted_partitions(self) -> None:
        """``AbstractStickyAssignor.sortPartitions``: the order partitions are considered in.

        Normally: fewest potential consumers first, then by topic and partition. When this is a
        reassignment and all subscriptions are identical, Kafka instead lists partitions round
        robin from the consumers holding the most, taking each consumer's most recently added
        partition, so the heaviest consumers' partitions are the first candidates to move.
        """
        by_potential = sorted(
            self.potential_consumers, key=lambda tp: (len(self.potential_consumers[tp]), tp)
        )
        if self.is_fresh or not self._subscriptions_identical():
            self.sorted_partitions = by_potential
            return

        remaining = {
            member: [tp for tp in tps if tp in self.potential_consumers]
            for member, tps in self.current.items()
        }
        ordered: list[TopicPartition] = []
        queue = set(remaining)
        while queue:
            # The consumer with most partitions; ties go to the greatest member id.
            member = max(queue, key=lambda m: (len(remaining[m]), m))
            tps = remaining[member]
            moved_before = sorted(tp for tp in tps if tp in self.previous_owner)
            if moved_before:
                # Kafka picks any such partition (HashSet order); we pick the smallest.
                tp = moved_before[0]
                tps.remove(tp)
                ordered.append(tp)
            elif tps:
                ordered.append(tps.pop())
            else:
                queue.discard(member)
        seen = set(ordered)
        ordered.extend(tp for tp in by_potential if tp not in seen)
        self.sorted_partitions = ordered

    def _populate_partitions_to_reassign(self) -> None:
        """Drop owned partitions that no longer exist or are no longer subscribed to.

        What is left is kept by its owner; every other partition is unassigned. A partition
        whose owner unsubscribed from its topic forces a revocation (``revocationRequired``).
        """
        self.unassigned = list(self.sorted_partitions)
        kept: set[TopicPartition] = set()
        for member, tps in self.current.items():
            keep: list[TopicPartition] = []
            for tp in tps:
                if tp not in self.potential_consumers:
                    del self.owner[tp]
                elif tp[0] not in self.subs[member]:
                    del self.owner[tp]
                    self.revocation_required = True
                else:
                    keep.append(tp)
                    kept.add(tp)
            self.current[member] = keep
        self.unassigned = [tp for tp in self.unassigned if tp not in kept]

    # -- the balancing loop ----------------------------------------------------------------

    def _by_load(self) -> list[str]:
        """Participating consumers, least loaded first (``sortedCurrentSubscriptions``)."""
        return sorted(self.current, key=lambda m: (len(self.current[m]), m))

    def _assign_partition(self, tp: TopicPartition) -> None:
        for member in self._by_load():
            if tp in self.potential_sets[member]:
                self.current[member].append(tp)
                self.owner[tp] = member
                return

    def _can_consumer_participate(self, member: str) -> bool:
        tps = self.current[member]
        if len(tps) < len(self.potential_partitions[member]):
            return True
        return any(len(self.potential_consumers[tp]) >= 2 for tp in tps)

    def _balance(self) -> None:
        """``AbstractStickyAssignor.balance``."""
        if not self.current:
            return
        initializing = max(len(tps) for tps in self.current.values()) == 0

        for tp in self.unassigned:
            if self.potential_consumers[tp]:
                self._assign_partition(tp)

        # Partitions with at most one potential consumer cannot move; leave them out.
        fixed_partitions = {tp for tp, c in self.potential_consumers.items() if len(c) < 2}
        self.sorted_partitions = [tp for tp in self.sorted_partitions if tp not in fixed_partitions]
        self.unassigned = [tp for tp in self.unassigned if tp not in fixed_partitions]

        # Consumers that hold everything they can and nothing movable sit this out.
        fixed_assignments: dict[str, list[TopicPartition]] = {}
        for member in self.potential_partitions:
            if not self._can_consumer_participate(member):
                fixed_assignments[member] = self.current.pop(member)

        pre_balance = copy.deepcopy(self.current)
        pre_balance_owner = dict(self.owner)

        # If nothing must be revoked, first try to balance by moving only the newly assigned
        # partitions; then consider all of them. Only the second pass's outcome counts below.
        if not self.revocation_required:
            self._perform_reassignments(self.unassigned)
        reassigned = self._perform_reassignments(self.sorted_partitions)

        # Keep the reshuffle only if it improved the balance (unless starting from nothing).
        if (
            not initializing
            and reassigned
            and _balance_score(self.current) >= _balance_score(pre_balance)
        ):
            self.current = pre_balance
            self.owner = pre_balance_owner

        self.current.update(fixed_assignments)

    def _is_balanced(self) -> bool:
        """``AbstractStickyAssignor.isBalanced``.

        Balanced if loads differ by at most one, or if no consumer could take a partition it is
        eligible for from a consumer holding strictly more partitions than itself.
        """
        loads = [len(tps) for tps in self.current.values()]
        if not loads or min(loads) >= max(loads) - 1:
            return True
        holder = {tp: member for member, tps in self.current.items() for tp in tps}
        for member in self._by_load():
            count = len(self.current[member])
            if count == len(self.potential_partitions[member]):
                continue
            mine = set(self.current[member])
            for tp in self.potential_partitions[member]:
                if tp not in mine and count < len(self.current[holder[tp]]):
                    return False
        return True

    def _perform_reassignments(self, reassignable: Sequence[TopicPartition]) -> bool:
        """``AbstractStickyAssignor.performReassignments``: move partitions until balanced."""
        performed = False
        while True:
            modified = False
            for tp in reassignable:
                if self._is_balanced():
                    break
                holder = self.owner[tp]
                load = len(self.current[holder])
                prior = self.previous_owner.get(tp)
                # Kafka does not check that the previous owner still takes part and may still
                # consume the topic; we do, so a degenerate input cannot yield an invalid owner.
                if (
                    prior is not None
                    and prior[0] in self.current
                    and tp in self.potential_sets[prior[0]]
                    and load > len(self.current[prior[0]]) + 1
                ):
                    # Give it back to the member that owned it a generation earlier.
                    self._reassign_to(tp, prior[0])
                    performed = modified = True
                    continue
                if any(
                    load > len(self.current[other]) + 1 for other in self.potential_consumers[tp]
                ):
                    new_owner = next(m for m in self._by_load() if tp in self.potential_sets[m])
                    self._reassign_to(tp, new_owner)
                    performed = modified = True
            if not modified:
                return performed

    def _reassign_to(self, tp: TopicPartition, new_owner: str) -> None:
        """``reassignPartition``: honour the movement log, then move."""
        to_move = self.movements.partition_to_move(tp, self.owner[tp], new_owner)
        old_owner = self.owner[to_move]
        self.movements.record(to_move, old_owner, new_owner)
        self.current[old_owner].remove(to_move)
        self.current[new_owner].append(to_move)
        self.owner[to_move] = new_owner


def _balance_score(assignment: Mapping[str, Sequence[TopicPartition]]) -> int:
    """``AbstractStickyAssignor.getBalanceScore``: sum of |load difference| over member pairs."""
    loads = sorted(len(tps) for tps in assignment.values())
    # For sorted loads, sum_{i<j} (l_j - l_i) = sum_j l_j * (2j - n + 1).
    n = len(loads)
    return sum(load * (2 * j - n + 1) for j, load in enumerate(loads))


# ----------------------------------------------------------------------------------------------
# java.util.HashMap iteration order (OpenJDK)
#
# Java's sticky assignor iterates HashMaps and takes "the first" element of HashSets in a few
# places where the order decides the answer (which member keeps an extra partition, which of two
# equivalent partitions moves back). The Java language leaves that order unspecified; OpenJDK's
# implementation makes it a pure function of the keys' hashCode(), the table size and the order
# of insertion. We reproduce that function, so the port answers as a Java leader does.

_TREEIFY_THRESHOLD = 8  # HashMap.TREEIFY_THRESHOLD
_MIN_TREEIFY_CAPACITY = 64  # HashMap.MIN_TREEIFY_CAPACITY
_DEFAULT_CAPACITY = 16  # HashMap.DEFAULT_INITIAL_CAPACITY


def java_string_hash(value: str) -> int:
    """``java.lang.String.hashCode()``: ``s[0]*31^(n-1) + ... + s[n-1]`` over UTF-16 code units,
    as a signed 32-bit int."""
    encoded = value.encode("utf-16-be", "surrogatepass")
    h = 0
    for i in range(0, len(encoded), 2):
        h = (31 * h + (encoded[i] << 8 | encoded[i + 1])) & 0xFFFFFFFF
    return h - (1 << 32) if h >= 1 << 31 else h


def java_topic_partition_hash(tp: TopicPartition) -> int:
    """``org.apache.kafka.common.TopicPartition.hashCode()``: ``31 * (31 + partition) + topic``."""
    h = (31 * (31 + tp[1]) + java_string_hash(tp[0])) & 0xFFFFFFFF
    return h - (1 << 32) if h >= 1 << 31 else h


class _JavaHashTable:
    """The bucket layout of an OpenJDK ``java.util.HashMap`` (a ``HashSet`` is one inside).

    Iteration walks the buckets in index order, each bucket's chain in insertion order (resizes
    split a chain without reordering it). The table starts at 16 buckets on the first insert and
    doubles when the size exceeds 3/4 of it, or when a ninth key lands in one bucket of a table
    smaller than 64 (``treeifyBin`` resizes instead of building a tree). Chains that do become
    trees (nine or more keys in one bucket of a table of 64 or more) are iterated here in
    insertion order, which OpenJDK does not quite keep; that needs hundreds of keys.
    """

    __slots__ = ("_bins", "_capacity", "_entries", "_seq")

    def __init__(self) -> None:
        self._capacity = 0  # no table until the first insert, as in HashMap
        self._entries: dict[object, tuple[int, int]] = {}  # key -> (spread hash, insertion no.)
        self._bins: Counter[int] = Counter()
        self._seq = 0

    def add(self, key: object, hash_code: int) -> None:
        if key in self._entries:
            return  # put() on a present key keeps its place
        if self._capacity == 0:
            self._capacity = _DEFAULT_CAPACITY
        h = hash_code & 0xFFFFFFFF
        h ^= h >> 16  # HashMap.hash(): spread the high bits down
        self._seq += 1
        index = h & (self._capacity - 1)
        already = self._bins[index]
        self._entries[key] = (h, self._seq)
        self._bins[index] += 1
        if already >= _TREEIFY_THRESHOLD and self._capacity < _MIN_TREEIFY_CAPACITY:
            self._resize()
        if len(self._entries) > self._capacity * 3 // 4:
            self._resize()

    def discard(self, key: object) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            self._bins[entry[0] & (self._capacity - 1)] -= 1

    def __len__(self) -> int:
        return len(self._entries)

    def _order_key(self, key: object) -> tuple[int, int]:
        h, seq = self._entries[key]
        return (h & (self._capacity - 1), seq)

    def first(self) -> object:
        """``iterator().next()``."""
        return min(self._entries, key=self._order_key)

    def order(self) -> list[object]:
        return sorted(self._entries, key=self._order_key)

    def _resize(self) -> None:
        self._capacity *= 2
        self._bins = Counter(h & (self._capacity - 1) for h, _ in self._entries.values())


def java_hash_map_order(keys: Iterable[str]) -> list[str]:
    """The iteration order of a ``new HashMap<>()`` into which ``keys`` were put in this order."""
    table = _JavaHashTable()
    for key in keys:
        table.add(key, java_string_hash(key))
    return [str(key) for key in table.order()]


# ----------------------------------------------------------------------------------------------
# StickyAssignor / CooperativeStickyAssignor as the Java client runs them (AbstractStickyAssignor)

#: ``AbstractStickyAssignor.DEFAULT_GENERATION``: the generation of a member that reports none.
DEFAULT_GENERATION = -1


@dataclass(frozen=True)
class JavaStickyResult:
    """One run of Java's sticky assignor, with what its tests inspect.

    Attributes:
        assignment: member -> partitions in the order Java's lists hold them. For the
            cooperative assignor this is after ``adjustAssignment``: the partitions in
            ``withheld`` are missing from their new owners.
        target: the sticky result before the cooperative adjustment (equal to ``assignment``
            for the eager assignor).
        constrained: True if the constrained (all subscriptions equal) path ran.
        partitions_transferring_ownership: the assignor's ``partitionsTransferringOwnership``
            after the run: partition -> new owner for the constrained path, ``None`` for the
            general path (which leaves it to the cooperative assignor to compute).
        withheld: what ``CooperativeStickyAssignor`` removed from the new owners (partition ->
            new owner): the field above, or on the general path
            ``computePartitionsTransferringOwnership``. Empty for the eager assignor.
    """

    assignment: dict[str, list[TopicPartition]]
    target: dict[str, list[TopicPartition]]
    constrained: bool
    partitions_transferring_ownership: dict[TopicPartition, str] | None
    withheld: dict[TopicPartition, str]


def java_sticky_assign(
    subscriptions: Mapping[str, Sequence[str]],
    partitions: Mapping[str, int | None],
    previous: Mapping[str, Mapping[str, Sequence[int]]] | None = None,
    generations: Mapping[str, int] | None = None,
    cooperative: bool = False,
) -> JavaStickyResult:
    """Run ``StickyAssignor`` (or ``CooperativeStickyAssignor``) as the Java client does.

    Args:
        subscriptions: member id -> subscribed topics, in the order the leader reads the
            JoinGroup response (it puts them into a ``HashMap``, whose order we reproduce).
        partitions: topic -> partition count, as for :func:`assign`.
        previous: member id -> topic -> partitions it owned: ``StickyAssignor``'s user data
            or, for the cooperative assignor, the subscription's ``ownedPartitions``.
        generations: member id -> the generation its ``previous`` belongs to; a member
            missing here reports none (``DEFAULT_GENERATION``, -1).
        cooperative: also run ``CooperativeStickyAssignor.adjustAssignment``.

    Returns:
        A :class:`JavaStickyResult`; every member of ``subscriptions`` appears in it.

    Where the port knowingly differs from Java (none of it reachable by a healthy group):

    - One generation per member, used both for its own claims and where Java reads the other
      claimant's ``Subscription.generationId()``: a current Java client sends its generation
      in both places (``ConsumerCoordinator.metadata`` and the assignor's user data).
    - Claims on partitions that do not exist are ignored; Java counts them (and may throw
      ``IllegalStateException`` or assign them). Kafka never shrinks a topic.
    - The previous-owner shortcut of ``performReassignments`` is taken only if that member
      takes part and still subscribes to the topic; Java would throw ``NullPointerException``
      or hand the partition to a member that does not read its topic.
    - Each call is a fresh assignor (see :class:`_JavaStickyRun` on ``maxGeneration``), and the
      order of each member's owned partitions is the caller's (it only orders the output
      lists; the assignment itself does not depend on it).

    Raises:
        ValueError: a negative partition count.
        RuntimeError: where Java throws ``IllegalStateException`` (an internal inconsistency
            of the constrained path; not reachable from valid input).
    """
    counts = _partition_counts(partitions)
    subs = {member: _dedupe(topics) for member, topics in subscriptions.items()}
    if not subs:
        # Java divides by the member count; a group always has its leader, so never happens.
        return JavaStickyResult({}, {}, True, {}, {})
    run = _JavaStickyRun(subs, counts, previous or {}, generations or {})
    target = run.assign()
    withheld: dict[TopicPartition, str] = {}
    assignment = {member: list(tps) for member, tps in target.items()}
    if cooperative:
        withheld = (
            dict(run.transferring)
            if run.transferring is not None
            else _partitions_transferring_ownership(run.raw_owned, target)
        )
        for tp, new_owner in withheld.items():
            assignment[new_owner].remove(tp)
    transferring = None if run.transferring is None else dict(run.transferring)
    return JavaStickyResult(assignment, target, run.constrained, transferring, withheld)


def _partitions_transferring_ownership(
    owned: Mapping[str, Sequence[TopicPartition]], target: Mapping[str, Sequence[TopicPartition]]
) -> dict[TopicPartition, str]:
    """``CooperativeStickyAssignor.computePartitionsTransferringOwnership``.

    A partition added to one member that some member (per its reported ``ownedPartitions``)
    owns and is not keeping: it must be revoked first, so its new owner waits a round.
    """
    added: dict[TopicPartition, str] = {}
    revoked: set[TopicPartition] = set()
    for member, assigned in target.items():
        mine = set(owned.get(member, ()))
        kept = set(assigned)
        for tp in assigned:
            if tp not in mine:
                added[tp] = member
        revoked.update(tp for tp in owned.get(member, ()) if tp not in kept)
    return {tp: member for tp, member in added.items() if tp in revoked}


class _JavaMovements:
    """``AbstractStickyAssignor.PartitionMovements`` with its ``HashSet`` order.

    Same bookkeeping as :class:`_MovementLog`, but when several partitions moved the reverse
    way, Java moves back ``iterator().next()`` of a ``HashSet<TopicPartition>``; we reproduce
    that element.
    """

    def __init__(self) -> None:
        self.moves: dict[TopicPartition, tuple[str, str]] = {}
        self.by_topic: dict[str, dict[tuple[str, str], _JavaHashTable]] = {}

    def partition_to_move(self, tp: TopicPartition, old: str, new: str) -> TopicPartition:
        """``getTheActualPartitionToBeMoved``."""
        per_topic = self.by_topic.get(tp[0])
        if per_topic is None:
            return tp
        if tp in self.moves:
            old = self.moves[tp][0]
        candidates = per_topic.get((new, old))
        if candidates is None:
            return tp
        first = candidates.first()
        assert isinstance(first, tuple)
        return first

    def move(self, tp: TopicPartition, old: str, new: str) -> None:
        """``movePartition``."""
        if tp in self.moves:
            source = self._forget(tp)
            if source != new:
                self._remember(tp, source, new)
        else:
            self._remember(tp, old, new)

    def _forget(self, tp: TopicPartition) -> str:
        pair = self.moves.pop(tp)
        per_topic = self.by_topic[tp[0]]
        per_topic[pair].discard(tp)
        if not per_topic[pair]:
            del per_topic[pair]
        if not per_topic:
            del self.by_topic[tp[0]]
        return pair[0]

    def _remember(self, tp: TopicPartition, source: str, destination: str) -> None:
        self.moves[tp] = (source, destination)
        per_topic = self.by_topic.setdefault(tp[0], {})
        per_topic.setdefault((source, destination), _JavaHashTable()).add(
            tp, java_topic_partition_hash(tp)
        )


class _JavaStickyRun:
    """One call of ``AbstractStickyAssignor.assignPartitions``, rack-unaware.

    Inputs are what ``AbstractPartitionAssignor.assign`` passes: only topics some member
    subscribes to and that have partitions, and the subscriptions in ``HashMap`` order.
    Each run is a fresh assignor: Java's instance keeps ``maxGeneration`` across calls, which
    differs only if a later rebalance sees lower generations than an earlier one.
    """

    def __init__(
        self,
        subs: Mapping[str, list[str]],
        counts: Mapping[str, int],
        previous: Mapping[str, Mapping[str, Sequence[int]]],
        generations: Mapping[str, int],
    ) -> None:
        self.subs = subs
        self.generations = generations
        subscribed = {t for topics in subs.values() for t in topics}
        # AbstractPartitionAssignor.assign: subscribed topics with metadata and partitions.
        self.per_topic = {t: n for t, n in counts.items() if t in subscribed and n > 0}
        self.members = java_hash_map_order(subs)
        # What each member reports (memberData.partitions), in its order, each partition once
        # (a Java member reports a set). Claims on partitions that do not exist are ignored
        # below: Kafka never shrinks a topic, and Java would otherwise hand them out.
        self.raw_owned: dict[str, list[TopicPartition]] = {}
        for member in subs:
            reported = previous.get(member, {})
            tps = [(topic, p) for topic, parts in reported.items() for p in parts]
            self.raw_owned[member] = list(dict.fromkeys(tps))
        self.constrained = False
        self.transferring: dict[TopicPartition, str] | None = None

    def generation(self, member: str) -> int:
        return self.generations.get(member, DEFAULT_GENERATION)

    def assign(self) -> dict[str, list[TopicPartition]]:
        owned, multiple, equal, max_generation = self._all_subscriptions_equal()
        self.constrained = equal
        if equal:
            self.transferring = {}
            return self._constrained(owned, multiple)
        return self._general(owned, max_generation)

    # -- allSubscriptionsEqual ---------------------------------------------------------------

    def _all_subscriptions_equal(
        self,
    ) -> tuple[dict[str, list[TopicPartition]], set[TopicPartition], bool, int]:
        """``allSubscriptionsEqual``, which also resolves conflicting ownership claims.

        A partition claimed by two members goes to the higher generation; two claims in the
        same generation invalidate it for both (``partitionsWithMultiplePreviousOwners``).
        Java's quirk is kept: the first member's topics become the reference only if they are
        non-empty, so a member with an empty subscription met first does not make the
        subscriptions unequal.
        """
        equal = True
        reference: set[str] = set()
        claimed_by: dict[TopicPartition, str] = {}
        owned: dict[str, list[TopicPartition]] = {}
        multiple: set[TopicPartition] = set()
        max_generation = DEFAULT_GENERATION
        for member in self.members:
            topics = self.subs[member]
            if not reference:
                reference = set(topics)
            elif equal and not (len(topics) == len(reference) and reference.issuperset(topics)):
                equal = False
            generation = self.generation(member)
            max_generation = max(max_generation, generation)
            mine: list[TopicPartition] = []
            owned[member] = mine
            for tp in self.raw_owned[member]:
                count = self.per_topic.get(tp[0])
                if count is None or not 0 <= tp[1] < count:
                    continue
                other = claimed_by.get(tp)
                if other is None:
                    mine.append(tp)
                    claimed_by[tp] = member
                    continue
                other_generation = self.generation(other)
                if generation == other_generation:
                    multiple.add(tp)
                    _remove_if_present(owned[other], tp)
                    claimed_by[tp] = member
                elif generation > other_generation:
                    mine.append(tp)
                    _remove_if_present(owned[other], tp)
                    claimed_by[tp] = member
        return owned, multiple, equal, max_generation

    # -- ConstrainedAssignmentBuilder --------------------------------------------------------

    def _constrained(
        self, owned: dict[str, list[TopicPartition]], multiple: set[TopicPartition]
    ) -> dict[str, list[TopicPartition]]:
        """``ConstrainedAssignmentBuilder.build`` (no racks): quotas, then round robin.

        Every member ends with ``minQuota`` or ``maxQuota`` partitions, exactly
        ``total % members`` of them with ``maxQuota``. Members keep their owned partitions
        (lowest partition numbers first) up to their quota; the members that get a
        ``maxQuota`` slot for what they own are the first to claim it in ``HashMap`` order.
        The rest are dealt round robin, in (topic, partition) order, to the members still
        short of their quota, in member-id order.
        """
        assert self.transferring is not None
        transferring = self.transferring
        total = sum(self.per_topic.values())
        n = len(self.members)
        min_quota, max_quota = total // n, -(-total // n)
        expected_over = total % n
        over = 0
        assignment: dict[str, list[TopicPartition]] = {m: [] for m in self.members}
        assigned: set[TopicPartition] = set()
        maybe_revoked: dict[TopicPartition, str] = {}
        under: list[str] = []  # unfilledMembersWithUnderMinQuotaPartitions
        exactly: list[str] = []  # unfilledMembersWithExactlyMinQuotaPartitions

        # assignOwnedPartitions
        for member in self.members:
            mine = sorted(owned[member], key=lambda tp: (tp[1], tp[0]))
            mine = [tp for tp in mine if tp not in multiple]
            if len(mine) < min_quota:
                keep = mine
                under.append(member)
            elif len(mine) >= max_quota and over < expected_over:
                over += 1
                if over == expected_over:
                    exactly.clear()
                keep = mine[:max_quota]
            else:
                keep = mine[:min_quota]
                if over < expected_over:
                    exactly.append(member)
            assignment[member].extend(keep)
            assigned.update(keep)
            for tp in mine[len(keep) :]:
                maybe_revoked[tp] = member

        unassigned = [
            (topic, p)
            for topic in sorted(self.per_topic)
            for p in range(self.per_topic[topic])
            if (topic, p) not in assigned
        ]
        under.sort()
        exactly.sort()

        def assign_new(tp: TopicPartition, member: str) -> int:
            assignment[member].append(tp)
            previous_owner = maybe_revoked.get(tp)
            if (previous_owner is not None and previous_owner != member) or tp in multiple:
                transferring[tp] = member
            return len(assignment[member])

        # assignRoundRobin, with Java's Iterator over the LinkedList of members below quota.
        position = 0  # index of the iterator's next element in `under`
        for tp in unassigned:
            from_iterator = True
            if position < len(under):
                member = under[position]
                position += 1
            elif not under and not exactly:
                raise RuntimeError("No more unfilled consumers to be assigned.")
            elif not under:
                member = exactly.pop(0)
                from_iterator = False
            else:
                position = 1
                member = under[0]
            count = assign_new(tp, member)
            if count == min_quota:
                if not from_iterator:
                    raise RuntimeError("IllegalStateException: Iterator.remove() out of turn")
                position -= 1
                del under[position]
                exactly.append(member)
            elif count == max_quota:
                over += 1

        # verifyUnfilledMembers
        if under:
            if over != expected_over:
                raise RuntimeError(
                    "We haven't reached the expected number of members with more than the "
                    "minQuota partitions, but no more partitions to be assigned"
                )
            for member in under:
                if len(assignment[member]) != min_quota:
                    raise RuntimeError(
                        f"Consumer: [{member}] doesn't reach minQuota partitions, and no more "
                        "partitions to be assigned"
                    )
        return assignment

    # -- GeneralAssignmentBuilder ------------------------------------------------------------

    def _general(
        self, owned: dict[str, list[TopicPartition]], max_generation: int
    ) -> dict[str, list[TopicPartition]]:
        """``GeneralAssignmentBuilder.build`` (no racks)."""
        return _JavaGeneral(self, owned, max_generation).build()


def _remove_if_present(items: list[TopicPartition], tp: TopicPartition) -> None:
    """``List.remove(Object)``: drop the first occurrence, if any."""
    if tp in items:
        items.remove(tp)


class _JavaGeneral:
    """``AbstractStickyAssignor.GeneralAssignmentBuilder`` without racks.

    Keep every valid owned partition, give each unassigned partition (topics with the fewest
    potential consumers first) to the least loaded member that may take it, then move
    partitions from members holding at least two more than another eligible member until
    ``isBalanced``; keep the moves only if they improved the balance score. Members are
    ordered like Java's ``TreeSet`` ``sortedCurrentSubscriptions``: (load, member id).
    """

    def __init__(
        self, run: _JavaStickyRun, owned: dict[str, list[TopicPartition]], max_generation: int
    ) -> None:
        self.run = run
        self.per_topic = run.per_topic
        self.current = owned  # currentAssignment (every member is present)
        self.max_generation = max_generation
        self.topic_consumers: dict[str, list[str]] = {t: [] for t in self.per_topic}
        self.consumer_topics: dict[str, list[str]] = {}
        for member in run.members:
            mine = [t for t in run.subs[member] if t in self.per_topic]
            self.consumer_topics[member] = mine
            for topic in mine:
                self.topic_consumers[topic].append(member)
        self.consumer_topic_sets = {m: set(ts) for m, ts in self.consumer_topics.items()}
        self.owner: dict[TopicPartition, str] = {
            tp: member for member, tps in self.current.items() for tp in tps
        }
        sorted_topics = sorted(
            self.topic_consumers, key=lambda t: (len(self.topic_consumers[t]), t)
        )
        self.sorted_partitions = [(t, p) for t in sorted_topics for p in range(self.per_topic[t])]
        self.revocation_required = False
        self.movements = _JavaMovements()
        self.max_size = {
            m: sum(self.per_topic[t] for t in ts) for m, ts in self.consumer_topics.items()
        }

    def _by_load(self) -> list[str]:
        return sorted(self.current, key=lambda m: (len(self.current[m]), m))

    def build(self) -> dict[str, list[TopicPartition]]:
        previous_owner = self._prepopulate()
        assigned = self._assign_owned()
        unassigned = [tp for tp in self.sorted_partitions if tp not in assigned]
        self._balance(previous_owner, unassigned)
        return self.current

    def _prepopulate(self) -> dict[TopicPartition, tuple[str, int]]:
        """``prepopulateCurrentAssignments``: partition -> (member, generation) that owned it in
        the newest generation older than ``maxGeneration``, first member in ``HashMap`` order
        on a tie."""
        previous_owner: dict[TopicPartition, tuple[str, int]] = {}
        for member in self.run.members:
            generation = self.run.generation(member)
            if generation >= self.max_generation:
                continue
            for tp in self.run.raw_owned[member]:
                known = previous_owner.get(tp)
                if known is None or generation > known[1]:
                    previous_owner[tp] = (member, generation)
        return previous_owner

    def _assign_owned(self) -> set[TopicPartition]:
        """``assignOwnedPartitions``: keep what is still subscribed; the rest must be revoked."""
        assigned: set[TopicPartition] = set()
        for member in self.run.members:
            keep: list[TopicPartition] = []
            for tp in self.current[member]:
                if tp[0] not in self.run.subs[member]:
                    self.revocation_required = True
                else:
                    keep.append(tp)
                    assigned.add(tp)
            self.current[member] = keep
        return assigned

    def _balance(
        self,
        previous_owner: dict[TopicPartition, tuple[str, int]],
        unassigned: list[TopicPartition],
    ) -> None:
        """``balance``."""
        initializing = not self.current[self._by_load()[-1]]
        for tp in unassigned:
            if self.topic_consumers[tp[0]]:
                self._maybe_assign(tp)

        fixed_topics = {t for t, members in self.topic_consumers.items() if len(members) < 2}
        self.sorted_partitions = [tp for tp in self.sorted_partitions if tp[0] not in fixed_topics]
        unassigned = [tp for tp in unassigned if tp[0] not in fixed_topics]

        fixed: dict[str, list[TopicPartition]] = {}
        for member in self.run.members:
            if not self._can_participate(member):
                fixed[member] = self.current.pop(member)

        pre_balance = {m: list(tps) for m, tps in self.current.items()}
        pre_balance_owner = dict(self.owner)
        if not self.revocation_required:
            self._perform_reassignments(unassigned, previous_owner)
        performed = self._perform_reassignments(self.sorted_partitions, previous_owner)
        if (
            not initializing
            and performed
            and _java_balance_score(self.current) >= _java_balance_score(pre_balance)
        ):
            self.current = pre_balance
            self.owner = pre_balance_owner
        self.current.update(fixed)

    def _maybe_assign(self, tp: TopicPartition) -> None:
        """``maybeAssignPartition``: to the least loaded member subscribed to its topic."""
        for member in self._by_load():
            if tp[0] in self.consumer_topic_sets[member]:
                self.current[member].append(tp)
                self.owner[tp] = member
                return

    def _can_participate(self, member: str) -> bool:
        """``canConsumerParticipateInReassignment``."""
        tps = self.current[member]
        if len(tps) < self.max_size[member]:
            return True
        return any(len(self.topic_consumers[t]) >= 2 for t, _ in tps)

    def _is_balanced(self) -> bool:
        """``isBalanced``: loads within one, or no member could take a partition from a member
        holding two or more partitions more than itself."""
        order = self._by_load()
        if len(self.current[order[0]]) >= len(self.current[order[-1]]) - 1:
            return True
        holder = {tp: m for m, tps in self.current.items() for tp in tps}
        for member in order:
            count = len(self.current[member])
            if count == self.max_size[member]:
                continue
            mine = set(self.current[member])
            for topic in self.consumer_topics[member]:
                for p in range(self.per_topic[topic]):
                    tp = (topic, p)
                    if tp not in mine and count + 1 < len(self.current[holder[tp]]):
                        return False
        return True

    def _perform_reassignments(
        self,
        reassignable: Sequence[TopicPartition],
        previous_owner: dict[TopicPartition, tuple[str, int]],
    ) -> bool:
        """``performReassignments``."""
        performed = False
        while True:
            modified = False
            for tp in reassignable:
                if self._is_balanced():
                    break
                holder = self.owner[tp]
                load = len(self.current[holder])
                prior = previous_owner.get(tp)
                # Java does not check that the previous owner takes part and still subscribes
                # to the topic (it would throw NullPointerException, or hand the partition to a
                # member not subscribed to it); we take that shortcut only when it is valid.
                if (
                    prior is not None
                    and prior[0] in self.current
                    and tp[0] in self.consumer_topic_sets[prior[0]]
                    and load > len(self.current[prior[0]]) + 1
                ):
                    self._reassign(tp, prior[0])
                    performed = modified = True
                    continue
                for other in self.topic_consumers[tp[0]]:
                    if load > len(self.current[other]) + 1:
                        new_owner = next(
                            m for m in self._by_load() if tp[0] in self.consumer_topic_sets[m]
                        )
                        self._reassign(tp, new_owner)
                        performed = modified = True
                        break
            if not modified:
                return performed

    def _reassign(self, tp: TopicPartition, new_owner: str) -> None:
        """``reassignPartition`` then ``processPartitionMovement``."""
        to_move = self.movements.partition_to_move(tp, self.owner[tp], new_owner)
        old_owner = self.owner[to_move]
        self.movements.move(to_move, old_owner, new_owner)
        self.current[old_owner].remove(to_move)
        self.current[new_owner].append(to_move)
        self.owner[to_move] = new_owner


def _java_balance_score(assignment: Mapping[str, Sequence[TopicPartition]]) -> int:
    """``getBalanceScore``: the sum over member pairs of the difference of their loads."""
    return _balance_score(assignment)


# ----------------------------------------------------------------------------------------------
# Broker-side assignors: the new consumer group protocol (KIP-848) and share groups (KIP-932)
#
# With ``group.protocol=consumer`` the group coordinator, not a member, computes the assignment,
# with one of the assignors named in ``group.consumer.assignors`` (``uniform`` first, the
# default; a member may ask for another with ``group.remote.assignor``). Share groups use the
# ``simple`` assignor. Ported from apache/kafka, ``group-coordinator/src/main/java/org/apache/
# kafka/coordinator/group/assignor/``: ``UniformAssignor`` with ``UniformHomogeneousAssignment
# Builder`` (formerly ``OptimizedUniformAssignmentBuilder``) and ``UniformHeterogeneousAssignment
# Builder`` (formerly ``GeneralUniformAssignmentBuilder``), and ``RangeAssignor``, at trunk commit
# 1eb7644 (4.0.0-SNAPSHOT, the newest commit of the mirror we read); ``SimpleAssignor`` with
# ``SimpleHomogeneousAssignmentBuilder`` at commit f1d99eca (the newest stored version: members
# share partitions evenly; Kafka 4.0's SimpleAssignor gave every member every partition).
#
# What these assignors receive, and in which order, is the ``GroupSpec`` the coordinator's
# ``TargetAssignmentBuilder`` builds: the members of a ``HashMap`` keyed by member id (pass them
# in :func:`java_hash_map_order` to answer as a coordinator does; Kafka's own tests use a
# ``TreeMap``, sorted), and each member's *target* assignment of the previous epoch (not what it
# owns now). Topics are keyed by their topic id, a random UUID Kafka gives each topic: pass
# ``topic_ids`` (topic -> base64 id, as ``Uuid.toString`` prints it) to order them as Java does
# (``HashSet<Uuid>`` iteration, ``Uuid.compareTo``); without it topics are ordered by name, one of
# the orders random ids produce. Partition sets are iterated in ascending order (a Java
# ``HashSet<Integer>`` of partition numbers below its capacity iterates so).

#: ``group.consumer.assignors`` names of the broker-side consumer group assignors, default first.
SERVER_ASSIGNORS: tuple[str, ...] = ("uniform", "range")

#: ``UniformHeterogeneousAssignmentBuilder.MAX_ITERATION_COUNT``.
_MAX_BALANCE_ITERATIONS = 16


class PartitionAssignorError(ValueError):
    """``PartitionAssignorException``: a member subscribes to a topic the metadata lacks."""


def kafka_uuid(text: str) -> tuple[int, int]:
    """``org.apache.kafka.common.Uuid.fromString``: 22 base64url characters -> (most, least)
    significant bits, each a signed 64-bit Java long."""
    import base64

    raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if len(raw) != 16:
        raise ValueError(f"{text!r} does not decode to the 16 bytes of a Kafka Uuid")
    most = int.from_bytes(raw[:8], "big", signed=True)
    least = int.from_bytes(raw[8:], "big", signed=True)
    return most, least


def java_uuid_hash(text: str) -> int:
    """``Uuid.hashCode()``: ``(int)(xor >> 32) ^ (int) xor`` of the two halves."""
    most, least = kafka_uuid(text)
    xor = (most ^ least) & 0xFFFFFFFFFFFFFFFF
    h = ((xor >> 32) ^ xor) & 0xFFFFFFFF
    return h - (1 << 32) if h >= 1 << 31 else h


def _java_uuid_set_order(topics: Iterable[str], topic_ids: Mapping[str, str]) -> list[str]:
    """Topics in the iteration order of a ``HashSet<Uuid>`` of their ids."""
    table = _JavaHashTable()
    for topic in topics:
        table.add(topic, java_uuid_hash(topic_ids[topic]))
    return [str(topic) for topic in table.order()]


def _server_counts(
    subscriptions: Mapping[str, Sequence[str]], partitions: Mapping[str, int | None]
) -> dict[str, int]:
    """Partition counts of every subscribed topic; a missing one is the assignor's error."""
    counts: dict[str, int] = {}
    for member, topics in subscriptions.items():
        for topic in topics:
            count = partitions.get(topic)
            if count is None or count < 0:
                raise PartitionAssignorError(
                    f"member {member!r} is subscribed to topic {topic!r} which doesn't exist "
                    "in the topic metadata"
                )
            counts[topic] = count
    return counts


def _homogeneous(subscriptions: Mapping[str, Sequence[str]]) -> bool:
    """``SubscriptionType.HOMOGENEOUS``: every member subscribes to the same topics."""
    sets = [frozenset(topics) for topics in subscriptions.values()]
    return all(s == sets[0] for s in sets)


def _server_result(
    members: Iterable[str], owned: Mapping[str, Iterable[TopicPartition]]
) -> Assignment:
    """member -> topic -> sorted partitions, every member present, topics sorted."""
    return {member: _group(sorted(set(owned.get(member, ())))) for member in sorted(members)}


def uniform_assign(
    subscriptions: Mapping[str, Sequence[str]],
    partitions: Mapping[str, int | None],
    current: Mapping[str, Mapping[str, Sequence[int]]] | None = None,
    topic_ids: Mapping[str, str] | None = None,
    homogeneous: bool | None = None,
) -> Assignment:
    """``UniformAssignor``, the default broker-side assignor of ``group.protocol=consumer``.

    Balance first (member loads differ by at most one), then stickiness: each member keeps what
    its previous target gave it, up to its quota. Homogeneous groups take
    ``UniformHomogeneousAssignmentBuilder``'s quota path; otherwise
    ``UniformHeterogeneousAssignmentBuilder`` assigns the free partitions topic by topic to the
    least loaded subscribers and then moves partitions from the most to the least loaded.

    Args:
        subscriptions: member id -> subscribed topics, in the coordinator's member order.
        partitions: topic -> partition count (None: the topic does not exist).
        current: member id -> topic -> partitions of its previous target assignment, topics
            in the order Java iterates that member's map.
        topic_ids: topic -> its base64 topic id, to order topics as Java does.
        homogeneous: the group's ``SubscriptionType`` (None: HOMOGENEOUS when every member
            subscribes to the same topics, as the coordinator computes it).

    Returns:
        The grouped form of :func:`assign`. An empty dict when nobody subscribes to anything
        (Java's empty ``GroupAssignment``).

    Raises:
        PartitionAssignorError: a member subscribes to a topic without metadata.
    """
    if not subscriptions:
        return {}
    counts = _server_counts(subscriptions, partitions)
    if not counts:
        return {}
    current = current or {}
    members = list(subscriptions)
    if homogeneous is None:
        homogeneous = _homogeneous(subscriptions)
    if homogeneous:
        owned = _uniform_homogeneous(members, subscriptions, counts, current, topic_ids)
    else:
        owned = _UniformHeterogeneous(subscriptions, counts, current, topic_ids).build()
    return _server_result(members, owned)


def _uniform_homogeneous(
    members: list[str],
    subscriptions: Mapping[str, Sequence[str]],
    counts: Mapping[str, int],
    current: Mapping[str, Mapping[str, Sequence[int]]],
    topic_ids: Mapping[str, str] | None,
) -> dict[str, list[TopicPartition]]:
    """``UniformHomogeneousAssignmentBuilder.build``."""
    subscribed = set(subscriptions[members[0]])
    topics = (
        _java_uuid_set_order(subscribed, topic_ids) if topic_ids is not None else sorted(subscribed)
    )
    # groupSpec.isPartitionAssigned: the inverted previous target assignment.
    taken = {(t, p) for m in members for t, ps in current.get(m, {}).items() for p in ps}
    unassigned: list[TopicPartition] = []
    total = 0
    for topic in topics:
        for p in range(counts[topic]):
            if (topic, p) not in taken:
                unassigned.append((topic, p))
        total += counts[topic]
    minimum, extra = divmod(total, len(members))
    owned: dict[str, list[TopicPartition]] = {}
    unfilled: list[tuple[str, int]] = []
    for member in members:  # maybeRevokePartitions
        quota = minimum
        if extra > 0:
            quota += 1
            extra -= 1
        kept: list[TopicPartition] = []
        for topic, parts in current.get(member, {}).items():
            if topic not in subscribed:
                continue  # the whole topic is revoked
            ordered = sorted(parts)
            if len(ordered) <= quota:
                quota -= len(ordered)
                kept.extend((topic, p) for p in ordered)
                continue
            for p in ordered:
                if quota > 0:
                    quota -= 1
                    kept.append((topic, p))
                else:
                    unassigned.append((topic, p))
        if quota > 0:
            unfilled.append((member, quota))
        owned[member] = kept
    index = 0
    for member, quota in unfilled:  # assignRemainingPartitions
        for _ in range(quota):
            if index >= len(unassigned):
                break
            owned[member].append(unassigned[index])
            index += 1
    if index < len(unassigned):
        raise PartitionAssignorError("Partitions were left unassigned")
    return owned


class _UniformHeterogeneous:
    """``UniformHeterogeneousAssignmentBuilder``: members are numbered in the given order and
    every tie is broken by that number or by topic id, so the result is deterministic."""

    def __init__(
        self,
        subscriptions: Mapping[str, Sequence[str]],
        counts: Mapping[str, int],
        current: Mapping[str, Mapping[str, Sequence[int]]],
        topic_ids: Mapping[str, str] | None,
    ) -> None:
        self.members = list(subscriptions)
        self.subscribed = {m: set(topics) for m, topics in subscriptions.items()}
        self.counts = counts
        self.current = current
        self.topic_ids = topic_ids
        self.subscribers: dict[str, list[int]] = {}
        for index, member in enumerate(self.members):
            for topic in dict.fromkeys(subscriptions[member]):
                self.subscribers.setdefault(topic, []).append(index)
        self.sizes = [0] * len(self.members)
        self.owners = {topic: [-1] * counts[topic] for topic in self.subscribers}
        self.owned: list[set[TopicPartition]] = [set() for _ in self.members]

    def _topic_key(self, topic: str) -> tuple[float, int, object]:
        """``topicComparator``: partitions per subscriber descending, then subscriber count
        ascending, then topic id ascending."""
        subscribers = len(self.subscribers[topic])
        tie: object = kafka_uuid(self.topic_ids[topic]) if self.topic_ids is not None else topic
        return (-self.counts[topic] / subscribers, subscribers, tie)

    def _sorted_topics(self, topics: Iterable[str]) -> list[str]:
        return sorted(topics, key=self._topic_key)

    def build(self) -> dict[str, list[TopicPartition]]:
        self._revoke()
        unassigned = {
            topic: [p for p, owner in enumerate(owners) if owner == -1]
            for topic, owners in self.owners.items()
        }
        unassigned = {topic: parts for topic, parts in unassigned.items() if parts}
        balancer = _MemberBalancer(self.sizes)
        for topic in self._sorted_topics(unassigned):  # assignRemainingPartitions
            balancer.initialize(self.subscribers[topic])
            for p in unassigned[topic]:
                self._assign(topic, p, balancer.next_least_loaded())
        movable = [t for t in self.subscribers if len(self.subscribers[t]) >= 2]
        if movable:
            self._balance_topics(movable)
        return {member: sorted(self.owned[index]) for index, member in enumerate(self.members)}

    def _revoke(self) -> None:
        """``maybeRevokePartitions``: drop partitions of topics a member no longer subscribes."""
        for index, member in enumerate(self.members):
            for topic, parts in self.current.get(member, {}).items():
                if topic not in self.subscribed[member]:
                    continue
                owners = self.owners[topic]
                for p in parts:
                    if 0 <= p < len(owners):
                        owners[p] = index
                        self.owned[index].add((topic, p))
                        self.sizes[index] += 1

    def _assign(self, topic: str, partition: int, member: int) -> None:
        """``assignPartition``: move a partition to `member`, keeping the counts."""
        owners = self.owners[topic]
        old = owners[partition]
        if old != -1:
            self.owned[old].discard((topic, partition))
            self.sizes[old] -= 1
        owners[partition] = member
        self.owned[member].add((topic, partition))
        self.sizes[member] += 1

    def _balance_topics(self, topics: list[str]) -> None:
        """``balanceTopics``: loop over the topics until a full loop moves nothing."""
        ordered = self._sorted_topics(topics)
        last = -1
        balancer = _MemberBalancer(self.sizes)
        for _ in range(_MAX_BALANCE_ITERATIONS):
            for index, topic in enumerate(ordered):
                if index == last:
                    return
                moved = self._balance_topic(topic, balancer)
                if moved > 0 or last == -1:
                    last = index

    def _balance_topic(self, topic: str, balancer: _MemberBalancer) -> int:
        """``balanceTopic``: move the last partitions of the most loaded subscribers to the
        least loaded ones until their counts differ by one or less."""
        moved = 0
        if balancer.initialize(self.subscribers[topic]) <= 1:
            return moved
        owners = self.owners[topic]
        order = sorted(range(len(owners)), key=lambda p: (owners[p], p))
        start: dict[int, int] = {}
        end: dict[int, int] = {}
        for i, p in enumerate(order):
            start.setdefault(owners[p], i)
            end[owners[p]] = i + 1
        while not balancer.balanced():
            most = -1
            while True:
                most = balancer.next_most_loaded()
                if most == -1:
                    break
                if most not in end or end[most] - start[most] <= 0:
                    balancer.exclude_most_loaded()
                    continue
                break
            if most == -1:
                break
            end[most] -= 1
            partition = order[end[most]]
            least = balancer.next_least_loaded()
            if balancer.balanced():
                break
            self._assign(topic, partition, least)
            moved += 1
        return moved


class _MemberBalancer:
    """``UniformHeterogeneousAssignmentBuilder.MemberAssignmentBalancer``: the least loaded
    range grows rightwards and the most loaded range leftwards over the subscribers sorted by
    load (ties by member number)."""

    def __init__(self, sizes: list[int]) -> None:
        self.sizes = sizes
        self.members: list[int] = []
        self.least_end = 0
        self.least_count = -1
        self.next_least = 0
        self.most_start = 0
        self.most_end = 0
        self.most_count = 1
        self.next_most = -1

    def initialize(self, members: list[int]) -> int:
        if not members:
            raise ValueError("Cannot balance an empty subscriber list.")
        sizes = self.sizes
        self.members = sorted(members, key=lambda m: (sizes[m], m))
        first, last = self.members[0], self.members[-1]
        self.least_end = 0
        self.least_count = sizes[first] - 1
        self.next_least = 0
        self.most_start = len(self.members)
        self.most_end = len(self.members)
        self.most_count = sizes[last] + 1
        self.next_most = len(self.members) - 1
        return sizes[last] - sizes[first]

    def next_least_loaded(self) -> int:
        members, sizes = self.members, self.sizes
        if self.next_least >= self.least_end:
            self.least_count += 1
            while (
                self.least_end < len(members) and sizes[members[self.least_end]] == self.least_count
            ):
                self.least_end += 1
            self.next_least = 0
        member = members[self.next_least]
        self.next_least += 1
        return member

    def next_most_loaded(self) -> int:
        members, sizes = self.members, self.sizes
        if self.next_most < self.most_start:
            if self.most_end <= self.most_start and self.most_start > 0:
                self.most_count = sizes[members[self.most_start - 1]]
            else:
                self.most_count -= 1
            while self.most_start > 0 and sizes[members[self.most_start - 1]] == self.most_count:
                self.most_start -= 1
            self.next_most = self.most_end - 1
        if self.next_most < 0:
            return -1
        member = members[self.next_most]
        self.next_most -= 1
        return member

    def exclude_most_loaded(self) -> None:
        members = self.members
        member = members[self.next_most + 1]
        members[self.next_most + 1] = members[self.most_end - 1]
        members[self.most_end - 1] = member
        self.most_end -= 1

    def balanced(self) -> bool:
        return self.most_count - self.least_count <= 1


def range_server_assign(
    subscriptions: Mapping[str, Sequence[str]],
    partitions: Mapping[str, int | None],
    instance_ids: Mapping[str, str | None] | None = None,
) -> Assignment:
    """The broker-side ``RangeAssignor`` of ``group.protocol=consumer`` (``range``).

    Members are sorted (static members first, by ``group.instance.id``, then the others by
    member id) and each takes a contiguous range of every topic it subscribes to, the first
    ``partitions % subscribers`` one extra; co-partitioned when every member subscribes to the
    same topics with the same partition counts. Not sticky: it ignores the previous target.
    """
    if not subscriptions:
        return {}
    counts = _server_counts(subscriptions, partitions)
    if not counts:
        return {}
    ids = instance_ids or {}

    def order(member: str) -> tuple[int, str]:
        instance = ids.get(member)
        return (0, instance) if instance is not None else (1, member)

    members = sorted(subscriptions, key=order)
    subscribers: Counter[str] = Counter()
    for member in members:
        subscribers.update(dict.fromkeys(subscriptions[member], 1))
    next_range: dict[str, int] = dict.fromkeys(counts, 0)
    extra = {topic: counts[topic] % subscribers[topic] for topic in counts}
    owned: dict[str, list[TopicPartition]] = {}
    for member in members:
        mine: list[TopicPartition] = []
        for topic in dict.fromkeys(subscriptions[member]):
            quota = counts[topic] // subscribers[topic]
            if extra[topic] > 0:
                quota += 1
                extra[topic] -= 1
            start = next_range[topic]
            stop = min(start + quota, counts[topic])
            next_range[topic] = stop
            mine.extend((topic, p) for p in range(start, stop))
        owned[member] = mine
    return _server_result(members, owned)


def server_assign(
    assignor: str,
    subscriptions: Mapping[str, Sequence[str]],
    partitions: Mapping[str, int | None],
    current: Mapping[str, Mapping[str, Sequence[int]]] | None = None,
    instance_ids: Mapping[str, str | None] | None = None,
    topic_ids: Mapping[str, str] | None = None,
) -> Assignment:
    """Run the broker-side assignor named `assignor` (one of :data:`SERVER_ASSIGNORS`)."""
    if assignor == "uniform":
        return uniform_assign(subscriptions, partitions, current, topic_ids)
    if assignor == "range":
        return range_server_assign(subscriptions, partitions, instance_ids)
    raise ValueError(
        f"unknown server assignor {assignor!r} (UNSUPPORTED_ASSIGNOR); known: "
        f"{', '.join(SERVER_ASSIGNORS)}"
    )


def simple_share_assign(
    subscriptions: Mapping[str, Sequence[str]],
    partitions: Mapping[str, int | None],
    current: Mapping[str, Mapping[str, Sequence[int]]] | None = None,
    topic_ids: Mapping[str, str] | None = None,
) -> Assignment:
    """The share group's ``SimpleAssignor`` (``SimpleHomogeneousAssignmentBuilder``).

    Unlike a consumer group, a partition may have several members. With M members and P
    partitions each partition wants ``ceil(M / P)`` members (its *desired sharing*), and member
    i wants ``ceil(x (i + 1)) - ceil(x i)`` partitions, x = sharing * P / M: with fewer members
    than partitions each partition has one member and the members split the partitions; with
    more, every member has about one partition and every partition several members, so a share
    group keeps scaling past the partition count. Members keep what their previous target gave
    them (stickiness) until they have too many or a partition is shared by too many; then the
    partitions short of members go round the members short of partitions.

    Java walks several ``HashMap``s keyed by ``TopicIdPartition`` here; this port walks
    partitions in (topic, partition) order instead, one of the orders random topic ids give.
    Heterogeneous subscriptions (``SimpleHeterogeneousAssignmentBuilder``) are not modelled.

    Raises:
        PartitionAssignorError: a missing topic.
        ValueError: members subscribe to different topics.
    """
    if not subscriptions:
        return {}
    counts = _server_counts(subscriptions, partitions)
    if not counts:
        return {}
    if not _homogeneous(subscriptions):
        raise ValueError("share group members subscribing to different topics are not modelled")
    current = current or {}
    members = list(subscriptions)
    subscribed = set(subscriptions[members[0]])
    topics = (
        _java_uuid_set_order(subscribed, topic_ids) if topic_ids is not None else sorted(subscribed)
    )
    rank = {topic: i for i, topic in enumerate(topics)}

    def key(tp: TopicPartition) -> tuple[int, int]:
        return (rank[tp[0]], tp[1])

    targets = [(topic, p) for topic in topics for p in range(counts[topic])]
    m, n = len(members), len(targets)
    sharing = (m + n - 1) // n if n else 0
    precise = sharing * n / m
    desired = [math.ceil(precise * (i + 1)) - math.ceil(precise * i) for i in range(m)]
    old = [
        {topic: sorted(parts) for topic, parts in current.get(member, {}).items()}
        for member in members
    ]
    new: dict[int, dict[str, set[int]]] = {}
    by_partition: dict[TopicPartition, set[int]] = {}
    by_member: dict[int, set[TopicPartition]] = {}
    unfilled: set[int] = set()
    overfilled: set[int] = set()

    def copy_of(i: int) -> dict[str, set[int]]:
        found = new.get(i)
        if found is None:
            found = new[i] = {topic: set(parts) for topic, parts in old[i].items()}
        return found

    for i in range(m):  # revokeUnassignablePartitions
        count = 0
        for topic, parts in old[i].items():
            if topic not in subscribed:
                copy_of(i).pop(topic, None)  # the whole topic is revoked
                continue
            for p in parts:
                count += 1
                by_partition.setdefault((topic, p), set()).add(i)
                by_member.setdefault(i, set()).add((topic, p))
        if count < desired[i]:
            unfilled.add(i)
        elif count > desired[i]:
            overfilled.add(i)
    for i in sorted(overfilled):  # revokeOverfilledMembers
        mine = by_member[i]
        for tp in sorted(mine, key=key):
            if len(mine) <= desired[i]:
                break
            copy_of(i)[tp[0]].discard(tp[1])
            by_partition[tp].discard(i)
            mine.discard(tp)
    for tp in sorted(by_partition, key=key):  # revokeOversharedPartitions
        holders = by_partition[tp]
        if len(holders) <= sharing:
            continue
        for i in sorted(holders):
            parts = copy_of(i).get(tp[0])
            if parts is not None and tp[1] in parts:
                parts.discard(tp[1])
                holders.discard(i)
                by_member[i].discard(tp)
                unfilled.add(i)
            if len(holders) <= sharing:
                break
    for tp in targets:
        by_partition.setdefault(tp, set())
    _assign_remaining_shares(by_partition, key, sharing, desired, unfilled, by_member, copy_of)
    owned = {
        member: [
            (topic, p) for topic, parts in (new[i] if i in new else old[i]).items() for p in parts
        ]
        for i, member in enumerate(members)
    }
    return _server_result(members, owned)


def _assign_remaining_shares(
    by_partition: dict[TopicPartition, set[int]],
    key: Callable[[TopicPartition], tuple[int, int]],
    sharing: int,
    desired: list[int],
    unfilled: set[int],
    by_member: dict[int, set[TopicPartition]],
    copy_of: Callable[[int], dict[str, set[int]]],
) -> None:
    """``SimpleHomogeneousAssignmentBuilder.assignRemainingPartitions``: one pass over the
    partitions, handing each one short of members to the members short of partitions in turn
    (starting the round of members again while it still places something)."""
    if not unfilled:
        return
    turn = sorted(unfilled)
    position = 0
    placed = False
    for tp in sorted(by_partition, key=key):
        holders = by_partition[tp]
        missing = sharing - len(holders)
        while missing > 0:
            if position >= len(turn):
                if not placed:
                    break
                turn, position, placed = sorted(unfilled), 0, False
                if not turn:
                    break
            i = turn[position]
            position += 1
            if i in holders:
                continue
            copy_of(i).setdefault(tp[0], set()).add(tp[1])
            by_member.setdefault(i, set()).add(tp)
            missing -= 1
            placed = True
            if len(by_member[i]) >= desired[i]:
                unfilled.discard(i)
        if not unfilled:
            break
