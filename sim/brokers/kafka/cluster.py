"""A Kafka cluster: brokers, replicated partitions, the controller, retention and cleaning.

What is modelled, and where it comes from (Kafka 3.x, KRaft mode):

- Replica placement: `AdminUtils.assignReplicasToBrokersRackUnaware` with start index 0 and
  replica shift 0 (Kafka draws both at random; fixed here so runs are reproducible).
- The leader appends a produce request's batches to its log; followers copy each batch after
  `replication_delay` (their fetch round trip). The high watermark (HW) is the smallest log end
  offset (LEO) in the in-sync replica set (ISR); consumers read only below it, and an acks=all
  produce is answered once the HW passes its records (`DelayedProduce`). With acks=all, fewer
  than `min.insync.replicas` in the ISR refuses the write (NOT_ENOUGH_REPLICAS, retriable).
- A broker that crashes is fenced by the controller after `broker.session.timeout.ms` (9 s
  default): it leaves every ISR (never emptying one, as Kafka keeps the last member) and each
  partition it led gets a new leader, the first replica in assignment order that is alive and in
  the ISR. With none, the partition stays offline, unless `unclean.leader.election.enable` lets
  any live replica lead. The new leader's log is the truth: records past its LEO are truncated.
  Records the producer had been told were written (acks=1 and 0; acks=all too after an unclean
  election) are then lost; ones it is still waiting on are retried, and the idempotent
  producer's (producer id, sequence) lets the broker drop a retry whose batch it already has.
- Retention (`log.retention.check.interval.ms`): whole segments below the HW whose newest record
  is older than `retention.ms`, or that bring the log over `retention.bytes`, are deleted from the
  front (`UnifiedLog.deleteOldSegments`). Compaction (`cleanup.policy=compact`, every
  `log.cleaner.backoff.ms`) keeps the latest record per key in the closed segments and drops
  tombstones older than `delete.retention.ms` (`LogCleaner`; the dirty-ratio trigger is not
  modelled: the cleaner cleans whenever it runs).
- Cost model (optional): each broker's `io_threads` request handlers serve its produce
  requests, each taking `CostSettings.request_time` plus the fsyncs `flush.messages` forces,
  and its followers' copies of what it leads (`BrokerNode`); without it the broker is ideal
  and takes no time. sim/brokers/kafka/cost.py states the same charges in closed form.

One physical log per partition stands for all its replicas: followers are always a prefix of
the leader in this model, so a replica is just its LEO. Accounting (the Recorder) happens here:
committed records become one copy per reading consumer group (`Partition.attach`), and records
deleted, compacted or truncated end as expired, dropped or lost.
"""

from __future__ import annotations

import itertools
import math
from collections import deque
from collections.abc import Callable, Generator, Iterator, Mapping
from functools import partial
from typing import TYPE_CHECKING, Any

import simpy

from sim.brokers.kafka.log import MSG_ONLY, SETTLE_MASK, PartitionLog, Record
from sim.brokers.kafka.settings import CostSettings, GroupCoordinatorSettings, TopicSettings
from sim.brokers.pauses import PauseSchedule
from sim.distributions import Distribution, Sampler
from sim.message import Message, State
from sim.metrics import Recorder
from sim.network import Link
from sim.randomness import RandomStreams

if TYPE_CHECKING:
    from sim.brokers.kafka.group import GroupCoordinator
    from sim.brokers.kafka.producer import ProducerBatch, ProduceRequest
    from sim.brokers.kafka.share import ShareCoordinator

__all__ = [
    "BrokerNode",
    "KafkaCluster",
    "KafkaError",
    "Partition",
    "Topic",
    "replica_assignment",
]

# Error codes a produce may get back (names of org.apache.kafka.common.protocol.Errors).
NONE = "NONE"
NOT_LEADER = "NOT_LEADER_OR_FOLLOWER"
NOT_ENOUGH_REPLICAS = "NOT_ENOUGH_REPLICAS"
NETWORK_EXCEPTION = "NETWORK_EXCEPTION"
INVALID_RECORD = "INVALID_RECORD"  # a null key on a compacted topic
UNKNOWN_TOPIC = "UNKNOWN_TOPIC_OR_PARTITION"
RETRIABLE = frozenset({NOT_LEADER, NOT_ENOUGH_REPLICAS, NETWORK_EXCEPTION})


class KafkaError(Exception):
    """An error a Kafka client would raise, named by its error code."""

    def __init__(self, code: str, message: str = "") -> None:
        self.code = code
        super().__init__(f"{code}: {message}" if message else code)

    @property
    def retriable(self) -> bool:
        return self.code in RETRIABLE


def replica_assignment(partitions: int, replication_factor: int, brokers: int) -> list[list[int]]:
    """Replica lists per partition, as `assignReplicasToBrokersRackUnaware` with start index 0
    and first shift 0: the first replica walks the brokers, the others follow at a shift that
    grows by one each time the first replica wraps around."""
    if replication_factor > brokers:
        raise ValueError(
            f"replication factor {replication_factor} is larger than the {brokers} broker(s)"
        )
    result = []
    shift = 0
    for p in range(partitions):
        if p > 0 and p % brokers == 0:
            shift += 1
        first = p % brokers
        replicas = [first]
        for j in range(replication_factor - 1):
            replicas.append((first + 1 + (shift + j) % (brokers - 1)) % brokers)
        result.append(replicas)
    return result


