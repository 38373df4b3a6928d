"""A Redis stream's data: entries in radix-tree nodes, consumer groups and their pending lists.

Follows redis-server 7.0 (src/t_stream.c): a stream is a radix tree of listpack nodes, each
holding up to `stream-node-max-entries` (default 100) entries; XDEL and exact trimming only mark
entries deleted inside a node (the node keeps its slot count), a node whose entries are all
deleted is freed, and `MAXLEN ~` / `MINID ~` free whole nodes only (streamTrim). A consumer group
has a last-delivered id, an entries-read counter and a Pending Entries List (PEL) of NACKs
(owner, delivery time, delivery count) shared with its consumers' own PELs.

Live entries are always in id order. Deleted slots normally are too, but XSETID may set the last
id back to the last live entry (xsetidCommand checks only streamLastValidID), and the next XADD
then appends after deleted slots with greater ids: such a node is marked unordered and searched
slot by slot, as Redis's iterator does (it skips deleted slots, streamIteratorGetID).
"""

from __future__ import annotations

import struct
from array import array
from bisect import bisect_left, bisect_right, insort
from collections.abc import Iterable, Iterator
from itertools import pairwise
from operator import itemgetter
from typing import Any

__all__ = [
    "MAX_ID",
    "NODE_MAX_ENTRIES",
    "ZERO_ID",
    "Consumer",
    "Group",
    "Nack",
    "SortedIds",
    "Stream",
    "StreamId",
    "format_id",
]

StreamId = tuple[int, int]  # (milliseconds, sequence): tuples order like Redis stream ids
ZERO_ID: StreamId = (0, 0)
MAX_ID: StreamId = (2**64 - 1, 2**64 - 1)
NODE_MAX_ENTRIES = 100  # redis.conf `stream-node-max-entries` default


def format_id(stream_id: StreamId) -> str:
    return f"{stream_id[0]}-{stream_id[1]}"


_LOW = 32  # a packed id's sequence bits (see _PackedIds)
_LOW_MASK = (1 << _LOW) - 1
_PACKED_SPAN = 1 << _LOW  # the millisecond offsets and sequences a packed id can hold
# Nodes this small stay as they are: the arrays' own headers would cost more than they save.
_PACK_FROM = 16
_SEQ = itemgetter(1)


class _PackedIds:
    """A full node's ids, 8 bytes each: ((ms - base) << 32 | seq) in one unsigned array.

    Memory: a list of (ms, seq) tuples costs a tuple (56 bytes) and, past 256, a seq int (28)
    an entry besides the list's pointer (8); the array holds the same id in 8 bytes and makes
    the tuple again only when it is read. The mapping keeps the ids' order exactly (it is
    used only when every offset and sequence is below 2**32, see `pack`), so the array
    bisects in C as the tuples did; `rank_left`/`rank_right` map an id outside that range to
    where it falls. Reads give equal tuples, so every comparison, key and formatted id is
    the same as before.
    """

    __slots__ = ("base", "keys")

    def __init__(self, base: int, keys: array[int]) -> None:
        self.base = base
        self.keys = keys

    @staticmethod
    def pack(ids: list[StreamId]) -> _PackedIds | None:
        """The ids packed, or None when one does not fit (an id far from the first, or a
        sequence of 2**32 or more: kept as tuples). `ids` must be in increasing order."""
        base = ids[0][0]
        # Speed: the widest sequence found in C (map, itemgetter), no generator to resume.
        if ids[-1][0] - base >= _PACKED_SPAN or max(map(_SEQ, ids)) >= _PACKED_SPAN:
            return None
        return _PackedIds(base, array("Q", [(ms - base) << _LOW | seq for ms, seq in ids]))

    def __len__(self) -> int:
        return len(self.keys)

    def __getitem__(self, index: int) -> StreamId:
        key = self.keys[index]
        return (self.base + (key >> _LOW), key & _LOW_MASK)

    def __iter__(self) -> Iterator[StreamId]:
        # Speed: the ids made in one list comprehension (a node's trim or count reads them
        # all), not a generator resumed once an id.
        base = self.base
        return iter([(base + (key >> _LOW), key & _LOW_MASK) for key in self.keys])

    def rank_left(self, stream_id: StreamId) -> int:
        """bisect_left of the ids: how many are < stream_id."""
        ms, seq = stream_id
        offset = ms - self.base
        if offset < 0:
            return 0
        if offset >= _PACKED_SPAN:
            return len(self.keys)
        if seq >= _PACKED_SPAN:  # after every id of its millisecond here
            return bisect_left(self.keys, (offset + 1) << _LOW)
        return bisect_left(self.keys, offset << _LOW | seq)

    def rank_right(self, stream_id: StreamId) -> int:
        """bisect_right of the ids: how many are <= stream_id."""
        ms, seq = stream_id
        offset = ms - self.base
        if offset < 0:
            return 0
        if offset >= _PACKED_SPAN:
            return len(self.keys)
        if seq >= _PACKED_SPAN:
            return bisect_left(self.keys, (offset + 1) << _LOW)
        return bisect_right(self.keys, offset << _LOW | seq)


