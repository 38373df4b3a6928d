"""Network hops: their delays count in end-to-end latency, and a hop never reorders."""

from __future__ import annotations

import pytest
import simpy

import sim
from sim.distributions import parse_distribution
from sim.network import Link
from tests.helpers import scenario_from


def test_constant_delays_add_to_latency() -> None:
    network = {
        "producer_to_broker": "5ms",
        "broker_to_consumer": "7ms",
        "consumer_to_broker": "9ms",
    }
    every_second = [{"name": "p", "to": "q", "rate": 1.0, "arrivals": "constant"}]
    consumer = [{"name": "c", "from": "q", "service_time": "1ms"}]
    ideal = sim.run(scenario_from(producers=every_second, consumers=consumer))
    slow = sim.run(scenario_from(network=network, producers=every_second, consumers=consumer))
    # Without queueing (1 ms service every second), each message pays 5 + 7 ms more; the ack
    # hop does not count, since latency ends when processing is done.
    assert slow.summary["latency_mean"] - ideal.summary["latency_mean"] == pytest.approx(
        0.012, abs=1e-9
    )


def test_a_slow_ack_holds_the_prefetch_slot() -> None:
    """With prefetch 1 the next delivery waits for the ack's round trip: a real cost of acks."""
    busy = [{"name": "p", "to": "q", "rate": 50.0, "arrivals": "constant"}]
    consumer = [{"name": "c", "from": "q", "service_time": "1ms", "prefetch": 1}]
    slow_ack = {"consumer_to_broker": "30ms"}
    fast = sim.run(scenario_from(producers=busy, consumers=consumer, duration=20.0))
    held = sim.run(
        scenario_from(producers=busy, consumers=consumer, duration=20.0, network=slow_ack)
    )
    # one message per 31 ms round trip cannot keep up with one every 20 ms
    assert fast.summary["backlog_at_end"] <= 1  # at most the one being processed
    assert held.summary["backlog_at_end"] > 300


def test_a_consumer_can_override_the_scenario_network() -> None:
    results = sim.run(
        scenario_from(
            network={"broker_to_consumer": "50ms"},
            consumers=[
                {
                    "name": "c",
                    "from": "q",
                    "service_time": "1ms",
                    "network": {"broker_to_consumer": "1ms"},
                }
            ],
        )
    )
    assert results.summary["latency_max"] == pytest.approx(0.002, abs=1e-9)


def test_a_link_keeps_sending_order() -> None:
    env = simpy.Environment()
    delay = parse_distribution("exp(1s)")
    import numpy as np

    link = Link(env, delay, delay.sampler(np.random.default_rng(0)))
    arrived: list[tuple[int, float]] = []

    def sender():  # type: ignore[no-untyped-def]
        for i in range(200):
            link.send(lambda n=i: arrived.append((n, env.now)))
            yield env.timeout(0.01)

    env.process(sender())
    env.run()
    assert [n for n, _ in arrived] == list(range(200))
    assert arrived[-1][1] > 2.0  # delays really were applied
