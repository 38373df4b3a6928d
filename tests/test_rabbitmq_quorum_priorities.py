"""Quorum-queue message priorities per RabbitMQ version, and what RabbitMQ 4.3 changed.

Expectations come from RabbitMQ's documented rules (Quorum Queues, "Message Priorities"; the
4.3.0 release notes) and the broker source the model cites (rabbit_fifo_q.erl, rabbit_fifo_pq.erl,
rabbit_fifo.erl, rabbit_channel.erl), never from a previous run.
"""

from __future__ import annotations

from typing import Any

import pytest
import simpy

import sim
from sim import Scenario
from sim.brokers.rabbitmq import BasicProperties, Channel, PreconditionFailed, RabbitMQBroker
from sim.errors import ScenarioError
from sim.message import Message


def _quorum(version: str, **arguments: Any) -> tuple[RabbitMQBroker, Channel]:
    broker = RabbitMQBroker(simpy.Environment(), version=version)
    admin = Channel(broker, "admin")
    admin.queue_declare("q", durable=True, arguments={"x-queue-type": "quorum", **arguments})
    return broker, admin


def _publish(admin: Channel, body: str, priority: int | None = None) -> None:
    admin.basic_publish("", "q", body, BasicProperties(priority=priority))


def _drain(admin: Channel) -> list[str]:
    bodies = []
    while True:
        _ok, msg, body = admin.basic_get("q", auto_ack=True)
        if msg is None:
            return bodies
        bodies.append(body)


def test_4x_quorum_queues_deliver_high_and_normal_at_two_to_one() -> None:
    """Six normal messages wait, then six high ones: with both levels waiting, two high then
    one normal, never all the high ones first (strict) nor publish order (FIFO)."""
    _broker, admin = _quorum("4.2")
    for i in range(6):
        _publish(admin, f"n{i}")
    for i in range(6):
        _publish(admin, f"h{i}", priority=9)
    order = _drain(admin)
    assert order[:9] == ["h0", "h1", "n0", "h2", "h3", "n1", "h4", "h5", "n2"]
    assert order[9:] == ["n3", "n4", "n5"]


def test_4x_an_older_high_message_goes_first_even_on_the_normal_turn() -> None:
    """The docs: "If a high priority message was published before a normal priority one, the
    high priority message will always be delivered first even if it is the normal priority's
    turn" (rabbit_fifo_q next/1 compares the heads' Raft indexes)."""
    _broker, admin = _quorum("4.1")
    for i in range(3):
        _publish(admin, f"h{i}", priority=5)
    _publish(admin, "n0", priority=4)
    assert _drain(admin) == ["h0", "h1", "h2", "n0"]


def test_4x_priorities_above_4_are_high_and_0_to_4_or_none_are_one_normal_level() -> None:
    _broker, admin = _quorum("4.0")
    _publish(admin, "p4", priority=4)
    _publish(admin, "none")
    _publish(admin, "p0", priority=0)
    _publish(admin, "p5", priority=5)
    _publish(admin, "p255", priority=255)
    # the two high ones first (counter 0 and 1), then the normal level in publish order
    assert _drain(admin) == ["p5", "p255", "p4", "none", "p0"]


def test_3_10_quorum_queues_ignore_priorities() -> None:
    _broker, admin = _quorum("3.10")
    _publish(admin, "low", priority=0)
    _publish(admin, "high", priority=9)
    assert _drain(admin) == ["low", "high"]


def test_4_3_quorum_priorities_are_strict_with_32_levels_and_none_at_4() -> None:
    """rabbit_fifo_pq: the highest level first; over 31 is 31; no priority is level 4, above
    0-3 and below 5 (rabbit_fifo.erl msg_priority/1)."""
    _broker, admin = _quorum("4.3")
    _publish(admin, "p0", priority=0)
    _publish(admin, "p3", priority=3)
    _publish(admin, "none")
    _publish(admin, "p4", priority=4)
    _publish(admin, "p5", priority=5)
    _publish(admin, "p31", priority=31)
    _publish(admin, "p200", priority=200)
    _publish(admin, "n2")
    assert _drain(admin) == ["p31", "p200", "p5", "none", "p4", "n2", "p3", "p0"]


