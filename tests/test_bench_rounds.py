"""benchmarks/run.py measures the cases a ratio compares in rounds (one run of each case in
turn, then again), so a machine whose speed drifts slows both sides of a ratio alike; and
the flatness section makes each run its rows share once."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
import bench_kernel
import run


def test_cases_are_measured_in_rounds_and_the_fastest_of_each_kept(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    made: list[str] = []

    # A machine that slows down as it goes: every run takes longer than the one before.
    # Measured one case after the other, the case measured last would look slower.
    def measure(case: str, arg: Any, hash_seed: int | None = None) -> dict[str, Any]:
        made.append(case)
        return {"cpu": 1.0 + 0.1 * len(made) + arg, "messages": 1_000_000}

    monkeypatch.setattr(bench_kernel, "measure", measure)
    best = run.best_of_rounds({"a": ("first", 0.0), "b": ("second", 0.0)}, repeat=3)
    assert made == ["first", "second"] * 3
    # The first round's runs are the fastest of each: runs made next to each other.
    assert best["a"]["us"] == pytest.approx(1.1)
    assert best["b"]["us"] == pytest.approx(1.2)
    assert best["b"]["us"] / best["a"]["us"] < 1.1  # one after the other: 1.4 / 1.1


def test_the_fastest_run_is_kept_whichever_round_it_came_in(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    times = iter([5.0, 3.0, 4.0])
    monkeypatch.setattr(
        bench_kernel, "measure", lambda case, arg: {"cpu": next(times), "messages": 2_000_000}
    )
    best = run.best_of_rounds({"only": ("x", None)}, repeat=3)
    assert best["only"]["us"] == pytest.approx(1.5)


def test_every_flatness_row_names_runs_that_are_made() -> None:
    cases, rows = run.flat_cases(["rabbitmq", "kafka"], 1000)
    for label, one, many, reference in rows:
        assert one in cases and many in cases, label
        assert reference == "" or reference in cases, label
    labels = [row[0] for row in rows]
    assert "kafka: 1 vs 100 partitions, 1 consumer" in labels
    assert "rabbitmq: 1 vs 50 competing consumers" in labels
    # Kafka's one-partition, one-consumer run is the base of three rows and is made once.
    assert sum(1 for row in rows if row[1] == "kafka") == 3
    assert len(set(map(str, cases.values()))) == len(cases)


def test_a_drain_row_takes_each_tenths_best_apart(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Three runs of one drain: the first's last tenth hit a slow moment of the machine, the
    # second's first tenth did. Each tenth's best is 2.0 us: the backlog costs nothing more.
    tenths = iter([(2.0, 9.0), (9.0, 2.0), (3.0, 3.0)])

    def measure(case: str, arg: Any) -> dict[str, Any]:
        first, last = (1.0, 1.0) if case == "simpy_store_drain" else next(tenths)
        return {"first_tenth_us": first, "last_tenth_us": last}

    monkeypatch.setattr(bench_kernel, "measure", measure)
    monkeypatch.setattr(run, "DRAIN_VARIANTS", {})
    table = run.Table()
    run.drain(table, ["rabbitmq"], 1000, repeat=3)
    row = next(line for line in capsys.readouterr().out.splitlines() if "rabbitmq, ideal" in line)
    assert "2.00 vs   2.00 us  1.00x" in row
    assert row.endswith(" met")
    assert table.failed == []
