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

from collections.abc import Callable, Generator, Sequence
from typing import Any

import simpy

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

__all__ = ["RedisStreamsServer", "ResponseError", "parse_id"]

Reply = Any
# Called with (stream key, group, [(id, value)]) for entries removed (trimmed or deleted) that
# the group had not read yet; the scenario runtime reports them to the Recorder as dropped.
RemovedHook = Callable[[str, Group, list[tuple[StreamId, Any]]], None]


class ResponseError(Exception):
    """A Redis error reply, worded as redis-py reports it."""


_INVALID_ID = "Invalid stream ID specified as stream command argument"
_SYNTAX = "syntax error"


def parse_id(text: str, missing_seq: int = 0) -> StreamId:
    """`ms-seq` or `ms` (sequence `missing_seq`), as streamParseID."""
    ms, dash, seq = str(text).partition("-")
    try:
        value = (int(ms), int(seq) if dash else missing_seq)
    except ValueError:
        raise ResponseError(_INVALID_ID) from None
    if not (0 <= value[0] < 2**64 and 0 <= value[1] < 2**64):
        raise ResponseError(_INVALID_ID)
    return value


def _range_id(text: str, missing_seq: int) -> tuple[StreamId, bool]:
    """A range bound: `-`, `+`, `(id` (exclusive) or an id; returns (id, exclusive)."""
    if text == "-":
        return ZERO_ID, False
    if text == "+":
        return MAX_ID, False
    if text.startswith("("):
        return parse_id(text[1:], missing_seq), True
    return parse_id(text, missing_seq), False


def _id_range(low: str, high: str) -> tuple[StreamId, StreamId]:
    """The inclusive ids between two range bounds (an exclusive `(id` bound moves one id in)."""
    start, start_open = _range_id(low, 0)
    end, end_open = _range_id(high, 2**64 - 1)
    return (_next_id(start) if start_open else start), (_previous_id(end) if end_open else end)


def _next_id(stream_id: StreamId) -> StreamId:
    ms, seq = stream_id
    return (ms, seq + 1) if seq < 2**64 - 1 else (ms + 1, 0)


def _previous_id(stream_id: StreamId) -> StreamId:
    ms, seq = stream_id
    return (ms, seq - 1) if seq > 0 else (ms - 1, 2**64 - 1)


def _integer(text: Any) -> int:
    try:
        return int(text)
    except (TypeError, ValueError):
        raise ResponseError("value is not an integer or out of range") from None


def _entry(stream_id: StreamId, value: Any) -> list[Any]:
    return [format_id(stream_id), value]


