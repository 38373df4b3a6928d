"""Simulated runs of the published latency tests, on the shipped presets.

The closed forms (sim/calibration/studies.py) give medians; tail percentiles come from running
the simulated brokers. Confluent's latency tests are affordable to simulate (a second of
200,000 msg/s, or 30,000): each becomes a scenario of the study's setup on the preset, and its
end-to-end percentiles are compared with the published ones (`tools/calibrate.py
--simulate`). mqsim measures from the send to the end of processing, which for OMB's consumers
(they only record the message) is OMB's end-to-end latency.

The presets' garbage-collection pauses (sim/brokers/pauses.py) make the far tails. RabbitMQ's
queue processes pause often (each of the 24 about 18 times a second), so a second of its test
shows them; a Kafka broker's JVM pauses about once in 6 seconds (the fit on Confluent's p99
and p99.9), about once in 2 seconds somewhere in the cluster, and one pause holds up some 4%
of the messages of a 0.4 s run (the sticky partitioner piles every producer onto the paused
broker). So a Kafka run here either has no pause or one that decides its p99: it cannot
estimate the far tail, and gives only the body (p50, p95). The tail is the closed form's
(sim/calibration/studies.py), which tests/test_calibration_tails.py checks against simulated
runs dense in pauses. A Kafka run long enough to hold dozens of pauses would be a minute of
simulated time at 200,000 msg/s, half an hour of computing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from sim.calibration.studies import KAFKA, PULSAR, RABBITMQ
from sim.calibration.systems import part_of
from sim.results import Results

__all__ = ["RUNS", "SimulatedRun", "simulate"]

PERCENTILES = {
    "e2e_latency_p50": 50.0,
    "e2e_latency_p95": 95.0,
    "e2e_latency_p99": 99.0,
    "e2e_latency_p999": 99.9,
}


@dataclass(frozen=True)
class SimulatedRun:
    """A published latency test: the rows it gives values to (row_id -> metric), and how its
    scenario is built from the study's preset."""

    name: str
    rows: dict[str, str]
    scenario: Callable[[], dict[str, Any]]


def _network(one_way: float) -> dict[str, float]:
    return {
        hop: one_way for hop in ("producer_to_broker", "broker_to_consumer", "consumer_to_broker")
    }


def _kafka(flush: bool) -> dict[str, Any]:
    """Confluent's Kafka latency test: 200,000 msg/s of 1 KiB from 4 producers (linger.ms 1,
    batch.size 1 MiB, acks=all) to a topic of 100 partitions, replication factor 3, read by a
    group of 4 consumers."""
    part = part_of("confluent-2020", KAFKA)
    topic: dict[str, Any] = {
        "name": "t",
        "partitions": 100,
        "replication.factor": 3,
        "min.insync.replicas": 2,
    }
    if flush:
        topic["flush.messages"] = 1
    producer = {"rate": 50_000, "message_size": 1024, "arrivals": "constant", "acks": "all"}
    producer.update({"linger.ms": 1, "batch.size": 1_048_576})
    return {
        "name": "confluent-kafka-latency",
        "seed": 1,
        "duration": 0.6,
        "warmup": 0.2,
        "network": _network(part["network"]["one_way"]),
        "broker": {
            "type": KAFKA,
            **part["broker"],
            "group.initial.rebalance.delay.ms": 0,
            "topics": [topic],
            "cost": {"preset": "confluent-2020"},
        },
        "producers": [{"name": f"p{i}", "to": "t", **producer} for i in range(4)],
        "consumers": [{"name": "c", "from": "t", "replicas": 4}],
    }


def _rabbitmq(mirrors: int) -> dict[str, Any]:
    """Confluent's RabbitMQ latency test: about 30,000 msg/s of 1 KiB over 24 classic queues
    (24 producers, 24 consumers), persistent, confirmed, mirrored once or not."""
    part = part_of("confluent-2020", RABBITMQ)
    # Durable, as the test's persistent messages need (and RabbitMQ 4.3 refuses transient queues).
    queues = [
        {"name": f"q{i}", "durable": True, **({"mirrors": mirrors} if mirrors else {})}
        for i in range(24)
    ]
    return {
        "name": "confluent-rabbitmq-latency",
        "seed": 1,
        "duration": 1.0,
        "warmup": 0.3,
        "network": _network(part["network"]["one_way"]),
        "broker": {"type": RABBITMQ, "queues": queues, "cost": {"preset": "confluent-2020"}},
        "producers": [
            {"name": f"p{i}", "to": f"q{i}", "rate": 30_000 / 24, "message_size": 1024}
            for i in range(24)
        ],
        "consumers": [{"name": f"c{i}", "from": f"q{i}", "prefetch": 0} for i in range(24)],
    }


