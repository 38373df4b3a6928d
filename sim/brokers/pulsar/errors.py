"""Pulsar's client exceptions, with Pulsar's names, and the client-side check that raises one.

Every class mirrors a nested class of ``org.apache.pulsar.client.api.PulsarClientException``
(``pulsar-client-api/src/main/java/org/apache/pulsar/client/api/PulsarClientException.java``,
Pulsar 4.0.0) and keeps its place in that hierarchy (``TooManyRequestsException`` is a
``LookupException``; every other one derives from ``PulsarClientException``), so a model can
raise exactly what a Java application would catch. The broker's ``ServerError`` codes reach
the application as these classes through ``ClientCnx.getPulsarClientException``; where a model
raises one, the docstring names the broker rule and message it copies.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "CUMULATIVE_ACK_SUBSCRIPTION_TYPES",
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
    "PulsarClientException",
    "TimeoutException",
    "TooManyRequestsException",
    "TopicDoesNotExistException",
    "TopicTerminatedException",
    "check_cumulative_ack_allowed",
]


class PulsarClientException(Exception):
    """Base type of every exception the Pulsar client throws (``PulsarClientException``)."""


class InvalidConfigurationException(PulsarClientException):
    """A setting or call the configuration does not allow, e.g. a cumulative ack on a
    ``Shared`` or ``Key_Shared`` subscription (see :func:`check_cumulative_ack_allowed`)."""


class NotFoundException(PulsarClientException):
    """``NotFoundException``: the requested resource does not exist."""


class TimeoutException(PulsarClientException):
    """``TimeoutException``: e.g. a send not acknowledged within ``sendTimeoutMs`` (30 s by
    default, ``ProducerConfigurationData.sendTimeoutMs``), or a receive with a timeout."""


class TopicDoesNotExistException(PulsarClientException):
    """``TopicDoesNotExistException``: the topic does not exist and may not be auto-created
    (broker ``ServerError.TopicNotFound``)."""


class LookupException(PulsarClientException):
    """``LookupException``: the client could not find the broker owning a topic (for example
    while its bundle moves after a broker failure: ``ServerError.ServiceNotReady``)."""


class TooManyRequestsException(LookupException):
    """``TooManyRequestsException``: the broker throttled lookups
    (``ServerError.TooManyRequests``)."""


class ConnectException(PulsarClientException):
    """``ConnectException``: the connection to the broker could not be made."""


class AlreadyClosedException(PulsarClientException):
    """``AlreadyClosedException``: the producer, consumer or client was already closed."""


class TopicTerminatedException(PulsarClientException):
    """``TopicTerminatedException``: the topic was terminated and takes no more messages."""


class BrokerPersistenceException(PulsarClientException):
    """``BrokerPersistenceException``: the broker could not persist the message, e.g. too few
    bookies for the ensemble (``ServerError.PersistenceError``)."""


class BrokerMetadataException(PulsarClientException):
    """``BrokerMetadataException``: a metadata-store error (``ServerError.MetadataError``)."""


class ProducerBusyException(PulsarClientException):
    """``ProducerBusyException``: a producer with that name, or an exclusive access mode, is
    already attached (``ServerError.ProducerBusy``)."""


class ConsumerBusyException(PulsarClientException):
    """``ConsumerBusyException``: a second consumer on an ``Exclusive`` subscription.

    ``AbstractDispatcherSingleActiveConsumer.addConsumer`` refuses it with the message
    ``"Exclusive consumer is already connected"`` (``ServerError.ConsumerBusy``).
    """

    EXCLUSIVE_MESSAGE: Final = "Exclusive consumer is already connected"


class NotConnectedException(PulsarClientException):
    """``NotConnectedException``: not connected to a broker (its message is fixed)."""

    def __init__(self, message: str = "Not connected to broker") -> None:
        super().__init__(message)


class InvalidMessageException(PulsarClientException):
    """``InvalidMessageException``: e.g. a message larger than ``maxMessageSize``."""


class InvalidTopicNameException(PulsarClientException):
    """``InvalidTopicNameException``: the name is not a valid Pulsar topic name."""


class NotSupportedException(PulsarClientException):
    """``NotSupportedException``: the broker does not support the operation."""


class NotAllowedException(PulsarClientException):
    """``NotAllowedException``: the broker refuses the operation
    (``ServerError.NotAllowedError``)."""


class ProducerQueueIsFullError(PulsarClientException):
    """``ProducerQueueIsFullError``: ``maxPendingMessages`` are in flight and
    ``blockIfQueueFull`` is false (its default, ``ProducerConfigurationData``)."""


class MemoryBufferIsFullError(PulsarClientException):
    """``MemoryBufferIsFullError``: the client's memory limit for pending messages is reached."""


