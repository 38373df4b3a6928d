"""How the work was shared: messages processed per consumer replica, for a run or per variant.

Every registered reader is shown (`Results.latency_by("replica")` has a row for each, idle or
not), so a consumer that never got a partition shows as a bar at zero instead of vanishing.
Replicas sort naturally (worker.8 before worker.13). One panel per variant keeps the chart
narrow whatever the number of replicas; past `MAX_BARS` replicas a panel shows the
consumers ranked by the work they did, without one label each.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Mapping

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from sim.results import Results
from sim.viz.compare import identical_groups, same_label
from sim.viz.experiments import has_services
from sim.viz.style import count, natural_key, new_figure, percent, subtitle

__all__ = [
    "consumer_counts",
    "counts_differ",
    "has_several_consumers",
    "plot_compare_messages_per_consumer",
    "plot_messages_per_consumer",
]

MAX_BARS = 32  # more replicas than this in one panel: a ranked profile instead of named bars
_PANELS_PER_ROW = 5


def consumer_counts(results: Results) -> dict[str, int]:
    """Messages processed by each consumer replica (redeliveries included), every registered
    replica present (0 if it processed nothing), in natural order."""
    processed = results.summary.get("processed_by", {})
    names = set(processed)
    if "replica" in results.latencies:
        names |= set(results.latency_by("replica").index)
    return {name: int(processed.get(name, 0)) for name in sorted(names, key=natural_key)}


def has_several_consumers(results: Results) -> bool:
    """Whether the run had at least two consumer replicas to compare (services, which take
    calls rather than consume, have their own charts)."""
    return not has_services(results) and len(consumer_counts(results)) >= 2


def _bars(ax: Axes, counts: dict[str, int], peak: int, rows: int) -> None:
    """Horizontal bars, one per replica, labelled with count and share."""
    names = list(counts)
    values = np.array([counts[n] for n in names], dtype=float)
    total = values.sum()
    y = np.arange(len(names))
    ax.barh(y, values, color="#1b4f72", edgecolor="black", height=0.65)
    for i, value in enumerate(values):
        label = f"{count(value)} ({percent(value, total)})" if value else "0 (idle)"
        ax.text(value + peak * 0.02, i, label, va="center", fontsize=7.5)
    ax.set_yticks(y, names, fontsize=8)
    ax.set_ylim(rows - 0.4, -0.6)  # the same bar thickness in every panel, from the top
    ax.set_ylabel("consumer replica")


def _profile(ax: Axes, counts: dict[str, int]) -> None:
    """Too many replicas to name: their counts, busiest first, and how many were idle."""
    values = np.array(sorted(counts.values(), reverse=True), dtype=float)
    ranks = np.arange(1, len(values) + 1)
    ax.bar(ranks, values, width=1.0, color="#1b4f72", edgecolor="none")
    idle = int((values == 0).sum())
    note = f"{idle} of {len(values)} idle" if idle else f"none of {len(values)} idle"
    ax.text(0.98, 0.95, note, ha="right", va="top", transform=ax.transAxes, fontsize=8)
    ax.set_xlabel("consumers, busiest first (rank)")
    ax.set_ylabel("messages processed (count)")


def counts_differ(runs: Mapping[str, Results]) -> bool:
    """Whether some variant had several consumers and the variants did not all share the work
    out identically (then one panel per variant would show the same bars again and again)."""
    if not any(has_several_consumers(r) for r in runs.values()):
        return False
    return len(identical_groups({n: consumer_counts(r) for n, r in runs.items()})) > 1


def _draw(runs: Mapping[str, Results], title: str) -> Figure:
    # Variants with the same counts share a panel, named as identical.
    every = {name: consumer_counts(results) for name, results in runs.items()}
    counted = {same_label(names): every[names[0]] for names in identical_groups(every)}
    if list(runs) == [""]:
        counted = every
    most = max((len(c) for c in counted.values()), default=1)
    columns = min(_PANELS_PER_ROW, max(1, len(counted)))
    rows = math.ceil(len(counted) / columns)
    bars = most <= MAX_BARS
    panel_height = max(1.7, 0.26 * most + 0.9) if bars else 3.2
    fig, axes = new_figure(
        max(7.0, 3.7 * columns + 0.8),
        0.9 + panel_height * rows,
        nrows=rows,
        ncols=columns,
        squeeze=False,
        sharex=bars,
    )
    peak = max((max(c.values(), default=0) for c in counted.values()), default=0) or 1
    # A panel's axes: its share of the figure less about an inch of tick labels, at about 13
    # characters an inch for a 9.5-point title.
    title_chars = max(20, int((fig.get_figwidth() / columns - 1.0) * 13))
    for ax, (name, counts) in zip(axes.flat, counted.items(), strict=False):
        idle = sum(1 for v in counts.values() if v == 0)
        if bars:
            _bars(ax, counts, peak, most)
            ax.tick_params(labelbottom=True)
            ax.set_xlim(0, peak * 1.45)
            ax.set_xlabel("messages processed (count)")
            ax.grid(True, axis="x", alpha=0.3)
        else:
            _profile(ax, counts)
            ax.grid(True, axis="y", alpha=0.3)
        heading = f"{len(counts)} consumer{'s' if len(counts) != 1 else ''}"
        heading += f", {idle} idle" if idle else ""
        ax.set_title(_panel_title(name, heading, title_chars), fontsize=9.5, loc="left")
    for ax in list(axes.flat)[len(counted) :]:
        ax.set_visible(False)
    fig.suptitle(title)
    subtitle(
        fig,
        "Over the whole run, redelivered duplicates included; every consumer that registered "
        "is listed, an idle one at 0. Labels: messages (share of that run's processing).",
    )
    return fig


def _panel_title(name: str, heading: str, width: int) -> str:
    """'name: heading' in lines of at most `width` characters. Identical variants share a panel
    under all their names, so a title can be longer than its panel; wrapped, it keeps off its
    neighbour's, and the heading ("10 consumers, 2 idle") stays on one line."""
    if not name:
        return heading
    lines = textwrap.wrap(f"{name}:", width, break_on_hyphens=False)
    if len(lines[-1]) + 1 + len(heading) <= width:
        lines[-1] += f" {heading}"
    else:
        lines.append(heading)
    return "\n".join(lines)


def plot_messages_per_consumer(results: Results) -> Figure:
    """One bar per consumer replica: how many messages it processed over the whole run."""
    return _draw({"": results}, f"{results.label}: messages processed per consumer")


def plot_compare_messages_per_consumer(runs: Mapping[str, Results]) -> Figure:
    """One panel per variant, one bar per consumer replica, on a shared scale."""
    name = next(iter(runs.values())).scenario_name if runs else ""
    return _draw(runs, f"{name}: messages processed per consumer, by variant")
