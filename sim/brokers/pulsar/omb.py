"""How an OpenMessaging Benchmark workload maps onto this broker's parts (sim/omb/mapping.py
says what is common to every driver; `layout` is its Layout: the workload, the simulated shape,
topic and subscription names, producer and probe fields)."""

from __future__ import annotations

from typing import Any

__all__ = ["sections"]

# driver-pulsar/pulsar.yaml (../shared/omb/drivers/pulsar.yaml, "Driver presets" in its README).
PRODUCER = {
    "batchingEnabled": True,
    "batchingMaxPublishDelay": 1,  # batchingMaxPublishDelayMs: 1
    "batchingMaxBytes": 131072,
    "blockIfQueueFull": True,
    "maxPendingMessages": 0,  # pendingQueueSize: 0, no limit (the client's memory limit holds)
}
RECEIVER_QUEUE_SIZE = 10000  # consumer receiverQueueSize
SUBSCRIPTION_TYPE = "failover"  # consumer subscriptionType: Failover


def sections(layout: Any) -> dict[str, Any]:
    """driver-pulsar/pulsar.yaml on the preset's cluster: one partition is a non-partitioned
    topic and more a partitioned topic (PulsarBenchmarkDriver.createTopic); each subscription
    is a Failover subscription of `consumerPerSubscription` consumers, each with a consumer per
    partition (the Java client's MultiTopicsConsumerImpl) acknowledging every message
    individually (PulsarBenchmarkDriver.createConsumer)."""
    topics, producers, consumers = [], [], []
    wl = layout.workload
    partitions = layout.shape.partitions
    for t, topic in enumerate(layout.topics):
        topics.append({"name": topic, "partitions": partitions if partitions > 1 else 0})
        producers.append({**layout.probe(f"{topic}.probe", topic), **PRODUCER})
        for j, (rate, start) in enumerate(layout.load(t, wl.producers_per_topic)):
            producers.append(
                {
                    **layout.producer(f"{topic}.producer-{j}", topic, rate, start),
                    **layout.keys,
                    **PRODUCER,
                }
            )
        for sub in layout.subscriptions:
            consumers.append(
                {
                    "name": f"{topic}.{sub}",
                    "from": topic,
                    "replicas": wl.consumer_per_subscription,
                    "subscription": sub,
                    "subscription_type": SUBSCRIPTION_TYPE,
                    "receiverQueueSize": RECEIVER_QUEUE_SIZE,
                }
            )
    broker = {
        "type": "pulsar",
        # driver-pulsar/pulsar.yaml persistence: ensembleSize 3, writeQuorum 3, ackQuorum 2
        "bookies": 3,
        "managedLedgerDefaultEnsembleSize": 3,
        "managedLedgerDefaultWriteQuorum": 3,
        "managedLedgerDefaultAckQuorum": 2,
        "topics": topics,
    }
    return {"broker": broker, "producers": producers, "consumers": consumers}
