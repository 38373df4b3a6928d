"""Producer-side partition routing of the Pulsar Java client (Pulsar 4.0.0).

Ports of ``pulsar-client/src/main/java/org/apache/pulsar/client/impl/``:

- :class:`RoundRobinPartitionMessageRouter` is ``RoundRobinPartitionMessageRouterImpl``, the
  router of the default ``MessageRoutingMode.RoundRobinPartition``. A keyed message goes to
  ``signSafeMod(hash(key), n)``. An unkeyed one goes round-robin from a start index; with
  batching on (``batchingEnabled``, true by default) the partition instead changes only on
  ``partitionSwitchMs`` boundaries of the clock, ``signSafeMod(nowMs / partitionSwitchMs +
  startPtnIdx, n)``, so that consecutive messages fill one batch on one partition.
- :class:`SinglePartitionMessageRouter` is ``SinglePartitionMessageRouterImpl``: a keyed message
  is hashed the same way; every unkeyed one goes to one partition chosen at random when the
  producer is created.

:func:`message_router` builds either as ``PartitionedProducerImpl.getMessageRouter`` does: the
start index (round-robin) or the single partition is ``ThreadLocalRandom.nextInt(numPartitions)``
(here drawn from the numpy ``Generator`` passed in, so runs are reproducible), and
``partitionSwitchMs`` is ``MICROSECONDS.toMillis(batchingPartitionSwitchFrequencyByPublishDelay
* batchingMaxPublishDelayMicros)`` (``ProducerConfigurationData``: 10 x 1000 us = 10 ms).

Times are seconds (floats) as everywhere in mqsim; the Java clock's ``millis()`` is their floor in
whole milliseconds.
"""

from __future__ import annotations

import math
from typing import Final

import numpy as np

from sim.brokers.pulsar.hashing import JAVA_STRING_HASH, key_hash, sign_safe_mod

__all__ = [
    "DEFAULT_BATCHING_MAX_PUBLISH_DELAY_MICROS",
    "DEFAULT_BATCHING_PARTITION_SWITCH_FREQUENCY",
    "ROUND_ROBIN_PARTITION",
    "SINGLE_PARTITION",
    "RoundRobinPartitionMessageRouter",
    "SinglePartitionMessageRouter",
    "message_router",
    "partition_switch_ms",
]

# MessageRoutingMode; RoundRobinPartition is the builder's default (ProducerBuilderImpl).
ROUND_ROBIN_PARTITION: Final = "RoundRobinPartition"
SINGLE_PARTITION: Final = "SinglePartition"
# ProducerConfigurationData defaults.
DEFAULT_BATCHING_MAX_PUBLISH_DELAY_MICROS: Final = 1000  # batchingMaxPublishDelayMicros (1 ms)
DEFAULT_BATCHING_PARTITION_SWITCH_FREQUENCY: Final = (
    10  # batchingPartitionSwitchFrequencyByPublishDelay
)

_INT_MIN: Final = -(2**31)


def _java_int(value: int) -> int:
    """Wrap to a Java ``int`` (the round-robin counter overflows like one)."""
    return (value - _INT_MIN) % 2**32 + _INT_MIN


def _millis(now: float) -> int:
    # Clock.millis(): whole milliseconds. Rounding to the microsecond first keeps 4.35 s at 4350
    # ms instead of the 4349.999... a float multiplication gives.
    return math.floor(round(now * 1000.0, 6))


def partition_switch_ms(
    batching_max_publish_delay_micros: int = DEFAULT_BATCHING_MAX_PUBLISH_DELAY_MICROS,
    batching_partition_switch_frequency_by_publish_delay: int = (
        DEFAULT_BATCHING_PARTITION_SWITCH_FREQUENCY
    ),
) -> int:
    """The round-robin router's batch window, ``TimeUnit.MICROSECONDS.toMillis(freq * delay)``."""
    if batching_max_publish_delay_micros < 1000:
        # ProducerConfigurationData.setBatchingMaxPublishDelayMicros
        raise ValueError("configured value for batch delay must be at least 1ms")
    if batching_partition_switch_frequency_by_publish_delay < 1:
        raise ValueError("configured value for partition switch frequency must be >= 1")
    return (
        batching_partition_switch_frequency_by_publish_delay * batching_max_publish_delay_micros
    ) // 1000


