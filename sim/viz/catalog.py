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
from sim.viz.notifications import (
    has_deliveries,
    has_retries,
    plot_channel_depth,
    plot_channel_latency,
    plot_retry_timeline,
    plot_sla_attainment,
)
from sim.viz.pulsar import (
    has_backlog,
    has_hash_changes,
    has_storage,
    ordering_differs,
    plot_compare_storage,
    plot_compare_subscription_backlog,
    plot_hash_ranges,
    plot_ordering,
    plot_storage,
    plot_subscription_backlog,
)
from sim.viz.rebalance import has_restarts, plot_rebalance_cost, plot_storm_throughput
from sim.viz.replication import plot_broker_failure
from sim.viz.share_groups import (
    has_share_deliveries,
    plot_key_order,
    plot_share_deliveries,
    plot_share_scaling,
    share_consumer_counts_differ,
)
from sim.viz.streams import (
    has_stream_deletions,
    plot_compare_stream_retention,
    plot_stream_retention,
)
from sim.viz.timeline import has_timeline, plot_message_timeline
from sim.viz.timeseries import has_depth, plot_queue_depth
from sim.viz.topology import crowded_union, plot_designs, plot_topology, union_topology

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
    Chart(
        "sla_attainment",
        "run",
        lambda r: plot_sla_attainment({r.variant or r.scenario_name: r}),
        tables=("providers.kinds",),
        shows=_all(has_deliveries),
    ),
    Chart(
        "channel_latency",
        "run",
        lambda r: plot_channel_latency({r.variant or r.scenario_name: r}),
        tables=("providers", "providers.latency"),
        shows=_all(has_deliveries),
        supersedes=("latency_cdf",),  # per channel, counted against what was due
    ),
    Chart(
        "channel_depth",
        "run",
        lambda r: plot_channel_depth({r.variant or r.scenario_name: r}),
        series=("provider.undelivered",),
        tables=("providers",),
        shows=_all(has_deliveries),
    ),
    Chart(
        "retry_timeline",
        "run",
        lambda r: plot_retry_timeline({r.variant or r.scenario_name: r}),
        tables=("retry.attempts",),
        shows=_all(has_retries),
    ),
    Chart(
        "share_deliveries",
        "run",
        lambda r: plot_share_deliveries({r.variant or r.scenario_name: r}),
        tables=("kafka.share.deliveries",),
        shows=_all(has_share_deliveries),
    ),
    Chart(
        "hash_ranges",
        "run",
        lambda r: plot_hash_ranges(r),
        tables=("pulsar.hash_ranges",),
        shows=_all(has_hash_changes),  # a selector that never changed: one band, nothing to see
    ),
    Chart(
        "storage",
        "run",
        lambda r: plot_storage(r),
        series=("pulsar.storage_backlog", "pulsar.storage_acked"),
        shows=_all(has_storage),
    ),
    Chart(
        "stream_retention",
        "run",
        lambda r: plot_stream_retention(r),
        series=("rabbitmq.stream_bytes", "rabbitmq.stream_segments"),
        tables=("rabbitmq.stream_retention", "rabbitmq.streams"),
        shows=_all(has_stream_deletions),  # retention deleted a segment: a drop to see
    ),
    Chart(
        "subscription_backlog",
        "run",
        lambda r: plot_subscription_backlog(r),
        series=("pulsar.backlog",),
        shows=_all(has_backlog),
    ),
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
    Chart(
        "share_scaling",
        "variants",
        plot_share_scaling,
        summary=("kafka.consumers", "kafka.share_consumers"),
        shows=share_consumer_counts_differ,
        # it draws consumer groups and share groups apart: past the partition count only the
        # consumer group's line goes flat
        supersedes=("throughput_vs_consumers", "scaling"),
    ),
    Chart(
        "key_order",
        "variants",
        plot_key_order,
        summary=("kafka.out_of_key_order",),
        shows=lambda runs: any(r.summary["kafka.out_of_key_order"] for r in runs.values()),
    ),
    Chart(
        "share_deliveries",
        "variants",
        plot_share_deliveries,
        tables=("kafka.share.deliveries",),
        shows=_any(has_share_deliveries),
    ),
    Chart(
        "storm_throughput",
        "variants",
        plot_storm_throughput,
        summary=("kafka.restarts",),
        shows=_any(has_restarts),
    ),
    Chart(
        "rebalance_cost",
        "variants",
        plot_rebalance_cost,
        summary=("kafka.restarts", "kafka.unowned_partition_seconds"),
        shows=_any(has_restarts),
        supersedes=("delivery_outcomes",),  # its third panel is the duplicates
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
        "sla_attainment",
        "variants",
        plot_sla_attainment,
        tables=("providers.kinds",),
        shows=_all(has_deliveries),
        # What became of every notification, counted against what was due; the outcome bars
        # count the broker's copies, one per channel queue, so designs that fan out look bigger.
        supersedes=("outcomes",),
    ),
    Chart(
        "channel_latency",
        "variants",
        plot_channel_latency,
        tables=("providers", "providers.latency"),
        shows=_all(has_deliveries),
        # The end-to-end latency of processing mixes a synchronous design's answers with each
        # channel's copies; per channel, against what was due, the designs compare.
        supersedes=("compare_latency_cdf",),
    ),
    Chart(
        "channel_depth",
        "variants",
        plot_channel_depth,
        series=("provider.undelivered",),
        tables=("providers",),
        shows=_all(has_deliveries),
        # What waits per channel, in every design alike (a synchronous design has no queue, a
        # shared queue holds every channel, a stream counts per group): the queues themselves
        # are in each variant's own queue_depth chart (`mqsim run`).
        supersedes=("compare_queue_depth", "compare_lag"),
    ),
    Chart(
        "retry_timeline",
        "variants",
        plot_retry_timeline,
        shows=_any(has_retries),
    ),
    Chart(
        "hash_ranges",
        "variants",
        plot_hash_ranges,
        tables=("pulsar.hash_ranges",),
        shows=_any(has_hash_changes),
    ),
    Chart(
        "compare_storage",
        "variants",
        plot_compare_storage,
        series=("pulsar.storage_backlog", "pulsar.storage_acked"),
        shows=_any(has_storage),
    ),
    Chart(
        "compare_stream_retention",
        "variants",
        plot_compare_stream_retention,
        series=("rabbitmq.stream_bytes",),
        tables=("rabbitmq.stream_retention", "rabbitmq.streams"),
        shows=_any(has_stream_deletions),
    ),
    Chart(
        "compare_subscription_backlog",
        "variants",
        plot_compare_subscription_backlog,
        series=("pulsar.backlog",),
        shows=_any(has_backlog),
    ),
    Chart(
        "ordering",
        "variants",
        plot_ordering,
        summary=("pulsar.out_of_order",),
        shows=ordering_differs,
        # Duplicates are drawn beside the order they break.
        supersedes=("delivery_outcomes",),
    ),
    Chart(
        "topology",
        "variants",
        # The union: a part only one variant uses (a dead-letter queue) is drawn connected.
        lambda runs: plot_topology(union_topology(runs), f"{_one(runs).scenario_name}: topology"),
    ),
    Chart(
        "designs",
        "variants",
        plot_designs,
        shows=crowded_union,
        supersedes=("topology",),  # variants too different for one drawing: one each
    ),
)


def chosen(runs: Runs, scope: Literal["run", "variants"]) -> dict[str, Chart]:
    """The charts of `scope` these runs have data for, superseded ones left out, by name."""
    found = {c.name: c for c in CATALOG if c.scope == scope and c.applies(runs)}
    for chart in list(found.values()):
        for name in chart.supersedes:
            found.pop(name, None)
    return found
