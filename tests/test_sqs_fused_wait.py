"""The SQS consumer's fused long poll (`SQSConsumer.fetch_event`, the cycle waiting on the
poll's event itself, no `fetch` and `wait_receive` generators) and the queue's fused hand-over
of a fresh message to a waiting long poll (`SQSQueue._hand_over`, speed) must give exactly what
the general paths give (`fetch`, `wait_receive`, the message made visible, `_serve_waiters` and
its `receive`): the same summary, time series, latency CDF, tables and trace, bit for bit, on
the benchmark's workloads with 1, 5 and 50 competing consumers, with failures, crashes,
pauses, short visibility timeouts, redrive, short long polls, an in-flight quota, network
latency and batches, and on the SQS scenarios; each switch off alone and both off."""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

import sim
from sim.brokers.sqs import runtime as sqs_runtime
from sim.brokers.sqs.config import QueueConfig
from sim.brokers.sqs.queue import QueueSettings, SQSQueue
from sim.brokers.sqs.runtime import SQSConsumer
from sim.scenario import Scenario
from tests.helpers import outputs_of, run_outputs

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
import workloads

ROOT = Path(__file__).resolve().parent.parent


def _with(data: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """The workload `data` with its queue, consumer or top-level fields changed."""
    queue = changes.pop("queue", None)
    consumer = changes.pop("consumer", None)
    if queue is not None:
        data["broker"]["queues"][0].update(queue)
    if consumer is not None:
        data["consumers"][0].update(consumer)
    data.update(changes)
    return data


def _workload(case: str) -> dict[str, Any]:
    mm1 = workloads.mm1
    cases: dict[str, Any] = {
        "one": lambda: mm1("sqs", 3000),
        "five": lambda: mm1("sqs", 3000, consumers=5),
        "fifty": lambda: mm1("sqs", 4000, consumers=50),
        "two sources": lambda: mm1("sqs", 2000, sources=2, consumers=5),
        "traced": lambda: _with(mm1("sqs", 2000, consumers=5), trace=True),
        "batches of 10": lambda: _with(
            mm1("sqs", 3000, consumers=5), consumer={"max_messages": 10}
        ),
        "short long polls": lambda: _with(
            mm1("sqs", 3000, consumers=50), consumer={"wait_time": 0.05}
        ),
        "auto delete": lambda: _with(mm1("sqs", 2000, consumers=5), consumer={"ack": "auto"}),
        "short visibility, redrive": lambda: _with(
            mm1("sqs", 3000, consumers=5),
            queue={
                "visibility_timeout": 1.5,
                "redrive": {"dead_letter_queue": "dlq", "max_receive_count": 2},
            },
            broker={
                "type": "sqs",
                "queues": [
                    {
                        "name": "jobs",
                        "visibility_timeout": 1.5,
                        "redrive": {"dead_letter_queue": "dlq", "max_receive_count": 2},
                    },
                    {"name": "dlq"},
                ],
            },
        ),
        "short visibility": lambda: _with(
            mm1("sqs", 3000, consumers=5), queue={"visibility_timeout": 1.5}, trace=True
        ),
        "delayed": lambda: _with(mm1("sqs", 2000, consumers=5), queue={"delay": 0.5}),
        "failures and crashes": lambda: _with(
            mm1("sqs", 4000, consumers=50),
            queue={"visibility_timeout": 5.0},
            faults=[
                {"target": "c0", "kind": "error", "probability": 0.3, "start": 20, "end": 50},
                {"target": "c0.3", "kind": "crash", "start": 30, "end": 40},
                {"target": "c0.7", "kind": "crash", "start": 35, "end": 60},
                {"target": "c0.9", "kind": "down", "start": 25, "end": 45},
                {"target": "c0.11", "kind": "slow", "factor": 3.0, "start": 25, "end": 45},
            ],
            trace=True,
        ),
        "one consumer crashes": lambda: _with(
            mm1("sqs", 2000),
            faults=[{"target": "c0", "kind": "crash", "start": 300, "end": 400}],
        ),
        # Service far shorter than the gaps: a message is only ever ready for the instant
        # before a waiting poll takes it (the peak ready count is that instant's).
        "never queued": lambda: _with(
            mm1("sqs", 1000, consumers=5), consumer={"service_time": "1ms"}
        ),
        # A message every 10 s processed for 3 s, visible again after 1.5 s: each is received
        # with no other deadline pending, and returns to the other replica's waiting poll
        # when its own visibility timer rings.
        "outlasting visibility": lambda: _with(
            mm1("sqs", 40, consumers=2),
            queue={"visibility_timeout": 1.5},
            consumer={"service_time": "3s"},
            producers=[{"name": "p0", "to": "jobs", "rate": 0.1}],
            duration=400.0,
            trace=True,
        ),
        "network": lambda: _with(
            mm1("sqs", 2000, consumers=5), consumer={"network": {"consumer_to_broker": "2ms"}}
        ),
    }
    return dict(cases[case]())


CASES = [
    "one",
    "five",
    "fifty",
    "two sources",
    "traced",
    "batches of 10",
    "short long polls",
    "auto delete",
    "short visibility, redrive",
    "short visibility",
    "delayed",
    "failures and crashes",
    "one consumer crashes",
    "never queued",
    "outlasting visibility",
    "network",
]

SWITCHES = {
    "wait": [(SQSConsumer, "fused_wait")],
    "handover": [(SQSQueue, "fused_handover")],
    "both": [(SQSConsumer, "fused_wait"), (SQSQueue, "fused_handover")],
}


def _count_fused(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Count the fused waits resumed with messages and the fused hand-overs made."""
    counts = {"wait": 0, "handover": 0}
    fetch_event, hand_over = SQSConsumer.fetch_event, SQSQueue._hand_over

    def counted_wait(self: SQSConsumer) -> Any:
        waiting = self._poll is not None
        got = fetch_event(self)
        counts["wait"] += waiting and self._received is not None
        return got

    def counted_handover(self: SQSQueue, *args: Any) -> bool:
        done = hand_over(self, *args)
        counts["handover"] += done
        return done

    monkeypatch.setattr(SQSConsumer, "fetch_event", counted_wait)
    monkeypatch.setattr(SQSQueue, "_hand_over", counted_handover)
    return counts


@pytest.mark.parametrize("case", CASES)
def test_fused_waits_give_what_the_general_paths_give(
    case: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    counts = _count_fused(monkeypatch)
    fused = outputs_of(_workload(case))
    if case != "network":  # a network hop: the general path only
        assert counts["wait"] > 0
    if case in ("one", "fifty", "failures and crashes", "never queued", "outlasting visibility"):
        assert counts["handover"] > 0
    for name, switches in SWITCHES.items():
        with monkeypatch.context() as patch:
            for owner, switch in switches:
                patch.setattr(owner, switch, False)
            assert outputs_of(_workload(case)) == fused, name


def test_an_in_flight_quota_gives_the_same_both_ways(monkeypatch: pytest.MonkeyPatch) -> None:
    """A quota of 3 messages in flight for 50 consumers: most long polls wait with messages
    visible, and a hand-over must leave them to the general path."""
    settings = QueueConfig.settings

    def quota(self: QueueConfig) -> QueueSettings:
        return replace(settings(self), max_inflight=3)

    monkeypatch.setattr(QueueConfig, "settings", quota)
    data = workloads.mm1("sqs", 1500, consumers=50)
    fused = outputs_of(data)
    assert sim.run(Scenario.from_dict(data)).summary["max_backlog"] > 10  # the quota held
    for switches in SWITCHES.values():
        with monkeypatch.context() as patch:
            for owner, switch in switches:
                patch.setattr(owner, switch, False)
            assert outputs_of(data) == fused


@pytest.mark.parametrize("name", ["sqs_visibility_timeout.yaml", "sqs_fifo_groups.yaml"])
def test_scenarios_give_the_same_both_ways_traced(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = ROOT / "scenarios" / name
    fused = run_outputs(sim.run(path, duration="3min", trace=True))
    for switches in SWITCHES.values():
        with monkeypatch.context() as patch:
            for owner, switch in switches:
                patch.setattr(owner, switch, False)
            assert run_outputs(sim.run(path, duration="3min", trace=True)) == fused


def test_a_crash_while_polling_leaves_no_stale_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    """A replica crashed during a long poll comes back polling afresh: the poll it waited on
    is forgotten (`drop`), so the new cycle never reads it as answered."""
    # Service 1 ms, a message every 10 s: the replica is polling when it crashes.
    data = _with(
        workloads.mm1("sqs", 30),
        consumer={"service_time": "1ms"},
        producers=[{"name": "p0", "to": "jobs", "rate": 0.1}],
        duration=300.0,
        faults=[{"target": "c0", "kind": "crash", "start": 100.0, "end": 100.5}],
    )
    dropped: list[bool] = []
    drop = SQSConsumer.drop

    def watched(self: SQSConsumer) -> None:
        drop(self)
        dropped.append(self._poll is None)

    monkeypatch.setattr(SQSConsumer, "drop", watched)
    fused = outputs_of(data)
    assert dropped == [True]
    assert json.loads(fused["summary"])["processed"] > 20
    monkeypatch.setattr(SQSConsumer, "fused_wait", False)
    assert outputs_of(data) == fused


def test_the_switch_is_read_when_the_replica_is_made() -> None:
    assert sqs_runtime.SQSConsumer.fused_wait is True
    assert SQSQueue.fused_handover is True
