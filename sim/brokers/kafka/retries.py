"""Retry policies on Kafka: non-blocking retries through retry topics and a dead-letter topic,
as Spring for Apache Kafka runs them, or blocking retries in place.

Non-blocking (the default; Spring Kafka's "Non-Blocking Retries",
https://docs.spring.io/spring-kafka/reference/retrytopic.html): for a consumer of topic `t`
with n attempts there are n-1 retry topics `t-retry-0` .. `t-retry-<n-2>`, one per retry, and
the dead-letter topic `t-dlt` ("Topic Naming": the default suffixes are "-retry" and "-dlt",
with the retry topic's index appended, so that by default there are maxAttempts - 1 retry
topics). A record whose processing fails is forwarded (produced) to the next retry topic with
the headers `retry_topic-attempts` and `retry_topic-backoff-timestamp` (the time it is due;
RetryTopicHeaders), and its offset is committed like any processed record. Each retry topic is
read by its own consumers, the main consumer's settings with the group id suffixed as the topic
is (`<group>-retry-0`, SuffixingRetryTopicNamesProviderFactory); a record that is not due yet
waits: its consumer holds it (Spring pauses the partition and polls on, "How the Pattern
Works"; it is "never processed before its due time", "Back Off Delay Precision"). A record
whose last try failed goes to `t-dlt`, which nobody reads here. Ordering within a partition is
lost for the retried records ("By using this strategy you lose Kafka's ordering guarantees").
Retry topics get the main topic's settings (partitions, replication).

The try of a delivery is known from the topic it came from: 1 in `t`, k + 2 in `t-retry-k`.

Blocking (`retry.blocking: true`, Spring's DefaultErrorHandler with a BackOff): the consumer
waits and tries again in place, holding the partition's later records; spent records go to
`t-dlt` (DeadLetterPublishingRecoverer).
"""

from __future__ import annotations

__all__ = [
    "ATTEMPTS_HEADER",
    "BACKOFF_HEADER",
    "dead_letter_topic",
    "retry_group",
    "retry_topic",
    "retry_topics",
]

ATTEMPTS_HEADER = "retry_topic-attempts"  # RetryTopicHeaders.DEFAULT_HEADER_ATTEMPTS
BACKOFF_HEADER = "retry_topic-backoff-timestamp"  # ...DEFAULT_HEADER_BACKOFF_TIMESTAMP


def retry_topic(topic: str, index: int) -> str:
    """The topic of retry `index + 1` (index 0: the first retry)."""
    return f"{topic}-retry-{index}"


def retry_group(group: str, index: int) -> str:
    return f"{group}-retry-{index}"


def dead_letter_topic(topic: str) -> str:
    return f"{topic}-dlt"


def retry_topics(topic: str, attempts: int, blocking: bool) -> list[str]:
    """The retry topics a consumer of `topic` with `attempts` tries reads (none if blocking)."""
    return [] if blocking else [retry_topic(topic, k) for k in range(attempts - 1)]
