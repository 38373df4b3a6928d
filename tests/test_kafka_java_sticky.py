"""Java's sticky assignors: apache/kafka's own test expectations, invariants, and differences.

``sim.brokers.kafka.assignors.java_sticky_assign`` ports ``AbstractStickyAssignor`` (both
paths), ``StickyAssignor`` and ``CooperativeStickyAssignor`` from apache/kafka 3.9.0-rc3.
The first part replays the deterministic expectations of Kafka's own tests, each named after
its Java test method in ``clients/src/test/java/org/apache/kafka/clients/consumer/``
(``internals/AbstractStickyAssignorTest``, which runs for both assignors,
``StickyAssignorTest`` and ``CooperativeStickyAssignorTest``), in their rack-unaware variant
(``RackConfig.NO_CONSUMER_RACK``; every variant expects the same). Where the cooperative
variant's ``verifyValidityAndBalance`` runs follow-up rebalances before later assertions,
:func:`_settle` does the same. The second part checks invariants with hypothesis; the last
shows where the Java algorithm and kafka-python's port part ways.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.brokers.kafka import (
    assign,
    cooperative_assignment,
    cooperative_first_assignment,
    cooperative_revocations,
    java_sticky_assign,
)
from sim.brokers.kafka.assignors import (
    JavaStickyResult,
    TopicPartition,
    java_hash_map_order,
    java_string_hash,
    java_topic_partition_hash,
)
from tests.helpers import require_golden

# Names and constants of AbstractStickyAssignorTest.
CONSUMER, C1, C2, C3, C4 = "consumer", "consumer1", "consumer2", "consumer3", "consumer4"
T, T1, T2, T3 = "topic", "topic1", "topic2", "topic3"
GEN = 1  # generationId
NONE = -1  # DEFAULT_GENERATION: the member reports no generation

#: member -> (subscribed topics, owned partitions in the order reported, generation)
Members = dict[str, tuple[list[str], list[TopicPartition], int]]


def tp(topic: str, partition: int) -> TopicPartition:
    return (topic, partition)


def fresh(*topics: str) -> tuple[list[str], list[TopicPartition], int]:
    """``subscription(topics, i)``: no owned partitions, no generation."""
    return (list(topics), [], NONE)


def _by_topic(tps: Sequence[TopicPartition]) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for topic, p in tps:
        out.setdefault(topic, []).append(p)
    return out


def run(members: Members, counts: Mapping[str, int], cooperative: bool = False) -> JavaStickyResult:
    subscriptions = {m: topics for m, (topics, _, _) in members.items()}
    previous = {m: _by_topic(owned) for m, (_, owned, _) in members.items()}
    generations = {m: g for m, (_, _, g) in members.items() if g != NONE}
    return java_sticky_assign(subscriptions, counts, previous, generations, cooperative)


def rejoin(members: Members, result: JavaStickyResult, generation: int = GEN) -> Members:
    """``buildSubscriptionV2Above(topics, assignment.get(consumer), generationId, i)``."""
    return {
        m: (topics, list(result.assignment[m]), generation) for m, (topics, _, _) in members.items()
    }


def _settle(
    members: Members, counts: Mapping[str, int], result: JavaStickyResult
) -> JavaStickyResult:
    """``CooperativeStickyAssignorTest.verifyValidityAndBalance``: no partition is revoked and
    added in one round; while something is revoked, rejoin with what is held (generation 1)."""
    for _ in range(5):
        added = {
            p
            for m, (_, owned, _) in members.items()
            for p in result.assignment[m]
            if p not in owned
        }
        revoked = {
            p
            for m, (_, owned, _) in members.items()
            for p in owned
            if p not in result.assignment[m]
        }
        assert not added & revoked
        if not revoked:
            return result
        members = rejoin(members, result)
        result = run(members, counts, cooperative=True)
    raise AssertionError("more than 4 follow-up rebalances")


def verify(members: Members, assignment: Mapping[str, Sequence[TopicPartition]]) -> None:
    """``AbstractStickyAssignorTest.verifyValidityAndBalance``.

    Every partition goes to a member subscribed to its topic, to one member only; two members
    whose loads differ by more than one hold no partitions of a common topic.
    """
    assert set(assignment) == set(members)
    for member, tps in assignment.items():
        assert all(topic in members[member][0] for topic, _ in tps), (member, tps)
    owners = Counter(p for tps in assignment.values() for p in tps)
    assert all(n == 1 for n in owners.values())
    ids = sorted(assignment)
    for i, a in enumerate(ids):
        for b in ids[i + 1 :]:
            if abs(len(assignment[a]) - len(assignment[b])) > 1:
                assert not {t for t, _ in assignment[a]} & {t for t, _ in assignment[b]}


def fully_balanced(assignment: Mapping[str, Sequence[TopicPartition]]) -> bool:
    loads = [len(tps) for tps in assignment.values()]
    return max(loads) - min(loads) <= 1


def final(members: Members, counts: Mapping[str, int], cooperative: bool) -> JavaStickyResult:
    """Run, then (cooperative) settle, then verify: the tests' assign + verifyValidityAndBalance."""
    result = run(members, counts, cooperative)
    if cooperative:
        result = _settle(members, counts, result)
    verify(members, result.assignment)
    return result


BOTH = pytest.mark.parametrize("cooperative", [False, True], ids=["sticky", "cooperative"])


# ----------------------------------------------------------------------------------------------
# Java's hash codes and HashMap order (checked against OpenJDK 17)


def test_string_and_topic_partition_hash_codes() -> None:
    assert java_string_hash("") == 0
    assert java_string_hash("hello") == 99162322
    assert java_string_hash("consumer2") == -421004548
    # "Aa" and "BB" are Java's classic colliding pair.
    assert java_string_hash("Aa") == java_string_hash("BB") == 2112
    # TopicPartition.hashCode: 31 * (31 + partition) + topic.hashCode()
    assert java_topic_partition_hash(("t", 2)) == 31 * 33 + ord("t")


