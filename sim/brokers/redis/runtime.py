"""Builds a scenario's Redis server, stream producers and consumer-group consumers on a run.

Producers XADD (`*` ids, with the stream's MAXLEN). Every consumer group of a stream gets its
own copy of each entry's message (recorder.copied), as each group reads the whole stream.
Consumer replicas are the group's consumers `<name>.<i>`: they XREADGROUP new entries (COUNT =
prefetch, blocking), process them, and XACK (ack: manual) or read with NOACK (ack: auto).

What the Recorder hears, per group copy:
- an entry trimmed by MAXLEN (or deleted) before its group read it: `dropped`;
- a pending entry whose consumer crashed stays pending (the copy stays live: backlog) until a
  consumer XAUTOCLAIMs it (`claim_idle`) or the crashed one restarts and re-reads its own
  pending entries (XREADGROUP ... 0), as the Redis Streams guide recommends on restart;
- a pending entry trimmed meanwhile comes back from XAUTOCLAIM as a deleted id: `dropped`;
- with NOACK, what a crashed consumer held is `lost` (the server forgot it when it sent it).
"""

from __future__ import annotations

import heapq
import itertools
from collections import deque
from collections.abc import Callable, Generator, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

import simpy

from sim.brokers.base import Sender, Source
from sim.brokers.redis.cost import EventLoop, write_time
from sim.brokers.redis.retries import dead_letter_stream
from sim.brokers.redis.server import RedisStreamsServer
from sim.brokers.redis.stream import Group, StreamId, format_id
from sim.consumers import ConsumerReplica
from sim.consumers.cycle import FETCH
from sim.message import Message, MessageCore

if TYPE_CHECKING:
    from sim.brokers.redis.config import RedisConfig, RedisConsumerConfig, RedisProducerConfig
    from sim.context import RunContext

__all__ = ["RedisStreamsBroker", "StreamConsumer", "build"]


def build(ctx: RunContext) -> RedisStreamsBroker:
    config: RedisConfig = ctx.scenario.broker
    broker = RedisStreamsBroker(ctx, config)
    for consumer in ctx.scenario.consumers:
        for replica in range(consumer.replicas):
            part = StreamConsumer(ctx, broker, consumer, replica)
            broker.consumers.append(part)
            ctx.register_part(part, consumer.name, part.name)  # fault target
    return broker


