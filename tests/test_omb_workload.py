"""OMB workload files: every shared workload reads with OMB's fields and Java defaults, and a
bad one is one line naming the file and the field (exit status 2 on the command line)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from sim.cli import app
from sim.errors import ScenarioError
from sim.omb import Workload, load_workload
from tests.helpers import ROOT, cli_env

OMB = ROOT.parent / "shared" / "omb"
WORKLOADS = sorted((OMB / "workloads").glob("*.yaml"))
runner = CliRunner()

# Workload.java's defaults for the fields a file may leave out (README "Workload file format").
JAVA_DEFAULTS = {
    "keyDistributor": "NO_KEY",
    "useRandomizedPayloads": False,
    "randomBytesRatio": 0.0,
    "randomizedPayloadPoolSize": 0,
    "payloadFile": None,
    "consumerBacklogSizeGB": 0,
    "backlogDrainRatio": 1.0,
    "warmupDurationMinutes": 1,
    "name": None,
}


def _value(workload: Workload, key: str) -> Any:
    name = next(n for n, f in Workload.model_fields.items() if (f.alias or n) == key)
    return getattr(workload, name)


def test_the_shared_folder_holds_the_workloads() -> None:
    if not WORKLOADS:
        pytest.fail(f"no workloads found in {OMB / 'workloads'}: put shared/ beside the repo")
    assert len(WORKLOADS) == 124  # the README's count of this copy


@pytest.mark.parametrize("path", WORKLOADS, ids=lambda p: p.stem)
def test_every_shared_workload_reads_with_its_values_and_omb_defaults(path: Path) -> None:
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    workload = load_workload(path)
    for key, value in raw.items():
        assert _value(workload, key) == value, key
    for key, default in JAVA_DEFAULTS.items():
        if key not in raw:
            assert _value(workload, key) == default, key
    if not workload.use_randomized_payloads:
        assert workload.payload_path is not None
        assert workload.payload_path.stat().st_size == workload.message_size


def test_a_workload_file_refers_to_payloads_beside_the_workloads_folder() -> None:
    workload = load_workload(OMB / "workloads" / "simple-workload.yaml")
    assert workload.payload_path == OMB / "payload" / "payload-1Kb.data"
    assert workload.title == "Simple Workload 1 producer on 1 topic"
    assert workload.backlog_bytes == 0 and not workload.probes_rate


def _base(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "w",
        "topics": 1,
        "partitionsPerTopic": 1,
        "messageSize": 1024,
        "payloadFile": "payload/payload-1Kb.data",
        "subscriptionsPerTopic": 1,
        "producersPerTopic": 1,
        "consumerPerSubscription": 1,
        "producerRate": 1000,
        "testDurationMinutes": 1,
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not ...}


BAD = [
    ({"produceRate": 10}, "produceRate: unknown key 'produceRate' (known: "),
    ({"keyDistributor": "ZIP_LATENT"}, "keyDistributor: unknown value 'ZIP_LATENT' (known: "),
    ({"topics": ...}, "topics: required field is missing"),
    ({"topics": 0}, "topics: input should be greater than or equal to 1"),
    ({"producerRate": -5}, "producerRate: input should be greater than or equal to 0"),
    ({"producerRate": "fast"}, "producerRate: input should be a valid integer"),
    ({"messageSize": 100}, "payloadFile: "),
    ({"payloadFile": "payload/none.data"}, "payloadFile: no such file"),
    ({"payloadFile": ...}, "payloadFile: required unless useRandomizedPayloads is true"),
    ({"producerRate": 0, "consumerBacklogSizeGB": 1}, "consumerBacklogSizeGB: cannot probe"),
    ({"consumerPerSubscription": 0}, "consumerPerSubscription: a subscription needs"),
    ({"backlogDrainRatio": 1.5}, "backlogDrainRatio: input should be less than or equal to 1"),
    (
        {"useRandomizedPayloads": True, "payloadFile": ...},
        "randomizedPayloadPoolSize: must be at least 1",
    ),
]


def _write(folder: Path, data: Any, text: str | None = None) -> Path:
    """A workload file in `folder/workloads/`, with OMB's payload folder beside it."""
    (folder / "payload").mkdir(exist_ok=True)
    (folder / "payload" / "payload-1Kb.data").write_bytes(b"x" * 1024)
    (folder / "workloads").mkdir(exist_ok=True)
    path = folder / "workloads" / "w.yaml"
    path.write_text(text if text is not None else yaml.safe_dump(data), encoding="utf-8")
    return path