@pytest.mark.parametrize(
    ("keys", "java_order"),
    [
        # Printed by OpenJDK 17 for `new HashMap<>()` filled in this order.
        ("consumer2 c10 c5 c8 c3 c7 c6", "c3 c5 c10 c6 c7 c8 consumer2"),
        # 20 keys: the table doubled to 32 buckets at the 13th.
        (
            " ".join(f"consumer-{i}" for i in range(20)),
            "consumer-11 consumer-10 consumer-6 consumer-17 consumer-5 consumer-16 consumer-4 "
            "consumer-19 consumer-3 consumer-18 consumer-2 consumer-13 consumer-1 consumer-12 "
            "consumer-0 consumer-15 consumer-14 consumer-9 consumer-8 consumer-7",
        ),
        # Nine keys in bucket 5 of 16: treeifyBin resizes to 32 instead, m90 moves ahead of m18.
        (
            "m2 m18 m29 m90 m103 m114 m125 m136 m147 x1 x2",
            "m2 m90 m18 m29 m103 m114 m125 m136 m147 x1 x2",
        ),
    ],
)
def test_hash_map_order_matches_openjdk(keys: str, java_order: str) -> None:
    assert java_hash_map_order(keys.split()) == java_order.split()


# ----------------------------------------------------------------------------------------------
# AbstractStickyAssignorTest (both assignors)


@BOTH
def test_one_consumer_no_topic(cooperative: bool) -> None:
    # testOneConsumerNoTopic
    result = run({CONSUMER: fresh()}, {}, cooperative)
    assert result.assignment == {CONSUMER: []}
    assert result.partitions_transferring_ownership == {}


@BOTH
def test_one_consumer_nonexistent_topic(cooperative: bool) -> None:
    # testOneConsumerNonexistentTopic
    result = run({CONSUMER: fresh(T)}, {T: 0}, cooperative)
    assert result.assignment == {CONSUMER: []}
    assert result.partitions_transferring_ownership == {}


@BOTH
def test_one_consumer_one_topic(cooperative: bool) -> None:
    # testOneConsumerOneTopic
    result = run({CONSUMER: fresh(T)}, {T: 3}, cooperative)
    assert result.assignment == {CONSUMER: [tp(T, 0), tp(T, 1), tp(T, 2)]}
    assert result.partitions_transferring_ownership == {}


@BOTH
def test_only_assigns_partitions_from_subscribed_topics(cooperative: bool) -> None:
    # testOnlyAssignsPartitionsFromSubscribedTopics
    owned = [tp(T, 0), tp(T, 1), tp("other", 0), tp("other", 1)]
    result = run({CONSUMER: ([T], owned, GEN)}, {T: 2}, cooperative)
    assert result.assignment == {CONSUMER: [tp(T, 0), tp(T, 1)]}
    assert result.partitions_transferring_ownership == {}


@BOTH
def test_one_consumer_multiple_topics(cooperative: bool) -> None:
    # testOneConsumerMultipleTopics
    result = run({CONSUMER: fresh(T1, T2)}, {T1: 1, T2: 2}, cooperative)
    assert result.assignment == {CONSUMER: [tp(T1, 0), tp(T2, 0), tp(T2, 1)]}


@BOTH
def test_two_consumers_one_topic_one_partition(cooperative: bool) -> None:
    # testTwoConsumersOneTopicOnePartition
    members = {C1: fresh(T), C2: fresh(T)}
    result = final(members, {T: 1}, cooperative)
    assert result.partitions_transferring_ownership == {}
    assert fully_balanced(result.assignment)


@BOTH
def test_two_consumers_one_topic_two_partitions(cooperative: bool) -> None:
    # testTwoConsumersOneTopicTwoPartitions
    result = run({C1: fresh(T), C2: fresh(T)}, {T: 2}, cooperative)
    assert result.assignment == {C1: [tp(T, 0)], C2: [tp(T, 1)]}
    assert result.partitions_transferring_ownership == {}


@BOTH
def test_multiple_consumers_mixed_topic_subscriptions(cooperative: bool) -> None:
    # testMultipleConsumersMixedTopicSubscriptions: the general path
    members = {C1: fresh(T1), C2: fresh(T1, T2), C3: fresh(T1)}
    result = run(members, {T1: 3, T2: 2}, cooperative)
    assert not result.constrained
    assert result.assignment == {
        C1: [tp(T1, 0), tp(T1, 2)],
        C2: [tp(T2, 0), tp(T2, 1)],
        C3: [tp(T1, 1)],
    }
    assert result.partitions_transferring_ownership is None


@BOTH
def test_two_consumers_two_topics_six_partitions(cooperative: bool) -> None:
    # testTwoConsumersTwoTopicsSixPartitions
    result = run({C1: fresh(T1, T2), C2: fresh(T1, T2)}, {T1: 3, T2: 3}, cooperative)
    assert result.assignment == {
        C1: [tp(T1, 0), tp(T1, 2), tp(T2, 1)],
        C2: [tp(T1, 1), tp(T2, 0), tp(T2, 2)],
    }
    assert result.partitions_transferring_ownership == {}


@BOTH
def test_consumer_owning_min_quota_expected_max_quota(cooperative: bool) -> None:
    # testConsumerOwningMinQuotaExpectedMaxQuota
    both = [T1, T2]
    members = {
        C1: (both, [tp(T1, 0), tp(T2, 1)], GEN),
        C2: (both, [tp(T1, 1), tp(T2, 2)], GEN),
    }
    result = run(members, {T1: 2, T2: 3}, cooperative)
    assert result.assignment == {
        C1: [tp(T1, 0), tp(T2, 1), tp(T2, 0)],
        C2: [tp(T1, 1), tp(T2, 2)],
    }
    assert result.partitions_transferring_ownership == {}


@BOTH
def test_max_quota_consumer_more_than_num_expected_max_capacity_members(cooperative: bool) -> None:
    # testMaxQuotaConsumerMoreThanNumExpectedMaxCapacityMembers. Both consumer1 and consumer2
    # own maxQuota (2) partitions but only one may keep 2: the first in HashMap order, which is
    # consumer2 (a port walking members in sorted order would let consumer1 keep both).
    assert java_hash_map_order([C1, C2, C3]) == [C3, C2, C1]
    both = [T1, T2]
    members = {
        C1: (both, [tp(T1, 0), tp(T2, 0)], GEN),
        C2: (both, [tp(T1, 1), tp(T2, 1)], GEN),
        C3: (both, [], GEN),
    }
    result = run(members, {T1: 2, T2: 2}, cooperative)
    assert result.partitions_transferring_ownership == {tp(T2, 0): C3}
    if cooperative:
        assert result.assignment[C3] == []  # withheld until consumer1 has revoked it
    result = final(members, {T1: 2, T2: 2}, cooperative)
    assert result.assignment == {C1: [tp(T1, 0)], C2: [tp(T1, 1), tp(T2, 1)], C3: [tp(T2, 0)]}