class RedisStreamsBroker:
    """The server with the scenario's streams and groups, and the message accounting."""

    def __init__(self, ctx: RunContext, config: RedisConfig) -> None:
        self.ctx = ctx
        self.env = ctx.env
        self.recorder = ctx.recorder
        self.config = config
        self.server = RedisStreamsServer(ctx.env, config.stream_node_max_entries)
        self.server.on_removed = self._removed
        # stream -> its groups in order: group i reads copy i of each entry's messages
        self.groups: dict[str, list[str]] = {
            s.name: config.groups_of(s.name) for s in config.streams
        }
        # (stream, group) -> id -> the group's copy of an entry pending in it (bounded by the
        # PEL): what a deleted id returned by XAUTOCLAIM was
        self.pending: dict[tuple[str, str], dict[StreamId, Message]] = {}
        for group in config.groups:
            self.server.xgroup_create(group.stream, group.name, group.start, mkstream=True)
            self.pending[(group.stream, group.name)] = {}
        self.consumers: list[StreamConsumer] = []
        # Streams retry policies dead-letter into (sim/brokers/redis/retries.py).
        self.dead_letter_streams = sorted(
            {dead_letter_stream(c.from_) for c in ctx.scenario.consumers if c.retry is not None}
        )
        self._register_sources()
        # The cost model's event loop (sim/brokers/redis/cost.py); None: commands are instant.
        self.cost = config.cost
        self.loop = EventLoop(ctx.env) if config.cost is not None else None

    def _register_sources(self) -> None:
        """One source per (stream, group): `<stream>/<group>`, with its exact ready count kept
        by deltas (XADD +1, a read of new entries -n, a trim of unread entries -n): counting
        the entries after the group's last id on each change would cost a scan of the backlog."""
        self.ready_slot: dict[tuple[str, str], int] = {
            (g.stream, g.name): self.recorder.source(f"{g.stream}/{g.name}")
            for g in self.config.groups
        }
        self._stream_slots: dict[str, list[int]] = {
            s.name: [self.ready_slot[(s.name, g)] for g in self.groups[s.name]]
            for s in self.config.streams
        }

    # ----- the runtime's ports (sim/brokers/base.py) -----
    def sender(self, producer: RedisProducerConfig) -> Sender:
        return Sender(self.xadder(producer.to))

    def publisher(self, to: str, routing_key: str) -> Callable[[Message], bool]:
        send = self.xadder(to)

        def publish(msg: Message) -> bool:
            send(msg)
            return True

        return publish

    def service_consumers(self, service: Any, work: Callable[[Message], Any]) -> list[Any]:
        from sim.brokers.redis.spec import SPEC

        config = SPEC.service_consumer(service)
        replicas = []
        for replica in range(config.replicas):
            part = StreamConsumer(self.ctx, self, config, replica)
            part.work = work
            self.consumers.append(part)
            replicas.append(part)
        return replicas

    def source_of(self, consumer: Any) -> str:
        return f"{consumer.from_}/{consumer.group}"

    def sources(self) -> list[Source]:
        """Ready: entries after the group's last-delivered id; in flight: its pending entries
        (PEL), and what NOACK readers hold."""
        found = []
        for group in self.config.groups:
            state = self.server.streams[group.stream].groups[group.name]
            stream = self.server.streams[group.stream]
            readers = [
                c
                for c in self.consumers
                if c.noack and c.stream == group.stream and c.group == group.name
            ]
            # Speed: read at every sample (three gauges a source); with no NOACK reader, the PEL's
            # size is one C call (a PEL's dict is never replaced).
            in_flight: Callable[[], int] = (
                partial(len, state.pel.items)
                if not readers
                else lambda g=state, rs=readers: len(g.pel) + sum(r.held() for r in rs)
            )
            found.append(
                Source(
                    f"{group.stream}/{group.name}",
                    lambda st=stream, g=state: st.count_after(g.last_id),
                    in_flight,
                )
            )
        return found

    def retained(self) -> dict[str, Callable[[], int]]:
        """XLEN of every stream. Speed: each is sampled at every sample (500 a run), so
        with many streams the gauges cost more per message than anything else that grows:
        a stream that exists already (the scenario's, made with their groups) is read as
        its length attribute, without a Python frame (a key is never deleted here, so its
        Stream stays the same object); a dead-letter stream, made by its first XADD, by
        XLEN (0 for a missing key)."""
        server = self.server
        names = [s.name for s in self.config.streams] + self.dead_letter_streams
        return {
            name: (
                partial(getattr, server.streams[name], "length")
                if name in server.streams
                else partial(server.xlen, name)
            )
            for name in names
        }

    def xadder(self, stream: str) -> Any:
        """XADD of a producer's message: one copy per consumer group of the stream."""
        config = self.config.stream(stream)
        extra_groups = max(0, len(self.groups[stream]) - 1)
        recorder, add_entry = self.recorder, self.server.add_entry
        # Speed: the trim is checked once (XADD's MAXLEN ~ n), not parsed per message.
        trim = self.server.trim_spec(config.maxlen, None, config.approximate, None)
        slots, ready_add = self._stream_slots[stream], recorder.ready_add

        tracing = recorder.trace is not None  # `enqueued` only traces: asked only then
        published = recorder.published_message

        def xadd_now(msg: Message) -> None:
            copies = [msg]
            for _ in range(extra_groups):
                twin = msg.copy()
                recorder.copied(twin)
                copies.append(twin)
            published(msg, stream)
            # XADD stream MAXLEN ~ n * (None: `*`); a one-group stream's entry is the message
            # itself (see xadd_one)
            add_entry(stream, copies if extra_groups else msg, None, trim)
            for slot in slots:  # a new entry is unread by every group
                ready_add(slot, 1)
            if tracing:
                for copy in copies:
                    recorder.enqueued(copy, stream)

        xadd: Callable[[Message], None] = xadd_now
        if len(slots) == 1 and not tracing:
            slot = slots[0]

            def xadd_one(msg: Message) -> None:
                # Speed: xadd_now for a stream of one group (one copy), untraced: the same
                # calls without its loops.
                published(msg, stream)
                # Memory and speed: a one-copy entry's value is the message itself, no
                # copies tuple (48 bytes, and one object fewer that the garbage collector
                # counts and traverses for every entry the stream keeps: the ideal stream
                # keeps them all). Readers tell it apart by its class (`_copy_of`).
                add_entry(stream, msg, None, trim)
                ready_add(slot, 1)

            xadd = xadd_one

        loop, cost = self.loop, self.cost
        if loop is None or cost is None:
            return xadd
        service = write_time(cost)

        def send(msg: Message) -> None:
            loop.run(service, xadd, msg)  # the XADD waits for the event loop

        return send

    def copy_index(self, stream: str, group: str) -> int:
        return self.groups[stream].index(group)

    def _removed(
        self, stream: str, group: Group | None, entries: list[tuple[StreamId, Any]]
    ) -> None:
        """Entries trimmed or deleted before `group` read them: its copies are dropped."""
        index = 0 if group is None else self.copy_index(stream, group.name)
        for _stream_id, copies in entries:
            self.recorder.dropped(_copy_of(copies, index), stream)
        if group is not None:
            self.recorder.ready_add(self.ready_slot[(stream, group.name)], -len(entries))


