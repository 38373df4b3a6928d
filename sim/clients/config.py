"""The fields every producer and consumer of a scenario has, whatever the broker.

A broker adds its own fields by subclassing these in its package (its `config.py`), and the
registry (sim/brokers/registry.py) assembles the scenario's `ProducerConfig` and
`ConsumerConfig` from them. A field of this module is either *generic* (every broker reads it)
or *shared*: several systems have the concept, each broker's spec says whether it reads it
(`BrokerSpec.reads`), and a scenario that sets it under a broker that does not is refused.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from sim.backoff import Jitter
from sim.clients.load import Schedule, Spikes
from sim.distributions import Distribution
from sim.fieldtypes import Dist, Duration, Rate, Size, StrictModel
from sim.guarantees.config import GuaranteeConfig
from sim.network import LinkOverride

__all__ = [
    "GENERIC_CONSUMER_FIELDS",
    "GENERIC_PRODUCER_FIELDS",
    "SHARED_CONSUMER_FIELDS",
    "SHARED_PRODUCER_FIELDS",
    "ConsumerBase",
    "ProducerBase",
    "RetryPolicyConfig",
]


class ProducerBase(StrictModel):
    """An open-loop source of messages: it sends on its own schedule, whatever the broker does."""

    name: str = Field(min_length=1)
    to: str = Field(min_length=1)
    rate: Rate
    arrivals: Literal["poisson", "constant"] = "poisson"
    message_size: Size = 0
    start: Duration = 0.0
    stop: Duration | None = None
    schedule: Schedule = []  # rate steps [{at, rate}] after `rate` (sim/clients/load.py)
    spikes: Spikes = []  # bursts [{at, duration, rate or factor}] over the base rate
    network: LinkOverride | None = None
    # An unreliable network (sim/clients/unreliable.py): each publish is lost on the way, or
    # its confirm on the way back, with these probabilities; with `retry_after` the producer
    # publishes a message again when its confirm has not come that long after the publish.
    publish_loss_probability: float = Field(default=0.0, ge=0.0, le=1.0)
    confirm_loss_probability: float = Field(default=0.0, ge=0.0, le=1.0)
    retry_after: Duration | None = Field(default=None, gt=0)
    # Shared: message keys ("key-0".."key-N-1" for an int, else the given list; unset: no
    # keys), drawn uniformly or by Zipf's law. Brokers with keyed partitioning read them.
    keys: int | list[str] | None = None
    key_distribution: Literal["uniform", "zipf"] | None = None


class RetryPolicyConfig(StrictModel):
    """A consumer's retry policy: how often and how late a failed processing is tried again,
    each broker through its own mechanism (docs/notification-system.md), then dead-lettered.

    `attempts` counts every try, the first included (5: one try and four retries). The wait
    before retry k is sim/backoff.py's. `blocking`: the replica waits and retries in place,
    holding the message (Spring Kafka's blocking retries); otherwise the broker holds it
    meanwhile. `retry_after`: a provider's throttling answer (HTTP 429 with Retry-After, RFC
    6585 section 4) makes the wait at least what it asked for.

    Defaults are Spring Kafka's for retry topics: 3 attempts, a fixed 1 s backoff
    (RetryTopicConstants.DEFAULT_MAX_ATTEMPTS, BackOffValuesGenerator's FixedBackOff(1000));
    for exponential backoff, Spring Framework's ExponentialBackOff multiplier 1.5, a 30 s cap
    and no jitter (DEFAULT_MULTIPLIER, DEFAULT_MAX_INTERVAL, DEFAULT_JITTER).
    """

    attempts: int = Field(default=3, ge=1)
    backoff: Literal["exponential", "fixed"] = "fixed"
    initial: Duration = 1.0
    multiplier: float = Field(default=1.5, ge=1.0)
    max_delay: Duration = 30.0
    jitter: Jitter = "none"
    blocking: bool = False
    retry_after: bool = True

    @field_validator("initial", "max_delay")
    @classmethod
    def _positive(cls, value: float) -> float:
        if value <= 0:
            raise ValueError("must be positive")
        return value


#: Providers a consumer calls for each message: one list for all, or lists by routing key.
Calls = list[str] | dict[str, list[str]]


class ConsumerBase(StrictModel):
    """A consumer; `replicas` copies of it compete for the same source."""

    name: str = Field(min_length=1)
    from_: str = Field(alias="from", min_length=1)
    replicas: int = Field(default=1, ge=1)
    service_time: Dist = Distribution.constant(0.0)
    network: LinkOverride | None = None
    # Delivery guarantees (sim/guarantees/): the strategy the consumer applies its side effects
    # with, and where and how often its processing fails; effects go to the run's ledger.
    guarantee: GuaranteeConfig | None = None
    # A rate limit shared by the consumer's replicas (sim/consumers/ratelimit.py): at most
    # `rate_limit` processings per second, with bursts of up to `burst`.
    rate_limit: Rate | None = Field(default=None, gt=0)
    burst: int = Field(default=1, ge=1)
    # Synchronous calls to providers (sim/services/) after the service time: every message
    # calls `calls` in order (a list), or the list of its routing key (a mapping); each call
    # gives up after `timeout` (None waits for ever). A failed call fails the processing.
    calls: Calls = []
    timeout: Duration | None = Field(default=None, gt=0)
    # What a failed processing does (sim/consumers/retry.py): without it, what the broker does
    # with a failure (a nack, a message left to reappear); with it, retries, then the DLQ.
    retry: RetryPolicyConfig | None = None
    # Shared: how many deliveries a replica may hold unacknowledged (RabbitMQ basic.qos, the
    # COUNT of a Redis XREADGROUP; 0: no limit), and when a delivery is acknowledged: after
    # processing (manual) or on delivery (auto: at most once).
    prefetch: int = Field(default=1, ge=0)
    ack: Literal["manual", "auto"] = "manual"

    @model_validator(mode="after")
    def _policies(self) -> ConsumerBase:
        if self.guarantee is not None and (self.retry is not None or self.calls):
            raise ValueError(
                "retry and calls are not run with a guarantee: section (its effects are the "
                "processing's side effects)"
            )
        if self.timeout is not None and not self.calls:
            raise ValueError("timeout: it is how long each call waits, and there are no calls")
        return self


def _fields(model: type[StrictModel], *names: str) -> frozenset[str]:
    missing = [n for n in names if n not in model.model_fields]
    assert not missing, missing
    return frozenset(names)


#: Field names every broker reads.
GENERIC_PRODUCER_FIELDS = _fields(
    ProducerBase,
    "name",
    "to",
    "rate",
    "arrivals",
    "message_size",
    "start",
    "stop",
    "schedule",
    "spikes",
    "network",
    "publish_loss_probability",
    "confirm_loss_probability",
    "retry_after",
)
GENERIC_CONSUMER_FIELDS = _fields(
    ConsumerBase,
    "name",
    "from_",
    "replicas",
    "service_time",
    "network",
    "guarantee",
    "rate_limit",
    "burst",
    "calls",
    "timeout",
    "retry",
)
#: Field names a broker reads only if its spec says so.
SHARED_PRODUCER_FIELDS = frozenset(ProducerBase.model_fields) - GENERIC_PRODUCER_FIELDS
SHARED_CONSUMER_FIELDS = frozenset(ConsumerBase.model_fields) - GENERIC_CONSUMER_FIELDS