@BOTH
def test_all_consumers_are_under_min_quota(cooperative: bool) -> None:
    # testAllConsumersAreUnderMinQuota
    both = [T1, T2]
    members = {C1: (both, [tp(T1, 0)], GEN), C2: (both, [tp(T1, 1)], GEN), C3: (both, [], GEN)}
    result = final(members, {T1: 2, T2: 3}, cooperative)
    assert result.partitions_transferring_ownership == {}
    assert result.assignment == {
        C1: [tp(T1, 0), tp(T2, 1)],
        C2: [tp(T1, 1), tp(T2, 2)],
        C3: [tp(T2, 0)],
    }


@BOTH
def test_add_remove_consumer_one_topic(cooperative: bool) -> None:
    # testAddRemoveConsumerOneTopic
    counts = {T: 3}
    members: Members = {C1: fresh(T)}
    result = final(members, counts, cooperative)
    assert result.assignment == {C1: [tp(T, 0), tp(T, 1), tp(T, 2)]}

    members = {C1: ([T], result.assignment[C1], GEN), C2: ([T], [], GEN)}
    first = run(members, counts, cooperative)
    assert first.partitions_transferring_ownership == {tp(T, 2): C2}
    result = final(members, counts, cooperative)
    assert result.assignment == {C1: [tp(T, 0), tp(T, 1)], C2: [tp(T, 2)]}

    members = {C2: ([T], result.assignment[C2], GEN)}
    result = final(members, counts, cooperative)
    assert set(result.assignment[C2]) == {tp(T, 0), tp(T, 1), tp(T, 2)}
    assert result.partitions_transferring_ownership == {}


@BOTH
def test_topic_balance_after_reassignment(cooperative: bool) -> None:
    # testTopicBalanceAfterReassignment: each member's share of each topic
    both = [T1, T2]
    counts = {T1: 12, T2: 12}

    def per_topic(result: JavaStickyResult, n: int) -> None:
        for tps in result.assignment.values():
            assert Counter(t for t, _ in tps) == {T1: n, T2: n}

    members: Members = {C1: fresh(*both)}
    result = final(members, counts, cooperative)
    per_topic(result, 12)
    members = {C1: (both, result.assignment[C1], GEN), C2: (both, [], GEN)}
    result = final(members, counts, cooperative)
    per_topic(result, 6)
    members = {
        C1: (both, result.assignment[C1], GEN),
        C2: (both, result.assignment[C2], GEN),
        C3: (both, [], GEN),
        C4: (both, [], GEN),
    }
    result = final(members, counts, cooperative)
    per_topic(result, 3)
    members = {C3: (both, result.assignment[C3], GEN), C4: (both, result.assignment[C4], GEN)}
    result = final(members, counts, cooperative)
    per_topic(result, 6)
    assert result.partitions_transferring_ownership == {}


@BOTH
def test_add_remove_two_consumers_two_topics(cooperative: bool) -> None:
    # testAddRemoveTwoConsumersTwoTopics
    both = [T1, T2]
    counts = {T1: 3, T2: 4}
    members: Members = {C1: fresh(*both), C2: fresh(*both)}
    result = run(members, counts, cooperative)
    assert result.assignment == {
        C1: [tp(T1, 0), tp(T1, 2), tp(T2, 1), tp(T2, 3)],
        C2: [tp(T1, 1), tp(T2, 0), tp(T2, 2)],
    }
    assert result.partitions_transferring_ownership == {}

    members = {
        C1: (both, result.assignment[C1], GEN),
        C2: (both, result.assignment[C2], GEN),
        C3: (both, [], GEN),
        C4: (both, [], GEN),
    }
    first = run(members, counts, cooperative)
    assert first.partitions_transferring_ownership == {
        tp(T1, 2): C3,
        tp(T2, 3): C3,
        tp(T2, 2): C4,
    }
    result = final(members, counts, cooperative)
    assert result.assignment == {
        C1: [tp(T1, 0), tp(T2, 1)],
        C2: [tp(T2, 0), tp(T1, 1)],
        C3: [tp(T1, 2), tp(T2, 3)],
        C4: [tp(T2, 2)],
    }

    members = {C3: (both, result.assignment[C3], GEN), C4: (both, result.assignment[C4], GEN)}
    result = final(members, counts, cooperative)
    assert result.assignment == {
        C3: [tp(T1, 2), tp(T2, 3), tp(T1, 0), tp(T2, 1)],
        C4: [tp(T2, 2), tp(T1, 1), tp(T2, 0)],
    }
    assert result.partitions_transferring_ownership == {}


@BOTH
def test_poor_round_robin_assignment_scenario(cooperative: bool) -> None:
    # testPoorRoundRobinAssignmentScenario: only validity and balance
    counts = {f"topic{i}": (i % 2) + 1 for i in range(1, 6)}
    every = list(counts)
    odd = ["topic1", "topic3", "topic5"]
    members = {C1: fresh(*every), C2: fresh(*odd), C3: fresh(*odd), C4: fresh(*every)}
    final(members, counts, cooperative)


@BOTH
def test_add_remove_topic_two_consumers(cooperative: bool) -> None:
    # testAddRemoveTopicTwoConsumers
    counts = {T: 3}
    members: Members = {C1: fresh(T), C2: fresh(T)}
    result = final(members, counts, cooperative)
    first = {m: set(tps) for m, tps in result.assignment.items()}
    assert sorted(len(tps) for tps in first.values()) == [1, 2]

    counts = {T: 3, T2: 3}
    members = {m: ([T, T2], result.assignment[m], GEN) for m in (C1, C2)}
    result = final(members, counts, cooperative)
    second = {m: set(tps) for m, tps in result.assignment.items()}
    assert all(len(second[m]) == 3 and first[m] <= second[m] for m in (C1, C2))

    counts = {T2: 3}
    members = {m: ([T2], result.assignment[m], GEN) for m in (C1, C2)}
    result = final(members, counts, cooperative)
    third = {m: set(tps) for m, tps in result.assignment.items()}
    assert sorted(len(tps) for tps in third.values()) == [1, 2]
    assert all(third[m] <= second[m] for m in (C1, C2))
    assert result.partitions_transferring_ownership == {}


