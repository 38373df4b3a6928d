"""RunContext: what every part of a run is built from (a leaf every room may import).

The clock, the recorder, the random streams, the scenario being run, and the registers a run
fills as its parts are built: fault targets and model-specific tables.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import simpy

from sim.distributions import Distribution, Sampler
from sim.metrics import Recorder
from sim.network import Link, LinkOverride
from sim.randomness import RandomStreams

__all__ = ["RunContext"]


@dataclass
class RunContext:
    """What every part of a run is built from: the clock, the recorder and the random streams.

    `scenario` is the validated `sim.Scenario` being run. It is typed loosely here because the
    scenario's schema is assembled from every broker's declared fields (sim/brokers/registry.py),
    and this module must stay a leaf that the brokers themselves can import.
    """

    env: simpy.Environment
    scenario: Any
    recorder: Recorder
    streams: RandomStreams
    message_ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    # Fault targets: name -> the parts it names (a consumer's name names all its replicas).
    parts: dict[str, list[Any]] = field(default_factory=dict)
    # Model-specific tables for Results.tables: name -> builds the DataFrame at the run's end.
    tables: dict[str, Callable[[], pd.DataFrame]] = field(default_factory=dict)
    # Consumers with a `guarantee:` section: name -> what their replicas share
    # (sim/guarantees/strategies.py SharedEffects), set before the broker is built.
    effects: dict[str, Any] = field(default_factory=dict)
    # What a consumer's replicas share beyond effects, by consumer name (its rate limit).
    shared: dict[str, Any] = field(default_factory=dict)
    # The run's synchronous services by name (sim/services/), built after the broker: the
    # providers consumer replicas call (sim/consumers/calls.py) are looked up here.
    services: dict[str, Any] = field(default_factory=dict)

    def register_part(self, part: Any, *names: str) -> None:
        """Make `part` (which has the hooks of sim.faults.Faultable) a target of `names`."""
        for name in dict.fromkeys(names):
            self.parts.setdefault(name, []).append(part)

    def sampler(self, stream: str, distribution: Distribution) -> Sampler:
        """A sampler of `distribution` on the random stream named `stream`."""
        return distribution.sampler(self.streams.generator(stream))

    def link(self, owner: str, hop: str, override: LinkOverride | None = None) -> Link:
        """The network hop `hop` ("producer_to_broker", ...) for `owner`, with its own stream."""
        delay = getattr(override, hop, None) if override is not None else None
        if delay is None:
            delay = getattr(self.scenario.network, hop)
        return Link(self.env, delay, self.sampler(f"{owner}/{hop}", delay))
