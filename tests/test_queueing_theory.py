"""The ideal broker against queueing theory: long runs within 3% of analytic values, and one
exact check (Lindley's recursion on the very same random draws).

Formulas (Kleinrock, Queueing Systems Vol. 1, 1975; Gross & Harris, Fundamentals of Queueing
Theory, 4th ed., 2008):
- M/M/1: time in system W = 1 / (mu - lambda); it is exponential, so its p-quantile is
  -ln(1 - p) / (mu - lambda).
- M/M/c: Erlang C probability of waiting C(c, a) with a = lambda / mu;
  Wq = C(c, a) / (c mu - lambda), W = Wq + 1 / mu.
- M/D/1: Pollaczek-Khinchine with zero service variance: Wq = rho / (2 mu (1 - rho)).
- M/M/1/K: loss probability P_K = (1 - rho) rho^K / (1 - rho^(K+1)).
Run lengths keep the standard error of each estimate several times below the 3% tolerance
(at rho = 0.7 the relative standard error of W over 4e5 customers is about 0.6%).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

import sim
from sim.distributions import parse_distribution
from sim.randomness import RandomStreams
from sim.scenario import Scenario

TOLERANCE = 0.03


def ideal_queue(
    rate: float,
    service: str,
    duration: float,
    replicas: int = 1,
    seed: int = 11,
    trace: bool = False,
    **queue: Any,
) -> sim.Results:
    scenario = Scenario.from_dict(
        {
            "name": "theory",
            "seed": seed,
            "duration": duration,
            "warmup": duration * 0.01,
            "broker": {"type": "rabbitmq", "queues": [{"name": "q", "durable": True, **queue}]},
            "producers": [{"name": "p", "to": "q", "rate": rate}],
            "consumers": [
                {"name": "c", "from": "q", "replicas": replicas, "service_time": service}
            ],
        }
    )
    return sim.run(scenario, trace=trace)


def erlang_c(c: int, a: float) -> float:
    """Probability that an arrival waits in an M/M/c queue with offered load a = lambda / mu."""
    rho = a / c
    top = a**c / math.factorial(c) / (1 - rho)
    return top / (sum(a**k / math.factorial(k) for k in range(c)) + top)


def test_mm1_mean_and_quantiles_of_time_in_system() -> None:
    lam, mu = 0.7, 1.0
    summary = ideal_queue(lam, "exp(1s)", duration=6e5).summary
    assert summary["latency_mean"] == pytest.approx(1 / (mu - lam), rel=TOLERANCE)
    for p in (50, 95, 99):
        exact = -math.log(1 - p / 100) / (mu - lam)
        assert summary[f"latency_p{p}"] == pytest.approx(exact, rel=TOLERANCE)
    assert summary["throughput"] == pytest.approx(lam, rel=TOLERANCE)


def test_mmc_matches_erlang_c() -> None:
    c, lam, mu = 3, 2.1, 1.0
    summary = ideal_queue(lam, "exp(1s)", duration=2e5, replicas=c).summary
    wq = erlang_c(c, lam / mu) / (c * mu - lam)
    assert summary["latency_mean"] == pytest.approx(wq + 1 / mu, rel=TOLERANCE)
    # Wq alone is the sharper quantity: it is what the queue adds.
    assert summary["latency_mean"] - 1 / mu == pytest.approx(wq, rel=2 * TOLERANCE)


def test_md1_matches_pollaczek_khinchine() -> None:
    lam, mu = 0.7, 1.0
    rho = lam / mu
    summary = ideal_queue(lam, "1s", duration=3e5).summary
    wq = rho / (2 * mu * (1 - rho))
    assert summary["latency_mean"] == pytest.approx(wq + 1 / mu, rel=TOLERANCE)
    assert summary["latency_mean"] - 1 / mu == pytest.approx(wq, rel=TOLERANCE)


@pytest.mark.parametrize("overflow", ["reject-publish", "drop-head"])
@pytest.mark.parametrize(("rho", "k"), [(1.2, 10), (0.8, 5)])
def test_mm1k_loss_probability(rho: float, k: int, overflow: str) -> None:
    # K counts ready messages plus the one held by the single prefetch-1 consumer.
    results = ideal_queue(rho, "exp(1s)", duration=2e5, max_length=k - 1, overflow=overflow)
    s = results.summary
    lost = s["rejected"] if overflow == "reject-publish" else s["dropped"]
    exact = (1 - rho) * rho**k / (1 - rho ** (k + 1))
    assert lost / s["produced"] == pytest.approx(exact, rel=TOLERANCE)
    assert s["max_queue_depth"] == k - 1
    assert results.conservation_gap() == 0


def test_fifo_single_server_waits_equal_the_lindley_recursion() -> None:
    """Message by message, on the same draws: W[n+1] = max(0, W[n] + S[n] - A[n+1])."""
    seed, rate = 5, 0.9
    results = ideal_queue(rate, "exp(1s)", duration=5000, seed=seed, trace=True)
    trace = results.trace
    produced = trace[trace.event == "produced"].set_index("message_id")["time"]
    delivered = trace[trace.event == "delivered"].set_index("message_id")["time"]
    waits = (delivered - produced.loc[delivered.index]).to_numpy()

    streams = RandomStreams(seed)
    gaps = parse_distribution(f"exp({1 / rate}s)").sampler(streams.generator("producer:p/arrivals"))
    service = parse_distribution("exp(1s)").sampler(streams.generator("consumer:c.0/service"))
    gaps()  # the first draw is the first arrival's time, not a gap between two arrivals
    expected = [0.0]
    for _ in range(len(waits) - 1):
        expected.append(max(0.0, expected[-1] + service() - gaps()))
    assert len(waits) > 4000
    np.testing.assert_allclose(waits, expected, rtol=0, atol=1e-9)
    assert (waits > 0).mean() == pytest.approx(rate, abs=0.05)  # not trivially all zero
