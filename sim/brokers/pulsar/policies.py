"""Pulsar's storage policies and how a topic inherits them (Pulsar 4.0.0).

Which level decides (``HierarchyTopicPolicies``, ``PersistentTopic.updateTopicPolicy*``): a
policy set on the topic (topic-level policies, ``topicLevelPoliciesEnabled=true``) wins; else the
namespace's (``Policies``); else the broker default from ``ServiceConfiguration``. A level's
value replaces the whole policy below it: a namespace ``RetentionPolicies`` replaces both the
time and the size default. Backlog quotas are kept per type (``BacklogQuotaType``:
``destination_storage`` for size, ``message_age`` for time), so each type inherits separately.

A tenant holds no retention, TTL or backlog quota in Pulsar (``TenantInfo`` has ``adminRoles``
and ``allowedClusters`` only); what it contributes is ``allowedClusters``, which bounds the
replication clusters of its namespaces. :class:`PolicyStore` keeps that faithfully.

Meanings of the numbers:

- Retention (``RetentionPolicies``; docs: https://pulsar.apache.org/docs/4.0.x/cookbooks-retention-expiry/):
  time in minutes and size in MB; -1 means no limit of that kind, both 0 means no retention (the
  default: ``defaultRetentionTimeInMinutes=0``, ``defaultRetentionSizeInMB=0``), and one 0 with
  the other non-zero is refused (``AdminResource.validateRetentionPolicies``). Acked data is kept
  until *either* limit is passed.
- Message TTL, seconds (``message_ttl_in_seconds``; default ``ttlDurationDefaultInSeconds=0``):
  0 means no TTL.
- Backlog quota (``BacklogQuota``): a limit below 0 means no limit (``backlogQuotaDefaultLimitBytes
  =-1``, ``backlogQuotaDefaultLimitSecond=-1``); the default policy is
  ``backlogQuotaDefaultRetentionPolicy=producer_request_hold``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final, TypeVar

from sim.brokers.pulsar.names import TopicName, namespace_name

__all__ = [
    "DEFAULT_BACKLOG_QUOTA_LIMIT_BYTES",
    "DEFAULT_BACKLOG_QUOTA_LIMIT_SECONDS",
    "DEFAULT_RETENTION_SIZE_MB",
    "DEFAULT_RETENTION_TIME_MINUTES",
    "DEFAULT_TTL_SECONDS",
    "BacklogQuota",
    "BacklogQuotaPolicy",
    "BrokerDefaults",
    "EffectivePolicies",
    "LevelPolicies",
    "PolicyStore",
    "RetentionPolicies",
    "check_backlog_quota_within_retention",
]

MEGABYTE: Final = 1024 * 1024
_T = TypeVar("_T")


def _pick(topic_value: _T | None, namespace_value: _T | None, default: _T) -> _T:
    """The first level that sets a value: topic, then namespace, then the broker default."""
    if topic_value is not None:
        return topic_value
    return namespace_value if namespace_value is not None else default


# ServiceConfiguration defaults (pulsar-broker-common, Pulsar 4.0.0).
DEFAULT_RETENTION_TIME_MINUTES: Final = 0  # defaultRetentionTimeInMinutes
DEFAULT_RETENTION_SIZE_MB: Final = 0  # defaultRetentionSizeInMB
DEFAULT_TTL_SECONDS: Final = 0  # ttlDurationDefaultInSeconds
DEFAULT_BACKLOG_QUOTA_LIMIT_BYTES: Final = -1  # backlogQuotaDefaultLimitBytes
DEFAULT_BACKLOG_QUOTA_LIMIT_SECONDS: Final = -1  # backlogQuotaDefaultLimitSecond


class BacklogQuotaPolicy(StrEnum):
    """``BacklogQuota.RetentionPolicy``: what the broker does once a backlog quota is exceeded."""

    # Producers are refused with ProducerBlockedQuotaExceededError, which the client retries:
    # sends wait until the backlog falls (or they time out).
    PRODUCER_REQUEST_HOLD = "producer_request_hold"
    # Producers fail with ProducerBlockedQuotaExceededException.
    PRODUCER_EXCEPTION = "producer_exception"
    # The broker drops the oldest backlog (moves the slowest cursors) to get under the quota.
    CONSUMER_BACKLOG_EVICTION = "consumer_backlog_eviction"


@dataclass(frozen=True, slots=True)
class RetentionPolicies:
    """``RetentionPolicies``: how long, and how much, acknowledged data is kept for readers."""

    retention_time_minutes: int = DEFAULT_RETENTION_TIME_MINUTES
    retention_size_mb: int = DEFAULT_RETENTION_SIZE_MB

    def __post_init__(self) -> None:
        # AdminResource.validateRetentionPolicies.
        if self.retention_size_mb < -1:
            raise ValueError("Invalid retention policy: size limit must be >= -1")
        if self.retention_time_minutes < -1:
            raise ValueError("Invalid retention policy: time limit must be >= -1")
        if (self.retention_time_minutes == 0) != (self.retention_size_mb == 0):
            raise ValueError(
                "Invalid retention policy: Setting a single time or size limit to 0 is invalid "
                "when one of the limits has a non-zero value. Use the value of -1 instead of 0 to "
                "ignore a specific limit. To disable retention both limits must be set to 0."
            )

    @property
    def disabled(self) -> bool:
        """Both limits 0: acked data is deleted as soon as whole ledgers allow."""
        return self.retention_time_minutes == 0 and self.retention_size_mb == 0

    @property
    def infinite(self) -> bool:
        """Both limits -1: acked data is never deleted."""
        return self.retention_time_minutes == -1 and self.retention_size_mb == -1

    @property
    def time_seconds(self) -> float | None:
        """The time limit in seconds, ``None`` when unlimited (-1)."""
        return None if self.retention_time_minutes < 0 else self.retention_time_minutes * 60.0

    @property
    def size_bytes(self) -> int | None:
        """The size limit in bytes, ``None`` when unlimited (-1)."""
        return None if self.retention_size_mb < 0 else self.retention_size_mb * MEGABYTE


@dataclass(frozen=True, slots=True)
class BacklogQuota:
    """``BacklogQuota``: the limits on a topic's unacknowledged backlog, and the policy."""

    limit_size_bytes: int = DEFAULT_BACKLOG_QUOTA_LIMIT_BYTES
    limit_time_seconds: int = DEFAULT_BACKLOG_QUOTA_LIMIT_SECONDS
    policy: BacklogQuotaPolicy = BacklogQuotaPolicy.PRODUCER_REQUEST_HOLD

    def size_exceeded(self, backlog_bytes: int) -> bool:
        """``PersistentTopic.isSizeBacklogExceeded``: ``backlog >= limit``; a limit < 0 never is."""
        return self.limit_size_bytes >= 0 and backlog_bytes >= self.limit_size_bytes

    def time_exceeded(self, oldest_unacked_age_seconds: float | None) -> bool:
        """``isTimeBacklogExceeded``: the oldest unacked message is older than the limit
        (``None``: no backlog); a limit < 0 never is."""
        if self.limit_time_seconds < 0 or oldest_unacked_age_seconds is None:
            return False
        return oldest_unacked_age_seconds > self.limit_time_seconds

    def exceeded(self, backlog_bytes: int, oldest_unacked_age_seconds: float | None) -> bool:
        return self.size_exceeded(backlog_bytes) or self.time_exceeded(oldest_unacked_age_seconds)


