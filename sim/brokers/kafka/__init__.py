"""Kafka's client-side algorithms (partitioner, group assignors) as pure, bit-exact functions."""

from sim.brokers.kafka.assignors import (
    STRATEGIES,
    Assignment,
    TopicPartition,
    assign,
    cooperative_first_assignment,
    cooperative_revocations,
)
from sim.brokers.kafka.partitioner import (
    StickyPartitioner,
    default_partition,
    murmur2,
    to_positive,
)

__all__ = [
    "STRATEGIES",
    "Assignment",
    "StickyPartitioner",
    "TopicPartition",
    "assign",
    "cooperative_first_assignment",
    "cooperative_revocations",
    "default_partition",
    "murmur2",
    "to_positive",
]