def _name(prefix: str, i: int, width_of: int) -> str:
    """``getCanonicalName``: zero-padded to as many digits as ``width_of`` has."""
    return f"{prefix}{i:0{len(str(width_of))}d}"


@BOTH
def test_reassignment_after_one_consumer_leaves(cooperative: bool) -> None:
    # testReassignmentAfterOneConsumerLeaves (Java removes "consumer10", a name not in the
    # group; the member meant is c10)
    counts = {_name("t", i, 20): i for i in range(1, 20)}
    members: Members = {
        _name("c", i, 20): fresh(*(_name("t", j, 20) for j in range(1, i + 1)))
        for i in range(1, 20)
    }
    result = final(members, counts, cooperative)
    members = rejoin(members, result)
    del members["c10"]
    final(members, counts, cooperative)


@BOTH
def test_reassignment_after_one_consumer_added(cooperative: bool) -> None:
    # testReassignmentAfterOneConsumerAdded
    counts = {"topic": 20}
    members: Members = {_name("c", i, 10): fresh("topic") for i in range(1, 10)}
    result = final(members, counts, cooperative)
    assert result.partitions_transferring_ownership == {}
    members[_name("c", 10, 10)] = fresh("topic")
    result = final(members, counts, cooperative)
    assert result.partitions_transferring_ownership == {}


@BOTH
def test_same_subscriptions(cooperative: bool) -> None:
    # testSameSubscriptions
    counts = {_name("t", i, 15): i for i in range(1, 15)}
    members: Members = {_name("c", i, 9): fresh(*counts) for i in range(1, 9)}
    result = final(members, counts, cooperative)
    assert result.partitions_transferring_ownership == {}
    members = rejoin(members, result)
    del members[_name("c", 5, 9)]
    result = run(members, counts, cooperative)
    # c5's partitions had no current owner: nothing waits for a revocation.
    assert result.partitions_transferring_ownership == {}
    final(members, counts, cooperative)


@BOTH
def test_subscription_not_equal_and_assign_same_partition_with_3_generation(
    cooperative: bool,
) -> None:
    # testSubscriptionNotEqualAndAssignSamePartitionWith3Generation
    counts = {T: 6, T1: 1}
    for g1, g2, g3 in [(1, 2, 3), (1, 3, 2), (2, 1, 3), (2, 3, 1), (3, 1, 2), (3, 2, 1)]:
        members = {
            C1: ([T], [tp(T, 0), tp(T, 2)], g1),
            C2: ([T], [tp(T, 1), tp(T, 2), tp(T, 3)], g2),
            C3: ([T], [tp(T, 2), tp(T, 4), tp(T, 5)], g3),
            C4: ([T1], [tp(T1, 0)], 2),
        }
        result = run(members, counts, cooperative)
        every = [p for tps in result.target.values() for p in tps]
        assert len(every) == len(set(every))
        assert all(1 <= len(tps) <= 2 for tps in result.target.values())


@BOTH
def test_new_subscription(cooperative: bool) -> None:
    # testNewSubscription
    counts = {_name("t", i, 5): 1 for i in range(1, 5)}
    topics = {i: [_name("t", j, 5) for j in range(i, 3 * i - 1)] for i in range(3)}
    members: Members = {_name("c", i, 3): fresh(*topics[i]) for i in range(3)}
    final(members, counts, cooperative)
    members[_name("c", 0, 3)] = fresh(*topics[0], _name("t", 1, 5))
    final(members, counts, cooperative)


@BOTH
def test_move_existing_assignments(cooperative: bool) -> None:
    # testMoveExistingAssignments
    counts = {f"topic{i}": 1 for i in range(1, 7)}
    members = {
        C1: ([T1, T2], [tp(T1, 0)], GEN),
        C2: ([T1, T2, T3, "topic4"], [tp(T2, 0), tp(T3, 0)], GEN),
        C3: (
            [T2, T3, "topic4", "topic5", "topic6"],
            [tp("topic4", 0), tp("topic5", 0), tp("topic6", 0)],
            GEN,
        ),
    }
    assert run(members, counts, cooperative).partitions_transferring_ownership is None
    final(members, counts, cooperative)


@BOTH
def test_stickiness(cooperative: bool) -> None:
    # testStickiness
    counts = {T1: 3}
    members: Members = {m: fresh(T1) for m in (C1, C2, C3, C4)}
    result = final(members, counts, cooperative)
    assert result.partitions_transferring_ownership == {}
    assert all(len(tps) <= 1 for tps in result.assignment.values())
    before = {m: tps[0] for m, tps in result.assignment.items() if tps}

    members = {m: ([T1], result.assignment[m], GEN) for m in (C2, C3, C4)}  # the leader left
    result = final(members, counts, cooperative)
    assert result.partitions_transferring_ownership == {}
    for member, tps in result.assignment.items():
        assert len(tps) == 1
        assert member not in before or before[member] in tps


@BOTH
def test_assignment_updated_for_deleted_topic(cooperative: bool) -> None:
    # testAssignmentUpdatedForDeletedTopic (topic2 is subscribed but does not exist)
    result = run({CONSUMER: fresh(T1, T2, T3)}, {T1: 1, T3: 100}, cooperative)
    assert len(result.assignment[CONSUMER]) == 101
    assert result.partitions_transferring_ownership == {}


@BOTH
def test_no_exception_thrown_when_only_subscribed_topic_deleted(cooperative: bool) -> None:
    # testNoExceptionThrownWhenOnlySubscribedTopicDeleted
    result = run({CONSUMER: fresh(T)}, {T: 3}, cooperative)
    members = {CONSUMER: ([T], result.assignment[CONSUMER], GEN)}
    result = run(members, {}, cooperative)
    assert result.assignment == {CONSUMER: []}
    assert result.partitions_transferring_ownership == {}


@BOTH
def test_all_consumers_reach_expected_quota_and_are_considered_filled(cooperative: bool) -> None:
    # testAllConsumersReachExpectedQuotaAndAreConsideredFilled
    members = {
        C1: ([T], [tp(T, 0), tp(T, 1)], GEN),
        C2: ([T], [tp(T, 2)], GEN),
        C3: ([T], [], GEN),
    }
    result = run(members, {T: 4}, cooperative)
    assert result.assignment == {C1: [tp(T, 0), tp(T, 1)], C2: [tp(T, 2)], C3: [tp(T, 3)]}
    assert result.partitions_transferring_ownership == {}


