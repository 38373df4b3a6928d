"""SQS producers that send with SendMessageBatch (`batch`, `batch_wait`): a call carries up to
10 messages, takes one call latency for all of them, and is billed per 64 KiB of payload; one
message per call stays the default."""

from __future__ import annotations

from typing import Any

import pytest

import sim


def run(producer: dict[str, Any], cost: dict[str, Any] | None = None) -> sim.Results:
    broker: dict[str, Any] = {"type": "sqs", "queues": [{"name": "q"}]}
    if cost is not None:
        broker["cost"] = cost
    data = {
        "name": "batches",
        "seed": 4,
        "duration": 4.0,
        "broker": broker,
        "producers": [{"name": "p", "to": "q", "arrivals": "constant", **producer}],
        "consumers": [{"name": "c", "from": "q", "max_messages": 10, "wait_time": "1s"}],
    }
    return sim.run(sim.Scenario.from_dict(data))


def test_a_full_batch_is_one_call_and_takes_one_call_latency() -> None:
    cost = {"send_latency": "20ms", "receive_latency": "0ms"}
    one = run({"rate": 1000, "message_size": 100}, cost)
    batched = run({"rate": 1000, "message_size": 100, "batch": 10}, cost)
    produced = batched.summary["produced"]
    assert batched.summary["sqs.send_calls.q"] == pytest.approx(produced / 10, abs=1)
    assert batched.summary["sqs.billed_requests.q"] == batched.summary["sqs.send_calls.q"]
    assert "sqs.send_calls.q" not in one.summary  # SendMessage per message: no batch calls
    # At 1000/s a batch of 10 fills in 9 ms: its messages wait 4.5 ms on average for it,
    # then all of them the one 20 ms call.
    assert one.summary["latency_mean"] == pytest.approx(0.020, rel=0.05)
    assert batched.summary["latency_mean"] == pytest.approx(0.020 + 0.0045, rel=0.05)
    assert batched.summary["latency_p99"] == pytest.approx(0.029, rel=0.05)


def test_a_slow_producer_s_batch_is_sent_after_batch_wait() -> None:
    batched = run({"rate": 10, "message_size": 100, "batch": 10, "batch_wait": "50ms"})
    # One message every 100 ms: each call holds one message, sent 50 ms after it.
    assert batched.summary["sqs.send_calls.q"] == batched.summary["produced"]
    assert batched.summary["latency_p50"] == pytest.approx(0.050, rel=0.02)


def test_a_call_is_billed_per_64_kib_of_its_payload_and_stays_under_the_size_limit() -> None:
    batched = run({"rate": 1000, "message_size": "200KiB", "batch": 10})
    calls = batched.summary["sqs.send_calls.q"]
    # 1 MiB a call at most (SendMessageBatch): five 200 KiB messages, 1000 KiB, 16 chunks
    assert calls == pytest.approx(batched.summary["produced"] / 5, abs=1)
    assert batched.summary["sqs.billed_requests.q"] == pytest.approx(16 * calls, abs=16)


def test_without_batching_the_sender_is_the_one_message_per_call_one() -> None:
    cost = {"send_latency": "exp(20ms)"}
    plain = run({"rate": 200, "message_size": 100}, cost)
    again = run({"rate": 200, "message_size": 100, "batch": 1, "batch_wait": "1s"}, cost)
    assert plain.summary == again.summary
