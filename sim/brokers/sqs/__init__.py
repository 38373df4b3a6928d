"""The Amazon SQS model: standard and FIFO queues, visibility timeouts, redrive, batches, quotas,
and a client with boto3's names in simulated time."""

from sim.brokers.sqs.queue import DEDUP_INTERVAL, Entry, EntryState, QueueSettings, SQSQueue
from sim.brokers.sqs.quotas import Quotas
from sim.brokers.sqs.service import SQSClient, SQSError, SQSService

__all__ = [
    "DEDUP_INTERVAL",
    "Entry",
    "EntryState",
    "QueueSettings",
    "Quotas",
    "SQSClient",
    "SQSError",
    "SQSQueue",
    "SQSService",
]
