"""Consumer groups: rebalances on join, leave and crash, the session timeout, idle members,
eager stop-the-world against cooperative rebalancing, and agreement with the assignors."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pytest
import simpy

from sim.brokers.kafka import STRATEGIES, assign
from sim.brokers.kafka.cluster import KafkaCluster
from sim.brokers.kafka.consumer import KafkaConsumer
from sim.brokers.kafka.producer import KafkaProducer


def _setup(partitions: int = 6, **kwargs: Any) -> tuple[simpy.Environment, KafkaCluster]:
    env = simpy.Environment()
    kwargs.setdefault("initial_rebalance_delay", 0.0)
    cluster = KafkaCluster(env, **kwargs)
    cluster.create_topic("t", partitions=partitions)
    return env, cluster


def _steady_producer(env: simpy.Environment, cluster: KafkaCluster, rate: float = 200.0) -> None:
    producer = KafkaProducer(cluster)

    def run() -> Generator[Any, Any, None]:
        i = 0
        while True:
            producer.send("t", value=b"x", key=str(i).encode())
            i += 1
            yield env.timeout(1.0 / rate)

    env.process(run())


def _app(
    env: simpy.Environment,
    cluster: KafkaCluster,
    name: str,
    start: float = 0.0,
    service: float = 0.001,
    **config: Any,
) -> dict[str, KafkaConsumer]:
    """A consumer application (poll, process, commit) started at `start`."""
    holder: dict[str, KafkaConsumer] = {}

    def run() -> Generator[Any, Any, None]:
        if start:
            yield env.timeout(start)
        consumer = KafkaConsumer(
            cluster,
            {"group.id": "g", "client.id": name, "auto.offset.reset": "earliest", **config},
        )
        holder["consumer"] = consumer
        consumer.subscribe(["t"])
        while not consumer.crashed:
            records = consumer.poll()
            if not records:
                yield consumer.wait()
                continue
            for record in records:
                yield env.timeout(service)
                if consumer.crashed:
                    return
                consumer.processed(record)

    env.process(run())
    return holder


def _owned(consumer: KafkaConsumer) -> list[int]:
    return sorted(p for _, p in consumer.assignment())


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_the_group_uses_the_assignor_and_every_partition_has_one_owner(strategy: str) -> None:
    env, cluster = _setup(partitions=7)
    apps = [
        _app(env, cluster, f"c{i}", **{"partition.assignment.strategy": strategy}) for i in "abc"
    ]
    env.run(until=1.0)
    group = cluster.coordinator.groups["g"]
    members = {m.member_id: m for m in group.members.values()}
    expected = assign(strategy, {mid: ["t"] for mid in sorted(members)}, {"t": 7})
    for mid, member in members.items():
        assert _owned(member.consumer) == expected[mid].get("t", [])
    owned = [p for app in apps for p in _owned(app["consumer"])]
    assert sorted(owned) == list(range(7))


def test_the_first_rebalance_waits_for_the_initial_delay() -> None:
    env, cluster = _setup(initial_rebalance_delay=3.0)
    _steady_producer(env, cluster)
    app = _app(env, cluster, "a")
    env.run(until=2.9)
    assert app["consumer"].assignment() == set()
    assert cluster.recorder.processed_total == 0
    env.run(until=3.5)
    assert _owned(app["consumer"]) == list(range(6))
    assert cluster.recorder.processed_total > 0


def test_a_member_that_leaves_hands_over_its_partitions_at_once() -> None:
    env, cluster = _setup(rebalance_time=0.5)
    a, b = _app(env, cluster, "a"), _app(env, cluster, "b")
    env.run(until=5.0)
    assert _owned(a["consumer"]) == [0, 1, 2] and _owned(b["consumer"]) == [3, 4, 5]
    b["consumer"].close()
    env.run(until=5.49)
    assert _owned(a["consumer"]) == []  # eager: a gave everything up to rejoin
    env.run(until=5.51)
    assert _owned(a["consumer"]) == list(range(6))


def test_a_crashed_member_is_noticed_only_after_the_session_timeout() -> None:
    env, cluster = _setup(rebalance_time=0.5)
    _steady_producer(env, cluster)
    a = _app(env, cluster, "a", **{"session.timeout.ms": 10_000})
    b = _app(env, cluster, "b", **{"session.timeout.ms": 10_000})
    env.run(until=5.0)
    b["consumer"].crash()
    recorder = cluster.recorder
    produced, processed = recorder.produced, recorder.processed_total
    env.run(until=14.9)
    assert _owned(a["consumer"]) == [0, 1, 2]  # nobody reads b's partitions meanwhile
    share = (recorder.processed_total - processed) / (recorder.produced - produced)
    assert 0.3 < share < 0.7  # only a's half of the keys is processed
    env.run(until=15.49)
    assert _owned(a["consumer"]) == []
    env.run(until=15.51)
    assert _owned(a["consumer"]) == list(range(6))
    rows = cluster.coordinator.rebalance_rows
    assert rows[-1][2] == pytest.approx(15.0)  # the rebalance started at crash + timeout


def test_members_beyond_the_partition_count_sit_idle() -> None:
    env, cluster = _setup(partitions=3)
    _steady_producer(env, cluster)
    apps = [_app(env, cluster, f"c{i}") for i in range(5)]
    env.run(until=5.0)
    loads = sorted(len(app["consumer"].assignment()) for app in apps)
    assert loads == [0, 0, 1, 1, 1]
    busy = {c for c, n in cluster.recorder.processed_by.items() if n > 0}
    assert len(busy) == 3


def _processed_during(strategy: str, window: tuple[float, float]) -> dict[str, int]:
    env, cluster = _setup(rebalance_time=2.0)
    _steady_producer(env, cluster)
    config = {"partition.assignment.strategy": strategy}
    _app(env, cluster, "a", **config)
    _app(env, cluster, "b", **config)
    _app(env, cluster, "c", start=10.0, **config)
    env.run(until=window[0])
    before = dict(cluster.recorder.processed_by)
    env.run(until=window[1])
    after = cluster.recorder.processed_by
    return {name: after[name] - before.get(name, 0) for name in ("a", "b")}


def test_an_eager_rebalance_stops_the_whole_group() -> None:
    # c joins at 10 s; a and b rejoin at once and wait 2 s for SyncGroup, holding nothing.
    assert _processed_during("range", (10.5, 11.9)) == {"a": 0, "b": 0}


def test_a_cooperative_rebalance_keeps_the_others_consuming() -> None:
    done = _processed_during("cooperative-sticky", (10.5, 11.9))
    assert done["a"] > 100 and done["b"] > 100  # ~200 records/s spread over a and b


def test_cooperative_moves_only_revoked_partitions_and_never_shares_one() -> None:
    env, cluster = _setup(rebalance_time=1.0)
    _steady_producer(env, cluster)
    config = {"partition.assignment.strategy": "cooperative-sticky"}
    a, b = _app(env, cluster, "a", **config), _app(env, cluster, "b", **config)
    env.run(until=9.0)
    before = {"a": set(_owned(a["consumer"])), "b": set(_owned(b["consumer"]))}
    c = _app(env, cluster, "c", start=1.0, **config)  # joins at 10 s
    env.run(until=20.0)
    after = {n: set(_owned(x["consumer"])) for n, x in (("a", a), ("b", b), ("c", c))}
    assert after["a"] <= before["a"] and after["b"] <= before["b"]  # they only gave some up
    assert sorted(len(v) for v in after.values()) == [2, 2, 2]
    # Two rebalances: the first revokes, the follow-up hands the revoked partitions to c.
    reasons = [row[6] for row in cluster.coordinator.rebalance_rows]
    assert reasons[-2:] == ["c joined", "cooperative follow-up"]
    cluster.coordinator.finish()
    by_partition: dict[int, list[tuple[float, float]]] = {}
    for _group, _topic, p, _member, start, end in cluster.coordinator.assignment_rows:
        by_partition.setdefault(p, []).append((start, end))
    for spans in by_partition.values():
        spans.sort()
        assert all(spans[i][1] <= spans[i + 1][0] for i in range(len(spans) - 1))


def test_members_of_a_group_must_agree_on_the_strategy() -> None:
    _env, cluster = _setup()
    KafkaConsumer(cluster, {"group.id": "g", "client.id": "a"}).subscribe(["t"])
    other = KafkaConsumer(
        cluster,
        {"group.id": "g", "client.id": "b", "partition.assignment.strategy": "cooperative-sticky"},
    )
    with pytest.raises(ValueError, match="INCONSISTENT_GROUP_PROTOCOL"):
        other.subscribe(["t"])
