"""Every copy of every message ends in exactly one state, in every kind of run."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sim
from sim.results import FINAL_STATES, SUMMARY_KEYS
from tests.helpers import scenario_from


def check(results: sim.Results) -> dict[str, Any]:
    s = results.summary
    assert set(SUMMARY_KEYS) <= set(s)
    assert s["produced"] + s["copies"] == sum(s[k] for k in FINAL_STATES)
    assert results.conservation_gap() == 0
    assert s["processed_total"] == s["processed"] + s["duplicates"]
    assert s["delivered"] >= s["processed_total"]
    return s


def test_point_to_point_has_no_copies_and_leaves_a_backlog_when_overloaded() -> None:
    s = check(
        sim.run(scenario_from(duration=200.0, producers=[{"name": "p", "to": "q", "rate": 3.0}]))
    )
    assert s["copies"] == 0
    assert s["produced"] == s["processed"] + s["backlog_at_end"]
    assert s["backlog_at_end"] > 100  # 3/s offered to a 2/s consumer for 200 s


@pytest.mark.parametrize("overflow", ["drop-head", "reject-publish"])
def test_overflow_drops_or_rejects(overflow: str) -> None:
    broker = {
        "type": "rabbitmq",
        "queues": [{"name": "q", "durable": True, "max_length": 3, "overflow": overflow}],
    }
    s = check(
        sim.run(scenario_from(broker=broker, producers=[{"name": "p", "to": "q", "rate": 5.0}]))
    )
    moved = s["dropped"] if overflow == "drop-head" else s["rejected"]
    assert moved > 0
    assert s["max_queue_depth"] <= 3


def test_fanout_counts_each_copy() -> None:
    broker = {
        "type": "rabbitmq",
        "exchanges": [{"name": "events", "type": "fanout"}],
        "queues": [{"name": q, "durable": True} for q in "abc"],
        "bindings": [{"exchange": "events", "queue": q} for q in "abc"],
    }
    s = check(
        sim.run(
            scenario_from(
                broker=broker,
                producers=[{"name": "p", "to": "events", "rate": 1.0}],
                consumers=[{"name": f"w{q}", "from": q, "service_time": "10ms"} for q in "abc"],
            )
        )
    )
    assert s["copies"] == 2 * s["produced"]
    assert s["published"] == s["produced"]


def test_unroutable_messages_are_dropped() -> None:
    broker = {
        "type": "rabbitmq",
        "exchanges": [{"name": "logs", "type": "topic"}],
        "queues": [{"name": "errors", "durable": True}],
        "bindings": [{"exchange": "logs", "queue": "errors", "routing_key": "*.error"}],
    }
    s = check(
        sim.run(
            scenario_from(
                broker=broker,
                producers=[
                    {
                        "name": "p",
                        "to": "logs",
                        "rate": 2.0,
                        "routing_key": ["kern.error", "kern.info"],
                    }
                ],
                consumers=[{"name": "w", "from": "errors", "service_time": "10ms"}],
            )
        )
    )
    assert s["dropped"] == s["unroutable"] > 0
    assert s["processed"] + s["backlog_at_end"] + s["dropped"] == s["produced"]


def test_ttl_expires_or_dead_letters() -> None:
    slow = [{"name": "c", "from": "q", "service_time": "2s"}]
    expiring = {"type": "rabbitmq", "queues": [{"name": "q", "durable": True, "message_ttl": "3s"}]}
    s = check(sim.run(scenario_from(broker=expiring, consumers=slow)))
    assert s["expired"] > 0 and s["dead_lettered"] == 0
    dlx = {
        "type": "rabbitmq",
        "exchanges": [{"name": "dlx", "type": "fanout"}],
        "queues": [
            {"name": "q", "durable": True, "message_ttl": "3s", "dead_letter_exchange": "dlx"},
            {"name": "dlq", "durable": True},
        ],
        "bindings": [{"exchange": "dlx", "queue": "dlq"}],
    }
    s = check(sim.run(scenario_from(broker=dlx, consumers=slow)))
    assert s["dead_lettered"] > 0 and s["expired"] == 0


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rate=st.floats(0.2, 5.0),
    replicas=st.integers(1, 3),
    prefetch=st.integers(0, 5),
    ack=st.sampled_from(["manual", "auto"]),
    max_length=st.one_of(st.none(), st.integers(0, 6)),
    overflow=st.sampled_from(["drop-head", "reject-publish"]),
    ttl=st.one_of(st.none(), st.floats(0.5, 5.0)),
    delay=st.sampled_from(["0s", "exp(50ms)"]),
    duration=st.floats(5.0, 60.0),
)
def test_conservation_holds_for_random_scenarios(**p: Any) -> None:
    queue: dict[str, Any] = {"name": "q", "durable": True, "overflow": p["overflow"]}
    if p["max_length"] is not None:
        queue["max_length"] = p["max_length"]
    if p["ttl"] is not None:
        queue["message_ttl"] = p["ttl"]
    scenario = scenario_from(
        duration=p["duration"],
        network={
            "producer_to_broker": p["delay"],
            "broker_to_consumer": p["delay"],
            "consumer_to_broker": p["delay"],
        },
        broker={"type": "rabbitmq", "queues": [queue]},
        producers=[{"name": "p", "to": "q", "rate": p["rate"]}],
        consumers=[
            {
                "name": "c",
                "from": "q",
                "replicas": p["replicas"],
                "prefetch": p["prefetch"],
                "ack": p["ack"],
                "service_time": "exp(0.5s)",
            }
        ],
    )
    check(sim.run(scenario))