@BOTH
@pytest.mark.parametrize("stale", [9, NONE], ids=["stale-generation", "no-generation"])
def test_owned_partitions_are_invalidated_for_consumer_with_stale_generation(
    cooperative: bool, stale: int
) -> None:
    # testOwnedPartitionsAreInvalidatedForConsumerWithStaleGeneration and
    # testOwnedPartitionsAreInvalidatedForConsumerWithNoGeneration
    both = [T, T2]
    claimed = [tp(T, 0), tp(T, 2), tp(T2, 1)]
    members = {C1: (both, claimed, 10), C2: (both, claimed, stale)}
    result = run(members, {T: 3, T2: 3}, cooperative)
    assert set(result.assignment[C1]) == set(claimed)
    assert set(result.assignment[C2]) == {tp(T, 1), tp(T2, 0), tp(T2, 2)}
    assert result.partitions_transferring_ownership == {}


@BOTH
def test_owned_partitions_are_invalidated_for_consumer_with_multiple_generation(
    cooperative: bool,
) -> None:
    # testOwnedPartitionsAreInvalidatedForConsumerWithMultipleGeneration
    both = [T, T2]
    members = {
        C1: (both, [tp(T, 0), tp(T2, 1), tp(T, 1)], 10),
        C2: (both, [tp(T, 0), tp(T2, 1), tp(T2, 2)], 8),
    }
    result = run(members, {T: 3, T2: 3}, cooperative)
    assert set(result.assignment[C1]) == {tp(T, 0), tp(T2, 1), tp(T, 1)}
    assert set(result.assignment[C2]) == {tp(T, 2), tp(T2, 2), tp(T2, 0)}
    assert result.partitions_transferring_ownership == {}


@BOTH
def test_partitions_transferring_ownership_include_partition_claimed_by_multiple_consumers(
    cooperative: bool,
) -> None:
    # testPartitionsTransferringOwnershipIncludeThePartitionClaimedByMultipleConsumers
    # InSameGeneration
    members = {
        C1: ([T], [tp(T, 0), tp(T, 1)], GEN),
        C2: ([T], [tp(T, 0), tp(T, 2)], GEN),
        C3: ([T], [], GEN),
    }
    assert run(members, {T: 3}, cooperative).partitions_transferring_ownership == {tp(T, 0): C3}
    result = final(members, {T: 3}, cooperative)
    assert result.assignment == {C1: [tp(T, 1)], C2: [tp(T, 2)], C3: [tp(T, 0)]}


@BOTH
def test_ensure_partitions_assigned_to_highest_generation(cooperative: bool) -> None:
    # testEnsurePartitionsAssignedToHighestGeneration
    every = [T, T2, T3]
    members = {
        C1: (every, [tp(T, 0), tp(T2, 0), tp(T3, 0)], 10),
        C2: (every, [tp(T, 1), tp(T2, 1), tp(T3, 1)], 9),
        C3: (every, [tp(T2, 1), tp(T3, 0), tp(T3, 2)], 8),
    }
    result = run(members, {T: 3, T2: 3, T3: 3}, cooperative)
    assert set(result.assignment[C1]) == {tp(T, 0), tp(T2, 0), tp(T3, 0)}
    assert set(result.assignment[C2]) == {tp(T, 1), tp(T2, 1), tp(T3, 1)}
    assert set(result.assignment[C3]) == {tp(T, 2), tp(T2, 2), tp(T3, 2)}
    assert result.partitions_transferring_ownership == {}


@BOTH
def test_no_reassignment_on_current_members(cooperative: bool) -> None:
    # testNoReassignmentOnCurrentMembers
    every = [T, T2, T3, T1]
    members = {
        C1: (every, [], NONE),
        C2: (every, [tp(T, 0), tp(T2, 0), tp(T1, 0)], 9),
        C3: (every, [tp(T3, 2), tp(T2, 2), tp(T1, 1)], 8),
        C4: (every, [tp(T3, 1), tp(T, 1), tp(T, 2)], 7),
    }
    result = run(members, {T: 3, T1: 3, T2: 3, T3: 3}, cooperative)
    assert set(result.assignment[C1]) == {tp(T1, 2), tp(T2, 1), tp(T3, 0)}
    assert result.partitions_transferring_ownership == {}


def _sorted_strings(result: JavaStickyResult, members: Sequence[str]) -> list[str]:
    """``toSortedString`` of each member's partitions, as ``verifyRackAssignment`` compares."""
    return [", ".join(sorted(f"{t}-{p}" for t, p in result.assignment[m])) for m in members]


def _parse(owned: str) -> list[TopicPartition]:
    return [(s.split("-")[0], int(s.split("-")[1])) for s in owned.split(", ") if s]


RACK_COUNTS = {"t1": 6, "t2": 7, "t3": 2}
RACK_MEMBERS = ["consumer0", "consumer1", "consumer2"]


@BOTH
def test_rack_aware_assignment_with_uniform_subscription_without_racks(cooperative: bool) -> None:
    # testRackAwareAssignmentWithUniformSubscription: nonRackAwareAssignment, from nothing and
    # then with it as the owned partitions (verifyUniformSubscription)
    expected = [
        "t1-0, t1-3, t2-0, t2-3, t2-6",
        "t1-1, t1-4, t2-1, t2-4, t3-0",
        "t1-2, t1-5, t2-2, t2-5, t3-1",
    ]
    every = list(RACK_COUNTS)
    for owned in ([""] * 3, expected):
        members = {m: (every, _parse(o), NONE) for m, o in zip(RACK_MEMBERS, owned, strict=True)}
        result = run(members, RACK_COUNTS, cooperative)
        assert _sorted_strings(result, RACK_MEMBERS) == expected


@BOTH
def test_rack_aware_assignment_with_non_equal_subscription_without_racks(
    cooperative: bool,
) -> None:
    # testRackAwareAssignmentWithNonEqualSubscription: nonRackAwareAssignment (general path)
    expected = [
        "t1-5, t2-0, t2-2, t2-4, t2-6",
        "t1-3, t2-1, t2-3, t2-5, t3-0",
        "t1-0, t1-1, t1-2, t1-4, t3-1",
    ]
    topics = [["t1", "t2", "t3"], ["t1", "t2", "t3"], ["t1", "t3"]]
    for owned in ([""] * 3, expected):
        members = {
            m: (ts, _parse(o), NONE) for m, ts, o in zip(RACK_MEMBERS, topics, owned, strict=True)
        }
        result = run(members, RACK_COUNTS, cooperative)
        assert not result.constrained
        assert _sorted_strings(result, RACK_MEMBERS) == expected


