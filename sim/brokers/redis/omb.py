"""How an OpenMessaging Benchmark workload maps onto this broker's parts (sim/omb/mapping.py
says what is common to every driver; `layout` is its Layout: the workload, the simulated shape,
topic and subscription names, producer and probe fields)."""

from __future__ import annotations

from typing import Any

__all__ = ["sections"]


def sections(layout: Any) -> dict[str, Any]:
    """driver-redis: a stream per topic, a consumer group per subscription."""
    streams, groups, producers, consumers = [], [], [], []
    wl = layout.workload
    for t, topic in enumerate(layout.topics):
        streams.append({"name": topic})
        producers.append(layout.probe(f"{topic}.probe", topic))
        for j, (rate, start) in enumerate(layout.load(t, wl.producers_per_topic)):
            producers.append(layout.producer(f"{topic}.producer-{j}", topic, rate, start))
        for sub in layout.subscriptions:
            groups.append({"stream": topic, "name": sub, "start": "$"})
            consumers.append(
                {
                    "name": f"{topic}.{sub}",
                    "from": topic,
                    "group": sub,
                    "replicas": wl.consumer_per_subscription,
                    "prefetch": 0,
                    "ack": "auto",
                }
            )
    broker = {"type": "redis", "streams": streams, "groups": groups}
    return {"broker": broker, "producers": producers, "consumers": consumers}
