"""The Recorder: the one place that counts.

Brokers and clients report every state change of a message to it with one call. It keeps
counters, a streaming latency histogram, time series sampled at a fixed interval and, only when
asked, a per-message trace. Nothing here grows with the number of messages unless tracing is on.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from functools import partial, reduce
from operator import add, call, itemgetter

import numpy as np
import simpy
from hdrh.histogram import HdrHistogram
from simpy.events import URGENT

from sim.message import Message, State

__all__ = ["EVENTS", "Counts", "LatencyHistogram", "Reader", "Recorder"]


class Counts(Counter[str]):
    """A Counter whose `counts[name] += 1` costs what a dict's does.

    Speed: Counter defines `__delitem__` in Python, so CPython gives every subclass of dict
    that it is the generic item-assignment slot, which looks `__setitem__` up and calls its
    wrapper on each store: `+= 1` took about twice a dict's time. dict's own `__delitem__`
    back (`del` of a missing name raises KeyError, where Counter's did nothing; nothing here
    deletes a count) makes the slot dict's again. Reads, `__missing__` (0) and every other
    Counter method are Counter's."""

    __delitem__ = dict.__delitem__


# The lifecycle events a trace row can name, in the order a message usually meets them.
EVENTS = (
    "produced",
    "published",
    "rejected",
    "enqueued",
    "delivered",
    "failed",
    "processed",
    "acked",
    "requeued",
    "dead-lettered",
    "expired",
    "dropped",
    "lost",
)

NANOSECONDS = 1e9
_BUFFER = 8192
# Speed: the states the per-message methods test, as plain names (the same members: `is`
# still holds): `State.LIVE` is an attribute lookup on the enum class, several times the cost
# of a global name.
_LIVE, _PROCESSED, _DEAD_LETTERED = State.LIVE, State.PROCESSED, State.DEAD_LETTERED
# Speed: the hot paths index `states` by these plain ints, not by the IntEnum members: CPython
# 3.11 specializes a list's subscript only for an exact int (an IntEnum index takes the
# generic path each time). The same elements.
_LIVE_AT, _PROCESSED_AT = int(_LIVE), int(_PROCESSED)