def test_cooperative_non_equal_subscription_with_misplaced_owned_partitions() -> None:
    # testRackAwareAssignmentWithNonEqualSubscription, CooperativeStickyAssignor branch
    # "Verify that result is same as non-rack-aware assignment if all racks match": every
    # partition is on every rack, so no rack logic runs. consumer2 owns t2 partitions it does
    # not subscribe to; the first round hands out only what nobody has to revoke.
    topics = [["t1", "t2", "t3"], ["t1", "t2", "t3"], ["t1", "t3"]]
    owned = [
        "t1-0, t1-1, t1-2, t1-3, t1-4",
        "t1-5, t2-0, t2-1, t2-2, t2-3",
        "t2-4, t2-5, t2-6, t3-0, t3-1",
    ]
    intermediate = ["t1-2, t1-3, t1-4", "t2-0, t2-1, t2-2, t2-3", "t3-0, t3-1"]
    final_assignment = [
        "t1-2, t1-3, t1-4, t2-4, t2-5",
        "t2-0, t2-1, t2-2, t2-3, t2-6",
        "t1-0, t1-1, t1-5, t3-0, t3-1",
    ]
    members = {
        m: (ts, _parse(o), NONE) for m, ts, o in zip(RACK_MEMBERS, topics, owned, strict=True)
    }
    assert _sorted_strings(run(members, RACK_COUNTS, True), RACK_MEMBERS) == intermediate
    members = {
        m: (ts, _parse(o), NONE)
        for m, ts, o in zip(RACK_MEMBERS, topics, intermediate, strict=True)
    }
    assert _sorted_strings(run(members, RACK_COUNTS, True), RACK_MEMBERS) == final_assignment


# ----------------------------------------------------------------------------------------------
# StickyAssignorTest and CooperativeStickyAssignorTest


@pytest.mark.parametrize(
    ("partitions", "expected_c1"), [(3, [tp(T, 1)]), (4, [tp(T, 1), tp(T, 3)])]
)
def test_owned_partition_invalidated_when_claimed_by_multiple_consumers_in_same_generation(
    partitions: int, expected_c1: list[TopicPartition]
) -> None:
    # testAllConsumersHaveOwnedPartitionInvalidatedWhenClaimedByMultipleConsumersInSameGeneration
    # WithEqualPartitionsPerConsumer (3) and ...WithUnequalPartitionsPerConsumer (4), in both
    # StickyAssignorTest and CooperativeStickyAssignorTest.
    members = {
        C1: ([T], [tp(T, 0), tp(T, 1)], GEN),
        C2: ([T], [tp(T, 0), tp(T, 2)], GEN),
        C3: ([T], [], GEN),
    }
    eager = run(members, {T: partitions})
    assert eager.assignment == {C1: expected_c1, C2: [tp(T, 2)], C3: [tp(T, 0)]}
    cooperative = run(members, {T: partitions}, cooperative=True)
    # "topic-0 has to be considered owned and so it cant be assigned until both have revoked it"
    assert cooperative.assignment == {C1: expected_c1, C2: [tp(T, 2)], C3: []}


@pytest.mark.parametrize("all_equal", [True, False])
def test_assignment_with_multiple_generations_1(all_equal: bool) -> None:
    # StickyAssignorTest.testAssignmentWithMultipleGenerations1
    every = [T, T2]
    c2_topics = every if all_equal else [T]
    counts = {T: 6, T2: 6}
    r1 = run({C1: fresh(*every), C2: fresh(*c2_topics), C3: fresh(*every)}, counts)
    assert [len(r1.assignment[m]) for m in (C1, C2, C3)] == [4, 4, 4]

    members = {C1: (every, r1.assignment[C1], GEN), C2: (c2_topics, r1.assignment[C2], GEN)}
    r2 = run(members, counts)
    verify(members, r2.assignment)
    assert [len(r2.assignment[m]) for m in (C1, C2)] == [6, 6]
    if all_equal:
        assert set(r1.assignment[C1]) <= set(r2.assignment[C1])
    assert set(r1.assignment[C2]) <= set(r2.assignment[C2])
    assert set(r2.assignment[C2]) & set(r1.assignment[C3])

    members = {C2: (c2_topics, r2.assignment[C2], 2), C3: (every, r1.assignment[C3], 1)}
    r3 = run(members, counts)
    verify(members, r3.assignment)
    assert [len(r3.assignment[m]) for m in (C2, C3)] == [6, 6]


@pytest.mark.parametrize("all_equal", [True, False])
def test_assignment_with_conflicting_previous_generations(all_equal: bool) -> None:
    # StickyAssignorTest.testAssignmentWithConflictingPreviousGenerations
    every = [T, T2, T3]
    c1_topics = every if all_equal else [T]
    c2_topics = every if all_equal else [T, T2]
    c1_owned = (
        [tp(T, 0), tp(T, 1), tp(T, 2), tp(T2, 2), tp(T2, 3), tp(T3, 0)]
        if all_equal
        else [tp(T, 0), tp(T, 1), tp(T, 2), tp(T, 3)]
    )
    c2_owned = [tp(T, 0), tp(T, 1), tp(T2, 0), tp(T2, 1), tp(T2, 2), tp(T2, 3)]
    c3_owned = [tp(T, 2), tp(T, 3), tp(T3, 0), tp(T3, 1), tp(T3, 2), tp(T3, 3)]
    members = {
        C1: (c1_topics, c1_owned, 1),
        C2: (c2_topics, c2_owned, 2),
        C3: (every, c3_owned, 2),
    }
    result = run(members, {T: 4, T2: 4, T3: 4})
    verify(members, result.assignment)
    assert [len(result.assignment[m]) for m in (C1, C2, C3)] == [4, 4, 4]
    assert set(result.assignment[C2]) <= set(c2_owned)
    assert set(result.assignment[C3]) <= set(c3_owned)


