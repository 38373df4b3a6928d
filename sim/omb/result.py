"""A run's Results as OMB's result file: every field of `TestResult`, in its order and types.

OMB samples every 10 s of its measured phase (`WorkloadGenerator.printAndCollectStats`) and
writes one element per sample into each per-period list, then the whole phase's histograms into
the `aggregated*` fields and the quantile maps (../shared/omb/README.md, "Result file format").
Here the same numbers come from the run's per-message trace (`Results.trace`: when each message
was produced, reached the broker, was processed), cut into the same windows:

- `publishRate`: messages that reached the broker per second of the window; OMB counts
  acknowledged sends (`WorkerStats.recordProducerSuccess`). `consumeRate`: messages processed
  (every subscription's copy, every redelivery), as OMB counts receipts. `publishErrorRate`:
  publishes the broker refused (`rejected`). `backlog`: subscriptions x sent - received since
  the start of the run, at 0 or above, at each sample.
- Publish latency: OMB times a send from `sendAsync` to the broker's ack. mqsim records no ack
  (`Results` has no such event), so the latency here runs from the send to the moment the
  broker took the message (the trace's `published`): client batching (Kafka's linger.ms) and
  the producer's network hop count, the ack's way back and the wait for replicas (acks=all)
  do not. OMB's shape has no field to say so; docs/omb.md does.
- Publish delay: how late a send left against its rate-limiter slot. mqsim's producers are open
  loop and never fall behind their schedule, so it is 0 us for every send.
- End-to-end latency: from the send to the end of processing (consumers here take no time, so
  to the receipt), in microseconds as mqsim measures exactly, not OMB's whole milliseconds;
  like OMB, a latency of 0 is not recorded (`WorkerStats.recordMessageReceived`).
- Rates and the backlog of a sampled run (sim/omb/mapping.py, `Shape`) are scaled back to the
  whole workload; latencies are those of the simulated messages.

All latencies go through OMB's histogram arithmetic (sim/omb/histogram.py). The file is written
as Jackson's default pretty printer writes it (`"key" : value`, arrays on one line, map keys in
Java's Double.toString form), so OMB's own scripts (bin/create_charts.py) read it.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from sim.omb.histogram import Histogram
from sim.results import Results

if TYPE_CHECKING:
    from sim.omb.runner import OmbRun

__all__ = [
    "FIELDS",
    "PERCENTILES",
    "Events",
    "dumps",
    "java_double",
    "read_results",
    "test_result",
    "write_result",
]

#: The percentiles of every latency block, and their key suffixes (TestResult.java).
PERCENTILES = (("50pct", 50.0), ("75pct", 75.0), ("95pct", 95.0), ("99pct", 99.0))
PERCENTILES += (("999pct", 99.9), ("9999pct", 99.99))
PUBLISH_CAP_US = 60_000_000  # WorkerStats.highestTrackableValue: 60 s
END_TO_END_CAP_US = 12 * 3600 * 1_000_000  # the end-to-end Recorder's range: 12 h


def _latency_keys(prefix: str) -> list[str]:
    return [f"{prefix}Avg", *(f"{prefix}{suffix}" for suffix, _ in PERCENTILES), f"{prefix}Max"]


def _aggregated(prefix: str) -> list[str]:
    return [f"aggregated{k[0].upper()}{k[1:]}" for k in _latency_keys(prefix)]


#: TestResult's fields in declaration order (TestResult.java lines 23-97), which is the order
#: Jackson writes them in.
FIELDS: tuple[str, ...] = (
    "workload",
    "driver",
    "messageSize",
    "topics",
    "partitions",
    "producersPerTopic",
    "consumersPerTopic",
    "publishRate",
    "publishErrorRate",
    "consumeRate",
    "backlog",
    *_latency_keys("publishLatency"),
    *_latency_keys("publishDelayLatency"),
    *_aggregated("publishLatency"),
    *_aggregated("publishDelayLatency"),
    "aggregatedPublishLatencyQuantiles",
    "aggregatedPublishDelayLatencyQuantiles",
    *_latency_keys("endToEndLatency"),
    "aggregatedEndToEndLatencyQuantiles",
    *_aggregated("endToEndLatency"),
)


class Events:
    """The trace of a run as arrays: when each message was produced (by id), when messages
    reached the broker, were processed and were refused. `copies`: how many messages the
    producers send for one OMB message (one per subscription where they do the fan-out)."""

    def __init__(self, results: Results, copies: int = 1) -> None:
        trace = results.trace
        if trace is None:
            raise ValueError("an OMB result needs the run's trace (sim.run(..., trace=True))")
        event = trace["event"].to_numpy()
        time = trace["time"].to_numpy(dtype=np.float64)
        ids = trace["message_id"].to_numpy(dtype=np.int64)
        made = event == "produced"
        self.made_at = np.sort(time[made])
        self.produced_at = np.full(int(ids.max(initial=0)) + 1, np.nan)
        self.produced_at[ids[made]] = time[made]
        published = event == "published"
        order = np.argsort(time[published], kind="stable")
        self.sent_at = time[published][order]
        self.sent_id = ids[published][order]
        processed = event == "processed"
        order = np.argsort(time[processed], kind="stable")
        self.received_at = time[processed][order]
        self.received_id = ids[processed][order]
        self.refused_at = np.sort(time[event == "rejected"])
        self.copies = copies

    def backlog(self, at: np.ndarray, subscriptions: int) -> np.ndarray:
        """OMB's backlog at times `at`: subscriptions x messages sent - messages received, in
        simulated messages (unclamped)."""
        sent = np.searchsorted(self.sent_at, at, "right") / self.copies
        received = np.searchsorted(self.received_at, at, "right")
        return subscriptions * sent - received

    def unsent(self, at: np.ndarray) -> np.ndarray:
        """Messages produced but not yet taken by the broker at times `at` (OMB's publish
        backlog: sends due by the rate that have not completed)."""
        made = np.searchsorted(self.made_at, at, "right")
        return (made - np.searchsorted(self.sent_at, at, "right")) / self.copies


def _cuts(times: np.ndarray, edges: np.ndarray) -> np.ndarray:
    return np.searchsorted(times, edges, "left")


def _block(prefix: str, histogram: Histogram, to_ms: bool) -> dict[str, Any]:
    """Avg, the percentiles and Max of one histogram under OMB's keys (ms or integer us)."""
    if to_ms:
        values: list[Any] = [histogram.mean / 1000.0]
        values += [histogram.value_at(p) / 1000.0 for _, p in PERCENTILES]
        values.append(histogram.max / 1000.0)
    else:
        values = [histogram.mean, *(histogram.value_at(p) for _, p in PERCENTILES), histogram.max]
    return dict(zip(_latency_keys(prefix), values, strict=True))


