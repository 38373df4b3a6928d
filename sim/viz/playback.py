"""Playback of a traced run: what the stage shows at any simulated time, from Results only.

A `Playback` is built once from a run's Results (its trace, events, topology, series and
tables) for a window [start, end]. It holds:

- the stage: the topology's nodes laid out in a unit square (x right, y down), with slots
  inside them: a topic's partitions, a consumer's replicas;
- moves: a message going from one part to another, as a path on the stage and the simulated
  times it leaves and arrives. They are read from the trace: the parts a message passes
  (`produced` at a producer, `published` at an exchange, `enqueued` at a queue or partition,
  `delivered` from it, `processed` by a consumer replica). A message delivered and then
  requeued or dead-lettered at the same queue, with nothing processing it in between, went to
  a consumer and came back: that is drawn as a trip out and back. Moves that take no simulated
  time (publishing through an exchange) are drawn over `min_hop` seconds so they can be seen,
  and the next move of that message waits for them, at most `min_hop`: a move is never drawn
  more than `min_hop` after it happened;
- bars: each queue's ready and in-flight messages, each partition's consumer lag, each
  service's busy workers, sampled from the run's series (`ready`, `in_flight`, `kafka.lag`,
  `service.busy`, `service.waiting`);
- replicas: each consumer replica's busy spells (a message delivered to it and not yet
  processed) and its fault windows (crashed, down, disconnected, slow) from the run's events;
- the partition assignment (`kafka.assignments`) and the group rebalances (`kafka.rebalances`);
- fault windows and instants, and the backlog, for the timeline under the stage.

`frame(t)` says what the stage shows at time t: the animation writers (sim/viz/animate.py)
draw from it, and the HTML page (sim/viz/report.py) does the same in the browser from
`to_data()`. Frames are computed one at a time, so a long window needs no more memory than
its moves.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd

from sim.results import Results
from sim.units import format_duration
from sim.viz.kafka import lag_columns
from sim.viz.topology import _layout, _with_default_exchange

__all__ = [
    "MAX_TRACE_ROWS",
    "Bar",
    "Frame",
    "Playback",
    "Replica",
    "WindowError",
    "build_playback",
    "check_window",
    "frame_times",
]

#: A window with more trace rows than this is refused: its page and its frames would be too
#: heavy to be of use (issue 16).
MAX_TRACE_ROWS = 200_000

# Tones of a move: an ordinary one, a redelivery (out and back, or after a requeue), a
# message on its way to a dead-letter queue or to a failure (lost, expired...).
NORMAL, REDELIVERY, FAILURE = 0, 1, 2
_FAILURES = frozenset({"dead-lettered", "expired", "dropped", "lost", "rejected"})
_CONSUMING = frozenset({"consumer", "service"})
_CALLERS = frozenset({"client", "producer"})
# Replica states, in the order the most serious wins.
STATES = ("idle", "busy", "slow", "disconnected", "down", "crashed")


class WindowError(ValueError):
    """A window that cannot be played, said in one line (with a shorter window to choose)."""


@dataclass
class Bar:
    """A fill bar on the stage: a queue's messages, a partition's lag, a service's workers."""

    node: str
    slot: int | None  # the partition's slot in its topic node, or None for the whole node
    kind: str  # "queue", "partition" or "service"
    times: np.ndarray
    values: np.ndarray  # ready messages, lag, busy workers
    extra: np.ndarray  # in-flight messages, -, waiting requests
    capacity: float  # the value that fills the bar

    def at(self, index: int) -> tuple[float, float]:
        if index < 0:
            return 0.0, 0.0
        return float(self.values[index]), float(self.extra[index])