def _pulsar() -> dict[str, Any]:
    """Confluent's Pulsar latency test: 200,000 msg/s of 1 KiB from 4 producers (batching
    delay 1 ms, driver-pulsar/pulsar.yaml) to a topic of 100 partitions on 3 brokers and 3
    bookies (ensemble 3, write quorum 3, ack quorum 2), read by a Failover subscription of 4
    consumers."""
    part = part_of("confluent-2020", PULSAR)
    setup = part["broker"]
    producer = {"rate": 50_000, "message_size": 1024, "arrivals": "constant"}
    producer.update({"batchingMaxPublishDelay": 1, "batchingMaxBytes": 131072})
    return {
        "name": "confluent-pulsar-latency",
        "seed": 1,
        "duration": 0.6,
        "warmup": 0.2,
        "network": _network(part["network"]["one_way"]),
        "broker": {
            "type": PULSAR,
            "brokers": setup["brokers"],
            "bookies": setup["bookies"],
            "managedLedgerDefaultEnsembleSize": setup["ensemble_size"],
            "managedLedgerDefaultWriteQuorum": setup["write_quorum"],
            "managedLedgerDefaultAckQuorum": setup["ack_quorum"],
            "topics": [{"name": "t", "partitions": 100}],
            "cost": {"preset": "confluent-2020"},
            # The real run's consumers joined a minute before the measured phase (OMB's
            # warm-up), so the failover delay after a join was long over: none in this
            # short run.
            "activeConsumerFailoverDelayTimeMillis": 0,
        },
        "producers": [{"name": f"p{i}", "to": "t", **producer} for i in range(4)],
        "consumers": [
            {
                "name": "c",
                "from": "t",
                "replicas": 4,
                "subscription_type": "failover",
                "receiverQueueSize": 10000,
            }
        ],
    }


RUNS = (
    SimulatedRun(
        "Kafka at 200k msg/s",
        # p99 and p99.9: the closed form's (see the module docstring)
        {"r0552": "e2e_latency_p50", "r0553": "e2e_latency_p95"},
        lambda: _kafka(flush=False),
    ),
    SimulatedRun(
        "Kafka at 200k msg/s, fsync every message",
        {"r0562": "e2e_latency_p50", "r0563": "e2e_latency_p95"},
        lambda: _kafka(flush=True),
    ),
    SimulatedRun(
        "RabbitMQ classic at 30k msg/s",
        {
            "r0632": "e2e_latency_p50",
            "r0633": "e2e_latency_p95",
            "r0634": "e2e_latency_p99",
            "r0635": "e2e_latency_p999",
        },
        lambda: _rabbitmq(0),
    ),
    SimulatedRun(
        "RabbitMQ mirrored at 30k msg/s",
        {
            "r0642": "e2e_latency_p50",
            "r0643": "e2e_latency_p95",
            "r0644": "e2e_latency_p99",
            "r0645": "e2e_latency_p999",
            "r0545": "e2e_latency_p99",  # the headline figure is this run's
        },
        lambda: _rabbitmq(1),
    ),
    SimulatedRun(
        "Pulsar at 200k msg/s",
        {
            "r0592": "e2e_latency_p50",
            "r0593": "e2e_latency_p95",
            "r0594": "e2e_latency_p99",
            "r0595": "e2e_latency_p999",
            "r0544": "e2e_latency_p99",  # the headline figure is this run's
        },
        _pulsar,
    ),
)


def percentile(results: Results, q: float) -> float:
    """The q-th percentile of the run's end-to-end latency (its histogram's CDF), in ms."""
    cdf = results.latency
    index = int(np.searchsorted(cdf["cumulative_fraction"].to_numpy(), q / 100.0))
    index = min(index, len(cdf) - 1)
    return 1000.0 * float(cdf["latency"].iloc[index])


def simulate(progress: Callable[[str], None] = lambda name: None) -> dict[str, float]:
    """Every run of RUNS: row_id -> the simulated value in the row's unit (ms)."""
    from sim.kernel import run as simulated
    from sim.scenario import Scenario

    found: dict[str, float] = {}
    for run in RUNS:
        progress(run.name)
        results = simulated(Scenario.from_dict(run.scenario()))
        for row_id, metric in run.rows.items():
            found[row_id] = percentile(results, PERCENTILES[metric])
    return found
