"""Builds a scenario's RabbitMQ broker, producers and consumers on a run's environment."""

from __future__ import annotations

from collections import deque
from collections.abc import Generator
from typing import TYPE_CHECKING, Any

from sim.brokers.rabbitmq.broker import RabbitMQBroker
from sim.brokers.rabbitmq.channel import Channel, Deliver
from sim.clients.producer import Producer
from sim.message import Message

if TYPE_CHECKING:
    import simpy

    from sim.brokers.rabbitmq.config import RabbitMQConfig
    from sim.kernel import RunContext
    from sim.scenario.schema import ConsumerConfig

__all__ = ["QueueConsumer", "build"]


def build(ctx: RunContext) -> RabbitMQBroker:
    config: RabbitMQConfig = ctx.scenario.broker  # type: ignore[assignment]
    broker = RabbitMQBroker(ctx.env, ctx.recorder)
    for exchange in config.exchanges:
        broker.exchange_declare(exchange.name, exchange.type)
    for queue in config.queues:
        broker.queue_declare(queue.name, queue.arguments())
    for binding in config.bindings:
        broker.queue_bind(binding.queue, binding.exchange, binding.routing_key, binding.arguments)
    for name, queue in broker.queues.items():
        ctx.recorder.gauge(f"depth.{name}", lambda q=queue: q.ready_count)
        ctx.recorder.gauge(f"unacked.{name}", lambda q=queue: q.unacked)
    for producer in ctx.scenario.producers:
        Producer(ctx, producer, _sender(broker, producer.to))
    for consumer in ctx.scenario.consumers:
        for replica in range(consumer.replicas):
            QueueConsumer(ctx, broker, consumer, replica)
    return broker


def _sender(broker: RabbitMQBroker, to: str) -> Any:
    if to in broker.exchanges:
        return lambda msg: broker.publish(msg, to, msg.routing_key)
    return lambda msg: broker.publish(msg, "", to)  # the default exchange routes by queue name


class QueueConsumer:
    """One consumer replica: a channel with basic.qos(prefetch) and basic.consume, and one worker
    that processes deliveries one at a time, then acks (manual) or not (auto-ack)."""

    def __init__(
        self, ctx: RunContext, broker: RabbitMQBroker, config: ConsumerConfig, replica: int
    ) -> None:
        self.env = ctx.env
        self.recorder = ctx.recorder
        self.config = config
        self.name = config.name if config.replicas == 1 else f"{config.name}.{replica}"
        owner = f"consumer:{config.name}.{replica}"  # stable when replicas are added
        inbound = ctx.link(owner, "broker_to_consumer", config.network)
        self._ack_link = ctx.link(owner, "consumer_to_broker", config.network)
        self.service_time = ctx.sampler(f"{owner}/service", config.service_time)
        self.channel = Channel(broker, self.name, link=None if inbound.instant else inbound)
        self.channel.basic_qos(prefetch_count=config.prefetch)
        self.auto_ack = config.ack == "auto"
        self.buffer: deque[tuple[int, Message]] = deque()
        self._wakeup: simpy.Event | None = None
        self.channel.basic_consume(config.from_, self.on_message, auto_ack=self.auto_ack)
        self.env.process(self.run())

    def on_message(self, channel: Channel, method: Deliver, msg: Message, body: Any) -> None:
        self.buffer.append((method.delivery_tag, msg))
        wakeup = self._wakeup
        if wakeup is not None:
            self._wakeup = None
            wakeup.succeed()

    def run(self) -> Generator[Any, Any, None]:
        env, buffer, recorder, name = self.env, self.buffer, self.recorder, self.name
        service_time, timeout, auto_ack = self.service_time, env.timeout, self.auto_ack
        ack_link, ack = self._ack_link, self.channel.basic_ack
        while True:
            if not buffer:
                self._wakeup = env.event()
                yield self._wakeup
            tag, msg = buffer.popleft()
            yield timeout(service_time())
            recorder.processed(msg, name)
            if not auto_ack:
                ack_link.send(ack, tag)
