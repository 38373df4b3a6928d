"""The runs of a scenario file as `mqsim demo` makes them (its own seed and duration, every
variant), simulated once per test session however many test modules and xdist workers read them.

Several modules assert on the same runs: tests/test_charts.py draws every scenario's demo
charts, and the scenario's own module (test_notification_system.py, test_kafka_rebalance_storm.py,
test_why_queues.py...) checks what the runs show. Under `make test` (`-n 2`) the first worker
that needs a scenario simulates it, holding a lock, and leaves the pickled runs in a folder both
workers share (tests/conftest.py makes it and names it in MQSIM_TEST_RUNS); the other worker
waits for the lock and reads them. Without that variable (one process, or a test run alone) the
runs are cached in memory only.

The runs are shared: a test reads them and never changes them.
"""

from __future__ import annotations

import fcntl
import os
import pickle
from functools import cache
from pathlib import Path

import sim
from sim.results import Results
from tests.helpers import ROOT

__all__ = ["RUNS_FOLDER", "scenario_runs"]

RUNS_FOLDER = "MQSIM_TEST_RUNS"  # the environment variable naming the shared folder


@cache
def scenario_runs(name: str) -> dict[str, Results]:
    """scenarios/<name>.yaml's {variant: Results} ({"": Results} without variants)."""
    path = ROOT / "scenarios" / f"{name}.yaml"
    folder = os.environ.get(RUNS_FOLDER)
    if not folder:
        return sim.run_variants(path)
    stored = Path(folder) / f"{name}.pickle"
    with (Path(folder) / f"{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if stored.exists():
            runs: dict[str, Results] = pickle.loads(stored.read_bytes())
            return runs
        runs = sim.run_variants(path)
        partial = stored.with_suffix(".partial")
        partial.write_bytes(pickle.dumps(runs, protocol=pickle.HIGHEST_PROTOCOL))
        partial.replace(stored)
        return runs
