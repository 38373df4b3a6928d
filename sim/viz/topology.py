"""The scenario's parts drawn as a graph: producers -> exchanges -> queues -> consumers."""

from __future__ import annotations

import networkx as nx
from matplotlib.figure import Figure

from sim.viz.style import new_figure, subtitle

__all__ = ["plot_topology"]

# Left-to-right columns, and a shape per kind so the drawing reads without colour.
_COLUMNS = {"producer": 0, "exchange": 1, "topic": 1, "queue": 2, "consumer": 3, "group": 3}
_SHAPES = {
    "producer": "o",
    "exchange": "D",
    "topic": "s",
    "queue": "s",
    "consumer": "^",
    "client": "o",
    "service": "h",
}


def _layout(graph: nx.DiGraph) -> dict[str, tuple[float, float]]:
    columns: dict[int, list[str]] = {}
    for node, data in graph.nodes(data=True):
        column = data.get("column", _COLUMNS.get(data.get("kind", ""), 2))  # services set it
        columns.setdefault(column, []).append(node)
    positions: dict[str, tuple[float, float]] = {}
    # Empty columns are squeezed out (no exchange column when producers publish straight to a
    # queue), and each column is ordered by where its nodes' senders sit, to avoid crossings.
    for x, key in enumerate(sorted(columns)):
        nodes = columns[key]
        nodes.sort(key=lambda n: _mean_sender_height(graph, n, positions))
        for i, node in enumerate(nodes):
            positions[node] = (float(x), (len(nodes) - 1) / 2 - i)
    return positions


def _mean_sender_height(
    graph: nx.DiGraph, node: str, positions: dict[str, tuple[float, float]]
) -> float:
    ys = [positions[p][1] for p in graph.predecessors(node) if p in positions]
    return -sum(ys) / len(ys) if ys else 0.0


def _with_default_exchange(graph: nx.DiGraph) -> nx.DiGraph:
    """A RabbitMQ producer that publishes to a queue goes through the default exchange, which
    routes by queue name: draw that hop, so no edge has to jump over the exchange column."""
    if not graph.graph.get("default_exchange"):
        return graph
    kinds = graph.nodes(data="kind")
    direct = [(u, v) for u, v in graph.edges() if kinds[u] == "producer" and kinds[v] == "queue"]
    if not direct:
        return graph
    drawn = graph.copy()
    hub = "exchange:(default)"
    drawn.add_node(hub, kind="exchange", label="(default)\n(direct)")
    for producer, queue in direct:
        drawn.remove_edge(producer, queue)
        drawn.add_edge(producer, hub, label="")
        drawn.add_edge(hub, queue, label=queue)  # its routing key is the queue's name
    return drawn


def plot_topology(graph: nx.DiGraph, title: str = "") -> Figure:
    graph = _with_default_exchange(graph)
    positions = _layout(graph)
    per_column: dict[float, int] = {}
    for x, _ in positions.values():
        per_column[x] = per_column.get(x, 0) + 1
    height = max(3.0, 1.25 * max(per_column.values(), default=1) + 1.0)
    fig, ax = new_figure(max(7.0, 2.6 * len(per_column)), height)
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
    # Dead-letter edges run backwards (queue -> exchange): dashed and curved, apart from the flow.
    backward = [(u, v) for u, v, d in graph.edges(data=True) if d.get("dead_letter")]
    forward = [(u, v) for u, v in graph.edges() if (u, v) not in backward]
    nx.draw_networkx_edges(
        graph, positions, edgelist=forward, ax=ax, arrows=True, arrowsize=14, node_size=900
    )
    if backward:
        nx.draw_networkx_edges(
            graph,
            positions,
            edgelist=backward,
            ax=ax,
            arrows=True,
            arrowsize=14,
            node_size=900,
            style="dashed",
            connectionstyle="arc3,rad=0.35",
        )
    # Names sit under their symbols, so neither hides the other.
    for node, (x, y) in positions.items():
        ax.annotate(
            graph.nodes[node].get("label", node),
            xy=(x, y),
            xytext=(0, -24),
            textcoords="offset points",
            ha="center",
            va="top",
            fontsize=8,
        )
    for edges, curved in ((forward, False), (backward, True)):
        edge_labels = {(u, v): graph.edges[u, v]["label"] for u, v in edges}
        edge_labels = {e: text for e, text in edge_labels.items() if text}
        if edge_labels:
            nx.draw_networkx_edge_labels(
                graph,
                positions,
                edge_labels=edge_labels,
                font_size=8,
                ax=ax,
                connectionstyle="arc3,rad=0.35" if curved else "arc3",
                bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "0.7"},
            )
    ys = [p[1] for p in positions.values()] or [0.0]
    kinds_at: dict[float, set[str]] = {}
    for node, (x, _) in positions.items():
        kinds_at.setdefault(x, set()).add(graph.nodes[node].get("kind", ""))
    for x, kinds in kinds_at.items():
        header = " / ".join(sorted(f"{k}s" for k in kinds if k))
        ax.text(x, max(ys) + 0.75, header, ha="center", fontsize=9, weight="bold")
    ax.set_ylim(min(ys) - 1.0, max(ys) + 1.1)
    ax.set_xlim(-0.6, max(kinds_at, default=0) + 0.6)
    ax.set_title(title or f"{graph.graph.get('name', 'scenario')}: topology")
    ax.axis("off")
    subtitle(fig, "Messages flow left to right; edge labels are binding keys.")
    return fig
