"""benchmarks/bench_kernel.py's call counts, the flatness rows' `calls` column: the same from
run to run, and with what a run does once left out by the difference of two lengths."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

import sim.kernel

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
import bench_kernel


def _mqsim_calls(messages: int) -> dict[str, int]:
    spec = {"kind": "mm1", "args": {"broker": "rabbitmq", "messages": messages}, "calls": True}
    return bench_kernel.case_mqsim(json.dumps(spec))


def _marginal(short: dict[str, int], long: dict[str, int]) -> float:
    return (long["calls"] - short["calls"]) / (long["messages"] - short["messages"])


def test_mqsim_calls_are_counted_the_same_each_run(monkeypatch: pytest.MonkeyPatch) -> None:
    # case_mqsim wraps sim.kernel._advance: each run starts from the original. The first
    # run warms what a process does once (the benchmark's own runs are each in a fresh
    # process; here other tests may have run before, or not).
    original = sim.kernel._advance
    runs = []
    for _ in range(3):
        monkeypatch.setattr(sim.kernel, "_advance", original)
        runs.append(_mqsim_calls(1000))
    assert runs[1] == runs[2]
    assert runs[1]["calls"] > 10 * runs[1]["messages"] > 0


def test_the_marginal_count_leaves_out_what_a_run_does_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    original = sim.kernel._advance
    runs = []
    for messages in (1000, 1000, 2000, 4000):  # (the first warms up, as above)
        monkeypatch.setattr(sim.kernel, "_advance", original)
        runs.append(_mqsim_calls(messages))
    runs = runs[1:]
    per_message_whole = [run["calls"] / run["messages"] for run in runs]
    marginal = [_marginal(runs[0], runs[1]), _marginal(runs[1], runs[2])]
    # The whole-run figure falls with the length (the set-up and the samples spread over
    # more messages); the marginal one does not.
    assert per_message_whole[0] > per_message_whole[2] * 1.05
    assert marginal[1] == pytest.approx(marginal[0], rel=0.03)


def test_bare_simpy_calls_grow_with_its_messages_only() -> None:
    def count(messages: int, sources: int) -> dict[str, int]:
        spec = {"messages": messages, "sources": sources, "consumers": 1, "calls": True}
        return bench_kernel.case_simpy_many(json.dumps(spec))

    one = _marginal(count(2000, 1), count(4000, 1))
    fifty = _marginal(count(2000, 50), count(4000, 50))
    assert count(2000, 1) == count(2000, 1)
    assert fifty == pytest.approx(one, rel=0.05)  # SimPy's calls a message are flat
