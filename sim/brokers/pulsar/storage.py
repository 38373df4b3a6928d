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

Memory: a one-message entry some distance behind the end and in its usual state is kept as its
bare message ("settled", :meth:`TopicStorage._settle`); :meth:`TopicStorage.get` gives it its
Entry back (the same values in every slot) before anyone reads it.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Callable
from typing import Any

from sim.brokers.pulsar.ledgers import LedgerConfig, ManagedLedger
from sim.brokers.pulsar.policies import RetentionPolicies
from sim.message import Message

__all__ = ["SETTLE_EVERY", "Entry", "TopicStorage"]


# `Entry.taker` before any group took the producer's own messages, and after they went to no
# group (`PulsarService.no_subscription`).
NO_TAKER_YET = -1
NO_TAKER = -2

# Memory: the settling scan (`TopicStorage._settle`) looks at the entries a block of
# SETTLE_EVERY indexes at a time (block b: indexes b * SETTLE_EVERY to (b + 1) * SETTLE_EVERY
# - 1), once the block is a whole block behind the end: at the append of index
# (b + 2) * SETTLE_EVERY. A consumer keeping up (fewer than that many entries ready) reads
# the Entry itself, which is never settled under it. A power of two: `index & SETTLE_MASK` is
# the check an append makes.
SETTLE_SHIFT = 8
SETTLE_EVERY = 1 << SETTLE_SHIFT
SETTLE_MASK = SETTLE_EVERY - 1

