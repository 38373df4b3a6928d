"""Kafka scenarios: validation with one-line errors, Kafka setting names and overrides, the
scenario files (conservation, and what each is meant to show), determinism, tables and charts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import sim
from sim.scenario import ScenarioError, apply_overrides, parse_assignment
from sim.viz import variant_charts
from sim.viz.charts import scenario_charts
from sim.viz.style import save
from tests.helpers import ROOT

SCENARIOS = ROOT / "scenarios"
KAFKA_FILES = sorted(SCENARIOS.glob("kafka_*.yaml"))


def _data(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "k",
        "duration": 20.0,
        "broker": {
            "type": "kafka",
            "group.initial.rebalance.delay.ms": 0,
            "topics": [{"name": "events", "partitions": 3}],
        },
        "producers": [{"name": "p", "to": "events", "rate": 50.0, "keys": 20}],
        "consumers": [{"name": "c", "from": "events", "service_time": "5ms"}],
    }
    data.update(changes)
    return data


def _error(data: dict[str, Any]) -> str:
    with pytest.raises(ScenarioError) as caught:
        sim.Scenario.from_dict(data, "x.yaml")
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_errors_inside_the_kafka_section_name_the_path_without_the_union_tag() -> None:
    broker = _data()["broker"]
    message = _error(_data(broker={**broker, "topics": [{"name": "e", "partitions": 0}]}))
    assert message.startswith("x.yaml: broker.topics[0].partitions: ")
    message = _error(_data(broker={**broker, "topics": [{"name": "e", "retention": 5}]}))
    assert message.startswith("x.yaml: broker.topics[0].retention: unknown key 'retention'")
    assert "retention.ms" in message  # the known keys are the topic's, by Kafka's names
    from sim import broker_types  # every registered broker type

    assert _error(_data(broker={"type": "kafak"})) == (
        f"x.yaml: broker.type: unknown type 'kafak' (known: {', '.join(sorted(broker_types()))})"
    )
    message = _error(
        _data(broker={**broker, "brokers": 1, "topics": [{"name": "e", "replication.factor": 3}]})
    )
    assert "replication.factor 3 is more than the 1 broker(s)" in message


def test_settings_of_the_other_broker_type_are_refused() -> None:
    producer = {"name": "p", "to": "events", "rate": 1.0, "routing_key": "a.b"}
    assert _error(_data(producers=[producer])) == (
        "x.yaml: producers[0].routing_key: not used by broker type 'kafka' (it reads keys)"
    )
    consumer = {"name": "c", "from": "events", "prefetch": 10}
    assert "consumers[0].prefetch" in _error(_data(consumers=[consumer]))
    rabbit = {
        "broker": {"type": "rabbitmq", "queues": [{"name": "q", "durable": True}]},
        "producers": [{"name": "p", "to": "q", "rate": 1.0, "linger.ms": 5}],
        "consumers": [],
    }
    assert _error(_data(**rabbit)) == (
        "x.yaml: producers[0].linger.ms: not used by broker type 'rabbitmq' (a setting of kafka)"
    )


def test_kafka_settings_that_contradict_each_other_are_refused() -> None:
    consumer = {"name": "c", "from": "events", "commit": "before-processing"}
    assert "needs enable.auto.commit: false" in _error(_data(consumers=[consumer]))
    members = [
        {"name": "a", "from": "events", "group.id": "g"},
        {"name": "b", "from": "events", "group.id": "g", "partition.assignment.strategy": "sticky"},
    ]
    assert "the members of a group must agree" in _error(_data(consumers=members))
    producer = {"name": "p", "to": "events", "rate": 1.0, "partition": 3}
    assert "partitions 0..2" in _error(_data(producers=[producer]))
    broker = {"type": "kafka", "topics": [{"name": "events", "cleanup.policy": "compact"}]}
    producer = {"name": "p", "to": "events", "rate": 1.0}
    assert "records need keys" in _error(_data(broker=broker, producers=[producer]))
    crash = {"name": "c", "from": "events", "crash": {"at": [1], "replica": 2}}
    assert "replicas 0..0" in _error(_data(consumers=[crash]))


def test_ms_settings_read_bare_numbers_as_milliseconds() -> None:
    consumer = {
        "name": "c",
        "from": "events",
        "session.timeout.ms": 10_000,
        "auto.commit.interval.ms": "2s",
    }
    producer = {"name": "p", "to": "events", "rate": 1.0, "linger.ms": 5, "acks": "all"}
    scenario = sim.Scenario.from_dict(_data(consumers=[consumer], producers=[producer]))
    assert scenario.consumers[0].session_timeout == 10.0
    assert scenario.consumers[0].auto_commit_interval == 2.0
    assert scenario.producers[0].linger == 0.005
    assert scenario.producers[0].acks == -1


def test_dotted_kafka_keys_are_overridden_whole() -> None:
    consumer = {"name": "c", "from": "events", "enable.auto.commit": True}
    scenario = sim.Scenario.from_dict(_data(consumers=[consumer]))
    path, value = parse_assignment("consumers.0.enable.auto.commit=false")
    changed = scenario.override({path: value, "consumers.0.commit": "before-processing"})
    assert changed.consumers[0].enable_auto_commit is False
    assert changed.consumers[0].commit == "before-processing"
    base = _data()
    base["broker"]["topics"][0]["retention.ms"] = 3_600_000
    raw = apply_overrides(base, {"broker.topics.0.retention.ms": 60_000})
    assert raw["broker"]["topics"][0]["retention.ms"] == 60_000
    assert sim.Scenario.from_dict(raw).broker.topics[0].retention == 60.0


def test_lag_columns_and_tables() -> None:
    results = sim.run(sim.Scenario.from_dict(_data()))
    assert results.conservation_gap() == 0
    columns = [c for c in results.timeseries.columns if c.startswith("kafka.lag.")]
    assert columns == [f"kafka.lag.c.events-{p}" for p in range(3)]
    offsets = results.tables["kafka.offsets"].set_index("partition")
    last = results.timeseries.iloc[-1]
    for p in range(3):
        assert last[f"kafka.lag.c.events-{p}"] == offsets.loc[p, "lag"]
        assert (
            offsets.loc[p, "lag"] == offsets.loc[p, "high_watermark"] - offsets.loc[p, "committed"]
        )
    owners = results.tables["kafka.assignments"]
    assert sorted(owners["partition"]) == [0, 1, 2] and set(owners["member"]) == {"c"}
    assert set(results.tables) >= {"kafka.partitions", "kafka.members", "kafka.rebalances"}


def test_results_write_their_tables(tmp_path: Path) -> None:
    results = sim.run(sim.Scenario.from_dict(_data()))
    results.to_dir(tmp_path)
    assert (tmp_path / "kafka.assignments.csv").read_text().startswith("group,topic,partition")


# ----- the scenario files -----
SHORT = {  # long enough to include what each scenario is about
    "kafka_broker_failure": "45s",
    "kafka_consumer_crash": "100s",
    "kafka_consumer_groups": "1min",
    "kafka_rebalance_storm": "100s",
    "kafka_replay": "2.5h",
    "kafka_retention": "45min",
    "kafka_scaling": "30s",
    "kafka_share_groups": "40s",
}


def _runs(name: str) -> dict[str, sim.Results]:
    """Every variant of a scenario file, run for its SHORT duration; conservation checked."""
    scenario = sim.load_scenario(SCENARIOS / f"{name}.yaml")
    variants = scenario.variant_scenarios() or {"": scenario}
    runs = {v: sim.run(s, duration=SHORT[name]) for v, s in variants.items()}
    for results in runs.values():
        s = results.summary
        assert results.conservation_gap() == 0
        assert s["processed_total"] == s["processed"] + s["duplicates"]
    return runs


def test_every_kafka_scenario_is_named_after_its_file_and_has_a_short_run() -> None:
    assert {p.stem for p in KAFKA_FILES} == set(SHORT)
    for path in KAFKA_FILES:
        assert sim.load_scenario(path).name == path.stem


def test_consumer_groups_each_get_every_message() -> None:
    results = _runs("kafka_consumer_groups")[""]
    offsets = results.tables["kafka.offsets"]
    assert set(offsets["group"]) == {"analytics", "billing", "audit"}
    readable = results.tables["kafka.partitions"]["high_watermark"].sum()
    # Three groups read one log: every readable record is three copies (two extra).
    assert results.summary["copies"] == 2 * readable
    by_group = offsets.groupby("group")["lag"].sum()
    assert by_group["billing"] < 20 and by_group["analytics"] < 50  # they keep up
    assert by_group["audit"] > 200  # 12 ms a record cannot keep up with 100 records/s


def test_consumer_crash_shows_what_each_commit_strategy_costs() -> None:
    runs = _runs("kafka_consumer_crash")
    batch = 100  # max.poll.records
    auto, after, before = (
        runs[v].summary
        for v in ("auto-commit", "commit-after-processing", "commit-before-processing")
    )
    assert auto["lost"] == 0 and auto["duplicates"] > batch  # seconds of work since a commit
    assert after["lost"] == 0 and after["duplicates"] <= batch  # at most the unfinished batch
    # In the sale's backlog every poll returns a full batch: the crash always hits one.
    assert before["duplicates"] == 0 and 0 < before["lost"] <= batch


def test_broker_failure_loses_writes_with_acks_1_only() -> None:
    runs = _runs("kafka_broker_failure")
    assert runs["acks-all"].summary["lost"] == 0
    # Broker 0 led 2 of the 6 partitions (100 records/s); its followers were 100 ms behind.
    assert 0 < runs["acks-1"].summary["lost"] < 40


def test_scaling_is_flat_past_the_partition_count() -> None:
    from sim.viz.experiments import processing_rate

    runs = _runs("kafka_scaling")
    rates = {r.summary["kafka.consumers"]: processing_rate(r) for r in runs.values()}
    for n in (1, 2, 4):
        assert rates[n] == pytest.approx(50.0 * n, rel=0.05)  # 20 ms a record each
    assert rates[6] == rates[4] and rates[8] == rates[4]


def test_replay_processes_the_last_hour_again() -> None:
    results = _runs("kafka_replay")[""]
    s = results.summary
    assert s["kafka.replays"] == 3  # each of the three consumers seeked back
    expected = 3.0 * 3600  # records produced in the hour before the replay, at 3/s
    assert s["duplicates"] == pytest.approx(expected, rel=0.04)
    assert s["lost"] == 0


def test_retention_expires_what_the_slow_group_had_not_read() -> None:
    results = _runs("kafka_retention")[""]
    assert results.summary["expired"] > 0
    offsets = results.tables["kafka.offsets"].set_index(["group", "partition"])
    for p in (0, 1):
        assert offsets.loc[("alerts", p), "lag"] < 50
        assert offsets.loc[("reports", p), "lag"] > 500


def test_same_seed_same_results() -> None:
    first = _runs("kafka_consumer_groups")[""]
    second = _runs("kafka_consumer_groups")[""]
    assert first.summary == second.summary
    assert first.timeseries.equals(second.timeseries)


def test_kafka_charts_are_drawn_when_their_data_is_there(tmp_path: Path) -> None:
    consumer = {
        "name": "c",
        "from": "events",
        "replicas": 2,
        "service_time": "5ms",
        "session.timeout.ms": 2000,
        "crash": {"at": [5], "restart_after": 5},
    }
    scenario = sim.Scenario.from_dict(
        _data(
            consumers=[consumer],
            variants={"two": {}, "three": {"consumers.0.replicas": 3}},
        )
    )
    runs = {name: sim.run(variant) for name, variant in scenario.variant_scenarios().items()}
    single = scenario_charts(runs["two"])
    assert {"consumer_lag", "partition_assignment"} <= set(single)
    assert "queue_depth" not in single  # the per-partition lag chart supersedes it
    compared = variant_charts(runs)
    assert {"compare_lag", "partition_assignment", "throughput_vs_consumers"} <= set(compared)
    assert "scaling" not in compared and "compare_queue_depth" not in compared  # superseded
    for name, draw in {**single, **compared}.items():
        fig = draw()
        titles = [ax.get_title() for ax in fig.axes]
        if fig._suptitle is not None:
            titles.append(fig._suptitle.get_text())
        assert any(titles), name
        assert save(fig, tmp_path / f"{name}.png").stat().st_size > 5000


def test_runs_agree_across_processes_whatever_the_hash_seed() -> None:
    # Python salts str hashes per process: no result may depend on a set's iteration order.
    import os
    import subprocess
    import sys

    script = (
        "import sim, hashlib;"
        "r = sim.run('scenarios/kafka_consumer_crash.yaml', duration='70s');"
        "print(hashlib.md5(r.timeseries.to_csv().encode()"
        " + r.tables['kafka.assignments'].to_csv().encode()).hexdigest(), r.summary['processed'])"
    )
    outputs = {
        subprocess.run(
            [sys.executable, "-c", script],
            cwd=ROOT,
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("1", "2")
    }
    assert len(outputs) == 1


def test_the_cost_model_is_set_in_the_scenario_and_makes_batches_grow() -> None:
    broker = {
        **_data()["broker"],
        "cost": {"per_request": "1ms", "per_batch": "0s", "per_byte": "0s"},
    }
    producer = {"name": "p", "to": "events", "rate": 3000.0, "keys": 20}
    results = sim.run(
        sim.Scenario.from_dict(_data(broker=broker, producers=[producer])), duration=5
    )
    s = results.summary
    # One broker takes 1 ms a request: at most 1,000 requests/s for 3,000 records/s offered.
    assert s["kafka.requests"] <= 1000 * 5 + 5
    assert s["published"] >= s["produced"] - 3000 * 0.05  # yet nothing falls behind for long:
    assert s["published"] / s["kafka.requests"] >= 2.9  # ~3 records ride in each request
    ideal = sim.run(sim.Scenario.from_dict(_data(producers=[producer])), duration=5).summary
    assert ideal["kafka.requests"] == ideal["produced"]  # the ideal broker: one record each
