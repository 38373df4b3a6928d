"""The fields every producer and consumer of a scenario has, whatever the broker.

A broker adds its own fields by subclassing these in its package (its `config.py`), and the
registry (sim/brokers/registry.py) assembles the scenario's `ProducerConfig` and
`ConsumerConfig` from them. A field of this module is either *generic* (every broker reads it)
or *shared*: several systems have the concept, each broker's spec says whether it reads it
(`BrokerSpec.reads`), and a scenario that sets it under a broker that does not is refused.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

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
    # Shared: how many deliveries a replica may hold unacknowledged (RabbitMQ basic.qos, the
    # COUNT of a Redis XREADGROUP; 0: no limit), and when a delivery is acknowledged: after
    # processing (manual) or on delivery (auto: at most once).
    prefetch: int = Field(default=1, ge=0)
    ack: Literal["manual", "auto"] = "manual"


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
)
#: Field names a broker reads only if its spec says so.
SHARED_PRODUCER_FIELDS = frozenset(ProducerBase.model_fields) - GENERIC_PRODUCER_FIELDS
SHARED_CONSUMER_FIELDS = frozenset(ConsumerBase.model_fields) - GENERIC_CONSUMER_FIELDS
