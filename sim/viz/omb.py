"""OMB-style comparison charts, drawn from OMB result files (mqsim's or OMB's own).

The charts OMB's `bin/create_charts.py` draws for a set of result files of one workload, one
line per driver: the publish rate of each 10 s sample, and the latency quantiles (a percentile
axis that spreads the tail: x = log10(100 / (100 - p)), so 90, 99, 99.9 and 99.99 are evenly
spaced). OMB's files carry no time axis; its script takes one sample per 10 s, and so does this
one unless told the period of the files (mqsim's `--period`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from sim.viz.style import line_styles, new_figure, save, subtitle

__all__ = [
    "omb_charts",
    "plot_latency_quantiles",
    "plot_publish_rate",
    "write_omb_charts",
]

Result = Mapping[str, Any]
OMB_PERIOD = 10.0  # s a sample: WorkloadGenerator.printAndCollectStats, create_charts.py
TAIL = (50.0, 90.0, 99.0, 99.9, 99.99, 99.999)  # the percentiles marked on a quantile axis


def _label(result: Result, labels: Sequence[str], index: int) -> str:
    """The driver's name; two results of one driver are told apart by their file names."""
    return labels[index] if labels else str(result.get("driver", f"result {index + 1}"))


def plot_publish_rate(
    results: Sequence[Result], labels: Sequence[str] = (), period: float = OMB_PERIOD
) -> Figure:
    """Publish rate (msg/s) against time, one line per result, as create_charts.py draws it."""
    fig, ax = new_figure()
    styles = line_styles()
    top = 0.0
    for i, result in enumerate(results):
        rates = [float(r) for r in result["publishRate"]]
        times = [period * (k + 1) for k in range(len(rates))]
        ax.plot(
            times,
            rates,
            label=_label(result, labels, i),
            markersize=4,
            markevery=max(1, len(rates) // 15),
            **next(styles),
        )
        top = max(top, *rates, 0.0)
    workload = str(results[0].get("workload", "")) if results else ""
    ax.set_title(f"{workload}: publish rate" if workload else "Publish rate")
    ax.set_xlabel("time in the measured phase (s)")
    ax.set_ylabel("publish rate (msg/s)")
    ax.set_xlim(left=0)
    ax.set_ylim(0, top * 1.2 or 1.0)
    ax.grid(True, alpha=0.3)
    ax.legend(title="driver", fontsize=8)
    subtitle(fig, f"messages acknowledged per second, one sample every {period:g} s")
    return fig


def _tail_x(percentile: float) -> float:
    return math.log10(100.0 / (100.0 - percentile))


def plot_latency_quantiles(
    results: Sequence[Result],
    key: str = "aggregatedEndToEndLatencyQuantiles",
    title: str = "end-to-end latency quantiles",
    labels: Sequence[str] = (),
) -> Figure:
    """Latency (ms) at each percentile of the whole measured phase, one line per result, on
    OMB's percentile axis; the latency axis is logarithmic when every value is positive."""
    fig, ax = new_figure()
    styles = line_styles()
    positive = True
    drawn = 0
    for i, result in enumerate(results):
        quantiles = sorted((float(p), float(v)) for p, v in result[key].items())
        points = [(p, v) for p, v in quantiles if p <= 99.999]  # create_charts.py's cut
        if not points:
            continue
        positive = positive and all(v > 0 for _, v in points)
        xs = [_tail_x(p) for p, _ in points]
        ax.plot(
            xs,
            [v for _, v in points],
            label=_label(result, labels, i),
            **next(styles),
            markersize=3,
            markevery=max(1, len(points) // 15),
        )
        drawn += 1
    workload = str(results[0].get("workload", "")) if results else ""
    ax.set_title(f"{workload}: {title}" if workload else title[:1].upper() + title[1:])
    ax.set_xticks([_tail_x(p) for p in TAIL], [f"{p:g}%" for p in TAIL])
    ax.set_xlabel("percentile")
    ax.set_ylabel("latency (ms)")
    if drawn and positive:
        ax.set_yscale("log")
    ax.grid(True, alpha=0.3)
    if drawn:
        ax.legend(title="driver", fontsize=8)
    else:
        ax.text(
            0.5, 0.5, "no latencies were recorded", ha="center", va="center", transform=ax.transAxes
        )
    subtitle(fig, "the latency below which each share of the messages fell, whole measured phase")
    return fig


def omb_charts(
    results: Sequence[Result], labels: Sequence[str] = (), period: float = OMB_PERIOD
) -> dict[str, Figure]:
    """The comparison charts of results of one workload: file stem -> figure."""
    return {
        "publish_rate": plot_publish_rate(results, labels, period),
        "end_to_end_latency_quantiles": plot_latency_quantiles(results, labels=labels),
        "publish_latency_quantiles": plot_latency_quantiles(
            results, "aggregatedPublishLatencyQuantiles", "publish latency quantiles", labels
        ),
    }


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower() or "workload"


def _labels(results: Sequence[Result], sources: Sequence[str]) -> list[str]:
    """Each result's driver, with its source (file name) when two results share a driver."""
    drivers = [str(r.get("driver", f"result {i + 1}")) for i, r in enumerate(results)]
    if not sources:
        return drivers
    return [
        f"{name} ({source})" if drivers.count(name) > 1 else name
        for name, source in zip(drivers, sources, strict=True)
    ]


def write_omb_charts(
    results: Sequence[Result],
    folder: Path,
    sources: Sequence[str] = (),
    period: float = OMB_PERIOD,
) -> list[Path]:
    """The charts of every workload among `results` (grouped by their `workload` field, as
    create_charts.py groups them) as PNGs in `folder`: `<workload>_<chart>.png`. Lines are
    labelled by driver, and by `sources` (e.g. file names) where one workload has two results
    of one driver."""
    groups: dict[str, list[int]] = {}
    for i, result in enumerate(results):
        groups.setdefault(str(result.get("workload", "")), []).append(i)
    written = []
    for workload, members in groups.items():
        chosen = [results[i] for i in members]
        labels = _labels(chosen, [sources[i] for i in members] if sources else [])
        for name, figure in omb_charts(chosen, labels, period).items():
            written.append(save(figure, folder / f"{_slug(workload)}_{name}.png"))
    return written
