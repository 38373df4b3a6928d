"""Fault injection (sim/faults.py) on services and on RabbitMQ consumer replicas."""

from __future__ import annotations

import math
from typing import Any

import pytest

import sim
from sim.faults import windows
from sim.scenario import Scenario, ScenarioError
from tests.helpers import scenario_from


def one_service(faults: list[dict[str, Any]], **overrides: Any) -> Scenario:
    """users -> S (one worker, 0.1 s per request), one request a second from t = 1 s."""
    data: dict[str, Any] = {
        "name": "faults",
        "duration": 40.0,
        "broker": {"type": "rabbitmq", "queues": [{"name": "q", "durable": True}]},
        "clients": [{"name": "users", "to": "S", "rate": 1.0, "arrivals": "constant"}],
        "services": [{"name": "S", "workers": 1, "service_time": 0.1}],
        "faults": faults,
    }
    data.update(overrides)
    return Scenario.from_dict(data)


def latencies(results: sim.Results) -> dict[float, float]:
    """produced time -> processing latency, per request (from the trace)."""
    trace = results.trace
    assert trace is not None
    produced = trace[trace["event"] == "produced"].set_index("message_id")["time"]
    done = trace[trace["event"] == "processed"].set_index("message_id")["time"]
    return {round(produced[i], 6): done[i] - produced[i] for i in done.index}


def test_slow_multiplies_service_time_inside_its_window() -> None:
    results = sim.run(
        one_service([{"target": "S", "kind": "slow", "factor": 5, "start": 9.5, "end": 19.5}]),
        trace=True,
    )
    for sent, latency in latencies(results).items():
        inside = 9.5 <= sent < 19.5
        assert latency == pytest.approx(0.5 if inside else 0.1), sent


def test_down_service_leaves_calls_unanswered_until_it_comes_back() -> None:
    # Hung from 9.5 s to 19.5 s; clients wait 2.2 s. Requests sent at 10..17 s give up before
    # it comes back; those sent at 18 and 19 s are served from 19.5 s on, in order.
    results = sim.run(
        one_service(
            [{"target": "S", "kind": "down", "start": 9.5, "end": 19.5}],
            clients=[
                {
                    "name": "users",
                    "to": "S",
                    "rate": 1.0,
                    "arrivals": "constant",
                    "deadline": 2.2,
                }
            ],
        ),
        trace=True,
    )
    summary = results.summary
    assert summary["expired"] == 8
    assert summary["skipped.S"] == 8  # picked up after their clients left: not worked on
    done = latencies(results)
    assert done[18.0] == pytest.approx(19.6 - 18.0)
    assert done[19.0] == pytest.approx(19.7 - 19.0)
    assert results.conservation_gap() == 0


def test_crashed_service_refuses_calls_and_callers_fail_fast() -> None:
    # B crashed from 9.5 s to 19.5 s: A's calls are refused at once, so the ten requests sent
    # at 10..19 s fail (lost) immediately rather than waiting for A's 5 s timeout.
    results = sim.run(
        one_service(
            [{"target": "B", "kind": "crash", "start": 9.5, "end": 19.5}],
            clients=[{"name": "users", "to": "A", "rate": 1.0, "arrivals": "constant"}],
            services=[
                {"name": "A", "workers": 2, "service_time": 0.01, "calls": ["B"], "timeout": 5},
                {"name": "B", "workers": 1, "service_time": 0.1},
            ],
        ),
        trace=True,
    )
    summary = results.summary
    assert summary["lost"] == 10
    assert summary["refused.B"] == 10
    assert summary.get("timeouts.B", 0) == 0
    lost = results.trace[results.trace["event"] == "lost"]
    produced = results.trace[results.trace["event"] == "produced"].set_index("message_id")
    waited = lost["time"].to_numpy() - produced.loc[lost["message_id"], "time"].to_numpy()
    assert waited.max() == pytest.approx(0.01)  # A's own work, then the refusal
    assert list(results.events["event"]) == ["crash start", "crash end"]
    assert results.conservation_gap() == 0


def test_crash_answers_held_calls_with_an_error_at_once() -> None:
    # S crashes at 5.05 s while working on the request sent at 5 s (1 s of work): its client
    # hears of it at once (lost), and requests sent while it is crashed are refused (rejected).
    results = sim.run(
        one_service(
            [{"target": "S", "kind": "crash", "start": 5.05, "end": 8.5}],
            services=[{"name": "S", "workers": 1, "service_time": 0.5}],
        ),
        trace=True,
    )
    trace = results.trace
    assert list(trace.loc[trace["event"] == "lost", "time"]) == pytest.approx([5.05])
    assert results.summary["rejected"] == 3  # sent at 6, 7 and 8 s


def test_error_probability_fails_that_fraction_of_requests() -> None:
    probability = 0.2
    results = sim.run(
        one_service(
            [{"target": "S", "kind": "error", "probability": probability}],
            duration=2000.0,
            clients=[{"name": "users", "to": "S", "rate": 5.0}],
            services=[{"name": "S", "workers": 2, "service_time": "exp(0.1s)"}],
        )
    )
    summary = results.summary
    answered = summary["lost"] + summary["processed"]
    sd = math.sqrt(answered * probability * (1 - probability))
    assert abs(summary["lost"] - probability * answered) < 4 * sd


def test_random_crashes_are_down_mttr_over_mtbf_plus_mttr_of_the_time() -> None:
    # An alternating renewal process is down a fraction E[repair] / (E[up] + E[repair]) of the
    # time in the long run (renewal-reward theorem).
    duration = 20000.0
    results = sim.run(
        one_service(
            [{"target": "S", "kind": "crash", "mtbf": "exp(10s)", "mttr": "exp(2s)"}],
            duration=duration,
        )
    )
    crashed = sum(end - start for _, kind, start, end in windows(results.events, duration))
    assert crashed / duration == pytest.approx(2 / 12, rel=0.08)


