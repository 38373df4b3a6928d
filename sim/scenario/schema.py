"""The scenario file's schema: pydantic models, immutable, with unknown keys as errors."""

from __future__ import annotations

import copy
from typing import Annotated, Any

from pydantic import (
    Field,
    PrivateAttr,
    TypeAdapter,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    model_validator,
)

from sim.brokers.registry import BrokerConfig, ConsumerConfig, ProducerConfig
from sim.errors import ScenarioError
from sim.faults import FaultConfig
from sim.fieldtypes import Duration, StrictModel
from sim.network import LinkConfig, LinkOverride
from sim.services.config import ClientConfig, ServiceConfig

__all__ = [
    "ConsumerConfig",
    "LinkConfig",
    "LinkOverride",
    "ProducerConfig",
    "Scenario",
    "Seed",
    "check_seed",
]


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

    def on_broker(self, broker: dict[str, Any], name: str | None = None) -> Scenario:
        """The same traffic on another broker: `broker` is a `broker:` section; the producer
        and consumer fields that broker does not read are left out."""
        from sim.scenario.load import on_broker

        return on_broker(self, broker, name)

    def override(self, changes: dict[str, Any]) -> Scenario:
        """A new scenario with values replaced at dotted paths, e.g. {"consumers.0.replicas": 4}."""
        from sim.scenario.overrides import apply_overrides

        return Scenario.from_dict(apply_overrides(self.raw, changes), self._source)
