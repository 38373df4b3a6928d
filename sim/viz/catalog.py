"""The catalog of charts: one table of every chart mqsim draws, what it needs, what it supersedes.

A chart is chosen from what Results declares: the kinds of series it holds (`Results.series`),
its tables (`Results.tables`) and its summary keys, plus a `shows` test that the data has
something to see. No chart is chosen from column names, and no rule of precedence lives outside
this table: when two charts would say the same, the one listed as superseding wins.

`scope` is "run" for the charts of one run, "variants" for those comparing a scenario's
variants on shared axes (drawn with the variants' Results by name).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from matplotlib.figure import Figure

from sim.results import Results
from sim.viz.compare import (
    depth_differs,
    plot_compare_depth,
    plot_compare_latency,
    plot_delivery_outcomes,
)
from sim.viz.consumers import (
    counts_differ,
    has_several_consumers,
    plot_compare_messages_per_consumer,
    plot_messages_per_consumer,
)
from sim.viz.experiments import (
    consumer_count,
    has_services,
    has_spike,
    outcomes_differ,
    plot_outcomes,
    plot_scaling,
    plot_service_timeline,
    plot_spike,
)
from sim.viz.guarantees import plot_effects
from sim.viz.kafka import (
    assignment_changes,
    plot_compare_lag,
    plot_consumer_lag,
    plot_partition_assignment,
    plot_throughput_vs_consumers,
)
from sim.viz.latency import plot_latency_cdf
from sim.viz.replication import plot_broker_failure
from sim.viz.timeline import has_timeline, plot_message_timeline
from sim.viz.timeseries import has_depth, plot_queue_depth
from sim.viz.topology import plot_topology, union_topology

__all__ = ["CATALOG", "Chart", "chosen"]

Runs = Mapping[str, Results]


@dataclass(frozen=True)
class Chart:
    """One chart: its file name, scope, what it needs, what it supersedes, how to draw it."""

    name: str
    scope: Literal["run", "variants"]
    draw: Callable[[Any], Figure]
    series: tuple[str, ...] = ()  # kinds of series every run must hold
    tables: tuple[str, ...] = ()  # tables every run must hold
    summary: tuple[str, ...] = ()  # summary keys every run must hold
    shows: Callable[[Runs], bool] = lambda runs: True  # the data has something to see
    supersedes: tuple[str, ...] = ()

    def applies(self, runs: Runs) -> bool:
        if not runs:
            return False
        for results in runs.values():
            if any(not results.columns_of(kind) for kind in self.series):
                return False
            if any(name not in results.tables for name in self.tables):
                return False
            if any(key not in results.summary for key in self.summary):
                return False
        return self.shows(runs)


def _one(runs: Runs) -> Results:
    return next(iter(runs.values()))


def _any(test: Callable[[Results], bool]) -> Callable[[Runs], bool]:
    return lambda runs: any(test(r) for r in runs.values())


def _all(test: Callable[[Results], bool]) -> Callable[[Runs], bool]:
    return lambda runs: all(test(r) for r in runs.values())


def _delivery_outcomes(runs: Runs) -> bool:
    """Messages processed twice, lost or expired, where no service outcomes are drawn."""
    keys = ("duplicates", "lost", "expired")
    some = any(r.summary.get(k, 0) for r in runs.values() for k in keys)
    return some and not any(has_services(r) for r in runs.values())


def _several_consumer_counts(runs: Runs) -> bool:
    counts = {consumer_count(r) for r in runs.values()}
    return len(runs) >= 3 and len(counts) == len(runs)


def _kafka_consumer_counts_differ(runs: Runs) -> bool:
    return len({r.summary["kafka.consumers"] for r in runs.values()}) > 1


def _busiest_assignment(runs: Runs) -> Figure:
    """The variant with the most members shows most (idle members, more rebalances)."""
    with_table = [r for r in runs.values() if assignment_changes(r)]
    busiest = max(with_table, key=lambda r: len(r.tables.get("kafka.members", ())))
    return plot_partition_assignment(busiest)


CATALOG: tuple[Chart, ...] = (
    # ----- one run -----
    Chart(
        "queue_depth",
        "run",
        lambda r: plot_queue_depth(r),
        series=("ready",),
        shows=_all(has_depth),  # a queue that never held a message: nothing to see
    ),
    Chart(
        "consumer_lag",
        "run",
        lambda r: plot_consumer_lag(r),
        series=("kafka.lag",),
        supersedes=("queue_depth",),  # per partition, as kafka-consumer-groups shows it
    ),
    Chart(
        "partition_assignment",
        "run",
        lambda r: plot_partition_assignment(r),
        tables=("kafka.assignments",),
        shows=_all(assignment_changes),
    ),
    Chart("latency_cdf", "run", lambda r: plot_latency_cdf(r)),
    Chart("topology", "run", lambda r: plot_topology(r.topology, f"{r.label}: topology")),
    Chart(
        "messages_per_consumer",
        "run",
        lambda r: plot_messages_per_consumer(r),
        shows=_all(has_several_consumers),
    ),
    Chart(
        "spike",
        "run",
        lambda r: plot_spike({r.variant or r.scenario_name: r}),
        series=("service.success",),
        shows=_all(has_spike),
        supersedes=("timeline",),
    ),
    Chart(
        "timeline",
        "run",
        lambda r: plot_service_timeline({r.variant or r.scenario_name: r}),
        series=("service.success",),
    ),
    Chart(
        "effects",
        "run",
        lambda r: plot_effects({r.variant or r.scenario_name: r}),
        summary=("effects_once",),
    ),
    Chart(
        "broker_failure",
        "run",
        lambda r: plot_broker_failure({r.variant or r.scenario_name: r}),
        series=("retained",),
        summary=("kafka.broker_crashes",),  # counted only when a Kafka broker crashed
    ),
    Chart("message_timeline", "run", lambda r: plot_message_timeline(r), shows=_all(has_timeline)),
    # ----- variants side by side -----
    Chart(
        "compare_queue_depth",
        "variants",
        plot_compare_depth,
        series=("ready",),
        shows=depth_differs,  # identical in every variant, or always empty: nothing to compare
    ),
    Chart("compare_latency_cdf", "variants", plot_compare_latency),
    Chart(
        "compare_messages_per_consumer",
        "variants",
        plot_compare_messages_per_consumer,
        shows=counts_differ,  # the same counts in every variant: nothing to compare
    ),
    Chart(
        "delivery_outcomes",
        "variants",
        plot_delivery_outcomes,
        shows=_delivery_outcomes,
        supersedes=("outcomes",),  # it zooms in on the few messages that differ
    ),
    Chart(
        "spike",
        "variants",
        plot_spike,
        series=("service.success",),
        shows=_any(has_spike),
        supersedes=("timeline",),
    ),
    Chart("timeline", "variants", plot_service_timeline, series=("service.success",)),
    Chart(
        "outcomes",
        "variants",
        plot_outcomes,
        shows=lambda runs: len(runs) > 1 and (_all(has_services)(runs) or outcomes_differ(runs)),
    ),
    Chart(
        "throughput_vs_consumers",
        "variants",
        plot_throughput_vs_consumers,
        series=("kafka.lag",),
        summary=("kafka.consumers",),
        shows=_kafka_consumer_counts_differ,
        supersedes=("scaling",),  # it says where the partitions cap the consumers
    ),
    Chart("scaling", "variants", plot_scaling, shows=_several_consumer_counts),
    Chart(
        "compare_lag",
        "variants",
        plot_compare_lag,
        series=("kafka.lag",),
        supersedes=("compare_queue_depth",),
    ),
    Chart(
        "broker_failure",
        "variants",
        plot_broker_failure,
        series=("retained",),
        summary=("kafka.broker_crashes",),
        # Lag reads 0 while the high watermark is frozen: it hides the outage this shows.
        supersedes=("compare_lag", "compare_queue_depth", "delivery_outcomes"),
    ),
    Chart(
        "partition_assignment",
        "variants",
        _busiest_assignment,
        shows=_any(assignment_changes),
    ),
    Chart(
        "effects",
        "variants",
        plot_effects,
        summary=("effects_once",),
        # With a ledger the effects are the lesson; deliveries processed twice are not effects
        # applied twice, and the effects chart shows them beside, labelled as deliveries.
        supersedes=("delivery_outcomes",),
    ),
    Chart("message_timeline", "variants", plot_message_timeline, shows=_all(has_timeline)),
    Chart(
        "topology",
        "variants",
        # The union: a part only one variant uses (a dead-letter queue) is drawn connected.
        lambda runs: plot_topology(union_topology(runs), f"{_one(runs).scenario_name}: topology"),
    ),
)


def chosen(runs: Runs, scope: Literal["run", "variants"]) -> dict[str, Chart]:
    """The charts of `scope` these runs have data for, superseded ones left out, by name."""
    found = {c.name: c for c in CATALOG if c.scope == scope and c.applies(runs)}
    for chart in list(found.values()):
        for name in chart.supersedes:
            found.pop(name, None)
    return found