@dataclass
class Replica:
    """One consumer replica (a slot of a consumer node): when it was busy, when it was down."""

    name: str
    node: str
    slot: int
    hold_starts: list[float] = field(default_factory=list)  # sorted
    hold_ends: list[float] = field(default_factory=list)  # sorted
    faults: list[tuple[float, float, str]] = field(default_factory=list)  # start, end, state

    def state(self, t: float) -> str:
        worst = "idle"
        for start, end, kind in self.faults:
            if start <= t < end and STATES.index(kind) > STATES.index(worst):
                worst = kind
        if worst != "idle" and worst != "slow":
            return worst
        busy = bisect_right(self.hold_starts, t) - bisect_right(self.hold_ends, t)
        if busy > 0:
            return "slow" if worst == "slow" else "busy"
        return worst


@dataclass
class Frame:
    """What the stage shows at one simulated time."""

    time: float
    dots: np.ndarray  # (n, 2) positions on the unit stage
    tones: np.ndarray  # (n,) NORMAL, REDELIVERY or FAILURE
    bars: list[tuple[float, float]]  # (value, extra) of every bar, in Playback.bars order
    states: list[str]  # of every replica, in Playback.replicas order
    owners: dict[tuple[str, int], str]  # (topic node, partition slot) -> member
    faults: list[str]  # the faults going on now, as labels
    rebalancing: list[str]  # the groups rebalancing now


@dataclass
class Playback:
    """Everything needed to draw a run's window, frame by frame (see the module docstring)."""

    title: str
    start: float
    end: float
    nodes: list[dict[str, Any]]
    edges: list[dict[str, Any]]
    paths: list[np.ndarray]
    move_start: np.ndarray
    move_end: np.ndarray
    move_path: np.ndarray
    move_tone: np.ndarray
    bars: list[Bar]
    replicas: list[Replica]
    assignments: list[tuple[str, int, str, float, float]]  # node, slot, member, start, end
    members: list[str]
    faults: list[tuple[float, float, str]]  # start, end (== start for an instant), label
    rebalances: list[tuple[float, float, str]]
    backlog: tuple[np.ndarray, np.ndarray]
    min_hop: float
    trace_rows: int
    rows: int = 1  # the most nodes in one column of the stage (how tall the stage is)
    _lengths: list[np.ndarray] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        order = np.argsort(self.move_start, kind="stable")
        self.move_start = self.move_start[order]
        self.move_end = self.move_end[order]
        self.move_path = self.move_path[order]
        self.move_tone = self.move_tone[order]
        self._lengths = [_cumulative_lengths(path) for path in self.paths]

    @property
    def moves(self) -> int:
        return len(self.move_start)

    def frame(self, t: float) -> Frame:
        upto = int(np.searchsorted(self.move_start, t, side="right"))
        active = np.flatnonzero(self.move_end[:upto] > t)
        dots = np.empty((len(active), 2))
        for row, i in enumerate(active):
            span = self.move_end[i] - self.move_start[i]
            fraction = (t - self.move_start[i]) / span if span > 0 else 1.0
            dots[row] = _along(
                self.paths[self.move_path[i]], self._lengths[self.move_path[i]], fraction
            )
        bars = []
        for bar in self.bars:
            bars.append(bar.at(int(np.searchsorted(bar.times, t, side="right")) - 1))
        owners = {
            (node, slot): member
            for node, slot, member, start, end in self.assignments
            if start <= t < end
        }
        faults = [
            label
            for start, end, label in self.faults
            if start <= t < max(end, start + self.min_hop * 4)
        ]
        rebalancing = [label for start, end, label in self.rebalances if start <= t < end]
        return Frame(
            time=t,
            dots=dots,
            tones=self.move_tone[active],
            bars=bars,
            states=[replica.state(t) for replica in self.replicas],
            owners=owners,
            faults=faults,
            rebalancing=rebalancing,
        )

    def frames(self, times: np.ndarray) -> Iterator[Frame]:
        """Frames one at a time (none is kept): what the writers stream."""
        for t in times:
            yield self.frame(float(t))

    def to_data(self) -> dict[str, Any]:
        """Plain lists and numbers for the HTML page, which draws frames the same way."""

        def rounded(values: np.ndarray, digits: int = 4) -> list[float]:
            return [round(float(v), digits) for v in values]

        return {
            "title": self.title,
            "start": self.start,
            "end": self.end,
            "minHop": self.min_hop,
            "rows": self.rows,
            "nodes": self.nodes,
            "edges": self.edges,
            "paths": [[[round(float(x), 4), round(float(y), 4)] for x, y in p] for p in self.paths],
            "moves": {
                "start": rounded(self.move_start),
                "end": rounded(self.move_end),
                "path": [int(p) for p in self.move_path],
                "tone": [int(t) for t in self.move_tone],
            },
            "bars": [
                {
                    "node": bar.node,
                    "slot": bar.slot,
                    "kind": bar.kind,
                    "times": rounded(bar.times, 3),
                    "values": rounded(bar.values, 2),
                    "extra": rounded(bar.extra, 2),
                    "capacity": bar.capacity,
                }
                for bar in self.bars
            ],
            "replicas": [
                {
                    "name": r.name,
                    "node": r.node,
                    "slot": r.slot,
                    "holdStarts": [round(v, 4) for v in r.hold_starts],
                    "holdEnds": [round(v, 4) for v in r.hold_ends],
                    "faults": [[s, e, k] for s, e, k in r.faults],
                }
                for r in self.replicas
            ],
            "assignments": [  # JSON has no infinity: an assignment still held ends at null
                [node, slot, member, start, None if math.isinf(end) else end]
                for node, slot, member, start, end in self.assignments
            ],
            "members": self.members,
            "faults": [list(f) for f in self.faults],
            "rebalances": [list(r) for r in self.rebalances],
            "backlog": {
                "times": rounded(self.backlog[0], 3),
                "values": rounded(self.backlog[1], 1),
            },
        }


