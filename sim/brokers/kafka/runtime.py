"""Builds a scenario's Kafka cluster, its producers' clients and its consumer applications on a
run's environment (the applications' poll loop: sim/brokers/kafka/application.py).

Scenario producers are the generic open-loop `Producer` (its arrivals, schedules and spikes)
feeding a `KafkaProducer` client; the network hop producer->broker carries the client's
requests, not single records, so batching happens before it. A consumer with `share_group`
runs share-group members (sim/brokers/kafka/share_application.py); the others, members of a
consumer group.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from functools import partial
from typing import TYPE_CHECKING, Any

import pandas as pd

from sim.brokers.base import Sender, Source
from sim.brokers.kafka.application import ConsumerApp
from sim.brokers.kafka.cluster import KafkaCluster
from sim.brokers.kafka.key_order import KeyOrder
from sim.brokers.kafka.producer import KafkaProducer
from sim.brokers.kafka.retries import dead_letter_topic, retry_group, retry_topics
from sim.brokers.kafka.settings import GroupCoordinatorSettings, ProducerSettings
from sim.brokers.kafka.share import STATE_NAMES
from sim.brokers.kafka.share_application import ShareConsumerApp
from sim.faults import CrashOnly
from sim.message import Message
from sim.network import Link
from sim.units import format_duration

if TYPE_CHECKING:
    from sim.brokers.kafka.config import KafkaConfig, KafkaConsumerConfig, KafkaProducerConfig
    from sim.context import RunContext

__all__ = ["ConsumerApp", "KafkaRuntime", "ShareConsumerApp", "build"]

TopicPartition = tuple[str, int]
App = ConsumerApp | ShareConsumerApp


def build(ctx: RunContext) -> KafkaRuntime:
    config: KafkaConfig = ctx.scenario.broker
    cluster = KafkaCluster(
        ctx.env,
        brokers=config.brokers,
        recorder=ctx.recorder,
        streams=ctx.streams,
        replication_delay=config.replication_delay,
        broker_session_timeout=config.broker_session_timeout_ms,
        retention_check_interval=config.log_retention_check_interval_ms,
        cleaner_backoff=config.log_cleaner_backoff_ms,
        initial_rebalance_delay=config.group_initial_rebalance_delay_ms,
        rebalance_time=config.rebalance_time,
        cost=config.cost,
        message_ids=ctx.message_ids,
        # The coordinator's group.consumer.* and group.share.* settings, as the section has them.
        # (validated with the section already: copied, not parsed again).
        group_settings=GroupCoordinatorSettings.model_construct(
            **{name: getattr(config, name) for name in GroupCoordinatorSettings.model_fields}
        ),
    )
    for topic in config.topics:
        cluster.add_topic(topic.name, topic)
    _configure_share_groups(cluster, ctx.scenario.consumers)
    _add_retry_topics(cluster, config, ctx.scenario.consumers)
    runtime = KafkaRuntime(ctx, cluster, [])
    apps = runtime.apps
    orders: dict[tuple[str, str], KeyOrder] = {}
    for consumer in ctx.scenario.consumers:
        order = orders.get((consumer.kafka_group, consumer.from_))
        if order is None:
            order = orders[(consumer.kafka_group, consumer.from_)] = KeyOrder(ctx.recorder)
        kind = ShareConsumerApp if consumer.share_group is not None else ConsumerApp
        replicas = [kind(ctx, cluster, consumer, r, order) for r in range(consumer.replicas)]
        for r, app in enumerate(replicas):
            ctx.register_part(app, consumer.name, f"{consumer.name}.{r}")  # fault target
        apps.extend(replicas)
        if consumer.retry is not None:
            runtime.add_retry_consumers(consumer, replicas)
        if consumer.replay is not None:
            group_apps = [a for a in replicas if isinstance(a, ConsumerApp)]
            ctx.env.process(
                _replay(ctx, group_apps, consumer.replay.at, consumer.replay.by_duration)
            )
        if consumer.rolling_restart is not None:
            for r, app in enumerate(replicas):
                assert isinstance(app, ConsumerApp)
                ctx.env.process(_restart(ctx, app, r, consumer))
    for broker_id in range(config.brokers):
        ctx.register_part(BrokerProcess(cluster, broker_id), f"broker.{broker_id}")
    for failure in config.failures:
        ctx.env.process(
            _broker_failure(ctx, cluster, failure.broker, failure.at, failure.restart_after)
        )
    _gauges(ctx, cluster)
    _tables(ctx, cluster)
    read = {c.from_ for c in ctx.scenario.consumers}
    ctx.recorder.count("kafka.consumers", len(apps))
    ctx.recorder.count(
        "kafka.share_consumers", sum(1 for a in apps if isinstance(a, ShareConsumerApp))
    )
    ctx.recorder.count(
        "kafka.partitions", sum(t.partitions for t in config.topics if t.name in read)
    )
    return runtime


def _add_retry_topics(cluster: KafkaCluster, config: KafkaConfig, consumers: Any) -> None:
    """The retry topics and dead-letter topic of every consumer with a retry policy, with
    their main topic's settings (sim/brokers/kafka/retries.py)."""
    for consumer in consumers:
        retry = consumer.retry
        if retry is None:
            continue
        main = config.topic(consumer.from_)
        for name in [
            *retry_topics(main.name, retry.attempts, retry.blocking),
            dead_letter_topic(main.name),
        ]:
            if name not in cluster.topics:
                cluster.add_topic(name, main)


