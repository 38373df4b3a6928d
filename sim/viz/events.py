"""What happened to parts of a run (faults, crashes, replays), marked on a time axis without
a label per mark: each window is shaded, each instant a thin line, and the legend has one
entry per kind of event naming the parts it hit. Twenty crashes make twenty shaded spans and
one legend entry, never twenty labels printed over each other.

Windows come from `sim.faults.windows` ("<kind> start" / "<kind> end" events) and from a
part's "crash" followed by its "restart" (the Kafka models' broker and consumer crashes);
every other event is an instant.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from sim.faults import windows
from sim.results import Results

__all__ = ["Marks", "event_marks", "mark_events", "same_events"]

# A hatch and a shade per kind of window, so they read without colour.
_LOOK = {
    "down": ("////", "0.72"),
    "crash": ("xxxx", "0.68"),
    "disconnected": ("\\\\\\\\", "0.8"),
    "slow": ("....", "0.85"),
    "error": ("----", "0.82"),
}
_INSTANT_STYLES = (":", "-.", "--", (0, (1, 3)))


@dataclass(frozen=True)
class Marks:
    """A run's events as windows (component, kind, start, end) and instants (time,
    component, event)."""

    windows: tuple[tuple[str, str, float, float], ...]
    instants: tuple[tuple[float, str, str], ...]


def event_marks(results: Results) -> Marks:
    events = results.events
    if events is None or events.empty:
        return Marks((), ())
    found = list(windows(events, results.duration))
    paired = {"start", "end"}
    instants: list[tuple[float, str, str]] = []
    crashed: dict[str, float] = {}
    for time, component, event in events[["time", "component", "event"]].itertuples(index=False):
        name, text = str(component), str(event)
        if text.partition(" ")[2] in paired:
            continue
        if text == "crash":
            crashed[name] = float(time)
        elif text == "restart" and name in crashed:
            found.append((name, "crash", crashed.pop(name), float(time)))
        else:
            instants.append((float(time), name, text))
    found.extend((name, "crash", start, results.duration) for name, start in crashed.items())
    return Marks(tuple(sorted(found, key=lambda w: w[2])), tuple(instants))


def same_events(runs: Iterable[Results]) -> bool:
    """Whether every run had the same events (the same faults at the same times)."""
    marks = [event_marks(r) for r in runs]
    return all(m == marks[0] for m in marks)


def _parts(names: Iterable[str]) -> str:
    unique = list(dict.fromkeys(names))
    shown = ", ".join(unique[:4])
    return shown + (f" +{len(unique) - 4} more" if len(unique) > 4 else "")


def mark_events(axes: Iterable[Axes], results: Results, scale: float) -> list[Artist]:
    """Shade every window and draw every instant on each of `axes` (time divided by
    `scale`); returns legend handles, one per kind of window and one per kind of instant."""
    marks = event_marks(results)
    axes = list(axes)
    for _, kind, start, end in marks.windows:
        hatch, shade = _LOOK.get(kind, ("", "0.88"))
        for ax in axes:
            ax.axvspan(
                start / scale,
                end / scale,
                facecolor=shade,
                edgecolor="0.4",
                hatch=hatch,
                linewidth=0,
                alpha=0.35,
                zorder=0,
            )
    handles: list[Artist] = []
    by_kind: dict[str, list[str]] = {}
    for component, kind, _, _ in marks.windows:
        by_kind.setdefault(kind, []).append(component)
    for kind, parts in by_kind.items():
        hatch, shade = _LOOK.get(kind, ("", "0.88"))
        times = len(parts)
        handles.append(
            Patch(
                facecolor=shade,
                edgecolor="0.4",
                hatch=hatch,
                alpha=0.5,
                label=f"{kind} ({_parts(parts)}){f', {times} times' if times > 1 else ''}",
            )
        )
    instant_kinds: dict[str, list[str]] = {}
    for _, component, event in marks.instants:
        instant_kinds.setdefault(event, []).append(component)
    styles = {event: _INSTANT_STYLES[i % 4] for i, event in enumerate(instant_kinds)}
    for time, _, event in marks.instants:
        for ax in axes:
            ax.axvline(time / scale, color="0.3", linestyle=styles[event], linewidth=1.1)
    for event, parts in instant_kinds.items():
        handles.append(
            Line2D([], [], color="0.3", linestyle=styles[event], label=f"{_parts(parts)}: {event}")
        )
    return handles
