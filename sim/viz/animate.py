"""Animated playback of traced runs as a GIF or an MP4, drawn with matplotlib.

One panel per playback (a scenario's variants one above the other, on one clock): the stage
(sim/viz/playback.py) with messages as dots along the topology's edges, queue and partition
fill bars, consumer replicas coloured by state and partitions by owner, the faults going on,
and under it a timeline of the backlog with the fault windows and a cursor. Frames are drawn
and written one at a time: the GIF through StreamingGifWriter (Pillow, sim/viz/gifwriter.py),
the MP4 through matplotlib's FFMpegWriter where ffmpeg is installed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib import animation
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import FancyBboxPatch, Rectangle

from sim.units import format_duration
from sim.viz.gifwriter import StreamingGifWriter, fixed_palette
from sim.viz.playback import FAILURE, REDELIVERY, Frame, Playback, frame_times

__all__ = [
    "FORMATS",
    "MAX_FRAMES",
    "SIGNATURE",
    "AnimationError",
    "default_speed",
    "ffmpeg_available",
    "plan_frames",
    "write_animation",
]

#: The files `write_animation` writes, by suffix (".html" is sim/viz/report.py's).
FORMATS = (".gif", ".mp4")
#: Frames in one animation at most: a GIF of more is too heavy to be watched.
MAX_FRAMES = 900
FPS = {".gif": 10.0, ".mp4": 20.0}
# A playback lasts about this long at the default speed.
_DEFAULT_SECONDS = 20.0

# Colours: a message, a redelivered one, one failing; the states of a replica.
INK, MUTED, FAINT = "#2e4053", "#808b96", "#d5d8dc"
DOT = {0: "#1b4f72", REDELIVERY: "#b9770e", FAILURE: "#b03a2e"}
STATE_COLORS = {
    "idle": "#ffffff",
    "busy": "#1e8449",
    "slow": "#b9770e",
    "disconnected": "#808b96",
    "down": "#808b96",
    "crashed": "#000000",
}
MEMBER_COLORS = ["#1b4f72", "#7d3c98", "#1e8449", "#b9770e", "#2874a6", "#a04000", "#5d6d7e"]
READY, IN_FLIGHT = "#1b4f72", "#85c1e9"


class AnimationError(ValueError):
    """An animation that cannot be written, said in one line."""


def ffmpeg_available() -> bool:
    return bool(animation.writers.is_available("ffmpeg"))


def default_speed(start: float, end: float) -> float:
    """Simulated seconds per second of playback: the window in about 20 s, never slower than
    real time."""
    return max(1.0, (end - start) / _DEFAULT_SECONDS)


class _Panel:
    """One playback drawn on a stage axes and a timeline axes; `update` moves it to a frame."""

    def __init__(self, playback: Playback, stage: Axes, strip: Axes) -> None:
        self.playback = playback
        self.stage = stage
        stage.set_xlim(0, 1)
        stage.set_ylim(1.02, -0.1)  # y grows downwards, as on the page
        stage.axis("off")
        stage.set_title(playback.title, fontsize=10, loc="left", color=INK)
        for edge in playback.edges:
            (x0, y0), (x1, y1) = edge["from"], edge["to"]
            stage.annotate(
                "",
                xy=(x1, y1),
                xytext=(x0, y0),
                arrowprops={
                    "arrowstyle": "-|>",
                    "color": FAINT,
                    "lw": 1.2,
                    "linestyle": "--" if edge["dashed"] else "-",
                    "shrinkA": 16,
                    "shrinkB": 22,
                    "connectionstyle": "arc3,rad=0.3" if edge["dashed"] else "arc3",
                },
                zorder=1,
            )
        self.bar_artists: list[tuple[Any, ...]] = []
        self.replica_artists: list[Any] = []
        self.member_color = {
            m: MEMBER_COLORS[i % len(MEMBER_COLORS)] for i, m in enumerate(playback.members)
        }
        nodes = {n["id"]: n for n in playback.nodes}
        for node in playback.nodes:
            self._node(node)
        for bar in playback.bars:
            self.bar_artists.append(self._bar(nodes[bar.node], bar))
        for replica in playback.replicas:
            slot = nodes[replica.node]["slots"][replica.slot]
            (circle,) = stage.plot(
                slot["x"], slot["y"], "o", ms=9, mfc="white", mec=INK, mew=1.5, zorder=4
            )
            self.replica_artists.append(circle)
        self.dots = stage.scatter([], [], s=14, zorder=6, linewidths=0)
        self.clock = stage.text(1.0, -0.1, "", fontsize=10, color=INK, weight="bold", ha="right")
        self.alerts = stage.text(1.0, -0.04, "", fontsize=8, color=DOT[FAILURE], ha="right")
        self._strip(strip)

    def _node(self, node: dict[str, Any]) -> None:
        ax, x, y, kind = self.stage, node["x"], node["y"], node["kind"]
        w, h = node.get("w", 0.08), node.get("h", 0.12)
        if kind in ("producer", "client"):
            ax.plot(x, y, "o", ms=14, mfc="white", mec=INK, mew=1.5, zorder=3)
            under = 0.05
        elif kind == "exchange":
            ax.plot(x, y, "D", ms=13, mfc="white", mec=INK, mew=1.5, zorder=3)
            under = 0.05
        else:
            box = FancyBboxPatch(
                (x - w / 2, y - h / 2),
                w,
                h,
                boxstyle="round,pad=0.004",
                fc="white",
                ec=INK,
                lw=1.2,
                zorder=2,
            )
            ax.add_patch(box)
            under = h / 2 + 0.03
        ax.text(x, y + under, node["label"], ha="center", va="top", fontsize=8, color=INK)

    def _bar(self, node: dict[str, Any], bar: Any) -> tuple[Any, ...]:
        ax = self.stage
        w, h = node.get("w", 0.08), node.get("h", 0.12)
        if bar.kind == "queue":  # a tank filling from the bottom: ready, then in flight
            left, bottom = node["x"] - w / 2 + 0.008, node["y"] + h / 2 - 0.006
            ready = Rectangle((left, bottom), w - 0.016, 0, fc=READY, zorder=3)
            flight = Rectangle((left, bottom), w - 0.016, 0, fc=IN_FLIGHT, zorder=3)
            ax.add_patch(ready)
            ax.add_patch(flight)
            text = ax.text(node["x"], node["y"] - h / 2 - 0.02, "", ha="center", fontsize=7.5)
            return ("queue", ready, flight, text, bottom, h - 0.012)
        if bar.kind == "partition":  # a row per partition, filling rightwards with its lag
            slot = node["slots"][bar.slot]
            count = len(node["slots"])
            thick = min(0.8 * h / count, 0.04)
            left = node["x"] - w / 2 + 0.01
            track = Rectangle(
                (left, slot["y"] - thick / 2), w - 0.02, thick, fc="#f4f6f7", ec=FAINT, lw=0.5
            )
            fill = Rectangle((left, slot["y"] - thick / 2), 0, thick, fc=READY, zorder=3)
            ax.add_patch(track)
            ax.add_patch(fill)
            text = ax.text(left + w, slot["y"], "", va="center", fontsize=6.5, color=MUTED)
            ax.text(left - 0.004, slot["y"], f"p{bar.slot}", ha="right", va="center", fontsize=6.5)
            return ("partition", fill, text, w - 0.02)
        # a service: busy workers across the box, red when every worker is held
        left, top = node["x"] - w / 2 + 0.008, node["y"] - 0.015
        track = Rectangle((left, top), w - 0.016, 0.03, fc="#f4f6f7", ec=FAINT, lw=0.5)
        fill = Rectangle((left, top), 0, 0.03, fc="#1e8449", zorder=3)
        ax.add_patch(track)
        ax.add_patch(fill)
        text = ax.text(node["x"], node["y"] - h / 2 - 0.012, "", ha="center", fontsize=7.5)
        return ("service", fill, text, w - 0.016)

    def _strip(self, ax: Axes) -> None:
        playback = self.playback
        times, values = playback.backlog
        scale, unit = _unit(playback.end)
        ax.plot(times / scale, values, color=INK, lw=1.2)
        for start, end, label in playback.faults:
            if end > start:
                ax.axvspan(start / scale, end / scale, color=DOT[FAILURE], alpha=0.15, lw=0)
            else:
                ax.axvline(start / scale, color=DOT[FAILURE], lw=1, ls=":")
            ax.text(
                start / scale,
                1.0,
                f" {label}",
                transform=ax.get_xaxis_transform(),
                fontsize=7,
                color=DOT[FAILURE],
                va="top",
                clip_on=True,
            )
        for start, end, _ in playback.rebalances:
            ax.axvspan(start / scale, end / scale, color=MEMBER_COLORS[1], alpha=0.15, lw=0)
        ax.set_xlim(playback.start / scale, playback.end / scale)
        ax.set_ylim(bottom=0, top=max(1.0, float(values.max(initial=0)) * 1.15))
        ax.set_ylabel("backlog", fontsize=7.5)
        ax.set_xlabel(f"simulated time ({unit})", fontsize=7.5)
        ax.tick_params(labelsize=7)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        self.cursor = ax.axvline(playback.start / scale, color=DOT[FAILURE], lw=1.2)
        self.scale = scale

    def moving(self) -> list[Artist]:
        """The artists a frame changes; everything else is drawn once, as the background."""
        found: list[Artist] = [a for t in self.bar_artists for a in t if isinstance(a, Artist)]
        return [*found, *self.replica_artists, self.dots, self.clock, self.alerts, self.cursor]

    def update(self, frame: Frame) -> None:
        playback = self.playback
        self.dots.set_offsets(frame.dots if len(frame.dots) else np.empty((0, 2)))
        self.dots.set_color([DOT[int(t)] for t in frame.tones])
        for artists, bar, (value, extra) in zip(
            self.bar_artists, playback.bars, frame.bars, strict=True
        ):
            kind = artists[0]
            if kind == "queue":
                _, ready, flight, text, bottom, height = artists
                scale = height / bar.capacity
                ready.set_y(bottom - value * scale)
                ready.set_height(value * scale)
                flight.set_y(bottom - (value + extra) * scale)
                flight.set_height(extra * scale)
                text.set_text(f"{value:.0f} ready" + (f", {extra:.0f} unacked" if extra else ""))
            elif kind == "partition":
                _, fill, text, width = artists
                fill.set_width(width * min(value / bar.capacity, 1.0))
                owner = frame.owners.get((bar.node, bar.slot or 0))
                fill.set_facecolor(self.member_color.get(owner, MUTED) if owner else MUTED)
                text.set_text(f"lag {value:.0f}")
            else:
                _, fill, text, width = artists
                share = min(value / bar.capacity, 1.0)
                fill.set_width(width * share)
                fill.set_facecolor(DOT[FAILURE] if share >= 0.999 else "#1e8449")
                waiting = f", {extra:.0f} waiting" if extra else ""
                text.set_text(f"busy {value:.0f}/{bar.capacity:.0f}{waiting}")
        owned = {member for member in frame.owners.values()}
        for circle, replica, state in zip(
            self.replica_artists, playback.replicas, frame.states, strict=True
        ):
            circle.set_markerfacecolor(STATE_COLORS[state])
            has = replica.name in owned or not playback.assignments
            circle.set_markeredgecolor(self.member_color.get(replica.name, INK) if has else FAINT)
        self.clock.set_text(f"t = {_clock(frame.time)}")
        self.alerts.set_text("   ".join(frame.faults + frame.rebalancing))
        self.cursor.set_xdata([frame.time / self.scale] * 2)


def _unit(duration: float) -> tuple[float, str]:
    for unit, scale in (("h", 3600.0), ("min", 60.0), ("s", 1.0)):
        if duration >= 3 * scale:
            return scale, unit
    return 1.0, "s"


def _clock(t: float) -> str:
    """The simulated time as the clock shows it: 1 decimal of a second, minutes past 100 s."""
    if t < 100:
        return f"{t:.1f} s"
    return format_duration(round(t, 1))


def figure_for(playbacks: Sequence[Playback]) -> tuple[Figure, list[_Panel]]:
    """The figure of one or more playbacks, one panel each, above a legend line."""
    heights = []
    for playback in playbacks:  # a stage as tall as its busiest column needs, then its timeline
        heights += [min(5.0, max(2.2, 1.2 + 0.9 * playback.rows)), 0.95]
    rows = len(playbacks)
    fig = plt.figure(figsize=(8.0, sum(heights) + 0.35 * rows + 0.3), dpi=80)
    grid = fig.add_gridspec(2 * rows, 1, height_ratios=heights, hspace=0.5)
    panels = []
    for i, playback in enumerate(playbacks):
        stage = fig.add_subplot(grid[2 * i])
        strip = fig.add_subplot(grid[2 * i + 1])
        panels.append(_Panel(playback, stage, strip))
    fig.subplots_adjust(
        left=0.07, right=0.97, top=1 - 0.25 / fig.get_figheight(), bottom=0.55 / fig.get_figheight()
    )
    legend = (
        "dots: messages (orange: redelivered, red: failing or dead-lettered)   bars: ready "
        "(dark), unacked (light), lag   circles: replicas (green busy, white idle, grey down, "
        "black crashed)"
    )
    fig.text(0.5, 0.005, legend, ha="center", va="bottom", fontsize=6.5, color=MUTED, wrap=True)
    return fig, panels


def plan_frames(start: float, end: float, suffix: str, speed: float | None = None) -> np.ndarray:
    """The simulated times of the frames of an animation of [start, end] written as `suffix`
    (".gif" or ".mp4"); AnimationError when the format is unknown, ffmpeg is missing for an
    MP4, or the speed asks for more than MAX_FRAMES frames. Cheap: the commands call it
    before they run anything."""
    suffix = suffix.lower()
    if suffix not in FORMATS:
        raise AnimationError("write a .gif, .mp4 or .html file")
    if suffix == ".mp4" and not ffmpeg_available():
        raise AnimationError(
            "an MP4 needs ffmpeg, which is not installed here (apt-get install ffmpeg); "
            "write a .gif or .html instead"
        )
    speed = default_speed(start, end) if speed is None else speed
    if not speed > 0 or not math.isfinite(speed):
        raise AnimationError(f"--speed must be a positive number, got {speed:g}")
    fps = FPS[suffix]
    times = frame_times(start, end, speed, fps)
    if len(times) > MAX_FRAMES:
        fastest = (end - start) * fps / MAX_FRAMES
        raise AnimationError(
            f"--speed {speed:g} plays {format_duration(end - start)} in {len(times)} frames, "
            f"more than {MAX_FRAMES}; choose --speed {math.ceil(fastest * 10) / 10:g} or more, "
            "or a shorter window"
        )
    return times


#: What the writers leave in every file they write, so that mqsim replaces only its own files.
SIGNATURE = "written by mqsim"


def write_animation(playbacks: Sequence[Playback], out: Path, speed: float | None = None) -> int:
    """Write the playbacks (on one clock) to `out` (.gif or .mp4); the number of frames.

    Frames are drawn and written one at a time. AnimationError as in `plan_frames`.
    """
    suffix = out.suffix.lower()
    start = min(p.start for p in playbacks)
    end = max(p.end for p in playbacks)
    times = plan_frames(start, end, suffix, speed)
    fps = FPS[suffix]
    fig, panels = figure_for(playbacks)
    if suffix == ".gif":
        colors = [INK, MUTED, *DOT.values(), *MEMBER_COLORS, *STATE_COLORS.values(), IN_FLIGHT]
        writer: Any = StreamingGifWriter(fps=fps, palette=fixed_palette(colors), comment=SIGNATURE)
    else:
        writer = animation.FFMpegWriter(
            fps=fps,
            codec="h264",
            metadata={"comment": SIGNATURE},
            extra_args=["-pix_fmt", "yuv420p", "-movflags", "+faststart"],
        )
    try:
        with writer.saving(fig, str(out), dpi=80):
            if suffix == ".gif":
                _blitted(fig, panels, times, writer)
            else:
                for t in times:
                    for panel in panels:
                        panel.update(panel.playback.frame(float(t)))
                    writer.grab_frame()
    finally:
        plt.close(fig)
    return len(times)


def _blitted(fig: Figure, panels: list[_Panel], times: np.ndarray, writer: Any) -> None:
    """Draw the still parts once, then per frame only the moving artists over them (the
    figure's texts and edges would otherwise be drawn again for every frame)."""
    moving = [artist for panel in panels for artist in panel.moving()]
    for artist in moving:
        artist.set_animated(True)
    canvas = fig.canvas
    canvas.draw()
    background = canvas.copy_from_bbox(fig.bbox)  # type: ignore[attr-defined]  # Agg
    for t in times:
        canvas.restore_region(background)  # type: ignore[attr-defined]
        for panel in panels:
            panel.update(panel.playback.frame(float(t)))
        for artist in moving:
            fig.draw_artist(artist)
        writer.grab_frame(redraw=False)
