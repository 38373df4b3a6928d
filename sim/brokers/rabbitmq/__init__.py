"""The RabbitMQ model: exchanges, queues, channels with pika's verbs, and exact routing."""

from sim.brokers.rabbitmq.broker import Confirm, Exchange, RabbitMQBroker
from sim.brokers.rabbitmq.channel import (
    BasicProperties,
    Channel,
    Deliver,
    GetOk,
    QueueDeclareOk,
)
from sim.brokers.rabbitmq.cost import CostModel
from sim.brokers.rabbitmq.errors import (
    ChannelClosed,
    ConnectionClosedByBroker,
    NackError,
    PreconditionFailed,
    UnroutableError,
)
from sim.brokers.rabbitmq.queue import ClassicQueue, PriorityQueue, QuorumQueue
from sim.brokers.rabbitmq.routing import headers_matches, route, topic_matches

__all__ = [
    "BasicProperties",
    "Channel",
    "ChannelClosed",
    "ClassicQueue",
    "Confirm",
    "ConnectionClosedByBroker",
    "CostModel",
    "Deliver",
    "Exchange",
    "GetOk",
    "NackError",
    "PreconditionFailed",
    "PriorityQueue",
    "QueueDeclareOk",
    "QuorumQueue",
    "RabbitMQBroker",
    "UnroutableError",
    "headers_matches",
    "route",
    "topic_matches",
]
