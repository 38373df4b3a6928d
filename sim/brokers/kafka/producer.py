"""The Kafka producer client in simulated time: partitioner, record accumulator, sender, retries.

`send` picks a partition (an explicit one; else murmur2 of the key; else the sticky partition)
and appends the record to that partition's open batch in the accumulator. A batch is sent when
it is full (`batch.size`), has waited `linger.ms`, or `flush()` is called; the sender then drains
the first batch of *every* partition led by that broker into one produce request
(`RecordAccumulator.ready` / `drain`), keeping at most `max.in.flight.requests.per.connection`
requests in flight per broker. `acks` decides when the broker answers: 0 never (the send is done
when it leaves), 1 after the leader appended, all after the ISR has it. Retriable errors
(NOT_LEADER_OR_FOLLOWER, NOT_ENOUGH_REPLICAS, a dropped connection) send the batch again after
`retry.backoff.ms`, until `delivery.timeout.ms` has passed since the batch was created; the
producer is idempotent (Kafka 3.x's default), so a retry never duplicates a record.

Sources: `org.apache.kafka.clients.producer.KafkaProducer`, `internals.RecordAccumulator`,
`internals.Sender`; KIP-480 (sticky partitioner); KIP-91 (delivery.timeout.ms); KIP-98.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from functools import partial
from typing import Any, NamedTuple

import simpy

from sim.brokers.kafka.cluster import NONE, RETRIABLE, KafkaCluster, KafkaError, Partition
from sim.brokers.kafka.log import BATCH_OVERHEAD, RECORD_OVERHEAD
from sim.brokers.kafka.partitioner import BoundedDraws, StickyPartitioner, default_partition
from sim.brokers.kafka.settings import ProducerSettings
from sim.message import Message, State
from sim.network import Link

__all__ = [
    "FutureRecordMetadata",
    "KafkaProducer",
    "ProduceRequest",
    "ProducerBatch",
    "RecordMetadata",
]

INF = float("inf")


class RecordMetadata(NamedTuple):
    topic: str
    partition: int
    offset: int  # -1 with acks=0: the producer never hears back
    timestamp: float


class FutureRecordMetadata:
    """What `send` returns: completed when the broker answers (or at once with acks=0).

    In simulated time nothing blocks: advance the environment, then read `.value` / `.get()`.
    """

    __slots__ = ("_callbacks", "exception", "is_done", "value")

    def __init__(self) -> None:
        self.is_done = False
        self.value: RecordMetadata | None = None
        self.exception: KafkaError | None = None
        self._callbacks: list[Callable[[FutureRecordMetadata], None]] = []

    def succeeded(self) -> bool:
        return self.is_done and self.exception is None

    def failed(self) -> bool:
        return self.is_done and self.exception is not None

    def get(self) -> RecordMetadata:
        """The record's metadata; raises its error, or RuntimeError if not answered yet."""
        if not self.is_done:
            raise RuntimeError("not answered yet: run the simulation further first")
        if self.exception is not None:
            raise self.exception
        assert self.value is not None
        return self.value

    def add_callback(self, fn: Callable[[FutureRecordMetadata], None]) -> None:
        if self.is_done:
            fn(self)
        else:
            self._callbacks.append(fn)

    def _complete(self, value: RecordMetadata | None, error: KafkaError | None) -> None:
        self.is_done = True
        self.value = value
        self.exception = error
        callbacks, self._callbacks = self._callbacks, []
        for fn in callbacks:
            fn(self)


class ProducerBatch:
    """Records for one partition, sent and acknowledged together."""

    __slots__ = (
        "acknowledged",
        "attempts",
        "base_offset",
        "created_at",
        "done",
        "full",
        "futures",
        "items",
        "partition",
        "producer_id",
        "published",
        "retry_at",
        "sequence",
        "size",
        "topic",
    )

    def __init__(
        self, topic: str, partition: int, producer_id: int, sequence: int, now: float
    ) -> None:
        self.topic = topic
        self.partition = partition
        self.producer_id = producer_id
        self.sequence = sequence  # per producer and partition: the broker's duplicate check
        self.created_at = now
        self.items: list[tuple[Message, bytes | None, int, bool]] = []
        self.futures: list[FutureRecordMetadata | None] | None = None
        self.size = BATCH_OVERHEAD
        self.full = False
        self.attempts = 0
        self.retry_at = -INF
        self.base_offset = -1
        self.published = False  # appended to a log at least once
        self.acknowledged = False  # the broker said it is written (or acks=0 sent it)
        self.done = False  # the producer is finished with it (succeeded or failed)


