"""The `broker:` section of a scenario for the Amazon SQS model (type: sqs).

Queue attributes are SQS's, in snake_case and with units (`visibility_timeout: 30s`); their
defaults and limits are those of the SQS Developer Guide (queue attributes, quotas).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar, Literal

from pydantic import Field, model_validator

from sim.brokers.sqs.queue import QueueSettings
from sim.brokers.sqs.retries import dead_letter_queue
from sim.clients.config import ConsumerBase, ProducerBase
from sim.distributions import Distribution
from sim.fieldtypes import Dist, Duration, StrictModel
from sim.presets import PresetCost

__all__ = [
    "CostConfig",
    "QueueConfig",
    "RedriveConfig",
    "SQSConfig",
    "SQSConsumerConfig",
    "SQSProducerConfig",
]

Loc = tuple[str | int, ...]

# Quotas (Developer Guide, "Amazon SQS message quotas"), in seconds.
MAX_VISIBILITY_TIMEOUT = 43200.0  # 12 hours
MIN_RETENTION, MAX_RETENTION = 60.0, 1209600.0  # 1 minute .. 14 days
MAX_DELAY = 900.0  # 15 minutes
MAX_WAIT_TIME = 20.0  # long polling


class SQSProducerConfig(ProducerBase):
    """The MessageGroupId of a FIFO queue's messages: one group or a uniform pick from a list;
    and how many messages go in one SendMessageBatch call.

    `batch` messages per call (1: one SendMessage each, the default) are gathered the way the
    AWS SDK for Java's buffered client gathers them (AmazonSQSBufferedAsyncClient, Developer
    Guide "Enabling client-side buffering and request batching"; QueueBufferConfig javadoc:
    `maxBatchSize` 10, `maxBatchOpenMs` 200 ms): a call is made when it holds `batch`
    messages, when the next one would take it past SendMessageBatch's payload limit, or
    `batch_wait` after its first message, whichever comes first."""

    message_group: str | list[str] | None = None
    batch: int = Field(default=1, ge=1, le=10)  # SendMessageBatch takes up to 10 entries
    batch_wait: Duration = Field(default=0.2, ge=0)  # QueueBufferConfig maxBatchOpenMs


class SQSConsumerConfig(ConsumerBase):
    """ReceiveMessage's MaxNumberOfMessages, and WaitTimeSeconds (long polling; unset: the
    queue's receive_wait_time)."""

    max_messages: int = Field(default=1, ge=1, le=10)
    wait_time: Duration | None = Field(default=None, le=MAX_WAIT_TIME)


class RedriveConfig(StrictModel):
    """The RedrivePolicy: after `max_receive_count` receives, a message moves to the DLQ."""

    dead_letter_queue: str = Field(min_length=1)
    max_receive_count: int = Field(ge=1, le=1000)


class QueueConfig(StrictModel):
    """A queue and its attributes (AWS's defaults)."""

    name: str = Field(min_length=1, max_length=80)
    fifo: bool = False
    visibility_timeout: Duration = 30.0
    message_retention: Duration = 345600.0
    delay: Duration = 0.0
    receive_wait_time: Duration = 0.0
    content_based_deduplication: bool = False
    redrive: RedriveConfig | None = None

    @model_validator(mode="after")
    def _check(self) -> QueueConfig:
        limits = {
            "visibility_timeout": (0.0, MAX_VISIBILITY_TIMEOUT),
            "message_retention": (MIN_RETENTION, MAX_RETENTION),
            "delay": (0.0, MAX_DELAY),
            "receive_wait_time": (0.0, MAX_WAIT_TIME),
        }
        for field, (low, high) in limits.items():
            value = getattr(self, field)
            if not low <= value <= high:
                raise ValueError(f"{field} must be from {low:g}s to {high:g}s, got {value:g}s")
        if self.fifo != self.name.endswith(".fifo"):
            raise ValueError("a FIFO queue's name ends with '.fifo', and only a FIFO queue's")
        if self.content_based_deduplication and not self.fifo:
            raise ValueError("content_based_deduplication applies only to FIFO queues")
        return self

    def settings(self) -> QueueSettings:
        redrive = self.redrive
        return QueueSettings(
            fifo=self.fifo,
            visibility_timeout=self.visibility_timeout,
            message_retention=self.message_retention,
            delay=self.delay,
            receive_wait_time=self.receive_wait_time,
            content_based_deduplication=self.content_based_deduplication,
            max_receive_count=redrive.max_receive_count if redrive else None,
            dead_letter_queue=redrive.dead_letter_queue if redrive else None,
        )

    def label(self) -> str:
        kind = "FIFO" if self.fifo else "standard"
        return f"{self.name}\n({kind}, visibility {self.visibility_timeout:g}s)"


