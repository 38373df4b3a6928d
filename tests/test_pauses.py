"""Garbage-collection pauses (sim/brokers/pauses.py): the schedule's arithmetic, the residual
wait they give, and the Kafka broker's and RabbitMQ queue process's pauses in simulated runs,
which are reproducible, draw from their own streams and are off unless a cost section sets
both figures."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

import sim
from sim.brokers.costs import Load
from sim.brokers.kafka import cost as kafka_cost
from sim.brokers.kafka.config import KafkaConfig
from sim.brokers.pauses import PauseSchedule, paused_share, residual_quantile
from sim.brokers.rabbitmq import cost as rabbitmq_cost
from sim.brokers.rabbitmq.config import RabbitMQConfig
from sim.calibration.simulate import percentile


def schedule(pause: float = 0.01, rate: float = 2.0, seed: int = 1) -> PauseSchedule:
    return PauseSchedule(pause, rate, np.random.default_rng(seed))


def test_work_inside_a_pause_waits_for_its_end_and_work_across_one_takes_it_longer() -> None:
    pauses = schedule()
    first = pauses.next_start
    assert pauses.finish(first - 0.004, 0.001) == pytest.approx(first - 0.003)  # before it
    # begun 1 ms before the pause, 3 ms of work: 1 ms, the 10 ms pause, then 2 ms
    assert pauses.finish(first - 0.001, 0.003) == pytest.approx(first + 0.012)
    # begun inside it: starts when it ends
    assert pauses.finish(first + 0.004, 0.001) == pytest.approx(first + 0.011)


def test_threads_sharing_a_schedule_all_meet_a_future_pause() -> None:
    # One thread's long job reaches past the next pause; another's, begun at the same time,
    # must still meet that pause (a Kafka broker's handler threads share one JVM).
    pauses = schedule()
    first = pauses.next_start
    assert pauses.finish(first - 0.001, 1.0) > first + 1.0  # the first thread
    assert pauses.finish(first - 0.001, 0.003) == pytest.approx(first + 0.012)


def test_the_share_of_delayed_arrivals_and_their_waits_follow_the_residual_formula() -> None:
    pause, rate = 0.01, 2.0
    pauses = schedule(pause, rate, seed=7)
    arrivals = np.sort(np.random.default_rng(8).uniform(0, 5000, 100_000))
    waits = np.array([pauses.finish(t, 0.0) - t for t in arrivals])
    assert (waits > 0).mean() == pytest.approx(paused_share(pause, rate), rel=0.05)
    for q in (0.99, 0.995, 0.999):
        assert np.quantile(waits, q) == pytest.approx(residual_quantile(pause, rate, q), rel=0.05)
    assert residual_quantile(pause, rate, 0.95) == 0.0  # fewer than 5% of arrivals wait
    # a busier server catches more of them: the share grows by 1 / (1 - busy)
    assert residual_quantile(pause, rate, 0.99, exposure=2.0) > residual_quantile(pause, rate, 0.99)


def test_a_process_that_never_pauses_needs_no_schedule() -> None:
    rng = np.random.default_rng(1)
    assert PauseSchedule.of(0.0, 5.0, rng) is None
    assert PauseSchedule.of(0.01, 0.0, rng) is None
    with pytest.raises(ValueError):
        PauseSchedule(0.01, 0.0, rng)


# ----- in the brokers ------------------------------------------------------------------


def kafka(cost: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "kafka",
        "brokers": 1,
        "group.initial.rebalance.delay.ms": 0,
        "topics": [{"name": "t", "partitions": 2}],
        "cost": cost,
    }


def rabbitmq(cost: dict[str, Any]) -> dict[str, Any]:
    return {"type": "rabbitmq", "queues": [{"name": "q", "durable": True}], "cost": cost}


# 6 s at 2,000 msg/s: 11,000 latencies after the warm-up, so the p99.9 rests on 11 of them.
TAIL_RUN = 6.0
# Enough for about four pauses of 2 a second: the reproducibility checks compare whole runs
# (and check that the pauses do change a run this short), they need no far tail.
SHORT_RUN = 2.0


def run(
    broker: dict[str, Any], rate: float = 2000, seed: int = 5, duration: float = TAIL_RUN
) -> sim.Results:
    to = "t" if broker["type"] == "kafka" else "q"
    data = {
        "name": "pauses",
        "seed": seed,
        "duration": duration,
        "warmup": 0.5,
        "broker": broker,
        "producers": [{"name": "p", "to": to, "rate": rate, "message_size": 100}],
        "consumers": [{"name": "c", "from": to}],
    }
    return sim.run(sim.Scenario.from_dict(data))


_tail_runs: dict[str, sim.Results] = {}


def tail_run(broker: dict[str, Any]) -> sim.Results:
    """run(broker), made once per test process: the far-tail test and the arrivals test read
    the same plain and paused runs (only reproducibility needs a second, fresh one)."""
    key = json.dumps(broker, sort_keys=True)
    if key not in _tail_runs:
        _tail_runs[key] = run(broker)
    return _tail_runs[key]


def p(results: sim.Results, q: float) -> float:
    """The q-th percentile of the run's end-to-end latency, in seconds."""
    return percentile(results, q) / 1000.0


