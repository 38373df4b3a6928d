"""One look for every chart: readable in black and white, titled, labelled with units.

The rules every chart follows (and tests/test_charts.py checks on every chart the demo
writes): a title, axes labelled with their unit in parentheses, no text drawn over other text,
at most `MAX_WIDTH_PX` wide, and no `nan` anywhere.
"""

from __future__ import annotations

import re
import textwrap
from itertools import cycle
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display is needed, or wanted, to write a PNG

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

__all__ = [
    "DPI",
    "MAX_WIDTH_IN",
    "MAX_WIDTH_PX",
    "count",
    "line_styles",
    "natural_key",
    "new_figure",
    "percent",
    "save",
    "subtitle",
    "wrap_name",
]

DPI = 110  # the resolution charts are saved at
MAX_WIDTH_PX = 2400  # wider than this a chart no longer fits a screen or a page
MAX_WIDTH_IN = 20.0  # the widest figure any chart asks for, with room for its margins

# Lines differ by dash and marker as well as by shade, so a grey print still tells them apart.
_DASHES = ["-", "--", ":", "-."]
_MARKERS = ["o", "s", "^", "D", "v", "x", "*", "P"]
_GREYS = ["#000000", "#555555", "#888888", "#2f2f2f", "#aaaaaa"]
_COLORS = ["#1b4f72", "#b03a2e", "#1e8449", "#7d3c98", "#b9770e", "#2e4053"]


def line_styles() -> Any:
    """An endless supply of distinct (color, dash, marker) styles for a chart's lines."""
    for i in cycle(range(24)):
        yield {
            "color": _COLORS[i % len(_COLORS)],
            "linestyle": _DASHES[i % len(_DASHES)],
            "marker": _MARKERS[i % len(_MARKERS)],
        }


def natural_key(name: str) -> tuple[Any, ...]:
    """Sort key that orders numbers inside names by value: worker.8 before worker.13."""
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name))


def wrap_name(name: str, width: int = 14) -> str:
    """A long variant name on several lines, broken after hyphens: txn-read-\nuncommitted."""
    if len(name) <= width:
        return name
    lines = textwrap.wrap(name, width, break_on_hyphens=True, break_long_words=False)
    return "\n".join(lines)


def count(value: float) -> str:
    """A count with thousands separators: 7,419."""
    return f"{int(value):,}"


def percent(part: float, whole: float) -> str:
    """`part` as a share of `whole`, with enough digits that 99.96% does not read as 100%."""
    if whole <= 0:
        return "n/a"
    share = 100.0 * part / whole
    if part == whole:
        return "100%"
    if part == 0:
        return "0%"
    if share >= 99.5 or share < 1:
        return f"{share:.2f}%"
    if share >= 90:
        return f"{share:.1f}%"
    return f"{share:.0f}%"


def new_figure(width: float = 8.0, height: float = 4.5, **kwargs: Any) -> tuple[Figure, Any]:
    fig, ax = plt.subplots(figsize=(min(width, MAX_WIDTH_IN), height), **kwargs)
    return fig, ax


def subtitle(fig: Figure, text: str, width: int = 0) -> None:
    """A caption under the axes that says what the chart shows, wrapped to the figure's
    width (about 15 characters per inch at its size)."""
    width = width or max(60, int(fig.get_figwidth() * 15))
    lines = textwrap.wrap(text, width, break_on_hyphens=False) or [""]
    strip = min((0.1 + 0.14 * len(lines)) / fig.get_figheight(), 0.3)  # ~0.14 in a line
    fig.tight_layout(rect=(0, strip, 1, 1))  # leave a strip under the axes for the caption
    fig.text(0.5, 0.01, "\n".join(lines), ha="center", va="bottom", fontsize=8.5, style="italic")


def save(fig: Figure, path: str | Path) -> Path:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(target, dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    return target
