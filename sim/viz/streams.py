"""RabbitMQ stream retention over time: bytes and segment files a stream keeps, and the
whole-segment deletions retention makes (sim/brokers/rabbitmq/stream.py, osiris_log.erl).

Reads the series `rabbitmq.stream_bytes` and `rabbitmq.stream_segments` and the tables
`rabbitmq.stream_retention` (one row per retention evaluation, at each segment roll) and
`rabbitmq.streams` (each stream's limits).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from sim.results import Results
from sim.viz.style import new_figure, subtitle, wrap_name
from sim.viz.timeseries import time_axis

__all__ = [
    "has_stream_deletions",
    "plot_compare_stream_retention",
    "plot_stream_retention",
]

_MB = 1e6
_MAX_STREAMS = 2
_MAX_VARIANTS = 4


def _deleting_streams(results: Results) -> list[str]:
    """Streams whose retention deleted at least one segment during the run."""
    log = results.tables.get("rabbitmq.stream_retention")
    if log is None or log.empty:
        return []
    deleted = log[log.segments_after < log.segments_before]
    return list(dict.fromkeys(deleted.stream))


def has_stream_deletions(results: Results) -> bool:
    return bool(_deleting_streams(results))


def _limits(results: Results, stream: str) -> pd.Series:
    table = results.tables["rabbitmq.streams"]
    return table[table.stream == stream].iloc[0]


def _exact_line(results: Results, stream: str, what: str) -> tuple[np.ndarray, np.ndarray]:
    """The sampled `what` ("bytes" or "segments") with each retention evaluation's before and
    after at its instant, so a deletion is drawn as the vertical drop it is, not smeared over
    a sampling interval (or missed, for the segment count)."""
    frame = results.timeseries
    times = frame["time"].to_numpy(dtype=float)
    values = frame[f"rabbitmq.stream_{what}.{stream}"].to_numpy(dtype=float)
    log = results.tables["rabbitmq.stream_retention"]
    log = log[log.stream == stream]
    points = [(t, 0, v) for t, v in zip(times, values, strict=True)]
    befores, afters = log[f"{what}_before"], log[f"{what}_after"]
    for t, before, after in zip(log.time, befores, afters, strict=True):
        points.append((float(t), 1, float(before)))
        points.append((float(t), 2, float(after)))
    points.sort()
    return np.array([p[0] for p in points]), np.array([p[2] for p in points])


def _draw_bytes(ax: Axes, results: Results, stream: str, scale: float) -> None:
    x, y = _exact_line(results, stream, "bytes")
    ax.plot(x / scale, y / _MB, color="black", linewidth=1.3, label="retained on disk")
    log = results.tables["rabbitmq.stream_retention"]
    drops = log[(log.stream == stream) & (log.segments_after < log.segments_before)]
    ax.plot(
        drops.time / scale,
        drops.bytes_after / _MB,
        linestyle="none",
        marker="v",
        markersize=6,
        markerfacecolor="white",
        markeredgecolor="black",
        label="segments deleted",
    )
    limits = _limits(results, stream)
    if pd.notna(limits.max_length_bytes):
        ax.axhline(
            limits.max_length_bytes / _MB,
            color="0.35",
            linestyle="--",
            linewidth=1.0,
            label="x-max-length-bytes",
        )
    ax.set_ylim(bottom=0)
    ax.grid(True, alpha=0.3)


def _caption(results: Results, stream: str) -> str:
    limits = _limits(results, stream)
    segment = limits.max_segment_size_bytes / _MB
    rule = []
    if pd.notna(limits.max_length_bytes):
        rule.append(f"keeps the newest segments that fit in {limits.max_length_bytes / _MB:g} MB")
    if pd.notna(limits.max_age):
        rule.append(f"deletes segments whose newest entry is older than {limits.max_age:g} s")
    return (
        f"Retention ({' and '.join(rule)}) runs when a new {segment:g} MB segment opens and "
        "deletes whole segments from the front, never the one being written: the bytes kept "
        "rise until a segment fills, then fall by whole segments (osiris_log eval_max_bytes / "
        "eval_age). A reader behind the new start loses what was deleted."
    )


def plot_stream_retention(results: Results) -> Figure:
    """Per stream (at most two): retained bytes with the deletions marked and the byte limit,
    and below it the segment files on disk, against simulated time."""
    streams = _deleting_streams(results)[:_MAX_STREAMS]
    scale, unit = time_axis(results.duration)
    fig, axes = new_figure(
        9.0, 1.4 + 3.6 * len(streams), nrows=2 * len(streams), squeeze=False, sharex=True
    )
    for i, stream in enumerate(streams):
        top, bottom = axes[2 * i, 0], axes[2 * i + 1, 0]
        _draw_bytes(top, results, stream, scale)
        top.set_title(f"stream {stream}", fontsize=10, loc="left")
        top.set_ylabel("retained (MB)")
        top.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
        times, segments = _exact_line(results, stream, "segments")
        bottom.step(times / scale, segments, where="post", color="0.3", linewidth=1.2)
        bottom.set_ylabel("segment files (count)")
        bottom.set_ylim(bottom=0, top=max(2.0, float(np.max(segments, initial=0)) + 1))
        bottom.grid(True, alpha=0.3)
    axes[-1, 0].set_xlabel(f"simulated time ({unit})")
    axes[-1, 0].set_xlim(0, results.duration / scale)
    fig.suptitle(f"{results.label}: stream retention over time")
    subtitle(fig, _caption(results, streams[0]))
    return fig


def plot_compare_stream_retention(runs: Mapping[str, Results]) -> Figure:
    """The first deleting stream's retained bytes in each variant, one panel each, on shared
    axes."""
    names = [n for n, r in runs.items() if has_stream_deletions(r)][:_MAX_VARIANTS]
    duration = max(runs[n].duration for n in names)
    scale, unit = time_axis(duration)
    fig, axes = new_figure(
        9.0, 1.4 + 2.3 * len(names), nrows=len(names), squeeze=False, sharex=True, sharey=True
    )
    for ax, name in zip(axes[:, 0], names, strict=True):
        results = runs[name]
        stream = _deleting_streams(results)[0]
        _draw_bytes(ax, results, stream, scale)
        ax.set_title(f"{wrap_name(name, 40)}: stream {stream}", fontsize=10, loc="left")
        ax.set_ylabel("retained (MB)")
    axes[0, 0].legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    axes[-1, 0].set_xlabel(f"simulated time ({unit})")
    axes[-1, 0].set_xlim(0, duration / scale)
    first = runs[names[0]]
    fig.suptitle(f"{first.scenario_name}: stream retention over time, by variant")
    subtitle(
        fig,
        "Retention deletes whole segments from the front when a new segment opens, never the "
        "one being written. By size the bytes kept saw-tooth from the limit down by one segment; "
        "by age they hold about the publish rate times the age, give or take a segment.",
    )
    return fig
