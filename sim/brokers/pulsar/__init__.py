"""The Apache Pulsar model (Pulsar 4.0.0): its pure, clock-free core.

Key hashing and partition routing, Key_Shared selectors, topic names and policies, producer
routers, subscription cursors, managed ledgers and Pulsar's client exceptions. This module only
re-exports; each rule lives, with its source, in the module that implements it.
"""

from sim.brokers.pulsar.hashing import (
    java_string_hash,
    murmur3_32,
    murmur3_32_hash,
    partition_for_key,
    sticky_key,
    sticky_key_hash,
)
from sim.brokers.pulsar.selectors import ConsistentHashingSelector, HashRangeAutoSplitSelector

__all__ = [
    "ConsistentHashingSelector",
    "HashRangeAutoSplitSelector",
    "java_string_hash",
    "murmur3_32",
    "murmur3_32_hash",
    "partition_for_key",
    "sticky_key",
    "sticky_key_hash",
]
