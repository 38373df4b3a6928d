"""Load profiles (base rate, schedule steps, spikes) for producers and service clients."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

import sim
from sim.clients.load import LoadSchedule, RateStep, Spike
from sim.scenario import ScenarioError
from tests.helpers import scenario_from


def test_schedule_combines_steps_and_spikes() -> None:
    profile = LoadSchedule.of(
        10.0,
        [RateStep(at=50.0, rate=20.0)],
        [Spike(at=20.0, duration=10.0, factor=10), Spike(at=60.0, duration=5.0, rate=1.0)],
    )
    assert profile.rate_at(0.0) == 10.0
    assert profile.rate_at(25.0) == 100.0  # 10x the base
    assert profile.rate_at(30.0) == 10.0  # the spike is over
    assert profile.rate_at(55.0) == 20.0  # the step
    assert profile.rate_at(62.0) == 1.0  # a spike's own rate replaces the base
    assert profile.rate_at(70.0) == 20.0
    expected = 10 * 20 + 100 * 10 + 10 * 20 + 20 * 10 + 1 * 5 + 20 * 35
    assert profile.expected_count(0.0, 100.0) == pytest.approx(expected)


def test_evenly_spaced_arrivals_follow_the_rate_exactly() -> None:
    profile = LoadSchedule.of(2.0, [], [Spike(at=10.0, duration=5.0, rate=10.0)])
    next_gap = profile.gaps(lambda: 1.0)
    times = np.cumsum([next_gap() for _ in range(100)])
    # Unit steps of Lambda: exactly rate x length arrivals in each segment.
    assert np.sum(times <= 10.0 + 1e-9) == 20
    assert np.sum((times > 10.0 + 1e-9) & (times <= 15.0 + 1e-9)) == 50
    assert np.diff(times[(times > 10.5) & (times < 14.5)]) == pytest.approx(0.1)


def test_zero_rate_segments_are_skipped_and_a_final_zero_stops() -> None:
    profile = LoadSchedule.of(0.0, [RateStep(at=5.0, rate=1.0), RateStep(at=8.0, rate=0.0)])
    next_gap = profile.gaps(lambda: 1.0)
    times = list(np.cumsum([next_gap() for _ in range(4)]))
    assert times[:3] == pytest.approx([6.0, 7.0, 8.0])
    assert times[3] == math.inf


def test_poisson_counts_match_the_integrated_rate() -> None:
    # Arrivals of a non-homogeneous Poisson process in a window are Poisson(Lambda): mean and
    # variance Lambda. Check the count in each segment within 4 standard deviations.
    rng = np.random.default_rng(3)
    profile = LoadSchedule.of(50.0, [], [Spike(at=100.0, duration=20.0, factor=10)])
    next_gap = profile.gaps(lambda: float(rng.exponential()))
    times = np.cumsum([next_gap() for _ in range(30000)])
    for start, end in ((0, 100), (100, 120), (120, 200)):
        mean = profile.expected_count(start, end)
        count = np.sum((times >= start) & (times < end))
        assert abs(count - mean) < 4 * math.sqrt(mean)


def test_producer_spikes_reach_the_broker() -> None:
    scenario = scenario_from(
        duration=60.0,
        producers=[
            {
                "name": "p",
                "to": "q",
                "rate": 10.0,
                "arrivals": "constant",
                "spikes": [{"at": 20, "duration": 10, "factor": 5}],
            }
        ],
        consumers=[{"name": "c", "from": "q", "service_time": "1ms"}],
    )
    results = sim.run(scenario)
    expected = LoadSchedule.of(10.0, [], [Spike(at=20, duration=10, factor=5)]).expected_count(
        0, 60
    )
    assert results.summary["produced"] == pytest.approx(expected, abs=1)
    frame = results.timeseries
    during = frame[(frame["time"] > 21) & (frame["time"] < 29)]["produced_rate"]
    assert during.mean() == pytest.approx(50.0, rel=0.05)


def test_a_producer_without_a_profile_keeps_its_arrivals() -> None:
    # Adding `spikes: []` must not change a run: same stream, same draws.
    plain = sim.run(scenario_from())
    explicit = sim.run(
        scenario_from(producers=[{"name": "p", "to": "q", "rate": 1.0, "spikes": []}])
    )
    assert plain.summary == explicit.summary


@pytest.mark.parametrize(
    ("spikes", "expected"),
    [
        ([{"at": 5, "duration": 0, "rate": 1}], "a spike needs a positive duration"),
        ([{"at": 5, "duration": 1}], "either `rate`"),
        ([{"at": 5, "duration": 1, "rate": 1, "factor": 2}], "either `rate`"),
        (
            [{"at": 5, "duration": 10, "rate": 1}, {"at": 8, "duration": 1, "rate": 2}],
            "spikes overlap",
        ),
        ([{"at": 5, "duration": 1, "rate": "fast"}], "spikes[0].rate"),
    ],
)
def test_bad_spikes_get_one_line_errors(spikes: list[dict[str, Any]], expected: str) -> None:
    with pytest.raises(ScenarioError) as raised:
        scenario_from(producers=[{"name": "p", "to": "q", "rate": 1.0, "spikes": spikes}])
    assert expected in str(raised.value)
    assert str(raised.value).startswith("producers[0].spikes")


def test_schedule_steps_must_increase() -> None:
    with pytest.raises(ScenarioError, match="increasing order"):
        scenario_from(
            producers=[
                {
                    "name": "p",
                    "to": "q",
                    "rate": 1.0,
                    "schedule": [{"at": 10, "rate": 2}, {"at": 5, "rate": 3}],
                }
            ]
        )
