"""Key_Shared selectors beyond the golden sequences: invariants, errors and draining ranges."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.brokers.pulsar import ConsistentHashingSelector, HashRangeAutoSplitSelector
from sim.brokers.pulsar.errors import ConsumerAssignException
from sim.brokers.pulsar.hash_assignments import (
    merge_overlapping_ranges,
    range_diff,
    removed_hash_ranges,
)
from sim.brokers.pulsar.hashing import sticky_key_hash

Selector = HashRangeAutoSplitSelector | ConsistentHashingSelector

# A script of joins and leaves over nine names: a name joins when absent, leaves when present.
scripts = st.lists(st.sampled_from([f"c{i}" for i in range(1, 10)]), min_size=1, max_size=25)


def _run(selector: Selector, script: list[str]) -> set[str]:
    present: set[str] = set()
    for name in script:
        if name in present:
            selector.remove_consumer(name)
            present.discard(name)
        else:
            selector.add_consumer(name)
            present.add(name)
    return present


def _key_range(selector: Selector) -> tuple[int, int]:
    # What the snapshot covers: auto-split reports [0, 65536], consistent hashing [1, 65535].
    return (0, 65536) if isinstance(selector, HashRangeAutoSplitSelector) else (1, 65535)


@settings(max_examples=60, deadline=None)
@given(script=scripts, consistent=st.booleans(), probes=st.lists(st.integers(1, 65535)))
def test_snapshot_tiles_the_range_and_agrees_with_select(
    script: list[str], consistent: bool, probes: list[int]
) -> None:
    selector: Selector = (
        ConsistentHashingSelector(points=7) if consistent else HashRangeAutoSplitSelector()
    )
    present = _run(selector, script)
    snapshot = selector.assignments()
    if not present:
        assert snapshot == []
        assert selector.select(1) is None
        return
    low, high = _key_range(selector)
    # Contiguous, non-overlapping, covering the whole key range, owned by present consumers.
    assert snapshot[0][0] == low
    assert snapshot[-1][1] == high
    for (_, end, _), (start, _, _) in itertools.pairwise(snapshot):
        assert start == end + 1
    assert {owner for _, _, owner in snapshot} <= present
    if isinstance(selector, HashRangeAutoSplitSelector):
        assert {owner for _, _, owner in snapshot} == present  # every consumer owns a range
    for sticky_hash in [*probes, low or 1, 65535, snapshot[0][1]]:
        owner = next(o for s, e, o in snapshot if s <= sticky_hash <= e)
        assert selector.select(sticky_hash) == owner


def test_auto_split_halves_the_largest_range() -> None:
    selector = HashRangeAutoSplitSelector()
    selector.add_consumer("a")
    selector.add_consumer("b")
    assert selector.ranges() == {"a": [(32769, 65536)], "b": [(0, 32768)]}
    # Two equal halves: the lower one (b's) is split, the newcomer takes its lower half.
    selector.add_consumer("c")
    assert selector.ranges()["c"] == [(0, 16384)]
    assert selector.ranges()["b"] == [(16385, 32768)]


def test_auto_split_top_owner_leaving_hands_65536_down() -> None:
    selector = HashRangeAutoSplitSelector()
    for name in ("a", "b", "c"):
        selector.add_consumer(name)
    selector.remove_consumer("a")  # owned [32769, 65536]
    assert selector.ranges() == {"b": [(16385, 65536)], "c": [(0, 16384)]}
    assert selector.select(65535) == "b"


def test_auto_split_runs_out_of_ranges() -> None:
    selector = HashRangeAutoSplitSelector(range_size=2)
    selector.add_consumer("a")
    selector.add_consumer("b")
    with pytest.raises(ConsumerAssignException, match="No more range can assigned"):
        selector.add_consumer("c")


@pytest.mark.parametrize("size", [0, 1, 3, 100])
def test_auto_split_range_size_must_be_a_power_of_two(size: int) -> None:
    with pytest.raises(ValueError, match="power of 2"):
        HashRangeAutoSplitSelector(range_size=size)


@pytest.mark.parametrize("make", [HashRangeAutoSplitSelector, ConsistentHashingSelector])
def test_duplicate_name_refused_unknown_removal_ignored(make: type[Selector]) -> None:
    selector = make()
    assert selector.select(5) is None
    selector.add_consumer("a")
    with pytest.raises(ValueError, match="already"):
        selector.add_consumer("a")
    before = selector.ranges()
    selector.remove_consumer("ghost")
    assert selector.ranges() == before


def test_auto_split_select_outside_range_is_an_error() -> None:
    selector = HashRangeAutoSplitSelector()
    selector.add_consumer("a")
    assert selector.select(65536) == "a"
    with pytest.raises(ValueError, match="outside"):
        selector.select(65537)


def test_consistent_hashing_rejoin_restores_points() -> None:
    selector = ConsistentHashingSelector()
    for name in ("a", "b", "c"):
        selector.add_consumer(name)
    before = selector.ranges()
    selector.remove_consumer("b")
    assert "b" not in selector.ranges()
    selector.add_consumer("b")
    # No collisions among these three names at 100 points, so the ring is exactly restored.
    assert selector.ranges() == before


def test_consistent_hashing_points_are_sticky_hashes_of_name_index_point() -> None:
    selector = ConsistentHashingSelector(points=3)
    assert selector.point_hashes("consumer1") == [
        sticky_key_hash(f"consumer1\0000\000{i}") for i in range(3)
    ]
    with pytest.raises(ValueError, match="points"):
        ConsistentHashingSelector(points=0)


def test_consistent_hashing_self_collision_is_removed_cleanly() -> None:
    # Find a consumer whose own points collide at 100 points, then make it leave and rejoin.
    name = next(
        f"c{i}"
        for i in range(1, 200)
        if len(set(ConsistentHashingSelector().point_hashes(f"c{i}"))) < 100
    )
    selector = ConsistentHashingSelector()
    selector.add_consumer(name)
    selector.remove_consumer(name)
    assert selector.assignments() == []
    selector.add_consumer(name)
    assert selector.ranges() == {name: [(1, 65535)]}


def test_merge_overlapping_ranges_joins_adjacent_and_overlapping() -> None:
    assert merge_overlapping_ranges([(5, 9), (1, 4), (12, 20), (15, 16)]) == [(1, 9), (12, 20)]
    assert merge_overlapping_ranges([]) == []


def test_removed_ranges_on_join_are_what_the_old_owner_must_drain() -> None:
    selector = HashRangeAutoSplitSelector()
    selector.add_consumer("a")
    before = selector.assignments()
    selector.add_consumer("b")
    after = selector.assignments()
    assert removed_hash_ranges(before, after) == {"a": [(0, 32768)]}
    assert range_diff(before, after) == [((0, 32768), "a", "b")]
    # A leave moves b's range back to a; b is the one that loses hashes.
    selector.remove_consumer("b")
    assert removed_hash_ranges(after, selector.assignments()) == {"b": [(0, 32768)]}


def test_removed_ranges_consistent_hashing_match_select_changes() -> None:
    selector = ConsistentHashingSelector(points=20)
    for name in ("a", "b"):
        selector.add_consumer(name)
    before = selector.assignments()
    owners_before = [selector.select(h) for h in range(1, 65536)]
    selector.add_consumer("c")
    owners_after = [selector.select(h) for h in range(1, 65536)]
    removed = removed_hash_ranges(before, selector.assignments())
    lost = {
        h
        for h, (old, new) in enumerate(zip(owners_before, owners_after, strict=True), start=1)
        if old != new
    }
    in_removed = {h for ranges in removed.values() for s, e in ranges for h in range(s, e + 1)}
    assert lost == in_removed
    assert set(removed) <= {"a", "b"}


def test_sticky_key_prefers_ordering_key_then_key_then_none_key() -> None:
    from sim.brokers.pulsar import sticky_key

    assert sticky_key(ordering_key=b"ord", partition_key="k") == b"ord"
    assert sticky_key(partition_key="k\u00e9") == "k\u00e9".encode()
    # A key set as bytes travels base64-encoded and is decoded before hashing.
    assert sticky_key(partition_key="AAEC", partition_key_b64_encoded=True) == b"\x00\x01\x02"
    # No key at all: every such message shares Commands.NONE_KEY, hence one consumer.
    assert sticky_key() == b"NONE_KEY"
