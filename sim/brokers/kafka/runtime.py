"""Builds a scenario's Kafka cluster, producers and consumer applications on a run's environment.

Scenario producers are the generic open-loop `Producer` (its arrivals, schedules and spikes)
feeding a `KafkaProducer` client; the network hop producer->broker carries the client's
requests, not single records, so batching happens before it. Each consumer replica is an
application running Kafka's poll loop with one of three commit strategies:

- auto-commit (`enable.auto.commit`, the default): `poll` commits what the previous polls
  returned every `auto.commit.interval.ms`; a crash replays up to an interval's worth of work.
- `commit: after-processing`: commit once the polled batch is processed (at least once: a crash
  mid-batch replays the processed part of the batch).
- `commit: before-processing`: commit right after `poll`, then process (at most once: a crash
  mid-batch loses the rest of the batch).
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any

import pandas as pd
import simpy

from sim.brokers.base import Sender, Source
from sim.brokers.kafka.cluster import KafkaCluster
from sim.brokers.kafka.consumer import KafkaConsumer
from sim.brokers.kafka.producer import KafkaProducer
from sim.brokers.kafka.settings import ConsumerSettings
from sim.clients.disturbance import Disturbance
from sim.faults import CrashOnly
from sim.message import Message
from sim.network import Link
from sim.units import format_duration

if TYPE_CHECKING:
    from sim.brokers.kafka.config import KafkaConfig, KafkaConsumerConfig, KafkaProducerConfig
    from sim.context import RunContext

__all__ = ["ConsumerApp", "KafkaRuntime", "build"]

TopicPartition = tuple[str, int]


def build(ctx: RunContext) -> KafkaRuntime:
    from sim.guarantees import build as guarantees  # consumers with a `guarantee:` section

    config: KafkaConfig = ctx.scenario.broker
    effects = guarantees.attach(ctx)  # before any message id is taken: the ledger issues them
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
    )
    for topic in config.topics:
        cluster.add_topic(topic.name, topic)
    apps: list[ConsumerApp] = []
    for consumer in ctx.scenario.consumers:
        if effects is not None and consumer.name in effects:
            from sim.guarantees.kafka import GuaranteedConsumerApp

            shared = effects[consumer.name]
            replicas: list[ConsumerApp] = [
                GuaranteedConsumerApp(ctx, cluster, consumer, r, shared)
                for r in range(consumer.replicas)
            ]
        else:
            replicas = [ConsumerApp(ctx, cluster, consumer, r) for r in range(consumer.replicas)]
        for r, app in enumerate(replicas):
            ctx.register_part(app, consumer.name, f"{consumer.name}.{r}")  # fault target
        apps.extend(replicas)
        if consumer.replay is not None:
            ctx.env.process(_replay(ctx, replicas, consumer.replay.at, consumer.replay.by_duration))
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
        "kafka.partitions", sum(t.partitions for t in config.topics if t.name in read)
    )
    return KafkaRuntime(ctx, cluster, apps)


class KafkaRuntime:
    """The built Kafka model as the rest of the run sees it (sim/brokers/base.py)."""

    def __init__(self, ctx: RunContext, cluster: KafkaCluster, apps: list[ConsumerApp]) -> None:
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

    def sender(self, producer: KafkaProducerConfig) -> Sender:
        """The producer's records go through a KafkaProducer client with its settings; the
        client batches them and makes the network hop with its requests."""
        client = self._client(producer.name, producer, producer.network)
        topic, partition, send_message = producer.to, producer.partition, client.send_message
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
        from sim.brokers.kafka.settings import ProducerSettings

        client = self._service_clients.get(to)
        if client is None:
            client = self._client(f"service-to-{to}", ProducerSettings(), None)
            self._service_clients[to] = client
        key = routing_key.encode() if routing_key else None

        def publish(msg: Message) -> bool:
            client.send_message(to, msg, key, None)
            return True

        return publish

    def source_of(self, consumer: Any) -> str:
        return f"{consumer.from_}/{consumer.group_id or consumer.name}"

    def sources(self) -> list[Source]:
        """One source per topic and consumer group, `<topic>/<group>`: ready, the committed
        records past the group's fetch positions (summed over partitions); in flight, the
        records its members polled and have not finished."""
        found = []
        for topic, group in dict.fromkeys(
            (app.config.from_, app.settings.group_id) for app in self.apps
        ):
            partitions = self.cluster.topics[topic].partitions
            members = [a for a in self.apps if a.settings.group_id == group]

            def ready(parts: Any = partitions, g: Any = group) -> int:
                total = 0
                for p in parts:
                    slot = p.slot_of(g)
                    total += 0 if slot is None else p.ready_of(slot)
                return total

            def in_flight(apps: Any = members, t: str = topic) -> int:
                return sum(a.in_hand(t) for a in apps)

            found.append(Source(f"{topic}/{group}", ready, in_flight))
        return found

    def retained(self) -> dict[str, Callable[[], int]]:
        """Records stored per topic, consumed or not, until retention deletes them."""
        return {
            name: (lambda t=topic: sum(p.log.count for p in t.partitions))
            for name, topic in self.cluster.topics.items()
        }


# ----- consumers -----
class ConsumerApp(Disturbance):
    """One consumer replica: a Kafka client and the application's poll loop around it."""

    def __init__(
        self, ctx: RunContext, cluster: KafkaCluster, config: KafkaConsumerConfig, replica: int
    ) -> None:
        self.ctx = ctx
        self.env = ctx.env
        self.cluster = cluster
        self.config = config
        self.name = config.name if config.replicas == 1 else f"{config.name}.{replica}"
        owner = f"consumer:{config.name}.{replica}"  # stable when replicas are added
        self.service_time = ctx.sampler(f"{owner}/service", config.service_time)
        self.link_in = ctx.link(owner, "broker_to_consumer", config.network)
        self.link_out = ctx.link(owner, "consumer_to_broker", config.network)
        self.settings = _consumer_settings(config, self.name)
        auto = self.settings.enable_auto_commit
        self.strategy = "auto" if auto else (config.commit or "after-processing")
        self.consumer: KafkaConsumer | None = None
        self._replay_from: float | None = None
        # Set by fault hooks (sim/faults.py): a service-time factor, a processing failure
        # probability, and a paused (down) application that stops polling until it comes back.
        self.init_disturbance(ctx, owner)
        self.process = self.env.process(self.run())
        crash = config.crash
        if crash is not None and crash.replica == replica:
            self.env.process(self._crashes(crash.at, crash.restart_after))

    def run(self) -> Generator[Any, Any, None]:
        consumer = KafkaConsumer(
            self.cluster, self.settings, link_in=self.link_in, link_out=self.link_out
        )
        self.consumer = consumer
        listener = _CommitOnRevoke(consumer) if self.strategy == "after-processing" else None
        consumer.subscribe([self.config.from_], listener)
        before = self.strategy == "before-processing"
        after = self.strategy == "after-processing"
        try:
            while True:
                yield from self.wait_while_down()
                if self._replay_from is not None:
                    self._seek_back(consumer, self._replay_from)
                    self._replay_from = None
                records = consumer.poll()
                if not records:
                    yield consumer.wait()
                    continue
                if before:
                    consumer.commit()
                for record in records:
                    yield from self.work()
                    consumer.processed(record)
                if after:
                    consumer.commit()
        except simpy.Interrupt:
            consumer.crash()

    def in_hand(self, topic: str) -> int:
        """Records of `topic` this replica polled and has not finished."""
        consumer = self.consumer
        if consumer is None or consumer.crashed:
            return 0
        return consumer.in_hand(topic)

    def work(self) -> Generator[Any, Any, None]:
        """Process one record: its service time (times any slowdown), again after a failure
        (the application retries the record in place: Kafka has no per-record redelivery)."""
        timeout, service = self.env.timeout, self.service_time
        yield timeout(service() * self.slowdown)
        while self.failed():
            self.ctx.recorder.count("consumer_failures")
            yield timeout(service() * self.slowdown)

    # ----- fault hooks (sim/faults.py) -----
    def crash(self) -> None:
        """The process dies: nothing more is committed; the group notices after
        session.timeout.ms and moves its partitions to the others."""
        if self.process.is_alive:
            self.process.interrupt("crash")

    def restart(self) -> None:
        """A new process joins the group again and resumes from the committed offsets."""
        if not self.process.is_alive:
            self.process = self.env.process(self.run())

    def go_down(self) -> None:
        """Stop polling (the heartbeat thread keeps the membership: no rebalance)."""
        super().go_down()

    def replay(self, since: float) -> None:
        """Seek back to `since` (simulated time) at the next turn of the poll loop."""
        if self.consumer is not None and not self.consumer.crashed:
            self._replay_from = since
            self.consumer.wakeup()

    def _seek_back(self, consumer: KafkaConsumer, since: float) -> None:
        assigned = sorted(consumer.assignment())
        found = consumer.offsets_for_times(dict.fromkeys(assigned, since))
        for tp in assigned:
            offset = found[tp]
            if offset is None:
                consumer.seek_to_end(tp)
            else:
                consumer.seek(tp, offset)
        self.ctx.recorder.count("kafka.replays")

    def _crashes(
        self, times: list[float], restart_after: float | None
    ) -> Generator[Any, Any, None]:
        for at in sorted(times):
            if at > self.env.now:
                yield self.env.timeout(at - self.env.now)
            if self.consumer is None or self.consumer.crashed or not self.process.is_alive:
                continue
            self.process.interrupt("crash")
            self.ctx.recorder.event(f"consumer {self.name}", "crash")
            if restart_after is not None:
                yield self.env.timeout(restart_after)
                self.process = self.env.process(self.run())
                self.ctx.recorder.event(f"consumer {self.name}", "restart")


