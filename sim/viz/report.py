"""A self-contained HTML page of a scenario's runs: description, summary, charts and playback.

`write_report(runs, folder, ...)` writes `folder/index.html` and the charts as PNG files in
`folder/charts/`; `playback_page(...)` is the page alone (what `mqsim animate --out x.html`
writes, one file). Nothing on the page is fetched from the network: the player's script and
style are inline, the playback's data is inline JSON, the images are files beside the page,
so it works opened from file://.

The page has fixed element ids that other checks drive: `#play` (play/pause), `#clock` (the
simulated time shown), `#scrub` (the time scrubber), `#speed` (simulated seconds per second).
The scrubber moves every stage, its timeline and a cursor on each chart whose x axis is
simulated time, together.
"""

from __future__ import annotations

import html
import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from importlib.resources import files
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from sim.results import SUMMARY_KEYS, Results
from sim.viz.animate import SIGNATURE, default_speed
from sim.viz.charts import scenario_charts, variant_charts
from sim.viz.playback import Playback

__all__ = ["chart_axes", "playback_page", "write_report"]

_CHART_DPI = 90
# The x label of every chart drawn against simulated time (sim/viz/timeseries.time_axis).
_TIME_LABEL = re.compile(r"simulated time \((ms|s|min|h)\)")
_UNITS = {"ms": 1e-3, "s": 1.0, "min": 60.0, "h": 3600.0}

_STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; color: #2e4053; margin: 0 auto; max-width: 1040px;
       padding: 0 16px 40px; }
