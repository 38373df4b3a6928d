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
["Code"]`), with the codes and messages of the SQS API Reference. The codes are what boto3 shows
for SQS's JSON protocol, the query-compatible ones (`AWS.SimpleQueueService.EmptyBatchRequest`,
`ReceiptHandleIsInvalid`, `OverLimit`...: the awsQueryError codes of AWS's service model, as in
aws-sdk-js-v3's SQS schema). Batch calls (`send_message_batch`, `delete_message_batch`,
`change_message_visibility_batch`) take up to 10 entries and report each entry's failure in
`Failed` ({Id, SenderFault, Code, Message}) beside `Successful`; only a malformed batch fails as
a whole (API Reference, SendMessageBatch: "the batch request can result in a combination of
successful and unsuccessful actions"). The per-queue quotas (messages in flight, FIFO request
rates) are in sim/brokers/sqs/quotas.py.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from collections.abc import Callable, Generator, Hashable, Iterable, Iterator
from typing import Any

import simpy

from sim.brokers.sqs.queue import (
    Entry,
    EntryState,
    QueueSettings,
    SQSQueue,
    StaleReceiveAttempt,
    message_id_of,
)
from sim.brokers.sqs.quotas import Quotas, RequestCounter
from sim.message import Message
from sim.metrics import Recorder

__all__ = ["ACCOUNT", "ENDPOINT", "SQSClient", "SQSError", "SQSService"]

ACCOUNT = "123456789012"
REGION = "us-east-1"
ENDPOINT = f"https://sqs.{REGION}.amazonaws.com"
SENDER_ID = "AIDAIT2UOQQY3AUEKVGXU"  # the simulated caller's IAM user id (moto's default)
EPOCH_MS = 1_700_000_000_000  # simulated time 0 as a Unix time in milliseconds

# Limits of the API Reference: ChangeMessageVisibility / ReceiveMessage VisibilityTimeout
# "Values range: 0 to 43200. Maximum: 12 hours", and 12 hours in all since the receive ("you
# can't extend the timeout of a message ... to more than a total visibility timeout of 12
# hours"; "If you attempt to set the VisibilityTimeout to a value greater than the maximum time
# left, Amazon SQS returns an error"); SendMessage DelaySeconds "Valid values: 0 to 900".
MAX_VISIBILITY_TIMEOUT = 43200
MAX_DELAY_SECONDS = 900
# SendMessageBatch and the other batch actions: "up to 10" entries (Developer Guide,
# quotas-messages.html, "Message batch"); an entry Id "can have up to 80 characters ...
# alphanumeric characters, hyphens (-), and underscores (_)" ("Batched message ID"); "the
# maximum total payload size (the sum of the individual lengths of all of the batched
# messages)" is 1 MiB (API Reference, SendMessageBatch).
MAX_BATCH_ENTRIES = 10
MAX_BATCH_BYTES = 1_048_576
_BATCH_ENTRY_ID = re.compile(r"[A-Za-z0-9_-]{1,80}")
# ReceiveRequestAttemptId: "The maximum length ... is 128 characters" of alphanumeric
# characters and punctuation (API Reference, ReceiveMessage).
_ATTEMPT_ID = re.compile(r"[A-Za-z0-9!-/:-@\[-`{-~]{1,128}")
# What SQS said when a standard queue's in-flight quota was reached (an OverLimit reply quoted
# in github.com/Cbsoftware/pressureNET-server issue 74; the wording is SQS's, one line here).
OVER_LIMIT_MESSAGE = (
    "Too many messages have been received without being deleted. Please delete your "
    "received messages or let them timeout before receiving more."
)


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
        quotas: Quotas | None = None,
    ) -> None:
        self.env = env
        self.recorder = recorder if recorder is not None else Recorder(env)
        self.message_ids = message_ids if message_ids is not None else itertools.count(1)
        self.quotas = quotas if quotas is not None else Quotas()
        self.queues: dict[str, SQSQueue] = {}
        self.attributes: dict[str, dict[str, str]] = {}  # as given at creation, for echoing
        self.requests: dict[str, RequestCounter] = {}  # FIFO queues' API calls per second
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

    def new_message_number(self) -> int:
        """The number of the next MessageId (queue.py's `message_id_of` makes it a UUID like
        AWS's, the same in every run)."""
        return next(self._uuids)

    # ----- queues -----
    def create(self, name: str, settings: QueueSettings, attributes: dict[str, str]) -> SQSQueue:
        if name in self.queues:
            return self.queues[name]
        queue = SQSQueue(self.env, self.recorder, name, settings, lambda n: self.queues[n])
        self.queues[name] = queue
        self.requests[name] = RequestCounter()
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
    ) -> tuple[Entry | None, int]:
        """Store `msg` (already produced) in `queue`; (its entry or None if deduplicated, the
        number of its MessageId: `message_id_of`)."""
        settings = queue.settings
        message_id = next(self._uuids)  # speed: `new_message_number` inlined
        self.recorder.published_message(msg, queue.name)
        if settings.fifo:
            if dedup_id is None and settings.content_based_deduplication:
                dedup_id = hashlib.sha256(body.encode()).hexdigest()
            if dedup_id is not None and queue.is_duplicate(dedup_id, group):
                # Accepted, never delivered (Developer Guide, exactly-once processing): the
                # copy ends here as `dropped`.
                queue.recorder.count(f"deduplicated.{queue.name}")
                queue.recorder.dropped(msg, queue.name)
                return None, message_id
        wait = settings.delay if delay is None else delay
        return queue.enqueue(msg, message_id, body, wait, group, dedup_id), message_id

    def standard_sender(self, queue: SQSQueue) -> Callable[[Message], None]:
        """`send(queue, msg, "")` for a standard queue, as the model's producers send each
        message (no body, no delay of its own, no group, no deduplication). Speed: one call a
        message instead of three (a lambda, `send`, `enqueue`): the same MessageId numbers,
        the same Recorder calls, the same steps in the queue (`SQSQueue.enqueue_standard`)."""
        assert not queue.settings.fifo
        uuids, published, name = self._uuids, self.recorder.published_message, queue.name
        enqueue = queue.enqueue_standard

        def send_standard(msg: Message) -> None:
            message_id = next(uuids)
            if message_id == msg.id:
                # Memory: the MessageId's number is the message's id (the run's one counter
                # and the service's agree): the same int object, not a second one a held
                # message (28 bytes). Equal ints: every use is the same.
                message_id = msg.id
            published(msg, name)
            enqueue(msg, message_id)

        return send_standard


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
        scope = attributes.get("DeduplicationScope", "queue")
        limit = attributes.get("FifoThroughputLimit", "perQueue")
        if fifo:
            # API Reference, CreateQueue: DeduplicationScope messageGroup | queue,
            # FifoThroughputLimit perQueue | perMessageGroupId, "The perMessageGroupId value is
            # allowed only when the value for DeduplicationScope is messageGroup."
            if scope not in ("queue", "messageGroup"):
                raise _invalid_attribute("DeduplicationScope")
            if limit not in ("perQueue", "perMessageGroupId") or (
                limit == "perMessageGroupId" and scope != "messageGroup"
            ):
                raise _invalid_attribute("FifoThroughputLimit")
        settings = QueueSettings(
            fifo=fifo,
            visibility_timeout=float(attributes.get("VisibilityTimeout", 30)),
            message_retention=float(attributes.get("MessageRetentionPeriod", 345600)),
            delay=float(attributes.get("DelaySeconds", 0)),
            receive_wait_time=float(attributes.get("ReceiveMessageWaitTimeSeconds", 0)),
            content_based_deduplication=_bool(attributes.get("ContentBasedDeduplication", "")),
            max_receive_count=max_receives,
            dead_letter_queue=dlq,
            max_inflight=self.service.quotas.max_inflight(fifo),
            deduplication_scope=scope if fifo else "queue",
            fifo_throughput_limit=limit if fifo else "perQueue",
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
            values["DeduplicationScope"] = s.deduplication_scope
            values["FifoThroughputLimit"] = s.fifo_throughput_limit
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

    # ----- quotas -----
    def _charge(self, queue: SQSQueue, action: str, groups: Iterable[str | None] = ()) -> None:
        """Count one `action` call against the FIFO queue's request-rate quotas, or refuse it
        (sim/brokers/sqs/quotas.py says what is modelled and why)."""
        settings = queue.settings
        if not settings.fifo:
            return
        quotas = self.service.quotas
        if settings.fifo_throughput_limit == "perMessageGroupId":
            charges: list[tuple[Hashable, int | None]] = [
                (action, quotas.high_throughput_transactions_per_second)
            ]
            per_group = quotas.fifo_transactions_per_second
            charges.extend(((action, g), per_group) for g in dict.fromkeys(groups) if g)
        else:
            charges = [(action, quotas.fifo_transactions_per_second)]
        if not self.service.requests[queue.name].admit(self.service.env.now, charges):
            raise SQSError("RequestThrottled", "Request is throttled.", action)

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
        self._check_message(queue, DelaySeconds, MessageGroupId, MessageDeduplicationId)
        self._charge(queue, "SendMessage", (MessageGroupId,))
        return self._send(queue, MessageBody, DelaySeconds, MessageGroupId, MessageDeduplicationId)

    def _check_message(
        self,
        queue: SQSQueue,
        delay: int | None,
        group: str | None,
        dedup_id: str | None,
    ) -> None:
        settings = queue.settings
        if settings.fifo:
            if group is None:
                raise SQSError(
                    "MissingParameter", "The request must contain the parameter MessageGroupId."
                )
            if dedup_id is None and not settings.content_based_deduplication:
                raise _invalid(
                    "The queue should either have ContentBasedDeduplication enabled or "
                    "MessageDeduplicationId provided explicitly"
                )
            if delay is not None:  # "When you set FifoQueue, you can't set DelaySeconds per
                raise _invalid(  # message" (API Reference, SendMessage)
                    f"Value {delay} for parameter DelaySeconds is invalid. Reason: The "
                    "request include parameter that is not valid for this queue type."
                )
        elif delay is not None and not 0 <= delay <= MAX_DELAY_SECONDS:
            raise _invalid(
                f"Value {delay} for parameter DelaySeconds is invalid. "
                "Reason: DelaySeconds must be >= 0 and <= 900."
            )

    def _send(
        self,
        queue: SQSQueue,
        body: str,
        delay: int | None,
        group: str | None,
        dedup_id: str | None,
    ) -> dict:
        service, env = self.service, self.service.env
        msg = Message(next(service.message_ids), env.now, len(body.encode()))
        service.recorder.produced_message(msg, "client")
        entry, number = service.send(queue, msg, body, delay, group, dedup_id)
        reply = {"MD5OfMessageBody": _md5(body), "MessageId": message_id_of(number)}
        if queue.settings.fifo:
            # A deduplicated send gets a fresh number too (what AWS returns was not verified).
            reply["SequenceNumber"] = (
                entry.sequence_number if entry is not None else str(queue.next_sequence_number())
            )
        return reply

    def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, Any]]) -> dict:
        """Up to 10 messages; each entry succeeds or fails on its own (a FIFO batch keeps its
        order: "multiple messages within a single batch are enqueued in the order they are
        sent", API Reference, SendMessageBatch)."""
        queue = self.service.queue_by_url(QueueUrl)
        _check_batch(Entries, "SendMessageBatchRequestEntry")
        size = sum(len(e.get("MessageBody", "").encode()) for e in Entries)
        if size > MAX_BATCH_BYTES:
            raise SQSError(
                "AWS.SimpleQueueService.BatchRequestTooLong",
                f"Batch requests cannot be longer than {MAX_BATCH_BYTES} bytes. "
                f"You have sent {size} bytes.",
            )
        self._charge(queue, "SendMessage", (e.get("MessageGroupId") for e in Entries))
        successful, failed = [], []
        for e in Entries:
            args = (e.get("DelaySeconds"), e.get("MessageGroupId"), e.get("MessageDeduplicationId"))
            try:
                self._check_message(queue, *args)
            except SQSError as error:
                failed.append(_failure(e["Id"], error))
                continue
            successful.append({"Id": e["Id"], **self._send(queue, e["MessageBody"], *args)})
        return {"Successful": successful, "Failed": failed}

    # ----- receiving -----
    def _receive_args(
        self,
        QueueUrl: str,
        MaxNumberOfMessages: int,
        VisibilityTimeout: int | None,
        ReceiveRequestAttemptId: str | None,
    ) -> SQSQueue:
        if not 1 <= MaxNumberOfMessages <= 10:
            raise _invalid(
                f"Value {MaxNumberOfMessages} for parameter MaxNumberOfMessages is invalid. "
                "Reason: must be between 1 and 10, if provided."
            )
        if VisibilityTimeout is not None and not 0 <= VisibilityTimeout <= MAX_VISIBILITY_TIMEOUT:
            raise _invalid(f"Value {VisibilityTimeout} for parameter VisibilityTimeout is invalid.")
        queue = self.service.queue_by_url(QueueUrl)
        attempt = ReceiveRequestAttemptId
        if attempt is not None and queue.settings.fifo and not _ATTEMPT_ID.fullmatch(attempt):
            raise _invalid(f"Value {attempt} for parameter ReceiveRequestAttemptId is invalid.")
        self._charge(queue, "ReceiveMessage")
        return queue

    def _retry(self, queue: SQSQueue, attempt: str | None) -> list[Entry] | None:
        """A FIFO receive retried with a remembered ReceiveRequestAttemptId: the same messages
        (None: not a retry; the parameter "applies only to FIFO queues")."""
        if attempt is None or not queue.settings.fifo:
            return None
        try:
            return queue.retry_attempt(attempt)
        except StaleReceiveAttempt:
            # The service's words for it, quoted in github.com/awslabs/amazon-sqs-java-
            # messaging-lib issue 213.
            raise _invalid(
                f"Value {attempt} for parameter ReceiveRequestAttemptId is invalid. Reason: The "
                "receiveRequestAttemptId is not valid anymore since the receive call is not "
                "retryable."
            ) from None

    def receive_message(
        self,
        QueueUrl: str,
        MaxNumberOfMessages: int = 1,
        WaitTimeSeconds: int | None = None,
        VisibilityTimeout: int | None = None,
        MessageSystemAttributeNames: list[str] | None = None,
        AttributeNames: list[str] | None = None,
        ReceiveRequestAttemptId: str | None = None,
    ) -> dict:
        """Short polling, at once: `receive_message_wait` is the long-polling form."""
        queue = self._receive_args(
            QueueUrl, MaxNumberOfMessages, VisibilityTimeout, ReceiveRequestAttemptId
        )
        wait = queue.settings.receive_wait_time if WaitTimeSeconds is None else WaitTimeSeconds
        if wait > 0:
            raise ValueError(
                "long polling waits in simulated time: use "
                "`yield from client.receive_message_wait(...)` inside a SimPy process"
            )
        names = MessageSystemAttributeNames or AttributeNames
        taken = self._retry(queue, ReceiveRequestAttemptId)
        if taken is not None:
            return self._reply(queue, taken, names)
        queue.advance()
        if not queue.settings.fifo and queue.inflight_count >= queue.settings.max_inflight:
            # Standard queue at its in-flight quota, short polling: OverLimit (Developer Guide,
            # quotas-queues.html). Long polling, and FIFO queues, answer without an error.
            raise SQSError("OverLimit", OVER_LIMIT_MESSAGE, "ReceiveMessage")
        taken = queue.receive(MaxNumberOfMessages, VisibilityTimeout)
        if ReceiveRequestAttemptId is not None and queue.settings.fifo:
            queue.remember_attempt(ReceiveRequestAttemptId, taken, VisibilityTimeout)
        return self._reply(queue, taken, names)

    def receive_message_wait(
        self,
        QueueUrl: str,
        MaxNumberOfMessages: int = 1,
        WaitTimeSeconds: int | None = None,
        VisibilityTimeout: int | None = None,
        MessageSystemAttributeNames: list[str] | None = None,
        AttributeNames: list[str] | None = None,
        ReceiveRequestAttemptId: str | None = None,
    ) -> Generator[Any, Any, dict]:
        """ReceiveMessage with long polling: it returns when a message is available or after
        WaitTimeSeconds (default: the queue's ReceiveMessageWaitTimeSeconds)."""
        queue = self._receive_args(
            QueueUrl, MaxNumberOfMessages, VisibilityTimeout, ReceiveRequestAttemptId
        )
        wait = queue.settings.receive_wait_time if WaitTimeSeconds is None else WaitTimeSeconds
        if not 0 <= wait <= 20:
            raise _invalid(f"Value {wait} for parameter WaitTimeSeconds is invalid.")
        names = MessageSystemAttributeNames or AttributeNames
        taken = self._retry(queue, ReceiveRequestAttemptId)
        if taken is not None:
            return self._reply(queue, taken, names)
        taken = yield from queue.wait_receive(MaxNumberOfMessages, VisibilityTimeout, wait)
        if ReceiveRequestAttemptId is not None and queue.settings.fifo:
            queue.remember_attempt(ReceiveRequestAttemptId, taken, VisibilityTimeout)
        return self._reply(queue, taken, names)

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
        return queue, _find(queue, ReceiptHandle, operation)

    def delete_message(self, QueueUrl: str, ReceiptHandle: str) -> dict:
        """Deletes only with the latest receipt handle; a stale one, or a message already
        deleted, succeeds without effect (API Reference, DeleteMessage)."""
        queue, (entry, latest) = self._entry(QueueUrl, ReceiptHandle, "DeleteMessage")
        self._charge(queue, "DeleteMessage", (entry.group if entry is not None else None,))
        if entry is not None and latest:
            queue.delete(entry)
        return {}

    def delete_message_batch(self, QueueUrl: str, Entries: list[dict[str, Any]]) -> dict:
        """DeleteMessage for up to 10 receipt handles, each reported on its own."""
        queue = self.service.queue_by_url(QueueUrl)
        queue.advance()
        _check_batch(Entries, "DeleteMessageBatchRequestEntry")
        found: list[tuple[dict[str, Any], Any]] = []
        for e in Entries:
            try:
                found.append((e, _find(queue, e["ReceiptHandle"], "DeleteMessageBatch")))
            except SQSError:
                found.append((e, None))
        groups = (hit[0].group for _, hit in found if hit is not None and hit[0] is not None)
        self._charge(queue, "DeleteMessage", groups)
        successful, failed = [], []
        for e, hit in found:
            if hit is None:
                failed.append(_invalid_handle(e))
                continue
            entry, latest = hit
            if entry is not None and latest:
                queue.delete(entry)
            successful.append({"Id": e["Id"]})
        return {"Successful": successful, "Failed": failed}

    def change_message_visibility(
        self, QueueUrl: str, ReceiptHandle: str, VisibilityTimeout: int
    ) -> dict:
        """Restart an in-flight message's visibility timeout from now (0: visible at once)."""
        queue, hit = self._entry(QueueUrl, ReceiptHandle, "ChangeMessageVisibility")
        self._change_visibility(queue, hit, VisibilityTimeout, "ChangeMessageVisibility")
        return {}

    def _change_visibility(
        self, queue: SQSQueue, hit: tuple[Entry | None, bool], timeout: int, operation: str
    ) -> None:
        entry, latest = hit
        if entry is None:
            raise SQSError("ReceiptHandleIsInvalid", "The input receipt handle is invalid.")
        if not 0 <= timeout <= MAX_VISIBILITY_TIMEOUT:
            # The wording is moto's (tests/data/sqs_extra_traces.json); AWS's is unverified.
            raise _invalid(
                "Visibility timeout invalid"
                if operation == "ChangeMessageVisibilityBatch"
                else f"Invalid request, maximum visibility timeout is {MAX_VISIBILITY_TIMEOUT}"
            )
        if not latest or entry.state is not EntryState.INFLIGHT:
            raise SQSError(
                "AWS.SimpleQueueService.MessageNotInflight",
                "The message is not in flight.",
                operation,
            )
        if self.service.env.now - entry.received_at + timeout > MAX_VISIBILITY_TIMEOUT:
            raise _invalid(
                f"Value {timeout} for parameter VisibilityTimeout is invalid. Reason: Total "
                f"VisibilityTimeout for the message is beyond the limit [{MAX_VISIBILITY_TIMEOUT} "
                "seconds]"
            )
        queue.change_visibility(entry, float(timeout))

    def change_message_visibility_batch(self, QueueUrl: str, Entries: list[dict[str, Any]]) -> dict:
        """ChangeMessageVisibility for up to 10 receipt handles, each reported on its own."""
        queue = self.service.queue_by_url(QueueUrl)
        queue.advance()
        _check_batch(Entries, "ChangeMessageVisibilityBatchRequestEntry")
        successful, failed = [], []
        for e in Entries:
            operation = "ChangeMessageVisibilityBatch"
            try:
                hit = _find(queue, e["ReceiptHandle"], operation)
                self._change_visibility(queue, hit, e["VisibilityTimeout"], operation)
            except SQSError as error:
                failed.append(_failure(e["Id"], error))
                continue
            successful.append({"Id": e["Id"]})
        return {"Successful": successful, "Failed": failed}