class StreamConsumer(ConsumerReplica):
    """One consumer replica, the group's consumer `<name>.<i>`: XREADGROUP (COUNT prefetch,
    BLOCK), each entry through the shared cycle in turn, XACK (ack: manual) or nothing (NOACK
    reads, ack: auto); with `claim_idle`, every `claim_idle` an XAUTOCLAIM of entries idle
    that long. A failed processing is not acked: the entry stays pending, for a restart (which
    re-reads the consumer's own pending entries first, as the Redis Streams guide recommends)
    or a claim."""

    # Whether a blocking read on an ideal network waits through `fetch_event` (see there);
    # False (tests only) keeps `fetch`, the general path.
    fused_wait = True

    def __init__(
        self,
        ctx: RunContext,
        broker: RedisStreamsBroker,
        config: RedisConsumerConfig,
        replica: int,
    ) -> None:
        self.stream = config.from_
        self.group = str(config.group)
        name = f"{config.name}.{replica}"
        self.init_replica(ctx, config, replica, f"{self.stream}/{self.group}", name=name)
        self.broker = broker
        self.server = broker.server
        self.copy = broker.copy_index(self.stream, self.group)
        self.pending = broker.pending[(self.stream, self.group)]
        self.noack = self.forgets_on_delivery = config.ack == "auto"
        self.count = config.prefetch or None  # COUNT 0: no limit
        self.claim_ms = None if config.claim_idle is None else int(config.claim_idle * 1000)
        self._to_consumer = ctx.link(self.owner, "broker_to_consumer", config.network)
        self._to_broker = ctx.link(self.owner, "consumer_to_broker", config.network)
        self._ready_slot = broker.ready_slot[(self.stream, self.group)]
        self._received: list[tuple[StreamId, Message]] | None = None
        # Speed: with an ideal network and no cost model a read and an ack take no time, so
        # `take` reads new entries itself (no generator for `fetch` to run when entries are
        # waiting) and `settle` runs XACK at once (no hop, no loop). `_read_now` is True
        # when take's read found nothing: fetch then blocks without reading again.
        self._instant = (
            broker.loop is None and self._to_consumer.instant and self._to_broker.instant
        )
        self._read_now = False
        # Retries waiting for their backoff: (due, order, entry id, min idle ms), a heap.
        self._retries: list[tuple[float, int, str, int]] = []
        self._order = itertools.count()
        # Speed: a blocking read of new entries on an ideal network with nothing else to end
        # it (BLOCK 0: no claims; no retry waiting) is waited for by `fetch_event` (the cycle
        # waits on the blocked reader's event itself: no `fetch` and `read_new_wait`
        # generators made and resumed each time the replica goes idle, about 0.6 times a
        # message with 50 competing consumers); the switch `fused_wait` keeps `fetch`.
        self.waits_by_event = self._instant and StreamConsumer.fused_wait
        self._woken: simpy.Event | None = None  # the blocked read fetch_event waits on
        self._blocked: deque[simpy.Event] | None = None  # the queue it waits in (the key's)
        self.reconnect()
        self.start()

    def held(self) -> int:
        """Entries read and not finished (the one in progress included)."""
        return len(self.waiting) + (self.current is not None) + len(self._received or ())

    # ----- the cycle's native verbs -----
    def reconnect(self) -> None:
        """Start (again) by re-reading our own pending entries, then new ones (the history
        read takes back the entries whose retry was waiting too)."""
        self._retries = []
        self._history = not self.noack
        self._next_claim = self.env.now + (self.claim_ms or 0) / 1000.0
        self._cursor = "0-0"
        self._read_now = False
        self._woken = None

    def take(self) -> list[tuple[StreamId, Message]] | None:
        received = self._received
        if received is not None:
            self._received = None
            return received
        if not self._instant or self._history:
            return None
        # What `fetch` would do first at this instant, when it is a read of new entries
        # (no retry and no XAUTOCLAIM due): XREADGROUP ... >, without blocking.
        retries = self._retries
        if retries and retries[0][0] <= self.env.now:
            return None
        if self.claim_ms is not None and self.env.now >= self._next_claim:
            return None
        entries = self.server.read_new(self.stream, self.group, self.name, self.count, self.noack)
        if entries is None:
            self._read_now = True  # nothing new now: fetch blocks at once
            return None
        recorder = self.recorder
        recorder.ready_add(self._ready_slot, -len(entries))
        if len(entries) == 1 and self._deliver_head(entries):
            return entries
        return self._deliver(entries) or None

    def _deliver_head(self, entries: list[tuple[StreamId, Any]]) -> bool:
        """`_deliver` for a read of one entry (COUNT 1, the usual prefetch) on an ideal
        network: the same steps without its loop and its list. False, with nothing done, when
        the entry was deleted while pending (`_deliver` then forgets it)."""
        stream_id, copies = entries[0]
        if copies is None:
            return False
        msg = _copy_of(copies, self.copy)
        if msg is not copies:  # the read's own list, now of deliveries
            entries[0] = (stream_id, msg)
        msg.deliveries += 1
        self.recorder.delivered_message(msg, self.name)
        if not self.noack:
            self.pending[stream_id] = msg
        return True

    def fetch(self) -> Generator[Any, Any, None]:
        """One read: an XAUTOCLAIM when one is due, our own pending entries after a restart,
        else a blocking XREADGROUP of new entries (until the next claim is due)."""
        env, server, name = self.env, self.server, self.name
        retries = self._retries
        if retries and retries[0][0] <= env.now:
            _due, _, stream_id, idle_ms = heapq.heappop(retries)
            entries = server.xclaim(self.stream, self.group, name, idle_ms, [stream_id])
            if not entries and not server.xpending_range(
                self.stream, self.group, stream_id, stream_id, 1
            ):
                self._forget([stream_id])  # trimmed away meanwhile: XCLAIM dropped it
            entries = [(_parse(claimed), copies) for claimed, copies in entries]
        elif self.claim_ms is not None and env.now >= self._next_claim:
            self._cursor, entries, deleted = server.xautoclaim(
                self.stream, self.group, name, self.claim_ms, self._cursor, self.count or 100
            )
            self._forget(deleted)
            self._next_claim = env.now + self.claim_ms / 1000.0
            entries = [(_parse(stream_id), copies) for stream_id, copies in entries]
        elif self._history:
            reply = server.xreadgroup(self.group, name, {self.stream: "0"}, self.count, raw=True)
            entries = reply[0][1]
            self._history = bool(entries)
        else:
            wake = None if self.claim_ms is None else self._next_claim
            if retries and (wake is None or retries[0][0] < wake):
                wake = retries[0][0]
            block = 0 if wake is None else max(1, int((wake - env.now) * 1000))
            # Speed: entries with their ids as StreamIds: no id formatted here to be parsed
            # again at the ack.
            read_first, self._read_now = not self._read_now, False
            entries = yield from server.read_new_wait(
                self.stream, self.group, name, self.count, block, self.noack, read_first
            )
            if entries:  # new entries: no longer unread by the group
                recorder = self.recorder
                recorder.ready_add(self._ready_slot, -len(entries))
                # Speed: a blocked reader woken for one entry (COUNT 1) on an ideal network
                # is delivered as in `take` (no loop time, no hop); with 50 competing
                # consumers most messages wake one.
                if self._instant and len(entries) == 1 and self._deliver_head(entries):
                    self._received = entries
                    return
        if entries:
            loop, cost = self.broker.loop, self.broker.cost
            if loop is not None and cost is not None:  # the read's own loop time
                yield loop.done(cost.per_command + cost.per_entry * len(entries))
            received = self._deliver(entries)
            if not self._to_consumer.instant:  # the reply's network hop
                arrived = self.env.event()
                self._to_consumer.send(arrived.succeed)
                yield arrived
            self._received = received or None

    def fetch_event(self) -> simpy.Event | object | None:
        """`fetch`'s blocking read of new entries with BLOCK 0 on an ideal network
        (`waits_by_event`; anything else, an XAUTOCLAIM or retry due or waited for, or the
        history read after a restart, answers `FETCH`), one wait at a time: the same reads,
        the same blocked reader's events in the key's queue (`read_new_wait`'s), the same
        deliveries, without the two generators. Called again once woken: the read
        `read_new_wait` makes then, and another wait if it found nothing (another reader of
        the group took the entry first)."""
        server, woken = self.server, self._woken
        if woken is None:
            if self._history or self._retries or self.claim_ms is not None:
                return FETCH
            if self._read_now:  # take's read found nothing at this instant
                self._read_now = False
                entries = None
            else:
                entries = server.read_new(
                    self.stream, self.group, self.name, self.count, self.noack
                )
        else:  # woken: as `read_new_wait` goes on after its wait
            self._woken = None
            server.check_group_after_wake(self.stream, self.group)
            entries = server.read_new(self.stream, self.group, self.name, self.count, self.noack)
        if entries is None:  # block: `read_new_wait`'s queue of the key's group, its event
            # Speed: the queue found once, then kept (the server never drops one it made).
            waiting = self._blocked
            if waiting is None:
                waiting = self._blocked = server.blocked_readers(self.stream, self.group)
            self._woken = woken = self.env.event()
            waiting.append(woken)
            return woken
        # What `fetch` does with `read_new_wait`'s entries on an ideal network.
        self.recorder.ready_add(self._ready_slot, -len(entries))
        if len(entries) == 1 and self._deliver_head(entries):
            self._received = entries
        else:
            self._received = self._deliver(entries) or None
        return None

    def interrupted(self) -> None:
        """A crash interrupted the cycle: if it was blocked in `fetch_event`, what
        `read_new_wait`'s `finally` does for an interrupted wait (at the same moment: the
        interrupt reaches the cycle's wait itself)."""
        woken = self._woken
        if woken is None:
            return
        self._woken = None
        assert self._blocked is not None  # (set before any wait)
        self.server.wait_ended(self.stream, self._blocked, woken, read=False)

    def _deliver(self, entries: list[Any]) -> list[tuple[StreamId, Message]]:
        """Take the messages of a read or claim (the reply's hop is the caller's)."""
        copy, recorder, name, pending = self.copy, self.recorder, self.name, self.pending
        received = []
        for stream_id, copies in entries:
            if copies is None:  # deleted while pending: nothing to process
                self._forget([stream_id])
                continue
            msg = _copy_of(copies, copy)
            msg.deliveries += 1
            recorder.delivered_message(msg, name)
            received.append((stream_id, msg))
            if not self.noack:
                pending[stream_id] = msg
        return received

    def message(self, delivery: tuple[StreamId, Message]) -> Message:
        return delivery[1]

    def settle(self, delivery: tuple[StreamId, Message]) -> None:
        if not self.noack:
            if self._instant:
                # Speed: no hop, no loop: XACK now, `_ack` -> `_acked` -> `xack_one` inlined
                # (three calls fewer a message), the same lookups and steps.
                stream_id = delivery[0]
                stream = self.server.streams.get(self.stream)
                group = stream.groups.get(self.group) if stream is not None else None
                if group is not None and group.ack(stream_id):
                    self.pending.pop(stream_id, None)
                    self.recorder.acked_message(delivery[1], self.name)
            else:
                self._to_broker.send(self._ack, *delivery)

    def settle_early(self, delivery: tuple[StreamId, Message]) -> bool:
        self._to_broker.send(self._ack, *delivery)
        return True  # XACK is on its way

    def _ack(self, stream_id: StreamId, msg: Message) -> None:
        """XACK reaching the server, after its loop time with a cost model."""
        loop, cost = self.broker.loop, self.broker.cost
        if loop is not None and cost is not None:
            loop.run(cost.per_command, self._acked, stream_id, msg)
        else:
            self._acked(stream_id, msg)

    def _acked(self, stream_id: StreamId, msg: Message) -> None:
        """XACK executed; 0 when another consumer's ack or a claim came first."""
        if self.server.xack_one(self.stream, self.group, stream_id):
            self.pending.pop(stream_id, None)
            self.recorder.acked_message(msg, self.name)

    def _forget(self, deleted: list[str] | list[StreamId]) -> None:
        """Pending ids whose entries were trimmed away: the group's copies are dropped."""
        for deleted_id in deleted:
            stream_id = _parse(deleted_id) if isinstance(deleted_id, str) else deleted_id
            msg = self.pending.pop(stream_id, None)
            if msg is not None:
                self.recorder.dropped(msg, self.stream)
            self.server.xack_ids(self.stream, self.group, [stream_id])

    # ----- retry policies (sim/brokers/redis/retries.py) -----
    def attempt(self, delivery: tuple[StreamId, Message]) -> int:
        """The entry's delivery counter (XPENDING)."""
        stream_id = format_id(delivery[0])
        found = self.server.xpending_range(self.stream, self.group, stream_id, stream_id, 1)
        return int(found[0][3]) if found else 1

    def retry_later(self, delivery: tuple[StreamId, Message], delay: float) -> None:
        """Leave it pending; XCLAIM it once it has been idle for `delay`."""
        due = self.env.now + delay
        idle_ms = int(delay * 1000)
        stream_id = format_id(delivery[0])  # XCLAIM's argument, as a client sends it
        heapq.heappush(self._retries, (due, next(self._order), stream_id, idle_ms))

    def dead_letter(self, delivery: tuple[StreamId, Message]) -> None:
        """XADD to the dead-letter stream, then XACK (both reach the server in that order)."""
        self._to_broker.send(self._dead_letter_on, *delivery)

    def _dead_letter_on(self, stream_id: StreamId, msg: Message) -> None:
        recorder, target = self.recorder, dead_letter_stream(self.stream)
        recorder.dead_lettered(msg, self.stream)
        recorder.published_message(msg, target)
        self.server.xadd(target, [msg], "*")
        recorder.enqueued(msg, target)
        self._ack(stream_id, msg)

    def drop(self) -> None:
        """The consumer dies: its pending entries stay in the group's PEL under its name
        (nobody else gets them unless they are claimed); with NOACK what it held is lost."""
        if self.noack:
            for _stream_id, msg in [*self.waiting, *(self._received or ())]:
                self.recorder.lost(msg, self.name)
        self._received = None


def _copy_of(value: Message | Sequence[Message], index: int) -> Message:
    """A group's message in an entry's value: the value itself for a stream of one group
    (xadd_one), else the group's copy in the copies (one per group, in the groups' order; a
    dead-letter XADD's one-message list)."""
    return value if isinstance(value, MessageCore) else value[index]  # type: ignore[index,return-value]


def _parse(stream_id: str) -> StreamId:
    ms, _, seq = stream_id.partition("-")
    return int(ms), int(seq)