class BrokerNode:
    """One broker process: alive or crashed, and (with a cost model) its request queue.

    With a cost model the broker's `io_threads` request handlers serve one queue, first come
    first served (KafkaRequestHandlerPool over the RequestChannel). A produce request takes
    `request_time` of its batches and bytes, plus one `fsync` for each batch whose append
    brings its partition's unflushed messages to the topic's `flush.messages`. Each batch the
    leader appends then leaves work for every follower broker: `replica_time` of the batch,
    plus its own fsync under the same rule, queued with that broker's requests (a follower's
    fetcher appends through the same log code, on the same disks and cores). The followers'
    work takes capacity from the requests they lead; when their high watermark moves is still
    the partition's `replication_delay` (their fetch round trip), so queueing at a follower
    delays no acknowledgement: a simplification kept so that the ideal broker's timing and a
    cost model's agree when the load is light.
    """

    def __init__(self, cluster: KafkaCluster, broker_id: int) -> None:
        self.cluster = cluster
        self.id = broker_id
        self.alive = True
        self.crashed_at = -math.inf
        # Produce requests, and follower appends as (seconds of work, None).
        self._queue: deque[Any] = deque()
        self._idle: list[simpy.Event] = []
        # The JVM's garbage-collection pauses stop every handler thread (cost model only).
        self._pauses: PauseSchedule | None = None
        if cluster.cost is not None and cluster.cost.gc_pause > 0 and cluster.cost.gc_rate > 0:
            rng = cluster.streams.generator(f"kafka:broker-{broker_id}/gc")
            self._pauses = PauseSchedule(cluster.cost.gc_pause, cluster.cost.gc_rate, rng)
        if cluster.cost is not None:
            for _ in range(cluster.cost.io_threads):
                cluster.env.process(self._serve())

    def handle(self, request: ProduceRequest) -> None:
        """A produce request arrives (after the producer->broker hop)."""
        if not self.alive:
            request.fail(NETWORK_EXCEPTION)
            return
        if self.cluster.cost is None:
            self.cluster.process_produce(self, request)
            return
        self._enqueue(request)

    def replicate(self, seconds: float) -> None:
        """A follower's copy of a batch: `seconds` of this broker's handler time."""
        if self.alive:
            self._enqueue(seconds)

    def _enqueue(self, job: Any) -> None:
        self._queue.append(job)
        if self._idle:
            self._idle.pop().succeed()

    def _serve(self) -> Generator[Any, Any, None]:
        # One request handler thread; `io_threads` of them take from the same queue.
        env, cluster = self.cluster.env, self.cluster
        cost = cluster.cost
        assert cost is not None
        while True:
            if not self._queue:
                wakeup = env.event()
                self._idle.append(wakeup)
                yield wakeup
                continue
            job = self._queue.popleft()
            if not isinstance(job, float):
                yield env.timeout(self._work(cluster.produce_time(self, job)))
                if self.alive:
                    cluster.process_produce(self, job)
                else:
                    job.fail(NETWORK_EXCEPTION)
            elif job > 0:
                yield env.timeout(self._work(job))

    def _work(self, seconds: float) -> float:
        """How long `seconds` of handler work begun now takes, with the pauses it meets."""
        if self._pauses is None:
            return seconds
        now = self.cluster.env.now
        return self._pauses.finish(now, seconds) - now

    def crash(self) -> None:
        self.alive = False
        self.crashed_at = self.cluster.env.now
        queued, self._queue = list(self._queue), deque()
        for job in queued:
            if not isinstance(job, float):
                job.fail(NETWORK_EXCEPTION)


# Speed: an object made without its class's __init__ (see `Partition.append_alone`).
_new_object = object.__new__


