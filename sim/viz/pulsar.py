"""Pulsar charts: Key_Shared hash-range ownership over time (and the messages held back by
draining hashes), storage as the unacked backlog against what is acked but still kept, the
backlog of each subscription, and per-key order against duplicates across variants. Drawn from
Results only: its "pulsar.*" series, the `pulsar.hash_ranges` table and the summary."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.collections import PatchCollection
from matplotlib.figure import Figure
from matplotlib.patches import Patch, Rectangle

from sim.results import Results
from sim.viz.events import mark_events
from sim.viz.style import count, line_styles, new_figure, subtitle, wrap_name
from sim.viz.timeseries import time_axis

__all__ = [
    "has_backlog",
    "has_hash_changes",
    "has_storage",
    "ordering_differs",
    "plot_compare_storage",
    "plot_compare_subscription_backlog",
    "plot_hash_ranges",
    "plot_ordering",
    "plot_storage",
    "plot_subscription_backlog",
]

HASH_SLOTS = 65536  # the sticky key hash range (StickyKeyConsumerSelector.DEFAULT_RANGE_SIZE)
_FILLS = ["#9ecae1", "#fdae6b", "#a1d99b", "#bcbddc", "#fc9272", "#bdbdbd", "#fdd0a2", "#c7e9c0"]
_HATCHES = ["", "//", "..", "xx", "\\\\", "--", "++", "oo"]
_MAX_PANELS = 3


def _label(results: Results) -> str:
    return results.variant or results.scenario_name


# ----- hash ranges -----
def has_hash_changes(results: Results) -> bool:
    """A Key_Shared selector changed at least once after it got its first consumer."""
    table = results.tables.get("pulsar.hash_ranges")
    if table is None or table.empty:
        return False
    return bool((table.groupby("partition")["time"].nunique() > 1).any())


def _snapshots(table: pd.DataFrame, end: float) -> list[tuple[float, float, pd.DataFrame]]:
    """(from, to, rows) for each assignment of one partition's selector."""
    times = sorted(table["time"].unique())
    found = []
    for i, start in enumerate(times):
        stop = times[i + 1] if i + 1 < len(times) else end
        rows = table[table["time"] == start]
        # Several changes at one instant: the last one holds.
        found.append((float(start), float(stop), rows))
    return found


def _draw_ranges(ax: Axes, table: pd.DataFrame, end: float, scale: float) -> dict[str, int]:
    consumers = sorted(c for c in table["consumer"].unique() if c)
    index = {name: i for i, name in enumerate(consumers)}
    patches: list[Rectangle] = []
    fills: list[str] = []
    hatches: list[str] = []
    for start, stop, rows in _snapshots(table, end):
        for consumer, low, high in rows[["consumer", "start", "end"]].itertuples(index=False):
            if not consumer:
                continue
            i = index[consumer]
            width = (stop - start) / scale
            patches.append(Rectangle((start / scale, low), width, high - low + 1))
            fills.append(_FILLS[i % len(_FILLS)])
            hatches.append(_HATCHES[i % len(_HATCHES)])
    for patch, fill, hatch in zip(patches, fills, hatches, strict=True):
        patch.set_facecolor(fill)
        patch.set_hatch(hatch)
        patch.set_edgecolor("0.35")
        patch.set_linewidth(0.2)
    ax.add_collection(PatchCollection(patches, match_original=True))
    ax.set_ylim(0, HASH_SLOTS)
    return index


def plot_hash_ranges(runs: Results | Mapping[str, Results]) -> Figure:
    """Who owns which sticky key hashes over time, per Key_Shared subscription (the first
    partition of each), one panel per run that has a change; beneath each, the messages held
    back because their hash is draining."""
    if isinstance(runs, Results):
        runs = {_label(runs): runs}
    shown = [(name, r) for name, r in runs.items() if has_hash_changes(r)][:_MAX_PANELS]
    rows = len(shown)
    fig, axes = new_figure(
        9.5,
        3.4 * rows + 0.6,
        nrows=2 * rows,
        squeeze=False,
        sharex=True,  # one time axis (variants run as long), labelled under each pair
        gridspec_kw={"height_ratios": [3, 1] * rows},
    )
    legend: dict[str, Any] = {}
    for k, (name, results) in enumerate(shown):
        top, bottom = axes[2 * k, 0], axes[2 * k + 1, 0]
        table = results.tables["pulsar.hash_ranges"]
        partition = sorted(table["partition"].unique())[0]
        part = table[table["partition"] == partition]
        subscription = str(part["subscription"].iloc[0])
        scale, unit = time_axis(results.duration)
        index = _draw_ranges(top, part, results.duration, scale)
        for consumer, i in index.items():
            legend.setdefault(
                consumer,
                Patch(
                    facecolor=_FILLS[i % len(_FILLS)],
                    hatch=_HATCHES[i % len(_HATCHES)],
                    edgecolor="0.35",
                    label=consumer,
                ),
            )
        top.set_xlim(0, results.duration / scale)
        top.set_ylabel("sticky key\nhash (slot)")
        top.set_title(f"{name}: {subscription}, hash-range ownership", fontsize=10, loc="left")
        frame = results.timeseries
        column = f"pulsar.draining.{subscription}"
        if column in frame:
            bottom.fill_between(frame["time"] / scale, frame[column], step="post", color="0.55")
        bottom.set_xlim(0, results.duration / scale)
        bottom.set_ylim(bottom=0, top=max(1.0, bottom.get_ylim()[1]))
        bottom.set_ylabel("held by draining\nhashes (messages)", fontsize=8)
        if k == rows - 1:
            bottom.set_xlabel(f"simulated time ({unit})")
        bottom.grid(True, alpha=0.3)
        for mark in mark_events([top, bottom], results, scale):
            legend.setdefault(str(mark.get_label()), mark)
    if legend:
        axes[0, 0].legend(
            handles=list(legend.values()),
            title="consumer / event",
            loc="upper left",
            bbox_to_anchor=(1.01, 1.0),
            fontsize=8,
        )
    subtitle(
        fig,
        "Each band is a range of the 65,536 sticky key hashes and the consumer that owns it; "
        "when a consumer joins or leaves, ranges move. A moved hash whose old owner still "
        "holds unacked messages is blocked (draining) until they are acked: the grey area "
        "below is what waits meanwhile.",
    )
    return fig


