"""Synchronous services: worker pools, timeouts, retries with backoff, circuit breakers, waiting
lines, client deadlines, hand-off to a queue, and how request outcomes are counted."""

from __future__ import annotations

import math
from typing import Any

import pytest

import sim
from sim.scenario import Scenario, ScenarioError
from tests.helpers import ROOT


def services_scenario(**overrides: Any) -> Scenario:
    """Clients -> S, one service; fields replaced by `overrides`."""
    data: dict[str, Any] = {
        "name": "svc",
        "seed": 1,
        "duration": 100.0,
        "broker": {"type": "rabbitmq", "queues": [{"name": "q", "durable": True}]},
        "clients": [{"name": "users", "to": "S", "rate": 1.0}],
        "services": [{"name": "S", "workers": 1, "service_time": "exp(0.5s)"}],
    }
    data.update(overrides)
    return Scenario.from_dict(data)


def event_times(results: sim.Results, event: str) -> list[float]:
    assert results.trace is not None
    return sorted(results.trace.loc[results.trace["event"] == event, "time"])


def erlang_c(servers: int, load: float) -> float:
    """Probability that an arrival waits in M/M/c (Erlang C), load = lambda / mu."""
    below = sum(load**k / math.factorial(k) for k in range(servers))
    top = load**servers / math.factorial(servers) * servers / (servers - load)
    return top / (below + top)


def test_worker_pool_is_an_mmc_queue() -> None:
    # A service with c workers and exponential service under Poisson clients is M/M/c:
    # mean time in system W = C(c, a) / (c mu - lambda) + 1 / mu (Erlang C, Kleinrock vol. 1).
    lam, mu, workers = 2.4, 1.0, 4
    scenario = services_scenario(
        duration=20000.0,
        warmup=100.0,
        clients=[{"name": "users", "to": "S", "rate": lam}],
        services=[{"name": "S", "workers": workers, "service_time": "exp(1s)"}],
    )
    results = sim.run(scenario)
    expected = erlang_c(workers, lam / mu) / (workers * mu - lam) + 1 / mu
    assert results.summary["latency_mean"] == pytest.approx(expected, rel=0.03)
    assert results.conservation_gap() == 0


def test_timeouts_and_retries_take_the_configured_time() -> None:
    # B never answers (down for the whole run). A's single request tries 1 + max times,
    # each waiting `timeout`, with backoffs 0.5 s then 1.0 s (no jitter) in between.
    timeout, backoff, multiplier, retries = 1.0, 0.5, 2.0, 2
    scenario = services_scenario(
        duration=30.0,
        clients=[{"name": "users", "to": "A", "rate": 0.1, "arrivals": "constant", "stop": 11}],
        services=[
            {
                "name": "A",
                "calls": ["B"],
                "timeout": timeout,
                "retries": {
                    "max": retries,
                    "backoff": backoff,
                    "multiplier": multiplier,
                    "jitter": "none",
                },
            },
            {"name": "B"},
        ],
        faults=[{"target": "B", "kind": "down", "start": 0}],
    )
    results = sim.run(scenario, trace=True)
    sent = event_times(results, "produced")
    assert sent == pytest.approx([10.0])
    waited = timeout * (retries + 1) + sum(backoff * multiplier**k for k in range(retries))
    assert event_times(results, "lost") == pytest.approx([10.0 + waited])
    summary = results.summary
    assert summary["timeouts.B"] == retries + 1
    assert summary["retries.B"] == retries
    assert summary["calls.B"] == retries + 1
    assert results.conservation_gap() == 0


