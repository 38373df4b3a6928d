"""Playback frames follow the trace: where a message is, what a bar holds, who is crashed."""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd
import pytest

import sim
from sim.viz.playback import (
    FAILURE,
    MAX_TRACE_ROWS,
    NORMAL,
    REDELIVERY,
    WindowError,
    build_playback,
    check_window,
    frame_times,
)
from tests.helpers import ROOT, scenario_from


def _point(playback, node: str, slot: int | None = None) -> np.ndarray:
    entry = next(n for n in playback.nodes if n["id"] == node)
    if slot is not None:
        return np.array([entry["slots"][slot]["x"], entry["slots"][slot]["y"]])
    return np.array([entry["x"], entry["y"]])


def _on_segment(p: np.ndarray, a: np.ndarray, b: np.ndarray) -> bool:
    ab, ap = b - a, p - a
    cross = ab[0] * ap[1] - ab[1] * ap[0]
    inside = -1e-9 <= float(np.dot(ap, ab)) <= float(np.dot(ab, ab)) + 1e-9
    return abs(cross) < 1e-9 and inside


def test_a_message_travels_from_queue_to_consumer_while_delivered() -> None:
    # One slow message at a time: its dot is on the queue -> consumer edge between its
    # delivery and its processing, and nowhere while it waits in the queue.
    results = sim.run(
        scenario_from(
            duration=60.0,
            producers=[{"name": "p", "to": "q", "rate": 0.2}],
            consumers=[{"name": "c", "from": "q", "service_time": "constant(2s)"}],
        ),
        trace=True,
    )
    playback = build_playback(results)
    trace = results.trace
    message = trace[trace["event"] == "processed"]["message_id"].iloc[0]
    rows = trace[trace["message_id"] == message].set_index("event")["time"]
    delivered, processed = rows["delivered"], rows["processed"]
    assert processed - delivered == pytest.approx(2.0)
    frame = playback.frame((delivered + processed) / 2)
    queue, consumer = _point(playback, "q"), _point(playback, "consumer:c", 0)
    assert any(_on_segment(dot, queue, consumer) for dot in frame.dots)
    middle = (queue + consumer) / 2
    assert min(np.linalg.norm(frame.dots - middle, axis=1)) < 0.05  # half-way at half-time
    # Its replica is busy then, and idle once every message is done.
    assert frame.states == ["busy"]
    quiet = trace["time"].iloc[-1] + 3.0
    if quiet < results.duration:
        assert playback.frame(quiet).states == ["idle"]


def test_publishing_through_the_default_exchange_is_one_visible_move() -> None:
    results = sim.run(scenario_from(duration=30.0), trace=True)
    playback = build_playback(results, min_hop=0.5)
    produced = results.trace[results.trace["event"] == "produced"]["time"].iloc[0]
    frame = playback.frame(produced + 0.25)  # the publish takes no time; drawn for 0.5 s
    assert len(frame.dots) >= 1
    path_nodes = {n["id"] for n in playback.nodes}
    assert "exchange:(default)" in path_nodes  # drawn as RabbitMQ routes it


def test_queue_bar_holds_the_sampled_ready_count() -> None:
    results = sim.run(
        scenario_from(
            duration=40.0,
            producers=[{"name": "p", "to": "q", "rate": 5.0}],
            consumers=[{"name": "c", "from": "q", "service_time": "exp(1s)"}],
        ),
        trace=True,
    )
    playback = build_playback(results)
    (bar,) = [b for b in playback.bars if b.node == "q"]
    frame = results.timeseries
    row = frame[frame["time"] <= 25.5].iloc[-1]
    value, extra = playback.frame(25.5).bars[playback.bars.index(bar)]
    assert value == row["ready.q"] and extra == row["in_flight.q"]
    assert value > 10  # the queue is overloaded: the bar has something to show
    assert bar.capacity == max((frame["ready.q"] + frame["in_flight.q"]).max(), 1)


