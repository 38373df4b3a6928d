"""A scenario as a networkx graph of named parts: what the topology drawing draws."""

from __future__ import annotations

from typing import TYPE_CHECKING

import networkx as nx

from sim.services.topology import add_to_graph as add_services

if TYPE_CHECKING:
    from sim.scenario.schema import Scenario

__all__ = ["build_topology"]


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
    add_services(scenario, graph)
    return graph
