"""Kafka's producer-side partitioning, bit-exact with the Java client.

A keyed record goes to ``toPositive(murmur2(key)) % numPartitions``. The hash is the
32-bit MurmurHash2 variant that ``org.apache.kafka.common.utils.Utils.murmur2`` implements
(seed ``0x9747b28c``), returned as a *signed* Java ``int``; ``Utils.toPositive`` then clears the
sign bit (it is ``h & 0x7fffffff``, not ``abs(h)``, so ``Integer.MIN_VALUE`` maps to 0). Every
client that wants to agree with the Java producer on where a key lives (kafka-python,
librdkafka's ``murmur2_random``) reproduces exactly this, and so must the simulator: partition
choice decides ordering and consumer load.

An empty key is hashed like any other key; only a *null* key (``None``) skips hashing and uses
the sticky partitioner (KIP-480), modelled by :class:`StickyPartitioner`.

Checked against ``shared/conformance/kafka/partitioner.json`` by
``tests/conformance/test_kafka_partitioner.py``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["BoundedDraws", "StickyPartitioner", "default_partition", "murmur2", "to_positive"]

_MASK32 = 0xFFFFFFFF
# Constants of org.apache.kafka.common.utils.Utils.murmur2.
_SEED = 0x9747B28C
_M = 0x5BD1E995
_R = 24


def murmur2(data: bytes) -> int:
    """Return MurmurHash2 of ``data`` as the signed 32-bit int Java's ``Utils.murmur2`` returns.

    Port of ``org.apache.kafka.common.utils.Utils.murmur2``. Java does all arithmetic on 32-bit
    ``int``s that wrap silently and shifts with ``>>>`` (unsigned), so here every product is
    masked to 32 bits and the state is kept unsigned until the end, where it is reinterpreted
    as two's complement. Bytes are read little-endian in 4-byte blocks; Java masks each signed
    ``byte`` with ``& 0xff``, which Python's ``bytes`` already are.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError(f"murmur2 hashes bytes, not {type(data).__name__}")
    data = bytes(data)
    length = len(data)
    h = (_SEED ^ length) & _MASK32

    whole = length - (length % 4)
    for i in range(0, whole, 4):
        k = int.from_bytes(data[i : i + 4], "little")
        k = (k * _M) & _MASK32
        k ^= k >> _R
        k = (k * _M) & _MASK32
        h = (h * _M) & _MASK32
        h ^= k

    # The tail: Java's switch on (length % 4) falls through from case 3 to case 1.
    tail = length % 4
    if tail == 3:
        h ^= data[whole + 2] << 16
    if tail >= 2:
        h ^= data[whole + 1] << 8
    if tail >= 1:
        h ^= data[whole]
        h = (h * _M) & _MASK32

    h ^= h >> 13
    h = (h * _M) & _MASK32
    h ^= h >> 15
    return h - (1 << 32) if h & 0x80000000 else h


def to_positive(h: int) -> int:
    """Clear the sign bit, as ``Utils.toPositive`` does (``h & 0x7fffffff``).

    Kafka deliberately avoids ``Math.abs``, which leaves ``Integer.MIN_VALUE`` negative; masking
    maps it to 0 and every other value to a non-negative int that ``%`` can use directly.
    """
    return h & 0x7FFFFFFF


def default_partition(key: bytes, num_partitions: int) -> int:
    """Partition for a non-null serialized key: ``toPositive(murmur2(key)) % num_partitions``.

    Same formula in ``DefaultPartitioner`` (Kafka < 3.3) and ``BuiltInPartitioner.partitionForKey``
    (Kafka >= 3.3), so a key's partition only changes when the partition count does.
    """
    if num_partitions <= 0:
        raise ValueError(f"num_partitions must be positive, got {num_partitions}")
    return to_positive(murmur2(key)) % num_partitions


