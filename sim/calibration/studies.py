"""The two studies the presets reproduce, and what the model predicts for each published row.

A study is one preset: its hardware and setup (from ../shared/calibration/README.md), each
system's fixed figures with their sources, the free parameters fitted on its rows, and the
prediction of every row it models. A prediction is computed from the system's part alone,
through the broker's own cost account (sim/calibration/systems.py), so the figures written to
sim/presets/calibrated.json are the ones the simulated brokers run.

mqperf-2021 (SoftwareMill): closed loop. Every sender thread sends a batch of 1-10 messages
(5.5 on average) synchronously and waits for the answer (Sender.scala), so a run's rate is the
closed queueing network of its threads (sim/calibration/queueing.py): a delay of the network
round trip plus the publish's no-queueing latency, the broker's stages, and the sender
machines' 8 cores each (r5.2xlarge), which the README's scaling notes show saturating first
for Kafka and Pulsar ("until the sender side saturates").

confluent-2020 (Confluent's OMB fork): open loop at a fixed rate, or the peak. A peak is the
bottleneck stage's capacity at the batch sizes the load makes; a median end-to-end latency at
a moderate load is the sum of the path's no-queueing terms (client batching, network hops,
broker stages and waits). Other percentiles and OMB's publish latency (which ends at the
acknowledgement, where mqsim's ends when the broker takes the message) are left to simulated
runs of the presets (notebooks 06 and 07).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sim.brokers.costs import Load
from sim.brokers.kafka.log import BATCH_OVERHEAD, record_size
from sim.brokers.kafka.spec import SPEC as KAFKA_SPEC
from sim.brokers.pauses import residual_quantile
from sim.brokers.pulsar.spec import SPEC as PULSAR_SPEC
from sim.brokers.rabbitmq.cost import CLASSIC_QUEUE_RATE, QUORUM_PERSISTENCE
from sim.brokers.rabbitmq.spec import SPEC as RABBITMQ_SPEC
from sim.brokers.redis.spec import SPEC as REDIS_SPEC
from sim.brokers.sqs.spec import SPEC as SQS_SPEC
from sim.calibration.published import Row
from sim.calibration.queueing import closed_throughput
from sim.calibration.systems import SYSTEMS, account, published_name

__all__ = [
    "STUDIES",
    "Free",
    "Prediction",
    "Study",
    "predict",
    "round_figure",
    "sticky_exposure",
]

Part = dict[str, dict[str, Any]]
# The systems of the studies, by broker type (the presets' keys).
KAFKA, RABBITMQ, SQS, REDIS, PULSAR = (
    s.type for s in (KAFKA_SPEC, RABBITMQ_SPEC, SQS_SPEC, REDIS_SPEC, PULSAR_SPEC)
)
MIB = 2**20  # OMB's MB (README: "MB/s is 2^20 bytes per second throughout")

# mqperf: "each sender thread sends batches of uniform-random 1-10 messages" (README, Sources).
MQPERF_BATCH = 5.5
MQPERF_CORES = 8  # r5.2xlarge: 8 vCPU (README, Sources)
KAFKA_DEFAULTS = {  # sim/brokers/kafka/settings.py CostSettings (Kreps, Narkhede & Rao 2011)
    "per_request": 8.95e-6,
    "per_batch": 8.95e-6,
    "per_byte": 10.7e-9,
}
MQPERF_QUORUMS = "mqperf: BookKeeper ensemble 3, write quorum 3, ack quorum 2 (published.csv)"
CONFLUENT_QUORUMS = (
    "Confluent: ensemble 3, write quorum 3, ack quorum 2 (driver-pulsar/pulsar.yaml)"
)
NOT_IDENTIFIED = "0: no published row of the study separates it from the fitted figures"
KREPS_2011 = "Kreps, Narkhede & Rao, NetDB 2011, section 5 (sim/brokers/kafka/settings.py)"
NUM_IO_THREADS = "KafkaConfig num.io.threads default 8 (Kafka 2.6 KafkaConfig.scala)"


@dataclass(frozen=True)
class Free:
    """A free parameter: where it goes (each of `systems`, its `group` and `name`: one value
    shared by those systems), its starting value, and what it stands for."""

    systems: tuple[str, ...]
    group: str
    name: str
    start: float
    what: str
    low: float = 1e-9
    high: float = 10.0


@dataclass(frozen=True)
class Prediction:
    """A row's model value in the row's unit, or None with the reason it is not modelled."""

    value: float | None
    reason: str = ""
    fitted: bool = True  # False: shown, but kept out of the fit (a check)


@dataclass(frozen=True)
class Study:
    name: str
    title: str
    source: str
    hardware: str
    setup: str
    parts: Mapping[str, Part]
    sources: Mapping[str, Mapping[str, str]]
    free: tuple[Free, ...]
    predict: Callable[[Row, Mapping[str, Part]], Prediction]
    tie: Callable[[dict[str, Part]], None] = lambda parts: None
    # Figures taken from another study's fit: (system, group, name, study, its system).
    inherit: tuple[tuple[str, str, str, str, str], ...] = field(default_factory=tuple)


def round_figure(value: float, digits: int = 4) -> float:
    """`value` to `digits` significant digits (0 stays 0): the presets' figures."""
    if value == 0 or not math.isfinite(value):
        return value
    return float(f"{value:.{digits - 1}e}")