@pytest.mark.parametrize("version", ["4.2", "4.3"])
def test_a_returned_message_goes_before_waiting_higher_priorities(version: str) -> None:
    """Returns wait in their own queue, which take_next_msg/1 serves before the priorities."""
    _broker, admin = _quorum(version)
    _publish(admin, "low", priority=0)
    ok, _msg, body = admin.basic_get("q")
    assert body == "low"
    _publish(admin, "high", priority=9)
    admin.basic_nack(ok.delivery_tag, requeue=True)
    assert _drain(admin) == ["low", "high"]


def test_classic_queues_keep_x_max_priority_and_quorum_queues_refuse_it() -> None:
    broker = RabbitMQBroker(simpy.Environment(), version="4.2")
    admin = Channel(broker, "admin")
    admin.queue_declare("q", arguments={"x-max-priority": 10})
    _publish(admin, "n0")
    _publish(admin, "h0", priority=9)
    _publish(admin, "h1", priority=9)
    _publish(admin, "h2", priority=9)
    assert _drain(admin) == ["h0", "h1", "h2", "n0"]  # strict, unlike a 4.2 quorum queue
    with pytest.raises(PreconditionFailed, match="x-max-priority"):
        broker.queue_declare("qq", {"x-queue-type": "quorum", "x-max-priority": 5})


# ----- RabbitMQ 4.3: the delivery limit counts failed deliveries only -----


def _fail_loop(version: str, verb: str) -> tuple[int, list[str], dict[str, Any]]:
    """A handler that always fails, settling with `verb` and requeue, stopped after 100 tries:
    how often the message came, the x-death reasons it was dead-lettered with, and the headers
    of its last delivery."""
    broker = RabbitMQBroker(simpy.Environment(), version=version)
    admin = Channel(broker, "admin")
    admin.exchange_declare("dlx", "fanout")
    admin.queue_declare("dead", durable=True)
    admin.queue_bind("dead", "dlx")
    args = {"x-queue-type": "quorum", "x-dead-letter-exchange": "dlx"}
    admin.queue_declare("q", durable=True, arguments=args)
    worker = Channel(broker, "worker")
    worker.basic_qos(prefetch_count=1)
    seen: list[dict[str, Any]] = []

    def on_message(channel: Channel, method: Any, msg: Message, body: Any) -> None:
        seen.append(dict(msg.headers or {}))
        if len(seen) < 100:
            if verb == "nack":
                channel.basic_nack(method.delivery_tag, requeue=True)
            else:
                channel.basic_reject(method.delivery_tag, requeue=True)

    worker.basic_consume("q", on_message)
    admin.basic_publish("", "q", b"poison")
    _ok, dead, _body = admin.basic_get("dead", auto_ack=True)
    reasons = [] if dead is None else [d["reason"] for d in dead.headers["x-death"]]
    return len(seen), reasons, seen[-1]


def test_4_3_nack_with_requeue_never_reaches_the_delivery_limit_but_reject_does() -> None:
    count, reasons, last = _fail_loop("4.3", "nack")
    assert (count, reasons) == (100, [])
    assert "x-delivery-count" not in last and last["x-acquired-count"] == 99
    count, reasons, last = _fail_loop("4.3", "reject")
    assert (count, reasons) == (21, ["delivery_limit"])  # the default limit of 20
    assert last["x-delivery-count"] == last["x-acquired-count"] == 20


@pytest.mark.parametrize("verb", ["nack", "reject"])
def test_before_4_3_every_return_counts(verb: str) -> None:
    count, reasons, last = _fail_loop("4.2", verb)
    assert (count, reasons) == (21, ["delivery_limit"])
    assert last["x-delivery-count"] == 20


def test_4_3_a_closed_channel_counts_as_a_failed_delivery_and_recover_does_not() -> None:
    broker, admin = _quorum("4.3", **{"x-delivery-limit": 1})
    _publish(admin, "m")
    for _ in range(3):  # basic.recover: plain returns, never over the limit
        worker = Channel(broker, "w")
        worker.basic_get("q")
        worker.basic_recover(requeue=True)
        worker.close()
    counts = []
    for _ in range(2):  # each close with the message in hand is a failed delivery
        worker = Channel(broker, "w")
        _ok, msg, _body = worker.basic_get("q")
        counts.append(None if msg is None else (msg.headers or {}).get("x-delivery-count", 0))
        worker.close()
    assert counts == [0, 1]
    assert broker.queues["q"].ready_count == 0  # the second close took it over the limit


