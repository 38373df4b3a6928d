"""SQS semantics through the boto3-shaped client, in simulated time (SQS Developer Guide and
API Reference). Each test derives its expectation from the documented rule it names."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
import simpy

from sim.brokers.sqs import DEDUP_INTERVAL, SQSClient, SQSError, SQSService
from sim.message import State


def _client() -> tuple[simpy.Environment, SQSClient, SQSService]:
    env = simpy.Environment()
    service = SQSService(env)
    return env, service.client(), service


def _sleep(env: simpy.Environment, seconds: float) -> None:
    env.run(until=env.now + seconds)


def _bodies(reply: dict[str, Any]) -> list[str]:
    return [m["Body"] for m in reply.get("Messages", [])]


def _counts(client: SQSClient, url: str) -> tuple[int, int, int]:
    names = [
        "ApproximateNumberOfMessages",
        "ApproximateNumberOfMessagesNotVisible",
        "ApproximateNumberOfMessagesDelayed",
    ]
    attrs = client.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
    return tuple(int(attrs[n]) for n in names)  # type: ignore[return-value]


def _receive(client: SQSClient, url: str, n: int = 10, **kw: Any) -> dict[str, Any]:
    return client.receive_message(
        QueueUrl=url, MaxNumberOfMessages=n, MessageSystemAttributeNames=["All"], **kw
    )


def test_visibility_timeout_hides_then_returns_with_a_new_handle_and_count() -> None:
    env, client, _ = _client()
    url = client.create_queue(QueueName="q", Attributes={"VisibilityTimeout": "4"})["QueueUrl"]
    client.send_message(QueueUrl=url, MessageBody="m")
    first = _receive(client, url)["Messages"][0]
    _sleep(env, 3.999)
    assert _receive(client, url) == {}  # still invisible just before the timeout
    assert _counts(client, url) == (0, 1, 0)
    _sleep(env, 0.001)
    second = _receive(client, url)["Messages"][0]
    assert second["MessageId"] == first["MessageId"]
    assert second["ReceiptHandle"] != first["ReceiptHandle"]
    assert second["Attributes"]["ApproximateReceiveCount"] == "2"


def test_visibility_timeout_per_receive_and_change_message_visibility() -> None:
    env, client, _ = _client()
    url = client.create_queue(QueueName="q", Attributes={"VisibilityTimeout": "30"})["QueueUrl"]
    client.send_message(QueueUrl=url, MessageBody="m")
    handle = _receive(client, url, VisibilityTimeout=2)["Messages"][0]["ReceiptHandle"]
    _sleep(env, 1)
    client.change_message_visibility(QueueUrl=url, ReceiptHandle=handle, VisibilityTimeout=5)
    _sleep(env, 4.5)  # 5.5 s after the receive: the change restarted the timeout from t=1
    assert _receive(client, url) == {}
    _sleep(env, 0.5)
    handle = _receive(client, url)["Messages"][0]["ReceiptHandle"]
    client.change_message_visibility(QueueUrl=url, ReceiptHandle=handle, VisibilityTimeout=0)
    assert _bodies(_receive(client, url)) == ["m"]  # visible again at once


def test_change_visibility_of_a_visible_message_is_an_error() -> None:
    env, client, _ = _client()
    url = client.create_queue(QueueName="q", Attributes={"VisibilityTimeout": "1"})["QueueUrl"]
    client.send_message(QueueUrl=url, MessageBody="m")
    handle = _receive(client, url)["Messages"][0]["ReceiptHandle"]
    _sleep(env, 2)
    with pytest.raises(SQSError) as error:
        client.change_message_visibility(QueueUrl=url, ReceiptHandle=handle, VisibilityTimeout=9)
    assert error.value.code == "AWS.SimpleQueueService.MessageNotInflight"


def test_delete_needs_the_latest_receipt_handle() -> None:
    env, client, service = _client()
    url = client.create_queue(QueueName="q", Attributes={"VisibilityTimeout": "1"})["QueueUrl"]
    client.send_message(QueueUrl=url, MessageBody="m")
    old = _receive(client, url)["Messages"][0]["ReceiptHandle"]
    _sleep(env, 1)
    new = _receive(client, url)["Messages"][0]["ReceiptHandle"]
    assert client.delete_message(QueueUrl=url, ReceiptHandle=old) == {}  # succeeds...
    assert _counts(client, url) == (0, 1, 0)  # ...but deletes nothing
    client.delete_message(QueueUrl=url, ReceiptHandle=new)
    assert _counts(client, url) == (0, 0, 0)
    assert service.recorder.acked == 1
    with pytest.raises(SQSError) as error:
        client.delete_message(QueueUrl=url, ReceiptHandle="garbage")
    assert error.value.code == "ReceiptHandleIsInvalid"


def test_max_number_of_messages_bounds_a_receive() -> None:
    _, client, _ = _client()
    url = client.create_queue(QueueName="q")["QueueUrl"]
    for i in range(15):
        client.send_message(QueueUrl=url, MessageBody=f"m{i}")
    assert len(_receive(client, url, 10)["Messages"]) == 10
    assert len(_receive(client, url, 3)["Messages"]) == 3
    assert len(_receive(client, url, 10)["Messages"]) == 2  # what is left
    for bad in (0, 11):
        with pytest.raises(SQSError) as error:
            _receive(client, url, bad)
        assert error.value.code == "InvalidParameterValue"


def test_standard_queue_hands_out_the_oldest_visible_first() -> None:
    # Best-effort order, modelled as send order; a message back from its timeout is older.
    env, client, _ = _client()
    url = client.create_queue(QueueName="q", Attributes={"VisibilityTimeout": "1"})["QueueUrl"]
    for body in ("a", "b", "c"):
        client.send_message(QueueUrl=url, MessageBody=body)
    assert _bodies(_receive(client, url, 1)) == ["a"]
    _sleep(env, 1)
    assert _bodies(_receive(client, url, 10)) == ["a", "b", "c"]


def test_md5_of_body_is_the_real_md5() -> None:
    _, client, _ = _client()
    url = client.create_queue(QueueName="q")["QueueUrl"]
    reply = client.send_message(QueueUrl=url, MessageBody="héllo")
    assert reply["MD5OfMessageBody"] == hashlib.md5("héllo".encode()).hexdigest()
    assert _receive(client, url)["Messages"][0]["MD5OfBody"] == reply["MD5OfMessageBody"]


def test_long_polling_returns_when_a_message_arrives_or_after_the_wait() -> None:
    env, client, _ = _client()
    url = client.create_queue(QueueName="q")["QueueUrl"]
    replies: list[tuple[float, list[str]]] = []

    def poller() -> Any:
        for _ in range(2):
            reply = yield from client.receive_message_wait(QueueUrl=url, WaitTimeSeconds=5)
            replies.append((env.now, _bodies(reply)))

    def sender() -> Any:
        yield env.timeout(2)
        client.send_message(QueueUrl=url, MessageBody="m")

    env.process(poller())
    env.process(sender())
    env.run(until=20)
    assert replies == [(2.0, ["m"]), (7.0, [])]  # at once on arrival; empty after 5 s


def test_short_polling_is_synchronous_and_refuses_a_wait() -> None:
    _, client, _ = _client()
    url = client.create_queue(QueueName="q", Attributes={"ReceiveMessageWaitTimeSeconds": "10"})[
        "QueueUrl"
    ]
    assert client.receive_message(QueueUrl=url, WaitTimeSeconds=0) == {}
    with pytest.raises(ValueError, match="receive_message_wait"):
        client.receive_message(QueueUrl=url)  # the queue's default wait is 10 s


def test_delay_seconds_hides_a_new_message() -> None:
    env, client, _ = _client()
    url = client.create_queue(QueueName="q", Attributes={"DelaySeconds": "5"})["QueueUrl"]
    client.send_message(QueueUrl=url, MessageBody="queue-delay")
    client.send_message(QueueUrl=url, MessageBody="own-delay", DelaySeconds=2)
    assert _counts(client, url) == (0, 0, 2)
    _sleep(env, 2)
    assert _bodies(_receive(client, url)) == ["own-delay"]  # the per-message value wins
    _sleep(env, 3)
    assert _bodies(_receive(client, url)) == ["queue-delay"]


def test_retention_expires_visible_and_in_flight_messages() -> None:
    env, client, service = _client()
    url = client.create_queue(
        QueueName="q", Attributes={"MessageRetentionPeriod": "60", "VisibilityTimeout": "100"}
    )["QueueUrl"]
    client.send_message(QueueUrl=url, MessageBody="held")
    client.send_message(QueueUrl=url, MessageBody="waiting")
    _receive(client, url, 1)
    _sleep(env, 59.9)
    assert _counts(client, url) == (1, 1, 0)
    _sleep(env, 0.1)
    assert _counts(client, url) == (0, 0, 0)
    assert service.recorder.states[State.EXPIRED] == 2


def test_redrive_moves_a_message_after_max_receive_count() -> None:
    env, client, service = _client()
    dlq = client.create_queue(QueueName="dlq")["QueueUrl"]
    arn = client.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]
    policy = f'{{"deadLetterTargetArn": "{arn["QueueArn"]}", "maxReceiveCount": "3"}}'
    url = client.create_queue(
        QueueName="q", Attributes={"VisibilityTimeout": "1", "RedrivePolicy": policy}
    )["QueueUrl"]
    message_id = client.send_message(QueueUrl=url, MessageBody="poison")["MessageId"]
    for count in (1, 2, 3):  # maxReceiveCount receives are allowed
        got = _receive(client, url)["Messages"][0]
        assert got["Attributes"]["ApproximateReceiveCount"] == str(count)
        _sleep(env, 1)
    assert _receive(client, url) == {}  # the 4th would exceed it: moved instead
    assert service.recorder.states[State.DEAD_LETTERED] == 1
    moved = _receive(client, dlq)["Messages"][0]
    assert moved["MessageId"] == message_id
    assert moved["Attributes"]["ApproximateReceiveCount"] == "4"  # the count carries over
    # Received from the DLQ it is in play again (sim/message.py, State): LIVE until it ends.
    assert service.recorder.states[State.DEAD_LETTERED] == 0
    assert service.recorder.states[State.LIVE] == 1
    assert client.list_dead_letter_source_queues(QueueUrl=dlq) == {"queueUrls": [url]}


def _fifo_with_dlq(client: SQSClient, max_receives: int) -> tuple[str, str]:
    dlq = client.create_queue(QueueName="d.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    arn = client.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]
    policy = f'{{"deadLetterTargetArn": "{arn["QueueArn"]}", "maxReceiveCount": {max_receives}}}'
    attrs = {"FifoQueue": "true", "VisibilityTimeout": "1", "RedrivePolicy": policy}
    return client.create_queue(QueueName="s.fifo", Attributes=attrs)["QueueUrl"], dlq


def test_fifo_redrive_moves_a_message_once_and_takes_it_out_of_its_group() -> None:
    # Developer Guide, dead-letter queues: the message moves once its receive count exceeds
    # maxReceiveCount; in a FIFO queue the group then continues with its next message.
    env, client, service = _client()
    url, dlq = _fifo_with_dlq(client, max_receives=1)
    for body in ("x1", "x2"):
        client.send_message(
            QueueUrl=url, MessageBody=body, MessageGroupId="G", MessageDeduplicationId=body
        )
    assert _bodies(_receive(client, url, 1)) == ["x1"]
    _sleep(env, 1)
    second = _receive(client, url)["Messages"]  # x1 moves instead; its group goes on with x2
    assert [m["Body"] for m in second] == ["x2"]
    client.delete_message(QueueUrl=url, ReceiptHandle=second[0]["ReceiptHandle"])
    for _ in range(3):  # later receives find nothing to move again
        _sleep(env, 1)
        assert _receive(client, url) == {}
        assert _counts(client, url) == (0, 0, 0)
        assert _counts(client, dlq) == (1, 0, 0)
    assert service.recorder.counters["redriven.s.fifo"] == 1
    assert service.recorder.states[State.DEAD_LETTERED] == 1  # counted where it ended
    moved = _receive(client, dlq)["Messages"]
    assert [m["Body"] for m in moved] == ["x1"]
    assert moved[0]["Attributes"]["ApproximateReceiveCount"] == "2"


def test_a_redriven_message_leaves_the_source_s_retention_clock() -> None:
    # The moved message belongs to the DLQ alone: the source's retention must not expire it
    # (and the DLQ's counts must not be disturbed by the source).
    env, client, service = _client()
    dlq = client.create_queue(QueueName="dlq", Attributes={"MessageRetentionPeriod": "1209600"})[
        "QueueUrl"
    ]
    arn = client.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]
    policy = f'{{"deadLetterTargetArn": "{arn["QueueArn"]}", "maxReceiveCount": 1}}'
    url = client.create_queue(
        QueueName="q",
        Attributes={
            "VisibilityTimeout": "1",
            "MessageRetentionPeriod": "60",
            "RedrivePolicy": policy,
        },
    )["QueueUrl"]
    client.send_message(QueueUrl=url, MessageBody="m")
    _receive(client, url)
    _sleep(env, 1)
    assert _receive(client, url) == {}  # moved
    _sleep(env, 100)  # past the source's retention period
    assert _counts(client, url) == (0, 0, 0)
    assert _counts(client, dlq) == (1, 0, 0)
    assert service.recorder.states[State.EXPIRED] == 0


def _fifo(client: SQSClient, **attributes: str) -> str:
    attrs = {"FifoQueue": "true", "VisibilityTimeout": "1", **attributes}
    return client.create_queue(QueueName="f.fifo", Attributes=attrs)["QueueUrl"]


def _send(client: SQSClient, url: str, body: str, group: str, dedup: str | None = None) -> dict:
    return client.send_message(
        QueueUrl=url, MessageBody=body, MessageGroupId=group, MessageDeduplicationId=dedup or body
    )


def test_fifo_group_with_a_message_in_flight_is_blocked() -> None:
    env, client, _ = _client()
    url = _fifo(client)
    for body, group in (("a1", "A"), ("b1", "B"), ("a2", "A")):
        _send(client, url, body, group)
    assert _bodies(_receive(client, url, 1)) == ["a1"]
    assert _bodies(_receive(client, url, 10)) == ["b1"]  # A is blocked while a1 is in flight
    _sleep(env, 1)
    # a1 came back: strict order within A, so a1 before a2 (never a2 alone).
    assert _bodies(_receive(client, url, 10)) == ["a1", "a2", "b1"]


def test_fifo_order_holds_after_a_later_message_is_deleted() -> None:
    env, client, _ = _client()
    url = _fifo(client)
    _send(client, url, "x1", "X")
    _send(client, url, "x2", "X")
    got = _receive(client, url, 10)["Messages"]
    assert [m["Body"] for m in got] == ["x1", "x2"]
    client.delete_message(QueueUrl=url, ReceiptHandle=got[1]["ReceiptHandle"])
    _sleep(env, 1)
    assert _bodies(_receive(client, url, 10)) == ["x1"]


def test_fifo_deduplication_interval_is_five_minutes() -> None:
    env, client, service = _client()
    url = _fifo(client)
    _send(client, url, "first", "G", dedup="d")
    _send(client, url, "copy", "G", dedup="d")  # accepted, not enqueued
    assert _counts(client, url)[0] == 1
    assert service.recorder.states[State.DROPPED] == 1
    _sleep(env, DEDUP_INTERVAL - 0.001)
    _send(client, url, "copy", "G", dedup="d")
    assert _counts(client, url)[0] == 1
    _sleep(env, 0.001)  # 5 minutes after the first accepted send
    _send(client, url, "after", "G", dedup="d")
    assert _counts(client, url)[0] == 2


def test_content_based_deduplication_hashes_the_body_with_sha256() -> None:
    _, client, _ = _client()
    url = _fifo(client, ContentBasedDeduplication="true")
    for group in ("g", "h"):  # deduplication scope: the whole queue
        client.send_message(QueueUrl=url, MessageBody="same", MessageGroupId=group)
    got = _receive(client, url)["Messages"]
    assert len(got) == 1
    expected = hashlib.sha256(b"same").hexdigest()
    assert got[0]["Attributes"]["MessageDeduplicationId"] == expected


def test_fifo_send_checks_and_sequence_numbers() -> None:
    _, client, _ = _client()
    url = _fifo(client)
    with pytest.raises(SQSError) as error:
        client.send_message(QueueUrl=url, MessageBody="x", MessageDeduplicationId="x")
    assert error.value.code == "MissingParameter"
    with pytest.raises(SQSError) as error:
        client.send_message(QueueUrl=url, MessageBody="x", MessageGroupId="g")
    assert error.value.code == "InvalidParameterValue"
    numbers = [int(_send(client, url, f"m{i}", "g")["SequenceNumber"]) for i in range(3)]
    assert numbers == sorted(numbers) and len(set(numbers)) == 3


def test_purge_and_unknown_queue() -> None:
    _, client, service = _client()
    url = client.create_queue(QueueName="q")["QueueUrl"]
    client.send_message(QueueUrl=url, MessageBody="m")
    client.purge_queue(QueueUrl=url)
    assert _counts(client, url) == (0, 0, 0)
    assert service.recorder.states[State.DROPPED] == 1  # purged
    with pytest.raises(SQSError) as error:
        client.send_message(QueueUrl=url + "x", MessageBody="m")
    assert error.value.code == "AWS.SimpleQueueService.NonExistentQueue"


# ----- batches, ChangeMessageVisibility limits, ReceiveRequestAttemptId -----


def test_send_message_batch_reports_each_entry_and_keeps_fifo_order() -> None:
    env, client, _ = _client()
    url = client.create_queue(QueueName="q")["QueueUrl"]
    reply = client.send_message_batch(
        QueueUrl=url,
        Entries=[
            {"Id": "late", "MessageBody": "late", "DelaySeconds": 5},
            {"Id": "bad", "MessageBody": "bad", "DelaySeconds": 901},  # over 15 minutes
            {"Id": "now", "MessageBody": "now"},
        ],
    )
    assert [e["Id"] for e in reply["Successful"]] == ["late", "now"]
    assert [(f["Id"], f["Code"], f["SenderFault"]) for f in reply["Failed"]] == [
        ("bad", "InvalidParameterValue", True)
    ]
    assert reply["Successful"][1]["MD5OfMessageBody"] == hashlib.md5(b"now").hexdigest()
    assert _counts(client, url) == (1, 0, 1)  # the per-entry DelaySeconds holds "late" back
    _sleep(env, 5)
    assert _bodies(_receive(client, url)) == ["late", "now"]
    fifo = _fifo(client)
    entries = [{"Id": f"m{i}", "MessageBody": f"m{i}", "MessageGroupId": "g"} for i in range(3)]
    for e in entries:
        e["MessageDeduplicationId"] = e["Id"]
    sent = client.send_message_batch(QueueUrl=fifo, Entries=entries)["Successful"]
    numbers = [int(e["SequenceNumber"]) for e in sent]
    assert numbers == sorted(numbers)
    assert _bodies(_receive(client, fifo)) == ["m0", "m1", "m2"]
    # FIFO queues take no per-message delay: that entry fails, the others go through.
    mixed = [dict(entries[0], Id="x", MessageDeduplicationId="x", DelaySeconds=1), entries[1]]
    reply = client.send_message_batch(QueueUrl=fifo, Entries=mixed)
    assert [f["Id"] for f in reply["Failed"]] == ["x"] and len(reply["Successful"]) == 1


@pytest.mark.parametrize(
    ("entries", "code"),
    [
        ([], "AWS.SimpleQueueService.EmptyBatchRequest"),
        (
            [{"Id": str(i)} for i in range(11)],
            "AWS.SimpleQueueService.TooManyEntriesInBatchRequest",
        ),
        ([{"Id": "a"}, {"Id": "a"}], "AWS.SimpleQueueService.BatchEntryIdsNotDistinct"),
        ([{"Id": "a b"}], "AWS.SimpleQueueService.InvalidBatchEntryId"),
        ([{"Id": "x" * 81}], "AWS.SimpleQueueService.InvalidBatchEntryId"),
    ],
)
def test_a_malformed_batch_fails_as_a_whole(entries: list[dict[str, str]], code: str) -> None:
    _, client, _ = _client()
    url = client.create_queue(QueueName="q")["QueueUrl"]
    calls = {
        "send_message_batch": [dict(e, MessageBody="m") for e in entries],
        "delete_message_batch": [dict(e, ReceiptHandle="q#1#1") for e in entries],
        "change_message_visibility_batch": [
            dict(e, ReceiptHandle="q#1#1", VisibilityTimeout=5) for e in entries
        ],
    }
    for name, batch in calls.items():
        with pytest.raises(SQSError) as error:
            getattr(client, name)(QueueUrl=url, Entries=batch)
        assert error.value.code == code, name
    assert _counts(client, url) == (0, 0, 0)


def test_a_batch_over_one_mebibyte_in_all_is_too_long() -> None:
    _, client, _ = _client()
    url = client.create_queue(QueueName="q")["QueueUrl"]
    half = "x" * (1_048_576 // 2)
    client.send_message_batch(
        QueueUrl=url, Entries=[{"Id": "a", "MessageBody": half}, {"Id": "b", "MessageBody": half}]
    )
    with pytest.raises(SQSError) as error:
        client.send_message_batch(
            QueueUrl=url,
            Entries=[{"Id": "a", "MessageBody": half}, {"Id": "b", "MessageBody": half + "y"}],
        )
    assert error.value.code == "AWS.SimpleQueueService.BatchRequestTooLong"


def test_delete_message_batch_deletes_each_and_reports_bad_handles() -> None:
    env, client, service = _client()
    url = client.create_queue(QueueName="q", Attributes={"VisibilityTimeout": "5"})["QueueUrl"]
    for body in ("a", "b", "c"):
        client.send_message(QueueUrl=url, MessageBody=body)
    handles = [m["ReceiptHandle"] for m in _receive(client, url)["Messages"]]
    reply = client.delete_message_batch(
        QueueUrl=url,
        Entries=[
            {"Id": "first", "ReceiptHandle": handles[0]},
            {"Id": "junk", "ReceiptHandle": "not-a-handle"},
            {"Id": "third", "ReceiptHandle": handles[2]},
        ],
    )
    assert [e["Id"] for e in reply["Successful"]] == ["first", "third"]
    assert [(f["Id"], f["Code"]) for f in reply["Failed"]] == [("junk", "ReceiptHandleIsInvalid")]
    assert _counts(client, url) == (0, 1, 0)  # b is still in flight
    assert service.recorder.acked == 2
    _sleep(env, 5)
    assert _bodies(_receive(client, url)) == ["b"]


def test_change_message_visibility_batch_reports_each_entry() -> None:
    _, client, _ = _client()
    url = client.create_queue(QueueName="q", Attributes={"VisibilityTimeout": "30"})["QueueUrl"]
    for body in ("a", "b", "c"):
        client.send_message(QueueUrl=url, MessageBody=body)
    handles = [m["ReceiptHandle"] for m in _receive(client, url, 2)["Messages"]]
    reply = client.change_message_visibility_batch(
        QueueUrl=url,
        Entries=[
            {"Id": "a", "ReceiptHandle": handles[0], "VisibilityTimeout": 0},
            {"Id": "b", "ReceiptHandle": handles[1], "VisibilityTimeout": 43201},
            {"Id": "junk", "ReceiptHandle": "nope", "VisibilityTimeout": 5},
        ],
    )
    assert reply["Successful"] == [{"Id": "a"}]
    assert [(f["Id"], f["Code"]) for f in reply["Failed"]] == [
        ("b", "InvalidParameterValue"),
        ("junk", "ReceiptHandleIsInvalid"),
    ]
    assert _bodies(_receive(client, url)) == ["a", "c"]  # a visible again at once, b not


def test_change_message_visibility_cannot_exceed_twelve_hours_since_the_receive() -> None:
    env, client, _ = _client()
    url = client.create_queue(QueueName="q")["QueueUrl"]
    client.send_message(QueueUrl=url, MessageBody="m")
    _sleep(env, 1000)  # time spent in the queue does not count: only since the receive
    handle = _receive(client, url)["Messages"][0]["ReceiptHandle"]
    client.change_message_visibility(QueueUrl=url, ReceiptHandle=handle, VisibilityTimeout=43200)
    _sleep(env, 100)
    with pytest.raises(SQSError) as error:  # 100 s gone: at most 43100 s are left
        client.change_message_visibility(
            QueueUrl=url, ReceiptHandle=handle, VisibilityTimeout=43101
        )
    assert error.value.code == "InvalidParameterValue"
    assert "Total VisibilityTimeout" in error.value.response["Error"]["Message"]
    client.change_message_visibility(QueueUrl=url, ReceiptHandle=handle, VisibilityTimeout=43100)
    _sleep(env, 43099.9)
    assert _receive(client, url) == {}
    _sleep(env, 0.1)
    assert _bodies(_receive(client, url)) == ["m"]


def test_receive_request_attempt_id_returns_the_same_messages_and_handles() -> None:
    env, client, _ = _client()
    url = _fifo(client, VisibilityTimeout="10")
    for body, group in (("a1", "A"), ("a2", "A"), ("b1", "B")):
        _send(client, url, body, group)
    first = _receive(client, url, 2, ReceiveRequestAttemptId="try-1")["Messages"]
    assert [m["Body"] for m in first] == ["a1", "a2"]
    _sleep(env, 8)
    again = _receive(client, url, 2, ReceiveRequestAttemptId="try-1")["Messages"]
    assert again == first  # same messages, same receipt handles, same receive counts
    _sleep(env, 8)  # 16 s after the first receive: the retry restarted the 10 s timeout
    assert _bodies(_receive(client, url, 10)) == ["b1"]  # A is still in flight
    _sleep(env, 2)
    assert _bodies(_receive(client, url, 10)) == ["a1", "a2"]  # now it is back


def test_a_receive_attempt_is_not_retryable_once_a_message_changed_or_after_5_minutes() -> None:
    env, client, _ = _client()
    url = _fifo(client, VisibilityTimeout="600")
    for body in ("a1", "a2"):
        _send(client, url, body, "A")
    got = _receive(client, url, 2, ReceiveRequestAttemptId="t")["Messages"]
    client.delete_message(QueueUrl=url, ReceiptHandle=got[1]["ReceiptHandle"])
    with pytest.raises(SQSError) as error:
        _receive(client, url, 2, ReceiveRequestAttemptId="t")
    assert error.value.code == "InvalidParameterValue"
    assert "ReceiveRequestAttemptId" in error.value.response["Error"]["Message"]
    _sleep(env, 300)  # an attempt id is usable for 5 minutes: then it is a new receive
    assert _receive(client, url, 2, ReceiveRequestAttemptId="t") == {}  # a1 is in flight
    with pytest.raises(SQSError):
        _receive(client, url, ReceiveRequestAttemptId="x" * 129)
    standard = client.create_queue(QueueName="s")["QueueUrl"]  # FIFO only: ignored here
    client.send_message(QueueUrl=standard, MessageBody="m")
    assert _bodies(_receive(client, standard, ReceiveRequestAttemptId="t")) == ["m"]
    assert _receive(client, standard, ReceiveRequestAttemptId="t") == {}
