"""The same sweep on Dask: a 2-worker LocalCluster (shared by this module), reached as a
Client, as a scheduler address, and from the command line; numbers identical to in-process."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

import sim
from sim.cli import app
from tests.helpers import ROOT

MM1 = ROOT / "scenarios" / "mm1.yaml"
GRID = {"consumers.0.replicas": [1, 2], "producers.0.rate": ["0.5/s", "0.8/s"]}


@pytest.fixture(scope="module")
def cluster() -> Iterator[object]:
    from dask.distributed import LocalCluster

    local = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    yield local
    local.close()


def short_mm1() -> sim.Scenario:
    return sim.load_scenario(MM1).override({"duration": "5min", "warmup": "30s"})


@pytest.fixture(scope="module")
def inline_sweep() -> sim.Sweep:
    return sim.sweep(short_mm1(), GRID, seeds=3, executor="inline")


def test_sweep_is_identical_in_process_on_the_local_pool_and_on_dask(
    cluster: object, inline_sweep: sim.Sweep
) -> None:
    from dask.distributed import Client

    pooled = sim.sweep(short_mm1(), GRID, seeds=3, executor=None, workers=2)
    with Client(cluster) as client:
        on_dask = sim.sweep(short_mm1(), GRID, seeds=3, executor=client)
        # The client is the caller's: the sweep leaves it open.
        assert client.status == "running"
    by_address = sim.sweep(short_mm1(), GRID, seeds=3, executor=cluster.scheduler_address)
    for other in (pooled, on_dask, by_address):
        pd.testing.assert_frame_equal(other.runs, inline_sweep.runs, check_exact=True)
        pd.testing.assert_frame_equal(other.aggregate, inline_sweep.aggregate, check_exact=True)


def test_replications_on_dask_match_in_process(cluster: object) -> None:
    on_dask = sim.replicate(short_mm1(), seeds=4, executor=cluster.scheduler_address)
    inline = sim.replicate(short_mm1(), seeds=4, executor="inline")
    pd.testing.assert_frame_equal(on_dask.table, inline.table, check_exact=True)


def test_cli_sweep_on_a_dask_scheduler_writes_the_same_runs(
    cluster: object, inline_sweep: sim.Sweep, tmp_path: Path
) -> None:
    out = tmp_path / "sweep"
    result = CliRunner().invoke(
        app,
        [
            "sweep",
            str(MM1),
            "--set",
            "duration=5min",
            "--set",
            "warmup=30s",
            "--set",
            "consumers.0.replicas=1,2",
            "--set",
            "producers.0.rate=0.5/s,0.8/s",
            "--seeds",
            "3",
            "--dask",
            cluster.scheduler_address,
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert f"12 runs on the Dask scheduler at {cluster.scheduler_address}" in result.stderr
    written = pd.read_csv(out / "runs.csv")
    expected_path = tmp_path / "expected.csv"
    inline_sweep.runs.to_csv(expected_path, index=False)
    expected = pd.read_csv(expected_path)  # the same CSV round trip on both sides
    # duration and warmup had one value each: overrides of every run, not grid columns.
    pd.testing.assert_frame_equal(written, expected)
