"""An OMB workload as an mqsim scenario, one table entry per driver.

OMB's model is topics of `partitionsPerTopic` partitions, `subscriptionsPerTopic` independent
subscriptions per topic (each receives every message) of `consumerPerSubscription` consumers,
and `producersPerTopic` producers per topic sharing `producerRate` (WorkloadGenerator.java
`createConsumers`, `createProducers`). Each driver below says how that becomes its broker's
parts, following OMB's own driver where there is one (../shared/omb/README.md, "Driver
presets"):

- kafka: a topic of `partitionsPerTopic` partitions (replication.factor 3, min.insync.replicas
  2 on 3 brokers), each subscription a consumer group of `consumerPerSubscription` members
  committing after each poll (enable.auto.commit false, auto.offset.reset earliest), producers
  with acks=all, linger.ms=1, batch.size=1 MiB: driver-kafka/kafka-throughput.yaml and
  KafkaBenchmarkDriver (one group per subscription, line 138).
- rabbitmq: a topic is an exchange and each subscription a quorum queue bound to it, consumed
  with auto-ack (driver-rabbitmq/rabbitmq.yaml `queueType: QUORUM`, RabbitMqBenchmarkDriver,
  RabbitMqBenchmarkConsumer line 41). OMB's driver refuses `partitionsPerTopic` above 1; mqsim
  maps it to one queue per partition and subscription, and producers spread their messages
  over a subscription's partition queues by routing key, a uniform pick: what hashing
  10,000 keys (KEY_ROUND_ROBIN, RANDOM_NANO) onto the queues does on average. The
  consistent-hash exchange that would hash the keys is not modelled, so per-key order across
  queues is not kept, which changes no rate or latency. Each partition queue needs a consumer:
  `consumerPerSubscription` consumers are spread over the queues, at least one each.
- sqs: OMB has no SQS driver; mqsim reads a subscription as a set of standard queues, one per
  partition, each with its own pollers (ReceiveMessage of up to 10, 20 s long polling, delete
  after processing). SQS has no fan-out (SNS is not modelled), so each subscription's queues get
  their own copy of every message from the producers themselves; the result counts each
  message once. A producer sends to one queue, so the producers of a topic become one stream
  per queue (sums of rates and counts are unchanged).
- redis: one stream per topic, `partitionsPerTopic` ignored as OMB's Redis driver ignores it
  (RedisBenchmarkDriver), each subscription a consumer group created at `$`, consumers reading
  with XREADGROUP without COUNT and never XACKing (RedisBenchmarkConsumer; mqsim's `ack: auto`
  is NOACK, which sends no XACK either but leaves no pending entries).

- pulsar: a persistent topic, partitioned when `partitionsPerTopic` is above 1 (one partition
  is a non-partitioned topic: PulsarBenchmarkDriver.createTopic), ledgers on ensemble 3, write
  quorum 3, ack quorum 2; each subscription a Failover subscription of
  `consumerPerSubscription` consumers (receiverQueueSize 10000, individual acks), producers
  batching for 1 ms up to 128 KiB and blocking when their queue is full
  (driver-pulsar/pulsar.yaml).

A broker is an OMB driver when its spec has an `omb` mapping (its package's omb.py).

Shared by every driver:
- Rates: OMB's rate limiter hands out send slots `start + i / rate` (UniformRateLimiter), one
  comb for all producers of a worker. mqsim's producers send evenly spaced (`arrivals:
  constant`) at the rate divided among them, their first sends staggered so that together they
  make that one comb.
- Keys: NO_KEY sends no key (Kafka's default partitioner spreads records); KEY_ROUND_ROBIN and
  RANDOM_NANO draw from OMB's 10,000 keys (KeyDistributor.UNIQUE_COUNT), which mqsim draws
  uniformly: cycling through them, or picking by the clock, gives every key the same share.
  Only brokers that read keys get them (Kafka, Pulsar).
- Readiness: OMB first sends one probe message per producer and waits until every subscription
  has received (`ensureTopicsAreReady`); here each topic gets one 10-byte probe message at 1 ms
  (to each subscription's queues on SQS), and the load starts later (sim/omb/runner.py).
- Consumers do nothing with a message (service time 0): OMB's consumer callback only records it.
- Sampling: a workload of thousands of topics (up to a million in the shared workloads) is far
  more than a run can hold. Topics are independent (each has its own producers, partitions
  and subscriptions), and so are a queue system's partition queues, so a run simulates a
  sample of at most `sample` of these units, each at its own rate, and the result scales
  counts and rates back by `Shape.scale`. On the ideal broker this is exact in distribution;
  a cost preset that shares one cluster among all topics must give the sample its share.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from sim.omb.presets import Preset
from sim.omb.workload import Workload

__all__ = ["DRIVERS", "Driver", "Layout", "Phases", "Shape", "driver_of", "scenario_data", "shape"]

#: KeyDistributor.UNIQUE_COUNT: the number of distinct keys OMB's distributors use.
OMB_KEYS = 10_000
#: The probe message: 10 bytes, at 1 ms, one per topic (WorkloadGenerator.ensureTopicsAreReady).
PROBE_SIZE = 10
PROBE_AT = 1e-3


@dataclass(frozen=True)
class Shape:
    """How much of a workload one run simulates: `topics` topics of `partitions` partitions
    (queue drivers may sample partitions too), and `scale` workload messages per simulated one."""

    topics: int
    partitions: int
    scale: float


@dataclass(frozen=True)
class Phases:
    """When things happen in a run, in simulated seconds: the load starts at `load_start`
    (None: no load, only the readiness probes), consumers are paused over `pause` (end None:
    for the rest of the run), the run lasts `duration`, its summary ignores the first
    `warmup`, and the time series are sampled every `sample_interval`."""

    duration: float
    load_start: float | None = None
    pause: tuple[float, float | None] | None = None
    warmup: float = 0.0
    sample_interval: float = 1.0


@dataclass(frozen=True)
class Layout:
    """What a driver's builder needs: the workload, the simulated shape, the simulated rate per
    topic (msg/s), when the load starts, and the names of topics and subscriptions."""

    workload: Workload
    shape: Shape
    topic_rate: float
    load_start: float | None

    @property
    def topics(self) -> list[str]:
        return [f"topic-{i}" for i in range(self.shape.topics)]

    @property
    def subscriptions(self) -> list[str]:
        """OMB's subscription names are `sub-NNN-<random>`; mqsim keeps the `sub-NNN`."""
        return [f"sub-{j:03d}" for j in range(self.workload.subscriptions_per_topic)]

    @property
    def keys(self) -> dict[str, Any]:
        """The producer fields for the workload's keyDistributor (only brokers that read
        keys get them)."""
        if self.workload.key_distributor == "NO_KEY":
            return {}
        return {"keys": OMB_KEYS, "key_distribution": "uniform"}

    def consumers_per_queue(self) -> list[int]:
        """`consumerPerSubscription` consumers spread over a topic's partition queues, at least
        one on each, for the simulated queues (the spread is that of the whole workload)."""
        queues, consumers = (
            self.workload.partitions_per_topic,
            self.workload.consumer_per_subscription,
        )
        base, extra = divmod(consumers, queues)
        return [max(1, base + (1 if k < extra else 0)) for k in range(self.shape.partitions)]

    def load(self, topic_index: int, streams: int) -> list[tuple[float, float]]:
        """(rate, start) of each of a topic's `streams` producers ([] without load): the
        topic's rate shared evenly, the streams of every topic staggered so that together they
        make OMB's one comb of send slots `1 / rate` apart, its first slot at the load's start
        (UniformRateLimiter: start + i / rate from i = 0). A producer sends its first message
        one gap after its `start`, so `start` is a gap before its first slot (or 0)."""
        if self.load_start is None:
            return []
        rate = self.topic_rate / streams
        total = self.topic_rate * self.shape.topics
        first = topic_index * streams
        return [
            (rate, max(0.0, self.load_start + (first + s) / total - 1.0 / rate))
            for s in range(streams)
        ]

    def probe(self, name: str, to: str) -> dict[str, Any]:
        """One 10-byte message at 1 ms (a producer at 1000/s that stops before its second)."""
        return {
            "name": name,
            "to": to,
            "rate": 1 / PROBE_AT,
            "arrivals": "constant",
            "stop": 1.5 * PROBE_AT,
            "message_size": PROBE_SIZE,
        }

    def producer(self, name: str, to: str, rate: float, start: float) -> dict[str, Any]:
        return {
            "name": name,
            "to": to,
            "rate": rate,
            "arrivals": "constant",
            "start": start,
            "message_size": self.workload.message_size,
        }