def test_4_3_without_a_limit_a_reject_returns_to_the_front_and_a_nack_to_the_back() -> None:
    """x-delivery-limit -1: a plain return is enqueued again (handle_aux #return{}), a reject
    is a #modify{} that goes to the returns queue."""
    for verb, expected in (("nack", ["m2", "m1"]), ("reject", ["m1", "m2"])):
        _broker, admin = _quorum("4.3", **{"x-delivery-limit": -1})
        _publish(admin, "m1")
        _publish(admin, "m2")
        ok, _msg, _body = admin.basic_get("q")
        if verb == "nack":
            admin.basic_nack(ok.delivery_tag, requeue=True)
        else:
            admin.basic_reject(ok.delivery_tag, requeue=True)
        assert _drain(admin) == expected, verb


# ----- in scenarios -----


def _scenario(version: str, **consumer: Any) -> dict[str, Any]:
    return {
        "name": "v",
        "duration": 60,
        "seed": 1,
        "broker": {
            "type": "rabbitmq",
            "version": version,
            "exchanges": [{"name": "dlx", "type": "fanout"}],
            "queues": [
                {"name": "work", "type": "quorum", "dead_letter_exchange": "dlx"},
                {"name": "parking", "durable": True},
            ],
            "bindings": [{"exchange": "dlx", "queue": "parking"}],
        },
        "producers": [
            {"name": "bad", "to": "work", "rate": "1/s", "headers": {"poison": True}},
        ],
        "consumers": [
            {"name": "w", "from": "work", "service_time": 0.01, "poison_header": "poison"}
            | consumer
        ],
    }


def test_4_3_scenario_poison_loops_with_nack_and_is_dead_lettered_with_reject() -> None:
    nack = sim.run(Scenario.from_dict(_scenario("4.3"))).summary
    reject = sim.run(Scenario.from_dict(_scenario("4.3", fail_with="basic.reject"))).summary
    older = sim.run(Scenario.from_dict(_scenario("4.2"))).summary
    produced = nack["produced"]
    assert produced > 10 and nack["dead_lettered"] == 0
    # 21 deliveries of 10 ms each: all but the one in its loop at the end are dead-lettered
    assert reject["dead_lettered"] == older["dead_lettered"] >= produced - 1


def test_4_3_refuses_transient_queues_in_a_scenario_unless_permitted() -> None:
    data = _scenario("4.3")
    data["broker"]["queues"][1]["durable"] = False
    with pytest.raises(ScenarioError, match="transient_nonexcl_queues"):
        Scenario.from_dict(data)
    data["broker"]["permit_transient_queues"] = True
    Scenario.from_dict(data)
    data["broker"]["version"] = "4.2"
    del data["broker"]["permit_transient_queues"]
    Scenario.from_dict(data)


def test_4_3_scenario_producers_without_priority_sit_above_priority_0() -> None:
    """A backlog of priority-0 messages (40 s of work), then messages without a priority: on
    4.3 the unprioritised ones (level 4) overtake the backlog; on 4.2 both are one normal
    level, so none of them comes before the backlog's last message (FIFO)."""
    overtaking = {}
    for version in ("4.2", "4.3"):
        data = {
            "name": "p",
            "duration": 60,
            "seed": 3,
            "broker": {
                "type": "rabbitmq",
                "version": version,
                "queues": [{"name": "q", "type": "quorum"}],
            },
            "producers": [
                {"name": "zero", "to": "q", "rate": "20/s", "priority": 0, "stop": 10},
                {"name": "plain", "to": "q", "rate": "1/s", "start": 10},
            ],
            "consumers": [{"name": "c", "from": "q", "service_time": 0.2}],
        }
        trace = sim.run(Scenario.from_dict(data), trace=True).trace
        produced = trace[trace.event == "produced"]
        plain = set(produced[produced.component == "plain"].message_id)
        delivered = trace[trace.event == "delivered"]
        last_zero = delivered[~delivered.message_id.isin(plain)].time.max()
        early = delivered[delivered.message_id.isin(plain) & (delivered.time < last_zero)]
        overtaking[version] = len(early)
    assert overtaking["4.2"] == 0
    assert overtaking["4.3"] >= 20  # about one a second from t=10 until the backlog is done
