"""benchmarks/fingerprint.py: the check that a speed change left every output bit-identical
must see the same runs as equal and a changed run as changed."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

import fingerprint


def test_cases_cover_every_scenario_and_broker() -> None:
    from sim.brokers.registry import broker_types

    names = [case[0] for case in fingerprint.cases()]
    assert len(names) == len(set(names))
    scenarios = sorted(p.stem for p in (fingerprint.ROOT / "scenarios").glob("*.yaml"))
    for stem in scenarios:
        assert f"scenario:{stem}:s1" in names
    for broker in broker_types():
        assert f"drain:{broker}" in names
        assert f"mm1:{broker}:src2:c3:s3" in names


def test_same_runs_compare_equal_and_a_changed_run_differs(tmp_path: Path) -> None:
    before, after = tmp_path / "before.json", tmp_path / "after.json"
    assert fingerprint.main([str(before), "--only", "drain:rabbitmq", "-j", "1"]) == 0
    assert fingerprint.main([str(after), "--only", "drain:rabbitmq", "-j", "1"]) == 0
    assert list(json.loads(before.read_text())) == ["drain:rabbitmq"]
    assert fingerprint.main(["--diff", str(before), str(after)]) == 0

    # The same name with another seed's outputs: the diff names it and what changed.
    name, data, _seed, trace = next(c for c in fingerprint.cases() if c[0] == "mm1:sqs:src1:c1:s1")
    one = dict([fingerprint.run_case((name, data, 1, trace))])
    other = dict([fingerprint.run_case((name, data, 2, trace))])
    differ = fingerprint.differences(one, other)
    assert list(differ) == [name]
    assert "summary" in differ[name] and "latency" in differ[name]
    after.write_text(json.dumps(other))
    before.write_text(json.dumps(one))
    assert fingerprint.main(["--diff", str(before), str(after)]) == 1


def test_a_run_only_one_side_has_differs() -> None:
    assert fingerprint.differences({"a": {"x": 1}}, {}) == {"a": ["x"]}
    assert fingerprint.differences({}, {}) == {}


def test_no_output_file_is_an_error() -> None:
    with pytest.raises(SystemExit) as exit_info:
        fingerprint.main([])
    assert exit_info.value.code == 2
