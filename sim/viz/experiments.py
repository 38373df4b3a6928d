"""Charts of the "why message queues" experiments: variants of services side by side.

Everything is read from Results: the sampled series (`success_rate.<service>`,
`latency_p99.<service>`, `busy.<service>`, `waiting.<service>`, `throughput`...), the fault
events and the topology graph (which service the clients call, what it calls or feeds).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from sim.faults import windows
from sim.results import Results
from sim.viz.events import mark_events
from sim.viz.style import line_styles, new_figure, subtitle
from sim.viz.timeseries import time_axis

__all__ = [
    "consumer_count",
    "entry_and_downstream",
    "fault_windows",
    "has_services",
    "has_spike",
    "outcomes_differ",
    "plot_outcomes",
    "plot_scaling",
    "plot_service_timeline",
    "plot_spike",
    "processing_rate",
]

_OUTCOMES = (
    ("processed", "processed", ""),
    ("backlog_at_end", "still in flight at the end", "...."),
    ("rejected", "rejected (refused at once)", "////"),
    ("expired", "expired (deadline passed)", "xxxx"),
    ("lost", "lost (error or crash)", "\\\\\\\\"),
    ("dropped", "dropped", "----"),
    ("dead_lettered", "dead-lettered", "++++"),
)


def entry_and_downstream(results: Results) -> tuple[str, str | None]:
    """The service clients call (A) and the first service behind it (B), by name."""
    graph = results.topology
    entry = next(
        (
            target
            for node, data in graph.nodes(data=True)
            if data.get("kind") == "client"
            for target in graph.successors(node)
        ),
        None,
    )
    if entry is None:
        return "", None
    for target in graph.successors(entry):
        if graph.nodes[target].get("kind") == "service":
            return entry.removeprefix("service:"), target.removeprefix("service:")
        for consumer in graph.successors(target):  # a queue or exchange it publishes to
            for node in [consumer, *graph.successors(consumer)]:
                if graph.nodes[node].get("kind") == "service":
                    return entry.removeprefix("service:"), node.removeprefix("service:")
    return entry.removeprefix("service:"), None


def fault_windows(results: Results) -> list[tuple[str, str, float, float]]:
    """(component, kind, start, end) for every fault window in the run's events."""
    return windows(results.events, results.duration)


def _column(frame: pd.DataFrame, name: str) -> pd.Series | None:
    return frame[name] if name in frame.columns else None


def _panel_lines(
    ax: Axes,
    runs: Mapping[str, Results],
    column: Callable[[Results], pd.Series | None],
    scale: float,
) -> None:
    styles = line_styles()
    for variant, results in runs.items():
        style = next(styles)
        values = column(results)
        if values is None:
            continue
        frame = results.timeseries
        ax.plot(
            frame["time"] / scale,
            values,
            label=variant,
            markevery=max(1, len(frame) // 10),
            markersize=3.5,
            linewidth=1.3,
            **style,
        )


def _title(runs: Mapping[str, Results]) -> str:
    return next(iter(runs.values())).scenario_name if runs else ""


def plot_service_timeline(runs: Mapping[str, Results]) -> Figure:
    """Four panels on one time axis: what A's clients get (success rate, p99 latency), how
    many of A's workers are held, and how much work waits for B — one line per variant."""
    first = next(iter(runs.values()))
    entry, downstream = entry_and_downstream(first)
    duration = max(r.duration for r in runs.values())
    scale, unit = time_axis(duration)
    fig, axes = new_figure(9.0, 10.0, nrows=4, sharex=True)
    success, latency, busy, backlog = axes

    _panel_lines(success, runs, lambda r: _column(r.timeseries, f"success_rate.{entry}"), scale)
    success.set_ylabel(f"{entry}: success rate\n(fraction of answers)")
    success.set_ylim(-0.03, 1.05)

    _panel_lines(latency, runs, lambda r: _column(r.timeseries, f"latency_p99.{entry}"), scale)
    latency.set_ylabel(f"{entry}: p99 response\ntime (s, log)")
    latency.set_yscale("log")

    _panel_lines(busy, runs, lambda r: _column(r.timeseries, f"busy.{entry}"), scale)
    workers = first.topology.nodes.get(f"service:{entry}", {}).get("workers")
    busy.set_ylabel(f"{entry}: busy workers\n(of {workers})" if workers else "busy workers")
    busy.set_ylim(bottom=0)

    def waiting(results: Results) -> pd.Series | None:
        name = entry_and_downstream(results)[1]
        return None if name is None else _column(results.timeseries, f"waiting.{name}")

    _panel_lines(backlog, runs, waiting, scale)
    backlog.set_ylabel(f"{downstream or 'downstream'}: backlog\n(requests waiting)")
    backlog.set_ylim(bottom=0)
    backlog.set_xlabel(f"simulated time ({unit})")
    backlog.set_xlim(0, duration / scale)

    marks = mark_events(list(axes), first, scale)
    for ax in axes:
        ax.grid(True, alpha=0.3)
    subtitle(
        fig,
        "Sampled every interval; shaded: fault windows. A sync call holds a worker of the caller "
        "until the answer or the timeout.",
    )
    _legend_on_top(
        fig,
        success,
        f"{_title(runs)}: what {entry}'s clients see, and what waits for {downstream}",
        marks,
    )
    return fig


def _legend_on_top(fig: Figure, ax: Axes, title: str, extra: list[Artist] | None = None) -> None:
    """The title, then one legend row for the whole figure, above the panels."""
    handles, labels = ax.get_legend_handles_labels()
    handles += extra or []
    labels += [str(h.get_label()) for h in extra or []]
    fig.subplots_adjust(top=0.91)
    fig.suptitle(title, y=0.985)
    fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.96), ncols=6, fontsize=8)


