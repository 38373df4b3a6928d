"""The Redis consumer's fused blocking read (`StreamConsumer.fetch_event`, the cycle waiting on
the blocked reader's event itself, no `fetch` and `read_new_wait` generators) must give exactly
what the general path gives: the same summary, time series, latency CDF, tables and trace, bit
for bit, on the benchmark's workloads with 1, 5 and 50 competing consumers, with failures,
crashes (a crash while blocked, woken or not), pauses, retries, claims, NOACK, trimming, two
groups and network latency, and on the Redis scenarios. Blocked readers are served in the
order they blocked (Redis `blocked.c`): the fused wait keeps its event in the same queue."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

import sim
from sim.brokers.redis.runtime import StreamConsumer
from tests.helpers import outputs_of, run_outputs

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
import workloads

ROOT = Path(__file__).resolve().parent.parent


def _with(
    data: dict[str, Any], consumer: dict[str, Any] | None = None, **top: Any
) -> dict[str, Any]:
    if consumer is not None:
        data["consumers"][0].update(consumer)
    data.update(top)
    return data


def _two_groups(data: dict[str, Any]) -> dict[str, Any]:
    """A second group on the stream, read by 3 replicas of its own."""
    data["broker"]["groups"].append({"stream": "jobs", "name": "h", "start": "0"})
    second = dict(data["consumers"][0], name="d", group="h", replicas=3)
    data["consumers"].append(second)
    return data


def _workload(case: str) -> dict[str, Any]:
    mm1 = workloads.mm1
    faults = [
        {"target": "c0", "kind": "error", "probability": 0.3, "start": 20, "end": 50},
        {"target": "c0.3", "kind": "crash", "start": 30, "end": 40},
        {"target": "c0.7", "kind": "crash", "start": 35, "end": 60},
        {"target": "c0.9", "kind": "down", "start": 25, "end": 45},
        {"target": "c0.11", "kind": "slow", "factor": 3.0, "start": 25, "end": 45},
    ]
    retry = {"attempts": 3, "backoff": "exponential", "initial": "1s", "multiplier": 2}
    cases: dict[str, Any] = {
        "one": lambda: mm1("redis", 3000),
        "five": lambda: mm1("redis", 3000, consumers=5),
        "fifty": lambda: mm1("redis", 4000, consumers=50),
        "two sources": lambda: mm1("redis", 2000, sources=2, consumers=5),
        "traced": lambda: _with(mm1("redis", 2000, consumers=5), trace=True),
        "bounded": lambda: mm1("redis", 3000, consumers=5, bounded=True),
        "prefetch 10": lambda: _with(mm1("redis", 3000, consumers=5), {"prefetch": 10}),
        "noack": lambda: _with(mm1("redis", 2000, consumers=5), {"ack": "auto"}),
        "two groups": lambda: _two_groups(mm1("redis", 2000, consumers=5)),
        "failures and crashes": lambda: _with(
            mm1("redis", 4000, consumers=50), faults=faults, trace=True
        ),
        "claims": lambda: _with(
            mm1("redis", 3000, consumers=5), {"claim_idle": 5.0}, faults=faults[:2]
        ),
        "retries": lambda: _with(
            mm1("redis", 3000, consumers=5), {"retry": retry}, faults=faults[:1]
        ),
        # Service 1 ms, a message every 10 s: the replica is blocked when it crashes.
        "crash while blocked": lambda: _with(
            mm1("redis", 30, consumers=2),
            {"service_time": "1ms"},
            producers=[{"name": "p0", "to": "jobs", "rate": 0.1}],
            duration=300.0,
            faults=[{"target": "c0.0", "kind": "crash", "start": 100.0, "end": 100.5}],
            trace=True,
        ),
        "network": lambda: _with(
            mm1("redis", 2000, consumers=5), {"network": {"consumer_to_broker": "2ms"}}
        ),
    }
    return dict(cases[case]())


CASES = [
    "one",
    "five",
    "fifty",
    "two sources",
    "traced",
    "bounded",
    "prefetch 10",
    "noack",
    "two groups",
    "failures and crashes",
    "claims",
    "retries",
    "crash while blocked",
    "network",
]


def _count_fused(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count the fused waits that blocked."""
    counts = [0]
    fetch_event = StreamConsumer.fetch_event

    def counted(self: StreamConsumer) -> Any:
        got = fetch_event(self)
        counts[0] += got is self._woken and got is not None
        return got

    monkeypatch.setattr(StreamConsumer, "fetch_event", counted)
    return counts


@pytest.mark.parametrize("case", CASES)
def test_fused_wait_gives_what_the_general_path_gives(
    case: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    counts = _count_fused(monkeypatch)
    fused = outputs_of(_workload(case))
    assert (counts[0] > 0) == (case not in ("network", "claims"))  # claims: the general path
    monkeypatch.setattr(StreamConsumer, "fused_wait", False)
    assert outputs_of(_workload(case)) == fused


def test_a_crash_while_blocked_is_a_reader_no_longer_blocked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A replica crashed while blocked leaves the key's queue of blocked readers (the next
    entry wakes another reader), as `read_new_wait`'s `finally` does."""
    removed: list[int] = []
    interrupted = StreamConsumer.interrupted

    def watched(self: StreamConsumer) -> None:
        blocked = len(self.server._waiters[self.stream][self.group])
        interrupted(self)
        removed.append(blocked - len(self.server._waiters[self.stream][self.group]))

    monkeypatch.setattr(StreamConsumer, "interrupted", watched)
    fused = outputs_of(_workload("crash while blocked"))
    assert removed == [1]
    assert json.loads(fused["summary"])["processed"] > 20


@pytest.mark.parametrize("name", ["redis_streams_claim.yaml"])
def test_scenarios_give_the_same_both_ways_traced(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = ROOT / "scenarios" / name
    fused = run_outputs(sim.run(path, duration="3min", trace=True))
    monkeypatch.setattr(StreamConsumer, "fused_wait", False)
    assert run_outputs(sim.run(path, duration="3min", trace=True)) == fused
