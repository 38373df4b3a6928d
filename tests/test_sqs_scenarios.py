"""The SQS model in scenarios: conservation, determinism, visibility timeouts against service
times, redrive, FIFO order, crashes, gauges, and one-line validation errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import sim
from sim.scenario import ScenarioError
from tests.helpers import ROOT, scenario_from

SCENARIO = ROOT / "scenarios" / "sqs_visibility_timeout.yaml"


def _sqs(queues: list[dict[str, Any]] | None = None, **overrides: Any) -> Any:
    data: dict[str, Any] = {
        "duration": 60.0,
        "broker": {"type": "sqs", "queues": queues or [{"name": "work"}]},
        "producers": [{"name": "p", "to": "work", "rate": 2.0, "arrivals": "constant"}],
        "consumers": [{"name": "c", "from": "work", "replicas": 2, "service_time": "200ms"}],
    }
    data.update(overrides)
    return scenario_from(**data)


def test_every_variant_of_the_scenario_conserves_messages() -> None:
    runs = sim.run_variants(SCENARIO, duration="2min")
    assert set(runs) == {"long-timeout", "short-timeout", "short-timeout-redrive"}
    for results in runs.values():
        assert results.conservation_gap() == 0
        assert {"ready.work", "in_flight.work", "ready.work-dlq"} <= set(results.timeseries)


def test_same_seed_same_results() -> None:
    first = sim.run(SCENARIO, duration="1min").summary
    again = sim.run(SCENARIO, duration="1min").summary
    assert first == again


def test_service_shorter_than_the_timeout_processes_each_message_once() -> None:
    # Producing stops at 50 s, so every message is done by the end (60 s).
    results = sim.run(
        _sqs(
            producers=[{"name": "p", "to": "work", "rate": 2.0, "stop": 50.0}],
            consumers=[{"name": "c", "from": "work", "service_time": "1s", "replicas": 3}],
        )
    )
    s = results.summary
    assert s["duplicates"] == 0 and s["requeued"] == 0
    assert s["acked"] == s["processed_total"] == s["delivered"]
    assert results.conservation_gap() == 0


def test_service_longer_than_the_timeout_duplicates_and_redrives_every_message() -> None:
    # Processing (3 s) always outlasts the visibility timeout (2 s): every delete is stale, so
    # each message is received maxReceiveCount (2) times, processed twice, never deleted, and
    # moved to the DLQ by its 3rd receive. Producing stops early so that every message ends.
    queues = [
        {
            "name": "work",
            "visibility_timeout": "2s",
            "redrive": {"dead_letter_queue": "dlq", "max_receive_count": 2},
        },
        {"name": "dlq"},
    ]
    results = sim.run(
        _sqs(
            queues,
            producers=[{"name": "p", "to": "work", "rate": 1.0, "stop": 20.0}],
            consumers=[{"name": "c", "from": "work", "service_time": "3s", "replicas": 20}],
        )
    )
    s = results.summary
    produced = s["produced"]
    assert produced > 0
    assert s["delivered"] == s["processed_total"] == 2 * produced
    assert s["acked"] == 0
    assert s["redriven.work"] == produced
    assert results.timeseries["ready.dlq"].iloc[-1] == produced
    # Each one ends in the DLQ: dead-lettered although processed (twice: one duplicate each).
    assert s["dead_lettered"] == produced and s["processed"] == 0
    assert s["duplicates"] == produced
    assert results.conservation_gap() == 0


def test_a_redriven_message_processed_from_the_dlq_ends_processed() -> None:
    # As above, and a consumer on the DLQ: every moved message is processed a third time there,
    # so it ends processed and nothing stays dead-lettered.
    queues = [
        {
            "name": "work",
            "visibility_timeout": "2s",
            "redrive": {"dead_letter_queue": "dlq", "max_receive_count": 2},
        },
        {"name": "dlq"},
    ]
    results = sim.run(
        _sqs(
            queues,
            producers=[{"name": "p", "to": "work", "rate": 1.0, "stop": 20.0}],
            consumers=[
                {"name": "c", "from": "work", "service_time": "3s", "replicas": 20},
                {"name": "d", "from": "dlq", "service_time": "100ms", "wait_time": "1s"},
            ],
        )
    )
    s = results.summary
    produced = s["produced"]
    assert s["redriven.work"] == produced > 0
    assert s["processed"] == produced and s["dead_lettered"] == 0
    assert s["duplicates"] == 2 * produced  # three processings each
    assert results.conservation_gap() == 0


def test_fifo_single_group_is_processed_in_send_order_one_at_a_time() -> None:
    queues = [{"name": "jobs.fifo", "fifo": True, "visibility_timeout": "30s"}]
    results = sim.run(
        _sqs(
            queues,
            producers=[{"name": "p", "to": "jobs.fifo", "rate": 5.0, "message_group": "only"}],
            consumers=[
                {
                    "name": "c",
                    "from": "jobs.fifo",
                    "replicas": 4,
                    "max_messages": 1,
                    "wait_time": "20s",
                    "service_time": "exp(100ms)",
                }
            ],
            trace=True,
        )
    )
    trace = results.trace
    processed = trace[trace["event"] == "processed"]["message_id"].tolist()
    assert processed == sorted(processed) and len(processed) > 100
    assert results.timeseries["in_flight.jobs.fifo"].max() <= 1  # one group: one in flight
    assert results.conservation_gap() == 0


def test_fifo_groups_keep_their_own_order() -> None:
    queues = [{"name": "jobs.fifo", "fifo": True, "visibility_timeout": "30s"}]
    results = sim.run(
        _sqs(
            queues,
            producers=[
                {"name": "p", "to": "jobs.fifo", "rate": 5.0, "message_group": ["a", "b", "c"]}
            ],
            consumers=[
                {
                    "name": "c",
                    "from": "jobs.fifo",
                    "replicas": 4,
                    "max_messages": 3,
                    "wait_time": "5s",
                    "service_time": "exp(200ms)",
                }
            ],
        )
    )
    # More than one message in flight at a time is possible only across groups.
    assert 1 < results.timeseries["in_flight.jobs.fifo"].max() <= 3 * 3
    assert results.summary["duplicates"] == 0
    assert results.conservation_gap() == 0


def test_a_crashed_consumer_s_message_reappears_after_the_visibility_timeout() -> None:
    # One message at t=1 (rate 1/s, constant, stop at 1.5 s); the only consumer crashes at
    # t=1.5 mid-processing (10 s) and restarts at 3 s; the message is visible again at 1+5 s.
    queues = [{"name": "work", "visibility_timeout": "5s"}]
    results = sim.run(
        _sqs(
            queues,
            producers=[
                {"name": "p", "to": "work", "rate": 1.0, "arrivals": "constant", "stop": 1.5}
            ],
            consumers=[{"name": "c", "from": "work", "service_time": "1s", "wait_time": "1s"}],
            faults=[
                {"target": "c", "kind": "slow", "factor": 10, "start": 0.5, "end": 2.5},
                {"target": "c", "kind": "crash", "start": 1.5, "end": 3.0},
            ],
            trace=True,
            duration=20.0,
        )
    )
    trace = results.trace
    delivered = trace[trace["event"] == "delivered"]["time"].tolist()
    assert delivered == [1.0, 6.0]
    assert trace[trace["event"] == "requeued"]["time"].tolist() == [6.0]
    assert results.summary["processed_total"] == 1 and results.summary["acked"] == 1


def _error(path: Path, text: str) -> str:
    path.write_text(text)
    with pytest.raises(ScenarioError) as error:
        sim.load_scenario(path)
    message = str(error.value)
    assert "\n" not in message
    return message


BASE = """name: {stem}
duration: 10s
broker:
  type: sqs
  queues:
{queues}
producers: [{producer}]
consumers: [{consumer}]
"""


@pytest.mark.parametrize(
    ("queues", "producer", "consumer", "expected"),
    [
        (
            "    - {name: w, fifo: true}",
            "{name: p, to: w, rate: 1}",
            "{name: c, from: w}",
            "broker.queues[0]: ",
        ),
        (
            "    - {name: w, redrive: {dead_letter_queue: nope, max_receive_count: 3}}",
            "{name: p, to: w, rate: 1}",
            "{name: c, from: w}",
            "broker.queues[0].redrive.dead_letter_queue: unknown queue 'nope'",
        ),
        (
            "    - {name: w, visibility_timeout: 13h}",
            "{name: p, to: w, rate: 1}",
            "{name: c, from: w}",
            "broker.queues[0]: visibility_timeout must be from 0s to 43200s, got 46800s",
        ),
        (
            "    - {name: w.fifo, fifo: true}",
            "{name: p, to: w.fifo, rate: 1}",
            "{name: c, from: w.fifo}",
            "producers[0].message_group: FIFO queue 'w.fifo' needs one",
        ),
        (
            "    - {name: w}",
            "{name: p, to: w, rate: 1, message_group: g}",
            "{name: c, from: w}",
            "producers[0].message_group: applies only to FIFO queues",
        ),
        (
            "    - {name: w}",
            "{name: p, to: w, rate: 1}",
            "{name: c, from: w, max_messages: 11}",
            "consumers[0].max_messages",
        ),
        (
            "    - {name: w}",
            "{name: p, to: w, rate: 1}",
            "{name: c, from: w, prefetch: 5}",
            "consumers[0].prefetch: not used by broker type 'sqs' (it reads max_messages)",
        ),
        (
            "    - {name: w}",
            "{name: p, to: w, rate: 1}",
            "{name: c, from: w, requeue: false}",
            "consumers[0].requeue: not used by broker type 'sqs' (a setting of rabbitmq)",
        ),
    ],
)
def test_validation_errors_are_one_line(
    tmp_path: Path, queues: str, producer: str, consumer: str, expected: str
) -> None:
    path = tmp_path / "bad.yaml"
    text = BASE.format(stem="bad", queues=queues, producer=producer, consumer=consumer)
    assert expected in _error(path, text)


def test_sqs_fields_are_refused_under_another_broker() -> None:
    with pytest.raises(
        ScenarioError,
        match=r"max_messages: not used by broker type 'rabbitmq' \(it reads prefetch\)",
    ):
        scenario_from(consumers=[{"name": "c", "from": "q", "max_messages": 5}])


def test_failed_processing_is_not_deleted_and_comes_back() -> None:
    # Every processing fails from 10 s to 20 s: nothing is deleted then, and each message
    # received in that window is received again after the 5 s visibility timeout.
    results = sim.run(
        _sqs(
            [{"name": "work", "visibility_timeout": "5s"}],
            producers=[{"name": "p", "to": "work", "rate": 2.0, "stop": 40.0}],
            faults=[{"target": "c", "kind": "error", "probability": 1.0, "start": 10, "end": 20}],
            trace=True,
        )
    )
    trace = results.trace
    acked = trace[trace["event"] == "acked"]["time"]
    assert not ((acked > 10.2) & (acked < 20)).any()
    failures = results.summary["consumer_failures"]
    assert failures > 0 and results.summary["requeued"] == failures
    assert results.summary["acked"] == results.summary["produced"]
    assert results.conservation_gap() == 0


def test_auto_delete_loses_the_batch_of_a_crashed_consumer() -> None:
    # ack: auto deletes on receipt: a crash mid-batch loses what was not yet processed.
    results = sim.run(
        _sqs(
            producers=[
                {"name": "p", "to": "work", "rate": 10.0, "arrivals": "constant", "stop": 2.0}
            ],
            consumers=[
                {
                    "name": "c",
                    "from": "work",
                    "ack": "auto",
                    "max_messages": 10,
                    "service_time": "1s",
                    "wait_time": "20s",
                }
            ],
            faults=[{"target": "c", "kind": "crash", "start": 2.5, "end": 5.0}],
        )
    )
    s = results.summary
    assert s["lost"] > 0 and s["requeued"] == 0
    assert s["acked"] == s["delivered"] == s["produced"]
    assert s["lost"] + s["processed"] == s["produced"]
    assert results.conservation_gap() == 0