def _cumulative_lengths(path: np.ndarray) -> np.ndarray:
    steps = np.hypot(*np.diff(path, axis=0).T) if len(path) > 1 else np.zeros(0)
    return np.concatenate([[0.0], np.cumsum(steps)])


def _along(path: np.ndarray, lengths: np.ndarray, fraction: float) -> np.ndarray:
    total = lengths[-1]
    if total <= 0 or len(path) == 1:
        return path[-1]
    at = min(max(fraction, 0.0), 1.0) * total
    i = min(int(np.searchsorted(lengths, at, side="right")) - 1, len(path) - 2)
    step = lengths[i + 1] - lengths[i]
    f = (at - lengths[i]) / step if step > 0 else 0.0
    return path[i] + f * (path[i + 1] - path[i])


# ----- the window -----


def check_window(results: Results, start: float, end: float) -> int:
    """The number of trace rows in [start, end]; WindowError (one line naming a shorter
    window) when the run has no trace, the window is empty, or it holds too many rows."""
    trace = results.trace
    if trace is None:
        raise WindowError("the run has no trace; run it with trace=True")
    if not 0 <= start < end:
        raise WindowError(
            f"the window {format_duration(start)}..{format_duration(end)} is empty; "
            "--from must be before --to"
        )
    times = trace["time"].to_numpy()
    first = int(np.searchsorted(times, start, side="left"))
    last = int(np.searchsorted(times, end, side="right"))
    rows = last - first
    if rows > MAX_TRACE_ROWS:
        until = float(times[first + MAX_TRACE_ROWS - 1])
        shorter = _round_down(until - start)
        raise WindowError(
            f"the window {format_duration(start)}..{format_duration(end)} holds {rows} trace "
            f"rows, more than {MAX_TRACE_ROWS}; choose a shorter one, e.g. --from "
            f"{_seconds(start)} --to {_seconds(start + shorter)}"
        )
    return rows


def _round_down(span: float) -> float:
    """`span` rounded down to two significant digits (for the suggested window)."""
    if span <= 0:
        return span
    step = 10 ** (math.floor(math.log10(span)) - 1)
    return step * math.floor(span / step)


