"""Pulsar's settings by their own names, their defaults in Pulsar 4.0.0, and the field types that
read them into seconds.

Broker settings are ``ServiceConfiguration``'s (``pulsar-broker-common/src/main/java/org/apache/
pulsar/broker/ServiceConfiguration.java``); consumer and producer settings are the Java client's
(``pulsar-client/src/main/java/org/apache/pulsar/client/impl/conf/ConsumerConfigurationData.java``,
``ProducerConfigurationData.java``, ``ClientConfigurationData.java``). The model is of the Java
client: where the Python client (a wrapper of the C++ one) has other defaults, the Java ones hold.

A setting whose Pulsar name ends in ``Millis``/``Ms`` takes a bare number as milliseconds, one in
``Seconds`` as seconds, one in ``Minutes`` as minutes; a string with a unit (``45s``, ``5min``)
works for each. Everything is stored in seconds.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Final

from pydantic import PlainValidator

from sim.units import parse_duration

__all__ = [
    "ACK_GROUP_TIME",
    "ACTIVE_CONSUMER_FAILOVER_DELAY",
    "BACKLOG_QUOTA_CHECK_INTERVAL",
    "BATCHING_MAX_BYTES",
    "BATCHING_MAX_MESSAGES",
    "BATCHING_MAX_PUBLISH_DELAY",
    "DEFAULT_ACK_QUORUM",
    "DEFAULT_ENSEMBLE_SIZE",
    "DEFAULT_NUMBER_OF_NAMESPACE_BUNDLES",
    "DEFAULT_WRITE_QUORUM",
    "DELAYED_DELIVERY_TICK",
    "DISPATCHER_MAX_READ_BATCH_SIZE",
    "DISPATCHER_MAX_ROUND_ROBIN_BATCH_SIZE",
    "INITIAL_BACKOFF",
    "KEY_SHARED_LOOKAHEAD_PER_CONSUMER",
    "KEY_SHARED_LOOKAHEAD_PER_SUBSCRIPTION",
    "MARK_DELETE_RATE_LIMIT",
    "MAX_BACKOFF",
    "MAX_RECONSUME_TIMES",
    "MAX_TOTAL_RECEIVER_QUEUE_SIZE_ACROSS_PARTITIONS",
    "MAX_UNACKED_PER_CONSUMER",
    "MAX_UNACKED_PER_SUBSCRIPTION",
    "MESSAGE_EXPIRY_CHECK_INTERVAL",
    "METADATA_SESSION_TIMEOUT",
    "MIN_ACK_TIMEOUT",
    "RECEIVER_QUEUE_SIZE",
    "REPLICATED_SNAPSHOT_FREQUENCY",
    "REPLICATED_SNAPSHOT_MAX_CACHED",
    "REPLICATED_SNAPSHOT_TIMEOUT",
    "RETENTION_CHECK_INTERVAL",
    "SEND_TIMEOUT",
    "TICK_DURATION",
    "Millis",
    "Minutes",
    "Seconds",
    "parse_millis",
    "parse_minutes",
    "parse_seconds",
]

# ----- ServiceConfiguration (broker), Pulsar 4.0.0 -----
DEFAULT_ENSEMBLE_SIZE: Final = 2  # managedLedgerDefaultEnsembleSize (E)
DEFAULT_WRITE_QUORUM: Final = 2  # managedLedgerDefaultWriteQuorum (Qw)
DEFAULT_ACK_QUORUM: Final = 2  # managedLedgerDefaultAckQuorum (Qa)
DISPATCHER_MAX_ROUND_ROBIN_BATCH_SIZE: Final = 20  # dispatcherMaxRoundRobinBatchSize
DISPATCHER_MAX_READ_BATCH_SIZE: Final = 100  # dispatcherMaxReadBatchSize
ACTIVE_CONSUMER_FAILOVER_DELAY: Final = 1.0  # activeConsumerFailoverDelayTimeMillis = 1000
MAX_UNACKED_PER_CONSUMER: Final = 50_000  # maxUnackedMessagesPerConsumer
MAX_UNACKED_PER_SUBSCRIPTION: Final = 4 * 50_000  # maxUnackedMessagesPerSubscription
KEY_SHARED_LOOKAHEAD_PER_CONSUMER: Final = 2000  # keySharedLookAheadMsgInReplayThresholdPerConsumer
# keySharedLookAheadMsgInReplayThresholdPerSubscription
KEY_SHARED_LOOKAHEAD_PER_SUBSCRIPTION: Final = 20_000
DELAYED_DELIVERY_TICK: Final = 1.0  # delayedDeliveryTickTimeMillis = 1000
RETENTION_CHECK_INTERVAL: Final = 120.0  # retentionCheckIntervalInSeconds
MESSAGE_EXPIRY_CHECK_INTERVAL: Final = 5 * 60.0  # messageExpiryCheckIntervalInMinutes = 5
BACKLOG_QUOTA_CHECK_INTERVAL: Final = 60.0  # backlogQuotaCheckIntervalInSeconds
METADATA_SESSION_TIMEOUT: Final = 30.0  # metadataStoreSessionTimeoutMillis = 30_000
MARK_DELETE_RATE_LIMIT: Final = 1.0  # managedLedgerDefaultMarkDeleteRateLimit (per second)
DEFAULT_NUMBER_OF_NAMESPACE_BUNDLES: Final = 4  # defaultNumberOfNamespaceBundles
REPLICATED_SNAPSHOT_FREQUENCY: Final = 1.0  # replicatedSubscriptionsSnapshotFrequencyMillis
REPLICATED_SNAPSHOT_TIMEOUT: Final = 30.0  # replicatedSubscriptionsSnapshotTimeoutSeconds
REPLICATED_SNAPSHOT_MAX_CACHED: Final = (
    10  # replicatedSubscriptionsSnapshotMaxCachedPerSubscription
)

# ----- ConsumerConfigurationData / ConsumerBuilderImpl (Java client) -----
RECEIVER_QUEUE_SIZE: Final = 1000  # receiverQueueSize
ACK_GROUP_TIME: Final = 0.1  # acknowledgementsGroupTimeMicros = 100 ms
TICK_DURATION: Final = 1.0  # tickDurationMillis (the ack-timeout tracker's tick)
MIN_ACK_TIMEOUT: Final = 1.0  # ConsumerBuilderImpl.MIN_ACK_TIMEOUT_MILLIS = 1000
MAX_TOTAL_RECEIVER_QUEUE_SIZE_ACROSS_PARTITIONS: Final = 50_000
MAX_RECONSUME_TIMES: Final = 16  # RetryMessageUtil.MAX_RECONSUMETIMES (retryEnable, no policy)

# ----- ProducerConfigurationData (Java client) -----
SEND_TIMEOUT: Final = 30.0  # sendTimeoutMs = 30000
BATCHING_MAX_PUBLISH_DELAY: Final = 0.001  # batchingMaxPublishDelayMicros = 1 ms
BATCHING_MAX_MESSAGES: Final = 1000  # DEFAULT_BATCHING_MAX_MESSAGES
BATCHING_MAX_BYTES: Final = 128 * 1024  # batchingMaxBytes

# ----- ClientConfigurationData (Java client): the reconnection backoff -----
INITIAL_BACKOFF: Final = 0.1  # initialBackoffIntervalNanos = 100 ms
MAX_BACKOFF: Final = 60.0  # maxBackoffIntervalNanos = 60 s


def _in_units(unit: float, name: str) -> Callable[[Any], float]:
    def parse(value: Any) -> float:
        if isinstance(value, bool):
            raise ValueError(f"expected {name} or a duration such as '5s', got {value!r}")
        if isinstance(value, int | float):
            return parse_duration(float(value) * unit)
        return parse_duration(value)

    return parse


parse_millis = _in_units(1e-3, "milliseconds")
parse_seconds = _in_units(1.0, "seconds")
parse_minutes = _in_units(60.0, "minutes")


def _plain(parse: Callable[[Any], float]) -> PlainValidator:
    return PlainValidator(parse, json_schema_input_type=str | float)


Millis = Annotated[float, _plain(parse_millis)]  # a ...Millis/...Ms setting, stored in seconds
Seconds = Annotated[float, _plain(parse_seconds)]  # a ...Seconds setting
Minutes = Annotated[float, _plain(parse_minutes)]  # a ...Minutes setting
