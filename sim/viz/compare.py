"""Variants of one scenario side by side, on shared axes."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from sim.results import Results
from sim.viz.style import line_styles, new_figure, subtitle
from sim.viz.timeseries import time_axis

__all__ = [
    "plot_compare_depth",
    "plot_compare_latency",
    "plot_delivery_outcomes",
    "plot_variant_totals",
]


def _name(runs: Mapping[str, Results]) -> str:
    return next(iter(runs.values())).scenario_name if runs else ""


def plot_variant_totals(
    runs: Mapping[str, Results],
    total: Callable[[Results], Any],
    title: str,
    ylabel: str,
    caption: str,
) -> tuple[Figure, Any]:
    """One line per variant of a series summed from each run's time series, on shared axes.

    Returns the figure and its axes, so a caller can mark more on it.
    """
    duration = max(r.duration for r in runs.values())
    scale, unit = time_axis(duration)
    fig, ax = new_figure()
    styles = line_styles()
    for variant, results in runs.items():
        frame = results.timeseries
        ax.plot(
            frame["time"] / scale,
            total(results),
            label=variant,
            markevery=max(1, len(frame) // 12),
            markersize=4,
            linewidth=1.4,
            **next(styles),
        )
    ax.set_title(f"{_name(runs)}: {title}")
    ax.set_xlabel(f"simulated time ({unit})")
    ax.set_ylabel(ylabel)
    ax.set_xlim(0, duration / scale)
    ax.set_ylim(bottom=0)
    ax.grid(True, alpha=0.3)
    ax.legend(title="variant", fontsize=8)
    subtitle(fig, caption)
    return fig, ax


def plot_compare_depth(runs: Mapping[str, Results]) -> Figure:
    """Total ready messages over time, one line per variant."""

    def depth(results: Results) -> Any:
        return results.timeseries[results.columns_of("ready")].sum(axis=1)

    fig, _ax = plot_variant_totals(
        runs,
        depth,
        "queue depth by variant",
        "ready messages, all sources (count)",
        "Same seed for every variant, so they differ only by what the variant changes.",
    )
    return fig


def plot_compare_latency(runs: Mapping[str, Results]) -> Figure:
    """Latency CDF per variant, with each variant's p99 in the legend."""
    fig, ax = new_figure()
    styles = line_styles()
    span = []
    empty = [variant for variant, results in runs.items() if results.latency.empty]
    for variant, results in runs.items():
        frame = results.latency
        if frame.empty:
            continue
        style = next(styles)
        p99 = results.summary["latency_p99"]
        ax.step(
            frame["latency"],
            frame["cumulative_fraction"],
            where="post",
            color=style["color"],
            linestyle=style["linestyle"],
            label=f"{variant} (p99 {p99:.3g} s)",
        )
        span.extend([results.summary["latency_p50"], p99])
    if span and max(span) > 30 * max(min(span), 1e-9):  # log only when medians and tails differ
        ax.set_xscale("log")
    ax.set_title(f"{_name(runs)}: end-to-end latency by variant")
    ax.set_xlabel("latency from produce to processing done (s)")
    ax.set_ylabel("fraction of messages at or below (CDF)")
    ax.set_ylim(0, 1.02)
    ax.grid(True, alpha=0.3, which="both")
    if len(empty) == len(runs):
        ax.text(0.5, 0.5, "no messages were processed", ha="center", transform=ax.transAxes)
        subtitle(fig, "No messages were processed in any variant, so there is no latency to show.")
        return fig
    ax.legend(title="variant", fontsize=8, loc="best")
    missing = f" No messages were processed in: {', '.join(empty)}." if empty else ""
    subtitle(fig, "Further left is faster; a long flat tail is a few very slow messages." + missing)
    return fig


def plot_delivery_outcomes(runs: Mapping[str, Results]) -> Figure:
    """Messages processed twice, lost and expired, per variant: what a bar of all messages
    cannot show when they are few."""
    kinds = [
        ("duplicates", "processed twice", "//"),
        ("lost", "lost", "xx"),
        ("expired", "expired", ".."),
    ]
    names = list(runs)
    x = np.arange(len(names))
    width = 0.8 / len(kinds)
    fig, ax = new_figure()
    top = 0
    for i, (key, label, hatch) in enumerate(kinds):
        values = [runs[n].summary.get(key, 0) for n in names]
        top = max(top, *values)
        bars = ax.bar(
            x + (i - 1) * width,
            values,
            width,
            label=label,
            color="white",
            edgecolor="black",
            hatch=hatch,
        )
        ax.bar_label(bars, fontsize=8, padding=2)
    first = next(iter(runs.values()))
    ax.set_xticks(x, names, fontsize=8)
    ax.set_ylabel("messages (count)")
    ax.set_xlabel("variant")
    ax.set_ylim(0, max(1, top) * 1.2)
    ax.set_title(f"{first.scenario_name}: messages processed twice, lost or expired, by variant")
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(fontsize=8)
    subtitle(fig, "Same seed for every variant: the difference is what the variant changes.")
    return fig
