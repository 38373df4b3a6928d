"""Rate limits on consumers (sim/consumers/ratelimit.py), on every broker: in any window of
length t a consumer starts at most rate x t + burst processings, its replicas together."""

from __future__ import annotations

import numpy as np
import pytest

import sim
from sim.consumers.ratelimit import TokenBucket
from sim.scenario import Scenario
from tests.test_broker_contract import ideal

SERVICE = 0.01  # constant: a processing started SERVICE before it finished


def starts(results: sim.Results) -> np.ndarray:
    trace = results.trace
    assert trace is not None
    done = trace[trace["event"] == "processed"]["time"].to_numpy()
    return np.sort(done - SERVICE)


def most_in_any_window(times: np.ndarray, t: float) -> int:
    """The most processings that started within any window [s, s + t)."""
    ends = np.searchsorted(times, times + t - 1e-12, side="left")
    return int((ends - np.arange(len(times))).max())


@pytest.mark.parametrize("broker_type", sim.broker_types())
def test_a_consumer_never_exceeds_rate_times_t_plus_burst(broker_type: str) -> None:
    data = ideal(broker_type, rate=100.0, service=f"{SERVICE}s", consumers=3, duration=60.0)
    data["producers"][0]["spikes"] = [{"at": 20.0, "duration": 5.0, "factor": 5}]
    data["consumers"][0].update({"rate_limit": "20/s", "burst": 10})
    results = sim.run(Scenario.from_dict(data), trace=True)
    times = starts(results)
    assert len(times) > 500
    for window in (0.05, 0.5, 1.0, 5.0, 20.0):
        assert most_in_any_window(times, window) <= 20 * window + 10 + 1e-9, window
    # and it does use its quota: the backlog never lets it idle for long
    late = times[times > 10.0]
    assert (len(late) - 1) / (late[-1] - late[0]) == pytest.approx(20.0, rel=0.05)
    assert results.conservation_gap() == 0


def test_the_bucket_starts_full_and_reserves_in_order() -> None:
    bucket = TokenBucket(rate=2.0, burst=3)
    assert [bucket.reserve(0.0) for _ in range(5)] == [0.0, 0.0, 0.0, 0.5, 1.0]
    assert bucket.reserve(10.0) == 0.0  # refilled, but never beyond the burst
    assert [bucket.reserve(10.0) for _ in range(3)] == [0.0, 0.0, 0.5]


def test_bad_rate_limits_are_one_line_errors() -> None:
    data = ideal("rabbitmq", rate=1.0, service="1s", duration=10.0)
    data["consumers"][0]["burst"] = 0
    with pytest.raises(sim.ScenarioError, match=r"consumers\[0\]\.burst"):
        Scenario.from_dict(data)