def test_poison_message_goes_out_and_back_then_to_the_parking_lot() -> None:
    scenario = sim.load_scenario(ROOT / "scenarios" / "poison_message.yaml")
    results = sim.run(scenario.variant_scenarios()["delivery-limit-3"], duration=130, trace=True)
    playback = build_playback(results, 60.0, 130.0)
    trace = results.trace
    lettered = trace[(trace["event"] == "dead-lettered") & (trace["time"] > 60)]
    assert len(lettered) >= 1
    when = float(lettered["time"].iloc[0])
    tones = playback.move_tone
    assert (tones == REDELIVERY).sum() >= 2 * 3  # three requeues: out and back each
    # The dead-lettered message's move ends in the parking lot, drawn as a failure; it starts
    # when the message is dead-lettered, or once its trip back to the queue has been drawn.
    starts = playback.move_start
    soon = (starts >= when - 1e-9) & (starts <= when + 2 * playback.min_hop)
    failing = np.flatnonzero((tones == FAILURE) & soon)
    assert len(failing) == 1
    path = playback.paths[playback.move_path[failing[0]]]
    assert np.allclose(path[-1], _point(playback, "parking-lot"))
    assert np.allclose(path[1], _point(playback, "dlx"))  # through the dead-letter exchange


def test_kafka_consumer_crash_shows_crashed_replica_and_new_owners() -> None:
    scenario = sim.load_scenario(ROOT / "scenarios" / "kafka_consumer_crash.yaml")
    variant = scenario.variant_scenarios()["auto-commit"]
    results = sim.run(variant.override({"producers.0.spikes": []}), duration=85, trace=True)
    playback = build_playback(results, 50.0, 85.0)
    names = [r.name for r in playback.replicas]
    assert names == ["billing.0", "billing.1"]
    before, during = playback.frame(55.0), playback.frame(62.0)
    assert during.states[0] == "crashed" and before.states[0] != "crashed"
    assert during.states[1] in ("busy", "idle")
    table = results.tables["kafka.assignments"]
    later = table[(table["start"] > 60) & (table["start"] < 85)]
    assert not later.empty, "the crash leads to a rebalance"
    after = playback.frame(float(later["start"].max()) + 0.5)
    assert set(after.owners.values()) == {"billing.1"}
    assert set(before.owners.values()) == {"billing.0", "billing.1"}
    assert "billing.0 crash" in during.faults


def test_a_window_with_too_many_rows_is_refused_with_one_that_fits() -> None:
    rows = MAX_TRACE_ROWS + 5000
    trace = pd.DataFrame(
        {
            "time": np.linspace(0.0, 100.0, rows),
            "message_id": np.arange(rows),
            "event": "produced",
            "component": "p",
        }
    )
    results = sim.run(scenario_from(duration=100.0))
    results.trace = trace
    with pytest.raises(WindowError) as error:
        check_window(results, 0.0, 100.0)
    message = str(error.value)
    assert str(rows) in message
    found = re.search(r"--from (\S+)s --to (\S+)s", message)
    assert found is not None
    start, end = float(found.group(1)), float(found.group(2))
    assert start == 0 and end > 90  # a window about as long as fits, rounded down
    assert check_window(results, start, end) <= MAX_TRACE_ROWS
    assert check_window(results, 10.0, 20.0) == pytest.approx(rows / 10, rel=0.01)


def test_an_untraced_run_or_an_empty_window_is_refused() -> None:
    results = sim.run(scenario_from(duration=10.0))
    with pytest.raises(WindowError, match="no trace"):
        build_playback(results)
    traced = sim.run(scenario_from(duration=10.0), trace=True)
    with pytest.raises(WindowError, match="empty"):
        build_playback(traced, 5.0, 5.0)


def test_frame_times_cover_the_window_at_the_speed() -> None:
    times = frame_times(10.0, 20.0, speed=2.0, fps=10.0)
    assert times[0] == 10.0 and times[-1] == 20.0
    assert np.allclose(np.diff(times), 0.2)
    odd = frame_times(0.0, 1.05, speed=1.0, fps=10.0)
    assert odd[-1] == 1.05 and math.isclose(odd[-2], 1.0)


def test_data_for_the_page_is_plain_json() -> None:
    import json

    scenario = sim.load_scenario(ROOT / "scenarios" / "kafka_consumer_crash.yaml")
    results = sim.run(scenario.variant_scenarios()["auto-commit"], duration=10, trace=True)
    data = build_playback(results).to_data()
    text = json.dumps(data, allow_nan=False)  # no NaN or Infinity, which JSON.parse refuses
    back = json.loads(text)
    assert len(back["moves"]["start"]) == len(back["moves"]["path"]) > 0
    assert back["assignments"]
    assert all(end is None or end <= 10 for *_, end in back["assignments"])  # null: still held
    assert all(tone in (NORMAL, REDELIVERY, FAILURE) for tone in back["moves"]["tone"])
