"""How services reach the broker: publish a request, consume a queue, read its depth.

Only the RabbitMQ model exists so far; another broker gets its own port with the same methods.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from sim.brokers.rabbitmq.broker import Confirm, RabbitMQBroker
from sim.brokers.rabbitmq.channel import Channel
from sim.message import Message

__all__ = ["BrokerPort", "RabbitMQPort"]


class BrokerPort(Protocol):
    def publisher(self, to: str, routing_key: str) -> Callable[[Message], bool]: ...
    def subscribe(
        self, name: str, queue: str, prefetch: int, auto_ack: bool, on_message: Any
    ) -> Any: ...
    def ready(self, queue: str) -> int: ...


class RabbitMQPort:
    """Publishes through an exchange (or the default exchange by queue name), as producers do,
    and consumes on a channel of its own with basic.qos(prefetch) and basic.consume."""

    def __init__(self, broker: RabbitMQBroker) -> None:
        self.broker = broker

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
        channel = Channel(self.broker, name)
        channel.basic_qos(prefetch_count=prefetch)
        channel.basic_consume(queue, on_message, auto_ack=auto_ack)
        return channel

    def ready(self, queue: str) -> int:
        return self.broker.queues[queue].ready_count