@pytest.mark.parametrize(("changes", "expected"), BAD, ids=[e.split(":")[0] for _, e in BAD])
def test_a_bad_workload_is_one_line_naming_the_file_and_field(
    tmp_path: Path, changes: dict[str, Any], expected: str
) -> None:
    path = _write(tmp_path, _base(**changes))
    with pytest.raises(ScenarioError) as caught:
        load_workload(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: {expected}"), message
    assert "\n" not in message


def test_the_payload_file_must_have_the_message_size(tmp_path: Path) -> None:
    path = _write(tmp_path, _base(messageSize=100))
    with pytest.raises(ScenarioError, match="is 1024 bytes but messageSize is 100"):
        load_workload(path)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("topics: [1\n", "invalid YAML"), ("- 1\n- 2\n", "expected a mapping of workload fields")],
)
def test_a_file_that_is_no_workload_is_one_line(tmp_path: Path, text: str, expected: str) -> None:
    path = _write(tmp_path, None, text)
    with pytest.raises(ScenarioError, match=expected):
        load_workload(path)


def _one_line_exit_2(result: Any, out: Path, *expected: str) -> None:
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert all(text in lines[0] for text in expected), lines[0]
    assert not out.exists()


@pytest.mark.parametrize(
    ("changes", "expected"), BAD[:4], ids=[e.split(":")[0] for _, e in BAD[:4]]
)
def test_mqsim_omb_refuses_a_bad_workload_in_one_line_with_exit_2(
    tmp_path: Path, changes: dict[str, Any], expected: str
) -> None:
    path = _write(tmp_path, _base(**changes))
    out = tmp_path / "out"
    result = runner.invoke(app, ["omb", str(path), "--driver", "kafka", "--out", str(out)])
    _one_line_exit_2(result, out, str(path), expected)


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        (["--driver", "activemq"], "--driver: unknown driver 'activemq' (known: rabbitmq, kafka"),
        ([], "--driver: required (known: rabbitmq, kafka, sqs, redis"),
        (["--driver", "kafka", "--preset", "mqperf"], "--preset: unknown preset 'mqperf'"),
        (["--driver", "kafka", "--duration", "soon"], "--duration: "),
        (["--driver", "kafka", "--duration", "0s"], "--duration: must be positive"),
        (["--driver", "kafka", "--sample", "0"], "--sample: must be at least 1"),
        (["--driver", "kafka", "--backlog", "lots"], "--backlog: "),
        (["--driver", "kafka", "--seed", "-1"], "--seed: must be an integer of 0 or more"),
    ],
)
def test_mqsim_omb_refuses_bad_options_in_one_line(
    tmp_path: Path, arguments: list[str], expected: str
) -> None:
    path = _write(tmp_path, _base())
    out = tmp_path / "out"
    result = runner.invoke(app, ["omb", str(path), *arguments, "--out", str(out)])
    _one_line_exit_2(result, out, expected)


def test_a_missing_workload_file_is_one_line_in_a_real_process(tmp_path: Path) -> None:
    out = tmp_path / "out"
    missing = tmp_path / "nothing.yaml"
    command = [sys.executable, "-m", "sim.cli", "omb", str(missing), "--driver", "redis"]
    done = subprocess.run(
        [*command, "--out", str(out)], capture_output=True, text=True, env=cli_env(), check=False
    )
    assert done.returncode == 2
    assert done.stderr.strip() == f"{missing}: no such file"
    assert "Traceback" not in done.stderr and not out.exists()