def _seconds(value: float) -> str:
    return f"{value:g}s"


def frame_times(start: float, end: float, speed: float, fps: float) -> np.ndarray:
    """The simulated times of the frames: `speed` simulated seconds per second of playback,
    `fps` frames per second of playback, the last frame at `end`."""
    step = speed / fps
    count = max(2, math.ceil((end - start) / step - 1e-9) + 1)
    times = start + step * np.arange(count)
    times[-1] = end
    return times


# ----- building -----


def build_playback(
    results: Results,
    start: float | None = None,
    end: float | None = None,
    min_hop: float | None = None,
) -> Playback:
    """The playback of `results` (a traced run) over [start, end] (default: the whole run).

    `min_hop` is how long, in simulated seconds, a move that takes no simulated time is drawn
    (default: 1/200 of the window).
    """
    start = 0.0 if start is None else float(start)
    end = results.duration if end is None else min(float(end), results.duration)
    rows = check_window(results, start, end)
    hop = (end - start) / 200 if min_hop is None else float(min_hop)
    graph = _with_default_exchange(results.topology)
    stage = _Stage(graph, results)
    moves = _Moves(stage, hop)
    moves.read(results.trace, start, end)  # type: ignore[arg-type]  # checked in check_window
    replicas = stage.replicas(moves.holds, results, end)
    keep = (moves.end >= start) & (moves.start <= end)
    times = results.timeseries["time"].to_numpy()
    backlog = (
        results.timeseries["backlog"].to_numpy() if "backlog" in results.timeseries else times * 0
    )
    shown = (times >= start - 1e-9) & (times <= end + 1e-9)
    return Playback(
        title=results.label,
        start=start,
        end=end,
        nodes=stage.nodes,
        edges=stage.edges,
        paths=stage.paths,
        move_start=moves.start[keep],
        move_end=moves.end[keep],
        move_path=moves.path[keep],
        move_tone=moves.tone[keep],
        bars=stage.bars(results, start, end),
        replicas=replicas,
        assignments=stage.assignments(results),
        members=stage.members,
        faults=_faults(results),
        rebalances=_rebalances(results),
        backlog=(times[shown], backlog[shown]),
        min_hop=hop,
        trace_rows=rows,
        rows=stage.rows,
    )


