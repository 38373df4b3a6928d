"""Pulsar topic names (TopicName's parsing rules, Pulsar 4.0.0)."""

from __future__ import annotations

import pytest

from sim.brokers.pulsar.names import TopicName, partition_index


@pytest.mark.parametrize(
    ("given", "canonical"),
    [
        ("orders", "persistent://public/default/orders"),
        ("acme/sales/orders", "persistent://acme/sales/orders"),
        ("persistent://acme/sales/orders", "persistent://acme/sales/orders"),
        ("non-persistent://acme/sales/ticks", "non-persistent://acme/sales/ticks"),
        ("PERSISTENT://acme/sales/orders", "persistent://acme/sales/orders"),
        # StringUtils.split drops empty pieces of a short name.
        ("/orders", "persistent://public/default/orders"),
        ("persistent://a-b=c:d.e_f/ns/x", "persistent://a-b=c:d.e_f/ns/x"),
        # The local name is free-form (it is URL-encoded elsewhere), only non-empty.
        ("persistent://t/ns/with space&?", "persistent://t/ns/with space&?"),
    ],
)
def test_names_are_completed_and_canonical(given: str, canonical: str) -> None:
    name = TopicName.parse(given)
    assert str(name) == canonical
    assert TopicName.parse(str(name)) == name


def test_parts_and_domain() -> None:
    name = TopicName.parse("non-persistent://acme/sales/ticks")
    assert (name.domain, name.tenant, name.namespace_portion, name.local_name) == (
        "non-persistent",
        "acme",
        "sales",
        "ticks",
    )
    assert name.namespace == "acme/sales"
    assert not name.is_persistent
    assert TopicName.parse("t").is_persistent


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("", "non-empty"),
        ("a/b", "short topic name"),
        ("a/b/c/d", "short topic name"),
        ("kafka://t/ns/x", "domain"),
        ("persistent://t/ns", "tenant/namespace/topic"),
        ("persistent://t/ns/", "topic's own name is empty"),
        ("persistent://t//x", "namespace is empty"),
        ("persistent://bad tenant/ns/x", "tenant 'bad tenant'"),
        ("persistent://t/n$s/x", "namespace 'n\\$s'"),
        ("persistent://t/cluster/ns/x", "legacy form with a cluster"),
    ],
)
def test_invalid_names_raise_clear_errors(given: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TopicName.parse(given)


@pytest.mark.parametrize(
    ("local", "index"),
    [
        ("t-partition-0", 0),
        ("t-partition-12", 12),
        ("a-partition-3-partition-7", 7),
        ("t", -1),
        ("t-partition-", -1),
        ("t-partition-01", -1),  # leading zero: not canonical
        ("t-partition--1", -1),  # negative
        ("t-partition-+1", -1),
        ("t-partition-x", -1),
        ("t-partition-2147483648", -1),  # beyond a Java int
    ],
)
def test_partition_index(local: str, index: int) -> None:
    assert partition_index(local) == index
    assert TopicName.parse(local).partition_index == index


def test_partitions_and_back() -> None:
    base = TopicName.parse("acme/sales/orders")
    parts = base.partitions(3)
    assert [str(p) for p in parts] == [
        f"persistent://acme/sales/orders-partition-{i}" for i in range(3)
    ]
    assert all(p.is_partition and p.partitioned_topic_name == base for p in parts)
    assert not base.is_partition
    assert base.partitioned_topic_name == base
    # getPartition leaves a name that already ends with the suffix, and -1, unchanged.
    assert parts[1].partition(1) == parts[1]
    assert base.partition(-1) == base
    with pytest.raises(ValueError):
        base.partitions(0)