def check_backlog_quota_within_retention(quota: BacklogQuota, retention: RetentionPolicies) -> None:
    """``AdminResource.checkBacklogQuota``: a backlog quota must stay below a positive retention.

    Pulsar refuses a quota whose size limit reaches the retention size, or whose time limit
    reaches the retention time (when that retention limit is positive), since retention would
    then delete data the quota still counts as backlog.
    """
    if retention.retention_size_mb <= 0 and retention.retention_time_minutes <= 0:
        return
    if (
        retention.retention_size_mb > 0
        and quota.limit_size_bytes >= retention.retention_size_mb * MEGABYTE
    ):
        raise ValueError(
            "Backlog Quota exceeds configured retention quota: the size limit "
            f"{quota.limit_size_bytes} B reaches the retention size "
            f"{retention.retention_size_mb} MB"
        )
    if (
        retention.retention_time_minutes > 0
        and quota.limit_time_seconds >= retention.retention_time_minutes * 60
    ):
        raise ValueError(
            "Backlog Quota exceeds configured retention quota: the time limit "
            f"{quota.limit_time_seconds} s reaches the retention time "
            f"{retention.retention_time_minutes} min"
        )


@dataclass(frozen=True, slots=True)
class BrokerDefaults:
    """The broker-wide defaults (``ServiceConfiguration``) the namespace and topic levels override.

    ``cluster_name`` (``clusterName``) is the local cluster: a namespace created without
    replication clusters replicates to it alone (``AdminResource.validatePolicies``).
    """

    retention: RetentionPolicies = RetentionPolicies()
    message_ttl_seconds: int = DEFAULT_TTL_SECONDS
    backlog_quota: BacklogQuota = BacklogQuota()
    cluster_name: str = "standalone"


@dataclass(frozen=True, slots=True)
class LevelPolicies:
    """Policies set at one namespace or topic; ``None`` means "not set here, inherit".

    The backlog quota is split per ``BacklogQuotaType``: ``backlog_quota_size`` holds the
    ``destination_storage`` quota (``limit_size_bytes`` and its policy), ``backlog_quota_time``
    the ``message_age`` one (``limit_time_seconds`` and its policy).
    """

    retention: RetentionPolicies | None = None
    message_ttl_seconds: int | None = None
    backlog_quota_size: BacklogQuota | None = None
    backlog_quota_time: BacklogQuota | None = None
    replication_clusters: frozenset[str] | None = None

    def __post_init__(self) -> None:
        if self.message_ttl_seconds is not None and self.message_ttl_seconds < 0:
            raise ValueError(f"message TTL must be >= 0 s, got {self.message_ttl_seconds}")


