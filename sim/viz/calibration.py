"""The calibration chart: each published row against the cost presets' model value.

Two panels on log-log axes, throughputs (messages a second; a MB/s figure converted at its
1 KiB messages) and end-to-end latencies (ms); one point per modelled row, its system told by
the marker's shape and its study by the fill (hollow mqperf-2021, filled confluent-2020), so
the chart reads in black and white. Latency percentiles from simulated runs of the presets
(`simulated`, row_id -> ms) are crosses. The diagonal is a perfect match and the grey band the
goal, within a factor of 2.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from matplotlib.figure import Figure

from sim.calibration.report import BAND, Outcome
from sim.viz.style import new_figure, subtitle

__all__ = ["calibration_chart"]

MIB = 2**20
SHAPES = ["o", "s", "^", "D", "v", "P", "X", "*"]  # one per system, in order of appearance
FILLED = {"confluent-2020": True, "mqperf-2021": False}


def _messages(o: Outcome) -> tuple[float, float]:
    factor = MIB / 1024 if o.row.unit == "MB/s" else 1.0
    assert o.model is not None
    return o.row.value * factor, o.model * factor


def calibration_chart(found: list[Outcome], simulated: Mapping[str, float] | None = None) -> Figure:
    fig, axes = new_figure(12.0, 5.6, ncols=2)
    systems = list(dict.fromkeys(o.row.system for o in found if o.model is not None))
    markers = {system: SHAPES[i % len(SHAPES)] for i, system in enumerate(systems)}
    panels: list[tuple[Any, str, list[Outcome]]] = [
        (
            axes[0],
            "Throughput (messages/s)",
            [o for o in found if o.model is not None and o.row.unit in ("msgs/s", "MB/s")],
        ),
        (
            axes[1],
            "End-to-end latency (ms)",
            [o for o in found if o.model is not None and o.row.unit == "ms"],
        ),
    ]
    simulated = dict(simulated or {})
    rows = {o.row.row_id: o.row for o in found}
    crosses = [(rows[i].value, v) for i, v in simulated.items() if i in rows]
    for ax, label, points in panels:
        pairs = [_messages(o) if o.row.unit != "ms" else (o.row.value, o.model) for o in points]
        values = [v for pair in pairs for v in pair if v is not None and v > 0]
        if ax is axes[1]:
            values += [v for pair in crosses for v in pair if v > 0]
        low, high = min(values) / 3, max(values) * 3
        line = [low, high]
        ax.fill_between(
            line,
            [v / BAND for v in line],
            [v * BAND for v in line],
            color="#dddddd",
            label=f"within {BAND:g}x",
            zorder=0,
        )
        ax.plot(
            line, line, color="#000000", linewidth=0.8, linestyle="--", label="model = published"
        )
        shown: set[tuple[str, str]] = set()
        for o, (published, model) in zip(points, pairs, strict=True):
            key = (o.row.system, o.row.study)
            filled = FILLED.get(o.row.study, True)
            ax.scatter(
                [published],
                [model],
                marker=markers[o.row.system],
                s=38,
                facecolors="#000000" if filled else "none",
                edgecolors="#000000",
                linewidths=1.0,
                label=f"{o.row.system}, {o.row.study}" if key not in shown else None,
                zorder=3,
            )
            shown.add(key)
        if ax is axes[1] and crosses:
            ax.scatter(
                [a for a, _ in crosses],
                [b for _, b in crosses],
                marker="x",
                s=40,
                color="#000000",
                linewidths=1.0,
                label="percentile of a simulated run",
                zorder=3,
            )
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlim(low, high)
        ax.set_ylim(low, high)
        ax.set_xlabel(f"published: {label}")
        ax.set_ylabel(
            f"model or simulated: {label}" if ax is axes[1] and crosses else f"model: {label}"
        )
        ax.grid(True, which="major", color="#bbbbbb", linewidth=0.5)
        ax.legend(fontsize=7.5, loc="upper left", frameon=True)
    within = sum(1 for o in found if o.model is not None and o.within)
    modelled = sum(1 for o in found if o.model is not None)
    near = sum(1 for a, b in crosses if 1 / BAND <= b / a <= BAND)
    runs = f" Simulated percentiles: {near} of {len(crosses)} within {BAND:g}x." if crosses else ""
    axes[0].set_title("Throughput: published vs model")
    axes[1].set_title("Latency: published vs model and simulated")
    fig.suptitle("Calibrated cost presets against published benchmarks", fontsize=12)
    subtitle(
        fig,
        f"{within} of {modelled} modelled rows within {BAND:g}x (grey band). One point per "
        "row of ../shared/calibration/published.csv; model values from the presets' cost "
        "parameters (tools/calibrate.py); hollow markers mqperf-2021, filled confluent-2020; "
        "crosses: p50 to p99.9 of simulated runs of Confluent's latency tests." + runs,
    )
    assert all(math.isfinite(v) for o in found if o.model is not None for v in (o.model,))
    return fig
