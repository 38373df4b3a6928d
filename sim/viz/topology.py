"""The scenario's parts drawn as a graph: producers -> exchanges -> queues -> consumers.

For a scenario's variants the drawing is the union of their graphs (`union_topology`): a
dead-letter queue or a publish edge that only one variant uses is drawn connected, marked
"only in: <variants>". The caption says what the edge labels drawn are, and nothing else.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import networkx as nx
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from sim.viz.style import new_figure, subtitle

if TYPE_CHECKING:
    from sim.results import Results

__all__ = [
    "crowded_union",
    "draw_topology",
    "plot_designs",
    "plot_topology",
    "topology_caption",
    "union_topology",
]

VARIES = "(varies by variant)"

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


_ROW = 1.4  # vertical distance between parts of a column: room for two-line names


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
        inside = any(u in nodes and v in nodes for u, v in graph.edges())
        row = _ROW * 1.6 if inside else _ROW  # an edge inside the column needs room for its label
        for i, node in enumerate(nodes):
            positions[node] = (float(x), row * ((len(nodes) - 1) / 2 - i))
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


def _only_in(names: list[str], every: list[str]) -> str:
    """'only in: a' or 'not in: b, c', whichever is shorter; '' for a part every variant has."""
    if names == every:
        return ""
    others = [n for n in every if n not in names]
    only, missing = f"only in: {', '.join(names)}", f"not in: {', '.join(others)}"
    return only if len(only) <= len(missing) else missing


def _merged_label(labels: list[str]) -> str:
    """One label for a part whose label differs by variant: its name, and that it varies."""
    if len(set(labels)) == 1:
        return labels[0]
    return f"{labels[0].splitlines()[0].split(' x')[0]}\n{VARIES}"


def union_topology(runs: Mapping[str, Results]) -> nx.DiGraph:
    """The union of the variants' topology graphs. A part or an edge missing from some
    variants says which ones have it; a label that differs by variant says so."""
    every = list(runs)
    first = next(iter(runs.values())).topology
    union = nx.DiGraph(**first.graph)
    node_in: dict[str, list[str]] = {}
    edge_in: dict[tuple[str, str], list[str]] = {}
    node_labels: dict[str, list[str]] = {}
    edge_labels: dict[tuple[str, str], list[str]] = {}
    had_columns = False
    for name, results in runs.items():
        graph = results.topology
        for node, data in graph.nodes(data=True):
            had_columns = had_columns or "column" in data
            if node not in union:
                union.add_node(node, **{k: v for k, v in data.items() if k != "column"})
            node_in.setdefault(node, []).append(name)
            node_labels.setdefault(node, []).append(str(data.get("label", node)))
        for u, v, data in graph.edges(data=True):
            if not union.has_edge(u, v):
                union.add_edge(u, v, **data)
            edge_in.setdefault((u, v), []).append(name)
            edge_labels.setdefault((u, v), []).append(str(data.get("label", "")))
    for node, names in node_in.items():
        label = _merged_label(node_labels[node])
        only = _only_in(names, every)
        union.nodes[node]["label"] = f"{label}\n({only})" if only else label
    for edge, names in edge_in.items():
        labels = edge_labels[edge]
        label = labels[0] if len(set(labels)) == 1 else VARIES
        only = _only_in(names, every)
        union.edges[edge]["label"] = f"{label}\n({only})".strip() if only else label
    if had_columns:  # services place every node by its generation in the flow
        if nx.is_directed_acyclic_graph(union):
            for column, nodes in enumerate(nx.topological_generations(union)):
                for node in nodes:
                    union.nodes[node]["column"] = column
        else:
            for results in runs.values():
                for node, data in results.topology.nodes(data=True):
                    if "column" in data:
                        union.nodes[node].setdefault("column", data["column"])
    return union


def topology_caption(graph: nx.DiGraph) -> str:
    """What the drawing's labels and line styles mean, from what it draws."""
    kinds = dict(graph.nodes(data="kind"))
    parts = ["Messages flow left to right"]
    bindings = [
        d.get("label", "")
        for u, v, d in graph.edges(data=True)
        if kinds.get(u) == "exchange" and kinds.get(v) == "queue" and not d.get("dead_letter")
    ]
    if any(label and label != VARIES for label in bindings):
        note = "labels from an exchange to a queue are binding keys"
        if "exchange:(default)" in graph:
            note += " (the default exchange routes by queue name)"
        parts.append(note)
    if any(d.get("dead_letter") for _, _, d in graph.edges(data=True)):
        parts.append("dashed: where dead letters go")
    labels = {str(d.get("label", "")).split("\n")[0] for _, _, d in graph.edges(data=True)}
    if "calls" in labels:
        parts.append("calls: a synchronous request, the caller waits for the answer")
    if labels & {"publishes", "consumes"}:
        parts.append("publishes and consumes: through a queue, nobody waits")
    texts = [str(d.get("label", "")) for _, d in graph.nodes(data=True)]
    texts += [str(d.get("label", "")) for _, _, d in graph.edges(data=True)]
    if any("only in:" in t or "not in:" in t for t in texts):
        parts.append('"only in" and "not in" mark what only some variants have')
    if any(VARIES in t for t in texts):
        parts.append(f"{VARIES}: a setting that differs between variants")
    return "; ".join(parts) + "."


def _arc(start: tuple[float, float], end: tuple[float, float], dead_letter: bool) -> str:
    """Straight from one column to the next; curved for a dead-letter edge, an edge that
    skips a column, and (more) one joining two parts of one column."""
    span = end[0] - start[0]
    if span == 0:
        return "arc3,rad=0.6"
    if dead_letter or span != 1.0:
        return "arc3,rad=0.3"
    return "arc3"


