"""One run of an experiment described as plain data, so it can be shipped to any worker.

A worker process (or a Dask worker on another machine) receives the scenario's data, the
overrides of its grid point and a seed, and builds the scenario itself. Nothing live (a SimPy
environment, a validated pydantic model, an open file) crosses a process boundary, so any
executor that can pickle a dict can run it, and the same spec gives the same numbers anywhere.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sim.randomness import spawn_seeds
from sim.scenario import Scenario, ScenarioError, apply_overrides
from sim.scenario.schema import check_seed

__all__ = ["RunSpec", "build_scenario", "seed_list"]


@dataclass(frozen=True)
class RunSpec:
    """A scenario's data, the overrides of one grid point, and the seed of one run."""

    raw: dict[str, Any]
    source: str
    overrides: dict[str, Any] = field(default_factory=dict)
    seed: int = 1

    @classmethod
    def of(cls, scenario: Scenario, overrides: Mapping[str, Any], seed: int) -> RunSpec:
        raw = scenario.raw
        # A run is of this scenario alone: its variants are not run, so they are not shipped.
        raw.pop("variants", None)
        return cls(raw=raw, source=scenario.source, overrides=dict(overrides), seed=int(seed))

    def scenario(self) -> Scenario:
        """The validated scenario of this run (raises ScenarioError naming the file)."""
        return build_scenario(self.raw, self.overrides, self.source)


def build_scenario(raw: dict[str, Any], overrides: Mapping[str, Any], source: str) -> Scenario:
    """Scenario data with dotted-path overrides applied, validated; errors name the file."""
    try:
        return Scenario.from_dict(apply_overrides(copy.deepcopy(raw), dict(overrides)), source)
    except ScenarioError as error:
        raise (error if error.source else error.with_source(source)) from None


def seed_list(base: int, seeds: int | Sequence[int]) -> list[int]:
    """`seeds` distinct seeds spawned from `base` (the scenario's seed), or the seeds given.

    Spawned seeds are prefixes of each other: 10 seeds are the first 10 of 30. A given seed
    that is not an integer of 0 or more is a ScenarioError (a ValueError), raised here rather
    than as a numpy error in a worker process.
    """
    if isinstance(seeds, bool):
        raise ValueError(f"seeds must be a count or a list of seeds, got {seeds!r}")
    if isinstance(seeds, int):
        if seeds < 1:
            raise ValueError(f"seeds must be at least 1, got {seeds}")
        return spawn_seeds(check_seed(base), seeds)
    chosen = [check_seed(s, "seeds") for s in seeds]
    if not chosen:
        raise ValueError("seeds must not be empty")
    if len(set(chosen)) != len(chosen):
        raise ValueError("seeds must be distinct: a repeated seed repeats a run exactly")
    return chosen
