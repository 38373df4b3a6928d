"""The `broker:` section of a scenario for the RabbitMQ model (type: rabbitmq)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Literal

from pydantic import Field, model_validator

from sim.fields import Duration, Size, StrictModel

__all__ = [
    "BindingConfig",
    "ExchangeConfig",
    "QueueConfig",
    "RabbitMQConfig",
]

ExchangeType = Literal["direct", "fanout", "topic", "headers"]


class ExchangeConfig(StrictModel):
    name: str = Field(min_length=1)
    type: ExchangeType = "direct"


class QueueConfig(StrictModel):
    """A queue and its arguments, named as in RabbitMQ's `x-` queue arguments."""

    name: str = Field(min_length=1)
    type: Literal["classic", "quorum"] = "classic"
    max_length: int | None = Field(default=None, ge=0)
    max_length_bytes: Size | None = None
    overflow: Literal["drop-head", "reject-publish", "reject-publish-dlx"] = "drop-head"
    message_ttl: Duration | None = None
    dead_letter_exchange: str | None = None
    dead_letter_routing_key: str | None = None
    delivery_limit: int | None = Field(default=None, ge=0)
    max_priority: int | None = Field(default=None, ge=1, le=255)

    def arguments(self) -> dict[str, Any]:
        """The same queue as `queue_declare(arguments=...)` would declare it."""
        args: dict[str, Any] = {"x-queue-type": self.type}
        pairs = (
            ("x-max-length", self.max_length),
            ("x-max-length-bytes", self.max_length_bytes),
            ("x-message-ttl", None if self.message_ttl is None else self.message_ttl * 1000),
            ("x-dead-letter-exchange", self.dead_letter_exchange),
            ("x-dead-letter-routing-key", self.dead_letter_routing_key),
            ("x-delivery-limit", self.delivery_limit),
            ("x-max-priority", self.max_priority),
        )
        args.update((key, value) for key, value in pairs if value is not None)
        if self.max_length is not None or self.max_length_bytes is not None:
            args["x-overflow"] = self.overflow
        return args


class BindingConfig(StrictModel):
    exchange: str = Field(min_length=1)
    queue: str = Field(min_length=1)
    routing_key: str = ""
    arguments: dict[str, Any] | None = None


class RabbitMQConfig(StrictModel):
    type: Literal["rabbitmq"]
    exchanges: list[ExchangeConfig] = []
    queues: list[QueueConfig] = Field(min_length=1)
    bindings: list[BindingConfig] = []

    @model_validator(mode="after")
    def _names_are_unique(self) -> RabbitMQConfig:
        for kind, items in (("queues", self.queues), ("exchanges", self.exchanges)):
            seen: set[str] = set()
            for item in items:
                if item.name in seen:
                    raise ValueError(f"{kind}: the name {item.name!r} is used twice")
                seen.add(item.name)
        return self

    def destinations(self) -> set[str]:
        """Names a producer may publish `to`: an exchange, or a queue (via the default exchange)."""
        return {q.name for q in self.queues} | {e.name for e in self.exchanges}

    def sources(self) -> set[str]:
        """Names a consumer may consume `from`."""
        return {q.name for q in self.queues}

    def reference_errors(self) -> Iterator[tuple[tuple[str | int, ...], str]]:
        queues = sorted(q.name for q in self.queues)
        exchanges = sorted(e.name for e in self.exchanges)
        for i, binding in enumerate(self.bindings):
            if binding.exchange not in exchanges:
                known = ", ".join(exchanges) or "none"
                yield (
                    ("broker", "bindings", i, "exchange"),
                    f"unknown exchange {binding.exchange!r} (known: {known})",
                )
            if binding.queue not in queues:
                yield (
                    ("broker", "bindings", i, "queue"),
                    f"unknown queue {binding.queue!r} (known: {', '.join(queues)})",
                )
        for i, queue in enumerate(self.queues):
            dlx = queue.dead_letter_exchange
            if dlx not in (None, "") and dlx not in exchanges:
                yield (
                    ("broker", "queues", i, "dead_letter_exchange"),
                    f"unknown exchange {dlx!r} (known: {', '.join(exchanges) or 'none'})",
                )

    def add_to_graph(self, graph: Any) -> None:
        """Exchanges and queues as nodes, bindings as edges labelled with their keys."""
        for exchange in self.exchanges:
            graph.add_node(
                exchange.name, kind="exchange", label=f"{exchange.name}\n({exchange.type})"
            )
        for queue in self.queues:
            graph.add_node(queue.name, kind="queue", label=queue.name)
        for binding in self.bindings:
            graph.add_edge(binding.exchange, binding.queue, label=binding.routing_key)
