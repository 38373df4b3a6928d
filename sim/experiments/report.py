"""Terminal tables of runs, replications and sweeps, laid out so that no cell is ever cut.

A table is first built as text (a Grid: key columns naming each row, then one column per
metric), then laid out for the terminal's width: as it is when it fits (headers may wrap at
spaces, cells never do), else transposed (one metric per row, one column per run), else split
into several tables that each fit. A number or a name is always printed whole.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from rich.cells import cell_len
from rich.table import Table

from sim.experiments.replicate import Replications
from sim.experiments.sweep import Sweep
from sim.units import format_duration

__all__ = [
    "NO_LATENCY",
    "Grid",
    "fitted",
    "replication_grid",
    "summary_grid",
    "summary_notes",
    "sweep_grid",
]

# What a cell shows for a metric without data: a latency when nothing was processed.
MISSING = "-"
NO_LATENCY = f"{MISSING}: no messages were processed after the warm-up, so there is no latency."


@dataclass
class Grid:
    """A table as text. `keys` head the columns that name a row (a run, a metric, a grid
    point); `headers` head the value columns; each row is (key cells, value cells)."""

    keys: list[str]
    headers: list[str]
    rows: list[tuple[list[str], list[str]]] = field(default_factory=list)
    title: str = ""
    corner: str = "metric"  # the key column's header once transposed
    label_keys: bool = False  # transposed, a row becomes a column headed "key=value, ..."

    def add_row(self, keys: Sequence[str], values: Sequence[str]) -> None:
        self.rows.append((list(keys), list(values)))


@dataclass
class _Column:
    header: str
    cells: list[str]
    left: bool  # left-justified (names) or right (numbers)
    wrap: bool  # the header may wrap at spaces; cells never do

    def widths(self) -> tuple[int, int]:
        """(narrowest, natural) width: every cell whole, the header wrapped or on one line."""
        cell = max((cell_len(c) for c in self.cells), default=0)
        natural = cell_len(self.header)
        narrowest = max((cell_len(w) for w in self.header.split()), default=0)
        return max(cell, narrowest if self.wrap else natural, 1), max(cell, natural, 1)


def _total(widths: Sequence[int]) -> int:
    """A rich Table's width with the default box: 1 space of padding each side of a cell and
    one rule between and around the columns."""
    return sum(widths) + 3 * len(widths) + 1


def _lines(text: str, width: int) -> int:
    """How many lines `text` takes, wrapped at spaces into `width` columns."""
    lines, used = 1, 0
    for word in text.split():
        size = cell_len(word)
        if used and used + 1 + size > width:
            lines, used = lines + 1, size
        else:
            used += size + (1 if used else 0)
    return lines


def _widths(columns: Sequence[_Column], width: int) -> list[int] | None:
    """Column widths that fit `width` with every cell whole, or None when none do. Headers
    wrap only as far as needed: spare room goes to the tallest header first."""
    narrowest, natural = zip(*(c.widths() for c in columns), strict=True)
    if _total(natural) <= width:
        return list(natural)
    spare = width - _total(narrowest)
    if spare < 0:
        return None
    chosen = list(narrowest)
    while spare > 0:
        tall = max(range(len(columns)), key=lambda i: _lines(columns[i].header, chosen[i]))
        lines = _lines(columns[tall].header, chosen[tall])
        if lines == 1:
            break
        # The least widening that saves this header a line, if the spare room allows it.
        wider = next(
            w
            for w in range(chosen[tall] + 1, natural[tall] + 1)
            if _lines(columns[tall].header, w) < lines
        )
        if wider - chosen[tall] > spare:
            break
        spare -= wider - chosen[tall]
        chosen[tall] = wider
    return chosen


def _render(columns: Sequence[_Column], widths: Sequence[int], title: str) -> Table:
    table = Table(title=title or None, header_style="bold")
    for column, width in zip(columns, widths, strict=True):
        # A fixed width at least as wide as every cell: rich never squeezes or cuts one;
        # "fold" is only a last resort for a terminal narrower than a single cell.
        table.add_column(
            column.header,
            justify="left" if column.left else "right",
            width=width,
            overflow="fold",
        )
    for i in range(len(columns[0].cells)):
        table.add_row(*(c.cells[i] for c in columns))
    return table


def _wide(grid: Grid) -> list[_Column]:
    keys = [
        _Column(h, [k[i] for k, _ in grid.rows], left=True, wrap=False)
        for i, h in enumerate(grid.keys)
    ]
    values = [
        _Column(h, [v[i] for _, v in grid.rows], left=False, wrap=True)
        for i, h in enumerate(grid.headers)
    ]
    return keys + values


def _tall(grid: Grid) -> list[_Column]:
    def name(keys: list[str]) -> str:
        if grid.label_keys:
            return ", ".join(f"{h}={k}" for h, k in zip(grid.keys, keys, strict=True))
        return " ".join(keys)

    first = _Column(grid.corner, list(grid.headers), left=True, wrap=False)
    return [first] + [_Column(name(k), list(v), left=False, wrap=False) for k, v in grid.rows]


def _split(base: list[_Column], rest: list[_Column], width: int) -> list[list[_Column]]:
    """`rest` in as few groups as fit `width` beside the `base` columns, of even sizes where
    that fits too (2 + 2 rather than 3 + 1)."""
    greedy: list[list[_Column]] = []
    current: list[_Column] = []
    for column in rest:
        if current and _widths(base + current + [column], width) is None:
            greedy.append(current)
            current = []
        current.append(column)
    greedy.append(current)
    count = len(greedy)
    size, extra = divmod(len(rest), count)
    even, start = [], 0
    for i in range(count):
        end = start + size + (1 if i < extra else 0)
        even.append(rest[start:end])
        start = end
    fits = all(_widths(base + group, width) is not None for group in even)
    return [base + group for group in (even if fits else greedy)]


def fitted(grid: Grid, width: int) -> list[Table]:
    """The grid as one table, transposed, or split, whichever first fits `width` columns."""
    for columns in (_wide(grid), _tall(grid)):
        chosen = _widths(columns, width)
        if chosen is not None:
            return [_render(columns, chosen, grid.title)]
    # Split whichever way makes fewer tables: a few runs per table (every metric in each),
    # or a few metrics per table (every run in each); on a tie, runs side by side if few.
    tall, wide = _tall(grid), _wide(grid)
    by_runs = _split(tall[:1], tall[1:], width)
    by_metrics = _split(wide[: len(grid.keys)], wide[len(grid.keys) :], width)
    few_runs = len(grid.rows) <= len(grid.headers)
    if len(by_runs) < len(by_metrics) or (len(by_runs) == len(by_metrics) and few_runs):
        groups = by_runs
    else:
        groups = by_metrics
    if any(_widths(columns, width) is None for columns in groups):
        return _one_per_row(grid, width)  # a name too long to head a column beside another
    tables = []
    for i, columns in enumerate(groups, 1):
        chosen = _widths(columns, width) or [c.widths()[0] for c in columns]
        title = f"{grid.title} ({i} of {len(groups)})" if grid.title else f"({i} of {len(groups)})"
        tables.append(_render(columns, chosen, title))
    return tables


def _one_per_row(grid: Grid, width: int) -> list[Table]:
    """The last resort: one two-column table (metric, value) per row, titled by the row's name,
    for a terminal too narrow to put a name in a column header beside anything else."""
    tables = []
    for keys, values in grid.rows:
        if grid.label_keys:
            title = ", ".join(f"{h}={k}" for h, k in zip(grid.keys, keys, strict=True))
        else:
            title = " ".join(keys)
        columns = [
            _Column(grid.corner, list(grid.headers), left=True, wrap=False),
            _Column("", list(values), left=False, wrap=False),
        ]
        chosen = _widths(columns, width) or [c.widths()[0] for c in columns]
        table = _render(columns, chosen, title)
        table.min_width = min(width, cell_len(title))  # rich wraps a title to the table's width
        tables.append(table)
    return tables


# ----- a run's summary -----


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)


def _latency(value: Any) -> str:
    return format_duration(value) if _finite(value) else MISSING


def _rate(value: Any) -> str:
    return f"{value:.4g}/s" if _finite(value) else MISSING


Metric = tuple[str, Callable[[Mapping[str, Any]], str]]


def _count(key: str) -> Callable[[Mapping[str, Any]], str]:
    return lambda s: str(s.get(key, 0))


# The effect ledger (sim/guarantees/ledger.py) counts what happened to each logical message's
# side effect: what a delivery-guarantee scenario is about, so it comes first.
# A run without a ledger leaves these cells empty: it did not count effects at all.
def _effects(key: str) -> Callable[[Mapping[str, Any]], str]:
    return lambda s: str(s[key]) if key in s else ""


_LEDGER: tuple[Metric, ...] = (
    ("effects applied once", _effects("effects_once")),
    ("effects applied twice or more", _effects("effects_duplicated")),
    ("effects never applied", _effects("effects_lost")),
)
# Final states that most runs never reach: shown only when some run has one.
_RARE = (
    ("dropped", "dropped"),
    ("rejected", "rejected"),
    ("dead_lettered", "dead-lettered"),
    ("expired", "expired"),
)


def _lost(summaries: Sequence[Mapping[str, Any]]) -> list[Metric]:
    """`lost` counts copies that ended lost. On an unreliable network (sim/guarantees/
    publish.py) that includes publishes lost on the way to the broker, which a producer with
    `retry_after` publishes again: those are not messages lost, so they get their own row."""
    if not any(s.get("publishes_lost", 0) for s in summaries):
        return [("lost", _count("lost"))]
    # Each publish or confirm lost schedules one republish; all came if the counts match.
    retried = all(
        s.get("republished", 0) == s.get("publishes_lost", 0) + s.get("confirms_lost", 0)
        for s in summaries
    )
    label = "publishes lost, then republished" if retried else "publishes lost on the way"
    return [
        (label, _count("publishes_lost")),
        ("lost after reaching the broker", lambda s: str(s["lost"] - s.get("publishes_lost", 0))),
    ]


def _summary_metrics(summaries: Sequence[Mapping[str, Any]]) -> tuple[list[Metric], list[str]]:
    """The metrics to show, and the rare final states left out for being 0 in every run."""
    metrics: list[Metric] = []
    if any("effects_once" in s for s in summaries):
        metrics.extend(_LEDGER)
    metrics += [("produced", _count("produced")), ("processed", _count("processed"))]
    metrics += _lost(summaries)
    omitted = []
    for key, label in _RARE:
        if any(s.get(key, 0) for s in summaries):
            metrics.append((label, _count(key)))
        else:
            omitted.append(label)
    metrics += [
        ("throughput", lambda s: _rate(s["throughput"])),
        ("latency mean", lambda s: _latency(s["latency_mean"])),
        ("latency p50", lambda s: _latency(s["latency_p50"])),
        ("latency p99", lambda s: _latency(s["latency_p99"])),
        ("max queue depth", _count("max_queue_depth")),
        ("backlog at end", _count("backlog_at_end")),
    ]
    return metrics, omitted


def summary_grid(
    rows: Sequence[tuple[str, Mapping[str, Any]]], first: str = "scenario", title: str = ""
) -> Grid:
    """One row per run (label, summary): effect outcomes first when there is a ledger."""
    metrics, _omitted = _summary_metrics([s for _, s in rows])
    grid = Grid(keys=[first], headers=[label for label, _ in metrics], title=title)
    for label, summary in rows:
        grid.add_row([label], [cell(summary) for _, cell in metrics])
    return grid


def summary_notes(rows: Sequence[tuple[str, Mapping[str, Any]]]) -> list[str]:
    """Lines to print under the summary table: what it leaves out, and what `-` means."""
    summaries = [s for _, s in rows]
    _metrics, omitted = _summary_metrics(summaries)
    notes = []
    if omitted:
        notes.append(f"Not shown, as 0: {', '.join(omitted)}.")
    if any(not _finite(s["latency_mean"]) for s in summaries):
        notes.append(NO_LATENCY)
    return notes


# ----- replications and sweeps -----


def _number(value: float) -> str:
    return MISSING if not math.isfinite(value) else f"{value:.4g}"


def _stat_cells(row: pd.Series) -> list[str]:
    return [
        _number(row["mean"]),
        "± " + _number(row["half_width"]),
        f"[{_number(row['ci_low'])}, {_number(row['ci_high'])}]",
        _number(row["std"]),
        str(int(row["n"])),
    ]


def _stat_headers(level: float) -> list[str]:
    return ["mean", f"± {level:.0%} CI", f"{level:.0%} CI", "std", "runs"]


def replication_grid(replications: Replications) -> Grid:
    """One row per metric: its mean over the seeds and the confidence interval of that mean."""
    grid = Grid(
        keys=["metric"],
        headers=_stat_headers(replications.level),
        title=f"{replications.label}: {len(replications.seeds)} seeds",
        corner="",
    )
    for metric, row in replications.table.iterrows():
        grid.add_row([str(metric)], _stat_cells(row))
    return grid


def sweep_grid(result: Sweep, metric: str) -> Grid:
    """One row per grid point: the parameters, then the mean of `metric` and its interval."""
    grid = Grid(
        keys=list(result.parameters),
        headers=_stat_headers(result.level),
        title=f"{result.scenario_name}: {metric}",
        corner="",
        label_keys=True,
    )
    frame = result.metric(metric)
    for i, (_, row) in enumerate(frame.iterrows()):
        # Parameters from their own columns: a row of mixed types would turn 4 into 4.0.
        grid.add_row([str(frame[name].iloc[i]) for name in result.parameters], _stat_cells(row))
    return grid
