"""SQS's per-queue quotas in the model: messages in flight (OverLimit), FIFO request rates in
normal and high-throughput mode, and the deduplication scope of high throughput. The rules and
their sources are in sim/brokers/sqs/quotas.py; small quotas keep the tests short."""

from __future__ import annotations

from typing import Any

import pytest
import simpy

from sim.brokers.sqs import SQSClient, SQSError, SQSService
from sim.brokers.sqs.quotas import Quotas


def _client(**quotas: Any) -> tuple[simpy.Environment, SQSClient]:
    env = simpy.Environment()
    return env, SQSService(env, quotas=Quotas(**quotas)).client()


def _bodies(reply: dict[str, Any]) -> list[str]:
    return [m["Body"] for m in reply.get("Messages", [])]


def test_defaults_are_the_documented_quotas() -> None:
    quotas = Quotas()
    assert quotas.max_inflight(fifo=False) == quotas.max_inflight(fifo=True) == 120_000
    assert quotas.fifo_transactions_per_second == 300
    assert quotas.high_throughput_transactions_per_second == 70_000


def test_a_standard_queue_at_its_in_flight_quota_refuses_a_short_poll() -> None:
    _, client = _client(max_inflight_standard=3)
    url = client.create_queue(QueueName="q", Attributes={"VisibilityTimeout": "5"})["QueueUrl"]
    for i in range(5):
        client.send_message(QueueUrl=url, MessageBody=f"m{i}")
    assert len(client.receive_message(QueueUrl=url, MaxNumberOfMessages=2)["Messages"]) == 2
    # One place left: a receive of up to 10 gets one.
    got = client.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert len(got) == 1
    with pytest.raises(SQSError) as error:
        client.receive_message(QueueUrl=url, MaxNumberOfMessages=10)
    assert error.value.code == "OverLimit"
    client.delete_message(QueueUrl=url, ReceiptHandle=got[0]["ReceiptHandle"])
    assert _bodies(client.receive_message(QueueUrl=url)) == ["m3"]


def test_long_polling_at_the_quota_waits_without_an_error() -> None:
    env, client = _client(max_inflight_standard=1)
    url = client.create_queue(QueueName="q", Attributes={"VisibilityTimeout": "60"})["QueueUrl"]
    for body in ("a", "b"):
        client.send_message(QueueUrl=url, MessageBody=body)
    handle = client.receive_message(QueueUrl=url)["Messages"][0]["ReceiptHandle"]
    replies: list[tuple[float, list[str]]] = []

    def poller() -> Any:
        reply = yield from client.receive_message_wait(QueueUrl=url, WaitTimeSeconds=20)
        replies.append((env.now, _bodies(reply)))

    def deleter() -> Any:
        yield env.timeout(3)
        client.delete_message(QueueUrl=url, ReceiptHandle=handle)

    env.process(poller())
    env.process(deleter())
    env.run(until=30)
    assert replies == [(3.0, ["b"])]  # served as soon as the delete made room


def test_a_fifo_queue_at_its_in_flight_quota_returns_nothing_without_an_error() -> None:
    _, client = _client(max_inflight_fifo=2)
    url = client.create_queue(QueueName="f.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    for i, group in enumerate("abc"):
        client.send_message(
            QueueUrl=url, MessageBody=f"m{i}", MessageGroupId=group, MessageDeduplicationId=str(i)
        )
    assert len(client.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]) == 2
    assert client.receive_message(QueueUrl=url, MaxNumberOfMessages=10) == {}


def _fifo(client: SQSClient, high_throughput: bool) -> str:
    attributes = {"FifoQueue": "true", "ContentBasedDeduplication": "true"}
    if high_throughput:
        attributes |= {
            "DeduplicationScope": "messageGroup",
            "FifoThroughputLimit": "perMessageGroupId",
        }
    return client.create_queue(QueueName="f.fifo", Attributes=attributes)["QueueUrl"]


def test_a_fifo_queue_takes_so_many_calls_per_second_per_action() -> None:
    env, client = _client(fifo_transactions_per_second=3)
    url = _fifo(client, high_throughput=False)
    for i in range(3):
        client.send_message(QueueUrl=url, MessageBody=f"m{i}", MessageGroupId=f"g{i}")
    with pytest.raises(SQSError) as error:  # a 4th send in the same second, any group
        client.send_message(QueueUrl=url, MessageBody="m3", MessageGroupId="g9")
    assert error.value.code == "RequestThrottled"
    # Another action has its own quota; a batch is one call.
    assert len(client.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]) == 3
    env.run(until=1)  # the next second
    batch = [{"Id": f"b{i}", "MessageBody": f"b{i}", "MessageGroupId": "g"} for i in range(10)]
    assert len(client.send_message_batch(QueueUrl=url, Entries=batch)["Successful"]) == 10
    client.send_message(QueueUrl=url, MessageBody="x", MessageGroupId="g")
    client.send_message(QueueUrl=url, MessageBody="y", MessageGroupId="g")
    with pytest.raises(SQSError):
        client.send_message(QueueUrl=url, MessageBody="z", MessageGroupId="g")
    # Standard queues: "nearly unlimited".
    standard = client.create_queue(QueueName="s")["QueueUrl"]
    for i in range(10):
        client.send_message(QueueUrl=standard, MessageBody=str(i))


def test_high_throughput_applies_the_quota_per_message_group_under_a_queue_ceiling() -> None:
    env, client = _client(fifo_transactions_per_second=2, high_throughput_transactions_per_second=5)
    url = _fifo(client, high_throughput=True)
    for group in ("a", "a", "b", "b"):
        client.send_message(QueueUrl=url, MessageBody=f"{group}{env.now}", MessageGroupId=group)
    with pytest.raises(SQSError) as error:  # group a has had its 2 this second...
        client.send_message(QueueUrl=url, MessageBody="a-again", MessageGroupId="a")
    assert error.value.code == "RequestThrottled"
    client.send_message(QueueUrl=url, MessageBody="c1", MessageGroupId="c")  # ...c has not
    with pytest.raises(SQSError):  # but the queue has had its 5
        client.send_message(QueueUrl=url, MessageBody="d1", MessageGroupId="d")
    env.run(until=1)
    client.send_message(QueueUrl=url, MessageBody="a-next-second", MessageGroupId="a")


def test_fifo_throughput_attributes_are_checked_and_echoed() -> None:
    _, client = _client()
    url = _fifo(client, high_throughput=True)
    attrs = client.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attrs["DeduplicationScope"] == "messageGroup"
    assert attrs["FifoThroughputLimit"] == "perMessageGroupId"
    bad = [
        {"DeduplicationScope": "everywhere"},
        {"FifoThroughputLimit": "perMessageGroupId"},  # needs DeduplicationScope messageGroup
    ]
    for extra in bad:
        with pytest.raises(SQSError) as error:
            client.create_queue(QueueName="g.fifo", Attributes={"FifoQueue": "true", **extra})
        assert error.value.code == "InvalidAttributeValue"


def test_message_group_deduplication_scope_dedups_within_a_group_only() -> None:
    for high_throughput, expected in ((False, ["same"]), (True, ["same", "same"])):
        _, client = _client()
        url = _fifo(client, high_throughput)
        for group in ("a", "b", "a"):
            client.send_message(QueueUrl=url, MessageBody="same", MessageGroupId=group)
        assert _bodies(client.receive_message(QueueUrl=url, MaxNumberOfMessages=10)) == expected