class KafkaRuntime:
    """The built Kafka model as the rest of the run sees it (sim/brokers/base.py)."""

    def __init__(self, ctx: RunContext, cluster: KafkaCluster, apps: list[App]) -> None:
        self.ctx = ctx
        self.cluster = cluster
        self.apps = apps
        self._service_clients: dict[str, KafkaProducer] = {}

    def _client(self, name: str, settings: Any, network: Any) -> KafkaProducer:
        """A KafkaProducer for `name`, sending its requests over its producer->broker hop;
        answers come back over the same hop's delay distribution, on a stream of their own."""
        ctx, owner = self.ctx, f"producer:{name}"
        hop = ctx.link(owner, "producer_to_broker", network)
        delay = (
            getattr(network, "producer_to_broker", None) or ctx.scenario.network.producer_to_broker
        )
        response = Link(ctx.env, delay, ctx.sampler(f"{owner}/broker_to_producer", delay))
        return KafkaProducer(
            self.cluster,
            settings,
            name=name,
            link=hop,
            response_link=response,
            rng=ctx.streams.generator(f"{owner}/sticky"),
        )

    def add_retry_consumers(self, consumer: Any, replicas: list[ConsumerApp]) -> None:
        """The consumers of `consumer`'s retry topics (`retry_concurrency` each, else as many as
        it has replicas), each in the retry topic's group (`<group>-retry-<k>`), and the
        producer that forwards failures."""
        retry, group = consumer.retry, consumer.group_id or consumer.name
        forwarder = self._client(f"{consumer.name}-retries", ProducerSettings(), None)
        for app in replicas:
            app.forwarder = forwarder
        for k, topic in enumerate(retry_topics(consumer.from_, retry.attempts, retry.blocking)):
            settings = consumer.model_copy(
                update={
                    "from_": topic,
                    "group_id": retry_group(group, k),
                    "enable_auto_commit": False,  # Spring Kafka commits itself (AckMode)
                    "commit": "after-processing",
                }
            )
            for r in range(consumer.retry_concurrency or consumer.replicas):
                name = f"{consumer.name}-retry-{k}.{r}"
                app = ConsumerApp(
                    self.ctx, self.cluster, settings, r, name=name, retrying=(consumer.from_, k)
                )
                app.forwarder = forwarder
                self.ctx.register_part(app, consumer.name, name)  # faults on the consumer
                self.apps.append(app)

    def sender(self, producer: KafkaProducerConfig) -> Sender:
        """The producer's records go through a KafkaProducer client with its settings; the
        client batches them and makes the network hop with its requests."""
        client = self._client(producer.name, producer, producer.network)
        topic, partition, send_message = producer.to, producer.partition, client.send_message
        if producer.keys is None and partition is None:
            # Speed: a producer without keys makes keyless messages (sim/clients/producer.py),
            # so `send` below would only pass them on: a partial, one call fewer a record.
            return Sender(partial(send_message, topic), owns_network_hop=True)
        encoded: dict[Any, bytes] = {}

        def send(msg: Message) -> None:
            key = msg.key
            if key is not None:  # keys are bytes to Kafka's partitioner
                key = encoded.get(key) or encoded.setdefault(key, str(key).encode())
                msg.key = key
            send_message(topic, msg, key, partition)

        return Sender(send, owns_network_hop=True)

    def publisher(self, to: str, routing_key: str) -> Callable[[Message], bool]:
        """A service's records, through a KafkaProducer of its own with Kafka's defaults (the
        client retries; an answer never blocks the service)."""
        client = self._service_clients.get(to)
        if client is None:
            client = self._client(f"service-to-{to}", ProducerSettings(), None)
            self._service_clients[to] = client
        key = routing_key.encode() if routing_key else None

        def publish(msg: Message) -> bool:
            client.send_message(to, msg, key, None)
            return True

        return publish

    def service_consumers(self, service: Any, work: Callable[[Message], Any]) -> list[Any]:
        from sim.brokers.kafka.spec import SPEC

        config = SPEC.service_consumer(service)
        replicas = []
        for replica in range(config.replicas):
            part = ConsumerApp(self.ctx, self.cluster, config, replica, name=service.name)
            part.work = work
            self.apps.append(part)
            replicas.append(part)
        return replicas

    def source_of(self, consumer: Any) -> str:
        return f"{consumer.from_}/{consumer.kafka_group}"

    def sources(self) -> list[Source]:
        """One source per topic and group, `<topic>/<group>`: ready, for a consumer group the
        committed records past its fetch positions, for a share group the records its
        share-partitions could hand out (summed over partitions); in flight, the records its
        members polled and have neither finished nor given back."""
        found = []
        for topic, group in dict.fromkeys((app.config.from_, app.group) for app in self.apps):
            partitions = self.cluster.topics[topic].partitions
            members = [a for a in self.apps if a.group == group]
            ready: Callable[[], int]
            if isinstance(members[0], ShareConsumerApp):
                share_group = self.cluster.share_coordinator.group(group)
                ready = lambda g=share_group, t=topic: g.ready(t)  # noqa: E731
            else:

                def ready(parts: Any = partitions, g: Any = group) -> int:
                    total = 0
                    for p in parts:
                        slot = p.slot_of(g)
                        total += 0 if slot is None else p.ready_of(slot)
                    return total

            in_flight: Callable[[], int]
            if len(members) == 1:  # speed: read at every sample; one member needs no sum
                in_flight = partial(members[0].in_hand, topic)
            else:

                def in_flight(apps: Any = members, t: str = topic) -> int:
                    return sum(a.in_hand(t) for a in apps)

            found.append(Source(f"{topic}/{group}", ready, in_flight))
        return found

    def retained(self) -> dict[str, Callable[[], int]]:
        """Records stored per topic, consumed or not, until retention deletes them."""
        # Speed: read at every sample: the topic's logs found once, summed from a list.
        return {
            name: (lambda logs=[p.log for p in topic.partitions]: sum([g.count for g in logs]))
            for name, topic in self.cluster.topics.items()
        }


