"""A topic's stored entries: what the managed ledger holds, indexed by entry, with running totals
so that backlog sizes cost O(1).

An :class:`Entry` is one BookKeeper entry: one message, or one producer batch of several
(``BatchMessageContainerImpl``: a batch is stored and dispatched as one entry). It holds one copy
of its messages per consumer group (`copies[g]`, a tuple per group; mqsim counts every copy, see
docs/results.md), and a replicated entry in another cluster shares the same `copies` list, so a
replicated subscription reads the same copies in either cluster.

:class:`TopicStorage` keeps the entries of one topic (or partition) in one cluster, with the
managed ledger that decides rollover and whole-ledger deletion
(:class:`sim.brokers.pulsar.ledgers.ManagedLedger`). Entry indexes are global per topic instance
(0, 1, 2...), as the cursors use them.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable
from typing import Any

from sim.brokers.pulsar.ledgers import LedgerConfig, ManagedLedger
from sim.brokers.pulsar.policies import RetentionPolicies
from sim.message import Message

__all__ = ["Entry", "TopicStorage"]


# `Entry.taker` before any group took the producer's own messages, and after they went to no
# group (`PulsarService.no_subscription`).
NO_TAKER_YET = -1
NO_TAKER = -2


class Entry:
    """One stored entry (a message or a batch) of one topic instance, and what its producer
    sent: its messages (`msgs`, the template copies are made from) and each consumer group's
    copy of them (`copy_in(g)`). The first group to want a copy takes the producer's own
    messages (`taker`: that group); every other group gets a fresh copy, kept in `copies`
    (by group, None where a group has none).

    An entry replicated into another cluster is a `replica` of the entry first stored: its
    `record` is that first entry, which alone holds `taker` and `copies`, so a replicated
    subscription reads the same copies in either cluster (read them through
    `entry.record or entry`). The first entry's `record` is None rather than itself: a
    self-reference would make every entry a cycle that only the garbage collector could
    free.

    Memory: one object a stored entry where there were three (an Entry, its Record and the
    list of copies: 128 + 96 + 64 bytes; now 152). A topic read by one group keeps no list:
    the group's copy is the producer's messages.
    """

    __slots__ = (
        "copies",
        "count",
        "cum_bytes",
        "cum_count",
        "deliver_at",
        "hash_as",
        "hash_ch",
        "index",
        "key",
        "msgs",
        "origin",
        "publish_time",
        "record",
        "size",
        "taker",
    )

    def __init__(
        self,
        msgs: tuple[Message, ...],
        size: int,
        key: str | None,
        deliver_at: float,
        origin: int,
        original: bool = True,
    ) -> None:
        self.msgs = msgs
        # The group whose copy `msgs` is (NO_TAKER_YET: none yet; NO_TAKER: none will be).
        self.taker = NO_TAKER_YET if original else NO_TAKER
        # Memory: made at the first fresh copy (a second group); None until then.
        self.copies: list[tuple[Message, ...] | None] | None = None
        self.count = len(msgs)
        self.size = size
        self.key = key
        self.deliver_at = deliver_at
        self.origin = origin  # index of the cluster where it was published
        self.record: Entry | None = None  # the entry first stored (None: this one)
        self.index = -1  # set by TopicStorage.append
        self.publish_time = 0.0
        self.cum_count = 0  # messages in this topic instance up to and including this entry
        self.cum_bytes = 0
        self.hash_ch = 0  # cached sticky key hashes (0: not computed yet)
        self.hash_as = 0

    def replica(self) -> Entry:
        """A new, unstored entry of the same record, for another topic instance (geo
        replication): the same messages; its copies are the first entry's."""
        record = self.record or self
        entry = Entry(record.msgs, record.size, record.key, record.deliver_at, record.origin, False)
        entry.record = record
        return entry

    def copy_in(self, group: int) -> tuple[Message, ...] | None:
        """Group `group`'s copy of the messages, or None while it has none."""
        record = self.record or self
        if record.taker == group:
            return record.msgs
        copies = record.copies
        if copies is not None and group < len(copies):
            return copies[group]
        return None

    def __repr__(self) -> str:
        return f"Entry(index={self.index}, count={self.count}, key={self.key!r})"


