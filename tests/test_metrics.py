"""The Recorder's streaming pieces: histogram, time series, trace."""

from __future__ import annotations

import numpy as np
import pytest
import simpy
from hdrh.histogram import HdrHistogram

import sim
from sim.metrics import EVENTS, NANOSECONDS, LatencyHistogram
from tests.helpers import scenario_from


def test_block_recording_equals_hdrhistogram_record_value() -> None:
    values = np.random.default_rng(1).lognormal(-3, 2.5, 30_000)  # ns to hours
    ours = LatencyHistogram()
    reference = HdrHistogram(1, ours.histogram.highest_trackable_value, 3)
    for v in values:
        ours.record(float(v))
        reference.record_value(round(v * NANOSECONDS))
    ours.flush()
    np.testing.assert_array_equal(
        np.ctypeslib.as_array(ours.histogram.counts), np.ctypeslib.as_array(reference.counts)
    )
    for p in (50, 90, 99, 99.9):
        assert ours.percentile(p) == reference.get_value_at_percentile(p) / NANOSECONDS
    assert ours.mean == pytest.approx(values.mean(), rel=1e-12)  # exact, not bucketed
    assert ours.max == values.max()


@pytest.mark.parametrize("digits", [2, 3])
@pytest.mark.parametrize("size", [1, 7, 5000])
def test_percentiles_are_hdrhistograms_own_at_every_percentile(digits: int, size: int) -> None:
    # percentiles() finds the bucket with a numpy running sum instead of hdrh's Python walk:
    # the same value at the extremes (0 takes the lowest equivalent value, 100 the top one),
    # at ties and on a histogram of one value.
    rng = np.random.default_rng(size + digits)
    ours = LatencyHistogram(digits=digits)
    reference = HdrHistogram(1, ours.histogram.highest_trackable_value, digits)
    for v in np.round(rng.exponential(0.05, size), 3):
        ours.record(float(v))
        reference.record_value(round(v * NANOSECONDS))
    ps = [0, 0.1, 1, 25, 50, 50.0001, 95, 99, 99.99, 100]
    expected = [reference.get_value_at_percentile(p) / NANOSECONDS for p in ps]
    assert ours.percentiles(ps) == expected
    assert [ours.percentile(p) for p in ps] == expected
    stats = ours.stats()
    assert [stats["p50"], stats["p95"], stats["p99"]] == [expected[4], expected[6], expected[7]]


def test_cdf_ends_at_one_and_is_monotonic() -> None:
    hist = LatencyHistogram()
    for v in np.random.default_rng(2).exponential(1.0, 5000):
        hist.record(float(v))
    values, fraction = hist.cdf()
    assert fraction[-1] == pytest.approx(1.0)
    assert np.all(np.diff(values) > 0) and np.all(np.diff(fraction) >= 0)


def test_timeseries_is_sampled_at_the_interval_with_a_final_row() -> None:
    results = sim.run(scenario_from(duration=100.0, sample_interval="7s"))
    times = results.timeseries["time"].to_numpy()
    assert times[0] == 0 and times[-1] == 100.0
    np.testing.assert_allclose(np.diff(times[:-1]), 7.0)
    assert {"produced_rate", "throughput", "ready.q", "in_flight.q", "backlog"} <= set(
        results.timeseries.columns
    )
    # the sampled rates integrate back to the counts
    span = np.diff(times)
    produced = (results.timeseries["produced_rate"].to_numpy()[1:] * span).sum()
    assert produced == pytest.approx(results.summary["produced"])


def test_trace_is_off_by_default_and_complete_when_on() -> None:
    scenario = scenario_from(duration=50.0)
    assert sim.run(scenario).trace is None
    trace = sim.run(scenario, trace=True).trace
    assert list(trace.columns) == ["time", "message_id", "event", "component"]
    assert set(trace.event) <= set(EVENTS)
    assert trace.time.is_monotonic_increasing
    per_message = trace.groupby("message_id").event.apply(list)
    done = per_message[per_message.apply(lambda e: "acked" in e)]
    assert len(done) > 10
    for events in done:
        assert events == ["produced", "published", "enqueued", "delivered", "processed", "acked"]


def test_latency_ignores_warmup_messages_and_throughput_counts_the_window() -> None:
    scenario = scenario_from(duration=200.0, warmup=100.0)
    results = sim.run(scenario, trace=True)
    t = results.trace
    produced = t[t.event == "produced"].set_index("message_id").time
    processed = t[t.event == "processed"].set_index("message_id").time
    late = processed[produced.loc[processed.index] >= 100.0]
    latencies = late - produced.loc[late.index]
    assert results.summary["latency_mean"] == pytest.approx(latencies.mean())
    finished_in_window = (processed >= 100.0).sum()
    assert finished_in_window >= len(late)
    assert results.summary["throughput"] == pytest.approx(finished_in_window / 100.0)