@dataclass(frozen=True, slots=True)
class EffectivePolicies:
    """The policies that apply to one topic once inheritance is resolved."""

    retention: RetentionPolicies
    message_ttl_seconds: int
    size_quota: BacklogQuota  # destination_storage: uses limit_size_bytes and policy
    time_quota: BacklogQuota  # message_age: uses limit_time_seconds and policy
    replication_clusters: frozenset[str]

    @property
    def ttl_enabled(self) -> bool:
        """A TTL of 0 disables expiry (``PersistentTopic.checkMessageExpiry``)."""
        return self.message_ttl_seconds > 0


@dataclass(slots=True)
class PolicyStore:
    """Tenants, namespaces and topic-level policies, and their resolution for a topic."""

    defaults: BrokerDefaults = field(default_factory=BrokerDefaults)
    _tenants: dict[str, frozenset[str]] = field(default_factory=dict)
    _namespaces: dict[str, LevelPolicies] = field(default_factory=dict)
    _topics: dict[str, LevelPolicies] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # A standalone Pulsar creates the tenant "public" and the namespace "public/default".
        self.create_tenant("public", {self.defaults.cluster_name})
        self.create_namespace("public/default")

    def create_tenant(self, tenant: str, allowed_clusters: set[str] | frozenset[str]) -> None:
        """``TenantInfo``: a tenant and the clusters its namespaces may use."""
        namespace_name(tenant, "x")  # validates the tenant's name
        if not allowed_clusters:
            raise ValueError(f"tenant {tenant!r} needs at least one allowed cluster")
        self._tenants[tenant] = frozenset(allowed_clusters)

    def create_namespace(self, namespace: str, policies: LevelPolicies | None = None) -> None:
        """Create ``tenant/namespace`` with optional policies.

        Replication clusters default to the local cluster (``AdminResource.validatePolicies``) and
        must lie within the tenant's allowed clusters.
        """
        tenant, _, local = namespace.partition("/")
        namespace_name(tenant, local)
        if tenant not in self._tenants:
            raise ValueError(f"tenant {tenant!r} does not exist; create it first")
        policies = policies or LevelPolicies()
        clusters = policies.replication_clusters or frozenset({self.defaults.cluster_name})
        self._check_clusters(tenant, clusters)
        if policies.retention is not None:
            for quota in (policies.backlog_quota_size, policies.backlog_quota_time):
                if quota is not None:
                    check_backlog_quota_within_retention(quota, policies.retention)
        self._namespaces[namespace] = LevelPolicies(
            policies.retention,
            policies.message_ttl_seconds,
            policies.backlog_quota_size,
            policies.backlog_quota_time,
            clusters,
        )

    def set_topic_policies(self, topic: str | TopicName, policies: LevelPolicies) -> None:
        """Set topic-level policies (``topicLevelPoliciesEnabled``) of a topic of a namespace.

        A partition shares its partitioned topic's policies, as topic policies are kept per
        partitioned topic.
        """
        name = self._base(topic)
        if name.namespace not in self._namespaces:
            raise ValueError(f"namespace {name.namespace!r} does not exist; create it first")
        if policies.replication_clusters is not None:
            self._check_clusters(name.tenant, policies.replication_clusters)
        self._topics[str(name)] = policies

    def _check_clusters(self, tenant: str, clusters: frozenset[str]) -> None:
        allowed = self._tenants[tenant]
        outside = sorted(clusters - allowed)
        if outside:
            raise ValueError(
                f"clusters {outside} are not in the allowed clusters of tenant {tenant!r} "
                f"({sorted(allowed)})"
            )

    @staticmethod
    def _base(topic: str | TopicName) -> TopicName:
        name = topic if isinstance(topic, TopicName) else TopicName.parse(topic)
        return name.partitioned_topic_name

    def resolve(self, topic: str | TopicName) -> EffectivePolicies:
        """The effective policies of ``topic``: topic level, else namespace, else broker default."""
        name = self._base(topic)
        namespace = self._namespaces.get(name.namespace)
        if namespace is None:
            raise ValueError(f"namespace {name.namespace!r} does not exist")
        own = self._topics.get(str(name), LevelPolicies())
        defaults = self.defaults
        clusters = namespace.replication_clusters or frozenset({defaults.cluster_name})
        return EffectivePolicies(
            retention=_pick(own.retention, namespace.retention, defaults.retention),
            message_ttl_seconds=_pick(
                own.message_ttl_seconds, namespace.message_ttl_seconds, defaults.message_ttl_seconds
            ),
            size_quota=_pick(
                own.backlog_quota_size, namespace.backlog_quota_size, defaults.backlog_quota
            ),
            time_quota=_pick(
                own.backlog_quota_time, namespace.backlog_quota_time, defaults.backlog_quota
            ),
            replication_clusters=_pick(own.replication_clusters, clusters, clusters),
        )