def _configure_share_groups(cluster: KafkaCluster, consumers: list[KafkaConsumerConfig]) -> None:
    """Each share group's share.auto.offset.reset (a group configuration, set before its
    first member joins, as `kafka-configs --alter --entity-type groups` would)."""
    for consumer in consumers:
        reset = consumer.share_auto_offset_reset
        if consumer.share_group is not None and reset is not None:
            cluster.share_coordinator.configure(
                consumer.share_group, {"share.auto.offset.reset": reset}
            )


def _restart(
    ctx: RunContext, app: ConsumerApp, replica: int, consumer: KafkaConsumerConfig
) -> Generator[Any, Any, None]:
    """The rolling restart of one replica: shut down at its turn, start again later."""
    plan = consumer.rolling_restart
    assert plan is not None
    yield ctx.env.timeout(plan.start + replica * plan.every)
    app.shut_down()
    yield ctx.env.timeout(plan.down_for)
    app.start_again()


def _replay(
    ctx: RunContext, apps: list[ConsumerApp], at: float, by_duration: float
) -> Generator[Any, Any, None]:
    yield ctx.env.timeout(at)
    if apps:
        group = apps[0].settings.group_id
        ctx.recorder.event(f"group {group}", f"replays the last {format_duration(by_duration)}")
    for app in apps:
        app.replay(at - by_duration)


