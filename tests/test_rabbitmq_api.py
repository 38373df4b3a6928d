"""RabbitMQ semantics through the pika-style client API, one test per rule.

The recorded traces (tests/conformance/test_rabbitmq_delivery.py) pin the broker's exact answers
on short scripts; these tests cover each documented rule on its own, including the ones the
traces do not exercise (exchanges of every type, auto-ack, priorities, TTL 0, retry loops...).
Expectations come from RabbitMQ's documentation, cited per test.
"""

from __future__ import annotations

from typing import Any

import pytest
import simpy

from sim.brokers.rabbitmq import (
    BasicProperties,
    Channel,
    ChannelClosed,
    Deliver,
    NackError,
    PreconditionFailed,
    RabbitMQBroker,
    UnroutableError,
)
from sim.message import Message, State


class Client:
    """A broker, a publisher channel and a recorder of deliveries: (consumer, body, redelivered)."""

    def __init__(self, version: str = "4.2") -> None:
        self.env = simpy.Environment()
        self.broker = RabbitMQBroker(self.env, version=version)
        self.channel = Channel(self.broker, "admin")
        self.got: list[tuple[str, Any, bool]] = []
        self.tags: dict[tuple[str, Any], int] = {}  # (consumer, body) -> its latest tag
        self.last: dict[tuple[str, Any], Message] = {}  # (consumer, body) -> latest properties

    def publish(self, queue: str, *bodies: Any, **props: Any) -> list[bool | None]:
        return [
            self.channel.basic_publish("", queue, body, BasicProperties(**props)) for body in bodies
        ]

    def consume(self, queue: str, name: str, prefetch: int = 0, auto_ack: bool = False) -> Channel:
        channel = Channel(self.broker, name)
        channel.basic_qos(prefetch_count=prefetch)

        def on_message(ch: Channel, method: Deliver, props: Message, body: Any) -> None:
            self.got.append((method.consumer_tag, body, method.redelivered))
            self.tags[(method.consumer_tag, body)] = method.delivery_tag
            self.last[(method.consumer_tag, body)] = props

        channel.basic_consume(queue, on_message, auto_ack=auto_ack, consumer_tag=name)
        return channel

    def bodies(self, consumer: str | None = None) -> list[Any]:
        return [b for c, b, _ in self.got if consumer is None or c == consumer]

    def drain(self, queue: str) -> list[Message]:
        out = []
        while True:
            _ok, msg, _body = self.channel.basic_get(queue, auto_ack=True)
            if msg is None:
                return out
            out.append(msg)

    def run(self, seconds: float) -> None:
        self.env.run(until=self.env.now + seconds)


def body_list(n: int) -> list[str]:
    return [f"m{i}" for i in range(1, n + 1)]


# ----- exchanges and routing -----


def test_default_exchange_routes_by_queue_name_and_drops_the_unroutable() -> None:
    c = Client()
    c.channel.queue_declare("jobs")
    c.channel.basic_publish("", "jobs", "a")
    c.channel.basic_publish("", "nowhere", "b")  # no such queue: unroutable, still acked
    assert [m.body for m in c.drain("jobs")] == ["a"]
    assert c.broker.unroutable == 1
    assert c.broker.recorder.counters["unroutable"] == 1
    assert c.broker.recorder.states[State.DROPPED] == 1


def test_mandatory_unroutable_is_returned_to_the_publisher() -> None:
    c = Client()
    returned: list[Any] = []
    c.channel.add_on_return_callback(lambda ch, method, props, body: returned.append(body))
    assert c.channel.basic_publish("", "nowhere", "x", mandatory=True) is True  # then acked
    assert returned == ["x"]
    c.channel.confirm_delivery()
    with pytest.raises(UnroutableError):
        c.channel.basic_publish("", "nowhere", "y", mandatory=True)
    recorder = c.broker.recorder
    assert recorder.counters["returned"] == 2 and recorder.counters["unroutable"] == 0
    assert recorder.states[State.REJECTED] == 2  # back with the publisher, not in the broker