class RoundRobinPartitionMessageRouter:
    """``RoundRobinPartitionMessageRouterImpl``: key hash, else round-robin (per batch window)."""

    def __init__(
        self,
        hashing_scheme: str = JAVA_STRING_HASH,
        start_partition_index: int = 0,
        batching_enabled: bool = True,
        partition_switch_ms: int = 10,
    ) -> None:
        key_hash("", hashing_scheme)  # refuse an unknown scheme now, not on the first message
        self.hashing_scheme = hashing_scheme
        self.start_partition_index = start_partition_index
        self.batching_enabled = batching_enabled
        # The Java constructor: this.partitionSwitchMs = Math.max(1, partitionSwitchMs).
        self.partition_switch_ms = max(1, partition_switch_ms)
        self._partition_index = start_partition_index  # PARTITION_INDEX_UPDATER

    def choose_partition(self, key: str | None, num_partitions: int, now: float = 0.0) -> int:
        """``choosePartition``: the partition of a message with ``key`` (``None``: no key) sent
        at ``now`` seconds to a topic of ``num_partitions`` partitions."""
        if key is not None:
            return sign_safe_mod(key_hash(key, self.hashing_scheme), num_partitions)
        if self.batching_enabled:
            window = _millis(now) // self.partition_switch_ms
            return sign_safe_mod(window + self.start_partition_index, num_partitions)
        index = self._partition_index
        self._partition_index = _java_int(index + 1)
        return sign_safe_mod(index, num_partitions)


class SinglePartitionMessageRouter:
    """``SinglePartitionMessageRouterImpl``: key hash, else always ``partition_index``."""

    def __init__(self, partition_index: int, hashing_scheme: str = JAVA_STRING_HASH) -> None:
        key_hash("", hashing_scheme)
        self.partition_index = partition_index
        self.hashing_scheme = hashing_scheme

    def choose_partition(self, key: str | None, num_partitions: int, now: float = 0.0) -> int:
        """``choosePartition``; ``now`` is unused (the signature matches the round-robin one)."""
        if key is not None:
            return sign_safe_mod(key_hash(key, self.hashing_scheme), num_partitions)
        return self.partition_index


def message_router(
    routing_mode: str,
    num_partitions: int,
    rng: np.random.Generator,
    hashing_scheme: str = JAVA_STRING_HASH,
    batching_enabled: bool = True,
    batching_max_publish_delay_micros: int = DEFAULT_BATCHING_MAX_PUBLISH_DELAY_MICROS,
    batching_partition_switch_frequency_by_publish_delay: int = (
        DEFAULT_BATCHING_PARTITION_SWITCH_FREQUENCY
    ),
) -> RoundRobinPartitionMessageRouter | SinglePartitionMessageRouter:
    """A partitioned producer's router, as ``PartitionedProducerImpl.getMessageRouter`` makes it.

    ``CustomPartition`` (a user-supplied router) is not modelled.
    """
    if num_partitions < 1:
        raise ValueError(f"a partitioned topic has at least 1 partition, got {num_partitions}")
    random_partition = int(rng.integers(num_partitions))  # ThreadLocalRandom.nextInt(n)
    if routing_mode == SINGLE_PARTITION:
        return SinglePartitionMessageRouter(random_partition, hashing_scheme)
    if routing_mode == ROUND_ROBIN_PARTITION:
        return RoundRobinPartitionMessageRouter(
            hashing_scheme,
            random_partition,
            batching_enabled,
            partition_switch_ms(
                batching_max_publish_delay_micros,
                batching_partition_switch_frequency_by_publish_delay,
            ),
        )
    raise ValueError(
        f"unknown messageRoutingMode {routing_mode!r}: modelled are "
        f"{ROUND_ROBIN_PARTITION} and {SINGLE_PARTITION}"
    )
