"""One partition's log: an append-only sequence of records in segments, with offsets and timestamps.

Kafka stores a partition as a list of segment files; the active (last) segment takes appends and
rolls when it would exceed `segment.bytes` or is older than `segment.ms`. Retention never removes
single records: it deletes whole closed segments from the front (the log start offset then jumps
to the next segment's base offset), and compaction rewrites closed segments keeping the latest
record per key. Offsets are never reused while the log lives, and after compaction they have gaps.

Sources: Kafka documentation, "Log" and "Log Compaction" (kafka.apache.org/documentation/#log,
#compaction); `kafka.log.UnifiedLog` / `LocalLog` (roll, deleteOldSegments, truncateTo) and
`kafka.log.LogCleaner` (Kafka 3.x).

The log is passive data: it knows nothing of replication, consumers or the Recorder. Records
removed from it are returned to the caller, which decides what they mean (expired, lost...).
"""

from __future__ import annotations

from bisect import bisect_left
from collections import deque
from collections.abc import Iterator
from typing import Any

from sim.message import Message

__all__ = [
    "BATCH_OVERHEAD",
    "RECORD_OVERHEAD",
    "SETTLE_LAG",
    "PartitionLog",
    "Record",
    "Segment",
    "SettledRecord",
    "record_size",
    "settled_view",
]

# Message format v2 (KIP-98): a RecordBatch header is 61 bytes; each record adds a few varint
# fields (length, attributes, timestamp and offset deltas, key and value lengths, header count),
# about 8 bytes for small records. Used for segment sizes, retention.bytes and batch.size.
BATCH_OVERHEAD = 61
RECORD_OVERHEAD = 8


def record_size(value_size: int, key: bytes | None) -> int:
    """Bytes one record takes in a batch (and on disk)."""
    return RECORD_OVERHEAD + value_size + (len(key) if key is not None else 0)


class _MsgOnly:
    """The type of MSG_ONLY."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "MSG_ONLY"


# Memory: a record's `copies` when only slot 0 has claimed it, taking `msg` itself (the usual
# case: one group): one shared marker, where a one-copy tuple was a 48-byte object a record.
MSG_ONLY: Any = _MsgOnly()


class Record:
    """One record in a partition's log.

    `msg` is the produced message. `copies` holds, per reader slot (one slot per consumer group
    reading the partition, see `Partition.attach`), that group's copy of the message: the first
    group to read the record takes `msg` itself, each further group a `msg.copy()`. It stays None
    until some group's copy horizon covers the record, and is MSG_ONLY while only slot 0 has
    (`msg`); `copy_in` reads any of them.
    """

    __slots__ = (
        "base_offset",
        "batch",
        "copies",
        "key",
        "msg",
        "offset",
        "size",
        "tombstone",
    )

    def __init__(
        self,
        offset: int,
        msg: Message,
        key: bytes | None,
        size: int,
        tombstone: bool = False,
        batch: Any = None,
        base_offset: int | None = None,
    ) -> None:
        self.offset = offset
        # The first offset of the record batch it was written in (RecordBatch.baseOffset):
        # a record keeps it after letting its producer batch go.
        self.base_offset = offset if base_offset is None else base_offset
        self.msg = msg
        self.key = key
        self.size = size
        self.tombstone = tombstone
        self.batch = batch  # the producer batch it came in: truncation asks if it is still pending
        # A tuple while one group has copied it (Partition._claim), then a list.
        self.copies: tuple[Message | None, ...] | list[Message | None] | None = None

    def copy_in(self, slot: int) -> Message | None:
        """Slot `slot`'s copy of the message, None if it has none yet."""
        copies = self.copies
        if copies is MSG_ONLY:
            return self.msg if slot == 0 else None
        if copies is None or slot >= len(copies):
            return None
        return copies[slot]

    @property
    def timestamp(self) -> float:
        """CreateTime: its message's creation time. Memory: read from the message (a
        message's `produced_at` never changes), not a slot of its own (8 bytes a record);
        the consumers' per-record reads take `msg.produced_at` directly."""
        return self.msg.produced_at

    def __repr__(self) -> str:
        return f"Record(offset={self.offset}, key={self.key!r}, tombstone={self.tombstone})"


