"""The end-to-end latency distribution as a CDF, with p50 and p99 marked."""

from __future__ import annotations

from matplotlib.figure import Figure

from sim.results import Results
from sim.units import format_duration
from sim.viz.style import new_figure, subtitle

__all__ = ["no_latency", "plot_latency_cdf"]


def plot_latency_cdf(results: Results) -> Figure:
    frame = results.latency
    summary = results.summary
    fig, ax = new_figure()
    if frame.empty:
        ax.text(0.5, 0.5, no_latency(results), ha="center", transform=ax.transAxes)
    else:
        ax.step(frame["latency"], frame["cumulative_fraction"], where="post", color="black")
        marks = (("latency_p50", "p50", "--", 0.5), ("latency_p99", "p99", ":", 0.99))
        for key, label, dash, level in marks:
            value = summary[key]
            ax.axvline(value, color="0.35", linestyle=dash, linewidth=1.2)
            ax.plot([value], [level], marker="o", color="black", markersize=5)
            ax.annotate(
                f"{label} = {format_duration(value)}",
                xy=(value, level),
                xytext=(-8, -14 if label == "p99" else 0),
                textcoords="offset points",
                ha="right",
                fontsize=9,
                bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "0.6"},
            )
        if summary["latency_p99"] > 30 * max(summary["latency_p50"], 1e-9):
            ax.set_xscale("log")  # log only when the tail is far from the median
    ax.set_title(f"{results.label}: end-to-end latency distribution")
    ax.set_xlabel("latency from produce to processing done (s)")
    ax.set_ylabel("fraction of messages at or below (CDF)")
    ax.set_ylim(0, 1.02)
    ax.grid(True, alpha=0.3, which="both")
    if frame.empty:
        subtitle(fig, f"{no_latency(results)}, so there is no latency to show.")
        return fig
    subtitle(
        fig,
        f"Messages produced after the warm-up; mean {format_duration(summary['latency_mean'])}"
        f" over {summary['processed']} processed messages.",
    )
    return fig


def no_latency(results: Results) -> str:
    """Why a run has no latency, for a caption: nothing processed at all, or nothing produced
    after the warm-up (latency counts only those)."""
    if results.summary["processed"] == 0:
        return "No messages were processed"
    return "No messages produced after the warm-up were processed"