class ProduceRequest:
    """One ProduceRequest: batches for partitions led by one broker, answered together."""

    __slots__ = ("_pending", "acks", "batches", "errors", "node", "producer", "size")

    def __init__(
        self, producer: KafkaProducer, node: int, batches: list[ProducerBatch], acks: int
    ) -> None:
        self.producer = producer
        self.node = node
        self.batches = batches
        self.acks = acks
        # Speed: a request usually carries one batch (linger.ms 0): no generator for it.
        count = len(batches)  # speed: measured once
        self.size = batches[0].size if count == 1 else sum(b.size for b in batches)
        self.errors: dict[int, str] = {}  # id(batch) -> error code
        self._pending = count

    def batch_done(self, batch: ProducerBatch, error: str) -> None:
        """The broker's answer for one batch; the response goes when every batch has one."""
        key = id(batch)
        if key in self.errors:
            return
        self.errors[key] = error
        if error == NONE:
            batch.acknowledged = True
        elif self.acks == 0:
            self.producer.lost_without_answer(batch)
        self._pending -= 1
        if self._pending == 0 and self.acks != 0:
            producer = self.producer
            if producer.response_link.instant:  # speed: what the ideal link does, no call
                producer.on_response(self)
            else:
                producer.response_link.send(producer.on_response, self)

    def fail(self, error: str) -> None:
        """The connection dropped: every batch not answered yet gets `error`."""
        for batch in self.batches:
            self.batch_done(batch, error)


class _PartitionState:
    """What the producer keeps for one partition of a topic, found once a record.

    Speed: `send_message` found a record's partition by a (topic, partition) tuple made per
    record, hashed again in four dicts (the batches, the partition object, the sequence, the
    first use): here the tuple, the deque and the partition object are kept together, and the
    idempotence sequence is a field. `dq` is `_batches[tp]` (None until a record first joins
    this partition: the order of first use is as before), `partition` is `_partition_of[tp]`."""

    __slots__ = ("dq", "partition", "sequence", "tp")

    def __init__(self, tp: tuple[str, int], partition: Partition) -> None:
        self.tp = tp
        self.dq: deque[ProducerBatch] | None = None
        self.partition = partition
        self.sequence = 0  # the next batch's sequence (per producer and partition, KIP-98)


class _TopicState:
    """A topic's partition count, sticky partitioner and `_PartitionState`s, by index (speed:
    one dict lookup by the topic's name a record, where there were three by name or tuple)."""

    __slots__ = ("count", "parts", "sticky")

    def __init__(self, count: int) -> None:
        self.count = count
        self.sticky: StickyPartitioner | None = None  # made at its first keyless record
        self.parts: list[_PartitionState | None] = [None] * count


