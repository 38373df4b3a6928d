"""Independent replications of one scenario, and their means with confidence intervals."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import pandas as pd

from sim.experiments.executors import ExecutorLike
from sim.experiments.runs import as_scenario, run_specs
from sim.experiments.spec import RunSpec, seed_list
from sim.experiments.stats import describe
from sim.scenario import Scenario

__all__ = ["Replications", "replicate"]


@dataclass
class Replications:
    """The runs of one scenario on distinct seeds, and per metric their mean and CI.

    `runs`: one row per seed (the `seed` column, then each numeric summary key).
    `table`: one row per metric with n, mean, std, ci_low, ci_high and half_width, for a
    `level` (default 95%) Student-t confidence interval of the mean.
    """

    scenario_name: str
    seeds: list[int]
    runs: pd.DataFrame
    level: float = 0.95
    variant: str = ""
    metrics: list[str] = field(init=False)

    def __post_init__(self) -> None:
        self.metrics = [c for c in self.runs.columns if c != "seed"]

    @property
    def label(self) -> str:
        return f"{self.scenario_name} ({self.variant})" if self.variant else self.scenario_name

    @cached_property
    def table(self) -> pd.DataFrame:
        return describe(self.runs[self.metrics], self.level)

    def mean(self, metric: str) -> float:
        return float(self.table.at[self._known(metric), "mean"])

    def interval(self, metric: str) -> tuple[float, float]:
        """The confidence interval of the mean of `metric`: (low, high)."""
        row = self.table.loc[self._known(metric)]
        return float(row["ci_low"]), float(row["ci_high"])

    def to_dict(self) -> dict[str, dict[str, Any]]:
        """{metric: {n, mean, std, ci_low, ci_high, half_width}}, NaN as None (for JSON)."""
        return {
            metric: {k: _plain(v) for k, v in row.items()}
            for metric, row in self.table.to_dict(orient="index").items()
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    def to_dir(self, path: str | Path) -> Path:
        """Write runs.csv (one row per seed) and replications.csv (the table) into `path`."""
        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        self.runs.to_csv(folder / "runs.csv", index=False)
        self.table.to_csv(folder / "replications.csv")
        return folder

    def _known(self, metric: str) -> str:
        if metric not in self.metrics:
            raise KeyError(f"no metric {metric!r} (known: {', '.join(self.metrics)})")
        return metric

    def _repr_html_(self) -> str:
        caption = f"{self.label}: {len(self.seeds)} seeds, {self.level:.0%} CI of the mean"
        return f"<p><b>{caption}</b></p>" + self.table.to_html(float_format=lambda v: f"{v:.4g}")


def _plain(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value.item() if hasattr(value, "item") else value


def replicate(
    scenario: Scenario | str | Path,
    seeds: int | Sequence[int] = 30,
    executor: ExecutorLike = None,
    *,
    workers: int | None = None,
    level: float = 0.95,
    progress: bool | None = None,
) -> Replications:
    """Run `scenario` on `seeds` distinct seeds and summarize each metric across the runs.

    `seeds` is a count (seeds spawned from the scenario's seed, so the same scenario always
    replicates on the same seeds) or a list of seeds. `executor`: None runs on a process pool
    over all cores; see `sim.experiments.open_executor` for the others ("inline", "dask", a
    scheduler address, any concurrent.futures.Executor). The numbers do not depend on it.
    """
    scenario = as_scenario(scenario)
    chosen = seed_list(scenario.seed, seeds)
    specs = [RunSpec.of(scenario, {}, seed) for seed in chosen]
    label = f"replicate {scenario.name} {scenario.variant}".strip()
    rows = run_specs(specs, executor, workers, progress, label)
    rows.insert(0, "seed", chosen)
    return Replications(scenario.name, chosen, rows, level, scenario.variant)
