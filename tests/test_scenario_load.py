"""Scenario files: what loads, and the one-line error for each kind of mistake."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from sim.scenario import ScenarioError, load_scenario
from tests.helpers import ROOT, scenario_from

GOOD = {
    "name": "ok",
    "duration": "10min",
    "warmup": "1min",
    "broker": {"type": "rabbitmq", "queues": [{"name": "jobs", "durable": True, "max_length": 5}]},
    "producers": [{"name": "p", "to": "jobs", "rate": "6000/min", "message_size": "1KiB"}],
    "consumers": [{"name": "w", "from": "jobs", "service_time": "exp(20ms)", "replicas": 2}],
}


def write(tmp_path: Path, data: object, name: str = "s.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data) if not isinstance(data, str) else data)
    return path


def with_change(path: str, value: object) -> dict:
    import copy

    data = copy.deepcopy(GOOD)
    node = data
    parts = path.split(".")
    for part in parts[:-1]:
        node = node[int(part)] if part.isdigit() else node[part]
    node[parts[-1]] = value
    return data


def test_every_shipped_scenario_is_valid() -> None:
    files = sorted((ROOT / "scenarios").glob("*.yaml"))
    assert files
    for path in files:
        scenario = load_scenario(path)
        assert scenario.name == path.stem, f"{path}: name should match the file name"
        assert scenario.description


def test_units_are_parsed(tmp_path: Path) -> None:
    scenario = load_scenario(write(tmp_path, GOOD))
    assert scenario.duration == 600.0
    assert scenario.warmup == 60.0
    assert scenario.producers[0].rate == pytest.approx(100.0)
    assert scenario.producers[0].message_size == 1024
    assert scenario.consumers[0].service_time.mean == pytest.approx(0.02)
    assert scenario.source.endswith("s.yaml")


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        (
            "consumers.0.service_time",
            "expo(20ms)",
            "consumers[0].service_time: unknown distribution 'expo' "
            "(known: exp, uniform, normal, lognormal, pareto, empirical)",
        ),
        ("producers.0.rate", "fast", "producers[0].rate: expected a rate such as '100/s'"),
        ("consumers.0.replicas", 0, "consumers[0].replicas: input should be greater than or equal"),
        (
            "producers.0.to",
            "nowhere",
            "producers[0].to: unknown destination 'nowhere' (known: jobs)",
        ),
        ("consumers.0.from", "nope", "consumers[0].from: unknown source 'nope' (known: jobs)"),
        (
            "producers.0.arrivals",
            "bursty",
            "producers[0].arrivals: expected 'poisson' or 'constant'",
        ),
        ("broker.queues.0.overflow", "drop-tail", "broker.queues[0].overflow: expected"),
        ("duration", "soon", "duration: expected a duration"),
        ("warmup", "1h", "warmup (3600s) must be shorter than duration"),
    ],
)
def test_bad_values_name_file_field_and_expectation(
    tmp_path: Path, path: str, value: object, expected: str
) -> None:
    file = write(tmp_path, with_change(path, value))
    with pytest.raises(ScenarioError) as error:
        load_scenario(file)
    message = str(error.value)
    assert message.startswith(f"{file}: ")
    assert expected in message
    assert "\n" not in message


def test_unknown_keys_are_errors_that_list_the_known_ones(tmp_path: Path) -> None:
    data = with_change("consumers.0.prefetch_count", 5)
    with pytest.raises(ScenarioError) as error:
        load_scenario(write(tmp_path, data))
    message = str(error.value)
    assert "consumers[0].prefetch_count: unknown key 'prefetch_count'" in message
    assert "prefetch" in message.split("known:")[1]


def test_missing_fields_and_broken_files(tmp_path: Path) -> None:
    data = dict(GOOD)
    del data["duration"]
    with pytest.raises(ScenarioError, match="duration: required field is missing"):
        load_scenario(write(tmp_path, data))
    with pytest.raises(ScenarioError, match=r"line 2: invalid YAML"):
        load_scenario(write(tmp_path, "name: x\n  bad: [unclosed\n", "broken.yaml"))
    with pytest.raises(ScenarioError, match="no such file"):
        load_scenario(tmp_path / "absent.yaml")
    with pytest.raises(ScenarioError, match="expected a mapping"):
        load_scenario(write(tmp_path, "- a\n- b\n", "list.yaml"))


def test_variants_are_validated_and_named_in_errors(tmp_path: Path) -> None:
    data = dict(GOOD, variants={"fast": {"consumers.0.service_time": "exp(1ms)"}})
    scenario = load_scenario(write(tmp_path, data))
    variants = scenario.variant_scenarios()
    assert variants["fast"].consumers[0].service_time.mean == pytest.approx(0.001)
    assert variants["fast"].variant == "fast"
    assert scenario.consumers[0].service_time.mean == pytest.approx(0.02)  # base untouched
    bad = dict(GOOD, variants={"oops": {"consumers.0.service_time": "expo(1ms)"}})
    with pytest.raises(ScenarioError) as error:
        load_scenario(write(tmp_path, bad, "bad.yaml"))
    assert "variants.oops.consumers[0].service_time: unknown distribution 'expo'" in str(
        error.value
    )


def test_overrides_by_dotted_path() -> None:
    base = scenario_from()
    changed = base.override({"consumers.0.replicas": 4, "producers.0.rate": "200/s"})
    assert changed.consumers[0].replicas == 4
    assert changed.producers[0].rate == 200.0
    assert base.consumers[0].replicas == 1
    with pytest.raises(ScenarioError, match=r"consumers.9.replicas: no item '9' in consumers"):
        base.override({"consumers.9.replicas": 2})
    with pytest.raises(ScenarioError, match=r"consumers\[0\].replicas: input should be"):
        base.override({"consumers.0.replicas": -1})


def test_scenarios_are_immutable() -> None:
    scenario = scenario_from()
    with pytest.raises(Exception, match="frozen"):
        scenario.duration = 5  # type: ignore[misc]


def test_overrides_know_setting_names_with_dots() -> None:
    """`enable.auto.commit` is one key, even where the file does not set it yet."""
    scenario = load_scenario(ROOT / "scenarios" / "kafka_consumer_groups.yaml")
    consumer = dict(scenario.raw["consumers"][0])
    consumer.pop("enable.auto.commit", None)
    consumer.pop("commit", None)
    bare = scenario.override({"consumers.0": consumer})
    changed = bare.override({"consumers.0.enable.auto.commit": False})
    assert changed.consumers[0].enable_auto_commit is False
    assert "enable" not in changed.raw["consumers"][0]