class LatencyHistogram:
    """An HdrHistogram of latencies in seconds (stored in nanoseconds, 3 significant digits by
    default; the per-replica breakdowns use 2, a hundredth the memory).

    Values are buffered and added to the histogram a block at a time with numpy, using the same
    bucket arithmetic as `HdrHistogram.record_value`: recording one value at a time in pure Python
    would cost more than the rest of a message's simulation.
    """

    def __init__(self, highest_seconds: float = 30 * 86400.0, digits: int = 3) -> None:
        self.histogram = HdrHistogram(1, int(highest_seconds * NANOSECONDS), digits)
        self._counts = np.ctypeslib.as_array(self.histogram.counts)
        self._buffer: list[float] = []
        # Speed: the count, exact sum and maximum of the buffered values are taken a block at
        # a time (`_fold`, C-level over the buffer: `len`, `functools.reduce(operator.add)`,
        # `max`), not value by value: a recorded value is one `append`. The sum is the same
        # left-to-right sequence of float additions `total += value` made, so bit-identical.
        self._count = 0
        self._total = 0.0  # exact sum, so the mean is not rounded to histogram buckets
        self._max = 0.0
        self._folded = 0  # how many buffered values the three above include

    def record(self, seconds: float) -> None:
        buffer = self._buffer
        buffer.append(seconds)
        if len(buffer) >= _BUFFER:
            self.flush()

    def _fold(self) -> None:
        """Bring the count, sum and maximum up to date with the buffer."""
        buffer, start = self._buffer, self._folded
        if start < len(buffer):
            part = buffer[start:] if start else buffer
            self._count += len(part)
            self._total = reduce(add, part, self._total)
            top = max(part)
            if top > self._max:
                self._max = top
            self._folded = len(buffer)

    @property
    def count(self) -> int:
        self._fold()
        return self._count

    @property
    def total(self) -> float:
        self._fold()
        return self._total

    @property
    def max(self) -> float:
        self._fold()
        return self._max

    def flush(self) -> None:
        if not self._buffer:
            return
        self._fold()
        h = self.histogram
        # Speed: fromiter with the dtype and count given (a third of asarray's time: no type
        # to infer); the same float64 values.
        buffer = self._buffer
        values = np.fromiter(buffer, np.float64, len(buffer)) * NANOSECONDS
        values = np.minimum(np.rint(values), h.highest_trackable_value).astype(np.int64)
        self._buffer.clear()
        self._folded = 0
        # bit_length(v | sub_bucket_mask), exact through frexp since values stay below 2**53
        pow2ceiling = np.frexp((values | h.sub_bucket_mask).astype(np.float64))[1]
        bucket = pow2ceiling - h.unit_magnitude - (h.sub_bucket_half_count_magnitude + 1)
        sub_bucket = values >> (bucket + h.unit_magnitude)
        index = ((bucket + 1) << h.sub_bucket_half_count_magnitude) + (
            sub_bucket - h.sub_bucket_half_count
        )
        # Speed: the values per bucket counted by bincount, then added in one pass: the
        # same integer counts as `np.add.at(counts, index, 1)`, which costs about 25 times
        # as much (it was two fifths of a flush, a third of a microsecond a message).
        counts = self._counts
        counts += np.bincount(index, minlength=counts.size).astype(counts.dtype)
        h.total_count += len(values)
        h.min_value = min(h.min_value, int(values.min()))
        h.max_value = max(h.max_value, int(values.max()))

    def percentile(self, p: float) -> float:
        """The value at percentile `p` (0-100), in seconds: HdrHistogram's
        `get_value_at_percentile`, computed over the counts with numpy."""
        return self.percentiles((p,))[0]

    def percentiles(self, ps: Sequence[float]) -> list[float]:
        """The values at each percentile of `ps`, in seconds, from one pass over the counts."""
        self.flush()
        if self.count == 0:
            return [float("nan")] * len(ps)
        h = self.histogram
        # Speed: hdrh's get_value_at_percentile walks the counts one Python call a bucket
        # (8,000 to 32,000 buckets, some 20 ms a percentile, half of a short run's CPU time);
        # the same rule over a numpy cumulative sum: the first bucket whose running count
        # reaches the target count, its highest equivalent value (lowest for percentile 0).
        cumulative = np.cumsum(self._counts)
        found = []
        for p in ps:
            index = int(np.searchsorted(cumulative, h.get_target_count_at_percentile(p)))
            if index >= h.counts_len:
                value = 0
            elif p:
                value = h.get_highest_equivalent_value(h.get_value_from_index(index))
            else:
                value = h.get_lowest_equivalent_value(h.get_value_from_index(index))
            found.append(value / NANOSECONDS)
        return found

    @property
    def mean(self) -> float:
        return self.total / self.count if self.count else float("nan")

    def add(self, other: LatencyHistogram) -> None:
        """Merge `other`'s values into this one (same precision and range)."""
        other.flush()
        self.flush()
        self.histogram.add(other.histogram)
        self._count += other._count
        self._total += other._total
        self._max = max(self._max, other._max)

    def stats(self) -> dict[str, float]:
        """count, mean, p50, p95, p99 and max, in seconds (NaN where nothing was recorded)."""
        empty = self.count == 0
        p50, p95, p99 = self.percentiles((50, 95, 99))
        return {
            "count": self.count,
            "mean": self.mean,
            "p50": p50,
            "p95": p95,
            "p99": p99,
            "max": float("nan") if empty else self.max,
        }

    def cdf(self) -> tuple[np.ndarray, np.ndarray]:
        """(latency seconds, cumulative fraction) at each non-empty bucket."""
        self.flush()
        h = self.histogram
        nonzero = np.flatnonzero(self._counts)
        if self.count == 0 or nonzero.size == 0:
            return np.empty(0), np.empty(0)
        values = np.array(
            [h.get_highest_equivalent_value(h.get_value_from_index(i)) for i in nonzero]
        )
        fraction = np.cumsum(self._counts[nonzero]) / h.total_count
        return values / NANOSECONDS, fraction


