"""The function every executor runs: a RunSpec in, the run's numeric summary out.

It lives at module level so process pools and Dask workers find it by import, and it returns a
plain dict of numbers so the result is small to send back and pickles exactly.
"""

from __future__ import annotations

import math
import signal
from typing import Any

from sim.experiments.spec import RunSpec
from sim.kernel import run

__all__ = ["ignore_interrupts", "no_op", "numeric_summary", "run_spec"]


def numeric_summary(summary: dict[str, Any]) -> dict[str, float | int]:
    """The summary's numbers (not nested tables such as `processed_by`, nor flags)."""
    return {
        key: value
        for key, value in summary.items()
        if isinstance(value, int | float) and not isinstance(value, bool)
    }


def run_spec(spec: RunSpec) -> dict[str, float | int]:
    """Run one spec and return its numeric summary (NaN where a metric has no data)."""
    results = run(spec.scenario(), seed=spec.seed)
    summary = numeric_summary(results.summary)
    return {k: (math.nan if v is None else v) for k, v in summary.items()}


def ignore_interrupts() -> None:
    """Pool initializer: Ctrl-C reaches the whole process group, but only the parent handles it.

    The parent cancels pending runs and stops the workers; a worker interrupted on its own would
    print its own traceback for every run it was doing.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def no_op() -> None:
    """A task that does nothing: submitting it makes a pool start its workers."""
