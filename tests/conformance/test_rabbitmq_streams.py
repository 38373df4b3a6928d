"""Replay the stream traces recorded on a real RabbitMQ 3.10.8
(tests/data/rabbitmq_stream_traces.json, recorded by tools/record_rabbitmq.py from
tools/rabbitmq_stream_cases.json) through mqsim's client API, as test_rabbitmq_delivery.py
replays the queue traces.

What they pin down: where each x-stream-offset starts (first, last, next, the default next, an
offset, one past the end), that every delivery carries its offset in `x-stream-offset` and is never
flagged redelivered, that prefetch is credit per reader, that reading removes nothing (a new reader
from `first` gets everything again) and a closed channel returns nothing (the client says where to
go on), that a fanout copy to a stream and a quorum queue is read by every stream reader but by one
queue consumer, and what a stream refuses: basic.consume without a prefetch (406) or with auto-ack
(540), basic.get (540), basic.nack and basic.reject on 3.10 (540), queue arguments of other queue
types (406). An action the broker refused carries its AMQP reply code as `error`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sim.brokers.rabbitmq import PreconditionFailed
from sim.brokers.rabbitmq.errors import NotImplementedByQueue
from tests.conformance.test_rabbitmq_delivery import Replay, _cases

STREAMS = Path(__file__).resolve().parents[1] / "data" / "rabbitmq_stream_traces.json"
ERRORS: dict[int, type[Exception]] = {406: PreconditionFailed, 540: NotImplementedByQueue}


class StreamReplay(Replay):
    """The queue-trace replay, with consumer arguments and refused actions."""

    def run(self) -> None:
        for index, event in enumerate(self.case["events"]):
            handler = getattr(self, f"do_{event['op']}")
            error = event.get("error")
            try:
                if error is None:
                    handler(event)
                else:
                    with pytest.raises(ERRORS[error["code"]]):
                        handler(event)
            except AssertionError as failure:
                raise AssertionError(f"event {index} {event['op']}: {failure}") from None
        assert self.received == [], f"deliveries the broker never made: {self.received}"

    def do_basic_consume(self, event: dict[str, Any]) -> None:
        channel = self.channel(event["consumer"])
        channel.basic_qos(prefetch_count=event["prefetch"])
        channel.basic_consume(
            event["queue"],
            self.on_message,
            auto_ack=event.get("auto_ack", False),
            consumer_tag=event["consumer"],
            arguments=event.get("arguments"),
        )

    def do_channel_close(self, event: dict[str, Any]) -> None:
        super().do_channel_close(event)
        self.channels.pop(event["consumer"])  # consuming again opens a new channel

    def do_basic_get(self, event: dict[str, Any]) -> None:
        if "error" in event:
            self.admin.basic_get(event["queue"], auto_ack=event["auto_ack"])
            return
        super().do_basic_get(event)


@pytest.mark.parametrize("case", _cases(STREAMS))
def test_stream_trace_agrees_with_rabbitmq(case: dict[str, Any] | None) -> None:
    assert case is not None, f"recorded data missing: {STREAMS}"
    StreamReplay(case).run()


def test_the_stream_traces_come_from_rabbitmq_3_10_and_refuse_what_the_docs_say() -> None:
    """The file is what the replay above checks against: a real 3.10.8 broker's answers."""
    data = json.loads(STREAMS.read_text(encoding="utf-8"))
    assert data["source"]["version"] == "3.10.8"
    refused = {
        c["name"]: e["error"]["code"] for c in data["cases"] for e in c["events"] if "error" in e
    }
    assert refused == {
        "st5_no_prefetch_refused": 406,
        "st6_auto_ack_refused": 540,
        "st7_basic_get_refused": 540,
        "st8_nack_on_a_stream": 540,
        "st9_reject_on_a_stream": 540,
        "st10_queue_arguments_refused": 406,
    }
