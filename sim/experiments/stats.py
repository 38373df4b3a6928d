"""Means, standard deviations and Student-t confidence intervals of replicated runs.

Each replication is an independent run (its own seed), so its summary values are i.i.d. draws;
for a mean of n of them the interval is mean ± t(1 - (1 - level)/2, n - 1) · s / sqrt(n)
(Law, "Simulation Modeling and Analysis", 5th ed., section 4.5 for the interval and chapter 9
for independent replications of a simulation after a warm-up).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

__all__ = ["STAT_COLUMNS", "describe", "t_quantile"]

STAT_COLUMNS = ("n", "mean", "std", "ci_low", "ci_high", "half_width")


def t_quantile(level: float, dof: int) -> float:
    """The two-sided Student t critical value for a `level` interval with `dof` degrees."""
    if not 0 < level < 1:
        raise ValueError(f"level must be between 0 and 1, got {level}")
    from scipy import stats  # imported when needed: worker processes never compute intervals

    return float(stats.t.ppf(0.5 + level / 2, dof))


def _interval(values: np.ndarray, level: float) -> tuple[int, float, float, float]:
    n = len(values)
    mean = float(values.mean()) if n else math.nan
    if n < 2:
        return n, mean, math.nan, math.nan
    std = float(values.std(ddof=1))
    return n, mean, std, t_quantile(level, n - 1) * std / math.sqrt(n)


def describe(runs: pd.DataFrame, level: float = 0.95) -> pd.DataFrame:
    """One row per column of `runs` (a metric): n, mean, std and the `level` CI of the mean.

    NaN values (a run in which the metric had no data, e.g. no message finished) are left out,
    and `n` says how many runs remain.
    """
    rows = []
    for metric in runs.columns:
        values = pd.to_numeric(runs[metric], errors="coerce").dropna().to_numpy(dtype=float)
        n, mean, std, half = _interval(values, level)
        rows.append((n, mean, std, mean - half, mean + half, half))
    table = pd.DataFrame(rows, index=pd.Index(runs.columns, name="metric"), columns=STAT_COLUMNS)
    return table.astype({"n": int})