def _part(cost: dict[str, Any], broker: dict[str, Any] | None = None, **extra: Any) -> Part:
    return {
        "cost": cost,
        "broker": broker or {},
        "network": dict(extra.get("network", {"one_way": 0.0})),
        "client": dict(extra.get("client", {})),
    }


# ----- mqperf-2021 -----------------------------------------------------------------------


def _kafka_requests(batch: float, brokers: int = 3) -> float:
    """Produce requests one send call of `batch` messages makes: one per leader broker its
    messages' partitions have (64 partitions over 3 brokers, messages spread evenly), the
    expected number of distinct brokers among `batch` uniform picks."""
    return brokers * (1 - (1 - 1 / brokers) ** batch)


def _mqperf_setup(system: str, row: Row) -> tuple[dict[str, Any], Load, float]:
    """(section setup, load, shards) of an mqperf row."""
    b = MQPERF_BATCH
    if system == KAFKA:
        flush = 1 if row.variant == "fsync-every-message" else None
        load = Load(100, batch=1, batches_per_request=b / _kafka_requests(b), partitions=64)
        setup = {"partitions": 64, "replication_factor": 3, "min_insync": 2}
        return {**setup, "flush_messages": flush}, load, 1
    if system == PULSAR:
        partitions = 4 if row.variant.startswith("4") else 1
        return {}, Load(100, batch=b, partitions=partitions), 1
    if system == RABBITMQ:
        return {"queue_type": "quorum"}, Load(100, batch=b), 1
    if system == REDIS:
        shards = 3 if row.variant.startswith("cluster") else 1
        return {}, Load(100, batch=b, receive_batch=b), shards
    return {}, Load(100, batch=b), 1  # sqs


def _mqperf_rate(system: str, part: Part, row: Row) -> float:
    setup, load, shards = _mqperf_setup(system, row)
    acc = account(system, part, setup, load)
    b = MQPERF_BATCH  # messages per synchronous call
    if row.threads is None:  # thread counts not published: the model's capacity
        return shards * acc.capacity
    one_way = float(part["network"].get("one_way", 0.0))
    delay = 2 * one_way + acc.latency
    stations = [(b * s.work / shards, s.servers) for s in acc.stages if s.kind == "server"]
    cpu = float(part["client"].get("sender_cpu", 0.0))
    if cpu > 0 and row.sender_nodes is not None:
        stations.append((b * cpu, int(MQPERF_CORES * row.sender_nodes)))
    calls = closed_throughput(row.threads, delay, stations)
    quota = min((s.capacity for s in acc.stages if s.kind == "quota"), default=math.inf)
    return min(calls * b, quota)


def _mqperf_receivers_behind(row: Row, rows: Mapping[str, float]) -> bool:
    sent = rows.get("send_rate")
    return sent is not None and rows.get("receive_rate", sent) < 0.9 * sent


MQPERF_NETWORKED = (KAFKA, PULSAR, RABBITMQ, REDIS)  # SQS: inside send_latency

