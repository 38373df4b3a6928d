"""The broker-side assignors of KIP-848 (uniform, range) and of share groups (simple), against the
expectations of apache/kafka's own unit tests (group-coordinator, at commit 1eb7644:
OptimizedUniformAssignmentBuilderTest, UniformHeterogeneousAssignmentBuilderTest,
RangeAssignorTest), and against their invariants on random inputs.

Java's tests key topics by fixed Uuids and iterate members in sorted order (a TreeMap, or a
GroupSpec that sorts them); `mkAssignment` builds a HashMap (Java's Uuid order, reproduced with
`topic_ids`) and `mkOrderedAssignment` a LinkedHashMap (the order written)."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.brokers.kafka.assignors import (
    PartitionAssignorError,
    java_uuid_hash,
    kafka_uuid,
    range_server_assign,
    server_assign,
    simple_share_assign,
    uniform_assign,
)

T1, T2, T3, T4 = "topic1", "topic2", "topic3", "topic4"
IDS = {
    T1: "T1-A4s3VTwiI5CTbEp6POw",
    T2: "T2-B4s3VTwiI5YHbPp6YUe",
    T3: "T3-CU8fVTLCz5YMkLoDQsa",
    T4: "T4-Tw9fVTLCz5HbPp6YQsa",
}


def _hash_map(assignment: dict[str, list[int]]) -> dict[str, list[int]]:
    """mkAssignment: a HashMap<Uuid, ...>, iterated in Java's order of the topic ids."""
    return dict(sorted(assignment.items(), key=lambda kv: _java_order(list(assignment), kv[0])))


def _java_order(topics: list[str], topic: str) -> int:
    from sim.brokers.kafka.assignors import _java_uuid_set_order

    return _java_uuid_set_order(topics, IDS).index(topic)


def test_kafka_uuids_decode_and_hash_as_java_does() -> None:
    # Uuid.fromString of the base64 form, and Uuid.hashCode = (int)(xor >> 32) ^ (int) xor.
    most, least = kafka_uuid("AAAAAAAAAAEAAAAAAAAAAg")  # bytes 00..01 00..02
    assert (most, least) == (1, 2)
    assert java_uuid_hash("AAAAAAAAAAEAAAAAAAAAAg") == 3
    most, least = kafka_uuid("_____________________w")  # all ones: -1, -1 as Java longs
    assert (most, least) == (-1, -1)
    assert java_uuid_hash("_____________________w") == 0
    with pytest.raises(ValueError, match="16 bytes"):
        kafka_uuid("AAAA")


