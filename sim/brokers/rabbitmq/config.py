"""The `broker:` section of a scenario for the RabbitMQ model (type: rabbitmq)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Annotated, Any, ClassVar, Literal

from pydantic import AfterValidator, Field, model_validator

from sim.brokers.rabbitmq.cost import CLASSIC_QUEUE_RATE, QUORUM_PERSISTENCE, CostModel
from sim.brokers.rabbitmq.versions import DEFAULT_VERSION, VersionName, behaviour
from sim.clients.config import ConsumerBase, ProducerBase
from sim.fieldtypes import Duration, Rate, Size, StrictModel
from sim.presets import PresetCost
from sim.units import parse_duration

__all__ = [
    "BindingConfig",
    "CostConfig",
    "ExchangeConfig",
    "Priority",
    "QueueConfig",
    "RabbitMQConfig",
    "RabbitMQConsumerConfig",
    "RabbitMQProducerConfig",
]

ExchangeType = Literal["direct", "fanout", "topic", "headers"]


def _check_priority(value: int | list[int] | None) -> int | list[int] | None:
    values = [value] if isinstance(value, int) else (value or [])
    bad = [v for v in values if not 0 <= v <= 255]
    if bad:
        raise ValueError(f"a priority is an AMQP octet, from 0 to 255, got {bad[0]}")
    return value


#: A producer's message priority: one value, or a list to pick from uniformly.
Priority = Annotated[int | list[int] | None, AfterValidator(_check_priority)]


class RabbitMQProducerConfig(ProducerBase):
    """A producer's AMQP message properties: the routing key (one, or a uniform pick from a
    list), headers, priority (one value or a uniform pick from a list), per-message TTL
    (`expiration`), mandatory (return it if no queue takes it) and persistence."""

    routing_key: str | list[str] | None = None
    headers: dict[str, Any] | None = None
    priority: Priority = None
    ttl: Duration | None = None
    mandatory: bool = False
    # delivery_mode 2: a durable queue keeps the message across a broker restart (pika's
    # default is transient, delivery_mode 1).
    persistent: bool = False


def _check_stream_offset(value: Any) -> Any:
    """`stream_offset`: first, last, next, an offset (an int), {timestamp: TIME} (simulated
    time) or {interval: TIME} ("1h": that long before the consumer subscribes), the forms of
    RabbitMQ's x-stream-offset (rabbit_stream_queue:parse_offset_arg/1)."""
    if value is None or value in ("first", "last", "next"):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 0:
            raise ValueError("an offset is a non-negative integer")
        return value
    if isinstance(value, dict) and len(value) == 1:
        ((kind, when),) = value.items()
        if kind in ("timestamp", "interval"):
            seconds = parse_duration(when) if isinstance(when, str) else float(when)
            if seconds < 0 or (kind == "interval" and seconds <= 0):
                raise ValueError(f"{kind} must be positive")
            return {kind: seconds}
    raise ValueError(
        "expected first, last, next, an offset, {timestamp: TIME} or {interval: TIME}, "
        f"got {value!r}"
    )


#: Where a stream consumer starts reading.
StreamOffset = Annotated[Any, AfterValidator(_check_stream_offset)]


class RabbitMQConsumerConfig(ConsumerBase):
    """Failed processing: each delivery fails with `nack_probability`, and always if the
    message carries the header `poison_header`; a failure is a basic.nack that requeues it
    (`requeue: true`) or dead-letters / drops it (`requeue: false`).

    On a stream (sim/brokers/rabbitmq/stream.py) every replica is a reader of its own:
    `stream_offset` is where it starts (its x-stream-offset, default next); after a crash it
    goes on after the last offset it settled. `start` delays its basic.consume (a consumer
    deployed later, such as a replay after a bug fix).

    `fail_with` is the verb a failure is settled with: basic.nack (the default) or
    basic.reject. They differ only on a RabbitMQ 4.3 quorum queue with requeue, where a nack is
    a plain return that never reaches the delivery limit and a reject counts toward it
    (sim/brokers/rabbitmq/versions.py)."""

    nack_probability: float = Field(default=0.0, ge=0.0, le=1.0)
    poison_header: str | None = None
    requeue: bool = True
    fail_with: Literal["basic.nack", "basic.reject"] = "basic.nack"
    stream_offset: StreamOffset = None
    start: Duration = 0.0