class Partition:
    """One partition: its replicas, leader, ISR, high watermark, log, and the groups reading it."""

    # Speed: slots, not a dict: an instance of more than 30 attributes outgrows CPython
    # 3.11's shared keys, and its methods and fields are then looked up as in a plain dict at
    # every use (no specialized load); with slots each is a fixed offset.
    __slots__ = (
        "_acks",
        "_alone",
        "_brokers",
        "_compacts",
        "_dedupe",
        "_min_insync",
        "_one_reader",
        "_reader_ready",
        "_reader_source",
        "_recorder",
        "_replication",
        "_single",
        "_slots",
        "cluster",
        "epoch",
        "hw",
        "hw_listeners",
        "index",
        "isr",
        "leader",
        "leo",
        "log",
        "name",
        "range_listeners",
        "reader_position",
        "reader_start",
        "readers",
        "replicas",
        "topic",
        "tp",
        "unflushed",
        "waiters",
    )

    # Whether `append` may take its one-record path for a batch of one on one replica (see
    # there); False appends every batch the general way, the reference the tests compare.
    one_record = True

    def __init__(
        self, cluster: KafkaCluster, topic: Topic, index: int, replicas: list[int]
    ) -> None:
        self.cluster = cluster
        self.topic = topic
        self.index = index
        self.name = f"{topic.name}-{index}"
        self.replicas = replicas
        self.leader: int | None = replicas[0]
        self.isr: list[int] = list(replicas)
        self.leo: dict[int, int] = dict.fromkeys(replicas, 0)
        self.hw = 0
        self.epoch = 0
        settings = topic.settings
        self.log = PartitionLog(settings.segment_bytes, settings.segment_age, cluster.env.now)
        # Reader slots: one per consumer group reading this partition, with its copy horizon,
        # its fetch position (None until a member has one) and the records it has ready.
        self.readers: list[str] = []
        self.reader_start: list[int] = []
        self.reader_position: list[int | None] = []
        self._reader_ready: list[int] = []
        self._reader_source: list[int] = []  # the recorder's slot of `<topic>/<group>`
        self._slots: dict[str, int] = {}
        self.waiters: list[Callable[[], None]] = []  # consumers waiting for new data
        # Speed: the consumers assigned this partition, each with this partition's bit in its
        # mask of partitions that may have records to poll (KafkaConsumer._bits): a rising
        # high watermark sets it, so a poll never looks at the partitions with nothing new.
        self.tp = (topic.name, index)
        self.hw_listeners: dict[Any, int] = {}
        # Called whenever the readable range may have changed (high watermark, log start,
        # truncation): share-partitions keep their ready counts from it.
        self.range_listeners: list[Callable[[], None]] = []
        self._acks: deque[tuple[int, Callable[[str], None]]] = deque()  # acks=all: (end, done)
        self._dedupe: dict[int, deque[tuple[int, int, int]]] = {}  # pid -> (seq, base, count)
        self._replication = cluster.replication_link(self.name)
        # Speed: what an append asks of every batch, looked up once (a topic's settings and
        # the cluster's brokers never change).
        self._compacts = settings.compacts
        self._min_insync = settings.min_insync_replicas
        self._brokers = cluster.brokers
        self._recorder = cluster.recorder
        # Speed: the one-record append's conditions kept as flags (the replicas never change; the
        # readers only grow, in `attach`).
        self._single = len(replicas) == 1
        self._one_reader = False
        # Speed: what `append_alone` asks and never changes, as one flag: one replica, no
        # trace (the recorder's is set when it is made), no key check (a compacted topic
        # refuses keyless records: its appends go to `append`), and no refusal for too few
        # in-sync replicas (min.insync.replicas 1). A partition without it appends the
        # general way, which is what this flag only shortcuts.
        self._alone = (
            self._single
            and self._recorder.trace is None
            and not self._compacts
            and self._min_insync <= 1
        )
        self.unflushed = 0  # messages appended since the last forced fsync (cost model)

    # ----- state -----
    @property
    def available(self) -> bool:
        return self.leader is not None and self.cluster.brokers[self.leader].alive

    @property
    def log_start_offset(self) -> int:
        return self.log.log_start_offset

    @property
    def log_end_offset(self) -> int:
        return self.log.log_end_offset

    def flushes(self, records: int) -> int:
        """The cost model's count of fsyncs an append of `records` forces: one when the
        unflushed messages reach flush.messages (then none are unflushed), as UnifiedLog.append
        flushes the log after an append that brings them there."""
        every = self.topic.settings.flush_messages
        if every == math.inf:
            return 0
        self.unflushed += records
        if self.unflushed < every:
            return 0
        self.unflushed = 0
        return 1

    def lag(self, committed: int | None, slot_start: int | None) -> int:
        """Consumer lag as `kafka-consumer-groups` shows it: HW minus the committed offset."""
        base = committed if committed is not None else slot_start
        if base is None:
            base = self.log_start_offset
        return max(0, self.hw - base)

    # ----- producing -----
    def append(self, batch: ProducerBatch, acks: int, done: Callable[[str], None]) -> None:
        """Append a producer batch at the leader; `done(error)` answers the producer."""
        recorder = self._recorder
        leader = self.leader
        if leader is None or not self._brokers[leader].alive:  # speed: `available` inlined
            done(NOT_LEADER)
            return
        if acks == -1 and len(self.isr) < self._min_insync:
            recorder.count("kafka.not_enough_replicas")
            done(NOT_ENOUGH_REPLICAS)
            return
        if self._compacts and any(key is None for _, key, _, _ in batch.items):
            done(INVALID_RECORD)
            return
        # Speed: a batch never appended anywhere (its first try) cannot be a duplicate.
        duplicate = self._duplicate_of(batch) if batch.published else None
        if duplicate is not None:
            batch.base_offset = duplicate
            recorder.count("kafka.duplicate_batches_dropped")
            self._answer_when_replicated(batch, acks, done)
            return
        items = batch.items
        if not (
            self._single
            and len(items) == 1
            and recorder.trace is None
            and not self._acks
            and self.one_record
        ):
            self._append_records(batch, items, acks, done, leader)
            return
        # Speed: the one-record append, on a partition of one replica with no trace and no
        # acks=all answer pending (with linger.ms 0 and one replica: every append). The same
        # steps as `_append_records` then `_advance_hw(records)` take for it, in the same
        # order, without the list of appended records, the replication check, the acks=all
        # queue (the high watermark reaches the record at once: its answer goes where that
        # queue would have given it) and the loops and lengths for several records,
        # replicas or groups: `PartitionLog.append_one` and no call of this partition's,
        # where the general path makes three (tests/test_kafka_one_record.py runs both and
        # compares; `one_record = False` turns it off).
        item = items[0]
        # Speed: SimPy's clock field, not its `now` property (a call).
        record = self.log.append_one(item, self.cluster.env._now, batch)
        base = batch.base_offset = record.offset
        # `_remember`, as in `_append_records`.
        entries = self._dedupe.get(batch.producer_id)
        if entries is None:
            entries = self._dedupe[batch.producer_id] = deque(maxlen=5)
        entries.append((batch.sequence, base, 1))
        if not batch.published:
            recorder.published += 1  # `_append_records`'s count without a trace
        batch.published = True
        end = base + 1  # the log end offset after this record
        leo = self.leo
        leo[leader] = end
        recorder.raw_counters["kafka.batches_appended"] += 1
        # One replica: nothing to replicate. `_answer_when_replicated`: at once, or once the
        # high watermark passes the record (below, where `_advance_hw` pops the acks queue).
        if acks != -1 or self.hw >= end:
            done(NONE)
            pending = None
        else:
            pending = done
        # `_advance_hw([record])`, reading the high watermark after the answer above (which
        # may have sent, and appended, more). The leader appended, so it is set; one
        # replica: the ISR is the leader, the high watermark its log end offset.
        old = self.hw
        hw = leo[self.isr[0]]
        if hw <= old:
            if pending is not None:
                self._acks.append((end, pending))
        else:
            self.hw = hw
            for consumer, bit in self.hw_listeners.items():
                consumer._bits |= bit  # a candidate of its polls again (KafkaConsumer._bits)
            if self.readers:
                if base == old and end == hw:
                    if record.copies is None and self._one_reader and base >= self.reader_start[0]:
                        record.copies = MSG_ONLY  # `_copy_records` for one record, one group
                    else:
                        self._copy_records([record])
                else:
                    self._make_copies(old, hw)
                if self._one_reader and not self.range_listeners:
                    # `_refresh_ready(0)`, as `_advance_hw` inlines it.
                    position = self.reader_position[0]
                    if position is None:
                        ready = 0
                    else:
                        start = self.log.log_start_offset
                        ready = hw - (position if position > start else start)
                        if ready < 0:
                            ready = 0
                    delta = ready - self._reader_ready[0]
                    if delta:
                        self._reader_ready[0] = ready
                        recorder.ready_values[self._reader_source[0]] += delta
                        total = recorder.ready_total + delta
                        recorder.ready_total = total
                        if total > recorder.max_queue_depth:
                            recorder.max_queue_depth = total
                else:
                    self._refresh_all_ready()
            if pending is not None:
                acks_queue = self._acks
                if acks_queue or end > hw:  # not the usual case: the queue keeps the order
                    acks_queue.append((end, pending))
                    while acks_queue and acks_queue[0][0] <= hw:
                        _, answer = acks_queue.popleft()
                        answer(NONE)
                else:
                    pending(NONE)
            waiters = self.waiters
            if waiters:
                self.waiters = []
                for wake in waiters:
                    wake()
        if batch.acknowledged or batch.done:
            record.batch = None  # as in `_append_records` (memory)

    def append_alone(
        self,
        msg: Message,
        key: bytes | None,
        size: int,
        tombstone: bool,
        producer_id: int,
        sequence: int,
        acks: int,
    ) -> bool:
        """`append` of a first-try batch of this one record whose answer nobody waits on
        (`KafkaProducer.send_message`'s fused path: no future, no flush, leader checked alive),
        without the batch: False, with nothing done, where the conditions below do not hold
        (then `append` takes it; with them it is `append`'s one-record path answered NONE at
        once).

        Speed: every record of the ideal case (linger.ms 0, one replica, acks 1 or all) went
        through a ProducerBatch of 15 slots, its items list and tuple, a `partial` of the
        answer and `_answered_alone`, only for the producer to let go of all of them before
        `append` returned: the answer comes inside `append` (acks 1 before the high
        watermark moves, acks all once it reaches the record, which on one in-sync replica is
        at once) and it only takes back the producer's in-flight and incomplete counts, which
        nothing reads in between (the waiters woken below run after it; the producer left
        them unchanged). The same steps as the one-record path of `append` otherwise, in the
        same order, with `PartitionLog.append_one` inline and the record made without its
        batch, which `append` lets go at its end (tests/test_kafka_fused_path.py runs both
        and compares; `KafkaProducer.fused = False` turns it off)."""
        leader = self.leader
        isr = self.isr
        if not (
            self._alone  # what never changes (see __init__)
            and not self._acks
            and self.one_record
            and len(isr) == 1
            and isr[0] == leader  # the high watermark reaches the record at once
        ):
            return False
        recorder = self._recorder
        log = self.log
        # `PartitionLog.append_one` inline (speed: a call a record), the same roll check,
        # offsets, timestamp and sizes. SimPy's clock field, not its `now` property.
        now = self.cluster.env._now
        segment = log.segments[-1]
        records = segment.records
        if records and (
            segment.size + size > log.segment_bytes
            or now - segment.created_at >= log.segment_seconds
        ):
            segment = log.roll(now)
            records = segment.records
        if not records:
            segment.created_at = now
        base = log.log_end_offset
        # Speed: the record's slots set here, not through `Record.__init__` (a class call
        # into a Python __init__, its defaults and its `base_offset` test, once a record).
        record = _new_object(Record)
        record.offset = record.base_offset = base
        record.msg = msg
        record.key = key
        record.size = size
        record.tombstone = tombstone
        record.batch = None  # `append` lets the batch go at its end: answered at once
        record.copies = None
        records.append(record)
        timestamp = msg.produced_at
        if timestamp > segment.max_timestamp:
            segment.max_timestamp = timestamp
        segment.size += size
        log.size += size
        log.count += 1
        end = log.log_end_offset = base + 1
        # Memory: `append_one`'s settling scan once every SETTLE_EVERY offsets (log.py).
        if not base & SETTLE_MASK and log.settling:
            log._settle()
        # `_remember`, as in `append`.
        entries = self._dedupe.get(producer_id)
        if entries is None:
            entries = self._dedupe[producer_id] = deque(maxlen=5)
        entries.append((sequence, base, 1))
        recorder.published += 1  # a first try: counted as `append` counts it without a trace
        self.leo[leader] = end
        # The batch's `kafka.batches_appended` count: the producer's (it counts the fused
        # record's four counts together, `KafkaProducer.folds_counts`).
        # The answer (NONE) would come here for acks 1, after the copies and counts below for
        # acks all: the producer's counts it takes back were never taken (see above).
        # `_advance_hw`: the ISR is the leader, so the high watermark is its log end offset.
        old = self.hw
        if end > old:
            self.hw = end
            for consumer, bit in self.hw_listeners.items():
                consumer._bits |= bit  # a candidate of its polls again (KafkaConsumer._bits)
            if self.readers:
                if base == old:
                    if self._one_reader and base >= self.reader_start[0]:
                        record.copies = MSG_ONLY  # `_copy_records` for one record, one group
                    else:
                        self._copy_records([record])
                else:
                    self._make_copies(old, end)
                if self._one_reader and not self.range_listeners:
                    # `_refresh_ready(0)`, as `append` inlines it.
                    position = self.reader_position[0]
                    if position is None:
                        ready = 0
                    else:
                        start = log.log_start_offset
                        ready = end - (position if position > start else start)
                        if ready < 0:
                            ready = 0
                    delta = ready - self._reader_ready[0]
                    if delta:
                        self._reader_ready[0] = ready
                        recorder.ready_values[self._reader_source[0]] += delta
                        total = recorder.ready_total + delta
                        recorder.ready_total = total
                        if total > recorder.max_queue_depth:
                            recorder.max_queue_depth = total
                else:
                    self._refresh_all_ready()
            waiters = self.waiters
            if waiters:
                self.waiters = []
                for wake in waiters:
                    wake()
        return True

    def _append_records(
        self,
        batch: ProducerBatch,
        items: list[tuple[Message, bytes | None, int, bool]],
        acks: int,
        done: Callable[[str], None],
        leader: int,
    ) -> None:
        """`append`'s general rest: the batch's records go to the log, are remembered for
        the duplicate check and counted, replicated, answered and committed."""
        recorder = self._recorder
        # Speed: the batch's own items go to the log (their timestamp is the message's
        # creation time), not a rebuilt tuple per record.
        records = self.log.append(items, self.cluster.env.now, batch)
        base = batch.base_offset = records[0].offset
        count = len(records)  # speed: the batch's record count, measured once
        # Speed: `_remember` inlined.
        entries = self._dedupe.get(batch.producer_id)
        if entries is None:
            entries = self._dedupe[batch.producer_id] = deque(maxlen=5)
        entries.append((batch.sequence, base, count))
        first_time = not batch.published
        batch.published = True
        if recorder.trace is None:
            # Speed: without a trace, `published_message` only counts and `enqueued` does
            # nothing: the count made in place, two calls fewer a record.
            if first_time:
                recorder.published += count
        else:
            name = self.name
            published, enqueued = recorder.published_message, recorder.enqueued
            for record in records:
                msg = record.msg
                if first_time:
                    published(msg, name)
                enqueued(msg, name)
        end = self.log.log_end_offset
        self.leo[leader] = end
        recorder.raw_counters["kafka.batches_appended"] += 1  # speed: counted in place
        if len(self.replicas) > 1:
            self._replication.send(self._replicated, self.epoch, end)
        # Speed: `_answer_when_replicated` inlined.
        if acks != -1 or self.hw >= base + count:
            done(NONE)
        else:
            self._acks.append((base + count, done))
        self._advance_hw(records)
        if batch.acknowledged or batch.done:
            # Memory: a record keeps its batch only while the producer may still retry it
            # (records_gone asks); answered at once (acks=all on one replica: by the high
            # watermark just advanced; acks 0 or 1), it lets the batch go, about 300 bytes a
            # record held in the log.
            for record in records:
                record.batch = None

    def _answer_when_replicated(
        self, batch: ProducerBatch, acks: int, done: Callable[[str], None]
    ) -> None:
        if acks != -1:
            done(NONE)
            return
        end = batch.base_offset + len(batch.items)
        if self.hw >= end:
            done(NONE)
        else:
            self._acks.append((end, done))

    def _duplicate_of(self, batch: ProducerBatch) -> int | None:
        for seq, base, _count in self._dedupe.get(batch.producer_id, ()):
            if seq == batch.sequence:
                return base
        return None

    def _remember(self, batch: ProducerBatch) -> None:
        # The broker keeps the last 5 batches per producer (ProducerStateEntry), enough for
        # max.in.flight.requests.per.connection <= 5 with idempotence.
        entries = self._dedupe.get(batch.producer_id)
        if entries is None:  # speed: no new deque per batch as setdefault's default would be
            entries = self._dedupe[batch.producer_id] = deque(maxlen=5)
        entries.append((batch.sequence, batch.base_offset, len(batch.items)))

    # ----- replication -----
    def _replicated(self, epoch: int, end: int) -> None:
        """Followers have fetched everything up to `end` (if the leader has not changed)."""
        if epoch != self.epoch or not self.available:
            return  # a new leader since, or the leader died before the followers fetched
        end = min(end, self.log.log_end_offset)
        brokers = self.cluster.brokers
        for replica in self.replicas:
            if replica != self.leader and brokers[replica].alive and self.leo[replica] < end:
                self.leo[replica] = end
                if replica not in self.isr and end >= self.hw:
                    self.isr.append(replica)  # caught up: back in sync (ISR expansion)
                    self.cluster.recorder.count("kafka.isr_expansions")
        self._advance_hw()

    def _advance_hw(self, appended: list[Record] | None = None) -> None:
        """Move the high watermark to the ISR's smallest LEO. `appended`: the records an
        append just wrote, which are what the move commits when it goes from their first
        offset to past their last (one replica)."""
        if self.leader is None:
            return
        isr, leo = self.isr, self.leo
        # Speed: one replica needs no generator.
        hw = leo[isr[0]] if len(isr) == 1 else min([leo[r] for r in isr])
        if hw <= self.hw:
            return
        old, self.hw = self.hw, hw
        for consumer, bit in self.hw_listeners.items():
            consumer._bits |= bit  # a candidate of its polls again (KafkaConsumer._bits)
        if self.readers:
            # Speed: the records just appended are the ones committed, not looked up again.
            if appended and appended[0].offset == old and appended[-1].offset + 1 == hw:
                first = appended[0]
                if (
                    len(appended) == 1
                    and first.copies is None
                    and len(self.reader_start) == 1
                    and first.offset >= self.reader_start[0]
                ):
                    # Speed: what `_copy_records` does for one record and one group, no call.
                    first.copies = MSG_ONLY  # slot 0 has `msg` (see log.py)
                else:
                    self._copy_records(appended)
            else:
                self._make_copies(old, hw)
            if len(self.readers) == 1 and not self.range_listeners:
                # Speed: `_refresh_all_ready` for one group, and its `_refresh_ready(0)`
                # inlined (the same arithmetic and updates): no call, once a record.
                position = self.reader_position[0]
                if position is None:
                    ready = 0
                else:
                    start = self.log.log_start_offset
                    ready = hw - (position if position > start else start)
                    if ready < 0:
                        ready = 0
                delta = ready - self._reader_ready[0]
                if delta:
                    self._reader_ready[0] = ready
                    recorder = self._recorder
                    recorder.ready_values[self._reader_source[0]] += delta
                    total = recorder.ready_total + delta
                    recorder.ready_total = total
                    if total > recorder.max_queue_depth:
                        recorder.max_queue_depth = total
            else:
                self._refresh_all_ready()
        acks = self._acks
        while acks and acks[0][0] <= hw:
            _, done = acks.popleft()
            done(NONE)
        waiters = self.waiters
        if waiters:  # speed: no call when nobody waits (a busy consumer)
            # Speed: `wake_waiters` inlined (the same swap and calls): with many partitions a
            # busy consumer's waiters fire on most appends.
            self.waiters = []
            for wake in waiters:
                wake()

    def wake_waiters(self) -> None:
        """Tell the consumers waiting on this partition that there may be something to read."""
        if self.waiters:
            waiters, self.waiters = self.waiters, []
            for wake in waiters:
                wake()

    def shrink_isr(self, broker: int) -> None:
        self.cluster.epoch += 1
        if broker in self.isr and len(self.isr) > 1:
            self.isr.remove(broker)
            self.cluster.recorder.count("kafka.isr_shrinks")
            self._advance_hw()

    # ----- consumer groups: one copy of each committed record per group -----
    def slot_of(self, group: str) -> int | None:
        return self._slots.get(group)

    def attach(self, group: str, start: int) -> int:
        """Make `group` a reader of this partition from offset `start`: every committed record
        from there on (and every later one) becomes a copy the group must account for.
        Attaching again with an earlier start extends the group's horizon backwards."""
        slot = self._slots.get(group)
        if slot is None:
            slot = len(self.readers)
            if slot == 1 and self.log.settling:
                # Memory: a settled record's copies are one group's (log.py, SettledRecord);
                # a second group may claim a copy of any record: every record a Record again.
                self.log.unsettle()
            self._slots[group] = slot
            self.readers.append(group)
            self.reader_start.append(math.inf)
            self.reader_position.append(None)
            self._reader_ready.append(0)
            self._reader_source.append(self.cluster.recorder.source(f"{self.topic.name}/{group}"))
            self._one_reader = len(self.readers) == 1
        old = self.reader_start[slot]
        if start < old:
            self.reader_start[slot] = start
            if self.log.settling:
                # Memory: one group (slot 0); its claims are made in the log, where a
                # settled record's is kept (log.py, `PartitionLog.claim`): the walk below's.
                self.log.claim(start, min(old, self.hw))
                return slot
            for record in self.log.records_from(start):
                if record.offset >= min(old, self.hw):
                    break
                self._claim(record, slot)
        return slot

    # ----- what each group has ready: committed records past its fetch position -----
    def set_position(self, group: str, position: int) -> int:
        """The group's fetch position here moved (a fetch, a reset, a seek). Returns the
        group's slot."""
        slot = self._slots.get(group)
        if slot is None:
            slot = self.attach(group, position)
        self.reader_position[slot] = position
        self._refresh_ready(slot)
        return slot

    def ready_of(self, slot: int) -> int:
        """Committed offsets past the group's position (records retention deleted from under
        it excluded; on a compacted topic, offsets rather than records)."""
        position = self.reader_position[slot]
        if position is None:
            return 0
        return max(0, self.hw - max(position, self.log.log_start_offset))

    def _refresh_ready(self, slot: int) -> None:
        # Speed: `ready_of` inlined.
        position = self.reader_position[slot]
        if position is None:
            ready = 0
        else:
            start = self.log.log_start_offset
            ready = self.hw - (position if position > start else start)
            if ready < 0:
                ready = 0
        delta = ready - self._reader_ready[slot]
        if delta:
            self._reader_ready[slot] = ready
            # Speed: `Recorder.ready_add` inlined (the same three updates), twice a record.
            recorder = self._recorder
            recorder.ready_values[self._reader_source[slot]] += delta
            total = recorder.ready_total + delta
            recorder.ready_total = total
            if total > recorder.max_queue_depth:
                recorder.max_queue_depth = total

    def _refresh_all_ready(self) -> None:
        for slot in range(len(self.readers)):
            self._refresh_ready(slot)
        for listener in self.range_listeners:
            listener()

    def _make_copies(self, old_hw: int, new_hw: int) -> None:
        log = self.log
        if log.settling and len(self.reader_start) == 1:
            # Memory: `_copy_records` for the one group, made in the log, where a settled
            # record's claim is kept (log.py, `PartitionLog.claim`).
            start = self.reader_start[0]
            log.claim(start if start > old_hw else old_hw, new_hw)
            return
        # speed: a list, no generator
        self._copy_records(log.records_between(old_hw, new_hw))

    def _copy_records(self, records: list[Record]) -> None:
        """Newly committed `records` (in offset order) become one copy per group reading."""
        starts = self.reader_start
        if len(starts) == 1:  # speed: one group, the usual case: no loop over slots
            start = starts[0]
            for record in records:
                if record.offset >= start:
                    if record.copies is None:  # what _claim does for the first group
                        record.copies = MSG_ONLY
                    else:
                        self._claim(record, 0)
            return
        for record in records:
            for slot, start in enumerate(starts):
                if record.offset >= start:
                    self._claim(record, slot)

    def _claim(self, record: Record, slot: int) -> None:
        copies = record.copies
        if copies is None:
            # The first group to read a record takes the message. Memory: slot 0 the shared
            # MSG_ONLY, another a tuple (one object where a list is two); it becomes a list
            # only when a second group's copy is added.
            record.copies = MSG_ONLY if slot == 0 else (None,) * slot + (record.msg,)
            return
        if copies is MSG_ONLY:
            if slot == 0:
                return
            record.copies = copies = [record.msg]
        if slot < len(copies) and copies[slot] is not None:
            return
        if copies.__class__ is tuple:
            record.copies = copies = list(copies)
        if len(copies) <= slot:
            copies.extend([None] * (slot + 1 - len(copies)))
        twin = record.msg.copy()
        copies[slot] = twin
        self.cluster.recorder.copied(twin)

    # ----- reading -----
    def fetch(self, position: int, max_records: int) -> tuple[list[Record], int]:
        """Committed records from `position` (the caller checked it is in range)."""
        return self.log.read(position, max_records, self.hw)

    def in_range(self, position: int) -> bool:
        return self.log.log_start_offset <= position <= self.log.log_end_offset

    def offset_for_time(self, timestamp: float) -> int | None:
        return self.log.offset_for_timestamp(timestamp)

    # ----- failures -----
    def fail_pending(self, error: str) -> None:
        """Answer every acks=all produce still waiting here with `error`."""
        acks, self._acks = self._acks, deque()
        for _, done in acks:
            done(error)

    def elect(self, reason: str) -> None:
        """Choose a leader among live replicas, as the controller does; truncate to its log."""
        cluster = self.cluster
        cluster.epoch += 1  # a new leader, or none; its log may be shorter
        alive = [r for r in self.replicas if cluster.brokers[r].alive]
        clean = [r for r in alive if r in self.isr]
        if clean:
            leader = clean[0]
        elif alive and self.topic.settings.unclean_leader_election_enable:
            leader = alive[0]
            cluster.recorder.count("kafka.unclean_elections")
            self.isr = [leader]
        else:
            if self.leader is not None:
                cluster.recorder.count("kafka.offline_partitions")
            self.leader = None
            self.fail_pending(NOT_LEADER)
            return
        previous = self.leader
        self.leader = leader
        self.epoch += 1
        if previous != leader:
            cluster.recorder.count("kafka.leader_elections")
        self.fail_pending(NOT_LEADER)
        new_end = self.leo[leader]
        truncated = self.log.truncate_to(new_end) if new_end < self.log.log_end_offset else []
        for replica in self.replicas:
            self.leo[replica] = min(self.leo[replica], self.log.log_end_offset)
        self.isr = [r for r in self.isr if cluster.brokers[r].alive] or [leader]
        if leader not in self.isr:
            self.isr.append(leader)
        cut = self.log.log_end_offset
        for entries in self._dedupe.values():
            kept = [e for e in entries if e[1] + e[2] <= cut]
            entries.clear()
            entries.extend(kept)
        self.hw = min(self.hw, cut)
        self._refresh_all_ready()
        if truncated:
            cluster.recorder.count("kafka.truncated_records", len(truncated))
            cluster.records_gone(self, truncated, "lost", pending_survive=True)
        self._advance_hw()
        self.wake_waiters()  # readable again, even if no new record comes
        for replica in self.replicas:
            if replica != leader and cluster.brokers[replica].alive:
                self._replication.send(self._replicated, self.epoch, self.log.log_end_offset)
                break
        cluster.leadership_changed(self, reason)

    def broker_back(self, broker: int) -> None:
        """A replica's broker restarted: lead if the partition was offline, else catch up."""
        self.cluster.epoch += 1
        if self.leader is None:
            self.elect("broker restarted")
            return
        self.leo[broker] = min(self.leo[broker], self.log.log_end_offset)
        self._replication.send(self._replicated, self.epoch, self.log.log_end_offset)


