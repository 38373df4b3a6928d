"""Property tests for the sticky and cooperative-sticky assignors.

The golden data pins exact answers for a few hundred inputs; these properties cover the space
between them with the guarantees KIP-54 and KIP-429 promise: every partition is owned exactly
once by a member subscribed to its topic; with identical subscriptions loads differ by at most
one; and when a member joins or leaves, a surviving member loses a partition only if it must
shrink, so everything that need not move stays put. For cooperative-sticky the two-round
protocol must never hand out a partition another member still owns and must converge on the
sticky target.
"""

from __future__ import annotations

from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from sim.brokers.kafka import (
    Assignment,
    assign,
    cooperative_first_assignment,
    cooperative_revocations,
)

STICKY_STRATEGIES = ("sticky", "cooperative-sticky")
# Ids chosen so that string order differs from numeric order ("C10" < "C2").
MEMBER_IDS = [f"C{i}" for i in range(14)]
TOPIC_IDS = ["a", "b", "orders", "t10", "t2"]

members_st = st.lists(st.sampled_from(MEMBER_IDS), min_size=1, max_size=6, unique=True)
topics_st = st.dictionaries(
    st.sampled_from(TOPIC_IDS), st.integers(min_value=0, max_value=9), min_size=1, max_size=3
)
strategy_st = st.sampled_from(STICKY_STRATEGIES)
FAST = settings(max_examples=60, deadline=None)


def _tps(assignment: Assignment, member: str) -> set[tuple[str, int]]:
    return {(t, p) for t, parts in assignment.get(member, {}).items() for p in parts}


def _check_exactly_once(
    result: Assignment, subscriptions: dict[str, list[str]], partitions: dict[str, int]
) -> None:
    owners = Counter(tp for member in result for tp in _tps(result, member))
    subscribed = {t for topics in subscriptions.values() for t in topics}
    expected = {(t, p) for t in subscribed for p in range(partitions.get(t, 0))}
    assert set(owners) == expected
    assert all(n == 1 for n in owners.values())
    for member in result:
        assert all(t in subscriptions[member] for t, _ in _tps(result, member))
    assert set(result) == set(subscriptions)


def _check_balanced(result: Assignment) -> None:
    loads = [len(_tps(result, m)) for m in result]
    assert max(loads) - min(loads) <= 1, loads


def _check_sticky(before: Assignment, after: Assignment) -> None:
    """A survivor keeps min(old load, new load) of its partitions: it moves only what it must."""
    for member in set(before) & set(after):
        old, new = _tps(before, member), _tps(after, member)
        assert len(old & new) == min(len(old), len(new)), (member, sorted(old), sorted(new))


@st.composite
def _groups(draw: st.DrawFn) -> tuple[dict[str, list[str]], dict[str, int]]:
    members = draw(members_st)
    partitions = draw(topics_st)
    topics = list(partitions)
    subscriptions = {
        m: draw(st.lists(st.sampled_from(topics), min_size=1, unique=True)) for m in members
    }
    return subscriptions, partitions


@FAST
@given(group=_groups(), strategy=strategy_st)
def test_every_partition_assigned_exactly_once(
    group: tuple[dict[str, list[str]], dict[str, int]], strategy: str
) -> None:
    subscriptions, partitions = group
    _check_exactly_once(assign(strategy, subscriptions, partitions), subscriptions, partitions)


@FAST
@given(members=members_st, partitions=topics_st, strategy=strategy_st)
def test_identical_subscriptions_are_balanced(
    members: list[str], partitions: dict[str, int], strategy: str
) -> None:
    subscriptions = {m: list(partitions) for m in members}
    result = assign(strategy, subscriptions, partitions)
    _check_exactly_once(result, subscriptions, partitions)
    _check_balanced(result)


