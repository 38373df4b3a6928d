"""RabbitMQ in scenario runs: the scenario files, producer and consumer options, the cost model.

Expectations come from theory (capacities, routing probabilities, the identical loss process of
drop-head and reject-publish), from RabbitMQ's documented rules, or from invariants, never from
a previous run's numbers.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

import sim
from sim.results import Results
from sim.scenario import ScenarioError, load_scenario
from tests.helpers import ROOT, scenario_from

SCENARIOS = ("work_queue", "pubsub_topic", "fanout", "poison_message", "overload_max_length")


def runs_of(name: str, trace: bool = False, **overrides: Any) -> dict[str, Results]:
    scenario = load_scenario(ROOT / "scenarios" / f"{name}.yaml")
    if overrides:
        scenario = scenario.override(overrides)
    return sim.run_variants(scenario, trace=trace)


def binomial_close(count: int, n: int, p: float, sigmas: float = 5.0) -> bool:
    return abs(count - n * p) <= sigmas * math.sqrt(n * p * (1 - p))


# ----- the scenario files -----


@pytest.mark.parametrize("name", SCENARIOS)
def test_scenario_file_is_valid_named_after_its_file_and_conserves(name: str) -> None:
    path = ROOT / "scenarios" / f"{name}.yaml"
    scenario = load_scenario(path)
    assert scenario.name == path.stem
    assert scenario.broker.type == "rabbitmq"
    for variant, results in sim.run_variants(scenario, duration=240.0).items():
        assert results.conservation_gap() == 0, variant
        assert results.summary["processed"] > 0, variant


def test_work_queue_fair_dispatch_follows_speed_and_greedy_splits_evenly() -> None:
    """Prefetch 1: a worker gets a job only when free, so the 4x faster worker does most of
    the work. Unlimited prefetch: deliveries alternate whatever the speed (round-robin), so the
    slow worker gets half the jobs, more than its capacity of 2.5/s can handle."""
    runs = runs_of("work_queue", duration="5min")
    fair = runs["fair-prefetch-1"].summary
    greedy = runs["greedy-unlimited"].summary
    assert fair["processed_by"]["fast-worker"] > 2 * fair["processed_by"]["slow-worker"]
    assert fair["backlog_at_end"] < 20
    duration = 300.0
    slow_capacity = duration / 0.4  # mean service 400 ms
    half = greedy["produced"] / 2
    # The slow worker was handed about half the jobs but can only finish about its capacity.
    assert greedy["processed_by"]["slow-worker"] < 1.2 * slow_capacity < half
    assert greedy["backlog_at_end"] > 0.5 * (half - slow_capacity)
    assert runs["greedy-unlimited"].timeseries["in_flight.jobs"].max() > 100
    assert runs["fair-prefetch-1"].timeseries["in_flight.jobs"].max() <= 2  # 1 per worker


def test_pubsub_topic_routes_by_facility_and_severity() -> None:
    """Keys are drawn uniformly from 15 (5 per facility; info three times as often):
    kern.# takes 5/15, *.error takes 3/15, kern.error (1/15) goes to both, and the 8/15
    that neither binding matches (auth/cron info and warning) are unroutable."""
    (results,) = runs_of("pubsub_topic").values()
    s = results.summary
    n = s["produced"]
    assert s["dropped"] == s["unroutable"]
    assert binomial_close(s["unroutable"], n, 8 / 15)
    assert binomial_close(s["copies"], n, 1 / 15)
    by = s["processed_by"]
    assert binomial_close(by["kernel-auditor"], n, 5 / 15)
    assert binomial_close(by["pager"], n, 3 / 15)
    assert results.conservation_gap() == 0


def test_fanout_copies_every_event_to_each_queue() -> None:
    (results,) = runs_of("fanout").values()
    s = results.summary
    assert s["copies"] == 2 * s["produced"]
    assert s["processed_total"] + s["backlog_at_end"] == 3 * s["produced"]
    assert set(s["processed_by"]) == {"invoicer", "warehouse", "reporting"}
    assert all(count <= s["produced"] for count in s["processed_by"].values())


def test_poison_message_is_delivered_limit_plus_one_times_then_dead_lettered() -> None:
    """On the default 4.3 a poison message that the worker rejects reaches the limit (3
    explicit, or 20 by default) and is parked after limit + 1 deliveries; one it nacks never
    counts and loops (4.3.0 release notes, "unlimited explicit message returns"); on 4.2 a nack
    counts too; 3.10 has no default limit."""
    runs = runs_of("poison_message", trace=True, duration="5min")
    produced = runs["delivery-limit-3"].trace
    produced = produced[produced.event == "produced"]
    poison = set(produced[produced.component == "buggy-client"].message_id)
    assert len(poison) >= 3

    def parked_after(variant: str) -> set[int]:
        """The poison messages dead-lettered, each after exactly the deliveries expected."""
        trace = runs[variant].trace
        dead = set(trace[trace.event == "dead-lettered"].message_id)
        deliveries = trace[trace.event == "delivered"].groupby("message_id").size()
        assert dead and dead <= poison, variant
        return {int(deliveries[m]) for m in dead}

    assert parked_after("delivery-limit-3") == {4}
    limited = runs["delivery-limit-3"].summary
    assert limited["dead_lettered"] >= len(poison) - 1
    assert parked_after("default-limit-20") == {21}
    assert parked_after("nack-counts-4.2") == {21}
    # A nack on 4.3, and anything on 3.10 without a limit: nothing is parked, the poison goes
    # round and round.
    for name in ("nack-loops-4.3", "default-3.10"):
        looping = runs[name].summary
        assert looping["dead_lettered"] == 0, name
        assert looping["redelivered"] > 4 * limited["redelivered"], name


def test_overload_drop_head_and_reject_publish_lose_the_same_number() -> None:
    """The queue length evolves identically whichever end is cut (same arrivals, same service
    draws), so both lose exactly as many messages; drop-head keeps the fresher ones."""
    runs = runs_of("overload_max_length")
    head, reject = runs["drop-head"].summary, runs["reject-publish"].summary
    assert head["dropped"] == reject["rejected"] > 0
    assert head["rejected"] == reject["dropped"] == 0
    assert head["max_queue_depth"] == reject["max_queue_depth"] == 50
    assert head["latency_mean"] < reject["latency_mean"]


# ----- producer and consumer options -----


def test_producer_ttl_expires_messages_a_slow_consumer_cannot_reach() -> None:
    slow = [{"name": "c", "from": "q", "service_time": "1s"}]
    fast_producer = {"name": "p", "to": "q", "rate": 2.0, "arrivals": "constant"}
    without = sim.run(scenario_from(producers=[fast_producer], consumers=slow)).summary
    with_ttl = sim.run(
        scenario_from(producers=[{**fast_producer, "ttl": "5s"}], consumers=slow)
    ).summary
    assert without["expired"] == 0
    assert with_ttl["expired"] > 0.4 * with_ttl["produced"]  # half the load cannot be served
    assert with_ttl["backlog_at_end"] <= 2.0 * 5 + 2  # at most 5 s worth of arrivals wait


def test_mandatory_producer_gets_unroutable_messages_back() -> None:
    broker = {
        "type": "rabbitmq",
        "exchanges": [{"name": "x", "type": "direct"}],
        "queues": [{"name": "q", "durable": True}],
        "bindings": [{"exchange": "x", "queue": "q", "routing_key": "known"}],
    }
    producer = {"name": "p", "to": "x", "rate": 2.0, "routing_key": ["known", "unknown"]}
    for mandatory in (False, True):
        s = sim.run(scenario_from(broker=broker, producers=[{**producer, "mandatory": mandatory}]))
        summary = s.summary
        lost_key = "rejected" if mandatory else "dropped"
        assert summary[lost_key] == summary.get("returned" if mandatory else "unroutable", 0) > 0
        assert s.conservation_gap() == 0


@pytest.mark.parametrize("requeue", [True, False])
def test_consumer_failures_requeue_or_dead_letter(requeue: bool) -> None:
    broker = {
        "type": "rabbitmq",
        "exchanges": [{"name": "dlx", "type": "fanout"}],
        "queues": [
            {"name": "q", "durable": True, "dead_letter_exchange": "dlx"},
            {"name": "dlq", "durable": True},
        ],
        "bindings": [{"exchange": "dlx", "queue": "dlq"}],
    }
    consumer = {
        "name": "c",
        "from": "q",
        "service_time": "exp(0.2s)",
        "nack_probability": 0.25,
        "requeue": requeue,
    }
    results = sim.run(scenario_from(duration=400.0, broker=broker, consumers=[consumer]))
    s = results.summary
    failures = s["consumer_failures"]
    assert binomial_close(failures, s["delivered"], 0.25)
    if requeue:  # every failure comes back, so nothing is dead-lettered and nothing is lost
        assert s["requeued"] == s["redelivered"] == failures and s["dead_lettered"] == 0
    else:
        assert s["dead_lettered"] == failures and s["requeued"] == 0
    assert s["duplicates"] == 0  # a failed attempt did not process the message
    assert results.conservation_gap() == 0


def test_producer_priority_reaches_a_priority_queue() -> None:
    """With a backlog, high-priority messages jump the queue: their share of the processed
    messages exceeds their share of the produced ones when the run ends with a backlog."""
    broker = {"type": "rabbitmq", "queues": [{"name": "q", "durable": True, "max_priority": 5}]}
    producers = [
        {"name": "urgent", "to": "q", "rate": 0.5, "priority": 5},
        {"name": "bulk", "to": "q", "rate": 1.5, "priority": [0, 1]},
    ]
    consumers = [{"name": "c", "from": "q", "service_time": "exp(0.6s)"}]
    results = sim.run(
        scenario_from(duration=300.0, broker=broker, producers=producers, consumers=consumers),
        trace=True,
    )
    trace = results.trace
    produced = trace[trace.event == "produced"].set_index("message_id").component
    processed = trace[trace.event == "processed"].message_id
    urgent_done = (produced.loc[processed] == "urgent").mean()
    assert results.summary["backlog_at_end"] > 50  # 2/s offered to a 1.67/s consumer
    # Every urgent message is served before any waiting bulk one: almost all get done, while
    # the bulk backlog grows.
    assert (produced == "urgent").sum() - (produced.loc[processed] == "urgent").sum() <= 5
    assert urgent_done > 0.25


def test_runs_with_failures_and_priorities_are_deterministic() -> None:
    scenario = load_scenario(ROOT / "scenarios" / "poison_message.yaml").override(
        {"consumers.0.nack_probability": 0.1, "duration": "2min"}
    )
    first = sim.run_variants(scenario)
    second = sim.run_variants(scenario)
    for variant in first:
        assert first[variant].summary == second[variant].summary


# ----- the cost model -----


def costly(queue_type: str = "classic", cost: dict[str, Any] | None = None) -> Results:
    broker: dict[str, Any] = {
        "type": "rabbitmq",
        "queues": [{"name": "q", "type": queue_type, "durable": True}],
    }
    if cost is not None:
        broker["cost"] = cost
    return sim.run(
        scenario_from(
            duration=0.2,
            sample_interval=0.01,
            broker=broker,
            producers=[{"name": "p", "to": "q", "rate": "100000/s", "arrivals": "constant"}],
            consumers=[{"name": "c", "from": "q", "prefetch": 0, "service_time": 0}],
        )
    )


def test_the_ideal_broker_has_no_ceiling_and_the_cost_model_caps_a_queue() -> None:
    from sim.brokers.rabbitmq.cost import CLASSIC_QUEUE_RATE, QUORUM_PERSISTENCE

    ideal = costly().summary
    assert ideal["throughput"] == pytest.approx(100_000, rel=0.01)
    classic = costly(cost={}).summary
    assert classic["throughput"] == pytest.approx(CLASSIC_QUEUE_RATE, rel=0.01)
    quorum = costly("quorum", cost={}).summary
    ceiling = 1 / (1 / CLASSIC_QUEUE_RATE + QUORUM_PERSISTENCE)
    assert quorum["throughput"] == pytest.approx(ceiling, rel=0.01)
    for s in (classic, quorum):
        assert s["produced"] == s["processed"] + s["backlog_at_end"]  # waiting, not lost


def test_cost_model_values_are_overridable_and_routing_adds_latency() -> None:
    slower = costly(cost={"queue_rate": "20000/s"}).summary
    assert slower["throughput"] == pytest.approx(20_000, rel=0.01)
    routed = costly(cost={"queue_rate": "1000000/s", "routing": "1ms"}).summary
    assert routed["latency_p50"] == pytest.approx(1e-3 + 1e-6, rel=0.01)


# ----- validation: one line naming the field -----


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            {"broker.queues.0.type": "quorum", "broker.queues.0.max_priority": 5},
            "refuse x-max-priority",
        ),
        ({"broker.queues.0.delivery_limit": 3}, "only quorum queues"),
        ({"broker.queues.0.dead_letter_routing_key": "x"}, "needs a dead_letter_exchange"),
        ({"broker.cost": {"queue_rate": 0}}, "queue_rate must be positive"),
        ({"broker.cost": {"speed": 1}}, "unknown key 'speed'"),
        ({"producers.0.priority": 300}, "producers[0].priority: a priority is an AMQP octet"),
        ({"producers.0.priority": [1, -1]}, "from 0 to 255, got -1"),
        ({"consumers.0.nack_probability": 1.5}, "less than or equal to 1"),
        ({"consumers.0.requeue": "sometimes"}, "requeue"),
    ],
)
def test_bad_rabbitmq_options_are_one_line_errors(
    tmp_path: Path, change: dict[str, Any], expected: str
) -> None:
    base = scenario_from()
    with pytest.raises(ScenarioError) as error:
        base.override(change)
    text = str(error.value)
    assert expected in text and "\n" not in text