h1 { font-size: 22px; margin: 18px 0 4px; } h2 { font-size: 17px; margin: 26px 0 8px; }
.controls { position: sticky; top: 0; background: #fff; padding: 8px 0; display: flex; gap: 12px;
            align-items: center; border-bottom: 1px solid #d5d8dc; z-index: 2; }
#clock { font: bold 15px ui-monospace, monospace; min-width: 9em; }
#scrub { flex: 1; } button { font-size: 14px; min-width: 5em; }
svg.stage { width: 100%; height: auto; display: block; margin: 6px 0 14px; }
svg .label { font-size: 13px; fill: #2e4053; } svg .value { font-size: 11px; fill: #5d6d7e; }
svg .stage-title { font-size: 14px; font-weight: bold; fill: #2e4053; }
svg .alerts { font-size: 13px; fill: #b03a2e; } svg .fault { font-size: 10px; fill: #b03a2e; }
table.summary { border-collapse: collapse; font-size: 13px; }
table.summary td, table.summary th { padding: 2px 10px; border-bottom: 1px solid #eaecee;
                                     text-align: right; }
table.summary th:first-child, table.summary td:first-child { text-align: left; }
figure.chart { margin: 12px 0; } figure.chart figcaption { font-size: 12px; color: #5d6d7e; }
.chart-image { position: relative; display: inline-block; max-width: 100%; }
.chart-image img { max-width: 100%; display: block; }
.chart-cursor { position: absolute; width: 2px; margin-left: -1px; background: #b03a2e;
                opacity: 0.7; display: none; pointer-events: none; }
.legend { font-size: 12px; color: #5d6d7e; }
"""

_LEGEND = (
    "Dots are messages moving between parts at their simulated times (orange: redelivered, "
    "red: failing or on their way to a dead-letter queue). Queue bars: ready (dark) and "
    "unacknowledged (light) messages; partition bars: consumer lag, coloured by the member "
    "that owns the partition; service bars: busy workers, red when all are held. Replica "
    "circles: green busy, white idle, orange slow, grey down, black crashed. Under each stage, "
    "the backlog over the window with the fault windows shaded."
)


def _player_script() -> str:
    return files("sim.viz").joinpath("static/player.js").read_text(encoding="utf-8")


def _json_for_script(value: Any) -> str:
    """JSON that is safe inside a <script> element (no "</" to end it early)."""
    return json.dumps(value, separators=(",", ":"), allow_nan=False).replace("</", "<\\/")


def _speeds(playbacks: Sequence[Playback]) -> str:
    start = min(p.start for p in playbacks)
    end = max(p.end for p in playbacks)
    default = default_speed(start, end)
    choices = sorted({0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0, round(default, 2)})
    options = []
    for value in choices:
        selected = " selected" if math.isclose(value, round(default, 2)) else ""
        options.append(f'<option value="{value:g}"{selected}>{value:g}x</option>')
    return "\n".join(options)


def playback_section(playbacks: Sequence[Playback]) -> str:
    """The controls, the stages and the player, as a fragment of a page."""
    data = _json_for_script([p.to_data() for p in playbacks])
    return f"""
<div class="controls">
  <button id="play" type="button">Play</button>
  <span id="clock">t = 0.0 s</span>
  <input id="scrub" type="range" min="0" max="1" step="0.001" value="0" aria-label="time">
  <label>speed <select id="speed">{_speeds(playbacks)}</select></label>
</div>
<div id="stages"></div>
<p class="legend">{html.escape(_LEGEND)}</p>
<script type="application/json" id="playback-data">{data}</script>
<script>{_player_script()}</script>
"""


def _page(title: str, body: str) -> str:
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="{SIGNATURE}">
<title>{html.escape(title)}</title>
<style>{_STYLE}</style>
</head>
<body>
{body}
</body>
</html>
"""


def playback_page(playbacks: Sequence[Playback], title: str, description: str = "") -> str:
    """A one-file page with the playback alone."""
    intro = f"<p>{html.escape(description)}</p>" if description else ""
    return _page(title, f"<h1>{html.escape(title)}</h1>\n{intro}\n{playback_section(playbacks)}")


def _cell(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if not math.isfinite(value):
            return "-"
        return f"{value:,.4g}" if abs(value) < 1000 else f"{value:,.0f}"
    return html.escape(str(value))


def summary_table(runs: Mapping[str, Results]) -> str:
    """The summary, one column per variant: the shared keys first, then each model's own."""
    names = list(runs)
    keys = list(SUMMARY_KEYS)
    for results in runs.values():
        for key, value in results.summary.items():
            if key not in keys and isinstance(value, int | float):
                keys.append(key)
    head = "".join(f"<th>{html.escape(n or 'value')}</th>" for n in names)
    rows = []
    for key in keys:
        cells = "".join(f"<td>{_cell(runs[n].summary.get(key, '-'))}</td>" for n in names)
        rows.append(f"<tr><td>{html.escape(key)}</td>{cells}</tr>")
    return f'<table class="summary"><tr><th>measure</th>{head}</tr>{"".join(rows)}</table>'


def chart_axes(fig: Figure) -> list[dict[str, float]]:
    """Where each axes of `fig` drawn against simulated time sits in the saved image (fractions
    of its width and height, from the top left) and the times its x axis spans (seconds)."""
    found = []
    for ax in fig.axes:
        label = ax.get_xlabel()
        if not label:  # a panel sharing its x axis with one that is labelled
            label = next(
                (o.get_xlabel() for o in ax.get_shared_x_axes().get_siblings(ax) if o.get_xlabel()),
                "",
            )
        match = _TIME_LABEL.fullmatch(label.strip())
        if match is None:
            continue
        scale = _UNITS[match.group(1)]
        box = ax.get_position()
        low, high = ax.get_xlim()
        found.append(
            {
                "left": round(box.x0, 4),
                "right": round(box.x1, 4),
                "top": round(1 - box.y1, 4),
                "bottom": round(1 - box.y0, 4),
                "t0": low * scale,
                "t1": high * scale,
            }
        )
    return found


def _write_chart(draw: Callable[[], Figure], path: Path) -> list[dict[str, float]]:
    """Save a chart at a fixed size (no tight bounding box, so its axes stay where they are
    drawn) and say where its time axes are."""
    fig = draw()
    try:
        fig.canvas.draw()
        axes = chart_axes(fig)
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=_CHART_DPI)
    finally:
        plt.close(fig)
    return axes


def _figure(path: str, name: str, axes: list[dict[str, float]]) -> str:
    data = f" data-axes='{html.escape(json.dumps(axes))}'" if axes else ""
    return (
        f'<figure class="chart"{data}><div class="chart-image"><img src="{html.escape(path)}" '
        f'alt="{html.escape(name)}" loading="lazy"></div>'
        f"<figcaption>{html.escape(name.replace('_', ' '))}</figcaption></figure>"
    )


def write_report(
    runs: Mapping[str, Results],
    playbacks: Sequence[Playback],
    folder: Path,
    title: str,
    description: str = "",
) -> Path:
    """Write folder/index.html and folder/charts/*.png; the page's path."""
    sections = [f"<h1>{html.escape(title)}</h1>"]
    if description:
        sections.append(f"<p>{html.escape(description)}</p>")
    sections.append("<h2>Playback</h2>")
    sections.append(playback_section(playbacks))
    sections.append("<h2>Summary</h2>")
    sections.append(summary_table(runs))
    sections.append("<h2>Charts</h2>")
    figures = []
    if list(runs) != [""]:
        for name, draw in variant_charts(runs).items():
            path = f"charts/{name}.png"
            figures.append(_figure(path, name, _write_chart(draw, folder / path)))
    for variant, results in runs.items():
        if variant:
            figures.append(f"<h3>{html.escape(variant)}</h3>")
        for name, draw in scenario_charts(results).items():
            folder_name = f"{_slug(variant)}/" if variant else ""
            path = f"charts/{folder_name}{name}.png"
            figures.append(_figure(path, name, _write_chart(draw, folder / path)))
    sections.extend(figures)
    page = folder / "index.html"
    page.write_text(_page(title, "\n".join(sections)), encoding="utf-8")
    return page


def _slug(name: str) -> str:
    """A variant's name as a folder name."""
    return re.sub(r"[^A-Za-z0-9._+-]", "_", name) or "_"