def _rank_left(ids: list[StreamId] | _PackedIds, stream_id: StreamId) -> int:
    return bisect_left(ids, stream_id) if type(ids) is list else ids.rank_left(stream_id)  # type: ignore[union-attr, arg-type]


def _rank_right(ids: list[StreamId] | _PackedIds, stream_id: StreamId) -> int:
    return bisect_right(ids, stream_id) if type(ids) is list else ids.rank_right(stream_id)  # type: ignore[union-attr, arg-type]


class _Node:
    """One listpack: entries in append order with a deleted flag each (slots are never reused).

    The last two nodes (the tail, taking entries, and the full one before it) keep their ids
    as (ms, seq) tuples and their flags as a list; when a new tail is made, the node two
    before it, if ordered, is `freeze`d: its ids packed (_PackedIds) and its flags a
    bytearray. Memory: 17 bytes a held entry then, not about 100. Speed: the appends and the
    reads of readers keeping up, all in the last two nodes, are as they were; a node is
    packed once, in C but for one expression an id.
    """

    __slots__ = ("first_live", "ids", "live", "ordered", "valid", "values")

    def __init__(self) -> None:
        self.ids: list[StreamId] | _PackedIds = []
        self.values: list[Any] = []
        self.live: list[bool] | bytearray = []
        self.valid = 0  # entries not deleted (the listpack's first integer)
        self.first_live = 0  # index below which every slot is deleted: trims start here
        self.ordered = True  # slots in id order, so bisect finds them (see the module docstring)

    def index_from(self, start: StreamId) -> int:
        """The first slot that can hold a live id >= start."""
        if not self.ordered:
            return self.first_live
        return max(self.first_live, _rank_left(self.ids, start))

    def index_through(self, end: StreamId) -> int:
        """One past the last slot that can hold a live id <= end."""
        return _rank_right(self.ids, end) if self.ordered else len(self.ids)

    def freeze(self) -> None:
        """The node is full and no longer the tail: its ids packed, its flags a bytearray
        (see the class docstring). An unordered node, a small one, or one whose ids do not
        fit stays as it is."""
        ids = self.ids
        if not self.ordered or type(ids) is not list or len(ids) < _PACK_FROM:
            return
        packed = _PackedIds.pack(ids)
        if packed is not None:
            self.ids = packed
            self.live = bytearray(self.live)  # the flags as 0/1: tested for truth only


def radix_tree_nodes(keys: Iterable[StreamId]) -> int:
    """The node count of a rax holding these 128-bit big-endian keys (XINFO STREAM
    `radix-tree-nodes`, rax->numnodes).

    rax.c keeps its tree path-compressed: an insertion splits a compressed node exactly where a
    new key diverges (raxGenericInsert) and raxRemove recompresses the chain a removal leaves,
    so for keys of one length the nodes are the head, every branching prefix, each child of a
    branching prefix, and one leaf per key. Every branching prefix is the common prefix of two
    keys adjacent in sorted order.
    """
    encoded = sorted(struct.pack(">QQ", ms, seq) for ms, seq in keys)
    prefixes: set[bytes] = {b""}
    prefixes.update(encoded)
    for left, right in pairwise(encoded):
        common = 0
        while left[common] == right[common]:
            common += 1
        prefixes.update((left[:common], left[: common + 1], right[: common + 1]))
    return len(prefixes)


