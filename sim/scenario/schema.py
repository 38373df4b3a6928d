"""The scenario file's schema: pydantic models, immutable, with unknown keys as errors."""

from __future__ import annotations

import copy
from typing import Annotated, Any, Literal

from pydantic import (
    Field,
    PrivateAttr,
    TypeAdapter,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    model_validator,
)

from sim.brokers.kafka.config import (
    KAFKA_ONLY,
    Acks,
    ConsumerCrash,
    Millis,
    Replay,
    Strategy,
)
from sim.brokers.rabbitmq.config import RABBITMQ_ONLY, Priority
from sim.brokers.redis.config import REDIS_ONLY
from sim.brokers.registry import BrokerConfig
from sim.brokers.sqs.config import SQS_ONLY
from sim.clients.load import Schedule, Spikes
from sim.distributions import Distribution
from sim.faults import FaultConfig
from sim.fieldtypes import Dist, Duration, Rate, Size, StrictModel
from sim.guarantees.config import GuaranteeConfig
from sim.scenario.errors import ScenarioError
from sim.services.config import ClientConfig, ServiceConfig

__all__ = ["ConsumerConfig", "LinkConfig", "ProducerConfig", "Scenario", "Seed", "check_seed"]


def _seed_message(value: Any, handler: ValidatorFunctionWrapHandler) -> int:
    try:
        return handler(value)
    except ValidationError:
        raise ValueError(f"must be an integer of 0 or more, got {value!r}") from None


# A seed is the entropy of numpy's SeedSequence (sim/randomness.py), which takes non-negative
# integers only ("All integer values must be non-negative": numpy.random.SeedSequence, numpy
# docs, https://numpy.org/doc/stable/reference/random/bit_generators/generated/
# numpy.random.SeedSequence.html). One message for every way a seed is wrong.
Seed = Annotated[int, Field(ge=0), WrapValidator(_seed_message)]
_SEED = TypeAdapter(Seed)


def check_seed(value: object, where: str = "seed") -> int:
    """`value` as a seed (`sim.run(seed=...)`, `--seed`, a list of seeds), else a ScenarioError
    naming `where`, in the words the scenario file's `seed:` gets."""
    try:
        return _SEED.validate_python(value)
    except ValidationError as error:
        message = error.errors(include_url=False)[0]["msg"].removeprefix("Value error, ")
        raise ScenarioError(message, where) from None


class LinkConfig(StrictModel):
    """One-way network delays of the hops around the broker (zero: the ideal network)."""

    producer_to_broker: Dist = Distribution.constant(0.0)
    broker_to_consumer: Dist = Distribution.constant(0.0)
    consumer_to_broker: Dist = Distribution.constant(0.0)


class LinkOverride(StrictModel):
    """Per-producer or per-consumer delays that replace the scenario-wide ones."""

    producer_to_broker: Dist | None = None
    broker_to_consumer: Dist | None = None
    consumer_to_broker: Dist | None = None