@pytest.mark.parametrize(
    ("kind", "bindings", "key", "headers", "expected"),
    [
        ("direct", [("a", "k1"), ("b", "k2")], "k1", None, ["a"]),
        ("direct", [("a", "k1"), ("b", "k1")], "k1", None, ["a", "b"]),
        ("direct", [("a", "K1")], "k1", None, []),  # exact bytes, no case folding
        ("fanout", [("a", "x"), ("b", "y"), ("c", "")], "anything", None, ["a", "b", "c"]),
        (
            "topic",
            [("errors", "*.error"), ("kernel", "kern.#")],
            "kern.error",
            None,
            ["errors", "kernel"],
        ),
        ("topic", [("errors", "*.error"), ("kernel", "kern.#")], "auth.error", None, ["errors"]),
        ("topic", [("errors", "*.error"), ("kernel", "kern.#")], "kern", None, ["kernel"]),
        ("topic", [("errors", "*.error"), ("kernel", "kern.#")], "auth.info", None, []),
        ("topic", [("a", "#"), ("a", "x.*")], "x.y", None, ["a"]),  # one copy per queue
    ],
)
def test_exchange_types_route_as_documented(
    kind: str, bindings: list[tuple[str, str]], key: str, headers: Any, expected: list[str]
) -> None:
    c = Client()
    c.channel.exchange_declare("x", kind)
    for queue, binding_key in bindings:
        c.channel.queue_declare(queue)
        c.channel.queue_bind(queue, "x", binding_key)
    c.channel.basic_publish("x", key, "msg")
    got = [q for q in sorted({q for q, _ in bindings}) if [m.body for m in c.drain(q)] == ["msg"]]
    assert got == sorted(expected)
    assert c.broker.recorder.copies == max(len(expected) - 1, 0)


def test_headers_exchange_matches_all_or_any() -> None:
    c = Client()
    c.channel.exchange_declare("h", "headers")
    for queue, args in (
        ("all", {"x-match": "all", "format": "pdf", "type": "report"}),
        ("any", {"x-match": "any", "format": "pdf", "type": "report"}),
    ):
        c.channel.queue_declare(queue)
        c.channel.queue_bind(queue, "h", "", arguments=args)
    c.channel.basic_publish(
        "h", "", "both", BasicProperties(headers={"format": "pdf", "type": "report"})
    )
    c.channel.basic_publish("h", "", "one", BasicProperties(headers={"format": "pdf"}))
    c.channel.basic_publish("h", "", "none", BasicProperties(headers={"format": "zip"}))
    assert [m.body for m in c.drain("all")] == ["both"]
    assert [m.body for m in c.drain("any")] == ["both", "one"]


def test_redeclaring_with_other_arguments_fails() -> None:
    c = Client()
    c.channel.queue_declare("q", arguments={"x-max-length": 5})
    c.channel.queue_declare("q", arguments={"x-max-length": 5})  # same: a no-op
    with pytest.raises(PreconditionFailed):
        c.channel.queue_declare("q", arguments={"x-max-length": 6})
    c.channel.exchange_declare("x", "topic")
    with pytest.raises(PreconditionFailed):
        c.channel.exchange_declare("x", "fanout")
    with pytest.raises(PreconditionFailed):
        c.channel.queue_declare("pq", arguments={"x-queue-type": "quorum", "x-max-priority": 5})
    with pytest.raises(PreconditionFailed):
        c.channel.queue_declare("bad", arguments={"x-overflow": "drop-tail"})


# ----- dispatch: FIFO, round-robin, prefetch -----


def test_fifo_order_for_one_consumer() -> None:
    c = Client()
    c.channel.queue_declare("q")
    c.publish("q", *body_list(50))
    c.consume("q", "C1")
    assert c.bodies() == body_list(50)


def test_competing_consumers_take_turns() -> None:
    """Round-robin: with every consumer free, message i goes to consumer i mod n."""
    c = Client()
    c.channel.queue_declare("q")
    for name in ("C1", "C2", "C3"):
        c.consume("q", name, prefetch=100)
    c.publish("q", *body_list(30))
    for k, name in enumerate(("C1", "C2", "C3")):
        assert c.bodies(name) == [f"m{i}" for i in range(k + 1, 31, 3)]


def test_prefetch_bounds_unacked_deliveries_and_each_ack_frees_one_slot() -> None:
    c = Client()
    c.channel.queue_declare("q")
    c.publish("q", *body_list(10))
    ch = c.consume("q", "C1", prefetch=3)
    assert c.bodies() == ["m1", "m2", "m3"] and ch.unacked_count == 3
    ch.basic_ack(c.tags[("C1", "m2")])
    assert c.bodies() == ["m1", "m2", "m3", "m4"]
    ch.basic_ack(c.tags[("C1", "m4")], multiple=True)  # m1, m3, m4
    assert c.bodies()[-3:] == ["m5", "m6", "m7"] and ch.unacked_count == 3