class _Stage:
    """The nodes on the unit stage, their slots, how trace components resolve to them, and
    the paths between them."""

    def __init__(self, graph: nx.DiGraph, results: Results) -> None:
        self.graph = graph
        positions = _layout(graph)
        xs = sorted({x for x, _ in positions.values()})
        rows = max((sum(1 for p in positions.values() if p[0] == x) for x in xs), default=1)
        self.rows = max(rows, 1)
        self.row_height = 1.0 / self.rows
        self.names: dict[str, tuple[str, int | None]] = {}
        self.nodes: list[dict[str, Any]] = []
        self.index: dict[str, dict[str, Any]] = {}
        self.members: list[str] = []
        partitions = _partitions(results)
        for node, (x, y) in positions.items():
            data = graph.nodes[node]
            kind = data.get("kind", "")
            entry: dict[str, Any] = {
                "id": node,
                "kind": kind,
                "label": str(data.get("label", node)).split("\n")[0],
                "x": (xs.index(x) + 0.5) / len(xs),
                "y": 0.5 - y * self.row_height,
                "slots": [],
            }
            bare = node.split(":", 1)[1] if ":" in node and kind != "exchange" else node
            self.names[node] = (node, None)
            self.names.setdefault(bare, (node, None))
            if node == "exchange:(default)":
                self.names["(default)"] = (node, None)
            if kind == "topic" and partitions.get(node):
                entry["slots"] = [f"{node}-{p}" for p in range(partitions[node])]
            elif kind == "consumer":
                replicas = int(data.get("replicas", 1))
                entry["slots"] = (
                    [bare] if replicas == 1 else [f"{bare}.{i}" for i in range(replicas)]
                )
            self._place_slots(entry)
            for i, slot in enumerate(entry["slots"]):
                self.names[slot["name"]] = (node, i)
            self.nodes.append(entry)
            self.index[node] = entry
        self.edges = [
            {
                "from": [self.index[u]["x"], self.index[u]["y"]],
                "to": [self.index[v]["x"], self.index[v]["y"]],
                "dashed": bool(d.get("dead_letter")),
                "label": d.get("label", ""),
            }
            for u, v, d in graph.edges(data=True)
            if u in self.index and v in self.index
        ]
        self.paths: list[np.ndarray] = []
        self._path_ids: dict[tuple[tuple[str, int | None], tuple[str, int | None]], int] = {}
        self._undirected = graph.to_undirected(as_view=True)

    def _place_slots(self, entry: dict[str, Any]) -> None:
        """Slots stacked down the node: partition rows in a topic, replicas in a consumer."""
        names = entry["slots"]
        count = len(names)
        height = min(self.row_height * 0.7, 0.06 * max(count, 1) + 0.04)
        entry["h"] = height if count else min(self.row_height * 0.5, 0.16)
        entry["w"] = 0.1 if entry["kind"] in ("topic", "queue", "service") else 0.07
        top = entry["y"] - entry["h"] / 2
        entry["slots"] = [
            {"name": name, "x": entry["x"], "y": top + entry["h"] * (i + 0.5) / count}
            for i, name in enumerate(names)
        ]

    def resolve(self, component: str) -> tuple[str, int | None] | None:
        """The node (and slot) a trace or event component names, or None (a part the stage
        does not draw, e.g. "broker 0")."""
        found = self.names.get(component)
        if found is None and " " in component:  # "consumer billing.0", "group invoicing"
            found = self.names.get(component.rsplit(" ", 1)[1])
        return found

    def point(self, where: tuple[str, int | None]) -> tuple[float, float]:
        node, slot = where
        entry = self.index[node]
        if slot is not None and slot < len(entry["slots"]):
            return entry["slots"][slot]["x"], entry["slots"][slot]["y"]
        return entry["x"], entry["y"]

    def path(self, a: tuple[str, int | None], b: tuple[str, int | None]) -> int:
        """The id of the path from `a` to `b`: along the topology's edges where they lead
        there (through an exchange), else straight."""
        key = (a, b)
        found = self._path_ids.get(key)
        if found is not None:
            return found
        try:
            hops = nx.shortest_path(self.graph, a[0], b[0])
        except (nx.NetworkXNoPath, nx.NodeNotFound):
            try:
                hops = nx.shortest_path(self._undirected, a[0], b[0])
            except (nx.NetworkXNoPath, nx.NodeNotFound):
                hops = [a[0], b[0]]
        points = [self.point(a)] + [self.point((n, None)) for n in hops[1:-1]] + [self.point(b)]
        self.paths.append(np.array(points, dtype=float))
        self._path_ids[key] = len(self.paths) - 1
        return len(self.paths) - 1

    def consumer_of(self, node: str) -> str | None:
        """The first consumer (or service) reading `node`, for trips out and back."""
        for successor in self.graph.successors(node):
            if self.graph.nodes[successor].get("kind") in _CONSUMING:
                return successor
        return None

    # ----- bars -----
    def bars(self, results: Results, start: float, end: float) -> list[Bar]:
        frame = results.timeseries
        times = frame["time"].to_numpy()
        shown = times <= end + 1e-9
        times = times[shown]
        window = times >= start - 1e-9
        bars: list[Bar] = []
        zeros = np.zeros(len(times))

        def column(name: str) -> np.ndarray:
            return frame[name].to_numpy()[shown] if name in frame else zeros

        queue_bars: list[Bar] = []
        for name in results.columns_of("ready"):
            source = name.removeprefix("ready.")
            node = source if source in self.index else source.split("/", 1)[0]
            if node not in self.index or self.index[node]["slots"]:
                continue  # a topic drawn by partition: its lag bars say it per partition
            if any(b.node == node for b in queue_bars):
                continue  # a stream read by several groups: the first group's bar
            values, extra = column(name), column(f"in_flight.{source}")
            queue_bars.append(Bar(node, None, "queue", times, values, extra, 1.0))
        peak = max(
            (float((b.values + b.extra)[window].max(initial=0)) for b in queue_bars), default=0
        )
        for bar in queue_bars:
            bar.capacity = max(peak, 1.0)
        lag: dict[tuple[str, int], np.ndarray] = {}
        for columns in lag_columns(results).values():
            group = columns[0].removeprefix("kafka.lag.").rsplit(".", 1)[0]
            for name in columns:
                where = self.resolve(name.removeprefix(f"kafka.lag.{group}."))
                if where is None or where[1] is None:
                    continue
                key = (where[0], where[1])
                values = column(name)
                lag[key] = np.maximum(lag[key], values) if key in lag else values
        peak = max((float(v[window].max(initial=0)) for v in lag.values()), default=0)
        partition_bars = [
            Bar(node, slot, "partition", times, values, zeros, max(peak, 1.0))
            for (node, slot), values in sorted(lag.items())
        ]
        service_bars = []
        for name in results.columns_of("service.busy"):
            service = name.removeprefix("busy.")
            node = f"service:{service}"
            if node not in self.index:
                continue
            workers = float(self.graph.nodes[node].get("workers") or 1)
            service_bars.append(
                Bar(
                    node,
                    None,
                    "service",
                    times,
                    column(name),
                    column(f"waiting.{service}"),
                    workers,
                )
            )
        bars.extend(queue_bars + partition_bars + service_bars)
        return bars

    # ----- replicas and assignments -----
    def replicas(
        self, holds: dict[tuple[str, int], list[tuple[float, float]]], results: Results, end: float
    ) -> list[Replica]:
        found: list[Replica] = []
        by_node: dict[str, list[Replica]] = {}
        for entry in self.nodes:
            if entry["kind"] != "consumer":
                continue
            for i, slot in enumerate(entry["slots"]):
                spells = holds.get((entry["id"], i), [])
                replica = Replica(
                    slot["name"],
                    entry["id"],
                    i,
                    sorted(s for s, _ in spells),
                    sorted(e for _, e in spells),
                )
                found.append(replica)
                by_node.setdefault(entry["id"], []).append(replica)
        for component, state, t0, t1 in _fault_spans(results, end):
            where = self.resolve(component)
            if where is None or where[0] not in by_node:
                continue
            targets = by_node[where[0]] if where[1] is None else [by_node[where[0]][where[1]]]
            for replica in targets:
                replica.faults.append((t0, t1, state))
        self.members = sorted({r.name for r in found})
        return found

    def assignments(self, results: Results) -> list[tuple[str, int, str, float, float]]:
        table = results.tables.get("kafka.assignments")
        if table is None or table.empty:
            return []
        found = []
        for row in table.itertuples(index=False):
            where = self.resolve(f"{row.topic}-{row.partition}")
            if where is None or where[1] is None:
                continue
            finish = float(row.end) if pd.notna(row.end) else math.inf
            found.append((where[0], int(where[1]), str(row.member), float(row.start), finish))
        return found


