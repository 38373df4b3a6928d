"""Replications and sweeps: confidence intervals that are right, tables that do not depend on
where the runs ran, and clean stops."""

from __future__ import annotations

import math
import multiprocessing
import time
from collections.abc import Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from typing import Any

import numpy as np
import pandas as pd
import pytest

import sim
from sim.experiments import (
    InlineExecutor,
    Interrupted,
    describe,
    grid_points,
    open_executor,
    run_spec,
    t_quantile,
)
from sim.experiments.spec import RunSpec
from sim.experiments.worker import numeric_summary
from sim.randomness import spawn_seeds
from sim.results import FINAL_STATES
from tests.helpers import ROOT, scenario_from

# M/M/1 with lambda = 1/s and mu = 2/s (rho 0.5): mean time in system W = 1 / (mu - lambda).
LAMBDA, MU = 1.0, 2.0
W_MM1 = 1.0 / (MU - LAMBDA)


def mm1(duration: float = 500.0, warmup: float = 50.0, seed: int = 1) -> sim.Scenario:
    """A short M/M/1 run; the warm-up drops the start from empty (about 5x the relaxation time
    1 / (mu (1 - sqrt(rho)))^2 = 5.8 s), so a run's mean latency is an unbiased estimate of W."""
    return scenario_from(duration=duration, warmup=warmup, seed=seed)


# --- the statistics ------------------------------------------------------------------------


def test_t_quantiles_match_the_printed_table() -> None:
    # Two-sided critical values from a Student t table (e.g. NIST/SEMATECH e-Handbook 1.3.6.7.2).
    assert t_quantile(0.95, 4) == pytest.approx(2.776, abs=5e-4)
    assert t_quantile(0.95, 9) == pytest.approx(2.262, abs=5e-4)
    assert t_quantile(0.95, 29) == pytest.approx(2.045, abs=5e-4)
    assert t_quantile(0.99, 4) == pytest.approx(4.604, abs=5e-4)
    with pytest.raises(ValueError):
        t_quantile(1.5, 4)


def test_describe_computes_mean_sample_std_and_t_interval() -> None:
    values = [2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]  # mean 5, sum of squares 32
    table = describe(pd.DataFrame({"x": values, "flat": [3] * 8}))
    row = table.loc["x"]
    std = math.sqrt(32 / 7)  # the sample (n - 1) standard deviation
    half = 2.365 * std / math.sqrt(8)  # t(0.975, 7) = 2.365 from the table
    assert row["n"] == 8
    assert row["mean"] == pytest.approx(5.0)
    assert row["std"] == pytest.approx(std)
    assert row["half_width"] == pytest.approx(half, rel=1e-3)
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((5 - half, 5 + half), rel=1e-3)
    flat = table.loc["flat"]
    assert (flat["ci_low"], flat["mean"], flat["ci_high"]) == (3.0, 3.0, 3.0)


def test_describe_leaves_out_missing_values_and_gives_no_interval_for_one_run() -> None:
    table = describe(pd.DataFrame({"x": [1.0, math.nan, 3.0], "y": [math.nan, math.nan, 7.0]}))
    assert table.at["x", "n"] == 2 and table.at["x", "mean"] == pytest.approx(2.0)
    assert table.at["y", "n"] == 1 and table.at["y", "mean"] == 7.0
    assert math.isnan(table.at["y", "ci_low"]) and math.isnan(table.at["y", "std"])


# --- replications --------------------------------------------------------------------------


def test_replications_are_independent_runs_on_spawned_seeds() -> None:
    scenario = mm1(duration=200, warmup=20, seed=5)
    reps = sim.replicate(scenario, seeds=3, executor="inline")
    assert reps.seeds == spawn_seeds(5, 3)
    assert len(set(reps.seeds)) == 3
    assert list(reps.runs["seed"]) == reps.seeds
    for seed, (_, row) in zip(reps.seeds, reps.runs.iterrows(), strict=True):
        alone = numeric_summary(sim.run(scenario, seed=seed).summary)
        assert {k: row[k] for k in alone} == alone
        accounted = sum(row[k] for k in FINAL_STATES)
        assert row["produced"] + row["copies"] == accounted  # conservation, run by run
    table = reps.table
    assert table.at["produced", "mean"] == pytest.approx(reps.runs["produced"].mean())
    low, high = reps.interval("latency_mean")
    assert low < reps.mean("latency_mean") < high
    assert set(reps.to_dict()["latency_mean"]) == {
        "n",
        "mean",
        "std",
        "ci_low",
        "ci_high",
        "half_width",
    }


def test_same_scenario_replicates_identically_and_seed_lists_are_prefixes() -> None:
    scenario = mm1(duration=200, warmup=20)
    first = sim.replicate(scenario, seeds=4, executor="inline")
    again = sim.replicate(scenario, seeds=[*first.seeds[:2]], executor="inline")
    pd.testing.assert_frame_equal(first.runs.iloc[:2], again.runs, check_exact=True)
    with pytest.raises(ValueError):
        sim.replicate(scenario, seeds=[3, 3], executor="inline")
    with pytest.raises(ValueError):
        sim.replicate(scenario, seeds=0, executor="inline")


