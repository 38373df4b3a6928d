"""Consumer timeouts, 4.3's delayed retry and basic.get's x-delivery-count, by version.

Rules from the RabbitMQ source (sim/brokers/rabbitmq/versions.py): up to 4.2 the channel closes
itself with PRECONDITION_FAILED at the first 60 s tick after its oldest unacknowledged delivery
passed `consumer_timeout` (rabbit_channel.erl evaluate_consumer_timeout/1); on 4.3 a quorum queue
takes the timed-out delivery back without counting it as failed and the consumer is cancelled
(rabbit_fifo.erl evaluate_consumer_timeout), and classic queues never time out. Delayed retry
holds a returned message for min(min * delivery-count, max) (rabbit_fifo.erl
calculate_ready_at/4).
"""

from __future__ import annotations

from typing import Any

import pytest
import simpy

import sim
from sim.brokers.rabbitmq.broker import RabbitMQBroker
from sim.brokers.rabbitmq.channel import Channel, Deliver
from sim.brokers.rabbitmq.errors import PreconditionFailed
from sim.message import Message
from sim.scenario import Scenario, ScenarioError


class Client:
    """One channel consuming from a queue, recording what it is given and told."""

    def __init__(self, version: str, timeout_ms: int = 5_000, **queue_args: Any) -> None:
        self.env = simpy.Environment()
        self.broker = RabbitMQBroker(self.env, version=version, consumer_timeout=timeout_ms)
        self.channel = Channel(self.broker, "c")
        self.got: list[tuple[float, int, dict[str, Any]]] = []
        self.cancelled: list[tuple[float, str]] = []
        self.closed: list[tuple[float, Exception | None]] = []
        self.channel.add_on_cancel_callback(lambda tag: self.cancelled.append((self.env.now, tag)))
        self.channel.add_on_close_callback(lambda _c, why: self.closed.append((self.env.now, why)))
        self.channel.queue_declare("q", durable=True, arguments=queue_args or None)

    def on_message(self, _channel: Channel, method: Deliver, msg: Message, _body: Any) -> None:
        self.got.append((self.env.now, method.delivery_tag, dict(msg.headers or {})))

    def consume(self, channel: Channel | None = None) -> None:
        (channel or self.channel).basic_consume("q", self.on_message)

    def run(self, until: float) -> None:
        self.env.run(until=until)


QUORUM = {"x-queue-type": "quorum"}


# ----- 4.3: the quorum queue evaluates the timeout -----


def test_a_43_quorum_queue_takes_a_timed_out_delivery_back_and_cancels_the_consumer() -> None:
    c = Client("4.3", **QUORUM)
    c.channel.basic_publish("", "q", b"m")
    c.consume()
    c.run(until=4.9)
    queue = c.broker.queues["q"]
    assert queue.unacked == 1 and queue.ready_count == 0
    c.run(until=5.1)
    # Back in the queue at the deadline (not at a channel tick), the channel still open.
    assert queue.unacked == 0 and queue.ready_count == 1
    assert c.cancelled == [(5.0, "ctag1")] and c.closed == [] and c.channel.is_open
    # A late ack of the tag is valid (no PRECONDITION_FAILED) and settles nothing.
    c.channel.basic_ack(1)
    assert c.channel.is_open and queue.ready_count == 1
    # Another consumer gets it again: one more acquisition, but not a failed delivery.
    other = Channel(c.broker, "other")
    c.consume(other)
    assert c.got[-1][2] == {"x-acquired-count": 1}
    other.basic_ack(c.got[-1][1])
    assert queue.ready_count == queue.unacked == 0


def test_a_43_timeout_never_reaches_the_delivery_limit() -> None:
    """x-delivery-limit 0: a reject dead-letters at once, a timed-out return does not."""
    c = Client("4.3", **QUORUM, **{"x-delivery-limit": 0})
    c.channel.basic_publish("", "q", b"m")
    for round_ in range(3):  # three consumers in turn, each holding it past the timeout
        c.consume(Channel(c.broker, f"c{round_}"))
        c.run(until=10.0 * round_ + 6.0)
        c.run(until=10.0 * (round_ + 1))
    queue = c.broker.queues["q"]
    assert queue.ready_count == 1  # never dead-lettered
    last = Channel(c.broker, "rejecter")
    c.consume(last)
    assert c.got[-1][2] == {"x-acquired-count": 3}  # three returns, no failed delivery
    last.basic_reject(c.got[-1][1], requeue=True)  # a failed delivery: over the limit of 0
    assert queue.ready_count + queue.unacked == 0