# ----- UniformAssignor, homogeneous (OptimizedUniformAssignmentBuilderTest) -----
HOMOGENEOUS_CASES: list[tuple[str, dict[str, list[str]], dict[str, int], Any, Any]] = [
    (
        "testFirstAssignmentTwoMembersTwoTopicsNoMemberRacks",
        {"A": [T1, T3], "B": [T1, T3]},
        {T1: 3, T3: 2},
        {},
        {"A": {T1: [0], T3: [0, 1]}, "B": {T1: [1, 2]}},
    ),
    (
        "testFirstAssignmentNumMembersGreaterThanTotalNumPartitions",
        {"A": [T3], "B": [T3], "C": [T3]},
        {T3: 2},
        {},
        {"A": {T3: [0]}, "B": {T3: [1]}, "C": {}},
    ),
    (
        "testReassignmentForTwoMembersTwoTopicsGivenUnbalancedPrevAssignment",
        {"A": [T1, T2], "B": [T1, T2]},
        {T1: 3, T2: 3},
        {"A": {T1: [0, 1], T2: [0, 1]}, "B": {T1: [2], T2: [2]}},
        {"A": {T1: [0, 1], T2: [0]}, "B": {T1: [2], T2: [1, 2]}},
    ),
    (
        "testReassignmentWhenPartitionsAreAddedForTwoMembersTwoTopics",
        {"A": [T1, T2], "B": [T1, T2]},
        {T1: 6, T2: 5},
        {"A": {T1: [0, 2], T2: [0]}, "B": {T1: [1], T2: [1, 2]}},
        {"A": {T1: [0, 2, 3], T2: [0, 3, 4]}, "B": {T1: [1, 4, 5], T2: [1, 2]}},
    ),
    (
        "testReassignmentWhenOneMemberAddedAfterInitialAssignmentWithTwoMembersTwoTopics",
        {"A": [T1, T2], "B": [T1, T2], "C": [T1, T2]},
        {T1: 3, T2: 3},
        {"A": {T1: [0, 2], T2: [0]}, "B": {T1: [1], T2: [1, 2]}},
        {"A": {T1: [0, 2]}, "B": {T1: [1], T2: [1]}, "C": {T2: [0, 2]}},
    ),
    (
        "testReassignmentWhenOneMemberRemovedAfterInitialAssignmentWithThreeMembersTwoTopics",
        {"A": [T1, T2], "B": [T1, T2]},
        {T1: 3, T2: 3},
        {"A": _hash_map({T1: [0], T2: [0]}), "B": _hash_map({T1: [1], T2: [1]})},
        {"A": {T1: [0], T2: [0, 2]}, "B": {T1: [1, 2], T2: [1]}},
    ),
    (
        "testReassignmentWhenOneSubscriptionRemovedAfterInitialAssignmentWithTwoMembersTwoTopics",
        {"A": [T2], "B": [T2]},
        {T1: 2, T2: 2},
        {"A": _hash_map({T1: [0], T2: [0]}), "B": _hash_map({T1: [1], T2: [1]})},
        {"A": {T2: [0]}, "B": {T2: [1]}},
    ),
]


@pytest.mark.parametrize(
    ("subscriptions", "partitions", "current", "expected"),
    [case[1:] for case in HOMOGENEOUS_CASES],
    ids=[case[0] for case in HOMOGENEOUS_CASES],
)
def test_uniform_homogeneous_matches_kafkas_tests(
    subscriptions: dict[str, list[str]], partitions: dict[str, int], current: Any, expected: Any
) -> None:
    assert uniform_assign(subscriptions, partitions, current, IDS) == expected


def test_uniform_orders_topics_by_their_ids_not_their_names() -> None:
    # topic3 comes before topic1 in Java's HashSet of their ids, so the member with the extra
    # partition fills up from topic3 first; ordering by name gives another (also balanced) answer.
    subs = {"A": [T1, T3], "B": [T1, T3]}
    by_id = uniform_assign(subs, {T1: 3, T3: 2}, None, IDS)
    by_name = uniform_assign(subs, {T1: 3, T3: 2})
    assert by_id == {"A": {T1: [0], T3: [0, 1]}, "B": {T1: [1, 2]}}
    assert by_name == {"A": {T1: [0, 1, 2]}, "B": {T3: [0, 1]}}


def test_uniform_with_no_subscription_or_a_missing_topic() -> None:
    # testOneMemberNoTopicSubscription: an empty GroupAssignment.
    assert uniform_assign({"A": []}, {T1: 3}) == {}
    # testOneMemberSubscribedToNonexistentTopic: PartitionAssignorException.
    with pytest.raises(PartitionAssignorError):
        uniform_assign({"A": [T2]}, {T1: 3})