Sections = dict[str, Any]  # broker, producers, consumers


@dataclass(frozen=True)
class Driver:
    """One `--driver`: a registered broker whose spec has an OMB mapping
    (`BrokerSpec.omb`, sim/brokers/base.py OMBDriver): its name in OMB results, its broker type,
    how partitions map ("native": the broker's own partitions; "queues": one queue per
    partition, which sampling may thin; "ignored": as OMB's driver ignores them), whether the
    producers themselves copy each message to every subscription (no broker fan-out), its
    default preset, and the builder of its scenario sections (in the broker's package)."""

    name: str
    omb_name: str
    broker: str
    partitions: Literal["native", "queues", "ignored"]
    build: Callable[[Layout], Sections]
    producers_fan_out: bool = False
    default_preset: str = "ideal"  # each broker's spec names its calibrated one


def _drivers() -> dict[str, Driver]:
    from sim.brokers.registry import SPECS

    found = {}
    for broker_type, spec in SPECS.items():
        omb = spec.omb
        if omb is not None:
            found[broker_type] = Driver(
                broker_type,
                omb.omb_name,
                broker_type,
                omb.partitions,
                omb.build,
                omb.producers_fan_out,
                omb.default_preset,
            )
    return found


DRIVERS: dict[str, Driver] = _drivers()


