"""How an OpenMessaging Benchmark workload maps onto this broker's parts (sim/omb/mapping.py
says what is common to every driver; `layout` is its Layout: the workload, the simulated shape,
topic and subscription names, producer and probe fields)."""

from __future__ import annotations

from typing import Any

__all__ = ["sections"]


def sections(layout: Any) -> dict[str, Any]:
    """driver-kafka/kafka-throughput.yaml on OMB's 3-broker deployment."""
    topics, producers, consumers = [], [], []
    wl = layout.workload
    for t, topic in enumerate(layout.topics):
        topics.append(
            {
                "name": topic,
                "partitions": layout.shape.partitions,
                "replication.factor": 3,
                "min.insync.replicas": 2,
            }
        )
        producers.append({**layout.probe(f"{topic}.probe", topic), "keys": ["key"]})
        for j, (rate, start) in enumerate(layout.load(t, wl.producers_per_topic)):
            producers.append(
                {
                    **layout.producer(f"{topic}.producer-{j}", topic, rate, start),
                    **layout.keys,
                    "acks": "all",
                    "linger.ms": 1,
                    "batch.size": 1048576,
                }
            )
        for sub in layout.subscriptions:
            consumers.append(
                {
                    "name": f"{topic}.{sub}",
                    "from": topic,
                    "replicas": wl.consumer_per_subscription,
                    "group.id": f"{topic}.{sub}",
                    "auto.offset.reset": "earliest",
                    "enable.auto.commit": False,
                    "commit": "after-processing",
                }
            )
    broker = {"type": "kafka", "brokers": 3, "topics": topics}
    return {"broker": broker, "producers": producers, "consumers": consumers}
