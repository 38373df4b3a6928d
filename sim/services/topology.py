"""Services and clients in the scenario's topology graph (what the topology drawing shows)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import networkx as nx

if TYPE_CHECKING:
    from typing import Any as Scenario  # the validated Scenario; services sit below it

__all__ = ["add_to_graph"]


def add_to_graph(scenario: Scenario, graph: nx.DiGraph) -> None:
    """Clients -> services (calls) -> queues (publishes) -> services (consumes).

    Service nodes carry `workers`; with services present every node gets a `column` (its
    generation in the flow), because the broker-only column rule has no place for services.
    """
    if not scenario.services:
        return
    for service in scenario.services:
        graph.add_node(
            f"service:{service.name}",
            kind="service",
            label=f"{service.name}\n({service.workers} workers)",
            workers=service.workers,
        )
    for client in scenario.clients:
        graph.add_node(f"client:{client.name}", kind="client", label=client.name)
        graph.add_edge(f"client:{client.name}", f"service:{client.to}", label="")
    for service in scenario.services:
        node = f"service:{service.name}"
        for callee in service.calls:
            graph.add_edge(node, f"service:{callee}", label="calls")
        if service.publishes_to is not None:
            graph.add_edge(node, service.publishes_to, label="publishes")
        if service.consumes is not None:
            graph.add_edge(service.consumes, node, label="consumes")
    if nx.is_directed_acyclic_graph(graph):
        for column, nodes in enumerate(nx.topological_generations(graph)):
            for node in nodes:
                graph.nodes[node]["column"] = column