# ----- UniformAssignor, heterogeneous (UniformHeterogeneousAssignmentBuilderTest) -----
HETEROGENEOUS_CASES: list[tuple[str, dict[str, list[str]], dict[str, int], Any, Any]] = [
    (
        "testFirstAssignmentTwoMembersTwoTopics",
        {"A": [T1, T3], "B": [T3]},
        {T1: 3, T3: 6},
        {},
        {"A": {T1: [0, 1, 2], T3: [4]}, "B": {T3: [0, 1, 2, 3, 5]}},
    ),
    (
        "testFirstAssignmentNumMembersGreaterThanTotalNumPartitions",
        {"A": [T3], "B": [T3], "C": [T1]},
        {T3: 1, T1: 2},
        {},
        {"A": {T3: [0]}, "B": {}, "C": {T1: [0, 1]}},
    ),
    (
        "testReassignmentForTwoMembersThreeTopicsGivenUnbalancedPrevAssignment",
        {"A": [T1], "B": [T1, T2], "C": [T1, T2, T3]},
        {T1: 6, T2: 4, T3: 4},
        {
            "A": {T1: [0, 1, 2]},
            "B": {T1: [3], T2: [0]},
            "C": {T1: [4, 5], T2: [1, 2, 3], T3: [0, 1, 2, 3]},
        },
        {
            "A": {T1: [0, 1, 2, 5]},
            "B": {T1: [3], T2: [0, 1, 2, 3]},
            "C": {T1: [4], T3: [0, 1, 2, 3]},
        },
    ),
    (
        "testReassignmentWhenPartitionsAreAddedForTwoMembers",
        {"A": [T1, T3], "B": [T1, T2, T3, T4]},
        {T1: 6, T2: 5, T3: 3, T4: 3},
        {"A": {T1: [0, 1, 2, 3], T3: [0, 1]}, "B": {T2: [0, 1, 2], T4: [0, 1, 2]}},
        {"A": {T1: [0, 1, 2, 3, 4, 5], T3: [0, 1, 2]}, "B": {T2: [0, 1, 2, 3, 4], T4: [0, 1, 2]}},
    ),
    (
        "testReassignmentWhenOneMemberAddedAndPartitionsAddedTwoMembersTwoTopics",
        {"A": [T1], "B": [T1, T2], "C": [T1, T2]},
        {T1: 6, T2: 7},
        {"A": {T1: [0, 2], T2: [0]}, "B": {T1: [1], T2: [1, 2]}},
        {"A": {T1: [0, 2, 3, 4, 5]}, "B": {T1: [1], T2: [1, 2, 6]}, "C": {T2: [0, 3, 4, 5]}},
    ),
    (
        "testReassignmentWhenOneMemberRemovedAfterInitialAssignmentWithThreeMembersThreeTopics",
        {"A": [T1, T3], "B": [T2]},
        {T1: 3, T2: 8, T3: 3},
        {"A": {T1: [0, 1, 2], T3: [0, 1]}, "B": {T2: [3, 4, 5, 6]}},
        {"A": {T1: [0, 1, 2], T3: [0, 1, 2]}, "B": {T2: [0, 1, 2, 3, 4, 5, 6, 7]}},
    ),
    (
        "testReassignmentWhenOneSubscriptionRemovedAfterInitialAssignmentWithTwoMembersTwoTopics",
        {"A": [T1], "B": [T1, T2]},
        {T1: 3, T2: 5},
        {"A": {T1: [0, 2], T2: [1, 3]}, "B": {T1: [1], T2: [0, 2, 4]}},
        {"A": {T1: [0, 1, 2]}, "B": {T2: [0, 1, 2, 3, 4]}},
    ),
    (
        "testReassignmentWhenTopicPartitionsRunOutAndMembersHaveNoPartitions",
        {"A": [T1, T2, T3], "B": [T1, T2, T3]},
        {T1: 2, T2: 2, T3: 2},
        {"A": {T1: [0, 1], T2: [0, 1], T3: [0, 1]}},
        {"A": {T2: [0], T3: [0, 1]}, "B": {T1: [0, 1], T2: [1]}},
    ),
    (
        "testFirstAssignmentWithTwoMembersIncludingOneWithoutSubscriptions",
        {"A": [T1], "B": []},
        {T1: 3},
        {},
        {"A": {T1: [0, 1, 2]}, "B": {}},
    ),
]


