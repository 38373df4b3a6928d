"""Record RabbitMQ delivery traces from a live broker, in the format of
shared/conformance/rabbitmq/delivery_traces.json, so that mqsim can be checked against them.

A trace file is its own script: each case's actions (declare, bind, publish, consume with a
prefetch, ack / nack / reject by body, recover, cancel, channel close, sleep, basic.get) are
replayed against the broker with pika, and every observation is recorded afresh (deliveries with
their tags, redelivered flags and headers; publish confirms; queue counts; drained messages).
To record a new case, add its actions to a script file (observations may be left empty) and run
this tool on it. See tools/README.md.

    python tools/record_rabbitmq.py --script ../shared/conformance/rabbitmq/delivery_traces.json \\
        --out /tmp/traces.json [--case a1_classic ...] [--host 127.0.0.1] [--port 5672]

Needs `pip install -e '.[record]'` (pika) and a running rabbitmq-server. The test suite never
needs either: it replays committed traces.
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

__all__ = ["Recorder", "script_of", "summarize"]

QUIET = 0.4  # seconds without a delivery before a `deliveries` observation is complete
_OBSERVED = {
    "deliveries": ("deliveries",),
    "publish": ("confirms",),
    "basic_cancel": ("still_unacked_on_channel",),
    "channel_close": ("unacked_at_close",),
    "queue_state": ("message_count", "consumer_count"),
    "drain_basic_get": ("messages",),
    "basic_get": ("got",),
    "basic_ack": ("delivery_tag",),
    "basic_nack": ("delivery_tag",),
    "basic_reject": ("delivery_tag",),
}
_ERROR = ("error",)  # any action may have failed on the broker


def script_of(case: dict[str, Any]) -> dict[str, Any]:
    """A case's actions without what was observed: the input of a recording."""
    events = []
    for event in case["events"]:
        observed = _OBSERVED.get(event["op"], ()) + _ERROR
        kept = {k: v for k, v in event.items() if k not in observed}
        events.append(kept)
    return {k: case[k] for k in ("name", "section", "queue_type") if k in case} | {"events": events}


