"""Terminal tables of replications and sweeps: means with their confidence intervals."""

from __future__ import annotations

import math

import pandas as pd
from rich.table import Table

from sim.experiments.replicate import Replications
from sim.experiments.sweep import Sweep

__all__ = ["replication_table", "sweep_table"]


def _number(value: float) -> str:
    return "-" if not math.isfinite(value) else f"{value:.4g}"


def _stat_cells(row: pd.Series) -> list[str]:
    return [
        _number(row["mean"]),
        "± " + _number(row["half_width"]),
        f"[{_number(row['ci_low'])}, {_number(row['ci_high'])}]",
        _number(row["std"]),
        str(int(row["n"])),
    ]


def _stat_columns(table: Table, level: float) -> None:
    for name in ("mean", f"± {level:.0%} CI", f"{level:.0%} CI", "std", "runs"):
        table.add_column(name, justify="right")


def replication_table(replications: Replications) -> Table:
    """One row per metric: its mean over the seeds and the confidence interval of that mean."""
    table = Table(
        title=f"{replications.label}: {len(replications.seeds)} seeds",
        header_style="bold",
    )
    table.add_column("metric")
    _stat_columns(table, replications.level)
    for metric, row in replications.table.iterrows():
        table.add_row(str(metric), *_stat_cells(row))
    return table


def sweep_table(result: Sweep, metric: str) -> Table:
    """One row per grid point: the parameters, then the mean of `metric` and its interval."""
    table = Table(title=f"{result.scenario_name}: {metric}", header_style="bold")
    for name in result.parameters:
        table.add_column(name)
    _stat_columns(table, result.level)
    frame = result.metric(metric)
    for i, (_, row) in enumerate(frame.iterrows()):
        # Parameters from their own columns: a row of mixed types would turn 4 into 4.0.
        params = (str(frame[name].iloc[i]) for name in result.parameters)
        table.add_row(*params, *_stat_cells(row))
    return table
