"""A scenario as a networkx graph of named parts: what the topology drawing draws."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import networkx as nx

from sim.services.topology import add_to_graph as add_services
from sim.units import format_duration

if TYPE_CHECKING:
    from sim.scenario.schema import Scenario

__all__ = ["build_topology"]


def _retry_label(consumer: Any) -> str:
    retry = consumer.retry
    how = "in place" if retry.blocking else f"back to {consumer.from_}"
    if retry.backoff == "fixed":
        wait = f"{format_duration(retry.initial)} apart"
    else:
        first, cap = format_duration(retry.initial), format_duration(retry.max_delay)
        wait = f"{first} x{retry.multiplier:g} up to {cap}"
    jitter = "" if retry.jitter == "none" else f", {retry.jitter} jitter"
    return f"retries: {retry.attempts} tries\n{how}, {wait}{jitter}\nthen dead letters"


def build_topology(scenario: Scenario) -> nx.DiGraph:
    """Nodes carry `kind` (producer, exchange, queue, consumer...) and `label`; edges may carry
    a `label` (a binding key). Producers point at what they publish to, sources at consumers."""
    graph = nx.DiGraph(name=scenario.name)
    scenario.broker.add_to_graph(graph)
    for producer in scenario.producers:
        graph.add_node(f"producer:{producer.name}", kind="producer", label=producer.name)
        graph.add_edge(f"producer:{producer.name}", producer.to, label="")
    for consumer in scenario.consumers:
        label = consumer.name if consumer.replicas == 1 else f"{consumer.name} x{consumer.replicas}"
        graph.add_node(f"consumer:{consumer.name}", kind="consumer", label=label)
        graph.add_edge(consumer.from_, f"consumer:{consumer.name}", label="")
        graph.nodes[f"consumer:{consumer.name}"]["replicas"] = consumer.replicas
        if consumer.retry is not None:  # where failed tries wait (each broker its own way)
            graph.add_node(f"retry:{consumer.name}", kind="queue", label=_retry_label(consumer))
            graph.add_edge(f"consumer:{consumer.name}", f"retry:{consumer.name}", label="failed")
    add_services(scenario, graph)
    return graph
