"""The registered broker models, and the scenario models derived from their specs.

Adding a broker is one line in SPECS. From the specs come the scenario's `broker:` section (a
union picked by `type`) and its producer and consumer models, which carry every system's fields;
validation then refuses, with one message shape, a field the scenario's broker does not read.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any, Union

from pydantic import Field

from sim.brokers.base import BrokerSpec, Loc, foreign_fields
from sim.brokers.kafka.spec import SPEC as KAFKA
from sim.brokers.pulsar.spec import SPEC as PULSAR
from sim.brokers.rabbitmq.spec import SPEC as RABBITMQ
from sim.brokers.redis.spec import SPEC as REDIS
from sim.brokers.sqs.spec import SPEC as SQS
from sim.clients.config import ConsumerBase, ProducerBase

__all__ = [
    "SPECS",
    "BrokerConfig",
    "ConsumerConfig",
    "ProducerConfig",
    "broker_types",
    "client_errors",
    "service_consumer_errors",
    "spec_of",
]

SPECS: dict[str, BrokerSpec] = {spec.type: spec for spec in (RABBITMQ, KAFKA, SQS, REDIS, PULSAR)}


def broker_types() -> list[str]:
    """The registered `broker.type` names."""
    return list(SPECS)


def spec_of(broker_type: str) -> BrokerSpec:
    return SPECS[broker_type]


def _combined(name: str, kind: str, bases: tuple[type, ...], doc: str) -> type:
    """One model with every system's fields; two systems may not declare the same field."""
    owner: dict[str, str] = {}
    for spec in SPECS.values():
        for field_name in spec.own_fields(kind):
            if field_name in owner:
                raise TypeError(
                    f"{kind} field {field_name!r} is declared by both {owner[field_name]} and "
                    f"{spec.type}: a field two systems share belongs in sim/clients/config.py"
                )
            owner[field_name] = spec.type
    return type(name, bases, {"__doc__": doc, "__module__": __name__})


ProducerConfig: type[ProducerBase] = _combined(
    "ProducerConfig",
    "producers",
    tuple(s.producer for s in SPECS.values()),
    "A scenario producer: the generic fields (sim/clients/config.py) and every system's own.",
)
ConsumerConfig: type[ConsumerBase] = _combined(
    "ConsumerConfig",
    "consumers",
    tuple(s.consumer for s in SPECS.values()),
    "A scenario consumer: the generic fields (sim/clients/config.py) and every system's own.",
)

# The `broker:` section is a union picked by `type` (pydantic's discriminated union).
_SECTIONS: Any = tuple(s.section for s in SPECS.values())
BrokerConfig = Annotated[Union[_SECTIONS], Field(discriminator="type")]  # noqa: UP007


def client_errors(
    broker: Any, producers: list[Any], consumers: list[Any]
) -> Iterator[tuple[Loc, str]]:
    """Fields the broker does not read, guarantee strategies it does not run, and its own
    checks of producers and consumers."""
    spec = SPECS[broker.type]
    for kind, items in (("producers", producers), ("consumers", consumers)):
        for i, item in enumerate(items):
            yield from foreign_fields(spec, SPECS.values(), kind, i, item)
    for i, consumer in enumerate(consumers):
        guarantee = consumer.guarantee
        if guarantee is not None and guarantee.strategy not in spec.strategies:
            supported = ", ".join(sorted(spec.strategies)) or "none yet"
            yield (
                ("consumers", i, "guarantee", "strategy"),
                f"{guarantee.strategy} is not run by broker type {spec.type!r} "
                f"(supported: {supported})",
            )
    yield from spec.client_errors(broker, producers, consumers)


def service_consumer_errors(broker: Any, services: list[Any]) -> Iterator[tuple[Loc, str]]:
    """A consuming service runs a consumer of the broker's own (BrokerSpec.service_consumer):
    what the broker would refuse of that consumer is an error of the service's `consumes`."""
    from pydantic import ValidationError

    spec = SPECS[broker.type]
    sources = broker.sources()
    for i, service in enumerate(services):
        if service.consumes is None or service.consumes not in sources:
            continue
        try:
            consumer = spec.service_consumer(service)
        except ValidationError as error:
            detail = error.errors(include_url=False)[0]
            yield ("services", i, "consumes"), str(detail["msg"]).removeprefix("Value error, ")
            continue
        for _loc, message in spec.client_errors(broker, [], [consumer]):
            yield ("services", i, "consumes"), message
