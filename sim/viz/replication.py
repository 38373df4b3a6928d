"""A Kafka broker failure, variant by variant: what the producer's `acks` setting changes.

With acks=1 a leader acknowledges a write as soon as it has appended it, before its followers
copy it; when the leader fails, a follower that had not copied the last writes becomes leader
and the old leader's extra records are truncated: acknowledged, then gone. With acks=all the
leader answers only once every in-sync replica has the record (the high watermark passed it),
so a truncated record was never acknowledged and the producer sends it again, and while the
failed broker is still counted in sync nothing is acknowledged at all. (Kafka documentation,
"acks" producer config and "Replication"; KIP-101 on truncation by leader epoch.)

The consumer lag cannot show any of this: lag is measured from the high watermark, which
freezes during the outage. So the chart shows processing and log growth over time, and the
counters of `sim/brokers/kafka/cluster.py` and `producer.py` that differ.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from sim.results import Results
from sim.viz.compare import identical_groups, same_label
from sim.viz.events import mark_events
from sim.viz.style import count, line_styles, new_figure, subtitle
from sim.viz.timeseries import time_axis

__all__ = ["FAILURE_COUNTERS", "plot_broker_failure"]

# Summary key -> what it counts, in the order a learner should read them.
FAILURE_COUNTERS = (
    ("lost", "messages lost"),
    ("kafka.truncated_records", "records truncated by a new leader"),
    ("kafka.retries", "produce retries (batch sent again)"),
    ("kafka.failed_batches", "batches failed (records refused)"),
    ("kafka.not_enough_replicas", "writes refused: NOT_ENOUGH_REPLICAS"),
    ("kafka.offline_partitions", "partitions left without a leader"),
    ("kafka.unclean_elections", "unclean leader elections"),
    ("kafka.leader_elections", "leader elections"),
)


def _processed_rate(results: Results) -> pd.Series:
    return results.timeseries["throughput"]


def _log_growth(results: Results) -> pd.Series:
    """Records appended to the logs per second, from the retained series (clipped at zero:
    retention deleting old segments is not a write)."""
    frame = results.timeseries
    retained = frame[results.columns_of("retained")].sum(axis=1)
    rate = retained.diff() / frame["time"].diff()
    return rate.fillna(0.0).clip(lower=0.0)


def _clip_bursts(ax: Axes, series: list[pd.Series]) -> None:
    """A y range for the steady rates: catch-up bursts (a backlog served at once after the
    outage) would flatten the rest of the chart, so they run off the top, and a note says so."""
    values = pd.concat(series, ignore_index=True)
    steady = float(values.quantile(0.95)) * 1.8
    peak = float(values.max())
    if steady <= 0 or peak <= steady * 1.1:
        ax.set_ylim(bottom=0)
        return
    ax.set_ylim(0, steady)
    ax.text(
        0.99,
        0.96,
        f"bursts off the scale, up to {count(peak)}/s",
        ha="right",
        va="top",
        transform=ax.transAxes,
        fontsize=7.5,
        bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "0.7"},
    )


def plot_broker_failure(runs: Mapping[str, Results]) -> Figure:
    """Left: records processed, and records written to the logs, per second, with the broker
    outage shaded. Right: per variant, the records lost and truncated, the producer's retries
    and refused writes, the partitions that went offline."""
    first = next(iter(runs.values()))
    duration = max(r.duration for r in runs.values())
    scale, unit = time_axis(duration)
    fig = new_figure(13.0, 6.2)[0]
    fig.clf()
    grid = fig.add_gridspec(2, 2, width_ratios=(1.35, 1.0))
    processed = fig.add_subplot(grid[0, 0])
    written = fig.add_subplot(grid[1, 0], sharex=processed)
    counters = fig.add_subplot(grid[:, 1])
    for ax, series, ylabel in (
        (processed, _processed_rate, "processed\n(records/s)"),
        (written, _log_growth, "written to the log\n(records/s)"),
    ):
        values = {name: series(r) for name, r in runs.items()}
        keys = {
            n: (np.asarray(runs[n].timeseries["time"]), np.asarray(v)) for n, v in values.items()
        }
        styles = line_styles()
        for names in identical_groups(keys):
            frame = runs[names[0]].timeseries
            ax.plot(
                frame["time"] / scale,
                values[names[0]],
                label=same_label(names),
                linewidth=1.3,
                markevery=max(1, len(frame) // 10),
                markersize=3.5,
                **next(styles),
            )
        ax.set_ylabel(ylabel)
        _clip_bursts(ax, list(values.values()))
        ax.grid(True, alpha=0.3)
    marks = mark_events([processed, written], first, scale)
    processed.tick_params(labelbottom=False)
    written.set_xlabel(f"simulated time ({unit})")
    written.set_xlim(0, duration / scale)
    handles, labels = processed.get_legend_handles_labels()
    processed.legend(
        handles + marks,
        labels + [str(m.get_label()) for m in marks],
        fontsize=7.5,
        loc="lower left",
        bbox_to_anchor=(0.0, 1.02),
        ncols=3,
        frameon=False,
    )

    shown = [
        (key, label)
        for key, label in FAILURE_COUNTERS
        if any(r.summary.get(key, 0) for r in runs.values())
    ]
    zero = [label for key, label in FAILURE_COUNTERS if (key, label) not in shown]
    names = list(runs)
    y = np.arange(len(shown))
    height = 0.8 / max(1, len(names))
    peak = 1
    for i, name in enumerate(names):
        values = [runs[name].summary.get(key, 0) for key, _ in shown]
        peak = max(peak, *values) if values else peak
        bars = counters.barh(
            y + (i - (len(names) - 1) / 2) * height,
            values,
            height,
            label=name,
            color=["#1b4f72", "#b03a2e", "#1e8449", "#7d3c98"][i % 4],
            edgecolor="black",
            hatch=["", "//", "..", "xx"][i % 4],
        )
        counters.bar_label(bars, labels=[count(v) for v in values], fontsize=7.5, padding=2)
    counters.set_yticks(y, [label for _, label in shown], fontsize=8)
    counters.set_ylim(len(shown) - 0.4, -0.6)
    counters.set_xlim(0, peak * 1.25)
    counters.set_xlabel("count over the run (records, batches or events)")
    counters.yaxis.tick_right()
    counters.grid(True, axis="x", alpha=0.3)
    counters.legend(title="variant", fontsize=8, loc="lower right")
    fig.suptitle(f"{first.scenario_name}: a broker failure, by variant")
    none = f" Zero in every variant: {'; '.join(zero)}." if zero else ""
    subtitle(
        fig,
        "Consumer lag cannot show an outage: it is measured from the high watermark, which "
        "freezes while a failed broker still counts as in sync. acks=1: a leader acknowledges "
        "before its followers copy, so records only it held are truncated when another replica "
        "takes over, and lost. acks=all: nothing is acknowledged until every in-sync replica "
        f"has it, so a truncated record is sent again.{none}",
    )
    return fig
