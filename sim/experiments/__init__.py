"""Experiments: replications with confidence intervals and parameter sweeps, on any executor."""

from sim.experiments.executors import (
    ExecutorLike,
    InlineExecutor,
    Interrupted,
    available_cores,
    executor_name,
    open_executor,
)
from sim.experiments.replicate import Replications, replicate
from sim.experiments.spec import RunSpec
from sim.experiments.stats import describe, t_quantile
from sim.experiments.sweep import Sweep, check_grid, grid_points, parse_grid_assignment, sweep
from sim.experiments.worker import run_spec

__all__ = [
    "ExecutorLike",
    "InlineExecutor",
    "Interrupted",
    "Replications",
    "RunSpec",
    "Sweep",
    "available_cores",
    "check_grid",
    "describe",
    "executor_name",
    "grid_points",
    "open_executor",
    "parse_grid_assignment",
    "replicate",
    "run_spec",
    "sweep",
    "t_quantile",
]
