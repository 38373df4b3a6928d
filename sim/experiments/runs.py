"""Running many specs: on the chosen executor, with a progress bar, into one DataFrame."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from sim.experiments.executors import ExecutorLike, execute, open_executor
from sim.experiments.progress import progress_bar
from sim.experiments.spec import RunSpec
from sim.experiments.worker import run_spec
from sim.scenario import Scenario, load_scenario

__all__ = ["as_scenario", "run_specs"]


def as_scenario(scenario: Scenario | str | Path) -> Scenario:
    return scenario if isinstance(scenario, Scenario) else load_scenario(scenario)


def run_specs(
    specs: Sequence[RunSpec],
    executor: ExecutorLike = None,
    workers: int | None = None,
    progress: bool | None = None,
    label: str = "runs",
) -> pd.DataFrame:
    """One row per spec, in the order given: each run's numeric summary."""
    with (
        open_executor(executor, workers) as pool,
        progress_bar(label, len(specs), progress) as tick,
    ):
        rows = execute(run_spec, specs, pool, tick)
    return pd.DataFrame(rows)