def test_schema_backward_compatibility() -> None:
    # StickyAssignorTest.testSchemaBackwardCompatibility: consumer2's old user data carries
    # no generation
    members = {C1: ([T], [tp(T, 0), tp(T, 2)], 1), C2: ([T], [tp(T, 1)], NONE), C3: fresh(T)}
    result = run(members, {T: 3})
    assert [len(result.assignment[m]) for m in (C1, C2, C3)] == [1, 1, 1]
    assert set(result.assignment[C1]) <= {tp(T, 0), tp(T, 2)}
    assert set(result.assignment[C2]) <= {tp(T, 1)}


@BOTH
def test_assignor_with_old_version_subscriptions(cooperative: bool) -> None:
    # StickyAssignorTest / CooperativeStickyAssignorTest.testAssignorWithOldVersionSubscriptions
    members = {
        C1: ([T1], [tp(T1, 0)], GEN),
        C2: ([T1], [tp(T1, 1)], GEN),
        C3: ([T1], [], GEN),
    }
    result = run(members, {T1: 3}, cooperative)
    assert result.assignment == {C1: [tp(T1, 0)], C2: [tp(T1, 1)], C3: [tp(T1, 2)]}


# ----------------------------------------------------------------------------------------------
# Invariants


MEMBER_IDS = ["C0", "C1", "C10", "C2", "consumer-1", "consumer-2", "m", "zz"]
TOPIC_IDS = ["a", "b", "orders", "t10", "t2"]
FAST = settings(max_examples=150, deadline=None)


@st.composite
def _groups(draw: st.DrawFn, equal: bool | None = None) -> tuple[Members, dict[str, int]]:
    """A group with owned partitions (each claimed once or more) and generations."""
    counts = draw(
        st.dictionaries(st.sampled_from(TOPIC_IDS), st.integers(0, 9), min_size=1, max_size=3)
    )
    topics = list(counts)
    names = draw(st.lists(st.sampled_from(MEMBER_IDS), min_size=1, max_size=6, unique=True))
    same = draw(st.booleans()) if equal is None else equal
    every = [(t, p) for t in topics for p in range(counts[t])]
    members: Members = {}
    for name in names:
        subscribed = (
            draw(st.permutations(topics))
            if same
            else draw(st.lists(st.sampled_from(topics), min_size=1, unique=True))
        )
        owned = draw(st.lists(st.sampled_from(every), unique=True)) if every else []
        generation = draw(st.sampled_from([NONE, 1, 2, 3]))
        members[name] = (list(subscribed), owned, generation)
    return members, counts


def _check_valid(members: Members, counts: Mapping[str, int], result: JavaStickyResult) -> None:
    """Every subscribed partition once, only to members subscribed to its topic."""
    assignment = result.target
    owners = Counter(p for tps in assignment.values() for p in tps)
    subscribed = {t for topics, _, _ in members.values() for t in topics}
    assert set(owners) == {(t, p) for t in subscribed for p in range(counts.get(t, 0))}
    assert all(n == 1 for n in owners.values())
    verify(members, assignment)


@FAST
@given(group=_groups())
def test_every_subscribed_partition_is_assigned_once_to_a_subscriber(
    group: tuple[Members, dict[str, int]],
) -> None:
    members, counts = group
    _check_valid(members, counts, run(members, counts))


@FAST
@given(group=_groups(equal=True))
def test_equal_subscriptions_take_the_constrained_path_and_balance_within_one(
    group: tuple[Members, dict[str, int]],
) -> None:
    members, counts = group
    result = run(members, counts)
    assert result.constrained
    _check_valid(members, counts, result)
    assert fully_balanced(result.target)


def _owned_disjoint(
    draw: st.DrawFn, names: list[str], every: list[TopicPartition]
) -> dict[str, list[TopicPartition]]:
    """Each partition owned by at most one member (what a stable group reports)."""
    owner = {p: draw(st.sampled_from([None, *names])) for p in every}
    return {m: [p for p in every if owner[p] == m] for m in names}


@FAST
@given(data=st.data())
def test_constrained_path_moves_the_fewest_partitions(data: st.DataObject) -> None:
    """Members keep min(owned, quota) and the maxQuota slots go to members owning that many:
    the number of partitions moved equals the theoretical minimum."""
    counts = data.draw(
        st.dictionaries(st.sampled_from(TOPIC_IDS), st.integers(0, 9), min_size=1, max_size=3)
    )
    names = data.draw(st.lists(st.sampled_from(MEMBER_IDS), min_size=1, max_size=6, unique=True))
    every = [(t, p) for t in counts for p in range(counts[t])]
    owned = _owned_disjoint(data.draw, names, every)
    members = {m: (list(counts), owned[m], GEN) for m in names}
    result = run(members, counts)

    total, n = len(every), len(names)
    low, extra = divmod(total, n)
    high = low + (1 if extra else 0)
    # At most `extra` members may end with `high`; a member owning >= high keeps one more then.
    holding_high = sum(1 for m in names if len(owned[m]) >= high)
    best_kept = sum(min(len(owned[m]), low) for m in names) + min(holding_high, extra)
    kept = sum(len(set(owned[m]) & set(result.target[m])) for m in names)
    assert kept == best_kept
    # Stickiness per member: everything it keeps is what it owned, up to its new load.
    for m in names:
        assert len(set(owned[m]) & set(result.target[m])) == min(
            len(owned[m]), len(result.target[m])
        )


@FAST
@given(data=st.data())
def test_cooperative_rounds_never_double_own_and_settle(data: st.DataObject) -> None:
    """From a stable group (each partition owned once), the first round withholds what another
    member still owns, and follow-up rounds converge on a valid assignment. (A claim by an
    older generation is not ownership: Java gives the partition to the newer claimant.)"""
    members, counts = data.draw(_groups())
    every = [(t, p) for t in counts for p in range(counts[t])]
    owned = _owned_disjoint(data.draw, list(members), every)
    members = {m: (topics, owned[m], GEN) for m, (topics, _, _) in members.items()}
    held = {m: set(owned[m]) for m in members}
    result = run(members, counts, cooperative=True)
    for _ in range(5):
        for member, tps in result.assignment.items():
            for p in tps:
                # Never granted in the round its previous owner revokes it (KIP-429).
                assert not any(p in held[o] for o in held if o != member)
        revoked = {m: held[m] - set(result.assignment[m]) for m in held}
        if not any(revoked.values()):
            _check_valid(members, counts, result)
            return
        members = rejoin(members, result)
        held = {m: set(result.assignment[m]) for m in held}
        result = run(members, counts, cooperative=True)
    raise AssertionError("cooperative rebalancing did not settle")