def test_a_callback_that_acks_at_once_does_not_recurse() -> None:
    c = Client()
    c.channel.queue_declare("q")
    c.publish("q", *range(20_000))
    channel = Channel(c.broker, "fast")
    channel.basic_qos(prefetch_count=1)
    seen: list[int] = []

    def on_message(ch: Channel, method: Deliver, props: Message, body: Any) -> None:
        seen.append(body)
        ch.basic_ack(method.delivery_tag)

    channel.basic_consume("q", on_message)
    assert seen == list(range(20_000))


# ----- acknowledgements and redelivery -----


def test_nack_requeues_to_the_original_position_with_redelivered_set() -> None:
    c = Client()
    c.channel.queue_declare("q")
    c.publish("q", *body_list(5))
    ch = c.consume("q", "C1", prefetch=2)  # holds m1, m2
    ch.basic_cancel("C1")
    ch.basic_nack(c.tags[("C1", "m2")], requeue=True)
    ch.basic_reject(c.tags[("C1", "m1")], requeue=True)
    drained = c.drain("q")
    assert [m.body for m in drained] == body_list(5)  # queue order, not requeue order
    assert [m.redelivered for m in drained] == [True, True, False, False, False]


def test_reject_without_requeue_drops_without_a_dead_letter_exchange() -> None:
    c = Client()
    c.channel.queue_declare("q")
    c.publish("q", "m1")
    ch = c.consume("q", "C1", prefetch=1)
    ch.basic_reject(c.tags[("C1", "m1")], requeue=False)
    assert c.drain("q") == [] and c.broker.recorder.states[State.DROPPED] == 1


@pytest.mark.parametrize("auto_ack", [False, True])
def test_a_closed_channel_requeues_unacked_messages_only_with_manual_ack(auto_ack: bool) -> None:
    """Manual ack is at-least-once (a dying consumer's messages come back, redelivered);
    auto-ack is at-most-once (the broker forgot them when it sent them)."""
    c = Client()
    c.channel.queue_declare("q")
    c.publish("q", *body_list(4))
    ch = c.consume("q", "C1", prefetch=2, auto_ack=auto_ack)
    delivered = len(c.bodies())
    ch.close()
    with pytest.raises(ChannelClosed):
        ch.basic_ack(1)
    left = c.drain("q")
    if auto_ack:
        assert delivered == 4 and left == []  # prefetch does not limit auto-ack consumers
    else:
        assert delivered == 2
        assert [(m.body, m.redelivered) for m in left] == [
            ("m1", True),
            ("m2", True),
            ("m3", False),
            ("m4", False),
        ]


def test_an_unknown_delivery_tag_closes_the_channel_and_requeues() -> None:
    c = Client()
    c.channel.queue_declare("q")
    c.publish("q", "m1")
    ch = c.consume("q", "C1", prefetch=1)
    ch.basic_ack(c.tags[("C1", "m1")])
    c.publish("q", "m2")
    with pytest.raises(PreconditionFailed):
        ch.basic_ack(c.tags[("C1", "m1")])  # acked twice
    assert not ch.is_open
    assert [(m.body, m.redelivered) for m in c.drain("q")] == [("m2", True)]


def test_quorum_returns_count_in_x_delivery_count_and_close_returns_go_first() -> None:
    c = Client(version="3.10")  # no default delivery limit before 4.0
    c.channel.queue_declare("q", durable=True, arguments={"x-queue-type": "quorum"})
    c.publish("q", *body_list(4))
    ch = c.consume("q", "C1", prefetch=2)
    ch.basic_nack(c.tags[("C1", "m1")], requeue=True)  # no delivery limit: to the back
    assert c.bodies() == ["m1", "m2", "m3"]
    ch.close()  # m2, m3 back to the front
    drained = c.drain("q")
    assert [m.body for m in drained] == ["m2", "m3", "m4", "m1"]
    assert [m.headers["x-delivery-count"] for m in drained] == [1, 1, 0, 1]


# ----- publisher confirms and max length -----


@pytest.mark.parametrize(
    ("overflow", "kept", "confirms"),
    [
        ("drop-head", ["m3", "m4", "m5"], [True] * 5),
        ("reject-publish", ["m1", "m2", "m3"], [True, True, True, False, False]),
    ],
)
def test_max_length_overflow(overflow: str, kept: list[str], confirms: list[bool]) -> None:
    c = Client()
    c.channel.queue_declare("q", arguments={"x-max-length": 3, "x-overflow": overflow})
    assert c.publish("q", *body_list(5)) == confirms
    assert [m.body for m in c.drain("q")] == kept


