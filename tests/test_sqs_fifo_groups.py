"""A FIFO queue serves each message group one message at a time (AWS SQS Developer Guide,
"FIFO queue logic"): with one group, four workers process no faster than one."""

from __future__ import annotations

import pytest

import sim
from tests.scenario_runs import scenario_runs


@pytest.fixture(scope="module")
def runs() -> dict[str, sim.Results]:
    return scenario_runs("sqs_fifo_groups")  # simulated once: tests/scenario_runs.py


def test_one_group_serialises_the_workers(runs: dict[str, sim.Results]) -> None:
    one = runs["fifo-1-group"].summary
    service_rate = 1 / 0.4  # one worker: exp(400ms)
    assert one["throughput"] == pytest.approx(service_rate, rel=0.1)
    assert one["backlog_at_end"] > one["produced"] / 3  # offered 6/s: the queue only grows
    assert len([n for n in one["processed_by"].values() if n > 0]) == 4  # all take turns


def test_more_groups_let_the_workers_run_in_parallel(runs: dict[str, sim.Results]) -> None:
    offered = 6.0
    for name in ("fifo-8-groups", "standard"):
        summary = runs[name].summary
        assert summary["throughput"] == pytest.approx(offered, rel=0.05), name
        assert summary["backlog_at_end"] < 20, name
    for results in runs.values():
        assert results.conservation_gap() == 0
