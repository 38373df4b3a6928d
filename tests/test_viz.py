"""Charts: written as PNGs, titled, axes labelled with units, and drawn so they teach the
right lesson (issue 10, section 4): what did not complete stays in a latency CDF, messages
held by consumers show beside the ready ones, each queue is drawn on its own, idle consumers
show as zero, fault windows carry no overprinted labels, a chart with nothing to see is not
drawn, a broker failure shows what acks changes, effects and deliveries are told apart, and
the topology of variants is their union."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import matplotlib.image as mpimg
import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.axes import Axes
from matplotlib.figure import Figure

import sim
from sim.results import Results
from sim.viz import (
    plot_compare_depth,
    plot_compare_latency,
    plot_compare_messages_per_consumer,
    plot_effects,
    plot_latency_cdf,
    plot_partition_assignment,
    plot_queue_depth,
    plot_topology,
    variant_charts,
    write_charts,
)
from sim.viz.compare import plot_variant_totals
from sim.viz.events import event_marks
from sim.viz.kafka import plot_compare_lag
from sim.viz.latency import completion
from sim.viz.replication import FAILURE_COUNTERS, plot_broker_failure
from sim.viz.timeseries import QUIET_DEPTH, peak_depth
from sim.viz.topology import topology_caption, union_topology
from tests.chart_rules import saved_width
from tests.helpers import ROOT, scenario_from
from tests.scenario_runs import scenario_runs as demo_runs


@cache
def scenario_runs(name: str, duration: str | None = None) -> dict[str, Results]:
    """The variants of scenarios/<name>.yaml, run once per test session (at the scenario's own
    duration, the runs test_charts.py draws too: tests/scenario_runs.py)."""
    if duration is None:
        return demo_runs(name)
    return sim.run_variants(ROOT / "scenarios" / f"{name}.yaml", duration=duration)


def _caption(fig: Figure) -> str:
    return " ".join(t.get_text() for t in fig.texts).replace("\n", " ")


def _axes(fig: Figure, title: str) -> Axes:
    """The axes whose (left or centre) title contains `title`."""
    for ax in fig.axes:
        if title in ax.get_title(loc="left") or title in ax.get_title():
            return ax
    raise AssertionError(f"no axes titled {title!r} in {[a.get_title('left') for a in fig.axes]}")


def _line(ax: Axes, label: str) -> np.ndarray:
    found = [line for line in ax.get_lines() if str(line.get_label()).startswith(label)]
    assert found, f"no line labelled {label!r}: {[str(x.get_label()) for x in ax.get_lines()]}"
    return np.asarray(found[0].get_ydata(), dtype=float)


def _legend_texts(fig: Figure) -> list[str]:
    legends = [*fig.legends, *(ax.get_legend() for ax in fig.axes if ax.get_legend())]
    return [t.get_text() for legend in legends for t in legend.get_texts()]


def test_charts_have_titles_units_and_captions(tmp_path: Path) -> None:
    results = sim.run(scenario_from(duration=300.0, warmup=30.0))
    for fig in (plot_queue_depth(results), plot_latency_cdf(results)):
        ax = fig.axes[0]
        assert ax.get_title().startswith("test:")
        assert "(" in ax.get_ylabel() and "(" in fig.axes[-1].get_xlabel()  # units in brackets
        assert fig.texts, "a caption says what the chart shows"
        plt.close(fig)
    paths = write_charts(results, tmp_path, prefix="test_")
    assert sorted(p.name for p in paths) == [
        "test_latency_cdf.png",
        "test_queue_depth.png",
        "test_topology.png",
    ]
    for path in paths:
        image = mpimg.imread(path)
        assert 200 < image.shape[0] < 2000 and 400 < image.shape[1] < 2000


def test_topology_draws_every_part() -> None:
    results = sim.run(scenario_from(duration=10.0))
    fig = plot_topology(results.topology)
    labels = {t.get_text() for t in fig.axes[0].texts}
    assert {"p", "q", "c"} <= labels
    plt.close(fig)


# ----- survivorship: a CDF ends at the share that completed -----


def test_a_latency_cdf_ends_at_the_share_of_messages_that_completed() -> None:
    # One consumer at half the arrival rate: about half the messages are still queued.
    results = sim.run(
        scenario_from(
            duration=200.0,
            producers=[{"name": "p", "to": "q", "rate": 2.0}],
            consumers=[{"name": "c", "from": "q", "service_time": "1s"}],
        )
    )
    summary = results.summary
    completed = int(results.latency_by("replica")["count"].sum())
    share = completed / summary["produced"]
    assert 0.3 < share < 0.7
    fig = plot_latency_cdf(results)
    curve = fig.axes[0].get_lines()[0]
    assert curve.get_ydata()[-1] == pytest.approx(share)
    caption = _caption(fig)
    assert f"of {summary['produced']:,} messages completed" in caption
    assert f"{summary['backlog_at_end']:,} still in the system at the end" in caption
    plt.close(fig)


def test_compared_cdfs_keep_the_requests_that_failed_or_timed_out() -> None:
    runs = scenario_runs("coupling")
    fig = plot_compare_latency(runs)
    ax = fig.axes[0]
    for name, results in runs.items():
        summary = results.summary
        ends_at = _line(ax, f"{name}:")[-1]
        assert ends_at == pytest.approx(summary["processed"] / summary["produced"])
    sync = runs["sync"].summary
    assert sync["processed"] < 0.7 * sync["produced"]  # the lesson: sync fails many requests
    caption = _caption(fig)
    assert f"{sync['expired']:,} timed out" in caption
    assert f"{sync['rejected']:,} refused" in caption
    assert "Further left is faster, among those that completed" in caption
    plt.close(fig)


@pytest.mark.parametrize("interval", [1.0, 0.7])
def test_after_a_warmup_the_share_is_of_what_was_produced_after_it(interval: float) -> None:
    scenario = scenario_from(duration=300.0, warmup=50.0, sample_interval=interval)
    results = sim.run(scenario, trace=True)
    trace = results.trace
    assert trace is not None
    produced = trace[(trace["event"] == "produced") & (trace["time"] >= 50.0)]
    after = produced["message_id"].nunique()
    done = completion(results)
    if interval == 1.0:  # the warm-up ends on a sampling instant: an exact count
        assert done.total == pytest.approx(after) and not done.estimated
    else:  # one sample straddles it: its messages are shared out in proportion
        assert abs(done.total - after) < 5 and done.estimated
        assert done.headline().endswith(f"of about {round(done.total):,} messages completed")
    assert done.completed == int(results.latency_by("replica")["count"].sum())
    assert "after the 50s warm-up" in done.basis


# ----- queue depth: ready and in flight, each source on its own -----


def test_depth_shows_the_messages_a_greedy_consumer_holds() -> None:
    scenario = scenario_from(
        duration=120.0,
        producers=[{"name": "p", "to": "q", "rate": 4.0}],
        consumers=[{"name": "c", "from": "q", "service_time": "exp(0.5s)"}],
        variants={"fair": {"consumers.0.prefetch": 1}, "greedy": {"consumers.0.prefetch": 0}},
    )
    runs = sim.run_variants(scenario)
    greedy = runs["greedy"].timeseries
    assert greedy["ready.q"].max() == 0 and greedy["in_flight.q"].max() > 50  # all prefetched
    fig = plot_compare_depth(runs)
    assert _line(_axes(fig, "q: ready"), "greedy").max() == 0
    held = _line(_axes(fig, "q: in flight"), "greedy")
    assert held.tolist() == greedy["in_flight.q"].tolist()
    plt.close(fig)
    single = plot_queue_depth(runs["greedy"])
    assert _line(single.axes[1], "q").tolist() == greedy["in_flight.q"].tolist()
    plt.close(single)


def test_each_queue_is_drawn_on_its_own() -> None:
    runs = scenario_runs("poison_message")
    limited = runs["delivery-limit-3"].timeseries
    assert limited["ready.parking-lot"].max() > 0  # dead letters reach the parking lot
    fig = plot_compare_depth(runs)
    work = _line(_axes(fig, "work: ready"), "delivery-limit-3")
    parked = _line(_axes(fig, "parking-lot: ready"), "delivery-limit-3")
    assert work.tolist() == limited["ready.work"].tolist()  # not work + parking-lot
    assert parked.tolist() == limited["ready.parking-lot"].tolist()
    plt.close(fig)


# ----- messages per consumer -----


def _kafka(replicas: int) -> dict[str, object]:
    return {"consumers.0.replicas": replicas}


def test_consumers_sort_naturally_and_idle_ones_show_as_zero() -> None:
    scenario = sim.Scenario.from_dict(
        {
            "name": "k",
            "duration": 20.0,
            "broker": {
                "type": "kafka",
                "group.initial.rebalance.delay.ms": 0,
                "topics": [{"name": "events", "partitions": 3}],
            },
            "producers": [{"name": "p", "to": "events", "rate": 50.0, "keys": 20}],
            "consumers": [{"name": "c", "from": "events", "service_time": "5ms"}],
            "variants": {"three": _kafka(3), "twelve": _kafka(12)},
        }
    )
    runs = sim.run_variants(scenario)
    assert len(runs["twelve"].summary["processed_by"]) == 3  # only three own a partition
    fig = plot_compare_messages_per_consumer(runs)
    panel = _axes(fig, "twelve")
    names = [t.get_text() for t in panel.get_yticklabels()]
    assert names == [f"c.{i}" for i in range(12)]  # c.2 before c.10
    assert sum(t.get_text() == "0 (idle)" for t in panel.texts) == 9
    assert "9 idle" in panel.get_title(loc="left")
    plt.close(fig)


def test_messages_per_consumer_stays_narrow_whatever_the_replica_count() -> None:
    counts = (1, 2, 4, 8, 16, 32, 64)
    scenario = scenario_from(
        duration=20.0,
        producers=[{"name": "p", "to": "q", "rate": 50.0}],
        consumers=[{"name": "w", "from": "q", "service_time": "exp(0.5s)"}],
        variants={str(n): {"consumers.0.replicas": n} for n in counts},
    )
    fig = plot_compare_messages_per_consumer(sim.run_variants(scenario))
    fig.canvas.draw()
    assert saved_width(fig) <= 2400
    assert _axes(fig, "64:").get_xlabel() == "consumers, busiest first (rank)"  # a profile
    plt.close(fig)


# ----- fault windows: no label per window, one legend entry per kind -----


def test_many_crashes_get_one_legend_entry_and_no_labels() -> None:
    runs = scenario_runs("exactly_once_kafka")
    results = runs["commit-before"]
    crashes = [w for w in event_marks(results).windows if w[1] == "crash"]
    assert len(crashes) >= 10
    for fig in (plot_partition_assignment(results), plot_compare_lag(runs)):
        ax = fig.axes[0]
        assert not [t for t in ax.texts if "crash" in t.get_text()]
        entries = [t for t in _legend_texts(fig) if "crash" in t]
        assert len(entries) == 1 and f"{len(crashes)} times" in entries[0]
        plt.close(fig)


# ----- charts with nothing to see, and identical variants -----


def test_identical_or_quiet_queue_depths_are_not_drawn() -> None:
    bounded = scenario_runs("mm1k")
    first, second = bounded.values()
    for kind in ("ready", "in_flight"):
        columns = first.columns_of(kind)
        assert first.timeseries[columns].equals(second.timeseries[columns])  # identical
    assert "compare_queue_depth" not in variant_charts(bounded)
    quiet = scenario_runs("dedup_window")
    assert all(peak_depth(r) < QUIET_DEPTH for r in quiet.values())
    assert "compare_queue_depth" not in variant_charts(quiet)


def test_identical_variants_are_one_line_named_as_identical() -> None:
    results = sim.run(scenario_from(duration=30.0))
    other = sim.run(scenario_from(duration=30.0, seed=2))
    runs = {"a": results, "b": results, "c": other}
    fig, ax = plot_variant_totals(
        runs, lambda r: r.timeseries["ready.q"], "depth", "ready (messages)", "caption"
    )
    assert [str(line.get_label()) for line in ax.get_lines()] == ["a = b (identical)", "c"]
    plt.close(fig)
    fig = plot_compare_latency(runs)
    labels = [str(line.get_label()) for line in fig.axes[0].get_lines()]
    assert labels[0].startswith("a = b (identical):") and labels[1].startswith("c:")
    plt.close(fig)


# ----- a Kafka broker failure: what acks=1 and acks=all change -----


def test_a_broker_failure_shows_what_the_acks_setting_changes() -> None:
    runs = scenario_runs("kafka_broker_failure", "50s")
    quorum, leader = runs["acks-all"].summary, runs["acks-1"].summary
    assert leader["lost"] > 0 == quorum["lost"]  # acks=1 lost acknowledged records
    charts = variant_charts(runs)
    assert "broker_failure" in charts
    assert not {"compare_lag", "delivery_outcomes"} & set(charts)  # lag reads 0 in the outage
    fig = plot_broker_failure(runs)
    counters = fig.axes[2]
    labels = [t.get_text() for t in counters.get_yticklabels()]
    for container, summary in zip(counters.containers, (quorum, leader), strict=True):
        values = dict(zip(labels, container.datavalues, strict=True))
        for key, label in FAILURE_COUNTERS:
            if label in values:
                assert values[label] == summary.get(key, 0)
    assert dict(FAILURE_COUNTERS)["lost"] in labels
    written = fig.axes[1]
    time = runs["acks-1"].timeseries["time"].to_numpy()
    outage = (time > 31) & (time < 38)  # broker 0 down, not yet fenced by the controller
    assert (_line(written, "acks-1")[outage] > 0).all()
    assert (_line(written, "acks-all")[outage] == 0).all()
    plt.close(fig)


# ----- effects in the ledger, deliveries at the broker -----


def test_effects_are_the_headline_and_deliveries_are_labelled_as_such() -> None:
    runs = scenario_runs("exactly_once")
    transactional = runs["transactional"].summary
    assert transactional["duplicates"] > 0 == transactional["effects_duplicated"]
    charts = variant_charts(runs)
    assert "effects" in charts and "delivery_outcomes" not in charts
    fig = plot_effects(runs)
    ledger, deliveries = _axes(fig, "in the ledger"), _axes(fig, "deliveries")
    produced = {n: r.summary["produced"] for n, r in runs.items()}
    twice = {c.get_label(): c for c in ledger.containers}["effect applied more than once"]
    again = {c.get_label(): c for c in deliveries.containers}[
        "processed again (a delivery, not an effect)"
    ]
    for i, (name, results) in enumerate(runs.items()):
        share = 100.0 * results.summary["effects_duplicated"] / produced[name]
        assert twice.datavalues[i] == pytest.approx(share)
        share = 100.0 * results.summary["duplicates"] / produced[name]
        assert again.datavalues[i] == pytest.approx(share)
    plt.close(fig)


# ----- topology: the union of the variants, captions that match -----


def test_the_variants_topology_is_their_union() -> None:
    runs = scenario_runs("sqs_visibility_timeout")
    assert not runs["long-timeout"].topology.has_edge("work", "work-dlq")
    union = union_topology(runs)
    assert union.edges["work", "work-dlq"]["label"].endswith("(only in: short-timeout-redrive)")
    coupling = union_topology(scenario_runs("coupling"))
    for edge in (("service:A", "service:B"), ("service:A", "jobs"), ("jobs", "service:B")):
        assert coupling.has_edge(*edge)
    assert "(not in: async)" in coupling.edges["service:A", "service:B"]["label"]
    assert coupling.nodes["jobs"]["column"] > coupling.nodes["service:A"]["column"]


def test_topology_captions_say_what_is_drawn() -> None:
    coupling = topology_caption(union_topology(scenario_runs("coupling")))
    assert "binding" not in coupling and "calls: a synchronous request" in coupling
    topic = sim.run(ROOT / "scenarios" / "pubsub_topic.yaml", duration="5s").topology
    assert "binding keys" in topology_caption(topic)
    kafka = scenario_runs("exactly_once_kafka")["commit-after"].topology
    assert topology_caption(kafka) == "Messages flow left to right."
