"""What the broker refuses, named after the exceptions pika raises for the same situations."""

from __future__ import annotations

__all__ = [
    "ChannelClosed",
    "NackError",
    "NotImplementedByQueue",
    "PreconditionFailed",
    "UnroutableError",
]


class PreconditionFailed(Exception):
    """The broker would close the channel with 406 PRECONDITION_FAILED: an unknown delivery tag,
    a queue or exchange re-declared with different arguments, an invalid queue argument."""


class UnroutableError(Exception):
    """A mandatory message that no queue took came back with basic.return
    (pika.exceptions.UnroutableError, raised on a channel in confirm mode)."""


class NackError(Exception):
    """The broker answered basic.nack to a publish: a queue refused it (reject-publish)
    (pika.exceptions.NackError, raised on a channel in confirm mode)."""


class ChannelClosed(Exception):
    """The channel was closed, by the client or by the broker after an error
    (pika.exceptions.ChannelWrongStateError)."""


class NotImplementedByQueue(Exception):
    """The broker would close the channel with 540 NOT_IMPLEMENTED: the queue type does not do
    that (basic.get or auto-ack on a stream, rabbit_stream_queue.erl)."""
