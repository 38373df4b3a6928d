"""The SQS service and a client with boto3's method names, arguments and response shapes.

`SQSService` holds the queues of one simulated AWS account and region. `SQSClient` is what a
script or a simulated application calls, like `boto3.client("sqs")`:

    sqs = SQSService(env, recorder)
    client = sqs.client()
    url = client.create_queue(QueueName="jobs", Attributes={"VisibilityTimeout": "5"})["QueueUrl"]
    client.send_message(QueueUrl=url, MessageBody="hello")
    reply = client.receive_message(QueueUrl=url, MaxNumberOfMessages=10)  # short polling

Every call takes effect at the environment's current time (`env.now`); advance time between
calls with `env.run(until=env.now + seconds)`. `receive_message` is synchronous: it returns at
once (short polling) and refuses a WaitTimeSeconds above 0. Long polling waits in simulated
time, so it is a generator to run inside a SimPy process:

    reply = yield from client.receive_message_wait(QueueUrl=url, WaitTimeSeconds=20)

Errors are raised as `SQSError`, shaped like botocore's ClientError (`error.response["Error"]
["Code"]`), with the codes and messages of the SQS API Reference.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import uuid
from collections.abc import Generator, Iterator
from typing import Any

import simpy

from sim.brokers.sqs.queue import Entry, EntryState, QueueSettings, SQSQueue
from sim.message import Message
from sim.metrics import Recorder

__all__ = ["ACCOUNT", "ENDPOINT", "SQSClient", "SQSError", "SQSService"]

ACCOUNT = "123456789012"
REGION = "us-east-1"
ENDPOINT = f"https://sqs.{REGION}.amazonaws.com"
SENDER_ID = "AIDAIT2UOQQY3AUEKVGXU"  # the simulated caller's IAM user id (moto's default)
EPOCH_MS = 1_700_000_000_000  # simulated time 0 as a Unix time in milliseconds


class SQSError(Exception):
    """An SQS error response, shaped like botocore.exceptions.ClientError."""

    def __init__(self, code: str, message: str, operation: str = "") -> None:
        super().__init__(
            f"An error occurred ({code}) when calling the {operation} operation: {message}"
        )
        self.response = {"Error": {"Code": code, "Message": message}}
        self.code = code


def _invalid(message: str) -> SQSError:
    return SQSError("InvalidParameterValue", message)


def _bool(value: Any) -> bool:
    return str(value).lower() == "true"


class SQSService:
    """The queues of one simulated account; messages report to `recorder`."""

    def __init__(
        self,
        env: simpy.Environment,
        recorder: Recorder | None = None,
        message_ids: Iterator[int] | None = None,
    ) -> None:
        self.env = env
        self.recorder = recorder if recorder is not None else Recorder(env)
        self.message_ids = message_ids if message_ids is not None else itertools.count(1)
        self.queues: dict[str, SQSQueue] = {}
        self.attributes: dict[str, dict[str, str]] = {}  # as given at creation, for echoing
        self._uuids = itertools.count(1)

    def client(self) -> SQSClient:
        return SQSClient(self)

    # ----- names -----
    @staticmethod
    def url(name: str) -> str:
        return f"{ENDPOINT}/{ACCOUNT}/{name}"

    @staticmethod
    def arn(name: str) -> str:
        return f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"

    def queue_by_url(self, url: str) -> SQSQueue:
        name = url.rsplit("/", 1)[-1]
        if url != self.url(name) or name not in self.queues:
            raise SQSError(
                "AWS.SimpleQueueService.NonExistentQueue", "The specified queue does not exist."
            )
        return self.queues[name]

    def queue_by_arn(self, arn: str) -> SQSQueue:
        name = arn.rsplit(":", 1)[-1]
        if arn != self.arn(name) or name not in self.queues:
            raise _invalid(f"Value {arn} for parameter RedrivePolicy is invalid. Reason: no queue")
        return self.queues[name]

    def new_message_id(self) -> str:
        """A UUID like AWS's MessageId, from a counter: the same in every run."""
        return str(uuid.UUID(int=next(self._uuids), version=4))

    # ----- queues -----
    def create(self, name: str, settings: QueueSettings, attributes: dict[str, str]) -> SQSQueue:
        if name in self.queues:
            return self.queues[name]
        queue = SQSQueue(self.env, self.recorder, name, settings, lambda n: self.queues[n])
        self.queues[name] = queue
        self.attributes[name] = dict(attributes)
        return queue

    def send(
        self,
        queue: SQSQueue,
        msg: Message,
        body: str,
        delay: float | None = None,
        group: str | None = None,
        dedup_id: str | None = None,
    ) -> tuple[Entry | None, str]:
        """Store `msg` (already produced) in `queue`; (its entry or None if deduplicated, id)."""
        settings = queue.settings
        message_id = self.new_message_id()
        self.recorder.published_message(msg, queue.name)
        if settings.fifo:
            if dedup_id is None and settings.content_based_deduplication:
                dedup_id = hashlib.sha256(body.encode()).hexdigest()
            if dedup_id is not None and queue.is_duplicate(dedup_id):
                # Accepted, never delivered (Developer Guide, exactly-once processing): the
                # copy ends here as `dropped`.
                queue.recorder.count(f"deduplicated.{queue.name}")
                queue.recorder.dropped(msg, queue.name)
                return None, message_id
        wait = settings.delay if delay is None else delay
        return queue.enqueue(msg, message_id, body, wait, group, dedup_id), message_id


