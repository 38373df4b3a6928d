"""Dotted-path overrides: in Python (Scenario.override) and as `--set PATH=VALUE` strings."""

from __future__ import annotations

from pathlib import Path

import pytest

from sim.experiments import parse_grid_assignment
from sim.scenario import ScenarioError, apply_overrides, load_scenario, parse_assignment
from tests.helpers import ROOT, scenario_from

MM1 = ROOT / "scenarios" / "mm1.yaml"


def test_override_replaces_values_at_dotted_paths_and_parses_units() -> None:
    base = load_scenario(MM1)
    changed = base.override(
        {"consumers.0.replicas": 4, "producers.0.rate": "200/s", "broker.queues.0.name": "jobs"}
    )
    assert changed.consumers[0].replicas == 4
    assert changed.producers[0].rate == pytest.approx(200.0)  # "200/s" read as a rate
    # The original is untouched, and everything not named keeps its value.
    assert base.consumers[0].replicas == 1
    assert base.producers[0].rate == pytest.approx(0.9)
    assert changed.duration == base.duration
    assert changed.source == str(MM1)


def test_override_of_a_whole_section_and_of_a_new_optional_field() -> None:
    changed = scenario_from().override(
        {"consumers.0.service_time": "uniform(1s, 3s)", "broker.queues.0.max_length": 5}
    )
    assert changed.consumers[0].service_time.mean == pytest.approx(2.0)
    assert changed.broker.queues[0].max_length == 5


def test_apply_overrides_matches_keys_that_contain_dots_whole() -> None:
    # Kafka-style client settings are single keys with dots in them; the longest key wins.
    data = {"consumer": {"enable.auto.commit": True, "enable": {"x": 1}}}
    apply_overrides(data, {"consumer.enable.auto.commit": False, "consumer.enable.x": 2})
    assert data == {"consumer": {"enable.auto.commit": False, "enable": {"x": 2}}}


def _one_line(error: ScenarioError) -> str:
    text = str(error)
    assert "\n" not in text
    return text


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"consumers.0.replicass": 2}, "consumers[0].replicass: unknown key 'replicass'"),
        ({"consumers.5.replicas": 2}, "consumers.5.replicas: no item '5' in consumers"),
        ({"consumers.x.replicas": 2}, "consumers.x.replicas: no item 'x' in consumers"),
        ({"duration.hours": 2}, "duration.hours: duration is a single value"),
        ({"consumers.0.replicas": 0}, "consumers[0].replicas: input should be greater than"),
        ({"producers.0.rate": "fast"}, "producers[0].rate:"),
        ({"consumers.0.service_time": "expo(1s)"}, "unknown distribution 'expo'"),
    ],
)
def test_bad_override_is_one_line_naming_file_and_path(
    changes: dict[str, object], expected: str
) -> None:
    with pytest.raises(ScenarioError) as caught:
        load_scenario(MM1).override(changes)
    text = _one_line(caught.value)
    assert expected in text
    # Every error names the file, as scenario file errors do (the CLI adds it where missing).
    error = caught.value if caught.value.source else caught.value.with_source(str(MM1))
    assert str(error).startswith(f"{MM1}: ")


def test_parse_assignment_reads_values_as_yaml() -> None:
    assert parse_assignment("consumers.0.replicas=4") == ("consumers.0.replicas", 4)
    assert parse_assignment("producers.0.rate=200/s") == ("producers.0.rate", "200/s")
    assert parse_assignment(" consumers.0.ack = auto") == ("consumers.0.ack", "auto")
    assert parse_assignment("x=true") == ("x", True)
    assert parse_assignment("x=[1, 2]") == ("x", [1, 2])
    assert parse_assignment("x=") == ("x", "")
    assert parse_assignment("s=uniform(5ms, 15ms)") == ("s", "uniform(5ms, 15ms)")


@pytest.mark.parametrize("text", ["consumers.0.replicas", "=4", "x={"])
def test_parse_assignment_rejects_malformed_text_in_one_line(text: str) -> None:
    with pytest.raises(ScenarioError) as caught:
        parse_assignment(text)
    _one_line(caught.value)


def test_grid_assignment_splits_values_but_not_inside_parentheses() -> None:
    assert parse_grid_assignment("consumers.0.replicas=1,2,4") == (
        "consumers.0.replicas",
        [1, 2, 4],
    )
    assert parse_grid_assignment("consumers.0.service_time=exp(1s),uniform(0.5s, 1.5s)") == (
        "consumers.0.service_time",
        ["exp(1s)", "uniform(0.5s, 1.5s)"],
    )
    assert parse_grid_assignment("producers.0.rate=200/s") == ("producers.0.rate", ["200/s"])
    with pytest.raises(ScenarioError):
        parse_grid_assignment("consumers.0.replicas=1,,2")


def test_overridden_scenario_runs_as_if_written_in_the_file(tmp_path: Path) -> None:
    import sim

    text = (
        MM1.read_text()
        .replace("rate: 0.9/s", "rate: 0.5/s")
        .replace("duration: 2h", "duration: 20min")
    )
    edited = tmp_path / "mm1.yaml"
    edited.write_text(text)
    by_file = sim.run(edited, seed=3)
    by_override = sim.run(
        load_scenario(MM1).override({"producers.0.rate": "0.5/s", "duration": "20min"}), seed=3
    )
    assert by_override.summary == by_file.summary
