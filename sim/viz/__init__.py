"""Charts drawn from Results and topology graphs only, never from a running model."""

from sim.viz.charts import scenario_charts, write_charts, write_variant_charts
from sim.viz.compare import plot_compare_depth, plot_compare_latency
from sim.viz.latency import plot_latency_cdf
from sim.viz.timeseries import plot_queue_depth
from sim.viz.topology import plot_topology

__all__ = [
    "plot_compare_depth",
    "plot_compare_latency",
    "plot_latency_cdf",
    "plot_queue_depth",
    "plot_topology",
    "scenario_charts",
    "write_charts",
    "write_variant_charts",
]
