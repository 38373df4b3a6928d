"""Kafka share-group charts (KIP-932): throughput against the number of consumers for consumer
groups and share groups side by side, records processed out of key order, and records by how
many deliveries they took (with the ones the delivery count limit archived). Drawn from Results
only: the summary's `kafka.consumers`, `kafka.share_consumers`, `kafka.partitions`,
`kafka.out_of_key_order` and the `kafka.share.deliveries` table."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from sim.results import Results
from sim.viz.experiments import processing_rate
from sim.viz.style import line_styles, new_figure, subtitle

__all__ = [
    "has_share_deliveries",
    "plot_key_order",
    "plot_share_deliveries",
    "plot_share_scaling",
    "share_consumer_counts_differ",
]


def _share(results: Results) -> bool:
    return results.summary.get("kafka.share_consumers", 0) > 0


def share_consumer_counts_differ(runs: Mapping[str, Results]) -> bool:
    """Share groups among the runs, and runs with different numbers of consumers."""
    counts = {r.summary["kafka.consumers"] for r in runs.values()}
    return len(counts) > 1 and any(_share(r) for r in runs.values())


def has_share_deliveries(results: Results) -> bool:
    table = results.tables.get("kafka.share.deliveries")
    return table is not None and not table.empty


def plot_share_scaling(runs: Mapping[str, Results]) -> Figure:
    """Records processed per second against the consumers reading the topic: one line for
    consumer groups, one for share groups, with the partition count marked."""
    first = next(iter(runs.values()))
    partitions = first.summary.get("kafka.partitions", 0)
    lines = {"consumer group": [], "share group": []}
    for name, results in runs.items():
        kind = "share group" if _share(results) else "consumer group"
        lines[kind].append((results.summary["kafka.consumers"], processing_rate(results), name))
    fig, ax = new_figure()
    styles = line_styles()
    peak = 0.0
    for kind, points in lines.items():
        if not points:
            continue
        points.sort()
        xs, ys = [p[0] for p in points], [p[1] for p in points]
        ax.plot(xs, ys, label=kind, linewidth=1.4, markersize=6, **next(styles))
        for x, y, _ in points:
            finite = bool(np.isfinite(y))
            peak = max(peak, y if finite else 0.0)
            label = f"{y:.0f}/s" if finite else "no samples after the warm-up"
            ax.annotate(
                label, (x, y), xytext=(0, 7), textcoords="offset points", ha="center", fontsize=8
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
    counts = sorted({r.summary["kafka.consumers"] for r in runs.values()})
    ax.set_xticks(counts)
    ax.set_ylim(0, peak * 1.25 if peak > 0 else 1)
    ax.set_title(f"{first.scenario_name}: throughput vs consumers, consumer group and share group")
    ax.set_xlabel("consumers reading the topic (count)")
    ax.set_ylabel("records processed (per second)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    subtitle(
        fig,
        "A consumer group gives each partition to one member; a share group hands one "
        "partition's records to many.",
    )
    return fig


def plot_key_order(runs: Mapping[str, Results]) -> Figure:
    """Per variant, the share of first processings that came after a later record of the same
    key had been processed."""
    names = list(runs)
    counts = [runs[n].summary.get("kafka.out_of_key_order", 0) for n in names]
    processed = [max(1, runs[n].summary.get("processed", 0)) for n in names]
    shares = [100.0 * c / p for c, p in zip(counts, processed, strict=True)]
    x = np.arange(len(names))
    fig, ax = new_figure()
    hatches = ["//" if _share(runs[n]) else "" for n in names]
    bars = ax.bar(x, shares, 0.6, color="white", edgecolor="black", hatch=hatches)
    ax.bar_label(bars, [f"{c:,}" for c in counts], fontsize=8, padding=2)
    ax.set_xticks(x, names, fontsize=8)
    ax.set_xlabel("variant")
    ax.set_ylabel("records out of key order (% of processed)")
    ax.set_ylim(0, max(1.0, *shares) * 1.25)
    first = next(iter(runs.values()))
    ax.set_title(f"{first.scenario_name}: records processed out of key order")
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(
        handles=[
            Patch(facecolor="white", edgecolor="black", label="consumer group"),
            Patch(facecolor="white", edgecolor="black", hatch="//", label="share group"),
        ],
        fontsize=8,
    )
    subtitle(
        fig,
        "A record processed after a later record of its key (labels: how many). "
        "Consumer groups keep per-key order; share groups do not.",
    )
    return fig


def plot_share_deliveries(runs: Mapping[str, Results]) -> Figure:
    """Records by the number of deliveries they took, one group of bars per variant with a
    share group; archived records (the delivery count limit) stand apart."""
    shown = {n: r for n, r in runs.items() if has_share_deliveries(r)}
    first = next(iter(runs.values()))
    fig, ax = new_figure()
    most = 1
    for results in shown.values():
        most = max(most, int(results.tables["kafka.share.deliveries"]["deliveries"].max()))
    deliveries = np.arange(1, most + 1)
    width = 0.8 / max(1, len(shown))
    styles = line_styles()
    for i, (name, results) in enumerate(shown.items()):
        table = results.tables["kafka.share.deliveries"]
        color = next(styles)["color"]
        offset = (i - (len(shown) - 1) / 2) * width
        for outcome, hatch in (("ACKNOWLEDGED", ""), ("ARCHIVED", "xx")):
            rows = table[table["outcome"] == outcome].groupby("deliveries")["records"].sum()
            values = [int(rows.get(d, 0)) for d in deliveries]
            bars = ax.bar(
                deliveries + offset,
                values,
                width,
                color=color if not hatch else "white",
                edgecolor=color,
                hatch=hatch,
                label=f"{name}, {outcome.lower()}" if any(values) else None,
            )
            if hatch:
                ax.bar_label(bars, [f"{v} archived" if v else "" for v in values], fontsize=7)
    ax.set_yscale("log")
    ax.set_ylim(bottom=0.5)  # a single archived record still shows
    ax.set_xticks(deliveries)
    ax.set_xlabel("deliveries of the record (count)")
    ax.set_ylabel("records (count, log scale)")
    ax.set_title(f"{first.scenario_name}: records by number of deliveries")
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(fontsize=7, loc="upper right")
    subtitle(
        fig,
        "Each acquisition is a delivery; at group.share.delivery.count.limit (5) a released "
        "record is archived, not delivered again.",
    )
    return fig
