"""Builds a scenario's Pulsar instance, its producers' clients and its consumer applications on a
run's environment.

Scenario producers are the generic open-loop `Producer` feeding a Java-client ``Producer``
(sim/brokers/pulsar/client.py), which batches and makes the producer->broker hop itself. Each
consumer replica is an application around its own ``PulsarClient`` and ``Consumer``, running
the shared consumer cycle (sim/consumers/cycle.py): `receive()`, process, `acknowledge()`; a
failed processing is `negativeAcknowledge()` (or `reconsumeLater()` with a retry topic).

Sources are `<topic>/<subscription>`: every subscription gets each message (its own copy); the
replicas of one subscription compete for them as its type says.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from functools import partial
from operator import attrgetter
from typing import TYPE_CHECKING, Any

import pandas as pd
import simpy

from sim.brokers.base import Sender, Source
from sim.brokers.pulsar.client import RECONSUMETIMES, ClientConsumer, ClientCore, ClientProducer
from sim.brokers.pulsar.replication import GeoReplication
from sim.brokers.pulsar.service import PulsarService
from sim.brokers.pulsar.subscription import Delivery, KeySharedSubscription
from sim.consumers import ConsumerReplica
from sim.message import Message

if TYPE_CHECKING:
    from sim.brokers.pulsar.config import PulsarConfig, PulsarConsumerConfig, PulsarProducerConfig
    from sim.brokers.pulsar.service import ScenarioTopic
    from sim.brokers.pulsar.subscription import Subscription
    from sim.context import RunContext

__all__ = ["PulsarConsumer", "PulsarRuntime", "build"]


@contextmanager
def _without_gc() -> Iterator[None]:
    """Speed: the set-up makes objects (several per topic partition, consumer and producer
    partition: a 10,000-partition topic makes a few million) that all live until the run
    ends; CPython's cyclic collector, triggered by the allocations themselves, walked every
    one of them again and again as they grew (half the set-up time of a 10,000-partition OMB
    workload). None of them is garbage, so the collector is paused while they are made (and
    sim/kernel.py freezes what was made for the run)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def build(ctx: RunContext) -> PulsarRuntime:
    with _without_gc():
        return _build(ctx)


def _build(ctx: RunContext) -> PulsarRuntime:
    config: PulsarConfig = ctx.scenario.broker
    service = PulsarService(ctx.env, config, ctx.recorder, ctx.streams, ctx.message_ids)
    if any(len(t.clusters) > 1 for t in service.topics.values()):
        service.replication = GeoReplication(service)
    runtime = PulsarRuntime(ctx, service)
    ctx.recorder.count("pulsar.out_of_order", 0)  # declared: the ordering chart reads it
    for consumer in ctx.scenario.consumers:
        policy = consumer.dead_letter_policy
        if policy is not None and policy.initial_subscription_name:
            # The DLQ producer creates this subscription at the first dead letter; its
            # measures exist from the start.
            dlq = policy.dead_letter_topic or (
                f"{consumer.from_}-{consumer.subscription or consumer.name}-DLQ"
            )
            service.account(f"{dlq}/{policy.initial_subscription_name}")
        for replica in range(consumer.replicas):
            part = consumer_class(consumer)(ctx, runtime, consumer, replica)
            runtime.consumers.append(part)
            ctx.register_part(part, consumer.name, f"{consumer.name}.{replica}")  # fault target
    for cluster in service.clusters:
        for broker in cluster.brokers:
            ctx.register_part(broker, broker.name)
        for bookie in cluster.bookkeeper.bookies:
            ctx.register_part(bookie, bookie.name)
    for node in service.cluster_nodes:
        ctx.register_part(node, node.name)
    service.start(persist_cursors=_brokers_can_die(ctx, service))
    _gauges(ctx, runtime)
    _tables(ctx, runtime)
    return runtime


