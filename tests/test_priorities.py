"""Priorities on every broker: RabbitMQ's x-max-priority queues, and, where a system has none,
a source per priority read by consumers weighted by their share of one quota. Either way, a
flood of low-priority messages does not delay the high-priority ones, as it does in one FIFO
source."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import sim
from sim.brokers.registry import spec_of
from sim.scenario import Scenario

# A quota of 20 processings a second; 2 urgent messages a second all along, and a flood of
# 40 bulk messages a second for 30 s: in one FIFO source, urgent messages wait behind it.
QUOTA = 20.0
URGENT, BULK = 2.0, 40.0


def section(broker_type: str, sources: list[str]) -> dict[str, Any]:
    return (
        spec_of(broker_type).ideal.section(sources[0], 1)
        if len(sources) == 1
        else {
            "rabbitmq": {
                "type": "rabbitmq",
                "queues": [{"name": s, "durable": True} for s in sources],
            },
            "sqs": {"type": "sqs", "queues": [{"name": s} for s in sources]},
            "kafka": {"type": "kafka", "topics": [{"name": s, "partitions": 1} for s in sources]},
            "pulsar": {"type": "pulsar", "topics": [{"name": s, "partitions": 0} for s in sources]},
            "redis": {
                "type": "redis",
                "streams": [{"name": s} for s in sources],
                "groups": [{"stream": s, "name": f"g-{s}", "start": "0"} for s in sources],
            },
        }[broker_type]
    )


def consumer(
    broker_type: str, name: str, source: str, rate: float, group: str = "g"
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": name,
        "from": source,
        "service_time": "1ms",
        "rate_limit": f"{rate:g}/s",
        "burst": 1,
        **spec_of(broker_type).ideal.consumer,
    }
    if broker_type == "redis":
        data["group"] = group
    return data


def scenario(broker_type: str, design: str) -> Scenario:
    """`fifo`: one source for both; `priority`: RabbitMQ's priority queue; `weighted`: a
    source per priority, the urgent consumer with 3/4 of the quota, the bulk one 1/4."""
    producers = [
        {"name": "urgent", "to": "jobs", "rate": URGENT, "arrivals": "constant"},
        {"name": "bulk", "to": "jobs", "rate": BULK, "start": 10.0, "stop": 40.0},
    ]
    if design == "weighted":
        producers[1]["to"] = "bulk-jobs"
        broker = section(broker_type, ["jobs", "bulk-jobs"])
        consumers = [
            consumer(broker_type, "urgent-sender", "jobs", 0.75 * QUOTA, "g-jobs"),
            consumer(broker_type, "bulk-sender", "bulk-jobs", 0.25 * QUOTA, "g-bulk-jobs"),
        ]
    else:
        broker = section(broker_type, ["jobs"])
        consumers = [consumer(broker_type, "sender", "jobs", QUOTA)]
        if design == "priority":
            broker["queues"][0]["max_priority"] = 10
            producers[0]["priority"] = 9
            producers[1]["priority"] = 1
    warmup = spec_of(broker_type).ideal.warmup
    for producer in producers:
        producer.update(spec_of(broker_type).ideal.producer)
        producer["start"] = producer.get("start", 0.0) + warmup
    data = {
        "name": f"priorities_{design}",
        "duration": 300.0,  # the weighted bulk share (5/s) takes 240 s for the flood
        "broker": broker,
        "producers": producers,
        "consumers": consumers,
    }
    return Scenario.from_dict(data)


def urgent_latencies(results: sim.Results) -> np.ndarray:
    trace = results.trace
    assert trace is not None
    produced = trace[(trace["event"] == "produced") & (trace["component"] == "urgent")]
    done = trace[trace["event"] == "processed"].drop_duplicates("message_id")
    joined = produced.merge(done, on="message_id", suffixes=("_in", "_out"))
    return (joined["time_out"] - joined["time_in"]).to_numpy()


@pytest.mark.parametrize(
    ("broker_type", "design"),
    [("rabbitmq", "priority"), *((t, "weighted") for t in sim.broker_types())],
)
def test_urgent_messages_overtake_a_flood_that_delays_them_in_one_fifo_source(
    broker_type: str, design: str
) -> None:
    fifo = sim.run(scenario(broker_type, "fifo"), trace=True)
    prioritised = sim.run(scenario(broker_type, design), trace=True)
    # one FIFO source: the flood (40/s against a quota of 20/s) queues up ahead of them
    assert np.percentile(urgent_latencies(fifo), 99) > 20.0
    # priorities: an urgent message waits for at most a token or two
    urgent = urgent_latencies(prioritised)
    assert len(urgent) >= URGENT * 290
    assert np.percentile(urgent, 99) < 0.5, broker_type
    for results in (fifo, prioritised):
        assert results.summary["processed"] == results.summary["produced"]
        assert results.conservation_gap() == 0