def _partitions(results: Results) -> dict[str, int]:
    """Partitions per topic, from the run's `kafka.partitions` table (none for other systems)."""
    table = results.tables.get("kafka.partitions")
    if table is None or table.empty:
        return {}
    return {str(t): int(p.max()) + 1 for t, p in table.groupby("topic")["partition"]}


# How a fault's kind shows on a replica (sim/faults.py's kinds).
_FAULT_STATES = {"crash": "crashed", "down": "down", "disconnected": "disconnected", "slow": "slow"}


def _fault_spans(results: Results, end: float) -> list[tuple[str, str, float, float]]:
    """(component, replica state, start, end) of every fault window in the events: "X start"
    and "X end" pairs (sim/faults.py)."""
    spans = []
    open_at: dict[tuple[str, str], float] = {}
    events = results.events
    for time, component, event in events[["time", "component", "event"]].itertuples(index=False):
        kind, _, phase = str(event).partition(" ")
        key = (str(component), kind)
        if phase == "start":
            open_at[key] = float(time)
        elif phase == "end" and key in open_at:
            spans.append((key[0], kind, open_at.pop(key), float(time)))
    spans.extend((c, k, t, max(end, t)) for (c, k), t in open_at.items())
    return [
        (c, _FAULT_STATES.get(k, "down"), t0, t1) for c, k, t0, t1 in spans if k in _FAULT_STATES
    ]


