"""The Amazon SQS model: standard and FIFO queues, visibility timeouts, redrive, and a client
with boto3's names in simulated time."""

from sim.brokers.sqs.queue import DEDUP_INTERVAL, Entry, EntryState, QueueSettings, SQSQueue
from sim.brokers.sqs.service import SQSClient, SQSError, SQSService

__all__ = [
    "DEDUP_INTERVAL",
    "Entry",
    "EntryState",
    "QueueSettings",
    "SQSClient",
    "SQSError",
    "SQSQueue",
    "SQSService",
]
