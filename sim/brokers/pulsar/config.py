"""The `broker:` section of a scenario for the Apache Pulsar model (type: pulsar), and the Pulsar
producer and consumer fields.

Every setting has Pulsar's own name: broker settings are ``ServiceConfiguration``'s
(`managedLedgerDefaultEnsembleSize`, `dispatcherMaxRoundRobinBatchSize`...); namespace and topic
policies use the names of the admin API's ``Policies`` JSON (`retention_policies`,
`message_ttl_in_seconds`, `backlog_quota_map`, `replication_clusters`); client settings are the
Java client's (`receiverQueueSize`, `ackTimeoutMillis`, `negativeAckRedeliveryDelay`,
`deadLetterPolicy`, `batchingMaxPublishDelay`, `sendTimeout`...). Defaults are Pulsar 4.0.0's
(sim/brokers/pulsar/settings.py). Parameters of the model that Pulsar has no name for are in
snake_case (`bookies`, `bookie_write_latency`, `replication_delay`, `subscribe_at`, `cost`...).

A topic is `{name, partitions}`: a short name means `persistent://public/default/<name>`;
`partitions: 0` is a non-partitioned topic. Without `clusters`, the model is one cluster named
`standalone` with `brokers` brokers and `bookies` bookies.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Literal

from pydantic import Field, model_validator

from sim.brokers.base import NamedTopics
from sim.brokers.pulsar import settings as defaults
from sim.brokers.pulsar.cost import PulsarCost
from sim.brokers.pulsar.names import TopicName, namespace_name
from sim.brokers.pulsar.policies import (
    BacklogQuota,
    BacklogQuotaPolicy,
    BrokerDefaults,
    LevelPolicies,
    PolicyStore,
    RetentionPolicies,
)
from sim.brokers.pulsar.settings import Millis, Minutes, Seconds
from sim.clients.config import ConsumerBase, ProducerBase
from sim.distributions import Distribution
from sim.fieldtypes import Dist, Duration, Size, StrictModel

__all__ = [
    "BacklogQuotaConfig",
    "ClusterConfig",
    "DeadLetterPolicyConfig",
    "NamespaceConfig",
    "PoliciesConfig",
    "PulsarConfig",
    "PulsarConsumerConfig",
    "PulsarProducerConfig",
    "RetentionConfig",
    "TenantConfig",
    "TopicConfig",
]

Loc = tuple[str | int, ...]
STANDALONE = "standalone"  # the cluster name of `pulsar standalone` (conf/standalone.conf)
SubscriptionType = Literal["exclusive", "failover", "shared", "key_shared"]


class RetentionConfig(StrictModel):
    """``RetentionPolicies``: minutes and MB; -1 is no limit, both 0 is no retention."""

    retention_time_minutes: int = Field(default=0, ge=-1, alias="retentionTimeInMinutes")
    retention_size_mb: int = Field(default=0, ge=-1, alias="retentionSizeInMB")

    @model_validator(mode="after")
    def _check(self) -> RetentionConfig:
        self.policy()  # AdminResource.validateRetentionPolicies' rules
        return self

    def policy(self) -> RetentionPolicies:
        return RetentionPolicies(self.retention_time_minutes, self.retention_size_mb)


class BacklogQuotaConfig(StrictModel):
    """One ``BacklogQuota``: a size limit (`destination_storage`) or an age limit
    (`message_age`), and what happens once it is exceeded."""

    limit_size: Size | None = Field(default=None, alias="limitSize")
    limit_time: Seconds | None = Field(default=None, alias="limitTime")
    policy: Literal["producer_request_hold", "producer_exception", "consumer_backlog_eviction"] = (
        "producer_request_hold"
    )

    def quota(self) -> BacklogQuota:
        return BacklogQuota(
            -1 if self.limit_size is None else int(self.limit_size),
            -1 if self.limit_time is None else int(self.limit_time),
            BacklogQuotaPolicy(self.policy),
        )


class PoliciesConfig(StrictModel):
    """Policies a namespace or a topic sets (``Policies``'s JSON names); unset ones inherit."""

    retention_policies: RetentionConfig | None = None
    message_ttl_in_seconds: int | None = Field(default=None, ge=0)
    backlog_quota_map: dict[Literal["destination_storage", "message_age"], BacklogQuotaConfig] = {}
    replication_clusters: list[str] | None = None

    @model_validator(mode="after")
    def _check_quota_types(self) -> PoliciesConfig:
        size = self.backlog_quota_map.get("destination_storage")
        if size is not None and size.limit_size is None:
            raise ValueError("backlog_quota_map.destination_storage needs limitSize")
        age = self.backlog_quota_map.get("message_age")
        if age is not None and age.limit_time is None:
            raise ValueError("backlog_quota_map.message_age needs limitTime")
        return self

    def level(self) -> LevelPolicies:
        size = self.backlog_quota_map.get("destination_storage")
        age = self.backlog_quota_map.get("message_age")
        clusters = self.replication_clusters
        return LevelPolicies(
            retention=None if self.retention_policies is None else self.retention_policies.policy(),
            message_ttl_seconds=self.message_ttl_in_seconds,
            backlog_quota_size=None if size is None else size.quota(),
            backlog_quota_time=None if age is None else age.quota(),
            replication_clusters=None if clusters is None else frozenset(clusters),
        )


class TenantConfig(StrictModel):
    """A tenant (``TenantInfo``) and the clusters its namespaces may replicate to."""

    name: str = Field(min_length=1)
    allowed_clusters: list[str] | None = Field(default=None, alias="allowedClusters")


class NamespaceConfig(PoliciesConfig):
    """A namespace `tenant/namespace` and its policies."""

    name: str = Field(min_length=1)


class TopicConfig(PoliciesConfig):
    """A topic and its topic-level policies (``topicLevelPoliciesEnabled``, on by default)."""

    name: str = Field(min_length=1)
    partitions: int = Field(default=0, ge=0)

    @model_validator(mode="after")
    def _check_name(self) -> TopicConfig:
        TopicName.parse(self.name)
        return self

    @property
    def topic_name(self) -> TopicName:
        return TopicName.parse(self.name)


class ClusterConfig(StrictModel):
    """One Pulsar cluster: its brokers and its BookKeeper bookies."""

    name: str = Field(min_length=1, pattern=r"^[-=:.A-Za-z0-9_]+$")
    brokers: int = Field(default=1, ge=1)
    bookies: int = Field(default=3, ge=1)


class PulsarConfig(NamedTopics, StrictModel):
    type: Literal["pulsar"]
    topics: list[TopicConfig] = Field(min_length=1)
    tenants: list[TenantConfig] = []
    namespaces: list[NamespaceConfig] = []
    clusters: list[ClusterConfig] = []
    brokers: int = Field(default=1, ge=1)  # without `clusters`: the one cluster's brokers
    bookies: int = Field(default=3, ge=1)  # ... and bookies
    # ServiceConfiguration: BookKeeper quorums of a new ledger.
    ensemble_size: int = Field(
        default=defaults.DEFAULT_ENSEMBLE_SIZE, ge=1, alias="managedLedgerDefaultEnsembleSize"
    )
    write_quorum: int = Field(
        default=defaults.DEFAULT_WRITE_QUORUM, ge=1, alias="managedLedgerDefaultWriteQuorum"
    )
    ack_quorum: int = Field(
        default=defaults.DEFAULT_ACK_QUORUM, ge=1, alias="managedLedgerDefaultAckQuorum"
    )
    # ServiceConfiguration: managed ledger rollover.
    max_entries_per_ledger: int = Field(
        default=50_000, ge=1, alias="managedLedgerMaxEntriesPerLedger"
    )
    min_rollover_minutes: Minutes = Field(
        default=10 * 60.0, alias="managedLedgerMinLedgerRolloverTimeMinutes"
    )
    max_rollover_minutes: Minutes = Field(
        default=240 * 60.0, alias="managedLedgerMaxLedgerRolloverTimeMinutes"
    )
    max_size_per_ledger_mb: float = Field(
        default=2048.0, gt=0, alias="managedLedgerMaxSizePerLedgerMbytes"
    )
    mark_delete_rate_limit: float = Field(
        default=defaults.MARK_DELETE_RATE_LIMIT,
        gt=0,
        alias="managedLedgerDefaultMarkDeleteRateLimit",
    )
    # ServiceConfiguration: dispatch.
    round_robin_batch_size: int = Field(
        default=defaults.DISPATCHER_MAX_ROUND_ROBIN_BATCH_SIZE,
        ge=1,
        alias="dispatcherMaxRoundRobinBatchSize",
    )
    active_consumer_failover_delay: Millis = Field(
        default=defaults.ACTIVE_CONSUMER_FAILOVER_DELAY,
        alias="activeConsumerFailoverDelayTimeMillis",
    )
    max_unacked_per_consumer: int = Field(
        default=defaults.MAX_UNACKED_PER_CONSUMER, ge=0, alias="maxUnackedMessagesPerConsumer"
    )
    max_unacked_per_subscription: int = Field(
        default=defaults.MAX_UNACKED_PER_SUBSCRIPTION,
        ge=0,
        alias="maxUnackedMessagesPerSubscription",
    )
    consistent_hashing_points: int = Field(
        default=100, ge=1, alias="subscriptionKeySharedConsistentHashingReplicaPoints"
    )
    lookahead_per_consumer: int = Field(
        default=defaults.KEY_SHARED_LOOKAHEAD_PER_CONSUMER,
        ge=0,
        alias="keySharedLookAheadMsgInReplayThresholdPerConsumer",
    )
    lookahead_per_subscription: int = Field(
        default=defaults.KEY_SHARED_LOOKAHEAD_PER_SUBSCRIPTION,
        ge=0,
        alias="keySharedLookAheadMsgInReplayThresholdPerSubscription",
    )
    delayed_delivery_tick: Millis = Field(
        default=defaults.DELAYED_DELIVERY_TICK, alias="delayedDeliveryTickTimeMillis"
    )
    # ServiceConfiguration: periodic checks.
    retention_check_interval: Seconds = Field(
        default=defaults.RETENTION_CHECK_INTERVAL, alias="retentionCheckIntervalInSeconds"
    )
    message_expiry_check_interval: Minutes = Field(
        default=defaults.MESSAGE_EXPIRY_CHECK_INTERVAL, alias="messageExpiryCheckIntervalInMinutes"
    )
    backlog_quota_check_interval: Seconds = Field(
        default=defaults.BACKLOG_QUOTA_CHECK_INTERVAL, alias="backlogQuotaCheckIntervalInSeconds"
    )
    # ServiceConfiguration: broker-wide policy defaults.
    default_retention_minutes: int = Field(default=0, ge=-1, alias="defaultRetentionTimeInMinutes")
    default_retention_mb: int = Field(default=0, ge=-1, alias="defaultRetentionSizeInMB")
    default_ttl: int = Field(default=0, ge=0, alias="ttlDurationDefaultInSeconds")
    default_quota_bytes: int = Field(default=-1, alias="backlogQuotaDefaultLimitBytes")
    default_quota_seconds: int = Field(default=-1, alias="backlogQuotaDefaultLimitSecond")
    default_quota_policy: Literal[
        "producer_request_hold", "producer_exception", "consumer_backlog_eviction"
    ] = Field(default="producer_request_hold", alias="backlogQuotaDefaultRetentionPolicy")
    # ServiceConfiguration: brokers and geo-replication.
    session_timeout: Millis = Field(
        default=defaults.METADATA_SESSION_TIMEOUT, alias="metadataStoreSessionTimeoutMillis"
    )
    bundles: int = Field(
        default=defaults.DEFAULT_NUMBER_OF_NAMESPACE_BUNDLES,
        ge=1,
        alias="defaultNumberOfNamespaceBundles",
    )
    snapshot_frequency: Millis = Field(
        default=defaults.REPLICATED_SNAPSHOT_FREQUENCY,
        alias="replicatedSubscriptionsSnapshotFrequencyMillis",
    )
    snapshot_timeout: Seconds = Field(
        default=defaults.REPLICATED_SNAPSHOT_TIMEOUT,
        alias="replicatedSubscriptionsSnapshotTimeoutSeconds",
    )
    snapshot_max_cached: int = Field(
        default=defaults.REPLICATED_SNAPSHOT_MAX_CACHED,
        ge=1,
        alias="replicatedSubscriptionsSnapshotMaxCachedPerSubscription",
    )
    # Model parameters (Pulsar has no names for them).
    bookie_write_latency: Dist = Distribution.constant(0.0)  # one bookie's journal write
    replication_delay: Dist = Distribution.constant(0.0)  # a replicator's hop to a remote cluster
    topic_load_time: Duration = 0.0  # a broker loading a topic it takes over
    # The cost model (sim/brokers/pulsar/cost.py, charges.py); None: the ideal broker, whose
    # every step is instant. `{preset: NAME}` starts from a calibrated preset (sim/presets/).
    cost: PulsarCost | None = None

    @model_validator(mode="after")
    def _check(self) -> PulsarConfig:
        if not self.ack_quorum <= self.write_quorum <= self.ensemble_size:
            # ManagedLedgerConfig / BookKeeper: Qa <= Qw <= E.
            raise ValueError(
                "the quorums must satisfy managedLedgerDefaultAckQuorum <= "
                "managedLedgerDefaultWriteQuorum <= managedLedgerDefaultEnsembleSize"
            )
        names = [c.name for c in self.clusters]
        if len(set(names)) != len(names):
            raise ValueError("clusters: a cluster name is used twice")
        seen: set[str] = set()
        for topic in self.topics:
            full = str(topic.topic_name)
            if topic.name in seen or full in seen:
                raise ValueError(f"topics: the topic {topic.name!r} is declared twice")
            seen.update((topic.name, full))
        self.policy_store()  # tenants, namespaces and clusters must fit together
        return self

    # ----- the model's view of the section -----
    def cluster_list(self) -> list[ClusterConfig]:
        """The clusters; without `clusters`, one named `standalone`."""
        if self.clusters:
            return list(self.clusters)
        return [ClusterConfig(name=STANDALONE, brokers=self.brokers, bookies=self.bookies)]

    @property
    def multi_cluster(self) -> bool:
        return bool(self.clusters)

    def broker_defaults(self) -> BrokerDefaults:
        return BrokerDefaults(
            retention=RetentionPolicies(self.default_retention_minutes, self.default_retention_mb),
            message_ttl_seconds=self.default_ttl,
            backlog_quota=BacklogQuota(
                self.default_quota_bytes,
                self.default_quota_seconds,
                BacklogQuotaPolicy(self.default_quota_policy),
            ),
            cluster_name=self.cluster_list()[0].name,
        )

    def policy_store(self) -> PolicyStore:
        """Tenants, namespaces and topic policies as Pulsar resolves them (ValueError if they do
        not fit: an unknown tenant, a cluster the tenant may not use...)."""
        clusters = {c.name for c in self.cluster_list()}
        store = PolicyStore(self.broker_defaults())
        store.create_tenant("public", clusters)  # every cluster may serve public/default
        store.create_namespace("public/default", LevelPolicies())
        for tenant in self.tenants:
            allowed = set(tenant.allowed_clusters or clusters)
            unknown = sorted(allowed - clusters)
            if unknown:
                raise ValueError(f"tenant {tenant.name!r}: unknown clusters {unknown}")
            store.create_tenant(tenant.name, allowed)
        for namespace in self.namespaces:
            level = namespace.level()
            unknown = sorted((level.replication_clusters or frozenset()) - clusters)
            if unknown:
                raise ValueError(f"namespace {namespace.name!r}: unknown clusters {unknown}")
            tenant, _, local = namespace.name.partition("/")
            namespace_name(tenant, local)
            store.create_namespace(namespace.name, level)
        for topic in self.topics:
            level = topic.level()
            if level != LevelPolicies():
                store.set_topic_policies(topic.topic_name, level)
            else:
                store.resolve(topic.topic_name)  # its namespace must exist
        return store

    def topic(self, name: str) -> TopicConfig:
        return next(t for t in self.topics if t.name == name)

    def client_errors(
        self, producers: list[Any], consumers: list[Any]
    ) -> Iterator[tuple[Loc, str]]:
        """Producer and consumer settings that do not fit this section or each other."""
        clusters = [c.name for c in self.cluster_list()]
        topics = {t.name: t for t in self.topics}
        store = self.policy_store()
        for kind, items in (("producers", producers), ("consumers", consumers)):
            for i, item in enumerate(items):
                yield from _cluster_errors(kind, i, item, clusters, topics, store)
        batching = {p.to for p in producers if p.batching_enabled}
        subscriptions: dict[tuple[str, str], tuple[str, int]] = {}
        exclusive: dict[tuple[str, str], int] = {}
        for i, consumer in enumerate(consumers):
            sub = consumer.subscription or consumer.name
            kind = consumer.subscription_type
            key = (consumer.from_, sub)
            first = subscriptions.setdefault(key, (kind, i))
            if first[0] != kind:
                # PersistentSubscription.addConsumer: "Subscription is of different type".
                yield (
                    ("consumers", i, "subscription_type"),
                    f"subscription {sub!r} is {first[0]} (consumers[{first[1]}]): "
                    "Pulsar refuses a consumer of another type (Subscription is of different type)",
                )
            if kind == "exclusive":
                exclusive[key] = exclusive.get(key, 0) + consumer.replicas
                if exclusive[key] > 1:
                    yield (
                        ("consumers", i, "replicas"),
                        f"subscription {sub!r} is exclusive: a second consumer gets "
                        "ConsumerBusyException (use subscription_type: failover for standbys)",
                    )
            if kind != "key_shared":
                for field in ("key_shared_mode", "allow_out_of_order_delivery"):
                    if field in consumer.model_fields_set:
                        name = type(consumer).model_fields[field].alias or field
                        yield (("consumers", i, name), "applies only to key_shared subscriptions")
            if consumer.acknowledgment == "cumulative" and kind in ("shared", "key_shared"):
                # ConsumerBase.acknowledgeCumulativeAsync refuses it on Shared and Key_Shared.
                yield (
                    ("consumers", i, "acknowledgment"),
                    "Cannot use cumulative acks on a non-exclusive/non-failover subscription",
                )
            if consumer.receiver_queue_size == 0 and consumer.from_ in batching:
                # ZeroQueueConsumerImpl closes itself on a batch message.
                yield (
                    ("consumers", i, "receiverQueueSize"),
                    "a zero receiver queue cannot take batch messages: a producer to "
                    f"{consumer.from_!r} batches (set its batchingEnabled: false)",
                )
            if consumer.reconsume_later is not None and not consumer.retry_enable:
                yield (
                    ("consumers", i, "reconsume_later"),
                    "reconsumeLater needs retryEnable: true (a retry letter topic)",
                )
            yield from _retry_errors(i, consumer)
            if consumer.guarantee is not None and consumer.acknowledgment == "cumulative":
                yield (
                    ("consumers", i, "acknowledgment"),
                    "the guarantee's strategy acknowledges each message itself",
                )

    def add_to_graph(self, graph: Any) -> None:
        """Topics as nodes, labelled with their partitions (and clusters when replicated)."""
        store = self.policy_store()
        for topic in self.topics:
            kind = f"{topic.partitions} partitions" if topic.partitions else "non-partitioned"
            clusters = sorted(store.resolve(topic.topic_name).replication_clusters)
            where = f", {'+'.join(clusters)}" if self.multi_cluster else ""
            graph.add_node(topic.name, kind="topic", label=f"{topic.name}\n({kind}{where})")


def _cluster_errors(
    kind: str,
    index: int,
    item: Any,
    clusters: list[str],
    topics: dict[str, TopicConfig],
    store: PolicyStore,
) -> Iterator[tuple[Loc, str]]:
    """A client's cluster and failover clusters: known, and serving its topic."""
    topic_key = item.to if kind == "producers" else item.from_
    topic = topics.get(topic_key)
    served = (
        set(clusters) if topic is None else store.resolve(topic.topic_name).replication_clusters
    )
    for field, names in (
        ("cluster", [item.cluster] if item.cluster else []),
        ("secondary", item.secondary),
    ):
        for name in names:
            if name not in clusters:
                yield (
                    (kind, index, field),
                    f"unknown cluster {name!r} (known: {', '.join(clusters)})",
                )
            elif name not in served:
                yield (
                    (kind, index, field),
                    f"topic {topic_key!r} is not served by cluster {name!r} (its namespace "
                    f"replicates to {', '.join(sorted(served))})",
                )
    if item.secondary and (item.failover_delay is None or item.switch_back_delay is None):
        # AutoClusterFailoverBuilderImpl.build checks failoverDelay and switchBackDelay.
        yield (
            (kind, index, "secondary"),
            "AutoClusterFailover needs failoverDelay and switchBackDelay",
        )


class ClusterFailoverFields(StrictModel):
    """The client's service URL: its cluster, and ``AutoClusterFailover`` to secondary ones."""

    cluster: str | None = None  # unset: the first cluster serving the topic
    secondary: list[str] = []
    failover_delay: Duration | None = Field(default=None, alias="failoverDelay")
    switch_back_delay: Duration | None = Field(default=None, alias="switchBackDelay")
    # AutoClusterFailoverBuilderImpl.checkIntervalMs = 30_000
    check_interval: Duration = Field(default=30.0, gt=0, alias="checkInterval")


class PulsarProducerConfig(ProducerBase, ClusterFailoverFields):
    """A scenario producer feeding a Java-client ``Producer`` with these settings
    (``ProducerConfigurationData``'s defaults); messages are keyed by the shared `keys`."""

    batching_enabled: bool = Field(default=True, alias="batchingEnabled")
    batching_max_publish_delay: Millis = Field(
        default=defaults.BATCHING_MAX_PUBLISH_DELAY, alias="batchingMaxPublishDelay"
    )
    batching_max_messages: int = Field(
        default=defaults.BATCHING_MAX_MESSAGES, ge=1, alias="batchingMaxMessages"
    )
    batching_max_bytes: Size = Field(default=defaults.BATCHING_MAX_BYTES, alias="batchingMaxBytes")
    # ProducerBuilder.batcherBuilder: DEFAULT puts any keys in one batch (routed by the first
    # message's key); KEY_BASED keeps one batch per key, what Key_Shared ordering needs.
    batcher_builder: Literal["DEFAULT", "KEY_BASED"] = Field(
        default="DEFAULT", alias="batcherBuilder"
    )
    send_timeout: Millis = Field(default=defaults.SEND_TIMEOUT, alias="sendTimeout")
    message_routing_mode: Literal["RoundRobinPartition", "SinglePartition"] = Field(
        default="RoundRobinPartition", alias="messageRoutingMode"
    )
    hashing_scheme: Literal["JavaStringHash", "Murmur3_32Hash"] = Field(
        default="JavaStringHash", alias="hashingScheme"
    )
    max_pending_messages: int = Field(default=0, ge=0, alias="maxPendingMessages")
    block_if_queue_full: bool = Field(default=False, alias="blockIfQueueFull")
    memory_limit: Size = Field(default=64 * 1024 * 1024, alias="memoryLimit")  # ClientBuilder
    # TypedMessageBuilder.deliverAfter for every message (delayed delivery), and properties.
    deliver_after: Duration | None = Field(default=None, alias="deliverAfter")
    properties: dict[str, str] | None = None

    @model_validator(mode="after")
    def _check_delay(self) -> PulsarProducerConfig:
        if self.batching_max_publish_delay < 0.001:
            # ProducerConfigurationData.setBatchingMaxPublishDelayMicros
            raise ValueError("configured value for batch delay must be at least 1ms")
        return self


def _retry_errors(i: int, consumer: Any) -> Iterator[tuple[Loc, str]]:
    """What a retry policy needs on Pulsar: reconsumeLater and a DeadLetterPolicy whose
    maxRedeliverCount is its attempts - 1 (sim/brokers/pulsar/runtime.py)."""
    retry = consumer.retry
    if retry is None:
        return
    if retry.blocking:
        yield (
            ("consumers", i, "retry", "blocking"),
            "Pulsar cannot end in-place retries: its client dead-letters by RECONSUMETIMES or "
            "redelivery count, and a try made in place is neither",
        )
    if retry.attempts < 2:
        yield (
            ("consumers", i, "retry", "attempts"),
            "Pulsar's DeadLetterPolicy needs maxRedeliverCount of 1 or more: at least 2 attempts",
        )
    if consumer.reconsume_later is not None:
        yield (
            ("consumers", i, "reconsume_later"),
            "the retry policy calls reconsumeLater with its own backoff",
        )
    policy = consumer.dead_letter_policy
    if policy is not None and policy.max_redeliver_count != retry.attempts - 1:
        yield (
            ("consumers", i, "retry", "attempts"),
            f"the dead letter policy's maxRedeliverCount is {policy.max_redeliver_count}: "
            f"attempts must be {policy.max_redeliver_count + 1}",
        )


class DeadLetterPolicyConfig(StrictModel):
    """``DeadLetterPolicy``: after `maxRedeliverCount` redeliveries a message goes to the dead
    letter topic (`<topic>-<subscription>-DLQ` unless named); the retry letter topic
    (`<topic>-<subscription>-RETRY`) takes `reconsumeLater` messages."""

    max_redeliver_count: int = Field(ge=1, alias="maxRedeliverCount")
    dead_letter_topic: str | None = Field(default=None, alias="deadLetterTopic")
    retry_letter_topic: str | None = Field(default=None, alias="retryLetterTopic")
    initial_subscription_name: str | None = Field(default=None, alias="initialSubscriptionName")


class PulsarConsumerConfig(ConsumerBase, ClusterFailoverFields):
    """A consumer application around a Java-client ``Consumer`` with these settings
    (``ConsumerConfigurationData``'s defaults): `subscription` defaults to the consumer's name,
    the subscription type to Pulsar's default, exclusive."""

    subscription: str | None = Field(default=None, min_length=1)
    subscription_type: SubscriptionType = "exclusive"
    # Which selector a key_shared subscription uses (the broker's
    # subscriptionKeySharedUseConsistentHashing, true by default).
    key_shared_mode: Literal["auto_split", "consistent_hashing"] = "consistent_hashing"
    allow_out_of_order_delivery: bool = Field(default=False, alias="allowOutOfOrderDelivery")
    receiver_queue_size: int = Field(
        default=defaults.RECEIVER_QUEUE_SIZE, ge=0, alias="receiverQueueSize"
    )
    max_total_receiver_queue_size: int = Field(
        default=defaults.MAX_TOTAL_RECEIVER_QUEUE_SIZE_ACROSS_PARTITIONS,
        ge=1,
        alias="maxTotalReceiverQueueSizeAcrossPartitions",
    )
    ack_timeout: Millis = Field(default=0.0, alias="ackTimeoutMillis")
    tick_duration: Millis = Field(default=defaults.TICK_DURATION, alias="tickDurationMillis")
    negative_ack_redelivery_delay: Millis = Field(default=60.0, alias="negativeAckRedeliveryDelay")
    acknowledgment_group_time: Millis = Field(
        default=defaults.ACK_GROUP_TIME, alias="acknowledgmentGroupTime"
    )
    priority_level: int = Field(default=0, ge=0, alias="priorityLevel")
    subscription_initial_position: Literal["Latest", "Earliest"] = Field(
        default="Latest", alias="subscriptionInitialPosition"
    )
    dead_letter_policy: DeadLetterPolicyConfig | None = Field(
        default=None, alias="deadLetterPolicy"
    )
    retry_enable: bool = Field(default=False, alias="retryEnable")
    replicate_subscription_state: bool = Field(default=False, alias="replicateSubscriptionState")
    # How the application acknowledges: acknowledge(msg) or acknowledgeCumulative(msg).
    acknowledgment: Literal["individual", "cumulative"] = "individual"
    # A failed processing calls reconsumeLater(msg, delay) instead of negativeAcknowledge(msg).
    reconsume_later: Duration | None = None
    # A message carrying this property fails processing (a poison message).
    poison_property: str | None = None
    # When the consumer subscribes (a consumer that joins a running subscription).
    subscribe_at: Duration = 0.0

    @model_validator(mode="after")
    def _check_timeouts(self) -> PulsarConsumerConfig:
        if 0 < self.ack_timeout < defaults.MIN_ACK_TIMEOUT:
            # ConsumerBuilderImpl.ackTimeout: "Ack timeout should be greater than 1000 ms".
            raise ValueError("ackTimeoutMillis: Ack timeout should be greater than 1000 ms")
        if self.tick_duration < 0.1:
            raise ValueError("tickDurationMillis: must be at least 100 ms (MIN_TICK_TIME_MILLIS)")
        return self
