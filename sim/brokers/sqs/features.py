"""What the SQS model covers for the feature table (docs/features.md)."""

from __future__ import annotations

from sim.brokers.base import Feature

__all__ = ["FEATURES"]

_GUIDE = "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/"

FEATURES: tuple[Feature, ...] = (
    Feature(
        "Standard queues: visibility timeout, receive count, long polling",
        "current API",
        "modelled",
        "recorded: shared/conformance/sqs/moto_traces.json (moto, AWS docs where it differs)",
    ),
    Feature(
        "FIFO queues: message groups, deduplication, ReceiveRequestAttemptId",
        "current API",
        "modelled",
        f"{_GUIDE}FIFO-queues.html",
    ),
    Feature(
        "Redrive to a dead-letter queue (standard and FIFO, exactly once)",
        "current API",
        "modelled",
        f"{_GUIDE}sqs-dead-letter-queues.html; tests/data/sqs_extra_traces.json",
    ),
    Feature(
        "Batches (SendMessageBatch, DeleteMessageBatch, ChangeMessageVisibilityBatch), "
        "DelaySeconds",
        "current API",
        "modelled",
        "API Reference; tests/data/sqs_extra_traces.json",
    ),
    Feature(
        "Quotas: in-flight limits, FIFO request rates, high-throughput FIFO",
        "current API",
        "modelled",
        f"{_GUIDE}quotas-queues.html; quotas-messages.html",
        "AWS's FIFO partitions are not visible: 300 per message group",
    ),
)
