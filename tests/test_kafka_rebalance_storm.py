"""The kafka_rebalance_storm scenario and what it measures: a rolling restart (clean shutdowns:
commit, close, a new process later) and one batch longer than max.poll.interval.ms, under
eager, cooperative-sticky, static membership, the consumer protocol and static members on it;
partition-seconds with no live owner; the storm charts."""

from __future__ import annotations

from dataclasses import replace

import pandas as pd
import pytest

import sim
from sim.brokers.kafka.runtime import unowned_partition_seconds
from sim.results import Results
from sim.viz.catalog import chosen
from sim.viz.rebalance import plot_rebalance_cost, processed_between, storm_window
from tests.scenario_runs import scenario_runs


def _runs() -> dict[str, Results]:
    return scenario_runs("kafka_rebalance_storm")  # simulated once (tests/scenario_runs.py)


def test_unowned_time_merges_intervals_from_the_groups_first_assignment() -> None:
    rows = [
        ["g", "t", 0, "a", 2.0, 5.0],
        ["g", "t", 0, "b", 4.0, 7.0],  # overlaps a's: covered once
        ["g", "t", 0, "b", 8.0, 10.0],  # a gap of 1 s before it
        ["g", "t", 1, "a", 3.0, 10.0],  # 1 s unowned after the group's first assignment at 2 s
        ["h", "t", 0, "x", 0.0, 10.0],  # another group, fully owned
    ]
    table = pd.DataFrame(rows, columns=["group", "topic", "partition", "member", "start", "end"])
    groups = {"g": [("t", 0), ("t", 1), ("t", 2)], "h": [("t", 0)]}
    # t-0: 1 s; t-1: 1 s; t-2 never owned: 8 s; h: 0.
    assert unowned_partition_seconds(table, groups, 10.0) == pytest.approx(10.0)


def test_every_variant_restarts_ten_members_and_times_one_out() -> None:
    for name, results in _runs().items():
        s = results.summary
        assert s["kafka.restarts"] == 10, name
        assert s["kafka.poll_timeouts"] == 1, name  # the slow batch
        assert s["duplicates"] > 0 and s["lost"] == 0, name  # its batch is read twice
        assert results.conservation_gap() == 0
        restarts = results.events[results.events["event"] == "restart end"]
        assert len(restarts) == 10


def test_static_members_restart_without_rebalancing() -> None:
    runs = _runs()
    static = runs["static-membership"].summary
    assert static["kafka.rebalances"] == 1  # only the group's first
    assert static["kafka.static_rejoins"] == 11  # ten restarts and the member back from its batch
    # KIP-848 static members: a close is a leave with epoch -2 and the restarted process
    # replaces the member without a new group epoch; only the ten first joins bump it.
    kip848 = runs["static-consumer-protocol"].summary
    assert kip848["kafka.rebalances"] == 10
    assert kip848["kafka.static_rejoins"] == 11
    assert runs["consumer-protocol"].summary["kafka.rebalances"] >= 10 + 2 * 10
    # Each dynamic restart is a leave and a join: two rebalances at least.
    assert runs["eager"].summary["kafka.rebalances"] >= 21
    assert runs["cooperative-sticky"].summary["kafka.rebalances"] >= 21


def test_eager_leaves_partitions_unowned_longest_and_processes_least() -> None:
    runs = _runs()
    unowned = {n: r.summary["kafka.unowned_partition_seconds"] for n, r in runs.items()}
    assert max(unowned, key=unowned.__getitem__) == "eager"
    assert min(unowned, key=unowned.__getitem__) == "cooperative-sticky"
    # A static member's two partitions wait for it through each 10 s restart: about 20 s each.
    assert unowned["static-membership"] > 10 * 2 * 10
    assert unowned["static-consumer-protocol"] > 10 * 2 * 10
    processed = {}
    for name, results in runs.items():
        start, end = storm_window(results)
        processed[name] = processed_between(results, start, end)
    assert min(processed, key=processed.__getitem__) == "eager"
    assert (
        runs["eager"].summary["backlog_at_end"]
        > runs["static-membership"].summary["backlog_at_end"]
    )


def test_the_storm_window_spans_the_restarts_and_the_slow_fault() -> None:
    results = _runs()["eager"]
    assert storm_window(results) == pytest.approx((60.0, 320.0))
    s = results.summary
    unique = s["processed_total"] - s["duplicates"]  # what the throughput column counts
    assert processed_between(results, -1.0, results.duration) == pytest.approx(unique)
    before = processed_between(results, -1.0, 60.0)
    after = processed_between(results, 320.0, results.duration)
    assert processed_between(results, 60.0, 320.0) == pytest.approx(unique - before - after)


def test_the_catalog_draws_the_storm_charts_for_this_scenario_only() -> None:
    names = set(chosen(_runs(), "variants"))
    assert {"storm_throughput", "rebalance_cost"} <= names
    assert "delivery_outcomes" not in names  # superseded: the cost chart shows duplicates
    for chart in ("storm_throughput", "rebalance_cost"):
        chosen(_runs(), "variants")[chart].draw(_runs())
    crash = scenario_runs("kafka_consumer_crash")  # the runs test_charts.py draws too
    names = set(chosen(crash, "variants"))
    assert not names & {"storm_throughput", "rebalance_cost", "share_scaling", "key_order"}


def test_a_rolling_restart_commits_before_it_closes() -> None:
    data = {
        "name": "r",
        "duration": 40.0,
        "broker": {
            "type": "kafka",
            "group.initial.rebalance.delay.ms": 0,
            "topics": [{"name": "t", "partitions": 4}],
        },
        "producers": [{"name": "p", "to": "t", "rate": 50.0, "keys": 20, "stop": 30.0}],
        "consumers": [
            {
                "name": "c",
                "from": "t",
                "replicas": 2,
                "service_time": "5ms",
                "auto.offset.reset": "earliest",
                "enable.auto.commit": False,
                "commit": "after-processing",
                "rolling_restart": {"start": "10s", "every": "5s", "down_for": "2s"},
            }
        ],
    }
    s = sim.run(sim.Scenario.from_dict(data)).summary
    assert s["kafka.restarts"] == 2 and s["duplicates"] == 0 and s["backlog_at_end"] == 0
    data["consumers"][0]["rolling_restart"] = {"start": "10s", "every": "5s", "down_for": "0s"}
    with pytest.raises(sim.ScenarioError, match="down_for"):
        sim.Scenario.from_dict(data)


def test_the_cost_chart_leaves_out_a_panel_with_nothing_to_compare() -> None:
    runs = _runs()
    # Every variant redoes the slow member's one batch: equal bars teach nothing, so the
    # duplicates go into the caption instead of a third panel.
    assert len({r.summary["duplicates"] for r in runs.values()}) == 1
    fig = plot_rebalance_cost(runs)
    assert len(fig.axes) == 2
    caption = " ".join(t.get_text() for t in fig.texts).replace("\n", " ")
    assert f"Records processed twice: {runs['eager'].summary['duplicates']:,} in every" in caption
    # Where the variants differ, the panel is drawn.
    fewer = dict(runs)
    fewer["eager"] = replace(runs["eager"], summary={**runs["eager"].summary, "duplicates": 0})
    fig = plot_rebalance_cost(fewer)
    assert [ax.get_title() for ax in fig.axes][-1] == "records processed twice"
