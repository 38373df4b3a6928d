"""The far tails of the calibrated presets: the garbage-collection pauses fitted on Confluent's
published p99 and p99.9 land near them in closed form and in simulated runs of the published
tests, and the closed form's reading of a Kafka broker's pause (the sticky partitioner piles
the producers onto the paused broker) agrees with simulated runs."""

from __future__ import annotations

from functools import cache
from typing import Any

import pytest

import sim
from sim.brokers.pauses import residual_quantile
from sim.calibration.fit import shipped
from sim.calibration.published import DEFAULT_CSV, Row, read_rows
from sim.calibration.report import KNOWN_MISSES, outcomes
from sim.calibration.simulate import RUNS, percentile
from sim.calibration.studies import TAIL_QUANTILES, sticky_exposure
from sim.presets import cost_preset

TAIL_FACTOR = 1.25  # the stated goal: a modelled far tail within 1.25x of the published one


@cache
def rows() -> list[Row]:
    return read_rows(DEFAULT_CSV)


def test_every_modelled_far_tail_is_within_the_stated_factor_but_the_documented_one() -> None:
    tails = [
        o
        for o in outcomes(shipped(rows()), rows())
        if o.row.metric in TAIL_QUANTILES and o.model is not None
    ]
    # Kafka's default-flush run and its headline, RabbitMQ's classic and mirrored runs and the
    # mirrored headline: every Kafka and RabbitMQ p99 and p99.9 Confluent published at a load
    # below the peak, but Kafka's fsync-every-message run (simulated only: docs/calibration.md)
    assert {o.row.row_id for o in tails} == {
        "r0543",
        "r0545",
        "r0554",
        "r0555",
        "r0634",
        "r0635",
        "r0644",
        "r0645",
    }
    outside = {o.row.row_id for o in tails if not 1 / TAIL_FACTOR <= o.ratio <= TAIL_FACTOR}
    assert outside == {"r0645"} and "r0645" in KNOWN_MISSES


def test_the_fitted_pauses_are_of_the_size_the_sources_report() -> None:
    # Kafka's documentation: G1's 20 ms pause goal, "a 90% GC pause time of about 21ms" and
    # "less than 1 young GC per second"; a queue process's own heap is small, so its
    # collections are short (well under a millisecond or two).
    kafka = cost_preset("confluent-2020", "kafka").cost
    assert 0.005 < kafka["gc_pause"] <= 0.021 and 0 < kafka["gc_rate"] < 1
    rabbitmq = cost_preset("confluent-2020", "rabbitmq").cost
    assert 0 < rabbitmq["gc_pause"] < 0.002 and rabbitmq["gc_rate"] > 1


def simulated(index: int, **cost: Any) -> dict[str, float]:
    run = RUNS[index]
    scenario = run.scenario()
    scenario["broker"]["cost"].update(cost)
    results = sim.run(sim.Scenario.from_dict(scenario))
    quantiles = {"e2e_latency_p99": 99.0, "e2e_latency_p999": 99.9}
    return {
        row_id: percentile(results, quantiles[metric])
        for row_id, metric in run.rows.items()
        if metric in quantiles
    }


def test_simulated_rabbitmq_runs_meet_the_published_far_tails_the_pauses_were_fitted_on() -> None:
    published = {r.row_id: r.value for r in rows()}
    classic = simulated(2)
    assert set(classic) == {"r0634", "r0635"}
    for row_id, value in classic.items():
        assert 1 / TAIL_FACTOR <= value / published[row_id] <= TAIL_FACTOR, row_id
    # Without the pauses the same run's p99.9 is a third of the published one.
    assert simulated(2, gc_rate=0.0)["r0635"] < published["r0635"] / 2
    mirrored = simulated(3)
    for row_id in ("r0644", "r0545"):  # the p99s; the p99.9 is the documented miss
        assert 1 / TAIL_FACTOR <= mirrored[row_id] / published[row_id] <= TAIL_FACTOR, row_id


def kafka_run(gc_rate: float) -> sim.Results:
    """Three brokers under two producers (linger.ms 1, acks=all) with the Confluent preset's
    pause, at a rate of pauses dense enough for a few seconds to hold dozens of them."""
    hops = ("producer_to_broker", "broker_to_consumer", "consumer_to_broker")
    producer = {"to": "t", "rate": 5000, "message_size": 1024, "arrivals": "constant"}
    producer.update({"acks": "all", "linger.ms": 1, "batch.size": 1_048_576})
    data = {
        "name": "kafka-pauses",
        "seed": 1,
        "duration": 6.5,
        "warmup": 0.5,
        "network": dict.fromkeys(hops, 55e-6),
        "broker": {
            "type": "kafka",
            "brokers": 3,
            "replication_delay": 0.0011,
            "group.initial.rebalance.delay.ms": 0,
            "topics": [
                {"name": "t", "partitions": 12, "replication.factor": 3, "min.insync.replicas": 2}
            ],
            "cost": {"preset": "confluent-2020", "gc_rate": gc_rate},
        },
        "producers": [{"name": f"p{i}", **producer} for i in range(2)],
        "consumers": [{"name": "c", "from": "t", "replicas": 2}],
    }
    return sim.run(sim.Scenario.from_dict(data))


def test_a_kafka_brokers_pause_catches_more_than_its_share_as_the_closed_form_says() -> None:
    pause, rate = cost_preset("confluent-2020", "kafka").cost["gc_pause"], 1.0
    body = percentile(kafka_run(0.0), 50)
    paused = kafka_run(rate)
    p99, p999 = percentile(paused, 99), percentile(paused, 99.9)
    alone = body + 1000 * residual_quantile(pause, rate, 0.99)  # each pause its broker's third
    herded = body + 1000 * residual_quantile(pause, rate, 0.99, sticky_exposure(3, 0.0))
    assert p99 > 1.2 * alone  # the producers pile onto the paused broker
    assert herded / 1.4 <= p99 <= herded * 1.05  # most of the way to the whole load
    far = body + 1000 * residual_quantile(pause, rate, 0.999, sticky_exposure(3, 0.0))
    assert p999 == pytest.approx(far, rel=0.1)
