"""The run loop: build a scenario's parts on a SimPy environment, run it, collect Results."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import simpy

from sim.brokers.registry import broker_module
from sim.distributions import Distribution, Sampler
from sim.faults import apply as apply_faults
from sim.metrics import Recorder
from sim.network import Link
from sim.randomness import RandomStreams
from sim.results import Results, summarize
from sim.scenario import Scenario, ScenarioError, load_scenario
from sim.scenario.schema import LinkOverride
from sim.services import build as build_services
from sim.topology import build_topology
from sim.units import parse_duration

__all__ = ["RunContext", "run", "run_variants"]

Progress = Callable[[float], None]


@dataclass
class RunContext:
    """What every part of a run is built from: the clock, the recorder and the random streams."""

    env: simpy.Environment
    scenario: Scenario
    recorder: Recorder
    streams: RandomStreams
    message_ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    # Fault targets: name -> the parts it names (a consumer's name names all its replicas).
    parts: dict[str, list[Any]] = field(default_factory=dict)
    # Model-specific tables for Results.tables: name -> builds the DataFrame at the run's end.
    tables: dict[str, Callable[[], pd.DataFrame]] = field(default_factory=dict)

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


def run(
    scenario: Scenario | str | Path,
    seed: int | None = None,
    duration: float | str | None = None,
    trace: bool = False,
    progress: Progress | None = None,
) -> Results:
    """Simulate `scenario` (a Scenario or a path to a scenario file) and return its Results.

    `seed` and `duration` replace the scenario's own; `trace=True` (or the scenario's own
    `trace: true`) keeps one row per state change of every message (memory then grows with
    the message count).
    """
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    seed = scenario.seed if seed is None else int(seed)
    try:
        until = scenario.duration if duration is None else parse_duration(duration)
    except ValueError as error:
        raise ScenarioError(str(error), "duration") from None
    if until <= scenario.warmup:
        raise ScenarioError(f"must be longer than the warmup ({scenario.warmup:g}s)", "duration")
    env = simpy.Environment()
    recorder = Recorder(env, scenario.warmup, scenario.interval, trace or scenario.trace)
    ctx = RunContext(env, scenario, recorder, RandomStreams(seed))
    broker = broker_module(scenario.broker.type).build(ctx)
    build_services(ctx, broker)
    apply_faults(ctx)
    recorder.start_sampling()
    _advance(env, until, progress)
    recorder.sample_now()
    return _collect(scenario, seed, until, recorder, ctx.tables)


def run_variants(
    scenario: Scenario | str | Path,
    seed: int | None = None,
    duration: float | str | None = None,
    trace: bool = False,
) -> dict[str, Results]:
    """Run every variant of `scenario` on the same seed: {variant name: Results}.

    A scenario without variants gives {"": its own Results}.
    """
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    variants = scenario.variant_scenarios() or {"": scenario}
    return {
        name: run(variant, seed=seed, duration=duration, trace=trace)
        for name, variant in variants.items()
    }


def _advance(env: simpy.Environment, until: float, progress: Progress | None) -> None:
    if progress is None:
        env.run(until=until)
        return
    steps = 100
    for step in range(1, steps + 1):
        env.run(until=until * step / steps)
        progress(step / steps)


def _collect(
    scenario: Scenario,
    seed: int,
    until: float,
    recorder: Recorder,
    tables: dict[str, Callable[[], pd.DataFrame]] | None = None,
) -> Results:
    built = {name: make() for name, make in (tables or {}).items()}  # may add final counts
    summary = summarize(recorder, until, scenario.warmup)
    timeseries = pd.DataFrame(recorder.rows, columns=recorder.timeseries_columns())
    values, fraction = recorder.latency.cdf()
    latency = pd.DataFrame({"latency": values, "cumulative_fraction": fraction})
    trace = None
    if recorder.trace is not None:
        trace = pd.DataFrame(recorder.trace, columns=["time", "message_id", "event", "component"])
    events = pd.DataFrame(recorder.events, columns=["time", "component", "event"])
    return Results(
        scenario_name=scenario.name,
        variant=scenario.variant,
        seed=seed,
        summary=summary,
        timeseries=timeseries,
        latency=latency,
        trace=trace,
        events=events,
        topology=build_topology(scenario),
        duration=until,
        warmup=scenario.warmup,
        tables=built,
    )
