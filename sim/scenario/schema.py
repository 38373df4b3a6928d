"""The scenario file's schema: pydantic models, immutable, with unknown keys as errors."""

from __future__ import annotations

import copy
from typing import Any, Literal

from pydantic import Field, PrivateAttr, model_validator

from sim.brokers.registry import BrokerConfig
from sim.distributions import Distribution
from sim.fields import Dist, Duration, Rate, Size, StrictModel

__all__ = ["ConsumerConfig", "LinkConfig", "ProducerConfig", "Scenario"]


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
    network: LinkOverride | None = None


class ConsumerConfig(StrictModel):
    """A consumer; `replicas` copies of it compete for the same source."""

    name: str = Field(min_length=1)
    from_: str = Field(alias="from", min_length=1)
    replicas: int = Field(default=1, ge=1)
    prefetch: int = Field(default=1, ge=0)
    ack: Literal["manual", "auto"] = "manual"
    service_time: Dist = Distribution.constant(0.0)
    network: LinkOverride | None = None


class Scenario(StrictModel):
    """A validated scenario. Build one with `sim.load_scenario(path)` or `Scenario.from_dict`."""

    name: str = Field(min_length=1)
    description: str = ""
    seed: int = 1
    duration: Duration
    warmup: Duration = 0.0
    sample_interval: Duration | None = None
    network: LinkConfig = LinkConfig()
    broker: BrokerConfig
    producers: list[ProducerConfig] = []
    consumers: list[ConsumerConfig] = []
    variants: dict[str, dict[str, Any]] = {}

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
        duplicate = next((n for n in names if names.count(n) > 1), None)
        if duplicate is not None:
            raise ValueError(f"the name {duplicate!r} is used by two producers or consumers")
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
