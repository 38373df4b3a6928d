"""Pulsar policies: their meanings, validation and inheritance topic -> namespace -> broker."""

from __future__ import annotations

import pytest

from sim.brokers.pulsar.policies import (
    BacklogQuota,
    BacklogQuotaPolicy,
    BrokerDefaults,
    LevelPolicies,
    PolicyStore,
    RetentionPolicies,
    check_backlog_quota_within_retention,
)


def test_broker_defaults_mean_no_retention_no_ttl_no_quota() -> None:
    store = PolicyStore()
    effective = store.resolve("orders")  # public/default exists from the start
    assert effective.retention.disabled
    assert not effective.ttl_enabled
    assert not effective.size_quota.exceeded(10**15, 10**9)
    assert not effective.time_quota.exceeded(10**15, 10**9)
    assert effective.size_quota.policy is BacklogQuotaPolicy.PRODUCER_REQUEST_HOLD
    assert effective.replication_clusters == {"standalone"}


@pytest.mark.parametrize(("minutes", "mb"), [(0, 10), (60, 0), (-2, -1), (-1, -2)])
def test_invalid_retention_is_refused(minutes: int, mb: int) -> None:
    with pytest.raises(ValueError, match="Invalid retention policy"):
        RetentionPolicies(minutes, mb)


def test_retention_meanings() -> None:
    assert RetentionPolicies(-1, -1).infinite
    time_only = RetentionPolicies(60, -1)
    assert time_only.time_seconds == 3600.0 and time_only.size_bytes is None
    size_only = RetentionPolicies(-1, 5)
    assert size_only.time_seconds is None and size_only.size_bytes == 5 * 1024 * 1024
    assert not time_only.disabled and not time_only.infinite


def test_backlog_quota_limits() -> None:
    quota = BacklogQuota(limit_size_bytes=1000, limit_time_seconds=60)
    assert not quota.size_exceeded(999)
    assert quota.size_exceeded(1000)  # storageSize >= limit
    assert not quota.time_exceeded(60.0)
    assert quota.time_exceeded(60.5)
    assert not quota.time_exceeded(None)
    assert quota.exceeded(0, 61.0) and quota.exceeded(1000, None)


def test_backlog_quota_must_stay_below_retention() -> None:
    retention = RetentionPolicies(10, 1)  # 10 min, 1 MB
    check_backlog_quota_within_retention(BacklogQuota(1024 * 1024 - 1, 599), retention)
    with pytest.raises(ValueError, match="size limit"):
        check_backlog_quota_within_retention(BacklogQuota(1024 * 1024, -1), retention)
    with pytest.raises(ValueError, match="time limit"):
        check_backlog_quota_within_retention(BacklogQuota(-1, 600), retention)
    # Unlimited or disabled retention puts no bound on the quota.
    check_backlog_quota_within_retention(BacklogQuota(10**12, 10**9), RetentionPolicies(-1, -1))
    with pytest.raises(ValueError, match="retention"):
        PolicyStore().create_namespace(
            "public/tight",
            LevelPolicies(retention=retention, backlog_quota_size=BacklogQuota(10**9)),
        )


def test_inheritance_topic_over_namespace_over_broker() -> None:
    store = PolicyStore(BrokerDefaults(message_ttl_seconds=300))
    store.create_tenant("acme", {"standalone", "west"})
    store.create_namespace(
        "acme/sales",
        LevelPolicies(
            retention=RetentionPolicies(60, -1),
            backlog_quota_size=BacklogQuota(
                limit_size_bytes=10, policy=BacklogQuotaPolicy.PRODUCER_EXCEPTION
            ),
        ),
    )
    store.set_topic_policies(
        "acme/sales/orders",
        LevelPolicies(message_ttl_seconds=30, retention=RetentionPolicies(-1, 100)),
    )
    orders = store.resolve("persistent://acme/sales/orders")
    other = store.resolve("acme/sales/other")
    # The topic's retention replaces the namespace's as a whole (time -1 does not inherit 60).
    assert orders.retention == RetentionPolicies(-1, 100)
    assert other.retention == RetentionPolicies(60, -1)
    # TTL: the topic's 30 s; the other topic falls through the namespace to the broker's 300 s.
    assert orders.message_ttl_seconds == 30
    assert other.message_ttl_seconds == 300
    # The size quota comes from the namespace; the time quota, unset there, from the broker.
    assert orders.size_quota.policy is BacklogQuotaPolicy.PRODUCER_EXCEPTION
    assert orders.time_quota == BacklogQuota()
    # Partitions share their partitioned topic's policies.
    assert store.resolve("acme/sales/orders-partition-2") == orders


def test_replication_clusters_default_to_local_and_obey_the_tenant() -> None:
    store = PolicyStore(BrokerDefaults(cluster_name="east"))
    store.create_tenant("acme", {"east", "west"})
    store.create_namespace("acme/local")
    assert store.resolve("acme/local/t").replication_clusters == {"east"}
    store.create_namespace(
        "acme/geo", LevelPolicies(replication_clusters=frozenset({"east", "west"}))
    )
    assert store.resolve("acme/geo/t").replication_clusters == {"east", "west"}
    store.set_topic_policies(
        "acme/geo/pinned", LevelPolicies(replication_clusters=frozenset({"west"}))
    )
    assert store.resolve("acme/geo/pinned").replication_clusters == {"west"}
    with pytest.raises(ValueError, match="allowed clusters"):
        store.create_namespace("acme/bad", LevelPolicies(replication_clusters=frozenset({"north"})))


def test_unknown_tenant_or_namespace_and_bad_ttl() -> None:
    store = PolicyStore()
    with pytest.raises(ValueError, match="tenant 'nobody'"):
        store.create_namespace("nobody/ns")
    with pytest.raises(ValueError, match="namespace 'public/missing'"):
        store.resolve("public/missing/t")
    with pytest.raises(ValueError, match="namespace 'public/missing'"):
        store.set_topic_policies("public/missing/t", LevelPolicies())
    with pytest.raises(ValueError, match="TTL"):
        LevelPolicies(message_ttl_seconds=-1)