class _CommitOnRevoke:
    """ConsumerRebalanceListener of the commit-after-processing application: commit what was
    processed before giving partitions up (the Kafka javadoc's recommended pattern)."""

    def __init__(self, consumer: KafkaConsumer) -> None:
        self.consumer = consumer

    def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        self.consumer.commit()

    def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        pass


def _consumer_settings(config: KafkaConsumerConfig, client_id: str) -> ConsumerSettings:
    """The consumer's own Kafka settings (it is one), with its group and client ids."""
    return config.model_copy(
        update={"group_id": config.group_id or config.name, "client_id": client_id}
    )


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
    ctx.recorder.event(f"broker {broker}", "crash")
    if restart_after is not None:
        yield ctx.env.timeout(restart_after)
        cluster.restart_broker(broker)
        ctx.recorder.event(f"broker {broker}", "restart")


# ----- what the run reports -----
def _gauges(ctx: RunContext, cluster: KafkaCluster) -> None:
    """Consumer lag per group and partition (`kafka.lag.<group>.<topic>-<p>`, the committed
    offset's distance from the high watermark, as kafka-consumer-groups shows it), sampled into
    the time series: a Kafka-only extra beside the generic measures."""
    recorder, coordinator = ctx.recorder, cluster.coordinator
    groups: dict[str, str] = {}
    for consumer in ctx.scenario.consumers:
        groups.setdefault(consumer.group_id or consumer.name, consumer.from_)
    for group, topic in groups.items():
        for partition in cluster.topics[topic].partitions:
            tp = (topic, partition.index)

            def lag(partition: Any = partition, group: str = group, tp: TopicPartition = tp) -> int:
                slot = partition.slot_of(group)
                start = None if slot is None else partition.reader_start[slot]
                return partition.lag(coordinator.committed(group, tp), start)

            recorder.gauge(f"kafka.lag.{group}.{partition.name}", lag, "kafka.lag")


def _tables(ctx: RunContext, cluster: KafkaCluster) -> None:
    coordinator = cluster.coordinator

    def assignments() -> pd.DataFrame:
        coordinator.finish()
        columns = ["group", "topic", "partition", "member", "start", "end"]
        return pd.DataFrame(coordinator.assignment_rows, columns=columns)

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
        }
    )