class ExchangeConfig(StrictModel):
    name: str = Field(min_length=1)
    type: ExchangeType = "direct"


class QueueConfig(StrictModel):
    """A queue and its arguments, named as in RabbitMQ's `x-` queue arguments."""

    name: str = Field(min_length=1)
    type: Literal["classic", "quorum", "stream"] = "classic"
    max_length: int | None = Field(default=None, ge=0)
    max_length_bytes: Size | None = None
    overflow: Literal["drop-head", "reject-publish", "reject-publish-dlx"] = "drop-head"
    message_ttl: Duration | None = None
    dead_letter_exchange: str | None = None
    dead_letter_routing_key: str | None = None
    # Quorum queues: unset is the version's default (20 since 4.0, none before); -1 (4.x) none.
    delivery_limit: int | None = Field(default=None, ge=-1)
    max_priority: int | None = Field(default=None, ge=1, le=255)
    # Streams: retention by age (x-max-age, whole segments) and the segment size
    # (x-stream-max-segment-size-bytes; osiris's default 500 MB when unset).
    max_age: Duration | None = Field(default=None, gt=0)
    max_segment_size_bytes: Size | None = None
    # Survives a broker restart (with its persistent messages). Clients declare non-durable
    # queues unless they ask; quorum queues are always durable.
    durable: bool | None = None
    # Mirrors of a classic mirrored queue (RabbitMQ 3.x policy `ha-mode: exactly`, `ha-params:
    # mirrors + 1`; removed in 4.0, where quorum queues replace them). Only the cost model
    # reads it (`mirroring`): mqsim's RabbitMQ is one node, so a mirror changes no semantics.
    mirrors: int = Field(default=0, ge=0)
    # Consumer timeout of this queue in milliseconds (the x-consumer-timeout argument, or the
    # `consumer-timeout` policy key: rabbit_queue_type.erl get_consumer_timeout/2 in 4.3,
    # rabbit_channel.erl get_queue_consumer_timeout/2 in 4.0-4.2); unset: the broker's.
    consumer_timeout: int | None = Field(default=None, gt=0)
    # Quorum queues, RabbitMQ 4.3: hold returned messages before redelivery
    # (x-delayed-retry-type / -min / -max, in milliseconds; rabbit_quorum_queue.erl
    # get_delayed_retry_config/1). Off unless a type and a minimum are set; the maximum
    # defaults to the minimum.
    delayed_retry_type: Literal["disabled", "all", "failed", "returned"] | None = None
    delayed_retry_min: int | None = Field(default=None, gt=0)
    delayed_retry_max: int | None = Field(default=None, gt=0)

    @property
    def is_durable(self) -> bool:
        return self.type != "classic" if self.durable is None else self.durable

    @model_validator(mode="after")
    def _supported(self) -> QueueConfig:
        """What RabbitMQ refuses or ignores for this queue type is an error here."""
        if self.type == "stream":
            # rabbit_stream_queue:capabilities/0: a stream takes x-max-length-bytes,
            # x-max-age and x-stream-max-segment-size-bytes; the broker refuses the arguments
            # of the other queue types (rabbit_amqqueue:check_declare_arguments/3).
            if self.durable is False:
                raise ValueError("durable: streams are always durable")
            for field in (
                "max_length",
                "message_ttl",
                "dead_letter_exchange",
                "dead_letter_routing_key",
                "delivery_limit",
                "max_priority",
                "consumer_timeout",
                "delayed_retry_type",
            ):
                if getattr(self, field) is not None:
                    raise ValueError(f"{field}: not supported by stream queues")
            if "overflow" in self.model_fields_set:
                raise ValueError("overflow: not supported by stream queues")
            return self
        if self.max_age is not None or self.max_segment_size_bytes is not None:
            raise ValueError("max_age and max_segment_size_bytes are for streams (type: stream)")
        if self.type == "quorum":
            if self.durable is False:
                raise ValueError("durable: quorum queues are always durable")
            if self.max_priority is not None:
                raise ValueError(
                    "max_priority: quorum queues refuse x-max-priority; from RabbitMQ 4.0 they "
                    "order by the messages' priority without it (docs/rabbitmq-4.md)"
                )
            if self.overflow == "reject-publish-dlx":
                raise ValueError(
                    "overflow: quorum queues do not support reject-publish-dlx "
                    "(RabbitMQ falls back to drop-head)"
                )
        elif self.delivery_limit is not None:
            raise ValueError("delivery_limit: only quorum queues have a delivery limit")
        elif self.delayed_retry_type is not None:
            raise ValueError("delayed_retry_type: only quorum queues have delayed retry")
        retrying = self.delayed_retry_type not in (None, "disabled")
        if retrying and self.delayed_retry_min is None:
            # rabbit_quorum_queue.erl validate_delayed_retry_constraints/1
            raise ValueError(
                f"delayed_retry_min is required when delayed_retry_type is "
                f"{self.delayed_retry_type}"
            )
        if (self.delayed_retry_min is not None or self.delayed_retry_max is not None) and (
            not retrying
        ):
            raise ValueError("delayed_retry_min and _max need a delayed_retry_type")
        low, high = self.delayed_retry_min, self.delayed_retry_max
        if low is not None and high is not None and high < low:
            raise ValueError(
                f"delayed_retry_max ({high}) must not be smaller than delayed_retry_min ({low})"
            )
        if self.type != "classic" and self.mirrors:
            raise ValueError("mirrors: only classic queues are mirrored (quorum queues replicate)")
        if self.dead_letter_routing_key is not None and self.dead_letter_exchange is None:
            raise ValueError("dead_letter_routing_key needs a dead_letter_exchange")
        return self

    def label(self) -> str:
        """The queue's name and the arguments that shape what it does, for drawings."""
        notes = [self.type] if self.type != "classic" else []
        if self.max_length is not None:
            notes.append(f"max {self.max_length}, {self.overflow}")
        if self.max_length_bytes is not None:
            notes.append(f"max {self.max_length_bytes} B, {self.overflow}")
        if self.message_ttl is not None:
            notes.append(f"ttl {self.message_ttl:g}s")
        if self.delivery_limit is not None:
            notes.append(f"delivery limit {self.delivery_limit}")
        if self.max_priority is not None:
            notes.append(f"priorities 0-{self.max_priority}")
        if self.max_age is not None:
            notes.append(f"max age {self.max_age:g}s")
        if self.consumer_timeout is not None:
            notes.append(f"consumer timeout {self.consumer_timeout / 1000:g}s")
        if self.delayed_retry_type not in (None, "disabled"):
            notes.append(f"delayed retry {self.delayed_retry_type}")
        return self.name + (f"\n({'; '.join(notes)})" if notes else "")

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
            ("x-max-age", None if self.max_age is None else _age_text(self.max_age)),
            ("x-stream-max-segment-size-bytes", self.max_segment_size_bytes),
            ("x-consumer-timeout", self.consumer_timeout),
            ("x-delayed-retry-type", self.delayed_retry_type),
            ("x-delayed-retry-min", self.delayed_retry_min),
            ("x-delayed-retry-max", self.delayed_retry_max),
        )
        args.update((key, value) for key, value in pairs if value is not None)
        if self.type != "stream" and (
            self.max_length is not None or self.max_length_bytes is not None
        ):
            args["x-overflow"] = self.overflow
        return args


