"""Replay every delivery trace recorded on a real RabbitMQ 3.10.8 through mqsim's client API.

Data: ``shared/conformance/rabbitmq/delivery_traces.json`` beside the repository (its README says
what each event holds). Each case is a script of actions (declare, publish with confirms,
consume with a prefetch, ack / nack / reject, recover, cancel, channel close, basic.get, sleep)
and observations (deliveries, queue state, drained messages). The replay performs the actions on
`Channel`s in simulated time and compares every observation: each delivery's consumer, body,
delivery tag, redelivered flag and headers (x-death without its timestamp, x-delivery-count),
every publish confirm, queue message and consumer counts, and every message drained with
basic.get with its exchange, routing key, headers and expiration. Where consumers use separate
channels the interleaving across consumers inside one `deliveries` event is not significant, so
those compare per consumer; the `_samechannel` traces compare in exact order. The broker runs
with `version="3.10"`, the recorded version (its quorum queues have no default delivery limit).

Missing data is a failure, never a skip.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
import simpy

from sim.brokers.rabbitmq import (
    BasicProperties,
    Channel,
    Deliver,
    NackError,
    RabbitMQBroker,
)
from sim.brokers.rabbitmq.broker import expiration_text
from sim.message import Message
from tests.helpers import CONFORMANCE

TRACES = CONFORMANCE / "rabbitmq" / "delivery_traces.json"
# Cases the shared recording does not cover (priorities, TTL 0, retry loops, dead-letter cycles,
# partial nacks...), recorded by tools/record_rabbitmq.py from tools/rabbitmq_extra_cases.json on
# the same RabbitMQ 3.10.8 and kept with the project.
EXTRA = Path(__file__).resolve().parents[1] / "data" / "rabbitmq_extra_traces.json"


def _cases(path: Path = TRACES) -> list[Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return [pytest.param(None, id=f"DATA-MISSING-{path.name}")]
    return [pytest.param(case, id=case["name"]) for case in data["cases"]]


def _normalise_headers(headers: dict[str, Any] | None) -> dict[str, Any] | None:
    """Headers as the traces write them: x-death timestamps replaced by a placeholder."""
    if not headers:
        return None
    out = dict(headers)
    if "x-death" in out:
        out["x-death"] = [{**death, "time": "<timestamp>"} for death in out["x-death"]]
    return out


class Replay:
    """One trace replayed on a fresh broker: an admin channel for declarations and basic.get, a
    publisher channel in confirm mode, and one channel per consumer (or one shared channel)."""

    def __init__(self, case: dict[str, Any]) -> None:
        self.case = case
        self.env = simpy.Environment()
        self.broker = RabbitMQBroker(self.env, version="3.10")  # the version recorded
        self.admin = Channel(self.broker, "admin")
        self.publisher = Channel(self.broker, "publisher")
        self.publisher.confirm_delivery()
        self.shared = case["name"].endswith("_samechannel")
        self.channels: dict[str, Channel] = {}
        self.received: list[dict[str, Any]] = []
        self.bodies: dict[tuple[str, int], str] = {}  # (channel name, delivery tag) -> body

    def channel(self, consumer: str) -> Channel:
        name = "shared" if self.shared else consumer
        if name not in self.channels:
            self.channels[name] = Channel(self.broker, name)
        return self.channels[name]

    def on_message(self, channel: Channel, method: Deliver, props: Message, body: Any) -> None:
        self.bodies[(channel.name, method.delivery_tag)] = body
        self.received.append(
            {
                "consumer": method.consumer_tag,
                "body": body,
                "delivery_tag": method.delivery_tag,
                "redelivered": method.redelivered,
                "headers": _normalise_headers(props.headers),
            }
        )

    # ----- one handler per event kind -----
    def run(self) -> None:
        for index, event in enumerate(self.case["events"]):
            handler = getattr(self, f"do_{event['op']}")
            try:
                handler(event)
            except AssertionError as error:
                raise AssertionError(f"event {index} {event['op']}: {error}") from None
        assert self.received == [], f"deliveries the broker never made: {self.received}"

    def do_note(self, event: dict[str, Any]) -> None:
        pass

    def do_exchange_declare(self, event: dict[str, Any]) -> None:
        self.admin.exchange_declare(event["exchange"], event["type"])

    def do_queue_declare(self, event: dict[str, Any]) -> None:
        self.admin.queue_declare(
            event["queue"], durable=event["durable"], arguments=event["arguments"]
        )

    def do_queue_bind(self, event: dict[str, Any]) -> None:
        self.admin.queue_bind(event["queue"], event["exchange"], event["routing_key"])

    def do_publish(self, event: dict[str, Any]) -> None:
        exchange = event.get("exchange", "")
        key = event.get("routing_key", event.get("queue"))
        expirations = event.get("expiration", {})
        priorities = event.get("priority", {})
        confirms = []
        for body in event["bodies"]:
            props = BasicProperties(expiration=expirations.get(body), priority=priorities.get(body))
            try:
                self.publisher.basic_publish(exchange, key, body, props)
                confirms.append("ack")
            except NackError:
                confirms.append("nack")
        assert confirms == event["confirms"], f"confirms {confirms} != {event['confirms']}"

    def do_basic_consume(self, event: dict[str, Any]) -> None:
        channel = self.channel(event["consumer"])
        channel.basic_qos(prefetch_count=event["prefetch"])
        channel.basic_consume(
            event["queue"],
            self.on_message,
            auto_ack=event.get("auto_ack", False),
            consumer_tag=event["consumer"],
        )

    def do_deliveries(self, event: dict[str, Any]) -> None:
        expected = [{"headers": None, **d} for d in event["deliveries"]]
        got, self.received = self.received, []
        if self.shared:
            assert got == expected
            return
        assert _per_consumer(got) == _per_consumer(expected)

    def _settled(self, event: dict[str, Any]) -> tuple[Channel, int]:
        """The channel an ack/nack/reject goes to, checking the tag names the same body."""
        channel = self.channel(event["consumer"])
        tag = event["delivery_tag"]
        assert self.bodies.get((channel.name, tag)) == event["body"], (
            f"tag {tag} on {channel.name} is {self.bodies.get((channel.name, tag))!r}"
        )
        return channel, tag

    def do_basic_ack(self, event: dict[str, Any]) -> None:
        channel, tag = self._settled(event)
        channel.basic_ack(tag, multiple=event["multiple"])

    def do_basic_nack(self, event: dict[str, Any]) -> None:
        channel, tag = self._settled(event)
        channel.basic_nack(tag, multiple=event["multiple"], requeue=event["requeue"])

    def do_basic_reject(self, event: dict[str, Any]) -> None:
        channel, tag = self._settled(event)
        channel.basic_reject(tag, requeue=event["requeue"])

    def do_basic_recover(self, event: dict[str, Any]) -> None:
        self.channel(event["consumer"]).basic_recover(requeue=event["requeue"])

    def _held(self, channel: Channel) -> list[Any]:
        return [msg.body for msg in channel.unacked_messages()]

    def do_basic_cancel(self, event: dict[str, Any]) -> None:
        channel = self.channel(event["consumer"])
        channel.basic_cancel(event["consumer"])
        assert self._held(channel) == event["still_unacked_on_channel"]

    def do_channel_close(self, event: dict[str, Any]) -> None:
        channel = self.channel(event["consumer"])
        assert self._held(channel) == event["unacked_at_close"]
        channel.close()

    def do_sleep(self, event: dict[str, Any]) -> None:
        self.env.run(until=self.env.now + event["seconds"])

    def do_queue_state(self, event: dict[str, Any]) -> None:
        ok = self.admin.queue_declare(event["queue"], passive=True)
        got = (ok.message_count, ok.consumer_count)
        assert got == (event["message_count"], event["consumer_count"]), f"state {got}"

    def do_basic_get(self, event: dict[str, Any]) -> None:
        _ok, msg, _body = self.admin.basic_get(event["queue"], auto_ack=event["auto_ack"])
        assert msg is not None and msg.body == event["got"]

    def do_drain_basic_get(self, event: dict[str, Any]) -> None:
        drained = []
        while True:
            ok, msg, _body = self.admin.basic_get(event["queue"], auto_ack=True)
            if ok is None or msg is None:
                break
            item = {
                "body": msg.body,
                "redelivered": ok.redelivered,
                "routing_key": ok.routing_key,
                "exchange": ok.exchange,
                "headers": _normalise_headers(msg.headers),
                "expiration": None if msg.ttl is None else expiration_text(msg.ttl),
            }
            drained.append(item)
        expected = [{"headers": None, "expiration": None, **m} for m in event["messages"]]
        assert drained == expected


def _per_consumer(deliveries: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for delivery in deliveries:
        grouped[delivery["consumer"]].append(delivery)
    return dict(grouped)


@pytest.mark.parametrize("case", _cases())
def test_delivery_trace_agrees_with_rabbitmq(case: dict[str, Any] | None, conformance: Path):
    assert case is not None, f"golden data missing: {TRACES}"
    Replay(case).run()


@pytest.mark.parametrize("case", _cases(EXTRA))
def test_extra_trace_agrees_with_rabbitmq(case: dict[str, Any] | None) -> None:
    assert case is not None, f"recorded data missing: {EXTRA}"
    Replay(case).run()


def test_every_recorded_case_is_replayed(conformance: Path) -> None:
    """The parametrisation above covers the whole file, and every event kind has a handler."""
    data = json.loads((conformance / "rabbitmq" / "delivery_traces.json").read_text())
    assert len(_cases()) == len(data["cases"]) >= 35
    extra = json.loads(EXTRA.read_text())
    kinds = {event["op"] for d in (data, extra) for case in d["cases"] for event in case["events"]}
    assert all(hasattr(Replay, f"do_{kind}") for kind in kinds)