MQPERF_VARIANTS = {  # (published.csv's system, variant)
    (published_name(KAFKA), "acks-all"),
    (published_name(KAFKA), "fsync-every-message"),
    (published_name(PULSAR), "1-partition"),
    (published_name(PULSAR), "4-partition"),
    (published_name(RABBITMQ), "quorum"),
    (published_name(REDIS), "master-2-replicas"),
    (published_name(REDIS), "cluster-9-nodes-100-keys"),
    (published_name(SQS), "standard"),
}


def _mqperf_predict(row: Row, parts: Mapping[str, Part], runs: Mapping[str, float]) -> Prediction:
    if (row.system, row.variant) not in MQPERF_VARIANTS:
        return Prediction(None, f"{row.system} {row.variant}: not one of the presets' setups")
    if row.metric in ("send_latency_p95", "e2e_latency_p95"):
        return Prediction(
            None, "a p95 from 50 ms histogram buckets (or its 60 s ceiling): a bound, not fitted"
        )
    if row.metric not in ("send_rate", "receive_rate"):
        return Prediction(None, f"metric {row.metric} not modelled")
    if row.metric == "receive_rate" and _mqperf_receivers_behind(row, runs):
        return Prediction(None, "receivers fell behind the senders: only senders are modelled")
    system = SYSTEMS[row.system]
    check = row.variant == "cluster-9-nodes-100-keys"  # a prose figure without thread counts
    return Prediction(_mqperf_rate(system, parts[system], row), fitted=not check)


MQPERF = Study(
    name="mqperf-2021",
    title="SoftwareMill mqperf, 2020 edition refreshed in 2021",
    source="mqperf-2021 https://softwaremill.com/mqperf/ (softwaremill/mqperf@120e9f7)",
    hardware="3 server nodes r5.2xlarge (8 vCPU, 64 GiB, gp2 EBS), eu-west-1, one AZ; "
    "clients r5.2xlarge",
    setup="100-byte messages; every sender thread sends batches of 1-10 messages (5.5 on "
    "average) synchronously; receivers take up to 10 and acknowledge; 1-20 client machines "
    "per side, 1-200 threads each. Kafka: 3 brokers, 64 partitions, replication factor 3, "
    "min.insync.replicas 2, acks=-1. Pulsar: 2 brokers, 3 bookies, ensemble 3, write quorum "
    "3, ack quorum 2. RabbitMQ: one quorum queue on 3 nodes. Redis Streams: one master and "
    "2 asynchronous replicas, AOF fsync every second. SQS: one standard queue.",
    parts={
        KAFKA: _part(
            {**KAFKA_DEFAULTS, "io_threads": 8, "fsync": 0.0},
            {"brokers": 3},
            client={"sender_cpu": 0.0},
        ),
        PULSAR: _part(
            {"io_threads": 16, "journal_group_wait": 0.002, "dispatch": 0.0},
            {
                "brokers": 2,
                "bookies": 3,
                "ensemble_size": 3,
                "write_quorum": 3,
                "ack_quorum": 2,
                "batching_delay": 0.001,
            },
            client={"sender_cpu": 0.0},
        ),
        RABBITMQ: _part({"queue_rate": CLASSIC_QUEUE_RATE}),
        REDIS: _part({"replicas": 2, "appendfsync": "everysec"}),
        SQS: _part({}, network={"one_way": 0.0}),
    },
    sources={
        KAFKA: {
            "per_request": "tied to per_batch, as CostSettings splits the fixed cost evenly",
            "per_byte": KREPS_2011,
            "io_threads": NUM_IO_THREADS,
            "brokers": "mqperf: 3 Kafka nodes (README, Sources)",
            "replication_delay": "a follower's fetch round trip: twice the one-way delay",
        },
        PULSAR: {
            "io_threads": "ServiceConfiguration numIOThreads default: 2 x 8 cores",
            "journal_group_wait": "BookKeeper journalMaxGroupWaitMSec default 2 ms",
            "brokers": "mqperf: 3 ZooKeeper, 3 bookie and 2 broker nodes (article line 1374)",
            "bookies": "mqperf: 3 bookie nodes (article line 1374)",
            "ensemble_size": MQPERF_QUORUMS,
            "write_quorum": MQPERF_QUORUMS,
            "ack_quorum": MQPERF_QUORUMS,
            "batching_delay": "Pulsar client batchingMaxPublishDelay default 1 ms",
            "dispatch": NOT_IDENTIFIED,
        },
        RABBITMQ: {
            "queue_rate": "CloudAMQP's 50,000 msg/s per queue (sim/brokers/rabbitmq/cost.py)",
        },
        REDIS: {
            "replicas": "mqperf: master and 2 replicas (README, Sources)",
            "appendfsync": "mqperf: 'flushes to disk once a second' (README, Caveats)",
        },
        SQS: {"one_way": "inside send_latency: the call goes to the regional endpoint"},
    },
    free=(
        Free((KAFKA,), "cost", "per_batch", 1e-5, "broker time per produce batch (and request)"),
        Free((KAFKA,), "client", "sender_cpu", 1e-4, "sender core-seconds per Kafka message"),
        Free((KAFKA,), "cost", "fsync", 1e-3, "one log fsync on gp2 EBS"),
        Free((PULSAR,), "cost", "ledger_entry", 1e-5, "managed-ledger time per entry"),
        Free((PULSAR,), "cost", "journal_fsync", 1e-3, "one bookie journal fsync on gp2 EBS"),
        Free((PULSAR,), "client", "sender_cpu", 1e-4, "sender core-seconds per Pulsar message"),
        Free((RABBITMQ,), "cost", "persistence", 3e-5, "quorum queue process time per message"),
        Free((RABBITMQ,), "cost", "fsync", 1e-3, "the quorum queue's WAL fsync"),
        Free((REDIS,), "cost", "per_command", 1e-5, "event loop time per command"),
        Free((SQS,), "cost", "send_latency", 0.01, "one SendMessage call"),
    ),
    predict=lambda row, parts: Prediction(None),  # replaced below (needs the run's rows)
    inherit=tuple(
        (system, "network", "one_way", "confluent-2020", KAFKA) for system in MQPERF_NETWORKED
    ),
)