@pytest.mark.parametrize(
    ("subscriptions", "partitions", "current", "expected"),
    [case[1:] for case in HETEROGENEOUS_CASES],
    ids=[case[0] for case in HETEROGENEOUS_CASES],
)
def test_uniform_heterogeneous_matches_kafkas_tests(
    subscriptions: dict[str, list[str]], partitions: dict[str, int], current: Any, expected: Any
) -> None:
    # Kafka's test forces HETEROGENEOUS even where the subscriptions happen to be equal.
    got = uniform_assign(subscriptions, partitions, current, IDS, homogeneous=False)
    assert got == expected


def test_the_coordinator_picks_the_builder_by_subscription_type() -> None:
    # Equal subscriptions take the homogeneous quota path: one member keeps what it had up to
    # its quota. The heterogeneous builder answers differently for the same input.
    subs = {"A": [T1, T2, T3], "B": [T1, T2, T3]}
    current = {"A": {T1: [0, 1], T2: [0, 1], T3: [0, 1]}}
    homogeneous = uniform_assign(subs, {T1: 2, T2: 2, T3: 2}, current, IDS)
    assert homogeneous != uniform_assign(subs, {T1: 2, T2: 2, T3: 2}, current, IDS, False)
    assert sorted(sum(len(p) for p in m.values()) for m in homogeneous.values()) == [3, 3]


# ----- RangeAssignor (RangeAssignorTest) -----
RANGE_CASES: list[tuple[str, dict[str, list[str]], dict[str, int], Any]] = [
    (
        "testFirstAssignmentTwoMembersTwoTopicsSameSubscriptions",
        {"A": [T1, T3], "B": [T1, T3]},
        {T1: 3, T3: 2},
        {"A": {T1: [0, 1], T3: [0]}, "B": {T1: [2], T3: [1]}},
    ),
    (
        "testFirstAssignmentThreeMembersThreeTopicsDifferentSubscriptions",
        {"A": [T1, T2], "B": [T3], "C": [T2, T3]},
        {T1: 3, T2: 3, T3: 2},
        {"A": {T1: [0, 1, 2], T2: [0, 1]}, "B": {T3: [0]}, "C": {T2: [2], T3: [1]}},
    ),
    (
        "testFirstAssignmentNumMembersGreaterThanNumPartitions",
        {"A": [T1, T3], "B": [T1, T3], "C": [T1, T3]},
        {T1: 3, T3: 2},
        {"A": {T1: [0], T3: [0]}, "B": {T1: [1], T3: [1]}, "C": {T1: [2]}},
    ),
    (
        "testReassignmentNumMembersGreaterThanNumPartitionsWhenOneMemberAdded",
        {"A": [T1, T2], "B": [T1, T2], "C": [T1, T2]},
        {T1: 2, T2: 2},
        {"A": {T1: [0], T2: [0]}, "B": {T1: [1], T2: [1]}, "C": {}},
    ),
    (
        "testReassignmentWhenOnePartitionAddedForTwoMembersTwoTopics",
        {"A": [T1, T2], "B": [T1, T2]},
        {T1: 4, T2: 4},
        {"A": {T1: [0, 1], T2: [0, 1]}, "B": {T1: [2, 3], T2: [2, 3]}},
    ),
    (
        "testReassignmentWhenOneMemberAddedAfterInitialAssignmentWithTwoMembersTwoTopics",
        {"A": [T1, T2], "B": [T1, T2], "C": [T1, T2]},
        {T1: 3, T2: 3},
        {"A": {T1: [0], T2: [0]}, "B": {T1: [1], T2: [1]}, "C": {T1: [2], T2: [2]}},
    ),
    (
        "testReassignmentWhenOneMemberAddedAndOnePartitionAfterInitialAssignmentWithTwoMembersTwoTopics",
        {"A": [T1, T2], "B": [T1, T2], "C": [T1]},
        {T1: 4, T2: 3},
        {"A": {T1: [0, 1], T2: [0, 1]}, "B": {T1: [2], T2: [2]}, "C": {T1: [3]}},
    ),
    (
        "testReassignmentWhenOneMemberRemovedAfterInitialAssignmentWithTwoMembersTwoTopics",
        {"B": [T1, T2]},
        {T1: 3, T2: 3},
        {"B": {T1: [0, 1, 2], T2: [0, 1, 2]}},
    ),
    (
        "testReassignmentWhenMultipleSubscriptionsRemovedAfterInitialAssignmentWithThreeMembersTwoTopics",
        {"A": [T1], "B": [T1, T2, T3], "C": [T2]},
        {T1: 3, T2: 3, T3: 2},
        {"A": {T1: [0, 1]}, "B": {T1: [2], T2: [0, 1], T3: [0, 1]}, "C": {T2: [2]}},
    ),
]