class KafkaProducer:
    """A producer client with Kafka's settings (`{"acks": "all", "linger.ms": 5, ...}`).

    `link` carries requests to the brokers and `response_link` the answers back (default: an
    ideal network). `rng` draws the sticky partitioner's choices.
    """

    # Whether `_send_alone` may take its direct path on an ideal hop (see there); False
    # sends every batch through `_send_request`, the reference the tests compare it with.
    direct = True
    # Whether the direct path may hand a record whose answer nobody waits on to the leader's
    # `Partition.append_alone`, without a batch (see there); False makes the batch and its
    # answer, the reference tests/test_kafka_fused_path.py compares it with.
    fused = True
    # Whether a record of the fused path counts its four counters (kafka.requests,
    # kafka.batches, kafka.produce_requests, kafka.batches_appended: one each) as one count
    # of its own, `_fused_records`, added to the four when the counters are read
    # (`Recorder.counters` calls `_fold_counts`); False counts the four in place, the
    # reference tests/test_kafka_folded_counts.py compares it with.
    folds_counts = True

    def __init__(
        self,
        cluster: KafkaCluster,
        config: dict[str, Any] | ProducerSettings | None = None,
        *,
        name: str = "producer",
        link: Link | None = None,
        response_link: Link | None = None,
        rng: Any = None,
    ) -> None:
        from sim.distributions import Distribution, Sampler

        self.cluster = cluster
        self.env = cluster.env
        self.recorder = cluster.recorder
        self.name = name
        self.settings = (
            config
            if isinstance(config, ProducerSettings)
            else ProducerSettings.from_config(config or {})
        )
        # Speed: the settings a record's direct path reads, as plain fields: a pydantic
        # model's attribute goes through its `__getattr__` hook, several times the cost of an
        # instance's own (the settings are frozen and never replaced).
        self._acks = self.settings.acks
        self._delivery_timeout = self.settings.delivery_timeout
        self._max_in_flight = self.settings.max_in_flight
        instant = Distribution.constant(0.0)
        self.link = link or Link(self.env, instant, Sampler.of(instant, None))
        self.response_link = response_link or Link(self.env, instant, Sampler.of(instant, None))
        self._rng = rng if rng is not None else cluster.streams.generator(f"producer:{name}/sticky")
        self._draws = BoundedDraws(self._rng)  # one generator for every topic's partitioner
        self.producer_id = next(cluster.producer_ids)
        self._batches: dict[tuple[str, int], deque[ProducerBatch]] = {}
        # Speed: the partitions with batches waiting, so that the sender's scans cost what is
        # waiting, not the partition count. They are visited in the order `_batches` first
        # saw them (`_first_use`), as a scan of `_batches` would visit them.
        self._waiting_tps: set[tuple[str, int]] = set()
        self._first_use: dict[tuple[str, int], int] = {}
        self._counters = self.recorder.raw_counters  # speed: counted in place, not by a call
        self._fused_records = 0  # fused records not yet in the counters (`folds_counts`)
        self.recorder.count_folds.append(self._fold_counts)
        # Speed: each partition's object by (topic, partition), found once: the sender looks
        # at the partition of every batch it sends (a topic's partitions never change).
        self._partition_of: dict[tuple[str, int], Partition] = {}
        self._topics: dict[str, _TopicState] = {}  # speed: see _TopicState
        self._brokers = cluster.brokers
        self._in_flight: dict[int, int] = {}
        self._incomplete = 0
        self._flushing = 0
        self._flush_waiters: list[simpy.Event] = []
        self._wake_at = INF
        self._closed = False
        settings = self.settings
        # Whether a record that finds nothing waiting may go straight to its leader's
        # append in `send_message` (with `direct`, checked there): linger.ms 0 (a batch a record,
        # sent at once), an answer (acks 1 or all), instant hops both ways and a broker that
        # takes no time. None of these changes during a run.
        self._one_direct = (
            settings.linger <= 0
            and settings.acks != 0
            and self.link.instant
            and self.response_link.instant
            and cluster.cost is None
        )
        cluster.on_leadership_change(lambda _partition: self._run_sender())

    # ----- the client API -----
    def send(
        self,
        topic: str,
        value: bytes | str | None = None,
        key: bytes | str | None = None,
        headers: dict[str, Any] | None = None,
        partition: int | None = None,
        timestamp_ms: float | None = None,
    ) -> FutureRecordMetadata:
        """Send a record (a `value` of None is a tombstone). Returns its future."""
        data = value.encode() if isinstance(value, str) else value
        key_bytes = key.encode() if isinstance(key, str) else key
        msg = Message(
            next(self.cluster.message_ids),
            self.env.now if timestamp_ms is None else timestamp_ms / 1000.0,
            size=len(data) if data is not None else 0,
            key=key_bytes,
            headers=None if headers is None else dict(headers),
            body=data,
        )
        self.recorder.produced_message(msg, self.name)
        future = FutureRecordMetadata()
        self.send_message(topic, msg, key_bytes, partition, data is None, future)
        return future

    def send_message(
        self,
        topic: str,
        msg: Message,
        key: bytes | None = None,
        partition: int | None = None,
        tombstone: bool = False,
        future: FutureRecordMetadata | None = None,
    ) -> None:
        """Send an already-counted message (the scenario's producers call this)."""
        if self._closed:
            raise KafkaError("ILLEGAL_STATE", "the producer is closed")
        # Speed: the partition count, not a list of every partition per record, found once
        # per topic (a topic's partitions never change; an unknown topic raises each time),
        # with the topic's partitioner and partition states (`_TopicState`).
        lane = self._topics.get(topic)
        if lane is None:
            lane = self._topics[topic] = _TopicState(self.cluster.partition_count(topic))
        partitions = lane.count
        parts = lane.parts
        # Speed: `record_size` inlined.
        size = RECORD_OVERHEAD + msg.size + (len(key) if key is not None else 0)
        if partition is not None:
            if not 0 <= partition < partitions:
                raise KafkaError("UNKNOWN_TOPIC_OR_PARTITION", f"{topic}-{partition}")
            state = parts[partition] or self._new_state(lane, topic, partition)
        elif key is not None:
            chosen = default_partition(key, partitions)
            state = parts[chosen] or self._new_state(lane, topic, chosen)
        else:
            sticky = lane.sticky
            if sticky is None:
                sticky = lane.sticky = StickyPartitioner(partitions, draws=self._draws)
            # Speed: the sticky partition read in place (`partition()` once it is chosen).
            chosen = sticky._current
            if chosen is None:
                chosen = sticky.partition()
            state = parts[chosen] or self._new_state(lane, topic, chosen)
            # Speed: `_needs_new_batch` inlined for the usual case (linger.ms 0: the last
            # batch went at once, none waits here).
            dq = state.dq
            if not dq or self._needs_new_batch(state.tp, size):
                # KIP-480: a record that would open a new batch first moves the sticky partition.
                if partitions == 1:
                    # Speed: what `batch_complete` does for one partition (no draw), no call;
                    # the partition stays, and so does its deque (`dq`, not looked up again).
                    sticky._current = 0
                else:
                    # Speed: `batch_complete` inlined (a call a record): `chosen` is the
                    # current sticky partition (set above); the same draws from the same
                    # block until one differs from it.
                    draws = sticky._draws
                    while True:
                        if partitions != draws._n or draws._next == len(draws._values):
                            draws._refill(partitions)
                        candidate = draws._values[draws._next]
                        draws._next += 1
                        if candidate != chosen:
                            break
                    sticky._current = chosen = candidate
                    state = parts[chosen] or self._new_state(lane, topic, chosen)
        tp, dq = state.tp, state.dq
        if dq is None:
            dq = state.dq = self._batches[tp] = deque()
            self._first_use[tp] = len(self._first_use)
        if not dq and self._one_direct and not self._waiting_tps and self.direct:
            # Speed: the one-record direct path (linger.ms 0, nothing waiting: every record
            # of the ideal case), here rather than in `_append` (a call a record). What
            # `_append`, `_send_alone`'s direct path, `ProduceRequest.batch_done` and
            # `on_response` do for a new batch sent alone, without the batch's stop in the
            # accumulator (its deque and the waiting set), the request object and the two
            # answering calls: one call answers it (`_answered_alone`), none on the fused
            # path (`Partition.append_alone`). The same checks, in the same order where they
            # act: a batch `_send_alone` would not send directly (expired, leader down, too
            # many in flight) takes the general path, `_append`, nothing changed yet.
            now = self.env._now  # speed: SimPy's field, not its `now` property (a call)
            deadline = now + self._delivery_timeout  # created_at + delivery.timeout.ms
            target = state.partition
            leader = target.leader
            in_flight = self._in_flight
            flying = in_flight.get(leader, 0) if leader is not None else 0
            if (
                deadline > now
                and leader is not None
                and self._brokers[leader].alive
                and flying < self._max_in_flight
            ):
                acks = self._acks
                sequence = state.sequence
                state.sequence = sequence + 1
                # As `_send_alone` (a deadline below the wake-up set is below INF too).
                if deadline < self._wake_at:
                    self._schedule_wake(deadline)
                if future is None and not self._flush_waiters and self.fused:
                    if self.folds_counts:
                        # Speed: the record's four counts as one (see `folds_counts`), taken
                        # where the first of them was (a read during the append sees them),
                        # and taken back if the append does not take the record.
                        self._fused_records += 1
                        fused = target.append_alone(
                            msg, key, size, tombstone, self.producer_id, sequence, acks
                        )
                        if not fused:
                            self._fused_records -= 1
                    else:
                        fused = target.append_alone(
                            msg, key, size, tombstone, self.producer_id, sequence, acks
                        )
                        if fused:  # the four counts in place (nothing reads them in between)
                            counters = self._counters
                            counters["kafka.requests"] += 1
                            counters["kafka.batches"] += 1
                            counters["kafka.produce_requests"] += 1
                            counters["kafka.batches_appended"] += 1
                else:
                    fused = False
                if fused:
                    # Speed: the fused path (see `Partition.append_alone`): the record went to
                    # the log and was answered NONE at once, with no batch: what the lines
                    # below and `_answered_alone` leave behind for it (the in-flight and
                    # incomplete counts back where they were, the batch let go), minus the
                    # batch, its items, the `partial` and the answering call. Nothing here
                    # reads the counts and the batch between the steps they skip, and the
                    # counters and the wake-up come in the same order (the in-flight count
                    # is no counter: no output sees when it is taken).
                    if self._waiting_tps:  # as below (a waiter woken by the append sent)
                        self._run_sender()
                    return
                counters = self._counters
                counters["kafka.requests"] += 1
                counters["kafka.batches"] += 1
                counters["kafka.produce_requests"] += 1
                batch = ProducerBatch(tp[0], tp[1], self.producer_id, sequence, now)
                self._incomplete += 1
                batch.items.append((msg, key, size, tombstone))
                if future is not None:
                    batch.futures = [future]
                batch.size += size
                batch.full = True  # sent now, as `_send_alone` marks it
                in_flight[leader] = flying + 1
                target.append(batch, acks, partial(self._answered_alone, batch, leader))
                if self._waiting_tps:  # the answer came at once and put a batch back
                    self._run_sender()
                return
        self._append(state, dq, msg, key, size, tombstone, future)

    def _fold_counts(self) -> None:
        """The fused records' counts into the counters (`folds_counts`): one each of the four
        a record sent alone, as a batch of its own in a request of its own, counts."""
        records = self._fused_records
        if records:
            self._fused_records = 0
            counters = self._counters
            counters["kafka.requests"] += records
            counters["kafka.batches"] += records
            counters["kafka.produce_requests"] += records
            counters["kafka.batches_appended"] += records

    def _new_state(self, lane: _TopicState, topic: str, index: int) -> _PartitionState:
        """Partition `index` of `topic`'s state, made at its first record (the index is in
        range: checked, hashed or drawn below the partition count)."""
        tp = (topic, index)
        partition = self._partition_of.get(tp) or self._find_partition(tp)
        state = lane.parts[index] = _PartitionState(tp, partition)
        return state

    def flush(self) -> simpy.Event:
        """Send everything now; the event fires when every record sent so far is answered."""
        event = self.env.event()
        if self._incomplete == 0:
            event.succeed()
            return event
        self._flushing += 1
        self._flush_waiters.append(event)
        self._run_sender()
        return event

    def close(self) -> simpy.Event:
        """Flush, then refuse further sends."""
        event = self.flush()
        self._closed = True
        return event

    def partitions_for(self, topic: str) -> list[int]:
        return self.cluster.partitions_for(topic)

    @property
    def buffered(self) -> int:
        """Records waiting in the accumulator (not yet sent)."""
        return sum(len(b.items) for dq in self._batches.values() for b in dq)

    # ----- the accumulator -----
    def _needs_new_batch(self, tp: tuple[str, int], size: int) -> bool:
        dq = self._batches.get(tp)
        if not dq:
            return True
        last = dq[-1]
        return last.full or last.attempts > 0 or not self._fits(last, size)

    def _fits(self, batch: ProducerBatch, size: int) -> bool:
        return not batch.items or batch.size + size <= self.settings.batch_size

    def _append(
        self,
        state: _PartitionState,
        dq: deque[ProducerBatch],
        msg: Message,
        key: bytes | None,
        size: int,
        tombstone: bool,
        future: FutureRecordMetadata | None,
    ) -> None:
        """`send_message`'s general rest: the record joins the last batch of the partition's
        deque `dq` (`state.dq`, or a new batch), which is sent once it is ready."""
        tp = state.tp
        batch = dq[-1] if dq else None
        became_ready = opened = False
        batch_size = self.settings.batch_size
        # Speed: `_fits` inlined.
        if (
            batch is None
            or batch.full
            or batch.attempts > 0
            or (batch.items and batch.size + size > batch_size)
        ):
            if batch is not None and not batch.full:
                batch.full = True
                became_ready = True
            sequence = state.sequence
            state.sequence = sequence + 1
            # Speed: the clock read once (a property call) for the batch and `_send_alone`.
            now = self.env.now
            batch = ProducerBatch(tp[0], tp[1], self.producer_id, sequence, now)
            opened = True
            dq.append(batch)
            self._waiting_tps.add(tp)
            self._incomplete += 1
            if self.settings.linger > 0:
                self._schedule_wake(now + self.settings.linger)
            else:
                became_ready = True
        batch.items.append((msg, key, size, tombstone))
        if future is not None:
            if batch.futures is None:
                batch.futures = [None] * (len(batch.items) - 1)
            batch.futures.append(future)
        elif batch.futures is not None:
            batch.futures.append(None)
        batch.size += size
        if batch.size >= batch_size:
            batch.full = True
            became_ready = True
        if became_ready:
            # A batch filled up or opened with linger.ms 0: the clock is as read above when
            # one was made, else read now.
            self._send_alone(tp, dq, now if opened else self.env.now)

    # ----- the sender -----
    def _send_alone(self, tp: tuple[str, int], dq: deque[ProducerBatch], now: float) -> None:
        """`_run_sender` when this partition's one batch is all that waits (with linger.ms 0,
        every record): the same checks, wake-up and request as `_ready_nodes` and `_send_to`
        would make for it, without their scans (speed: this is the path of every record).
        Anything else goes to `_run_sender`."""
        waiting = self._waiting_tps
        if len(waiting) != 1 or len(dq) != 1:
            self._run_sender()
            return
        first = dq[0]
        settings = self.settings
        deadline = first.created_at + settings.delivery_timeout
        partition = self._partition_of.get(tp) or self._find_partition(tp)
        leader = partition.leader
        if (
            deadline <= now  # expired: `_ready_nodes` expires it
            or first.retry_at > now
            or leader is None
            or not self._brokers[leader].alive
            or self._in_flight.get(leader, 0) >= settings.max_in_flight
            or not (first.full or now >= first.created_at + settings.linger or self._flushing)
        ):
            self._run_sender()
            return
        # As `_ready_nodes` does for the earliest deadline (speed: `_schedule_wake` does
        # nothing for one at or past the wake-up already set: no call then).
        if deadline < INF and deadline < self._wake_at:
            self._schedule_wake(deadline)
        dq.popleft()
        waiting.discard(tp)
        first.full = True
        acks = settings.acks
        if self.direct and acks != 0 and self.link.instant and self.cluster.cost is None:
            # Speed: the direct path of an ideal hop (no delay, no cost model): what
            # `_send_request` and then `KafkaCluster.process_produce` do for this one batch,
            # without their two calls. The leader is alive and leads the partition (checked
            # above), so process_produce would append it; acks=0 (which finishes the batch
            # before sending) takes the general path. The same request, counts in the same
            # order and the same append (`Partition.append`, shared with the general path);
            # tests/test_kafka_direct_path.py runs both and compares.
            request = ProduceRequest(self, leader, [first], acks)
            counters = self._counters
            counters["kafka.requests"] += 1
            counters["kafka.batches"] += 1
            in_flight = self._in_flight
            in_flight[leader] = in_flight.get(leader, 0) + 1
            counters["kafka.produce_requests"] += 1
            partition.append(first, acks, partial(request.batch_done, first))
        else:
            self._send_request(leader, [first])
        if waiting:  # the answer came at once and put a batch back (a retry)
            self._run_sender()

    def _schedule_wake(self, at: float) -> None:
        if at >= self._wake_at:
            return
        self._wake_at = at
        timer = self.env.timeout(max(0.0, at - self.env.now))
        timer.callbacks.append(self._on_wake)

    def _on_wake(self, _event: Any) -> None:
        if self.env.now >= self._wake_at:
            self._wake_at = INF
        self._run_sender()

    def _waiting_in_order(self) -> list[tuple[str, int]]:
        """The partitions with batches waiting, in the order a scan of `_batches` meets them."""
        waiting = self._waiting_tps
        if len(waiting) <= 1:
            return list(waiting)
        return sorted(waiting, key=self._first_use.__getitem__)

    def _ready_nodes(self) -> set[int]:
        """Brokers with a sendable batch (`RecordAccumulator.ready`); expires stuck batches."""
        now = self.env.now
        settings = self.settings
        linger, delivery_timeout = settings.linger, settings.delivery_timeout
        ready: set[int] = set()
        next_check = INF
        batches = self._batches
        partition_of, brokers = self._partition_of, self._brokers
        for tp in self._waiting_in_order():
            dq = batches[tp]
            first = dq[0]
            # Speed: _expired and _deadline inlined (the same sum: created_at + timeout).
            deadline = first.created_at + delivery_timeout
            if deadline <= now:
                self._expire(tp, dq)
                if not dq:
                    continue
                first = dq[0]
                deadline = first.created_at + delivery_timeout
            if deadline < next_check:
                next_check = deadline
            if first.retry_at > now:
                next_check = min(next_check, first.retry_at)
                continue
            partition = partition_of.get(tp) or self._find_partition(tp)
            leader = partition.leader
            if leader is None or not brokers[leader].alive:  # speed: `available` inlined
                continue
            if self._in_flight.get(leader, 0) >= settings.max_in_flight:
                continue
            lingered = first.created_at + linger
            if len(dq) > 1 or first.full or now >= lingered or self._flushing:
                ready.add(leader)
            else:
                next_check = min(next_check, lingered)
        if next_check < INF:
            self._schedule_wake(next_check)
        return ready

    def _find_partition(self, tp: tuple[str, int]) -> Partition:
        partition = self._partition_of[tp] = self.cluster.partition(*tp)
        return partition

    def _run_sender(self) -> None:
        # Speed: with no batch waiting there is nothing to scan (`_ready_nodes` would find no
        # node and schedule nothing).
        in_flight, most = self._in_flight, self.settings.max_in_flight
        while self._waiting_tps:
            nodes = self._ready_nodes()
            sent = False
            # Speed: one broker ready (the usual case) needs no sorting.
            for node in nodes if len(nodes) == 1 else sorted(nodes):
                if in_flight.get(node, 0) < most:
                    sent |= self._send_to(node)
            if not sent:
                return

    def _send_to(self, node: int) -> bool:
        """Drain the first batch of every partition led by `node` into one request."""
        now = self.env.now
        batches = []
        queued = self._batches
        partition_of, brokers = self._partition_of, self._brokers
        for tp in self._waiting_in_order():
            dq = queued[tp]
            if dq[0].retry_at > now:
                continue
            partition = partition_of.get(tp) or self._find_partition(tp)
            # Speed: `available` inlined (the leader is `node`, so it is not None).
            if partition.leader != node or not brokers[node].alive:
                continue
            batch = dq.popleft()
            if not dq:
                self._waiting_tps.discard(tp)
            batch.full = True
            batches.append(batch)
        if not batches:
            return False
        self._send_request(node, batches)
        return True

    def _send_request(self, node: int, batches: list[ProducerBatch]) -> None:
        """One ProduceRequest with `batches` to broker `node`."""
        acks = self.settings.acks
        request = ProduceRequest(self, node, batches, acks)
        counters = self._counters
        counters["kafka.requests"] += 1
        counters["kafka.batches"] += len(batches)
        if acks == 0:
            for batch in batches:
                batch.acknowledged = True
                self._finish(batch, None)
        else:
            self._in_flight[node] = self._in_flight.get(node, 0) + 1
        broker = self.cluster.brokers[node]
        if self.link.instant:  # speed: what the ideal link does, without its call
            if broker.alive and self.cluster.cost is None:
                self.cluster.process_produce(broker, request)  # what `handle` does then
            else:
                broker.handle(request)
        else:
            self.link.send(broker.handle, request)

    def on_response(self, request: ProduceRequest) -> None:
        """The broker's answer to a request (after the broker->producer hop)."""
        self._in_flight[request.node] -= 1
        for batch in request.batches:
            error = request.errors.get(id(batch), NONE)
            if error == NONE:
                if batch.futures is None and not batch.done and not self._flush_waiters:
                    # Speed: `_finish` inlined for a batch nobody waits on (no future, no
                    # flush): it is done.
                    batch.done = True
                    self._incomplete -= 1
                else:
                    self._finish(batch, None)
            else:
                self._failed(batch, error)
        if self._waiting_tps:  # speed: else `_run_sender` has nothing to do
            self._run_sender()

    def _answered_alone(self, batch: ProducerBatch, node: int, error: str) -> None:
        """The leader's answer to a batch `send_message` sent directly: what
        `ProduceRequest.batch_done` and then `on_response` do for a request of this one batch
        (acks 1 or all, an instant answer), in one call."""
        # Speed: no request object, no errors dict keyed by `id(batch)`, no second call: the
        # batch is the request's only one, answered once (the partition calls `done` once:
        # at once or from its acks queue; nothing else holds it), so the duplicate-answer
        # guard and the pending count of `batch_done` have nothing to do.
        if error == NONE:
            batch.acknowledged = True
            self._in_flight[node] -= 1
            if batch.futures is None and not batch.done and not self._flush_waiters:
                batch.done = True  # speed: `_finish` inlined, as in `on_response`
                self._incomplete -= 1
            else:
                self._finish(batch, None)
        else:
            self._in_flight[node] -= 1
            self._failed(batch, error)
        if self._waiting_tps:
            self._run_sender()

    def _failed(self, batch: ProducerBatch, error: str) -> None:
        """A batch the broker answered with `error`: retried if it may be, else failed."""
        if error in RETRIABLE and not self._expired(batch, self.env.now):
            # Speed: the clock is read only here, for a retry (a call, as a property).
            batch.attempts += 1
            batch.retry_at = self.env.now + self.settings.retry_backoff
            self.recorder.count("kafka.retries")
            self._requeue(batch)
            self._schedule_wake(batch.retry_at)
        else:
            self._finish(batch, KafkaError(error, f"{batch.topic}-{batch.partition}"))

    def lost_without_answer(self, batch: ProducerBatch) -> None:
        """acks=0: a batch the broker could not write is gone, and nobody will know."""
        for msg, *_ in batch.items:
            if msg.state is State.LIVE:
                self.recorder.lost(msg, f"{batch.topic}-{batch.partition}")

    def _requeue(self, batch: ProducerBatch) -> None:
        # Retried batches go back to the front in sequence order (insertInSequenceOrder).
        tp = (batch.topic, batch.partition)
        dq = self._batches[tp]
        self._waiting_tps.add(tp)
        index = 0
        while index < len(dq) and dq[index].attempts > 0 and dq[index].sequence < batch.sequence:
            index += 1
        dq.insert(index, batch)

    def _deadline(self, batch: ProducerBatch) -> float:
        return batch.created_at + self.settings.delivery_timeout

    def _expired(self, batch: ProducerBatch, now: float) -> bool:
        # Compared as a deadline, the same sum the wake-up timer uses: never off by a rounding.
        return self._deadline(batch) <= now

    def _expire(self, tp: tuple[str, int], dq: deque[ProducerBatch]) -> None:
        now = self.env.now
        while dq and self._expired(dq[0], now):
            batch = dq.popleft()
            if not dq:
                self._waiting_tps.discard(tp)
            self._finish(batch, KafkaError("REQUEST_TIMED_OUT", f"{tp[0]}-{tp[1]} expired"))

    def _finish(self, batch: ProducerBatch, error: KafkaError | None) -> None:
        if batch.done:
            return
        batch.done = True
        self._incomplete -= 1
        if error is not None:
            name = f"{batch.topic}-{batch.partition}"  # speed: formatted only on failure
            self.recorder.count("kafka.failed_batches")
            for msg, *_ in batch.items:
                self.recorder.rejected(msg, name)
        futures = batch.futures
        if futures is not None:
            for i, future in enumerate(futures):
                if future is None:
                    continue
                if error is not None:
                    future._complete(None, error)
                else:
                    offset = -1 if self.settings.acks == 0 else batch.base_offset + i
                    msg = batch.items[i][0]
                    future._complete(
                        RecordMetadata(batch.topic, batch.partition, offset, msg.produced_at), None
                    )
        if self._incomplete == 0 and self._flush_waiters:
            waiters, self._flush_waiters = self._flush_waiters, []
            self._flushing = 0
            for event in waiters:
                event.succeed()