# ----- storage -----
def _storage_topics(results: Results) -> list[str]:
    return [
        c.removeprefix("pulsar.storage_backlog.")
        for c in results.columns_of("pulsar.storage_backlog")
    ]


def has_storage(results: Results) -> bool:
    frame = results.timeseries
    return any(
        frame[f"pulsar.storage_backlog.{t}"].max() + frame[f"pulsar.storage_acked.{t}"].max() > 0
        for t in _storage_topics(results)
    )


def _stack(ax: Axes, results: Results, topic: str, scale: float) -> None:
    frame = results.timeseries
    unacked = frame[f"pulsar.storage_backlog.{topic}"].to_numpy()
    acked = frame[f"pulsar.storage_acked.{topic}"].to_numpy()
    x = frame["time"].to_numpy() / scale
    ax.stackplot(
        x,
        unacked,
        acked,
        labels=["unacked backlog (slowest subscription)", "acked, still stored"],
        colors=["#6baed6", "#d9d9d9"],
        step="post",
        edgecolor="0.3",
        linewidth=0.5,
    )
    ax.set_ylim(bottom=0, top=max(1.0, float(np.max(unacked + acked, initial=0)) * 1.08))
    ax.grid(True, alpha=0.3)


def plot_storage(results: Results) -> Figure:
    """Messages stored per topic, stacked: what some subscription has not acked, and what
    every subscription has acked but retention (or the ledger it sits in) still keeps."""
    topics = [t for t in _storage_topics(results)][:_MAX_PANELS]
    scale, unit = time_axis(results.duration)
    fig, axes = new_figure(
        9.0, 1.2 + 2.4 * len(topics), nrows=len(topics), squeeze=False, sharex=True
    )
    for ax, topic in zip(axes[:, 0], topics, strict=True):
        _stack(ax, results, topic, scale)
        ax.set_title(f"topic {topic}", fontsize=10, loc="left")
        ax.set_ylabel("stored (messages)")
        marks = mark_events([ax], results, scale)
        del marks
    axes[0, 0].legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    axes[-1, 0].set_xlabel(f"simulated time ({unit})")
    axes[-1, 0].set_xlim(0, results.duration / scale)
    fig.suptitle(f"{_label(results)}: storage, unacked backlog vs acked but retained")
    subtitle(
        fig,
        "A message is stored while any subscription has not acked it; once all have, retention "
        "may keep it for readers, and deletion goes by whole ledgers: storage falls in steps.",
    )
    return fig


def plot_compare_storage(runs: Mapping[str, Results]) -> Figure:
    """The first topic's storage in each variant, one panel each, on a shared time axis."""
    names = list(runs)[: 2 * _MAX_PANELS]
    duration = max(r.duration for r in runs.values())
    scale, unit = time_axis(duration)
    fig, axes = new_figure(
        9.0, 1.2 + 2.1 * len(names), nrows=len(names), squeeze=False, sharex=True, sharey=True
    )
    for ax, name in zip(axes[:, 0], names, strict=True):
        results = runs[name]
        topics = _storage_topics(results)
        if topics:
            _stack(ax, results, topics[0], scale)
        ax.set_title(name, fontsize=10, loc="left")
        ax.set_ylabel("stored\n(messages)")
        mark_events([ax], results, scale)
    axes[0, 0].legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    axes[-1, 0].set_xlabel(f"simulated time ({unit})")
    axes[-1, 0].set_xlim(0, duration / scale)
    first = next(iter(runs.values()))
    topic = (_storage_topics(first) or ["?"])[0]
    fig.suptitle(f"{first.scenario_name}: storage of topic {topic} by variant")
    subtitle(
        fig,
        "Stacked: the backlog some subscription has not acked, and what all have acked but is "
        "still stored (retention, or a ledger not yet deleted whole).",
    )
    return fig