def plot_spike(runs: Mapping[str, Results]) -> Figure:
    """Load leveling: offered vs completed load, A's success and p99, B's backlog and
    utilisation, one line per variant."""
    first = next(iter(runs.values()))
    entry, downstream = entry_and_downstream(first)
    duration = max(r.duration for r in runs.values())
    scale, unit = time_axis(duration)
    fig, axes = new_figure(9.0, 11.5, nrows=5, sharex=True)
    load, success, latency, backlog, utilisation = axes

    frame = first.timeseries
    load.plot(frame["time"] / scale, frame["produced_rate"], color="0.6", linewidth=1.0)
    load.fill_between(frame["time"] / scale, frame["produced_rate"], color="0.85", label="offered")
    _panel_lines(load, runs, lambda r: r.timeseries["throughput"], scale)
    load.set_ylabel("requests/s\n(offered; completed)")
    load.set_ylim(bottom=0)

    _panel_lines(success, runs, lambda r: _column(r.timeseries, f"success_rate.{entry}"), scale)
    success.set_ylabel(f"{entry}: success rate\n(fraction of answers)")
    success.set_ylim(-0.03, 1.05)

    _panel_lines(latency, runs, lambda r: _column(r.timeseries, f"latency_p99.{entry}"), scale)
    latency.set_ylabel(f"{entry}: p99 response\ntime (s, log)")
    latency.set_yscale("log")

    _panel_lines(backlog, runs, lambda r: _column(r.timeseries, f"waiting.{downstream}"), scale)
    backlog.set_ylabel(f"{downstream}: backlog\n(requests waiting)")
    backlog.set_ylim(bottom=0)

    workers = first.topology.nodes.get(f"service:{downstream}", {}).get("workers") or 1

    def used(results: Results) -> pd.Series | None:
        busy = _column(results.timeseries, f"busy.{downstream}")
        return None if busy is None else busy / workers

    _panel_lines(utilisation, runs, used, scale)
    utilisation.set_ylabel(f"{downstream}: utilisation\n(busy / {workers} workers)")
    utilisation.set_ylim(-0.03, 1.05)
    utilisation.set_xlabel(f"simulated time ({unit})")
    utilisation.set_xlim(0, duration / scale)
    for ax in axes:
        ax.grid(True, alpha=0.3)
    subtitle(fig, "Grey area: offered load. Completed: requests fully processed per second.")
    _legend_on_top(
        fig, load, f"{_title(runs)}: a traffic spike, called directly or through a queue"
    )
    return fig


def outcomes_differ(runs: Mapping[str, Results]) -> bool:
    """Do the variants lose different numbers of messages (lost, rejected, dropped...), and
    enough of them (2% of a variant's messages) for a bar of all messages to show it?"""
    keys = [key for key, _label, _hatch in _OUTCOMES if key not in ("processed", "backlog_at_end")]
    if len({tuple(r.summary.get(k, 0) for k in keys) for r in runs.values()}) < 2:
        return False
    shares = (
        sum(r.summary.get(k, 0) for k in keys) / max(1, r.summary["produced"] + r.summary["copies"])
        for r in runs.values()
    )
    return max(shares) >= 0.02


