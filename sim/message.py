"""The Message record: passive data that producers create and brokers and consumers move around."""

from __future__ import annotations

import functools
from enum import IntEnum
from typing import Any

__all__ = [
    "NEVER",
    "AmqpMessage",
    "BareMessage",
    "LeanAmqpMessage",
    "Message",
    "MessageCore",
    "State",
    "amqp_message_class",
    "new_bare_message",
]

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


# Speed: every message starts LIVE; `State.LIVE` is an attribute lookup on the enum class
# (about 13 times a global name's cost on Python 3.11), made once a message in `__init__`.
_LIVE = State.LIVE


class MessageCore:
    """What every message class has: one copy of a produced message.

    A message routed to k queues becomes k copies sharing `id` and `produced_at`; each copy has
    its own delivery count and state, so conservation is checked per copy.

    A scenario producer makes a BareMessage (or the class its broker's `Sender.message` names,
    see sim/brokers/base.py); teaching scripts, services and broker APIs make the full `Message`.
    """

    # Memory: a held message is mostly this object (16 bytes of header, 16 of the collector's,
    # 8 a slot): only the fields every broker writes are slots. The others are class-level
    # values every instance reads as its own (what a full Message starts with); a subclass
    # that writes one declares it as a slot, whose descriptor then comes first.
    __slots__ = (
        "deliveries",
        "headers",
        "id",
        "processed",
        "produced_at",
        "size",
        "state",
    )
    key: bytes | str | None = None
    # What the message is to the application (a notification type, set by its client):
    # services and consumers call and publish by it. Brokers never change it, unlike
    # `routing_key`, which every publish and dead-lettering sets.
    kind: str = ""
    body: object = None  # only teaching scripts set one; simulated payloads are just a size
    routing_key: str = ""
    exchange: str = ""  # where it was published (RabbitMQ's x-death names it)
    priority: int = 0
    persistent: bool = False  # AMQP delivery_mode 2: written to disk by a durable queue
    redelivered: bool = False  # the AMQP flag: set once the broker has handed it out before
    seq: int = 0  # the queue's arrival number: a classic queue requeues by it
    ttl: float | None = None  # per-message time to live (AMQP `expiration`), seconds
    expires_at: float = NEVER

    def __repr__(self) -> str:
        return (
            f"Message(id={self.id}, key={self.key!r}, deliveries={self.deliveries}, "
            f"state={self.state.name})"
        )


class BareMessage(MessageCore):
    """A message as the brokers without AMQP's fields keep it (8 slots)."""

    __slots__ = ("key",)

    def __init__(
        self, id: int, produced_at: float, size: int = 0, key: bytes | str | None = None
    ) -> None:
        self.id = id
        self.produced_at = produced_at
        self.size = size
        self.key = key
        self.headers: dict[str, Any] | None = None
        self.deliveries = 0  # times handed to a consumer
        self.processed = 0  # times a consumer finished processing it (over 1: duplicates)
        self.state = _LIVE  # speed: a global name, not an enum class lookup (13x the cost)

    def copy(self) -> BareMessage:
        """A fresh copy for another queue: same identity and content, its own life."""
        twin = BareMessage(self.id, self.produced_at, self.size, self.key)
        twin.headers = None if self.headers is None else dict(self.headers)
        return twin


_new = object.__new__


def new_bare_message(
    id: int, produced_at: float, size: int = 0, key: bytes | str | None = None
) -> BareMessage:
    """`BareMessage(id, produced_at, size, key)`, made without the class call.

    Speed: calling a class with a Python `__init__` costs about four plain calls (the type's
    call, `__new__`, then `__init__` from C); a scenario producer makes a message each
    arrival. The same slots set in the same order as `BareMessage.__init__` (tests/
    test_held_message_memory.py compares the two)."""
    msg = _new(BareMessage)
    msg.id = id
    msg.produced_at = produced_at
    msg.size = size
    msg.key = key
    msg.headers = None
    msg.deliveries = 0
    msg.processed = 0
    msg.state = _LIVE
    return msg


class LeanAmqpMessage(MessageCore):
    """A scenario producer's message to RabbitMQ when nothing gives it a key or a TTL (no
    keys, no `ttl`, no consumer retrying through a delayed queue, no services): only the
    fields the broker writes on every publish and delivery (12 slots)."""

    # Memory: 12 slots, not the full Message's 18 (48 bytes a held message); `key` and `ttl`
    # stay the class's None (dead-lettering writes `ttl` only when it is set).
    __slots__ = ("exchange", "expires_at", "redelivered", "routing_key", "seq")

    def __init__(
        self, id: int, produced_at: float, size: int = 0, key: bytes | str | None = None
    ) -> None:
        assert key is None, "a keyed producer's messages are AmqpMessages"
        self.id = id
        self.produced_at = produced_at
        self.size = size
        self.routing_key = ""
        self.exchange = ""
        self.headers: dict[str, Any] | None = None
        self.deliveries = 0
        self.redelivered = False
        self.processed = 0
        self.state = _LIVE  # speed: a global name, not an enum class lookup (13x the cost)
        self.seq = 0
        self.expires_at = NEVER

    def copy(self) -> LeanAmqpMessage:
        twin = type(self)(self.id, self.produced_at, self.size)  # the same class values
        twin.routing_key = self.routing_key
        twin.headers = None if self.headers is None else dict(self.headers)
        twin.exchange = self.exchange
        twin.expires_at = self.expires_at
        return twin


class AmqpMessage(LeanAmqpMessage):
    """A scenario producer's message to RabbitMQ, with the fields its broker writes on every
    publish and delivery, a key and a TTL; one whose producer sets a varying priority is a
    full `Message` (the fields left class-level here are written only then)."""

    # Memory: 14 slots, not the full Message's 18 (32 bytes a held message).
    __slots__ = ("key", "ttl")

    def __init__(
        self, id: int, produced_at: float, size: int = 0, key: bytes | str | None = None
    ) -> None:
        LeanAmqpMessage.__init__(self, id, produced_at, size)
        self.key = key
        self.ttl: float | None = None

    def copy(self) -> AmqpMessage:
        twin = LeanAmqpMessage.copy(self)  # the same class, its key and TTL given below
        twin.key = self.key
        twin.ttl = self.ttl
        return twin  # type: ignore[return-value]


@functools.cache
def amqp_message_class(
    priority: int, persistent: bool, lean: bool = False
) -> type[AmqpMessage] | type[LeanAmqpMessage]:
    """AmqpMessage (LeanAmqpMessage if `lean`), or a subclass whose every message has this
    priority and persistence: a producer that stamps the same ones on each message (RabbitMQ
    writes them nowhere else)."""
    base: type[AmqpMessage] | type[LeanAmqpMessage] = LeanAmqpMessage if lean else AmqpMessage
    if priority == 0 and not persistent:
        return base
    # Memory: class-level values, no slots: each message reads the producer's constants.
    namespace = {"__slots__": (), "priority": priority, "persistent": persistent}
    return type(base.__name__, (base,), namespace)


class Message(AmqpMessage):
    """One copy of a produced message.

    A message routed to k queues becomes k copies sharing `id` and `produced_at`; each copy has
    its own delivery count and state, so conservation is checked per copy.
    """

    __slots__ = ("body", "kind", "persistent", "priority")

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
        self.state = _LIVE  # speed: a global name, not an enum class lookup (13x the cost)
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
