"""Snapshots of which consumer owns which sticky-key hashes, and what a change takes away.

A port of ``ConsumerHashAssignmentsSnapshot`` (``pulsar-broker/.../broker/service/
ConsumerHashAssignmentsSnapshot.java``, Pulsar 4.0.0). A snapshot is the sorted, non-overlapping
list of inclusive ranges ``(start, end, consumer)`` a Key_Shared selector reports
(``HashRangeAssignment``). From it:

- :func:`ranges_by_consumer` is ``getRangesByConsumer``: each consumer's ranges, sorted, with
  overlapping or adjacent ranges merged (``mergeOverlappingRanges`` merges when
  ``current.end >= next.start - 1``), which is what ``getConsumerKeyHashRanges`` reports;
- :func:`removed_hash_ranges` is ``resolveConsumerRemovedHashRanges``: for each consumer, the
  hashes it owned before a join or leave and does not own after. Those are the hashes the
  dispatcher must drain (keep blocked until their unacked messages are acked) so that per-key
  order holds when they move.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

__all__ = [
    "HashRange",
    "HashRangeAssignment",
    "merge_overlapping_ranges",
    "range_diff",
    "ranges_by_consumer",
    "removed_hash_ranges",
]

HashRange = tuple[int, int]
"""An inclusive range of sticky key hashes ``(start, end)`` (``client.api.Range``)."""
HashRangeAssignment = tuple[int, int, str]
"""``(start, end, consumer)``: one entry of a snapshot (``HashRangeAssignment``)."""


def merge_overlapping_ranges(ranges: Iterable[HashRange]) -> list[HashRange]:
    """``ConsumerHashAssignmentsSnapshot.mergeOverlappingRanges`` over the ranges sorted.

    Java feeds it a ``TreeSet<Range>`` (sorted by start, then end) and joins a range into the
    current one when ``current.end >= next.start - 1``, i.e. overlapping or adjacent.
    """
    merged: list[HashRange] = []
    for start, end in sorted(set(ranges)):
        if merged and merged[-1][1] >= start - 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def ranges_by_consumer(snapshot: Iterable[HashRangeAssignment]) -> dict[str, list[HashRange]]:
    """``getRangesByConsumer``: consumer -> its sorted, merged inclusive ranges."""
    grouped: dict[str, list[HashRange]] = {}
    for start, end, consumer in snapshot:
        grouped.setdefault(consumer, []).append((start, end))
    return {consumer: merge_overlapping_ranges(ranges) for consumer, ranges in grouped.items()}


def range_diff(
    before: Sequence[HashRangeAssignment], after: Sequence[HashRangeAssignment]
) -> list[tuple[HashRange, str | None, str | None]]:
    """``ConsumerHashAssignmentsSnapshot.diffRanges``: ranges whose owner changed.

    Walks both sorted snapshots together as the Java method does and returns
    ``(range, owner_before, owner_after)`` for each piece whose owner differs (``None`` where a
    side has no owner for it).
    """
    impacted: list[tuple[HashRange, str | None, str | None]] = []
    i = j = 0
    while i < len(before) and j < len(after):
        b_start, b_end, b_owner = before[i]
        a_start, a_end, a_owner = after[j]
        if (b_start, b_end) == (a_start, a_end):
            if b_owner != a_owner:
                impacted.append(((a_start, a_end), b_owner, a_owner))
            i += 1
            j += 1
        elif b_end < a_start:
            impacted.append(((b_start, b_end), b_owner, a_owner))
            i += 1
        elif a_end < b_start:
            impacted.append(((a_start, a_end), b_owner, a_owner))
            j += 1
        else:
            overlap = (max(b_start, a_start), min(b_end, a_end))
            if b_owner != a_owner:
                impacted.append((overlap, b_owner, a_owner))
            if b_end <= overlap[1]:
                i += 1
            if a_end <= overlap[1]:
                j += 1
    impacted.extend(((s, e), owner, None) for s, e, owner in before[i:])
    impacted.extend(((s, e), None, owner) for s, e, owner in after[j:])
    return impacted


def removed_hash_ranges(
    before: Sequence[HashRangeAssignment], after: Sequence[HashRangeAssignment]
) -> dict[str, list[HashRange]]:
    """``resolveConsumerRemovedHashRanges``: consumer -> merged ranges it lost in the change."""
    removed: dict[str, list[HashRange]] = {}
    for hash_range, owner_before, _owner_after in range_diff(before, after):
        if owner_before is not None:
            removed.setdefault(owner_before, []).append(hash_range)
    return {consumer: merge_overlapping_ranges(ranges) for consumer, ranges in removed.items()}
