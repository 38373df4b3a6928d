"""Before a run: does an unbounded source receive more than its consumers can take?

An offered load above capacity grows the backlog for the whole run, and with it the memory the
simulation holds (every queued message is an object). For each consumer the estimate is its
load, rho = arrival rate x mean service time / servers (the replicas that can work at once);
above 1 on a source without a length bound, the backlog grows by about
arrival rate - servers / mean service time messages per simulated second. What that means in
memory is measured, not guessed: a short pilot run of the same broker with no consumers, under
tracemalloc, gives the bytes each queued message holds.
"""

from __future__ import annotations

import math
import tracemalloc
from dataclasses import dataclass
from typing import Any

from sim.brokers.registry import spec_of
from sim.kernel import run
from sim.scenario import Scenario

__all__ = ["Overload", "bytes_per_queued_message", "overloads", "warning_line"]

PILOT_MESSAGES = 20_000


@dataclass(frozen=True)
class Overload:
    consumer: str
    source: str
    load: float  # rho: offered work over capacity
    growth: float  # messages per simulated second added to the backlog


def overloads(scenario: Scenario) -> list[Overload]:
    """The consumers whose unbounded source receives more than they can process."""
    broker = scenario.broker
    spec = spec_of(broker.type)
    offered: dict[str, float] = {}
    for producer in scenario.producers:
        for source, share in spec.routes(broker, producer).items():
            offered[source] = offered.get(source, 0.0) + producer.rate * share
    found = []
    for consumer in scenario.consumers:
        rate = offered.get(consumer.from_, 0.0)
        mean = consumer.service_time.mean
        servers = spec.servers(broker, consumer)
        if rate <= 0 or mean <= 0 or servers <= 0 or not spec.unbounded(broker, consumer.from_):
            continue
        load = rate * mean / servers
        if load > 1:
            growth = rate - servers / mean
            found.append(Overload(consumer.name, consumer.from_, load, growth))
    return found


def bytes_per_queued_message(scenario: Scenario, source: str) -> float:
    """Measured: the memory a pilot run holds per message left queued in `source` (the same
    broker section, one producer, no consumers), under tracemalloc."""
    raw = scenario.raw
    raw.pop("variants", None)
    rate = PILOT_MESSAGES / 10.0
    raw.update(
        {
            "name": "pilot",
            "duration": 10.0,
            "warmup": 0.0,
            "sample_interval": 10.0,
            "trace": False,
            "producers": [{"name": "pilot", "to": source, "rate": rate, "arrivals": "constant"}],
            "consumers": [],
            "services": [],
            "clients": [],
            "faults": [],
        }
    )
    pilot = Scenario.from_dict(raw)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        results = run(pilot)
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    queued = max(1, results.summary["backlog_at_end"])
    return held / queued


def warning_line(scenario: Scenario, duration: float | None = None) -> str | None:
    """One line for stderr when a consumer is overloaded on an unbounded source, else None."""
    found = overloads(scenario)
    if not found:
        return None
    worst = max(found, key=lambda o: o.growth)
    until = scenario.duration if duration is None else duration
    total = sum(o.growth for o in found)
    per_message = _pilot_bytes(scenario, worst.source)
    memory = total * until * per_message
    others = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
    return (
        f"warning: consumer {worst.consumer!r} is offered {worst.load:.3g}x what it can process "
        f"from {worst.source!r}{others}: the backlog grows by about {total:.4g} messages per "
        f"simulated second, about {_size(memory)} of memory by the end of the run "
        f"({per_message:.0f} bytes per queued message, measured)"
    )


def _pilot_bytes(scenario: Scenario, source: str) -> float:
    try:
        return bytes_per_queued_message(scenario, source)
    except Exception:  # a pilot the scenario cannot make (a source no producer may send to)
        return math.nan


def _size(value: Any) -> str:
    if not math.isfinite(value):
        return "an unknown amount"
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if value >= scale:
            return f"{value / scale:.3g} {unit}"
    return f"{value:.0f} B"
