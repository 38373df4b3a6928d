"""Charts drawn from Results and topology graphs only, never from a running model."""

from sim.viz.charts import scenario_charts, write_charts
from sim.viz.latency import plot_latency_cdf
from sim.viz.timeseries import plot_queue_depth
from sim.viz.topology import plot_topology

__all__ = [
    "plot_latency_cdf",
    "plot_queue_depth",
    "plot_topology",
    "scenario_charts",
    "write_charts",
]
