"""The Message record: passive data that producers create and brokers and consumers move around."""

from __future__ import annotations

from enum import IntEnum
from typing import Any

__all__ = ["NEVER", "Message", "State"]

# Memory: the one "never expires" every message shares. `float("inf")` in `__init__` made a new
# 24-byte float a message (32 with the allocator's rounding), a tenth of a held message's bytes.
NEVER = float("inf")


class State(IntEnum):
    """Where a message (one copy of it, per queue or consumer group) is in its life.

    LIVE is everything not yet final: queued, in flight on the network, or held by a consumer.
    The others are final, except that a dead-lettered copy comes back to LIVE when a dead-letter
    queue delivers it again (a retry loop) and counts as dead-lettered only if it ends there.
    """

    LIVE = 0
    PROCESSED = 1
    LOST = 2
    DROPPED = 3
    DEAD_LETTERED = 4
    EXPIRED = 5
    REJECTED = 6


class Message:
    """One copy of a produced message.

    A message routed to k queues becomes k copies sharing `id` and `produced_at`; each copy has
    its own delivery count and state, so conservation is checked per copy.
    """

    __slots__ = (
        "body",
        "deliveries",
        "exchange",
        "expires_at",
        "headers",
        "id",
        "key",
        "kind",
        "persistent",
        "priority",
        "processed",
        "produced_at",
        "redelivered",
        "routing_key",
        "seq",
        "size",
        "state",
        "ttl",
    )

    def __init__(
        self,
        id: int,
        produced_at: float,
        size: int = 0,
        key: bytes | str | None = None,
        routing_key: str = "",
        headers: dict[str, Any] | None = None,
        priority: int = 0,
        body: object = None,
    ) -> None:
        self.id = id
        self.produced_at = produced_at
        self.size = size
        self.key = key
        self.routing_key = routing_key
        self.exchange = ""  # where it was published (RabbitMQ's x-death names it)
        self.headers = headers
        self.priority = priority
        self.body = body  # only teaching scripts set one; simulated payloads are just a size
        # What the message is to the application (a notification type, set by its client):
        # services and consumers call and publish by it. Brokers never change it, unlike
        # `routing_key`, which every publish and dead-lettering sets.
        self.kind = ""
        self.persistent = False  # AMQP delivery_mode 2: written to disk by a durable queue
        self.deliveries = 0  # times handed to a consumer
        self.redelivered = False  # the AMQP flag: set once the broker has handed it out before
        self.processed = 0  # times a consumer finished processing it (over 1: duplicates)
        self.state = State.LIVE
        self.seq = 0  # the queue's arrival number: a classic queue requeues by it
        self.ttl: float | None = None  # per-message time to live (AMQP `expiration`), seconds
        self.expires_at = NEVER

    def copy(self) -> Message:
        """A fresh copy for another queue: same identity and content, its own life."""
        twin = Message(
            self.id,
            self.produced_at,
            self.size,
            self.key,
            self.routing_key,
            None if self.headers is None else dict(self.headers),
            self.priority,
            self.body,
        )
        twin.exchange = self.exchange
        twin.kind = self.kind
        twin.persistent = self.persistent
        twin.ttl = self.ttl
        twin.expires_at = self.expires_at
        return twin

    def __repr__(self) -> str:
        return (
            f"Message(id={self.id}, key={self.key!r}, deliveries={self.deliveries}, "
            f"state={self.state.name})"
        )
