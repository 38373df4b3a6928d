"""Sweep benchmark: the same 32-run sweep in this process, on a pool of 1 and of 2 worker
processes, on a 2-worker Dask LocalCluster, and on a Dask cluster started by hand the way a
user with more machines would (a `dask scheduler` process and a `dask worker` process with two
single-threaded worker processes, here on this machine, passed to mqsim by address); prints
each one's speed-up over 1 worker and checks that every executor gives the same tables.

Goal: at least 1.8x for 2 workers on 2 cores. The runs are independent and CPU-bound, so the
ideal is the number of cores; what is lost goes to starting workers, shipping specs and
results, and whatever else is using the cores. Run it alone with
`python benchmarks/bench_sweep.py`, or with the others through `make bench`.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE)]

import pandas as pd  # noqa: E402

import sim  # noqa: E402
from sim.experiments import available_cores  # noqa: E402

SCENARIO = HERE.parent / "scenarios" / "mm1.yaml"
GRID = {"consumers.0.replicas": [1, 2, 3, 4]}
SEEDS = 8  # 4 points x 8 seeds = 32 runs
DURATION = "20h"  # about 65,000 messages, about half a second per run


def _timed(executor: Any, duration: str, **kwargs: Any) -> tuple[float, pd.DataFrame]:
    scenario = sim.load_scenario(SCENARIO).override({"duration": duration})
    started = time.perf_counter()
    result = sim.sweep(scenario, GRID, seeds=SEEDS, executor=executor, progress=False, **kwargs)
    return time.perf_counter() - started, result.runs


def _dask_command() -> str:
    """The `dask` command of this interpreter's environment."""
    beside = Path(sys.executable).with_name("dask")
    found = str(beside) if beside.exists() else shutil.which("dask")
    if found is None:
        raise RuntimeError("no `dask` command: install dask[distributed]")
    return found


@contextmanager
def hand_started_cluster(workers: int = 2) -> Iterator[tuple[str, float]]:
    """A scheduler and a worker process started from the command line, as on a real cluster:

        dask scheduler --scheduler-file FILE --port 0 --no-dashboard
        dask worker --scheduler-file FILE --nworkers 2 --nthreads 1 --no-dashboard

    Yields (the scheduler's address, seconds until both were up); stops both on exit (each by
    its own process id)."""
    dask = _dask_command()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="mqsim-dask-") as tmp:
        scheduler_file = Path(tmp) / "scheduler.json"
        # The workers import this checkout's mqsim, as the scheduler's clients here do.
        path = os.pathsep.join(filter(None, [str(HERE.parent), os.environ.get("PYTHONPATH")]))
        quiet = {
            "stdout": subprocess.DEVNULL,
            "stderr": subprocess.DEVNULL,
            "env": {**os.environ, "PYTHONPATH": path},
        }
        # The worker directory is inside the temporary directory too, so nothing is left over.
        common = ["--scheduler-file", str(scheduler_file)]
        scheduler = subprocess.Popen(
            [dask, "scheduler", *common, "--port", "0", "--no-dashboard", "--host", "127.0.0.1"],
            start_new_session=True,
            **quiet,  # type: ignore[arg-type]
        )
        worker = None
        try:
            while not scheduler_file.exists():
                if scheduler.poll() is not None:
                    raise RuntimeError("dask scheduler exited at start")
                time.sleep(0.05)
            time.sleep(0.1)  # the file is written in one go, but let it be complete
            address = json.loads(scheduler_file.read_text())["address"]
            worker = subprocess.Popen(
                [
                    dask,
                    "worker",
                    *common,
                    "--nworkers",
                    str(workers),
                    "--nthreads",
                    "1",
                    "--no-dashboard",
                    "--local-directory",
                    tmp,
                ],
                start_new_session=True,
                **quiet,  # type: ignore[arg-type]
            )
            from dask.distributed import Client

            with Client(address) as client:
                client.wait_for_workers(workers, timeout=60)
            yield address, time.perf_counter() - started
        finally:
            for process in (worker, scheduler):
                if process is not None and process.poll() is None:
                    os.killpg(process.pid, signal.SIGTERM)  # its own session: its children
                    try:
                        process.wait(timeout=20)
                    except subprocess.TimeoutExpired:
                        os.killpg(process.pid, signal.SIGKILL)
                        process.wait()


class _Printer:
    """The table of benchmarks/run.py, when this file runs alone."""

    def section(self, title: str) -> None:
        print(f"\n== {title}")

    def row(self, what: str, measured: str, goal: str = "", met: bool | None = None) -> None:
        verdict = "" if met is None else ("met" if met else "NOT MET")
        print(f"  {what:<44} {measured:<42} {goal:<20} {verdict}")


def main(table: Any = None, quick: bool = False) -> None:
    table = table or _Printer()
    duration = "2h" if quick else DURATION
    runs = len(GRID["consumers.0.replicas"]) * SEEDS
    table.section(
        f"sweep of {runs} M/M/1 runs ({duration} each), {available_cores()} cores available"
    )
    load_before = os.getloadavg()[0]
    timings: dict[str, float] = {}
    tables: dict[str, pd.DataFrame] = {}
    timings["in process"], tables["in process"] = _timed("inline", duration)
    timings["process pool, 1 worker"], tables["pool 1"] = _timed(1, duration)
    timings["process pool, 2 workers"], tables["pool 2"] = _timed(2, duration)

    from dask.distributed import Client, LocalCluster

    started = time.perf_counter()
    cluster = LocalCluster(
        n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None
    )
    client = Client(cluster)
    local_startup = time.perf_counter() - started
    try:
        timings["Dask LocalCluster, 1 worker"], tables["dask 1"] = _timed(client, duration)
        cluster.scale(2)
        client.wait_for_workers(2, timeout=60)
        timings["Dask LocalCluster, 2 workers"], tables["dask 2"] = _timed(client, duration)
    finally:
        client.close()
        cluster.close()

    with hand_started_cluster(2) as (address, hand_startup):
        timings["hand-started Dask, 2 workers"], tables["hand"] = _timed(address, duration)

    base = timings["process pool, 1 worker"]
    dask_base = timings["Dask LocalCluster, 1 worker"]
    for label, seconds in timings.items():
        if label == "process pool, 2 workers":
            speedup = base / seconds
            table.row(
                label,
                f"{seconds:6.2f} s  {speedup:4.2f}x 1 worker",
                "at least 1.8x",
                speedup >= 1.8,
            )
        elif label == "Dask LocalCluster, 2 workers":
            speedup = dask_base / seconds
            table.row(
                label,
                f"{seconds:6.2f} s  {speedup:4.2f}x 1 worker",
                "at least 1.8x",
                speedup >= 1.8,
            )
        elif label == "hand-started Dask, 2 workers":
            speedup = dask_base / seconds
            table.row(label, f"{seconds:6.2f} s  {speedup:4.2f}x 1 Dask worker")
        else:
            table.row(label, f"{seconds:6.2f} s  {base / seconds:4.2f}x pool of 1")
    table.row(
        "(not counted) cluster start-up",
        f"LocalCluster {local_startup:.1f} s, by hand {hand_startup:.1f} s",
    )
    # Other work on the machine takes cores from the pool: the load average says how much.
    table.row("load average (1 min) before, after", f"{load_before:.2f}, {os.getloadavg()[0]:.2f}")
    same = all(t.equals(tables["in process"]) for t in tables.values())
    table.row("identical tables on every executor", "yes" if same else "NO", "identical", same)


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)