class BoundedDraws:
    """`draw(n)` returns `int(rng.integers(n))`, the same value one call would give, from a
    block of draws made at once.

    Speed: one `rng.integers` call costs about 4 us of numpy argument handling, paid per batch
    by a sticky partitioner (with linger.ms 0, per record): a block of 256 costs about as much
    as two. Bit for bit the same as one call per draw: numpy's bounded integers keep their
    32-bit leftovers in the bit generator's own state, so `integers(n, size=k)` leaves the
    generator exactly where k single calls would (checked in
    tests/conformance/test_kafka_partitioner.py). The generator must have no other user; when
    `n` changes mid-block, the generator goes back to the block's start and draws only what
    was used, so a later block for the new `n` starts where single calls would.
    """

    __slots__ = ("_n", "_next", "_rng", "_start", "_values")

    BLOCK = 256

    def __init__(self, rng: np.random.Generator) -> None:
        self._rng = rng
        self._n = 0
        self._values: list[int] = []
        self._next = 0
        self._start: dict[str, object] | None = None  # the generator's state before the block

    def __call__(self, n: int) -> int:
        if n != self._n or self._next == len(self._values):
            self._refill(n)
        value = self._values[self._next]
        self._next += 1
        return value

    def _refill(self, n: int) -> None:
        rng = self._rng
        if self._next < len(self._values):  # drew ahead for another n: take back the unused
            rng.bit_generator.state = self._start
            if self._next:
                rng.integers(self._n, size=self._next)
        self._start = rng.bit_generator.state
        self._values = rng.integers(n, size=self.BLOCK).tolist()
        self._n = n
        self._next = 0


class StickyPartitioner:
    """Partition choice for records with a null key (KIP-480 sticky partitioning).

    Kafka's ``StickyPartitionCache`` (used by ``DefaultPartitioner`` for null keys since 2.4)
    keeps sending to one partition so that batches fill up, and only when the producer reports
    that a batch was completed (``onNewBatch``) does it move to another partition, drawn at
    random and different from the previous one whenever there is a choice. Spreading happens
    batch by batch rather than record by record, which is what cuts latency compared with the
    old round-robin.

    Kafka draws from ``ThreadLocalRandom``; the simulator passes a numpy ``Generator`` instead so
    that runs are reproducible. Like Kafka it re-draws until it gets a partition other than the
    current one (``Utils.toPositive(random) % size`` in Java, ``rng.integers`` here). One
    instance models one topic, as Kafka keeps one cache entry per topic. Partition availability
    (leaderless partitions) is not modelled: all ``num_partitions`` are candidates.
    """

    def __init__(
        self,
        num_partitions: int,
        rng: np.random.Generator | None = None,
        draws: BoundedDraws | None = None,
    ) -> None:
        """`rng` is the generator to draw from; a producer with several topics passes the
        `draws` of its one generator instead, shared by its partitioners."""
        if num_partitions <= 0:
            raise ValueError(f"num_partitions must be positive, got {num_partitions}")
        if draws is None:
            if rng is None:
                raise ValueError("a StickyPartitioner needs rng or draws")
            draws = BoundedDraws(rng)
        self._num_partitions = num_partitions
        self._draws = draws
        self._current: int | None = None

    @property
    def num_partitions(self) -> int:
        """Number of partitions of the topic this partitioner serves."""
        return self._num_partitions

    def partition(self) -> int:
        """Partition for the next null-key record: the sticky one, chosen on first use."""
        if self._current is None:
            self._current = self._draw(exclude=None)
        return self._current

    def batch_complete(self) -> int:
        """Report that the batch on the sticky partition is complete and move on.

        Mirrors ``Partitioner.onNewBatch`` -> ``StickyPartitionCache.nextPartition``: a new
        partition is drawn, different from the current one when the topic has more than one
        partition. Returns the new sticky partition.
        """
        previous = self._current
        if previous is None:
            previous = self.partition()
        n = self._num_partitions
        if n == 1:  # speed: one partition needs no draw (what `_draw` returns), no call
            self._current = 0
            return 0
        # Speed: `_draw` and `BoundedDraws.__call__` inlined (with linger.ms 0 this runs for
        # every record): the same draws from the same block, two calls fewer a record.
        draws = self._draws
        while True:
            if n != draws._n or draws._next == len(draws._values):
                draws._refill(n)
            candidate = draws._values[draws._next]
            draws._next += 1
            if candidate != previous:
                break
        self._current = candidate
        return candidate

    def _draw(self, exclude: int | None) -> int:
        if self._num_partitions == 1:
            return 0
        draw, n = self._draws, self._num_partitions
        while True:
            candidate = draw(n)
            if candidate != exclude:
                return candidate
