"""The RabbitMQ model: exchanges, queues, channels with pika's verbs, and exact routing."""

from sim.brokers.rabbitmq.broker import Exchange, RabbitMQBroker
from sim.brokers.rabbitmq.channel import (
    BasicProperties,
    Channel,
    Deliver,
    PreconditionFailed,
    UnroutableError,
)
from sim.brokers.rabbitmq.queue import ClassicQueue, QuorumQueue
from sim.brokers.rabbitmq.routing import headers_matches, route, topic_matches

__all__ = [
    "BasicProperties",
    "Channel",
    "ClassicQueue",
    "Deliver",
    "Exchange",
    "PreconditionFailed",
    "QuorumQueue",
    "RabbitMQBroker",
    "UnroutableError",
    "headers_matches",
    "route",
    "topic_matches",
]
