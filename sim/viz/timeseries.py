"""Queue depth over simulated time: ready messages and messages in flight, per source."""

from __future__ import annotations

from collections.abc import Iterable

from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from sim.results import Results
from sim.units import format_duration
from sim.viz.events import mark_events
from sim.viz.style import count, line_styles, new_figure, subtitle

__all__ = [
    "QUIET_DEPTH",
    "depth_sources",
    "has_depth",
    "peak_depth",
    "plot_queue_depth",
    "time_axis",
]


def time_axis(duration: float) -> tuple[float, str]:
    """A scale and a unit that keep the time axis' numbers short."""
    for unit, scale in (("h", 3600.0), ("min", 60.0), ("s", 1.0)):
        if duration >= 3 * scale:
            return scale, unit
    return 1e-3, "ms"


def depth_sources(runs: Iterable[Results]) -> list[str]:
    """The sources (queues; `<topic>/<group>` on a log) that held a message, ready or in
    flight, at some sample of some run, in the order the runs declare them."""
    found: list[str] = []
    for results in runs:
        frame = results.timeseries
        for kind in ("ready", "in_flight"):
            for column in results.columns_of(kind):
                source = column.removeprefix(f"{kind}.")
                if source not in found and frame[column].max() > 0:
                    found.append(source)
    return found


# Below this many messages ready plus in flight at every sample, a depth chart shows sampling
# noise around an idle queue, not a backlog: it is not drawn.
QUIET_DEPTH = 5


def peak_depth(results: Results) -> int:
    """The most messages one source held, ready plus in flight, at a sample."""
    frame = results.timeseries
    peak = 0
    for column in results.columns_of("ready"):
        source = column.removeprefix("ready.")
        held = frame[column]
        flying = f"in_flight.{source}"
        if flying in frame:
            held = held + frame[flying]
        peak = max(peak, int(held.max()) if len(held) else 0)
    return peak


def has_depth(results: Results) -> bool:
    """Whether a queue-depth chart of the run has something to show: a source that held at
    least QUIET_DEPTH messages at a sample."""
    return peak_depth(results) >= QUIET_DEPTH


def plot_queue_depth(results: Results) -> Figure:
    """Ready messages (top) and messages in flight (bottom) per source over time, one line
    per source: a queue emptied into the consumers' prefetch buffers shows only below."""
    frame = results.timeseries
    sources = depth_sources([results])
    every = [c.removeprefix("ready.") for c in results.columns_of("ready")]
    quiet = [s for s in every if s not in sources]
    scale, unit = time_axis(results.duration)
    fig, (top, bottom) = new_figure(8.5, 6.0, nrows=2, sharex=True)
    markevery = max(1, len(frame) // 12)
    for ax, kind in ((top, "ready"), (bottom, "in_flight")):
        styles = line_styles()
        for source in sources:
            column = f"{kind}.{source}"
            style = next(styles)
            if column not in frame:
                continue
            ax.plot(
                frame["time"] / scale,
                frame[column],
                label=source,
                markevery=markevery,
                markersize=4,
                linewidth=1.4,
                **style,
            )
        if results.warmup > 0:
            ax.axvspan(0, results.warmup / scale, color="0.9", zorder=0, label="warm-up")
        marks = mark_events([ax], results, scale)
        ax.set_ylim(bottom=0, top=max(1.0, ax.get_ylim()[1]))
        ax.yaxis.set_major_locator(MaxNLocator(nbins="auto", integer=True))
        ax.grid(True, alpha=0.3)
    top.set_title(f"{results.label}: queue depth over time")
    top.set_ylabel("ready, waiting in\nthe queue (messages)")
    bottom.set_ylabel("in flight, delivered\nnot acked (messages)")
    bottom.set_xlabel(f"simulated time ({unit})")
    bottom.set_xlim(0, results.duration / scale)
    handles, labels = top.get_legend_handles_labels()
    if handles or marks:
        top.legend(
            handles + marks,
            labels + [str(m.get_label()) for m in marks],
            title="source" + (" / event" if marks else ""),
            loc="upper left",
            bbox_to_anchor=(1.01, 1.0),
            fontsize=8,
        )
    peak = results.summary["max_queue_depth"]
    in_flight = results.columns_of("in_flight")
    flying = int(frame[in_flight].sum(axis=1).max()) if in_flight and len(frame) else 0
    step = results.timeseries["time"].diff().median()  # NaN with a single sample
    sampled = f" Sampled every {format_duration(step)}." if step == step and step > 0 else ""
    never = f" Never held a message: {', '.join(quiet)}." if quiet else ""
    subtitle(
        fig,
        f"Peak ready (all sources, exact): {count(peak)}; peak in flight (all sources, at a "
        f"sample): {count(flying)}.{sampled}{never}",
    )
    return fig
