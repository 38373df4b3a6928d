"""A subscription's cursor over a topic's entries: what is acked, what is backlog, what to replay.

The bookkeeping of ``ManagedCursorImpl`` (``managed-ledger/src/main/java/org/apache/bookkeeper/
mledger/impl/ManagedCursorImpl.java``) and of the dispatcher's redelivery state
(``InMemoryRedeliveryTracker``, ``MessageRedeliveryController``), Pulsar 4.0.0.

Positions are one increasing **entry index** per topic (0, 1, 2, ...) rather than Pulsar's
``(ledgerId, entryId)`` pairs; :class:`sim.brokers.pulsar.ledgers.ManagedLedger` maps an index to
its ledger and entry id. An entry is one stored message (or one batch).

- ``mark_delete``: every entry at or below it is acknowledged (``markDeletePosition``; -1 before
  the first entry). A cumulative ack moves it forward.
- Individually acked entries above it are kept as disjoint inclusive ranges
  (``individualDeletedMessages``, a range set). When an ack closes the gap just above the
  mark-delete position, the mark-delete position jumps to the end of that range, as
  ``ManagedCursorImpl.asyncDelete`` does.
- The backlog (``getNumberOfEntriesInBacklog``) is the entries after mark-delete that are not
  individually acked: ``last_entry - mark_delete - acked_above``, with ``acked_above`` kept as a
  running count, so it costs O(1) and no scan of the backlog.
- The redelivery count of an entry (``InMemoryRedeliveryTracker``) goes up each time it is sent
  for redelivery (negative ack, ack timeout, ``redeliverUnacknowledgedMessages``) and is dropped
  on ack; redelivered entries wait in the replay set, which the dispatcher reads lowest first
  before new entries (``redeliveryMessages``).

Finding an entry's range is O(log n) in the number of acked ranges (a bisect of their sorted
starts), as are the replay set's operations (``sortedcontainers``); putting a range in or taking
one out moves the list of starts' tail (C-level, a memmove: fast for the ranges a run keeps,
about the entries in flight with competing consumers). A cumulative ack removes each range at
most once, in one slice.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable

from sortedcontainers import SortedDict, SortedList

__all__ = ["Cursor"]

# Speed: a cursor's range map (and its list of starts) and two sorted containers start as these
# shared empty ones and get their own only when something is put in (most cursors never hold an
# acked range, a redelivery count or a replay: acks come in order). A topic of 10,000
# partitions makes 10,000 cursors per subscription; three sortedcontainers each (about a dozen
# objects) made the set-up slow and gave the garbage collector millions of objects to walk.
# Every path that inserts checks for these first (`_own_*`); removing from, clearing or reading
# an empty one changes nothing.
_NO_RANGES: dict[int, int] = {}
_NO_STARTS: list[int] = []
_NO_COUNTS: SortedDict = SortedDict()
_NO_REPLAY: SortedList = SortedList()


class Cursor:
    """One subscription's position over a topic's entry indexes (``ManagedCursorImpl``)."""

    __slots__ = (
        "_acked",
        "_acked_above",
        "_acked_end",
        "_redelivery",
        "_replay",
        "_starts",
        "mark_delete",
        "read_position",
    )

    def __init__(self, mark_delete: int = -1) -> None:
        """A cursor whose entries up to ``mark_delete`` count as acknowledged.

        A subscription created at ``Earliest`` starts at -1; one created at ``Latest`` (the
        client's default ``subscriptionInitialPosition``) starts at the topic's last entry.
        """
        if mark_delete < -1:
            raise ValueError(f"mark_delete must be >= -1, got {mark_delete}")
        self.mark_delete = mark_delete
        self.read_position = mark_delete + 1  # readPosition: the next entry to read
        # Acked ranges: start -> inclusive end, every start > md + 1. Speed: a plain dict and
        # the sorted list of its keys, searched with the C-level `bisect`, not a SortedDict,
        # whose bisect, peekitem, insertion and removal are each a few Python-level calls
        # (with competing consumers acks come out of order: the ranges change at every ack).
        self._acked: dict[int, int] = _NO_RANGES
        self._starts: list[int] = _NO_STARTS  # the keys of _acked, sorted
        self._acked_above = 0  # entries in _acked
        # Speed: an upper bound on every range end in _acked (-1: none was ever put in). An
        # entry above it is in no range, told without a bisect and a lookup: with competing
        # consumers, acks come out of order and ranges are kept, yet each read is past every
        # acked entry (an entry is acked only after it was read). Only putting a range in can
        # raise the largest end; taking one out (absorbed into mark-delete, cut by a cumulative
        # ack) leaves the bound an upper bound, which is all its readers need.
        self._acked_end = -1
        self._redelivery: SortedDict = _NO_COUNTS  # entry -> redelivery count
        self._replay: SortedList = _NO_REPLAY  # entries waiting to be redelivered

    def _own_acked(self) -> dict[int, int]:
        acked = self._acked
        if acked is _NO_RANGES:
            acked = self._acked = {}
            self._starts = []
        return acked

    def _own_redelivery(self) -> SortedDict:
        counts = self._redelivery
        if counts is _NO_COUNTS:
            counts = self._redelivery = SortedDict()
        return counts

    def _own_replay(self) -> SortedList:
        replay = self._replay
        if replay is _NO_REPLAY:
            replay = self._replay = SortedList()
        return replay

    # -- queries ----------------------------------------------------------------------------

    def is_acked(self, entry: int) -> bool:
        """Whether ``entry`` is acknowledged (at or below mark-delete, or individually)."""
        if entry <= self.mark_delete:
            return True
        acked = self._acked
        # Speed: no range to look in (a dict's truth: no Python-level call), or the entry is
        # above every range's end (see `_acked_end`).
        if not acked or entry > self._acked_end:
            return False
        starts = self._starts
        index = bisect_right(starts, entry)
        return index > 0 and acked[starts[index - 1]] >= entry

    def backlog(self, last_entry: int) -> int:
        """Unacknowledged entries up to ``last_entry`` (the topic's last written entry)."""
        return max(0, last_entry - self.mark_delete - self._acked_above)

    def individually_acked_ranges(self) -> list[tuple[int, int]]:
        """Acked ranges above mark-delete, inclusive, sorted (``individualDeletedMessages``)."""
        acked = self._acked
        return [(start, acked[start]) for start in self._starts]

    def redelivery_count(self, entry: int) -> int:
        """How many times ``entry`` was sent for redelivery (the message's ``redeliveryCount``)."""
        return int(self._redelivery.get(entry, 0))

    def has_replay(self) -> bool:
        return bool(self._replay)

    # -- acknowledgements -------------------------------------------------------------------

    def ack(self, entry: int) -> bool:
        """Individual ack (``asyncDelete``); False if ``entry`` was already acknowledged."""
        if entry == self.mark_delete + 1 and not self._acked and not self._redelivery:
            # The common case, acks in order: mark-delete moves by one (no range is kept).
            self.mark_delete = entry
            if self.read_position <= entry:
                self.read_position = entry + 1
            replay = self._replay
            # Speed: the shared empty replay list is told by identity, not by SortedList's
            # Python-level __len__ (an ack a message).
            if replay is not _NO_REPLAY and replay:
                replay.discard(entry)
            return True
        if entry <= self.mark_delete:
            # Speed: a negative entry is at or below mark-delete (never below -1), so it is
            # told here, not tested before every ack out of order.
            if entry < 0:
                raise ValueError(f"entry index must be >= 0, got {entry}")
            return False
        start = end = entry
        acked = self._acked
        if acked is _NO_RANGES:  # Speed: `_own_acked` inlined (an ack out of order each)
            acked = self._acked = {}
            self._starts = []
        starts = self._starts
        # Speed: `_forget` called only when it has something to drop from (see there).
        forget = self._redelivery or self._replay is not _NO_REPLAY
        bound = self._acked_end
        if entry > bound + 1:
            # Speed: every range ends below entry - 1 (see `_acked_end`): the entry is not
            # acked, no range ends just below it and none starts just above it, so it is a
            # range of its own, the last (an ack out of order that is the highest yet, the
            # usual one with competing consumers).
            if forget:
                self._forget(entry)
            self._acked_end = entry
            starts.append(entry)
        else:
            # One bisect both tells whether the entry is acked (`is_acked`) and finds the
            # range ending just below it: when the entry is in no range it is no range's
            # start, so bisect_right and bisect_left agree; the range starting just above,
            # if any, is the next one.
            i = bisect_right(starts, entry)
            joined = False  # the entry extends the range just below
            if i:
                below_start = starts[i - 1]
                below_end = acked[below_start]
                if below_end >= entry:
                    return False  # already acked
                if below_end == entry - 1:
                    start = below_start  # join the range ending just below
                    joined = True
            if forget:
                self._forget(entry)
            if entry + 1 in acked:
                end = acked.pop(entry + 1)  # join the range starting just above (starts[i])
                if joined:
                    del starts[i]
                else:
                    starts[i] = entry
            else:
                if not joined:
                    starts.insert(i, entry)
                if entry > bound:
                    self._acked_end = entry
        acked[start] = end
        self._acked_above += 1
        if start == self.mark_delete + 1:
            self._absorb_first_range()
        return True

    def ack_cumulative(self, entry: int) -> int:
        """Cumulative ack up to ``entry`` (``asyncMarkDelete``); returns entries newly acked.

        Also used for what moves mark-delete without a consumer: message TTL expiry
        (``PersistentMessageExpiryMonitor``) and backlog eviction (``consumer_backlog_eviction``).
        Positions at or below the current mark-delete are ignored, as Java does.
        """
        if entry <= self.mark_delete:
            return 0
        newly = entry - self.mark_delete
        acked, starts = self._acked, self._starts
        gone = 0  # ranges at the front of `starts` that end at or below `entry`
        for start in starts:
            if start > entry:
                break
            end = acked.pop(start)
            if end <= entry:
                newly -= end - start + 1
                self._acked_above -= end - start + 1
                gone += 1
            else:
                newly -= entry - start + 1
                self._acked_above -= entry - start + 1
                acked[entry + 1] = end
                starts[gone] = entry + 1
                break
        if gone:
            del starts[:gone]
        for tracked in list(self._redelivery.irange(maximum=entry)):
            del self._redelivery[tracked]
        for waiting in list(self._replay.irange(maximum=entry)):
            self._replay.remove(waiting)
        self.mark_delete = entry
        self.read_position = max(self.read_position, entry + 1)
        self._absorb_first_range()
        return newly

    def _absorb_first_range(self) -> None:
        # A range starting right after mark-delete becomes part of it.
        acked = self._acked
        if acked:
            starts = self._starts
            start = starts[0]
            if start == self.mark_delete + 1:
                end = acked.pop(start)
                del starts[0]
                self._acked_above -= end - start + 1
                self.mark_delete = end
                self.read_position = max(self.read_position, end + 1)

    def _forget(self, entry: int) -> None:
        # InMemoryRedeliveryTracker.remove and the replay set drop an acked entry.
        # Speed: nothing to drop from an empty map or list, told without their Python-level
        # pop/discard/__len__ (an ack out of order, with competing consumers, each time).
        if self._redelivery:
            self._redelivery.pop(entry, None)
        replay = self._replay
        if replay is not _NO_REPLAY and replay:
            replay.discard(entry)

    # -- reading and redelivery -------------------------------------------------------------

    def next_entry(self, last_entry: int) -> int | None:
        """The next entry to dispatch: the lowest waiting redelivery, else the next unread
        unacked entry up to ``last_entry``; ``None`` when there is none. Advances the cursor."""
        replay = self._replay
        # Speed: the shared empty replay list told by identity (no SortedList __len__ call),
        # and no bisect in an empty range map (a dict: its truth is C-level): per read.
        if replay is not _NO_REPLAY and replay:
            return int(replay.pop(0))
        position = self.read_position
        if position <= self.mark_delete:
            position = self.mark_delete + 1
        acked = self._acked
        # Speed: a read past every acked range's end (see `_acked_end`) skips nothing, told
        # without bisect and peekitem: with competing consumers, every read.
        if acked and position <= self._acked_end:
            starts = self._starts
            index = bisect_right(starts, position) - 1
            if index >= 0:
                start = starts[index]
                end = acked[start]
                if start <= position <= end:
                    position = end + 1  # skip an acked range (entries acked before being read)
        if position > last_entry:
            self.read_position = position
            return None
        self.read_position = position + 1
        return position

    def redeliver(self, entries: Iterable[int]) -> list[int]:
        """Send ``entries`` for redelivery: each unacked one gets its redelivery count raised and
        joins the replay set (``redeliverUnacknowledgedMessages``). Returns the entries queued."""
        queued = []
        for entry in entries:
            if self.is_acked(entry):
                continue
            counts = self._own_redelivery()
            counts[entry] = counts.get(entry, 0) + 1
            if entry not in self._replay:
                self._own_replay().add(entry)
            queued.append(entry)
        return queued

    def redeliver_uncounted(self, entries: Iterable[int]) -> list[int]:
        """Queue ``entries`` for redelivery without raising their redelivery counts: what a
        consumer that left had pending (``removeConsumer`` -> ``addMessageToReplay``), or a
        delayed message that became due."""
        queued = []
        for entry in entries:
            if self.is_acked(entry):
                continue
            if entry not in self._replay:
                self._own_replay().add(entry)
            queued.append(entry)
        return queued

    def clear_replay(self, entries: Iterable[int]) -> None:
        """Take ``entries`` out of the replay set (a dispatcher that queues them itself)."""
        for entry in entries:
            self._replay.discard(entry)

    @classmethod
    def restore(cls, mark_delete: int, ranges: Iterable[tuple[int, int]]) -> Cursor:
        """A cursor recovered from its persisted state (``ManagedCursorImpl.recover``: the
        mark-delete position and the individually deleted ranges; redelivery counts are in
        memory only and start again from 0)."""
        cursor = cls(mark_delete)
        for start, end in ranges:
            if end <= cursor.mark_delete:
                continue
            start = max(start, cursor.mark_delete + 1)
            cursor._own_acked()[start] = end
            cursor._starts.append(start)
            cursor._acked_above += end - start + 1
            cursor._acked_end = max(cursor._acked_end, end)
        cursor._starts.sort()
        cursor._absorb_first_range()
        return cursor

    def rewind(self) -> None:
        """``rewind``: read again from just after mark-delete (e.g. all consumers left)."""
        self.read_position = self.mark_delete + 1
        self._replay.clear()

    def reset(self, entry: int) -> None:
        """``resetCursor`` (a subscription ``seek``): ``entry`` becomes the next to read, every
        ack above the new mark-delete is forgotten and the redelivery state is cleared."""
        if entry < 0:
            raise ValueError(f"entry index must be >= 0, got {entry}")
        self.mark_delete = entry - 1
        self.read_position = entry
        self._acked = _NO_RANGES
        self._starts = _NO_STARTS
        self._acked_above = 0
        self._acked_end = -1
        self._redelivery.clear()
        self._replay.clear()
