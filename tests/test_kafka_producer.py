"""The producer: partition choice, ordering per partition, batching, acks, the cost model."""

from __future__ import annotations

from collections import Counter, defaultdict

import pytest
import simpy

from sim.brokers.kafka import default_partition
from sim.brokers.kafka.cluster import KafkaCluster
from sim.brokers.kafka.log import BATCH_OVERHEAD, record_size
from sim.brokers.kafka.producer import KafkaProducer
from sim.brokers.kafka.settings import CostSettings


def _cluster(partitions: int = 6, **kwargs) -> tuple[simpy.Environment, KafkaCluster]:
    env = simpy.Environment()
    cluster = KafkaCluster(env, initial_rebalance_delay=0, **kwargs)
    cluster.create_topic("t", partitions=partitions)
    return env, cluster


def _batches(cluster: KafkaCluster) -> list[list[int]]:
    """Every batch in the logs as the list of its records' message ids."""
    by_batch: dict[tuple[int, int], list[int]] = defaultdict(list)
    for partition in cluster.all_partitions():
        for record in partition.log.records_from(0):
            by_batch[(partition.index, record.base_offset)].append(record.msg.id)
    return sorted(by_batch.values())


def test_keyed_records_go_to_murmur2_partition_and_keep_their_order() -> None:
    env, cluster = _cluster(partitions=7)
    producer = KafkaProducer(cluster)
    keys = [f"user-{i % 40}".encode() for i in range(400)]
    futures = [producer.send("t", value=str(i).encode(), key=k) for i, k in enumerate(keys)]
    env.run(until=1.0)
    for key, future in zip(keys, futures, strict=True):
        assert future.get().partition == default_partition(key, 7)
    # Per key (so per partition) the log keeps send order.
    offsets: dict[bytes, list[int]] = defaultdict(list)
    for key, future in zip(keys, futures, strict=True):
        offsets[key].append(future.get().offset)
    assert all(seq == sorted(seq) for seq in offsets.values())


def test_an_explicit_partition_overrides_the_key() -> None:
    env, cluster = _cluster(partitions=4)
    producer = KafkaProducer(cluster)
    key = b"k"
    other = (default_partition(key, 4) + 1) % 4
    future = producer.send("t", value=b"x", key=key, partition=other)
    env.run(until=1.0)
    assert future.get().partition == other
    with pytest.raises(Exception, match="UNKNOWN_TOPIC_OR_PARTITION"):
        producer.send("t", value=b"x", partition=4)


def test_null_keys_stick_to_one_partition_per_batch_then_move() -> None:
    env, cluster = _cluster(partitions=5)
    size = record_size(100, None)
    producer = KafkaProducer(cluster, {"linger.ms": 1000, "batch.size": BATCH_OVERHEAD + 10 * size})
    futures = [producer.send("t", value=b"x" * 100) for _ in range(95)]
    env.run(until=5.0)
    partitions = [f.get().partition for f in futures]
    # Every batch fills up (10 records) on one partition before the next batch starts elsewhere.
    runs = [partitions[i : i + 10] for i in range(0, 95, 10)]
    assert all(len(set(run)) == 1 for run in runs)
    assert all(runs[i][0] != runs[i + 1][0] for i in range(len(runs) - 1))
    assert len(set(partitions)) > 1


def test_linger_ms_gathers_records_into_batches() -> None:
    def run(linger_ms: float) -> tuple[int, int]:
        env, cluster = _cluster(partitions=1)
        producer = KafkaProducer(cluster, {"linger.ms": linger_ms})

        def send():  # type: ignore[no-untyped-def]
            for _ in range(1000):
                producer.send("t", value=b"x" * 10)
                yield env.timeout(0.001)  # 1000 records/s

        env.process(send())
        env.run(until=2.0)
        counts = cluster.recorder.counters
        return counts["kafka.batches"], counts["kafka.requests"]

    batches, requests = run(0)
    assert batches == requests == 1000  # ideal network: every record leaves at once, alone
    batches, requests = run(20)
    # A batch waits 20 ms after its first record: about 21 records (1 per ms) ride together.
    assert 1000 / 22 <= batches <= 1000 / 19
    assert requests == batches  # one partition: one batch per request


