"""Pulsar producer routing: the routers' rules, Pulsar's own router tests, the golden partitions."""

from __future__ import annotations

import numpy as np
import pytest

from sim.brokers.pulsar.routing import (
    RoundRobinPartitionMessageRouter,
    SinglePartitionMessageRouter,
    message_router,
    partition_switch_ms,
)
from tests.helpers import require_golden


def test_keyed_messages_match_the_golden_partitions_under_both_routers() -> None:
    data = require_golden("pulsar/hashes.json")
    checked = 0
    for scheme in data["hashing_schemes"]:
        routers = [
            RoundRobinPartitionMessageRouter(scheme, start_partition_index=3),
            RoundRobinPartitionMessageRouter(scheme, batching_enabled=False),
            SinglePartitionMessageRouter(1, scheme),
        ]
        for case in data["cases"]:
            for n, expected in case["partition"][scheme].items():
                for router in routers:
                    assert router.choose_partition(case["key_text"], int(n), now=7.5) == expected
                    checked += 1
    assert checked == len(data["cases"]) * 6 * 2 * 3


# -- RoundRobinPartitionMessageRouterImplTest ----------------------------------------------


def test_without_key_round_robin() -> None:
    router = RoundRobinPartitionMessageRouter(batching_enabled=False, partition_switch_ms=0)
    assert [router.choose_partition(None, 5) for _ in range(10)] == [i % 5 for i in range(10)]


def test_without_key_with_batching_switches_per_window() -> None:
    # The Java test's fake clock advances 1 ms per call; the window is 5 ms.
    router = RoundRobinPartitionMessageRouter(start_partition_index=0, partition_switch_ms=5)
    got = [router.choose_partition(None, 5, now=ms / 1000) for ms in range(10)]
    assert got == [0] * 5 + [1] * 5


def test_batching_awareness() -> None:
    router = RoundRobinPartitionMessageRouter(start_partition_index=0, partition_switch_ms=10)
    assert {router.choose_partition(None, 100, now=(123450 + i) / 1000) for i in range(10)} == {45}
    assert {router.choose_partition(None, 100, now=(123460 + i) / 1000) for i in range(10)} == {46}


def test_negative_time_window_stays_in_range() -> None:
    router = RoundRobinPartitionMessageRouter(start_partition_index=3, partition_switch_ms=5)
    assert 0 <= router.choose_partition(None, 5, now=(2**31 - 1) / 1000) < 5


def test_round_robin_counter_wraps_like_a_java_int() -> None:
    router = RoundRobinPartitionMessageRouter(
        batching_enabled=False, start_partition_index=2**31 - 2
    )
    # 2147483646 % 7 = 0, 2147483647 % 7 = 1, then -2147483648: Java % gives -2, +7 = 5.
    assert [router.choose_partition(None, 7) for _ in range(3)] == [0, 1, 5]


def test_keys_do_not_advance_the_round_robin() -> None:
    router = RoundRobinPartitionMessageRouter(batching_enabled=False)
    assert router.choose_partition(None, 4) == 0
    router.choose_partition("k", 4)
    assert router.choose_partition(None, 4) == 1


# -- SinglePartitionMessageRouterImplTest --------------------------------------------------


def test_single_partition_without_key() -> None:
    router = SinglePartitionMessageRouter(1234)
    assert router.choose_partition(None, 2468) == 1234


# -- PartitionedProducerImpl.getMessageRouter ----------------------------------------------


def test_partition_switch_ms_defaults_and_validation() -> None:
    assert partition_switch_ms() == 10  # 10 x 1 ms
    assert partition_switch_ms(5000, 2) == 10
    assert partition_switch_ms(1500, 1) == 1  # MICROSECONDS.toMillis truncates
    with pytest.raises(ValueError, match="at least 1ms"):
        partition_switch_ms(999, 10)
    with pytest.raises(ValueError, match="frequency"):
        partition_switch_ms(1000, 0)


def test_message_router_draws_its_partition_from_the_rng() -> None:
    def singles(seed: int) -> list[int]:
        rng = np.random.default_rng(seed)
        return [
            message_router("SinglePartition", 8, rng).choose_partition(None, 8) for _ in range(40)
        ]

    assert singles(3) == singles(3)
    assert len(set(singles(3))) > 1  # producers land on different partitions
    router = message_router("RoundRobinPartition", 6, np.random.default_rng(1))
    assert isinstance(router, RoundRobinPartitionMessageRouter)
    assert router.partition_switch_ms == 10
    assert 0 <= router.start_partition_index < 6


def test_message_router_without_batching_is_plain_round_robin_from_a_random_start() -> None:
    router = message_router(
        "RoundRobinPartition", 4, np.random.default_rng(5), batching_enabled=False
    )
    start = router.choose_partition(None, 4)
    assert [router.choose_partition(None, 4) for _ in range(4)] == [
        (start + i) % 4 for i in range(1, 5)
    ]


def test_unknown_mode_scheme_and_partition_count_are_refused() -> None:
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="messageRoutingMode"):
        message_router("CustomPartition", 3, rng)
    with pytest.raises(ValueError, match="hashing_scheme"):
        RoundRobinPartitionMessageRouter("BoostHash")
    with pytest.raises(ValueError, match="at least 1 partition"):
        message_router("SinglePartition", 0, rng)