def test_a_43_queue_argument_overrides_the_broker_timeout() -> None:
    c = Client("4.3", timeout_ms=1_800_000, **QUORUM, **{"x-consumer-timeout": 2_000})
    c.channel.basic_publish("", "q", b"m")
    c.consume()
    c.run(until=2.5)
    assert c.cancelled == [(2.0, "ctag1")]


def test_a_43_classic_queue_never_times_out() -> None:
    c = Client("4.3")
    c.channel.basic_publish("", "q", b"m")
    c.consume()
    c.run(until=600)
    assert c.cancelled == [] and c.closed == [] and c.broker.queues["q"].unacked == 1


# ----- 3.10 - 4.2: the channel evaluates it, at its 60 s tick -----


@pytest.mark.parametrize("version", ["3.10", "4.2"])
@pytest.mark.parametrize("arguments", [{}, QUORUM])
def test_up_to_42_the_channel_closes_at_the_first_tick_after_the_timeout(
    version: str, arguments: dict[str, Any]
) -> None:
    c = Client(version, **arguments)
    c.channel.basic_publish("", "q", b"m")
    c.consume()
    c.run(until=59.9)
    assert c.closed == [] and c.channel.is_open  # timed out at 5 s, but no tick yet
    c.run(until=60.1)
    ((when, why),) = c.closed
    assert when == 60.0 and isinstance(why, PreconditionFailed)
    assert "timed out" in str(why)
    queue = c.broker.queues["q"]
    assert not c.channel.is_open and queue.ready_count == 1 and queue.unacked == 0


def test_a_42_channel_uses_the_queue_timeout_and_310_only_the_broker_one() -> None:
    ticks = {}
    for version in ("3.10", "4.2"):
        c = Client(version, timeout_ms=90_000, **{"x-consumer-timeout": 1_000})
        c.channel.basic_publish("", "q", b"m")
        c.consume()
        c.run(until=200)
        ticks[version] = c.closed[0][0]
    assert ticks == {"3.10": 120.0, "4.2": 60.0}


# ----- 4.3 delayed retry -----


def _redeliveries(verb: str, **arguments: Any) -> list[float]:
    """When a message that the consumer always fails with `verb` is delivered again."""
    c = Client("4.3", timeout_ms=1_800_000, **QUORUM, **arguments)

    def fail(channel: Channel, method: Deliver, _msg: Message, _body: Any) -> None:
        c.got.append((c.env.now, method.delivery_tag, {}))
        if len(c.got) < 6:
            if verb == "reject":
                channel.basic_reject(method.delivery_tag, requeue=True)
            else:
                channel.basic_nack(method.delivery_tag, requeue=True)

    c.channel.basic_publish("", "q", b"m")
    c.channel.basic_consume("q", fail)
    c.run(until=100)
    return [round(t, 9) for t, _tag, _h in c.got]


def test_delayed_retry_backs_off_by_the_delivery_count_up_to_the_maximum() -> None:
    retry = {"x-delayed-retry-type": "failed", "x-delayed-retry-min": 1000}
    # min(1 s * count, 3 s): 1, 2, 3, 3, 3 s between deliveries.
    times = _redeliveries("reject", **retry, **{"x-delayed-retry-max": 3000})
    assert times == [0.0, 1.0, 3.0, 6.0, 9.0, 12.0]
    # Without a maximum it is the minimum: 1 s each time.
    assert _redeliveries("reject", **retry) == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]


def test_delayed_retry_applies_to_the_returns_its_type_names() -> None:
    failed = {"x-delayed-retry-type": "failed", "x-delayed-retry-min": 1000}
    returned = {"x-delayed-retry-type": "returned", "x-delayed-retry-min": 1000}
    assert _redeliveries("nack", **failed) == [0.0] * 6  # a nack is not a failed delivery
    # A nack never raises the delivery-count, so the delay stays min * 1.
    assert _redeliveries("nack", **returned) == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    assert _redeliveries("reject", **returned) == [0.0] * 6
    assert _redeliveries("reject", **{**failed, "x-delayed-retry-type": "disabled"}) == [0.0] * 6


