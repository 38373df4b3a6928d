"""Pulsar's client exceptions keep Pulsar's names and hierarchy (PulsarClientException)."""

from __future__ import annotations

import pytest

from sim.brokers.pulsar import errors
from sim.brokers.pulsar.errors import (
    ConsumerBusyException,
    LookupException,
    NotConnectedException,
    ProducerBlockedQuotaExceededError,
    ProducerBlockedQuotaExceededException,
    PulsarClientException,
    TooManyRequestsException,
)

# Nested classes of org.apache.pulsar.client.api.PulsarClientException that the model raises.
PULSAR_NAMES = [
    "AlreadyClosedException",
    "BrokerMetadataException",
    "BrokerPersistenceException",
    "ConnectException",
    "ConsumerAssignException",
    "ConsumerBusyException",
    "InvalidConfigurationException",
    "InvalidMessageException",
    "InvalidTopicNameException",
    "LookupException",
    "MemoryBufferIsFullError",
    "MessageAcknowledgeException",
    "NotAllowedException",
    "NotConnectedException",
    "NotFoundException",
    "NotSupportedException",
    "ProducerBlockedQuotaExceededError",
    "ProducerBlockedQuotaExceededException",
    "ProducerBusyException",
    "ProducerQueueIsFullError",
    "TimeoutException",
    "TooManyRequestsException",
    "TopicDoesNotExistException",
    "TopicTerminatedException",
]


@pytest.mark.parametrize("name", PULSAR_NAMES)
def test_every_exception_is_a_pulsar_client_exception(name: str) -> None:
    cls = getattr(errors, name)
    assert cls.__name__ == name
    assert issubclass(cls, PulsarClientException)
    assert name in errors.__all__
    with pytest.raises(PulsarClientException, match="boom"):
        raise cls("boom")


def test_hierarchy_matches_java() -> None:
    assert issubclass(TooManyRequestsException, LookupException)
    # The two backlog-quota outcomes are distinct classes: one is retried, one fails the producer.
    assert not issubclass(ProducerBlockedQuotaExceededError, ProducerBlockedQuotaExceededException)
    assert not issubclass(ProducerBlockedQuotaExceededException, ProducerBlockedQuotaExceededError)
    assert not issubclass(PulsarClientException, ValueError)


def test_pulsars_messages() -> None:
    assert str(NotConnectedException()) == "Not connected to broker"
    assert ConsumerBusyException.EXCLUSIVE_MESSAGE == "Exclusive consumer is already connected"
    assert (
        ProducerBlockedQuotaExceededError.BACKLOG_QUOTA_MESSAGE
        == "Cannot create producer on topic with backlog quota exceeded"
    )
