"""The rules every chart follows, checked on a drawn matplotlib figure (tests/test_charts.py).

- a title (the figure's or an axes');
- every numeric axis labelled, with a unit in parentheses ("simulated time (s)"), unless it
  shares its scale with a labelled axis; categorical axes (variant names, partitions) have no
  unit to give;
- no text drawn over another text: titles, labels, captions, annotations, bar labels, legends
  (as one box each) and tick labels, by their bounding boxes after the figure is drawn. Tick
  labels of one axis are checked against each other too: dense, rotated or long category
  names are exactly what runs into a neighbour;
- at most MAX_WIDTH_PX wide, as saved (tight bounding box at the charts' DPI);
- no "nan" or "inf" in any text.
"""

from __future__ import annotations

import re
from itertools import combinations

from matplotlib.axes import Axes
from matplotlib.axis import Axis
from matplotlib.figure import Figure
from matplotlib.text import Annotation, Text
from matplotlib.transforms import Bbox

from sim.viz.style import DPI, MAX_WIDTH_PX

__all__ = ["problems", "saved_width"]

_NOT_A_NUMBER = re.compile(r"\b(nan|inf)\b", re.IGNORECASE)
_UNIT = re.compile(r"\([^)]*\)")
_PAD_INCHES = 0.1  # savefig(bbox_inches="tight") pads the tight box by this on each side


def saved_width(fig: Figure) -> float:
    """The width in pixels `sim.viz.style.save` writes the figure at."""
    renderer = fig.canvas.get_renderer()
    box = fig.get_tightbbox(renderer)
    return (box.width + 2 * _PAD_INCHES) * DPI


def _drawn(text: Text, renderer: object) -> bool:
    if not text.get_visible() or not text.get_text().strip():
        return False
    # An annotation whose point is outside its axes is not drawn.
    return not (isinstance(text, Annotation) and not text._check_xy(renderer))  # type: ignore[arg-type]


def _tick_labels(axis: Axis) -> list[Text]:
    """The tick labels drawn: ticks inside the view limits (matplotlib keeps spare Tick objects
    with stale labels beyond them), both sides of the axis."""
    labels = []
    for tick in axis._update_ticks():  # the ticks `Axis.draw` draws
        labels.extend(t for t in (tick.label1, tick.label2) if t.get_visible() and t.get_text())
    return labels


def _numeric(label: str) -> bool:
    text = label.replace("\u2212", "-").replace(",", "").strip()
    if text.startswith("$"):  # mathtext: log-scale ticks such as 10^{-3}
        return True
    try:
        float(text)
    except ValueError:
        return False
    return True


def _axis_ok(ax: Axes, axis: Axis, which: str) -> str | None:
    if not axis.get_visible():
        return None
    ticks = [t.get_text() for t in _tick_labels(axis)]
    label = axis.get_label().get_text()
    shared = ax.get_shared_x_axes() if which == "x" else ax.get_shared_y_axes()
    siblings = shared.get_siblings(ax)
    sibling_labels = [
        (s.xaxis if which == "x" else s.yaxis).get_label().get_text()
        for s in siblings
        if s.get_visible()
    ]
    numeric = bool(ticks) and all(_numeric(t) for t in ticks)
    if not numeric:
        return None  # categories name themselves; an axis with no ticks shows no scale
    labels = [label] if label else [t for t in sibling_labels if t]
    if not labels:
        return f"{which} axis of {ax.get_title(loc='left') or ax.get_title()!r} has no label"
    if not any(_UNIT.search(t) for t in labels):
        return f"{which} label {labels[0]!r} gives no unit in parentheses"
    return None


def _texts(fig: Figure, renderer: object) -> list[tuple[str, Bbox, object]]:
    """(text, box, group) of everything drawn as text; texts of one legend are one box, and
    the tick labels of one axis share a group (so a label may touch its own tick marks)."""
    found: list[tuple[str, Bbox, object]] = []

    def add(text: Text, group: object) -> None:
        if _drawn(text, renderer):
            found.append((text.get_text(), text.get_window_extent(renderer), group))

    for text in fig.texts:
        add(text, text)
    if fig._suptitle is not None:  # type: ignore[attr-defined]
        add(fig._suptitle, fig._suptitle)  # type: ignore[attr-defined]
    legends = list(fig.legends)
    for ax in fig.axes:
        if not ax.get_visible():
            continue
        for title in (ax.title, ax._left_title, ax._right_title):  # type: ignore[attr-defined]
            add(title, title)
        if ax.axison:
            for axis in (ax.xaxis, ax.yaxis):
                if axis.get_visible():
                    add(axis.label, axis.label)
                    for tick in _tick_labels(axis):
                        add(tick, tick)
        for text in ax.texts:
            add(text, text)
        if ax.get_legend() is not None:
            legends.append(ax.get_legend())
    for legend in legends:
        if legend.get_visible():
            box = legend.get_window_extent(renderer)
            words = " ".join(t.get_text() for t in legend.get_texts())
            found.append((f"legend: {words[:60]}", box, legend))
    return found


def _overlap(a: Bbox, b: Bbox) -> bool:
    """Overlapping by more than a pixel each way (touching edges are fine)."""
    width = min(a.x1, b.x1) - max(a.x0, b.x0)
    height = min(a.y1, b.y1) - max(a.y0, b.y0)
    return width > 1.0 and height > 1.0


def problems(fig: Figure) -> list[str]:
    """Every rule the drawn figure breaks, in words (empty when it follows them all)."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    found: list[str] = []
    titles = [fig._suptitle.get_text() if fig._suptitle else ""]  # type: ignore[attr-defined]
    for ax in fig.axes:
        titles += [ax.get_title(loc=loc) for loc in ("center", "left", "right")]
    if not any(t.strip() for t in titles):
        found.append("no title")
    for ax in fig.axes:
        if not ax.get_visible() or not ax.axison:
            continue
        for which, axis in (("x", ax.xaxis), ("y", ax.yaxis)):
            problem = _axis_ok(ax, axis, which)
            if problem:
                found.append(problem)
    texts = _texts(fig, renderer)
    for text, _, _ in texts:
        if _NOT_A_NUMBER.search(text):
            found.append(f"{text!r} shows nan or inf")
    for (text_a, box_a, group_a), (text_b, box_b, group_b) in combinations(texts, 2):
        if group_a is not group_b and _overlap(box_a, box_b):
            found.append(f"{text_a!r} overlaps {text_b!r}")
    width = saved_width(fig)
    if width > MAX_WIDTH_PX:
        found.append(f"{width:.0f} px wide (at most {MAX_WIDTH_PX})")
    return found
