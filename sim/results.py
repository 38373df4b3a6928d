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
from sim.metrics import Recorder

__all__ = ["FINAL_STATES", "SUMMARY_KEYS", "Results", "summarize"]

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
        "copies": recorder.copies,
        "acked": recorder.acked,
        "requeued": recorder.requeued,
        "processed_by": dict(sorted(recorder.processed_by.items())),
    }
    summary.update(sorted(recorder.counters.items()))
    return summary


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