class ProducerConfig(StrictModel):
    """An open-loop source of messages: it sends on its own schedule, whatever the broker does."""

    name: str = Field(min_length=1)
    to: str = Field(min_length=1)
    rate: Rate
    arrivals: Literal["poisson", "constant"] = "poisson"
    message_size: Size = 0
    routing_key: str | list[str] | None = None
    start: Duration = 0.0
    stop: Duration | None = None
    schedule: Schedule = []  # rate steps [{at, rate}] after `rate` (sim/clients/load.py)
    spikes: Spikes = []  # bursts [{at, duration, rate or factor}] over the base rate
    network: LinkOverride | None = None
    # RabbitMQ message properties: AMQP headers, priority (one value or a uniform pick from a
    # list), per-message TTL (`expiration`), and mandatory (return it if no queue takes it).
    headers: dict[str, Any] | None = Field(default=None, json_schema_extra=RABBITMQ_ONLY)
    priority: Priority = Field(default=None, json_schema_extra=RABBITMQ_ONLY)
    ttl: Duration | None = Field(default=None, json_schema_extra=RABBITMQ_ONLY)
    mandatory: bool = Field(default=False, json_schema_extra=RABBITMQ_ONLY)
    # delivery_mode 2: a durable queue keeps the message across a broker restart (pika's
    # default is transient, delivery_mode 1).
    persistent: bool = Field(default=False, json_schema_extra=RABBITMQ_ONLY)
    # An unreliable network (sim/guarantees/publish.py): each publish is lost on the way, or
    # its confirm on the way back, with these probabilities; with `retry_after` the producer
    # publishes a message again when its confirm has not come that long after the publish.
    publish_loss_probability: float = Field(
        default=0.0, ge=0.0, le=1.0, json_schema_extra=RABBITMQ_ONLY
    )
    confirm_loss_probability: float = Field(
        default=0.0, ge=0.0, le=1.0, json_schema_extra=RABBITMQ_ONLY
    )
    retry_after: Duration | None = Field(default=None, gt=0, json_schema_extra=RABBITMQ_ONLY)
    # Kafka (broker.type: kafka; sim/brokers/kafka/config.py): record keys ("key-0".."key-N-1"
    # for an int, else the given list; none: null keys, the sticky partitioner), an explicit
    # partition, and the producer's own settings by their Kafka names.
    keys: int | list[str] | None = Field(default=None, json_schema_extra=KAFKA_ONLY)
    key_distribution: Literal["uniform", "zipf"] | None = Field(
        default=None, json_schema_extra=KAFKA_ONLY
    )
    partition: int | None = Field(default=None, ge=0, json_schema_extra=KAFKA_ONLY)
    acks: Acks | None = Field(default=None, json_schema_extra=KAFKA_ONLY)
    linger_ms: Millis | None = Field(default=None, alias="linger.ms", json_schema_extra=KAFKA_ONLY)
    batch_size: Size | None = Field(default=None, alias="batch.size", json_schema_extra=KAFKA_ONLY)
    delivery_timeout_ms: Millis | None = Field(
        default=None, alias="delivery.timeout.ms", json_schema_extra=KAFKA_ONLY
    )
    # SQS (broker.type: sqs; sim/brokers/sqs/config.py): the MessageGroupId of a FIFO queue's
    # messages, one group or a uniform pick from a list.
    message_group: str | list[str] | None = Field(default=None, json_schema_extra=SQS_ONLY)


class ConsumerConfig(StrictModel):
    """A consumer; `replicas` copies of it compete for the same source."""

    name: str = Field(min_length=1)
    from_: str = Field(alias="from", min_length=1)
    replicas: int = Field(default=1, ge=1)
    prefetch: int = Field(default=1, ge=0)
    ack: Literal["manual", "auto"] = "manual"
    service_time: Dist = Distribution.constant(0.0)
    network: LinkOverride | None = None
    # Failed processing (RabbitMQ): each delivery fails with `nack_probability`, and always if
    # the message carries the header `poison_header`; a failure is a basic.nack that requeues
    # it (`requeue: true`) or dead-letters / drops it (`requeue: false`).
    nack_probability: float = Field(default=0.0, ge=0.0, le=1.0, json_schema_extra=RABBITMQ_ONLY)
    poison_header: str | None = Field(default=None, json_schema_extra=RABBITMQ_ONLY)
    requeue: bool = Field(default=True, json_schema_extra=RABBITMQ_ONLY)
    # Delivery guarantees (sim/guarantees/): the strategy the consumer applies its side effects
    # with, and where and how often its processing fails; effects go to the run's ledger.
    guarantee: GuaranteeConfig | None = None
    # Kafka (broker.type: kafka; sim/brokers/kafka/config.py): the consumer's settings by their
    # Kafka names (group.id defaults to the consumer's name), the application's commit strategy
    # when auto-commit is off, and a crash schedule and a replay (stand-ins for `faults:`).
    group_id: str | None = Field(default=None, alias="group.id", json_schema_extra=KAFKA_ONLY)
    enable_auto_commit: bool | None = Field(
        default=None, alias="enable.auto.commit", json_schema_extra=KAFKA_ONLY
    )
    auto_commit_interval_ms: Millis | None = Field(
        default=None, alias="auto.commit.interval.ms", json_schema_extra=KAFKA_ONLY
    )
    auto_offset_reset: Literal["earliest", "latest", "none"] | None = Field(
        default=None, alias="auto.offset.reset", json_schema_extra=KAFKA_ONLY
    )
    commit: Literal["after-processing", "before-processing"] | None = Field(
        default=None, json_schema_extra=KAFKA_ONLY
    )
    max_poll_records: int | None = Field(
        default=None, ge=1, alias="max.poll.records", json_schema_extra=KAFKA_ONLY
    )
    partition_assignment_strategy: Strategy | None = Field(
        default=None, alias="partition.assignment.strategy", json_schema_extra=KAFKA_ONLY
    )
    session_timeout_ms: Millis | None = Field(
        default=None, alias="session.timeout.ms", json_schema_extra=KAFKA_ONLY
    )
    crash: ConsumerCrash | None = Field(default=None, json_schema_extra=KAFKA_ONLY)
    replay: Replay | None = Field(default=None, json_schema_extra=KAFKA_ONLY)
    # SQS (broker.type: sqs): ReceiveMessage's MaxNumberOfMessages, and WaitTimeSeconds (long
    # polling; unset: the queue's receive_wait_time).
    max_messages: int = Field(default=1, ge=1, le=10, json_schema_extra=SQS_ONLY)
    wait_time: Duration | None = Field(default=None, le=20.0, json_schema_extra=SQS_ONLY)
    # Redis Streams (broker.type: redis; sim/brokers/redis/config.py): the consumer group
    # the replicas read in with XREADGROUP (each replica is the group's consumer
    # `<name>.<i>`), and the idle time after which a replica XAUTOCLAIMs entries another one
    # left pending (unset: pending entries wait for their own consumer).
    group: str | None = Field(default=None, min_length=1, json_schema_extra=REDIS_ONLY)
    claim_idle: Duration | None = Field(default=None, gt=0, json_schema_extra=REDIS_ONLY)


