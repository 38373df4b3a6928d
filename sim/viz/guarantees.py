"""Charts of the delivery-guarantee experiments: what happened to each message's side effect
(lost, applied once, applied more than once) per strategy, and what each strategy costs.

`plot_effects` reads the summaries of runs (one per variant); `plot_effect_matrix` and
`plot_strategy_cost` read tables of a sweep over seeds (sim.experiments.effects.effect_shares,
`Sweep.metric`), with their confidence intervals as error bars.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from sim.results import Results
from sim.viz.style import new_figure, subtitle, wrap_name

__all__ = [
    "has_ledger",
    "plot_effect_matrix",
    "plot_effects",
    "plot_strategy_cost",
]

_HATCHES = ["", "////", "....", "xxxx", "\\\\\\\\", "++++"]
_SHADES = ["0.25", "0.55", "0.8", "0.4", "0.65", "0.9"]


def has_ledger(results: Results) -> bool:
    """Whether the run had an effect ledger (a consumer with a `guarantee:` section)."""
    return "effects_once" in results.summary


def _percent(count: float, total: float) -> float:
    return 100.0 * count / total if total else 0.0


def _ledger_bars(ax: Axes, runs: Mapping[str, Results], kinds: list[tuple[str, str]]) -> float:
    """Grouped bars of summary counts as % of the messages produced, labelled with counts."""
    names = list(runs)
    x = np.arange(len(names))
    width = 0.8 / len(kinds)
    top = 0.0
    for i, (key, label) in enumerate(kinds):
        counts = [runs[n].summary.get(key, 0) for n in names]
        shares = [
            _percent(c, runs[n].summary["produced"]) for c, n in zip(counts, names, strict=True)
        ]
        top = max(top, *shares)
        bars = ax.bar(
            x + (i - (len(kinds) - 1) / 2) * width,
            shares,
            width,
            label=label,
            color=_SHADES[i],
            edgecolor="black",
            hatch=_HATCHES[i],
        )
        ax.bar_label(bars, labels=[str(c) for c in counts], fontsize=7.5, padding=2)
    ax.set_ylim(0, max(top, 0.01) * 1.25)
    ax.grid(True, axis="y", alpha=0.3)
    return top


def plot_effects(runs: Mapping[str, Results]) -> Figure:
    """Per run (variant), left: what happened to each message's effect in the ledger (lost,
    applied more than once, a duplicate caught by a dedup store), as % of the logical
    messages; right, smaller: what the broker saw (deliveries repeated, messages processed
    again). A redelivery processed again is not an effect applied twice: a consumer that
    deduplicates, or commits its effect with its offsets, processes the message again and
    applies nothing. So the ledger is the headline, and the deliveries are labelled as such."""
    kinds = [
        ("effects_lost", "effect lost (never applied)"),
        ("effects_duplicated", "effect applied more than once"),
        ("effects_suppressed", "duplicate caught (effect not re-applied)"),
    ]
    if not any(r.summary.get("effects_suppressed", 0) for r in runs.values()):
        kinds = kinds[:2]  # no dedup store in these runs: nothing to catch
    deliveries = [
        ("redelivered", "delivered again (redelivery)"),
        ("duplicates", "processed again (a delivery, not an effect)"),
    ]
    names = list(runs)
    fig, (ax, side) = new_figure(
        max(10.0, 2.6 * len(names) + 4.5), 5.2, ncols=2, width_ratios=(2.2, 1.0)
    )
    _ledger_bars(ax, runs, kinds)
    x = np.arange(len(names))
    once = {
        n: _percent(runs[n].summary["effects_once"], runs[n].summary["produced"]) for n in names
    }
    ticks = [f"{wrap_name(n)}\n{once[n]:.2f}% once" for n in names]
    ax.set_xticks(x, ticks, fontsize=8.5)
    ax.set_xlabel("variant (share of messages whose effect was applied exactly once)")
    ax.set_ylabel("messages (% of those produced)")
    ax.set_title("effects, in the ledger (what the business sees)", fontsize=10, pad=34)
    ax.legend(
        fontsize=8, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=len(kinds), frameon=False
    )
    _ledger_bars(side, runs, deliveries)
    side.set_xticks(x, [wrap_name(n) for n in names], fontsize=8)
    side.set_xlabel("variant")
    side.set_ylabel("deliveries (% of messages produced)")
    side.set_title("deliveries, at the broker", fontsize=10, pad=34)
    side.legend(fontsize=7.5, loc="lower center", bbox_to_anchor=(0.5, 1.0), frameon=False)
    first = next(iter(runs.values()))
    fig.suptitle(f"{first.scenario_name}: what happened to each message's effect")
    subtitle(
        fig,
        "Counted per logical message in the effect ledger at the end of one run (same seed "
        "for every variant); bar labels are counts. Right: the broker's view, which counts "
        "deliveries: a message processed again by a consumer that deduplicates (or commits "
        "its effect with its offsets) has its effect applied once.",
    )
    return fig


def _grouped_bars(
    ax: object,
    table: pd.DataFrame,
    group: str,
    member: str,
    member_label: Callable[[Any], str],
) -> None:
    """Bars of `mean` with CI error bars: one group per value of `group`, one bar per value of
    `member` inside it."""
    groups = list(dict.fromkeys(table[group].tolist()))
    members = list(dict.fromkeys(table[member].tolist()))
    width = 0.8 / max(len(members), 1)
    x = np.arange(len(groups))
    for i, value in enumerate(members):
        rows = table[table[member] == value].set_index(group).reindex(groups)
        mean = rows["mean"].to_numpy(dtype=float)
        low = np.nan_to_num(mean - rows["ci_low"].to_numpy(dtype=float))
        high = np.nan_to_num(rows["ci_high"].to_numpy(dtype=float) - mean)
        ax.bar(  # type: ignore[attr-defined]
            x + (i - (len(members) - 1) / 2) * width,
            mean,
            width,
            yerr=np.vstack([np.maximum(low, 0), np.maximum(high, 0)]),
            capsize=3,
            label=member_label(value),
            color=_SHADES[i % len(_SHADES)],
            edgecolor="black",
            hatch=_HATCHES[i % len(_HATCHES)],
            error_kw={"elinewidth": 1.0},
        )
    ax.set_xticks(x, [str(g) for g in groups], fontsize=8.5)  # type: ignore[attr-defined]


def _crash_rate(value: Any) -> str:
    return f"{float(value):.1%} of processings crash"


def plot_effect_matrix(
    table: pd.DataFrame,
    group: str,
    member: str,
    title: str = "",
    seeds: int = 0,
    legend: Callable[[Any], str] = _crash_rate,
    xlabel: str = "consumer strategy",
) -> Figure:
    """Effects lost and duplicated (% of messages) per value of `group` (the strategy), one
    bar per value of `member` (the crash rate, labelled by `legend`), with 95% CI error bars.
    `table` is `sim.experiments.effects.effect_shares(sweep)`; `group` and `member` name two of
    its parameter columns."""
    fig, axes = new_figure(11.0, 4.6, ncols=2)
    for ax, outcome, label in (
        (axes[0], "lost", "effects lost (% of messages)"),
        (axes[1], "duplicated", "effects applied more than once (% of messages)"),
    ):
        rows = table[table["outcome"] == outcome]
        _grouped_bars(ax, rows, group, member, legend)
        ax.set_ylabel(label)
        ax.set_xlabel(xlabel)
        ax.set_ylim(bottom=0)
        ax.grid(True, axis="y", alpha=0.3)
        ax.set_title(outcome, fontsize=10)
    axes[0].legend(fontsize=8, loc="upper right")
    fig.suptitle(title or "Effects lost and duplicated, by strategy and crash rate")
    runs = f"{seeds} seeds per bar, " if seeds else ""
    subtitle(
        fig,
        f"Mean over independent runs ({runs}error bars: 95% CI of the mean); "
        "a bar at zero with no error bar was zero in every run.",
    )
    return fig


def plot_strategy_cost(
    latency: pd.DataFrame,
    throughput: pd.DataFrame,
    strategy: str,
    title: str = "",
    member: str | None = None,
    member_label: Callable[[Any], str] = str,
) -> Figure:
    """Mean and p99 latency (ms) and throughput (messages/s) per strategy, with 95% CIs.
    `latency` has rows of `Sweep.metric("latency_mean")` and `("latency_p99")` stacked with a
    `metric` column; `throughput` is `Sweep.metric("throughput")`, with one bar per value of
    its column `member` (labelled by `member_label`) when given."""
    fig, axes = new_figure(11.0, 4.4, ncols=2)
    scaled = latency.assign(
        mean=latency["mean"] * 1e3, ci_low=latency["ci_low"] * 1e3, ci_high=latency["ci_high"] * 1e3
    )
    _grouped_bars(axes[0], scaled, strategy, "metric", lambda v: str(v).replace("latency_", ""))
    axes[0].set_ylabel("latency, produce to processed (ms)")
    axes[0].legend(fontsize=8, title="latency")
    if member is None:
        _grouped_bars(axes[1], throughput.assign(metric="throughput"), strategy, "metric", str)
    else:
        _grouped_bars(axes[1], throughput, strategy, member, member_label)
        axes[1].legend(fontsize=8)
    axes[1].set_ylabel("throughput (messages/s)")
    for ax in axes:
        ax.set_xlabel("consumer strategy")
        ax.set_ylim(bottom=0)
        ax.grid(True, axis="y", alpha=0.3)
    fig.suptitle(title or "What each strategy costs")
    subtitle(fig, "Mean over independent runs; error bars: 95% CI of the mean.")
    return fig
