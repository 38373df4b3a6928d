"""Replay ``shared/conformance/kafka/partitioner.json`` against ``sim.brokers.kafka.partitioner``.

Every recorded key is checked for the signed murmur2 value Java's ``Utils.murmur2`` returns, its
unsigned bits, ``Utils.toPositive``, and the partition for every recorded partition count, so a
failure names the exact key and count. The file's own verification vectors (Kafka's
``UtilsTest`` and kafka-python's partitioner tests) are replayed too. A missing data directory
is a failure, not a skip: CI must never pass without having compared against the golden data.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest

from sim.brokers.kafka import StickyPartitioner, default_partition, murmur2, to_positive
from tests.helpers import golden, require_golden

MISSING = "golden-data-missing"


def _case_id(case: dict[str, Any]) -> str:
    return f"case{case['id']:04d}-{case['kind']}-len{case['key_len']}"


def _case_params() -> list[Any]:
    data = golden("kafka/partitioner.json")
    if data is None:
        return [pytest.param(None, id=MISSING)]
    return [pytest.param(case, id=_case_id(case)) for case in data["cases"]]


def _partition_params() -> list[Any]:
    data = golden("kafka/partitioner.json")
    if data is None:
        return [pytest.param(None, None, id=MISSING)]
    return [
        pytest.param(case, int(n), id=f"{_case_id(case)}-n{n}")
        for case in data["cases"]
        for n in case["partition"]
    ]


def _key(case: dict[str, Any]) -> bytes:
    key = bytes.fromhex(case["key_hex"])
    if "key_text" in case:
        # The recorded bytes are the UTF-8 encoding of the text: check the file is coherent.
        assert case["key_text"].encode("utf-8") == key
    return key


def test_golden_data_present() -> None:
    data = require_golden("kafka/partitioner.json")
    assert data["verification_all_ok"] is True
    assert len(data["cases"]) > 0
    assert all(
        set(case["partition"]) == {str(n) for n in data["partition_counts"]}
        for case in data["cases"]
    )


@pytest.mark.parametrize("case", _case_params())
def test_murmur2_matches_java(case: dict[str, Any] | None) -> None:
    if case is None:
        require_golden("kafka/partitioner.json")
        return
    key = _key(case)
    h = murmur2(key)
    assert h == case["murmur2_java_int"], "signed value differs from Utils.murmur2"
    assert -(2**31) <= h < 2**31
    assert h & 0xFFFFFFFF == case["murmur2_u32"]
    assert to_positive(h) == case["to_positive"]


@pytest.mark.parametrize(("case", "num_partitions"), _partition_params())
def test_default_partition(case: dict[str, Any] | None, num_partitions: int | None) -> None:
    if case is None or num_partitions is None:
        require_golden("kafka/partitioner.json")
        return
    assert default_partition(_key(case), num_partitions) == case["partition"][str(num_partitions)]


def _verification_params(group: str) -> list[Any]:
    data = golden("kafka/partitioner.json")
    if data is None:
        return [pytest.param(None, id=MISSING)]
    return [
        pytest.param(vector, id=f"{group}-{i}")
        for i, vector in enumerate(data["verification"][group])
    ]


@pytest.mark.parametrize("vector", _verification_params("java_utilstest_murmur2"))
def test_java_utilstest_vectors(vector: dict[str, Any] | None) -> None:
    """Kafka's own ``UtilsTest.testMurmur2`` vectors."""
    if vector is None:
        require_golden("kafka/partitioner.json")
        return
    assert murmur2(vector["key_utf8"].encode("utf-8")) == vector["expected_signed"]


@pytest.mark.parametrize("vector", _verification_params("kafka_python_tests"))
def test_kafka_python_vectors(vector: dict[str, Any] | None) -> None:
    if vector is None:
        require_golden("kafka/partitioner.json")
        return
    key = bytes.fromhex(vector["key_hex"])
    assert default_partition(key, vector["num_partitions"]) == vector["expected"]


# -- behaviour beyond the golden data ------------------------------------------------------


def test_to_positive_masks_instead_of_abs() -> None:
    # Integer.MIN_VALUE has no positive abs(); Kafka's mask maps it to 0.
    assert to_positive(-(2**31)) == 0
    assert to_positive(-1) == 0x7FFFFFFF
    assert to_positive(5) == 5


def test_murmur2_accepts_bytes_like_and_rejects_text() -> None:
    assert murmur2(bytearray(b"abc")) == murmur2(b"abc") == murmur2(memoryview(b"abc"))
    with pytest.raises(TypeError):
        murmur2("abc")  # type: ignore[arg-type]


def test_default_partition_rejects_non_positive_counts() -> None:
    with pytest.raises(ValueError, match="num_partitions"):
        default_partition(b"k", 0)


def test_sticky_partitioner_sticks_until_batch_complete() -> None:
    sticky = StickyPartitioner(6, np.random.default_rng(7))
    first = sticky.partition()
    assert all(sticky.partition() == first for _ in range(20))
    second = sticky.batch_complete()
    assert second != first
    assert sticky.partition() == second
    assert 0 <= second < 6


def test_sticky_partitioner_is_deterministic_and_spreads() -> None:
    def run(seed: int) -> list[int]:
        sticky = StickyPartitioner(4, np.random.default_rng(seed))
        return [sticky.partition()] + [sticky.batch_complete() for _ in range(200)]

    sequence = run(11)
    assert sequence == run(11)
    assert all(a != b for a, b in itertools.pairwise(sequence))
    assert set(sequence) == {0, 1, 2, 3}


def test_sticky_partitioner_single_partition() -> None:
    sticky = StickyPartitioner(1, np.random.default_rng(0))
    assert sticky.partition() == 0
    assert sticky.batch_complete() == 0


def test_sticky_partitioner_rejects_empty_topic() -> None:
    with pytest.raises(ValueError):
        StickyPartitioner(0, np.random.default_rng(0))