def _brokers_can_die(ctx: RunContext, service: PulsarService) -> bool:
    """Whether a fault of the scenario targets a broker (or a whole cluster): only then is a
    topic ever unloaded and its cursors restored from their persisted positions."""
    names = {broker.name for cluster in service.clusters for broker in cluster.brokers}
    names.update(node.name for node in service.cluster_nodes)
    return any(fault.target in names for fault in ctx.scenario.faults)


class PulsarRuntime:
    """The built Pulsar model as the rest of the run sees it (sim/brokers/base.py)."""

    def __init__(self, ctx: RunContext, service: PulsarService) -> None:
        self.ctx = ctx
        self.service = service
        self.consumers: list[PulsarConsumer] = []
        self.producers: dict[str, ClientProducer] = {}
        self.hash_rows: list[tuple[float, str, str, str, int, int]] = []
        # Per source, the highest message id processed per key (per-key order).
        self.order: dict[str, dict[Any, int]] = {}
        self._service_clients: dict[str, ClientProducer] = {}

    # ----- producers -----
    def client_producer(self, config: PulsarProducerConfig) -> ClientProducer:
        """The Java-client producer of a scenario producer, with its settings."""
        with _without_gc():  # one partition producer per partition: see _without_gc
            return self._client_producer(config)

    def _client_producer(self, config: PulsarProducerConfig) -> ClientProducer:
        ctx, owner = self.ctx, f"producer:{config.name}"
        core = ClientCore(
            self.service,
            config.name,
            cluster=config.cluster,
            secondary=list(config.secondary),
            failover_delay=config.failover_delay,
            switch_back_delay=config.switch_back_delay,
            check_interval=config.check_interval,
            links=lambda hop: ctx.link(owner, hop, config.network),
        )
        return ClientProducer(
            core,
            self.service.topic(config.to),
            config.name,
            batching=config.batching_enabled,
            batch_delay=config.batching_max_publish_delay,
            batch_max_messages=config.batching_max_messages,
            batch_max_bytes=int(config.batching_max_bytes),
            send_timeout=config.send_timeout,
            routing_mode=config.message_routing_mode,
            hashing_scheme=config.hashing_scheme,
            max_pending=config.max_pending_messages,
            block_if_queue_full=config.block_if_queue_full,
            memory_limit=int(config.memory_limit),
            key_based=config.batcher_builder == "KEY_BASED",
        )

    def sender(self, producer: PulsarProducerConfig) -> Sender:
        """`producer.sendAsync(msg)` for each produced message (`deliverAfter` and properties
        as configured); the client batches and makes the network hop with its requests."""
        client = self.client_producer(producer)
        self.producers[producer.name] = client
        send, env = client.send, self.ctx.env
        after = producer.deliver_after
        if client.router is None and len(client.partitions) == 1:
            # Speed: a non-partitioned topic's producer sends through its one partition, as
            # `ClientProducer.send` does without a router: its `add` directly (a call fewer
            # a message), or its fused ideal path (`add_direct`) when that may be taken.
            send = client.partitions[0].add
            if after is None and client.direct_ok:
                send = client.partitions[0].add_direct
        properties = producer.properties

        def stamp(msg: Message) -> None:
            if properties:
                msg.headers = {**(msg.headers or {}), **properties}

        if after is None:
            return Sender(send, owns_network_hop=True, stamp=stamp if properties else None)

        def send_delayed(msg: Message) -> None:
            send(msg, env.now + after)  # TypedMessageBuilder.deliverAfter

        return Sender(send_delayed, owns_network_hop=True, stamp=stamp if properties else None)

    def publisher(self, to: str, routing_key: str) -> Callable[[Message], bool]:
        """A service's send port: a producer of its own with the Java client's defaults; the
        routing key is the message key."""
        client = self._service_clients.get(to)
        if client is None:
            from sim.brokers.pulsar.config import PulsarProducerConfig

            settings = PulsarProducerConfig.model_validate(
                {"name": f"service-to-{to}", "to": to, "rate": 0}
            )
            client = self.client_producer(settings)
            self._service_clients[to] = client
        key = routing_key or None

        def publish(msg: Message) -> bool:
            if key is not None:
                msg.key = key
            client.send(msg)
            return True

        return publish

    # ----- consumers -----
    def service_consumers(self, service: Any, work: Callable[[Message], Any]) -> list[Any]:
        from sim.brokers.pulsar.spec import SPEC

        config = SPEC.service_consumer(service)
        replicas = []
        for replica in range(config.replicas):
            part = consumer_class(config)(
                self.ctx, self, config, replica, name=f"{service.name}.{replica}"
            )
            part.work = work
            self.consumers.append(part)
            replicas.append(part)
        return replicas

    def source_of(self, consumer: Any) -> str:
        return f"{consumer.from_}/{consumer.subscription or consumer.name}"

    def sources(self) -> list[Source]:
        """Every subscription a consumer reads (and the retry topics' subscriptions), as
        `<topic>/<subscription>`: ready, the messages stored and deliverable but not
        delivered; in flight, those delivered to a consumer and neither processed nor returned
        (summed over partitions and clusters)."""
        ready = self.ctx.recorder.ready_values
        found = []
        for name, account in self.service.accounts.items():
            found.append(
                Source(
                    name,
                    lambda slot=account.slot: ready[slot],
                    # Speed: a C-level read of the account's count (no Python frame a
                    # sample per source: every sample reads every source's in-flight count).
                    partial(_IN_FLIGHT, account),
                )
            )
        return found

    def retained(self) -> dict[str, Callable[[], int]]:
        """Messages stored per declared topic (summed over partitions, in the topic's first
        cluster): the backlog and what retention keeps, until whole ledgers are deleted."""
        found: dict[str, Callable[[], int]] = {}
        for topic in self._declared():
            instances = _instances(topic, topic.clusters[0])
            if len(instances) == 1:
                # Speed: a non-partitioned topic's count read at C level (what the
                # `stored_count` property returns; the storage lives as long as the topic):
                # no Python frame a sample per topic.
                found[topic.declared] = partial(_STORED, instances[0].storage)
            else:
                found[topic.declared] = lambda i=instances: sum(t.storage.stored_count for t in i)
        # Dead letter topics, created by the first dead letter (auto-creation): 0 until then.
        letters = {c.client.dlq_topic for c in self.consumers if c.config.retry is not None}
        for name in sorted(n for n in letters if n is not None and n not in found):
            found[name] = lambda n=name: self._stored(n)
        return found

    def _stored(self, name: str) -> int:
        topic = self.service.topics.get(name)
        if topic is None:
            return 0
        return sum(t.storage.stored_count for t in _instances(topic, topic.clusters[0]))

    def _declared(self) -> list[ScenarioTopic]:
        return list(dict.fromkeys(self.service.topics[t.name] for t in self.service.config.topics))

    def assignment_changed(self, sub: KeySharedSubscription) -> None:
        """A Key_Shared selector changed: record its hash ranges (the hash-range chart)."""
        now = self.ctx.env.now
        declared = sub.topic.family.declared
        rows = self.hash_rows
        for consumer, ranges in sorted(sub.selector.ranges().items()):
            for start, end in ranges:
                rows.append((now, f"{declared}/{sub.name}", sub.topic.name, consumer, start, end))
        if not sub.selector.consumers():
            rows.append((now, f"{declared}/{sub.name}", sub.topic.name, "", 0, 0))


