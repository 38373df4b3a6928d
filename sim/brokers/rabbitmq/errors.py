"""What the broker refuses, named after the exceptions pika raises for the same situations."""

from __future__ import annotations

__all__ = [
    "ChannelClosed",
    "ConnectionClosedByBroker",
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


class ConnectionClosedByBroker(Exception):
    """The broker closed the connection, and every channel on it, with a hard error such as
    541 INTERNAL_ERROR (pika.exceptions.ConnectionClosedByBroker, with the reply code and text)."""

    def __init__(self, reply_code: int, reply_text: str) -> None:
        super().__init__(reply_code, reply_text)
        self.reply_code = reply_code
        self.reply_text = reply_text

    def __str__(self) -> str:
        return f"({self.reply_code}, {self.reply_text!r})"