@pytest.mark.parametrize(("jitter", "low", "high"), [("full", 0.0, 1.0), ("equal", 0.5, 1.0)])
def test_backoff_jitter_stays_in_its_range(jitter: str, low: float, high: float) -> None:
    # One retry with backoff d = 1 s: full jitter waits uniform(0, d), equal jitter
    # d/2 + uniform(0, d/2) (Brooker, "Exponential Backoff And Jitter"). B is crashed, so each
    # attempt is refused at once and the whole wait is the jitter.
    scenario = services_scenario(
        duration=400.0,
        clients=[{"name": "users", "to": "A", "rate": 1.0, "arrivals": "constant"}],
        services=[
            {
                "name": "A",
                "workers": 10,
                "calls": ["B"],
                "retries": {"max": 1, "backoff": 1.0, "jitter": jitter},
            },
            {"name": "B"},
        ],
        faults=[{"target": "B", "kind": "crash", "start": 0}],
    )
    results = sim.run(scenario)
    waits = results.timeseries["latency_mean.A"].dropna()
    assert results.summary["lost"] > 300
    assert waits.min() >= low
    assert waits.max() <= high
    # The mean of the uniform part converges on its middle.
    assert waits.mean() == pytest.approx((low + high) / 2, abs=0.05)


def test_circuit_breaker_opens_fails_fast_and_closes_after_recovery() -> None:
    breaker = {
        "failure_rate": 0.5,
        "window": 10,
        "minimum_calls": 10,
        "open_for": 5.0,
        "half_open_calls": 2,
    }
    outage = 60.0
    scenario = services_scenario(
        duration=100.0,
        clients=[{"name": "users", "to": "A", "rate": 5.0}],
        services=[
            {
                "name": "A",
                "workers": 20,
                "calls": ["B"],
                "timeout": 0.5,
                "circuit_breaker": breaker,
            },
            {"name": "B", "workers": 5, "service_time": "exp(10ms)"},
        ],
        faults=[{"target": "B", "kind": "down", "start": 10, "end": 10 + outage}],
    )
    results = sim.run(scenario)
    summary = results.summary
    # While open it sends nothing; each half-open spell lets `half_open_calls` through.
    spells = outage / breaker["open_for"] + 1
    assert summary["timeouts.B"] <= breaker["window"] + spells * breaker["half_open_calls"]
    assert summary["breaker_open.B"] > 0.8 * 5.0 * outage
    # After B is back, the breaker closes and requests succeed again.
    frame = results.timeseries
    late = frame[frame["time"] > 10 + outage + 2 * breaker["open_for"]]
    assert late["success_rate.A"].mean() > 0.99
    assert late["breaker.A.B"].max() == 0.0
    assert results.conservation_gap() == 0


def test_full_line_rejects_at_once() -> None:
    # One worker at 1 s per request, two places in the line, ten requests a second: most are
    # refused on arrival, and those count as rejected.
    scenario = services_scenario(
        duration=20.0,
        clients=[{"name": "users", "to": "S", "rate": 10.0, "arrivals": "constant"}],
        services=[{"name": "S", "workers": 1, "queue_limit": 2, "service_time": 1.0}],
    )
    results = sim.run(scenario)
    summary = results.summary
    assert summary["rejected"] == summary["rejected.S"]
    assert summary["rejected"] > 0.8 * summary["produced"]
    # The worker never idles: one completion per second from the first arrival on.
    assert summary["processed"] == pytest.approx(20.0 - 0.1, abs=1.0)
    assert summary["backlog_at_end"] <= 3  # one in service, two in the line
    assert results.conservation_gap() == 0


def test_deadline_expires_requests_and_workers_skip_abandoned_ones() -> None:
    # Each request takes 10 s, the client waits 1 s: every request expires; the worker
    # finishes the one it holds (a late answer) and skips those whose client left.
    scenario = services_scenario(
        duration=35.0,
        clients=[
            {"name": "users", "to": "S", "rate": 1.0, "arrivals": "constant", "deadline": 1.0}
        ],
        services=[{"name": "S", "workers": 1, "service_time": 10.0}],
    )
    results = sim.run(scenario)
    summary = results.summary
    assert summary["processed"] == 0
    assert summary["expired"] == summary["produced"] - summary["backlog_at_end"]
    assert summary["late.S"] == 3  # started at 1, 11 and 21 s; the one started at 31 s is held
    assert summary["skipped.S"] > 0
    assert results.conservation_gap() == 0


