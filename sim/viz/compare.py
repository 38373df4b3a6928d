"""Variants of one scenario side by side, on shared axes.

Variants whose lines would be identical are drawn once and named together ("a = b,
identical"), so no line hides under another.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Mapping
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from sim.results import Results
from sim.units import format_duration
from sim.viz.events import mark_events, same_events
from sim.viz.latency import completion
from sim.viz.style import count, line_styles, new_figure, percent, subtitle, wrap_name
from sim.viz.timeseries import depth_sources, has_depth, time_axis

__all__ = [
    "depth_differs",
    "identical_groups",
    "plot_compare_depth",
    "plot_compare_latency",
    "plot_delivery_outcomes",
    "plot_variant_totals",
    "same_label",
]


def _name(runs: Mapping[str, Results]) -> str:
    return next(iter(runs.values())).scenario_name if runs else ""


def identical_groups(values: Mapping[str, Any]) -> list[list[str]]:
    """The names grouped by equal values (arrays compared element by element), in first-seen
    order: [["a", "c"], ["b"]] when a's and c's values are the same."""
    groups: list[tuple[Any, list[str]]] = []
    for name, value in values.items():
        for seen, names in groups:
            if _equal(seen, value):
                names.append(name)
                break
        else:
            groups.append((value, [name]))
    return [names for _, names in groups]


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, pd.DataFrame | pd.Series) or isinstance(b, pd.DataFrame | pd.Series):
        a, b = np.asarray(a), np.asarray(b)
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        a, b = np.asarray(a), np.asarray(b)
        return a.shape == b.shape and bool(np.array_equal(a, b, equal_nan=True))
    if isinstance(a, tuple) and isinstance(b, tuple):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def same_label(names: list[str]) -> str:
    """A legend label for variants drawn as one line: 'a = b (identical)'."""
    return names[0] if len(names) == 1 else f"{' = '.join(names)} (identical)"


def _series_key(results: Results, values: Any) -> Hashable:
    return (np.asarray(results.timeseries["time"]), np.asarray(values))


def plot_variant_totals(
    runs: Mapping[str, Results],
    total: Callable[[Results], Any],
    title: str,
    ylabel: str,
    caption: str,
    ax: Axes | None = None,
) -> tuple[Figure, Any]:
    """One line per variant of a series computed from each run's time series, on shared axes;
    variants with the same series share one line, labelled as identical.

    Returns the figure and its axes, so a caller can mark more on it.
    """
    duration = max(r.duration for r in runs.values())
    scale, unit = time_axis(duration)
    if ax is None:
        fig, ax = new_figure()
    else:
        fig = ax.figure
    styles = line_styles()
    values = {variant: total(results) for variant, results in runs.items()}
    keys = {v: _series_key(runs[v], values[v]) for v in runs}
    for names in identical_groups(keys):
        results = runs[names[0]]
        frame = results.timeseries
        ax.plot(
            frame["time"] / scale,
            values[names[0]],
            label=same_label(names),
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
    if caption:
        subtitle(fig, caption)
    return fig, ax


# ----- queue depth: ready and in flight, each source on its own -----


def _depth(results: Results, kind: str, source: str) -> np.ndarray:
    column = f"{kind}.{source}"
    frame = results.timeseries
    if column in frame:
        return frame[column].to_numpy()
    return np.zeros(len(frame))


def _depth_key(results: Results, source: str) -> Hashable:
    return (
        np.asarray(results.timeseries["time"]),
        _depth(results, "ready", source),
        _depth(results, "in_flight", source),
    )


def depth_differs(runs: Mapping[str, Results]) -> bool:
    """Whether the compared queue depth has something to show: some source held a backlog
    (`has_depth`) in some variant, and not every variant has the same ready and in-flight
    series."""
    sources = depth_sources(runs.values())
    if not sources or not any(has_depth(r) for r in runs.values()):
        return False
    if len(runs) < 2:
        return True
    return any(
        len(identical_groups({v: _depth_key(r, s) for v, r in runs.items()})) > 1 for s in sources
    )


def plot_compare_depth(runs: Mapping[str, Results]) -> Figure:
    """For each source (queue), ready messages above and messages in flight (delivered, not
    yet acknowledged) below, one line per variant: a consumer that prefetches without limit
    empties the queue into its buffer, and only the lower panel shows that backlog."""
    sources = depth_sources(runs.values())
    every = sorted({c.removeprefix("ready.") for r in runs.values() for c in r.columns_of("ready")})
    empty = [s for s in every if s not in sources]
    columns = min(3, max(1, len(sources)))
    blocks = math.ceil(max(1, len(sources)) / columns)
    fig, axes = new_figure(
        max(8.0, 4.6 * columns + 1.2),
        1.2 + 3.6 * blocks,
        nrows=2 * blocks,
        ncols=columns,
        squeeze=False,
    )
    duration = max(r.duration for r in runs.values())
    scale, unit = time_axis(duration)
    handles: dict[str, Any] = {}
    peaks: dict[str, int] = {v: 0 for v in runs}
    style_of = dict(zip(runs, line_styles(), strict=False))  # a variant looks alike everywhere
    grouping = {
        source: identical_groups({v: _depth_key(r, source) for v, r in runs.items()})
        for source in sources
    }
    # The same variants identical in every panel: the legend names them together; else each
    # variant has its entry and a panel says which of its lines stand for several variants.
    together = len({tuple(map(tuple, g)) for g in grouping.values()}) <= 1
    for i, source in enumerate(sources):
        top = axes[2 * (i // columns), i % columns]
        bottom = axes[2 * (i // columns) + 1, i % columns]
        bottom.sharex(top)
        shared = []
        for names in grouping[source]:
            style = style_of[names[0]]
            results = runs[names[0]]
            time = results.timeseries["time"] / scale
            every_n = max(1, len(time) // 10)
            ready = _depth(results, "ready", source)
            flying = _depth(results, "in_flight", source)
            for ax, values in ((top, ready), (bottom, flying)):
                ax.plot(
                    time,
                    values,
                    label=same_label(names),
                    markevery=every_n,
                    ms=3.5,
                    lw=1.3,
                    **style,
                )
            if together:
                handles[same_label(names)] = Line2D([], [], markersize=3.5, lw=1.3, **style)
            elif len(names) > 1:
                shared.append(same_label(names))
            for name in names:
                peaks[name] = max(peaks[name], int((ready + flying).max(initial=0)))
        note = "".join(f"\n{label}" for label in shared)
        top.set_title(f"{source}: ready (waiting in the queue){note}", fontsize=9.5, loc="left")
        bottom.set_title(
            f"{source}: in flight (delivered, not acked){note}", fontsize=9.5, loc="left"
        )
        top.set_ylabel("ready (messages)")
        bottom.set_ylabel("in flight (messages)")
        bottom.set_xlabel(f"simulated time ({unit})")
        top.tick_params(labelbottom=False)
        for ax, kind in ((top, "ready"), (bottom, "in_flight")):
            ax.set_xlim(0, duration / scale)
            ax.set_ylim(bottom=0, top=max(1.0, ax.get_ylim()[1]))
            ax.yaxis.set_major_locator(MaxNLocator(nbins="auto", integer=True))
            ax.grid(True, alpha=0.3)
            if not any(_depth(r, kind, source).any() for r in runs.values()):
                what = "ready" if kind == "ready" else "in flight"
                ax.text(
                    0.5, 0.5, f"never {what} in any variant", ha="center", transform=ax.transAxes
                )
    if not together:
        for name, style in style_of.items():
            handles[name] = Line2D([], [], markersize=3.5, lw=1.3, label=name, **style)
    first = next(iter(runs.values()))
    if sources and same_events(runs.values()):  # the same faults in every variant: shade them
        drawn = [
            axes[2 * (i // columns) + k, i % columns] for i in range(len(sources)) for k in (0, 1)
        ]
        for mark in mark_events(drawn, first, scale):
            handles[str(mark.get_label())] = mark
    for j in range(len(sources), blocks * columns):
        axes[2 * (j // columns), j % columns].set_visible(False)
        axes[2 * (j // columns) + 1, j % columns].set_visible(False)
    if not sources:
        axes[0, 0].text(0.5, 0.5, "no source ever held a message", ha="center")
    fig.suptitle(f"{_name(runs)}: queue depth by variant, ready and in flight")
    peak = ", ".join(f"{v} {count(p)}" for v, p in peaks.items())
    never = f" Never held a message: {', '.join(empty)}." if empty else ""
    subtitle(
        fig,
        "Same seed for every variant. In flight: delivered to a consumer (prefetched or being "
        "processed) and not yet acknowledged. Peak ready plus in flight in one source, at a "
        f"sample: {peak}." + never,
    )
    fig.legend(
        list(handles.values()),
        list(handles),
        title="variant" + (" / event" if len(handles) > len(runs) else ""),
        loc="upper center",
        bbox_to_anchor=(0.5, 1.0),
        ncols=min(len(handles), 4),
        fontsize=8,
    )
    notes = (
        0 if together else max((sum(len(n) > 1 for n in g) for g in grouping.values()), default=0)
    )
    top_space = (0.55 + 0.22 * math.ceil(len(handles) / 4) + 0.17 * notes) / fig.get_figheight()
    fig.subplots_adjust(top=1 - top_space, hspace=0.45 + 0.15 * notes)
    fig._suptitle.set_y(1.0 + 0.35 / fig.get_figheight())  # type: ignore[union-attr]
    return fig


# ----- latency -----


def _ceilings(ax: Axes, ends: list[tuple[float, float, str]]) -> None:
    """Carry each curve on, dotted, from its slowest latency to the right edge: it never
    rises further, as what did not complete never will."""
    if not ends:
        return
    left, right = ax.get_xlim()
    for last, share, color in ends:
        if share < 1.0:
            ax.hlines(share, last, right, colors=color, linestyles=":", linewidth=1.0)
    ax.set_xlim(left, right)


def plot_compare_latency(runs: Mapping[str, Results]) -> Figure:
    """Latency CDF per variant, each ending at the share of its messages (requests) that
    completed: what failed, timed out or never finished stays visible as the gap above."""
    done = {variant: completion(results) for variant, results in runs.items()}
    empty = [variant for variant, results in runs.items() if results.latency.empty]
    keys = {
        v: (
            np.asarray(r.latency["latency"]),
            np.asarray(r.latency["cumulative_fraction"]),
            done[v].completed,
            done[v].total,
        )
        for v, r in runs.items()
        if v not in empty
    }
    groups = identical_groups(keys)
    labels = [
        f"{same_label(names)}: {percent(done[names[0]].completed, done[names[0]].total)} done, "
        f"p99 of those {format_duration(runs[names[0]].summary['latency_p99'])}"
        for names in groups
    ]
    longest = max((len(label) for label in labels), default=0)
    fig, ax = new_figure(min(16.0, max(9.0, 6.3 + 0.065 * longest)), 4.8)  # legend beside
    styles = line_styles()
    span = []
    ends: list[tuple[float, float, str]] = []
    for names, label in zip(groups, labels, strict=True):
        results = runs[names[0]]
        share = done[names[0]].share
        frame = results.latency
        style = next(styles)
        ax.step(
            frame["latency"],
            frame["cumulative_fraction"] * share,
            where="post",
            color=style["color"],
            linestyle=style["linestyle"],
            linewidth=1.5,
            label=label,
        )
        span.extend([results.summary["latency_p50"], results.summary["latency_p99"]])
        ends.append((float(frame["latency"].iloc[-1]), share, style["color"]))
    if span and max(span) > 30 * max(min(span), 1e-9):  # log only when medians and tails differ
        ax.set_xscale("log")
    _ceilings(ax, ends)
    what = next(iter(done.values())).what
    ax.set_title(f"{_name(runs)}: end-to-end latency by variant")
    ax.set_xlabel("latency from produce to processing done (s)")
    ax.set_ylabel(f"share of all {what} done within (CDF)")
    ax.set_ylim(0, 1.02)
    ax.grid(True, alpha=0.3, which="both")
    if len(empty) == len(runs):
        ax.text(0.5, 0.5, "no messages were processed", ha="center", transform=ax.transAxes)
        subtitle(fig, "No messages were processed in any variant, so there is no latency to show.")
        return fig
    ax.legend(
        title="variant: share completed", fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0)
    )
    basis = next(iter(done.values())).basis
    missing = [f"{v}: {d.rest()}" for v, d in done.items() if d.rest()]
    if all(d.rest_is_unfinished() for d in done.values()):
        heading = "Not completed"
    else:  # a warm-up, or copies processed and then dead-lettered: not the same messages
        heading = "Final states besides processed, over the whole run"
    rest = f" {heading}: {'; '.join(missing)}." if missing else ""
    nothing = ""
    if empty:
        what_done = (
            "message produced after the warm-up was"
            if any(runs[v].warmup > 0 for v in empty)
            else "message was"
        )
        nothing = f" No {what_done} processed in: {', '.join(empty)}."
    subtitle(
        fig,
        f"Each curve ends at the share of the {basis} that completed; the gap above it is what "
        f"failed, timed out or never finished.{rest}{nothing} Further left is faster, among "
        "those that completed.",
    )
    return fig


# ----- deliveries that went wrong -----


def _slot(names: list[str]) -> float:
    """Inches of axis per variant so its wrapped name fits under its bars."""
    longest = max((len(line) for n in names for line in wrap_name(n).splitlines()), default=4)
    return max(1.6, 0.075 * longest + 0.5)


def plot_delivery_outcomes(runs: Mapping[str, Results]) -> Figure:
    """Deliveries processed twice, messages lost and expired, per variant: what a bar of all
    messages cannot show when they are few. These count deliveries, not effects: a consumer
    that deduplicates processes a redelivery again without applying its effect twice."""
    kinds = [
        ("duplicates", "delivered and processed again (a redelivery)", "//"),
        ("lost", "lost", "xx"),
        ("expired", "expired", ".."),
    ]
    names = list(runs)
    x = np.arange(len(names))
    width = 0.8 / len(kinds)
    fig, ax = new_figure(max(8.0, _slot(names) * len(names) + 3), 4.6)
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
    ax.set_xticks(x, [wrap_name(n) for n in names], fontsize=8)
    ax.set_ylabel("messages (count)")
    ax.set_xlabel("variant")
    ax.set_ylim(0, max(1, top) * 1.2)
    ax.set_title(f"{first.scenario_name}: deliveries processed twice, messages lost or expired")
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    subtitle(
        fig,
        "Same seed for every variant: the difference is what the variant changes. Counted per "
        "delivery at the broker, not per effect.",
    )
    return fig