def _faults(results: Results) -> list[tuple[float, float, str]]:
    """Fault windows (start, end, "B down") and one-off events (time, time, label)."""
    found = []
    open_at: dict[tuple[str, str], float] = {}
    for time, component, event in results.events[["time", "component", "event"]].itertuples(
        index=False
    ):
        kind, _, phase = str(event).partition(" ")
        key = (str(component), kind)
        if phase == "start":
            open_at[key] = float(time)
        elif phase == "end" and key in open_at:
            found.append((open_at.pop(key), float(time), f"{component} {kind}"))
        else:
            found.append((float(time), float(time), f"{component} {event}"))
    found.extend((t, results.duration, f"{c} {k}") for (c, k), t in open_at.items())
    return sorted(found)


def _rebalances(results: Results) -> list[tuple[float, float, str]]:
    table = results.tables.get("kafka.rebalances")
    if table is None or table.empty:
        return []
    found = []
    for row in table.itertuples(index=False):
        finish = float(row.completed) if pd.notna(row.completed) else results.duration
        label = f"group {row.group} rebalancing (generation {row.generation})"
        found.append((float(row.started), finish, label))
    return found


class _Moves:
    """The moves of every message with a trace row in the window (see the module docstring)."""

    def __init__(self, stage: _Stage, min_hop: float) -> None:
        self.stage = stage
        self.min_hop = min_hop
        self.holds: dict[tuple[str, int], list[tuple[float, float]]] = {}
        self._start: list[float] = []
        self._end: list[float] = []
        self._path: list[int] = []
        self._tone: list[int] = []

    def read(self, trace: pd.DataFrame, start: float, end: float) -> None:
        times = trace["time"].to_numpy()
        upto = int(np.searchsorted(times, end, side="right"))
        first = int(np.searchsorted(times, start - 1e-9, side="left"))
        ids = trace["message_id"].to_numpy()[:upto]
        wanted = np.unique(ids[first:upto])
        rows = np.flatnonzero(np.isin(ids, wanted))
        order = rows[np.argsort(ids[rows], kind="stable")]
        events = trace["event"].to_numpy()
        components = trace["component"].to_numpy()
        resolved: dict[str, tuple[str, int | None] | None] = {}
        kinds = {e["id"]: e["kind"] for e in self.stage.nodes}
        current = -1
        steps: list[tuple[float, str, tuple[str, int | None], str]] = []
        for i in order:
            if ids[i] != current:
                self._message(steps)
                steps = []
                current = ids[i]
            event = events[i]
            if event == "acked" or event == "failed":
                continue  # an acknowledgement or a failed try, not the message moving
            component = components[i]
            if component not in resolved:
                resolved[component] = self.stage.resolve(component)
            where = resolved[component]
            if where is not None:
                steps.append((float(times[i]), event, where, kinds[where[0]]))
        self._message(steps)
        self.start = np.array(self._start, dtype=float)
        self.end = np.array(self._end, dtype=float)
        self.path = np.array(self._path, dtype=int)
        self.tone = np.array(self._tone, dtype=int)

    def _message(self, steps: list[tuple[float, str, tuple[str, int | None], str]]) -> None:
        """One message's moves, from the parts it passed, in order."""
        if not steps:
            return
        legs: list[tuple[tuple[str, int | None], tuple[str, int | None], float, float, int]] = []
        at: tuple[tuple[str, int | None], float] | None = None  # where it is, since when
        delivery: tuple[tuple[str, int | None], float] | None = None  # delivered from, when
        redelivered = False
        failed = False  # the last part it reached was where it failed (dead-lettered...)
        for time, event, where, kind in steps:
            if event == "delivered":
                delivery = (where, time)
                at = (where, time)
                continue
            if kind in _CONSUMING:
                origin = delivery or at
                if origin is not None and origin[0][0] != where[0]:
                    tone = FAILURE if event in _FAILURES else REDELIVERY if redelivered else NORMAL
                    legs.append((origin[0], where, origin[1], time, tone))
                if delivery is not None and event == "processed" and where[1] is not None:
                    self.holds.setdefault((where[0], where[1]), []).append((delivery[1], time))
                delivery, at = None, None  # with the consumer now: nothing of it moves on
                continue
            if delivery is not None and delivery[0][0] == where[0] and event != "enqueued":
                consumer = self.stage.consumer_of(where[0])
                if consumer is not None:  # out to a consumer and back, unprocessed
                    middle = (delivery[1] + time) / 2
                    legs.append((delivery[0], (consumer, None), delivery[1], middle, REDELIVERY))
                    legs.append(((consumer, None), where, middle, time, REDELIVERY))
                redelivered = True
                delivery = None
                at = (where, time)
                if event != "dead-lettered":
                    continue
            if at is not None and at[0] == where and event in _FAILURES and kind in _CALLERS:
                callee = self.stage.consumer_of(where[0])
                if callee is not None:  # a call that never came back: it waited at the callee
                    legs.append((where, (callee, None), at[1], time, FAILURE))
            elif at is not None and at[0] != where:
                tone = FAILURE if failed else REDELIVERY if redelivered else NORMAL
                legs.append((at[0], where, at[1], time, tone))
            failed = event in _FAILURES
            at = (where, time)
            if event == "requeued":
                redelivered = True
        self._schedule(legs)

    def _schedule(
        self, legs: list[tuple[tuple[str, int | None], tuple[str, int | None], float, float, int]]
    ) -> None:
        """Each leg drawn for at least min_hop, after the message's previous leg but never
        more than min_hop late; legs that take no time in a row are drawn as one, along their
        joined path."""
        merged: list[list[Any]] = []
        for a, b, t0, t1, tone in legs:
            last = merged[-1] if merged else None
            if last is not None and last[3] == last[2] == t0 == t1 and last[1] == a:
                last[1] = b
                last[5].append(b)
                last[4] = max(last[4], tone)
                continue
            merged.append([a, b, t0, t1, tone, [a, b]])
        free = -math.inf
        for _a, _b, t0, t1, tone, stops in merged:
            # After the previous leg, but at most min_hop late: the lag never accumulates.
            begin = min(max(t0, free), t0 + self.min_hop)
            finish = max(t1, begin + self.min_hop)
            pieces = [self.stage.path(stops[i], stops[i + 1]) for i in range(len(stops) - 1)]
            path = pieces[0] if len(pieces) == 1 else self._joined(pieces)
            self._start.append(begin)
            self._end.append(finish)
            self._path.append(path)
            self._tone.append(tone)
            free = finish

    def _joined(self, pieces: list[int]) -> int:
        stage = self.stage
        key = tuple(pieces)
        cache = stage.__dict__.setdefault("_joined_ids", {})
        if key not in cache:
            points = [stage.paths[pieces[0]]] + [stage.paths[p][1:] for p in pieces[1:]]
            stage.paths.append(np.concatenate(points))
            cache[key] = len(stage.paths) - 1
        return cache[key]
