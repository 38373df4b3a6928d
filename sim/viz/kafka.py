"""Kafka charts: consumer lag per partition, partition assignment over time, throughput against the
number of consumers. Drawn from Results only: its "kafka.lag" series, the `kafka.*` tables and
the summary."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from sim.results import Results
from sim.viz.compare import plot_variant_totals
from sim.viz.events import mark_events, same_events
from sim.viz.experiments import processing_rate
from sim.viz.style import line_styles, new_figure, subtitle
from sim.viz.timeseries import time_axis

__all__ = [
    "assignment_changes",
    "lag_columns",
    "plot_compare_lag",
    "plot_consumer_lag",
    "plot_partition_assignment",
    "plot_throughput_vs_consumers",
]

_HATCHES = ["", "//", "..", "xx", "\\\\", "--", "++", "oo"]
_FILLS = ["#c6dbef", "#fdd0a2", "#c7e9c0", "#dadaeb", "#fcbba1", "#d9d9d9", "#fff7bc", "#a6bddb"]


def lag_columns(results: Results) -> dict[str, list[str]]:
    """group -> its `kafka.lag.<group>.<topic>-<p>` columns (the run's "kafka.lag" series),
    in partition order."""
    groups: dict[str, list[str]] = {}
    for column in results.columns_of("kafka.lag"):
        group = column.removeprefix("kafka.lag.").rsplit(".", 1)[0]
        groups.setdefault(group, []).append(column)
    return groups


def assignment_changes(results: Results) -> bool:
    """Whether the partition assignment chart has something to show: a partition that changed
    owner, or a member of the group left without partitions."""
    table = results.tables.get("kafka.assignments")
    if table is None or table.empty:
        return False
    owners = table.groupby(["group", "topic", "partition"])["member"].nunique()
    members = results.tables.get("kafka.members", pd.DataFrame(columns=["group", "member"]))
    idle = set(zip(members["group"], members["member"], strict=True)) - set(
        zip(table["group"], table["member"], strict=True)
    )
    return bool((owners > 1).any() or idle or len(table) > len(owners))


def plot_consumer_lag(results: Results) -> Figure:
    """One panel per consumer group: lag (high watermark minus committed offset) per partition."""
    groups = lag_columns(results)
    frame = results.timeseries
    scale, unit = time_axis(results.duration)
    rows = max(1, len(groups))
    fig, axes = new_figure(9.0, 2.0 + 1.9 * rows, nrows=rows, sharex=True, squeeze=False)
    markevery = max(1, len(frame) // 12)
    for ax, (group, columns) in zip(axes[:, 0], groups.items(), strict=False):
        styles = line_styles()
        for column in columns:
            ax.plot(
                frame["time"] / scale,
                frame[column],
                label=column.rsplit(".", 1)[1],
                markevery=markevery,
                markersize=3.5,
                linewidth=1.2,
                **next(styles),
            )
        marks = mark_events([ax], results, scale)
        ax.set_title(f"group {group}", fontsize=10, loc="left")
        ax.set_ylabel("lag (records)")
        ax.set_ylim(bottom=0)
        ax.grid(True, alpha=0.3)
        handles, labels = ax.get_legend_handles_labels()
        ax.legend(
            handles + marks,
            labels + [str(m.get_label()) for m in marks],
            title="partition" + (" / event" if marks else ""),
            fontsize=7,
            title_fontsize=7,
            loc="upper left",
            bbox_to_anchor=(1.01, 1.0),
        )
    axes[-1, 0].set_xlabel(f"simulated time ({unit})")
    axes[-1, 0].set_xlim(0, results.duration / scale)
    fig.suptitle(f"{results.label}: consumer lag per partition")
    subtitle(
        fig,
        "Lag = records a group has not committed yet (high watermark minus committed offset).",
    )
    return fig


def _text_span(text: str, span: float, fig: Figure) -> float:
    """How much of a time axis `span` long a label at 7.5 pt needs (its bar must be wider)."""
    axes_inches = fig.get_figwidth() - 2.6  # the axes' share of the figure, legend aside
    label_inches = 0.075 * len(text) + 0.12
    return span * label_inches / max(axes_inches, 1.0)


def _assignment_group(results: Results) -> str | None:
    table = results.tables.get("kafka.assignments")
    if table is None or table.empty:
        return None
    rebalances = results.tables.get("kafka.rebalances")
    if rebalances is not None and not rebalances.empty:
        counts = rebalances["group"].value_counts()
        return str(counts.index[0])
    return str(table["group"].iloc[0])


def plot_partition_assignment(results: Results, group: str | None = None) -> Figure:
    """Which member consumed each partition, over time, for one group (the one that rebalanced
    most): a bar per ownership; the shaded spans are rebalances (JoinGroup to SyncGroup)."""
    table = results.tables["kafka.assignments"]
    group = group or _assignment_group(results)
    own = table[table["group"] == group]
    scale, unit = time_axis(results.duration)
    partitions = sorted({(t, p) for t, p in zip(own["topic"], own["partition"], strict=True)})
    fig, ax = new_figure(9.0, 1.6 + 0.45 * max(1, len(partitions)))
    members_table = results.tables.get("kafka.members", pd.DataFrame())
    members = list(dict.fromkeys(members_table.get("member", pd.Series(dtype=str))))
    in_group = members_table[members_table["group"] == group] if len(members_table) else None
    if in_group is not None:
        members = list(dict.fromkeys(in_group["member"]))
    members = members or sorted(set(own["member"]))
    style = {
        m: (_FILLS[i % len(_FILLS)], _HATCHES[i % len(_HATCHES)]) for i, m in enumerate(members)
    }
    row = {tp: i for i, tp in enumerate(partitions)}
    for _, r in own.iterrows():
        fill, hatch = style.get(r["member"], ("white", ""))
        y = row[(r["topic"], r["partition"])]
        start, width = r["start"] / scale, (r["end"] - r["start"]) / scale
        ax.barh(
            y, width, left=start, height=0.7, color=fill, hatch=hatch, edgecolor="black", lw=0.6
        )
        if width > _text_span(str(r["member"]), results.duration / scale, fig):
            ax.text(
                start + width / 2,
                y,
                r["member"],
                ha="center",
                va="center",
                fontsize=7.5,
                bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none"},
            )
    rebalances = results.tables.get("kafka.rebalances")
    if rebalances is not None and not rebalances.empty:
        for _, r in rebalances[rebalances["group"] == group].iterrows():
            if r["completed"] > r["started"]:
                ax.axvspan(r["started"] / scale, r["completed"] / scale, color="0.85", zorder=0)
    marks = mark_events([ax], results, scale)
    ax.set_yticks(range(len(partitions)), [f"{t}-{p}" for t, p in partitions])
    ax.invert_yaxis()
    ax.set_xlim(0, results.duration / scale)
    ax.set_xlabel(f"simulated time ({unit})")
    ax.set_ylabel("partition")
    ax.set_title(f"{results.label}: partition assignment of group {group}")
    owners = set(own["member"])
    handles = [
        Patch(facecolor=style[m][0], hatch=style[m][1], edgecolor="black", label=m)
        for m in members
        if m in owners
    ]
    handles.append(Patch(facecolor="0.85", label="rebalancing"))
    handles.extend(marks)
    ax.legend(handles=handles, fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    idle = [m for m in members if m not in owners]
    note = f" Idle members (no partition): {', '.join(idle)}." if idle else ""
    subtitle(fig, "Who consumed each partition when; gaps are partitions nobody read." + note)
    return fig


def plot_throughput_vs_consumers(runs: Mapping[str, Results]) -> Figure:
    """Records processed per second against the number of consumers in the group."""
    points = sorted(
        (r.summary["kafka.consumers"], processing_rate(r), name) for name, r in runs.items()
    )
    first = next(iter(runs.values()))
    partitions = first.summary.get("kafka.partitions", 0)
    fig, ax = new_figure()
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]
    ax.plot(xs, ys, color="black", marker="o", linewidth=1.4)
    for x, y, _ in points:
        ax.annotate(
            f"{y:.0f}/s" if np.isfinite(y) else "no samples after the warm-up",
            xy=(x, y),
            xytext=(0, 7),
            textcoords="offset points",
            ha="center",
            fontsize=8,
        )
    if partitions:
        ax.axvline(partitions, color="0.4", linestyle="--", linewidth=1.0)
        ax.annotate(
            f"{partitions} partitions",
            xy=(partitions, 0.05),
            xycoords=("data", "axes fraction"),
            xytext=(4, 0),
            textcoords="offset points",
            fontsize=8,
        )
    ax.set_title(f"{first.scenario_name}: throughput vs number of consumers")
    ax.set_xlabel("consumers in the group (count)")
    ax.set_ylabel("records processed (per second)")
    ax.set_xticks(xs)
    peak = max((y for y in ys if np.isfinite(y)), default=0.0)
    ax.set_ylim(0, peak * 1.2 if peak > 0 else 1)  # nothing processed: an empty 0..1 axis
    ax.grid(True, alpha=0.3)
    subtitle(
        fig, "A partition has one reader per group: consumers past the partition count sit idle."
    )
    return fig


def plot_compare_lag(runs: Mapping[str, Results]) -> Figure:
    """Total lag of every group, over time, one line per variant."""

    def lag(results: Results) -> pd.Series:
        columns = [c for cols in lag_columns(results).values() for c in cols]
        return results.timeseries[columns].sum(axis=1)

    fig, ax = plot_variant_totals(
        runs,
        lag,
        "total consumer lag by variant",
        "lag, all partitions (records)",
        "",
        ax=new_figure(10.5, 4.6)[1],  # room for the legend beside the axes
    )
    first = next(iter(runs.values()))
    marks = mark_events([ax], first, time_axis(max(r.duration for r in runs.values()))[0])
    handles, labels = ax.get_legend_handles_labels()
    ax.legend(
        handles + marks,
        labels + [str(m.get_label()) for m in marks],
        title="variant" + (" / event" if marks else ""),
        fontsize=8,
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
    )
    whose = "" if same_events(runs.values()) else f" Events shown: those of {first.variant}."
    subtitle(
        fig,
        "Records produced but not yet committed by their consumer group (the high watermark "
        f"minus the committed offset).{whose}",
    )
    return fig