class Scenario(StrictModel):
    """A validated scenario. Build one with `sim.load_scenario(path)` or `Scenario.from_dict`."""

    name: str = Field(min_length=1)
    description: str = ""
    seed: Seed = 1
    duration: Duration
    warmup: Duration = 0.0
    sample_interval: Duration | None = None
    network: LinkConfig = LinkConfig()
    broker: BrokerConfig
    producers: list[ProducerConfig] = []
    consumers: list[ConsumerConfig] = []
    services: list[ServiceConfig] = []  # synchronous services (sim/services/)
    clients: list[ClientConfig] = []  # open-loop load on services
    faults: list[FaultConfig] = []  # sim/faults.py
    variants: dict[str, dict[str, Any]] = {}
    # Keep the per-message trace (as `sim.run(..., trace=True)`): for small teaching runs
    # whose charts draw single messages.
    trace: bool = False

    _raw: dict[str, Any] = PrivateAttr(default_factory=dict)
    _source: str = PrivateAttr(default="")
    _variant: str = PrivateAttr(default="")

    @model_validator(mode="after")
    def _check_times(self) -> Scenario:
        if self.duration <= 0:
            raise ValueError("duration must be positive")
        if self.warmup >= self.duration:
            raise ValueError(f"warmup ({self.warmup:g}s) must be shorter than duration")
        names = [p.name for p in self.producers] + [c.name for c in self.consumers]
        names += [s.name for s in self.services] + [c.name for c in self.clients]
        duplicate = next((n for n in names if names.count(n) > 1), None)
        if duplicate is not None:
            raise ValueError(
                f"the name {duplicate!r} is used twice (producers, consumers, services, clients)"
            )
        return self

    @property
    def source(self) -> str:
        """The file this scenario came from ('' when built in Python)."""
        return self._source

    @property
    def variant(self) -> str:
        """The variant's name, for a scenario made by `variant_scenarios` ('' for the base)."""
        return self._variant

    @property
    def raw(self) -> dict[str, Any]:
        """The plain data it was built from: what overrides edit and what worker processes get."""
        return copy.deepcopy(self._raw)

    @property
    def interval(self) -> float:
        """The sampling interval: as given, else about 500 samples over the run."""
        if self.sample_interval:
            return self.sample_interval
        return self.duration / 500

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "") -> Scenario:
        from sim.scenario.load import validate

        return validate(data, source)

    def variant_scenarios(self) -> dict[str, Scenario]:
        """Each named variant as a scenario of its own: the base with the variant's overrides.

        Variants share the base's seed, so they compare on common random numbers.
        """
        from sim.scenario.load import variant_scenarios

        return variant_scenarios(self)

    def override(self, changes: dict[str, Any]) -> Scenario:
        """A new scenario with values replaced at dotted paths, e.g. {"consumers.0.replicas": 4}."""
        from sim.scenario.overrides import apply_overrides

        return Scenario.from_dict(apply_overrides(self.raw, changes), self._source)
