"""Key_Shared consumer selectors: which consumer gets a sticky key hash, ported from Pulsar 4.0.0.

Both classes live in ``pulsar-broker/src/main/java/org/apache/pulsar/broker/service/``:

- :class:`HashRangeAutoSplitSelector` is ``HashRangeAutoSplitStickyKeyConsumerSelector``
  (range size ``DEFAULT_RANGE_SIZE`` = 65536, key hashes in [0, 65535]);
- :class:`ConsistentHashingSelector` is ``ConsistentHashingStickyKeyConsumerSelector`` (the
  broker default, ``subscriptionKeySharedUseConsistentHashing=true``, with
  ``subscriptionKeySharedConsistentHashingReplicaPoints`` = 100 points per consumer; key
  hashes in [1, 65535]).

Consumers are identified by name here. Pulsar tells consumers apart by object identity and lets
two share a name (``ConsumerNameIndexTracker`` then gives the second name index 1, so its ring
points differ); this port refuses a second consumer with a present name instead, so every name
index is 0, which is what Pulsar computes for unique names.

``select`` runs once per message: both keep a sorted list of ring/range keys and use
``bisect`` (O(log n)), the counterpart of the Java ``NavigableMap.ceilingEntry``. Joins and
leaves are rare and may cost O(n).

Checked against ``shared/conformance/pulsar/key_shared.json`` by
``tests/conformance/test_pulsar_key_shared.py``.
"""

from __future__ import annotations

from bisect import bisect_left
from typing import Final

from sim.brokers.pulsar.errors import ConsumerAssignException
from sim.brokers.pulsar.hash_assignments import (
    HashRange,
    HashRangeAssignment,
    ranges_by_consumer,
)
from sim.brokers.pulsar.hashing import (
    AUTO_SPLIT,
    CONSISTENT_HASHING,
    DEFAULT_RANGE_SIZE,
    STICKY_KEY_HASH_NOT_SET,
    murmur3_32_hash,
    sticky_key_hash,
)

__all__ = [
    "DEFAULT_CONSISTENT_HASHING_POINTS",
    "ConsistentHashingSelector",
    "HashRangeAutoSplitSelector",
]

# ServiceConfiguration.subscriptionKeySharedConsistentHashingReplicaPoints (Pulsar 4.0.0).
DEFAULT_CONSISTENT_HASHING_POINTS: Final = 100
# ConsistentHashingStickyKeyConsumerSelector.KEY_SEPARATOR.
_KEY_SEPARATOR: Final = "\0"