# Memory: how far behind the log end a record must be before the log keeps it as its bare
# message (`PartitionLog._settle`); a consumer keeping up (fewer records ready than this)
# reads the Record itself, so no view is made on its path. Checked every SETTLE_EVERY
# offsets (a power of two: `offset & SETTLE_MASK` is the check).
SETTLE_LAG = 256
SETTLE_SHIFT = 8
SETTLE_EVERY = 1 << SETTLE_SHIFT
SETTLE_MASK = SETTLE_EVERY - 1


class SettledRecord:
    """A record the log keeps as its bare message (`PartitionLog._settle`), seen as a Record.

    A settled record is in a usual state: at most one group has it (`copies` MSG_ONLY or
    None, one byte in its segment's `claims`), its batch is answered (None), it is no
    tombstone, it opened its own batch (base offset = offset), its key is its message's and
    its size is `record_size(msg.size, key)`. Every field follows from the message, its
    place in the segment and that byte, so the segment's list holds the message alone (96
    bytes of Record and 32 of offset int less a record held) and a read makes this view of
    it (`settled_view`).

    A view is a copy of the record's state when it was read: nothing writes to it. The one
    change a settled record can take, the one group's claim, is made through the log
    (`PartitionLog.claim`: `Partition.attach` and `_make_copies` use it while the log
    settles); `batch` and `tombstone` are class values (setting one raises), and
    `PartitionLog.unsettle` gives every record its Record back before a second group could
    claim one. A Record handed out before its record settled stays right to read: a record
    settles only SETTLE_LAG appends after its own, by when its own append's frame, if still
    running, no longer claims it from the Record it holds (the later appends moved the high
    watermark past it, and claimed it through the log).
    """

    __slots__ = ("copies", "key", "msg", "offset", "segment")

    batch: Any = None
    tombstone = False

    def copy_in(self, slot: int) -> Message | None:
        """Slot `slot`'s copy of the message, None if it has none yet: read from the log,
        not the view's `copies` (a group that found none claims the record, then asks again:
        `KafkaConsumer._copy_for`)."""
        if slot:
            return None
        segment = self.segment
        return self.msg if segment.claims[self.offset - segment.base_offset] else None

    @property
    def base_offset(self) -> int:
        return self.offset

    @property
    def size(self) -> int:
        return record_size(self.msg.size, self.key)

    @property
    def timestamp(self) -> float:
        return self.msg.produced_at

    def record(self) -> Record:
        """The Record this view stands for (a new one, its fields as the view gives them)."""
        record = Record(self.offset, self.msg, self.key, self.size)
        record.copies = self.copies
        return record

    def __repr__(self) -> str:
        return f"Record(offset={self.offset}, key={self.key!r}, tombstone=False)"


_new = object.__new__


def settled_view(msg: Message, segment: Segment, index: int) -> Any:
    """The view of the settled record at `segment.records[index]` (its message `msg`).
    Speed: the reads of a backlog (`read`, `read_one`) make theirs inline, the same stores
    without this call."""
    view = _new(SettledRecord)
    view.msg = msg
    view.offset = segment.base_offset + index
    view.key = msg.key
    view.copies = MSG_ONLY if segment.claims[index] else None
    view.segment = segment
    return view


def _detached(records: list[Any]) -> list[Any]:
    """`records` with each view made a Record: the segment they were read from is about to
    change under them (truncation, compaction), so they no longer read from it."""
    return [r if r.__class__ is Record else r.record() for r in records]


class Segment:
    """A run of records sharing one file in Kafka: deleted or cleaned as a whole.

    `records` holds a Record per record, or for a settled record (`PartitionLog._settle`)
    its bare message, whose offset is then its place: base_offset + index. Only the first
    `settled` entries can be messages (the log's settling scan has passed them), and only
    in a contiguous segment; `claims` has a byte for each of them, 1 when the one group has
    its copy (MSG_ONLY). `record_at` and `records_in` read either kind as records.
    """

    __slots__ = (
        "base_offset",
        "claims",
        "contiguous",
        "created_at",
        "max_timestamp",
        "records",
        "settled",
        "size",
    )

    def __init__(self, base_offset: int, created_at: float) -> None:
        self.base_offset = base_offset
        self.created_at = created_at
        self.records: list[Any] = []  # Records, and messages of settled records (see above)
        self.size = 0
        self.max_timestamp = float("-inf")
        self.contiguous = True  # offsets are base, base+1, ... until compaction leaves gaps
        self.settled = 0  # entries the settling scan has passed (the rest are Records)
        self.claims = bytearray()  # per entry passed: 1 when its copies are MSG_ONLY

    def index_of(self, offset: int) -> int:
        """Index of the first record with offset >= `offset`."""
        if self.contiguous:
            return min(max(offset - self.base_offset, 0), len(self.records))
        return bisect_left(self.records, offset, key=_offset)

    def record_at(self, index: int) -> Any:
        """The record at `index`: its Record, or a settled record's view."""
        entry = self.records[index]
        if entry.__class__ is Record:
            return entry
        return settled_view(entry, self, index)

    def records_in(self, start: int, stop: int) -> list[Any]:
        """`records[start:stop]` as records (a settled record's message as its view)."""
        found = self.records[start:stop]
        if start < self.settled:
            _as_records(found, self, start)
        return found

    def __len__(self) -> int:
        return len(self.records)