_IN_FLIGHT = attrgetter("in_flight")
_STORED = attrgetter("_stored")  # TopicStorage.stored_count's value


def _instances(topic: ScenarioTopic, cluster: int) -> list[Any]:
    return [f.instances[cluster] for f in topic.families if cluster in f.instances]


class PulsarConsumer(ConsumerReplica):
    """One consumer replica: an application around a Java-client ``Consumer``.

    `receive()` takes one message from the receiver queue; after processing it is
    `acknowledge()`d (or `acknowledgeCumulative()`d), a failed processing is
    `negativeAcknowledge()`d (redelivered after ``negativeAckRedeliveryDelay``), or, with
    `reconsume_later`, sent to the retry letter topic with that delay. A crash closes the
    client's connections: the broker gives what the consumer had not acked to the others (by
    the subscription type's rules); a restart subscribes again.
    """

    # `fetch_event`'s wait is always one event (`fetch` is one `yield`): `take` leaves it for
    # the cycle when it has nothing (see `ConsumerReplica.take_waits`; an idle wait each, with
    # competing consumers most messages). False (tests only) has the cycle ask `fetch_event`.
    take_waits = True

    def __init__(
        self,
        ctx: RunContext,
        runtime: PulsarRuntime,
        config: PulsarConsumerConfig,
        replica: int,
        name: str | None = None,
    ) -> None:
        subscription = config.subscription or config.name
        self.init_replica(ctx, config, replica, f"{config.from_}/{subscription}", name)
        self.runtime = runtime
        service = runtime.service
        owner = self.owner
        self.core = ClientCore(
            service,
            self.name,
            cluster=config.cluster,
            secondary=list(config.secondary),
            failover_delay=config.failover_delay,
            switch_back_delay=config.switch_back_delay,
            check_interval=config.check_interval,
            links=lambda hop: ctx.link(owner, hop, config.network),
        )
        dead_letter = _dead_letter_policy(config)
        self.client = ClientConsumer(
            self.core,
            service.topic(config.from_),
            subscription,
            self.name,
            kind=config.subscription_type,
            receiver_queue_size=config.receiver_queue_size,
            max_total_receiver_queue_size=config.max_total_receiver_queue_size,
            ack_timeout=config.ack_timeout,
            tick_duration=config.tick_duration,
            negative_ack_redelivery_delay=config.negative_ack_redelivery_delay,
            ack_group_time=config.acknowledgment_group_time,
            priority=config.priority_level,
            initial_position=config.subscription_initial_position,
            key_shared_mode=config.key_shared_mode,
            allow_out_of_order=config.allow_out_of_order_delivery,
            dead_letter=dead_letter,
            retry_enable=config.retry_enable or config.retry is not None,
            replicated=config.replicate_subscription_state,
        )
        self.cumulative = config.acknowledgment == "cumulative"
        if not self.cumulative:
            # Speed: the cycle's `settle` is the client's acknowledge of the delivery itself
            # (what `settle` below calls), bound once: one call a message fewer.
            self.settle = self.client.acknowledge_received  # type: ignore[method-assign]
        self.reconsume_delay = config.reconsume_later
        self.poison = config.poison_property
        self.subscribed = False
        source = f"{config.from_}/{subscription}"
        self._order = runtime.order.setdefault(source, {})
        self._out_of_order = f"pulsar.out_of_order.{source}"
        if config.subscribe_at > 0:
            ctx.env.timeout(config.subscribe_at).callbacks.append(lambda _e: self._subscribe())
        else:
            self._subscribe()
        self.start()

    def _subscribe(self) -> None:
        if self.crashed or self.subscribed:
            return
        self.subscribed = True
        self.client.subscribe()
        for partition in self.client.partitions:
            sub = partition.sub
            if isinstance(sub, KeySharedSubscription) and sub.on_assignment is None:
                sub.on_assignment = self.runtime.assignment_changed
                self.runtime.assignment_changed(sub)

    def subscriptions(self) -> list[Subscription]:
        return [p.sub for p in self.client.partitions if p.sub is not None]

    # ----- the cycle's native verbs -----
    def take(self) -> list[Any] | None:
        client = self.client
        if self.subscribed:
            got = client.receive_now() if client.incoming else None  # Speed: no call when empty
            if got is None and not self._paused:
                # Speed: the Flow and the receive `fetch` would make, made now where that
                # changes no order (ClientConsumer.read_at_once); `fetch` waits otherwise.
                got = client.read_at_once()
            if got is not None:
                return [got]
        if self.take_waits and self.waits_by_event:
            # The wait `fetch_event`'s first call would answer, next in the cycle, left for it
            # (see `ConsumerReplica.take_waits`): the event `read_at_once` made (with
            # competing consumers, every idle wait), else `wait`'s own.
            prepared = client._prepared
            if prepared is not None:
                client._prepared = None
                self.take_wait = prepared
            else:
                self.take_wait = client.wait()
        return None

    def fetch(self) -> Generator[Any, Any, None]:
        yield self.client.wait()

    def fetch_event(self) -> simpy.Event | None:
        """`fetch`'s one wait, for the cycle to wait on instead of running `fetch` (see
        `ConsumerReplica.fetch_event`): the client's `wait()` event, then None once it has
        fired (the cycle then takes again, as after `fetch`).

        Speed: with competing consumers an idle consumer waits for most messages; its wait
        then makes no generator, and its wake-up resumes no `yield from`. `_fetched` tells
        the two calls apart; `start` clears it, so a crash that interrupted the wait leaves
        the restarted cycle nothing stale. Under `take_waits` the cycle does not call it:
        `take` leaves the same event."""
        if self._fetched:
            self._fetched = False
            return None
        self._fetched = True
        client = self.client
        prepared = client._prepared
        if prepared is not None:
            # Speed: `wait`'s usual case inlined (the event `read_at_once` made: with
            # competing consumers, every idle wait).
            client._prepared = None
            return prepared
        return client.wait()

    def start(self) -> None:
        self._fetched = False  # see fetch_event
        super().start()

    def message(self, delivery: Any) -> Message:
        return delivery[1].msg

    def fails(self, delivery: Any) -> bool:
        poison = self.poison
        if poison is not None:
            headers = delivery[1].msg.headers
            if headers and poison in headers:
                return True
        return self.failed()

    def settle(self, delivery: Any) -> None:
        partition, item = delivery
        if self.cumulative:
            self.client.acknowledge_cumulative(partition, item)
        else:
            self.client.acknowledge(partition, item)

    def settle_early(self, delivery: Any) -> bool:
        """At most once: acknowledge with a receipt (``isAckReceiptEnabled``) before
        processing; the broker has forgotten the message once the ack has landed."""
        partition, item = delivery
        landed = self.client.acknowledge_now(partition, item)
        if landed:
            return True
        replica = self

        def arrived() -> None:
            if replica.current is delivery:
                replica.current_forgotten = True

        self.client.on_ack_landed(item, arrived)
        return False

    def reject(self, delivery: Any) -> bool:
        partition, item = delivery
        if self.reconsume_delay is not None:
            self.client.reconsume_later(partition, item, self.reconsume_delay)
        else:
            self.client.negative_acknowledge(partition, item)
        return False

    # ----- retry policies: reconsumeLater and the retry letter topic -----
    def attempt(self, delivery: Any) -> int:
        """1 + the message's RECONSUMETIMES (the times it went through the retry topic)."""
        headers = delivery[1].msg.headers
        return 1 + int(headers.get(RECONSUMETIMES, 0)) if headers else 1

    def retry_later(self, delivery: Any, delay: float) -> None:
        """``reconsumeLater(msg, delay)``: to the retry letter topic, delivered after `delay`."""
        partition, item = delivery
        self.client.reconsume_later(partition, item, delay)

    def dead_letter(self, delivery: Any) -> None:
        """``reconsumeLater`` once more: its RECONSUMETIMES now exceeds maxRedeliverCount
        (attempts - 1), so the client sends it to the dead letter topic."""
        partition, item = delivery
        self.client.reconsume_later(partition, item, 0.0)

    def finish(self, delivery: Any) -> None:
        """Processed: counted, no longer in flight, and checked for per-key order (a
        message processed for the first time after a later message of its key, in production
        order: `pulsar.out_of_order`)."""
        item = delivery[1]
        # Speed: a one-message entry's message (what Delivery's `msg` property returns),
        # without the property's call (a message each).
        msg = item.msgs[0] if item.__class__ is Delivery else item.msg
        key = msg.key
        if key is not None and msg.processed == 0:
            order = self._order
            latest = order.get(key, -1)
            if msg.id < latest:
                self.recorder.count("pulsar.out_of_order")
                self.recorder.count(self._out_of_order)
            else:
                order[key] = msg.id
        self.recorder.processed(msg, self.name)
        if item.__class__ is Delivery:
            # Speed: `Delivery.release` inlined (a message each): done with once, and no
            # longer in flight unless it was returned.
            if not item.released:
                item.released = True
                if item.done < item.entry.count:  # (its messages' count, no len())
                    item.done += 1
                    if not item.returned:
                        item.sub.account.in_flight -= 1
        else:
            item.release()

    def drop(self) -> None:
        """The process dies: its connections close, so the broker takes back every message it
        had not acked (the client's receiver queue and trackers go with the process)."""
        self.client.close()
        self.subscribed = False

    def reconnect(self) -> None:
        self._subscribe()