# ----- subscription backlog -----
def has_backlog(results: Results) -> bool:
    frame = results.timeseries
    return any(frame[c].max() > 0 for c in results.columns_of("pulsar.backlog"))


def _backlog_lines(ax: Axes, results: Results, scale: float) -> None:
    frame = results.timeseries
    styles = line_styles()
    markevery = max(1, len(frame) // 12)
    for column in results.columns_of("pulsar.backlog"):
        ax.plot(
            frame["time"] / scale,
            frame[column],
            label=column.removeprefix("pulsar.backlog."),
            markevery=markevery,
            markersize=3.5,
            linewidth=1.3,
            **next(styles),
        )
    ax.set_ylim(bottom=0, top=max(1.0, ax.get_ylim()[1]))
    ax.grid(True, alpha=0.3)


def plot_subscription_backlog(results: Results) -> Figure:
    """Each subscription's backlog over time: messages stored that it has not acked."""
    scale, unit = time_axis(results.duration)
    fig, ax = new_figure(9.0, 4.5)
    _backlog_lines(ax, results, scale)
    marks = mark_events([ax], results, scale)
    handles, labels = ax.get_legend_handles_labels()
    ax.legend(
        handles + marks,
        labels + [str(m.get_label()) for m in marks],
        title="topic/subscription",
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        fontsize=8,
    )
    ax.set_title(f"{_label(results)}: backlog per subscription")
    ax.set_ylabel("backlog, not acked (messages)")
    ax.set_xlabel(f"simulated time ({unit})")
    ax.set_xlim(0, results.duration / scale)
    subtitle(
        fig,
        "Every subscription gets every message and acks on its own: a slow one's backlog grows "
        "alone, and holds the topic's storage (msgBacklog in Pulsar's topic stats).",
    )
    return fig


def plot_compare_subscription_backlog(runs: Mapping[str, Results]) -> Figure:
    names = list(runs)[: 2 * _MAX_PANELS]
    duration = max(r.duration for r in runs.values())
    scale, unit = time_axis(duration)
    fig, axes = new_figure(
        9.0, 1.2 + 2.1 * len(names), nrows=len(names), squeeze=False, sharex=True
    )
    for ax, name in zip(axes[:, 0], names, strict=True):
        results = runs[name]
        _backlog_lines(ax, results, scale)
        mark_events([ax], results, scale)
        ax.set_title(name, fontsize=10, loc="left")
        ax.set_ylabel("backlog\n(messages)")
        ax.legend(
            loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, title="topic/subscription"
        )
    axes[-1, 0].set_xlabel(f"simulated time ({unit})")
    axes[-1, 0].set_xlim(0, duration / scale)
    first = next(iter(runs.values()))
    fig.suptitle(f"{first.scenario_name}: backlog per subscription by variant")
    subtitle(fig, "Messages stored that the subscription has not acked, per variant.")
    return fig


# ----- ordering -----
def ordering_differs(runs: Mapping[str, Results]) -> bool:
    """Some variant processed messages out of key order, and the variants differ."""
    keys = ("pulsar.out_of_order", "duplicates")
    values = {tuple(r.summary.get(k, 0) for k in keys) for r in runs.values()}
    some = any(r.summary.get("pulsar.out_of_order", 0) > 0 for r in runs.values())
    return some and len(runs) > 1 and len(values) > 1


def plot_ordering(runs: Mapping[str, Results]) -> Figure:
    """Per variant: messages of a key processed after a later message of that key (first
    processings only), and messages processed more than once."""
    names = list(runs)
    out = [int(runs[n].summary.get("pulsar.out_of_order", 0)) for n in names]
    dups = [int(runs[n].summary.get("duplicates", 0)) for n in names]
    fig, ax = new_figure(max(6.0, 1.6 * len(names) + 2.5), 4.5)
    x = np.arange(len(names))
    width = 0.38
    bars = [
        ax.bar(
            x - width / 2, out, width, label="out of key order", color="#6baed6", edgecolor="0.2"
        ),
        ax.bar(
            x + width / 2,
            dups,
            width,
            label="processed twice or more",
            color="#d9d9d9",
            edgecolor="0.2",
            hatch="//",
        ),
    ]
    for group in bars:
        ax.bar_label(group, labels=[count(v) for v in group.datavalues], fontsize=8, padding=2)
    ax.set_xticks(x, [wrap_name(n) for n in names])
    ax.set_ylabel("count (messages)")
    ax.set_ylim(0, max(1, *out, *dups) * 1.2)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    first = next(iter(runs.values()))
    ax.set_title(f"{first.scenario_name}: per-key order and duplicates")
    ax.grid(True, axis="y", alpha=0.3)
    subtitle(
        fig,
        "Out of key order: a message processed for the first time after a later message of "
        "its key (in production order). Exclusive, failover and key_shared (without "
        "allowOutOfOrderDelivery) keep each key in "
        "order; shared does not.",
    )
    return fig