def _quantiles(histogram: Histogram, to_ms: bool) -> dict[float, Any]:
    walk = histogram.percentiles(100)
    return {p: (v / 1000.0 if to_ms else v) for p, v in walk.items()}


def _latencies_us(since: np.ndarray, until: np.ndarray, cap: int) -> np.ndarray:
    """Whole microseconds between two arrays of seconds, at most `cap`."""
    us = np.rint((until - since) * 1e6)
    return np.minimum(us, cap).astype(np.int64)


def test_result(run: OmbRun) -> dict[str, Any]:
    """The OMB TestResult of `run`: every field, in TestResult's order."""
    workload, timeline = run.workload, run.timeline
    events = Events(run.results, run.copies)
    scale = run.shape.scale
    edges = timeline.start + timeline.period * np.arange(timeline.samples + 1)
    period = timeline.period

    publish_us = _latencies_us(events.produced_at[events.sent_id], events.sent_at, PUBLISH_CAP_US)
    e2e_us = _latencies_us(
        events.produced_at[events.received_id], events.received_at, END_TO_END_CAP_US
    )
    sent_cuts = _cuts(events.sent_at, edges)
    received_cuts = _cuts(events.received_at, edges)
    refused_cuts = _cuts(events.refused_at, edges)

    per_window: dict[str, list[Any]] = {k: [] for k in FIELDS[7:] if not k.startswith("aggr")}
    for k in range(timeline.samples):
        sent = slice(int(sent_cuts[k]), int(sent_cuts[k + 1]))
        received = slice(int(received_cuts[k]), int(received_cuts[k + 1]))
        sends, receipts = sent.stop - sent.start, received.stop - received.start
        refused = int(refused_cuts[k + 1] - refused_cuts[k])
        per_window["publishRate"].append(sends / events.copies / period * scale)
        per_window["publishErrorRate"].append(refused / events.copies / period * scale)
        per_window["consumeRate"].append(receipts / period * scale)
        publish = Histogram(publish_us[sent])
        delay = Histogram(np.zeros(sends, dtype=np.int64))
        e2e_values = e2e_us[received]
        e2e = Histogram(e2e_values[e2e_values > 0])
        blocks = (
            _block("publishLatency", publish, True)
            | _block("publishDelayLatency", delay, False)
            | _block("endToEndLatency", e2e, True)
        )
        for key, value in blocks.items():
            per_window[key].append(value)
    subscriptions = workload.subscriptions_per_topic
    backlog = events.backlog(edges[1:], subscriptions)
    per_window["backlog"] = [round(max(0.0, float(b)) * scale) for b in backlog]

    sent_all = slice(int(sent_cuts[0]), int(sent_cuts[-1]))
    received_all = slice(int(received_cuts[0]), int(received_cuts[-1]))
    publish = Histogram(publish_us[sent_all])
    delay = Histogram(np.zeros(sent_all.stop - sent_all.start, dtype=np.int64))
    e2e_values = e2e_us[received_all]
    e2e = Histogram(e2e_values[e2e_values > 0])
    aggregated = {
        **_prefixed(_block("publishLatency", publish, True)),
        **_prefixed(_block("publishDelayLatency", delay, False)),
        "aggregatedPublishLatencyQuantiles": _quantiles(publish, True),
        "aggregatedPublishDelayLatencyQuantiles": _quantiles(delay, False),
        "aggregatedEndToEndLatencyQuantiles": _quantiles(e2e, True),
        **_prefixed(_block("endToEndLatency", e2e, True)),
    }
    head = {
        "workload": workload.title,
        "driver": run.driver_label,
        "messageSize": workload.message_size,
        "topics": workload.topics,
        "partitions": workload.partitions_per_topic,
        "producersPerTopic": workload.producers_per_topic,
        # OMB fills this with consumerPerSubscription (WorkloadGenerator.java line 348).
        "consumersPerTopic": workload.consumer_per_subscription,
    }
    merged = {**head, **per_window, **aggregated}
    return {key: merged[key] for key in FIELDS}


