"""A Redis server's stream commands in simulated time, with redis-py's method names.

Semantics follow redis-server 7.0 (src/t_stream.c and the command pages at
https://redis.io/commands/?group=stream); replies are the raw RESP2 replies redis-py returns
with its response callbacks removed (ids and strings as str, integers as int, nil as None),
which is how shared/conformance/redis/streams_traces.json was recorded. Errors raise
ResponseError with the text redis-py reports (it strips a leading `ERR `).

The clock is the SimPy environment's (seconds; Redis works in milliseconds). Commands run
instantly; only a blocking XREADGROUP waits, through `xreadgroup_wait` (a generator for SimPy
processes), which wakes when an entry is added to one of its streams or when BLOCK runs out.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections import deque
from collections.abc import Callable, Generator, Sequence
from itertools import islice
from typing import Any

import simpy
from simpy.events import PENDING

from sim.brokers.redis.stream import (
    MAX_ID,
    NODE_MAX_ENTRIES,
    ZERO_ID,
    Group,
    Nack,
    Stream,
    StreamId,
    format_id,
)
from sim.timer import succeed_now

__all__ = [
    "RedisStreamsServer",
    "ResponseError",
    "TrimSpec",
    "interval",
    "parse_add_id",
    "parse_id",
]

Reply = Any
# Called with (stream key, group, [(id, value)]) for entries removed (trimmed or deleted) that
# the group had not read yet; the scenario runtime reports them to the Recorder as dropped.
RemovedHook = Callable[[str, Group, list[tuple[StreamId, Any]]], None]


class ResponseError(Exception):
    """A Redis error reply, worded as redis-py reports it."""


_INVALID_ID = "Invalid stream ID specified as stream command argument"
_SYNTAX = "syntax error"
_TOP_ITEM = "The ID specified in XADD is equal or smaller than the target stream top item"
_NEEDS_KEY = (
    "The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use "
    "the MKSTREAM option to create an empty stream automatically."
)

_U64 = 2**64
_I64 = 2**63
# string2ll (util.c): an optional minus, then 0 alone or digits without a leading zero.
_STRING2LL = re.compile(r"-?[1-9][0-9]*|0")
# strtoull (base 10): C-locale spaces, an optional sign, digits, and nothing after them.
_STRTOULL = re.compile(r"[ \t\n\v\f\r]*([+-]?)([0-9]+)")

# A trim as streamTrim takes it: (MAXLEN or MINID, threshold, approximate, limit; 0 = none).
TrimSpec = tuple[str, int | StreamId, bool, int]


def _string2ull(text: str) -> int | None:
    """util.c string2ull: string2ll for canonical decimals (a negative one is refused), and
    otherwise strtoull, which allows leading spaces, a sign and leading zeros, and negates a
    minus modulo 2**64 ("-18446744073709551615" is 1). None: not a valid number."""
    if text.isdigit() and text.isascii():  # plain digits: both parsers give their value
        value = int(text)
        return value if value < _U64 else None
    if _STRING2LL.fullmatch(text) and -_I64 <= int(text) < _I64:
        value = int(text)
        return value if value >= 0 else None
    match = _STRTOULL.fullmatch(text)
    if match is None:
        return None
    value = int(match[2])
    if value >= _U64:  # ERANGE
        return None
    return (_U64 - value) % _U64 if match[1] == "-" else value


def parse_id(text: str, missing_seq: int = 0, strict: bool = True) -> StreamId:
    """`ms-seq` or `ms` (sequence `missing_seq`), as streamGenericParseIDOrReply: both parts
    by string2ull, split at the first `-`. `-` and `+` are the least and greatest ids unless
    `strict` (streamParseStrictIDOrReply, used by every command that stores an id)."""
    text = str(text)
    if len(text) > 127:  # it is copied into a 128-byte buffer
        raise ResponseError(_INVALID_ID)
    if text in ("-", "+"):
        if strict:
            raise ResponseError(_INVALID_ID)
        return ZERO_ID if text == "-" else MAX_ID
    ms_text, dash, seq_text = text.partition("-")
    ms = _string2ull(ms_text)
    seq = _string2ull(seq_text) if dash else missing_seq
    if ms is None or seq is None:
        raise ResponseError(_INVALID_ID)
    return ms, seq


def parse_add_id(text: str) -> tuple[StreamId, bool] | None:
    """An XADD id: None for `*`; else (id, whether the sequence was given), where `ms-*`
    leaves the sequence to the server (Redis >= 7.0)."""
    if text == "*":
        return None
    text = str(text)
    ms_text, dash, seq_text = text.partition("-")
    if dash and seq_text == "*" and len(text) <= 127:
        return (parse_id(ms_text)[0], 0), False
    return parse_id(text), True


def _bound(text: str, missing_seq: int) -> tuple[StreamId, bool]:
    """streamParseIntervalIDOrReply: `(id` is exclusive (and strict), anything else inclusive
    with `-` and `+` allowed. A lone `(` is not exclusive (and not an id)."""
    if len(text) > 1 and text[0] == "(":
        return parse_id(text[1:], missing_seq), True
    return parse_id(text, missing_seq, strict=False), False


def interval(low: str, high: str) -> tuple[StreamId, StreamId]:
    """The inclusive ids of a range from `low` to `high` (XRANGE, XREVRANGE, XPENDING): an
    incomplete start has sequence 0 and an incomplete end 2**64-1; an exclusive bound moves one
    id in, and cannot move past the first or last possible id (xrangeGenericCommand)."""
    start, start_open = _bound(low, 0)
    if start_open:
        if start == MAX_ID:
            raise ResponseError("invalid start ID for the interval")
        start = _next_id(start)
    end, end_open = _bound(high, _U64 - 1)
    if end_open:
        if end == ZERO_ID:
            raise ResponseError("invalid end ID for the interval")
        end = _previous_id(end)
    return start, end


def _serve_new(
    stream: Stream,
    group: Group,
    consumer: Any,
    entries: list[tuple[StreamId, Any]],
    now: int,
    noack: bool,
) -> None:
    """A `>` read serves `entries`: the group's entries-read and last id move past each, and
    each goes into the PELs unless NOACK (t_stream.c streamReplyWithRange with a group)."""
    # Speed: with no XDEL ever (max-deleted-entry-id 0-0) no range has tombstones, so
    # `has_tombstones_from` is not asked.
    no_deletes = stream.max_deleted_id == ZERO_ID
    for stream_id, _value in entries:
        if group.entries_read is not None and (
            no_deletes or not stream.has_tombstones_from(stream_id)
        ):
            group.entries_read += 1
        elif stream.entries_added:
            group.entries_read = stream.estimate_entries_read(stream_id)
        group.last_id = stream_id
        if not noack:
            group.deliver_new(stream_id, consumer, now)


def _next_id(stream_id: StreamId) -> StreamId:
    ms, seq = stream_id
    return (ms, seq + 1) if seq < _U64 - 1 else (ms + 1, 0)


def _previous_id(stream_id: StreamId) -> StreamId:
    ms, seq = stream_id
    return (ms, seq - 1) if seq > 0 else (ms - 1, _U64 - 1)


def _integer(text: Any) -> int:
    """getLongLongFromObjectOrReply: string2ll, so no spaces, signs or leading zeros."""
    text = str(text)
    if _STRING2LL.fullmatch(text) is None or not -_I64 <= int(text) < _I64:
        raise ResponseError("value is not an integer or out of range")
    return int(text)


def _entries_read(value: int | None) -> int | None:
    """XGROUP ENTRIESREAD: -1 (SCG_INVALID_ENTRIES_READ) means unknown, shown as nil."""
    if value is None or value == -1:
        return None
    if value < 0:
        raise ResponseError("value for ENTRIESREAD must be positive or -1")
    return value


def _entry(stream_id: StreamId, value: Any) -> list[Any]:
    return [format_id(stream_id), value]


def _raw_entry(stream_id: StreamId, value: Any) -> tuple[StreamId, Any]:
    return stream_id, value


def _by_name(named: dict[str, Any]) -> list[Any]:
    """Groups or consumers in their rax's order: by name, bytewise (UTF-8 sorts as code
    points do)."""
    return [named[key] for key in sorted(named)]


class RedisStreamsServer:
    """The keyspace of one Redis server (streams only) and its stream commands."""

    def __init__(self, env: simpy.Environment, node_max_entries: int = NODE_MAX_ENTRIES) -> None:
        self.env = env
        self.node_max_entries = node_max_entries
        self.streams: dict[str, Stream] = {}
        self.on_removed: RemovedHook | None = None
        # Readers blocked on a key, per consumer group, in the order they blocked. Speed: an
        # entry added wakes the first blocked reader of each group, not every reader of the
        # key: one entry serves one reader of a group, and the others, woken, would only
        # block again (in the order they had), a cost that grew with the group's size.
        self._waiters: dict[str, dict[str, deque[simpy.Event]]] = {}

    @property
    def now_ms(self) -> int:
        return int(self.env.now * 1000)

    # ----- keys -----
    def exists(self, *keys: str) -> int:
        return sum(key in self.streams for key in keys)

    def _stream(self, key: str) -> Stream | None:
        return self.streams.get(key)

    def _group(self, key: str, group: str, command: str) -> tuple[Stream, Group]:
        stream = self.streams.get(key)
        found = stream.groups.get(group) if stream is not None else None
        if stream is None or found is None:
            raise ResponseError(
                f"NOGROUP No such key '{key}' or consumer group '{group}'" + command
            )
        return stream, found

    # ----- adding and trimming -----
    def xadd(
        self,
        name: str,
        fields: Any,
        id: str = "*",
        maxlen: int | None = None,
        approximate: bool = True,
        nomkstream: bool = False,
        minid: str | None = None,
        limit: int | None = None,
    ) -> str | None:
        """XADD: the new entry's id, or None with NOMKSTREAM on a missing key. `fields` is kept
        as given (the raw command's field/value list, or a scenario's message)."""
        trim = self.trim_spec(maxlen, minid, approximate, limit)
        return self.xadd_parsed(name, fields, parse_add_id(id), trim, nomkstream)

    def xadd_parsed(
        self,
        name: str,
        fields: Any,
        new_id: tuple[StreamId, bool] | None,
        trim: TrimSpec | None,
        nomkstream: bool = False,
    ) -> str | None:
        """XADD with its id parsed (`parse_add_id`) and its trim checked (`trim_spec`), in
        xaddCommand's order: 0-0 is refused before the key is looked up, then NOMKSTREAM on
        a missing key answers nil, then a stream whose last id is the greatest possible takes
        nothing more, then the id must be greater than the last id (streamAppendItem)."""
        added = self.add_entry(name, fields, new_id, trim, nomkstream)
        return None if added is None else format_id(added)

    def add_entry(
        self,
        name: str,
        fields: Any,
        new_id: tuple[StreamId, bool] | None,
        trim: TrimSpec | None,
        nomkstream: bool = False,
    ) -> StreamId | None:
        """xadd_parsed, answering the new id as a StreamId (the model's producers call this:
        speed, no id formatted per entry that nobody reads)."""
        if new_id is not None and new_id[1] and new_id[0] == ZERO_ID:
            raise ResponseError("The ID specified in XADD must be greater than 0-0")
        stream = self.streams.get(name)
        if stream is None and nomkstream:
            return None
        top = stream.last_id if stream is not None else ZERO_ID
        if top == MAX_ID:
            raise ResponseError(
                "The stream has exhausted the last possible ID, unable to add more items"
            )
        if new_id is None:  # speed: `_new_id`'s `*` case inlined (every producer's XADD)
            now = int(self.env.now * 1000)
            added = (now, 0) if now > top[0] else _next_id(top)
        else:
            added = self._new_id(new_id, top)
        if stream is None:
            stream = self.streams[name] = Stream(self.node_max_entries)
        # Speed: `stream.append(added, fields)` inlined for an append to a tail node with
        # room whose slots are in id order (the usual XADD): one call an entry fewer, the
        # same steps. A new node, or an append after greater deleted ids, goes through it.
        nodes = stream._nodes
        node = nodes[-1] if nodes else None
        if node is not None and len(node.ids) < stream.node_max_entries and added > node.ids[-1]:
            node.ids.append(added)
            node.values.append(fields)
            node.live.append(True)
            node.valid += 1
            stream.length += 1
            stream.last_id = added
            stream.entries_added += 1
        else:
            stream.append(added, fields)
        if trim is not None:
            self._trim(name, stream, *trim)
        # Speed: `_wake(name)` inlined (one call an XADD fewer): the first reader still
        # blocked in each group is woken; nothing to do when nobody ever blocked on the key.
        # The event's `triggered` as its own test, and `succeed` in one call (sim/timer.py):
        # with 50 competing consumers 0.6 XADDs in 1 wake one.
        groups = self._waiters.get(name)
        if groups:
            for waiting in groups.values():
                while waiting:
                    event = waiting.popleft()
                    if event._value is PENDING:
                        succeed_now(event)
                        break
        return added

    def _new_id(self, given: tuple[StreamId, bool] | None, top: StreamId) -> StreamId:
        """`*`: the clock's millisecond, or the next id after the top one if the clock is not
        ahead (streamNextID); `ms-*`: the next sequence when `ms` is the top's millisecond,
        else sequence 0; an explicit id as given. Each must be greater than the top id."""
        if given is None:
            now = self.now_ms
            return (now, 0) if now > top[0] else _next_id(top)
        stream_id, seq_given = given
        if not seq_given and stream_id[0] == top[0]:
            if top[1] == _U64 - 1:  # no sequence left in this millisecond
                raise ResponseError(_TOP_ITEM)
            stream_id = (top[0], top[1] + 1)
        if stream_id <= top:
            raise ResponseError(_TOP_ITEM)
        return stream_id

    def trim_spec(
        self,
        maxlen: int | None,
        minid: str | None,
        approximate: bool,
        limit: int | None,
        required: bool = False,
    ) -> TrimSpec | None:
        """The trim of an XADD (None: no trim) or an XTRIM (`required`), checked as
        streamParseAddOrTrimArgsOrReply does; `limit` None means no LIMIT was given. An
        approximate trim without LIMIT does at most 100 nodes' worth of work."""
        if maxlen is not None and minid is not None:
            raise ResponseError(
                "syntax error, MAXLEN and MINID options at the same time are not compatible"
            )
        if maxlen is not None and maxlen < 0:
            raise ResponseError("The MAXLEN argument must be >= 0.")
        threshold: int | StreamId | None = maxlen if minid is None else parse_id(minid)
        if limit is not None and limit < 0:
            raise ResponseError("The LIMIT argument must be >= 0.")
        if limit and threshold is None:
            raise ResponseError(
                "syntax error, LIMIT cannot be used without specifying a trimming strategy"
            )
        if required and threshold is None:
            raise ResponseError("syntax error, XTRIM must be called with a trimming strategy")
        approx = approximate and threshold is not None
        if limit is not None and not approx:
            raise ResponseError("syntax error, LIMIT cannot be used without the special ~ option")
        if threshold is None:
            return None
        if limit is None:
            # args->limit = 100 * stream_node_max_entries, capped to 1..1000000 (10000 if <= 0)
            limit = 100 * self.node_max_entries if approx else 0
            if approx and limit <= 0:
                limit = 10000
            limit = min(limit, 1000000)
        return ("MAXLEN" if minid is None else "MINID"), threshold, approx, limit

    def _trim(
        self, key: str, stream: Stream, strategy: str, threshold: Any, approx: bool, limit: int
    ) -> int:
        removed = stream.trim(strategy, threshold, approx, limit)
        if removed:
            self._report_removed(key, stream, removed)
        return len(removed)

    def _report_removed(
        self, key: str, stream: Stream, removed: list[tuple[StreamId, Any]]
    ) -> None:
        hook = self.on_removed
        if hook is None:
            return
        for group in stream.groups.values():
            unread = [(i, v) for i, v in removed if i > group.last_id]
            if unread:
                hook(key, group, unread)

    def xtrim(
        self,
        name: str,
        maxlen: int | None = None,
        approximate: bool = True,
        minid: str | None = None,
        limit: int | None = None,
    ) -> int:
        trim = self.trim_spec(maxlen, minid, approximate, limit, required=True)
        assert trim is not None
        return self.xtrim_parsed(name, trim)

    def xtrim_parsed(self, name: str, trim: TrimSpec) -> int:
        """XTRIM with a checked trim: the entries removed (0 for a missing key)."""
        stream = self.streams.get(name)
        if stream is None:
            return 0
        return self._trim(name, stream, *trim)

    def xdel(self, name: str, *ids: str) -> int:
        """The entries deleted. A missing key answers 0 before any id is parsed; one invalid id
        deletes nothing (xdelCommand parses them all first). A deleted id raises the stream's
        max-deleted-entry-id; a node whose entries are all deleted is freed."""
        stream = self.streams.get(name)
        if stream is None:
            return 0
        parsed = [parse_id(i) for i in ids]
        removed = []
        for stream_id in parsed:
            if stream.exists(stream_id):
                removed.append((stream_id, stream.delete(stream_id)))
        self._report_removed(name, stream, removed)
        return len(removed)

    def xsetid(
        self,
        name: str,
        lastid: str,
        entries_added: int | None = None,
        max_deleted_entry_id: str | None = None,
    ) -> str:
        """XSETID (xsetidCommand): set a stream's last id, and optionally its entries-added
        counter and max-deleted-entry-id (0-0 leaves it as it is). The id may not be below the
        last live entry (deleted entries above it do not count), nor entries-added below the
        length; an empty stream takes any id."""
        new_id = parse_id(lastid)
        if entries_added is not None and entries_added < 0:
            raise ResponseError("entries_added must be positive")
        max_deleted = ZERO_ID
        if max_deleted_entry_id is not None:
            max_deleted = parse_id(max_deleted_entry_id)
            if new_id < max_deleted:
                raise ResponseError(
                    "The ID specified in XSETID is smaller than the provided max_deleted_entry_id"
                )
        stream = self.streams.get(name)
        if stream is None:
            raise ResponseError("no such key")
        if stream.length:
            top = stream.last_live_id()
            assert top is not None
            if new_id < top:
                raise ResponseError(
                    "The ID specified in XSETID is smaller than the target stream top item"
                )
            if entries_added is not None and stream.length > entries_added:
                raise ResponseError(
                    "The entries_added specified in XSETID is smaller than the target stream length"
                )
        stream.last_id = new_id
        if entries_added is not None:
            stream.entries_added = entries_added
        if max_deleted != ZERO_ID:
            stream.max_deleted_id = max_deleted
        return "OK"

    def xlen(self, name: str) -> int:
        stream = self.streams.get(name)
        return 0 if stream is None else stream.length

    def xrange(self, name: str, min: str = "-", max: str = "+", count: int | None = None) -> Reply:
        start, end = interval(min, max)
        return self.range_reply(name, start, end, count)

    def xrevrange(
        self, name: str, max: str = "+", min: str = "-", count: int | None = None
    ) -> Reply:
        """XREVRANGE: the end id comes first, entries come newest first."""
        start, end = interval(min, max)
        return self.range_reply(name, start, end, count, reverse=True)

    def range_reply(
        self,
        name: str,
        start: StreamId,
        end: StreamId,
        count: int | None = None,
        reverse: bool = False,
    ) -> Reply:
        """XRANGE / XREVRANGE between parsed inclusive ids: an empty array for a missing key,
        nil for COUNT 0 or less on an existing one (xrangeGenericCommand)."""
        stream = self.streams.get(name)
        if stream is None:
            return []
        if count is not None and count <= 0:
            return None
        if reverse:
            entries = stream.entries_reversed(start, end)
        else:
            entries = stream.entries_from(start, end)
        reply = []
        for stream_id, value in entries:
            reply.append(_entry(stream_id, value))
            if count is not None and len(reply) >= count:
                break
        return reply

    # ----- groups -----
    def xgroup_stream(self, key: str) -> Stream:
        """The stream an XGROUP subcommand names: every one but CREATE ... MKSTREAM needs it."""
        stream = self.streams.get(key)
        if stream is None:
            raise ResponseError(_NEEDS_KEY)
        return stream

    def group_of(self, key: str, group: str) -> tuple[Stream, Group]:
        """The key and group an XGROUP subcommand names, with xgroupCommand's errors."""
        stream = self.xgroup_stream(key)
        found = stream.groups.get(group)
        if found is None:
            raise ResponseError(f"NOGROUP No such consumer group '{group}' for key name '{key}'")
        return stream, found

    def xgroup_create(
        self,
        name: str,
        groupname: str,
        id: str = "$",
        mkstream: bool = False,
        entries_read: int | None = None,
    ) -> str:
        """XGROUP CREATE: `$` is the stream's last id (0-0 for a stream MKSTREAM creates);
        any other id is parsed strictly, and a bad one leaves no key behind."""
        entries = _entries_read(entries_read)
        stream = self.streams.get(name)
        if stream is None and not mkstream:
            raise ResponseError(_NEEDS_KEY)
        top = stream.last_id if stream is not None else ZERO_ID
        last_id = top if id == "$" else parse_id(id)
        if stream is None:
            stream = self.streams[name] = Stream(self.node_max_entries)
        if groupname in stream.groups:
            raise ResponseError("BUSYGROUP Consumer Group name already exists")
        stream.groups[groupname] = Group(groupname, last_id, entries)
        return "OK"

    def xgroup_setid(
        self, name: str, groupname: str, id: str, entries_read: int | None = None
    ) -> str:
        """XGROUP SETID: `$`, or any id with `-` and `+` allowed; the group's entries-read
        becomes ENTRIESREAD, or unknown without it."""
        entries = _entries_read(entries_read)
        stream, group = self.group_of(name, groupname)
        group.last_id = stream.last_id if id == "$" else parse_id(id, strict=False)
        group.entries_read = entries
        return "OK"

    def xgroup_destroy(self, name: str, groupname: str) -> int:
        """1 if the group existed. Readers blocked on it are woken and answered NOGROUP."""
        stream = self.streams.get(name)
        if stream is None:
            raise ResponseError(_NEEDS_KEY)
        if stream.groups.pop(groupname, None) is None:
            return 0
        self._wake(name, everyone=True)
        return 1

    def xgroup_createconsumer(self, name: str, groupname: str, consumername: str) -> int:
        """1 if the consumer was created; an existing one is left as it is (its seen time is
        not refreshed: streamCreateConsumer fails before touching it)."""
        _, group = self.group_of(name, groupname)
        return int(group.consumer(consumername, self.now_ms)[1])

    def xgroup_delconsumer(self, name: str, groupname: str, consumername: str) -> int:
        """Delete a consumer and its pending entries (they are no longer pending for anyone)."""
        _, group = self.group_of(name, groupname)
        consumer = group.consumers.pop(consumername, None)
        if consumer is None:
            return 0
        pending = list(consumer.pel.items)
        for stream_id in pending:
            group.remove_pending(stream_id)
        return len(pending)

    # ----- reading -----
    def xreadgroup(
        self,
        groupname: str,
        consumername: str,
        streams: dict[str, str],
        count: int | None = None,
        noack: bool = False,
        raw: bool = False,
    ) -> Reply:
        """XREADGROUP without BLOCK: `>` reads new entries (into the consumer's PEL unless
        NOACK), an id re-reads the consumer's own pending entries after it. None: nothing.
        A `>` read is served only if the last live entry is after the group's last id
        (xreadCommand compares streamLastValidID), else the consumer is not even created.

        `raw`: entries as (id, value) with the id a StreamId, for the model's own consumers
        (speed: no id formatted per entry for them to parse again)."""
        resolved = []
        for key, start in streams.items():
            stream, group = self._group(key, groupname, " in XREADGROUP with GROUP option")
            resolved.append((key, stream, group, None if start == ">" else parse_id(start)))
        reply = []
        now = self.now_ms  # speed: the clock read once per command, as Redis does
        for key, stream, group, start in resolved:
            if start is None:
                top = stream.last_live_id()
                if top is None or top <= group.last_id:
                    continue  # nothing new: not served, and the consumer is not created (7.0)
            consumer = group.consumer(consumername, now)[0]
            consumer.seen_time = now
            if start is None:
                entries = self._read_new(stream, group, consumer, count, noack, raw)
                if entries:
                    reply.append([key, entries])
            else:
                reply.append([key, self._read_history(stream, consumer, start, count, raw)])
        return reply or None

    def _read_new(
        self,
        stream: Stream,
        group: Group,
        consumer: Any,
        count: int | None,
        noack: bool,
        raw: bool = False,
        now: int | None = None,
    ) -> list[Any]:
        """The new entries a `>` read serves (`now`: the command's clock in ms, when the
        caller has read it)."""
        if now is None:
            now = self.now_ms
        # Speed: the read's entries come as one list (`entries_after`, at most COUNT of
        # them), not from a generator.
        entries = stream.entries_after(_next_id(group.last_id), count or None)
        _serve_new(stream, group, consumer, entries, now, noack)
        return entries if raw else [_entry(stream_id, value) for stream_id, value in entries]

    def _read_history(
        self, stream: Stream, consumer: Any, after: StreamId, count: int | None, raw: bool = False
    ) -> list[Any]:
        """The consumer's own pending entries after `after`; each counts as a delivery."""
        now = self.now_ms
        entry = _raw_entry if raw else _entry
        entries: list[Any] = []
        for stream_id in consumer.pel.from_id(_next_id(after)):
            if count and len(entries) >= count:
                break
            value = stream.get(stream_id)
            if value is None and not stream.exists(stream_id):  # deleted: id with nil fields
                entries.append(entry(stream_id, None))
                continue
            nack = consumer.pel.get(stream_id)
            nack.delivery_time = now
            nack.delivery_count += 1
            entries.append(entry(stream_id, value))
        return entries

    def read_new(
        self, key: str, groupname: str, consumername: str, count: int | None, noack: bool
    ) -> list[tuple[StreamId, Any]] | None:
        """`XREADGROUP GROUP groupname consumername [COUNT count] [NOACK] STREAMS key >` for
        the model's own consumers: `xreadgroup(..., {key: ">"}, raw=True)`'s entries for its
        one stream (None: nothing new), the same steps. Speed: no streams dict to resolve,
        no reply nesting to build and take apart, once a read."""
        stream = self.streams.get(key)
        group = stream.groups.get(groupname) if stream is not None else None
        if stream is None or group is None:
            self._group(key, groupname, " in XREADGROUP with GROUP option")  # raises NOGROUP
            raise AssertionError  # pragma: no cover (_group raised)
        # Speed: `stream.last_live_id()`'s usual case inlined (the last entry added is live).
        nodes = stream._nodes
        if not nodes:
            return None
        tail = nodes[-1]
        top = tail.ids[-1] if tail.live[-1] else stream.last_live_id()
        last = group.last_id
        if top is None or top <= last:
            return None  # nothing new: not served, and the consumer is not created (7.0)
        now = int(self.env.now * 1000)
        consumer = group.consumers.get(consumername)
        if consumer is None:
            consumer = group.consumer(consumername, now)[0]
        consumer.seen_time = now
        # Speed: `_read_new(..., raw=True)` inlined, `_next_id` too: the entries are served as
        # `entries_after` lists them (the raw reply's own pairs), no second list is built.
        ms, seq = last
        start = (ms, seq + 1) if seq < _U64 - 1 else (ms + 1, 0)
        if count == 1 and tail.ordered:
            # Speed: COUNT 1 (the usual prefetch) from the tail node, whose last entry is the
            # live top: `entries_after`, `_serve_new` and `deliver_new` inlined for the one
            # entry served (four calls a read fewer). `entries_after` starts in the tail when
            # its first id is <= start, and there (ordered slots) the first slot >= start is
            # the one it returns when that slot is live; the PEL appends are `deliver_new`'s
            # usual case. Anything else takes the general path below, unchanged.
            # (A packed tail, left by XDEL freeing the nodes after it, bisects through
            # _PackedIds.__getitem__: the same index, found more slowly, and rarely.)
            ids = tail.ids
            if ids[0] <= start:
                index = bisect_left(ids, start)
                if index < tail.first_live:
                    index = tail.first_live
                if index < len(ids) and tail.live[index]:
                    stream_id = ids[index]
                    if group.entries_read is not None and (
                        stream.max_deleted_id == ZERO_ID
                        or not stream.has_tombstones_from(stream_id)
                    ):
                        group.entries_read += 1
                    elif stream.entries_added:
                        group.entries_read = stream.estimate_entries_read(stream_id)
                    group.last_id = stream_id
                    if not noack:
                        pel, own = group.pel, consumer.pel
                        order, own_order = pel._order, own._order
                        # An id after every id a PEL's order holds is in neither PEL
                        # (a PEL's ids are a subset of its order list).
                        if (not order or stream_id > order[-1]) and (
                            not own_order or stream_id > own_order[-1]
                        ):
                            nack = Nack(consumer, now)
                            order.append(stream_id)
                            pel.items[stream_id] = nack
                            own_order.append(stream_id)
                            own.items[stream_id] = nack
                        else:
                            group.deliver_new(stream_id, consumer, now)
                    return [(stream_id, tail.values[index])]
        entries = stream.entries_after(start, count or None)
        _serve_new(stream, group, consumer, entries, now, noack)
        return entries or None

    def read_new_wait(
        self,
        key: str,
        groupname: str,
        consumername: str,
        count: int | None,
        block: int,
        noack: bool,
        read_first: bool = True,
    ) -> Generator[Any, Any, list[tuple[StreamId, Any]] | None]:
        """`xreadgroup_wait` of one stream with `>` and BLOCK `block` ms (0: forever), for
        the model's own consumers, with `read_new`'s entries. `read_first=False`: the caller
        has just read and found nothing, at this instant (the read would find nothing again)."""
        if read_first:
            entries = self.read_new(key, groupname, consumername, count, noack)
            if entries is not None:
                return entries
        env = self.env
        deadline = None if block == 0 else env.now + block / 1000.0
        waiting = self.blocked_readers(key, groupname)
        while True:
            woken = env.event()
            waiting.append(woken)
            read = False
            try:
                if deadline is None:
                    yield woken  # speed: no condition event when nothing else can end it
                else:
                    yield env.any_of([woken, env.timeout(max(0.0, deadline - env.now))])
                read = True
            finally:
                self.wait_ended(key, waiting, woken, read)
            self.check_group_after_wake(key, groupname)
            entries = self.read_new(key, groupname, consumername, count, noack)
            if entries is not None or (deadline is not None and env.now >= deadline):
                return entries

    def blocked_readers(self, key: str, groupname: str) -> deque[simpy.Event]:
        """The readers of `groupname` blocked on `key`, in the order they blocked (each an
        event an XADD succeeds), the queue made on the first block and kept. Speed: looked up,
        not `setdefault` with a new dict and deque made at every blocked read."""
        groups = self._waiters.get(key)
        if groups is None:
            groups = self._waiters[key] = {}
        waiting = groups.get(groupname)
        if waiting is None:
            waiting = groups[groupname] = deque()
        return waiting

    def wait_ended(
        self, key: str, waiting: deque[simpy.Event], woken: simpy.Event, read: bool
    ) -> None:
        """A blocked read's wait on `woken` (in `waiting`) ended: timed out or interrupted,
        it is no longer blocked; woken but interrupted before reading (`read` False), the
        entry that woke it goes to the next blocked reader."""
        if not woken.triggered:
            if woken in waiting:
                waiting.remove(woken)
        elif not read:
            self._wake(key)

    def check_group_after_wake(self, key: str, groupname: str) -> None:
        """XGROUP DESTROY (or the key's deletion) wakes its blocked readers, which then
        fail with NOGROUP (blocked.c)."""
        stream = self.streams.get(key)
        if stream is None or groupname not in stream.groups:
            raise ResponseError(
                "NOGROUP the consumer group this client was blocked on no longer exists"
            )

    def xreadgroup_wait(
        self,
        groupname: str,
        consumername: str,
        streams: dict[str, str],
        count: int | None = None,
        block: int | None = None,
        noack: bool = False,
        raw: bool = False,
    ) -> Generator[Any, Any, Reply]:
        """XREADGROUP with BLOCK `block` ms (0: forever) inside a SimPy process:
        `reply = yield from server.xreadgroup_wait(...)`. Blocked readers are served in the
        order they blocked, as Redis serves its blocked clients. `raw` as in xreadgroup."""
        reply = self.xreadgroup(groupname, consumername, streams, count, noack, raw)
        if reply is not None or block is None or any(s != ">" for s in streams.values()):
            return reply
        deadline = None if block == 0 else self.env.now + block / 1000.0
        while True:
            woken = self.env.event()
            for key in streams:
                self._waiters.setdefault(key, {}).setdefault(groupname, deque()).append(woken)
            read = False
            try:
                if deadline is None:
                    yield woken  # speed: no condition event when nothing else can end it
                else:
                    yield self.env.any_of(
                        [woken, self.env.timeout(max(0.0, deadline - self.env.now))]
                    )
                read = True
            finally:
                if not woken.triggered:  # timed out or interrupted: no longer blocked
                    for key in streams:
                        waiting = self._waiters.get(key, {}).get(groupname)
                        if waiting is not None and woken in waiting:
                            waiting.remove(woken)
                elif not read:  # woken, then interrupted before reading: the entry that
                    for key in streams:  # woke it goes to the next blocked reader
                        self._wake(key)
            for key in streams:  # XGROUP DESTROY wakes its blocked readers (blocked.c)
                stream = self.streams.get(key)
                if stream is None or groupname not in stream.groups:
                    raise ResponseError(
                        "NOGROUP the consumer group this client was blocked on no longer exists"
                    )
            reply = self.xreadgroup(groupname, consumername, streams, count, noack, raw)
            if reply is not None or (deadline is not None and self.env.now >= deadline):
                return reply

    def _wake(self, key: str, everyone: bool = False) -> None:
        """An entry was added to `key`: wake the first reader still blocked in each group
        (a reader woken through another key is skipped). `everyone`: every reader."""
        groups = self._waiters.get(key)
        if not groups:
            return
        for waiting in groups.values():
            while waiting:
                event = waiting.popleft()
                if not event.triggered:
                    event.succeed()
                    if not everyone:
                        break

    # ----- acknowledging and claiming -----
    def xack(self, name: str, groupname: str, *ids: str) -> int:
        return self.xack_ids(name, groupname, [parse_id(i) for i in ids])

    def xack_ids(self, name: str, groupname: str, parsed: list[StreamId]) -> int:
        """XACK of ids already parsed (the model's own consumers keep theirs as StreamIds)."""
        stream = self.streams.get(name)
        group = stream.groups.get(groupname) if stream is not None else None
        if group is None:
            return 0
        acked = 0
        for stream_id in parsed:
            if stream_id in group.pel:
                group.remove_pending(stream_id)
                acked += 1
        return acked

    def xack_one(self, name: str, groupname: str, stream_id: StreamId) -> int:
        """XACK of one parsed id: `xack_ids(name, groupname, [stream_id])` without its list
        (speed: the model's consumers ack one entry at a time)."""
        stream = self.streams.get(name)
        group = stream.groups.get(groupname) if stream is not None else None
        return 0 if group is None else int(group.ack(stream_id))

    def xpending(self, name: str, groupname: str) -> Reply:
        """The summary form: [count, smallest id, greatest id, [[consumer, "count"], ...]]."""
        _, group = self._group(name, groupname, "")
        if not len(group.pel):
            return [0, None, None, None]
        owners = [
            [c.name, str(len(c.pel))]
            for c in sorted(group.consumers.values(), key=lambda c: c.name)
            if len(c.pel)
        ]
        first, last = group.pel.first(), group.pel.last()
        assert first is not None and last is not None
        return [len(group.pel), format_id(first), format_id(last), owners]

    def xpending_range(
        self,
        name: str,
        groupname: str,
        min: str,
        max: str,
        count: int,
        consumername: str | None = None,
        idle: int | None = None,
    ) -> Reply:
        """The extended form: [[id, consumer, idle ms, delivery count], ...]."""
        start, end = interval(min, max)  # parsed before the key (xpendingCommand)
        _, group = self._group(name, groupname, "")
        pel = group.pel
        if consumername is not None:
            consumer = group.consumers.get(consumername)
            if consumer is None:
                return []
            pel = consumer.pel
        now = self.now_ms
        reply: list[Any] = []
        for stream_id in pel.from_id(start, end):
            if len(reply) >= count:
                break
            nack = pel.get(stream_id)
            waited = now - nack.delivery_time
            if idle is not None and waited < idle:
                continue
            reply.append([format_id(stream_id), nack.consumer.name, waited, nack.delivery_count])
        return reply

    def xclaim(
        self,
        name: str,
        groupname: str,
        consumername: str,
        min_idle_time: int,
        message_ids: Sequence[str],
        idle: int | None = None,
        time: int | None = None,
        retrycount: int | None = None,
        force: bool = False,
        justid: bool = False,
    ) -> Reply:
        """Take pending entries idle for at least `min_idle_time` ms. Each claim resets the
        idle time and counts a delivery (JUSTID: not counted); RETRYCOUNT sets the count;
        FORCE creates a PEL entry for an existing entry nobody has pending."""
        stream, group = self._group(name, groupname, "")
        parsed = [parse_id(i) for i in message_ids]
        now = self.now_ms
        delivery_time = now - idle if idle is not None else (time if time is not None else now)
        consumer = group.consumer(consumername, now)[0]
        reply: list[Any] = []
        for stream_id in parsed:
            nack = group.pel.get(stream_id)
            if not stream.exists(stream_id):
                if nack is not None:  # the entry is gone: clear it from the PEL
                    group.remove_pending(stream_id)
                continue
            if force and nack is None:
                nack = Nack(None, now)
                group.pel.add(stream_id, nack)
            if nack is None:
                continue
            if (
                nack.consumer is not None
                and min_idle_time
                and now - nack.delivery_time < min_idle_time
            ):
                continue
            self._move(nack, stream_id, consumer)
            nack.delivery_time = delivery_time
            if retrycount is not None:
                nack.delivery_count = retrycount
            elif not justid:
                nack.delivery_count += 1
            reply.append(
                format_id(stream_id) if justid else _entry(stream_id, stream.get(stream_id))
            )
        consumer.seen_time = now
        return reply

    @staticmethod
    def _move(nack: Nack, stream_id: StreamId, consumer: Any) -> None:
        if nack.consumer is not consumer:
            if nack.consumer is not None:
                nack.consumer.pel.remove(stream_id)
            consumer.pel.add(stream_id, nack)
            nack.consumer = consumer

    def xautoclaim(
        self,
        name: str,
        groupname: str,
        consumername: str,
        min_idle_time: int,
        start_id: str = "0-0",
        count: int = 100,
        justid: bool = False,
    ) -> Reply:
        """Scan the PEL from `start_id`, claim up to `count` entries idle for `min_idle_time`
        ms: [next cursor (0-0 when the scan reached the end), claimed, ids of deleted entries
        purged from the PEL]. At most count*10 PEL entries are looked at per call."""
        stream, group = self._group(name, groupname, "")
        start, _ = interval(start_id, "+")  # `-` and `(id` allowed (xautoclaimCommand)
        if count < 1:
            raise ResponseError("COUNT must be > 0")
        now = self.now_ms
        consumer = group.consumer(consumername, now)[0]
        attempts = count * 10
        claimed: list[Any] = []
        deleted: list[str] = []
        scan = group.pel.from_id(start)
        cursor = ZERO_ID
        while attempts and count:
            attempts -= 1
            stream_id = next(scan, None)
            if stream_id is None:
                break
            nack = group.pel.get(stream_id)
            if not stream.exists(stream_id):
                group.remove_pending(stream_id)
                deleted.append(format_id(stream_id))
                count -= 1
                continue
            if min_idle_time and now - nack.delivery_time < min_idle_time:
                continue
            self._move(nack, stream_id, consumer)
            nack.delivery_time = now
            if not justid:
                nack.delivery_count += 1
            claimed.append(
                format_id(stream_id) if justid else _entry(stream_id, stream.get(stream_id))
            )
            count -= 1
        following = next(scan, None)
        if following is not None:
            cursor = following
        consumer.seen_time = now
        return [format_id(cursor), claimed, deleted]

    # ----- introspection -----
    def xinfo_stream(self, name: str, full: bool = False, count: int = 10) -> Reply:
        """XINFO STREAM [FULL [COUNT count]] (xinfoReplyWithStreamInfo). FULL lists up to
        `count` entries, and up to `count` PEL rows per group and per consumer (0: all;
        a negative count is the default 10); its times are the simulated clock's ms."""
        stream = self.streams.get(name)
        if stream is None:
            raise ResponseError("no such key")
        head: list[Any] = [
            "length",
            stream.length,
            "radix-tree-keys",
            stream.node_count,
            "radix-tree-nodes",
            stream.radix_tree_nodes,
            "last-generated-id",
            format_id(stream.last_id),
            "max-deleted-entry-id",
            format_id(stream.max_deleted_id),
            "entries-added",
            stream.entries_added,
            "recorded-first-entry-id",
            format_id(stream.first_id),
        ]
        if not full:
            first = next(stream.entries_from(ZERO_ID), None)
            last = next(stream.entries_reversed(), None)
            return [
                *head,
                "groups",
                len(stream.groups),
                "first-entry",
                None if first is None else _entry(*first),
                "last-entry",
                None if last is None else _entry(*last),
            ]
        if count < 0:
            count = 10
        entries = [_entry(i, v) for i, v in islice(stream.entries_from(ZERO_ID), count or None)]
        groups = [self._full_group(stream, g, count) for g in _by_name(stream.groups)]
        return [*head, "entries", entries, "groups", groups]

    def _full_group(self, stream: Stream, group: Group, count: int) -> list[Any]:
        pel = group.pel
        pending = []
        for stream_id in islice(pel.from_id(ZERO_ID), count or None):
            nack = pel.get(stream_id)
            pending.append(
                [format_id(stream_id), nack.consumer.name, nack.delivery_time, nack.delivery_count]
            )
        consumers = []
        for consumer in _by_name(group.consumers):
            own = consumer.pel
            rows = [
                [format_id(i), own.get(i).delivery_time, own.get(i).delivery_count]
                for i in islice(own.from_id(ZERO_ID), count or None)
            ]
            consumers.append(
                [
                    "name",
                    consumer.name,
                    "seen-time",
                    consumer.seen_time,
                    "pel-count",
                    len(own),
                    "pending",
                    rows,
                ]
            )
        return [
            "name",
            group.name,
            "last-delivered-id",
            format_id(group.last_id),
            "entries-read",
            group.entries_read,
            "lag",
            stream.lag(group),
            "pel-count",
            len(pel),
            "pending",
            pending,
            "consumers",
            consumers,
        ]

    def xinfo_groups(self, name: str) -> Reply:
        stream = self.streams.get(name)
        if stream is None:
            raise ResponseError("no such key")
        return [
            [
                "name",
                group.name,
                "consumers",
                len(group.consumers),
                "pending",
                len(group.pel),
                "last-delivered-id",
                format_id(group.last_id),
                "entries-read",
                group.entries_read,
                "lag",
                stream.lag(group),
            ]
            for group in _by_name(stream.groups)
        ]

    def xinfo_consumers(self, name: str, groupname: str) -> Reply:
        """Each consumer's pending count and idle time since it was last seen (7.0 has no
        `inactive` field; 7.2 adds it)."""
        stream = self.streams.get(name)
        if stream is None:
            raise ResponseError("no such key")
        group = stream.groups.get(groupname)
        if group is None:
            raise ResponseError(
                f"NOGROUP No such consumer group '{groupname}' for key name '{name}'"
            )
        now = self.now_ms
        return [
            ["name", c.name, "pending", len(c.pel), "idle", max(0, now - c.seen_time)]
            for c in _by_name(group.consumers)
        ]

    def config_get(self, parameter: str) -> Reply:
        if parameter == "stream-node-max-entries":
            return [parameter, str(self.node_max_entries)]
        return []

    # ----- raw commands -----
    def execute_command(self, *args: Any) -> Reply:
        """Run a raw command (["XADD", "s", "*", "f", "v"]) and return its raw reply. A
        command that would block (XREADGROUP ... BLOCK with nothing to read) raises
        WouldBlock: run it with `yield from server.command(...)` inside a SimPy process."""
        from sim.brokers.redis.commands import execute

        return execute(self, [str(a) for a in args])

    def command(self, *args: Any) -> Generator[Any, Any, Reply]:
        """A raw command inside a SimPy process: `reply = yield from server.command(...)`;
        a blocking XREADGROUP waits in simulated time."""
        from sim.brokers.redis.commands import run

        return (yield from run(self, [str(a) for a in args]))
