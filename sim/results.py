"""Results of one run: a summary dict, tidy pandas tables, and a writer for a results folder."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import networkx as nx
import pandas as pd

from sim.message import State
from sim.metrics import LatencyHistogram, Recorder

__all__ = [
    "FINAL_STATES",
    "LATENCY_LEVELS",
    "SUMMARY_KEYS",
    "Results",
    "latency_tables",
    "summarize",
]

#: What `Results.latency_by` groups latencies by.
LATENCY_LEVELS = ("source", "consumer", "replica")
LATENCY_COLUMNS = ["count", "mean", "p50", "p95", "p99", "max"]

# Keys every summary has, whatever the broker (later models add their own beside these).
SUMMARY_KEYS = (
    "produced",
    "published",
    "rejected",
    "dropped",
    "delivered",
    "redelivered",
    "processed",
    "processed_total",
    "duplicates",
    "lost",
    "dead_lettered",
    "expired",
    "backlog_at_end",
    "latency_mean",
    "latency_p50",
    "latency_p95",
    "latency_p99",
    "latency_max",
    "throughput",
    "max_queue_depth",
    "max_backlog",
    "mean_backlog",
)


# Where every copy of a message ends up: these add up to produced + copies in every run.
FINAL_STATES = (
    "processed",
    "lost",
    "dropped",
    "dead_lettered",
    "expired",
    "rejected",
    "backlog_at_end",
)


def summarize(recorder: Recorder, duration: float, warmup: float) -> dict[str, Any]:
    states = recorder.states
    latency = recorder.latency
    window = duration - warmup
    summary: dict[str, Any] = {
        "produced": recorder.produced,
        "published": recorder.published,
        "rejected": states[State.REJECTED],
        "dropped": states[State.DROPPED],
        "delivered": recorder.delivered,
        "redelivered": recorder.redelivered,
        "processed": states[State.PROCESSED],
        "processed_total": recorder.processed_total,
        "duplicates": recorder.processed_total - recorder.processed_unique,
        "lost": states[State.LOST],
        "dead_lettered": states[State.DEAD_LETTERED],
        "expired": states[State.EXPIRED],
        "backlog_at_end": states[State.LIVE],
        "latency_mean": latency.mean,
        "latency_p50": latency.percentile(50),
        "latency_p95": latency.percentile(95),
        "latency_p99": latency.percentile(99),
        "latency_max": latency.max if latency.count else math.nan,
        "throughput": recorder.processed_after_warmup / window if window > 0 else math.nan,
        "max_queue_depth": recorder.max_queue_depth,
        "max_backlog": recorder.max_backlog,
        "mean_backlog": recorder.backlog_area(duration) / window if window > 0 else math.nan,
        "copies": recorder.copies,
        "acked": recorder.acked,
        "requeued": recorder.requeued,
        "processed_by": dict(sorted(recorder.processed_by.items())),
    }
    summary.update(sorted(recorder.counters.items()))
    return summary


def latency_tables(recorder: Recorder, sources: list[str]) -> dict[str, pd.DataFrame]:
    """Latency statistics by source, by consumer and by replica, one row for each (count 0
    where nothing was processed), merged from the readers' streaming histograms."""
    readers = list(recorder.readers.values())
    tables: dict[str, pd.DataFrame] = {}
    for level in LATENCY_LEVELS:
        if level == "replica":
            groups = {r.name: [r] for r in readers}
        else:
            names = [getattr(r, level) for r in readers]
            if level == "source":
                names = [*sources, *names]
            groups = {name: [r for r in readers if getattr(r, level) == name] for name in names}
            groups.pop("", None)  # readers of no source (a service taking calls only)
        rows = {}
        for name, members in groups.items():
            merged = LatencyHistogram(digits=2)
            for member in members:
                merged.add(member.latency)
            rows[name] = merged.stats()
        frame = pd.DataFrame.from_dict(rows, orient="index", columns=LATENCY_COLUMNS)
        frame.index.name = level
        tables[level] = frame.astype({"count": int})
    return tables


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    return value


@dataclass
class Results:
    """What a run produced. `summary` always has the keys in SUMMARY_KEYS.

    `latency` is the latency CDF (one row per histogram bucket), `topology` the graph of the
    scenario's parts: the pictures are drawn from these, never from the model.
    """

    scenario_name: str
    seed: int
    summary: dict[str, Any]
    timeseries: pd.DataFrame
    latency: pd.DataFrame
    trace: pd.DataFrame | None = None
    # What happened to parts (time, component, event), e.g. fault windows: "down start"...
    events: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=["time", "component", "event"])
    )
    topology: nx.DiGraph = field(default_factory=nx.DiGraph)
    duration: float = 0.0
    warmup: float = 0.0
    variant: str = ""
    # Model-specific tables by name, e.g. "kafka.assignments" (who owned which partition when).
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    # Latency statistics by "source", "consumer" and "replica" (latency_tables).
    latencies: dict[str, pd.DataFrame] = field(default_factory=dict)
    # What the time series hold, by kind: "ready", "in_flight", "backlog", "retained", and a
    # model's or a service's own ("kafka.lag", "service.success"...) -> their columns.
    series: dict[str, list[str]] = field(default_factory=dict)

    def columns_of(self, kind: str) -> list[str]:
        """The time-series columns of one kind ([] when the run has none)."""
        return list(self.series.get(kind, ()))

    def latency_by(self, level: str) -> pd.DataFrame:
        """End-to-end latency by "source", "consumer" or "replica": a DataFrame indexed by
        name, one row for every one of them (count 0 where nothing was processed), with
        count, mean, p50, p95, p99 and max in seconds."""
        if level not in LATENCY_LEVELS:
            raise ValueError(f"latency_by takes one of {', '.join(LATENCY_LEVELS)}, not {level!r}")
        return self.latencies[level].copy()

    @property
    def label(self) -> str:
        """The scenario's name, with the variant's when there is one: chart titles use it."""
        return f"{self.scenario_name} ({self.variant})" if self.variant else self.scenario_name

    def summary_json(self) -> str:
        return json.dumps(_json_safe(self.summary), indent=2, sort_keys=False)

    def to_dir(self, path: str | Path) -> Path:
        """Write summary.json, timeseries.csv, trace.csv when traced, events.csv if any, and
        one <name>.csv per model table."""
        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "summary.json").write_text(self.summary_json() + "\n")
        self.timeseries.to_csv(folder / "timeseries.csv", index=False)
        if self.trace is not None:
            self.trace.to_csv(folder / "trace.csv", index=False)
        if not self.events.empty:
            self.events.to_csv(folder / "events.csv", index=False)
        for name, table in self.tables.items():
            table.to_csv(folder / f"{name}.csv", index=False)
        return folder

    def conservation_gap(self) -> int:
        """produced + copies minus the copies accounted for by final states: 0 in every run."""
        s = self.summary
        accounted = sum(s[k] for k in FINAL_STATES)
        return s["produced"] + s["copies"] - accounted