class HashRangeAutoSplitSelector:
    """``HashRangeAutoSplitStickyKeyConsumerSelector``: consumers own contiguous hash ranges.

    ``range_size`` is the Java constructor's ``rangeSize`` (default ``DEFAULT_RANGE_SIZE``,
    65536; Pulsar's own unit test uses 64); the numbers below are for the default.

    The range map holds one key per consumer: the upper end of its range. The first consumer
    takes the key 65536 (so it reports [0, 65536], one past the hash range). A joining consumer
    splits the largest range (the lowest on a tie; ``findBiggestRange`` measures a range as
    ``key - previousKey``, with previousKey 0 below the lowest) and takes its lower half, the
    new key being ``key - ((key - previousKey) >> 1)``. ``select(h)`` is the owner of the
    smallest key >= h. A leaving consumer's range goes to the consumer above it; when the owner
    of 65536 leaves, the consumer just below moves up to 65536.
    """

    kind: Final = AUTO_SPLIT

    def __init__(self, range_size: int = DEFAULT_RANGE_SIZE) -> None:
        # The Java constructor's checks: a power of two, at least 2.
        if range_size < 2 or range_size & (range_size - 1):
            raise ValueError(f"range size must be a power of 2 of at least 2, got {range_size}")
        self._range_size = range_size
        self._keys: list[int] = []  # sorted upper ends of the ranges (rangeMap's keys)
        self._owners: list[str] = []  # owner of each key, parallel to _keys
        self._consumer_key: dict[str, int] = {}  # consumerRange

    def make_sticky_key_hash(self, key: str | bytes) -> int:
        """This selector's ``makeStickyKeyHash``: the hash in [0, range_size - 1], 0 becoming 1."""
        # StickyKeyConsumerSelectorUtils.makeStickyKeyHash over keyHashRange [0, rangeSize - 1].
        value = murmur3_32_hash(key) % self._range_size
        return STICKY_KEY_HASH_NOT_SET + 1 if value == STICKY_KEY_HASH_NOT_SET else value

    def consumers(self) -> list[str]:
        """The consumers present, in hash-range order."""
        return list(self._owners)

    def add_consumer(self, name: str) -> None:
        """``addConsumer``: the first consumer takes everything; later ones split the largest range.

        Raises :class:`ConsumerAssignException` when the largest range cannot be split (a range
        of one slot), as ``splitRange`` does.
        """
        if name in self._consumer_key:
            raise ValueError(f"consumer {name!r} is already in the selector")
        if not self._keys:
            self._keys.append(self._range_size)
            self._owners.append(name)
            self._consumer_key[name] = self._range_size
            return
        index = self._biggest_range_index()
        key = self._keys[index]
        lower = self._keys[index - 1] if index > 0 else 0
        if key - lower <= 1:
            raise ConsumerAssignException(
                f"No more range can assigned to new consumer, assigned consumers {len(self._keys)}"
            )
        split = key - ((key - lower) >> 1)
        self._keys.insert(index, split)
        self._owners.insert(index, name)
        self._consumer_key[name] = split

    def _biggest_range_index(self) -> int:
        # findBiggestRange: the first (lowest) range with the largest key - previousKey.
        best_index, best_slots, previous = len(self._keys) - 1, 0, 0
        for index, key in enumerate(self._keys):
            if key - previous > best_slots:
                best_slots, best_index = key - previous, index
            previous = key
        return best_index

    def remove_consumer(self, name: str) -> None:
        """``removeConsumer``: the range goes to the consumer above; an unknown name is ignored,
        as in Java (``consumerRange.remove`` returns null)."""
        key = self._consumer_key.pop(name, None)
        if key is None:
            return
        index = bisect_left(self._keys, key)
        if key == self._range_size and len(self._keys) > 1:
            # The consumer just below takes over the top key, 65536.
            heir = self._owners[index - 1]
            del self._keys[index - 1]
            del self._owners[index - 1]
            self._owners[-1] = heir
            self._consumer_key[heir] = self._range_size
        else:
            del self._keys[index]
            del self._owners[index]

    def select(self, sticky_hash: int) -> str | None:
        """``select(int hash)``: the owner of the smallest range key >= ``sticky_hash``."""
        if not self._keys:
            return None
        index = bisect_left(self._keys, sticky_hash)
        if index == len(self._keys):
            raise ValueError(f"sticky hash {sticky_hash} is outside [0, {self._range_size}]")
        return self._owners[index]

    def assignments(self) -> list[HashRangeAssignment]:
        """``getConsumerHashAssignmentsSnapshot``: ``(start, end, consumer)`` in order, from 0."""
        snapshot: list[HashRangeAssignment] = []
        start = 0
        for key, owner in zip(self._keys, self._owners, strict=True):
            snapshot.append((start, key, owner))
            start = key + 1
        return snapshot

    def ranges(self) -> dict[str, list[HashRange]]:
        """``getConsumerKeyHashRanges``: consumer -> inclusive ranges (the top ends at 65536)."""
        return ranges_by_consumer(self.assignments())


class _RingPoint:
    """``HashRingPointEntry``: the consumer selected at one ring position, and the consumers
    whose points collided with it, in arrival order (the first takes over when it leaves)."""

    __slots__ = ("colliding", "selected")

    def __init__(self, selected: str) -> None:
        self.selected: str | None = selected
        self.colliding: list[str] = []

    def remove(self, name: str) -> bool:
        """``removeConsumer``; True when the point is left empty and must leave the ring."""
        if self.selected == name:
            self.selected = self.colliding.pop(0) if self.colliding else None
        else:
            # removeIf: every queued occurrence (a consumer may collide with itself).
            self.colliding = [c for c in self.colliding if c != name]
        return self.selected is None


