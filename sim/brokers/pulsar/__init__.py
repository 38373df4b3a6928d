"""The Apache Pulsar model (Pulsar 4.0.0).

Its pure, clock-free core (key hashing and partition routing, Key_Shared selectors, topic names
and policies, producer routers, subscription cursors, the negative-ack tracker, managed ledgers
and Pulsar's client exceptions) and its client verbs over the running model (`PulsarClient`,
sim/brokers/pulsar/api.py). This module only re-exports; each rule lives, with its source, in
the module that implements it (docs/brokers/pulsar.md).
"""

from sim.brokers.pulsar.api import (
    MessageId,
    PulsarClient,
    PulsarConsumer,
    PulsarMessage,
    PulsarProducer,
    PulsarReader,
    pulsar_service,
)
from sim.brokers.pulsar.cursor import Cursor
from sim.brokers.pulsar.errors import (
    AlreadyClosedException,
    BrokerMetadataException,
    BrokerPersistenceException,
    ConnectException,
    ConsumerAssignException,
    ConsumerBusyException,
    InvalidConfigurationException,
    InvalidMessageException,
    InvalidTopicNameException,
    LookupException,
    MemoryBufferIsFullError,
    MessageAcknowledgeException,
    NotAllowedException,
    NotConnectedException,
    NotFoundException,
    NotSupportedException,
    ProducerBlockedQuotaExceededError,
    ProducerBlockedQuotaExceededException,
    ProducerBusyException,
    ProducerQueueIsFullError,
    PulsarClientException,
    TimeoutException,
    TooManyRequestsException,
    TopicDoesNotExistException,
    TopicTerminatedException,
    check_cumulative_ack_allowed,
)
from sim.brokers.pulsar.hash_assignments import ranges_by_consumer, removed_hash_ranges
from sim.brokers.pulsar.hashing import (
    java_string_hash,
    murmur3_32,
    murmur3_32_hash,
    partition_for_key,
    sticky_key,
    sticky_key_hash,
)
from sim.brokers.pulsar.ledgers import Ledger, LedgerConfig, ManagedLedger
from sim.brokers.pulsar.names import TopicName
from sim.brokers.pulsar.negative_acks import NegativeAcksTracker
from sim.brokers.pulsar.policies import (
    BacklogQuota,
    BacklogQuotaPolicy,
    BrokerDefaults,
    EffectivePolicies,
    LevelPolicies,
    PolicyStore,
    RetentionPolicies,
)
from sim.brokers.pulsar.routing import (
    RoundRobinPartitionMessageRouter,
    SinglePartitionMessageRouter,
    message_router,
)
from sim.brokers.pulsar.selectors import ConsistentHashingSelector, HashRangeAutoSplitSelector

__all__ = [
    "AlreadyClosedException",
    "BacklogQuota",
    "BacklogQuotaPolicy",
    "BrokerDefaults",
    "BrokerMetadataException",
    "BrokerPersistenceException",
    "ConnectException",
    "ConsistentHashingSelector",
    "ConsumerAssignException",
    "ConsumerBusyException",
    "Cursor",
    "EffectivePolicies",
    "HashRangeAutoSplitSelector",
    "InvalidConfigurationException",
    "InvalidMessageException",
    "InvalidTopicNameException",
    "Ledger",
    "LedgerConfig",
    "LevelPolicies",
    "LookupException",
    "ManagedLedger",
    "MemoryBufferIsFullError",
    "MessageAcknowledgeException",
    "MessageId",
    "NegativeAcksTracker",
    "NotAllowedException",
    "NotConnectedException",
    "NotFoundException",
    "NotSupportedException",
    "PolicyStore",
    "ProducerBlockedQuotaExceededError",
    "ProducerBlockedQuotaExceededException",
    "ProducerBusyException",
    "ProducerQueueIsFullError",
    "PulsarClient",
    "PulsarClientException",
    "PulsarConsumer",
    "PulsarMessage",
    "PulsarProducer",
    "PulsarReader",
    "RetentionPolicies",
    "RoundRobinPartitionMessageRouter",
    "SinglePartitionMessageRouter",
    "TimeoutException",
    "TooManyRequestsException",
    "TopicDoesNotExistException",
    "TopicName",
    "TopicTerminatedException",
    "check_cumulative_ack_allowed",
    "java_string_hash",
    "message_router",
    "murmur3_32",
    "murmur3_32_hash",
    "partition_for_key",
    "pulsar_service",
    "ranges_by_consumer",
    "removed_hash_ranges",
    "sticky_key",
    "sticky_key_hash",
]
