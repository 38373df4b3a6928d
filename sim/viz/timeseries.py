"""Queue depth (and other sampled series) over simulated time."""

from __future__ import annotations

from matplotlib.figure import Figure

from sim.results import Results
from sim.units import format_duration
from sim.viz.style import line_styles, new_figure, subtitle

__all__ = ["plot_queue_depth", "time_axis"]


def time_axis(duration: float) -> tuple[float, str]:
    """A scale and a unit that keep the time axis' numbers short."""
    for unit, scale in (("h", 3600.0), ("min", 60.0), ("s", 1.0)):
        if duration >= 3 * scale:
            return scale, unit
    return 1e-3, "ms"


def plot_queue_depth(results: Results) -> Figure:
    """Ready messages per queue over time (one line per queue)."""
    frame = results.timeseries
    columns = results.columns_of("ready")
    scale, unit = time_axis(results.duration)
    fig, ax = new_figure()
    styles = line_styles()
    markevery = max(1, len(frame) // 12)
    for column in columns:
        style = next(styles)
        ax.plot(
            frame["time"] / scale,
            frame[column],
            label=column.removeprefix("ready."),
            markevery=markevery,
            markersize=4,
            linewidth=1.4,
            **style,
        )
    if results.warmup > 0:
        ax.axvspan(0, results.warmup / scale, color="0.9", zorder=0, label="warm-up")
    ax.set_title(f"{results.label}: queue depth over time")
    ax.set_xlabel(f"simulated time ({unit})")
    ax.set_ylabel("ready messages (count)")
    ax.set_xlim(0, results.duration / scale)
    ax.set_ylim(bottom=0)
    ax.grid(True, alpha=0.3)
    if columns:
        ax.legend(title="source", loc="upper left", fontsize=8)
    peak = results.summary["max_queue_depth"]
    step = results.timeseries["time"].diff().median()  # NaN with a single sample
    every = f", sampled every {format_duration(step)}" if step == step and step > 0 else ""
    subtitle(fig, f"Messages waiting in each queue{every}; peak {peak}.")
    return fig
