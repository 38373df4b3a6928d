"""A producer publishing to a queue through the default exchange goes through
`RabbitMQBroker.default_exchange_publisher` (one call a message, no lambda around `publish`);
it must answer and record exactly what `publish(msg, "", queue, mandatory)` does, in each
case publish tells apart: the queue there, no such queue (unroutable, or returned when
mandatory), the broker down, a full reject-publish queue, a full drop-head queue."""

from __future__ import annotations

from typing import Any

import pytest
import simpy

from sim.brokers.rabbitmq import RabbitMQBroker
from sim.message import Message


def _broker(env: simpy.Environment) -> RabbitMQBroker:
    broker = RabbitMQBroker(env)
    broker.queue_declare("open", durable=True)
    broker.queue_declare("full", {"x-max-length": 2, "x-overflow": "reject-publish"}, durable=True)
    broker.queue_declare("trimmed", {"x-max-length": 2}, durable=True)  # drop-head
    return broker


def _state(broker: RabbitMQBroker) -> Any:
    recorder = broker.recorder
    queues = {
        name: [(m.id, m.seq, m.routing_key, m.exchange) for m in queue._fresh]
        for name, queue in broker.queues.items()
    }
    totals = (recorder.published, recorder.ready_total, list(recorder.states))
    return queues, totals, dict(recorder.counters), broker.unroutable


@pytest.mark.parametrize("mandatory", [False, True])
@pytest.mark.parametrize("target", ["open", "full", "trimmed", "missing"])
def test_default_exchange_publisher_answers_and_records_as_publish(
    target: str, mandatory: bool
) -> None:
    env = simpy.Environment()
    fast, general = _broker(env), _broker(env)
    publish = fast.default_exchange_publisher(target, mandatory)
    answers: list[tuple[Any, Any]] = []
    for number in range(1, 6):
        if number == 4:  # the broker goes down: the connection is refused
            fast.up = general.up = False
        answers.append(
            (
                publish(Message(number, env.now)),
                general.publish(Message(number, env.now), "", target, mandatory),
            )
        )
        assert _state(fast) == _state(general)
    assert [mine for mine, _ in answers] == [theirs for _, theirs in answers]