def _as_records(found: list[Any], segment: Segment, start: int) -> None:
    """Turn the settled records' messages in `found` (`segment.records[start:...]`) into
    their views, in place (only the entries the settling scan passed can be messages)."""
    settled = segment.settled - start
    if settled > len(found):
        settled = len(found)
    offset = segment.base_offset + start
    claims = segment.claims
    for i in range(settled):
        entry = found[i]
        if entry.__class__ is not Record:
            # Speed: `settled_view` inlined (a poll of many records reads a backlog this way).
            view = found[i] = _new(SettledRecord)
            view.msg = entry
            view.offset = offset + i
            view.key = entry.key
            view.copies = MSG_ONLY if claims[start + i] else None
            view.segment = segment


def _offset(record: Record) -> int:
    return record.offset


class PartitionLog:
    """Segments of records, the log start offset and the log end offset (the next offset).

    Memory: a record far enough behind the log end (SETTLE_LAG) and in its usual final state
    is kept as its bare message (`_settle`, see SettledRecord); every read gives it back as a
    record. `settles = False` keeps every Record (the general path:
    tests/test_kafka_settled_records.py runs both and compares every output)."""

    settles = True

    def __init__(self, segment_bytes: float, segment_seconds: float, now: float = 0.0) -> None:
        self.segment_bytes = segment_bytes
        self.segment_seconds = segment_seconds
        self.segments: deque[Segment] = deque([Segment(0, now)])
        self.log_start_offset = 0
        self.log_end_offset = 0
        self.size = 0  # bytes in every segment
        self.count = 0  # records in every segment
        self.settling = self.settles  # False once `unsettle` ran (a second reader)
        # Closed segments the settling scan has not finished (it goes on from their
        # `settled` index when their records are SETTLE_LAG behind the log end).
        self._closing: deque[Segment] = deque()

    # ----- appending -----
    def roll(self, now: float) -> Segment:
        """Close the active segment and start a new one at the log end offset."""
        active = self.segments[-1]
        if not active.records:
            active.base_offset = self.log_end_offset
            active.created_at = now
            active.settled = 0
            active.claims = bytearray()
            return active
        if self.settling:
            self._closing.append(active)
        fresh = Segment(self.log_end_offset, now)
        self.segments.append(fresh)
        return fresh

    def append(
        self,
        items: list[tuple[Message, bytes | None, int, bool]],
        now: float,
        batch: Any = None,
    ) -> list[Record]:
        """Append one batch of (message, key, size, tombstone): offsets are given here, and
        each record's timestamp is its message's creation time (CreateTime).

        A batch is never split across segments, as in Kafka.
        """
        incoming = 0
        for item in items:
            incoming += item[2]
        # UnifiedLog.maybeRoll: roll a non-empty active segment that would overflow segment.bytes
        # or that has lived segment.ms (speed: inline, no call per batch).
        segment = self.segments[-1]
        if segment.records and (
            segment.size + incoming > self.segment_bytes
            or now - segment.created_at >= self.segment_seconds
        ):
            segment = self.roll(now)
        if not segment.records:
            segment.created_at = now
        offset = base = self.log_end_offset
        records = segment.records
        appended = []
        newest = segment.max_timestamp
        for msg, key, size, tombstone in items:
            timestamp = msg.produced_at
            record = Record(offset, msg, key, size, tombstone, batch, base)
            records.append(record)
            appended.append(record)
            if timestamp > newest:
                newest = timestamp
            offset += 1
        segment.max_timestamp = newest
        segment.size += incoming
        self.size += incoming
        self.count += len(appended)
        self.log_end_offset = offset
        # Memory: the settling scan about once every SETTLE_EVERY offsets (see append_one).
        if base >> SETTLE_SHIFT != offset >> SETTLE_SHIFT and self.settling:
            self._settle()
        return appended

    def append_one(
        self, item: tuple[Message, bytes | None, int, bool], now: float, batch: Any = None
    ) -> Record:
        """`append` for a batch of one record: the same segment roll, offsets, timestamp and
        sizes (speed: no loops and no list of appended records; with linger.ms 0 every batch
        is one record; tests/test_kafka_one_record.py checks it against `append`)."""
        # Speed: the same steps as `append` for one item, in the same order (its roll check
        # with the item's size as the batch's bytes): no sum loop, no record loop, no list.
        msg, key, size, tombstone = item
        segment = self.segments[-1]
        if segment.records and (
            segment.size + size > self.segment_bytes
            or now - segment.created_at >= self.segment_seconds
        ):
            segment = self.roll(now)
        if not segment.records:
            segment.created_at = now
        offset = self.log_end_offset
        # Speed: `Record(offset, msg, key, size, tombstone, batch, offset)` made inline (no
        # __init__ frame a record: it pays for the settling scan's look at the record).
        record = _new(Record)
        record.offset = record.base_offset = offset
        record.msg = msg
        record.key = key
        record.size = size
        record.tombstone = tombstone
        record.batch = batch
        record.copies = None
        segment.records.append(record)
        timestamp = msg.produced_at
        if timestamp > segment.max_timestamp:
            segment.max_timestamp = timestamp
        segment.size += size
        self.size += size
        self.count += 1
        self.log_end_offset = offset + 1
        # Memory: the settling scan once every SETTLE_EVERY offsets (one test of the offset
        # a record; the scan's own cost is a few attribute reads a record, once).
        if not offset & SETTLE_MASK and self.settling:
            self._settle()
        return record

    # ----- settling: a held record kept as its bare message -----
    def _settle(self) -> None:
        """Keep the records SETTLE_LAG or more behind the log end that are in their usual
        final state as their bare messages (see SettledRecord), from where the last scan
        stopped: each record is looked at once."""
        limit = self.log_end_offset - SETTLE_LAG  # the offsets below it may settle
        closing = self._closing
        while closing:
            segment = closing[0]
            if not _settle_below(segment, limit):
                return  # its newest records are too new yet: so are the active segment's
            closing.popleft()
        _settle_below(self.segments[-1], limit)

    def unsettle(self) -> None:
        """Give every settled record its Record back and settle no more: a second reader
        (consumer group) is coming, which may claim a copy of any record (a settled record's
        `copies` is the shared MSG_ONLY, which only one group can use)."""
        self.settling = False
        self._closing.clear()
        for segment in self.segments:
            records = segment.records
            for i in range(segment.settled):
                entry = records[i]
                if entry.__class__ is not Record:
                    records[i] = settled_view(entry, segment, i).record()
            segment.settled = 0
            segment.claims = bytearray()

    def claim(self, start: int, stop: int) -> None:
        """The one group claims every record with start <= offset < stop: what
        `Partition._claim(record, 0)` does for each while the log settles (one group: a
        record's copies go from None to MSG_ONLY), made here, where a settled record's
        claim is (its claims byte; a view is only a copy). Speed: no view and no call a
        record (a group attaching to a backlog claims all of it)."""
        segments = self.segments
        i = self._segment_index(start)
        while i < len(segments):
            segment = segments[i]
            records = segment.records
            if segment.contiguous:
                first = segment.index_of(start)
                end = segment.index_of(stop)
                settled = segment.settled if segment.settled < end else end
                if first < settled:  # a Record's byte is not read: every byte set at once
                    segment.claims[first:settled] = b"\x01" * (settled - first)
                for j in range(first, end):
                    record = records[j]
                    if record.__class__ is Record and record.copies is None:
                        record.copies = MSG_ONLY
                if end < len(records):
                    return
            else:
                for record in records:
                    if record.offset >= stop:
                        return
                    if record.offset >= start and record.copies is None:
                        record.copies = MSG_ONLY
            i += 1

    # ----- reading -----
    def _segment_index(self, offset: int) -> int:
        """Index of the segment that holds `offset` (or the first after it)."""
        segments = self.segments
        i = len(segments) - 1
        while i > 0 and segments[i].base_offset > offset:
            i -= 1
        return i

    def read(self, offset: int, max_records: int, upper: int) -> tuple[list[Record], int]:
        """Records with `offset` <= record offset < `upper`, at most `max_records`, and the
        position after them (past any gap compaction left, up to `upper`)."""
        found: list[Record] = []
        if offset >= upper:
            return found, offset
        segments = self.segments
        last = segments[-1]
        base = last.base_offset
        if last.contiguous and offset >= base and max_records > 0:
            # Speed: reading from the active segment (the usual case): a slice of it, the
            # same records and position as the walk below (offsets there are base, base+1...,
            # `upper` is at most the log end offset).
            stop = upper - base
            if offset - base + max_records < stop:
                stop = offset - base + max_records
            start = offset - base
            found = last.records[start:stop]
            if start < last.settled:  # settled records' messages among them: their views
                _as_records(found, last, start)
            if len(found) < max_records:
                return found, upper
            return found, found[-1].offset + 1
        i = self._segment_index(offset)
        position = offset
        while i < len(segments) and len(found) < max_records:
            segment = segments[i]
            records = segment.records
            j = segment.index_of(position)
            while j < len(records) and len(found) < max_records:
                record = records[j]
                if record.__class__ is not Record:  # a settled record: its view
                    record = settled_view(record, segment, j)
                if record.offset >= upper:
                    return found, max(position, min(record.offset, upper))
                found.append(record)
                position = record.offset + 1
                j += 1
            i += 1
        if len(found) < max_records:
            position = max(position, upper)  # nothing left below `upper`: skip compacted gaps
        return found, position

    def read_one(self, offset: int, upper: int) -> tuple[Record | None, int]:
        """`read(offset, 1, upper)` as the record (None for none) and the position after it.

        Speed: a consumer polling one record at a time (max.poll.records 1) reads this way:
        from the active segment, the record at its index, no slice and no list; anything
        else goes to `read` (tests/test_kafka_one_record.py compares the two)."""
        if offset >= upper:
            return None, offset
        # Speed: `read`'s active-segment slice for one record is the record at its index
        # (offsets there are base, base+1, ...), and the position after it is offset + 1.
        last = self.segments[-1]
        index = offset - last.base_offset
        if last.contiguous and index >= 0:
            records = last.records
            if index < len(records):  # `upper` is past `offset`: the record is below it
                record = records[index]
                if record.__class__ is not Record:
                    # A settled record: its view (speed: `settled_view` inlined, once a record read
                    # from a backlog).
                    msg = record
                    record = _new(SettledRecord)
                    record.msg = msg
                    record.offset = offset
                    record.key = msg.key
                    record.copies = MSG_ONLY if last.claims[index] else None
                    record.segment = last
                return record, offset + 1
        found, position = self.read(offset, 1, upper)
        return (found[0] if found else None), position

    def records_between(self, start: int, end: int) -> list[Record]:
        """Every record with start <= offset < end, in offset order (a list: cheaper than
        iterating records_from for the few records of one batch)."""
        segments = self.segments
        i = self._segment_index(start)
        found: list[Record] = []
        while i < len(segments):
            segment = segments[i]
            records = segment.records
            j = segment.index_of(start)
            if segment.contiguous:
                stop = min(max(end - segment.base_offset, j), len(records))
                found += segment.records_in(j, stop)
                if stop < len(records):
                    return found
            else:
                while j < len(records) and records[j].offset < end:
                    found.append(records[j])
                    j += 1
                if j < len(records):
                    return found
            i += 1
        return found

    def records_from(self, offset: int) -> Iterator[Record]:
        """Every record at or after `offset`, in offset order."""
        segments = self.segments
        i = self._segment_index(offset)
        first = True
        while i < len(segments):
            segment = segments[i]
            start = segment.index_of(offset) if first else 0
            first = False
            for j in range(start, len(segment.records)):
                yield segment.record_at(j)
            i += 1

    def offset_for_timestamp(self, timestamp: float) -> int | None:
        """The earliest offset whose timestamp is >= `timestamp` (ListOffsets by time), or None."""
        for segment in self.segments:
            if segment.max_timestamp < timestamp:
                continue
            for j in range(len(segment.records)):  # lazily: a view only for those read
                record = segment.record_at(j)
                if record.timestamp >= timestamp:
                    return record.offset
        return None

    # ----- removing -----
    def delete_oldest_segment(self, now: float) -> list[Record]:
        """Delete the first segment (rolling first when it is the active one)."""
        if len(self.segments) == 1:
            self.roll(now)
        if len(self.segments) == 1:  # the only segment is empty: nothing to delete
            return []
        segment = self.segments.popleft()
        self.size -= segment.size
        self.count -= len(segment.records)
        self.log_start_offset = max(self.log_start_offset, self.segments[0].base_offset)
        return segment.records_in(0, len(segment.records))

    def truncate_to(self, offset: int) -> list[Record]:
        """Remove every record at or after `offset` (a follower that becomes leader has less)."""
        removed: list[Record] = []
        segments = self.segments
        while len(segments) > 1 and segments[-1].base_offset >= offset:
            segment = segments.pop()
            removed[:0] = segment.records_in(0, len(segment.records))
            if segment in self._closing:  # not to be settled any more (rare: a new leader)
                self._closing.remove(segment)
        active = segments[-1]
        cut = active.index_of(offset)
        tail = _detached(active.records_in(cut, len(active.records)))
        if tail:
            del active.records[cut:]
            removed[:0] = tail
            if active.settled > cut:
                active.settled = cut
                del active.claims[cut:]
        if removed:
            kept = active.records_in(0, len(active.records))
            active.size = sum(r.size for r in kept)
            active.max_timestamp = max((r.timestamp for r in kept), default=float("-inf"))
            self.size = sum(s.size for s in segments)
            self.count -= len(removed)
        self.log_end_offset = min(self.log_end_offset, max(offset, self.log_start_offset))
        return removed

    def compact(self, keep: Any) -> list[Record]:
        """Rewrite every closed segment keeping the records for which `keep(record)` is true.

        Segments the cleaner empties are dropped, except that the log start offset stays where it
        was: compaction never moves it (consumers reading from it skip the gap).
        """
        removed: list[Record] = []
        segments = self.segments
        survivors: deque[Segment] = deque()
        last = len(segments) - 1
        for i, segment in enumerate(segments):
            if i == last:
                survivors.append(segment)
                continue
            kept = []
            gone = []
            for j in range(len(segment.records)):
                record = segment.record_at(j)
                (kept if keep(record) else gone).append(record)
            if gone:
                # Offsets now have gaps: a settled record gets its Record back (its offset
                # is no longer its place in the segment), kept or removed.
                kept = _detached(kept)
                removed += _detached(gone)
                segment.records = kept
                segment.contiguous = False
                segment.settled = 0
                segment.claims = bytearray()
                segment.size = sum(r.size for r in kept)
                segment.max_timestamp = max((r.timestamp for r in kept), default=float("-inf"))
            if kept:
                survivors.append(segment)
        self.segments = survivors
        self.size = sum(s.size for s in survivors)
        self.count -= len(removed)
        return removed

    def closed_records(self) -> Iterator[Record]:
        """Records of every segment but the active one (what the cleaner may rewrite)."""
        segments = self.segments
        for i in range(len(segments) - 1):
            segment = segments[i]
            for j in range(len(segment.records)):  # lazily: no list of a whole segment's views
                yield segment.record_at(j)


