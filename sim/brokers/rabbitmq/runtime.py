"""Builds a scenario's RabbitMQ broker, producers and consumers on a run's environment."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any

import simpy

from sim.brokers.base import Sender, Source
from sim.brokers.rabbitmq.broker import Confirm, RabbitMQBroker
from sim.brokers.rabbitmq.channel import Channel, Deliver
from sim.clients.disturbance import Disturbance
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
    from sim.guarantees import build as guarantees  # consumers with a `guarantee:` section

    config: RabbitMQConfig = ctx.scenario.broker
    effects = guarantees.attach(ctx)  # before any message id is taken: the ledger issues them
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
            if effects is not None and consumer.name in effects:
                from sim.guarantees.rabbitmq import GuaranteedConsumer

                part = GuaranteedConsumer(ctx, broker, consumer, replica, effects[consumer.name])
            else:
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

    def subscribe(
        self, name: str, queue: str, prefetch: int, auto_ack: bool, on_message: Any
    ) -> Channel:
        """A service's consumer: a channel of its own with basic.qos and basic.consume."""
        channel = Channel(self.broker, name)
        channel.basic_qos(prefetch_count=prefetch)
        channel.basic_consume(queue, on_message, auto_ack=auto_ack)
        return channel

    def ready(self, queue: str) -> int:
        return self.broker.queues[queue].ready_count

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


class QueueConsumer(Disturbance):
    """One consumer replica: a channel with basic.qos(prefetch) and basic.consume, and one worker
    that processes deliveries one at a time, then acks (manual) or not (auto-ack).

    A delivery fails with the consumer's `nack_probability`, and always when the message
    carries its `poison_header`; a failure is nacked with the consumer's `requeue` (manual ack)
    or, with auto-ack, is simply lost: the broker forgot the message when it sent it.
    `crash()` kills the consumer: its channel closes, so the broker requeues what it held.
    """

    def __init__(
        self, ctx: RunContext, broker: RabbitMQBroker, config: RabbitMQConsumerConfig, replica: int
    ) -> None:
        self.env = ctx.env
        self.recorder = ctx.recorder
        self.config = config
        self.name = config.name if config.replicas == 1 else f"{config.name}.{replica}"
        owner = f"consumer:{config.name}.{replica}"  # stable when replicas are added
        inbound = ctx.link(owner, "broker_to_consumer", config.network)
        self._ack_link = ctx.link(owner, "consumer_to_broker", config.network)
        self.service_time = ctx.sampler(f"{owner}/service", config.service_time)
        self.init_disturbance(ctx, owner, config.nack_probability)
        self.channel = Channel(broker, self.name, link=None if inbound.instant else inbound)
        self.channel.basic_qos(prefetch_count=config.prefetch)
        self.auto_ack = config.ack == "auto"
        self.buffer: deque[tuple[int, Message]] = deque()
        self._current: Message | None = None
        self._wakeup: simpy.Event | None = None
        self.channel.basic_consume(config.from_, self.on_message, auto_ack=self.auto_ack)
        self.process = self.env.process(self.run())

    def on_message(self, channel: Channel, method: Deliver, msg: Message, body: Any) -> None:
        self.buffer.append((method.delivery_tag, msg))
        wakeup = self._wakeup
        if wakeup is not None:
            self._wakeup = None
            wakeup.succeed()

    def _fails(self, msg: Message) -> bool:
        poison = self.config.poison_header
        if poison is not None and msg.headers is not None and poison in msg.headers:
            return True
        return self.failed()

    def _settle(self, tag: int, ok: bool) -> None:
        """Runs when the ack or nack reaches the broker; one sent by a consumer that has
        crashed since never arrives (the broker already requeued the message)."""
        if not self.channel.is_open:
            return
        if ok:
            self.channel.basic_ack(tag)
        else:
            self.channel.basic_nack(tag, requeue=self.config.requeue)

    def run(self) -> Generator[Any, Any, None]:
        env, buffer, recorder, name = self.env, self.buffer, self.recorder, self.name
        service_time, timeout, auto_ack = self.service_time, env.timeout, self.auto_ack
        ack_link, settle = self._ack_link, self._settle
        if not ack_link.instant:  # an ack in flight must not reach a channel a restart opened
            channel, settle_now = self.channel, settle
            settle = lambda tag, ok: channel.is_open and settle_now(tag, ok)  # noqa: E731
        checks_failures = self.config.poison_header is not None
        try:
            while True:
                if not buffer or self._paused:  # a generator only when it must wait
                    yield from self.wait_for_work()
                tag, msg = buffer.popleft()
                self._current = msg
                yield timeout(service_time() * self.slowdown)
                self._current = None
                if (checks_failures or self.error_probability) and self._fails(msg):
                    recorder.count("consumer_failures")
                    if auto_ack:
                        recorder.lost(msg, name)
                    else:
                        ack_link.send(settle, tag, False)
                    continue
                recorder.processed(msg, name)
                if not auto_ack:
                    ack_link.send(settle, tag, True)
        except simpy.Interrupt:
            return

    def held(self) -> int:
        """Deliveries in this replica's hands: its prefetch buffer and the one in progress."""
        return len(self.buffer) + (self._current is not None)

    def wait_for_work(self) -> Generator[Any, Any, None]:
        """Sleep until a delivery is in the buffer and the consumer is not down."""
        while not self.buffer or self._paused:
            self._wakeup = self.env.event()
            yield self._wakeup

    def crash(self) -> None:
        """The consumer dies mid-work. With manual acks the broker requeues every message it
        held, the one in progress too (at-least-once); with auto-ack those are lost
        (at-most-once)."""
        if not self.channel.is_open:
            return
        if self.auto_ack:
            held = ([self._current] if self._current is not None else []) + [
                msg for _tag, msg in self.buffer
            ]
            for msg in held:
                self.recorder.lost(msg, self.name)
        self.buffer.clear()
        self._current = None
        self._wakeup = None
        self.channel.close()
        if self.process.is_alive:
            self.process.interrupt("crash")

    # ----- the other fault hooks (sim/faults.py) -----
    def restart(self) -> None:
        """Come back after a crash: a new channel, basic.qos and basic.consume, a new worker."""
        if self.channel.is_open:
            return
        old = self.channel
        self.channel = Channel(old.broker, self.name, link=old.link)
        self.channel.basic_qos(prefetch_count=self.config.prefetch)
        if not self._paused:
            self.channel.basic_consume(self.config.from_, self.on_message, auto_ack=self.auto_ack)
        self.process = self.env.process(self.run())

    def go_down(self) -> None:
        """Stop consuming (basic.cancel) after the message in hand; the rest stays unacked."""
        self._paused = True
        for tag in list(self.channel.consumers):
            self.channel.basic_cancel(tag)

    def come_up(self) -> None:
        self._paused = False
        if self.channel.is_open:
            self.channel.basic_consume(self.config.from_, self.on_message, auto_ack=self.auto_ack)
            wakeup, self._wakeup = self._wakeup, None
            if wakeup is not None:
                wakeup.succeed()