def test_handing_off_to_a_queue_answers_at_once_and_the_consumer_finishes() -> None:
    scenario = services_scenario(
        duration=200.0,
        clients=[{"name": "users", "to": "A", "rate": 2.0}],
        services=[
            {"name": "A", "workers": 2, "service_time": "exp(10ms)", "publishes_to": "q"},
            {"name": "B", "workers": 3, "service_time": "exp(1s)", "consumes": "q"},
        ],
    )
    results = sim.run(scenario)
    summary = results.summary
    assert summary["lost"] == summary["rejected"] == summary["expired"] == 0
    assert summary["processed_by"] == {"B": summary["processed"]}
    assert summary["acked"] == summary["processed"]
    # A answers after its own work only; end to end includes B's queue and service.
    assert results.timeseries["latency_mean.A"].max() < 0.2
    assert summary["latency_mean"] > 1.0
    assert results.conservation_gap() == 0


def test_reject_publish_refuses_the_request_once() -> None:
    scenario = services_scenario(
        duration=50.0,
        broker={
            "type": "rabbitmq",
            "queues": [
                {"name": "q", "durable": True, "max_length": 5, "overflow": "reject-publish"}
            ],
        },
        clients=[{"name": "users", "to": "A", "rate": 5.0}],
        services=[
            {"name": "A", "workers": 2, "publishes_to": "q"},
            {"name": "B", "service_time": 1.0, "consumes": "q"},
        ],
    )
    results = sim.run(scenario)
    summary = results.summary
    assert summary["rejected"] > 0
    assert summary["errors.A"] == summary["rejected"]  # A told its client each time
    assert results.conservation_gap() == 0


def test_same_seed_same_results_and_seed_changes_them() -> None:
    scenario = sim.load_scenario(ROOT / "scenarios" / "coupling.yaml")
    variant = scenario.variant_scenarios()["sync"]
    first = sim.run(variant, duration=60)
    again = sim.run(variant, duration=60)
    other = sim.run(variant, seed=99, duration=60)
    assert first.summary == again.summary
    assert first.timeseries.equals(again.timeseries)
    assert other.summary != first.summary


@pytest.mark.parametrize(
    ("change", "path", "expected"),
    [
        ({"clients": [{"name": "u", "to": "X", "rate": 1}]}, "clients[0].to", "unknown service"),
        (
            {"services": [{"name": "S", "calls": ["T"]}]},
            "services[0].calls[0]",
            "unknown service 'T'",
        ),
        (
            {
                "services": [
                    {"name": "S", "calls": ["T"]},
                    {"name": "T", "calls": ["S"]},
                ]
            },
            "services[0].calls",
            "calls form a cycle: S -> T -> S",
        ),
        ({"services": [{"name": "S", "calls": ["S"]}]}, "services[0]", "cannot call itself"),
        (
            {"services": [{"name": "S", "publishes_to": "nowhere"}]},
            "services[0].publishes_to",
            "unknown destination 'nowhere'",
        ),
        (
            {"services": [{"name": "S", "consumes": "nowhere"}]},
            "services[0].consumes",
            "unknown queue 'nowhere'",
        ),
        (
            {"services": [{"name": "S", "consumes": "q", "publishes_to": "q"}]},
            "services[0]",
            "not both",
        ),
        ({"services": [{"name": "S", "timeout": 0}]}, "services[0]", "timeout must be positive"),
        ({"services": [{"name": "S", "workers": 0}]}, "services[0].workers", "greater than"),
        ({"services": [{"name": "S", "retry": {}}]}, "services[0]", "unknown key 'retry'"),
        (
            {"services": [{"name": "S", "retries": {"jitter": "some"}}]},
            "services[0].retries.jitter",
            "expected 'full', 'equal' or 'none'",
        ),
        (
            {"services": [{"name": "S"}, {"name": "users"}]},
            "",
            "the name 'users' is used twice",
        ),
    ],
)
def test_bad_services_get_one_line_errors(change: dict[str, Any], path: str, expected: str) -> None:
    base: dict[str, Any] = {
        "clients": [{"name": "users", "to": "S", "rate": 1.0}],
        "services": [{"name": "S"}],
    }
    base.update(change)
    with pytest.raises(ScenarioError) as raised:
        services_scenario(**base)
    message = str(raised.value)
    assert "\n" not in message
    assert expected in message
    assert path in message
