"""Builds a scenario's RabbitMQ broker, producers and consumers on a run's environment."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any

import simpy

from sim.brokers.base import Sender, Source
from sim.brokers.rabbitmq.broker import Confirm, RabbitMQBroker
from sim.brokers.rabbitmq.channel import Channel, Deliver
from sim.consumers import ConsumerReplica
from sim.distributions import Sampler
from sim.faults import CrashOnly
from sim.message import Message

if TYPE_CHECKING:
    from sim.brokers.rabbitmq.config import (
        RabbitMQConfig,
        RabbitMQConsumerConfig,
        RabbitMQProducerConfig,
    )
    from sim.context import RunContext

__all__ = ["QueueConsumer", "RabbitMQRuntime", "build"]


def build(ctx: RunContext) -> RabbitMQRuntime:
    config: RabbitMQConfig = ctx.scenario.broker
    cost = config.cost.model() if config.cost is not None else None
    broker = RabbitMQBroker(ctx.env, ctx.recorder, cost=cost, message_ids=ctx.message_ids)
    for exchange in config.exchanges:
        broker.exchange_declare(exchange.name, exchange.type)
    for queue in config.queues:
        broker.queue_declare(queue.name, queue.arguments(), durable=queue.is_durable)
    for binding in config.bindings:
        broker.queue_bind(binding.queue, binding.exchange, binding.routing_key, binding.arguments)
    for consumer in ctx.scenario.consumers:
        for replica in range(consumer.replicas):
            part = QueueConsumer(ctx, broker, consumer, replica)
            ctx.register_part(part, consumer.name, f"{consumer.name}.{replica}")  # fault target
            broker.connections.append(part)
    ctx.register_part(BrokerNode(broker), "broker")
    return RabbitMQRuntime(ctx, broker)


class RabbitMQRuntime:
    """The built RabbitMQ model as the rest of the run sees it (sim/brokers/base.py)."""

    def __init__(self, ctx: RunContext, broker: RabbitMQBroker) -> None:
        self.ctx = ctx
        self.broker = broker

    def sender(self, producer: RabbitMQProducerConfig) -> Sender:
        return _sender(self.ctx, self.broker, producer)

    def publisher(self, to: str, routing_key: str) -> Callable[[Message], bool]:
        """Publish, and say whether the broker took it (its confirm is not a nack or a return).

        With the broker's cost model the confirm comes later: the service does not wait for
        it (a queue that refuses the message then still records it as rejected).
        """
        publish = self.broker.publish
        exchange, key = (to, routing_key) if to in self.broker.exchanges else ("", to)
        refused = (Confirm.NACK, Confirm.RETURNED)
        return lambda msg: publish(msg, exchange, key) not in refused

    def service_consumers(self, service: Any, work: Callable[[Message], Any]) -> list[Any]:
        from sim.brokers.rabbitmq.spec import SPEC

        config = SPEC.service_consumer(service)
        replicas = []
        for replica in range(config.replicas):
            part = QueueConsumer(self.ctx, self.broker, config, replica, name=service.name)
            part.work = work
            self.broker.connections.append(part)
            replicas.append(part)
        return replicas

    def source_of(self, consumer: Any) -> str:
        return str(consumer.from_)  # the queue

    def sources(self) -> list[Source]:
        """Every queue: ready messages, and in flight its unacked deliveries plus what auto-ack
        consumers hold (the broker forgot those when it sent them)."""
        found = []
        for name, queue in self.broker.queues.items():
            auto = [
                c
                for c in self.broker.connections
                if isinstance(c, QueueConsumer) and c.auto_ack and c.config.from_ == name
            ]
            found.append(
                Source(
                    name,
                    lambda q=queue: q.ready_count,
                    lambda q=queue, held=auto: q.unacked + sum(c.held() for c in held),
                )
            )
        return found

    def retained(self) -> dict[str, Callable[[], int]]:
        return {}  # queues delete on ack: nothing is retained once consumed


class BrokerNode(CrashOnly):
    """The broker as a fault target: only a crash (and restart) means anything for a node."""

    name = "broker"

    def __init__(self, broker: RabbitMQBroker) -> None:
        self.broker = broker

    def crash(self) -> None:
        self.broker.crash()

    def restart(self) -> None:
        self.broker.restart()


def _sender(ctx: RunContext, broker: RabbitMQBroker, config: RabbitMQProducerConfig) -> Sender:
    """What a producer's messages go through: their AMQP properties (stamped as a message is
    made), then basic.publish to an exchange, or to a queue through the default exchange
    (which routes by queue name)."""
    to_exchange = config.to in broker.exchanges
    exchange = config.to if to_exchange else ""
    headers, ttl, mandatory = config.headers, config.ttl, config.mandatory
    persistent = config.persistent
    priority: Callable[[], int] | None = None
    if isinstance(config.priority, int):
        fixed = config.priority
        priority = lambda: fixed  # noqa: E731
    elif config.priority:
        stream = ctx.streams.generator(f"producer:{config.name}/priority")
        priority = Sampler.choice(list(config.priority), stream)
    routing_key: Callable[[], str] | None = None
    if isinstance(config.routing_key, list):
        routing_key = Sampler.choice(
            list(config.routing_key), ctx.streams.generator(f"producer:{config.name}/keys")
        )
    elif config.routing_key:
        fixed_key = config.routing_key
        routing_key = lambda: fixed_key  # noqa: E731
    publish = broker.publish
    key = None if to_exchange else config.to
    if to_exchange:
        send = lambda msg: publish(msg, exchange, msg.routing_key, mandatory)  # noqa: E731
    else:
        send = lambda msg: publish(msg, "", key, mandatory)  # noqa: E731
    if headers is None and ttl is None and priority is None and not persistent:
        if routing_key is None:
            return Sender(send)

        def stamp_key(msg: Message) -> None:
            msg.routing_key = routing_key()

        return Sender(send, stamp=stamp_key)

    def stamp(msg: Message) -> None:
        # Headers are shared, never mutated: the broker always replaces a message's headers.
        if routing_key is not None:
            msg.routing_key = routing_key()
        if headers is not None:
            msg.headers = headers
        if ttl is not None:
            msg.ttl = ttl
        if priority is not None:
            msg.priority = priority()
        msg.persistent = persistent

    return Sender(send, stamp=stamp)


class QueueConsumer(ConsumerReplica):
    """One consumer replica: a channel with basic.qos(prefetch) and basic.consume; deliveries
    wait in its buffer and go through the shared cycle (sim/consumers/cycle.py) one at a time,
    acked after processing (manual) or not at all (auto-ack: the broker forgot them when it
    sent them).

    A delivery fails with the consumer's `nack_probability`, and always when the message
    carries its `poison_header`; a failure is nacked with the consumer's `requeue`.
    A crash closes the channel, so the broker requeues every unacked message, the one in
    progress too (at-least-once); with auto-ack those are lost (at-most-once).
    """

    def __init__(
        self,
        ctx: RunContext,
        broker: RabbitMQBroker,
        config: RabbitMQConsumerConfig,
        replica: int,
        name: str | None = None,
    ) -> None:
        self.init_replica(
            ctx, config, replica, config.from_, name, error_probability=config.nack_probability
        )
        inbound = ctx.link(self.owner, "broker_to_consumer", config.network)
        self._ack_link = ctx.link(self.owner, "consumer_to_broker", config.network)
        self.channel = Channel(broker, self.name, link=None if inbound.instant else inbound)
        self.channel.basic_qos(prefetch_count=config.prefetch)
        self.auto_ack = self.forgets_on_delivery = config.ack == "auto"
        self.buffer: deque[tuple[int, Message]] = deque()
        self._wakeup: simpy.Event | None = None
        self._poison = config.poison_header
        self.channel.basic_consume(config.from_, self.on_message, auto_ack=self.auto_ack)
        self.start()

    def on_message(self, channel: Channel, method: Deliver, msg: Message, body: Any) -> None:
        self.buffer.append((method.delivery_tag, msg))
        wakeup = self._wakeup
        if wakeup is not None:
            self._wakeup = None
            wakeup.succeed()

    def held(self) -> int:
        """Deliveries in this replica's hands: its prefetch buffer and the one in progress."""
        return len(self.buffer) + (self.current is not None)

    # ----- the cycle's native verbs -----
    def take(self) -> tuple[tuple[int, Message]] | None:
        return (self.buffer.popleft(),) if self.buffer else None

    def fetch(self) -> Generator[Any, Any, None]:
        """Sleep until a delivery is in the buffer and the consumer is not down."""
        while not self.buffer or self._paused:
            self._wakeup = self.env.event()
            yield self._wakeup

    def message(self, delivery: tuple[int, Message]) -> Message:
        return delivery[1]

    def checks_failures(self) -> bool:
        return self._poison is not None

    def fails(self, delivery: tuple[int, Message]) -> bool:
        poison, msg = self._poison, delivery[1]
        if poison is not None and msg.headers is not None and poison in msg.headers:
            return True
        return self.failed()

    def _send_settle(self, tag: int, ok: bool) -> None:
        channel = self.channel  # acks travel on the channel they were sent on
        self._ack_link.send(self._settle_on, channel, tag, ok)

    def _settle_on(self, channel: Channel, tag: int, ok: bool) -> None:
        """An ack or nack reaches the broker, if the channel it was sent on still exists (one
        sent before a crash never arrives: the broker requeued the message when the channel
        closed)."""
        if not channel.is_open:
            return
        if ok:
            channel.basic_ack(tag)
        else:
            channel.basic_nack(tag, requeue=self.config.requeue)

    def settle(self, delivery: tuple[int, Message]) -> None:
        if not self.auto_ack:
            self._send_settle(delivery[0], True)

    def settle_early(self, delivery: tuple[int, Message]) -> bool:
        """At most once: the ack sent on receipt. Until it reaches the broker a crash still
        returns the message to the queue; from then on a crash loses it."""
        channel = self.channel
        self._ack_link.send(self._ack_on_receipt, channel, delivery)
        return False  # forgotten when the ack lands (_ack_on_receipt)

    def _ack_on_receipt(self, channel: Channel, delivery: tuple[int, Message]) -> None:
        if channel.is_open:
            channel.basic_ack(delivery[0])
            if self.current is delivery:
                self.current_forgotten = True

    def reject(self, delivery: tuple[int, Message]) -> bool:
        self._send_settle(delivery[0], False)  # basic.nack, requeue as configured
        return False

    def drop(self) -> None:
        """The channel closes: the broker requeues what it had not acked; with auto-ack what
        the replica held is lost."""
        if self.auto_ack:
            for _tag, msg in self.buffer:
                self.recorder.lost(msg, self.name)
        self.buffer.clear()
        self._wakeup = None
        if self.channel.is_open:
            self.channel.close()

    def reconnect(self) -> None:
        """A new channel, basic.qos and basic.consume (unless down)."""
        old = self.channel
        self.channel = Channel(old.broker, self.name, link=old.link)
        self.channel.basic_qos(prefetch_count=self.config.prefetch)
        if not self._paused:
            self.channel.basic_consume(self.config.from_, self.on_message, auto_ack=self.auto_ack)

    # ----- the other fault hooks (sim/faults.py) -----
    def go_down(self) -> None:
        """Stop consuming (basic.cancel) after the message in hand; the rest stays unacked."""
        self._paused = True
        for tag in list(self.channel.consumers):
            self.channel.basic_cancel(tag)

    def come_up(self) -> None:
        super().come_up()
        if self.channel.is_open:
            self.channel.basic_consume(self.config.from_, self.on_message, auto_ack=self.auto_ack)
            wakeup, self._wakeup = self._wakeup, None
            if wakeup is not None:
                wakeup.succeed()