def _invalid_attribute(name: str) -> SQSError:
    return SQSError("InvalidAttributeValue", f"Invalid value for the parameter {name}.")


def _find(queue: SQSQueue, handle: str, operation: str) -> tuple[Entry | None, bool]:
    try:
        return queue.find(handle)
    except KeyError:
        raise SQSError(
            "ReceiptHandleIsInvalid", "The input receipt handle is invalid.", operation
        ) from None


def _check_batch(entries: list[dict[str, Any]], entry_kind: str) -> None:
    """The errors that fail a whole batch request (API Reference, SendMessageBatch,
    DeleteMessageBatch, ChangeMessageVisibilityBatch)."""
    if not entries:
        raise SQSError(
            "AWS.SimpleQueueService.EmptyBatchRequest",
            f"There should be at least one {entry_kind} in the request.",
        )
    ids = [e["Id"] for e in entries]
    if not all(_BATCH_ENTRY_ID.fullmatch(i) for i in ids):
        raise SQSError(
            "AWS.SimpleQueueService.InvalidBatchEntryId",
            "A batch entry id can only contain alphanumeric characters, hyphens and "
            "underscores. It can be at most 80 letters long.",
        )
    seen: set[str] = set()
    for entry_id in ids:
        if entry_id in seen:
            raise SQSError(
                "AWS.SimpleQueueService.BatchEntryIdsNotDistinct", f"Id {entry_id} repeated."
            )
        seen.add(entry_id)
    if len(entries) > MAX_BATCH_ENTRIES:
        raise SQSError(
            "AWS.SimpleQueueService.TooManyEntriesInBatchRequest",
            f"Maximum number of entries per request are {MAX_BATCH_ENTRIES}. "
            f"You have sent {len(entries)}.",
        )


def _failure(entry_id: str, error: SQSError) -> dict[str, Any]:
    """A BatchResultErrorEntry: {Id, SenderFault, Code, Message} (API Reference)."""
    return {
        "Id": entry_id,
        "SenderFault": True,
        "Code": error.code,
        "Message": error.response["Error"]["Message"],
    }


def _invalid_handle(entry: dict[str, Any]) -> dict[str, Any]:
    handle = entry["ReceiptHandle"]
    return {
        "Id": entry["Id"],
        "SenderFault": True,
        "Code": "ReceiptHandleIsInvalid",
        "Message": f'The input receipt handle "{handle}" is not a valid receipt handle.',
    }


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
