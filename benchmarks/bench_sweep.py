"""Sweep benchmark: the same 32-run sweep in this process, on a pool of 1 and of 2 worker
processes, and on a 2-worker Dask LocalCluster; prints each one's speed-up over 1 worker.

Goal: at least 1.8x on 2 cores for the process pool. The runs are independent and CPU-bound,
so the ideal is the number of cores; what is lost goes to starting workers, shipping specs
and results, and whatever else is using the cores. Run it alone with
`python benchmarks/bench_sweep.py`, or with the others through `make bench`.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pandas as pd

import sim
from sim.experiments import available_cores

SCENARIO = Path(__file__).resolve().parents[1] / "scenarios" / "mm1.yaml"
GRID = {"consumers.0.replicas": [1, 2, 3, 4]}
SEEDS = 8  # 4 points x 8 seeds = 32 runs
DURATION = "20h"  # about 65,000 messages, about half a second per run


def _timed(executor: Any, **kwargs: Any) -> tuple[float, pd.DataFrame]:
    scenario = sim.load_scenario(SCENARIO).override({"duration": DURATION})
    started = time.perf_counter()
    result = sim.sweep(scenario, GRID, seeds=SEEDS, executor=executor, progress=False, **kwargs)
    return time.perf_counter() - started, result.runs


def main() -> None:
    runs = len(GRID["consumers.0.replicas"]) * SEEDS
    print(f"== sweep of {runs} M/M/1 runs ({DURATION} each), {available_cores()} cores available")
    load_before = os.getloadavg()[0]
    timings: dict[str, float] = {}
    tables: dict[str, pd.DataFrame] = {}
    timings["in process"], tables["in process"] = _timed("inline")
    timings["1 worker"], tables["1 worker"] = _timed(1)
    timings["2 workers"], tables["2 workers"] = _timed(2)

    from dask.distributed import Client, LocalCluster

    started = time.perf_counter()
    cluster = LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    )
    client = Client(cluster)
    startup = time.perf_counter() - started
    try:
        timings["Dask, 2 workers"], tables["Dask, 2 workers"] = _timed(client)
    finally:
        client.close()
        cluster.close()

    base = timings["1 worker"]
    for label, seconds in timings.items():
        goal = "  (goal: at least 1.8x)" if label == "2 workers" else ""
        print(
            f"  {label:<16} {seconds:6.2f} s   speed-up over 1 worker {base / seconds:4.2f}x{goal}"
        )
    print(f"  (starting the Dask LocalCluster took {startup:.2f} s, not counted above)")
    # Other work on the machine takes cores from the pool: the load average says how much.
    print(f"  load average (1 min) before {load_before:.2f}, after {os.getloadavg()[0]:.2f}")
    same = all(t.equals(tables["in process"]) for t in tables.values())
    print(f"  identical tables on every executor: {'yes' if same else 'NO'}")


if __name__ == "__main__":
    main()
