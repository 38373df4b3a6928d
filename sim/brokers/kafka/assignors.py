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
    ``org.apache.kafka.clients.consumer.StickyAssignor`` (KIP-54), the *general* algorithm of
    ``AbstractStickyAssignor`` as ported by kafka-python (``StickyPartitionAssignor``): balance
    first, then keep as many previously owned partitions as possible.
``cooperative-sticky``
    ``org.apache.kafka.clients.consumer.CooperativeStickyAssignor`` (KIP-429). Same target as
    ``sticky``; what differs is the protocol: partitions that change owner are first revoked
    (:func:`cooperative_revocations`) and only handed to the new owner in a second rebalance
    (:func:`cooperative_first_assignment` is what the first round hands out).

Member order. Kafka sorts members with ``AbstractPartitionAssignor.MemberInfo.compareTo``
(KIP-345): static members (with a ``group.instance.id``) come first, ordered by instance id,
then dynamic members by member id. Ids compare as strings (``"C10" < "C2"``). ``range`` and
``roundrobin`` use that order; the sticky algorithm breaks its ties by member id only.

Every function is deterministic: wherever Kafka's code takes "any" element of a hash set, we
take the smallest (topic, partition) and say so. Checked against
``shared/conformance/kafka/assignors.json`` by ``tests/conformance/test_kafka_assignors.py``.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

__all__ = [
    "STRATEGIES",
    "Assignment",
    "TopicPartition",
    "assign",
    "cooperative_first_assignment",
    "cooperative_revocations",
]

#: Strategy names, as set in the consumer's ``partition.assignment.strategy`` (short form).
STRATEGIES: tuple[str, ...] = ("range", "roundrobin", "sticky", "cooperative-sticky")

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
) -> Assignment:
    """Assign partitions to the members of one consumer group, as Kafka's assignor would.

    Args:
        strategy: one of :data:`STRATEGIES`.
        subscriptions: member id -> subscribed topics, in the order the leader receives the
            members and each member lists its topics (the sticky algorithm is sensitive to both,
            exactly as Kafka's is).
        partitions: topic -> partition count for every topic in the cluster metadata; ``None``
            (or a missing topic) means the topic does not exist and contributes no partitions.
            Topics nobody subscribes to may be listed: the sticky algorithm, like the reference,
            takes them into account when deciding whether subscriptions are identical.
        previous: member id -> topic -> partitions it owned before this rebalance (the
            ``StickyAssignorUserData`` / ``ownedPartitions`` each member sends). Only the
            sticky strategies use it; entries of members no longer in ``subscriptions`` are
            ignored because a departed member sends nothing.
        instance_ids: member id -> ``group.instance.id`` for static members (KIP-345); used by
            ``range`` and ``roundrobin`` to order static members first.
        generations: member id -> generation its ``previous`` assignment belongs to. When two
            members claim the same partition, the higher generation wins (and the loser becomes
            the partition's "previous owner", to which the sticky algorithm prefers to give it
            back). Defaults to one shared generation, where the first claimant wins.

    Returns:
        member id -> topic -> sorted partitions, with every member present (possibly ``{}``),
        members and topics in sorted order, and topics without assigned partitions omitted.

    Raises:
        ValueError: unknown strategy or a negative partition count.
    """
    if strategy not in STRATEGIES:
        raise ValueError(
            f"unknown assignment strategy {strategy!r}; known strategies: {', '.join(STRATEGIES)}"
        )
    counts = _partition_counts(partitions)
    subs = {member: _dedupe(topics) for member, topics in subscriptions.items()}
    if strategy == "range":
        raw = _range(subs, counts, instance_ids or {})
    elif strategy == "roundrobin":
        raw = _roundrobin(subs, counts, instance_ids or {})
    else:
        raw = _sticky(subs, counts, previous or {}, generations or {})
    return _to_assignment(subs, raw)


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
    """What the first round of a cooperative rebalance actually hands each member.

    ``CooperativeStickyAssignor.adjustAssignment`` removes every partition that is "transferring
    ownership" from its new owner: one that a *current* member still owns and that the target
    gives to a different member. Partitions nobody owned, or owned by a member that has left the
    group, can be assigned at once. After this round every member holds exactly what is returned
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
