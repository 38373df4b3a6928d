"""What the Kafka model covers, per version, for the feature table (docs/features.md)."""

from __future__ import annotations

from sim.brokers.base import Feature

__all__ = ["FEATURES"]

_KIP = "https://cwiki.apache.org/confluence/display/KAFKA/"

FEATURES: tuple[Feature, ...] = (
    Feature(
        "Default partitioner (murmur2) and sticky partitioning of unkeyed records",
        "3.x, 4.x",
        "modelled",
        "recorded: shared/conformance/kafka/partitioner.json; KIP-480",
    ),
    Feature(
        "Classic group protocol: eager and cooperative-sticky rebalances",
        "3.x, 4.x",
        "modelled",
        f"{_KIP}KIP-429; ConsumerCoordinator",
    ),
    Feature(
        "Assignors range, roundrobin, sticky (Java AbstractStickyAssignor, both paths)",
        "3.x, 4.x",
        "modelled",
        "recorded: shared/conformance/kafka/assignors.json; AbstractStickyAssignor.java",
        "the kafka-python port is kept beside it",
    ),
    Feature(
        "Static membership (group.instance.id)",
        "3.x, 4.x (classic protocol)",
        "modelled",
        f"{_KIP}KIP-345",
    ),
    Feature(
        "Static members on group.protocol consumer: leave with epoch -2, replaced on rejoin "
        "without a new group epoch, UNRELEASED_INSTANCE_ID after a crash",
        "4.0+",
        "modelled",
        f"{_KIP}KIP-848; GroupMetadataManager getOrMaybeSubscribeStaticConsumerGroupMember, "
        "consumerGroupStaticMemberGroupLeave",
        "the restarted process retries a refused join each heartbeat interval",
    ),
    Feature(
        "max.poll.interval.ms: a slow batch leaves the group",
        "3.x, 4.x",
        "modelled",
        f"{_KIP}KIP-62",
    ),
    Feature(
        "New consumer group protocol (group.protocol consumer): uniform and range assignors, "
        "incremental reconciliation, heartbeat 5 s, session 45 s",
        "4.0+",
        "modelled",
        f"{_KIP}KIP-848",
    ),
    Feature(
        "Share groups: acquisition locks, delivery count limit, record locks, "
        "ACCEPT/RELEASE/REJECT, share.auto.offset.reset",
        "4.2+",
        "modelled",
        f"{_KIP}KIP-932",
    ),
    Feature(
        "Replication, ISR, acks, leader election, retention and compaction",
        "3.x, 4.x",
        "modelled",
        "UnifiedLog.deleteOldSegments; LogCleaner; ReplicaManager",
        "one log stands for all replicas; no dirty-ratio trigger",
    ),
    Feature(
        "Idempotent producer (the 3.x default) and transactions",
        "3.x, 4.x",
        "partly",
        f"{_KIP}KIP-98",
        "transactions as the kafka-transactions consumer guarantee (read-process-write)",
    ),
)