class SortedIds:
    """A dict of id -> value that iterates in id order, like Redis's rax-backed PELs.

    Ids are mostly added in increasing order (reads with `>`), so insertion appends; removal is
    lazy (the id stays in the order list until a compaction), so acks cost O(1).
    """

    __slots__ = ("_dead", "_order", "items")

    def __init__(self) -> None:
        self.items: dict[StreamId, Any] = {}
        self._order: list[StreamId] = []
        self._dead = 0

    def __len__(self) -> int:
        return len(self.items)

    def __contains__(self, key: StreamId) -> bool:
        return key in self.items

    def get(self, key: StreamId) -> Any:
        return self.items.get(key)

    def add(self, key: StreamId, value: Any) -> None:
        if key in self.items:
            self.items[key] = value
            return
        order = self._order
        if order and key <= order[-1]:
            index = bisect_left(order, key)
            if index < len(order) and order[index] == key:  # a lazily removed slot
                self._dead -= 1
            else:
                insort(order, key)
        else:
            order.append(key)
        self.items[key] = value

    def remove(self, key: StreamId) -> Any:
        value = self.items.pop(key)
        self._dead += 1
        if self._dead > 64 and self._dead > len(self.items):
            self.compact()
        return value

    def compact(self) -> None:
        """Drop the lazily removed ids from the order list."""
        self._order = [k for k in self._order if k in self.items]
        self._dead = 0

    def from_id(self, start: StreamId, end: StreamId = MAX_ID) -> Iterator[StreamId]:
        """Ids from `start` to `end`, both inclusive, in order (safe to remove while iterating)."""
        order, items = self._order, self.items
        index = bisect_left(order, start)
        while index < len(order):
            key = order[index]
            if key > end:
                return
            index += 1
            if key in items:
                yield key  # a compaction meanwhile makes a new list: this one stays valid

    def first(self) -> StreamId | None:
        return next(self.from_id(ZERO_ID), None)

    def last(self) -> StreamId | None:
        order, items = self._order, self.items
        for key in reversed(order):
            if key in items:
                return key
        return None


class Consumer:
    __slots__ = ("name", "pel", "seen_time")

    def __init__(self, name: str, now_ms: int) -> None:
        self.name = name
        self.pel = SortedIds()  # id -> Nack (the same objects as the group's PEL)
        self.seen_time = now_ms  # XINFO CONSUMERS `idle` is measured from here


class Nack:
    """A pending entry: who has it, when it was last delivered, how many times."""

    __slots__ = ("consumer", "delivery_count", "delivery_time")

    def __init__(self, consumer: Consumer | None, now_ms: int) -> None:
        self.consumer = consumer
        self.delivery_time = now_ms
        self.delivery_count = 1  # streamCreateNACK


class Group:
    __slots__ = ("consumers", "entries_read", "last_id", "name", "pel")

    def __init__(self, name: str, last_id: StreamId, entries_read: int | None) -> None:
        self.name = name
        self.last_id = last_id
        self.entries_read = entries_read  # None: SCG_INVALID_ENTRIES_READ
        self.pel = SortedIds()  # id -> Nack
        self.consumers: dict[str, Consumer] = {}

    def consumer(self, name: str, now_ms: int) -> tuple[Consumer, bool]:
        """The named consumer, created if missing; and whether it was created."""
        found = self.consumers.get(name)
        if found is not None:
            return found, False
        created = self.consumers[name] = Consumer(name, now_ms)
        return created, True

    def remove_pending(self, stream_id: StreamId) -> Nack:
        nack: Nack = self.pel.remove(stream_id)
        if nack.consumer is not None:
            nack.consumer.pel.remove(stream_id)
        return nack

    def deliver_new(self, stream_id: StreamId, consumer: Consumer, now_ms: int) -> None:
        """An entry read with `>` (not NOACK) becomes pending for `consumer`
        (streamPropagateXCLAIM aside, what xreadgroup does for each entry it serves): a new
        NACK, or, when the id is still pending after an XGROUP SETID rewind, the old NACK
        changes owner. Speed: SortedIds.add's usual case (an id after every id held) is
        inlined for both PELs: one call an entry instead of five."""
        pel = self.pel
        items = pel.items
        nack = items.get(stream_id)
        if nack is None:
            nack = Nack(consumer, now_ms)
            order = pel._order
            if order and stream_id <= order[-1]:
                pel.add(stream_id, nack)
            else:
                order.append(stream_id)
                items[stream_id] = nack
        else:  # pending for someone after an XGROUP SETID rewind: it changes owner
            if nack.consumer is not None:
                nack.consumer.pel.remove(stream_id)
            nack.consumer, nack.delivery_time, nack.delivery_count = consumer, now_ms, 1
        own = consumer.pel
        own_items, order = own.items, own._order
        if stream_id in own_items or (order and stream_id <= order[-1]):
            own.add(stream_id, nack)
        else:
            order.append(stream_id)
            own_items[stream_id] = nack

    def ack(self, stream_id: StreamId) -> bool:
        """XACK of one id: True if it was pending (then it no longer is, for anyone).
        Speed: `remove_pending` with SortedIds.remove inlined for both PELs."""
        pel = self.pel
        nack = pel.items.pop(stream_id, None)
        if nack is None:
            return False
        pel._dead += 1
        if pel._dead > 64 and pel._dead > len(pel.items):
            pel.compact()
        consumer = nack.consumer
        if consumer is not None:
            own = consumer.pel
            del own.items[stream_id]
            own._dead += 1
            if own._dead > 64 and own._dead > len(own.items):
                own.compact()
        return True