class BrokerProcess(CrashOnly):
    """One broker of the cluster as a fault target: a crash (and restart) is all it takes."""

    def __init__(self, cluster: KafkaCluster, broker_id: int) -> None:
        self.cluster = cluster
        self.broker_id = broker_id
        self.name = f"broker.{broker_id}"

    def crash(self) -> None:
        self.cluster.crash_broker(self.broker_id)

    def restart(self) -> None:
        self.cluster.restart_broker(self.broker_id)


def _broker_failure(
    ctx: RunContext, cluster: KafkaCluster, broker: int, at: float, restart_after: float | None
) -> Generator[Any, Any, None]:
    yield ctx.env.timeout(at)
    cluster.crash_broker(broker)
    ctx.recorder.event(f"broker.{broker}", "crash start")  # the fault target's name
    if restart_after is not None:
        yield ctx.env.timeout(restart_after)
        cluster.restart_broker(broker)
        ctx.recorder.event(f"broker.{broker}", "crash end")


# ----- what the run reports -----
def _gauges(ctx: RunContext, cluster: KafkaCluster) -> None:
    """Consumer lag per group and partition (`kafka.lag.<group>.<topic>-<p>`, the committed
    offset's distance from the high watermark, as kafka-consumer-groups shows it), sampled into
    the time series: a Kafka-only extra beside the generic measures."""
    recorder, coordinator = ctx.recorder, cluster.coordinator
    groups: dict[str, str] = {}
    for consumer in ctx.scenario.consumers:
        if consumer.share_group is None:  # a share group commits no offsets: no lag
            groups.setdefault(consumer.kafka_group, consumer.from_)
    # Speed: every sample reads one lag per partition: one block read per group
    # (`Recorder.gauge_block`) gives them all, each `Partition.lag` of `coordinator.committed`
    # inlined (the same arithmetic), on the coordinator's groups: one call a sample per group,
    # not one per partition (a sample's cost no longer grows with the partition count by a
    # call each). The columns are those the per-partition gauges had, in the same order.
    known = coordinator.groups
    for group, topic in groups.items():
        partitions = cluster.topics[topic].partitions
        names = [f"kafka.lag.{group}.{partition.name}" for partition in partitions]
        keys = [(topic, partition.index) for partition in partitions]

        def lags(
            partitions: list[Any] = partitions,
            keys: list[TopicPartition] = keys,
            group: str = group,
            known: dict[str, Any] = known,
        ) -> list[int]:
            found = known.get(group)
            committed = None if found is None else found.committed
            values = []
            for partition, tp in zip(partitions, keys, strict=True):
                base = None if committed is None else committed.get(tp)
                if base is None:
                    slot = partition._slots.get(group)
                    base = None if slot is None else partition.reader_start[slot]
                    if base is None:
                        base = partition.log.log_start_offset
                behind = partition.hw - base
                values.append(behind if behind > 0 else 0)
            return values

        recorder.gauge_block(names, lags, "kafka.lag")