class PoisonCheckingConsumer(PulsarConsumer):
    """A consumer with a poison property: its every processing asks `fails`, even with no
    error probability (a poisoned message fails)."""

    def checks_failures(self) -> bool:
        return True


def consumer_class(config: PulsarConsumerConfig) -> type[PulsarConsumer]:
    """The replica class of `config`. Speed: only a consumer with a poison property
    overrides `checks_failures`, so the cycle of every other one skips that call (it skips
    the base verb, which answers False; a message each)."""
    return PulsarConsumer if config.poison_property is None else PoisonCheckingConsumer


def _dead_letter_policy(config: PulsarConsumerConfig) -> dict[str, Any] | None:
    """The consumer's DeadLetterPolicy; with a retry policy, maxRedeliverCount is its
    attempts - 1, so that reconsumeLater sends a message to the dead letter topic after its
    last try (ConsumerImpl.reconsumeLater: RECONSUMETIMES > maxRedeliverCount)."""
    policy = config.dead_letter_policy
    found = None if policy is None else policy.model_dump(by_alias=True)
    if config.retry is not None:
        found = {**(found or {}), "maxRedeliverCount": config.retry.attempts - 1}
    return found


# ----- what the run reports -----
def _gauges(ctx: RunContext, runtime: PulsarRuntime) -> None:
    """Per subscription, its backlog (`pulsar.backlog.<topic>/<subscription>`: messages
    stored and not acked by it, as ``msgBacklog`` in topic stats); per topic, its storage as
    the unacked backlog of the slowest subscription (`pulsar.storage_backlog.<topic>`) and
    what is acked but kept by retention or not yet deleted with its ledger
    (`pulsar.storage_acked.<topic>`)."""
    recorder, service = ctx.recorder, runtime.service
    # Speed: the columns are registered in the order one gauge each gave them, but a run of
    # consecutive backlog columns (or storage columns) is read by one call a sample for all
    # its sources (Recorder.gauge_block), not one call (and a closure's frame) per source:
    # every sample reads every column, so with 50 sources that was 50 frames a column kind.
    backlogs: list[tuple[str, ScenarioTopic, str]] = []  # (column, topic, subscription)

    def flush_backlogs() -> None:
        if not backlogs:
            return
        reads = [(t, s) for _name, t, s in backlogs]

        def backlog(reads: list[tuple[ScenarioTopic, str]] = reads) -> list[int]:
            found = []
            for t, s in reads:
                total = 0
                for family in t.families:
                    for instance in family.instances.values():
                        sub = instance.subscriptions.get(s)
                        if sub is not None and sub.counted:
                            total += sub.backlog_messages
                found.append(total)
            return found

        recorder.gauge_block([name for name, _t, _s in backlogs], backlog, "pulsar.backlog")
        backlogs.clear()

    # Every source measured: the consumers', their retry topics' and their dead letter topics'
    # initial subscriptions.
    for name in list(service.accounts):
        topic_name, _, sub_name = name.rpartition("/")
        topic = service.topic(topic_name)
        backlogs.append((f"pulsar.backlog.{name}", topic, sub_name))
        if any(
            c.subscription_type == "key_shared" and runtime.source_of(c) == name
            for c in ctx.scenario.consumers
        ):
            flush_backlogs()

            def blocked(t: ScenarioTopic = topic, s: str = sub_name) -> int:
                total = 0
                for family in t.families:
                    for instance in family.instances.values():
                        sub = instance.subscriptions.get(s)
                        if isinstance(sub, KeySharedSubscription):
                            total += sub.blocked_count
                return total

            recorder.gauge(f"pulsar.draining.{name}", blocked, "pulsar.draining")
    flush_backlogs()
    stores: list[tuple[ScenarioTopic, list[Any]]] = []  # (topic, its first cluster's instances)

    def flush_stores() -> None:
        if not stores:
            return
        groups = [instances for _topic, instances in stores]

        def storage(groups: list[list[Any]] = groups) -> list[int]:
            """(unacked, acked) stored messages of each topic. Speed: both columns in one
            read, each partition's unacked count found once."""
            found = []
            for instances in groups:
                unacked = acked = 0
                for t in instances:
                    behind = t.unacked_stored()
                    unacked += behind
                    # Speed: `stored_count`'s value read without the property's call.
                    acked += t.storage._stored - behind
                found.append(unacked)
                found.append(acked)
            return found

        names: list[str] = []
        for topic, _instances_of in stores:
            names += [
                f"pulsar.storage_backlog.{topic.declared}",
                f"pulsar.storage_acked.{topic.declared}",
            ]
        kinds = ["pulsar.storage_backlog", "pulsar.storage_acked"] * len(stores)
        recorder.gauge_block(names, storage, kinds)
        stores.clear()

    for topic in runtime._declared():
        stores.append((topic, _instances(topic, topic.clusters[0])))
        if len(topic.clusters) > 1:  # replication columns come next, after its storage
            flush_stores()
            _replication_gauges(recorder, service, topic)
    flush_stores()


