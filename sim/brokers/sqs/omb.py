"""How an OpenMessaging Benchmark workload maps onto this broker's parts (sim/omb/mapping.py
says what is common to every driver; `layout` is its Layout: the workload, the simulated shape,
topic and subscription names, producer and probe fields)."""

from __future__ import annotations

from typing import Any

__all__ = ["sections"]


def sections(layout: Any) -> dict[str, Any]:
    """A standard queue per subscription and partition, each fed by a stream of its own."""
    queues, producers, consumers = [], [], []
    spread = layout.consumers_per_queue()
    # Without a subscription the producers still need queues to send to.
    subscriptions = layout.subscriptions or [""]
    for t, topic in enumerate(layout.topics):
        load = layout.load(t, layout.shape.partitions)
        for sub in subscriptions:
            prefix = f"{topic}-{sub}" if sub else topic
            names = [f"{prefix}-p{k}" for k in range(layout.shape.partitions)]
            if sub:
                producers.append(layout.probe(f"{prefix}.probe", names[0]))
            for k, queue in enumerate(names):
                queues.append({"name": queue, "receive_wait_time": 20})
                if sub:
                    consumers.append(
                        {"name": queue, "from": queue, "replicas": spread[k], "max_messages": 10}
                    )
                if load:
                    rate, start = load[k]
                    producers.append(layout.producer(f"{queue}.producer", queue, rate, start))
    broker = {"type": "sqs", "queues": queues}
    return {"broker": broker, "producers": producers, "consumers": consumers}
