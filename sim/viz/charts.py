"""Which charts a scenario's results get, and writing them as PNG files."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from matplotlib.figure import Figure

from sim.results import Results
from sim.viz.compare import compare_charts
from sim.viz.consumers import has_several_consumers, plot_messages_per_consumer
from sim.viz.experiments import experiment_charts
from sim.viz.guarantees import guarantee_charts
from sim.viz.kafka import kafka_compare_charts, kafka_scenario_charts
from sim.viz.latency import plot_latency_cdf
from sim.viz.style import save
from sim.viz.timeline import has_timeline, plot_message_timeline
from sim.viz.timeseries import plot_queue_depth
from sim.viz.topology import plot_topology

__all__ = ["scenario_charts", "write_charts", "write_variant_charts"]


def scenario_charts(results: Results) -> dict[str, Callable[[], Figure]]:
    """Chart name -> a function drawing it (drawn lazily, one figure open at a time)."""
    return {
        **({"queue_depth": lambda: plot_queue_depth(results)} if _has_queues(results) else {}),
        **kafka_scenario_charts(results),  # consumer lag, partition assignment (Kafka runs)
        "latency_cdf": lambda: plot_latency_cdf(results),
        "topology": lambda: plot_topology(results.topology, f"{results.label}: topology"),
        **(
            {"messages_per_consumer": lambda: plot_messages_per_consumer(results)}
            if has_several_consumers(results)
            else {}
        ),
        **experiment_charts({results.variant or results.scenario_name: results}, compare=False),
        # effects lost / once / duplicated, and each message's path in a small traced run
        **guarantee_charts({results.variant or results.scenario_name: results}),
        **(
            {"message_timeline": lambda: plot_message_timeline(results)}
            if has_timeline(results)
            else {}
        ),
    }


def write_charts(results: Results, folder: str | Path, prefix: str = "") -> list[Path]:
    """Draw every chart of `results` into `folder` as `<prefix><chart>.png`."""
    return [
        save(draw(), Path(folder) / f"{prefix}{name}.png")
        for name, draw in scenario_charts(results).items()
    ]


def write_variant_charts(
    runs: Mapping[str, Results], folder: str | Path, prefix: str = ""
) -> list[Path]:
    """The comparison charts of a scenario's variants, plus its topology drawing."""
    first = next(iter(runs.values()))
    charts = dict(compare_charts(runs))
    if not any(_has_queues(r) for r in runs.values()):
        charts.pop("compare_queue_depth", None)  # a stream has no queue depth to compare
    kafka = kafka_compare_charts(runs)
    if "throughput_vs_consumers" in kafka:
        charts.pop("scaling", None)  # the Kafka chart says where the partitions cap it
    if "delivery_outcomes" in kafka:
        charts.pop("outcomes", None)  # the Kafka chart zooms in on the few records that differ
    charts.update(kafka)
    charts["topology"] = lambda: plot_topology(first.topology, f"{first.scenario_name}: topology")
    return [save(draw(), Path(folder) / f"{prefix}{name}.png") for name, draw in charts.items()]


def _has_queues(results: Results) -> bool:
    return any(c.startswith("depth.") for c in results.timeseries.columns)
