"""The scenario's parts drawn as a graph: producers -> exchanges -> queues -> consumers."""

from __future__ import annotations

import networkx as nx
from matplotlib.figure import Figure

from sim.viz.style import new_figure, subtitle

__all__ = ["plot_topology"]

# Left-to-right columns, and a shape per kind so the drawing reads without colour.
_COLUMNS = {"producer": 0, "exchange": 1, "topic": 1, "queue": 2, "consumer": 3, "group": 3}
_SHAPES = {"producer": "o", "exchange": "D", "topic": "s", "queue": "s", "consumer": "^"}


def _layout(graph: nx.DiGraph) -> dict[str, tuple[float, float]]:
    columns: dict[int, list[str]] = {}
    for node, data in graph.nodes(data=True):
        columns.setdefault(_COLUMNS.get(data.get("kind", ""), 2), []).append(node)
    positions = {}
    for x, nodes in columns.items():
        for i, node in enumerate(nodes):
            positions[node] = (float(x), (len(nodes) - 1) / 2 - i)
    return positions


def plot_topology(graph: nx.DiGraph, title: str = "") -> Figure:
    positions = _layout(graph)
    height = max(
        3.0,
        1.1 * max((sum(1 for p in positions.values() if p[0] == x) for x in range(4)), default=1),
    )
    fig, ax = new_figure(9.0, height)
    for kind, shape in _SHAPES.items():
        nodes = [n for n, d in graph.nodes(data=True) if d.get("kind") == kind]
        nx.draw_networkx_nodes(
            graph,
            positions,
            nodelist=nodes,
            node_shape=shape,
            node_color="white",
            edgecolors="black",
            node_size=900,
            ax=ax,
        )
    nx.draw_networkx_edges(graph, positions, ax=ax, arrows=True, arrowsize=14, node_size=900)
    labels = {n: d.get("label", n) for n, d in graph.nodes(data=True)}
    nx.draw_networkx_labels(
        graph, positions, labels=labels, font_size=8, ax=ax, verticalalignment="top"
    )
    edge_labels = {(u, v): d["label"] for u, v, d in graph.edges(data=True) if d.get("label")}
    if edge_labels:
        nx.draw_networkx_edge_labels(graph, positions, edge_labels=edge_labels, font_size=8, ax=ax)
    ys = [p[1] for p in positions.values()] or [0.0]
    kinds_at: dict[float, set[str]] = {}
    for node, (x, _) in positions.items():
        kinds_at.setdefault(x, set()).add(graph.nodes[node].get("kind", ""))
    for x, kinds in kinds_at.items():
        header = " / ".join(sorted(f"{k}s" for k in kinds if k))
        ax.text(x, max(ys) + 0.75, header, ha="center", fontsize=9, weight="bold")
    ax.set_ylim(min(ys) - 0.9, max(ys) + 1.1)
    ax.set_xlim(-0.6, max(kinds_at, default=0) + 0.6)
    ax.set_title(title or f"{graph.graph.get('name', 'scenario')}: topology")
    ax.axis("off")
    subtitle(fig, "Messages flow left to right; edge labels are binding keys.")
    return fig
