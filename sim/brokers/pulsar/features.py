"""What the Apache Pulsar model covers for the feature table (docs/features.md)."""

from __future__ import annotations

from sim.brokers.base import Feature

__all__ = ["FEATURES"]

_V = "4.0"

FEATURES: tuple[Feature, ...] = (
    Feature(
        "Topic names, tenants and namespaces; policies inherited (retention, TTL, backlog quota)",
        _V,
        "modelled",
        "TopicName, NamespaceName; broker Policies / HierarchyTopicPolicies",
    ),
    Feature(
        "Producer routing: RoundRobinPartition, SinglePartition; JavaStringHash, Murmur3_32Hash",
        _V,
        "modelled",
        "vectors: shared/conformance/pulsar/hashes.json (port of "
        "RoundRobinPartitionMessageRouterImpl, Murmur3Hash32, JavaStringHash)",
    ),
    Feature(
        "Subscription types: exclusive, failover, shared, key_shared",
        _V,
        "modelled",
        "AbstractDispatcherSingleActiveConsumer, PersistentDispatcherMultipleConsumers, "
        "PersistentStickyKeyDispatcherMultipleConsumers",
    ),
    Feature(
        "Key_Shared hash ranges: auto-split and consistent hashing selectors, draining hashes",
        _V,
        "modelled",
        "vectors: shared/conformance/pulsar/key_shared.json; "
        "HashRangeAutoSplitStickyKeyConsumerSelector, ConsistentHashingStickyKeyConsumerSelector",
    ),
    Feature(
        "Acks (individual, cumulative), negative acks, ack timeout, redelivery count, DLQ, retry",
        _V,
        "modelled",
        "ConsumerImpl, NegativeAcksTracker, UnAckedMessageTracker, DeadLetterPolicy",
        "negativeAckRedeliveryBackoff and batch-index acks are not modelled",
    ),
    Feature(
        "Retention vs backlog quota vs message TTL; deletion by whole ledgers",
        _V,
        "modelled",
        "ManagedLedgerImpl, BacklogQuotaManager, PersistentTopic.checkMessageExpiry",
    ),
    Feature(
        "BookKeeper ensemble, write and ack quorums; bookie failure and ensemble change",
        _V,
        "modelled",
        "BookKeeper LedgerHandle; ServiceConfiguration managedLedgerDefault*Quorum",
    ),
    Feature(
        "Geo-replication: replicators, replicated subscriptions",
        _V,
        "partly",
        "PersistentReplicator, ReplicatedSubscriptionsController",
        "one round of snapshot requests; one producing cluster at a time",
    ),
    Feature(
        "Costs (`broker.cost`, presets confluent-2020 and mqperf-2021): managed-ledger appends, "
        "bookie journals and group fsync on the write set, ack quorum, IO threads",
        f"{_V} (presets fitted on 2.6 runs)",
        "partly",
        "ManagedLedgerImpl, PendingAddOp, BookKeeper Journal (journalMaxGroupWaitMSec, "
        "journalSyncData), ServiceConfiguration numIOThreads; docs/calibration.md",
        "a group's fsync is a fixed wait; one IO-thread pool per broker; reads are not charged",
    ),
    Feature(
        "OpenMessaging Benchmark driver (`mqsim omb --driver pulsar`)",
        "driver-pulsar",
        "modelled",
        "openmessaging/benchmark driver-pulsar/pulsar.yaml, PulsarBenchmarkDriver (docs/omb.md)",
        "default preset confluent-2020",
    ),
    Feature(
        "Non-persistent topics, compaction, schemas, Pulsar transactions, chunking",
        _V,
        "not modelled",
        "docs/brokers/pulsar.md (what it does not do)",
        "non-persistent topics are refused",
    ),
    Feature(
        "Load manager placement, bundle splitting, dispatch rate limits, entry cache",
        _V,
        "not modelled",
        "docs/brokers/pulsar.md (what it does not do)",
        "bundles spread round-robin; reads are instant",
    ),
)