class Stream:
    """The entries of one stream key and its consumer groups."""

    def __init__(self, node_max_entries: int = NODE_MAX_ENTRIES) -> None:
        self.node_max_entries = node_max_entries
        self._nodes: list[_Node] = []
        self._firsts: list[StreamId] = []  # each node's master id (its first slot)
        self.length = 0
        self.last_id: StreamId = ZERO_ID
        self.entries_added = 0
        self.max_deleted_id: StreamId = ZERO_ID  # the highest id XDEL removed
        self.groups: dict[str, Group] = {}

    # ----- reading -----
    @property
    def node_count(self) -> int:
        """The radix tree's keys: one per listpack (XINFO STREAM `radix-tree-keys`)."""
        return len(self._nodes)

    @property
    def radix_tree_nodes(self) -> int:
        """The radix tree's internal node count (XINFO STREAM `radix-tree-nodes`): the keys
        are the nodes' master ids, which stay the first slot's id even once it is deleted."""
        return radix_tree_nodes(self._firsts)

    @property
    def first_id(self) -> StreamId:
        """The first live entry's id, 0-0 when empty (XINFO `recorded-first-entry-id`)."""
        first = next(self.entries_from(ZERO_ID), None)
        return ZERO_ID if first is None else first[0]

    def get(self, stream_id: StreamId) -> Any:
        """The entry's value, or None if there is no such (live) entry."""
        found = self._locate(stream_id)
        if found is None:
            return None
        node, index = found
        return node.values[index]

    def exists(self, stream_id: StreamId) -> bool:
        return self._locate(stream_id) is not None

    def _locate(self, stream_id: StreamId) -> tuple[_Node, int] | None:
        at = bisect_right(self._firsts, stream_id) - 1
        if at < 0:
            return None
        node = self._nodes[at]
        ids, live = node.ids, node.live
        if not node.ordered:  # a deleted slot may share the id: find the live one
            for index in range(node.first_live, len(ids)):
                if live[index] and ids[index] == stream_id:
                    return node, index
            return None
        index = _rank_left(ids, stream_id)
        if index < len(ids) and ids[index] == stream_id and live[index]:
            return node, index
        return None

    def entries_from(
        self, start: StreamId, end: StreamId = MAX_ID
    ) -> Iterator[tuple[StreamId, Any]]:
        """Live entries with start <= id <= end, in id order."""
        nodes = self._nodes
        at = max(0, bisect_right(self._firsts, start) - 1)
        while at < len(nodes):
            node = nodes[at]
            index = node.index_from(start)
            ids, live, values = node.ids, node.live, node.values
            slots = len(ids)  # speed: asked once (a packed node's len is a call)
            while index < slots:
                if live[index]:  # deleted slots are skipped before the range test
                    key = ids[index]
                    if key > end:
                        return
                    if key >= start:
                        yield key, values[index]
                index += 1
            at += 1

    def entries_after(self, start: StreamId, count: int | None) -> list[tuple[StreamId, Any]]:
        """The first `count` (None: all) live entries with id >= start, in id order:
        `entries_from(start)` as a list. Speed: one call a read, no generator to resume at
        every entry."""
        found: list[tuple[StreamId, Any]] = []
        nodes, firsts = self._nodes, self._firsts
        # Speed: a reader keeping up starts in the last node; its first id is asked first
        # (bisect_right's answer then, one comparison of ids instead of log2(nodes)).
        at = len(firsts) - 1
        if at > 0 and not firsts[at] <= start:
            at = bisect_right(firsts, start) - 1
        if at < 0:
            at = 0
        while at < len(nodes):
            node = nodes[at]
            ids, live, values = node.ids, node.live, node.values
            # Speed: `node.index_from(start)` inlined (a call and a `max` fewer a read).
            index = node.first_live
            if type(ids) is not list:
                # A packed node (always ordered): the same loop on its array, each id made
                # as _PackedIds.__getitem__ makes it (speed: no call an id, nor a len, and
                # `ids.rank_left(start)` inlined: a reader far behind reads here each time).
                keys, base = ids.keys, ids.base  # type: ignore[union-attr]
                start_ms, start_seq = start
                offset = start_ms - base
                if offset < 0:
                    at_start = 0
                elif offset >= _PACKED_SPAN:
                    at_start = len(keys)
                elif start_seq >= _PACKED_SPAN:
                    at_start = bisect_left(keys, (offset + 1) << _LOW)
                else:
                    at_start = bisect_left(keys, offset << _LOW | start_seq)
                if at_start > index:
                    index = at_start
                slots = len(keys)
                while index < slots:
                    if live[index]:
                        packed = keys[index]
                        key = (base + (packed >> _LOW), packed & _LOW_MASK)
                        if key >= start:
                            found.append((key, values[index]))
                            if len(found) == count:
                                return found
                    index += 1
                at += 1
                continue
            if node.ordered:
                at_start = bisect_left(ids, start)
                if at_start > index:
                    index = at_start
            while index < len(ids):
                if live[index]:  # deleted slots are skipped before the range test
                    key = ids[index]
                    if key >= start:
                        found.append((key, values[index]))
                        if len(found) == count:
                            return found
                index += 1
            at += 1
        return found

    def entries_reversed(
        self, start: StreamId = ZERO_ID, end: StreamId = MAX_ID
    ) -> Iterator[tuple[StreamId, Any]]:
        """Live entries with start <= id <= end, newest first (XREVRANGE)."""
        nodes = self._nodes
        at = bisect_right(self._firsts, end) - 1
        while at >= 0:
            node = nodes[at]
            ids, live, values = node.ids, node.live, node.values
            index = node.index_through(end) - 1
            while index >= node.first_live:
                if live[index]:
                    key = ids[index]
                    if key < start:
                        return
                    if key <= end:
                        yield key, values[index]
                index -= 1
            at -= 1

    def last_entry(self) -> tuple[StreamId, Any] | None:
        """The newest live entry (id, value), or None when the stream is empty."""
        for node in reversed(self._nodes):
            for index in range(len(node.ids) - 1, -1, -1):
                if node.live[index]:
                    return node.ids[index], node.values[index]
        return None

    def last_live_id(self) -> StreamId | None:
        """streamLastValidID: the newest live entry's id, None when the stream is empty."""
        nodes = self._nodes
        if not nodes:
            return None
        tail = nodes[-1]
        if tail.live[-1]:  # the usual case: the last entry added is still there
            return tail.ids[-1]
        last = self.last_entry()
        return None if last is None else last[0]

    def count_after(self, stream_id: StreamId) -> int:
        """How many live entries have an id greater than `stream_id` (a group's unread)."""
        total = 0
        for node in reversed(self._nodes):
            if node.ids[0] > stream_id:
                total += node.valid
                continue
            if not node.ordered:
                pairs = zip(node.ids, node.live, strict=True)
                total += sum(1 for key, live in pairs if live and key > stream_id)
                break
            index = _rank_right(node.ids, stream_id)
            total += sum(node.live[index:])
            break
        return total

    # ----- writing -----
    def append(self, stream_id: StreamId, value: Any) -> None:
        """Add an entry (the caller checked that the id is greater than the top id). A node is
        full at `node_max_entries` slots, deleted ones included (streamAppendItem)."""
        nodes = self._nodes
        # Speed: the tail node and its id list read once (an XADD each message).
        node = nodes[-1] if nodes else None
        if node is None or len(node.ids) >= self.node_max_entries:
            if len(nodes) > 1:
                # Memory: the node before the full tail is packed (see _Node). Speed: not the
                # full tail itself, which a reader keeping up may still be reading through the
                # general path (entries_after) for a while: those reads stay on tuples.
                nodes[-2].freeze()
            node = _Node()
            nodes.append(node)
            self._firsts.append(stream_id)
        ids = node.ids
        if ids and stream_id <= ids[-1]:
            node.ordered = False  # after deleted slots with greater ids (XSETID moved back)
        ids.append(stream_id)
        node.values.append(value)
        node.live.append(True)
        node.valid += 1
        self.length += 1
        self.last_id = stream_id
        self.entries_added += 1

    def delete(self, stream_id: StreamId) -> Any:
        """XDEL one entry: its value, or None if it does not exist."""
        found = self._locate(stream_id)
        if found is None:
            return None
        node, index = found
        value = node.values[index]
        node.live[index] = False
        node.values[index] = None
        node.valid -= 1
        self.length -= 1
        if stream_id > self.max_deleted_id:
            self.max_deleted_id = stream_id
        if node.valid == 0:  # the last entry of a listpack: the node is freed
            at = self._nodes.index(node)
            del self._nodes[at]
            del self._firsts[at]
        return value

    def trim(
        self, strategy: str, threshold: int | StreamId, approx: bool, limit: int
    ) -> list[tuple[StreamId, Any]]:
        """streamTrim: remove from the head until MAXLEN entries remain or ids reach MINID.

        Whole nodes go first; with `approx` trimming stops at the first node it cannot free
        whole. `limit` (0: none) caps the entries removed, checked a whole node at a time
        against the node's live entries (`deleted + entries > limit`). MINID frees a node whose
        last slot, deleted or not, is below the threshold, and inside a node stops at the first
        slot, deleted or not, at or above it. Returns the removed (id, value) pairs, oldest
        first.
        """
        removed: list[tuple[StreamId, Any]] = []
        nodes, firsts = self._nodes, self._firsts
        gone = 0  # whole nodes freed from the front
        deleted = 0
        maxlen = threshold if strategy == "MAXLEN" else 0
        if strategy == "MAXLEN" and self.length <= maxlen:  # type: ignore[operator]
            return removed
        while gone < len(nodes):
            node = nodes[gone]
            if limit and deleted + node.valid > limit:
                break
            if strategy == "MAXLEN":
                remove_node = self.length - node.valid >= maxlen  # type: ignore[operator]
            else:
                remove_node = node.ids[-1] < threshold  # type: ignore[operator]
            if remove_node:
                removed.extend(
                    (key, value)
                    for key, value, live in zip(node.ids, node.values, node.live, strict=True)
                    if live
                )
                self.length -= node.valid
                deleted += node.valid
                gone += 1
                continue
            if approx:
                break
            index = node.first_live
            while index < len(node.ids):
                if strategy == "MAXLEN":
                    if self.length <= maxlen:  # type: ignore[operator]
                        break
                elif node.ids[index] >= threshold:  # type: ignore[operator]
                    break
                if node.live[index]:
                    removed.append((node.ids[index], node.values[index]))
                    node.live[index] = False
                    node.values[index] = None
                    node.valid -= 1
                    self.length -= 1
                    deleted += 1
                index += 1
            node.first_live = index
            break
        if gone:
            del nodes[:gone]
            del firsts[:gone]
        return removed

    def has_tombstones_from(self, start: StreamId) -> bool:
        """streamRangeHasTombstones(s, start, NULL): an XDEL at or after `start` fragments the
        count of entries, so a group's entries-read cannot be kept by counting."""
        if not self.length or self.max_deleted_id == ZERO_ID:
            return False
        if self.first_id > self.max_deleted_id:
            return False
        return start <= self.max_deleted_id

    def estimate_entries_read(self, stream_id: StreamId) -> int | None:
        """streamEstimateDistanceFromFirstEverEntry: the entries-added number of `stream_id`, or
        None when it cannot be known."""
        if not self.entries_added:
            return 0
        if not self.length and stream_id <= self.last_id:
            return self.entries_added
        if stream_id == self.last_id:
            return self.entries_added
        if stream_id > self.last_id:
            return None
        first = self.first_id
        if self.max_deleted_id == ZERO_ID or self.max_deleted_id < first:
            if stream_id < first:
                return self.entries_added - self.length
            if stream_id == first:
                return self.entries_added - self.length + 1
        return None

    def lag(self, group: Group) -> int | None:
        """streamReplyWithCGLag: entries added that the group has not read (None: unknown)."""
        if not self.entries_added:
            return 0
        if group.entries_read is not None and not self.has_tombstones_from(group.last_id):
            return self.entries_added - group.entries_read
        estimate = self.estimate_entries_read(group.last_id)
        return None if estimate is None else self.entries_added - estimate