def test_confirm_mode_raises_on_nack_and_max_length_counts_ready_messages_only() -> None:
    c = Client()
    c.channel.queue_declare("q", arguments={"x-max-length": 2, "x-overflow": "reject-publish"})
    c.publish("q", "m1", "m2")
    c.consume("q", "C1", prefetch=2)  # m1, m2 now unacked: the queue has room again
    c.channel.confirm_delivery()
    c.publish("q", "m3", "m4")
    with pytest.raises(NackError):
        c.publish("q", "m5")
    assert c.broker.recorder.counters["nacked"] == 1


def test_reject_publish_dlx_dead_letters_what_it_refuses() -> None:
    c = Client()
    c.channel.exchange_declare("dlx", "fanout")
    c.channel.queue_declare("dlq")
    c.channel.queue_bind("dlq", "dlx")
    c.channel.queue_declare(
        "q",
        arguments={
            "x-max-length": 1,
            "x-overflow": "reject-publish-dlx",
            "x-dead-letter-exchange": "dlx",
        },
    )
    assert c.publish("q", "m1", "m2") == [True, False]
    dead = c.drain("dlq")
    assert [m.body for m in dead] == ["m2"]
    assert dead[0].headers["x-death"][0]["reason"] == "maxlen"


def test_max_length_bytes_counts_body_sizes() -> None:
    c = Client()
    c.channel.queue_declare("q", arguments={"x-max-length-bytes": 10})
    c.publish("q", "aaaa", "bbbb", "cccc")  # 12 bytes: the oldest goes
    assert [m.body for m in c.drain("q")] == ["bbbb", "cccc"]


def test_a_message_routed_to_several_queues_is_nacked_if_any_refuses() -> None:
    c = Client()
    c.channel.exchange_declare("x", "fanout")
    c.channel.queue_declare("open")
    c.channel.queue_declare("full", arguments={"x-max-length": 0, "x-overflow": "reject-publish"})
    for q in ("open", "full"):
        c.channel.queue_bind(q, "x")
    assert c.channel.basic_publish("x", "", "m") is False
    assert [m.body for m in c.drain("open")] == ["m"]  # the other queue still has its copy


# ----- TTL and dead-lettering -----


def test_queue_ttl_expires_without_and_dead_letters_with_a_dlx() -> None:
    c = Client()
    c.channel.exchange_declare("dlx", "fanout")
    c.channel.queue_declare("dlq")
    c.channel.queue_bind("dlq", "dlx")
    c.channel.queue_declare("plain", arguments={"x-message-ttl": 1000})
    c.channel.queue_declare(
        "dl", arguments={"x-message-ttl": 1000, "x-dead-letter-exchange": "dlx"}
    )
    c.publish("plain", "p")
    c.publish("dl", "d")
    c.run(0.999)
    assert c.channel.queue_declare("plain", passive=True).message_count == 1
    c.run(0.002)
    recorder = c.broker.recorder
    assert recorder.states[State.EXPIRED] == 1 and recorder.states[State.DEAD_LETTERED] == 1
    (dead,) = c.drain("dlq")
    assert dead.body == "d" and dead.headers["x-death"][0]["reason"] == "expired"


def test_per_message_ttl_expires_only_at_the_head() -> None:
    c = Client()
    c.channel.queue_declare("q")
    c.publish("q", "long")
    c.publish("q", "short", expiration="100")
    c.run(1.0)
    assert c.channel.queue_declare("q", passive=True).message_count == 2  # short waits
    _ok, head, _body = c.channel.basic_get("q", auto_ack=True)
    assert head is not None and head.body == "long"
    c.run(0.001)
    assert c.channel.queue_declare("q", passive=True).message_count == 0
    assert c.broker.recorder.states[State.EXPIRED] == 1


def test_ttl_zero_reaches_a_ready_consumer_and_expires_otherwise() -> None:
    c = Client()
    c.channel.queue_declare("q", arguments={"x-message-ttl": 0})
    c.publish("q", "nobody-waiting")
    c.run(0.001)
    c.consume("q", "C1", prefetch=1)
    c.publish("q", "taken")
    assert c.bodies() == ["taken"]
    assert c.broker.recorder.states[State.EXPIRED] == 1