def plot_outcomes(runs: Mapping[str, Results]) -> Figure:
    """What became of every request, per variant: one stacked bar of final states."""
    what = "requests" if all(has_services(r) for r in runs.values()) else "messages"
    fig, ax = new_figure(9.0, 1.8 + 0.6 * len(runs))
    names = list(runs)
    left = np.zeros(len(names))
    for key, label, hatch in _OUTCOMES:
        counts = np.array([runs[n].summary.get(key, 0) for n in names], dtype=float)
        if not counts.any():
            continue
        ax.barh(
            names,
            counts,
            left=left,
            color="white" if hatch else "0.35",
            edgecolor="black",
            hatch=hatch,
            label=label,
        )
        for y, (count, start) in enumerate(zip(counts, left, strict=True)):
            total = runs[names[y]].summary["produced"] + runs[names[y]].summary.get("copies", 0)
            if total and count / total >= 0.04:
                ax.text(
                    start + count / 2,
                    y,
                    f"{int(count)}",
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="white" if not hatch else "black",
                    bbox=None if not hatch else {"fc": "white", "ec": "none", "pad": 0.5},
                )
        left += counts
    ax.invert_yaxis()
    ax.set_xlabel(f"{what} (count)")
    ax.set_ylabel("variant")
    ax.set_title(f"{_title(runs)}: what became of every {what[:-1]}")
    if ax.get_legend_handles_labels()[0]:  # nothing produced: no bar, so no legend
        ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5), title="final state")
    ax.grid(True, axis="x", alpha=0.3)
    sent = (
        "requests the clients sent" if what == "requests" else "messages produced, copies included"
    )
    subtitle(fig, f"Each bar adds up to the {sent} (conservation).")
    return fig


def consumer_count(results: Results) -> int:
    graph = results.topology
    return sum(
        int(data.get("replicas", 1))
        for _, data in graph.nodes(data=True)
        if data.get("kind") == "consumer"
    )


def plot_scaling(runs: Mapping[str, Results]) -> Figure:
    """Throughput and p99 latency against the number of consumers, one point per variant."""
    points = sorted((consumer_count(r), r) for r in runs.values())
    counts = [n for n, _ in points]
    throughput = [processing_rate(r) for _, r in points]
    p99 = [r.summary["latency_p99"] for _, r in points]
    offered = [_offered(r) for _, r in points]
    fig, (top, bottom) = new_figure(7.5, 7.0, nrows=2, sharex=True)
    top.plot(counts, throughput, color="black", marker="o", label="throughput")
    top.plot(counts, offered, color="0.45", linestyle="--", label="offered load")
    top.set_ylabel("processed (messages/s)")
    top.set_ylim(bottom=0)
    top.legend(fontsize=8, loc="lower right")
    bottom.plot(counts, p99, color="black", marker="s", linestyle="-")
    bottom.set_yscale("log")
    bottom.set_ylabel("p99 latency of the\nmessages processed (s, log)")
    bottom.set_xscale("log", base=2)
    bottom.set_xticks(counts, [str(n) for n in counts])
    bottom.set_xlabel("consumers (competing on one queue)")
    for ax in (top, bottom):
        ax.grid(True, alpha=0.3, which="both")
    top.set_title(f"{_title(runs)}: adding consumers at a fixed offered load")
    subtitle(
        fig,
        "After the warm-up. Past the knee the consumers outpace the load: more stop helping.",
    )
    return fig


def _rate_after_warmup(results: Results, column: str) -> float:
    frame = results.timeseries
    spans = frame["time"].diff()
    after = frame["time"] > results.warmup
    covered = spans[after].sum()
    return float((frame[column][after] * spans[after]).sum() / covered) if covered else math.nan


def processing_rate(results: Results) -> float:
    """Messages processed per second after the warm-up, whenever they were produced.

    (The summary's `throughput` counts only messages produced after the warm-up, which an
    overloaded queue reaches late or never: it would understate what the consumers do.)
    """
    return _rate_after_warmup(results, "throughput")


def _offered(results: Results) -> float:
    return _rate_after_warmup(results, "produced_rate")


def has_services(results: Results) -> bool:
    """Whether the run had synchronous services (their series are declared)."""
    return bool(results.columns_of("service.success"))


def has_spike(results: Results) -> bool:
    """Whether the offered load spikes (peak over four times the median rate)."""
    rate = results.timeseries["produced_rate"]
    return bool(len(rate) > 10 and rate.max() > 4 * max(rate.median(), 1e-9))
