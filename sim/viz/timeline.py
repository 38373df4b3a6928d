"""A message timeline: swimlanes per component (producer, queue, consumer replicas, effect
ledger) and each message's path through them, from a traced run.

Drawn from `results.trace` (the state changes), the `guarantees.journal` table (effects
applied or suppressed, crashes, lost acks) and `results.events` (when a consumer was down). It
is meant for small runs (a handful of messages): one line per message.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from sim.faults import windows
from sim.results import Results
from sim.viz.style import line_styles, new_figure, subtitle

__all__ = ["has_timeline", "plot_message_timeline"]

JOURNAL = "guarantees.journal"
MAX_MESSAGES = 40  # beyond this the lines are a tangle: the chart is for small runs

# Event -> (marker, size, filled, legend text); the marker shape says what happened.
_MARKS = {
    "produced": ("o", 6, True, "produced"),
    "enqueued": ("s", 6, True, "enqueued"),
    "delivered": (">", 7, True, "delivered"),
    "requeued": ("<", 8, False, "requeued (redelivery)"),
    "processed": ("D", 6, True, "processed"),
    "acked": ("^", 7, True, "ack reached the broker"),
    "lost": ("v", 9, False, "lost"),
    "effect applied": ("*", 13, True, "effect applied"),
    "effect suppressed": ("*", 13, False, "duplicate suppressed"),
}
_TRACE_EVENTS = ("produced", "enqueued", "delivered", "requeued", "processed", "acked", "lost")


def has_timeline(results: Results) -> bool:
    """A traced run with an effect journal and few enough messages to draw one by one."""
    return (
        results.trace is not None
        and JOURNAL in results.tables
        and results.trace["message_id"].nunique() <= MAX_MESSAGES
    )


def _lanes(results: Results) -> tuple[dict[str, float], list[str]]:
    """component -> lane position (0 at the top), and the lane labels in order."""
    graph = results.topology
    producers = [d["label"] for _, d in graph.nodes(data=True) if d.get("kind") == "producer"]
    queues = [n for n, d in graph.nodes(data=True) if d.get("kind") in ("queue", "topic")]
    trace, journal = results.trace, results.tables[JOURNAL]
    assert trace is not None
    consumer_names = [
        str(d["label"]).split(" x")[0]
        for _, d in graph.nodes(data=True)
        if d.get("kind") == "consumer"
    ]
    seen = pd.concat([trace["component"], journal["component"]]).astype(str).unique().tolist()
    replicas = sorted(
        c for c in seen if any(c == n or c.startswith(f"{n}.") for n in consumer_names)
    )
    lanes: dict[str, float] = {}
    labels: list[str] = []
    for kind, names in (("producer", producers), ("queue", queues), ("consumer", replicas)):
        for name in names:
            lanes[name] = float(len(labels))
            labels.append(f"{kind}\n{name}")
    lanes["ledger"] = float(len(labels))
    labels.append("effect\nledger")
    return lanes, labels


def _rows(results: Results, lanes: dict[str, float]) -> pd.DataFrame:
    """Every drawable event with its lane: trace rows on their component's lane, journal rows
    (effects on the ledger's lane, crashes on the consumer's)."""
    trace = results.trace
    assert trace is not None
    rows = trace[trace["event"].isin(_TRACE_EVENTS)].copy()
    rows["applications"] = -1
    journal = results.tables[JOURNAL].copy()
    effects = journal["event"].str.startswith("effect")
    journal.loc[effects, "component"] = "ledger"
    both = pd.concat([rows, journal], ignore_index=True)
    both = both[both["component"].astype(str).isin(lanes)].copy()
    both["lane"] = both["component"].astype(str).map(lanes)
    # Events at the same instant in the order the consumer's cycle meets them.
    both["order"] = [_rank(str(event)) for event in both["event"]]
    return both.sort_values(["message_id", "time", "order"], kind="stable")


_CYCLE = (
    "produced",
    "enqueued",
    "delivered",
    "processed",
    "effect",
    "crash",
    "disconnected",
    "lost",
    "requeued",
    "acked",
)


def _rank(event: str) -> int:
    return next((i for i, name in enumerate(_CYCLE) if event.startswith(name)), len(_CYCLE))


def _outcome(results: Results) -> str:
    s = results.summary
    return (
        f"lost {s.get('effects_lost', 0)} · once {s.get('effects_once', 0)} · "
        f"duplicated {s.get('effects_duplicated', 0)}"
    )


def _draw(ax: Axes, results: Results, title: str) -> None:
    lanes, labels = _lanes(results)
    rows = _rows(results, lanes)
    troubled = set(
        rows.loc[
            rows["event"].isin(["requeued", "lost", "effect suppressed"])
            | rows["event"].str.startswith(("crash", "disconnected"))
            | (rows["applications"] > 1),
            "message_id",
        ]
    )
    styles = line_styles()
    for message_id, path in rows.groupby("message_id", sort=True):
        style = next(styles)
        strong = message_id in troubled
        color = style["color"] if strong else "0.6"
        ax.plot(
            path["time"],
            path["lane"],
            color=color,
            linestyle=style["linestyle"] if strong else "-",
            linewidth=2.0 if strong else 0.9,
            zorder=2 if strong else 1,
        )
        first = path.iloc[0]
        ax.annotate(
            f"#{message_id}",
            (first["time"], first["lane"]),
            xytext=(-4, 6),
            textcoords="offset points",
            fontsize=7.5,
            ha="right",
            fontweight="bold" if strong else "normal",
            color="black" if strong else "0.35",
        )
        for _, row in path.iterrows():
            event = str(row["event"])
            if event.startswith(("crash", "disconnected")):
                ax.plot(row["time"], row["lane"], "X", color="black", markersize=12, zorder=4)
                ax.annotate(
                    event.replace(" (", "\n("),
                    (row["time"], row["lane"]),
                    xytext=(-7, -5),
                    textcoords="offset points",
                    fontsize=7,
                    ha="right",
                    va="top",
                )
                continue
            marker, size, filled, _ = _MARKS[event]
            ax.plot(
                row["time"],
                row["lane"],
                marker=marker,
                markersize=size,
                markerfacecolor=color if filled else "white",
                markeredgecolor="black" if strong else "0.45",
                linestyle="none",
                zorder=3,
            )
            if event == "effect applied" and row["applications"] > 1:
                note = f"applied again (x{int(row['applications'])})"
            elif event == "effect suppressed":
                note = "duplicate caught"
            else:
                continue
            ax.annotate(
                note,
                (row["time"], row["lane"]),
                xytext=(0, -13),
                textcoords="offset points",
                fontsize=7.5,
                ha="center",
                va="top",
                fontweight="bold",
            )
    for component, kind, start, end in windows(results.events, results.duration):
        lane = lanes.get(component)
        if lane is None:
            continue
        ax.fill_between(
            [start, end],
            lane - 0.3,
            lane + 0.3,
            facecolor="0.85",
            edgecolor="0.4",
            hatch="xxx" if kind == "crash" else "///",
            linewidth=0.5,
            zorder=0,
        )
        ax.annotate(
            "down, restarting" if kind == "crash" else "reconnecting",
            (end, lane + 0.3),
            xytext=(2, -2),
            textcoords="offset points",
            fontsize=7,
            va="top",
        )
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    ax.set_ylim(len(labels) - 0.4, -0.6)
    ax.set_title(f"{title}: {_outcome(results)}", fontsize=10, loc="left")
    ax.grid(True, axis="x", alpha=0.3)


def _legend(fig: Figure) -> None:
    handles = [
        Line2D(
            [],
            [],
            marker=marker,
            markersize=min(size, 10),
            markerfacecolor="0.5" if filled else "white",
            markeredgecolor="black",
            linestyle="none",
            label=text,
        )
        for marker, size, filled, text in _MARKS.values()
    ]
    handles.append(
        Line2D([], [], marker="X", markersize=9, color="black", linestyle="none", label="crash")
    )
    fig.legend(
        handles=handles,
        loc="upper center",
        ncol=5,
        fontsize=7.5,
        frameon=False,
        bbox_to_anchor=(0.5, 0.985),
    )


def plot_message_timeline(runs: Results | Mapping[str, Results]) -> Figure:
    """One panel of swimlanes per run (per variant), on a shared time axis."""
    if isinstance(runs, Results):
        runs = {runs.variant or runs.scenario_name: runs}
    first = next(iter(runs.values()))
    lanes = len(_lanes(first)[1])
    fig, axes = new_figure(
        10.0, 1.0 + (0.55 * lanes + 0.6) * len(runs), nrows=len(runs), sharex=True, squeeze=False
    )
    for ax, (name, results) in zip(axes[:, 0], runs.items(), strict=True):
        _draw(ax, results, name)
    axes[-1, 0].set_xlabel("simulated time (s)")
    end = max(
        float(r.trace["time"].max()) if r.trace is not None and len(r.trace) else r.duration
        for r in runs.values()
    )
    axes[-1, 0].set_xlim(0, end + 0.6)
    fig.suptitle(f"{first.scenario_name}: each message's path, crash and redelivery", y=1.0)
    _legend(fig)
    subtitle(
        fig,
        "One line per message, top to bottom: producer, queue, consumer, effect ledger; "
        "bold lines are messages a failure touched.",
    )
    fig.subplots_adjust(top=1 - 0.9 / fig.get_figheight())
    return fig