def _mqperf_tie(parts: dict[str, Part]) -> None:
    kafka = parts[KAFKA]
    kafka["cost"]["per_request"] = kafka["cost"]["per_batch"]
    kafka["broker"]["replication_delay"] = round_figure(2 * kafka["network"]["one_way"])


# ----- confluent-2020 --------------------------------------------------------------------

CONFLUENT_SIZE = 1024
KAFKA_LINGER = 0.001  # driver-kafka/kafka-throughput.yaml linger.ms=1
KAFKA_BATCH_SIZE = 1_048_576  # batch.size=1048576
CONFLUENT_PRODUCERS = 4
RABBITMQ_QUEUES = 24  # the fork's blog/workloads/rabbitmq/*.yaml (README, Sources)


KAFKA_FULL_BATCH = (KAFKA_BATCH_SIZE - BATCH_OVERHEAD) // record_size(CONFLUENT_SIZE, None)


def _kafka_batch(rate: float) -> float:
    """Records per batch at `rate` below the peak: each of the 4 producers fills one sticky
    partition's batch for linger.ms (KIP-480's sticky partitioner,
    sim/brokers/kafka/partitioner.py), up to batch.size."""
    return min(KAFKA_FULL_BATCH, max(1.0, rate / CONFLUENT_PRODUCERS * KAFKA_LINGER))


def _confluent_kafka(part: Part, row: Row, rate: float | None) -> tuple[float, float]:
    """(capacity msg/s, median end-to-end latency at `rate`) of a Confluent Kafka run."""
    flush = 1 if "-sync" in row.variant and "default" not in row.variant else None
    setup = {
        "partitions": 100,
        "replication_factor": 3,
        "min_insync": 2,
        "flush_messages": flush,
    }

    def load(at: float) -> Load:
        return Load(CONFLUENT_SIZE, batch=_kafka_batch(at), partitions=100, producers=4)

    # At the peak requests queue at the brokers (5 in flight per connection at most) and the
    # producers' batches fill up to batch.size meanwhile: the capacity of full batches.
    full = Load(CONFLUENT_SIZE, batch=KAFKA_FULL_BATCH, partitions=100, producers=4)
    capacity = account(KAFKA, part, setup, full).capacity
    at = rate if rate is not None else capacity
    acc = account(KAFKA, part, setup, load(at))
    one_way = float(part["network"]["one_way"])
    median = KAFKA_LINGER / 2 + one_way + acc.latency + one_way
    return capacity, median