class Topic:
    def __init__(self, cluster: KafkaCluster, name: str, settings: TopicSettings) -> None:
        self.name = name
        self.settings = settings
        placement = replica_assignment(
            settings.partitions, settings.replication_factor, len(cluster.brokers)
        )
        self.partitions = [Partition(cluster, self, i, r) for i, r in enumerate(placement)]


class KafkaCluster:
    """Brokers, topics, the controller's failover, retention and cleaning, and the group
    coordinator. Clients (`KafkaProducer`, `KafkaConsumer`) talk to it in simulated time."""

    def __init__(
        self,
        env: simpy.Environment,
        brokers: int = 1,
        recorder: Recorder | None = None,
        streams: RandomStreams | None = None,
        replication_delay: Distribution | float = 0.0,
        broker_session_timeout: float = 9.0,
        retention_check_interval: float = 300.0,
        cleaner_backoff: float = 15.0,
        initial_rebalance_delay: float = 3.0,
        rebalance_time: float = 0.0,
        cost: CostSettings | None = None,
        message_ids: Iterator[int] | None = None,
        group_settings: GroupCoordinatorSettings | Mapping[str, Any] | None = None,
    ) -> None:
        from sim.brokers.kafka.group import GroupCoordinator

        if brokers < 1:
            raise ValueError("a cluster needs at least one broker")
        self.env = env
        self.recorder = recorder if recorder is not None else Recorder(env)
        self.streams = streams if streams is not None else RandomStreams(0)
        if not isinstance(replication_delay, Distribution):
            replication_delay = Distribution.constant(float(replication_delay))
        self.replication_delay = replication_delay
        self.broker_session_timeout = broker_session_timeout
        self.retention_check_interval = retention_check_interval
        self.cleaner_backoff = cleaner_backoff
        self.cost = cost
        self.message_ids = message_ids if message_ids is not None else itertools.count(1)
        self.producer_ids = itertools.count(1)
        self.brokers = [BrokerNode(self, i) for i in range(brokers)]
        self.topics: dict[str, Topic] = {}
        if group_settings is not None and not isinstance(group_settings, GroupCoordinatorSettings):
            group_settings = GroupCoordinatorSettings.from_config(group_settings)
        self.group_settings = group_settings or GroupCoordinatorSettings()
        self.coordinator: GroupCoordinator = GroupCoordinator(
            self, initial_rebalance_delay, rebalance_time, self.group_settings
        )
        self._share_coordinator: ShareCoordinator | None = None
        self._leadership_listeners: list[Callable[[Partition], None]] = []
        self._maintenance_started = False
        # Bumped by whatever may make a partition readable again without its high watermark
        # rising (a broker crash or restart, a leader election, truncation, retention moving
        # the log start): consumers then look at every assigned partition at their next poll
        # (KafkaConsumer._bits).
        self.epoch = 0

    @property
    def share_coordinator(self) -> ShareCoordinator:
        """The share groups of the cluster (KIP-932), made on first use."""
        if self._share_coordinator is None:
            from sim.brokers.kafka.share import ShareCoordinator

            self._share_coordinator = ShareCoordinator(self)
        return self._share_coordinator

    # ----- topics -----
    def create_topic(
        self,
        name: str,
        partitions: int = 1,
        replication_factor: int = 1,
        config: dict[str, Any] | None = None,
    ) -> Topic:
        """Create a topic (like `kafka-topics --create --config k=v`)."""
        if name in self.topics:
            raise KafkaError("TOPIC_ALREADY_EXISTS", name)
        settings = TopicSettings.from_config(
            {"partitions": partitions, "replication.factor": replication_factor, **(config or {})}
        )
        return self.add_topic(name, settings)

    def add_topic(self, name: str, settings: TopicSettings) -> Topic:
        topic = Topic(self, name, settings)
        self.topics[name] = topic
        self._start_maintenance()
        return topic

    def partition(self, topic: str, index: int) -> Partition:
        try:
            return self.topics[topic].partitions[index]
        except (KeyError, IndexError):
            raise KafkaError(UNKNOWN_TOPIC, f"{topic}-{index}") from None

    def partitions_for(self, topic: str) -> list[int]:
        if topic not in self.topics:
            raise KafkaError(UNKNOWN_TOPIC, topic)
        return list(range(len(self.topics[topic].partitions)))

    def partition_count(self, topic: str) -> int:
        """len(partitions_for(topic)) without building the list (a producer asks per record)."""
        found = self.topics.get(topic)
        if found is None:
            raise KafkaError(UNKNOWN_TOPIC, topic)
        return len(found.partitions)

    def all_partitions(self) -> Iterator[Partition]:
        for topic in self.topics.values():
            yield from topic.partitions

    def replication_link(self, owner: str) -> Link:
        delay = self.replication_delay
        rng = None if delay.kind == "constant" else self.streams.generator(f"kafka:{owner}/fetch")
        return Link(self.env, delay, Sampler.of(delay, rng))

    # ----- producing -----
    def produce_time(self, broker: BrokerNode, request: ProduceRequest) -> float:
        """The cost model's handler time for a produce request at `broker`: its request
        time, the fsyncs its appends force, and (charged to the followers' queues) each
        follower's copy of its batches."""
        cost = self.cost
        assert cost is not None
        seconds = cost.request_time(len(request.batches), request.size)
        brokers = self.brokers
        for batch in request.batches:
            partition = self.partition(batch.topic, batch.partition)
            if partition.leader != broker.id:
                continue  # refused at processing: NOT_LEADER, no append
            flushes = partition.flushes(len(batch.items))
            seconds += cost.fsync * flushes
            follower = cost.replica_time(1, batch.size) + cost.fsync * flushes
            for replica in partition.replicas:
                if replica != broker.id:
                    brokers[replica].replicate(follower)
        return seconds

    def process_produce(self, broker: BrokerNode, request: ProduceRequest) -> None:
        """The broker appends every batch of a request and answers per the request's acks."""
        self.recorder.raw_counters["kafka.produce_requests"] += 1  # speed: counted in place
        topics = self.topics
        for batch in request.batches:
            # Speed: the producer checked the partition exists (`partition` raises if not).
            partition = topics[batch.topic].partitions[batch.partition]
            if partition.leader != broker.id or not broker.alive:
                request.batch_done(batch, NOT_LEADER)
                continue
            # Speed: a partial, cheaper to make and to call than a lambda.
            partition.append(batch, request.acks, partial(request.batch_done, batch))

    def leadership_changed(self, partition: Partition, reason: str) -> None:
        for listener in list(self._leadership_listeners):
            listener(partition)

    def on_leadership_change(self, listener: Callable[[Partition], None]) -> None:
        self._leadership_listeners.append(listener)

    # ----- broker failures -----
    def crash_broker(self, broker_id: int) -> None:
        """The broker process dies: its connections drop at once; the controller notices after
        `broker.session.timeout.ms` and moves leadership away."""
        broker = self.brokers[broker_id]
        if not broker.alive:
            return
        broker.crash()
        self.epoch += 1  # its partitions are unavailable
        self.recorder.count("kafka.broker_crashes")
        for partition in self.all_partitions():
            if partition.leader == broker_id:
                partition.fail_pending(NETWORK_EXCEPTION)
        crashed_at = broker.crashed_at
        timer = self.env.timeout(self.broker_session_timeout)
        timer.callbacks.append(lambda _e: self._fence(broker_id, crashed_at))

    def _fence(self, broker_id: int, crashed_at: float) -> None:
        broker = self.brokers[broker_id]
        if broker.alive or broker.crashed_at != crashed_at:
            return  # it came back (or crashed again) before the controller gave up on it
        for partition in self.all_partitions():
            if broker_id not in partition.replicas:
                continue
            partition.shrink_isr(broker_id)
            if partition.leader == broker_id:
                partition.elect("leader fenced")

    def restart_broker(self, broker_id: int) -> None:
        broker = self.brokers[broker_id]
        if broker.alive:
            return
        broker.alive = True
        self.epoch += 1  # what it still leads is available again
        for partition in self.all_partitions():
            if broker_id in partition.replicas:
                if partition.leader == broker_id:
                    # Back before being fenced: it still leads, its log intact.
                    continue
                partition.broker_back(broker_id)

    # ----- what happens to records that leave a log -----
    def records_gone(
        self, partition: Partition, records: list[Record], how: str, pending_survive: bool = False
    ) -> None:
        """Account for records removed from `partition`: each live copy ends `how` (expired,
        dropped, lost). With `pending_survive`, records whose batch the producer is still
        retrying are not final: the retry will append them again."""
        recorder = self.recorder
        final = {"expired": recorder.expired, "dropped": recorder.dropped, "lost": recorder.lost}[
            how
        ]
        name = partition.name
        live = State.LIVE
        for record in records:
            batch = record.batch
            if pending_survive and batch is not None and not (batch.acknowledged or batch.done):
                continue  # unanswered and not given up: the producer will send it again
            copies = record.copies
            if copies is None or copies is MSG_ONLY:
                if record.msg.state is live:
                    final(record.msg, name)
                continue
            for copy in copies:
                if copy is not None and copy.state is live:
                    final(copy, name)

    # ----- retention and cleaning -----
    def _start_maintenance(self) -> None:
        if self._maintenance_started:
            return
        self._maintenance_started = True
        self.env.process(self._retention_loop())
        self.env.process(self._cleaner_loop())

    def _retention_loop(self) -> Generator[Any, Any, None]:
        while True:
            yield self.env.timeout(self.retention_check_interval)
            self.apply_retention()

    def _cleaner_loop(self) -> Generator[Any, Any, None]:
        while True:
            yield self.env.timeout(self.cleaner_backoff)
            self.clean()

    def apply_retention(self) -> None:
        """Delete whole old segments by time and by size, as the log manager's check does."""
        now = self.env.now
        for topic in self.topics.values():
            settings = topic.settings
            if not settings.deletes:
                continue
            retention, retention_bytes = settings.retention, settings.retention_bytes
            for partition in topic.partitions:
                log = partition.log
                # Speed: a partition whose oldest segment is young enough and whose log is
                # within retention.bytes has nothing to delete (both loops below would stop
                # at once): a check every 5 minutes of every partition, so its cost grows
                # with the partition count.
                if (
                    log.segments[0].max_timestamp >= now - retention
                    and log.size - retention_bytes <= 0
                ):
                    continue
                deleted: list[Record] = []
                # By time: oldest first, while the newest record of the segment is too old.
                while len(log.segments) and log.count:
                    segment = log.segments[0]
                    upper = (
                        log.segments[1].base_offset if len(log.segments) > 1 else log.log_end_offset
                    )
                    if (
                        not segment.records
                        or segment.max_timestamp >= now - settings.retention
                        or upper > partition.hw
                    ):
                        break
                    deleted.extend(log.delete_oldest_segment(now))
                # By size: drop the oldest segments while the rest still exceed retention.bytes.
                excess = log.size - settings.retention_bytes
                while log.count and excess > 0:
                    segment = log.segments[0]
                    upper = (
                        log.segments[1].base_offset if len(log.segments) > 1 else log.log_end_offset
                    )
                    if excess - segment.size < 0 or upper > partition.hw:
                        break
                    excess -= segment.size
                    deleted.extend(log.delete_oldest_segment(now))
                if deleted:
                    self.epoch += 1  # the log start moved: positions may be out of range
                    self.recorder.count("kafka.retention_deleted", len(deleted))
                    self.records_gone(partition, deleted, "expired")
                    partition._refresh_all_ready()

    def clean(self) -> None:
        """Compact every compacted topic: latest record per key in the closed segments."""
        now = self.env.now
        for topic in self.topics.values():
            settings = topic.settings
            if not settings.compacts:
                continue
            horizon = now - settings.delete_retention
            for partition in topic.partitions:
                hw = partition.hw
                latest: dict[bytes | None, int] = {}
                for record in partition.log.closed_records():
                    if record.offset < hw:
                        latest[record.key] = record.offset

                def keep(
                    record: Record,
                    latest: dict[Any, int] = latest,
                    hw: int = hw,
                    horizon: float = horizon,
                ) -> bool:
                    if record.offset >= hw:
                        return True
                    if latest.get(record.key) != record.offset:
                        return False  # a newer value for the key follows
                    return not (record.tombstone and record.timestamp < horizon)

                removed = partition.log.compact(keep)
                if removed:
                    self.epoch += 1
                    self.recorder.count("kafka.compacted", len(removed))
                    self.records_gone(partition, removed, "dropped")

    # ----- reports -----
    def describe(self) -> list[dict[str, Any]]:
        """One row per partition: leader, replicas, ISR, offsets, retained records and bytes."""
        rows = []
        for partition in self.all_partitions():
            rows.append(
                {
                    "topic": partition.topic.name,
                    "partition": partition.index,
                    "leader": -1 if partition.leader is None else partition.leader,
                    "replicas": " ".join(map(str, partition.replicas)),
                    "isr": " ".join(map(str, sorted(partition.isr))),
                    "log_start_offset": partition.log_start_offset,
                    "high_watermark": partition.hw,
                    "log_end_offset": partition.log_end_offset,
                    "records": partition.log.count,
                    "bytes": partition.log.size,
                    "segments": len(partition.log.segments),
                }
            )
        return rows