class Reader:
    """One consumer replica (or service) that processes messages: its consumer's name, the
    source it reads, and the streaming histogram of its latencies."""

    __slots__ = ("consumer", "latency", "name", "source")

    def __init__(self, name: str, consumer: str, source: str) -> None:
        self.name = name
        self.consumer = consumer
        self.source = source
        self.latency = LatencyHistogram(digits=2)


class Recorder:
    """Counts, histograms, samples and (optionally) traces everything a run does.

    Three measures are kept exactly, event by event, rather than sampled:

    - the backlog: copies in the system (produced or copied, not yet in a final state), with
      its maximum and its time integral after the warm-up (`mean_backlog`);
    - the ready count of every source (`source(name)` registers one; its broker reports each
      change with `ready_add`), with the maximum over time of their total (`max_queue_depth`);
    - latencies per reader (`reader(...)` registers a consumer replica), for `latency_by`.
    """

    def __init__(
        self,
        env: simpy.Environment,
        warmup: float = 0.0,
        sample_interval: float = 1.0,
        trace: bool = False,
    ) -> None:
        self.env = env
        self.warmup = warmup
        self.sample_interval = sample_interval
        self.produced = 0
        self.published = 0
        self.copies = 0  # extra copies made by routing one message to several queues or groups
        self.delivered = 0
        self.redelivered = 0
        self.processed_total = 0
        self.processed_unique = 0  # messages processed at least once, wherever they ended
        self.acked = 0
        self.requeued = 0
        self.states = [0] * len(State)  # copies per state; LIVE is the backlog
        self.max_backlog = 0
        self._area = 0.0  # integral of the backlog over time after the warm-up
        self._area_at = 0.0  # when the integral was last brought up to date
        self.ready_names: list[str] = []
        self.ready_values: list[int] = []
        self.ready_total = 0
        self.max_queue_depth = 0  # the maximum over time of ready_total
        self.readers: dict[str, Reader] = {}
        self.processed_after_warmup = 0
        self.processed_by: Counter[str] = Counts()
        self.latency = LatencyHistogram()
        # Model-specific counts (timeouts, retries...), read through `counters`. Writes that
        # are in a hot path go to `raw_counters`, the same Counter.
        self.raw_counters: Counter[str] = Counts()
        # Counts a model keeps elsewhere and adds in when the counters are read (`counters`):
        # each call brings its counts into `raw_counters` (see `KafkaProducer.folds_counts`).
        self.count_folds: list[Callable[[], None]] = []
        self.trace: list[tuple[float, int, str, str]] | None = [] if trace else None
        self.events: list[tuple[float, str, str]] = []  # (time, component, event): faults...
        self._columns: list[str] = []  # the gauges' columns, in registration order
        # What a sample reads, in column order: runs of one-column reads (a list, read with
        # one `map` each) and block reads (one call giving several consecutive columns).
        self._segments: list[list[Callable[[], float]] | Callable[[], Sequence[float]]] = []
        self.series: dict[str, list[str]] = {}  # kind -> its columns, in registration order
        self._rows: list[list[float]] = []
        self._last_processed = 0
        self._last_produced = 0

    # ----- what the model reports (one call per state change) -----
    def _log(self, msg: Message, event: str, component: str) -> None:
        # Speed: callers test `self.trace is not None` first, so that a run without tracing
        # pays no call per state change.
        if self.trace is not None:
            self.trace.append((self.env.now, msg.id, event, component))

    def _live(self, delta: int) -> None:
        """The backlog changes by `delta`: bring its time integral up to now first."""
        now = self.env.now
        if now > self._area_at:
            warmup = self.warmup
            if now > warmup:
                since = self._area_at if self._area_at > warmup else warmup
                self._area += self.states[_LIVE_AT] * (now - since)
            self._area_at = now
        live = self.states[_LIVE_AT] + delta
        self.states[_LIVE_AT] = live
        if live > self.max_backlog:
            self.max_backlog = live

    def _move(self, msg: Message, state: State) -> None:
        if msg.state is _LIVE:
            self._live(-1)
        else:
            self.states[msg.state] -= 1
        if state is _LIVE:
            self._live(1)
        else:
            self.states[state] += 1
        msg.state = state

    def _final(self, msg: Message, state: State) -> None:
        # A processed message stays processed: its effect happened, whatever comes after.
        if msg.state is not _PROCESSED:
            self._move(msg, state)

    def backlog(self) -> int:
        """Copies in the system now: produced or copied, and in no final state yet."""
        return self.states[_LIVE_AT]

    def backlog_area(self, until: float) -> float:
        """The integral of the backlog over [warmup, until] (copy-seconds)."""
        self._live(0)
        if until > self._area_at and until > self.warmup:
            since = max(self._area_at, self.warmup)
            return self._area + self.states[_LIVE_AT] * (until - since)
        return self._area

    def produced_message(self, msg: Message, component: str) -> None:
        self.produced += 1
        # Speed: `_live(1)` inlined (once a message): the same steps; SimPy's `_now` field,
        # not its `now` property (a Python call).
        now = self.env._now
        if now > self._area_at:
            warmup = self.warmup
            if now > warmup:
                since = self._area_at if self._area_at > warmup else warmup
                self._area += self.states[_LIVE_AT] * (now - since)
            self._area_at = now
        states = self.states
        live = states[_LIVE_AT] + 1
        states[_LIVE_AT] = live
        if live > self.max_backlog:
            self.max_backlog = live
        if self.trace is not None:
            self._log(msg, "produced", component)

    def copied(self, msg: Message) -> None:
        """`msg` is an extra copy (fan-out, another consumer group): one more to account for."""
        self.copies += 1
        self._live(1)

    # ----- sources and readers -----
    def source(self, name: str) -> int:
        """Register a source (a queue; a topic or stream for one group): its slot for
        `ready_add`. Registering a name again returns its slot."""
        if name in self.ready_names:
            return self.ready_names.index(name)
        self.ready_names.append(name)
        self.ready_values.append(0)
        return len(self.ready_names) - 1

    def ready_add(self, slot: int, delta: int) -> None:
        """The source in `slot` holds `delta` more ready messages (negative: fewer)."""
        self.ready_values[slot] += delta
        total = self.ready_total + delta
        self.ready_total = total
        if total > self.max_queue_depth:
            self.max_queue_depth = total

    def ready_set(self, slot: int, value: int) -> None:
        """The source in `slot` now holds `value` ready messages."""
        delta = value - self.ready_values[slot]
        if delta:
            self.ready_add(slot, delta)

    def reader(self, name: str, consumer: str, source: str) -> Reader:
        """Register the consumer replica (or service) `name`, a replica of `consumer` reading
        `source`: its processing counts in latency_by. Registering again returns the same."""
        found = self.readers.get(name)
        if found is None:
            found = self.readers[name] = Reader(name, consumer, source)
        return found

    def published_message(self, msg: Message, component: str) -> None:
        self.published += 1
        if self.trace is not None:
            self._log(msg, "published", component)

    def rejected(self, msg: Message, component: str) -> None:
        self._final(msg, State.REJECTED)
        if self.trace is not None:
            self._log(msg, "rejected", component)

    def enqueued(self, msg: Message, component: str) -> None:
        if self.trace is not None:
            self._log(msg, "enqueued", component)

    def delivered_message(self, msg: Message, component: str) -> None:
        self.delivered += 1
        if msg.deliveries > 1:
            self.redelivered += 1
        if msg.state is _DEAD_LETTERED:
            # A dead-letter queue delivers it again: the copy is in play (LIVE) until it ends,
            # as sim/message.py's State says. A late processing of a delivery made before it
            # was dead-lettered does not bring it back: only this does.
            self._move(msg, _LIVE)
        if self.trace is not None:
            self._log(msg, "delivered", component)

    def processed(self, msg: Message, component: str) -> None:
        self.processed_total += 1
        times = msg.processed + 1
        msg.processed = times
        self.processed_by[component] += 1
        if times == 1 and msg.state is _LIVE:
            # Speed: the usual case, a live copy processed for the first time: what the
            # general path below does through _final and _move, in one place.
            self.processed_unique += 1
            # Speed: `_live(-1)` inlined (the backlog only falls here: no new maximum);
            # SimPy's `_now` field, not its `now` property (a Python call).
            now = self.env._now
            warmup = self.warmup
            if now > self._area_at:
                if now > warmup:
                    since = self._area_at if self._area_at > warmup else warmup
                    self._area += self.states[_LIVE_AT] * (now - since)
                self._area_at = now
            states = self.states
            states[_LIVE_AT] -= 1
            states[_PROCESSED_AT] += 1
            msg.state = _PROCESSED
            if now >= warmup:
                self.processed_after_warmup += 1
            produced_at = msg.produced_at
            if produced_at >= warmup:
                latency = now - produced_at
                reader = self.readers.get(component)
                if reader is None:  # a part that never registered: its own consumer
                    reader = self.reader(component, component, "")
                # Speed: LatencyHistogram.record for the run's and the reader's histograms,
                # inlined (the same steps: the buffered value, a flush when the buffer is
                # full), written out twice rather than looped over a tuple made a message.
                buffer = self.latency._buffer
                buffer.append(latency)
                if len(buffer) >= _BUFFER:
                    self.latency.flush()
                buffer = reader.latency._buffer
                buffer.append(latency)
                if len(buffer) >= _BUFFER:
                    reader.latency.flush()
            if self.trace is not None:
                self.trace.append((now, msg.id, "processed", component))
            return
        if msg.processed > 1 and msg.state is _LIVE:
            # Processed before, then dead-lettered (an SQS redrive of a message whose delete
            # came too late) and delivered again from the dead-letter queue: it ends processed.
            self._final(msg, _PROCESSED)
        if msg.processed == 1:
            self.processed_unique += 1
            if msg.state is not _LIVE:  # e.g. dead-lettered, then processed from a DLQ
                self._move(msg, _LIVE)  # else _final would take it from the old state
            self._final(msg, _PROCESSED)
            # Throughput counts what finishes inside the measurement window, whenever it was
            # produced: an overloaded queue still works at full speed on its old backlog.
            now = self.env.now
            if now >= self.warmup:
                self.processed_after_warmup += 1
            if msg.produced_at >= self.warmup:
                latency = now - msg.produced_at
                self.latency.record(latency)
                reader = self.readers.get(component)
                if reader is None:  # a part that never registered: its own consumer
                    reader = self.reader(component, component, "")
                reader.latency.record(latency)
        if self.trace is not None:
            self._log(msg, "processed", component)

    def failed(self, msg: Message, component: str) -> None:
        """A try at processing `msg` failed (the copy stays in play: retried, requeued, or
        dead-lettered next). Only the trace records it, one row per failed try."""
        self._log(msg, "failed", component)

    def acked_message(self, msg: Message, component: str) -> None:
        self.acked += 1
        if self.trace is not None:
            self._log(msg, "acked", component)

    def requeued_message(self, msg: Message, component: str) -> None:
        self.requeued += 1
        if self.trace is not None:
            self._log(msg, "requeued", component)

    def dead_lettered(self, msg: Message, component: str) -> None:
        """The copy moved to a dead-letter queue or exchange. Unlike the other final states this
        one also overrides PROCESSED: the copy ends in the dead-letter queue even if a consumer
        had processed it (its processing still counts in throughput, latency and duplicates).
        Delivered again from there it is LIVE, and processed then, PROCESSED again."""
        self._move(msg, State.DEAD_LETTERED)
        if self.trace is not None:
            self._log(msg, "dead-lettered", component)

    def expired(self, msg: Message, component: str) -> None:
        self._final(msg, State.EXPIRED)
        if self.trace is not None:
            self._log(msg, "expired", component)

    def dropped(self, msg: Message, component: str) -> None:
        self._final(msg, State.DROPPED)
        if self.trace is not None:
            self._log(msg, "dropped", component)

    def lost(self, msg: Message, component: str) -> None:
        self._final(msg, State.LOST)
        if self.trace is not None:
            self._log(msg, "lost", component)

    @property
    def counters(self) -> Counter[str]:
        """The model-specific counts, with every count kept elsewhere folded in first."""
        for fold in self.count_folds:
            fold()
        return self.raw_counters

    def count(self, name: str, amount: int = 1) -> None:
        self.raw_counters[name] += amount

    def event(self, component: str, event: str) -> None:
        """Something that happened to a part rather than to a message ("down start", ...)."""
        self.events.append((self.env.now, component, event))

    # ----- time series -----
    def gauge(self, name: str, read: Callable[[], float], kind: str) -> None:
        """Sample `read()` into the column `name` at every sampling instant. `kind` says what
        the column measures ("ready", "kafka.lag"...): Results declares its series by kind,
        and charts are chosen from those declarations (sim/viz/catalog.py)."""
        self._columns.append(name)
        self.series.setdefault(kind, []).append(name)
        segments = self._segments
        if segments and isinstance(segments[-1], list):
            segments[-1].append(read)
        else:
            segments.append([read])

    def gauge_block(
        self, names: list[str], read: Callable[[], Sequence[float]], kind: str | list[str]
    ) -> None:
        """Sample several columns with one call: `read()` returns their values, in the order
        of `names`, at every sampling instant. `kind` is every column's kind, or a list of
        one kind per column.

        Speed: a run takes about 500 samples whatever its length, each reading every column,
        so a per-source column costs 500 reads a run per source; one call for all of them
        (e.g. `operator.itemgetter` over the ready counts, one C call) keeps a sample's cost
        nearly flat in the number of sources."""
        if not names:
            return
        kinds = [kind] * len(names) if isinstance(kind, str) else kind
        if len(kinds) != len(names):
            raise ValueError(f"{len(names)} columns need as many kinds, not {len(kinds)}")
        self._columns.extend(names)
        for name, of in zip(names, kinds, strict=True):
            self.series.setdefault(of, []).append(name)
        self._segments.append(read)

    def ready_gauges(self, names: list[str]) -> None:
        """The `ready.<source>` column of each source in `names` (registered with `source`),
        read from the exact counts the brokers keep here: one C-level read for all of them."""
        slots = [self.source(name) for name in names]
        columns = [f"ready.{name}" for name in names]
        values = self.ready_values
        if len(slots) == 1:
            # itemgetter of one index returns the value itself, not a tuple
            self.gauge(columns[0], partial(values.__getitem__, slots[0]), "ready")
        elif slots == list(range(len(slots))):  # the first slots, in order: a slice
            self.gauge_block(columns, partial(itemgetter(slice(0, len(slots))), values), "ready")
        else:
            self.gauge_block(columns, partial(itemgetter(*slots), values), "ready")

    def start_sampling(self) -> None:
        """Sample now (once the run starts) and every interval after.

        Speed: a timeout's callback takes each sample, not a process (about 500 samples a
        run, each reading every gauge): no generator to resume per sample. The events
        are those a sampling process made, in the same places of the event queue: the first
        sample is an urgent event scheduled now (as SimPy's Initialize of a process is),
        each later one a timeout made while the previous sample is taken."""
        start = simpy.Event(self.env)
        start._ok = True
        start._value = None
        start.callbacks.append(self._tick)  # type: ignore[union-attr]
        self.env.schedule(start, URGENT)

    def _tick(self, _event: simpy.Event) -> None:
        self._sample()
        self.env.timeout(self.sample_interval).callbacks.append(self._tick)  # type: ignore[union-attr]

    def sample_now(self) -> None:
        """Take a sample at the current time (the run's end) unless one was just taken."""
        if not self._rows or self._rows[-1][0] < self.env.now:
            self._sample()

    def _sample(self) -> None:
        unique = self.processed_unique
        now = self.env.now
        interval = (now - self._rows[-1][0]) if self._rows else self.sample_interval
        interval = interval or self.sample_interval
        row = [
            now,
            (self.produced - self._last_produced) / interval,
            (unique - self._last_processed) / interval,
        ]
        self._last_produced, self._last_processed = self.produced, unique
        for segment in self._segments:
            if segment.__class__ is list:
                row.extend(map(call, segment))  # speed: no generator frame per sample
            else:
                row.extend(segment())  # type: ignore[operator]
        self._rows.append(row)

    def timeseries_columns(self) -> list[str]:
        return ["time", "produced_rate", "throughput", *self._columns]

    @property
    def rows(self) -> list[list[float]]:
        return self._rows