def _replication_gauges(recorder: Any, service: PulsarService, topic: ScenarioTopic) -> None:
    """Per replicated topic and pair of clusters, the entries not replicated yet
    (`pulsar.replication_backlog.<topic>.<from>-><to>`, ``replicationBacklog``)."""
    for source in topic.clusters:
        for target in topic.clusters:
            if source == target:
                continue
            replicators = [
                r
                for f in topic.families
                for r in f.instances[source].replicators
                if r.remote.cluster.index == target
            ]

            def behind(rs: list[Any] = replicators) -> int:
                return sum(r.backlog() for r in rs)

            pair = f"{service.clusters[source].name}->{service.clusters[target].name}"
            name = f"pulsar.replication_backlog.{topic.declared}.{pair}"
            recorder.gauge(name, behind, "pulsar.replication_backlog")


def _tables(ctx: RunContext, runtime: PulsarRuntime) -> None:
    service = runtime.service

    def hash_ranges() -> pd.DataFrame:
        columns = ["time", "subscription", "partition", "consumer", "start", "end"]
        return pd.DataFrame(runtime.hash_rows, columns=columns)

    def ledgers() -> pd.DataFrame:
        rows = []
        for cluster in service.clusters:
            for opened, topic, writer in cluster.writers:
                bookies = cluster.bookkeeper.bookies
                for first, ensemble in writer.fragments:
                    rows.append(
                        {
                            "cluster": cluster.name,
                            "topic": topic,
                            "ledger": writer.ledger_id,
                            "opened": opened,
                            "first_entry": first,
                            "ensemble": ",".join(bookies[b].name for b in ensemble),
                        }
                    )
        columns = ["cluster", "topic", "ledger", "opened", "first_entry", "ensemble"]
        return pd.DataFrame(rows, columns=columns)

    def bundles() -> pd.DataFrame:
        columns = ["time", "cluster", "bundle", "broker"]
        return pd.DataFrame(service.bundle_moves, columns=columns)

    ctx.tables["pulsar.bundles"] = bundles
    ctx.tables["pulsar.hash_ranges"] = hash_ranges
    ctx.tables["pulsar.ledgers"] = ledgers