class SQSClient:
    """boto3's SQS client methods, in simulated time (see the module docstring)."""

    def __init__(self, service: SQSService) -> None:
        self.service = service

    # ----- queues -----
    def create_queue(self, QueueName: str, Attributes: dict[str, str] | None = None) -> dict:
        attributes = dict(Attributes or {})
        fifo = _bool(attributes.get("FifoQueue", "false"))
        if fifo != QueueName.endswith(".fifo"):
            raise _invalid(
                "The name of a FIFO queue can only include alphanumeric characters, "
                "hyphens, or underscores, must end with .fifo suffix"
            )
        redrive = json.loads(attributes.get("RedrivePolicy", "null") or "null")
        dlq = max_receives = None
        if redrive is not None:
            dlq = self.service.queue_by_arn(redrive["deadLetterTargetArn"]).name
            max_receives = int(redrive["maxReceiveCount"])
            if not 1 <= max_receives <= 1000:
                raise _invalid("maxReceiveCount must be between 1 and 1000")
        settings = QueueSettings(
            fifo=fifo,
            visibility_timeout=float(attributes.get("VisibilityTimeout", 30)),
            message_retention=float(attributes.get("MessageRetentionPeriod", 345600)),
            delay=float(attributes.get("DelaySeconds", 0)),
            receive_wait_time=float(attributes.get("ReceiveMessageWaitTimeSeconds", 0)),
            content_based_deduplication=_bool(attributes.get("ContentBasedDeduplication", "")),
            max_receive_count=max_receives,
            dead_letter_queue=dlq,
        )
        self.service.create(QueueName, settings, attributes)
        return {"QueueUrl": self.service.url(QueueName)}

    def get_queue_url(self, QueueName: str) -> dict:
        url = self.service.url(QueueName)
        self.service.queue_by_url(url)  # raises NonExistentQueue
        return {"QueueUrl": url}

    def get_queue_attributes(self, QueueUrl: str, AttributeNames: list[str] | None = None) -> dict:
        queue = self.service.queue_by_url(QueueUrl)
        queue.advance()
        s = queue.settings
        values: dict[str, str] = {
            "QueueArn": self.service.arn(queue.name),
            "ApproximateNumberOfMessages": str(queue.visible_count),
            "ApproximateNumberOfMessagesNotVisible": str(queue.inflight_count),
            "ApproximateNumberOfMessagesDelayed": str(queue.delayed_count),
            "VisibilityTimeout": f"{s.visibility_timeout:g}",
            "MessageRetentionPeriod": f"{s.message_retention:g}",
            "DelaySeconds": f"{s.delay:g}",
            "ReceiveMessageWaitTimeSeconds": f"{s.receive_wait_time:g}",
        }
        if s.fifo:
            values["FifoQueue"] = "true"
            values["ContentBasedDeduplication"] = str(s.content_based_deduplication).lower()
        if s.dead_letter_queue is not None:
            policy = {
                "deadLetterTargetArn": self.service.arn(s.dead_letter_queue),
                "maxReceiveCount": s.max_receive_count,
            }
            values["RedrivePolicy"] = json.dumps(policy)
        names = AttributeNames or []
        if "All" in names:
            return {"Attributes": values}
        return {"Attributes": {n: values[n] for n in names if n in values}}

    def list_dead_letter_source_queues(self, QueueUrl: str) -> dict:
        target = self.service.queue_by_url(QueueUrl).name
        sources = [
            self.service.url(q.name)
            for q in self.service.queues.values()
            if q.settings.dead_letter_queue == target
        ]
        return {"queueUrls": sources}

    def purge_queue(self, QueueUrl: str) -> dict:
        self.service.queue_by_url(QueueUrl).purge()
        return {}

    # ----- sending -----
    def send_message(
        self,
        QueueUrl: str,
        MessageBody: str,
        DelaySeconds: int | None = None,
        MessageGroupId: str | None = None,
        MessageDeduplicationId: str | None = None,
    ) -> dict:
        queue = self.service.queue_by_url(QueueUrl)
        settings = queue.settings
        if settings.fifo:
            if MessageGroupId is None:
                raise SQSError(
                    "MissingParameter", "The request must contain the parameter MessageGroupId."
                )
            if MessageDeduplicationId is None and not settings.content_based_deduplication:
                raise _invalid(
                    "The queue should either have ContentBasedDeduplication enabled or "
                    "MessageDeduplicationId provided explicitly"
                )
            if DelaySeconds is not None:  # FIFO queues have a queue-level delay only
                raise _invalid(
                    f"Value {DelaySeconds} for parameter DelaySeconds is invalid. Reason: The "
                    "request include parameter that is not valid for this queue type."
                )
        elif DelaySeconds is not None and not 0 <= DelaySeconds <= 900:
            raise _invalid(f"Value {DelaySeconds} for parameter DelaySeconds is invalid.")
        service, env = self.service, self.service.env
        msg = Message(next(service.message_ids), env.now, len(MessageBody.encode()))
        service.recorder.produced_message(msg, "client")
        entry, message_id = service.send(
            queue, msg, MessageBody, DelaySeconds, MessageGroupId, MessageDeduplicationId
        )
        reply = {"MD5OfMessageBody": _md5(MessageBody), "MessageId": message_id}
        if settings.fifo:
            # A deduplicated send gets a fresh number too (what AWS returns was not verified).
            reply["SequenceNumber"] = (
                entry.sequence_number if entry is not None else str(queue.next_sequence_number())
            )
        return reply

    def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, Any]]) -> dict:
        ids = [e["Id"] for e in Entries]
        repeated = next((i for i in ids if ids.count(i) > 1), None)
        if repeated is not None:
            raise SQSError(
                "AWS.SimpleQueueService.BatchEntryIdsNotDistinct", f"Id {repeated} repeated."
            )
        if not 1 <= len(Entries) <= 10:
            raise SQSError(
                "AWS.SimpleQueueService.TooManyEntriesInBatchRequest",
                f"Maximum number of entries per request are 10. You have sent {len(Entries)}.",
            )
        successful = []
        for e in Entries:
            args = {k: v for k, v in e.items() if k != "Id"}
            reply = self.send_message(QueueUrl=QueueUrl, **args)
            successful.append({"Id": e["Id"], **reply})
        return {"Successful": successful, "Failed": []}

    # ----- receiving -----
    def _receive_args(
        self, QueueUrl: str, MaxNumberOfMessages: int, VisibilityTimeout: int | None
    ) -> SQSQueue:
        if not 1 <= MaxNumberOfMessages <= 10:
            raise _invalid(
                f"Value {MaxNumberOfMessages} for parameter MaxNumberOfMessages is invalid. "
                "Reason: must be between 1 and 10, if provided."
            )
        if VisibilityTimeout is not None and not 0 <= VisibilityTimeout <= 43200:
            raise _invalid(f"Value {VisibilityTimeout} for parameter VisibilityTimeout is invalid.")
        return self.service.queue_by_url(QueueUrl)

    def receive_message(
        self,
        QueueUrl: str,
        MaxNumberOfMessages: int = 1,
        WaitTimeSeconds: int | None = None,
        VisibilityTimeout: int | None = None,
        MessageSystemAttributeNames: list[str] | None = None,
        AttributeNames: list[str] | None = None,
    ) -> dict:
        """Short polling, at once: `receive_message_wait` is the long-polling form."""
        queue = self._receive_args(QueueUrl, MaxNumberOfMessages, VisibilityTimeout)
        wait = queue.settings.receive_wait_time if WaitTimeSeconds is None else WaitTimeSeconds
        if wait > 0:
            raise ValueError(
                "long polling waits in simulated time: use "
                "`yield from client.receive_message_wait(...)` inside a SimPy process"
            )
        taken = queue.receive(MaxNumberOfMessages, VisibilityTimeout)
        return self._reply(queue, taken, MessageSystemAttributeNames or AttributeNames)

    def receive_message_wait(
        self,
        QueueUrl: str,
        MaxNumberOfMessages: int = 1,
        WaitTimeSeconds: int | None = None,
        VisibilityTimeout: int | None = None,
        MessageSystemAttributeNames: list[str] | None = None,
        AttributeNames: list[str] | None = None,
    ) -> Generator[Any, Any, dict]:
        """ReceiveMessage with long polling: it returns when a message is available or after
        WaitTimeSeconds (default: the queue's ReceiveMessageWaitTimeSeconds)."""
        queue = self._receive_args(QueueUrl, MaxNumberOfMessages, VisibilityTimeout)
        wait = queue.settings.receive_wait_time if WaitTimeSeconds is None else WaitTimeSeconds
        if not 0 <= wait <= 20:
            raise _invalid(f"Value {wait} for parameter WaitTimeSeconds is invalid.")
        taken = yield from queue.wait_receive(MaxNumberOfMessages, VisibilityTimeout, wait)
        return self._reply(queue, taken, MessageSystemAttributeNames or AttributeNames)

    def _reply(self, queue: SQSQueue, taken: list[Entry], names: list[str] | None) -> dict:
        if not taken:
            return {}  # boto3 omits Messages when none came back
        messages = []
        for entry in taken:
            item: dict[str, Any] = {
                "MessageId": entry.message_id,
                "ReceiptHandle": entry.handle,
                "MD5OfBody": _md5(entry.body),
                "Body": entry.body,
            }
            if names:
                item["Attributes"] = _system_attributes(entry, names)
            messages.append(item)
        return {"Messages": messages}

    # ----- settling -----
    def _entry(self, QueueUrl: str, ReceiptHandle: str, operation: str) -> tuple[SQSQueue, Any]:
        queue = self.service.queue_by_url(QueueUrl)
        queue.advance()
        try:
            return queue, queue.find(ReceiptHandle)
        except KeyError:
            raise SQSError(
                "ReceiptHandleIsInvalid", "The input receipt handle is invalid.", operation
            ) from None

    def delete_message(self, QueueUrl: str, ReceiptHandle: str) -> dict:
        """Deletes only with the latest receipt handle; a stale one, or a message already
        deleted, succeeds without effect (API Reference, DeleteMessage)."""
        queue, (entry, latest) = self._entry(QueueUrl, ReceiptHandle, "DeleteMessage")
        if entry is not None and latest:
            queue.delete(entry)
        return {}

    def change_message_visibility(
        self, QueueUrl: str, ReceiptHandle: str, VisibilityTimeout: int
    ) -> dict:
        queue, (entry, latest) = self._entry(QueueUrl, ReceiptHandle, "ChangeMessageVisibility")
        if entry is None:
            raise SQSError("ReceiptHandleIsInvalid", "The input receipt handle is invalid.")
        if not 0 <= VisibilityTimeout <= 43200:
            raise _invalid(f"Value {VisibilityTimeout} for parameter VisibilityTimeout is invalid.")
        if not latest or entry.state is not EntryState.INFLIGHT:
            raise SQSError(
                "AWS.SimpleQueueService.MessageNotInflight", "The message is not in flight."
            )
        queue.change_visibility(entry, float(VisibilityTimeout))
        return {}


def _md5(body: str) -> str:
    return hashlib.md5(body.encode()).hexdigest()  # SQS checksums bodies with MD5


def _ms(seconds: float) -> str:
    return str(EPOCH_MS + round(seconds * 1000))


def _system_attributes(entry: Entry, names: list[str]) -> dict[str, str]:
    values = {
        "SenderId": SENDER_ID,
        "SentTimestamp": _ms(entry.sent_at),
        "ApproximateReceiveCount": str(entry.receive_count),
        "ApproximateFirstReceiveTimestamp": _ms(entry.first_receive_at or 0.0),
    }
    if entry.group is not None:
        if entry.dedup_id is not None:
            values["MessageDeduplicationId"] = entry.dedup_id
        values["MessageGroupId"] = entry.group
        values["SequenceNumber"] = entry.sequence_number or ""
    if "All" in names:
        return values
    return {n: values[n] for n in names if n in values}
