"""Charts drawn from Results and topology graphs only, never from a running model."""

from sim.viz.catalog import CATALOG, Chart
from sim.viz.charts import scenario_charts, variant_charts, write_charts, write_variant_charts
from sim.viz.compare import plot_compare_depth, plot_compare_latency, plot_delivery_outcomes
from sim.viz.consumers import plot_compare_messages_per_consumer, plot_messages_per_consumer
from sim.viz.experiments import (
    plot_outcomes,
    plot_scaling,
    plot_service_timeline,
    plot_spike,
    processing_rate,
)
from sim.viz.guarantees import plot_effect_matrix, plot_effects, plot_strategy_cost
from sim.viz.interactive import Interactive, interactive
from sim.viz.kafka import (
    plot_compare_lag,
    plot_consumer_lag,
    plot_partition_assignment,
    plot_throughput_vs_consumers,
)
from sim.viz.latency import plot_latency_cdf
from sim.viz.notifications import (
    plot_channel_depth,
    plot_channel_latency,
    plot_retry_timeline,
    plot_sla_attainment,
)
from sim.viz.sweep import plot_sweep
from sim.viz.timeline import plot_message_timeline
from sim.viz.timeseries import plot_queue_depth
from sim.viz.topology import plot_designs, plot_topology

__all__ = [
    "CATALOG",
    "Chart",
    "Interactive",
    "interactive",
    "plot_channel_depth",
    "plot_channel_latency",
    "plot_compare_depth",
    "plot_compare_lag",
    "plot_compare_latency",
    "plot_compare_messages_per_consumer",
    "plot_consumer_lag",
    "plot_delivery_outcomes",
    "plot_designs",
    "plot_effect_matrix",
    "plot_effects",
    "plot_latency_cdf",
    "plot_message_timeline",
    "plot_messages_per_consumer",
    "plot_outcomes",
    "plot_partition_assignment",
    "plot_queue_depth",
    "plot_retry_timeline",
    "plot_scaling",
    "plot_service_timeline",
    "plot_sla_attainment",
    "plot_spike",
    "plot_strategy_cost",
    "plot_sweep",
    "plot_throughput_vs_consumers",
    "plot_topology",
    "processing_rate",
    "scenario_charts",
    "variant_charts",
    "write_charts",
    "write_variant_charts",
]