@pytest.mark.parametrize(
    ("subscriptions", "partitions", "expected"),
    [case[1:] for case in RANGE_CASES],
    ids=[case[0] for case in RANGE_CASES],
)
def test_range_matches_kafkas_tests(
    subscriptions: dict[str, list[str]], partitions: dict[str, int], expected: Any
) -> None:
    assert range_server_assign(subscriptions, partitions) == expected
    assert server_assign("range", subscriptions, partitions) == expected


def test_range_keeps_static_members_assignments_across_new_member_ids() -> None:
    # testStaticMembership / testMixedStaticMembership: static members sort by instance id, so a
    # restarted static member (new member id, same instance id) gets the same partitions.
    subs = {"memberA": [T1], "memberB": [T1], "memberC": [T1]}
    ids = {"memberA": "instanceA", "memberC": "instanceC"}
    before = range_server_assign(subs, {T1: 5}, ids)
    after = range_server_assign(
        {"memberA1": [T1], "memberB": [T1], "memberC": [T1]},
        {T1: 5},
        {"memberA1": "instanceA", "memberC": "instanceC"},
    )
    assert after["memberA1"] == before["memberA"]
    assert after["memberB"] == before["memberB"]
    assert after["memberC"] == before["memberC"]
    # Static first (instanceA, instanceC), then the dynamic memberB.
    assert before == {"memberA": {T1: [0, 1]}, "memberB": {T1: [4]}, "memberC": {T1: [2, 3]}}


def test_an_unknown_server_assignor_is_refused() -> None:
    with pytest.raises(ValueError, match="UNSUPPORTED_ASSIGNOR"):
        server_assign("sticky", {"A": [T1]}, {T1: 1})


# ----- uniform: invariants on random groups -----
@st.composite
def groups(
    draw: Any,
) -> tuple[dict[str, list[str]], dict[str, int], dict[str, dict[str, list[int]]]]:
    topics = [f"t{i}" for i in range(draw(st.integers(1, 4)))]
    counts = {t: draw(st.integers(0, 9)) for t in topics}
    members = [f"m{i}" for i in range(draw(st.integers(1, 7)))]
    same = draw(st.booleans())
    subs = {
        m: topics if same else draw(st.lists(st.sampled_from(topics), min_size=1, unique=True))
        for m in members
    }
    # A previous target: each partition owned by at most one member (subscribed or not).
    current: dict[str, dict[str, list[int]]] = {m: {} for m in members}
    for t in topics:
        for p in range(counts[t]):
            owner = draw(st.sampled_from([None, *members]))
            if owner is not None:
                current[owner].setdefault(t, []).append(p)
    return subs, counts, current


