"""Replay ``shared/conformance/pulsar/key_shared.json`` against the Key_Shared selectors.

Each case is a sequence of joins and leaves on one fresh selector; after every step the
selector's ``ranges()`` (what Pulsar's ``getConsumerKeyHashRanges`` reports) and ``select`` of
every probed hash must equal the recorded ones. Pulsar's own selector unit tests, recorded in
the file's ``verification``, are replayed as well. A missing data file is a failure, not a skip.
"""

from __future__ import annotations

from typing import Any

import pytest

from sim.brokers.pulsar import ConsistentHashingSelector, HashRangeAutoSplitSelector
from tests.helpers import golden, require_golden

FILE = "pulsar/key_shared.json"
HASHES_FILE = "pulsar/hashes.json"
MISSING = "golden-data-missing"


def _case_params() -> list[Any]:
    data = golden(FILE)
    if data is None:
        return [pytest.param(None, id=MISSING)]
    return [
        pytest.param(case, id=case["id"])
        for kind in ("auto_split", "consistent_hashing")
        for case in data[kind]
    ]


def _selector(case: dict[str, Any]) -> HashRangeAutoSplitSelector | ConsistentHashingSelector:
    if case["selector"] == "auto_split":
        return HashRangeAutoSplitSelector()
    assert case["selector"] == "consistent_hashing"
    return ConsistentHashingSelector(points=case["points"])


def _ranges(recorded: dict[str, list[list[int]]]) -> dict[str, list[tuple[int, int]]]:
    return {
        consumer: [(start, end) for start, end in ranges] for consumer, ranges in recorded.items()
    }


def test_golden_data_present() -> None:
    data = require_golden(FILE)
    assert data["source"]["pulsar_version"] == "4.0.0"
    assert data["verification_all_ok"] is True
    assert data["auto_split"] and data["consistent_hashing"]
    assert {case.get("points") for case in data["consistent_hashing"]} == {3, 100}


@pytest.mark.parametrize("case", _case_params())
def test_selector_sequence(case: dict[str, Any] | None) -> None:
    if case is None:
        require_golden(FILE)
        return
    selector = _selector(case)
    for number, step in enumerate(case["steps"]):
        where = f"step {number} ({step['op']} {step['consumer']})"
        if step["op"] == "add":
            selector.add_consumer(step["consumer"])
        else:
            assert step["op"] == "remove"
            selector.remove_consumer(step["consumer"])
        assert selector.ranges() == _ranges(step["ranges"]), where
        got = [[sticky_hash, selector.select(sticky_hash)] for sticky_hash, _ in step["select"]]
        assert got == step["select"], where


def _vector_params() -> list[Any]:
    params = []
    for relative in (FILE, HASHES_FILE):
        data = golden(relative)
        if data is None:
            params.append(pytest.param(None, id=f"{MISSING}-{relative}"))
            continue
        params.extend(
            pytest.param(vector, id=f"{relative}-{vector['test'].rsplit('/', 1)[-1]}-{i}")
            for i, vector in enumerate(data["verification"]["pulsar_unit_tests"])
            if "StickyKeyConsumerSelectorTest" in vector["test"]
        )
    return params


@pytest.mark.parametrize("vector", _vector_params())
def test_pulsar_selector_unit_tests(vector: dict[str, Any] | None) -> None:
    """Both selector tests' ``testGetConsumerKeyHashRanges``."""
    if vector is None:
        require_golden(FILE)
        require_golden(HASHES_FILE)
        return
    given = vector["input"]
    selector: HashRangeAutoSplitSelector | ConsistentHashingSelector
    if "ConsistentHashing" in vector["test"]:
        selector = ConsistentHashingSelector(points=given["numberOfPoints"])
    else:
        assert "HashRangeAutoSplit" in vector["test"]
        selector = HashRangeAutoSplitSelector(range_size=given["rangeSize"])
    for name in given["join"]:
        selector.add_consumer(name)
    assert selector.ranges() == _ranges(vector["expected"])