class CostConfig(PresetCost):
    """API call latencies (opt-in; sim/brokers/sqs/cost.py): `cost: {preset: mqperf-2021}`
    takes the calibrated ones (sim/presets/)."""

    SYSTEM: ClassVar[str] = "sqs"
    send_latency: Dist = Distribution.constant(0.0)  # a SendMessage call, until stored
    receive_latency: Dist = Distribution.constant(0.0)  # a ReceiveMessage call that returns


class SQSConfig(StrictModel):
    type: Literal["sqs"]
    queues: list[QueueConfig] = Field(min_length=1)
    cost: CostConfig | None = None  # None: every call is instant (the ideal service)

    @model_validator(mode="after")
    def _check(self) -> SQSConfig:
        seen: set[str] = set()
        for queue in self.queues:
            if queue.name in seen:
                raise ValueError(f"queues: the name {queue.name!r} is used twice")
            seen.add(queue.name)
        return self

    def queue(self, name: str) -> QueueConfig:
        return next(q for q in self.queues if q.name == name)

    def destinations(self) -> set[str]:
        """Names a producer may send `to`: queues."""
        return {q.name for q in self.queues}

    def sources(self) -> set[str]:
        """Names a consumer may receive `from`: queues."""
        return {q.name for q in self.queues}

    def reference_errors(self) -> Iterator[tuple[Loc, str]]:
        queues = {q.name: q for q in self.queues}
        for i, queue in enumerate(self.queues):
            if queue.redrive is None:
                continue
            loc: Loc = ("broker", "queues", i, "redrive", "dead_letter_queue")
            target = queues.get(queue.redrive.dead_letter_queue)
            if target is None:
                known = ", ".join(sorted(queues))
                yield loc, f"unknown queue {queue.redrive.dead_letter_queue!r} (known: {known})"
            elif target is queue:
                yield loc, "a queue cannot be its own dead-letter queue"
            elif target.fifo != queue.fifo:
                # Developer Guide: "the dead-letter queue of a FIFO queue must also be a FIFO
                # queue"; likewise for a standard queue.
                yield (
                    loc,
                    f"must be a {'FIFO' if queue.fifo else 'standard'} queue like {queue.name!r}",
                )

    def client_errors(
        self, producers: list[SQSProducerConfig], consumers: list[SQSConsumerConfig]
    ) -> Iterator[tuple[Loc, str]]:
        """Producer settings that do not fit these queues."""
        queues = {q.name: q for q in self.queues}
        for i, producer in enumerate(producers):
            queue = queues.get(producer.to)
            if queue is None:
                continue
            if queue.fifo and producer.message_group is None:
                yield (("producers", i, "message_group"), f"FIFO queue {queue.name!r} needs one")
            if not queue.fifo and producer.message_group is not None:
                yield (("producers", i, "message_group"), "applies only to FIFO queues")
        yield from self._retry_errors(consumers)

    def _retry_errors(self, consumers: list[SQSConsumerConfig]) -> Iterator[tuple[Loc, str]]:
        """What a retry policy needs of its queue (sim/brokers/sqs/retries.py)."""
        queues = {q.name: q for q in self.queues}
        for i, consumer in enumerate(consumers):
            retry, queue = consumer.retry, queues.get(consumer.from_)
            if retry is None or queue is None:
                continue
            if retry.blocking:
                yield (
                    ("consumers", i, "retry", "blocking"),
                    "SQS cannot end in-place retries: its redrive policy counts receives, and "
                    "SQS has no call that dead-letters one message",
                )
            if queue.redrive is not None:
                if queue.redrive.max_receive_count != retry.attempts:
                    yield (
                        ("consumers", i, "retry", "attempts"),
                        f"queue {queue.name!r} redrives after "
                        f"{queue.redrive.max_receive_count} receives: attempts must be the same",
                    )
            elif dead_letter_queue(queue) in queues:
                yield (
                    ("consumers", i, "retry"),
                    f"the retry policy makes the dead-letter queue {dead_letter_queue(queue)!r}, "
                    "which the scenario already declares",
                )

    def add_to_graph(self, graph: Any) -> None:
        """Queues as nodes, and an edge from each queue to its dead-letter queue."""
        for queue in self.queues:
            graph.add_node(queue.name, kind="queue", label=queue.label())
        for queue in self.queues:
            if queue.redrive is not None:
                graph.add_edge(
                    queue.name,
                    queue.redrive.dead_letter_queue,
                    label=f"after {queue.redrive.max_receive_count} receives",
                    dead_letter=True,
                )