def test_recorder_memory_does_not_keep_messages() -> None:
    env = simpy.Environment()
    from sim.message import Message
    from sim.metrics import Recorder

    recorder = Recorder(env)
    msg = Message(1, 0.0)
    recorder.produced_message(msg, "p")
    recorder.processed(msg, "c")
    assert recorder.trace is None
    assert not any(isinstance(v, Message) for v in vars(recorder).values())


def test_an_overloaded_queue_reports_its_service_rate_as_throughput() -> None:
    """3/s offered to a consumer that serves 2/s: the window still sees 2/s of work done."""
    results = sim.run(
        scenario_from(
            duration=4000.0, warmup=1000.0, producers=[{"name": "p", "to": "q", "rate": 3.0}]
        )
    )
    assert results.summary["throughput"] == pytest.approx(2.0, rel=0.05)


def test_dead_lettering_overrides_processed_until_processed_again() -> None:
    # A copy ends where it ends: processed, then moved to a dead-letter queue, it counts as
    # dead-lettered, even if the consumer that held it finishes it again; delivered and
    # processed from the dead-letter queue, it counts as processed. Its processings stay
    # counted (one unique message, duplicates for the rest) and conservation holds throughout.
    from sim.message import Message, State
    from sim.metrics import Recorder
    from sim.results import summarize

    recorder = Recorder(simpy.Environment())
    msg = Message(1, 0.0)
    recorder.produced_message(msg, "p")
    recorder.processed(msg, "c")
    recorder.dead_lettered(msg, "q")
    assert recorder.states[State.DEAD_LETTERED] == 1 and recorder.states[State.PROCESSED] == 0
    summary = summarize(recorder, 1.0, 0.0)
    assert summary["duplicates"] == 0 and summary["dead_lettered"] == 1
    recorder.processed(msg, "c")  # a late processing of the delivery before the move
    assert recorder.states[State.DEAD_LETTERED] == 1
    msg.deliveries += 1
    recorder.delivered_message(msg, "dlq")  # the dead-letter queue delivers it: in play again
    assert recorder.states[State.LIVE] == 1 and recorder.states[State.DEAD_LETTERED] == 0
    recorder.processed(msg, "d")
    assert recorder.states[State.PROCESSED] == 1 and recorder.states[State.DEAD_LETTERED] == 0
    summary = summarize(recorder, 1.0, 0.0)
    assert summary["processed"] == 1 and summary["duplicates"] == 2
    assert recorder.latency.count == 1  # the first processing only


def test_block_and_single_gauges_keep_their_columns_in_registration_order() -> None:
    """A block read fills its columns where it was registered, between one-column reads, and
    each column carries its own kind; every sample reads the values of that instant."""
    from sim.metrics import Recorder

    env = simpy.Environment()
    recorder = Recorder(env, sample_interval=1.0)
    state = {"a": 0, "b": 10}
    recorder.gauge("a", lambda: state["a"], "first")
    recorder.gauge_block(["b", "c"], lambda: (state["b"], state["b"] * 2), ["second", "third"])
    recorder.gauge("d", lambda: -state["a"], "first")

    def change():  # type: ignore[no-untyped-def]
        yield env.timeout(1.5)
        state["a"], state["b"] = 3, 7

    env.process(change())
    recorder.start_sampling()
    env.run(until=2.5)
    assert recorder.timeseries_columns()[3:] == ["a", "b", "c", "d"]
    assert recorder.series == {"first": ["a", "d"], "second": ["b"], "third": ["c"]}
    assert [row[3:] for row in recorder.rows] == [[0, 10, 20, 0], [0, 10, 20, 0], [3, 7, 14, -3]]
    with pytest.raises(ValueError):
        recorder.gauge_block(["x", "y"], lambda: (1, 2), ["only one kind"])


@pytest.mark.parametrize("order", [["q0", "q1", "q2"], ["q2", "q0"], ["q1"]])
def test_ready_gauges_read_each_sources_exact_count(order: list[str]) -> None:
    """Whatever order the sources were registered in, and whether the read is one column,
    a slice of the counts or a pick of them, each `ready.<source>` column is its own count."""
    from sim.metrics import Recorder

    env = simpy.Environment()
    recorder = Recorder(env, sample_interval=1.0)
    slots = {name: recorder.source(name) for name in ["q0", "q1", "q2"]}
    recorder.ready_gauges(order)
    for count, name in enumerate(["q0", "q1", "q2"], start=1):
        recorder.ready_add(slots[name], count * 5)
    recorder.start_sampling()
    env.run(until=0.5)
    assert recorder.timeseries_columns()[3:] == [f"ready.{name}" for name in order]
    assert recorder.series == {"ready": [f"ready.{name}" for name in order]}
    expected = {"q0": 5, "q1": 10, "q2": 15}
    assert list(recorder.rows[0][3:]) == [expected[name] for name in order]
