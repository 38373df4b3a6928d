"""How an OpenMessaging Benchmark workload maps onto this broker's parts (sim/omb/mapping.py
says what is common to every driver; `layout` is its Layout: the workload, the simulated shape,
topic and subscription names, producer and probe fields)."""

from __future__ import annotations

from typing import Any

__all__ = ["sections"]


def sections(layout: Any) -> dict[str, Any]:
    """driver-rabbitmq/rabbitmq.yaml: an exchange per topic, a quorum queue per subscription
    (and partition), auto-ack consumers."""
    exchanges, queues, bindings, producers, consumers = [], [], [], [], []
    partitioned = layout.workload.partitions_per_topic > 1
    keys = [f"p{k}" for k in range(layout.shape.partitions)]
    spread = layout.consumers_per_queue()
    for t, topic in enumerate(layout.topics):
        exchanges.append({"name": topic, "type": "direct" if partitioned else "fanout"})
        for sub in layout.subscriptions:
            for k, key in enumerate(keys):
                queue = f"{topic}.{sub}.{key}" if partitioned else f"{topic}.{sub}"
                queues.append({"name": queue, "type": "quorum"})
                bindings.append(
                    {
                        "exchange": topic,
                        "queue": queue,
                        **({"routing_key": key} if partitioned else {}),
                    }
                )
                consumers.append(
                    {
                        "name": queue,
                        "from": queue,
                        "replicas": spread[k],
                        "ack": "auto",
                        "prefetch": 0,
                    }
                )
        routing = {"routing_key": keys} if partitioned else {}
        producers.append(
            {
                **layout.probe(f"{topic}.probe", topic),
                **({"routing_key": keys[0]} if partitioned else {}),
            }
        )
        for j, (rate, start) in enumerate(layout.load(t, layout.workload.producers_per_topic)):
            producers.append(
                {**layout.producer(f"{topic}.producer-{j}", topic, rate, start), **routing}
            )
    broker = {"type": "rabbitmq", "exchanges": exchanges, "queues": queues, "bindings": bindings}
    return {"broker": broker, "producers": producers, "consumers": consumers}
