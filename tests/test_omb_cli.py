"""`mqsim omb`: result files named as OMB names them (without the timestamp), written into a
folder mqsim owns, beside earlier drivers' files; `--compare` draws OMB's charts."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from sim.cli import app
from sim.omb.result import FIELDS
from tests.test_omb_workload import OMB

runner = CliRunner()
WORKLOAD = OMB / "workloads" / "1-topic-1-partition-100b.yaml"
SHORT = ["--duration", "0.2s", "--warmup", "0", "--period", "0.1s"]


def run_omb(*arguments: str) -> object:
    return runner.invoke(app, ["omb", *arguments])


def test_one_result_file_per_driver_named_after_the_workload_file(tmp_path: Path) -> None:
    out = tmp_path / "omb"
    result = run_omb(
        str(WORKLOAD), "--driver", "kafka", "--driver", "redis", *SHORT, "--out", str(out)
    )
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in out.iterdir())
    assert names == [
        ".mqsim-results",
        "1-topic-1-partition-100b-kafka.json",
        "1-topic-1-partition-100b-redis.json",
    ]
    data = json.loads((out / "1-topic-1-partition-100b-kafka.json").read_text(encoding="utf-8"))
    assert list(data) == list(FIELDS) and data["driver"] == "Kafka"
    assert data["workload"] == "1 topic / 1 partition / 100b"
    text = (out / "1-topic-1-partition-100b-kafka.json").read_text(encoding="utf-8")
    assert text.startswith('{\n  "workload" : "1 topic / 1 partition / 100b",\n')  # Jackson's
    assert "Kafka" in result.stdout and "Redis" in result.stdout  # the summary table


def test_a_later_driver_adds_its_file_and_keeps_the_earlier_ones(tmp_path: Path) -> None:
    out = tmp_path / "omb"
    assert run_omb(str(WORKLOAD), "--driver", "kafka", *SHORT, "--out", str(out)).exit_code == 0
    kafka = (out / "1-topic-1-partition-100b-kafka.json").read_bytes()
    assert run_omb(str(WORKLOAD), "--driver", "sqs", *SHORT, "--out", str(out)).exit_code == 0
    assert (out / "1-topic-1-partition-100b-kafka.json").read_bytes() == kafka
    listed = json.loads((out / ".mqsim-results").read_text(encoding="utf-8"))["files"]
    assert listed == ["1-topic-1-partition-100b-kafka.json", "1-topic-1-partition-100b-sqs.json"]


def test_a_folder_with_files_of_someone_else_is_refused_before_running(tmp_path: Path) -> None:
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("mine", encoding="utf-8")
    result = run_omb(str(WORKLOAD), "--driver", "kafka", *SHORT, "--out", str(out))
    assert result.exit_code == 2
    assert len(result.stderr.strip().splitlines()) == 1 and "did not write" in result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]


def test_a_sampled_workload_says_so_on_stderr(tmp_path: Path) -> None:
    workload = OMB / "workloads" / "10k-topic-1kb-4p-4c-100k.yaml"
    arguments = ["--sample", "4", "--duration", "1s", "--warmup", "0", "--period", "1s"]
    result = run_omb(str(workload), "--driver", "redis", *arguments, "--out", str(tmp_path / "o"))
    assert result.exit_code == 0, result.output
    assert "redis: simulating 4 of 10000 topics" in result.stderr
    assert "scaled by 2500" in result.stderr


def test_compare_draws_omb_charts_of_mqsims_and_ombs_own_files(tmp_path: Path) -> None:
    out = tmp_path / "omb"
    assert run_omb(str(WORKLOAD), "--driver", "rabbitmq", *SHORT, "--out", str(out)).exit_code == 0
    charts = tmp_path / "charts"
    result = run_omb("--compare", str(out), str(OMB / "results"), "--out", str(charts))
    assert result.exit_code == 0, result.output
    drawn = sorted(p.name for p in charts.glob("*.png"))
    # One set per workload: mqsim's run and the two Confluent files (one workload name).
    assert "1-topic-1-partition-100b_publish_rate.png" in drawn
    assert "100-partitions-200k-rate-4-producer_end_to_end_latency_quantiles.png" in drawn
    assert len(drawn) == 3 * 3  # three workloads, three charts each
    assert "9 charts of 4 result files" in result.stdout


def test_compare_refuses_a_file_that_is_no_omb_result(tmp_path: Path) -> None:
    other = tmp_path / "summary.json"
    other.write_text('{"produced": 3}', encoding="utf-8")
    result = run_omb("--compare", str(other), "--out", str(tmp_path / "charts"))
    assert result.exit_code == 2
    missing = "workload, driver, publishRate, aggregatedEndToEndLatencyQuantiles"
    assert result.stderr.strip() == f"{other}: not an OMB result file (no {missing})"


def test_help_names_the_drivers_and_the_presets() -> None:
    result = runner.invoke(app, ["omb", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert "kafka, rabbitmq, sqs, redis or pulsar" in result.stdout
    assert "ideal, confluent-2020, mqperf-2021" in result.stdout


def test_a_preset_without_the_drivers_costs_is_one_line_and_exit_2(tmp_path: Path) -> None:
    result = run_omb(
        str(OMB / "workloads" / "1-topic-1-partition-1kb.yaml"),
        "--driver",
        "sqs",
        "--preset",
        "confluent-2020",
        "--out",
        str(tmp_path),
    )
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        "--preset: preset 'confluent-2020' has no sqs costs (it covers: kafka, pulsar, rabbitmq)"
    )