def test_batch_size_closes_full_batches() -> None:
    env, cluster = _cluster(partitions=1)
    producer = KafkaProducer(cluster, {"linger.ms": 10_000, "batch.size": 16384})
    for _ in range(100):
        producer.send("t", value=b"x" * 1000)
    env.run(until=1.0)
    fit = (16384 - BATCH_OVERHEAD) // record_size(1000, None)  # 16 records of 1008 bytes
    sizes = [len(b) for b in _batches(cluster)]
    assert sizes == [fit] * (100 // fit)  # the partial last batch still lingers
    assert producer.buffered == 100 % fit
    done = producer.flush()
    env.run(until=2.0)
    assert done.triggered and producer.buffered == 0


def test_acks_decide_when_a_send_is_answered() -> None:
    env = simpy.Environment()
    cluster = KafkaCluster(env, brokers=3, replication_delay=0.010)
    cluster.create_topic("t", partitions=1, replication_factor=3)
    answered: dict[str, float] = {}
    for acks in ("0", "1", "all"):
        producer = KafkaProducer(cluster, {"acks": acks}, name=f"acks-{acks}")
        future = producer.send("t", value=b"x")
        future.add_callback(lambda f, a=acks: answered.setdefault(a, env.now))
        if acks == "0":
            assert future.succeeded() and future.get().offset == -1  # done as it leaves
    env.run(until=1.0)
    assert answered["0"] == 0.0
    assert answered["1"] == 0.0  # the leader appended: no wait for the followers
    assert answered["all"] == pytest.approx(0.010)  # after the followers copied it
    assert cluster.partition("t", 0).hw == 3


def test_max_in_flight_makes_batches_grow_when_the_broker_is_slow() -> None:
    cost = CostSettings(per_request=0.001, per_batch=0.0, per_byte=0.0)  # 1 ms per request
    env, cluster = _cluster(partitions=1, cost=cost)
    producer = KafkaProducer(cluster)

    def send():  # type: ignore[no-untyped-def]
        for _ in range(2000):
            producer.send("t", value=b"x")
            yield env.timeout(0.0001)  # 10,000 records/s, more than 1,000 requests/s

    env.run(until=env.process(send()))
    env.run(until=1.0)
    sizes = Counter(len(b) for b in _batches(cluster))
    assert sum(n * k for k, n in sizes.items()) == 2000
    # At most 5 requests wait at the broker; the rest accumulate into bigger batches.
    assert cluster.recorder.counters["kafka.requests"] < 2000 / 4
    assert max(sizes) > 5


def test_the_cost_model_charges_per_request_batch_and_byte() -> None:
    cost = CostSettings(per_request=0.002, per_batch=0.0005, per_byte=1e-6)
    env = simpy.Environment()
    cluster = KafkaCluster(env, cost=cost)
    cluster.create_topic("t", partitions=3)
    producer = KafkaProducer(cluster, {"linger.ms": 50, "acks": 1})
    answered = []
    for p in range(3):
        future = producer.send("t", value=b"x" * 92, partition=p)
        future.add_callback(lambda f: answered.append(env.now))
    env.run(until=1.0)
    request_bytes = 3 * (BATCH_OVERHEAD + record_size(92, None))  # one request, three batches
    expected = 0.050 + 0.002 + 3 * 0.0005 + request_bytes * 1e-6
    assert cluster.recorder.counters["kafka.requests"] == 1
    assert answered == [pytest.approx(expected)] * 3


def test_the_default_cost_reproduces_the_measurements_it_comes_from() -> None:
    # NetDB 2011: 50,000 msg/s in batches of 1 and 400,000 msg/s in batches of 50 (200 bytes).
    cost = CostSettings()
    one = cost.request_time(1, 200)
    fifty = cost.request_time(1, 50 * 200)
    assert 1 / one == pytest.approx(50_000, rel=0.02)
    assert 50 / fifty == pytest.approx(400_000, rel=0.02)