def test_confidence_intervals_shrink_as_seeds_grow() -> None:
    scenario = mm1(duration=300, warmup=30)
    widths = [
        sim.replicate(scenario, seeds=n, executor="inline").table.at["latency_mean", "half_width"]
        for n in (4, 16, 64)
    ]
    assert widths[0] > widths[1] > widths[2]
    # The width goes as t(n-1) s / sqrt(n): from 4 to 64 seeds it narrows about 6x
    # (t 3.18 -> 2.00, sqrt(n) 2 -> 8); the sample std varies, so allow a factor 2 either way.
    assert 3 < widths[0] / widths[2] < 12


def test_intervals_cover_the_analytic_mm1_mean_about_95_percent_of_the_time() -> None:
    # 160 independent replication sets of 5 runs each (each set from its own scenario seed).
    sets, per_set = 160, 5
    means, covered, widths = [], 0, []
    for k in range(1, sets + 1):
        reps = sim.replicate(mm1(seed=k), seeds=per_set, executor="inline")
        row = reps.table.loc["latency_mean"]
        covered += row["ci_low"] <= W_MM1 <= row["ci_high"]
        means.append(row["mean"])
        widths.append(row["half_width"])
    # Covered ~ Binomial(160, 0.95): mean 152, sd 2.76. Three sd below, and never all 160
    # (P = 0.95^160 < 3e-4): intervals that are too wide cover every time.
    assert 144 <= covered <= 159, covered
    # The widths match the real spread of the set means: mean half width ~ t(0.975, 4) E[s] /
    # sqrt(5), and E[s] = c4(5) sigma = 0.94 sigma for normal data.
    spread = t_quantile(0.95, per_set - 1) * np.std(means, ddof=1)
    assert 0.75 < np.mean(widths) / spread < 1.15
    # No warm-up bias: the grand mean of 800 runs is within 3 standard errors of W.
    assert abs(np.mean(means) - W_MM1) < 3 * np.std(means, ddof=1) / math.sqrt(sets)


# --- sweeps --------------------------------------------------------------------------------


GRID = {"producers.0.rate": ["0.5/s", "1/s", "1.5/s"], "consumers.0.replicas": [1, 2]}