def _confluent_rabbitmq(part: Part, row: Row) -> tuple[float, float]:
    mirrors = 1 if "mirrored" in row.variant else 0
    setup = {"queue_type": "classic", "mirrors": mirrors}
    load = Load(CONFLUENT_SIZE, partitions=RABBITMQ_QUEUES, producers=RABBITMQ_QUEUES)
    acc = account(RABBITMQ, part, setup, load)
    one_way = float(part["network"]["one_way"])
    return acc.capacity, one_way + acc.latency + one_way


def _pulsar_batch(rate: float) -> float:
    """Messages per entry: a partitioned topic's producer batches per partition for
    batchingMaxPublishDelay (1 ms), 4 producers over 100 partitions."""
    return max(1.0, rate / (CONFLUENT_PRODUCERS * 100) * 0.001)


def _confluent_pulsar(part: Part, rate: float | None) -> tuple[float, float]:
    def load(at: float) -> Load:
        return Load(CONFLUENT_SIZE, batch=_pulsar_batch(at), partitions=100, producers=4)

    capacity = 1e5
    for _ in range(60):
        capacity = account(PULSAR, part, {}, load(capacity)).capacity
    at = rate if rate is not None else capacity
    acc = account(PULSAR, part, {}, load(at))
    one_way = float(part["network"]["one_way"])
    dispatch = float(part["cost"].get("dispatch", 0.0))
    return capacity, one_way + acc.latency + dispatch + one_way


def _to_unit(rate: float, unit: str) -> float:
    return rate * CONFLUENT_SIZE / MIB if unit == "MB/s" else rate


CONFLUENT_RATE = {"latency-default-sync-200k": 200_000.0, "latency-sync-200k": 200_000.0}


# The latency runs whose far tail the garbage-collection pauses are fitted on, by system and
# variant (the headline p99s are those runs' figures, so they are checks, not fitted twice).
TAIL_RUNS = {
    (KAFKA, "latency-default-sync-200k"): ("latency-default-sync-200k", True),
    (KAFKA, "headline"): ("latency-default-sync-200k", False),
    (RABBITMQ, "latency-classic-30k"): ("latency-classic-30k", True),
    (RABBITMQ, "latency-mirrored-30k"): ("latency-mirrored-30k", False),
    (RABBITMQ, "mirrored-headline"): ("latency-mirrored-30k", False),
}
RABBITMQ_LATENCY_RATE = 30_000.0  # msg/s: the rate in the RabbitMQ latency files' names
TAIL_QUANTILES = {"e2e_latency_p99": 0.99, "e2e_latency_p999": 0.999}


def sticky_exposure(brokers: int, busy: float) -> float:
    """How many times its share of the time a Kafka broker's pause catches of the messages,
    its handlers busy a share `busy` of the time (sim/brokers/pauses.py, residual_quantile).

    A paused broker catches every producer: KIP-480's sticky partitioner moves to a new
    partition only when its batch is sent, and a batch for a paused broker is not, so within a
    few linger.ms each producer sticks to the paused broker's partitions (the skew KIP-794
    describes: "more records are sent to slower brokers"). Each of the `brokers` brokers'
    pauses therefore catches the whole load, not its share; and the work it finds queued when
    the pause ends takes 1 / (1 - busy) of the pause to drain."""
    return brokers / (1.0 - busy)


