"""The end-to-end latency distribution as a CDF that ends at the share of messages (or requests)
that completed, with p50 and p99 of the completed ones marked.

A latency CDF counts only what finished: drawn up to 1 it hides the requests that failed,
timed out or never finished, and a variant that fails fast looks faster than one that queues
and succeeds. So every CDF here is scaled by the share that completed (`completion`), and the
caption says what became of the rest.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from matplotlib.figure import Figure

from sim.results import Results
from sim.units import format_duration
from sim.viz.experiments import has_services
from sim.viz.style import count, new_figure, percent, subtitle

__all__ = ["Completion", "completion", "no_latency", "plot_latency_cdf"]

# What became of what did not complete, in the words of a broker run and of a service run
# (sim/services/client.py maps a client's outcomes onto the same final states).
_BROKER_FATES = (
    ("lost", "lost"),
    ("dropped", "dropped"),
    ("rejected", "refused by the broker"),
    ("expired", "expired"),
    ("dead_lettered", "dead-lettered"),
    ("backlog_at_end", "still in the system at the end"),
)
_SERVICE_FATES = (
    ("expired", "timed out (the client gave up)"),
    ("rejected", "refused"),
    ("lost", "failed (error answer)"),
    ("dead_lettered", "dead-lettered"),
    ("dropped", "dropped"),
    ("backlog_at_end", "unanswered at the end"),
)


@dataclass(frozen=True)
class Completion:
    """How many of the messages (requests) a latency CDF is about completed.

    `completed` is the number of latencies recorded (first processings of copies produced
    after the warm-up, `Results.latency_by`), `total` the copies produced after the warm-up
    (exact without a warm-up: produced + copies; with one, counted from the `produced_rate`
    series), so `share` is where the CDF ends. `fates` says what became of the unfinished ones
    (final-state counts over the whole run), `basis` what `total` counts, for a caption.
    """

    completed: int
    total: float
    what: str  # "messages" or "requests"
    basis: str
    fates: tuple[tuple[str, int], ...]
    estimated: bool = False
    after_warmup: bool = False  # `total` counts a part of the run, `fates` the whole run

    @property
    def share(self) -> float:
        return min(1.0, self.completed / self.total) if self.total > 0 else 0.0

    def headline(self) -> str:
        """'61% of 7,419 requests completed' (or 'no requests were sent')."""
        if self.total <= 0:
            return f"no {self.what} were {'sent' if self.what == 'requests' else 'produced'}"
        about = "about " if self.estimated else ""
        return (
            f"{percent(self.completed, self.total)} of {about}{count(round(self.total))} "
            f"{self.what} completed"
        )

    def rest_is_unfinished(self) -> bool:
        """Whether the final states in `fates` are exactly the ones that did not complete (no
        warm-up, and no copy both processed and then dead-lettered)."""
        unfinished = sum(n for _, n in self.fates)
        return not self.after_warmup and unfinished == round(self.total) - self.completed

    def rest(self) -> str:
        """What became of the others: '2,370 timed out (the client gave up), 469 refused'."""
        return ", ".join(f"{count(n)} {label}" for label, n in self.fates if n)


def _produced_after_warmup(results: Results) -> tuple[float, bool]:
    """Originals produced after the warm-up and whether that number is estimated: the
    `produced_rate` series times each sample's interval, the sample straddling the warm-up
    counted in proportion."""
    produced = results.summary["produced"]
    warmup = results.warmup
    if warmup <= 0:
        return float(produced), False
    frame = results.timeseries
    if "produced_rate" not in frame or len(frame) < 2:
        return float(produced), True
    times = frame["time"].to_numpy(dtype=float)
    rates = frame["produced_rate"].to_numpy(dtype=float)
    total = 0.0
    exact = True
    for i in range(1, len(times)):
        start, end = times[i - 1], times[i]
        if end <= warmup:
            continue
        covered = end - start
        if start < warmup:
            exact = False
            covered = end - warmup
        total += rates[i] * covered
    return total, not exact


def completion(results: Results) -> Completion:
    """The share of messages (requests) the latency CDF stands for, and what became of the rest."""
    summary = results.summary
    services = has_services(results)
    latencies = results.latencies.get("replica")
    completed = int(latencies["count"].sum()) if latencies is not None else summary["processed"]
    originals, estimated = _produced_after_warmup(results)
    produced = summary["produced"]
    copies = summary.get("copies", 0)
    # Each original has as many copies after the warm-up as over the whole run, on average:
    # exact without a warm-up or without copies, an estimate otherwise.
    total = originals * (produced + copies) / produced if produced else 0.0
    estimated = estimated or (results.warmup > 0 and copies > 0)
    what = "requests" if services else "messages"
    if results.warmup > 0:
        basis = f"{what} produced after the {format_duration(results.warmup)} warm-up"
    elif copies:
        basis = f"{what} produced, each copy counted"
    else:
        basis = f"{what} {'sent' if services else 'produced'}"
    fates = tuple(
        (label, int(summary.get(key, 0)))
        for key, label in (_SERVICE_FATES if services else _BROKER_FATES)
    )
    return Completion(completed, total, what, basis, fates, estimated, results.warmup > 0)


def caption(done: Completion) -> str:
    """One sentence: how many completed, of what, and what became of the others."""
    headline = done.headline()
    text = f"{headline[0].upper()}{headline[1:]} ({done.basis})"
    rest = done.rest()
    if rest and done.rest_is_unfinished():
        text += f"; the others: {rest}"
    elif rest:  # a warm-up, or copies processed and dead-lettered after: not the same set
        text += f"; final states over the whole run besides processed: {rest}"
    return text + "."


def plot_latency_cdf(results: Results) -> Figure:
    frame = results.latency
    summary = results.summary
    done = completion(results)
    fig, ax = new_figure()
    if frame.empty:
        ax.text(0.5, 0.5, no_latency(results), ha="center", transform=ax.transAxes)
    else:
        share = done.share
        ax.step(frame["latency"], frame["cumulative_fraction"] * share, where="post", color="black")
        ax.axhline(share, color="0.45", linestyle=":", linewidth=1.0)
        ax.annotate(
            done.headline(),
            xy=(0.01, share),
            xycoords=("axes fraction", "data"),
            xytext=(0, 3 if share < 0.9 else -3),
            textcoords="offset points",
            va="bottom" if share < 0.9 else "top",
            fontsize=8.5,
            color="0.25",
        )
        marks = (("latency_p50", "p50", "--", 0.5), ("latency_p99", "p99", ":", 0.99))
        for key, label, dash, level in marks:
            value = summary[key]
            if not math.isfinite(value):
                continue
            ax.axvline(value, color="0.35", linestyle=dash, linewidth=1.2)
            ax.plot([value], [level * share], marker="o", color="black", markersize=5)
            ax.annotate(
                f"{label} = {format_duration(value)}",
                xy=(value, level * share),
                xytext=(-8, -16 if label == "p99" else 0),
                textcoords="offset points",
                ha="right",
                fontsize=9,
                bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "0.6"},
            )
        if summary["latency_p99"] > 30 * max(summary["latency_p50"], 1e-9):
            ax.set_xscale("log")  # log only when the tail is far from the median
    ax.set_title(f"{results.label}: end-to-end latency distribution")
    ax.set_xlabel("latency from produce to processing done (s)")
    ax.set_ylabel(f"share of {done.what} done within (CDF)")
    ax.set_ylim(0, 1.02)
    ax.grid(True, alpha=0.3, which="both")
    if frame.empty:
        subtitle(fig, f"{no_latency(results)}, so there is no latency to show.")
        return fig
    mean = format_duration(summary["latency_mean"])
    subtitle(
        fig,
        f"{caption(done)} p50 and p99 are of the completed ones; mean {mean}.",
    )
    return fig


def no_latency(results: Results) -> str:
    """Why a run has no latency, for a caption: nothing processed at all, or nothing produced
    after the warm-up (latency counts only those)."""
    if results.summary["processed"] == 0:
        return "No messages were processed"
    return "No messages produced after the warm-up were processed"