def test_sweep_runs_every_point_on_the_same_seeds_in_a_tidy_table() -> None:
    scenario = mm1(duration=200, warmup=20)
    result = sim.sweep(scenario, GRID, seeds=3, executor="inline")
    runs = result.runs
    assert list(runs.columns[:3]) == ["producers.0.rate", "consumers.0.replicas", "seed"]
    assert "latency_mean" in runs.columns and "processed_by" not in runs.columns
    assert len(runs) == 6 * 3
    points = grid_points(GRID)
    seeds = spawn_seeds(scenario.seed, 3)
    for i, (_, row) in enumerate(runs.iterrows()):
        point, seed = points[i // 3], seeds[i % 3]
        assert row["seed"] == seed
        assert {k: row[k] for k in point} == point
    # A row is exactly the run of that point and seed.
    _, last = next(iter(runs.iloc[[-1]].iterrows()))
    alone = sim.run(scenario.override(points[-1]), seed=seeds[-1]).summary
    assert last["latency_mean"] == alone["latency_mean"] and last["produced"] == alone["produced"]
    # The aggregate is the per-point mean of the runs.
    mean = result.metric("latency_mean")
    assert len(mean) == 6 and len(result.aggregate) == 6 * len(result.metrics)
    for i, point in enumerate(points):
        block = runs.iloc[3 * i : 3 * i + 3]
        assert mean.at[i, "mean"] == pytest.approx(block["latency_mean"].mean())
        assert {k: mean.at[i, k] for k in point} == point
        assert mean.at[i, "n"] == 3


def test_sweep_follows_queueing_theory_latency_grows_with_load() -> None:
    # M/M/1 mean time in system 1 / (mu - lambda) = 0.67 s, 1 s, 2 s for lambda = 0.5, 1, 1.5.
    result = sim.sweep(
        mm1(duration=300, warmup=30),
        {"producers.0.rate": [0.5, 1.0, 1.5]},
        seeds=4,
        executor="inline",
    )
    means = result.metric("latency_mean")["mean"].tolist()
    assert means[0] < means[1] < means[2]
    throughput = result.metric("throughput")["mean"].tolist()
    assert throughput == pytest.approx([0.5, 1.0, 1.5], rel=0.1)  # all that arrives is served


def _sweep_with(executor: Any, **kwargs: Any) -> pd.DataFrame:
    return sim.sweep(
        mm1(duration=150, warmup=15),
        {"consumers.0.replicas": [1, 2]},
        seeds=3,
        executor=executor,
        **kwargs,
    ).runs


def test_same_sweep_gives_identical_tables_on_every_executor() -> None:
    inline = _sweep_with("inline")
    with ThreadPoolExecutor(2) as threads:
        pd.testing.assert_frame_equal(_sweep_with(threads), inline, check_exact=True)
    pd.testing.assert_frame_equal(_sweep_with(None, workers=2), inline, check_exact=True)
    pd.testing.assert_frame_equal(_sweep_with(1), inline, check_exact=True)


class _Recording(Executor):
    """An executor that records what it is given and runs it in this process."""

    def __init__(self) -> None:
        self.submitted: list[Any] = []

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        self.submitted.extend(args)
        return InlineExecutor().submit(fn, *args, **kwargs)


def test_runs_are_shipped_as_scenario_data_not_live_objects() -> None:
    recording = _Recording()
    scenario = mm1(duration=100, warmup=10)
    sim.sweep(scenario, {"consumers.0.replicas": [1, 2]}, seeds=2, executor=recording)
    assert len(recording.submitted) == 4
    for spec in recording.submitted:
        assert isinstance(spec, RunSpec)
        assert isinstance(spec.raw, dict) and spec.raw["name"] == scenario.name
        assert set(spec.overrides) == {"consumers.0.replicas"}
    assert run_spec(recording.submitted[0]) == numeric_summary(
        sim.run(scenario, seed=recording.submitted[0].seed).summary
    )


@pytest.mark.parametrize(
    ("grid", "message"),
    [
        ({}, "grid is empty"),
        ({"seed": [1, 2]}, "not a grid parameter"),
        ({"consumers.0.replicas": []}, "no values"),
    ],
)
def test_bad_grids_are_refused_before_anything_runs(grid: dict[str, Any], message: str) -> None:
    recording = _Recording()
    with pytest.raises(ValueError, match=message):
        sim.sweep(mm1(), grid, seeds=2, executor=recording)
    assert recording.submitted == []


def test_a_bad_grid_value_is_a_one_line_error_naming_the_file() -> None:
    recording = _Recording()
    scenario = sim.load_scenario(ROOT / "scenarios" / "mm1.yaml")
    with pytest.raises(sim.ScenarioError) as caught:
        sim.sweep(scenario, {"consumers.0.replicas": [1, 0]}, seeds=2, executor=recording)
    text = str(caught.value)
    assert "\n" not in text
    assert text.startswith(f"{scenario.source}: consumers[0].replicas: ")
    assert recording.submitted == []  # point 0 is fine, point 1 is not: neither ran


def test_sweep_plot_draws_the_means_with_their_intervals() -> None:
    result = sim.sweep(mm1(duration=150, warmup=15), GRID, seeds=3, executor="inline")
    fig = result.plot(x="producers.0.rate", y="latency_mean", hue="consumers.0.replicas")
    ax = fig.axes[0]
    assert "latency_mean" in ax.get_title() and "producers.0.rate" in ax.get_title()
    assert ax.get_xlabel() == "producers.0.rate (per s)"  # "0.5/s" values placed as rates
    assert ax.get_ylabel() == "latency_mean (s)"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "consumers.0.replicas=1",
        "consumers.0.replicas=2",
    ]
    lines = [container.lines[0] for container in ax.containers]  # each errorbar's data line
    table = result.metric("latency_mean")
    for line, replicas in zip(lines, (1, 2), strict=True):
        expected = table[table["consumers.0.replicas"] == replicas]["mean"].to_numpy()
        assert list(line.get_xdata()) == pytest.approx([0.5, 1.0, 1.5])
        assert list(line.get_ydata()) == pytest.approx(list(expected))
    assert len(ax.collections) >= 2  # a CI band (and error bars) per line
    assert any("confidence interval" in t.get_text() for t in fig.texts)
    with pytest.raises(ValueError, match="also varies"):
        result.plot(x="producers.0.rate", hue=[])
    with pytest.raises(KeyError):
        result.plot(y="latency_mean", x="nope")


# --- stopping ------------------------------------------------------------------------------


class _InterruptedAfterSubmit(Executor):
    """Futures that never finish, except one that reports Ctrl-C (as a wait on them would)."""

    def __init__(self) -> None:
        self.futures: list[Future[Any]] = []

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        if len(self.futures) == 2:
            future.set_exception(KeyboardInterrupt())
        self.futures.append(future)
        return future


def test_ctrl_c_cancels_every_pending_run() -> None:
    executor = _InterruptedAfterSubmit()
    with pytest.raises(Interrupted) as caught:
        sim.replicate(mm1(), seeds=6, executor=executor)
    assert isinstance(caught.value, KeyboardInterrupt)  # code that catches Ctrl-C still does
    assert (caught.value.done, caught.value.total) == (0, 6)
    pending = [f for i, f in enumerate(executor.futures) if i != 2]
    assert all(f.cancelled() for f in pending)


def test_ctrl_c_stops_the_workers_of_a_pool_it_started() -> None:
    before = set(multiprocessing.active_children())
    with pytest.raises(KeyboardInterrupt), open_executor(2) as pool:
        started = set(multiprocessing.active_children()) - before
        assert len(started) == 2
        pool.submit(time.sleep, 60)  # a run that would hold a worker for a minute
        raise KeyboardInterrupt
    # The workers were ended, not waited for: none is left running the minute-long task.
    assert not any(p.is_alive() for p in started)
