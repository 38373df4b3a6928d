"""How the work was shared: messages processed per consumer replica, for a run or per variant."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from matplotlib.figure import Figure

from sim.results import Results
from sim.viz.style import line_styles, new_figure, subtitle

__all__ = [
    "has_several_consumers",
    "plot_compare_messages_per_consumer",
    "plot_messages_per_consumer",
]

# Hatches tell the bars apart when the chart is printed in black and white.
_HATCHES = ["", "//", "..", "xx", "\\\\", "++", "oo", "--"]


def has_several_consumers(results: Results) -> bool:
    """Whether the run had at least two consumers to compare (the chart is only drawn then)."""
    return len(results.summary.get("processed_by", {})) >= 2


def _annotate(ax: object, bars: object, total: int) -> None:
    for bar in bars:  # type: ignore[attr-defined]
        height = bar.get_height()
        share = f" ({height / total:.0%})" if total else ""
        ax.annotate(  # type: ignore[attr-defined]
            f"{int(height)}{share}",
            xy=(bar.get_x() + bar.get_width() / 2, height),
            xytext=(0, 2),
            textcoords="offset points",
            ha="center",
            va="bottom",
            fontsize=7.5,
        )


def plot_messages_per_consumer(results: Results) -> Figure:
    """One bar per consumer replica: how many messages it processed over the whole run."""
    counts = results.summary["processed_by"]
    names = list(counts)
    values = [counts[n] for n in names]
    fig, ax = new_figure(max(6.0, 1.1 * len(names) + 3), 4.5)
    bars = ax.bar(names, values, color="#1b4f72", edgecolor="black", width=0.6)
    _annotate(ax, bars, sum(values))
    ax.set_title(f"{results.label}: messages processed per consumer")
    ax.set_xlabel("consumer replica")
    ax.set_ylabel("messages processed (count)")
    ax.set_ylim(0, max(values, default=1) * 1.18 or 1)
    ax.grid(True, axis="y", alpha=0.3)
    ax.tick_params(axis="x", labelrotation=20 if len(names) > 4 else 0)
    subtitle(
        fig,
        "Over the whole run, redelivered duplicates included; the labels give each "
        "consumer's share of all processing.",
    )
    return fig


def plot_compare_messages_per_consumer(runs: Mapping[str, Results]) -> Figure:
    """Grouped bars: for each consumer replica, one bar per variant."""
    names: list[str] = []
    for results in runs.values():
        names.extend(n for n in results.summary["processed_by"] if n not in names)
    width = 0.8 / max(len(runs), 1)
    x = np.arange(len(names))
    fig, ax = new_figure(max(7.0, 1.4 * len(names) * max(len(runs), 1) / 2 + 3), 4.8)
    styles = line_styles()
    peak = 0
    for i, (variant, results) in enumerate(runs.items()):
        counts = results.summary["processed_by"]
        values = [counts.get(n, 0) for n in names]
        peak = max(peak, *values) if values else peak
        bars = ax.bar(
            x + (i - (len(runs) - 1) / 2) * width,
            values,
            width,
            label=variant,
            color=next(styles)["color"],
            edgecolor="black",
            hatch=_HATCHES[i % len(_HATCHES)],
        )
        _annotate(ax, bars, sum(values))
    name = next(iter(runs.values())).scenario_name if runs else ""
    ax.set_title(f"{name}: messages processed per consumer, by variant")
    ax.set_xticks(x, names)
    ax.set_xlabel("consumer replica")
    ax.set_ylabel("messages processed (count)")
    ax.set_ylim(0, peak * 1.2 or 1)
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(title="variant", fontsize=8)
    subtitle(
        fig,
        "Same seed and offered load in every variant; labels give each consumer's share "
        "of that variant's processing.",
    )
    return fig
