"""Parameter sweeps: every point of a grid of overrides, each on the same seeds."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from sim.experiments.executors import ExecutorLike
from sim.experiments.runs import as_scenario, run_specs
from sim.experiments.spec import RunSpec, build_scenario, seed_list
from sim.experiments.stats import describe
from sim.scenario import Scenario, ScenarioError, parse_assignment

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["Sweep", "check_grid", "grid_points", "parse_grid_assignment", "sweep"]


@dataclass
class Sweep:
    """The runs of a sweep and their means and confidence intervals per grid point.

    `runs`: one row per run, with one column per parameter (its dotted path), the `seed`, and
    each numeric summary key. `aggregate`: one row per grid point and metric, with n, mean, std,
    ci_low, ci_high and half_width (a `level` Student-t interval of the mean).
    """

    scenario_name: str
    parameters: list[str]
    seeds: list[int]
    runs: pd.DataFrame
    level: float = 0.95
    metrics: list[str] = field(init=False)

    def __post_init__(self) -> None:
        self.metrics = [c for c in self.runs.columns if c not in (*self.parameters, "seed")]

    @cached_property
    def aggregate(self) -> pd.DataFrame:
        frames = []
        per_point = len(self.seeds)
        # Runs are stored point by point, each point on all its seeds: slice rather than group,
        # so parameter values need not be hashable (a mapping, a list of routing keys).
        for start in range(0, len(self.runs), per_point):
            block = self.runs.iloc[start : start + per_point]
            table = describe(block[self.metrics], self.level).reset_index()
            for position, name in enumerate(self.parameters):
                table.insert(position, name, [block[name].iloc[0]] * len(table))
            frames.append(table)
        return pd.concat(frames, ignore_index=True)

    def metric(self, name: str) -> pd.DataFrame:
        """The aggregate rows of one metric: one row per grid point."""
        if name not in self.metrics:
            raise KeyError(f"no metric {name!r} (known: {', '.join(self.metrics)})")
        rows = self.aggregate[self.aggregate["metric"] == name]
        return rows.drop(columns="metric").reset_index(drop=True)

    def plot(
        self, x: str | None = None, y: str = "latency_mean", hue: str | list[str] | None = None
    ) -> Figure:
        """The mean of `y` against parameter `x`, one line per value of `hue`, with CI bands.

        `x` defaults to the first parameter that takes several values, `hue` to the other
        parameters that do (a parameter held at one value is the same on every line).
        """
        from sim.viz.sweep import plot_sweep

        varying = [p for p in self.parameters if self.runs[p].astype(str).nunique() > 1]
        x = x or (varying or self.parameters)[0]
        rest = [p for p in varying if p != x]
        hues = rest if hue is None else [hue] if isinstance(hue, str) else list(hue)
        for name in (x, *hues):
            if name not in self.parameters:
                raise KeyError(f"no parameter {name!r} (swept: {', '.join(self.parameters)})")
        missing = [p for p in rest if p not in hues]
        if missing:
            raise ValueError(
                f"the sweep also varies {', '.join(missing)}: give it as hue too, or plot a "
                "sweep that holds it fixed"
            )
        return plot_sweep(
            self.metric(y),
            x=x,
            y=y,
            hue=hues,
            title=f"{self.scenario_name}: {y} by {x}",
            seeds=len(self.seeds),
            level=self.level,
        )

    def to_dir(self, path: str | Path) -> Path:
        """Write runs.csv (one row per run) and aggregate.csv into `path`."""
        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        self.runs.to_csv(folder / "runs.csv", index=False)
        self.aggregate.to_csv(folder / "aggregate.csv", index=False)
        return folder


def grid_points(grid: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every combination of the grid's values, the first parameter varying slowest."""
    if not grid:
        raise ValueError("the grid is empty: give at least one path and its values")
    axes = []
    for path, values in grid.items():
        if path == "seed":
            raise ValueError(
                "the seed is not a grid parameter: every point runs on the seeds spawned from it"
            )
        listed = list(values) if isinstance(values, list | tuple | range) else [values]
        if not listed:
            raise ValueError(f"{path}: no values to sweep")
        axes.append(listed)
    return [dict(zip(grid, combo, strict=True)) for combo in itertools.product(*axes)]


def check_grid(scenario: Scenario, grid: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The grid's points, each checked to make a valid scenario (else a one-line error)."""
    points = grid_points(grid)
    base = RunSpec.of(scenario, {}, 0).raw
    for point in points:
        build_scenario(base, point, scenario.source)
    return points


def sweep(
    scenario: Scenario | str | Path,
    grid: Mapping[str, Any],
    seeds: int | Sequence[int] = 10,
    executor: ExecutorLike = None,
    *,
    workers: int | None = None,
    level: float = 0.95,
    progress: bool | None = None,
) -> Sweep:
    """Run `scenario` at every point of `grid` ({dotted path: [values]}) on each seed.

    Every grid point runs on the same seeds (common random numbers, as variants do), so the
    differences between points come from the parameters, not from luck. Each point is
    validated before anything runs: a bad path or value raises a one-line ScenarioError.
    """
    scenario = as_scenario(scenario)
    points = check_grid(scenario, grid)
    chosen = seed_list(scenario.seed, seeds)
    specs = [RunSpec.of(scenario, point, seed) for point in points for seed in chosen]
    rows = run_specs(specs, executor, workers, progress, f"sweep {scenario.name}")
    parameters = list(grid)
    columns = {name: [spec.overrides[name] for spec in specs] for name in parameters}
    columns["seed"] = [spec.seed for spec in specs]
    runs = pd.concat([pd.DataFrame(columns), rows], axis=1)
    return Sweep(scenario.name, parameters, chosen, runs, level)


def parse_grid_assignment(text: str) -> tuple[str, list[Any]]:
    """`consumers.0.replicas=1,2,4` -> ("consumers.0.replicas", [1, 2, 4]).

    Commas inside brackets or parentheses belong to a value: `uniform(5ms, 15ms)` stays whole.
    """
    path, sep, raw = text.partition("=")
    if not sep or not path.strip():
        raise ScenarioError(f"expected PATH=V1,V2,..., got {text!r}", "--set")
    pieces = _split_top_level(raw)
    if len(pieces) > 1 and not all(piece.strip() for piece in pieces):
        raise ScenarioError(f"an empty value in {raw!r}", path.strip())
    values = [parse_assignment(f"{path}={piece}")[1] for piece in pieces]
    return path.strip(), values


def _split_top_level(text: str) -> list[str]:
    pieces, depth, current = [], 0, ""
    for char in text:
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        if char == "," and depth == 0:
            pieces.append(current)
            current = ""
        else:
            current += char
    pieces.append(current)
    return pieces
