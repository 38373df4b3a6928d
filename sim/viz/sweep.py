"""A sweep's mean of one metric against one parameter, with its confidence band."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, NullLocator

from sim.units import parse_duration, parse_rate, parse_size
from sim.viz.style import line_styles, new_figure, subtitle

__all__ = ["metric_label", "plot_sweep"]


def metric_label(metric: str) -> str:
    """A summary key with its unit, for an axis."""
    if metric.startswith("latency_"):
        return f"{metric} (s)"
    if metric == "throughput":
        return "throughput (messages/s)"
    return f"{metric} (messages)"


# Parameter values written with units ("0.5/s", "250ms", "1KiB") are placed by their value.
_PARSERS: tuple[tuple[str, Callable[[Any], float]], ...] = (
    ("per s", parse_rate),
    ("s", parse_duration),
    ("bytes", parse_size),
)


def _positions(values: Sequence[Any]) -> tuple[list[float], str, bool]:
    """Numeric x positions for parameter values, the unit they are in, and whether categorical."""
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        return [float(v) for v in values], "", False
    if all(isinstance(v, str) for v in values):
        for unit, parse in _PARSERS:
            if unit == "per s" and not all("/" in v for v in values):
                continue
            try:
                return [float(parse(v)) for v in values], unit, False
            except ValueError:
                continue
    return [float(i) for i in range(len(values))], "", True


def _label(names: Sequence[str], values: Sequence[Any]) -> str:
    return ", ".join(f"{n}={v}" for n, v in zip(names, values, strict=True))


def plot_sweep(
    frame: pd.DataFrame,
    x: str,
    y: str,
    hue: Sequence[str] = (),
    title: str = "",
    seeds: int = 0,
    level: float = 0.95,
) -> Figure:
    """`frame`: one row per grid point with the parameters, `mean`, `ci_low` and `ci_high`."""
    distinct = list(dict.fromkeys(frame[x].tolist()))
    positions, unit, categorical = _positions(distinct)
    where = dict(zip(map(repr, distinct), positions, strict=True))
    fig, ax = new_figure()
    styles = line_styles()
    groups = [((), frame)] if not hue else frame.groupby(list(hue), sort=False, dropna=False)
    for key, group in groups:
        style = next(styles)
        xs = np.array([where[repr(v)] for v in group[x]])
        order = np.argsort(xs, kind="stable")
        xs = xs[order]
        mean = group["mean"].to_numpy(dtype=float)[order]
        low = group["ci_low"].to_numpy(dtype=float)[order]
        high = group["ci_high"].to_numpy(dtype=float)[order]
        keys = key if isinstance(key, tuple) else (key,)
        label = _label(list(hue), keys) if hue else f"simulated mean ({level:.0%} CI)"
        ax.fill_between(xs, low, high, color=style["color"], alpha=0.15, linewidth=0)
        # Error bars as well as the band: caps stay legible in black and white where bands overlap.
        ax.errorbar(
            xs,
            mean,
            yerr=np.vstack([mean - low, high - mean]),
            capsize=3,
            markersize=5,
            linewidth=1.4,
            label=label,
            **style,
        )
    positive = min(positions) > 0
    if not categorical and positive and max(positions) >= 8 * min(positions):
        ax.set_xscale("log", base=2)  # doublings (1, 2, 4, 8 replicas) spaced evenly
    if len(distinct) <= 12:
        ax.xaxis.set_major_locator(FixedLocator(positions))
        ax.xaxis.set_minor_locator(NullLocator())
        ax.set_xticklabels([str(v) for v in distinct])
    ax.set_title(title or f"{y} by {x}")
    ax.set_xlabel(f"{x} ({unit})" if unit else x)
    ax.set_ylabel(metric_label(y))
    ax.grid(True, alpha=0.3)
    if hue:
        ax.legend(fontsize=8)
    subtitle(
        fig,
        f"Mean over {seeds} seeds per point (the same seeds at every point); bars and band: "
        f"{level:.0%} confidence interval of the mean (Student t).",
    )
    return fig
