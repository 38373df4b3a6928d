"""Tables of delivery-guarantee experiments: effect outcomes as shares of the logical messages,
per grid point of a sweep, with confidence intervals across its seeds."""

from __future__ import annotations

import pandas as pd

from sim.experiments.stats import describe
from sim.experiments.sweep import Sweep

__all__ = ["OUTCOMES", "effect_shares"]

#: Summary key -> outcome name, in the order charts show them.
OUTCOMES = {
    "effects_lost": "lost",
    "effects_once": "once",
    "effects_duplicated": "duplicated",
}


def effect_shares(sweep: Sweep, level: float = 0.95) -> pd.DataFrame:
    """One row per grid point and outcome (lost, once, duplicated): the percentage of logical
    messages (`produced`) with that outcome, its mean over the seeds, and the `level` Student-t
    interval of the mean. The share is computed per run, then averaged, so each seed is one
    independent observation."""
    runs = sweep.runs
    missing = [key for key in OUTCOMES if key not in runs.columns]
    if missing:
        raise KeyError(f"no {', '.join(missing)} in the sweep: it needs a guarantee section")
    per_point = len(sweep.seeds)
    frames = []
    for start in range(0, len(runs), per_point):
        block = runs.iloc[start : start + per_point]
        shares = pd.DataFrame(
            {name: 100.0 * block[key] / block["produced"] for key, name in OUTCOMES.items()}
        )
        table = describe(shares, level).reset_index().rename(columns={"metric": "outcome"})
        for position, name in enumerate(sweep.parameters):
            table.insert(position, name, [block[name].iloc[0]] * len(table))
        frames.append(table)
    return pd.concat(frames, ignore_index=True)
