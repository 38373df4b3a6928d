"""A RabbitMQ node crash: what survives a restart, and what clients see meanwhile.

RabbitMQ's documentation ("Queues: Durability", "Publishers: Message Durability"): a durable
queue is recovered on node restart together with its persistent messages (delivery_mode 2);
transient messages and non-durable queues are not. Connections drop with the node, so unacked
deliveries return to their queues and are redelivered with redelivered=True.
"""

from __future__ import annotations

import pytest

import sim
from sim.brokers.rabbitmq import BasicProperties, Channel, ChannelClosed
from sim.scenario import ScenarioError, load_scenario
from tests.helpers import ROOT, scenario_from
from tests.test_rabbitmq_api import Client

PERSISTENT = BasicProperties(delivery_mode=2)


def test_only_persistent_messages_in_durable_queues_survive() -> None:
    c = Client()
    c.channel.queue_declare("durable", durable=True)
    c.channel.queue_declare("volatile")
    for queue in ("durable", "volatile"):
        c.channel.basic_publish("", queue, f"{queue}-p", PERSISTENT)
        c.channel.basic_publish("", queue, f"{queue}-t")
    c.broker.crash()
    c.broker.restart()
    admin = Channel(c.broker, "after")
    c.channel = admin
    assert [m.body for m in c.drain("durable")] == ["durable-p"]
    assert c.drain("volatile") == []
    assert c.broker.recorder.states[sim.message.State.LOST] == 3


def test_unacked_deliveries_come_back_redelivered_after_a_restart() -> None:
    c = Client()
    c.channel.queue_declare("q", durable=True)
    for body in ("a", "b", "c"):
        c.channel.basic_publish("", "q", body, PERSISTENT)
    c.consume("q", "C1", prefetch=2)
    assert c.got == [("C1", "a", False), ("C1", "b", False)]
    c.broker.crash()
    with pytest.raises(ChannelClosed):
        Channel(c.broker, "too early")
    c.broker.restart()
    c.got.clear()
    c.consume("q", "C2", prefetch=10)
    assert c.got == [("C2", "a", True), ("C2", "b", True), ("C2", "c", False)]


def test_publishes_are_refused_while_the_node_is_down() -> None:
    c = Client()
    c.channel.queue_declare("q", durable=True)
    publisher = Channel(c.broker, "publisher")
    c.broker.crash()
    assert not publisher.is_open  # the connection dropped with the node
    msg = sim.message.Message(99, 0.0)
    assert c.broker.publish(msg, "", "q").name == "NACK"
    assert msg.state is sim.message.State.REJECTED
    c.broker.restart()
    fresh = Channel(c.broker, "publisher again")
    fresh.confirm_delivery()
    fresh.basic_publish("", "q", "after")  # accepted again (a nack would raise NackError)
    c.broker.crash()
    c.broker.restart()
    with pytest.raises(ChannelClosed):
        fresh.basic_publish("", "q", "x")  # a restart does not reopen old channels


def test_quorum_queues_keep_every_message() -> None:
    c = Client()
    c.channel.queue_declare("qq", arguments={"x-queue-type": "quorum"})
    c.channel.basic_publish("", "qq", "transient")
    c.broker.crash()
    c.broker.restart()
    c.channel = Channel(c.broker, "after")
    assert [m.body for m in c.drain("qq")] == ["transient"]


def test_the_broker_crash_scenario() -> None:
    runs = sim.run_variants(ROOT / "scenarios" / "broker_crash.yaml")
    for results in runs.values():
        assert results.conservation_gap() == 0
        assert results.summary["rejected"] > 0  # publishes during the crash were refused
        assert results.summary["backlog_at_end"] == 0  # drained: what is missing was lost
    assert runs["durable-persistent"].summary["lost"] == 0
    assert runs["durable-transient"].summary["lost"] > 0
    assert runs["transient-queue"].summary["lost"] == runs["durable-transient"].summary["lost"]
    same_arrivals = {r.summary["produced"] for r in runs.values()}
    assert len(same_arrivals) == 1


def test_bad_broker_faults_are_one_line_errors(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ScenarioError, match=r"faults\[0\].kind: a broker node takes crash faults"):
        scenario_from(faults=[{"target": "broker", "kind": "slow", "factor": 2, "start": 1}])
    quorum = {"type": "rabbitmq", "queues": [{"name": "q", "type": "quorum", "durable": False}]}
    with pytest.raises(ScenarioError, match="quorum queues are always durable"):
        scenario_from(broker=quorum)
    assert load_scenario(ROOT / "scenarios" / "broker_crash.yaml").faults[-1].target == "broker"
