"""Redis Streams scenarios: validation (one-line errors), conservation, determinism, group
copies, MAXLEN drops, and the crashed consumer's pending entries with and without XAUTOCLAIM."""

from __future__ import annotations

from typing import Any

import pytest

import sim
from sim.scenario import ScenarioError
from tests.helpers import ROOT

CLAIM = ROOT / "scenarios" / "redis_streams_claim.yaml"


def _data(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "r",
        "duration": 20.0,
        "broker": {
            "type": "redis",
            "streams": [{"name": "s"}],
            "groups": [{"stream": "s", "name": "g", "start": "0"}],
        },
        "producers": [{"name": "p", "to": "s", "rate": 50.0, "stop": 15.0}],
        "consumers": [{"name": "c", "from": "s", "group": "g", "service_time": "exp(5ms)"}],
    }
    data.update(changes)
    return data


def _run(data: dict[str, Any]) -> sim.Results:
    return sim.run(sim.Scenario.from_dict(data))


def _error(data: dict[str, Any]) -> str:
    with pytest.raises(ScenarioError) as caught:
        sim.Scenario.from_dict(data, "x.yaml")
    text = str(caught.value)
    assert "\n" not in text
    return text


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"consumers": [{"name": "c", "from": "s"}]}, "x.yaml: consumers[0].group: required"),
        (
            {"consumers": [{"name": "c", "from": "s", "group": "zz"}]},
            "x.yaml: consumers[0].group: stream 's' has no group 'zz' (known: g)",
        ),
        (
            {"consumers": [{"name": "c", "from": "s", "group": "g", "nack_probability": 0.1}]},
            "x.yaml: consumers[0].nack_probability: not used by broker type 'redis' "
            "(a setting of rabbitmq)",
        ),
        (
            {
                "consumers": [
                    {"name": "c", "from": "s", "group": "g", "ack": "auto", "claim_idle": "1s"}
                ]
            },
            "x.yaml: consumers[0].claim_idle: needs ack: manual",
        ),
        (
            {
                "broker": {
                    "type": "redis",
                    "streams": [{"name": "s"}],
                    "groups": [{"stream": "t", "name": "g"}],
                }
            },
            "x.yaml: broker.groups[0].stream: unknown stream 't' (known: s)",
        ),
        (
            {"broker": {"type": "redis", "streams": [{"name": "s", "approximate": True}]}},
            "x.yaml: broker.streams[0]: approximate: applies only with maxlen",
        ),
        (
            {"broker": {"type": "redis", "streams": [{"name": "s", "maxln": 5}]}},
            "x.yaml: broker.streams[0].maxln: unknown key 'maxln'",
        ),
    ],
)
def test_bad_input_is_one_line_naming_the_field(change: dict[str, Any], expected: str) -> None:
    assert _error(_data(**change)).startswith(expected)


def test_redis_fields_are_refused_under_another_broker() -> None:
    data = _data(
        broker={"type": "rabbitmq", "queues": [{"name": "s", "durable": True}]},
        consumers=[{"name": "c", "from": "s", "group": "g"}],
    )
    assert _error(data).startswith(
        "x.yaml: consumers[0].group: not used by broker type 'rabbitmq' "
        "(each group reads a queue of its own, bound to the exchange)"
    )


def test_every_copy_is_processed_once_per_group() -> None:
    data = _data()
    data["broker"]["groups"].append({"stream": "s", "name": "h", "start": "0"})
    data["consumers"].append({"name": "d", "from": "s", "group": "h", "service_time": "2ms"})
    results = _run(data)
    s = results.summary
    assert s["produced"] > 0 and s["copies"] == s["produced"]  # one extra copy for group h
    assert s["processed"] == s["produced"] + s["copies"]  # everything was read by both
    assert s["processed_by"]["c.0"] == s["processed_by"]["d.0"] == s["produced"]
    assert results.conservation_gap() == 0


def test_entries_trimmed_before_the_group_read_them_are_dropped() -> None:
    data = _data()
    data["broker"]["streams"] = [{"name": "s", "maxlen": 5}]
    data["consumers"][0]["service_time"] = "100ms"  # 10/s against 50/s: the stream overflows
    results = _run(data)
    s = results.summary
    assert s["dropped"] > 0
    assert results.timeseries["retained.s"].max() <= 5  # exact MAXLEN
    assert s["processed"] + s["dropped"] + s["backlog_at_end"] == s["produced"]
    assert results.conservation_gap() == 0


def test_noack_consumer_crash_loses_what_it_held() -> None:
    data = _data(
        consumers=[
            {
                "name": "c",
                "from": "s",
                "group": "g",
                "ack": "auto",
                "prefetch": 10,
                "service_time": "30ms",
            }
        ],
        faults=[{"target": "c.0", "kind": "crash", "start": 5.0}],
    )
    results = _run(data)
    assert results.summary["lost"] > 0
    # NOACK: nothing stays pending, in flight is only what the consumer holds (COUNT 10)
    assert results.timeseries["in_flight.s/g"].max() <= 10
    assert results.conservation_gap() == 0


def test_a_restarted_consumer_recovers_its_own_pending_entries() -> None:
    data = _data(
        consumers=[
            {"name": "c", "from": "s", "group": "g", "prefetch": 10, "service_time": "10ms"}
        ],
        faults=[{"target": "c.0", "kind": "crash", "start": 5.0, "end": 8.0}],
    )
    # a burst just before the crash: the consumer holds a full batch when it dies
    data["producers"][0]["spikes"] = [{"at": 4.0, "duration": 1.0, "factor": 10}]
    results = _run(data)
    s = results.summary
    assert s["redelivered"] > 0  # re-read with XREADGROUP ... 0 after the restart
    assert s["backlog_at_end"] == 0 and s["processed"] == s["produced"]
    assert results.conservation_gap() == 0


def test_claim_scenario_pending_entries_stay_stuck_without_xautoclaim() -> None:
    runs = sim.run_variants(CLAIM)
    stuck, claimed = runs["no-claim"], runs["xautoclaim-5s"]
    for results in runs.values():
        assert results.conservation_gap() == 0
    crash = sim.load_scenario(CLAIM).faults[0].first
    late = lambda r: r.timeseries[r.timeseries["time"] > 45.0]  # noqa: E731 - backlog drained
    # nobody takes the crashed consumer's pending entries: they never leave the PEL
    assert stuck.summary["redelivered"] == 0
    assert late(stuck)["in_flight.orders/billing"].min() > 0
    assert stuck.summary["backlog_at_end"] >= late(stuck)["in_flight.orders/billing"].min()
    # XAUTOCLAIM hands them to a live consumer: redelivered, processed, the PEL empties
    assert claimed.summary["redelivered"] >= late(stuck)["in_flight.orders/billing"].min()
    assert late(claimed)["in_flight.orders/billing"].min() == 0
    assert claimed.summary["backlog_at_end"] < stuck.summary["backlog_at_end"]
    assert claimed.summary["processed"] > stuck.summary["processed"]
    assert crash < 45.0


def test_runs_are_deterministic() -> None:
    first = sim.run_variants(CLAIM)
    second = sim.run_variants(CLAIM)
    for name in first:
        assert first[name].summary == second[name].summary
        assert first[name].timeseries.equals(second[name].timeseries)


def test_scenario_name_is_the_file_stem() -> None:
    assert sim.load_scenario(CLAIM).name == CLAIM.stem