def summarize(events: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """The convenience summary of a recorded case: every delivery [consumer, body, redelivered]
    in observed order, every publish confirm, and every drain [queue, label, bodies]."""
    deliveries, confirms, drained = [], [], []
    for event in events:
        if event["op"] == "deliveries":
            deliveries += [
                [d["consumer"], d["body"], d["redelivered"]] for d in event["deliveries"]
            ]
        elif event["op"] == "publish":
            confirms += [
                list(pair) for pair in zip(event["bodies"], event["confirms"], strict=True)
            ]
        elif event["op"] == "drain_basic_get":
            bodies = [m["body"] for m in event["messages"]]
            drained.append([event["queue"], event.get("label"), bodies])
    return {"deliveries_in_order": deliveries, "publish_confirms": confirms, "drained": drained}


class Recorder:
    """Replays one case's actions on a live broker through pika and records what happens.

    Queue and exchange names get a random prefix so that cases never meet (and a broker that
    is not empty is fine); it is removed from everything recorded.
    """

    def __init__(self, host: str, port: int) -> None:
        import pika  # the optional `record` extra: only this tool needs it

        self.pika = pika
        self.params = pika.ConnectionParameters(host=host, port=port)

    def record(self, script: dict[str, Any]) -> dict[str, Any]:
        pika = self.pika
        self.prefix = f"t{secrets.token_hex(3)}-"
        self.connection = pika.BlockingConnection(self.params)
        self.admin = self.connection.channel()
        self.publisher = self.connection.channel()
        self.publisher.confirm_delivery()
        self.shared = script["name"].endswith("_samechannel")
        self.channels: dict[str, Any] = {}
        self.received: list[dict[str, Any]] = []
        self.unacked: dict[str, dict[int, str]] = {}  # channel key -> tag -> body
        self.declared: list[tuple[str, str]] = []
        self.auto_ack: set[str] = set()  # consumers whose deliveries are never unacked
        self.declared_types: dict[str, str] = {}  # queue -> its x-queue-type
        self.queue_types: dict[str, str] = {}  # consumer -> the type of the queue it reads
        events = []
        try:
            for action in script["events"]:
                events.append(self._perform(dict(action)))
        finally:
            self._clean_up()
        return {**script, "summary": summarize(events), "events": events}

    def _perform(self, action: dict[str, Any]) -> dict[str, Any]:
        """One action; a broker error (a channel or connection closed by the broker) is
        recorded as the action's `error`: the AMQP reply code and text, without names."""
        pika = self.pika
        try:
            return getattr(self, f"do_{action['op']}")(action)
        except (
            pika.exceptions.ChannelClosedByBroker,
            pika.exceptions.ConnectionClosedByBroker,
        ) as e:
            text = _text(e.reply_text).replace(self.prefix, "")
            if isinstance(e, pika.exceptions.ConnectionClosedByBroker):
                self._reconnect()
            else:
                for key, channel in list(self.channels.items()):
                    if not channel.is_open:
                        self.channels.pop(key)
                        self.unacked.pop(key, None)
            return {**action, "error": {"code": e.reply_code, "text": text}}

    def _reconnect(self) -> None:
        """After a connection error every channel is gone: open the admin and publisher again."""
        self.connection = self.pika.BlockingConnection(self.params)
        self.admin = self.connection.channel()
        self.publisher = self.connection.channel()
        self.publisher.confirm_delivery()
        self.channels.clear()
        self.unacked.clear()

    # ----- names -----
    def name(self, plain: str) -> str:
        return f"{self.prefix}{plain}" if plain else plain

    def plain(self, name: str) -> str:
        return name.removeprefix(self.prefix)

    def _arguments(self, arguments: dict[str, Any]) -> dict[str, Any]:
        args = dict(arguments)
        if args.get("x-dead-letter-exchange"):
            args["x-dead-letter-exchange"] = self.name(args["x-dead-letter-exchange"])
        return args

    def _headers(self, headers: dict[str, Any] | None) -> dict[str, Any] | None:
        """Headers as recorded: names without the prefix, x-death times as a placeholder."""
        if not headers:
            return None
        out = {}
        for key, value in headers.items():
            if key == "x-death":
                value = [self._death(entry) for entry in value]
            elif key in ("x-first-death-queue", "x-first-death-exchange"):
                value = self.plain(_text(value))
            out[key] = _text(value) if isinstance(value, bytes) else value
        return out

    def _death(self, entry: dict[str, Any]) -> dict[str, Any]:
        death = {key: _text(value) for key, value in entry.items()}
        death["time"] = "<timestamp>"
        death["queue"] = self.plain(death["queue"])
        death["exchange"] = self.plain(death["exchange"])
        death["routing-keys"] = [self.plain(_text(key)) for key in entry["routing-keys"]]
        return death

    # ----- channels and deliveries -----
    def channel(self, consumer: str) -> Any:
        key = "shared" if self.shared else consumer
        if key not in self.channels:
            self.channels[key] = self.connection.channel()
            self.unacked[key] = {}
        return self.channels[key]

    def _key(self, consumer: str) -> str:
        return "shared" if self.shared else consumer

    def _on_message(self, channel: Any, method: Any, properties: Any, body: bytes) -> None:
        consumer = method.consumer_tag
        text = body.decode()
        if consumer not in self.auto_ack:
            self.unacked[self._key(consumer)][method.delivery_tag] = text
        delivery = {
            "consumer": consumer,
            "body": text,
            "delivery_tag": method.delivery_tag,
            "redelivered": method.redelivered,
        }
        headers = self._headers(properties.headers)
        if headers:
            delivery["headers"] = headers
        self.received.append(delivery)

    def _settle_quietly(self, quiet: float = QUIET) -> None:
        """Let deliveries arrive until none has come for `quiet` seconds."""
        while True:
            before = len(self.received)
            self.connection.process_data_events(time_limit=quiet)
            if len(self.received) == before:
                return

    def _tag_of(self, consumer: str, body: str) -> int:
        held = self.unacked[self._key(consumer)]
        return max(tag for tag, b in held.items() if b == body)

    # ----- actions -----
    def do_note(self, event: dict[str, Any]) -> dict[str, Any]:
        return event

    def do_exchange_declare(self, event: dict[str, Any]) -> dict[str, Any]:
        self.admin.exchange_declare(self.name(event["exchange"]), event["type"])
        self.declared.append(("exchange", self.name(event["exchange"])))
        return event

    def do_queue_declare(self, event: dict[str, Any]) -> dict[str, Any]:
        self.admin.queue_declare(
            self.name(event["queue"]),
            durable=event["durable"],
            arguments=self._arguments(event["arguments"]),
        )
        self.declared.append(("queue", self.name(event["queue"])))
        self.declared_types[event["queue"]] = event["arguments"].get("x-queue-type", "classic")
        return event

    def do_queue_bind(self, event: dict[str, Any]) -> dict[str, Any]:
        self.admin.queue_bind(
            self.name(event["queue"]), self.name(event["exchange"]), event["routing_key"]
        )
        return event

    def do_publish(self, event: dict[str, Any]) -> dict[str, Any]:
        pika = self.pika
        exchange = self.name(event.get("exchange", ""))
        key = event.get("routing_key") or self.name(event["queue"])
        expirations = event.get("expiration", {})
        priorities = event.get("priority", {})
        confirms = []
        for body in event["bodies"]:
            props = pika.BasicProperties(
                expiration=expirations.get(body), priority=priorities.get(body)
            )
            try:
                self.publisher.basic_publish(exchange, key, body.encode(), props)
                confirms.append("ack")
            except pika.exceptions.NackError:
                confirms.append("nack")
        return {**event, "confirms": confirms}

    def do_basic_consume(self, event: dict[str, Any]) -> dict[str, Any]:
        channel = self.channel(event["consumer"])
        channel.basic_qos(prefetch_count=event["prefetch"])
        if event.get("auto_ack"):
            self.auto_ack.add(event["consumer"])
        self.queue_types[event["consumer"]] = self.declared_types.get(event["queue"], "classic")
        channel.basic_consume(
            self.name(event["queue"]),
            self._on_message,
            auto_ack=event.get("auto_ack", False),
            consumer_tag=event["consumer"],
            arguments=event.get("arguments"),  # x-stream-offset on a stream
        )
        return event

    def do_deliveries(self, event: dict[str, Any]) -> dict[str, Any]:
        self._settle_quietly()
        got, self.received = self.received, []
        return {**event, "deliveries": got}

    def _settle(self, event: dict[str, Any], verb: str, **kwargs: Any) -> dict[str, Any]:
        tag = self._tag_of(event["consumer"], event["body"])
        event["delivery_tag"] = tag  # recorded even if the broker refuses the settle
        held = self.unacked[self._key(event["consumer"])]
        for t in [t for t in held if t <= tag] if kwargs.get("multiple") else [tag]:
            held.pop(t)
        getattr(self.channel(event["consumer"]), verb)(delivery_tag=tag, **kwargs)
        self.connection.process_data_events(time_limit=0)
        if self.queue_types.get(event["consumer"]) == "stream":
            # A stream may refuse the settle with a connection error (3.10: nack and reject):
            # one round trip shows it here rather than in a later action.
            self.connection.channel().close()
        return {**event, "delivery_tag": tag}

    def do_basic_ack(self, event: dict[str, Any]) -> dict[str, Any]:
        return self._settle(event, "basic_ack", multiple=event["multiple"])

    def do_basic_nack(self, event: dict[str, Any]) -> dict[str, Any]:
        return self._settle(
            event, "basic_nack", multiple=event["multiple"], requeue=event["requeue"]
        )

    def do_basic_reject(self, event: dict[str, Any]) -> dict[str, Any]:
        return self._settle(event, "basic_reject", requeue=event["requeue"])

    def do_basic_recover(self, event: dict[str, Any]) -> dict[str, Any]:
        self.channel(event["consumer"]).basic_recover(requeue=event["requeue"])
        self.unacked[self._key(event["consumer"])].clear()
        return event

    def do_basic_cancel(self, event: dict[str, Any]) -> dict[str, Any]:
        self.channel(event["consumer"]).basic_cancel(event["consumer"])
        held = self.unacked[self._key(event["consumer"])]
        return {**event, "still_unacked_on_channel": [held[t] for t in sorted(held)]}

    def do_channel_close(self, event: dict[str, Any]) -> dict[str, Any]:
        key = self._key(event["consumer"])
        held = self.unacked.pop(key)
        self.channels.pop(key).close()
        event = {**event, "unacked_at_close": [held[t] for t in sorted(held)]}
        # An error the close caused (3.10 cannot requeue a stream's unacked deliveries and
        # closes the connection) shows on the next round trip.
        self.connection.process_data_events(time_limit=QUIET)
        self.connection.channel().close()
        return event

    def do_sleep(self, event: dict[str, Any]) -> dict[str, Any]:
        deadline = time.monotonic() + event["seconds"]
        while (left := deadline - time.monotonic()) > 0:
            self.connection.process_data_events(time_limit=left)
        return event

    def do_queue_state(self, event: dict[str, Any]) -> dict[str, Any]:
        ok = self.admin.queue_declare(self.name(event["queue"]), passive=True)
        return {
            **event,
            "message_count": ok.method.message_count,
            "consumer_count": ok.method.consumer_count,
        }

    def do_basic_get(self, event: dict[str, Any]) -> dict[str, Any]:
        _method, _props, body = self.admin.basic_get(
            self.name(event["queue"]), auto_ack=event["auto_ack"]
        )
        return {**event, "got": None if body is None else body.decode()}

    def do_drain_basic_get(self, event: dict[str, Any]) -> dict[str, Any]:
        messages = []
        while True:
            method, props, body = self.admin.basic_get(self.name(event["queue"]), auto_ack=True)
            if method is None:
                break
            message = {
                "body": body.decode(),
                "redelivered": method.redelivered,
                "routing_key": self.plain(method.routing_key),
                "exchange": self.plain(method.exchange),
            }
            headers = self._headers(props.headers)
            if headers:
                message["headers"] = headers
            if props.expiration is not None:
                message["expiration"] = props.expiration
            messages.append(message)
        return {**event, "messages": messages}

    def _clean_up(self) -> None:
        if not self.connection.is_open:
            self._reconnect()
        try:
            self.connection.channel().close()
        except self.pika.exceptions.ConnectionClosedByBroker:
            self._reconnect()
        try:
            admin = self.connection.channel()
            for kind, name in reversed(self.declared):
                if kind == "queue":
                    admin.queue_delete(name)
                else:
                    admin.exchange_delete(name)
        finally:
            if self.connection.is_open:
                self.connection.close()


def _text(value: Any) -> Any:
    return value.decode() if isinstance(value, bytes) else value


def _versions(host: str, port: int) -> dict[str, Any]:
    import pika

    connection = pika.BlockingConnection(pika.ConnectionParameters(host=host, port=port))
    server = connection._impl.server_properties  # what connection.start announced
    connection.close()
    return {
        "system": "RabbitMQ (real broker)",
        "product": _text(server.get("product", b"RabbitMQ")),
        "version": _text(server.get("version", b"?")),
        "client": f"pika {pika.__version__}",
        "broker_address": f"{host}:{port}",
        "generated_at_unix": int(time.time()),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--script", type=Path, required=True, help="a trace or script file")
    parser.add_argument("--out", type=Path, required=True, help="where to write the traces")
    parser.add_argument("--case", action="append", default=[], help="record only these cases")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5672)
    args = parser.parse_args(argv)
    data = json.loads(args.script.read_text(encoding="utf-8"))
    cases = [c for c in data["cases"] if not args.case or c["name"] in args.case]
    if not cases:
        print(f"no such case in {args.script}: {', '.join(args.case)}", file=sys.stderr)
        return 2
    recorder = Recorder(args.host, args.port)
    recorded = []
    for case in cases:
        print(f"recording {case['name']}", file=sys.stderr)
        recorded.append(recorder.record(script_of(case)))
    out = {
        "source": _versions(args.host, args.port),
        "description": data.get("description", "Delivery traces recorded by record_rabbitmq.py"),
        "cases": recorded,
    }
    args.out.write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
    print(f"{len(recorded)} cases written to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