def driver_of(name: str) -> Driver:
    from sim.errors import ScenarioError

    found = DRIVERS.get(name)
    if found is None:
        known = ", ".join(DRIVERS)
        raise ScenarioError(f"unknown driver {name!r} (known: {known})", "--driver")
    return found


def shape(workload: Workload, driver: Driver, sample: int) -> Shape:
    """The topics (and, for queue drivers, partition queues) a run simulates: all of them when
    they number at most `sample` independent units, else a sample of that many."""
    if sample < 1:
        raise ValueError("sample must be at least 1")
    topics, partitions = workload.topics, workload.partitions_per_topic
    if driver.partitions == "queues":  # the units are a topic's partition queues
        simulated_partitions = min(partitions, sample)
        simulated_topics = min(topics, max(1, sample // simulated_partitions))
        scale = topics * partitions / (simulated_topics * simulated_partitions)
        return Shape(simulated_topics, simulated_partitions, scale)
    simulated_topics = min(topics, sample)  # the units are topics
    kept = partitions if driver.partitions == "native" else 1
    return Shape(simulated_topics, kept, topics / simulated_topics)


def scenario_data(
    workload: Workload,
    driver: Driver,
    preset: Preset,
    rate: float,
    run_shape: Shape,
    phases: Phases,
    seed: int = 1,
    name: str = "",
) -> dict[str, Any]:
    """The scenario (plain data for `sim.Scenario.from_dict`) of `workload` on `driver` at
    `rate` msg/s for the whole workload, simulating `run_shape`, timed by `phases`."""
    topic_rate = rate / run_shape.scale / run_shape.topics
    if phases.load_start is not None and not (topic_rate > 0 and math.isfinite(topic_rate)):
        raise ValueError(f"the rate must be positive, got {rate!r}")
    layout = Layout(workload, run_shape, topic_rate, phases.load_start)
    sections = driver.build(layout)
    broker = {**sections["broker"], **preset.broker_fields(driver.broker)}
    faults = []
    if phases.pause is not None:
        start, end = phases.pause
        for consumer in sections["consumers"]:
            fault = {"target": consumer["name"], "kind": "down", "start": start}
            if end is not None:
                fault["end"] = end
            faults.append(fault)
    network = preset.network_fields(driver.broker)
    return {
        **({"network": network} if network else {}),
        "name": name or f"omb-{driver.name}",
        "description": f"OMB workload {workload.title!r} on the {driver.omb_name} driver",
        "seed": seed,
        "duration": phases.duration,
        "warmup": phases.warmup,
        "sample_interval": phases.sample_interval,
        "broker": broker,
        "producers": sections["producers"],
        "consumers": sections["consumers"],
        "faults": faults,
    }