def test_a_delayed_message_is_not_ready_but_counts_toward_max_length() -> None:
    c = Client(
        "4.3",
        **QUORUM,
        **{"x-delayed-retry-type": "all", "x-delayed-retry-min": 10_000, "x-max-length": 1},
    )
    c.channel.basic_publish("", "q", b"first")
    c.consume()
    c.channel.basic_cancel("ctag1")
    c.channel.basic_nack(1, requeue=True)
    queue = c.broker.queues["q"]
    assert queue.ready_count == 0 and queue.delayed_count == 1
    c.channel.basic_publish("", "q", b"second")  # over max-length 1 with the delayed one
    assert queue.ready_count == 0  # drop-head dropped the ready head, the new message
    c.run(until=10.1)
    assert queue.ready_count == 1 and queue.delayed_count == 0


def test_42_has_no_delayed_retry() -> None:
    times = []
    c = Client("4.2", **QUORUM, **{"x-delayed-retry-type": "all", "x-delayed-retry-min": 5000})

    def fail(channel: Channel, method: Deliver, _msg: Message, _body: Any) -> None:
        times.append(c.env.now)
        if len(times) < 3:
            channel.basic_reject(method.delivery_tag, requeue=True)

    c.channel.basic_publish("", "q", b"m")
    c.channel.basic_consume("q", fail)
    c.run(until=10)
    assert times == [0.0, 0.0, 0.0]


# ----- basic.get and x-delivery-count -----


@pytest.mark.parametrize(("version", "header"), [("3.10", {"x-delivery-count": 0}), ("4.2", {})])
def test_basic_get_of_a_message_never_returned(version: str, header: dict[str, Any]) -> None:
    c = Client(version, **QUORUM)
    c.channel.basic_publish("", "q", b"m")
    _ok, msg, _body = c.channel.basic_get("q")
    assert msg is not None and dict(msg.headers or {}) == header


def test_43_basic_get_after_a_nack_shows_the_acquired_count_only() -> None:
    c = Client("4.3", **QUORUM)
    c.channel.basic_publish("", "q", b"m")
    ok, msg, _ = c.channel.basic_get("q")
    assert ok is not None and msg is not None and not msg.headers
    c.channel.basic_nack(ok.delivery_tag, requeue=True)
    _ok, again, _ = c.channel.basic_get("q")
    assert again is not None and again.headers == {"x-acquired-count": 1}


# ----- scenarios -----


def _scenario(version: str, **queue: Any) -> dict[str, Any]:
    return {
        "name": "slow",
        "seed": 1,
        "duration": "3min",
        "broker": {
            "type": "rabbitmq",
            "version": version,
            "consumer_timeout": 10_000,
            "queues": [{"name": "q", "type": "quorum", **queue}],
        },
        "producers": [{"name": "p", "to": "q", "rate": 1, "arrivals": "constant", "stop": 30}],
        "consumers": [{"name": "w", "from": "q", "prefetch": 5, "service_time": "12s"}],
    }


@pytest.mark.parametrize("version", ["4.2", "4.3"])
def test_a_consumer_slower_than_the_timeout_processes_messages_twice_but_keeps_going(
    version: str,
) -> None:
    """12 s per message against a 10 s timeout: every message it holds times out, comes back
    and is processed again; the scenario consumer recovers (new channel on 4.2, consuming
    again on 4.3) and conservation holds."""
    results = sim.run(Scenario.from_dict(_scenario(version)))
    s = results.summary
    assert results.conservation_gap() == 0
    assert s["redelivered"] > 0 and s["processed_total"] > s["processed"] > 0
    expected = "channel closed by the broker" if version == "4.2" else "consumer cancelled"
    assert results.events["event"].str.startswith(expected).any()


def test_version_errors_are_one_line_and_name_the_field() -> None:
    data = _scenario("4.3", consumer_timeout=5_000)
    data["broker"]["queues"].append({"name": "plain"})
    with pytest.raises(ScenarioError, match=r"broker\.queues\[1\]\.durable: RabbitMQ 4\.3") as e:
        Scenario.from_dict(data)
    assert "\n" not in str(e.value)
    data["broker"]["queues"][1] = {"name": "plain", "durable": True, "consumer_timeout": 5_000}
    with pytest.raises(ScenarioError, match=r"queues\[1\]\.consumer_timeout: .*quorum queues"):
        Scenario.from_dict(data)
    retry = _scenario("4.2", delayed_retry_type="failed", delayed_retry_min=1000)
    with pytest.raises(ScenarioError, match=r"queues\[0\]\.delayed_retry_type: .*4\.3"):
        Scenario.from_dict(retry)
    with pytest.raises(ScenarioError, match="delayed_retry_min is required"):
        Scenario.from_dict(_scenario("4.3", delayed_retry_type="failed"))
