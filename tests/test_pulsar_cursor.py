"""The subscription cursor and the negative-ack tracker (ManagedCursorImpl, NegativeAcksTracker)."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.brokers.pulsar.cursor import Cursor
from sim.brokers.pulsar.errors import InvalidConfigurationException, check_cumulative_ack_allowed
from sim.brokers.pulsar.negative_acks import NegativeAcksTracker


def test_gap_filling_ack_moves_mark_delete_over_the_acked_range() -> None:
    cursor = Cursor()
    for entry in (1, 2, 4):
        assert cursor.ack(entry)
    assert cursor.mark_delete == -1
    assert cursor.individually_acked_ranges() == [(1, 2), (4, 4)]
    assert cursor.backlog(last_entry=5) == 3  # entries 0, 3, 5
    assert cursor.ack(0)  # closes the gap: mark-delete jumps to the end of [0, 2]
    assert cursor.mark_delete == 2
    assert cursor.individually_acked_ranges() == [(4, 4)]
    assert cursor.backlog(5) == 2
    assert not cursor.ack(1)  # already acked, below mark-delete
    assert not cursor.ack(4)


def test_cumulative_ack_drops_ranges_below_and_absorbs_the_next() -> None:
    cursor = Cursor()
    for entry in (2, 3, 6, 7, 9):
        cursor.ack(entry)
    assert cursor.ack_cumulative(4) == 3  # 0, 1, 4 newly acked; 2 and 3 already were
    assert cursor.mark_delete == 4
    assert cursor.individually_acked_ranges() == [(6, 7), (9, 9)]
    assert cursor.ack_cumulative(5) == 1
    assert cursor.mark_delete == 7  # 6 and 7 were acked: absorbed
    assert cursor.individually_acked_ranges() == [(9, 9)]
    assert cursor.ack_cumulative(3) == 0  # behind mark-delete: ignored
    assert cursor.backlog(10) == 2  # 8 and 10


def test_cumulative_ack_splits_a_range_it_ends_inside() -> None:
    cursor = Cursor()
    for entry in range(3, 8):
        cursor.ack(entry)
    assert cursor.ack_cumulative(1) == 2
    assert cursor.individually_acked_ranges() == [(3, 7)]
    assert cursor.backlog(9) == 3  # 2, 8, 9
    assert cursor.ack_cumulative(5) == 1  # only 2: ends inside [3, 7], the rest is absorbed
    assert cursor.mark_delete == 7
    assert cursor.backlog(9) == 2
    cursor = Cursor()
    for entry in range(3, 8):
        cursor.ack(entry)
    cursor.ack(0)
    assert cursor.ack_cumulative(5) == 2  # 1 and 2; 3..5 were acked
    assert cursor.mark_delete == 7
    assert cursor.backlog(7) == 0


@settings(max_examples=200, deadline=None)
@given(
    ops=st.lists(
        st.tuples(st.sampled_from(["ack", "cumulative", "redeliver"]), st.integers(0, 15)),
        max_size=80,
    )
)
def test_cursor_agrees_with_a_plain_set_of_acked_entries(ops: list[tuple[str, int]]) -> None:
    last = 15
    cursor = Cursor()
    acked: set[int] = set()
    counts: dict[int, int] = {}
    for op, entry in ops:
        if op == "ack":
            assert cursor.ack(entry) == (entry not in acked)
            acked.add(entry)
            counts.pop(entry, None)
        elif op == "cumulative":
            below = set(range(entry + 1))
            assert cursor.ack_cumulative(entry) == len(below - acked)
            acked |= below
            counts = {e: c for e, c in counts.items() if e > entry}
        else:
            if entry not in acked:
                counts[entry] = counts.get(entry, 0) + 1
            cursor.redeliver([entry])
        # Invariants after every step.
        mark_delete = -1
        while mark_delete + 1 in acked:
            mark_delete += 1
        assert cursor.mark_delete == mark_delete
        assert cursor.backlog(last) == sum(1 for e in range(last + 1) if e not in acked)
        assert all(cursor.is_acked(e) == (e in acked) for e in range(last + 2))
        ranges = cursor.individually_acked_ranges()
        covered = {e for start, end in ranges for e in range(start, end + 1)}
        assert covered == {e for e in acked if e > mark_delete}
        assert all(a[1] + 1 < b[0] for a, b in itertools.pairwise(ranges))
        assert all(cursor.redelivery_count(e) == counts.get(e, 0) for e in range(last + 1))


@settings(max_examples=200, deadline=None)
@given(
    ops=st.lists(
        st.tuples(
            st.sampled_from(["ack", "read", "read", "cumulative", "reset"]), st.integers(0, 15)
        ),
        max_size=80,
    )
)
def test_reads_and_out_of_order_acks_agree_with_a_plain_set(ops: list[tuple[str, int]]) -> None:
    # The cached bound on acked range ends (`_acked_end`) lets reads and acks above it skip
    # the range map: reads, acks out of order, cumulative acks and resets in any order must
    # still give what a plain set of acked entries gives.
    last = 15
    cursor = Cursor()
    acked: set[int] = set()
    read = 0  # the model's read position
    for op, entry in ops:
        if op == "ack":
            assert cursor.ack(entry) == (entry not in acked)
            acked.add(entry)
        elif op == "cumulative":
            cursor.ack_cumulative(entry)
            acked |= set(range(entry + 1))
        elif op == "reset":
            cursor.reset(entry)
            acked = set(range(entry))
            read = entry
        else:
            position = read
            while position in acked:
                position += 1
            expected = position if position <= last else None
            assert cursor.next_entry(last) == expected
            read = position + 1 if expected is not None else position
        mark_delete = -1
        while mark_delete + 1 in acked:
            mark_delete += 1
        read = max(read, mark_delete + 1)
        assert cursor.mark_delete == mark_delete
        assert all(cursor.is_acked(e) == (e in acked) for e in range(last + 2))
        ranges = cursor.individually_acked_ranges()
        assert {e for start, end in ranges for e in range(start, end + 1)} == {
            e for e in acked if e > mark_delete
        }
        assert all(end <= cursor._acked_end for _, end in ranges)


@settings(max_examples=300, deadline=None)
@given(
    ops=st.lists(
        st.tuples(
            st.sampled_from(["ack", "ack", "ack", "cumulative", "restore", "reset"]),
            st.integers(0, 40),
        ),
        max_size=120,
    )
)
def test_the_range_map_and_its_sorted_starts_agree_with_a_plain_set(
    ops: list[tuple[str, int]],
) -> None:
    # The acked ranges are a plain dict and the sorted list of its starts (`_starts`): every
    # join (below, above, both), cumulative cut, absorption, restore from the persisted
    # ranges and reset must keep the list the dict's keys in order, the ranges disjoint and
    # not touching, and cover what a plain set covers above mark-delete.
    last = 40
    cursor = Cursor()
    acked: set[int] = set()
    for op, entry in ops:
        if op == "ack":
            assert cursor.ack(entry) == (entry not in acked)
            acked.add(entry)
        elif op == "cumulative":
            cursor.ack_cumulative(entry)
            acked |= set(range(entry + 1))
        elif op == "restore":
            cursor = Cursor.restore(cursor.mark_delete, cursor.individually_acked_ranges())
        else:
            cursor.reset(entry)
            acked = set(range(entry))
        mark_delete = -1
        while mark_delete + 1 in acked:
            mark_delete += 1
        assert cursor.mark_delete == mark_delete
        assert cursor._starts == sorted(cursor._acked)
        ranges = cursor.individually_acked_ranges()
        assert all(a[1] + 1 < b[0] for a, b in itertools.pairwise(ranges))
        assert {e for start, end in ranges for e in range(start, end + 1)} == {
            e for e in acked if e > mark_delete
        }
        assert all(cursor.is_acked(e) == (e in acked) for e in range(last + 2))
        assert cursor.backlog(last) == sum(1 for e in range(last + 1) if e not in acked)


def test_reading_skips_acked_entries_and_replays_redeliveries_first() -> None:
    cursor = Cursor()
    assert [cursor.next_entry(last_entry=2) for _ in range(3)] == [0, 1, 2]
    assert cursor.next_entry(2) is None
    cursor.ack(5)
    cursor.ack(6)
    assert cursor.next_entry(7) == 3
    assert cursor.next_entry(7) == 4
    assert cursor.next_entry(7) == 7  # 5 and 6 were acked before being read
    # A negative ack / ack timeout: 1 is redelivered before anything new, its count goes up.
    assert cursor.redeliver([1, 0, 5]) == [1, 0]  # 5 is acked: not redelivered
    assert cursor.redelivery_count(1) == 1
    assert cursor.next_entry(9) == 0
    assert cursor.next_entry(9) == 1
    assert cursor.next_entry(9) == 8
    cursor.redeliver([1])
    assert cursor.redelivery_count(1) == 2
    cursor.ack(1)
    assert cursor.redelivery_count(1) == 0  # the tracker forgets acked entries
    assert not cursor.has_replay()


def test_rewind_and_reset() -> None:
    cursor = Cursor()
    cursor.ack_cumulative(3)
    cursor.ack(6)
    for _ in range(4):
        cursor.next_entry(9)
    cursor.rewind()
    assert cursor.next_entry(9) == 4
    cursor.reset(2)  # seek back: 2 is next, acks above mark-delete 1 are forgotten
    assert cursor.mark_delete == 1
    assert cursor.individually_acked_ranges() == []
    assert cursor.backlog(9) == 8
    assert cursor.next_entry(9) == 2
    with pytest.raises(ValueError):
        cursor.reset(-1)
    with pytest.raises(ValueError):
        Cursor(mark_delete=-2)


def test_a_latest_subscription_starts_at_the_last_entry() -> None:
    cursor = Cursor(mark_delete=9)
    assert cursor.backlog(9) == 0
    assert cursor.next_entry(9) is None
    assert cursor.next_entry(10) == 10


@pytest.mark.parametrize("subscription_type", ["shared", "key_shared"])
def test_cumulative_ack_refused_on_shared_types(subscription_type: str) -> None:
    with pytest.raises(InvalidConfigurationException, match="non-exclusive/non-failover"):
        check_cumulative_ack_allowed(subscription_type)


def test_cumulative_ack_allowed_on_exclusive_and_failover() -> None:
    check_cumulative_ack_allowed("exclusive")
    check_cumulative_ack_allowed("failover")
    with pytest.raises(ValueError, match="unknown subscription type"):
        check_cumulative_ack_allowed("Shared")


# -- NegativeAcksTracker --------------------------------------------------------------------


def test_nacks_come_back_on_the_tracker_ticks_grouped() -> None:
    tracker: NegativeAcksTracker[int] = NegativeAcksTracker(delay=60.0)
    assert tracker.timer_interval == 20.0
    assert tracker.add(1, now=0.0) == 20.0  # the first nack arms the timer
    assert tracker.add(2, now=5.0) is None  # later ones share it
    assert tracker.tick(20.0) == ([], 40.0)
    assert tracker.tick(40.0) == ([], 60.0)
    assert tracker.tick(60.0) == ([], 80.0)  # 1 is due at 60, not strictly before
    assert tracker.tick(80.0) == ([1, 2], 100.0)  # both due by then: one request
    assert len(tracker) == 0
    assert tracker.tick(100.0) == ([], None)  # nothing left: the timer stops
    assert tracker.add(3, now=130.0) == 150.0


def test_nack_delay_floor_backoff_and_removal() -> None:
    tracker: NegativeAcksTracker[str] = NegativeAcksTracker(delay=0.01)
    assert tracker.delay == pytest.approx(0.1)  # MIN_NACK_DELAY_NANOS
    tracker.add("a", now=0.0, delay=0.0)  # a backoff of 0: due at once, still on a tick
    tracker.add("b", now=0.0)
    tracker.remove("b")
    due, _ = tracker.tick(tracker.timer_interval)
    assert due == ["a"]
    assert NegativeAcksTracker().delay == 60.0  # negativeAckRedeliveryDelay: 1 min