def _confluent_tail(row: Row, parts: Mapping[str, Part]) -> Prediction | None:
    """A far-tail percentile (p99, p99.9) of a latency run: the path's median plus the wait
    the garbage-collection pauses give at that quantile (sim/brokers/pauses.py,
    residual_quantile): a message meets at most one pause of its Kafka leader's JVM or of its
    RabbitMQ queue's process, and the other spread of the latency (queueing, the network) is
    below these quantiles. None: not such a row."""
    system = SYSTEMS.get(row.system)
    q = TAIL_QUANTILES.get(row.metric)
    if q is None or system is None:
        return None
    if system == KAFKA and row.variant == "latency-sync-200k":
        return Prediction(
            None,
            "the tail of an fsync per message is the disk's (queueing behind slow fsyncs), "
            "not modelled in closed form; the simulated run shows it (docs/calibration.md)",
        )
    run = TAIL_RUNS.get((system, row.variant))
    if run is None:
        return None
    variant, fitted = run
    part = parts[system]
    if system == KAFKA:
        rate = CONFLUENT_RATE[variant]
        _, median = _confluent_kafka(part, row, rate)
        setup = {"partitions": 100, "replication_factor": 3, "min_insync": 2}
        load = Load(CONFLUENT_SIZE, batch=_kafka_batch(rate), partitions=100, producers=4)
        busy = account(KAFKA, part, setup, load).stages[0].utilization(rate)
        exposure = sticky_exposure(int(part["broker"]["brokers"]), busy)
    else:
        rate = RABBITMQ_LATENCY_RATE
        _, median = _confluent_rabbitmq(part, row)
        setup = {"queue_type": "classic", "mirrors": 1 if "mirrored" in row.variant else 0}
        load = Load(CONFLUENT_SIZE, partitions=RABBITMQ_QUEUES, producers=RABBITMQ_QUEUES)
        busy = account(RABBITMQ, part, setup, load).stages[0].utilization(rate)
        exposure = 1.0 / (1.0 - busy)
    cost = part["cost"]
    pause, pauses = float(cost.get("gc_pause", 0.0)), float(cost.get("gc_rate", 0.0))
    wait = residual_quantile(pause, pauses, q, exposure)
    return Prediction((median + wait) * 1000.0, fitted=fitted)  # ms


def _confluent_predict(row: Row, parts: Mapping[str, Part]) -> Prediction:
    system = SYSTEMS.get(row.system)
    if system is None:
        return Prediction(None, f"{row.system}: no preset")
    if "raid0" in row.variant:
        return Prediction(None, "the raid0 run never reached a steady state (README, Caveats)")
    peak = row.metric in ("throughput_peak", "throughput_mean", "publish_rate_mean")
    peak = peak or row.metric == "consume_rate_mean"
    latency_run = row.variant.startswith("latency")
    if peak and latency_run:
        return Prediction(None, "the offered rate of a latency run: an input, not a result")
    tail = _confluent_tail(row, parts)
    if tail is not None:
        return tail
    if not peak and row.metric != "e2e_latency_p50":
        return Prediction(
            None, "a tail percentile or OMB's publish latency: not modelled in closed form"
        )
    if not peak and not latency_run:
        return Prediction(None, "a latency at the peak: the backlog's, not the path's")
    part = parts[system]
    if system == KAFKA:
        rate = CONFLUENT_RATE.get(row.variant)
        capacity, median = _confluent_kafka(part, row, rate)
    elif system == RABBITMQ:
        capacity, median = _confluent_rabbitmq(part, row)
    else:
        rate = 200_000.0 if latency_run else None
        capacity, median = _confluent_pulsar(part, rate)
    if peak:
        return Prediction(_to_unit(capacity, row.unit))
    return Prediction(median * 1000.0)  # ms


