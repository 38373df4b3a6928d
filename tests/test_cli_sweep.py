"""`mqsim sweep`, `mqsim run --seeds` and `--set`: the files they write, one-line errors, and
a clean stop on Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

import sim
from sim.cli import app
from tests.helpers import ROOT, cli_env

runner = CliRunner()
SHORT = {
    "name": "short",
    "seed": 2,
    "duration": "200s",
    "warmup": "20s",
    "broker": {"type": "rabbitmq", "queues": [{"name": "q", "durable": True}]},
    "producers": [{"name": "p", "to": "q", "rate": "1/s"}],
    "consumers": [{"name": "c", "from": "q", "service_time": "exp(500ms)"}],
}


def scenario_file(folder: Path, data: dict | None = None) -> Path:
    path = folder / "short.yaml"
    path.write_text(yaml.safe_dump(data or SHORT))
    return path


def test_sweep_writes_runs_aggregate_and_a_chart(tmp_path: Path) -> None:
    path = scenario_file(tmp_path)
    out = tmp_path / "out"
    args = ["sweep", str(path), "--set", "consumers.0.replicas=1,2", "--set", "seed=9"]
    result = runner.invoke(
        app, [*args, "--seeds", "3", "--workers", "2", "--out", str(out)], terminal_width=200
    )
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == [
        ".mqsim-results",
        "aggregate.csv",
        "runs.csv",
        "sweep_latency_mean.png",
    ]
    assert (out / "sweep_latency_mean.png").read_bytes()[:4] == b"\x89PNG"
    runs = pd.read_csv(out / "runs.csv")
    # One row per run; seed=9 had one value, so it is an override (the base of the seeds).
    expected = sim.sweep(
        sim.load_scenario(path).override({"seed": 9}),
        {"consumers.0.replicas": [1, 2]},
        seeds=3,
        executor="inline",
    )
    assert list(runs.columns[:2]) == ["consumers.0.replicas", "seed"]
    assert len(runs) == 6
    assert runs["seed"].tolist() == expected.runs["seed"].tolist()
    assert runs["latency_mean"].tolist() == pytest.approx(expected.runs["latency_mean"].tolist())
    aggregate = pd.read_csv(out / "aggregate.csv")
    assert len(aggregate) == 2 * len(expected.metrics)
    assert {"metric", "mean", "ci_low", "ci_high", "n"} <= set(aggregate.columns)
    assert "6 runs on 2 worker processes" in result.stderr
    assert "latency_mean" in result.stdout and "95% CI" in result.stdout


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        ("consumers.0.replicas=1,0", "consumers[0].replicas: input should be greater than"),
        ("consumers.3.replicas=1,2", "consumers.3.replicas: no item '3' in consumers"),
        ("consumers.0.replicas", "--set: expected PATH=V1,V2,..., got 'consumers.0.replicas'"),
        ("consumers.0.replicas=1,,2", "consumers.0.replicas: an empty value in '1,,2'"),
        ("seed=1,2", "--set: the seed is not a grid parameter"),
    ],
)
def test_bad_sweep_setting_is_one_line_exit_2_nothing_written(
    tmp_path: Path, setting: str, expected: str
) -> None:
    path = scenario_file(tmp_path)
    out = tmp_path / "out"
    result = runner.invoke(
        app, ["sweep", str(path), "--set", setting, "--out", str(out)], terminal_width=200
    )
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"{path}: ") and expected in lines[0]
    assert not out.exists()


def test_sweep_unknown_metric_is_an_error_and_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = ["sweep", str(scenario_file(tmp_path)), "--set", "consumers.0.replicas=1,2"]
    result = runner.invoke(app, [*args, "--seeds", "2", "--metric", "speed", "--out", str(out)])
    assert result.exit_code == 2
    assert "--metric: no metric 'speed'" in result.stderr
    assert not out.exists()


def test_run_with_seeds_prints_means_with_intervals_as_json(tmp_path: Path) -> None:
    path = scenario_file(tmp_path)
    out = tmp_path / "out"
    args = ["run", str(path), "--seeds", "4", "--workers", "2", "--json", "--out", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    table = json.loads(result.stdout)
    expected = sim.replicate(sim.load_scenario(path), seeds=4, executor="inline").to_dict()
    assert table == expected
    latency = table["latency_mean"]
    assert latency["n"] == 4 and latency["ci_low"] < latency["mean"] < latency["ci_high"]
    assert len(pd.read_csv(out / "runs.csv")) == 4
    assert pd.read_csv(out / "replications.csv")["metric"].tolist() == list(table)


def test_run_with_seeds_prints_a_table(tmp_path: Path) -> None:
    args = ["run", str(scenario_file(tmp_path)), "--seeds", "3", "--out", str(tmp_path / "o")]
    result = runner.invoke(app, [*args, "--set", "producers.0.rate=0.5/s"], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "short: 3 seeds" in result.stdout
    assert "latency_mean" in result.stdout and "± 95% CI" in result.stdout


def test_run_with_seeds_replicates_every_variant_on_the_same_seeds(tmp_path: Path) -> None:
    data = dict(SHORT, variants={"slow": {"consumers.0.service_time": "exp(800ms)"}, "base": {}})
    out = tmp_path / "out"
    args = ["run", str(scenario_file(tmp_path, data)), "--seeds", "3", "--json"]
    result = runner.invoke(app, [*args, "--workers", "1", "--out", str(out)])
    assert result.exit_code == 0, result.output
    by_variant = json.loads(result.stdout)
    assert set(by_variant) == {"slow", "base"}
    # Same seeds, so the same arrivals; slower service, so a longer wait.
    assert by_variant["slow"]["produced"] == by_variant["base"]["produced"]
    assert by_variant["slow"]["latency_mean"]["mean"] > by_variant["base"]["latency_mean"]["mean"]
    slow = pd.read_csv(out / "slow" / "runs.csv")
    base = pd.read_csv(out / "base" / "runs.csv")
    assert slow["seed"].tolist() == base["seed"].tolist()


def test_run_set_overrides_a_single_run(tmp_path: Path) -> None:
    path = scenario_file(tmp_path)
    args = ["run", str(path), "--set", "consumers.0.replicas=2", "--set", "producers.0.rate=3/s"]
    result = runner.invoke(app, [*args, "--json", "--out", str(tmp_path / "o")])
    assert result.exit_code == 0, result.output
    changed = sim.load_scenario(path).override(
        {"consumers.0.replicas": 2, "producers.0.rate": "3/s"}
    )
    expected = json.loads(sim.run(changed).summary_json())
    assert json.loads(result.stdout) == expected
    assert len(expected["processed_by"]) == 2  # two replicas really ran


def test_run_bad_set_and_seeds_with_trace_are_one_line_errors(tmp_path: Path) -> None:
    path = scenario_file(tmp_path)
    bad = runner.invoke(app, ["run", str(path), "--set", "consumers.0.replicas=zero"])
    assert bad.exit_code == 2
    assert bad.stderr.strip() == (
        f"{path}: consumers[0].replicas: input should be a valid integer, unable to parse "
        "string as an integer, got 'zero'"
    )
    traced = runner.invoke(app, ["run", str(path), "--seeds", "2", "--trace"])
    assert traced.exit_code == 2
    assert len(traced.stderr.strip().splitlines()) == 1


def test_sweep_help_has_examples() -> None:
    result = runner.invoke(app, ["sweep", "--help"], terminal_width=200)
    assert result.exit_code == 0
    assert "Example" in result.output and "--dask" in result.output


def test_ctrl_c_stops_a_sweep_cleanly_with_status_130(tmp_path: Path) -> None:
    out = tmp_path / "out"
    # 100 runs of 24 simulated hours: far longer than the test waits.
    args = ["sweep", str(ROOT / "scenarios" / "mm1.yaml"), "--set", "duration=24h"]
    args += ["--set", "consumers.0.replicas=1,2", "--seeds", "50", "--workers", "2"]
    process = subprocess.Popen(
        [sys.executable, "-m", "sim.cli", *args, "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, as a terminal's foreground job
        cwd=tmp_path,
        env=cli_env(),
    )
    try:
        announced = process.stderr.readline()  # written once the workers are up
        assert "100 runs on 2 worker processes" in announced
        time.sleep(1.0)  # let the first runs get under way (each takes over a second)
        # Ctrl-C on a terminal signals the whole foreground group: the CLI and its workers.
        os.killpg(process.pid, signal.SIGINT)
        stdout, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    assert process.returncode == 130
    assert "Traceback" not in stderr
    assert stderr.strip().startswith("interrupted after ") and "of 100 runs" in stderr
    assert stdout == ""
    assert not out.exists()