def _extent(graph: nx.DiGraph) -> tuple[dict[str, tuple[float, float]], int, float, bool]:
    """Where each part goes, how many columns, how tall, whether an edge skips a column."""
    positions = _layout(graph)
    columns = len({x for x, _ in positions.values()})
    ys = [p[1] for p in positions.values()] or [0.0]
    skips = any(abs(positions[v][0] - positions[u][0]) > 1 for u, v in graph.edges())
    height = max(3.0, 1.15 * (max(ys) - min(ys)) + 2.4) + (0.9 if skips else 0.0)
    return positions, columns, height, skips


def plot_topology(graph: nx.DiGraph, title: str = "") -> Figure:
    graph = _with_default_exchange(graph)
    _, columns, height, _ = _extent(graph)
    fig, ax = new_figure(max(7.0, 3.2 * columns), height)
    draw_topology(ax, graph, title or f"{graph.graph.get('name', 'scenario')}: topology")
    subtitle(fig, topology_caption(graph))
    return fig


def draw_topology(ax: Axes, graph: nx.DiGraph, title: str) -> None:
    """Draw `graph` (with its default exchange already added, if any) on `ax`."""
    positions, _, _, skips = _extent(graph)
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
    # Dead-letter edges run backwards (queue -> exchange): dashed. An edge that skips a column,
    # or joins two parts of one column, is curved, so it passes beside the parts in between
    # rather than through them.
    groups: dict[tuple[bool, str], list[tuple[str, str]]] = {}
    for u, v, d in graph.edges(data=True):
        dead = bool(d.get("dead_letter"))
        groups.setdefault((dead, _arc(positions[u], positions[v], dead)), []).append((u, v))
    for (dead, style), edges in groups.items():
        nx.draw_networkx_edges(
            graph,
            positions,
            edgelist=edges,
            ax=ax,
            arrows=True,
            arrowsize=14,
            node_size=900,
            style="dashed" if dead else "solid",
            connectionstyle=style,
        )
        edge_labels = {(u, v): graph.edges[u, v].get("label", "") for u, v in edges}
        edge_labels = {e: text for e, text in edge_labels.items() if text}
        if edge_labels:
            nx.draw_networkx_edge_labels(
                graph,
                positions,
                edge_labels=edge_labels,
                font_size=8,
                ax=ax,
                rotate=False,
                connectionstyle=style,
                node_size=900,
                bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "0.7"},
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
    ys = [p[1] for p in positions.values()] or [0.0]
    kinds_at: dict[float, set[str]] = {}
    for node, (x, _) in positions.items():
        kinds_at.setdefault(x, set()).add(graph.nodes[node].get("kind", ""))
    for x, kinds in kinds_at.items():
        header = " / ".join(sorted(f"{k}s" for k in kinds if k))
        ax.text(x, max(ys) + 0.75, header, ha="center", fontsize=9, weight="bold")
    ax.set_ylim(min(ys) - (1.5 if skips else 1.0), max(ys) + 1.1)  # room for an arc below
    ax.set_xlim(-0.6, max(kinds_at, default=0) + 0.6)
    ax.set_title(title)
    ax.axis("off")


# Beyond this many edges, with most of them in only some variants, the union of the variants'
# graphs is a tangle of "only in" labels: each variant is drawn on its own instead.
CROWDED_EDGES = 12


def crowded_union(runs: Mapping[str, Results]) -> bool:
    """Whether the variants differ so much that their union would be unreadable: at least
    CROWDED_EDGES edges, fewer than a third of them in every variant."""
    if len(runs) < 2:
        return False
    seen: dict[tuple[str, str], int] = {}
    for results in runs.values():
        for edge in results.topology.edges():
            seen[edge] = seen.get(edge, 0) + 1
    shared = sum(1 for n in seen.values() if n == len(runs))
    return len(seen) >= CROWDED_EDGES and shared < len(seen) / 3


def _reached(graph: nx.DiGraph) -> nx.DiGraph:
    """The parts a message can reach from a producer or client: a variant's queues that
    nothing routes to are part of the scenario's file, not of its design."""
    starts = [n for n, kind in graph.nodes(data="kind") if kind in ("producer", "client")]
    reached = set(starts)
    for start in starts:
        reached |= nx.descendants(graph, start)
    return graph.subgraph(reached).copy()


def plot_designs(runs: Mapping[str, Results]) -> Figure:
    """Each variant's own topology, one panel each, on the same scale: variants that are
    different designs (a synchronous call, a shared queue, a queue per channel, a stream)."""
    graphs = {name: _with_default_exchange(_reached(r.topology)) for name, r in runs.items()}
    extents = {name: _extent(graph) for name, graph in graphs.items()}
    width = max(7.0, 3.0 * max(e[1] for e in extents.values()))
    heights = [e[2] for e in extents.values()]
    fig, axes = new_figure(
        width,
        sum(heights) + 0.8,
        nrows=len(graphs),
        squeeze=False,
        gridspec_kw={"height_ratios": heights},
    )
    for ax, (name, graph) in zip(axes[:, 0], graphs.items(), strict=True):
        draw_topology(ax, graph, f"design: {name}")
    first = next(iter(runs.values()))
    fig.suptitle(f"{first.scenario_name}: the designs compared, one topology each")
    notes: dict[str, None] = {}
    for graph in graphs.values():
        notes.update(dict.fromkeys(topology_caption(graph).removesuffix(".").split("; ")))
    notes["parts no message reaches in a design are left out"] = None
    subtitle(fig, "; ".join(notes) + ".")
    height = fig.get_figheight()
    fig.subplots_adjust(top=1 - 1.3 / height)
    fig._suptitle.set_y(1 - 0.2 / height)  # type: ignore[union-attr]
    return fig