def _prefixed(block: dict[str, Any]) -> dict[str, Any]:
    return {f"aggregated{k[0].upper()}{k[1:]}": v for k, v in block.items()}


# ----- Jackson's default pretty printer -----


def java_double(value: float) -> str:
    """`Double.toString`: plain decimals from 10^-3 to 10^7 with at least one fractional digit,
    otherwise d.dddE<exponent>; the shortest digits that read back as the same double
    (as Java 19 and later, JDK-4511638)."""
    if not math.isfinite(value):
        raise ValueError(f"JSON has no {value!r}")
    if value == 0:
        return "-0.0" if math.copysign(1.0, value) < 0 else "0.0"
    sign = "-" if value < 0 else ""
    digits_tuple = Decimal(repr(abs(value))).normalize().as_tuple()
    digits = "".join(map(str, digits_tuple.digits))
    exponent = len(digits) + int(digits_tuple.exponent) - 1  # of the first digit
    if -3 <= exponent < 7:
        if exponent >= 0:
            whole, fraction = digits[: exponent + 1], digits[exponent + 1 :]
            whole = whole.ljust(exponent + 1, "0")
            return f"{sign}{whole}.{fraction or '0'}"
        return f"{sign}0.{'0' * (-exponent - 1)}{digits}"
    return f"{sign}{digits[0]}.{digits[1:] or '0'}E{exponent}"


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        return java_double(float(value))
    if value is None:
        return "null"
    return json.dumps(str(value), ensure_ascii=False)


def _pretty(value: Any, indent: int) -> Iterator[str]:
    pad = "  " * (indent + 1)
    if isinstance(value, dict):
        if not value:
            yield "{ }"
            return
        items = []
        for key, item in value.items():
            name = java_double(key) if isinstance(key, float) else str(key)
            items.append(
                f"{pad}{json.dumps(name, ensure_ascii=False)} : "
                + "".join(_pretty(item, indent + 1))
            )
        yield "{\n" + ",\n".join(items) + "\n" + "  " * indent + "}"
    elif isinstance(value, list):
        yield "[ ]" if not value else "[ " + ", ".join(_scalar(v) for v in value) + " ]"
    else:
        yield _scalar(value)


def dumps(result: dict[str, Any]) -> str:
    """The result as OMB writes it: Jackson's default pretty printer (Benchmark.java line 213)."""
    ordered = {key: _sorted_map(value) for key, value in result.items()}
    return "".join(_pretty(ordered, 0)) + "\n"


def _sorted_map(value: Any) -> Any:
    """TestResult's quantile maps are TreeMaps: keys in ascending order."""
    if isinstance(value, dict):
        return {k: value[k] for k in sorted(value)}
    return value


def write_result(result: dict[str, Any], path: Path) -> Path:
    """Write the result file at `path` atomically (a temporary file beside it, renamed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        temporary.write_text(dumps(result), encoding="utf-8")
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return path


#: What a JSON file needs to be read as an OMB result (older TestResults, like the Confluent
#: 2020 files, lack the publish-delay fields but have these).
REQUIRED = ("workload", "driver", "publishRate", "aggregatedEndToEndLatencyQuantiles")


def read_results(paths: list[Path]) -> list[tuple[Path, dict[str, Any]]]:
    """OMB result files: each path a `.json` file or a folder of them (sorted by name);
    anything that is not an OMB result is a one-line ScenarioError naming it."""
    from sim.errors import ScenarioError

    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = sorted(path.glob("*.json"))
            if not found:
                raise ScenarioError("no result files (*.json) in this folder", source=str(path))
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            raise ScenarioError("no such file or folder", source=str(path))
    read = []
    for file in files:
        try:
            data = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as error:
            raise ScenarioError(f"not a JSON file ({error})", source=str(file)) from None
        missing = [k for k in REQUIRED if not isinstance(data, dict) or k not in data]
        if missing:
            raise ScenarioError(
                f"not an OMB result file (no {', '.join(missing)})", source=str(file)
            )
        read.append((file, data))
    return read
