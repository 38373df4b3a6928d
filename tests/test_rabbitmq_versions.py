"""broker.version (sim/brokers/rabbitmq/versions.py): the defaults that changed between RabbitMQ
3.10 (the recorded traces) and 4.x, through the client API and in scenarios."""

from __future__ import annotations

from typing import Any

import pytest
import simpy

from sim import Scenario
from sim.brokers.rabbitmq import (
    Channel,
    ChannelClosed,
    ConnectionClosedByBroker,
    PreconditionFailed,
    RabbitMQBroker,
)
from sim.brokers.rabbitmq.versions import DEFAULT_VERSION, VERSIONS
from sim.errors import ScenarioError
from sim.message import Message


def _poison_loop(version: str, arguments: dict[str, Any]) -> tuple[int, list[str]]:
    """Nack one message with requeue until the queue stops handing it out: how many times it
    was delivered, and the x-death reasons it reached the dead-letter queue with."""
    env = simpy.Environment()
    broker = RabbitMQBroker(env, version=version)
    admin = Channel(broker, "admin")
    admin.exchange_declare("dlx", "fanout")
    admin.queue_declare("dead")
    admin.queue_bind("dead", "dlx")
    args = {"x-queue-type": "quorum", "x-dead-letter-exchange": "dlx", **arguments}
    admin.queue_declare("q", durable=True, arguments=args)
    consumer = Channel(broker, "worker")
    consumer.basic_qos(prefetch_count=1)
    deliveries = []

    def on_message(channel: Channel, method: Any, msg: Message, body: Any) -> None:
        deliveries.append(method.delivery_tag)
        if len(deliveries) < 100:  # a handler that always fails, stopped after 100 tries
            channel.basic_nack(method.delivery_tag, requeue=True)

    consumer.basic_consume("q", on_message)
    admin.basic_publish("", "q", b"poison")
    _ok, dead, _body = admin.basic_get("dead", auto_ack=True)
    reasons = [] if dead is None else [d["reason"] for d in dead.headers["x-death"]]
    return len(deliveries), reasons


def test_4x_quorum_queues_dead_letter_after_20_returns_by_default() -> None:
    assert _poison_loop("4.2", {}) == (21, ["delivery_limit"])
    assert _poison_loop("4.0", {"x-delivery-limit": 3}) == (4, ["delivery_limit"])


def test_3_10_quorum_queues_have_no_default_limit_and_4x_switches_it_off_with_minus_one() -> None:
    assert _poison_loop("3.10", {}) == (100, [])
    assert _poison_loop("4.2", {"x-delivery-limit": -1}) == (100, [])


def test_3_10_refuses_a_negative_delivery_limit() -> None:
    broker = RabbitMQBroker(simpy.Environment(), version="3.10")
    with pytest.raises(PreconditionFailed, match="x-delivery-limit"):
        broker.queue_declare("q", {"x-queue-type": "quorum", "x-delivery-limit": -1})


def test_4x_without_a_limit_argument_returns_nacks_to_the_front() -> None:
    """3.10 put a nack at the back when no limit was set; with 4.x's default limit in force the
    return goes to the front (rabbit_fifo returns queue), so m1 comes again before m2."""
    order = {}
    for version in ("3.10", "4.2"):
        broker = RabbitMQBroker(simpy.Environment(), version=version)
        admin = Channel(broker, "admin")
        admin.queue_declare("q", durable=True, arguments={"x-queue-type": "quorum"})
        for body in ("m1", "m2"):
            admin.basic_publish("", "q", body)
        ok, _msg, body = admin.basic_get("q")
        admin.basic_nack(ok.delivery_tag, requeue=True)
        order[version] = [admin.basic_get("q", auto_ack=True)[2] for _ in range(2)]
    assert order == {"3.10": ["m2", "m1"], "4.2": ["m1", "m2"]}


def test_scenarios_default_to_the_newest_modelled_version_and_check_it() -> None:
    data = {
        "name": "v",
        "duration": 5,
        "broker": {"type": "rabbitmq", "queues": [{"name": "q", "type": "quorum"}]},
        "producers": [{"name": "p", "to": "q", "rate": 1}],
        "consumers": [{"name": "c", "from": "q"}],
    }
    # The default is the current 4.x, the newest modelled (docs/rabbitmq-4.md).
    assert Scenario.from_dict(data).broker.version == DEFAULT_VERSION == max(VERSIONS) == "4.3"
    data["broker"]["queues"][0]["delivery_limit"] = -1
    Scenario.from_dict(data)  # 4.x: no limit
    data["broker"]["version"] = "3.10"
    with pytest.raises(ScenarioError, match=r"needs RabbitMQ 4\.0"):
        Scenario.from_dict(data)
    data["broker"]["version"] = "3.13"
    with pytest.raises(ScenarioError, match="version"):
        Scenario.from_dict(data)


def _declare(version: str, **options: Any) -> tuple[Channel, RabbitMQBroker]:
    broker = RabbitMQBroker(
        simpy.Environment(),
        version=version,
        permit_transient_queues=options.pop("permit", False),
    )
    channel = Channel(broker, "script")
    channel.queue_declare("jobs", **options)
    return channel, broker


def test_a_script_declaring_a_transient_queue_on_4_3_loses_its_connection() -> None:
    broker = RabbitMQBroker(simpy.Environment(), version="4.3")
    channel = Channel(broker, "script")
    with pytest.raises(ConnectionClosedByBroker) as refused:
        channel.queue_declare("jobs")
    assert refused.value.reply_code == 541
    assert "INTERNAL_ERROR" in refused.value.reply_text
    assert "jobs" not in broker.queues
    assert not channel.is_open
    with pytest.raises(ChannelClosed):
        channel.basic_publish("", "jobs", b"x")


@pytest.mark.parametrize(
    "version, options",
    [
        ("4.3", {"durable": True}),
        ("4.3", {"exclusive": True}),
        ("4.3", {"permit": True}),
        ("4.3", {"arguments": {"x-queue-type": "quorum"}}),  # always durable
        ("4.2", {}),
        ("3.10", {}),
    ],
)
def test_what_4_3_still_declares(version: str, options: dict[str, Any]) -> None:
    channel, broker = _declare(version, **options)
    assert "jobs" in broker.queues
    assert channel.is_open
