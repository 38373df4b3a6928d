"""The broker contract: what a broker model declares (BrokerSpec) and what its built runtime gives
the rest of a run (BrokerRuntime).

A broker is one package under sim/brokers/ with a `spec.py` holding its `SPEC`, and one line in
sim/brokers/registry.py. The spec names the scenario section, the producer and consumer fields
the system adds (subclasses of sim/clients/config.py's bases), which shared fields it reads, and
the function that builds it on a run. Nothing outside the broker's package needs to know its
type name: validation, fault targets, services, measures and charts all go through the spec and
the runtime.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

from sim.brokers.costs import CostModelSpec
from sim.clients.config import (
    GENERIC_CONSUMER_FIELDS,
    GENERIC_PRODUCER_FIELDS,
    SHARED_CONSUMER_FIELDS,
    SHARED_PRODUCER_FIELDS,
    ConsumerBase,
    ProducerBase,
)
from sim.fieldtypes import StrictModel
from sim.message import BareMessage, Message, MessageCore

if TYPE_CHECKING:
    from sim.context import RunContext

__all__ = [
    "BrokerRuntime",
    "BrokerSection",
    "BrokerSpec",
    "Feature",
    "IdealQueue",
    "Loc",
    "NamedTopics",
    "OMBDriver",
    "Sender",
    "Source",
]

Loc = tuple[str | int, ...]
Send = Callable[[Message], Any]


class BrokerSection(Protocol):
    """What every broker's scenario section (`broker:`) offers validation and drawings."""

    type: str

    def destinations(self) -> set[str]: ...
    def sources(self) -> set[str]: ...
    def reference_errors(self) -> Iterator[tuple[Loc, str]]: ...
    def add_to_graph(self, graph: Any) -> None: ...


class NamedTopics:
    """The `broker:` section methods of a system whose producers and consumers both name topics
    (Kafka, Pulsar): a mixin for a section model with a `topics` list of items with a `name`."""

    def destinations(self) -> set[str]:
        """Names a producer may send `to`: topics as declared."""
        return {t.name for t in self.topics}  # type: ignore[attr-defined]

    def sources(self) -> set[str]:
        """Names a consumer may read `from`: topics as declared."""
        return {t.name for t in self.topics}  # type: ignore[attr-defined]

    def reference_errors(self) -> Iterator[tuple[Loc, str]]:
        """Topics refer to nothing else in the section."""
        return iter(())


@dataclass(frozen=True)
class Sender:
    """How a scenario producer's messages reach the broker: `send(msg)`; whether `send` makes
    the producer->broker network hop itself (a client that batches records sends requests, not
    messages, over the hop); and `stamp(msg)`, which sets the system's own message properties
    as a message is made (so that a copy published again carries the same ones); and
    `message`, the class the producer makes: the fields it has as slots are those the broker
    writes (sim/message.py)."""

    send: Send
    owns_network_hop: bool = False
    stamp: Callable[[Message], None] | None = None
    # Memory: a system that writes more of a message's fields than BareMessage holds names the
    # class that holds them (RabbitMQ's AmqpMessage); the others keep 10 slots fewer a message.
    message: type[MessageCore] = BareMessage


@dataclass(frozen=True)
class Source:
    """One source a consumer group reads (a queue; a topic or stream for one group): its name
    in measures (`ready.<name>`, `in_flight.<name>`) and how to read what it holds now.

    `ready` counts messages stored at the broker, deliverable to the group and not delivered
    yet; `in_flight` those delivered to a consumer and neither processed nor returned.
    """

    name: str
    ready: Callable[[], int]
    in_flight: Callable[[], int]


class BrokerRuntime(Protocol):
    """What a built broker gives the rest of the run."""

    def sender(self, producer: Any) -> Sender:
        """The send port of a scenario producer."""
        ...

    def publisher(self, to: str, routing_key: str) -> Callable[[Message], bool]:
        """A send port for a service: publish one message, True if the broker took it."""
        ...

    def sources(self) -> list[Source]:
        """Every source a consumer group reads, for the measures."""
        ...

    def source_of(self, consumer: Any) -> str:
        """The name of the source a scenario consumer reads (as in `sources()`)."""
        ...

    def retained(self) -> Mapping[str, Callable[[], int]]:
        """Logs only: records stored per topic or stream, consumed or not."""
        ...


@dataclass(frozen=True)
class Feature:
    """One row of the feature table (docs/features.md, written by sim/brokers/features.py):
    what of the real system the model covers, for which versions, and where the rule is from."""

    name: str
    versions: str  # the system's versions it holds for ("3.10, 4.0-4.2", "4.2+", "7.0")
    status: Literal["modelled", "partly", "not modelled"]
    source: str  # docs URL, KIP, source file and function
    note: str = ""  # what is simplified or missing


@dataclass(frozen=True)
class IdealQueue:
    """The settings under which a broker is the ideal queue of queueing theory (no network,
    no costs, FIFO, a free consumer takes the next message at once): what the contract suite
    (tests/test_broker_contract.py) compares with M/M/1 and M/M/c.

    `section(source, consumers)` is the broker section with one source named `source` for
    `consumers` competing replicas; `consumer` and `producer` are the fields every consumer and
    producer gets; `warmup` is how long the model needs before it serves (Kafka's first
    rebalance waits group.initial.rebalance.delay.ms)."""

    section: Callable[[str, int], dict[str, Any]]
    consumer: Mapping[str, Any] = field(default_factory=dict)
    producer: Mapping[str, Any] = field(default_factory=dict)
    warmup: float = 0.0