_new = object.__new__


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
    """The entries a topic instance stores, its managed ledger, and O(1) range totals.

    Memory: `entries` holds an Entry per stored entry, or, for a settled one, its bare
    message (`_settle`): a one-message entry of this cluster's own producers (`origin`,
    `record` None, no copy for any other group, its `taker` the `settled_group`, no
    deliver_at delay, no sticky key hash cached, its key and size its message's). Such an
    entry's other slots follow from its place (`index`, `publish_time`), from its block's
    running-count shift (`cum_count`: index + 1 + shift, the same for every settled entry of
    the block) and from the block's running bytes at its end less the sizes after it
    (`cum_bytes`). That is 152 bytes of Entry and 48 of one-message tuple less a held
    message. Every read goes through `get` (or tells a message by its class and asks `get`),
    which gives the entry its Entry back, kept from then on, so whatever a reader sets on it
    (a copy for another group, a cached hash) stays, as it did on the Entry never settled.
    An Entry a reader held before its entry settled keeps the same values (nothing settles
    once changed; see `_settle` for what could still change one and why it does not).

    `settles = False` keeps every Entry (the general path: tests/test_pulsar_settled_entries.py
    runs both and compares every output)."""

    settles = True

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
        # ----- settling (memory: see the class's docstring and `_settle`) -----
        self.settling = self.settles  # False once the topic has a replicator or a listener
        self.origin = 0  # this cluster's index: the origin of its own producers' entries
        self.settled_group = NO_TAKER_YET  # the taker of every settled entry (set once)
        # The topic's replicators and entry listeners (its own lists, set by the topic): no
        # entry settles once either has one (see `_settle`).
        self.gates: tuple[list[Any], list[Any]] = ([], [])
        self._scan_block = 0  # the next block the scan looks at
        self._block0 = 0  # the block of _shifts[0] and _block_bytes[0]
        # Per block scanned: the running-count shift of its settled entries (cum_count -
        # index - 1) and the running bytes at its last entry (cum_bytes).
        self._shifts = array("q")
        self._block_bytes = array("q")
        # The index of the last running bytes `_cum_bytes` worked out for a settled entry,
        # and those bytes (a stored entry's running bytes never change): a backlog read in
        # order, whose entries settle again once acked (`settle_again`), finds the one before
        # here and does not sum its block.
        self._bytes_index = -2
        self._bytes_at = 0
        # Entries below this index were looked at by the settling scan (its blocks' shifts
        # are known): an ack below it may settle its entry again (`settle_again`).
        self.scanned_end = 0

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
        index = entry.index
        if not index & SETTLE_MASK and self.settling:
            # Memory: the settling scan once every SETTLE_EVERY entries (one test of the index
            # an entry; the scan's own cost is a few slot reads an entry, once).
            self._settle(index)
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
        """The stored entry at `index`, or None if it was deleted (or never written). A settled
        entry gets its Entry back here, kept in `entries` from then on (see the class)."""
        offset = index - self.first
        entries = self.entries
        if 0 <= offset < len(entries):
            entry = entries[offset]
            if entry.__class__ is not Entry:
                return self.unsettle(offset)
            return entry
        return None

    def count_through(self, index: int) -> int:
        """Messages in entries 0..index (0 for index -1; deleted entries still count)."""
        if index < 0:
            return 0
        entries = self.entries
        if index >= self.first:
            # Speed: `get` inlined (the storage gauges ask this of every topic every sample).
            offset = index - self.first
            if offset < len(entries):
                entry = entries[offset]
                if entry.__class__ is Entry:
                    return entry.cum_count
                # A settled entry (no Entry made for a count): its block's shift.
                return index + 1 + self._shifts[(index >> SETTLE_SHIFT) - self._block0]
        if not entries:
            return self.total_count
        # Everything before the oldest stored entry.
        first = entries[0]
        if first.__class__ is Entry:
            return first.cum_count - first.count
        return self.count_through(self.first) - 1  # (a settled entry has one message)

    def bytes_through(self, index: int) -> int:
        if index < 0:
            return 0
        entries = self.entries
        offset = index - self.first
        if 0 <= offset < len(entries):
            return self._cum_bytes(offset)
        if not entries or index >= self.first:
            return self.total_bytes
        return self._cum_bytes(0) - entries[0].size  # (a message's size is its entry's)

    def _cum_bytes(self, offset: int) -> int:
        """`cum_bytes` of the entry at `offset`, settled or not (no Entry made)."""
        entries = self.entries
        entry = entries[offset]
        if entry.__class__ is Entry:
            return entry.cum_bytes
        # A settled entry's running bytes: its neighbour's, when that one is an Entry (a
        # backlog read in order gives back its entries one after the other), else the
        # running bytes at its block's last entry less the sizes after it in the block (an
        # Entry's size and a settled entry's message's size are the same slot name).
        index = self.first + offset
        if offset:
            before = entries[offset - 1]
            if before.__class__ is Entry:
                return before.cum_bytes + entry.size
        if index == self._bytes_index + 1:
            total = self._bytes_at + entry.size  # (the entry before's, worked out last)
        else:
            block = index >> SETTLE_SHIFT
            total = self._block_bytes[block - self._block0]
            last = ((block + 1) << SETTLE_SHIFT) - self.first - 1  # (never trimmed before it)
            for j in range(offset + 1, last + 1):
                total -= entries[j].size
        self._bytes_index = index
        self._bytes_at = total
        return total

    def unsettle(self, offset: int) -> Entry:
        """The Entry of the settled entry at `offset` (its bare message in `entries`), made
        and kept there: every slot as the Entry had it when it settled (see `_settle`)."""
        entries = self.entries
        msg = entries[offset]
        index = self.first + offset
        # The Entry made by setting its slots (as `PersistentTopic.store_at_once` does).
        entry = _new(Entry)
        entry.msgs = (msg,)
        entry.taker = self.settled_group
        entry.copies = None
        entry.count = 1
        entry.size = msg.size
        entry.key = msg.key
        entry.deliver_at = 0.0
        entry.origin = self.origin
        entry.record = None
        entry.index = index
        entry.publish_time = self.publish_times[offset]
        entry.cum_count = index + 1 + self._shifts[(index >> SETTLE_SHIFT) - self._block0]
        if offset and entries[offset - 1].__class__ is Entry:
            # Speed: `_cum_bytes`'s first case inlined (a backlog read in order: the entry
            # before was given back just before).
            entry.cum_bytes = entries[offset - 1].cum_bytes + msg.size
        else:
            entry.cum_bytes = self._cum_bytes(offset)
        entry.hash_ch = 0
        entry.hash_as = 0
        entries[offset] = entry
        return entry

    def settle_again(self, offset: int) -> None:
        """After an ack of the entry at `offset` in a scanned block: keep it as its bare
        message again if it is in its usual state (as `_settle` would have kept it).

        Memory and speed: a backlog drained in order gives each settled entry its Entry back
        for its read; settled again once acked, that Entry goes with its delivery, so a drain
        leaves no Entry behind to be freed only when its ledger is deleted, and the cyclic
        collector, which counts every object made and not yet freed, is not set off by a
        million of them (the drain of a 1,000,000-message backlog took twice as long without
        this, most of it in full collections). What the acking group set on the Entry stays
        only in the Entry: a settled entry's state is its usual one, so none was set."""
        replicators, listeners = self.gates
        if replicators or listeners or not self.settling:
            return
        entries = self.entries
        entry = entries[offset]
        if entry.__class__ is not Entry:
            return
        index = self.first + offset
        expected = index + 1 + self._shifts[(index >> SETTLE_SHIFT) - self._block0]
        if self._usual(entry, expected):
            entries[offset] = entry.msgs[0]

    def _usual(self, entry: Entry, cum_count: int) -> bool:
        """Whether `entry` is in the state a settled entry's Entry is given back in (see the
        class): everything but its place follows from its message and its block."""
        if (
            entry.count == 1
            and entry.taker == self.settled_group
            and entry.copies is None
            and entry.record is None
            and entry.deliver_at == 0.0
            and not entry.hash_ch
            and not entry.hash_as
            and entry.origin == self.origin
            and entry.cum_count == cum_count
        ):
            msg = entry.msgs[0]
            return entry.key is msg.key and entry.size == msg.size
        return False

    def settled(self) -> int:
        """How many stored entries are kept settled (as their bare messages) now."""
        return sum(e.__class__ is not Entry for e in self.entries)

    # ----- settling: a held entry kept as its bare message -----
    def _settle(self, index: int) -> None:
        """At the append of `index` (a multiple of SETTLE_EVERY): keep the entries of every
        block not scanned yet and now a whole block behind the end that are in their usual
        state (see the class) as their bare messages. Each entry is looked at once; one that
        is not in that state then stays an Entry.

        What could still change a settled entry, and why it does not: a copy for another
        group, or its taker, is made on the Entry a reader got from `get` (so it is kept);
        an Entry held from before (a pending delivery, Key_Shared's queues) is read for its
        own group's copy only, and a Key_Shared one had its hash cached (so it did not
        settle). A replicator's entries are shared with another cluster's replicas (their
        `record`) and a listener is handed each entry: a topic with either settles no more
        (its entries settled before are given back by `get` as they are read), so no Entry
        another cluster or a listener holds ever settles."""
        replicators, listeners = self.gates
        if replicators or listeners:
            self.settling = False  # for good: see above
            return
        stop = (index >> SETTLE_SHIFT) - 1  # the blocks below it are a block behind the end
        block = self._scan_block
        if block >= stop:
            return
        entries = self.entries
        first = self.first
        shifts = self._shifts
        block_bytes = self._block_bytes
        group = self.settled_group
        while block < stop:
            base = block << SETTLE_SHIFT
            start = base - first
            end = start + SETTLE_EVERY
            if start < 0:
                start = 0  # (trimmed inside the block: `trim` keeps the scan past it)
            last = entries[end - 1]  # never settled yet: an Entry
            shift = last.cum_count - base - SETTLE_EVERY  # cum_count - index - 1 at the end
            shifts.append(shift)
            block_bytes.append(last.cum_bytes)
            expected = first + 1 + shift  # a settled entry's cum_count, less its offset
            if group < 0:
                # The first scan's group: the first taker that is a group (the entries of
                # any other group stay Entries; a topic of one group, the usual one, settles).
                for offset in range(start, end):
                    taker = entries[offset].taker
                    if taker >= 0:
                        group = self.settled_group = taker
                        break
            if group >= 0:  # (no group yet: nothing settles in this block)
                usual = self._usual
                for offset in range(start, end):
                    entry = entries[offset]
                    if usual(entry, expected + offset):
                        entries[offset] = entry.msgs[0]
            block += 1
        self._scan_block = block
        self.scanned_end = block << SETTLE_SHIFT

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
            # The scanned blocks' figures from the new first entry's block on (settled
            # entries of its block may still be stored), and the scan past what is gone.
            gone_blocks = (new_first >> SETTLE_SHIFT) - self._block0
            if gone_blocks > 0:
                del self._shifts[:gone_blocks]
                del self._block_bytes[:gone_blocks]
                self._block0 += gone_blocks
                if self._scan_block < self._block0:
                    self._scan_block = self._block0
        return gone