def test_dead_letter_routing_key_override_and_x_death_fields() -> None:
    c = Client()
    c.channel.exchange_declare("in", "direct")
    c.channel.exchange_declare("dlx", "direct")
    c.channel.queue_declare("dlq")
    c.channel.queue_bind("dlq", "dlx", "dead")
    c.channel.queue_declare(
        "work", arguments={"x-dead-letter-exchange": "dlx", "x-dead-letter-routing-key": "dead"}
    )
    c.channel.queue_bind("work", "in", "job")
    c.channel.basic_publish("in", "job", "m1", BasicProperties(expiration="60000"))
    ch = c.consume("work", "C1", prefetch=1)
    c.run(2.5)
    ch.basic_reject(c.tags[("C1", "m1")], requeue=False)
    ok, dead, _body = c.channel.basic_get("dlq", auto_ack=True)
    assert ok is not None and dead is not None
    assert (ok.exchange, ok.routing_key, ok.redelivered) == ("dlx", "dead", False)
    assert dead.ttl is None  # the expiration property is removed...
    assert dead.headers == {
        "x-death": [
            {
                "count": 1,
                "reason": "rejected",
                "queue": "work",
                "time": 2.5,
                "exchange": "in",
                "routing-keys": ["job"],  # ...the original key, not the override
                "original-expiration": "60000",  # ...and kept here
            }
        ],
        "x-first-death-reason": "rejected",
        "x-first-death-queue": "work",
        "x-first-death-exchange": "in",
    }


def test_a_retry_loop_counts_deaths_per_queue_and_reason() -> None:
    """work --reject--> retry (TTL 1 s) --expired--> work: x-death keeps one entry per
    (queue, reason), most recent first, each with its count."""
    c = Client()
    c.channel.exchange_declare("to-retry", "fanout")
    c.channel.exchange_declare("to-work", "fanout")
    c.channel.queue_declare("work", arguments={"x-dead-letter-exchange": "to-retry"})
    c.channel.queue_declare(
        "retry", arguments={"x-message-ttl": 1000, "x-dead-letter-exchange": "to-work"}
    )
    c.channel.queue_bind("retry", "to-retry")
    c.channel.queue_bind("work", "to-work")
    c.publish("work", "job")
    ch = c.consume("work", "C1", prefetch=1)
    for attempt in range(1, 4):
        assert c.bodies() == ["job"] * attempt
        ch.basic_reject(c.tags[("C1", "job")], requeue=False)
        c.run(1.5)
    deaths = c.last[("C1", "job")].headers["x-death"]
    assert [(d["queue"], d["reason"], d["count"]) for d in deaths] == [
        ("retry", "expired", 3),
        ("work", "rejected", 3),
    ]


def test_a_dead_letter_cycle_without_a_rejection_is_dropped() -> None:
    c = Client()
    c.channel.exchange_declare("dlx", "fanout")
    c.channel.queue_declare("q", arguments={"x-message-ttl": 100, "x-dead-letter-exchange": "dlx"})
    c.channel.queue_bind("q", "dlx")
    c.publish("q", "m")
    c.run(10.0)
    assert c.channel.queue_declare("q", passive=True).message_count == 0
    assert c.broker.recorder.states[State.DEAD_LETTERED] == 1


def test_quorum_delivery_limit_dead_letters_after_limit_plus_one_deliveries() -> None:
    c = Client()
    c.channel.exchange_declare("dlx", "fanout")
    c.channel.queue_declare("dlq")
    c.channel.queue_bind("dlq", "dlx")
    args = {"x-queue-type": "quorum", "x-delivery-limit": 4, "x-dead-letter-exchange": "dlx"}
    c.channel.queue_declare("q", durable=True, arguments=args)
    c.publish("q", "poison")
    ch = c.consume("q", "C1", prefetch=1)
    while c.drain("dlq") == [] and len(c.got) < 100:
        ch.basic_nack(c.tags[("C1", "poison")], requeue=True)
    assert len(c.got) == 5


# ----- priorities -----


def test_priority_queue_delivers_highest_first_fifo_within_a_priority() -> None:
    c = Client()
    c.channel.queue_declare("q", arguments={"x-max-priority": 5})
    for body, priority in (("a0", 0), ("b9", 9), ("c2", 2), ("d5", 5), ("e2", 2), ("f", None)):
        c.publish("q", body, priority=priority)
    ch = c.consume("q", "C1", prefetch=2)
    assert c.bodies() == ["b9", "d5"]  # 9 is capped at the maximum, 5, and came first
    ch.basic_cancel("C1")
    ch.basic_nack(c.tags[("C1", "b9")], requeue=True)  # back to the front of its priority
    assert [m.body for m in c.drain("q")] == ["b9", "c2", "e2", "a0", "f"]


def test_without_max_priority_priorities_are_ignored() -> None:
    c = Client()
    c.channel.queue_declare("q")
    c.publish("q", "low", priority=0)
    c.publish("q", "high", priority=9)
    assert [m.body for m in c.drain("q")] == ["low", "high"]