CONFLUENT = Study(
    name="confluent-2020",
    title="Confluent, Benchmarking Apache Kafka, Apache Pulsar, and RabbitMQ (2020)",
    source="confluent-2020 https://www.confluent.io/blog/kafka-fastest-messaging-system/ "
    "(confluentinc/openmessaging-benchmark@5b96f19)",
    hardware="3 brokers i3en.2xlarge (8 vCPU, NVMe) per system, us-west-2; OMB clients "
    "c5n.2xlarge (Kafka), c5.2xlarge (Pulsar), c5n.9xlarge (RabbitMQ)",
    setup="1 KiB messages; one topic of 100 partitions, 4 producers, 4 consumers (RabbitMQ: "
    "24 queues, 24 producers, 24 consumers). Kafka 2.6: replication factor 3, "
    "min.insync.replicas 2, acks=all, linger.ms 1, batch.size 1 MiB; 'sync' runs flush every "
    "message. Pulsar 2.6: 3 brokers with bookies, ensemble 3, write quorum 3, ack quorum 2, "
    "batching delay 1 ms, journalSyncData true, journalMaxGroupWaitMSec 1. RabbitMQ 3.8.5: "
    "persistent messages, publisher confirms, classic queues, 'mirrored' with one mirror.",
    parts={
        KAFKA: _part({**KAFKA_DEFAULTS, "io_threads": 8, "fsync": 0.0}, {"brokers": 3}),
        PULSAR: _part(
            {"io_threads": 16, "journal_group_wait": 0.001, "dispatch": 0.0, "ledger_entry": 0.0},
            {
                "brokers": 3,
                "bookies": 3,
                "ensemble_size": 3,
                "write_quorum": 3,
                "ack_quorum": 2,
                "batching_delay": 0.001,
            },
        ),
        RABBITMQ: _part(
            {
                "queue_rate": CLASSIC_QUEUE_RATE,
                "persistence": QUORUM_PERSISTENCE,
                "schedulers": 24,
            }
        ),
    },
    sources={
        KAFKA: {
            "per_request": KREPS_2011,
            "per_batch": KREPS_2011,
            "io_threads": NUM_IO_THREADS,
            "brokers": "Confluent: 3 brokers (driver-kafka/deploy/terraform.tfvars)",
        },
        PULSAR: {
            "io_threads": "ServiceConfiguration numIOThreads default: 2 x 8 cores",
            "journal_group_wait": "journalMaxGroupWaitMSec=1 (driver-pulsar bookkeeper.conf)",
            "brokers": "Confluent: 3 brokers with bookies (driver-pulsar/deploy)",
            "bookies": "Confluent: a bookie on each of the 3 broker nodes (driver-pulsar/deploy)",
            "ensemble_size": CONFLUENT_QUORUMS,
            "write_quorum": CONFLUENT_QUORUMS,
            "ack_quorum": CONFLUENT_QUORUMS,
            "batching_delay": "driver-pulsar/pulsar.yaml batching delay 1 ms",
            "dispatch": NOT_IDENTIFIED,
            "ledger_entry": NOT_IDENTIFIED,
        },
        RABBITMQ: {
            "queue_rate": "CloudAMQP's 50,000 msg/s per queue (sim/brokers/rabbitmq/cost.py)",
            "persistence": "Lazu 2021, 3 replicated nodes (sim/brokers/rabbitmq/cost.py); "
            "Confluent ran no quorum queue",
            "schedulers": "3 nodes x 8 vCPU, one Erlang scheduler per core",
        },
    },
    free=(
        Free((KAFKA, PULSAR, RABBITMQ), "network", "one_way", 1e-4, "client-broker delay"),
        Free((KAFKA,), "cost", "per_byte", 1e-8, "broker time per byte, leader or follower"),
        Free((KAFKA,), "cost", "fsync", 1e-4, "one log fsync on NVMe"),
        Free((KAFKA,), "broker", "replication_delay", 1e-3, "followers' fetch round trip"),
        Free((RABBITMQ,), "cost", "core_time", 1e-4, "scheduler time per routed copy"),
        Free((RABBITMQ,), "cost", "mirroring", 1e-4, "more scheduler time per mirror"),
        Free((KAFKA,), "cost", "gc_pause", 0.015, "one stop-the-world pause of a broker's JVM"),
        Free((KAFKA,), "cost", "gc_rate", 0.3, "a broker JVM's pauses a second", high=1e3),
        Free((RABBITMQ,), "cost", "gc_pause", 1e-3, "one garbage collection of a queue process"),
        Free(
            (RABBITMQ,), "cost", "gc_rate", 20.0, "a queue process's collections a second", high=1e3
        ),
        Free((PULSAR,), "cost", "per_byte", 1e-8, "bookie journal time per byte"),
        Free((PULSAR,), "cost", "journal_fsync", 1e-3, "one bookie journal fsync on NVMe"),
    ),
    predict=_confluent_predict,
)

STUDIES: dict[str, Study] = {}


def _runs(rows: list[Row]) -> dict[str, dict[str, float]]:
    runs: dict[str, dict[str, float]] = {}
    for row in rows:
        runs.setdefault(row.run_id, {})[row.metric] = row.value
    return runs


def predict(
    study: Study, row: Row, parts: Mapping[str, Part], runs: Mapping[str, Any]
) -> Prediction:
    """The model's value of `row` under `study`'s parts."""
    if row.study != study.name:
        return Prediction(None, "another study")
    if study.name == MQPERF.name:
        return _mqperf_predict(row, parts, runs.get(row.run_id, {}))
    return study.predict(row, parts)


def _register() -> None:
    from dataclasses import replace

    STUDIES[CONFLUENT.name] = CONFLUENT  # first: mqperf takes its network delay
    STUDIES[MQPERF.name] = replace(MQPERF, tie=_mqperf_tie)


_register()