@FAST
@given(
    members=members_st,
    partitions=topics_st,
    strategy=strategy_st,
    changes=st.lists(st.tuples(st.booleans(), st.sampled_from(MEMBER_IDS)), max_size=4),
)
def test_join_and_leave_move_only_what_must_move(
    members: list[str],
    partitions: dict[str, int],
    strategy: str,
    changes: list[tuple[bool, str]],
) -> None:
    topics = list(partitions)
    current = assign(strategy, {m: topics for m in members}, partitions)
    group = list(members)
    for join, member in changes:
        if join and member not in group:
            group.append(member)
        elif not join and member in group and len(group) > 1:
            group.remove(member)
        else:
            continue
        subscriptions = {m: topics for m in group}
        result = assign(strategy, subscriptions, partitions, previous=current)
        _check_exactly_once(result, subscriptions, partitions)
        _check_balanced(result)
        _check_sticky(current, result)
        current = result


def _cooperative_round(held: Assignment, target: Assignment, members: list[str]) -> Assignment:
    """One KIP-429 round: revoke what moves, grant what is free; return what each member holds."""
    revoked = cooperative_revocations(held, target)
    first = cooperative_first_assignment(held, target)
    holding: Counter[tuple[str, int]] = Counter()
    for member in members:
        kept = _tps(held, member) - _tps(revoked, member)
        assert kept <= _tps(target, member)
        # A member's kept partitions are part of what the round hands it, and no more than
        # its target.
        assert kept <= _tps(first, member) <= _tps(target, member)
        holding.update(_tps(first, member))
    # Nothing is granted while another member still owns it: no partition is held twice.
    assert all(n == 1 for n in holding.values())
    return first


def _change(
    subscriptions: dict[str, list[str]], topics: list[str], member: str, leave: bool
) -> dict[str, list[str]]:
    changed = dict(subscriptions)
    if leave and len(changed) > 1:
        changed.pop(next(iter(changed)))
    else:
        changed[member] = list(topics)
    return changed


@FAST
@given(
    members=members_st,
    partitions=topics_st,
    new_member=st.sampled_from(MEMBER_IDS),
    leave=st.booleans(),
)
def test_cooperative_two_rebalances_reach_the_sticky_target(
    members: list[str], partitions: dict[str, int], new_member: str, leave: bool
) -> None:
    """With identical subscriptions one revocation round then one assignment round suffice."""
    topics = list(partitions)
    before = assign("cooperative-sticky", {m: topics for m in members}, partitions)
    changed = _change({m: topics for m in members}, topics, new_member, leave)
    target = assign("cooperative-sticky", changed, partitions, previous=before)
    assert target == assign("sticky", changed, partitions, previous=before)

    first = _cooperative_round(before, target, list(changed))
    second = assign("cooperative-sticky", changed, partitions, previous=first)
    assert second == target
    assert all(not _tps(cooperative_revocations(first, second), m) for m in changed)


@FAST
@given(group=_groups(), new_member=st.sampled_from(MEMBER_IDS), leave=st.booleans())
def test_cooperative_rounds_never_double_own_and_settle(
    group: tuple[dict[str, list[str]], dict[str, int]], new_member: str, leave: bool
) -> None:
    """With unequal subscriptions the group may need more rounds, but few, and always valid.

    Round two is a fresh sticky run over what members then hold, so it can settle somewhere
    other than round one's target (a withheld partition may go back to the member that just
    revoked it): Kafka simply keeps rebalancing until a round revokes nothing.
    """
    subscriptions, partitions = group
    before = assign("cooperative-sticky", subscriptions, partitions)
    changed = _change(subscriptions, list(partitions), new_member, leave)
    held = before
    target = assign("cooperative-sticky", changed, partitions, previous=held)
    for _ in range(4):
        _check_exactly_once(target, changed, partitions)
        if not any(_tps(cooperative_revocations(held, target), m) for m in changed):
            break
        held = _cooperative_round(held, target, list(changed))
        target = assign("cooperative-sticky", changed, partitions, previous=held)
    else:
        raise AssertionError("cooperative rebalancing did not settle within 4 rounds")