def _age_text(seconds: float) -> str:
    """x-max-age as RabbitMQ reads it: a whole number and a unit (rabbit_amqqueue:
    check_max_age/1); the largest unit that divides the age, else seconds rounded up."""
    for unit, size in (("D", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{max(1, math.ceil(seconds))}s"


class BindingConfig(StrictModel):
    exchange: str = Field(min_length=1)
    queue: str = Field(min_length=1)
    routing_key: str = ""
    arguments: dict[str, Any] | None = None


class CostConfig(PresetCost):
    """The broker's own costs (opt-in: `cost: {}` takes the published defaults, see cost.py;
    `preset` a calibrated preset, sim/presets/)."""

    SYSTEM: ClassVar[str] = "rabbitmq"
    routing: Duration = 0.0  # per message, in the publishing channel
    queue_rate: Rate = CLASSIC_QUEUE_RATE  # messages a classic queue's process handles per second
    persistence: Duration = QUORUM_PERSISTENCE  # extra per message in a quorum queue
    schedulers: int | None = Field(default=None, ge=1)  # the cluster's cores (None: no stage)
    core_time: Duration = 0.0  # scheduler time per copy of a message routed to a queue
    mirroring: Duration = 0.0  # more scheduler time per mirror of a mirrored classic queue
    fsync: Duration = 0.0  # a quorum queue's WAL fsync, which its confirm and delivery wait for
    # The queue process's own garbage collections (cost.py): pauses a second, and their length.
    gc_pause: Duration = Field(default=0.0, ge=0)
    gc_rate: float = Field(default=0.0, ge=0)
    # A stream writer's time per chunk it writes, on top of its time per message (cost.py).
    stream_chunk: Duration = Field(default=0.0, ge=0)

    @model_validator(mode="after")
    def _positive_rate(self) -> CostConfig:
        if self.queue_rate <= 0:
            raise ValueError("queue_rate must be positive")
        return self

    def model(self) -> CostModel:
        return CostModel(
            self.routing,
            self.queue_rate,
            self.persistence,
            self.schedulers,
            self.core_time,
            self.mirroring,
            self.fsync,
            self.gc_pause,
            self.gc_rate,
            self.stream_chunk,
        )


class RabbitMQConfig(StrictModel):
    type: Literal["rabbitmq"]
    # The RabbitMQ version whose defaults apply (sim/brokers/rabbitmq/versions.py).
    version: VersionName = DEFAULT_VERSION
    exchanges: list[ExchangeConfig] = []
    queues: list[QueueConfig] = Field(min_length=1)
    bindings: list[BindingConfig] = []
    cost: CostConfig | None = None  # None: the ideal broker, instant and without limits
    # RabbitMQ 4.3 refuses non-durable classic queues unless every node permits the deprecated
    # feature (rabbitmq.conf `deprecated_features.permit.transient_nonexcl_queues = true`;
    # 4.3.0 release notes). Scenario queues are never exclusive.
    permit_transient_queues: bool = False
    # rabbitmq.conf `consumer_timeout`, in milliseconds: how long a consumer may hold an
    # unacknowledged delivery (default 1800000, 30 minutes: deps/rabbit/Makefile). Who
    # enforces it, and how, depends on the version (sim/brokers/rabbitmq/versions.py).
    consumer_timeout: int = Field(default=1_800_000, gt=0)

    @model_validator(mode="after")
    def _names_are_unique(self) -> RabbitMQConfig:
        for kind, items in (("queues", self.queues), ("exchanges", self.exchanges)):
            seen: set[str] = set()
            for item in items:
                if item.name in seen:
                    raise ValueError(f"{kind}: the name {item.name!r} is used twice")
                seen.add(item.name)
        return self

    def client_errors(
        self, producers: list[Any], consumers: list[Any]
    ) -> Iterator[tuple[tuple[str | int, ...], str]]:
        """A stream consumer needs a prefetch and manual acks (rabbit_stream_queue:consume/3);
        `stream_offset` means something only on a stream."""
        streams = {q.name for q in self.queues if q.type == "stream"}
        for i, consumer in enumerate(consumers):
            if consumer.from_ in streams:
                if consumer.prefetch == 0:
                    yield (
                        ("consumers", i, "prefetch"),
                        "a stream consumer needs a prefetch above 0 (RabbitMQ refuses "
                        "basic.consume on a stream without one)",
                    )
                if consumer.ack == "auto":
                    yield (
                        ("consumers", i, "ack"),
                        "streams do not support automatic acknowledgement",
                    )
                fails = consumer.nack_probability > 0 or consumer.poison_header is not None
                if fails and not behaviour(self.version).stream_nack_gives_credit:
                    yield (
                        ("consumers", i, "nack_probability"),
                        f"RabbitMQ {self.version} refuses basic.nack on a stream (it closes "
                        "the connection): failures on a stream need version 4.0 or later",
                    )
            elif consumer.stream_offset is not None:
                yield (
                    ("consumers", i, "stream_offset"),
                    f"{consumer.from_!r} is not a stream (type: stream)",
                )

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
        yield from self._version_errors()
        for i, queue in enumerate(self.queues):
            dlx = queue.dead_letter_exchange
            if dlx not in (None, "") and dlx not in exchanges:
                yield (
                    ("broker", "queues", i, "dead_letter_exchange"),
                    f"unknown exchange {dlx!r} (known: {', '.join(exchanges) or 'none'})",
                )

    def _version_errors(self) -> Iterator[tuple[tuple[str | int, ...], str]]:
        """What this version refuses or does not have, each at the field that asks for it."""
        version = behaviour(self.version)
        for i, queue in enumerate(self.queues):
            at = ("broker", "queues", i)
            limit = queue.delivery_limit
            if limit is not None and limit < 0 and not version.negative_delivery_limit_disables:
                yield (
                    (*at, "delivery_limit"),
                    f"-1 (no limit) needs RabbitMQ 4.0 or later (version {self.version}); "
                    "before 4.0 no limit is the default",
                )
            if (
                version.refuses_transient_queues
                and not self.permit_transient_queues
                and not queue.is_durable
            ):
                yield (
                    (*at, "durable"),
                    f"RabbitMQ {self.version} refuses non-durable non-exclusive queues "
                    "(4.3.0 release notes): set durable: true, or broker.permit_transient_queues: "
                    "true (the deprecated feature transient_nonexcl_queues)",
                )
            if queue.delayed_retry_type is not None and not version.delayed_retry:
                yield (
                    (*at, "delayed_retry_type"),
                    f"delayed retry needs RabbitMQ 4.3 or later (version {self.version})",
                )
            if queue.consumer_timeout is not None:
                if self.version == "3.10":
                    yield (
                        (*at, "consumer_timeout"),
                        "RabbitMQ 3.10 has only the broker-wide consumer_timeout "
                        "(rabbit_channel.erl evaluate_consumer_timeout/1)",
                    )
                elif version.consumer_timeout_by == "quorum" and queue.type != "quorum":
                    yield (
                        (*at, "consumer_timeout"),
                        f"RabbitMQ {self.version} evaluates consumer timeouts on quorum queues "
                        "only (4.3.0 release notes): a classic queue or stream never times out",
                    )

    def add_to_graph(self, graph: Any) -> None:
        """Exchanges and queues as nodes, bindings as edges labelled with their keys, and
        dead-letter edges from a queue to its dead-letter exchange."""
        graph.graph["default_exchange"] = True  # publishing to a queue goes through it
        for exchange in self.exchanges:
            graph.add_node(
                exchange.name, kind="exchange", label=f"{exchange.name}\n({exchange.type})"
            )
        for queue in self.queues:
            graph.add_node(queue.name, kind="queue", label=queue.label())
        for binding in self.bindings:
            key = binding.routing_key
            if binding.arguments:
                key = ", ".join(f"{k}={v}" for k, v in binding.arguments.items())
            if graph.has_edge(binding.exchange, binding.queue):  # several keys: all of them
                key = f"{graph.edges[binding.exchange, binding.queue]['label']}, {key}"
            graph.add_edge(binding.exchange, binding.queue, label=key)
        for queue in self.queues:
            if queue.dead_letter_exchange:  # the default exchange "" is not drawn
                graph.add_edge(
                    queue.name, queue.dead_letter_exchange, label="dead letters", dead_letter=True
                )