def test_overlapping_slow_faults_multiply() -> None:
    results = sim.run(
        one_service(
            [
                {"target": "S", "kind": "slow", "factor": 2, "start": 4.5, "end": 12.5},
                {"target": "S", "kind": "slow", "factor": 3, "start": 8.5, "end": 20.5},
            ]
        ),
        trace=True,
    )
    done = latencies(results)
    assert done[6.0] == pytest.approx(0.2)
    assert done[10.0] == pytest.approx(0.6)
    assert done[15.0] == pytest.approx(0.3)
    assert done[25.0] == pytest.approx(0.1)


# ----- RabbitMQ consumer replicas -----
def slow_consumer(ack: str, faults: list[dict[str, Any]], prefetch: int = 10) -> Scenario:
    """Ten messages a second into q; one consumer taking 1 s each: a backlog builds."""
    return scenario_from(
        duration=30.0,
        producers=[{"name": "p", "to": "q", "rate": 10.0, "arrivals": "constant"}],
        consumers=[
            {"name": "c", "from": "q", "prefetch": prefetch, "ack": ack, "service_time": 1.0}
        ],
        faults=faults,
    )


def test_crashed_consumer_with_manual_ack_gets_its_messages_requeued() -> None:
    results = sim.run(
        slow_consumer("manual", [{"target": "c", "kind": "crash", "start": 5.05, "end": 6}])
    )
    summary = results.summary
    assert summary["lost"] == 0
    assert summary["requeued"] == 10  # its full prefetch window, the one in progress included
    assert results.conservation_gap() == 0
    # It came back: it processes after the restart.
    frame = results.timeseries
    assert frame[frame["time"] > 8]["throughput"].sum() > 0


def test_crashed_consumer_with_auto_ack_loses_what_it_held() -> None:
    # Auto-ack has no prefetch limit: the broker pushed every message to the consumer. At 5.05 s
    # it had received 50 (sent at 0.1 .. 5.0 s) and finished 4 (at 1.1, 2.1, 3.1, 4.1 s).
    results = sim.run(
        slow_consumer("auto", [{"target": "c", "kind": "crash", "start": 5.05, "end": 6}])
    )
    assert results.summary["lost"] == 50 - 4
    assert results.conservation_gap() == 0


def test_down_consumer_stops_consuming_and_resumes() -> None:
    # Five messages a second, 0.1 s each: the queue is empty until the consumer stops at 5.05 s
    # (after finishing the message in hand); the 25 sent at 5.2 .. 10.0 s wait for it.
    results = sim.run(
        scenario_from(
            duration=20.0,
            producers=[{"name": "p", "to": "q", "rate": 5.0, "arrivals": "constant"}],
            consumers=[{"name": "c", "from": "q", "service_time": 0.1}],
            faults=[{"target": "c", "kind": "down", "start": 5.05, "end": 10.05}],
        )
    )
    summary = results.summary
    assert summary["max_queue_depth"] == 25
    assert summary["requeued"] == 0
    assert summary["backlog_at_end"] <= 1
    assert results.conservation_gap() == 0


def test_faults_reach_one_replica_by_name() -> None:
    scenario = scenario_from(
        duration=20.0,
        producers=[{"name": "p", "to": "q", "rate": 20.0, "arrivals": "constant"}],
        consumers=[{"name": "c", "from": "q", "replicas": 2, "service_time": 0.05}],
        faults=[{"target": "c.1", "kind": "down", "start": 0}],
    )
    results = sim.run(scenario)
    assert set(results.summary["processed_by"]) == {"c.0"}


def test_consumer_error_fault_nacks_and_the_broker_requeues() -> None:
    results = sim.run(
        scenario_from(
            duration=200.0,
            producers=[{"name": "p", "to": "q", "rate": 5.0}],
            consumers=[{"name": "c", "from": "q", "service_time": "exp(0.05s)"}],
            faults=[{"target": "c", "kind": "error", "probability": 0.3, "start": 50, "end": 100}],
        )
    )
    summary = results.summary
    assert summary["requeued"] > 0
    assert summary["lost"] == 0
    assert summary["redelivered"] == summary["requeued"]
    assert results.conservation_gap() == 0


@pytest.mark.parametrize(
    ("fault", "path", "expected"),
    [
        ({"target": "X", "kind": "down", "start": 1}, "faults[0].target", "unknown target 'X'"),
        ({"target": "c", "kind": "slow", "start": 1}, "faults[0]", "needs `factor`"),
        ({"target": "c", "kind": "down", "start": 1, "factor": 2}, "faults[0]", "only for slow"),
        ({"target": "c", "kind": "error"}, "faults[0]", "needs `probability`"),
        ({"target": "c", "kind": "down"}, "faults[0]", "needs `start`"),
        ({"target": "c", "kind": "crash"}, "faults[0]", "mtbf and mttr"),
        ({"target": "c", "kind": "crash", "mtbf": "exp(1s)"}, "faults[0]", "go together"),
        ({"target": "c", "kind": "down", "start": 5, "end": 5}, "faults[0]", "come after"),
        ({"target": "c", "kind": "melt", "start": 5}, "faults[0].kind", "expected 'down'"),
        (
            {"target": "c", "kind": "error", "probability": 2},
            "faults[0].probability",
            "less than or equal to 1",
        ),
    ],
)
def test_bad_faults_get_one_line_errors(fault: dict[str, Any], path: str, expected: str) -> None:
    with pytest.raises(ScenarioError) as raised:
        scenario_from(faults=[fault])
    message = str(raised.value)
    assert message.startswith(path)
    assert expected in message
    assert "\n" not in message