class ProducerBlockedQuotaExceededError(PulsarClientException):
    """``ProducerBlockedQuotaExceededError``: backlog quota exceeded under the
    ``producer_request_hold`` policy.

    ``ServerCnx.handleProducer`` answers ``ServerError.ProducerBlockedQuotaExceededError`` with
    ``"Cannot create producer on topic with backlog quota exceeded"``; the client treats it as
    retriable and keeps trying, so sends wait (and may end in a ``TimeoutException``).
    """

    BACKLOG_QUOTA_MESSAGE: Final = "Cannot create producer on topic with backlog quota exceeded"


class ProducerBlockedQuotaExceededException(PulsarClientException):
    """``ProducerBlockedQuotaExceededException``: backlog quota exceeded under the
    ``producer_exception`` policy: the broker answers
    ``ServerError.ProducerBlockedQuotaExceededException`` (same message as the error above) and
    the producer fails instead of waiting."""

    BACKLOG_QUOTA_MESSAGE: Final = "Cannot create producer on topic with backlog quota exceeded"


class ConsumerAssignException(PulsarClientException):
    """``ConsumerAssignException`` (``ServerError.ConsumerAssignError``): the Key_Shared selector
    has no hash range left to give a new consumer. The broker raises
    ``BrokerServiceException.ConsumerAssignException`` with ``"No more range can assigned to new
    consumer, assigned consumers N"``
    (``HashRangeAutoSplitStickyKeyConsumerSelector.splitRange``)."""


class MessageAcknowledgeException(PulsarClientException):
    """``MessageAcknowledgeException``: an acknowledgement failed."""


# ConsumerBase.isCumulativeAcknowledgementAllowed: everything but Shared and Key_Shared.
CUMULATIVE_ACK_SUBSCRIPTION_TYPES: Final = frozenset({"exclusive", "failover"})
_SUBSCRIPTION_TYPES: Final = frozenset({"exclusive", "failover", "shared", "key_shared"})
_CUMULATIVE_ACK_MESSAGE: Final = (
    "Cannot use cumulative acks on a non-exclusive/non-failover subscription"
)


def check_cumulative_ack_allowed(subscription_type: str) -> None:
    """Raise as ``ConsumerBase.acknowledgeCumulativeAsync`` does on a Shared/Key_Shared consumer.

    The Java client refuses the call itself, before anything reaches the broker, with an
    ``InvalidConfigurationException`` (not a ``NotAllowedException``) and the message
    ``"Cannot use cumulative acks on a non-exclusive/non-failover subscription"``. Only
    ``exclusive`` and ``failover`` subscriptions may ack cumulatively: with several consumers
    sharing a subscription, "everything up to here" would ack other consumers' messages.
    """
    if subscription_type not in _SUBSCRIPTION_TYPES:
        raise ValueError(
            f"unknown subscription type {subscription_type!r}: "
            "Pulsar's are exclusive, failover, shared, key_shared"
        )
    if subscription_type not in CUMULATIVE_ACK_SUBSCRIPTION_TYPES:
        raise InvalidConfigurationException(_CUMULATIVE_ACK_MESSAGE)
