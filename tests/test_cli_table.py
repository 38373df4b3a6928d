"""The summary table on a real terminal: never a number or a name cut, whatever the width;
the effect ledger first, and lost publishes told apart from lost messages."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from typer.testing import CliRunner

import sim
from sim.cli import app
from sim.experiments.report import Grid, fitted, summary_grid, summary_notes
from sim.units import format_duration
from tests.helpers import ROOT, cli_env
from tests.test_cli import SHORT, scenario_file

runner = CliRunner()
EXACTLY_ONCE = ROOT / "scenarios" / "exactly_once.yaml"
SHORT_RUN = ["--duration", "10s"]


def rendered(grid: Grid, width: int) -> list[str]:
    console = Console(width=width, record=True, file=io.StringIO())
    for table in fitted(grid, width):
        console.print(table)
    return console.export_text().splitlines()


def whole(text: str, lines: list[str]) -> bool:
    """`text` on one line, not part of a longer word or number."""
    pattern = re.compile(r"(?<![\w.\-])" + re.escape(text) + r"(?![\w.\-])")
    return any(pattern.search(line) for line in lines)


def cells(grid: Grid) -> list[str]:
    return [c for keys, values in grid.rows for c in (*keys, *values) if c]


def synthetic_rows(count: int) -> list[tuple[str, dict[str, Any]]]:
    """Runs with long names and wide numbers, like `mqsim demo`'s."""
    rows = []
    for i in range(count):
        summary = {
            "produced": 1234567 + i,
            "processed": 1234000 + i,
            "lost": 17 * i,
            "dropped": 0,
            "rejected": 3 * i,
            "dead_lettered": 0,
            "expired": 0,
            "throughput": 123.456 + i,
            "latency_mean": 0.0123 * (i + 1),
            "latency_p50": 0.00456,
            "latency_p99": 7.5 * (i + 1),
            "max_queue_depth": 98765,
            "backlog_at_end": 4321,
        }
        rows.append((f"kafka_consumer_crash (commit-before-processing-{i})", summary))
    return rows


@pytest.mark.parametrize("count", [1, 3, 12])
@pytest.mark.parametrize("width", [60, 80, 100, 120, 200])
def test_no_width_cuts_a_number_or_a_name(count: int, width: int) -> None:
    grid = summary_grid(synthetic_rows(count), first="variant")
    lines = rendered(grid, width)
    assert max(len(line) for line in lines) <= width
    assert not any("…" in line for line in lines)
    for text in cells(grid):
        assert whole(text, lines), f"{text!r} cut at {width} columns"


def test_a_table_that_fits_is_one_row_per_run_else_transposed_or_split() -> None:
    rows = [(f"v{i}", summary) for i, (_, summary) in enumerate(synthetic_rows(3))]
    grid = summary_grid(rows, first="variant")
    natural = len(rendered(grid, 400)[0])
    (wide,) = fitted(grid, natural)
    assert [c.header for c in wide.columns][:3] == ["variant", "produced", "processed"]
    (headers_wrapped,) = fitted(grid, natural - 10)  # headers wrap before anything else
    assert headers_wrapped.columns[0].header == "variant"
    (tall,) = fitted(grid, 60)  # too narrow for a row per run: one column per run
    assert [c.header for c in tall.columns] == ["metric", "v0", "v1", "v2"]
    split = fitted(grid, 40)  # not even that: a few runs per table, every metric in each
    assert len(split) == 2
    assert all(t.columns[0].header == "metric" for t in split)
    assert [c.header for t in split for c in t.columns[1:]] == ["v0", "v1", "v2"]
    assert all(t.row_count == len(grid.headers) for t in split)


def test_many_runs_split_into_tables_of_a_few_metrics_each() -> None:
    rows = synthetic_rows(40)
    tables = fitted(summary_grid(rows), 80)
    assert len(tables) > 1
    for table in tables:
        assert table.columns[0].header == "scenario"
        assert table.row_count == 40


def test_runs_without_a_ledger_leave_its_cells_empty_and_notes_say_what_is_left_out() -> None:
    ledger = {**synthetic_rows(2)[1][1], "effects_once": 5, "effects_duplicated": 1}
    ledger["effects_lost"] = 2
    rows = [("with", ledger), ("without", synthetic_rows(1)[0][1])]
    grid = summary_grid(rows)
    assert grid.headers[:3] == [
        "effects applied once",
        "effects applied twice or more",
        "effects never applied",
    ]
    assert grid.rows[0][1][:3] == ["5", "1", "2"]
    assert grid.rows[1][1][:3] == ["", "", ""]
    assert "rejected" in grid.headers  # some run rejected messages
    assert "dropped" not in grid.headers and "expired" not in grid.headers
    assert summary_notes(rows) == ["Not shown, as 0: dropped, dead-lettered, expired."]