class RedisStreamsServer:
    """The keyspace of one Redis server (streams only) and its stream commands."""

    def __init__(self, env: simpy.Environment, node_max_entries: int = NODE_MAX_ENTRIES) -> None:
        self.env = env
        self.node_max_entries = node_max_entries
        self.streams: dict[str, Stream] = {}
        self.on_removed: RemovedHook | None = None
        self._waiters: dict[str, list[simpy.Event]] = {}

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
        stream = self.streams.get(name)
        if stream is None and nomkstream:
            return None
        top = stream.last_id if stream is not None else ZERO_ID
        new_id = self._new_id(id, top, stream)
        trim = self._trim_args(maxlen, minid, approximate, limit)
        if stream is None:
            stream = self.streams[name] = Stream(self.node_max_entries)
        stream.append(new_id, fields)
        if trim is not None:
            self._trim(name, stream, *trim)
        self._wake(name)
        return format_id(new_id)

    def _new_id(self, text: str, top: StreamId, stream: Stream | None) -> StreamId:
        """The id for XADD: `*` from the clock, `ms-*` with the next sequence, or explicit."""
        if text == "*":
            now = self.now_ms
            return (now, 0) if now > top[0] else _next_id(top)
        ms_text, dash, seq_text = text.partition("-")
        if dash and seq_text == "*":  # explicit time, automatic sequence (Redis >= 7.0)
            ms = parse_id(ms_text)[0]
            if ms < top[0] or (ms == top[0] and top[1] == 2**64 - 1):
                raise ResponseError(
                    "The ID specified in XADD is equal or smaller than the target stream top item"
                )
            new_id = (ms, top[1] + 1) if ms == top[0] else (ms, 0)
        else:
            new_id = parse_id(text)
        if new_id == ZERO_ID:
            raise ResponseError("The ID specified in XADD must be greater than 0-0")
        if new_id <= top:
            raise ResponseError(
                "The ID specified in XADD is equal or smaller than the target stream top item"
            )
        return new_id

    def _trim_args(
        self, maxlen: int | None, minid: str | None, approx: bool, limit: int | None
    ) -> tuple[str, int | StreamId, bool, int] | None:
        if maxlen is None and minid is None:
            if limit is not None:
                raise ResponseError(_SYNTAX)
            return None
        if maxlen is not None and minid is not None:
            raise ResponseError(_SYNTAX)
        if limit is not None and not approx:
            raise ResponseError("syntax error, LIMIT cannot be used without the special ~ option")
        if maxlen is not None and maxlen < 0:
            raise ResponseError("The MAXLEN argument must be >= 0.")
        # An approximate trim does at most 100 nodes' worth of work unless LIMIT says otherwise.
        effort = limit if limit is not None else (100 * self.node_max_entries if approx else 0)
        if maxlen is not None:
            return "MAXLEN", maxlen, approx, effort
        return "MINID", parse_id(str(minid)), approx, effort

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
        trim = self._trim_args(maxlen, minid, approximate, limit)
        if trim is None:
            raise ResponseError(_SYNTAX)
        stream = self.streams.get(name)
        if stream is None:
            return 0
        return self._trim(name, stream, *trim)

    def xdel(self, name: str, *ids: str) -> int:
        stream = self.streams.get(name)
        parsed = [parse_id(i) for i in ids]
        if stream is None:
            return 0
        removed = []
        for stream_id in parsed:
            if stream.exists(stream_id):
                removed.append((stream_id, stream.delete(stream_id)))
        self._report_removed(name, stream, removed)
        return len(removed)

    def xlen(self, name: str) -> int:
        stream = self.streams.get(name)
        return 0 if stream is None else stream.length

    def xrange(self, name: str, min: str = "-", max: str = "+", count: int | None = None) -> Reply:
        stream = self.streams.get(name)
        start, end = _id_range(min, max)
        if stream is None or (count is not None and count <= 0):
            return []
        reply = []
        for stream_id, value in stream.entries_from(start, end):
            reply.append(_entry(stream_id, value))
            if count is not None and len(reply) >= count:
                break
        return reply

    # ----- groups -----
    def xgroup_create(
        self,
        name: str,
        groupname: str,
        id: str = "$",
        mkstream: bool = False,
        entries_read: int | None = None,
    ) -> str:
        stream = self.streams.get(name)
        if stream is None:
            if not mkstream:
                raise ResponseError(
                    "The XGROUP subcommand requires the key to exist. Note that for CREATE you "
                    "may want to use the MKSTREAM option to create an empty stream automatically."
                )
            stream = self.streams[name] = Stream(self.node_max_entries)
        last_id = stream.last_id if id == "$" else parse_id(id)
        if groupname in stream.groups:
            raise ResponseError("BUSYGROUP Consumer Group name already exists")
        stream.groups[groupname] = Group(groupname, last_id, entries_read)
        return "OK"

    def xgroup_setid(
        self, name: str, groupname: str, id: str, entries_read: int | None = None
    ) -> str:
        stream, group = self._group(name, groupname, "")
        group.last_id = stream.last_id if id == "$" else parse_id(id)
        group.entries_read = entries_read
        return "OK"

    def xgroup_destroy(self, name: str, groupname: str) -> int:
        stream = self.streams.get(name)
        return int(stream is not None and stream.groups.pop(groupname, None) is not None)

    def xgroup_createconsumer(self, name: str, groupname: str, consumername: str) -> int:
        _, group = self._group(name, groupname, "")
        return int(group.consumer(consumername, self.now_ms)[1])

    def xgroup_delconsumer(self, name: str, groupname: str, consumername: str) -> int:
        """Delete a consumer and its pending entries (they are no longer pending for anyone)."""
        _, group = self._group(name, groupname, "")
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
    ) -> Reply:
        """XREADGROUP without BLOCK: `>` reads new entries (into the consumer's PEL unless
        NOACK), an id re-reads the consumer's own pending entries after it. None: nothing."""
        resolved = []
        for key, start in streams.items():
            stream, group = self._group(key, groupname, " in XREADGROUP with GROUP option")
            resolved.append((key, stream, group, None if start == ">" else parse_id(start)))
        reply = []
        for key, stream, group, start in resolved:
            if start is None and stream.last_id <= group.last_id:
                continue  # nothing new: not served, and the consumer is not created (7.0)
            consumer = group.consumer(consumername, self.now_ms)[0]
            consumer.seen_time = self.now_ms
            if start is None:
                entries = self._read_new(stream, group, consumer, count, noack)
                if entries:
                    reply.append([key, entries])
            else:
                reply.append([key, self._read_history(stream, consumer, start, count)])
        return reply or None

    def _read_new(
        self, stream: Stream, group: Group, consumer: Any, count: int | None, noack: bool
    ) -> list[Any]:
        now = self.now_ms
        entries = []
        for stream_id, value in stream.entries_from(_next_id(group.last_id)):
            if count and len(entries) >= count:
                break
            if group.entries_read is not None and not stream.has_tombstones_from(stream_id):
                group.entries_read += 1
            elif stream.entries_added:
                group.entries_read = stream.estimate_entries_read(stream_id)
            group.last_id = stream_id
            if not noack:
                nack = group.pel.get(stream_id)
                if nack is None:
                    nack = Nack(consumer, now)
                    group.pel.add(stream_id, nack)
                else:  # pending for someone after an XGROUP SETID rewind: it changes owner
                    if nack.consumer is not None:
                        nack.consumer.pel.remove(stream_id)
                    nack.consumer, nack.delivery_time, nack.delivery_count = consumer, now, 1
                consumer.pel.add(stream_id, nack)
            entries.append(_entry(stream_id, value))
        return entries

    def _read_history(
        self, stream: Stream, consumer: Any, after: StreamId, count: int | None
    ) -> list[Any]:
        """The consumer's own pending entries after `after`; each counts as a delivery."""
        now = self.now_ms
        entries: list[Any] = []
        for stream_id in consumer.pel.from_id(_next_id(after)):
            if count and len(entries) >= count:
                break
            value = stream.get(stream_id)
            if value is None and not stream.exists(stream_id):  # deleted: id with nil fields
                entries.append([format_id(stream_id), None])
                continue
            nack = consumer.pel.get(stream_id)
            nack.delivery_time = now
            nack.delivery_count += 1
            entries.append(_entry(stream_id, value))
        return entries

    def xreadgroup_wait(
        self,
        groupname: str,
        consumername: str,
        streams: dict[str, str],
        count: int | None = None,
        block: int | None = None,
        noack: bool = False,
    ) -> Generator[Any, Any, Reply]:
        """XREADGROUP with BLOCK `block` ms (0: forever) inside a SimPy process:
        `reply = yield from server.xreadgroup_wait(...)`. Blocked readers are served in the
        order they blocked, as Redis serves its blocked clients."""
        reply = self.xreadgroup(groupname, consumername, streams, count, noack)
        if reply is not None or block is None or any(s != ">" for s in streams.values()):
            return reply
        deadline = None if block == 0 else self.env.now + block / 1000.0
        while True:
            woken = self.env.event()
            for key in streams:
                self._waiters.setdefault(key, []).append(woken)
            waits = [woken]
            if deadline is not None:
                waits.append(self.env.timeout(max(0.0, deadline - self.env.now)))
            try:
                yield self.env.any_of(waits)
            finally:
                for key in streams:
                    waiting = self._waiters.get(key, [])
                    if woken in waiting:
                        waiting.remove(woken)
            reply = self.xreadgroup(groupname, consumername, streams, count, noack)
            if reply is not None or (deadline is not None and self.env.now >= deadline):
                return reply

    def _wake(self, key: str) -> None:
        waiting = self._waiters.pop(key, None)
        for event in waiting or ():
            if not event.triggered:
                event.succeed()

    # ----- acknowledging and claiming -----
    def xack(self, name: str, groupname: str, *ids: str) -> int:
        parsed = [parse_id(i) for i in ids]
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
        _, group = self._group(name, groupname, "")
        start, end = _id_range(min, max)
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
        start = parse_id(start_id)
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
    def xinfo_stream(self, name: str) -> Reply:
        stream = self.streams.get(name)
        if stream is None:
            raise ResponseError("no such key")
        first = next(stream.entries_from(ZERO_ID), None)
        last = stream.last_entry()
        fields = (
            ("length", stream.length),
            # The radix tree's keys are its nodes. Its internal node count is modelled only for
            # the empty tree (1 node), the one case the golden data shows.
            ("radix-tree-keys", stream.node_count),
            ("radix-tree-nodes", stream.node_count + 1),
            ("last-generated-id", format_id(stream.last_id)),
            ("max-deleted-entry-id", format_id(stream.max_deleted_id)),
            ("entries-added", stream.entries_added),
            ("recorded-first-entry-id", format_id(stream.first_id)),
            ("groups", len(stream.groups)),
            ("first-entry", None if first is None else _entry(*first)),
            ("last-entry", None if last is None else _entry(*last)),
        )
        return [item for pair in fields for item in pair]

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
            for group in sorted(stream.groups.values(), key=lambda g: g.name)
        ]

    def xinfo_consumers(self, name: str, groupname: str) -> Reply:
        _, group = self._group(name, groupname, "")
        now = self.now_ms
        return [
            ["name", c.name, "pending", len(c.pel), "idle", now - c.seen_time]
            for c in sorted(group.consumers.values(), key=lambda c: c.name)
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