def _settle_below(segment: Segment, limit: int) -> bool:
    """Settle `segment`'s records below offset `limit` that the scan has not looked at yet;
    True if it reached the segment's end. A record not in the state to settle then stays a
    Record (the scan does not look at it again)."""
    if not segment.contiguous:
        return True  # offsets with gaps are not places: nothing settles here
    stop = limit - segment.base_offset
    end = len(segment.records)
    if stop > end:
        stop = end
    start = segment.settled
    if start < stop:
        _settle_entries(segment, start, stop)
        segment.settled = stop
    return stop >= end


def _settle_entries(segment: Segment, start: int, stop: int) -> None:
    """Replace each Record among `segment.records[start:stop]` that is in a usual state (see
    SettledRecord) by its bare message, its copies in `claims` (which grows to `stop`)."""
    records = segment.records
    claims = segment.claims
    claims.extend(bytes(stop - start))
    for i in range(start, stop):
        record = records[i]
        copies = record.copies
        if (copies is None or copies is MSG_ONLY) and record.base_offset == record.offset:
            batch = record.batch
            msg = record.msg
            key = record.key
            if (
                (batch is None or batch.acknowledged or batch.done)
                and not record.tombstone
                and key is msg.key
                and record.size == RECORD_OVERHEAD + msg.size + (0 if key is None else len(key))
            ):
                records[i] = msg
                if copies is not None:
                    claims[i] = 1
