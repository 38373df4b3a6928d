"""Charts of notifications sent through providers (sim/services/provider.py), by channel and by
design (variant): whether each notification arrived within its SLA, how long it took, how many
were waiting over time, and how the retries of a few messages went across an outage.

Every chart counts against the notifications due (what the requests asked each channel for),
so a notification never delivered stays visible: as its own bar segment, as the gap above a
latency curve, as a line that does not come back to zero.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from sim.faults import windows
from sim.results import Results
from sim.units import format_duration
from sim.viz.events import mark_events, same_events
from sim.viz.style import count, line_styles, new_figure, percent, subtitle, wrap_name
from sim.viz.timeseries import time_axis

__all__ = [
    "has_deliveries",
    "has_retries",
    "plot_channel_depth",
    "plot_channel_latency",
    "plot_retry_timeline",
    "plot_sla_attainment",
]

Runs = Mapping[str, Results]

# Within the SLA, late, never delivered: shades and hatches that read in grey.
_SEGMENTS = (
    ("within SLA", "0.15", ""),
    ("late", "0.65", "//"),
    ("not delivered", "white", "xx"),
)


def _name(runs: Runs) -> str:
    return next(iter(runs.values())).scenario_name if runs else ""


def has_deliveries(results: Results) -> bool:
    """Whether the run asked providers for notifications."""
    table = results.tables.get("providers")
    return table is not None and not table.empty and int(table["due"].sum()) > 0


def has_retries(results: Results) -> bool:
    table = results.tables.get("retry.attempts")
    return table is not None and not table.empty


def _pairs(runs: Runs) -> list[tuple[str, str]]:
    """(provider, kind) of every kind of request a channel was asked for, in first-seen order."""
    pairs: list[tuple[str, str]] = []
    for results in runs.values():
        frame = results.tables["providers.kinds"]
        for provider, kind in frame[["provider", "kind"]].itertuples(index=False):
            if (provider, kind) not in pairs:
                pairs.append((str(provider), str(kind)))
    return pairs


def _bounded(results: Results) -> Results:
    """The run with only its bounded fault windows: a fault all along the run (a provider's
    steady error rate) would shade every chart from edge to edge and hide the outage."""
    events = results.events
    if events is None or events.empty:
        return results
    whole = {
        (component, kind)
        for component, kind, start, end in windows(events, results.duration)
        if start <= 0 and end >= results.duration
    }
    if not whole:
        return results
    keep = [
        (str(c), str(e).partition(" ")[0]) not in whole
        for c, e in events[["component", "event"]].itertuples(index=False)
    ]
    return replace(results, events=events[keep].reset_index(drop=True))


def _all_along(results: Results) -> list[str]:
    """The faults left unshaded by `_bounded`, as 'error (sms)'."""
    events = results.events
    if events is None or events.empty:
        return []
    return [
        f"{kind} ({component})"
        for component, kind, start, end in windows(events, results.duration)
        if start <= 0 and end >= results.duration
    ]


def _channels(runs: Runs) -> list[str]:
    names: list[str] = []
    for results in runs.values():
        for name in results.tables["providers"]["provider"]:
            if name not in names:
                names.append(str(name))
    return names


# ----- SLA attainment -----


def plot_sla_attainment(runs: Runs) -> Figure:
    """For each channel and kind of request, one bar per design: the share of the
    notifications due delivered within their SLA, late, and never delivered."""
    frames = {v: r.tables["providers.kinds"] for v, r in runs.items()}
    pairs = _pairs(runs)
    names = list(runs)
    columns = min(3, max(1, len(pairs)))
    rows = math.ceil(max(1, len(pairs)) / columns)
    label_width = max(len(wrap_name(n, 18).splitlines()[0]) for n in names)
    fig, axes = new_figure(
        min(20.0, 1.0 + 0.07 * label_width + 4.4 * columns),
        1.4 + rows * (0.9 + 0.36 * len(names)),
        nrows=rows,
        ncols=columns,
        squeeze=False,
        sharex=True,
    )
    y = np.arange(len(names))
    for i, (provider, kind) in enumerate(pairs):
        ax = axes[i // columns, i % columns]
        sla = math.nan
        for j, variant in enumerate(names):
            frame = frames[variant]
            row = frame[(frame["provider"] == provider) & (frame["kind"] == kind)]
            if row.empty:
                continue
            due = float(row["due"].iloc[0])
            within = float(row["within_sla"].iloc[0])
            delivered = float(row["delivered"].iloc[0])
            sla = float(row["sla"].iloc[0])
            parts = (within, delivered - within, due - delivered)
            left = 0.0
            for (_label, shade, hatch), part in zip(_SEGMENTS, parts, strict=True):
                share = 100.0 * part / due if due else 0.0
                ax.barh(y[j], share, left=left, color=shade, hatch=hatch, edgecolor="black", lw=0.6)
                left += share
            ax.text(
                101.5,
                y[j],
                percent(within, due),
                va="center",
                fontsize=8,
            )
        sla_text = format_duration(sla) if math.isfinite(sla) else "none"
        ax.set_title(f"{provider}: {kind} (SLA {sla_text})", fontsize=9.5, loc="left")
        ax.set_yticks(y, [wrap_name(n, 18) for n in names] if i % columns == 0 else [])
        ax.set_ylim(len(names) - 0.5, -0.5)
        ax.set_xlim(0, 118)
        ax.set_xticks([0, 25, 50, 75, 100])
        ax.grid(True, axis="x", alpha=0.3)
        if i // columns == rows - 1 or i + columns >= len(pairs):
            ax.set_xlabel("share of the notifications due (%)")
    for j in range(len(pairs), rows * columns):
        axes[j // columns, j % columns].set_visible(False)
    handles = [
        Patch(facecolor=shade, hatch=hatch, edgecolor="black", label=label)
        for label, shade, hatch in _SEGMENTS
    ]
    fig.suptitle(f"{_name(runs)}: notifications delivered within their SLA, by design")
    subtitle(
        fig,
        "One bar per design (variant), on the same traffic. Dark: delivered within the SLA "
        "(the number at the right); hatched grey: delivered late; white: never delivered "
        "(refused, failed, dead-lettered or still waiting at the end).",
    )
    fig.legend(
        handles=handles,
        loc="upper center",
        bbox_to_anchor=(0.5, 1.0),
        ncols=3,
        fontsize=8,
    )
    fig.subplots_adjust(top=1 - 0.62 / fig.get_figheight())
    fig._suptitle.set_y(1.0 + 0.3 / fig.get_figheight())  # type: ignore[union-attr]
    return fig


# ----- latency CDF per channel -----


def plot_channel_latency(runs: Runs) -> Figure:
    """For each channel and kind of request, the CDF of delivery latency (from the request to
    the provider's send) per design, as a share of the notifications due: a curve ends at the
    share delivered, the gap above it is what never arrived. Dashed: the SLA."""
    pairs = _pairs(runs)
    columns = min(3, max(1, len(pairs)))
    rows = math.ceil(max(1, len(pairs)) / columns)
    fig, axes = new_figure(
        min(20.0, 1.2 + 5.6 * columns),
        1.6 + 4.6 * rows,
        nrows=rows,
        ncols=columns,
        squeeze=False,
        sharey=True,
    )
    style_of = dict(zip(runs, line_styles(), strict=False))
    for i, (provider, kind) in enumerate(pairs):
        ax = axes[i // columns, i % columns]
        lowest, highest = math.inf, 0.0
        sla = math.nan
        for variant, results in runs.items():
            kinds = results.tables["providers.kinds"]
            row = kinds[(kinds["provider"] == provider) & (kinds["kind"] == kind)]
            if row.empty:
                continue
            due, delivered = int(row["due"].iloc[0]), int(row["delivered"].iloc[0])
            sla = float(row["sla"].iloc[0])
            table = results.tables["providers.latency"]
            curve = table[(table["provider"] == provider) & (table["kind"] == kind)]
            style = style_of[variant]
            label = f"{variant}: {percent(delivered, due)}"
            if curve.empty:
                ax.plot([], [], label=label, color=style["color"], linestyle=style["linestyle"])
                continue
            latency = curve["latency"].to_numpy()
            share = curve["delivered"].to_numpy()
            ax.step(
                latency,
                share,
                where="post",
                color=style["color"],
                linestyle=style["linestyle"],
                linewidth=1.5,
                label=label,
            )
            ax.plot([latency[-1]], [share[-1]], marker=style["marker"], color=style["color"])
            lowest = min(lowest, float(latency[0]))
            highest = max(highest, float(latency[-1]))
        if math.isfinite(lowest):
            ax.set_xscale("log")
            right = max(highest, sla if math.isfinite(sla) else 0.0)
            ax.set_xlim(max(lowest * 0.7, 1e-3), right * 1.6)
        if math.isfinite(sla):
            ax.axvline(sla, color="black", linestyle="--", linewidth=1.0)
            ax.text(sla, 1.03, f"SLA {format_duration(sla)}", ha="center", va="bottom", fontsize=8)
        ax.set_ylim(0, 1.12)
        ax.set_yticks([0, 0.25, 0.5, 0.75, 1.0])
        ax.set_title(f"{provider}: {kind}", fontsize=10, loc="left")
        ax.set_xlabel("latency, request to send (s)")
        if i % columns == 0:
            ax.set_ylabel("share of the due delivered within (CDF)")
        ax.grid(True, alpha=0.3, which="both")
        ax.legend(
            fontsize=7.5,
            loc="upper center",
            bbox_to_anchor=(0.5, -0.16),
            ncols=2,
            title="design: share delivered",
            title_fontsize=8,
        )
    for j in range(len(pairs), rows * columns):
        axes[j // columns, j % columns].set_visible(False)
    fig.suptitle(f"{_name(runs)}: delivery latency per channel and kind of request, by design")
    subtitle(
        fig,
        "Each curve ends (marker) at the share of the notifications due that were delivered; "
        "the gap above it never arrived (refused, failed, dead-lettered, or still waiting at "
        "the end). Further left is faster.",
    )
    fig.subplots_adjust(hspace=0.75)
    return fig


# ----- notifications waiting, per channel, over time -----


def plot_channel_depth(runs: Runs) -> Figure:
    """Notifications asked of each channel and not delivered yet, over time, one line per
    design, under the offered load: the queue depth of a channel whatever holds it (a
    queue, a retry queue, a worker, a dead-letter queue, or nothing but a failed request)."""
    channels = _channels(runs)
    duration = max(r.duration for r in runs.values())
    scale, unit = time_axis(duration)
    fig, axes = new_figure(
        9.5,
        2.4 + 2.3 * len(channels),
        nrows=len(channels) + 1,
        sharex=True,
        squeeze=False,
        gridspec_kw={"height_ratios": [0.7] + [1.0] * len(channels)},
    )
    axes = axes[:, 0]
    style_of = dict(zip(runs, line_styles(), strict=False))
    first = next(iter(runs.values()))
    frame = first.timeseries
    axes[0].plot(frame["time"] / scale, frame["produced_rate"], color="black", linewidth=1.2)
    axes[0].set_ylabel("requests (per s)")
    axes[0].set_title("requests offered (the same in every design)", fontsize=9.5, loc="left")
    axes[0].set_ylim(bottom=0)
    axes[0].grid(True, alpha=0.3)
    for ax, channel in zip(axes[1:], channels, strict=True):
        peaks = []
        for variant, results in runs.items():
            column = f"undelivered.{channel}"
            if column not in results.timeseries:
                continue
            series = results.timeseries
            style = style_of[variant]
            ax.plot(
                series["time"] / scale,
                series[column],
                label=variant,
                markevery=max(1, len(series) // 12),
                markersize=3.5,
                linewidth=1.3,
                **style,
            )
            peaks.append(f"{variant} {count(series[column].max())}")
        ax.set_title(
            f"{channel}: not delivered yet (peak {', '.join(peaks)})", fontsize=9, loc="left"
        )
        ax.set_ylabel("notifications (count)")
        ax.set_ylim(bottom=0)
        ax.grid(True, alpha=0.3)
    axes[-1].set_xlabel(f"simulated time ({unit})")
    axes[-1].set_xlim(0, duration / scale)
    handles: dict[str, Any] = {
        v: Line2D([], [], markersize=3.5, lw=1.3, label=v, **s) for v, s in style_of.items()
    }
    along = ""
    if same_events(runs.values()):
        for mark in mark_events(list(axes), _bounded(first), scale):
            handles[str(mark.get_label())] = mark
        steady = _all_along(first)
        along = f" Not shaded, all along the run: {', '.join(steady)}." if steady else ""
    fig.suptitle(f"{_name(runs)}: notifications waiting per channel, by design")
    subtitle(
        fig,
        "Asked for and not yet delivered: in a queue, a retry queue or a worker's hands, or "
        "never to arrive (refused, failed, dead-lettered). The top panel is the load every "
        "design gets." + along,
    )
    fig.legend(
        list(handles.values()),
        list(handles),
        title="design / event",
        loc="upper center",
        bbox_to_anchor=(0.5, 1.0),
        ncols=min(4, len(handles)),
        fontsize=8,
    )
    top = (0.6 + 0.22 * math.ceil(len(handles) / 4)) / fig.get_figheight()
    fig.subplots_adjust(top=1 - top)
    fig._suptitle.set_y(1.0 + 0.3 / fig.get_figheight())  # type: ignore[union-attr]
    return fig


# ----- the attempts of a few messages -----

_OUTCOMES = {  # marker, filled
    "ok": ("o", True),
    "timeout": ("x", True),
    "throttled": ("^", False),
    "error": ("s", False),
}
MESSAGES = 8  # messages a retry timeline follows


def _outage(results: Results) -> tuple[float, float] | None:
    """The longest fault window that does not last the whole run."""
    bounded = _bounded(results)
    if bounded.events.empty:
        return None
    found = list(windows(bounded.events, results.duration))
    if not found:
        return None
    _, _, start, end = max(found, key=lambda w: w[3] - w[2])
    return start, end


def _picked(table: pd.DataFrame, results: Results) -> list[tuple[str, int]]:
    """Up to MESSAGES (consumer, message) pairs: messages whose first failure came during the
    longest bounded fault window, spread evenly over it; without one, the most tried ones."""
    keys = ["consumer", "message_id"]
    first = table[table["attempt"] == table.groupby(keys)["attempt"].transform("min")]
    window = _outage(results)
    if window is not None:
        start, end = window
        inside = first[(first["start"] >= start) & (first["start"] < end)]
        if not inside.empty:
            inside = inside.sort_values("start")
            index = np.unique(np.linspace(0, len(inside) - 1, MESSAGES).round().astype(int))
            chosen = inside.iloc[index][keys].itertuples(index=False)
            return [(str(c), int(m)) for c, m in chosen]
    tries = table.groupby(keys).size().sort_values(ascending=False)
    return [(str(c), int(m)) for c, m in tries.index[:MESSAGES]]


def plot_retry_timeline(runs: Runs) -> Figure:
    """For each design with a retry policy, the attempts of a few messages: a short bar for
    each try (from its start to its answer), a marker for how it ended, and a dotted line
    for the backoff before the next try. Shaded: the fault windows."""
    shown = {v: r for v, r in runs.items() if has_retries(r)}
    picks = {v: _picked(r.tables["retry.attempts"], r) for v, r in shown.items()}
    spans = []
    for variant, picked in picks.items():
        table = shown[variant].tables["retry.attempts"]
        for consumer, message in picked:
            rows = table[(table["consumer"] == consumer) & (table["message_id"] == message)]
            spans.append((rows["start"].min(), (rows["end"] + rows["next_delay"].fillna(0)).max()))
    low = min((a for a, _ in spans), default=0.0)
    high = max((b for _, b in spans), default=1.0)
    window = [_outage(r) for r in shown.values()]
    for found in window:
        if found is not None:
            low, high = min(low, found[0]), max(high, found[1])
    pad = 0.05 * (high - low) or 1.0
    low, high = max(0.0, low - pad), high + pad
    scale, unit = time_axis(high - low)
    fig, axes = new_figure(
        10.0, 1.2 + 3.0 * len(shown), nrows=len(shown), squeeze=False, sharex=True
    )
    axes = axes[:, 0]
    handles: dict[str, Any] = {}
    for ax, (variant, results) in zip(axes, shown.items(), strict=True):
        table = results.tables["retry.attempts"]
        picked = picks[variant]
        labels = []
        for row, (consumer, message) in enumerate(picked):
            tries = table[(table["consumer"] == consumer) & (table["message_id"] == message)]
            tries = tries.sort_values("attempt")
            for attempt in tries.itertuples(index=False):
                ax.plot(
                    [attempt.start / scale, attempt.end / scale], [row, row], color="black", lw=3
                )
                marker, filled = _OUTCOMES.get(str(attempt.outcome), ("D", False))
                ax.plot(
                    [attempt.end / scale],
                    [row],
                    marker=marker,
                    markersize=7,
                    color="black",
                    markerfacecolor="black" if filled else "white",
                    linestyle="none",
                )
                handles.setdefault(
                    str(attempt.outcome),
                    Line2D(
                        [],
                        [],
                        marker=marker,
                        color="black",
                        markerfacecolor="black" if filled else "white",
                        linestyle="none",
                        label=f"try ended: {attempt.outcome}",
                    ),
                )
                wait = attempt.next_delay
                if pd.notna(wait):
                    ax.plot(
                        [attempt.end / scale, (attempt.end + wait) / scale],
                        [row, row],
                        color="0.25",
                        linestyle=":",
                        lw=1.6,
                    )
            last = tries.iloc[-1]
            fate = "delivered" if last["outcome"] == "ok" else "dead-lettered"
            if last["outcome"] != "ok" and pd.notna(last["next_delay"]):
                fate = "still retrying"
            labels.append(f"#{message} {consumer}: {len(tries)} tries, {fate}")
        ax.set_yticks(range(len(picked)), labels, fontsize=7.5)
        ax.set_ylim(len(picked) - 0.5, -0.7)
        ax.set_title(f"{variant}", fontsize=9.5, loc="left")
        ax.grid(True, axis="x", alpha=0.3)
        for mark in mark_events([ax], _bounded(results), scale):
            handles.setdefault(str(mark.get_label()), mark)
    handles["backoff"] = Line2D(
        [], [], color="0.25", linestyle=":", lw=1.6, label="backoff before the next try"
    )
    axes[-1].set_xlabel(f"simulated time ({unit})")
    axes[-1].set_xlim(low / scale, high / scale)
    fig.suptitle(f"{_name(runs)}: the tries of a few messages across the outage")
    subtitle(
        fig,
        "A thick bar is one try, from its start to its answer; the marker says how it ended; "
        "the dotted line is the backoff the retry policy waited before the next try. Messages "
        "whose first failure fell in the longest fault window (shaded), spread over it.",
    )
    fig.legend(
        list(handles.values()),
        list(handles),
        loc="upper center",
        bbox_to_anchor=(0.5, 1.0),
        ncols=min(4, len(handles)),
        fontsize=8,
    )
    top = (0.6 + 0.22 * math.ceil(len(handles) / 4)) / fig.get_figheight()
    fig.subplots_adjust(top=1 - top, hspace=0.35)
    fig._suptitle.set_y(1.0 + 0.3 / fig.get_figheight())  # type: ignore[union-attr]
    return fig
