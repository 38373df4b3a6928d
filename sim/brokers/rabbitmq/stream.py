"""A RabbitMQ stream (`x-queue-type: stream`): an append-only log that consumers read without
removing anything, as AMQP 0-9-1 clients see it.

Rules, each from the broker's source (rabbitmq-server deps/rabbit/src/rabbit_stream_queue.erl,
the osiris log it runs on, rabbitmq/osiris src/osiris_log.erl) or the streams guide
(https://www.rabbitmq.com/docs/streams):

- Consuming needs a prefetch: basic.consume with prefetch 0 is refused with PRECONDITION_FAILED,
  with auto-ack with NOT_IMPLEMENTED, and basic.get is not implemented
  (rabbit_stream_queue:consume/3, dequeue/5).
- Where a consumer starts is its `x-stream-offset` argument (parse_offset_arg/1): `first`,
  `last` (the last chunk), `next` (the default: only what comes after it subscribes), an
  offset, an AMQP timestamp (seconds), or an interval string such as "1h" (now minus that).
  An offset before the log's start reads from its start; one past its end waits for it
  (only entries at or after the offset asked for are delivered).
- Every consumer is an independent reader with its own position. Its acks, nacks and rejects
  only give credit back (settle/5: "all settle reasons will give credit"): nothing is removed,
  nothing is requeued, and a delivery is never flagged redelivered (entry_to_msg/6). The
  offset travels in the `x-stream-offset` header.
- Retention (`x-max-length-bytes`, `x-max-age`) deletes whole segments from the front, never
  the segment being written. A segment is closed once it holds
  `x-stream-max-segment-size-bytes` (default 500,000,000) or 256,000 chunks; retention is
  evaluated when a new segment opens (osiris_log:write_chunk/6, max_segment_size_reached/1),
  and, with a max age, every hour after that (osiris_retention, retention_eval_interval).
  max-bytes keeps the newest segments whose sizes add up to at most the limit
  (osiris_log:eval_max_bytes/2); max-age deletes the oldest segments whose newest entry is
  older than the age (eval_age/2).

- Chunks: the writer writes each batch of publishes as one chunk (which publishes share one:
  sim/brokers/rabbitmq/stream_writer.py). A chunk takes its 48-byte header (osiris.hrl
  HEADER_SIZE_B; no bloom filter without filter values, osiris_bloom:to_binary/1) plus 4 bytes
  per simple entry and the body, and goes whole into one segment: the roll is checked before a
  chunk, so a segment can end over its limit by one chunk (osiris_log:write_chunk/6). A segment
  file starts with an 8-byte header (LOG_HEADER_SIZE). `last` is the last chunk's first entry;
  a timestamp finds the first chunk written at or after it (osiris_log
  timestamp_search_fun/3), every entry of a chunk carrying its chunk's time.
- Credit and chunks: before 4.0 a reader with credit left reads the next whole chunk and is
  sent every entry of it, even past its credit, which then goes negative until acks bring it
  back (3.10 rabbit_stream_queue:stream_entries/4: `Credit > 0`, then `credit = Credit -
  NumMsgs`): a prefetch of 10 over 100-message chunks has 100 deliveries unacknowledged. From
  4.0 a reader walks each chunk with an osiris chunk iterator and is sent one entry per credit,
  going on mid-chunk when credit comes back (stream_entries/5, "when Credit < 1" stops;
  rabbitmq-server commit 8cb313d "Support AMQP 1.0 natively", first in v4.0.0).

Simplifications: streams are always durable: a broker crash loses nothing in them. AMQP 0-9-1
has no server-side offset tracking, so a client that reconnects says again where to start (the
scenario consumer resumes after the last offset it settled: docs/rabbitmq-streams.md). On the
ideal broker a chunk grows entry by entry within its instant (stream_writer.py), and readers
are sent each entry as it comes: the same deliveries at the same instant as the whole chunk.

Accounting (sim/metrics.py): each reader gets its own copy of every entry from where it
started, as each consumer group does in Kafka: the first reader of an entry takes the
published message, every further reader a copy (counted in `copies`), so conservation holds
per copy. An entry no reader has reached stays the published message. Retention ends the
live copies it deletes as expired; a nacked delivery ends its copy as dropped (that reader
moved past it).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from sim.brokers.rabbitmq.errors import NotImplementedByQueue, PreconditionFailed
from sim.brokers.rabbitmq.queue import ClassicQueue, ConsumerSlot, Entry
from sim.brokers.rabbitmq.stream_writer import BatchSize, StreamWriter, Write
from sim.message import Message, State

if TYPE_CHECKING:
    from sim.brokers.rabbitmq.broker import RabbitMQBroker

__all__ = [
    "CHUNK_HEADER_BYTES",
    "DEFAULT_MAX_SEGMENT_SIZE_BYTES",
    "ENTRY_HEADER_BYTES",
    "MAX_SEGMENT_CHUNKS",
    "RETENTION_EVAL_INTERVAL",
    "SEGMENT_HEADER_BYTES",
    "StreamQueue",
    "StreamReader",
    "parse_max_age",
]

DEFAULT_MAX_SEGMENT_SIZE_BYTES = 500 * 1000 * 1000  # osiris_log.erl DEFAULT_MAX_SEGMENT_SIZE_B
MAX_SEGMENT_CHUNKS = 256_000  # osiris_log.erl DEFAULT_MAX_SEGMENT_SIZE_C
CHUNK_HEADER_BYTES = 48  # osiris.hrl HEADER_SIZE_B
ENTRY_HEADER_BYTES = 4  # a simple entry's type bit and 31-bit size (osiris_log.erl)
SEGMENT_HEADER_BYTES = 8  # osiris.hrl LOG_HEADER_SIZE
RETENTION_EVAL_INTERVAL = 3600.0  # osiris_retention.erl DEFAULT_SCHEDULED_EVAL_TIME (1 h)


# rabbit_amqqueue:check_max_age/1 and unit_value_in_ms/1: a positive integer and one unit.
_AGE_UNITS = {"Y": 365 * 86400.0, "M": 30 * 86400.0, "D": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0}
_AGE = re.compile(r"^([0-9]*)(.*)$")


def parse_max_age(text: str) -> float:
    """An `x-max-age` (or interval `x-stream-offset`) string such as "7D" in seconds."""
    match = _AGE.match(text)
    value, unit = (match.group(1), match.group(2)) if match else ("", "")
    if not value or int(value) <= 0 or unit not in _AGE_UNITS:
        raise PreconditionFailed(
            f"invalid max age {text!r}: a positive integer and one of the units Y, M, D, h, m, s"
        )
    return int(value) * _AGE_UNITS[unit]


class _Entry:
    """One published message in the log: its offset, its chunk's first offset (osiris's chunk
    id) and time, and the copy each reader (by index) took of it."""

    __slots__ = ("chunk", "copies", "msg", "offset", "timestamp")

    def __init__(self, offset: int, chunk: int, timestamp: float, msg: Message) -> None:
        self.offset = offset
        self.chunk = chunk
        self.timestamp = timestamp
        self.msg = msg
        self.copies: list[Message | None] | None = None


class _Segment:
    __slots__ = ("bytes", "chunks", "first", "last_timestamp")

    def __init__(self, first: int) -> None:
        self.first = first  # offset of its first entry
        self.bytes = SEGMENT_HEADER_BYTES
        self.chunks = 0
        self.last_timestamp = float("-inf")


class StreamReader:
    """One reader of the stream, named by its channel and consumer tag, so that a client that
    consumes again under the same names (after a reconnect) is the same reader with the same
    copies. `position` is the next offset it will be sent; `settled` the highest offset it
    acknowledged, nacked or rejected; `chunk` the chunk it is reading (it is sent the rest of
    that chunk whatever its credit)."""

    __slots__ = ("chunk", "feeding", "horizon", "index", "key", "position", "settled", "slot")

    def __init__(self, key: str, index: int, start: int) -> None:
        self.key = key
        self.index = index
        self.position = start
        self.horizon = start  # it has a copy of every entry from here on
        self.settled = -1
        self.slot: ConsumerSlot | None = None
        self.feeding = False
        self.chunk = -1


class StreamQueue(ClassicQueue):
    """A stream queue on the broker: the log, its segments and its readers."""

    kind = "stream"
    #: Stream deliveries never carry the redelivered flag (rabbit_stream_queue:entry_to_msg/6).
    marks_redelivered = False

    def __init__(self, broker: RabbitMQBroker, name: str, arguments: dict[str, Any] | None) -> None:
        super().__init__(broker, name, arguments)
        args = self.arguments
        self.max_age: float | None = None
        if args.get("x-max-age") is not None:
            self.max_age = parse_max_age(str(args["x-max-age"]))
        size = args.get("x-stream-max-segment-size-bytes", DEFAULT_MAX_SEGMENT_SIZE_BYTES)
        self.max_segment_size_bytes: int = size
        self.first = 0  # offset of the log's first entry (moves with retention)
        self.end = 0  # the next offset to be written
        self._log: list[_Entry] = []  # _log[i] has offset first + i
        self._segments: list[_Segment] = [_Segment(0)]
        self.readers: list[StreamReader] = []
        self._readers_by_key: dict[str, StreamReader] = {}
        self._unread = 0  # entries readers have not been sent yet, over all readers
        self._age_timer = False
        self.durable = True
        # The writer (stream_writer.py): its adaptive batch size, and with a cost model its
        # processing time. On the ideal broker the chunk of the current instant stays open for
        # the publishes of that instant (`_open` is its first offset, -1 once it is closed).
        self.batch = BatchSize()
        cost = broker.cost
        self.writer: StreamWriter | None = None
        if cost is not None:
            self.writer = StreamWriter(
                self.env, cost.stream_chunk, cost.queue_time("stream"), self._write, self.batch
            )
        self._chunk = 0  # first offset of the chunk being written
        self._open = -1
        self._open_at = 0.0
        self._open_count = 0
        self._retention_due = False  # a segment rolled under the open chunk
        self.listed_open = False  # listed in the broker's streams with an open chunk
        self.chunks = 0  # chunks written
        self.whole_chunk_reads = broker.version.stream_reads_whole_chunks
        # Every retention evaluation (a segment roll, or the max-age timer): (time, bytes and
        # segments before, bytes and segments after, first offset after). One row per segment,
        # never per message; the stream retention chart draws its drops from it.
        self.retention_log: list[tuple[float, int, int, int, int, int]] = []

    # ----- what the measures read -----
    @property
    def ready_count(self) -> int:
        """Entries waiting to be sent, summed over the readers: one per reader and entry, as
        the copies are counted."""
        return self._unread

    @property
    def length(self) -> int:
        """Entries in the log now (what retention keeps)."""
        return self.end - self.first

    @property
    def bytes(self) -> int:
        """Bytes on disk: every segment, its header included."""
        return sum(s.bytes for s in self._segments)

    @property
    def segment_count(self) -> int:
        return len(self._segments)

    # ----- publishing: the writer -----
    def offer(self, msg: Message, on_answer: Any = None) -> bool | None:
        """A routed message: on the ideal broker written now (a stream takes every message:
        its limits are retention, not overflow); with a cost model cast to the writer, which
        answers `on_answer(True)` once the message's chunk is written."""
        if self.writer is None:
            return self.accept(msg)
        self.writer.cast(msg, on_answer)
        return None

    def accept(self, msg: Message) -> bool:
        """The ideal broker's writer: `msg` joins the chunk of this instant, unless that chunk
        holds a full batch (the writer handles it and takes the rest as the next one)."""
        now = self.env.now
        if self._open >= 0 and (self._open_at != now or self._open_count >= self.batch.size):
            self.seal()
        rolled = False
        if self._open < 0:
            rolled = self._start_chunk(now)
            self._open, self._open_at, self._open_count = self.end, now, 0
            if not self.listed_open:
                self.listed_open = True
                self.broker.open_stream_chunks.append(self)
        self._open_count += 1
        self._append(msg, now)
        if rolled:
            # Retention looks at the segments once this chunk is written whole: at the end of
            # the instant, or when a confirm wait ends the chunk before that.
            self._retention_due = True
            self.env.timeout(0).callbacks.append(self._due_retention)
        self._written(False)
        return True

    def seal(self) -> None:
        """End the open chunk: its batch is handled (gen_batch_server adapts its batch size)."""
        if self._open >= 0:
            self.batch.completed(self._open_count >= self.batch.size)
            self._open = -1
        self._due_retention()

    def _due_retention(self, _event: Any = None) -> None:
        if self._retention_due:
            self._retention_due = False
            self._evaluate_retention()

    def _write(self, batch: list[Write]) -> None:
        """The writer with a cost model has handled `batch`: one chunk, then the confirms."""
        now = self.env.now
        rolled = self._start_chunk(now)
        for msg, _answer in batch:
            self._append(msg, now)
        self._written(rolled)
        for _msg, answer in batch:
            if answer is not None:
                answer(True)

    def _start_chunk(self, now: float) -> bool:
        """A chunk begins at the next offset, in a new segment if the last one is full
        (osiris_log:write_chunk/6 checks max_segment_size_reached/1 before each chunk).
        Returns whether a segment rolled."""
        segment = self._segments[-1]
        rolled = False
        if segment.bytes >= self.max_segment_size_bytes or segment.chunks >= MAX_SEGMENT_CHUNKS:
            segment = _Segment(self.end)
            self._segments.append(segment)
            rolled = True
        segment.bytes += CHUNK_HEADER_BYTES
        segment.chunks += 1
        self._chunk = self.end
        self.chunks += 1
        return rolled

    def _append(self, msg: Message, now: float) -> None:
        """One entry of the current chunk."""
        offset = self.end
        msg.seq = offset
        entry = _Entry(offset, self._chunk, now, msg)
        segment = self._segments[-1]
        segment.bytes += ENTRY_HEADER_BYTES + msg.size
        segment.last_timestamp = now
        self._log.append(entry)
        self.end = offset + 1
        readers = self.readers
        if readers:
            waiting = 0
            for reader in readers:
                if offset >= reader.horizon:
                    self._claim(entry, reader.index)
                    if offset >= reader.position:
                        waiting += 1
            if waiting:
                self._unread += waiting
                self.recorder.ready_add(self._ready_slot, waiting)
        self.recorder.enqueued(msg, self.name)

    def _written(self, rolled: bool) -> None:
        """After a write: retention if a segment rolled (trigger_retention_eval/1), then the
        readers are told (the writer's offset listeners)."""
        if rolled:
            self._evaluate_retention()
        for reader in self.readers:
            if reader.slot is not None:
                self._feed(reader)

    def _claim(self, entry: _Entry, index: int) -> None:
        """Reader `index` takes its copy of `entry`: the first reader the message itself."""
        copies = entry.copies
        if copies is None:
            entry.copies = copies = [None] * (index + 1)
            copies[index] = entry.msg
            return
        if len(copies) <= index:
            copies.extend([None] * (index + 1 - len(copies)))
        if copies[index] is None:
            twin = entry.msg.copy()
            twin.seq = entry.offset
            copies[index] = twin
            self.recorder.copied(twin)

    # ----- retention -----
    def _evaluate_retention(self) -> None:
        segments = self._segments
        bytes_before, segments_before = self.bytes, len(segments)
        keep = len(segments)
        limit = self.max_length_bytes
        if limit is not None:
            # osiris_log:eval_max_bytes/2: the newest segment always stays; older ones stay
            # while the sizes still fit in what is left of the limit.
            left = limit - segments[-1].bytes
            keep = 1
            for segment in reversed(segments[:-1]):
                if segment.bytes > left:
                    break
                left -= segment.bytes
                keep += 1
        drop = len(segments) - keep
        if self.max_age is not None:
            # osiris_log:eval_age/2: from the oldest, while older than the age, never the last.
            cutoff = self.env.now - self.max_age
            while drop < len(segments) - 1 and segments[drop].last_timestamp < cutoff:
                drop += 1
        if drop:
            self._delete_segments(drop)
        self.retention_log.append(
            (
                self.env.now,
                bytes_before,
                segments_before,
                self.bytes,
                len(self._segments),
                self.first,
            )
        )
        if self.max_age is not None and len(self._segments) > 1 and not self._age_timer:
            self._age_timer = True
            timer = self.env.timeout(RETENTION_EVAL_INTERVAL)
            timer.callbacks.append(self._on_age_timer)

    def _on_age_timer(self, _event: Any) -> None:
        self._age_timer = False
        self._evaluate_retention()

    def _delete_segments(self, count: int) -> None:
        segments = self._segments
        new_first = segments[count].first
        del segments[:count]
        gone = new_first - self.first
        removed, self._log = self._log[:gone], self._log[gone:]
        self.first = new_first
        live, expired, name = State.LIVE, self.recorder.expired, self.name
        for entry in removed:
            copies = entry.copies
            if copies is None:
                if entry.msg.state is live:
                    expired(entry.msg, name)
                continue
            for copy in copies:
                if copy is not None and copy.state is live:
                    expired(copy, name)
        skipped = 0
        for reader in self.readers:
            # A reader behind the new start goes on from there (what it had not read is gone).
            if reader.position < new_first:
                skipped += new_first - reader.position
                reader.position = new_first
            if reader.horizon < new_first:
                reader.horizon = new_first
        if skipped:
            self._unread -= skipped
            self.recorder.ready_add(self._ready_slot, -skipped)

    # ----- subscribing -----
    def add_consumer(self, slot: ConsumerSlot) -> None:
        self.subscribe(slot, None, f"{slot.channel.name}/{slot.tag}")

    def subscribe(self, slot: ConsumerSlot, offset: Any, key: str) -> None:
        """basic.consume with `x-stream-offset` `offset` (None: next) by the reader `key`."""
        if slot.auto_ack:
            raise NotImplementedByQueue(
                f"automatic acknowledgement not supported by stream {self.name!r}"
            )
        if slot.prefetch == 0:
            raise PreconditionFailed(f"consumer prefetch count is not set for stream {self.name!r}")
        start = self.start_offset(offset)
        reader = self._readers_by_key.get(key)
        if reader is None:
            reader = StreamReader(key, len(self.readers), start)
            self.readers.append(reader)
            self._readers_by_key[key] = reader
            self._claim_range(reader, start, self.end)
            unread_before = 0
        else:
            if start < reader.horizon:
                self._claim_range(reader, start, reader.horizon)
                reader.horizon = start
            unread_before = max(0, self.end - reader.position)
            reader.position = start
        delta = max(0, self.end - start) - unread_before
        if delta:
            self._unread += delta
            self.recorder.ready_add(self._ready_slot, delta)
        reader.slot = slot
        reader.chunk = -1  # a new osiris reader: it reads its first chunk on credit
        slot.reader = reader
        self.consumers.append(slot)
        self._feed(reader)

    def _claim_range(self, reader: StreamReader, start: int, stop: int) -> None:
        log, first, index = self._log, self.first, reader.index
        for offset in range(max(start, first), min(stop, self.end)):
            self._claim(log[offset - first], index)

    def start_offset(self, offset: Any) -> int:
        """Where a reader with this `x-stream-offset` starts (rabbit_stream_queue:
        parse_offset_arg/1, then osiris's offset specs): first, last, next, an offset, a
        timestamp `("timestamp", seconds)`, or an interval string ("30s": now minus 30 s;
        `("interval", seconds)` is the same, parsed)."""
        if offset is None or offset == "next":
            return self.end
        if offset == "first":
            return self.first
        if offset == "last":  # the last chunk, from its first entry (osiris_log)
            return self._log[-1].chunk if self.end > self.first else self.end
        if isinstance(offset, bool):
            raise PreconditionFailed(f"invalid x-stream-offset {offset!r}")
        if isinstance(offset, int):
            if offset < 0:
                raise PreconditionFailed(f"invalid x-stream-offset {offset!r}")
            # Before the start: from the start (osiris clamps). Past the end: the reader waits
            # for that offset, as rabbit_stream_queue delivers only entries at or after the
            # offset asked for (`O >= StartOffs`; recorded: tests/data/rabbitmq_stream_traces).
            return max(offset, self.first)
        if isinstance(offset, tuple) and len(offset) == 2 and offset[0] == "timestamp":
            return self._at_time(float(offset[1]))
        if isinstance(offset, tuple) and len(offset) == 2 and offset[0] == "interval":
            return self._at_time(self.env.now - float(offset[1]))  # what "30s" parses to
        if isinstance(offset, str):
            return self._at_time(self.env.now - parse_max_age(offset))
        raise PreconditionFailed(f"invalid x-stream-offset {offset!r}")

    def _at_time(self, timestamp: float) -> int:
        """The first entry written at or after `timestamp` (entries are in time order, and
        those of a chunk share its time: this is the first chunk written then)."""
        log = self._log
        lo, hi = 0, len(log)
        while lo < hi:
            mid = (lo + hi) // 2
            if log[mid].timestamp < timestamp:
                lo = mid + 1
            else:
                hi = mid
        return self.first + lo

    def remove_consumer(self, slot: ConsumerSlot) -> None:
        """basic.cancel: the reader stops where it is; it keeps its copies and its place."""
        if slot in self.consumers:
            self.consumers.remove(slot)
        slot.cancelled = True
        reader = slot.reader
        if reader is not None and reader.slot is slot:
            reader.slot = None

    @property
    def consumer_count(self) -> int:
        return len(self.consumers)

    # ----- delivering -----
    def dispatch(self) -> None:
        for reader in self.readers:
            if reader.slot is not None:
                self._feed(reader)

    def _feed(self, reader: StreamReader) -> None:
        """Send the reader what its credit allows, in offset order: before 4.0 a whole chunk
        at a time (with credit left it is sent all of the next chunk), from 4.0 one entry per
        credit (rabbit_stream_queue:stream_entries)."""
        slot = reader.slot
        if slot is None or reader.feeding:
            return
        reader.feeding = True
        try:
            log, index, whole = self._log, reader.index, self.whole_chunk_reads
            while reader.slot is slot and reader.position < self.end:
                entry = log[reader.position - self.first]
                if not (whole and entry.chunk == reader.chunk) and not slot.has_credit():
                    break
                reader.chunk = entry.chunk
                reader.position += 1
                self._unread -= 1
                self.recorder.ready_add(self._ready_slot, -1)
                copies = entry.copies
                assert copies is not None  # claimed when the reader reached it
                copy: Message = copies[index]  # type: ignore[assignment]
                if slot.channel.stream_offset_headers:
                    copy.headers = {**(copy.headers or {}), "x-stream-offset": entry.offset}
                slot.unacked += 1
                self.unacked += 1
                slot.channel.deliver(slot, copy)
        finally:
            reader.feeding = False

    def basic_get(self) -> Message | None:
        raise NotImplementedByQueue(f"basic.get not supported by stream queues {self.name!r}")

    # ----- settling: every reason only gives credit back -----
    def _settled(self, slot: ConsumerSlot | None, msg: Message) -> None:
        self.unacked -= 1
        if slot is None:
            return
        slot.unacked -= 1
        reader = slot.reader
        if reader is not None:
            if msg.seq > reader.settled:
                reader.settled = msg.seq
            self._feed(reader)

    def ack_one(self, slot: ConsumerSlot | None, msg: Message) -> None:
        self.recorder.acked_message(msg, self.name)
        self._settled(slot, msg)

    def ack(self, entries: Iterable[Entry]) -> None:
        for slot, msg in entries:
            self.ack_one(slot, msg)

    def _refuse_nack(self, entries: Iterable[Entry]) -> None:
        """RabbitMQ 3.10 refuses basic.nack and basic.reject on a stream: NOT_IMPLEMENTED, a
        connection error, so the channel closes (what it held stays in the log)."""
        if self.broker.version.stream_nack_gives_credit:
            return
        channels = []
        for slot, _msg in entries:
            self.unacked -= 1  # taken off the channel already: the close cannot return them
            if slot is not None:
                slot.unacked -= 1
                if slot.channel not in channels:
                    channels.append(slot.channel)
        for channel in channels:
            channel.close()
        raise NotImplementedByQueue(
            f"basic.nack and basic.reject not supported by stream queues {self.name!r}"
        )

    def discard(self, entries: Iterable[Entry]) -> None:
        """nack or reject: the reader moves on; its copy of the message ends here."""
        entries = list(entries)
        self._refuse_nack(entries)
        for slot, msg in entries:
            self.recorder.dropped(msg, self.name)
            self._settled(slot, msg)

    def requeue(self, entries: Iterable[Entry], closing: bool = False, failed: bool = True) -> None:
        """nack/reject with requeue does what any settle does on a stream: credit, no requeue.
        A closing channel's deliveries stay where they are in the log: the reader may read
        them again when it consumes again from before them."""
        entries = list(entries)
        if not closing:
            self._refuse_nack(entries)
        for slot, msg in entries:
            if closing:
                self.unacked -= 1
                if slot is not None:
                    slot.unacked -= 1
            else:
                self.recorder.dropped(msg, self.name)
                self._settled(slot, msg)

    def lose_volatile(self) -> None:
        """A broker crash: the log is on disk, nothing is lost; the next write is a new
        chunk."""
        self.seal()

    def unacked_of(self, reader: StreamReader) -> int:
        return 0 if reader.slot is None else reader.slot.unacked