class ConsistentHashingSelector:
    """``ConsistentHashingStickyKeyConsumerSelector``: a hash ring with ``points`` per consumer.

    Point i of a consumer sits at the sticky key hash (range [1, 65535]) of the UTF-8 string
    ``name + "\\0" + nameIndex + "\\0" + i`` (``calculateHashForConsumerAndIndex``), so a
    consumer that leaves and rejoins gets the same points. On a collision the point keeps its
    first owner and later consumers queue behind it (``hashRing.putIfAbsent`` then
    ``addCollidingConsumer``); when the owner leaves, the first in the queue takes the point and
    keeps it if the old owner rejoins, so assignments depend on join order. ``select(h)`` is the
    owner of the first point >= h, wrapping round to the lowest point.
    """

    kind: Final = CONSISTENT_HASHING

    def __init__(self, points: int = DEFAULT_CONSISTENT_HASHING_POINTS) -> None:
        if points < 1:
            raise ValueError(f"points must be at least 1, got {points}")
        self.points = points
        # ConsistentHashingStickyKeyConsumerSelector: keyHashRange = [1, DEFAULT_RANGE_SIZE - 1].
        self._range_end = DEFAULT_RANGE_SIZE - 1
        self._keys: list[int] = []  # sorted ring positions
        self._selected: list[str] = []  # selected consumer per position, parallel to _keys
        self._ring: dict[int, _RingPoint] = {}
        self._consumer_points: dict[str, list[int]] = {}

    def make_sticky_key_hash(self, key: str | bytes) -> int:
        """This selector's ``makeStickyKeyHash``: the hash in [1, 65535]."""
        return sticky_key_hash(key, CONSISTENT_HASHING)

    def consumers(self) -> list[str]:
        """The consumers present, in join order."""
        return list(self._consumer_points)

    def point_hashes(self, name: str, name_index: int = 0) -> list[int]:
        """The ring positions of consumer ``name``'s points, in point order."""
        return [
            self.make_sticky_key_hash(f"{name}{_KEY_SEPARATOR}{name_index}{_KEY_SEPARATOR}{i}")
            for i in range(self.points)
        ]

    def add_consumer(self, name: str) -> None:
        """``addConsumer``: place the consumer's points; a taken position queues it behind."""
        if name in self._consumer_points:
            raise ValueError(f"consumer {name!r} is already in the selector")
        hashes = self.point_hashes(name)
        self._consumer_points[name] = hashes
        for position in hashes:
            point = self._ring.get(position)
            if point is None:
                self._ring[position] = _RingPoint(name)
                index = bisect_left(self._keys, position)
                self._keys.insert(index, position)
                self._selected.insert(index, name)
            else:
                point.colliding.append(name)

    def remove_consumer(self, name: str) -> None:
        """``removeConsumer``: take the consumer off each of its points (unknown names: no-op,
        as ``getTrackedIndex`` returning -1 does in Java)."""
        hashes = self._consumer_points.pop(name, None)
        if hashes is None:
            return
        for position in hashes:
            # A consumer whose own points collide visits a position twice: the first visit
            # hands the point to its queued second occurrence, the second empties it.
            point = self._ring[position]
            empty = point.remove(name)
            index = bisect_left(self._keys, position)
            if empty:
                del self._ring[position]
                del self._keys[index]
                del self._selected[index]
            else:
                assert point.selected is not None
                self._selected[index] = point.selected

    def select(self, sticky_hash: int) -> str | None:
        """``select(int hash)``: the owner of the ceiling point, or of the lowest on wrap-round."""
        if not self._keys:
            return None
        index = bisect_left(self._keys, sticky_hash)
        return self._selected[index if index < len(self._keys) else 0]

    def assignments(self) -> list[HashRangeAssignment]:
        """``internalGetConsumerHashAssignmentsSnapshot``: ranges ``[previous point + 1, point]``
        from 1, consecutive ranges of one consumer joined, and ``[last point + 1, 65535]`` for the
        owner of the lowest point (joined to the last range when that is the same consumer)."""
        snapshot: list[HashRangeAssignment] = []
        if not self._keys:
            return snapshot
        start = 1
        for position, owner in zip(self._keys, self._selected, strict=True):
            if snapshot and snapshot[-1][2] == owner:
                snapshot[-1] = (snapshot[-1][0], position, owner)
            else:
                snapshot.append((start, position, owner))
            start = position + 1
        last = self._keys[-1]
        if last != self._range_end:
            first_owner = self._selected[0]
            if snapshot[-1][2] == first_owner:
                snapshot[-1] = (snapshot[-1][0], self._range_end, first_owner)
            else:
                snapshot.append((last + 1, self._range_end, first_owner))
        return snapshot

    def ranges(self) -> dict[str, list[HashRange]]:
        """``getConsumerKeyHashRanges``: consumer -> sorted, merged inclusive ranges."""
        return ranges_by_consumer(self.assignments())