def test_a_run_without_latency_shows_a_dash_and_says_why() -> None:
    summary = {**synthetic_rows(1)[0][1], "processed": 0, "throughput": 0.0}
    summary.update(latency_mean=float("nan"), latency_p50=float("nan"), latency_p99=None)
    grid = summary_grid([("idle", summary)])
    values = dict(zip(grid.headers, grid.rows[0][1], strict=True))
    assert values["latency mean"] == values["latency p50"] == values["latency p99"] == "-"
    assert any("no messages were processed" in note for note in summary_notes([("i", summary)]))


@pytest.fixture(scope="module")
def exactly_once() -> dict[str, dict[str, Any]]:
    """The summaries of the exactly-once scenario's variants, as --json prints them."""
    return {
        name: json.loads(r.summary_json())
        for name, r in sim.run_variants(EXACTLY_ONCE, duration=SHORT_RUN[1]).items()
    }


@pytest.mark.parametrize("width", [80, 120])
def test_exactly_once_on_a_terminal_shows_effects_first_and_every_number_whole(
    tmp_path: Path, width: int, exactly_once: dict[str, dict[str, Any]]
) -> None:
    args = ["run", str(EXACTLY_ONCE), *SHORT_RUN, "--out", str(tmp_path / "o")]
    result = runner.invoke(app, args, env={"COLUMNS": str(width)}, terminal_width=width)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= width
    assert "…" not in result.stdout
    for name, s in exactly_once.items():
        assert whole(name, lines)
        for key in ("effects_once", "effects_duplicated", "effects_lost", "produced"):
            assert whole(str(s[key]), lines), (name, key)
        for key in ("latency_mean", "latency_p50", "latency_p99"):
            assert whole(format_duration(s[key]), lines), (name, key)
    labels = [line.split("│")[1].strip() for line in lines if line.count("│") > 2]
    # The lesson first: what happened to each payment's effect.
    assert labels.index("effects applied once") < labels.index("produced")
    assert "latency mean" in labels
    # The network's lost publishes were republished: not messages lost.
    assert "lost" not in labels
    assert "publishes lost, then republished" in labels
    assert "lost after reaching the broker" in labels
    transactional = exactly_once["transactional"]
    assert transactional["publishes_lost"] > 0 and transactional["effects_duplicated"] == 0


def test_the_lost_counter_splits_into_publishes_and_messages(
    exactly_once: dict[str, dict[str, Any]],
) -> None:
    rows = list(exactly_once.items())
    grid = summary_grid(rows, first="variant")
    for (_, s), (_, values) in zip(rows, grid.rows, strict=True):
        cell = dict(zip(grid.headers, values, strict=True))
        publishes = int(cell["publishes lost, then republished"])
        messages = int(cell["lost after reaching the broker"])
        assert publishes == s["publishes_lost"]
        assert publishes + messages == s["lost"]  # together, every copy that ended lost
        # Each lost publish and each lost confirm was published again.
        assert s["republished"] == s["publishes_lost"] + s["confirms_lost"]


def test_a_lost_publish_that_was_never_retried_is_not_called_republished() -> None:
    summary = {**synthetic_rows(1)[0][1], "lost": 5, "publishes_lost": 5, "republished": 0}
    grid = summary_grid([("no-retry", summary)])
    assert "publishes lost on the way" in grid.headers
    assert "publishes lost, then republished" not in grid.headers


def test_a_pipe_without_columns_gets_80_columns_and_whole_cells(tmp_path: Path) -> None:
    data = dict(SHORT, variants={"a-rather-long-variant-name": {}, "another-long-one": {}})
    path = scenario_file(tmp_path, data)
    env = cli_env()
    env.pop("COLUMNS", None)
    done = subprocess.run(
        [sys.executable, "-m", "sim.cli", "run", str(path), "--out", str(tmp_path / "o")],
        capture_output=True,
        stdin=subprocess.DEVNULL,  # no terminal anywhere: a log, as in CI
        text=True,
        env=env,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert whole("a-rather-long-variant-name", lines) and whole("another-long-one", lines)
    assert "…" not in done.stdout


def test_replication_and_sweep_tables_fit_80_columns(tmp_path: Path) -> None:
    path = scenario_file(tmp_path, {**SHORT, "duration": "60s"})
    sweep = ["sweep", str(path), "--set", "consumers.0.replicas=1,2"]
    sweep += ["--set", "producers.0.rate=1/s,1.5/s", "--seeds", "2", "--workers", "1"]
    seeds = ["run", str(path), "--seeds", "2", "--workers", "1"]
    expected = {"s": ["consumers.0.replicas", "producers.0.rate", "1.5/s"], "r": ["latency_mean"]}
    for args, out in ((sweep, "s"), (seeds, "r")):
        result = runner.invoke(app, [*args, "--out", str(tmp_path / out)], env={"COLUMNS": "80"})
        assert result.exit_code == 0, result.output
        lines = result.stdout.splitlines()
        assert max(len(line) for line in lines) <= 80
        assert "…" not in result.stdout
        for text in expected[out]:
            assert whole(text, lines), text
