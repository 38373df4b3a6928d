"""Services and clients in the scenario's topology graph (what the topology drawing shows)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import networkx as nx

from sim.services.config import by_kind

if TYPE_CHECKING:
    from typing import Any as Scenario  # the validated Scenario; services sit below it

__all__ = ["add_to_graph"]


def _kinds_of(value: Any) -> dict[str, list[str]]:
    """Each service or destination `value` names -> the kinds of request that go to it
    ([] for every request)."""
    found: dict[str, list[str]] = {}
    for kind, names in by_kind(value).items():
        for name in names:
            kinds = found.setdefault(name, [])
            if kind is not None:
                kinds.append(kind)
    return found


def _what(service: Any) -> str:
    """A service's workers; a provider's quota and keys instead (its workers are not ours)."""
    provider = service.provider
    if provider is None:
        return f"{service.workers} workers"
    notes = ["provider"]
    if provider.quota is not None:
        notes.append(f"{provider.quota:g}/s quota")
    if provider.idempotency:
        notes.append("idempotency keys")
    return ", ".join(notes)


def _label(verb: str, kinds: list[str]) -> str:
    return f"{verb}: {', '.join(kinds)}" if kinds else verb


def add_to_graph(scenario: Scenario, graph: nx.DiGraph) -> None:
    """Clients -> services (calls) -> queues (publishes) -> services (consumes), and
    consumers -> the providers they call.

    Service nodes carry `workers`; with services present every node gets a `column` (its
    generation in the flow), because the broker-only column rule has no place for services.
    """
    if not scenario.services:
        return
    for service in scenario.services:
        graph.add_node(
            f"service:{service.name}",
            kind="service",
            label=f"{service.name}\n({_what(service)})",
            workers=service.workers,
        )
    for client in scenario.clients:
        graph.add_node(f"client:{client.name}", kind="client", label=client.name)
        graph.add_edge(f"client:{client.name}", f"service:{client.to}", label="")
    for service in scenario.services:
        node = f"service:{service.name}"
        for callee, kinds in _kinds_of(service.calls).items():
            graph.add_edge(node, f"service:{callee}", label=_label("calls", kinds))
        for destination, kinds in _kinds_of(service.publishes_to).items():
            graph.add_edge(node, destination, label=_label("publishes", kinds))
        if service.consumes is not None:
            graph.add_edge(service.consumes, node, label="consumes")
    for consumer in scenario.consumers:
        for callee, kinds in _kinds_of(consumer.calls).items():
            graph.add_edge(
                f"consumer:{consumer.name}", f"service:{callee}", label=_label("calls", kinds)
            )
    if nx.is_directed_acyclic_graph(graph):
        for column, nodes in enumerate(nx.topological_generations(graph)):
            for node in nodes:
                graph.nodes[node]["column"] = column