@FAST
@given(data=st.data())
def test_cooperative_assignment_matches_the_kip429_rule_without_double_claims(
    data: st.DataObject,
) -> None:
    """With each partition owned by one member, Java's withheld set is exactly what
    ``cooperative_first_assignment`` withholds, and revocations are what is not kept."""
    counts = data.draw(
        st.dictionaries(st.sampled_from(TOPIC_IDS), st.integers(0, 9), min_size=1, max_size=3)
    )
    names = data.draw(st.lists(st.sampled_from(MEMBER_IDS), min_size=1, max_size=6, unique=True))
    every = [(t, p) for t in counts for p in range(counts[t])]
    owned = {m: _by_topic(tps) for m, tps in _owned_disjoint(data.draw, names, every).items()}
    topics = list(counts)
    subscriptions = {
        m: data.draw(st.lists(st.sampled_from(topics), min_size=1, unique=True)) for m in names
    }
    generations = {m: GEN for m in names}
    target = assign("cooperative-sticky", subscriptions, counts, owned, generations=generations)
    granted = cooperative_assignment(subscriptions, counts, owned, generations)
    assert granted == cooperative_first_assignment(owned, target)
    assert cooperative_revocations(owned, granted) == cooperative_revocations(owned, target)


# ----------------------------------------------------------------------------------------------
# Where Java and kafka-python differ, and Java's own corners


def test_kip54_example_java_constrained_and_kafka_python_differ_both_valid() -> None:
    """KIP-54's first example (golden sequence ``kip54_example1_member_leaves``): C1 leaves a
    group of three reading four 2-partition topics. Both keep every partition the survivors
    owned, but Java deals C1's three orphans round robin in topic order to the sorted members
    (C0: t0-1, C2: t2-0, then C2: t3-1) while kafka-python (and KIP-54's text) balance them
    greedily: C0 gets t2-0 instead of t0-1."""
    data = require_golden("kafka/assignors.json")
    seq = next(s for s in data["sticky_sequences"] if s["name"] == "kip54_example1_member_leaves")
    step = seq["steps"][1]
    previous = seq["steps"][0]["assignment"]
    subscriptions = {m["member_id"]: list(m["topics"]) for m in step["members"]}
    generations = {m: step["previous_generation"] for m in subscriptions}
    args = (subscriptions, step["partitions"], previous, None, generations)
    java = assign("sticky", *args, client="java")
    python = assign("sticky", *args, client="kafka-python")
    assert python == step["assignment"]  # the recording
    assert java != python
    assert java == {
        "C0": {"t0": [0, 1], "t1": [1], "t3": [0]},
        "C2": {"t1": [0], "t2": [0, 1], "t3": [1]},
    }
    for result in (java, python):
        loads = [sum(len(ps) for ps in topics.values()) for topics in result.values()]
        assert loads == [4, 4]
        for member in subscriptions:
            mine = {(t, p) for t, ps in previous[member].items() for p in ps}
            got = {(t, p) for t, ps in result[member].items() for p in ps}
            assert mine <= got  # nothing a survivor owned moved


def test_fresh_assignments_agree_with_every_recorded_kafka_python_case() -> None:
    """With nothing owned, the two algorithms coincide: on equal subscriptions both deal the
    sorted partitions to the sorted members in turn, and otherwise the general paths start from
    the same greedy pass. Checked on every recorded case."""
    data = require_golden("kafka/assignors.json")
    for case in data["cases"]:
        subscriptions = {m["member_id"]: list(m["topics"]) for m in case["members"]}
        got = assign("sticky", subscriptions, case["partitions"], client="java")
        assert got == case["assignments"]["sticky"], case["id"]


def test_empty_subscription_met_first_does_not_break_equality() -> None:
    """``allSubscriptionsEqual`` takes the first member's topics as the reference only when they
    are non-empty. A member with no topics met first in HashMap order ("a" precedes "b") is
    then treated as subscribed like the rest and handed partitions; met later, it makes the
    subscriptions unequal. (AbstractStickyAssignor 3.9.0-rc3 returns exactly this.)"""
    first = java_sticky_assign({"a": [], "b": ["t"]}, {"t": 2})
    assert first.constrained
    assert first.assignment == {"a": [("t", 0)], "b": [("t", 1)]}
    later = java_sticky_assign({"b": [], "a": ["t"]}, {"t": 2})
    assert java_hash_map_order(["b", "a"]) == ["a", "b"]
    assert not later.constrained
    assert later.assignment == {"a": [("t", 0), ("t", 1)], "b": []}


def test_group_model_default_is_the_java_algorithm() -> None:
    subscriptions = {"C0": ["t0", "t1", "t2", "t3"], "C2": ["t0", "t1", "t2", "t3"]}
    previous = {"C0": {"t0": [0], "t1": [1], "t3": [0]}, "C2": {"t1": [0], "t2": [1]}}
    counts = {"t0": 2, "t1": 2, "t2": 2, "t3": 2}
    assert assign("sticky", subscriptions, counts, previous) == assign(
        "sticky", subscriptions, counts, previous, client="java"
    )


def test_unknown_client_is_rejected() -> None:
    with pytest.raises(ValueError, match=r"java.*kafka-python"):
        assign("sticky", {"C0": ["t"]}, {"t": 1}, client="librdkafka")


def test_previous_owner_shortcut_only_to_a_member_still_subscribed() -> None:
    """``performReassignments`` gives a partition back to its previous-generation owner without
    checking that the owner still subscribes to the topic: here Java hands a-0 to c2, which
    reads only b (AbstractStickyAssignor 3.9.0-rc3 returns c2: [a-0], c1: []). The port skips
    that shortcut when it would be invalid and moves a-0 to the least loaded subscriber."""
    result = java_sticky_assign(
        {"c1": ["a", "b"], "c2": ["b"], "c3": ["b", "a"]},
        {"a": 1, "b": 1},
        {"c2": {"a": [0]}, "c3": {"a": [0], "b": [0]}},
        {"c3": 2},  # c2's claim on a-0 is older: c3 wins it, c2 is its previous owner
    )
    assert not result.constrained
    assert result.assignment == {"c3": [("b", 0)], "c1": [("a", 0)], "c2": []}
