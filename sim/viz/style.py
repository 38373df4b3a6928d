"""One look for every chart: readable in black and white, titled, labelled with units."""

from __future__ import annotations

from itertools import cycle
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display is needed, or wanted, to write a PNG

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

__all__ = ["line_styles", "new_figure", "save", "subtitle"]

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


def new_figure(width: float = 8.0, height: float = 4.5, **kwargs: Any) -> tuple[Figure, Any]:
    fig, ax = plt.subplots(figsize=(width, height), **kwargs)
    return fig, ax


def subtitle(fig: Figure, text: str) -> None:
    """A one-line caption under the title that says what the chart shows."""
    fig.tight_layout(rect=(0, 0.05, 1, 1))  # leave a strip under the axes for the caption
    fig.text(0.5, 0.01, text, ha="center", va="bottom", fontsize=8.5, style="italic")


def save(fig: Figure, path: str | Path) -> Path:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(target, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return target