@pytest.mark.parametrize("make", [kafka, rabbitmq], ids=["kafka", "rabbitmq"])
def test_pauses_make_the_far_tail_the_residual_formula_predicts(make: Any) -> None:
    pause, rate = 0.02, 2.0  # 20 ms, twice a second: 3.8% of the time paused
    plain = tail_run(make({}))
    paused = tail_run(make({"gc_pause": pause, "gc_rate": rate}))
    assert p(paused, 50) == pytest.approx(p(plain, 50), rel=0.05)  # the body is the same
    assert p(plain, 99) < 0.002
    # light load (the handler or process is seldom busy): the residual wait, exposure 1
    assert p(paused, 99) - p(plain, 50) == pytest.approx(
        residual_quantile(pause, rate, 0.99), rel=0.2
    )
    assert p(paused, 99.9) - p(plain, 50) == pytest.approx(
        residual_quantile(pause, rate, 0.999), rel=0.1
    )


@pytest.mark.parametrize("make", [kafka, rabbitmq], ids=["kafka", "rabbitmq"])
def test_pauses_are_reproducible_and_off_by_default(make: Any) -> None:
    costs = {"gc_pause": 0.02, "gc_rate": 2.0}
    first, again = run(make(costs), duration=SHORT_RUN), run(make(costs), duration=SHORT_RUN)
    assert first.summary == again.summary
    assert first.summary != run(make(costs), seed=6, duration=SHORT_RUN).summary
    # One figure alone pauses nothing, and draws nothing: the run is the plain one, bit for bit.
    plain = run(make({}), duration=SHORT_RUN)
    assert not first.latency.equals(plain.latency)  # both figures do pause a run this short
    for half in ({"gc_pause": 0.02}, {"gc_rate": 2.0}):
        alone = run(make(half), duration=SHORT_RUN)
        assert alone.summary == plain.summary
        assert alone.latency.equals(plain.latency)


def test_the_pauses_stream_is_the_brokers_own_so_arrivals_do_not_move() -> None:
    plain = tail_run(rabbitmq({}))
    paused = tail_run(rabbitmq({"gc_pause": 0.02, "gc_rate": 2.0}))
    assert paused.summary["produced"] == plain.summary["produced"]


def test_the_accounts_leave_the_servers_their_unpaused_share() -> None:
    share = paused_share(0.02, 2.0)
    load = Load(100, partitions=2)
    k_plain = KafkaConfig.model_validate(kafka({}), by_alias=True)
    k_paused = KafkaConfig.model_validate(kafka({"gc_pause": 0.02, "gc_rate": 2.0}), by_alias=True)
    assert kafka_cost.account(k_paused, load).capacity == pytest.approx(
        kafka_cost.account(k_plain, load).capacity * (1 - share)
    )
    r_plain = RabbitMQConfig.model_validate(rabbitmq({}), by_alias=True)
    r_paused = RabbitMQConfig.model_validate(
        rabbitmq({"gc_pause": 0.02, "gc_rate": 2.0}), by_alias=True
    )
    assert rabbitmq_cost.account(r_paused, load).capacity == pytest.approx(
        rabbitmq_cost.account(r_plain, load).capacity * (1 - share)
    )
