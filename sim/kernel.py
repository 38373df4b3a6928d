"""The run loop: build a scenario's parts on a SimPy environment, run it, collect Results."""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial
from heapq import heappop
from pathlib import Path

import pandas as pd
import simpy
from simpy.core import StopSimulation
from simpy.events import URGENT, EventPriority

from sim.brokers.base import BrokerRuntime
from sim.brokers.registry import spec_of
from sim.clients.producer import Producer
from sim.clients.unreliable import republishing
from sim.collector import held_out_of_collections
from sim.context import RunContext
from sim.errors import ScenarioError
from sim.faults import apply as apply_faults
from sim.guarantees.build import attach as attach_guarantees
from sim.message import State
from sim.metrics import Recorder
from sim.randomness import RandomStreams
from sim.results import Results, latency_tables, summarize
from sim.scenario import Scenario, load_scenario
from sim.scenario.schema import check_seed
from sim.services import build as build_services
from sim.topology import build_topology
from sim.units import parse_duration

__all__ = ["RunContext", "RunInterrupted", "run", "run_variants"]

Progress = Callable[[float], None]


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C during a run, with the simulated time it had reached (`at`, seconds)."""

    def __init__(self, at: float) -> None:
        super().__init__(f"interrupted at t={at:g}s")
        self.at = at


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
    seed = scenario.seed if seed is None else check_seed(seed)
    try:
        until = scenario.duration if duration is None else parse_duration(duration)
    except ValueError as error:
        raise ScenarioError(str(error), "duration") from None
    if until <= scenario.warmup:
        raise ScenarioError(f"must be longer than the warmup ({scenario.warmup:g}s)", "duration")
    env = simpy.Environment()
    recorder = Recorder(env, scenario.warmup, scenario.interval, trace or scenario.trace)
    ctx = RunContext(env, scenario, recorder, RandomStreams(seed))
    # Before any message id is taken: with guaranteed consumers the ledger issues them.
    ctx.effects = attach_guarantees(ctx) or {}
    broker = spec_of(scenario.broker.type).build(ctx)
    for producer in scenario.producers:
        sender = broker.sender(producer)
        send = republishing(ctx, producer, sender.send)
        Producer(ctx, producer, send, sender.owns_network_hop, sender.stamp, sender.message)
    build_services(ctx, broker)
    _measures(ctx, broker)
    apply_faults(ctx)
    recorder.start_sampling()
    # Speed: the model built above lives until the run ends, and what the brokers hold lives
    # long; frozen, the cyclic collector leaves them out of the collections the run's own
    # allocations trigger (a 10,000-partition Pulsar model is millions of objects; a Kafka
    # log keeps every record for 7 days). See sim/collector.py.
    with held_out_of_collections():
        _advance(env, until, progress)
    recorder.sample_now()
    results = _collect(scenario, seed, until, recorder, ctx.tables)
    results.latencies = latency_tables(recorder, [s.name for s in broker.sources()])
    return results


def _measures(ctx: RunContext, broker: BrokerRuntime) -> None:
    """The generic measures, sampled into the time series: `ready.<source>` (the exact count
    the broker keeps in the recorder), `in_flight.<source>`, `backlog` and `retained.<topic>`;
    and every consumer replica registered as a reader of its source, for latency_by."""
    recorder = ctx.recorder
    sources = broker.sources()
    # Speed: the ready and backlog gauges are C-level reads of the recorder's lists (no
    # Python frame per gauge per sample: a run takes about 500 samples, each reading every
    # gauge, three a source, which makes several reads a message with 50 sources).
    recorder.ready_gauges([source.name for source in sources])
    for source in sources:
        recorder.gauge(f"in_flight.{source.name}", source.in_flight, "in_flight")
    recorder.gauge("backlog", partial(recorder.states.__getitem__, State.LIVE), "backlog")
    for topic, read in broker.retained().items():
        recorder.gauge(f"retained.{topic}", read, "retained")
    for consumer in ctx.scenario.consumers:
        source = broker.source_of(consumer)
        for part in ctx.parts.get(consumer.name, []):
            recorder.reader(part.name, consumer.name, source)
    for service in ctx.scenario.services:
        recorder.reader(service.name, service.name, service.consumes or "")


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


# Each call to `progress` comes after a slice of the run that took about this much wall time.
_SLICE_SECONDS = 0.2


def _advance(env: simpy.Environment, until: float, progress: Progress | None) -> None:
    """Run `env` to `until`, calling `progress(fraction done)` about every 0.2 s of wall time.

    The run goes in slices of simulated time, each sized from how long the last one took (at
    most twice as long as it, so a quiet start cannot make one slice cover a busy stretch):
    a few `env.run` calls a second, nothing per event. Pausing changes nothing: a pause is one
    urgent event, the first at its instant, so every other event keeps its order. Ctrl-C
    raises RunInterrupted with the simulated time reached.
    """
    try:
        if progress is None:
            _run(env, until)
            return
        span = until * 1e-6  # the first slices are tiny: the bar moves at once, whatever the run
        while env.now < until:
            target = min(until, env.now + span)
            if target == until and 0 < env.now < until / 2:
                # SimPy stops at now + (until - now); from half-way on that is exactly `until`
                # (Sterbenz), as in one env.run(until) from 0: events at `until` stay unrun.
                target = until / 2
            started = time.monotonic()
            _run(env, target)
            took = time.monotonic() - started
            growth = min(2.0, _SLICE_SECONDS / took) if took > 0 else 2.0
            span = max(span * growth, until * 1e-9)
            progress(env.now / until)
    except KeyboardInterrupt:
        raise RunInterrupted(env.now) from None


def _run(env: simpy.Environment, until: float) -> None:
    """`env.run(until=until)`, with `Environment.step` inlined in its loop.

    Speed: SimPy's run calls `step` once an event (two or more a message); here its body is
    the loop's own, a Python call fewer an event. The steps are SimPy 4.1's, in its order:
    the same `until` event (urgent, scheduled as `run` schedules it, so it takes the same
    event id), the same callbacks and failure check per event, and on StopSimulation the
    same rescheduling of the callbacks left (`step`'s), so a later slice finds the queue as
    SimPy leaves it.
    """
    at = until if isinstance(until, int) else float(until)
    if at <= env.now:
        raise ValueError(f"until ({at}) must be greater than the current simulation time")
    stop = simpy.Event(env)
    stop._ok = True
    stop._value = None
    env.schedule(stop, URGENT, at - env.now)
    stop.callbacks.append(StopSimulation.callback)  # type: ignore[union-attr]
    queue = env._queue
    while True:
        try:
            env._now, _, _, event = heappop(queue)
        except IndexError:
            raise RuntimeError(
                f'No scheduled events left but "until" event was not triggered: {stop}'
            ) from None
        callbacks, event.callbacks = event.callbacks, None
        try:
            for callback in callbacks:
                callback(event)
        except StopSimulation:
            event.callbacks = callbacks[callbacks.index(callback) + 1 :]
            env.schedule(event, EventPriority(-1))
            return
        if not event._ok and not hasattr(event, "_defused"):
            exc = type(event._value)(*event._value.args)
            exc.__cause__ = event._value
            raise exc


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
        series={kind: list(columns) for kind, columns in recorder.series.items()},
    )