class TopicStorage:
    """The entries a topic instance stores, its managed ledger, and O(1) range totals."""

    def __init__(
        self, config: LedgerConfig, now: float, rollover_jitter: float | Callable[[], float]
    ) -> None:
        self.ledger = ManagedLedger(config, now, rollover_jitter)
        self.entries: list[Entry] = []  # entries[i] has index self.first + i
        self.first = 0  # index of entries[0] (the oldest entry still stored)
        self.total_count = 0  # messages ever written (cum_count of the last entry)
        self.total_bytes = 0
        self.ledger_counts: dict[int, int] = {0: 0}  # ledger id -> messages in it
        # Speed: the sum of ledger_counts, kept as entries are stored and ledgers deleted (a
        # new ledger's count starts at 0), so that `stored_count`, read by the retained and
        # storage gauges of every partition at every sample, is O(1) and not a sum.
        self._stored = 0
        self.publish_times: list[float] = []  # parallel to entries, for TTL lookups

    # ----- writing -----
    def append(self, entry: Entry, now: float) -> bool:
        """Store `entry` as the next one; True when the ledger rolled over after it."""
        ledger = self.ledger
        current = ledger.ledgers[-1]  # Speed: `current` inlined (per entry)
        rolled_before = current.ledger_id
        size = entry.size
        if (
            size >= 0
            and current.entries + 1 < ledger.config.managed_ledger_max_entries_per_ledger
            and current.size_bytes + size < ledger.max_size_bytes
            and now - current.created_at < ledger._max_rollover
        ):
            # Speed: `ledger.add_entry` inlined for an entry that leaves its ledger below
            # every bound (`add_entry`'s own first test, made before its counts move): what
            # it does then, without the call (an entry a message).
            current.entries += 1
            current.size_bytes += size
            ledger.total_size_bytes += size
            ledger.total_entries += 1
            entry.index = ledger.next_entry
            ledger.next_entry += 1
        else:
            entry.index = ledger.add_entry(size, now)
        entry.publish_time = now
        # Memory: equal ints kept as one object (28 to 32 bytes each a held entry; see
        # `PersistentTopic.store_at_once`): the next entry's index is the message's id where
        # the two agree, and the messages counted so far the next index where they agree.
        following = ledger.next_entry
        msgs = entry.msgs
        if msgs and following == msgs[0].id:
            ledger.next_entry = following = msgs[0].id
        total = self.total_count + entry.count
        if total == following:
            total = following
        self.total_count = total
        self.total_bytes += entry.size
        entry.cum_count = total
        entry.cum_bytes = self.total_bytes
        counts = self.ledger_counts
        counts[rolled_before] = counts.get(rolled_before, 0) + entry.count
        self._stored += entry.count
        self.entries.append(entry)
        self.publish_times.append(now)
        current = ledger.ledgers[-1].ledger_id
        if current != rolled_before:
            counts[current] = 0
            return True
        return False

    def roll_if_full(self, now: float) -> bool:
        """The periodic rollover check of an idle topic (``rollCurrentLedgerIfFull``)."""
        if self.ledger.roll_if_full(now):
            self.ledger_counts[self.ledger.current.ledger_id] = 0
            return True
        return False

    # ----- reading -----
    @property
    def last_index(self) -> int:
        """The last written entry index (-1 before the first)."""
        return self.ledger.last_entry

    def get(self, index: int) -> Entry | None:
        """The stored entry at `index`, or None if it was deleted (or never written)."""
        offset = index - self.first
        if 0 <= offset < len(self.entries):
            return self.entries[offset]
        return None

    def count_through(self, index: int) -> int:
        """Messages in entries 0..index (0 for index -1; deleted entries still count)."""
        if index < 0:
            return 0
        if index >= self.first:
            # Speed: `get` inlined (the storage gauges ask this of every topic every sample).
            offset = index - self.first
            if offset < len(self.entries):
                return self.entries[offset].cum_count
        first = self.get(self.first)
        if first is None:
            return self.total_count
        return first.cum_count - first.count  # everything before the oldest stored entry

    def bytes_through(self, index: int) -> int:
        if index < 0:
            return 0
        entry = self.get(index)
        if entry is not None:
            return entry.cum_bytes
        first = self.get(self.first)
        if first is None or index >= self.first:
            return self.total_bytes
        return first.cum_bytes - first.size

    def first_published_from(self, timestamp: float) -> int:
        """The first stored entry index published at or after `timestamp` (last + 1 if none):
        where a seek by publish time starts (``ManagedCursorImpl`` finds it by binary search)."""
        return self.first + bisect_left(self.publish_times, timestamp)

    def last_published_before(self, cutoff: float) -> int:
        """The last stored entry index published at or before `cutoff` (first - 1 if none)."""
        return self.first + bisect_right(self.publish_times, cutoff) - 1

    @property
    def stored_count(self) -> int:
        """Messages still stored (every ledger not deleted yet): `retained`."""
        return self._stored

    def ledger_of(self, index: int) -> Any:
        """The Ledger holding entry `index` (the current one past the end)."""
        return self.ledger.ledger_of(index)

    # ----- deleting -----
    def trim(
        self, slowest_mark_delete: int | None, retention: RetentionPolicies, now: float
    ) -> int:
        """Delete whole ledgers retention lets go (``internalTrimLedgers``); messages deleted."""
        deleted = self.ledger.trim(slowest_mark_delete, retention, now)
        if not deleted:
            return 0
        gone = 0
        for ledger in deleted:
            gone += self.ledger_counts.pop(ledger.ledger_id, 0)
        self._stored -= gone
        new_first = self.ledger.first_available_entry
        drop = new_first - self.first
        if drop > 0:
            del self.entries[:drop]
            del self.publish_times[:drop]
            self.first = new_first
        return gone
