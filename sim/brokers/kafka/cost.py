"""The Kafka cost model's charges in closed form (sim/brokers/costs.py): what the simulated
brokers' request handlers do per message (sim/brokers/kafka/cluster.py, BrokerNode), summed.

Per produce batch of `b` records at its partition's leader: the request's fixed cost shared by
its batches, `per_batch`, `per_byte` for the batch's bytes (RecordBatch header and records,
sim/brokers/kafka/log.py), and an `fsync` when the batch brings the partition's unflushed
messages to `flush.messages`. Each follower does `per_batch`, `per_byte` and the same fsyncs
for its copy. The busiest broker is the one whose share of leaders and followers (the
topic's replica assignment, `replica_assignment`) costs the most per message; its
`io_threads` handlers are the stage.

The no-queueing latency of a record sent with acks=all is one request's handler time and the
followers' fetch round trip (`replication_delay`), which the high watermark waits for.
The JVM's garbage-collection pauses (`gc_pause`, `gc_rate`; sim/brokers/pauses.py) leave the
handlers the unpaused share of the time, and delay the messages that meet them (the tail).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sim.brokers.costs import Account, CostModelSpec, Load, Stage
from sim.brokers.kafka.cluster import replica_assignment
from sim.brokers.kafka.log import BATCH_OVERHEAD, record_size
from sim.brokers.pauses import paused_share

if TYPE_CHECKING:
    from sim.brokers.kafka.config import KafkaConfig

__all__ = ["COSTS", "account", "calibration_section", "flushes_per_batch"]


def flushes_per_batch(batch: float, flush_messages: float) -> float:
    """Forced fsyncs per appended batch of `batch` records: one per batch when a batch reaches
    flush.messages by itself, else one every ceil(flush.messages / batch) batches."""
    if flush_messages == math.inf:
        return 0.0
    return 1.0 / max(1, math.ceil(flush_messages / batch))


def account(config: KafkaConfig, load: Load, topic: str | None = None) -> Account:
    """The stages of `load` on `topic` (the section's first topic by default)."""
    cost = config.cost
    if cost is None:
        return Account(notes=("the ideal broker: no costs",))
    settings = config.topic(topic) if topic is not None else config.topics[0]
    b = load.batch
    batch_bytes = BATCH_OVERHEAD + b * record_size(load.message_size, b"k" * load.key_size or None)
    flushes = flushes_per_batch(b, settings.flush_messages)
    leader = (
        cost.per_request / load.batches_per_request
        + cost.per_batch
        + cost.per_byte * batch_bytes
        + cost.fsync * flushes
    ) / b
    follower = (cost.replica_time(1, round(batch_bytes)) + cost.fsync * flushes) / b
    placement = replica_assignment(settings.partitions, settings.replication_factor, config.brokers)
    share = [0.0] * config.brokers  # seconds per message of the load, per broker
    for replicas in placement:
        share[replicas[0]] += leader / settings.partitions
        for replica in replicas[1:]:
            share[replica] += follower / settings.partitions
    busiest = max(share)
    one_request = cost.request_time(round(load.batches_per_request), round(batch_bytes))
    one_request += cost.fsync * (1 if flushes else 0)
    latency = one_request
    if settings.replication_factor > 1:
        latency += config.replication_delay.mean + cost.replica_time(1, round(batch_bytes))
    # A garbage-collection pause stops every handler: they work only the unpaused share.
    busiest /= 1.0 - paused_share(cost.gc_pause, cost.gc_rate)
    stages = (Stage("broker request handlers", cost.io_threads, busiest),)
    return Account(stages, latency)


def calibration_section(part: Mapping[str, Mapping[str, Any]], setup: Mapping[str, Any]) -> dict:
    """A cluster of the preset's brokers with one topic `t`: setup keys `partitions`,
    `replication_factor`, `min_insync`, `flush_messages` (None: Kafka's default policy)."""
    topic: dict[str, Any] = {
        "name": "t",
        "partitions": setup.get("partitions", 1),
        "replication.factor": setup.get("replication_factor", 1),
        "min.insync.replicas": setup.get("min_insync", 1),
    }
    if setup.get("flush_messages") is not None:
        topic["flush.messages"] = setup["flush_messages"]
    return {
        "type": "kafka",
        **part.get("broker", {}),
        "topics": [topic],
        "cost": dict(part["cost"]),
    }


COSTS = CostModelSpec(
    published="kafka",
    section=calibration_section,
    account=lambda config, part, load, setup: account(config, load),
)