@dataclass(frozen=True)
class OMBDriver:
    """How the broker runs OpenMessaging Benchmark workloads (`mqsim omb --driver <type>`):
    its name in OMB result files, how OMB's partitions map ("native": its own partitions;
    "queues": one queue per partition; "ignored": as OMB's own driver ignores them), whether
    producers copy each message to every subscription themselves (no broker fan-out), the
    default cost preset, and the builder of its scenario sections (`build(layout)`, the
    package's omb.py; `layout` is sim/omb/mapping.py's Layout)."""

    omb_name: str
    partitions: Literal["native", "queues", "ignored"]
    build: Callable[[Any], dict[str, Any]]
    producers_fan_out: bool = False
    default_preset: str = "ideal"


@dataclass(frozen=True)
class BrokerSpec:
    """A broker model, declared once in its package."""

    type: str  # `broker.type` in scenario files
    title: str  # the system's name in tables and docs ("Amazon SQS")
    section: type[StrictModel]  # the scenario's `broker:` section
    producer: type[ProducerBase]  # ProducerBase plus the system's own producer fields
    consumer: type[ConsumerBase]  # ConsumerBase plus the system's own consumer fields
    build: Callable[[RunContext], BrokerRuntime]
    # Shared fields of sim/clients/config.py this system reads.
    reads: frozenset[str] = frozenset()
    # A field this system does not read -> what does that job here, for the error message
    # ("it reads max.poll.records").
    instead: Mapping[str, str] = field(default_factory=dict)
    # Delivery-guarantee strategies its consumers run (sim/guarantees/config.py STRATEGIES).
    strategies: frozenset[str] = frozenset()
    # Fault targets beyond services and consumers (nodes: crash faults only), from the section.
    nodes: Callable[[Any], Iterable[str]] = lambda section: ()
    # Its own checks of producers and consumers against the section (names, combinations).
    client_errors: Callable[[Any, list[Any], list[Any]], Iterator[tuple[Loc, str]]] = (
        lambda section, producers, consumers: iter(())
    )
    # The consumer fields a synchronous service's consumer replicas get on this system, beyond
    # the generic ones (service_consumer()): e.g. Redis needs the group they read in.
    service_fields: Callable[[Any], dict[str, Any]] = lambda service: {}
    # For the overload estimate before a run (sim/experiments/overload.py): the share of a
    # producer's messages that reaches each source name a consumer may read `from`; how many
    # of a consumer's replicas can work at once; whether a source grows without a bound.
    routes: Callable[[Any, Any], dict[str, float]] = lambda section, producer: {producer.to: 1.0}
    servers: Callable[[Any, Any], int] = lambda section, consumer: consumer.replicas
    unbounded: Callable[[Any, str], bool] = lambda section, source: True
    # How it is the ideal queue of queueing theory (the contract suite's M/M/1 and M/M/c).
    ideal: IdealQueue | None = None
    # How it runs OpenMessaging Benchmark workloads (None: it is no `mqsim omb` driver).
    omb: OMBDriver | None = None
    # Its cost model's closed form, for the calibration (sim/brokers/costs.py; None: none).
    costs: CostModelSpec | None = None
    # What of the broker contract it cannot do, with the reason (the contract suite and the
    # README's feature table show these): "mmc", "node crash"...
    cannot: Mapping[str, str] = field(default_factory=dict)
    # What of the real system it models, per version, with sources (docs/features.md).
    features: tuple[Feature, ...] = ()

    def service_consumer(self, service: Any) -> ConsumerBase:
        """The consumer a service that `consumes` a source runs on this system: one replica per
        worker, each holding up to its share of the service's prefetch (sim/services/)."""
        workers = service.workers
        prefetch = workers if service.prefetch is None else service.prefetch
        data = {
            "name": service.name,
            "from": service.consumes,
            "replicas": workers,
            "prefetch": 0 if prefetch == 0 else max(1, prefetch // workers),
            "ack": service.ack,
            **self.service_fields(service),
        }
        return self.consumer.model_validate(data)

    def own_fields(self, kind: str) -> frozenset[str]:
        """The fields of its producer ("producers") or consumer ("consumers") model it adds."""
        model, base = (
            (self.producer, ProducerBase) if kind == "producers" else (self.consumer, ConsumerBase)
        )
        return frozenset(model.model_fields) - frozenset(base.model_fields)

    def reads_field(self, kind: str, name: str) -> bool:
        generic = GENERIC_PRODUCER_FIELDS if kind == "producers" else GENERIC_CONSUMER_FIELDS
        shared = SHARED_PRODUCER_FIELDS if kind == "producers" else SHARED_CONSUMER_FIELDS
        if name in generic:
            return True
        if name in shared:
            return name in self.reads
        return name in self.own_fields(kind)


def foreign_fields(
    spec: BrokerSpec, specs: Iterable[BrokerSpec], kind: str, index: int, item: StrictModel
) -> Iterator[tuple[Loc, str]]:
    """Fields set on producer or consumer `item` that `spec`'s model does not read, each as
    `<path>: not used by broker type 'X' (it reads Y)`, or `(a setting of A, B)` when the
    spec names nothing that does its job."""
    fields = type(item).model_fields
    for name in sorted(item.model_fields_set):
        if spec.reads_field(kind, name):
            continue
        shown = fields[name].alias or name
        why = spec.instead.get(shown)
        if why is None:
            owners = sorted(s.type for s in specs if s.reads_field(kind, name))
            why = f"a setting of {', '.join(owners)}" if owners else "no broker reads it"
        yield (kind, index, shown), f"not used by broker type {spec.type!r} ({why})"
