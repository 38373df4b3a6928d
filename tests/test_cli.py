"""The mqsim command: exit codes, --json, one-line errors, nothing half-written."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from sim.cli import app
from tests.helpers import ROOT, cli_env

runner = CliRunner()
SHORT = {
    "name": "short",
    "description": "a short run for the CLI tests",
    "duration": "200s",
    "broker": {"type": "rabbitmq", "queues": [{"name": "q", "durable": True}]},
    "producers": [{"name": "p", "to": "q", "rate": "2/s"}],
    "consumers": [{"name": "c", "from": "q", "service_time": "exp(200ms)"}],
}


def scenario_file(folder: Path, data: dict | None = None, name: str = "short.yaml") -> Path:
    path = folder / name
    path.write_text(yaml.safe_dump(data or SHORT))
    return path


def test_run_writes_results_and_charts(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = runner.invoke(app, ["run", str(scenario_file(tmp_path)), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "produced" in result.output
    for name in ("summary.json", "timeseries.csv", "queue_depth.png", "latency_cdf.png"):
        assert (out / name).is_file(), name
    assert not (out / "trace.csv").exists()


def test_json_prints_only_the_summary(tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = ["run", str(scenario_file(tmp_path)), "--out", str(out), "--json", "--seed", "4"]
    result = runner.invoke(app, [*args, "--trace", "--duration", "100s"])
    assert result.exit_code == 0
    summary = json.loads(result.stdout)
    assert summary == json.loads((out / "summary.json").read_text())
    assert summary["produced"] > 0
    assert (out / "trace.csv").is_file()


def test_variants_write_one_folder_each_and_json_by_variant(tmp_path: Path) -> None:
    data = dict(SHORT, variants={"slow": {"consumers.0.service_time": "exp(400ms)"}, "base": {}})
    out = tmp_path / "out"
    result = runner.invoke(
        app, ["run", str(scenario_file(tmp_path, data)), "--out", str(out), "--json"]
    )
    assert result.exit_code == 0
    by_variant = json.loads(result.stdout)
    assert set(by_variant) == {"slow", "base"}
    assert by_variant["slow"]["produced"] == by_variant["base"]["produced"]  # same arrivals
    assert by_variant["slow"]["latency_mean"] > by_variant["base"]["latency_mean"]
    for variant in ("slow", "base"):
        assert (out / variant / "summary.json").is_file()
    assert (out / "compare_latency_cdf.png").is_file()


def test_bad_scenario_one_line_exit_2_nothing_written(tmp_path: Path) -> None:
    bad = dict(SHORT, consumers=[{"name": "c", "from": "q", "service_time": "expo(1s)"}])
    path = scenario_file(tmp_path, bad)
    out = tmp_path / "out"
    # A real process, to see exactly what a user sees on the terminal.
    done = subprocess.run(
        [sys.executable, "-m", "sim.cli", "run", str(path), "--out", str(out)],
        capture_output=True,
        text=True,
        env=cli_env(COLUMNS="200"),
        cwd=tmp_path,
    )
    assert done.returncode == 2
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert lines == [
        f"{path}: consumers[0].service_time: unknown distribution 'expo' "
        "(known: exp, uniform, normal, lognormal, pareto, empirical)"
    ]
    assert "Traceback" not in done.stderr
    assert not out.exists()
    assert list(tmp_path.iterdir()) == [path]


def test_bad_duration_option_is_a_one_line_error(tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        [
            "run",
            str(scenario_file(tmp_path)),
            "--duration",
            "1 fortnight",
            "--out",
            str(tmp_path / "o"),
        ],
    )
    assert result.exit_code == 2
    assert "unknown duration unit" in result.output
    assert not (tmp_path / "o").exists()


def test_validate_reports_each_file(tmp_path: Path) -> None:
    good = scenario_file(tmp_path)
    bad = scenario_file(tmp_path, dict(SHORT, colour="blue"), "bad.yaml")
    result = runner.invoke(app, ["validate", str(good), str(bad)])
    assert result.exit_code == 2
    assert f"{good}: ok" in result.output
    assert f"{bad}: colour: unknown key 'colour'" in result.output
    assert runner.invoke(app, ["validate", str(good)]).exit_code == 0


def test_list_shows_names_and_descriptions() -> None:
    result = runner.invoke(app, ["list", "--dir", str(ROOT / "scenarios")], terminal_width=200)
    assert result.exit_code == 0
    assert "mm1" in result.output and "M/M/1" in result.output


def test_demo_runs_every_scenario_of_a_folder(tmp_path: Path) -> None:
    folder = tmp_path / "scenarios"
    folder.mkdir()
    scenario_file(folder)
    scenario_file(folder, dict(SHORT, name="other"), "other.yaml")
    figures = tmp_path / "figures"
    result = runner.invoke(app, ["demo", "--dir", str(folder), "--figures", str(figures)])
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in figures.iterdir())
    assert "short_queue_depth.png" in names and "other_latency_cdf.png" in names


@pytest.mark.parametrize("command", ["run", "validate", "list", "demo"])
def test_every_command_has_help_with_examples(command: str) -> None:
    result = runner.invoke(app, [command, "--help"], terminal_width=200)
    assert result.exit_code == 0
    assert "Example" in result.output
