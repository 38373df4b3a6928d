"""The overload warning: one line on stderr before a run whose consumers cannot keep up with an
unbounded source, with the backlog's growth and the memory it implies (measured)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

import sim
from sim.cli import app
from sim.experiments.overload import bytes_per_queued_message, overloads
from tests.test_cli import scenario_file

runner = CliRunner()  # result.stdout and result.stderr apart

OVER = {
    "name": "over",
    "duration": "10h",
    "broker": {"type": "rabbitmq", "queues": [{"name": "q", "durable": True}]},
    "producers": [{"name": "p", "to": "q", "rate": "2000/s"}],
    "consumers": [{"name": "c", "from": "q", "service_time": "100ms"}],
}


def test_an_overloaded_unbounded_queue_gets_one_warning_line_and_json_stays_json(
    tmp_path: Path,
) -> None:
    path = scenario_file(tmp_path, OVER)
    args = ["run", str(path), "--duration", "20s", "--json", "--out", str(tmp_path / "o")]
    result = runner.invoke(app, args)
    assert result.exit_code == 0
    json.loads(result.stdout)  # nothing but the summary on stdout
    lines = [line for line in result.stderr.splitlines() if "warning" in line]
    assert len(lines) == 1
    growth = float(re.search(r"grows by about ([\d.]+) messages", lines[0]).group(1))
    assert growth == pytest.approx(2000 - 1 / 0.1)
    assert "bytes per queued message, measured" in lines[0]


def test_the_estimate_follows_each_brokers_rules() -> None:
    bounded = sim.Scenario.from_dict(
        {
            **OVER,
            "broker": {
                "type": "rabbitmq",
                "queues": [{"name": "q", "durable": True, "max_length": 10}],
            },
        }
    )
    assert overloads(bounded) == []  # a bounded queue drops or refuses instead of growing
    fine = sim.Scenario.from_dict({**OVER, "producers": [{"name": "p", "to": "q", "rate": 5.0}]})
    assert overloads(fine) == []
    # Kafka: four consumers on one partition work as one.
    kafka = sim.Scenario.from_dict(
        {
            **OVER,
            "broker": {"type": "kafka", "topics": [{"name": "q", "partitions": 1}]},
            "producers": [{"name": "p", "to": "q", "rate": 20.0}],
            "consumers": [{"name": "c", "from": "q", "replicas": 4, "service_time": "100ms"}],
        }
    )
    (found,) = overloads(kafka)
    assert found.load == pytest.approx(2.0) and found.growth == pytest.approx(10.0)
    # RabbitMQ: a fanout exchange gives every bound queue the whole rate.
    fanout = sim.Scenario.from_dict(
        {
            **OVER,
            "broker": {
                "type": "rabbitmq",
                "exchanges": [{"name": "x", "type": "fanout"}],
                "queues": [{"name": "a", "durable": True}, {"name": "b", "durable": True}],
                "bindings": [{"exchange": "x", "queue": "a"}, {"exchange": "x", "queue": "b"}],
            },
            "producers": [{"name": "p", "to": "x", "rate": 20.0}],
            "consumers": [
                {"name": "ca", "from": "a", "service_time": "100ms"},
                {"name": "cb", "from": "b", "service_time": "10ms"},
            ],
        }
    )
    assert [o.consumer for o in overloads(fanout)] == ["ca"]


def test_bytes_per_queued_message_is_measured() -> None:
    scenario = sim.Scenario.from_dict(OVER)
    per_message = bytes_per_queued_message(scenario, "q")
    assert 50 < per_message < 5000
