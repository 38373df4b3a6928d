"""Charts of a Kafka rebalance storm (a rolling restart, a member over max.poll.interval.ms):
records processed over time with the storm marked, and what each variant cost: records
processed during the storm, partition-seconds no live member consumed, duplicates. Drawn from
Results only: the time series' `throughput`, the events (restart and fault windows) and the
summary's `kafka.restarts`, `kafka.unowned_partition_seconds` and `duplicates`."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from matplotlib.figure import Figure

from sim.faults import windows
from sim.results import Results
from sim.viz.style import line_styles, new_figure, subtitle
from sim.viz.timeseries import time_axis

__all__ = [
    "has_restarts",
    "plot_rebalance_cost",
    "plot_storm_throughput",
    "processed_between",
    "storm_window",
]


def has_restarts(results: Results) -> bool:
    """Whether consumers were restarted (a rolling restart) during the run."""
    return results.summary.get("kafka.restarts", 0) > 0


def storm_window(results: Results) -> tuple[float, float]:
    """From the first restart or fault to the last one's end (the run's end if one is open)."""
    spans = windows(results.events, results.duration)
    if not spans:
        return (results.warmup, results.duration)
    return (min(s[2] for s in spans), max(s[3] for s in spans))


def processed_between(results: Results, start: float, end: float) -> float:
    """Unique records whose processing finished in [start, end], from the sampled throughput
    (each sample's rate times its interval)."""
    frame = results.timeseries
    times = frame["time"].to_numpy()
    rates = frame["throughput"].to_numpy()
    if len(times) < 2:
        return 0.0
    spans = np.diff(times, prepend=times[0])
    spans[0] = 0.0  # the first sample covers nothing before it
    inside = (times > start) & (times <= end)
    return float(np.sum(rates[inside] * spans[inside]))


def plot_storm_throughput(runs: Mapping[str, Results]) -> Figure:
    """Records processed per second over time, one line per variant; the storm shaded."""
    duration = max(r.duration for r in runs.values())
    scale, unit = time_axis(duration)
    fig, ax = new_figure(9.0, 4.5)
    styles = line_styles()
    first = next(iter(runs.values()))
    for _component, _kind, start, end in windows(first.events, first.duration):
        ax.axvspan(start / scale, end / scale, color="0.92", zorder=0)
    for name, results in runs.items():
        frame = results.timeseries
        smooth = frame["throughput"].rolling(5, min_periods=1, center=True).mean()
        ax.plot(
            frame["time"] / scale,
            smooth,
            label=name,
            linewidth=1.3,
            markevery=max(1, len(frame) // 12),
            markersize=4,
            **next(styles),
        )
    offered = first.timeseries["produced_rate"].iloc[1:].mean()
    ax.axhline(offered, color="0.4", linestyle=":", linewidth=1.0)
    ax.annotate("offered", (0, offered), xytext=(3, 3), textcoords="offset points", fontsize=8)
    ax.set_xlim(0, duration / scale)
    ax.set_ylim(bottom=0)
    ax.set_xlabel(f"simulated time ({unit})")
    ax.set_ylabel("records processed (per second)")
    ax.set_title(f"{first.scenario_name}: records processed during the rebalance storm")
    ax.grid(True, alpha=0.3)
    ax.legend(title="variant", fontsize=8)
    subtitle(
        fig,
        "Shaded: a consumer restarting, or slowed past max.poll.interval.ms. "
        "Dips are the group not consuming.",
    )
    return fig


def plot_rebalance_cost(runs: Mapping[str, Results]) -> Figure:
    """Bars per variant: records processed during the storm, partition-seconds without a live
    owner, records processed twice. A panel whose bars are all equal shows no difference
    between the variants, so it is left out and its one value is said in the caption."""
    names = list(runs)
    x = np.arange(len(names))
    during = []
    for results in runs.values():
        start, end = storm_window(results)
        during.append(processed_between(results, start, end))
    duplicates = [r.summary.get("duplicates", 0) for r in runs.values()]
    panels = [
        (during, "records processed\nduring the storm", "records (count)", "{:,.0f}"),
        (
            [r.summary.get("kafka.unowned_partition_seconds", 0.0) for r in runs.values()],
            "partition-seconds\nwith no live owner",
            "time without an owner (partition-s)",
            "{:,.0f}",
        ),
    ]
    caption = (
        "Same seed, same restarts and slow batch in every variant: only the group protocol differs."
    )
    if len(runs) > 1 and len(set(duplicates)) == 1:
        caption += (
            f" Records processed twice: {duplicates[0]:,} in every variant (no protocol saves "
            "the batch a member was still processing when its partitions moved)."
        )
    else:
        panels.append((duplicates, "records processed twice", "records (count)", "{:,}"))
    # One bar per variant in each panel: wider with more variants, so the names stay apart.
    width = max(11.0 * len(panels) / 3, 0.95 * len(panels) * len(names))
    fig, axes = new_figure(width, 4.4, ncols=len(panels))
    # Variant names broken at their hyphens stay level and apart under narrow bars.
    ticks = [name.replace("-", "-\n") for name in names]
    for ax, (values, label, unit, fmt) in zip(axes, panels, strict=True):
        bars = ax.bar(x, values, 0.6, color="white", edgecolor="black", hatch="//")
        ax.bar_label(bars, [fmt.format(v) for v in values], fontsize=7.5, padding=2)
        ax.set_xticks(x, ticks, fontsize=7.5)
        ax.set_title(label, fontsize=9.5)
        ax.set_ylabel(unit)
        ax.set_ylim(0, max(1.0, *values) * 1.2)
        ax.grid(True, axis="y", alpha=0.3)
    first = next(iter(runs.values()))
    fig.suptitle(f"{first.scenario_name}: what the storm cost, by variant")
    subtitle(fig, caption)
    return fig
