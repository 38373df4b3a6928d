"""Shared set-up of the Pulsar runtime tests: a service on a fresh clock with the client verbs,
and scenario runs."""

from __future__ import annotations

from typing import Any

import simpy

import sim
from sim.brokers.pulsar.api import PulsarClient, PulsarConsumer, PulsarMessage, pulsar_service
from sim.brokers.pulsar.errors import TimeoutException
from sim.brokers.pulsar.service import PulsarService
from sim.brokers.pulsar.subscription import Subscription
from sim.brokers.pulsar.topic import PersistentTopic
from sim.scenario import Scenario


class Pulsar:
    """One Pulsar service on its own clock, and a client of it."""

    def __init__(self, **section: Any) -> None:
        section.setdefault("topics", [{"name": "t", "partitions": 0}])
        self.env = simpy.Environment()
        self.service: PulsarService = pulsar_service(self.env, **section)
        self.client = PulsarClient(self.service)

    def sleep(self, seconds: float) -> None:
        self.env.run(until=self.env.now + seconds)

    def topic(self, name: str = "t", partition: int = 0, cluster: int = 0) -> PersistentTopic:
        return self.service.topic(name).families[partition].instances[cluster]

    def sub(self, name: str, topic: str = "t", partition: int = 0) -> Subscription:
        return self.topic(topic, partition).subscriptions[name]

    def send(self, *bodies: Any, topic: str = "t", key: str | None = None, **kw: Any) -> None:
        producer = self.client.create_producer(topic)
        for body in bodies:
            producer.send(body, partition_key=key, **kw)


def drain(consumer: PulsarConsumer, ack: bool = True, wait_ms: float = 10) -> list[PulsarMessage]:
    """Every message the consumer can receive now (acked unless `ack` is False)."""
    got = []
    while True:
        try:
            msg = consumer.receive(timeout_millis=wait_ms)
        except TimeoutException:
            return got
        if ack:
            consumer.acknowledge(msg)
        got.append(msg)


def run(data: dict[str, Any], trace: bool = True) -> sim.Results:
    return sim.run(Scenario.from_dict(data), trace=trace)


def scenario(broker: dict[str, Any], producers: list[Any], consumers: list[Any], **extra: Any):
    data: dict[str, Any] = {
        "name": "pulsar_test",
        "seed": 7,
        "duration": 60.0,
        "broker": {"type": "pulsar", **broker},
        "producers": producers,
        "consumers": consumers,
    }
    data.update(extra)
    return data