def _tables(ctx: RunContext, cluster: KafkaCluster) -> None:
    coordinator = cluster.coordinator

    def assignments() -> pd.DataFrame:
        coordinator.finish()
        columns = ["group", "topic", "partition", "member", "start", "end"]
        table = pd.DataFrame(coordinator.assignment_rows, columns=columns)
        ctx.recorder.counters["kafka.unowned_partition_seconds"] = unowned_partition_seconds(
            table, _group_topics(ctx, cluster), ctx.env.now
        )
        return table

    def share_deliveries() -> pd.DataFrame:
        """Records of each share group by how they ended and after how many deliveries."""
        rows = []
        shares = cluster._share_coordinator
        for group_id, group in sorted(shares.groups.items() if shares else ()):
            for (state, deliveries), records in sorted(group.finished.items()):
                rows.append([group_id, STATE_NAMES[state], deliveries, records])
        return pd.DataFrame(rows, columns=["group", "outcome", "deliveries", "records"])

    def members() -> pd.DataFrame:
        columns = ["group", "member", "member_id", "joined", "left", "how"]
        return pd.DataFrame(coordinator.member_rows, columns=columns)

    def rebalances() -> pd.DataFrame:
        columns = ["group", "generation", "started", "completed", "members", "strategy", "reason"]
        return pd.DataFrame(coordinator.rebalance_rows, columns=columns)

    def partitions() -> pd.DataFrame:
        return pd.DataFrame(cluster.describe())

    def offsets() -> pd.DataFrame:
        rows = []
        for group_id, group in sorted(coordinator.groups.items()):
            for partition in cluster.all_partitions():
                tp = (partition.topic.name, partition.index)
                slot = partition.slot_of(group_id)
                if slot is None and tp not in group.committed:
                    continue
                committed = group.committed.get(tp)
                start = None if slot is None else partition.reader_start[slot]
                rows.append(
                    {
                        "group": group_id,
                        "topic": tp[0],
                        "partition": tp[1],
                        "committed": -1 if committed is None else committed,
                        "log_start_offset": partition.log_start_offset,
                        "high_watermark": partition.hw,
                        "lag": partition.lag(committed, start),
                    }
                )
        return pd.DataFrame(rows)

    ctx.tables.update(
        {
            "kafka.assignments": assignments,
            "kafka.members": members,
            "kafka.rebalances": rebalances,
            "kafka.partitions": partitions,
            "kafka.offsets": offsets,
            "kafka.share.deliveries": share_deliveries,
        }
    )


def _group_topics(ctx: RunContext, cluster: KafkaCluster) -> dict[str, list[TopicPartition]]:
    """Every consumer group (not share groups) and the partitions its members subscribe to."""
    # A dict per group keeps first-seen order and makes the duplicate check constant-time
    # (a list's would be quadratic on a 10,000-partition topic).
    found: dict[str, dict[TopicPartition, None]] = {}
    for consumer in ctx.scenario.consumers:
        if consumer.share_group is not None:
            continue
        parts = found.setdefault(consumer.kafka_group, {})
        for p in cluster.topics[consumer.from_].partitions:
            parts[(consumer.from_, p.index)] = None
    return {group: list(parts) for group, parts in found.items()}


def unowned_partition_seconds(
    assignments: pd.DataFrame, groups: dict[str, list[TopicPartition]], end: float
) -> float:
    """Partition-seconds no live member of its group consumed, summed over groups and their
    partitions, from the group's first assignment to `end`: rebalances (an eager one revokes
    everything until SyncGroup), crashed members not yet noticed, static members away. From the
    `kafka.assignments` intervals, overlapping ones merged."""
    # The intervals are grouped by (group, topic, partition) in one pass: filtering the table
    # once per partition would cost partitions x rows.
    intervals: dict[tuple[str, str, int], list[tuple[float, float]]] = {}
    first: dict[str, float] = {}
    for group, topic, partition, start, stop in zip(
        assignments["group"],
        assignments["topic"],
        assignments["partition"],
        assignments["start"],
        assignments["end"],
        strict=True,
    ):
        intervals.setdefault((group, topic, int(partition)), []).append((start, stop))
        first[group] = min(first.get(group, start), start)
    total = 0.0
    for group, partitions in groups.items():
        if group not in first:
            continue
        since = float(first[group])
        for topic, partition in partitions:
            covered, reach = 0.0, since
            for start, stop in sorted(intervals.get((group, topic, partition), ())):
                start, stop = max(float(start), reach), float(stop)
                if stop > start:
                    covered += stop - start
                    reach = stop
            total += (end - since) - covered
    return round(total, 6)
