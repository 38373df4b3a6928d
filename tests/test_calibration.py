"""The calibration: the shipped presets are what tools/calibrate.py derives from the published
rows, every figure has a source, the published orderings hold, every modelled row is within 2x
but the documented ones, and the closed-loop formula agrees with exact mean-value analysis."""

from __future__ import annotations

import json
import math
from functools import cache

import pytest

from sim.calibration.fit import Fit, fit_all, presets_data
from sim.calibration.published import DEFAULT_CSV, Row, read_rows
from sim.calibration.queueing import closed_throughput
from sim.calibration.report import KNOWN_MISSES, Outcome, orderings, outcomes
from sim.presets import PRESETS_FILE, preset_names, presets
from tests.chart_rules import problems
from tests.helpers import ROOT


@cache
def rows() -> list[Row]:
    assert DEFAULT_CSV.exists(), f"{DEFAULT_CSV}: put a copy of shared/ beside the repository"
    return read_rows(DEFAULT_CSV)


@cache
def fits() -> dict[str, Fit]:
    return fit_all(rows())


@cache
def found() -> list[Outcome]:
    return outcomes(fits(), rows())


def test_the_shipped_presets_are_what_the_tool_derives() -> None:
    shipped = json.loads(PRESETS_FILE.read_text(encoding="utf-8"))
    assert shipped == presets_data(fits())
    assert preset_names() == ["confluent-2020", "mqperf-2021"]


def test_every_figure_of_every_preset_has_a_source() -> None:
    for preset in presets().values():
        assert preset.source.split()[0] == preset.name
        for system, part in preset.systems.items():
            figures = [*part.cost, *part.broker, *part.client, "one_way"]
            missing = [f for f in figures if not part.sources.get(f)]
            assert not missing, (preset.name, system, missing)
            assert part.fitted_on, (preset.name, system)
            mine = {r.row_id for r in rows() if r.study == preset.name}
            assert set(part.fitted_on) <= mine


def test_the_published_orderings_hold() -> None:
    results = orderings(found())
    assert len(results) == 2
    for result in results:
        assert result.holds, result.ordering.name
        assert list(result.published) == sorted(result.published, reverse=True)


def test_every_modelled_row_is_within_2x_but_the_documented_ones() -> None:
    modelled = [o for o in found() if o.model is not None]
    assert len(modelled) >= 140
    outside = {o.row.row_id for o in modelled if not o.within}
    assert outside == set(KNOWN_MISSES)
    doc = (ROOT / "docs" / "calibration.md").read_text(encoding="utf-8")
    for row_id in KNOWN_MISSES:
        assert row_id in doc


def test_each_study_fits_on_its_own_rows_and_every_row_has_a_status() -> None:
    assert len(found()) == len(rows())
    for outcome in found():
        if outcome.model is None:
            assert outcome.status == "not modelled" and outcome.reason
        else:
            assert outcome.status in ("fitted", "check")
    for fit in fits().values():
        for ids in fit.fitted_on.values():
            assert all(i.startswith("r") for i in ids)
    used = {i for f in fits().values() for ids in f.fitted_on.values() for i in ids}
    by_id = {r.row_id: r for r in rows()}
    assert {by_id[i].study for i in used} == {"mqperf-2021", "confluent-2020"}


def test_the_calibration_chart_follows_the_chart_rules() -> None:
    from sim.viz.calibration import calibration_chart

    fig = calibration_chart(found())
    assert problems(fig) == []
    assert fig.axes[0].get_xscale() == "log" and fig.axes[0].get_yscale() == "log"


def exact_mva(customers: int, delay: float, demand: float) -> float:
    """Exact mean-value analysis of one single-server station and a delay (Reiser &
    Lavenberg 1980): the textbook recursion over the population."""
    queue = 0.0
    throughput = 0.0
    for n in range(1, customers + 1):
        residence = demand * (1 + queue)
        throughput = n / (delay + residence)
        queue = throughput * residence
    return throughput


@pytest.mark.parametrize("customers", [1, 2, 5, 20, 100, 1000])
def test_the_closed_loop_formula_agrees_with_exact_mean_value_analysis(customers: int) -> None:
    delay, demand = 0.004, 0.0005
    approx = closed_throughput(customers, delay, [(demand, 1)])
    assert approx == pytest.approx(exact_mva(customers, delay, demand), rel=0.05)
    assert approx <= min(customers / (delay + demand), 1 / demand) * (1 + 1e-9)


def test_the_closed_loop_formula_has_the_asymptotes_of_its_bounds() -> None:
    # One customer: no queueing, one cycle of delay plus every demand.
    assert closed_throughput(1, 0.001, [(0.0002, 1), (0.0008, 8)]) == pytest.approx(1 / 0.002)
    # Many: the bottleneck's servers over its demand (8 servers of 0.8 ms: 10,000 a second).
    assert closed_throughput(100_000, 0.001, [(0.0002, 1), (0.0008, 8)]) == pytest.approx(
        5000, rel=1e-3
    )
    assert closed_throughput(100_000, 0.001, [(0.0001, 1), (0.0008, 8)]) == pytest.approx(
        10_000, rel=1e-3
    )
    assert math.isinf(closed_throughput(5, 0.0, []))


def test_the_shipped_presets_predict_what_the_fit_reported() -> None:
    from sim.calibration.fit import shipped

    fitted = {r.row_id: p.value for f in fits().values() for r, p in f.predictions}
    again = {r.row_id: p.value for f in shipped(rows()).values() for r, p in f.predictions}
    assert again.keys() == fitted.keys()
    for row_id, value in fitted.items():
        if value is None:
            assert again[row_id] is None
        else:
            assert again[row_id] == pytest.approx(value, rel=1e-9), row_id


def test_the_simulated_latency_tests_name_published_latency_rows() -> None:
    from sim.calibration.simulate import RUNS

    by_id = {r.row_id: r for r in rows()}
    for run in RUNS:
        for row_id, metric in run.rows.items():
            assert by_id[row_id].study == "confluent-2020"
            assert by_id[row_id].metric == metric and by_id[row_id].unit == "ms"
        scenario = run.scenario()
        assert scenario["broker"]["cost"] == {"preset": "confluent-2020"}


def test_a_simulated_percentile_is_read_from_the_runs_latency_histogram() -> None:
    import sim
    from sim.calibration.simulate import percentile

    results = sim.run(
        sim.Scenario.from_dict(
            {
                "name": "p",
                "seed": 2,
                "duration": 5,
                "broker": {"type": "sqs", "queues": [{"name": "q"}]},
                "producers": [{"name": "p", "to": "q", "rate": 200}],
                "consumers": [{"name": "c", "from": "q", "service_time": "exp(10ms)"}],
            }
        )
    )
    assert percentile(results, 50) == pytest.approx(1000 * results.summary["latency_p50"], rel=0.02)
    assert percentile(results, 99) == pytest.approx(1000 * results.summary["latency_p99"], rel=0.02)