@settings(max_examples=150, deadline=None)
@given(groups())
def test_uniform_is_valid_balanced_and_sticky(group: Any) -> None:
    subs, counts, current = group
    result = uniform_assign(subs, counts, current)
    owners: Counter[tuple[str, int]] = Counter()
    for member, assignment in result.items():
        for topic, parts in assignment.items():
            assert topic in subs[member]  # only subscribed topics
            owners.update((topic, p) for p in parts)
    subscribed = {t for ts in subs.values() for t in ts}
    expected = {(t, p) for t in subscribed for p in range(counts[t])}
    assert set(owners) == expected and all(n == 1 for n in owners.values())  # each exactly once
    loads = {m: sum(len(p) for p in a.values()) for m, a in result.items()}
    if len({frozenset(ts) for ts in subs.values()}) == 1:
        assert max(loads.values()) - min(loads.values()) <= 1
        # Sticky: a member keeps its previous partitions up to the minimum quota.
        quota = len(expected) // len(subs)
        for member, before in current.items():
            kept = {(t, p) for t, ps in before.items() for p in ps if t in subs[member]}
            now = {(t, p) for t, ps in result[member].items() for p in ps}
            assert len(kept & now) >= min(len(kept), quota)


# ----- the share groups' SimpleAssignor -----
@pytest.mark.parametrize(
    ("members", "partitions", "per_member", "per_partition"),
    [
        (1, 2, [2], [1, 1]),  # one member reads everything
        (2, 2, [1, 1], [1, 1]),
        (6, 2, [1] * 6, [3, 3]),  # more members than partitions: partitions are shared
        (12, 2, [1] * 12, [6, 6]),
        # ceil(3/2) = 2 members per partition: 4 memberships, x = 4/3, so member 0 wants
        # ceil(4/3) = 2 partitions and the others ceil(8/3) - 2 = 1 and 4 - 3 = 1.
        (3, 2, [2, 1, 1], [2, 2]),
        (2, 5, [3, 2], [1] * 5),  # fewer members than partitions: like a consumer group
    ],
)
def test_simple_share_assignor_shares_partitions_evenly(
    members: int, partitions: int, per_member: list[int], per_partition: list[int]
) -> None:
    subs = {f"m{i:02d}": ["t"] for i in range(members)}
    result = simple_share_assign(subs, {"t": partitions})
    loads = [sum(len(p) for p in result[m].values()) for m in sorted(subs)]
    assert loads == per_member
    sharing = Counter(p for a in result.values() for p in a.get("t", []))
    assert [sharing[p] for p in range(partitions)] == per_partition


def test_simple_share_assignor_is_sticky_when_members_join() -> None:
    subs = {f"m{i}": ["t"] for i in range(4)}
    first = simple_share_assign(subs, {"t": 2})
    subs["m4"] = ["t"]
    subs["m5"] = ["t"]
    second = simple_share_assign(subs, {"t": 2}, first)
    for member, assignment in first.items():
        assert second[member] == assignment  # nobody moved
    assert second["m4"] and second["m5"]  # the newcomers share the same partitions
    assert Counter(p for a in second.values() for p in a["t"]) == {0: 3, 1: 3}


def test_simple_share_assignor_takes_from_overfilled_members() -> None:
    # Two members had both partitions each (say after others left); with four members now each
    # should hold one: the overfilled ones give one up.
    current = {"m0": {"t": [0, 1]}, "m1": {"t": [0, 1]}, "m2": {}, "m3": {}}
    result = simple_share_assign({m: ["t"] for m in current}, {"t": 2}, current)
    assert [sum(len(p) for p in result[m].values()) for m in sorted(result)] == [1, 1, 1, 1]
    assert Counter(p for a in result.values() for p in a["t"]) == {0: 2, 1: 2}
    assert len(result["m0"]["t"]) == len(result["m1"]["t"]) == 1  # each kept one of its two
    assert result["m2"] and result["m3"]  # and the newcomers got the ones given up


def test_simple_share_assignor_refuses_what_it_does_not_model() -> None:
    with pytest.raises(ValueError, match="different topics"):
        simple_share_assign({"a": ["t"], "b": ["u"]}, {"t": 1, "u": 1})
    with pytest.raises(PartitionAssignorError):
        simple_share_assign({"a": ["missing"]}, {"t": 1})
